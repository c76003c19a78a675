/* metrics.c - see metrics.h. The families are a table: name, type, help, and the function
 * that writes one guest's samples (or one host's). Samples are labelled by host and guest
 * name (and device, vCPU, state where there are several); label values are escaped as the
 * format requires. Counters of time are in seconds, sizes in bytes. */
#define G_LOG_DOMAIN "domfs-metrics"

#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "dom_info.h"
#include "domfs_limits.h"
#include "state_word.h"
#include "stats.h"

typedef struct {
    GString *out;
    const char *family;
    const char *host;
    const DomInfo *d;          /* NULL for host families */
    const StatsDom *s;         /* NULL when not running or no statistics */
    Host *h;
    const StatsSnap *snap;
} MetCtx;

/* ---- writing samples ---- */

static void
met_label_value(GString *out, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\')
            g_string_append(out, "\\\\");
        else if (*p == '"')
            g_string_append(out, "\\\"");
        else if (*p == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *p);
    }
}

/* "family{host="h",name="g"" (no closing brace: the caller adds labels and the value). */
static void
met_start(const MetCtx *c)
{
    g_string_append_printf(c->out, "%s{host=\"", c->family);
    met_label_value(c->out, c->host);
    if (c->d) {
        g_string_append(c->out, "\",name=\"");
        met_label_value(c->out, c->d->name);
    }
    g_string_append_c(c->out, '"');
}

static void
met_label(const MetCtx *c, const char *name, const char *value)
{
    g_string_append_printf(c->out, ",%s=\"", name);
    met_label_value(c->out, value);
    g_string_append_c(c->out, '"');
}

/* A float sample: nine significant digits (libvirt's nanoseconds as seconds). */
static void
met_value(const MetCtx *c, double v)
{
    g_string_append_printf(c->out, "} %.9g\n", v);
}

static void
met_u64(const MetCtx *c, guint64 v)
{
    g_string_append_printf(c->out, "} %" G_GUINT64_FORMAT "\n", v);
}

static void
met_sample(const MetCtx *c, guint64 v)
{
    met_start(c);
    met_u64(c, v);
}

static void
met_stat(const MetCtx *c, const StatsVal *v, double scale)
{
    if (!v->has)
        return;
    met_start(c);
    if (scale == 1)
        met_u64(c, v->v);
    else
        met_value(c, (double)v->v * scale);
}

/* ---- families ---- */

typedef enum {
    MK_UP, MK_AGE,                                    /* per host */
    MK_INFO, MK_STATE, MK_RUNNING, MK_VCPUS, MK_MEMORY, /* per guest, from the cache */
    MK_CPU, MK_VCPU, MK_MEM, MK_BLOCK, MK_NET,        /* per guest, from the statistics */
    MK_MIGRATION,                                     /* per guest, while one runs */
} MetKind;

typedef struct {
    const char *name;
    const char *type;
    const char *help;
    MetKind kind;
    int key;          /* which value of the kind */
    double scale;     /* libvirt's unit to the metric's (0: 1) */
} MetFamily;

#define NS 1e-9
#define KIB 1024.0

static const MetFamily met_families[] = {
    { "domfs_up", "gauge", "1 when domfs is connected to the host's libvirt.", MK_UP, 0, 0 },
    { "domfs_host_data_age_seconds", "gauge",
      "Seconds since the host's data was last confirmed by libvirt.", MK_AGE, 0, 0 },
    { "domfs_guest_info", "gauge", "Always 1; the guest's uuid and title as labels.",
      MK_INFO, 0, 0 },
    { "domfs_guest_state", "gauge", "Guest state: 1 for the state the guest is in.",
      MK_STATE, 0, 0 },
    { "domfs_guest_running", "gauge", "1 when the guest is running, else 0.", MK_RUNNING, 0, 0 },
    { "domfs_guest_vcpus", "gauge", "Current number of virtual CPUs.", MK_VCPUS, 0, 0 },
    { "domfs_guest_memory_bytes", "gauge", "Current memory of the guest in bytes.",
      MK_MEMORY, 0, 0 },
    { "domfs_guest_memory_max_bytes", "gauge", "Maximum memory of the guest in bytes.",
      MK_MEM, STATS_MEM_MAXIMUM, KIB },
    { "domfs_guest_cpu_seconds_total", "counter", "CPU time used by the guest.",
      MK_CPU, 0, NS },
    { "domfs_guest_cpu_user_seconds_total", "counter", "User CPU time of the guest.",
      MK_CPU, 1, NS },
    { "domfs_guest_cpu_system_seconds_total", "counter", "System CPU time of the guest.",
      MK_CPU, 2, NS },
    { "domfs_guest_vcpu_seconds_total", "counter", "CPU time of a virtual CPU.", MK_VCPU, 0, NS },
    { "domfs_guest_vcpu_wait_seconds_total", "counter",
      "Time a virtual CPU waited for I/O (steal-like wait).", MK_VCPU, 1, NS },
    { "domfs_guest_vcpu_delay_seconds_total", "counter",
      "Time a virtual CPU was runnable but waited for a host CPU (steal time).",
      MK_VCPU, 2, NS },
    { "domfs_guest_memory_actual_bytes", "gauge", "Balloon size: memory the guest has.",
      MK_MEM, STATS_MEM_CURRENT, KIB },
    { "domfs_guest_memory_available_bytes", "gauge", "Memory the guest OS sees.",
      MK_MEM, STATS_MEM_AVAILABLE, KIB },
    { "domfs_guest_memory_usable_bytes", "gauge",
      "Memory the guest could use without swapping.", MK_MEM, STATS_MEM_USABLE, KIB },
    { "domfs_guest_memory_unused_bytes", "gauge", "Memory the guest leaves unused.",
      MK_MEM, STATS_MEM_UNUSED, KIB },
    { "domfs_guest_memory_rss_bytes", "gauge", "Resident memory of the guest's process.",
      MK_MEM, STATS_MEM_RSS, KIB },
    { "domfs_guest_memory_disk_caches_bytes", "gauge", "Guest memory used as disk cache.",
      MK_MEM, STATS_MEM_DISK_CACHES, KIB },
    { "domfs_guest_memory_swap_in_bytes_total", "counter", "Memory swapped in by the guest.",
      MK_MEM, STATS_MEM_SWAP_IN, KIB },
    { "domfs_guest_memory_swap_out_bytes_total", "counter", "Memory swapped out by the guest.",
      MK_MEM, STATS_MEM_SWAP_OUT, KIB },
    { "domfs_guest_memory_major_faults_total", "counter", "Major page faults in the guest.",
      MK_MEM, STATS_MEM_MAJOR_FAULT, 0 },
    { "domfs_guest_memory_minor_faults_total", "counter", "Minor page faults in the guest.",
      MK_MEM, STATS_MEM_MINOR_FAULT, 0 },
    { "domfs_guest_block_read_bytes_total", "counter", "Bytes read from a disk.",
      MK_BLOCK, STATS_BLK_RD_BYTES, 0 },
    { "domfs_guest_block_write_bytes_total", "counter", "Bytes written to a disk.",
      MK_BLOCK, STATS_BLK_WR_BYTES, 0 },
    { "domfs_guest_block_read_requests_total", "counter", "Read requests of a disk.",
      MK_BLOCK, STATS_BLK_RD_REQS, 0 },
    { "domfs_guest_block_write_requests_total", "counter", "Write requests of a disk.",
      MK_BLOCK, STATS_BLK_WR_REQS, 0 },
    { "domfs_guest_block_flush_requests_total", "counter", "Flush requests of a disk.",
      MK_BLOCK, STATS_BLK_FL_REQS, 0 },
    { "domfs_guest_block_read_seconds_total", "counter", "Time spent reading a disk.",
      MK_BLOCK, STATS_BLK_RD_TIME_NS, NS },
    { "domfs_guest_block_write_seconds_total", "counter", "Time spent writing a disk.",
      MK_BLOCK, STATS_BLK_WR_TIME_NS, NS },
    { "domfs_guest_block_flush_seconds_total", "counter", "Time spent flushing a disk.",
      MK_BLOCK, STATS_BLK_FL_TIME_NS, NS },
    { "domfs_guest_block_capacity_bytes", "gauge", "Size of a disk as the guest sees it.",
      MK_BLOCK, STATS_BLK_CAPACITY, 0 },
    { "domfs_guest_block_allocation_bytes", "gauge", "Bytes of a disk's image in use.",
      MK_BLOCK, STATS_BLK_ALLOCATION, 0 },
    { "domfs_guest_block_physical_bytes", "gauge", "Size of a disk's image on the host.",
      MK_BLOCK, STATS_BLK_PHYSICAL, 0 },
    { "domfs_guest_network_receive_bytes_total", "counter", "Bytes received by an interface.",
      MK_NET, STATS_NET_RX_BYTES, 0 },
    { "domfs_guest_network_transmit_bytes_total", "counter", "Bytes sent by an interface.",
      MK_NET, STATS_NET_TX_BYTES, 0 },
    { "domfs_guest_network_receive_packets_total", "counter",
      "Packets received by an interface.", MK_NET, STATS_NET_RX_PKTS, 0 },
    { "domfs_guest_network_transmit_packets_total", "counter",
      "Packets sent by an interface.", MK_NET, STATS_NET_TX_PKTS, 0 },
    { "domfs_guest_network_receive_errors_total", "counter",
      "Receive errors of an interface.", MK_NET, STATS_NET_RX_ERRS, 0 },
    { "domfs_guest_network_transmit_errors_total", "counter",
      "Transmit errors of an interface.", MK_NET, STATS_NET_TX_ERRS, 0 },
    { "domfs_guest_network_receive_drops_total", "counter",
      "Received packets an interface dropped.", MK_NET, STATS_NET_RX_DROP, 0 },
    { "domfs_guest_network_transmit_drops_total", "counter",
      "Packets to send an interface dropped.", MK_NET, STATS_NET_TX_DROP, 0 },
    { "domfs_guest_migration_progress_ratio", "gauge",
      "Progress of the running migration, 0 to 1.", MK_MIGRATION, 0, 0 },
    { "domfs_guest_migration_processed_bytes", "gauge",
      "Bytes the running migration has sent.", MK_MIGRATION, 1, 0 },
    { "domfs_guest_migration_total_bytes", "gauge",
      "Bytes the running migration has to send.", MK_MIGRATION, 2, 0 },
};

/* ---- samples of one guest or host ---- */

static double
met_scale(const MetFamily *f)
{
    return f->scale ? f->scale : 1;
}

/* Seconds since the host's data was confirmed: while connected, the age of the last
 * statistics fetch (0 without statistics: events keep the cache current); stalled or
 * reconnecting, the time since the host stopped answering. */
static double
met_data_age(const MetCtx *c)
{
    gint64 since = 0;
    ConnStatus st = conn_status(host_conn(c->h), &since);
    gint64 confirmed = st != CONN_CONNECTED ? since : c->snap->fetched;

    if (!confirmed)
        return 0;
    return MAX(g_get_real_time() - confirmed, 0) / (double)G_USEC_PER_SEC;
}

static void
met_host(const MetCtx *c, const MetFamily *f)
{
    met_start(c);
    if (f->kind == MK_UP)
        met_u64(c, conn_status(host_conn(c->h), NULL) != CONN_RECONNECTING);
    else
        met_value(c, met_data_age(c));
}

static void
met_vcpus(const MetCtx *c, const MetFamily *f)
{
    for (guint i = 0; c->s && i < c->s->vcpus->len; i++) {
        const StatsVcpu *v = &g_array_index(c->s->vcpus, StatsVcpu, i);
        const StatsVal *val = f->key == 0 ? &v->time_ns : f->key == 1 ? &v->wait_ns : &v->delay_ns;
        char num[16];

        if (!val->has)
            continue;
        g_snprintf(num, sizeof num, "%u", i);
        met_start(c);
        met_label(c, "vcpu", num);
        met_value(c, (double)val->v * met_scale(f));
    }
}

static void
met_devices(const MetCtx *c, const MetFamily *f)
{
    const GPtrArray *devs = !c->s ? NULL : f->kind == MK_BLOCK ? c->s->blocks : c->s->nets;

    for (guint i = 0; devs && i < devs->len; i++) {
        const StatsDev *dev = g_ptr_array_index(devs, i);

        if (!dev->v[f->key].has)
            continue;
        met_start(c);
        met_label(c, "device", dev->name);
        if (met_scale(f) == 1)
            met_u64(c, dev->v[f->key].v);
        else
            met_value(c, (double)dev->v[f->key].v * met_scale(f));
    }
}

/* "running P A/B bytes S MiB/s": our own migrate line. */
static void
met_migration(const MetCtx *c, const MetFamily *f)
{
    guint64 pct = 0;
    guint64 done = 0;
    guint64 total = 0;

    if (sscanf(c->d->local->migrate, "running %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
               "/%" G_GUINT64_FORMAT, &pct, &done, &total) != 3)
        return;
    met_start(c);
    if (f->key == 0)
        met_value(c, pct / 100.0);
    else
        met_u64(c, f->key == 1 ? done : total);
}

static void
met_guest(const MetCtx *c, const MetFamily *f)
{
    const DomInfo *d = c->d;
    gboolean counts = d->loaded || !d->counts_from_xml;
    const StatsVal *cpu[] = { c->s ? &c->s->cpu_ns : NULL, c->s ? &c->s->user_ns : NULL,
                              c->s ? &c->s->system_ns : NULL };

    switch (f->kind) {
    case MK_INFO:
        met_start(c);
        met_label(c, "uuid", d->uuid);
        met_label(c, "title", d->title);
        met_u64(c, 1);
        break;
    case MK_STATE:
        met_start(c);
        met_label(c, "state", state_name(d->state));
        met_u64(c, 1);
        break;
    case MK_RUNNING: met_sample(c, d->state == VIR_DOMAIN_RUNNING); break;
    case MK_VCPUS: if (counts) met_sample(c, d->vcpus); break;
    case MK_MEMORY: if (counts) met_sample(c, d->memory_kib * 1024ULL); break;
    case MK_CPU: if (c->s) met_stat(c, cpu[f->key], met_scale(f)); break;
    case MK_MEM: if (c->s) met_stat(c, &c->s->mem[f->key], met_scale(f)); break;
    case MK_VCPU: met_vcpus(c, f); break;
    case MK_BLOCK:
    case MK_NET: met_devices(c, f); break;
    case MK_MIGRATION: met_migration(c, f); break;
    default: break;
    }
}

/* ---- rendering ---- */

typedef struct {
    Host *h;
    GPtrArray *doms;          /* DomInfo, sorted */
    StatsSnap *snap;
} MetHost;

static void
met_host_clear(MetHost *m)
{
    g_ptr_array_unref(m->doms);
    stats_snap_unref(m->snap);
}

static void
met_family(GString *out, const MetFamily *f, MetHost *hosts, guint n)
{
    g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                           f->type);
    for (guint i = 0; i < n; i++) {
        MetCtx c = { out, f->name, host_name(hosts[i].h), NULL, NULL, hosts[i].h,
                     hosts[i].snap };

        if (f->kind == MK_UP || f->kind == MK_AGE) {
            met_host(&c, f);
            continue;
        }
        for (guint j = 0; j < hosts[i].doms->len; j++) {
            c.d = g_ptr_array_index(hosts[i].doms, j);
            c.s = stats_snap_get(hosts[i].snap, c.d->uuid);
            met_guest(&c, f);
        }
    }
}

void
metrics_render(Host **hosts, guint n, GString *out)
{
    g_autofree MetHost *m = g_new0(MetHost, n);

    for (guint i = 0; i < n; i++) {
        m[i].h = hosts[i];
        m[i].doms = dom_cache_list(host_cache(hosts[i]));
        m[i].snap = stats_get(host_stats(hosts[i]));
    }
    for (size_t f = 0; f < G_N_ELEMENTS(met_families); f++)
        met_family(out, &met_families[f], m, n);
    for (guint i = 0; i < n; i++)
        met_host_clear(&m[i]);
}

/* ---- the rendered text, reused ---- */

typedef struct {
    char *key;                /* what it was rendered from (metrics_key) */
    gint64 at;                /* monotonic µs */
    GBytes *text;
} MetView;

struct MetricsCache {
    GMutex lock;              /* guards views; held while rendering (one render per view) */
    GHashTable *views;        /* view index -> MetView */
};

static void
met_view_free(gpointer p)
{
    MetView *v = p;

    g_free(v->key);
    if (v->text)
        g_bytes_unref(v->text);
    g_free(v);
}

MetricsCache *
metrics_cache_new(void)
{
    MetricsCache *mc = g_new0(MetricsCache, 1);

    g_mutex_init(&mc->lock);
    mc->views = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, met_view_free);
    return mc;
}

void
metrics_cache_free(MetricsCache *mc)
{
    if (!mc)
        return;
    g_hash_table_destroy(mc->views);
    g_mutex_clear(&mc->lock);
    g_free(mc);
}

/* What the text of HOSTS depends on: every cache's serial, statistics and status. */
static char *
metrics_key(Host **hosts, guint n)
{
    GString *k = g_string_new(NULL);

    for (guint i = 0; i < n; i++) {
        g_autoptr(StatsSnap) s = stats_get(host_stats(hosts[i]));

        g_string_append_printf(k, "%" G_GUINT64_FORMAT ":%" G_GINT64_FORMAT ":%d;",
                               dom_cache_serial(host_cache(hosts[i])), s->fetched,
                               conn_status(host_conn(hosts[i]), NULL));
    }
    return g_string_free(k, FALSE);
}

GBytes *
metrics_get(MetricsCache *mc, Host **hosts, guint n_hosts, int view)
{
    Host **sel = view >= 0 ? &hosts[view] : hosts;
    guint n = view >= 0 ? 1 : n_hosts;
    g_autofree char *key = metrics_key(sel, n);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&mc->lock);
    MetView *v = g_hash_table_lookup(mc->views, GINT_TO_POINTER(view));
    gint64 now = g_get_monotonic_time();
    GString *s;

    if (!v) {
        v = g_new0(MetView, 1);
        g_hash_table_insert(mc->views, GINT_TO_POINTER(view), v);
    }
    if (!v->text || now - v->at >= DOMFS_METRICS_REUSE_US || g_strcmp0(v->key, key) != 0) {
        s = g_string_new(NULL);
        metrics_render(sel, n, s);
        if (v->text)
            g_bytes_unref(v->text);
        v->text = g_string_free_to_bytes(s);
        g_free(v->key);
        v->key = g_steal_pointer(&key);
        v->at = now;
    }
    return g_bytes_ref(v->text);
}
