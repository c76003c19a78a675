/* tree_render.c - what each file holds: the guest files' table, and their content
 * rendered from a snapshot (any snapshot: the notifier renders the old and the new one to
 * see what changed). Every file holds one value and a newline; an absent value is an
 * empty file, never a lone newline. */
#define G_LOG_DOMAIN "domfs-tree"

#include "tree_priv.h"

#include <errno.h>
#include <string.h>

#include "agent_info.h"
#include "dev_model.h"
#include "state_word.h"
#include "stats_render.h"

const GuestFileDef tree_guest_files[GF_N] = {
    [GF_STATE] = { "state", true, TF_SNAPSHOT, false },
    [GF_REASON] = { "reason", false, TF_SNAPSHOT, false },
    [GF_UUID] = { "uuid", false, TF_SNAPSHOT, false },
    [GF_ID] = { "id", false, TF_SNAPSHOT, false },
    [GF_VCPUS] = { "vcpus", false, TF_SNAPSHOT, false },
    [GF_MEMORY] = { "memory", false, TF_SNAPSHOT, false },
    [GF_AUTOSTART] = { "autostart", true, TF_SNAPSHOT, false },
    [GF_PERSISTENT] = { "persistent", false, TF_SNAPSHOT, false },
    [GF_TITLE] = { "title", true, TF_SNAPSHOT, true },
    [GF_DESCRIPTION] = { "description", true, TF_SNAPSHOT, true },
    [GF_XML] = { "xml", false, TF_SNAPSHOT, true },
    [GF_ERROR] = { "error", false, TF_SNAPSHOT, false },
    [GF_CONSOLE] = { "console.log", false, TF_CONSOLE, true },
    [GF_MIGRATE] = { "migrate", true, TF_SNAPSHOT, false },
    [GF_CPU_STAT] = { "cpu.stat", false, TF_STATS, false },
    [GF_VCPU_STAT] = { "vcpu.stat", false, TF_STATS, false },
    [GF_MEMORY_STAT] = { "memory.stat", false, TF_STATS, false },
    [GF_IO_STAT] = { "io.stat", false, TF_STATS, false },
    [GF_NET_STAT] = { "net.stat", false, TF_STATS, false },
};
/* the statistics files in StatsFile order */
G_STATIC_ASSERT(GF_NET_STAT - GF_CPU_STAT + 1 == SF_N);

const TreeDevExtra tree_dev_extras[] = {
    { DEV_DISK, "capacity", TF_STATS },
    { DEV_DISK, "allocation", TF_STATS },
    { DEV_DISK, "physical", TF_STATS },
    { DEV_IFACE, "ip", TF_SNAPSHOT },
};
const gsize tree_n_dev_extras = G_N_ELEMENTS(tree_dev_extras);

const char *const tree_domfs_files[DF_N] = {
    [DF_CONNECTION] = "connection",
    [DF_EVENTS] = "events",
    [DF_METRICS] = "metrics.prom",
};
const TreeFlavor tree_domfs_flavors[DF_N] = {
    [DF_CONNECTION] = TF_CONNECTION,
    [DF_EVENTS] = TF_EVENTS,
    [DF_METRICS] = TF_METRICS,
};

const char *
tree_guest_file_name(int index)
{
    return index >= 0 && index < GF_N ? tree_guest_files[index].name : NULL;
}

/* One value: an absent (empty) one is an empty file, else the value and a newline (none
 * added after a value that already ends with one when ENDS_OK: XML, device values). */
static void
tree_value_nl(GString *out, const char *v, gboolean ends_ok)
{
    size_t n = strlen(v);

    if (!n)
        return;
    g_string_append_len(out, v, (gssize)n);
    if (!ends_ok || v[n - 1] != '\n')
        g_string_append_c(out, '\n');
}

static void
tree_value(GString *out, const char *v)
{
    tree_value_nl(out, v, FALSE);
}

static int
tree_render_guest_file(const DomInfo *d, int index, GString *out)
{
    char num[32] = "";

    switch (index) {
    case GF_STATE: tree_value(out, state_name(d->state)); break;
    case GF_REASON: tree_value(out, state_reason_name(d->state, d->reason)); break;
    case GF_UUID: tree_value(out, d->uuid); break;
    case GF_ID:
        if (d->id >= 0)
            g_snprintf(num, sizeof num, "%d", d->id);
        tree_value(out, num);
        break;
    case GF_VCPUS:
        g_snprintf(num, sizeof num, "%u", d->vcpus);
        tree_value(out, num);
        break;
    case GF_MEMORY:
        g_snprintf(num, sizeof num, "%llu", d->memory_kib);
        tree_value(out, num);
        break;
    case GF_AUTOSTART: tree_value(out, d->autostart ? "1" : "0"); break;
    case GF_PERSISTENT: tree_value(out, d->persistent ? "1" : "0"); break;
    case GF_TITLE: tree_value(out, d->title); break;
    case GF_DESCRIPTION: tree_value(out, d->description); break;
    case GF_XML: tree_value_nl(out, d->xml, TRUE); break;
    case GF_MIGRATE: tree_value(out, d->local->migrate); break;
    case GF_ERROR: tree_value(out, d->local->error ? d->local->error : ""); break;
    default: return -EINVAL;
    }
    return 0;
}

/* ---- device extras ---- */

const TreeDevExtra *
tree_dev_extra(int kind, int pos)
{
    for (gsize i = 0; i < tree_n_dev_extras; i++) {
        if (tree_dev_extras[i].kind == kind && pos-- == 0)
            return &tree_dev_extras[i];
    }
    return NULL;
}

int
tree_dev_extra_pos(int kind, const char *name)
{
    int pos = 0;

    for (gsize i = 0; i < tree_n_dev_extras; i++) {
        if (tree_dev_extras[i].kind != kind)
            continue;
        if (strcmp(tree_dev_extras[i].name, name) == 0)
            return pos;
        pos++;
    }
    return -1;
}

const TreeDevExtra *
tree_dev_node_extra(const TreeNode *n)
{
    int nx = (int)dev_n_fields(n->devkind);

    return n->kind == TN_DEV_FILE && n->index >= nx ? tree_dev_extra(n->devkind, n->index - nx)
                                                   : NULL;
}

/* An interface's addresses, from the agent or the leases (by its MAC). */
static void
tree_render_ip(const DomInfo *d, const DevEntry *e, GString *out)
{
    const char *mac = e->values[dev_field_index(DEV_IFACE, "mac")];

    tree_value(out, agent_info_ip(d->local->agent, mac));
}

static int
tree_render_dev_file(const DomInfo *d, const TreeNode *n, GString *out)
{
    const TreeDevExtra *x = tree_dev_node_extra(n);
    const DevEntry *e;

    if (!(e = dev_model_find(dom_info_devices(d), n->devkind, n->dev)))
        return -ENOENT;
    if (!x) {
        tree_value_nl(out, e->values[n->index], TRUE);
        return 0;
    }
    if (x->flavor != TF_SNAPSHOT)
        return -EINVAL;   /* statistics: tree_render_stats */
    tree_render_ip(d, e, out);
    return 0;
}

int
tree_render(const DomInfo *d, const TreeNode *n, GString *out)
{
    switch (n->kind) {
    case TN_GUEST_FILE:
        return tree_render_guest_file(d, n->index, out);
    case TN_DEV_FILE:
        return tree_render_dev_file(d, n, out);
    case TN_AGENT_FILE:
        if (n->index < 0 || n->index >= AF_N)
            return -EINVAL;
        agent_info_render(d->local->agent, d->agent_state, n->index, out);
        return 0;
    default:
        return -EINVAL;
    }
}

/* ---- statistics ---- */

int
tree_render_stats(Tree *t, const TreeNode *n, GString *out, gint64 *fetched)
{
    g_autoptr(DomInfo) d = NULL;
    g_autoptr(StatsSnap) snap = NULL;
    const TreeDevExtra *x = tree_dev_node_extra(n);
    const StatsDom *sd;
    int ret;

    if ((ret = tree_snap(t, n, &d)) < 0)
        return ret;
    snap = stats_get(host_stats(tree_host(t, n->conn)));
    if (fetched)
        *fetched = snap->fetched;
    /* a guest that is off has no statistics, even before the next fetch says so */
    sd = d->id >= 0 ? stats_snap_get(snap, d->uuid) : NULL;
    if (n->kind == TN_GUEST_FILE && n->index >= GF_CPU_STAT && n->index <= GF_NET_STAT) {
        stats_render(sd, (StatsFile)(n->index - GF_CPU_STAT), out);
        return 0;
    }
    if (x && x->flavor == TF_STATS) {
        if (!dev_model_find(dom_info_devices(d), n->devkind, n->dev))
            return -ENOENT;
        stats_render_disk(sd, n->dev, x->name, out);
        return 0;
    }
    return -EINVAL;
}

/* The console log's size (0 when refused: stat works, open says EACCES). */
static uint64_t
tree_console_size(Tree *t, const TreeNode *n)
{
    g_autoptr(DomInfo) d = NULL;
    ConsLog *log = NULL;
    uint64_t sz = 0;

    if (tree_snap(t, n, &d) == 0 && host_console(tree_host(t, n->conn), d, &log) == 0 && log &&
        cons_log_size(log, &sz) < 0)
        sz = 0;
    return sz;
}

int
tree_size(Tree *t, const TreeNode *n, const TreeAttr *attr, uint64_t *size)
{
    g_autoptr(GString) s = g_string_new(NULL);
    g_autoptr(GBytes) b = NULL;
    g_autoptr(DomInfo) d = NULL;
    int ret;

    switch (attr->flavor) {
    case TF_SNAPSHOT:
        if ((ret = tree_snap(t, n, &d)) < 0 || (ret = tree_render(d, n, s)) < 0)
            return ret;
        break;
    case TF_CONNECTION:
        tree_connection_text(t, n->conn, s);
        break;
    case TF_METRICS:
        b = metrics_get(t->metrics, t->hosts, t->n_hosts, n->conn);
        *size = g_bytes_get_size(b);
        return 0;
    case TF_CONSOLE:
        *size = tree_console_size(t, n);
        return 0;
    case TF_STATS:
        if ((ret = tree_render_stats(t, n, s, NULL)) < 0)
            return ret;
        break;
    case TF_EVENTS:
        break;
    }
    *size = s->len;
    return 0;
}
