/* agent.h - a host's guest-agent data, fetched in the background.
 *
 * Why a thread of its own: an agent answers slowly or never (libvirt waits up to
 * DOMFS_AGENT_RESPONSE_TIMEOUT_S per command), so its calls never run in a read, a write's
 * action thread or the connection's worker. One thread per host refreshes a guest when its
 * agent connects (agent-lifecycle event, as a hint) and every guest every -o
 * agent_interval: virDomainGetGuestInfo and the agent's interface addresses when the agent
 * is connected, else libvirt's DHCP leases for the interfaces' `ip`. Results are
 * published into the guest's snapshot (DomLocal.agent), so files render without libvirt. */
#pragma once

#include <glib.h>

#include "conn.h"

typedef struct Agent Agent;

/* INTERVAL_S 0: no agent data at all (no thread). */
Agent *agent_new(DomConn *conn, guint interval_s);
void agent_start(Agent *a);
/* FALSE when the thread is stuck in a libvirt call (it is then left behind). */
gboolean agent_free(Agent *a);
/* Refresh guest UUID soon (called from any thread; only queues). */
void agent_hint(Agent *a, const char *uuid);
/* Refresh guest UUID now, in this thread (tests). */
void agent_refresh_now(Agent *a, const char *uuid);
