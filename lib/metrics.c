/* metrics.c - Prometheus text format (version 0.0.4) for every guest.
 *
 * State, vcpus and memory come from the domain cache. Block and network I/O counters are
 * the one thing a read may fetch: one virConnectGetAllDomainStats(BLOCK|INTERFACE) per
 * connection, at most once a second however many readers there are (the fetch happens
 * under the connection's stats lock, so concurrent scrapes share it). Samples are labelled
 * by host and guest name; label values are escaped as the format requires. */
#include "metrics.h"

#include <string.h>

#include <libvirt/virterror.h>

#include "state_word.h"

typedef struct {
    char *device;
    guint64 v[4];    /* block: rd bytes, wr bytes, rd reqs, wr reqs; net: rx, tx bytes, pkts */
} MetricsDev;

typedef struct {
    GMutex lock;
    gint64 fetched_at;         /* monotonic µs; 0 = never */
    GHashTable *block;         /* uuid -> GPtrArray of MetricsDev */
    GHashTable *net;
} MetricsStats;

static GMutex metrics_lock;
static GHashTable *metrics_by_conn;   /* DomConn -> MetricsStats */

static void
metrics_dev_free(gpointer p)
{
    MetricsDev *d = p;

    g_free(d->device);
    g_free(d);
}

static MetricsStats *
metrics_stats_of(DomConn *c)
{
    MetricsStats *s;

    g_mutex_lock(&metrics_lock);
    if (!metrics_by_conn)
        metrics_by_conn = g_hash_table_new(g_direct_hash, g_direct_equal);
    s = g_hash_table_lookup(metrics_by_conn, c);
    if (!s) {
        s = g_new0(MetricsStats, 1);
        g_mutex_init(&s->lock);
        s->block = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify)g_ptr_array_unref);
        s->net = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)g_ptr_array_unref);
        g_hash_table_insert(metrics_by_conn, c, s);
    }
    g_mutex_unlock(&metrics_lock);
    return s;
}

static guint64
metrics_param_ull(virDomainStatsRecordPtr rec, const char *name)
{
    unsigned long long v = 0;

    virTypedParamsGetULLong(rec->params, rec->nparams, name, &v);
    return v;
}

/* Devices of one kind ("block" or "net") of one stats record. */
static GPtrArray *
metrics_devs(virDomainStatsRecordPtr rec, const char *kind, const char *const keys[4])
{
    GPtrArray *out = g_ptr_array_new_with_free_func(metrics_dev_free);
    g_autofree char *count_key = g_strdup_printf("%s.count", kind);
    unsigned int count = 0;

    virTypedParamsGetUInt(rec->params, rec->nparams, count_key, &count);
    for (unsigned int i = 0; i < MIN(count, 4096u); i++) {
        g_autofree char *name_key = g_strdup_printf("%s.%u.name", kind, i);
        const char *name = NULL;
        MetricsDev *d;

        if (virTypedParamsGetString(rec->params, rec->nparams, name_key, &name) != 1)
            continue;
        d = g_new0(MetricsDev, 1);
        d->device = g_strdup(name);
        for (int k = 0; k < 4; k++) {
            g_autofree char *key = g_strdup_printf("%s.%u.%s", kind, i, keys[k]);

            d->v[k] = metrics_param_ull(rec, key);
        }
        g_ptr_array_add(out, d);
    }
    return out;
}

static const char *const metrics_block_keys[4] = { "rd.bytes", "wr.bytes", "rd.reqs", "wr.reqs" };
static const char *const metrics_net_keys[4] = { "rx.bytes", "tx.bytes", "rx.pkts", "tx.pkts" };

/* With S locked: refresh the I/O counters when older than a second. */
static void
metrics_refresh_io(DomConn *c, MetricsStats *s)
{
    gint64 now = g_get_monotonic_time();
    virDomainStatsRecordPtr *recs = NULL;
    virConnectPtr vc;
    int n;

    if (s->fetched_at && now - s->fetched_at < G_USEC_PER_SEC)
        return;
    if (!(vc = conn_get_virt(c)))
        return;   /* reconnecting: keep the last counters */
    n = virConnectGetAllDomainStats(vc, VIR_DOMAIN_STATS_BLOCK | VIR_DOMAIN_STATS_INTERFACE,
                                    &recs, VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
    if (n < 0) {
        virResetLastError();
    } else {
        g_hash_table_remove_all(s->block);
        g_hash_table_remove_all(s->net);
        for (int i = 0; i < n; i++) {
            char uuid[VIR_UUID_STRING_BUFLEN];

            if (virDomainGetUUIDString(recs[i]->dom, uuid) < 0)
                continue;
            g_hash_table_insert(s->block, g_strdup(uuid),
                                metrics_devs(recs[i], "block", metrics_block_keys));
            g_hash_table_insert(s->net, g_strdup(uuid),
                                metrics_devs(recs[i], "net", metrics_net_keys));
        }
        virDomainStatsRecordListFree(recs);
    }
    s->fetched_at = now;
    virConnectClose(vc);
}

/* The guests of C, each with vcpus/memory known (waiting, right after start-up, for the
 * background load of those whose counts come from their XML). */
static GPtrArray *
metrics_loaded_list(DomConn *c)
{
    GPtrArray *doms = dom_cache_list(conn_cache(c));

    for (guint i = 0; i < doms->len; i++) {
        DomInfo *d = g_ptr_array_index(doms, i);
        DomInfo *loaded;

        if (d->loaded || !d->counts_from_xml)
            continue;
        if ((loaded = conn_get_loaded(c, d->dirname))) {
            dom_info_unref(d);
            doms->pdata[i] = loaded;
        }
    }
    return doms;
}

static void
metrics_label(GString *out, const char *v)
{
    for (const char *p = v; *p; p++) {
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

static void
metrics_labels(GString *out, const char *host, const DomInfo *d)
{
    g_string_append(out, "{host=\"");
    metrics_label(out, host);
    g_string_append(out, "\",name=\"");
    metrics_label(out, d->name);
    g_string_append(out, "\"");
}

typedef enum {
    MET_STATE, MET_UP, MET_VCPUS, MET_MEMORY,
    MET_BLK_RD, MET_BLK_WR, MET_BLK_RDREQ, MET_BLK_WRREQ,
    MET_NET_RX, MET_NET_TX, MET_NET_RXPKT, MET_NET_TXPKT,
    MET_N
} MetricFamily;

static const struct {
    const char *name;
    const char *type;
    const char *help;
} metric_families[MET_N] = {
    [MET_STATE] = { "domfs_guest_state", "gauge", "Guest state: 1 for the state the guest is in." },
    [MET_UP] = { "domfs_guest_running", "gauge", "1 when the guest is running, else 0." },
    [MET_VCPUS] = { "domfs_guest_vcpus", "gauge", "Current number of virtual CPUs." },
    [MET_MEMORY] = { "domfs_guest_memory_bytes", "gauge", "Current memory of the guest in bytes." },
    [MET_BLK_RD] = { "domfs_guest_block_read_bytes_total", "counter", "Bytes read from a disk." },
    [MET_BLK_WR] = { "domfs_guest_block_write_bytes_total", "counter", "Bytes written to a disk." },
    [MET_BLK_RDREQ] = { "domfs_guest_block_read_requests_total", "counter", "Read requests of a disk." },
    [MET_BLK_WRREQ] = { "domfs_guest_block_write_requests_total", "counter", "Write requests of a disk." },
    [MET_NET_RX] = { "domfs_guest_network_receive_bytes_total", "counter", "Bytes received by an interface." },
    [MET_NET_TX] = { "domfs_guest_network_transmit_bytes_total", "counter", "Bytes sent by an interface." },
    [MET_NET_RXPKT] = { "domfs_guest_network_receive_packets_total", "counter", "Packets received by an interface." },
    [MET_NET_TXPKT] = { "domfs_guest_network_transmit_packets_total", "counter", "Packets sent by an interface." },
};

static void
metrics_io_samples(GString *out, MetricFamily fam, const char *host, const DomInfo *d,
                   MetricsStats *s)
{
    gboolean block = fam <= MET_BLK_WRREQ;
    int k = block ? fam - MET_BLK_RD : fam - MET_NET_RX;
    GPtrArray *devs = g_hash_table_lookup(block ? s->block : s->net, d->uuid);

    for (guint i = 0; devs && i < devs->len; i++) {
        MetricsDev *dev = g_ptr_array_index(devs, i);

        g_string_append(out, metric_families[fam].name);
        metrics_labels(out, host, d);
        g_string_append(out, ",device=\"");
        metrics_label(out, dev->device);
        g_string_append_printf(out, "\"} %" G_GUINT64_FORMAT "\n", dev->v[k]);
    }
}

static void
metrics_sample(GString *out, MetricFamily fam, const char *host, const DomInfo *d,
               MetricsStats *s)
{
    if (fam >= MET_BLK_RD) {
        metrics_io_samples(out, fam, host, d, s);
        return;
    }
    g_string_append(out, metric_families[fam].name);
    metrics_labels(out, host, d);
    switch (fam) {
    case MET_STATE:
        g_string_append_printf(out, ",state=\"%s\"} 1\n", state_name(d->state));
        break;
    case MET_UP:
        g_string_append_printf(out, "} %d\n", d->state == VIR_DOMAIN_RUNNING ? 1 : 0);
        break;
    case MET_VCPUS:
        g_string_append_printf(out, "} %u\n", d->vcpus);
        break;
    case MET_MEMORY:
        g_string_append_printf(out, "} %llu\n", d->memory_kib * 1024ULL);
        break;
    default:
        break;
    }
}

/* The rendered text of each view (a connection, or all: -1), reused for up to a second
 * while no guest changed: a scrape stats and then reads the file, and a fleet's file is
 * megabytes. */
typedef struct {
    Tree *tree;
    int conn;
    gint64 at;
    guint64 serial;     /* of the caches it was rendered from */
    GString *text;
} MetricsRendered;

static GMutex metrics_rendered_lock;
static GPtrArray *metrics_rendered;

static int metrics_render_now(Tree *t, int conn, GString *out);

void
metrics_forget(Tree *t)
{
    g_mutex_lock(&metrics_rendered_lock);
    for (guint i = 0; metrics_rendered && i < metrics_rendered->len;) {
        MetricsRendered *r = g_ptr_array_index(metrics_rendered, i);

        if (r->tree == t) {
            g_string_free(r->text, TRUE);
            g_free(r);
            g_ptr_array_remove_index_fast(metrics_rendered, i);
        } else {
            i++;
        }
    }
    g_mutex_unlock(&metrics_rendered_lock);
}

static guint64
metrics_serial(Tree *t, int conn)
{
    guint first = conn >= 0 ? (guint)conn : 0;
    guint last = conn >= 0 ? (guint)conn + 1 : tree_n_conns(t);
    guint64 sum = 0;

    for (guint i = first; i < last; i++)
        sum += dom_cache_serial(conn_cache(tree_conn(t, (int)i)));
    return sum;
}

int
metrics_render(Tree *t, int conn, GString *out)
{
    gint64 now = g_get_monotonic_time();
    guint64 serial = metrics_serial(t, conn);
    MetricsRendered *r = NULL;

    g_mutex_lock(&metrics_rendered_lock);
    if (!metrics_rendered)
        metrics_rendered = g_ptr_array_new();
    for (guint i = 0; i < metrics_rendered->len && !r; i++) {
        MetricsRendered *x = g_ptr_array_index(metrics_rendered, i);

        if (x->tree == t && x->conn == conn)
            r = x;
    }
    if (!r) {
        r = g_new0(MetricsRendered, 1);
        r->tree = t;
        r->conn = conn;
        r->text = g_string_new(NULL);
        g_ptr_array_add(metrics_rendered, r);
    }
    if (!r->at || now - r->at >= G_USEC_PER_SEC || r->serial != serial) {
        g_string_truncate(r->text, 0);
        metrics_render_now(t, conn, r->text);
        r->at = g_get_monotonic_time();
        r->serial = serial;
    }
    g_string_append_len(out, r->text->str, (gssize)r->text->len);
    g_mutex_unlock(&metrics_rendered_lock);
    return 0;
}

static int
metrics_render_now(Tree *t, int conn, GString *out)
{
    guint first = conn >= 0 ? (guint)conn : 0;
    guint last = conn >= 0 ? (guint)conn + 1 : tree_n_conns(t);
    g_autoptr(GPtrArray) all = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
    g_autoptr(GPtrArray) stats = g_ptr_array_new();

    for (guint i = first; i < last; i++) {
        DomConn *c = tree_conn(t, (int)i);
        MetricsStats *s = metrics_stats_of(c);

        g_ptr_array_add(all, metrics_loaded_list(c));
        g_mutex_lock(&s->lock);
        metrics_refresh_io(c, s);
        g_ptr_array_add(stats, s);
    }
    for (int fam = 0; fam < MET_N; fam++) {
        g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
                               metric_families[fam].name, metric_families[fam].help,
                               metric_families[fam].name, metric_families[fam].type);
        for (guint i = 0; i < all->len; i++) {
            GPtrArray *doms = g_ptr_array_index(all, i);
            const char *host = conn_name(tree_conn(t, (int)(first + i)));

            for (guint j = 0; j < doms->len; j++)
                metrics_sample(out, fam, host, g_ptr_array_index(doms, j),
                               g_ptr_array_index(stats, i));
        }
    }
    for (guint i = 0; i < stats->len; i++)
        g_mutex_unlock(&((MetricsStats *)g_ptr_array_index(stats, i))->lock);
    return 0;
}
