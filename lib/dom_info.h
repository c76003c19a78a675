/* dom_info.h - an immutable, reference-counted snapshot of one domain: everything the
 * files of a guest directory show. The cache swaps whole snapshots, so a reader holding
 * one never sees a half-updated guest.
 *
 * A snapshot has two parts: the facts libvirt reported (refreshed on events) and the
 * domfs-side state of the guest (DomLocal: the last failed write, the migrate status),
 * which domfs itself sets. They change independently; a snapshot points at one DomLocal,
 * so refreshing the facts keeps the local part by sharing one reference. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

typedef struct DevModel DevModel;

/* domfs-side state of a guest; immutable once published (a change makes a new one). */
typedef struct {
    char *error;            /* last failed write: "<time> <file> <ERRNO>: <message>", or NULL */
    gint64 error_serial;    /* bumps with each recorded error */
    char *migrate;          /* migrate status line, "none" by default */
    struct AgentInfo *agent; /* guest-agent and lease data (agent.c), or NULL */
} DomLocal;

typedef struct DomInfo {
    char uuid[VIR_UUID_STRING_BUFLEN];
    char *name;
    char *dirname;          /* directory name: name_escape(name), made unique by the cache */
    int id;                 /* -1 when not running */
    int state;              /* virDomainState */
    int reason;
    unsigned int vcpus;
    unsigned long long memory_kib;
    gboolean autostart;
    gboolean persistent;
    char *title;            /* "" when none */
    char *description;
    char *xml;              /* live XML, or inactive XML when shut off */
    char *console_log;      /* <log file> of the first serial port, else of the console */
    int agent_state;        /* AgentState: the agent channel in the live XML */
    /* The XML and what comes from it (title, description, console_log, devices) are
     * valid: the start-up load publishes snapshots without them and fetches them in the
     * background (see conn_load.c); readers of those files wait for them. */
    gboolean loaded;
    gboolean counts_from_xml;  /* vcpus/memory too come from the XML (the stats lacked them) */
    gint64 confirmed;       /* g_get_real_time() when libvirt last confirmed these facts */
    guint64 ticket;         /* when the fetch of these facts began (dom_cache_ticket) */
    DomLocal *local;        /* shared, never NULL */
    /* parsed on first use; see dom_info_devices() */
    gpointer devices_once;
} DomInfo;

DomInfo *dom_info_new(void);
DomInfo *dom_info_ref(DomInfo *d);
void dom_info_unref(DomInfo *d);
/* A copy sharing nothing mutable (the DomLocal is shared: it is immutable); the device
 * model is re-parsed lazily. */
DomInfo *dom_info_copy(const DomInfo *d);
/* Fill title, description, console_log and (when UNSET) vcpus/memory from the XML. */
void dom_info_fill_from_xml(DomInfo *d, gboolean vcpus_unset, gboolean memory_unset);
/* The device model of the snapshot's XML (an empty model when it cannot be parsed). */
const DevModel *dom_info_devices(const DomInfo *d);
/* Do the facts differ in what a guest's files show without the XML (state, reason, id,
 * vcpus, memory, autostart, persistent)? */
gboolean dom_info_facts_differ(const DomInfo *a, const DomInfo *b);

DomLocal *dom_local_new(const char *error, gint64 error_serial, const char *migrate);
/* A copy of L (a new record: published ones never change). */
DomLocal *dom_local_copy(const DomLocal *l);
DomLocal *dom_local_ref(DomLocal *l);
void dom_local_unref(DomLocal *l);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(DomInfo, dom_info_unref)
