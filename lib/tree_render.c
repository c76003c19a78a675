/* tree_render.c - what each file holds: the guest files' table, and their content
 * rendered from a snapshot (any snapshot: the notifier renders the old and the new one to
 * see what changed). Every file holds one value and a newline; an absent value is an
 * empty file, never a lone newline. */
#define G_LOG_DOMAIN "domfs-tree"

#include "tree_priv.h"

#include <errno.h>
#include <string.h>

#include "dev_model.h"
#include "state_word.h"

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
};

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

int
tree_render(const DomInfo *d, const TreeNode *n, GString *out)
{
    const DevEntry *e;

    switch (n->kind) {
    case TN_GUEST_FILE:
        return tree_render_guest_file(d, n->index, out);
    case TN_DEV_FILE:
        if (!(e = dev_model_find(dom_info_devices(d), n->devkind, n->dev)))
            return -ENOENT;
        tree_value_nl(out, e->values[n->index], TRUE);
        return 0;
    default:
        return -EINVAL;
    }
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
    case TF_EVENTS:
        break;
    }
    *size = s->len;
    return 0;
}
