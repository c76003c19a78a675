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
    GHashTable *unanswered;  /* uuid -> AgentSilence of guests whose connected agent did
                                not answer the last refresh (the thread's own) */
};

/* A connected agent that does not answer costs a whole response timeout per call, and
 * libvirtd serializes other calls on that guest behind it: such an agent is asked again
 * only after 1, 2, 4, ... passes (at most DOMFS_AGENT_BACKOFF_MAX_PASSES), or at once when
 * libvirt says it (re)connected (agent-lifecycle event, agent_hint). */
typedef struct {
    guint backoff;           /* passes to skip after the next failure */
    guint skip;              /* passes still to skip */
} AgentSilence;

/* Agent calls may take the agent's timeout, twice, without the connection being stalled. */
static gint64
agent_call_limit(DomConn *c)
{
    return (gint64)(2 * DOMFS_AGENT_RESPONSE_TIMEOUT_S + DOMFS_DEFAULT_KEEPALIVE_INTERVAL_S) *
           G_USEC_PER_SEC;
}

/* The agent's own data: TRUE when it answered; else *WHY is libvirt's message. */
static gboolean
agent_fetch_guest(DomConn *c, virDomainPtr dom, AgentInfo *a, char **why)
{
    virTypedParameterPtr params = NULL;
    virDomainInterfacePtr *ifaces = NULL;
    int nparams = 0, n;
    ConnCall *call = conn_call_begin_within(c, agent_call_limit(c));
    gboolean ok;

    virDomainAgentSetResponseTimeout(dom, DOMFS_AGENT_RESPONSE_TIMEOUT_S, 0);
    ok = virDomainGetGuestInfo(dom, AGENT_INFO_TYPES, &params, &nparams, 0) == 0;
    if (!ok)
        verr_take(why);
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
 * says since when) until it answers again; its addresses too while it is connected (see
 * agent_refresh_now: once it is gone, the leases say what they know). */
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

/* One log line when a connected agent stops answering, one when it answers again (a
 * paused guest, frozen filesystems, a hung qemu-ga): the files keep their data meanwhile. */
static void
agent_note_answer(Agent *ag, const DomInfo *d, const AgentInfo *a, const char *why)
{
    AgentSilence *s = g_hash_table_lookup(ag->unanswered, d->uuid);
    gboolean was = s != NULL;

    if (why && was) {
        s->skip = s->backoff;
        s->backoff = MIN(s->backoff * 2, DOMFS_AGENT_BACKOFF_MAX_PASSES);
    } else if (why) {
        g_autoptr(GDateTime) dt = a->refreshed ? g_date_time_new_from_unix_utc(a->refreshed /
                                                                             G_USEC_PER_SEC)
                                               : NULL;
        g_autofree char *when = dt ? g_date_time_format(dt, "%FT%TZ") : g_strdup("never");

        g_message("%s: the guest agent does not answer (%s); agent/ keeps its data of %s",
                  d->name, why, when);
        s = g_new0(AgentSilence, 1);
        s->skip = 1;
        s->backoff = 2;
        g_hash_table_insert(ag->unanswered, g_strdup(d->uuid), s);
    } else if (!why && was) {
        g_message("%s: the guest agent answers again", d->name);
        g_hash_table_remove(ag->unanswered, d->uuid);
    }
}

void
agent_refresh_now(Agent *ag, const char *uuid)
{
    DomCache *cache = conn_cache(ag->conn);
    g_autoptr(DomInfo) d = dom_cache_get_uuid(cache, uuid);
    g_autoptr(virConnect) vc = NULL;
    g_autoptr(virDomain) dom = NULL;
    g_autoptr(AgentInfo) a = NULL;

    /* no connected agent: none that does not answer */
    if (!d || !d->loaded || d->id < 0 || d->agent_state != AGENT_CONNECTED)
        g_hash_table_remove(ag->unanswered, uuid);
    if (!d || !d->loaded || d->id < 0 || !(vc = conn_get_virt(ag->conn)))
        return;
    if (!(dom = virDomainLookupByUUIDString(vc, uuid))) {
        virResetLastError();
        return;
    }
    a = agent_info_from(d->local->agent);
    if (d->agent_state == AGENT_CONNECTED) {
        g_autofree char *why = NULL;

        if (agent_fetch_guest(ag->conn, dom, a, &why))
            a->refreshed = g_get_real_time();
        else   /* the addresses it gave stay, as its other data does: not the lease alone */
            agent_info_keep_agent_ips(a, d->local->agent);
        agent_note_answer(ag, d, a, why);
    }
    if (!a->ip_source)
        agent_fetch_leases(ag->conn, dom, a);
    dom_note_agent(cache, uuid, a);
}

static gboolean
agent_not_in(gpointer uuid, gpointer value, gpointer set)
{
    return !g_hash_table_contains(set, uuid);
}

static void
agent_pass(Agent *ag)
{
    g_autoptr(GPtrArray) doms = dom_cache_list(conn_cache(ag->conn));
    g_autoptr(GHashTable) running = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < doms->len; i++) {
        DomInfo *d = g_ptr_array_index(doms, i);

        AgentSilence *s = g_hash_table_lookup(ag->unanswered, d->uuid);

        if (d->id < 0)
            continue;
        g_hash_table_add(running, d->uuid);
        if (s && s->skip > 0)
            s->skip--;   /* an agent that did not answer: not asked again yet */
        else
            agent_refresh_now(ag, d->uuid);
    }
    /* guests that went away meanwhile */
    g_hash_table_foreach_remove(ag->unanswered, agent_not_in, running);
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
    ag->unanswered = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
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
    g_hash_table_unref(ag->unanswered);
    g_free(ag);
    return TRUE;
}
