/* stats.c - see stats.h. The thread sleeps on a GCond for the interval (woken early to
 * stop), fetches with the connection's call tracking (a fetch on a stalled host shows as a
 * stall), builds a snapshot from the typed parameters and swaps it in under the lock. */
#define G_LOG_DOMAIN "domfs-stats"

#include "stats.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "cleanup.h"
#include "dom_fetch.h"
#include "domfs_limits.h"
#include "stop_wait.h"
#include "verr.h"

/* Devices or vCPUs read from one record at most (libvirt's own limits are far lower). */
#define STATS_MAX_ITEMS 4096

struct Stats {
    DomConn *conn;
    guint interval_s;
    StatsListener fn;
    void *opaque;
    GMutex lock;           /* guards snap, stop */
    GCond wake;
    StatsSnap *snap;
    gboolean stop;
    GThread *thread;
    gint done;             /* the thread returned (atomic) */
};

/* ---- snapshots ---- */

static void
stats_dev_free(gpointer p)
{
    StatsDev *d = p;

    g_free(d->name);
    g_free(d);
}

static void
stats_dom_free(gpointer p)
{
    StatsDom *d = p;

    g_array_unref(d->vcpus);
    g_ptr_array_unref(d->blocks);
    g_ptr_array_unref(d->nets);
    g_free(d);
}

static void
stats_snap_clear(gpointer p)
{
    StatsSnap *s = p;

    g_hash_table_unref(s->by_uuid);
}

static StatsSnap *
stats_snap_new(gint64 fetched)
{
    StatsSnap *s = g_atomic_rc_box_new0(StatsSnap);

    s->fetched = fetched;
    s->by_uuid = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, stats_dom_free);
    return s;
}

StatsSnap *
stats_snap_ref(StatsSnap *s)
{
    return g_atomic_rc_box_acquire(s);
}

void
stats_snap_unref(StatsSnap *s)
{
    if (s)
        g_atomic_rc_box_release_full(s, stats_snap_clear);
}

const StatsDom *
stats_snap_get(const StatsSnap *s, const char *uuid)
{
    return s ? g_hash_table_lookup(s->by_uuid, uuid) : NULL;
}

const StatsDev *
stats_dom_block(const StatsDom *d, const char *name)
{
    for (guint i = 0; d && i < d->blocks->len; i++) {
        const StatsDev *b = g_ptr_array_index(d->blocks, i);

        if (g_strcmp0(b->name, name) == 0)
            return b;
    }
    return NULL;
}

/* ---- typed parameters ---- */

static StatsVal
stats_ull(virDomainStatsRecordPtr rec, const char *key)
{
    StatsVal v = { 0, FALSE };
    unsigned long long ull = 0;

    if (virTypedParamsGetULLong(rec->params, rec->nparams, key, &ull) == 1)
        v = (StatsVal){ ull, TRUE };
    return v;
}

static StatsVal
stats_ullf(virDomainStatsRecordPtr rec, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static StatsVal
stats_ullf(virDomainStatsRecordPtr rec, const char *fmt, ...)
{
    g_autofree char *key = NULL;
    va_list ap;

    va_start(ap, fmt);
    key = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return stats_ull(rec, key);
}

static guint
stats_count(virDomainStatsRecordPtr rec, const char *key)
{
    unsigned int n = 0;

    virTypedParamsGetUInt(rec->params, rec->nparams, key, &n);
    return MIN(n, (guint)STATS_MAX_ITEMS);
}

static const char *const stats_block_keys[STATS_BLK_N] = {
    "rd.bytes", "wr.bytes", "rd.reqs", "wr.reqs", "fl.reqs", "rd.times", "wr.times",
    "fl.times", "capacity", "allocation", "physical",
};
static const char *const stats_net_keys[STATS_NET_N] = {
    "rx.bytes", "rx.pkts", "rx.errs", "rx.drop", "tx.bytes", "tx.pkts", "tx.errs", "tx.drop",
};
static const char *const stats_mem_keys[STATS_MEM_N] = {
    "balloon.current", "balloon.maximum", "balloon.available", "balloon.usable",
    "balloon.unused", "balloon.rss", "balloon.disk_caches", "balloon.swap_in",
    "balloon.swap_out", "balloon.major_fault", "balloon.minor_fault",
};

/* Devices of one kind ("block" or "net") of one record. */
static GPtrArray *
stats_devs(virDomainStatsRecordPtr rec, const char *kind, const char *const *keys, int n_keys)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(stats_dev_free);
    g_autofree char *count_key = g_strdup_printf("%s.count", kind);
    guint count = stats_count(rec, count_key);

    for (guint i = 0; i < count; i++) {
        g_autofree char *name_key = g_strdup_printf("%s.%u.name", kind, i);
        const char *name = NULL;
        StatsDev *d;

        if (virTypedParamsGetString(rec->params, rec->nparams, name_key, &name) != 1)
            continue;
        d = g_new0(StatsDev, 1);
        d->name = g_strdup(name);
        for (int k = 0; k < n_keys; k++)
            d->v[k] = stats_ullf(rec, "%s.%u.%s", kind, i, keys[k]);
        g_ptr_array_add(out, d);
    }
    return out;
}

static GArray *
stats_vcpus(virDomainStatsRecordPtr rec)
{
    GArray *out = g_array_new(FALSE, TRUE, sizeof(StatsVcpu));
    guint n = stats_count(rec, "vcpu.maximum");

    for (guint i = 0; i < n; i++) {
        g_autofree char *state_key = g_strdup_printf("vcpu.%u.state", i);
        StatsVcpu v = { 0 };

        if (virTypedParamsGetInt(rec->params, rec->nparams, state_key, &v.state) != 1)
            continue;   /* offline vCPUs beyond vcpu.current report nothing */
        v.time_ns = stats_ullf(rec, "vcpu.%u.time", i);
        v.wait_ns = stats_ullf(rec, "vcpu.%u.wait", i);
        v.delay_ns = stats_ullf(rec, "vcpu.%u.delay", i);
        g_array_set_size(out, i + 1);
        g_array_index(out, StatsVcpu, i) = v;
    }
    return out;
}

static StatsDom *
stats_dom(virDomainStatsRecordPtr rec)
{
    StatsDom *d = g_new0(StatsDom, 1);

    d->cpu_ns = stats_ull(rec, "cpu.time");
    d->user_ns = stats_ull(rec, "cpu.user");
    d->system_ns = stats_ull(rec, "cpu.system");
    d->vcpus = stats_vcpus(rec);
    for (int k = 0; k < STATS_MEM_N; k++)
        d->mem[k] = stats_ull(rec, stats_mem_keys[k]);
    d->blocks = stats_devs(rec, "block", stats_block_keys, STATS_BLK_N);
    d->nets = stats_devs(rec, "net", stats_net_keys, STATS_NET_N);
    return d;
}

StatsSnap *
stats_snap_from_records(virDomainStatsRecordPtr *recs, int n, gint64 fetched)
{
    StatsSnap *s = stats_snap_new(fetched);

    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];

        if (dom_fetch_uuid(recs[i]->dom, uuid, NULL) == 0)
            g_hash_table_insert(s->by_uuid, g_strdup(uuid), stats_dom(recs[i]));
    }
    return s;
}

/* ---- fetching ---- */

#define STATS_GROUPS (VIR_DOMAIN_STATS_CPU_TOTAL | VIR_DOMAIN_STATS_BALLOON | \
                      VIR_DOMAIN_STATS_VCPU | VIR_DOMAIN_STATS_INTERFACE | \
                      VIR_DOMAIN_STATS_BLOCK)

int
stats_fetch_now(Stats *st)
{
    g_autoptr(virConnect) vc = conn_get_virt(st->conn);
    virDomainStatsRecordPtr *recs = NULL;
    g_autofree char *msg = NULL;
    StatsSnap *snap;
    StatsSnap *old;
    ConnCall *call;
    int n;

    if (!vc)
        return -ENOTCONN;
    call = conn_call_begin(st->conn);
    n = virConnectGetAllDomainStats(vc, STATS_GROUPS, &recs,
                                    VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE |
                                    VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT);
    conn_call_end(st->conn, call);
    if (n < 0)
        return -verr_take(&msg);
    snap = stats_snap_from_records(recs, n, g_get_real_time());
    virDomainStatsRecordListFree(recs);
    g_mutex_lock(&st->lock);
    old = st->snap;
    st->snap = stats_snap_ref(snap);
    g_mutex_unlock(&st->lock);
    stats_snap_unref(old);
    if (st->fn)
        st->fn(snap, st->opaque);
    stats_snap_unref(snap);
    return 0;
}

static gpointer
stats_main(gpointer data)
{
    Stats *st = data;

    g_mutex_lock(&st->lock);
    while (!st->stop) {
        gint64 until = g_get_monotonic_time() + (gint64)st->interval_s * G_USEC_PER_SEC;

        g_mutex_unlock(&st->lock);
        stats_fetch_now(st);
        g_mutex_lock(&st->lock);
        while (!st->stop && g_cond_wait_until(&st->wake, &st->lock, until))
            ;
    }
    g_mutex_unlock(&st->lock);
    g_atomic_int_set(&st->done, 1);
    return NULL;
}

Stats *
stats_new(DomConn *conn, guint interval_s, StatsListener fn, void *opaque)
{
    Stats *st = g_new0(Stats, 1);

    st->conn = conn;
    st->interval_s = interval_s;
    st->fn = fn;
    st->opaque = opaque;
    g_mutex_init(&st->lock);
    g_cond_init(&st->wake);
    st->snap = stats_snap_new(0);
    return st;
}

void
stats_start(Stats *st)
{
    if (st->interval_s > 0)
        st->thread = g_thread_new("host-stats", stats_main, st);
}

StatsSnap *
stats_get(Stats *st)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&st->lock);

    return stats_snap_ref(st->snap);
}

gboolean
stats_free(Stats *st)
{
    if (!st)
        return TRUE;
    if (st->thread) {
        g_mutex_lock(&st->lock);
        st->stop = TRUE;
        g_cond_signal(&st->wake);
        g_mutex_unlock(&st->lock);
        if (!stop_wait(&st->done, 1)) {
            g_warning("statistics thread stuck in a libvirt call: left behind");
            return FALSE;
        }
        g_thread_join(st->thread);
    }
    stats_snap_unref(st->snap);
    g_mutex_clear(&st->lock);
    g_cond_clear(&st->wake);
    g_free(st);
    return TRUE;
}
