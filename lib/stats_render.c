/* stats_render.c - see stats_render.h. libvirt reports times in ns and memory in KiB; the
 * files show µs and bytes, as cgroup v2 does (README "Statistics" has the key table). */
#define G_LOG_DOMAIN "domfs-stats"

#include "stats_render.h"

#include <string.h>

#define NS_PER_US 1000
#define KIB 1024

static void
flat(GString *out, const char *key, StatsVal v, guint64 div, guint64 mul)
{
    if (v.has)
        g_string_append_printf(out, "%s %" G_GUINT64_FORMAT "\n", key, v.v / div * mul);
}

static void
nested(GString *out, const char *key, StatsVal v, guint64 div)
{
    if (v.has)
        g_string_append_printf(out, " %s=%" G_GUINT64_FORMAT, key, v.v / div);
}

static void
render_cpu(const StatsDom *d, GString *out)
{
    flat(out, "usage_usec", d->cpu_ns, NS_PER_US, 1);
    flat(out, "user_usec", d->user_ns, NS_PER_US, 1);
    flat(out, "system_usec", d->system_ns, NS_PER_US, 1);
}

static const char *
vcpu_state_name(int st)
{
    switch (st) {
    case VIR_VCPU_OFFLINE: return "offline";
    case VIR_VCPU_RUNNING: return "running";
    case VIR_VCPU_BLOCKED: return "blocked";
    default: return "unknown";
    }
}

static void
render_vcpu(const StatsDom *d, GString *out)
{
    for (guint i = 0; d->vcpus && i < d->vcpus->len; i++) {
        const StatsVcpu *v = &g_array_index(d->vcpus, StatsVcpu, i);

        g_string_append_printf(out, "%u state=%s", i, vcpu_state_name(v->state));
        nested(out, "time_usec", v->time_ns, NS_PER_US);
        nested(out, "wait_usec", v->wait_ns, NS_PER_US);
        nested(out, "delay_usec", v->delay_ns, NS_PER_US);
        g_string_append_c(out, '\n');
    }
}

/* memory.stat keys: what libvirt's balloon.* gives, in bytes (faults are counts).
 * current is the host memory the guest occupies (its RSS), like cgroup's memory.current;
 * actual is the balloon's size, what the guest has. */
static const struct {
    const char *key;
    StatsMemKey from;
    guint64 mul;
} mem_keys[] = {
    { "current", STATS_MEM_RSS, KIB },
    { "max", STATS_MEM_MAXIMUM, KIB },
    { "actual", STATS_MEM_CURRENT, KIB },
    { "available", STATS_MEM_AVAILABLE, KIB },
    { "usable", STATS_MEM_USABLE, KIB },
    { "unused", STATS_MEM_UNUSED, KIB },
    { "rss", STATS_MEM_RSS, KIB },
    { "disk_caches", STATS_MEM_DISK_CACHES, KIB },
    { "swap_in", STATS_MEM_SWAP_IN, KIB },
    { "swap_out", STATS_MEM_SWAP_OUT, KIB },
    { "major_faults", STATS_MEM_MAJOR_FAULT, 1 },
    { "minor_faults", STATS_MEM_MINOR_FAULT, 1 },
};

static void
render_memory(const StatsDom *d, GString *out)
{
    for (gsize i = 0; i < G_N_ELEMENTS(mem_keys); i++)
        flat(out, mem_keys[i].key, d->mem[mem_keys[i].from], 1, mem_keys[i].mul);
}

static const struct {
    const char *key;
    StatsBlockKey from;
    guint64 div;
} io_keys[] = {
    { "rbytes", STATS_BLK_RD_BYTES, 1 }, { "wbytes", STATS_BLK_WR_BYTES, 1 },
    { "rios", STATS_BLK_RD_REQS, 1 }, { "wios", STATS_BLK_WR_REQS, 1 },
    { "fios", STATS_BLK_FL_REQS, 1 }, { "rtime_usec", STATS_BLK_RD_TIME_NS, NS_PER_US },
    { "wtime_usec", STATS_BLK_WR_TIME_NS, NS_PER_US },
    { "ftime_usec", STATS_BLK_FL_TIME_NS, NS_PER_US },
};

static const struct {
    const char *key;
    StatsNetKey from;
} net_keys[] = {
    { "rx_bytes", STATS_NET_RX_BYTES }, { "rx_packets", STATS_NET_RX_PKTS },
    { "rx_errs", STATS_NET_RX_ERRS }, { "rx_drop", STATS_NET_RX_DROP },
    { "tx_bytes", STATS_NET_TX_BYTES }, { "tx_packets", STATS_NET_TX_PKTS },
    { "tx_errs", STATS_NET_TX_ERRS }, { "tx_drop", STATS_NET_TX_DROP },
};

/* A device name as one token: a space would split the line. */
static void
dev_name(GString *out, const char *name)
{
    for (const char *p = name && *name ? name : "-"; *p; p++)
        g_string_append_c(out, *p == ' ' || (guchar)*p < 0x20 ? '?' : *p);
}

static void
render_io(const StatsDom *d, GString *out)
{
    for (guint i = 0; d->blocks && i < d->blocks->len; i++) {
        const StatsDev *b = g_ptr_array_index(d->blocks, i);

        dev_name(out, b->name);
        for (gsize k = 0; k < G_N_ELEMENTS(io_keys); k++)
            nested(out, io_keys[k].key, b->v[io_keys[k].from], io_keys[k].div);
        g_string_append_c(out, '\n');
    }
}

static void
render_net(const StatsDom *d, GString *out)
{
    for (guint i = 0; d->nets && i < d->nets->len; i++) {
        const StatsDev *n = g_ptr_array_index(d->nets, i);

        dev_name(out, n->name);
        for (gsize k = 0; k < G_N_ELEMENTS(net_keys); k++)
            nested(out, net_keys[k].key, n->v[net_keys[k].from], 1);
        g_string_append_c(out, '\n');
    }
}

void
stats_render(const StatsDom *d, StatsFile f, GString *out)
{
    if (!d)
        return;
    switch (f) {
    case SF_CPU: render_cpu(d, out); break;
    case SF_VCPU: render_vcpu(d, out); break;
    case SF_MEMORY: render_memory(d, out); break;
    case SF_IO: render_io(d, out); break;
    case SF_NET: render_net(d, out); break;
    case SF_N: break;
    }
}

static const struct {
    const char *field;
    StatsBlockKey from;
} disk_fields[] = {
    { "capacity", STATS_BLK_CAPACITY },
    { "allocation", STATS_BLK_ALLOCATION },
    { "physical", STATS_BLK_PHYSICAL },
};

gboolean
stats_is_disk_field(const char *field)
{
    for (gsize i = 0; i < G_N_ELEMENTS(disk_fields); i++) {
        if (strcmp(disk_fields[i].field, field) == 0)
            return TRUE;
    }
    return FALSE;
}

void
stats_render_disk(const StatsDom *d, const char *target, const char *field, GString *out)
{
    const StatsDev *b = d ? stats_dom_block(d, target) : NULL;

    for (gsize i = 0; b && i < G_N_ELEMENTS(disk_fields); i++) {
        if (strcmp(disk_fields[i].field, field) == 0 && b->v[disk_fields[i].from].has)
            g_string_append_printf(out, "%" G_GUINT64_FORMAT "\n", b->v[disk_fields[i].from].v);
    }
}
