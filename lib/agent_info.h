/* agent_info.h - what a guest's agent (qemu-guest-agent) and libvirt's DHCP leases told
 * about a guest: an immutable, reference-counted record kept in the guest's snapshot
 * (DomLocal), so the agent/ files and the interfaces' `ip` are rendered like every other
 * snapshot file (page cache, invalidation, poll) and a read never calls libvirt.
 *
 * Why a record of rendered text: the agent's answers come as typed parameters whose keys
 * vary by guest; turning them into the files' lines once, when they arrive, keeps rendering
 * trivial and the record small. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

/* Whether the guest has an agent channel and whether the agent is on it (from the live
 * domain XML: <channel><target name='org.qemu.guest_agent.0' state='connected'/>). */
typedef enum {
    AGENT_UNAVAILABLE,       /* no agent channel */
    AGENT_DISCONNECTED,      /* a channel, no agent answering on it (or the guest is off) */
    AGENT_CONNECTED,
} AgentState;

/* The files of agent/, in listing order. */
typedef enum {
    AF_STATUS, AF_HOSTNAME, AF_OS, AF_TIMEZONE, AF_USERS, AF_FILESYSTEMS, AF_INTERFACES,
    AF_N
} AgentFile;

typedef struct AgentInfo {
    gint64 refreshed;        /* real time (µs) of the last successful refresh; 0: never */
    char *text[AF_N];        /* each file's lines ("" when unknown); AF_STATUS unused */
    GHashTable *ip_by_mac;   /* lower-case MAC -> "ADDR/PREFIX ADDR/PREFIX" */
    char *ip_source;         /* "agent" or "lease": where ip_by_mac came from */
} AgentInfo;

extern const char *const agent_file_names[AF_N];
const char *agent_state_name(AgentState st);

AgentInfo *agent_info_new(void);
AgentInfo *agent_info_ref(AgentInfo *a);
void agent_info_unref(AgentInfo *a);

/* Fill A from virDomainGetGuestInfo's parameters (hostname, os, timezone, users,
 * filesystems). */
void agent_info_take_guest_info(AgentInfo *a, virTypedParameterPtr params, int n);
/* Fill A's interfaces (from the agent: also its `interfaces` file) and ip_by_mac. */
void agent_info_take_ifaces(AgentInfo *a, virDomainInterfacePtr *ifaces, int n,
                            gboolean from_agent);

/* Content of agent file F for a guest in state ST whose last record is A (may be NULL). */
void agent_info_render(const AgentInfo *a, AgentState st, AgentFile f, GString *out);
/* The addresses of the interface with MAC (any case), or "" when unknown. */
const char *agent_info_ip(const AgentInfo *a, const char *mac);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(AgentInfo, agent_info_unref)
