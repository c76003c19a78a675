/* agent.c - see agent.h. */
#define G_LOG_DOMAIN "domfs-agent"

#include "agent.h"

#include <string.h>

#include "agent_info.h"
#include "cleanup.h"
#include "dom_note.h"
#include "domfs_limits.h"
#include "stop_wait.h"
#include "verr.h"

/* What virDomainGetGuestInfo is asked for (interfaces come from InterfaceAddresses). */
#define AGENT_INFO_TYPES (VIR_DOMAIN_GUEST_INFO_USERS | VIR_DOMAIN_GUEST_INFO_OS | \
                          VIR_DOMAIN_GUEST_INFO_TIMEZONE | VIR_DOMAIN_GUEST_INFO_HOSTNAME | \
                          VIR_DOMAIN_GUEST_INFO_FILESYSTEM)

struct Agent {
    DomConn *conn;
    guint interval_s;
    GAsyncQueue *hints;      /* char * uuids; "" = stop */
    GThread *thread;
    gint done;               /* the thread returned (atomic) */
};

/* Agent calls may take the agent's timeout, twice, without the connection being stalled. */
static gint64
agent_call_limit(DomConn *c)
{
    return (gint64)(2 * DOMFS_AGENT_RESPONSE_TIMEOUT_S + DOMFS_DEFAULT_KEEPALIVE_INTERVAL_S) *
           G_USEC_PER_SEC;
}

/* The agent's own data: TRUE when it answered. */
static gboolean
agent_fetch_guest(DomConn *c, virDomainPtr dom, AgentInfo *a)
{
    virTypedParameterPtr params = NULL;
    virDomainInterfacePtr *ifaces = NULL;
    int nparams = 0, n;
    ConnCall *call = conn_call_begin_within(c, agent_call_limit(c));
    gboolean ok;

    virDomainAgentSetResponseTimeout(dom, DOMFS_AGENT_RESPONSE_TIMEOUT_S, 0);
    ok = virDomainGetGuestInfo(dom, AGENT_INFO_TYPES, &params, &nparams, 0) == 0;
    if (ok) {
        agent_info_take_guest_info(a, params, nparams);
        virTypedParamsFree(params, nparams);
        n = virDomainInterfaceAddresses(dom, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0);
        if (n >= 0) {
            agent_info_take_ifaces(a, ifaces, n, TRUE);
            for (int i = 0; i < n; i++)
                virDomainInterfaceFree(ifaces[i]);
            g_free(ifaces);
        }
    }
    conn_call_end(c, call);
    virResetLastError();
    return ok;
}

/* Addresses from libvirt's DHCP leases (a guest without an agent). */
static void
agent_fetch_leases(DomConn *c, virDomainPtr dom, AgentInfo *a)
{
    virDomainInterfacePtr *ifaces = NULL;
    ConnCall *call = conn_call_begin(c);
    int n = virDomainInterfaceAddresses(dom, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0);

    conn_call_end(c, call);
    if (n < 0) {
        virResetLastError();
        return;
    }
    agent_info_take_ifaces(a, ifaces, n, FALSE);
    for (int i = 0; i < n; i++)
        virDomainInterfaceFree(ifaces[i]);
    g_free(ifaces);
}

/* A new record from the last one: what the agent said before stays readable (status
 * says since when) until it answers again. */
static AgentInfo *
agent_info_from(const AgentInfo *last)
{
    AgentInfo *a = agent_info_new();

    if (!last)
        return a;
    a->refreshed = last->refreshed;
    for (int i = 0; i < AF_N; i++) {
        g_free(a->text[i]);
        a->text[i] = g_strdup(last->text[i]);
    }
    return a;
}

void
agent_refresh_now(Agent *ag, const char *uuid)
{
    DomCache *cache = conn_cache(ag->conn);
    g_autoptr(DomInfo) d = dom_cache_get_uuid(cache, uuid);
    g_autoptr(virConnect) vc = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(AgentInfo) a = NULL;

    if (!d || !d->loaded || d->id < 0 || !(vc = conn_get_virt(ag->conn)))
        return;
    if (!(dom = virDomainLookupByUUIDString(vc, uuid))) {
        virResetLastError();
        return;
    }
    a = agent_info_from(d->local->agent);
    if (d->agent_state == AGENT_CONNECTED && agent_fetch_guest(ag->conn, dom, a))
        a->refreshed = g_get_real_time();
    if (!a->ip_source)
        agent_fetch_leases(ag->conn, dom, a);
    dom_note_agent(cache, uuid, a);
}

static void
agent_pass(Agent *ag)
{
    g_autoptr(GPtrArray) doms = dom_cache_list(conn_cache(ag->conn));

    for (guint i = 0; i < doms->len; i++) {
        DomInfo *d = g_ptr_array_index(doms, i);

        if (d->id >= 0)
            agent_refresh_now(ag, d->uuid);
    }
}

static gpointer
agent_main(gpointer data)
{
    Agent *ag = data;
    gint64 next = g_get_monotonic_time();

    for (;;) {
        gint64 wait = next - g_get_monotonic_time();
        char *uuid = wait > 0 ? g_async_queue_timeout_pop(ag->hints, (guint64)wait) : NULL;

        if (uuid && !*uuid) {
            g_free(uuid);
            break;
        }
        if (uuid) {
            agent_refresh_now(ag, uuid);
            g_free(uuid);
            continue;
        }
        if (g_get_monotonic_time() >= next) {
            agent_pass(ag);
            next = g_get_monotonic_time() + (gint64)ag->interval_s * G_USEC_PER_SEC;
        }
    }
    g_atomic_int_set(&ag->done, 1);
    return NULL;
}

Agent *
agent_new(DomConn *conn, guint interval_s)
{
    Agent *ag = g_new0(Agent, 1);

    ag->conn = conn;
    ag->interval_s = interval_s;
    ag->hints = g_async_queue_new_full(g_free);
    return ag;
}

void
agent_start(Agent *ag)
{
    if (ag->interval_s > 0)
        ag->thread = g_thread_new("host-agent", agent_main, ag);
}

void
agent_hint(Agent *ag, const char *uuid)
{
    if (ag && ag->thread && uuid && *uuid)
        g_async_queue_push(ag->hints, g_strdup(uuid));
}

gboolean
agent_free(Agent *ag)
{
    if (!ag)
        return TRUE;
    if (ag->thread) {
        g_async_queue_push_front(ag->hints, g_strdup(""));
        if (!stop_wait(&ag->done, 1)) {
            g_warning("agent thread stuck in a libvirt call: left behind");
            return FALSE;
        }
        g_thread_join(ag->thread);
    }
    g_async_queue_unref(ag->hints);
    g_free(ag);
    return TRUE;
}
