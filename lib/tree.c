/* tree.c - names, kinds and contents of domfs's tree.
 *
 * A node is named by what it shows (connection index, guest directory name, device kind
 * and name, file index), never by a pointer into the cache, so it can be resolved against
 * any snapshot: the current one to serve a request, or an old and a new one to find out
 * which files an event changed. Every file's content is one value and a newline. */
#include "tree.h"

#include <errno.h>
#include <string.h>

#include "dom_action.h"
#include "metrics.h"
#include "mig_run.h"
#include "state_word.h"

struct Tree {
    DomConn **conns;
    guint n_conns;
    bool multi;
    MigEnv mig;
};

typedef enum {
    GF_STATE, GF_REASON, GF_UUID, GF_ID, GF_VCPUS, GF_MEMORY, GF_AUTOSTART,
    GF_PERSISTENT, GF_TITLE, GF_DESCRIPTION, GF_XML, GF_ERROR, GF_CONSOLE, GF_MIGRATE,
    GF_N
} GuestFile;

static const struct {
    const char *name;
    bool writable;
    TreeFlavor flavor;
} guest_files[GF_N] = {
    [GF_STATE] = { "state", true, TF_SNAPSHOT },
    [GF_REASON] = { "reason", false, TF_SNAPSHOT },
    [GF_UUID] = { "uuid", false, TF_SNAPSHOT },
    [GF_ID] = { "id", false, TF_SNAPSHOT },
    [GF_VCPUS] = { "vcpus", false, TF_SNAPSHOT },
    [GF_MEMORY] = { "memory", false, TF_SNAPSHOT },
    [GF_AUTOSTART] = { "autostart", true, TF_SNAPSHOT },
    [GF_PERSISTENT] = { "persistent", false, TF_SNAPSHOT },
    [GF_TITLE] = { "title", true, TF_SNAPSHOT },
    [GF_DESCRIPTION] = { "description", true, TF_SNAPSHOT },
    [GF_XML] = { "xml", false, TF_SNAPSHOT },
    [GF_ERROR] = { "error", false, TF_SNAPSHOT },
    [GF_CONSOLE] = { "console.log", false, TF_CONSOLE },
    [GF_MIGRATE] = { "migrate", true, TF_SNAPSHOT },
};

typedef enum { DF_CONNECTION, DF_EVENTS, DF_METRICS, DF_N } DomfsFile;

static const struct {
    const char *name;
    TreeFlavor flavor;
} domfs_files[DF_N] = {
    [DF_CONNECTION] = { "connection", TF_CONNECTION },
    [DF_EVENTS] = { "events", TF_EVENTS },
    [DF_METRICS] = { "metrics.prom", TF_METRICS },
};

#define DOMFS_DIR ".domfs"
#define DEVICES_DIR "devices"

Tree *
tree_new(DomConn **conns, guint n_conns, bool multi)
{
    Tree *t = g_new0(Tree, 1);

    t->conns = g_memdup2(conns, sizeof(*conns) * n_conns);
    t->n_conns = n_conns;
    t->multi = multi;
    t->mig.uri_template = "qemu+ssh://%h/system";
    t->mig.conns = t->conns;
    t->mig.n_conns = n_conns;
    return t;
}

void
tree_free(Tree *t)
{
    if (!t)
        return;
    metrics_forget(t);
    g_free(t->conns);
    g_free(t);
}

guint
tree_n_conns(Tree *t)
{
    return t->n_conns;
}

DomConn *
tree_conn(Tree *t, int index)
{
    return index >= 0 && (guint)index < t->n_conns ? t->conns[index] : NULL;
}

void
tree_set_migrate_uri(Tree *t, const char *uri_template)
{
    t->mig.uri_template = uri_template;
}

bool
tree_is_multi(Tree *t)
{
    return t->multi;
}

const char *
tree_guest_file_name(int index)
{
    return index >= 0 && index < GF_N ? guest_files[index].name : NULL;
}

void
tree_node_clear(TreeNode *n)
{
    g_clear_pointer(&n->guest, g_free);
    g_clear_pointer(&n->dev, g_free);
}

void
tree_node_copy(TreeNode *dst, const TreeNode *src)
{
    *dst = *src;
    dst->guest = g_strdup(src->guest);
    dst->dev = g_strdup(src->dev);
}

void
tree_root(Tree *t, TreeNode *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = t->multi ? TN_TOP : TN_CONNROOT;
    out->conn = t->multi ? -1 : 0;
}

static void
tree_dir_attr(TreeAttr *attr)
{
    attr->is_dir = true;
    attr->writable = false;
    attr->blocking = false;
    attr->flavor = TF_SNAPSHOT;
}

/* Does node N show something that comes from the domain XML (of snapshot D)? */
static bool
tree_node_needs_xml(const TreeNode *n, const DomInfo *d)
{
    switch (n->kind) {
    case TN_DEVKIND:
    case TN_DEV:
    case TN_DEV_FILE:
        return true;
    case TN_GUEST_FILE:
        switch (n->index) {
        case GF_XML:
        case GF_TITLE:
        case GF_DESCRIPTION:
        case GF_CONSOLE:
            return true;
        case GF_VCPUS:
        case GF_MEMORY:
            return d->counts_from_xml;
        default:
            return false;
        }
    default:
        return false;
    }
}

DomInfo *
tree_guest_info(Tree *t, const TreeNode *n)
{
    DomConn *c = tree_conn(t, n->conn);
    DomInfo *d;

    if (!c || !n->guest)
        return NULL;
    d = dom_cache_get(conn_cache(c), n->guest);
    if (d && !d->loaded && tree_node_needs_xml(n, d)) {
        dom_info_unref(d);
        d = conn_get_loaded(c, n->guest);
    }
    return d;
}

/* Is the device file writable: a cdrom's or floppy's source, an interface's link_state. */
static bool
tree_dev_field_writable(const DomInfo *d, const TreeNode *n)
{
    const char *field = dev_fields(n->devkind)[n->index];

    if (n->devkind == DEV_IFACE)
        return strcmp(field, "link_state") == 0;
    if (n->devkind == DEV_DISK && strcmp(field, "source") == 0) {
        const DevEntry *e = dev_model_find(dom_info_devices(d), DEV_DISK, n->dev);
        const char *device;

        if (!e)
            return false;
        device = e->values[dev_field_index(DEV_DISK, "device")];
        return strcmp(device, "cdrom") == 0 || strcmp(device, "floppy") == 0;
    }
    return false;
}

/* Does guest-level node N exist in snapshot D; fills ATTR. */
static int
tree_guest_node_attr(const DomInfo *d, const TreeNode *n, TreeAttr *attr)
{
    switch (n->kind) {
    case TN_GUEST:
    case TN_DEVICES:
    case TN_DEVKIND:
        tree_dir_attr(attr);
        return 0;
    case TN_GUEST_FILE:
        attr->is_dir = false;
        attr->writable = guest_files[n->index].writable;
        attr->flavor = guest_files[n->index].flavor;
        attr->blocking = n->index == GF_MIGRATE;
        return 0;
    case TN_DEV:
        if (!dev_model_find(dom_info_devices(d), n->devkind, n->dev))
            return -ENOENT;
        tree_dir_attr(attr);
        return 0;
    case TN_DEV_FILE:
        if (!dev_model_find(dom_info_devices(d), n->devkind, n->dev))
            return -ENOENT;
        attr->is_dir = false;
        attr->writable = tree_dev_field_writable(d, n);
        attr->blocking = false;
        attr->flavor = TF_SNAPSHOT;
        return 0;
    default:
        return -ENOENT;
    }
}

int
tree_stat(Tree *t, const TreeNode *n, TreeAttr *attr)
{
    g_autoptr(DomInfo) d = NULL;

    switch (n->kind) {
    case TN_TOP:
    case TN_CONNROOT:
    case TN_DOMFS:
        tree_dir_attr(attr);
        return 0;
    case TN_DOMFS_FILE:
        attr->is_dir = false;
        attr->writable = false;
        attr->blocking = false;
        attr->flavor = domfs_files[n->index].flavor;
        return 0;
    default:
        if (!(d = tree_guest_info(t, n)))
            return -ENOENT;
        return tree_guest_node_attr(d, n, attr);
    }
}

static int
tree_find_name(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        if (names[i] && strcmp(names[i], name) == 0)
            return i;
    }
    return -1;
}

static int
tree_guest_file_index(const char *name)
{
    for (int i = 0; i < GF_N; i++) {
        if (strcmp(guest_files[i].name, name) == 0)
            return i;
    }
    return -1;
}

int
tree_child(Tree *t, const TreeNode *parent, const char *name, TreeNode *out, TreeAttr *attr)
{
    TreeNode n = { .conn = parent->conn, .devkind = parent->devkind };
    g_autoptr(DomInfo) d = NULL;
    int i;
    int ret;

    switch (parent->kind) {
    case TN_TOP:
        if (strcmp(name, DOMFS_DIR) == 0) {
            n.kind = TN_DOMFS;
            break;
        }
        for (i = 0; i < (int)t->n_conns; i++) {
            if (strcmp(conn_name(t->conns[i]), name) == 0)
                break;
        }
        if (i == (int)t->n_conns)
            return -ENOENT;
        n.kind = TN_CONNROOT;
        n.conn = i;
        break;
    case TN_CONNROOT:
        if (strcmp(name, DOMFS_DIR) == 0) {
            n.kind = TN_DOMFS;
            break;
        }
        if (!(d = dom_cache_get(conn_cache(t->conns[parent->conn]), name)))
            return -ENOENT;
        n.kind = TN_GUEST;
        n.guest = g_strdup(name);
        break;
    case TN_DOMFS:
        for (i = 0; i < DF_N; i++) {
            if (strcmp(domfs_files[i].name, name) == 0)
                break;
        }
        if (i == DF_N)
            return -ENOENT;
        n.kind = TN_DOMFS_FILE;
        n.index = i;
        break;
    case TN_GUEST:
        n.guest = g_strdup(parent->guest);
        if (strcmp(name, DEVICES_DIR) == 0) {
            n.kind = TN_DEVICES;
        } else if ((i = tree_guest_file_index(name)) >= 0) {
            n.kind = TN_GUEST_FILE;
            n.index = i;
        } else {
            tree_node_clear(&n);
            return -ENOENT;
        }
        break;
    case TN_DEVICES:
        if ((i = dev_kind_from_dir(name)) < 0)
            return -ENOENT;
        n.kind = TN_DEVKIND;
        n.index = i;
        n.devkind = i;
        n.guest = g_strdup(parent->guest);
        break;
    case TN_DEVKIND:
        n.kind = TN_DEV;
        n.devkind = parent->devkind;
        n.guest = g_strdup(parent->guest);
        n.dev = g_strdup(name);
        break;
    case TN_DEV:
        if ((i = tree_find_name(name, dev_fields(parent->devkind),
                                (int)dev_n_fields(parent->devkind))) < 0)
            return -ENOENT;
        n.kind = TN_DEV_FILE;
        n.index = i;
        n.guest = g_strdup(parent->guest);
        n.dev = g_strdup(parent->dev);
        break;
    default:
        return -ENOTDIR;
    }
    if ((ret = tree_stat(t, &n, attr)) < 0) {
        tree_node_clear(&n);
        return ret;
    }
    *out = n;
    return 0;
}

static void
tree_add(GPtrArray *out, const char *name, bool is_dir)
{
    TreeDirent *e = g_new0(TreeDirent, 1);

    e->name = g_strdup(name);
    e->is_dir = is_dir;
    g_ptr_array_add(out, e);
}

static void
tree_dirent_free(gpointer p)
{
    TreeDirent *e = p;

    g_free(e->name);
    g_free(e);
}

int
tree_list_guest(const DomInfo *d, const TreeNode *n, GPtrArray **out)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(tree_dirent_free);
    const DevEntry *e;
    const DevModel *m;

    switch (n->kind) {
    case TN_GUEST:
        for (int i = 0; i < GF_N; i++)
            tree_add(list, guest_files[i].name, false);
        tree_add(list, DEVICES_DIR, true);
        break;
    case TN_DEVICES:
        for (int k = 0; k < DEV_N_KINDS; k++)
            tree_add(list, dev_kind_dir(k), true);
        break;
    case TN_DEVKIND:
        m = dom_info_devices(d);
        for (guint i = 0; i < m->entries[n->devkind]->len; i++) {
            e = g_ptr_array_index(m->entries[n->devkind], i);
            tree_add(list, e->name, true);
        }
        break;
    case TN_DEV:
        if (!dev_model_find(dom_info_devices(d), n->devkind, n->dev))
            return -ENOENT;
        for (size_t i = 0; i < dev_n_fields(n->devkind); i++)
            tree_add(list, dev_fields(n->devkind)[i], false);
        break;
    default:
        return -ENOTDIR;
    }
    *out = g_steal_pointer(&list);
    return 0;
}

int
tree_list(Tree *t, const TreeNode *n, GPtrArray **out)
{
    g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(tree_dirent_free);
    g_autoptr(GPtrArray) doms = NULL;
    g_autoptr(DomInfo) d = NULL;

    switch (n->kind) {
    case TN_TOP:
        tree_add(list, DOMFS_DIR, true);
        for (guint i = 0; i < t->n_conns; i++)
            tree_add(list, conn_name(t->conns[i]), true);
        break;
    case TN_CONNROOT:
        tree_add(list, DOMFS_DIR, true);
        doms = dom_cache_list(conn_cache(t->conns[n->conn]));
        for (guint i = 0; i < doms->len; i++)
            tree_add(list, ((DomInfo *)g_ptr_array_index(doms, i))->dirname, true);
        break;
    case TN_DOMFS:
        for (int i = 0; i < DF_N; i++)
            tree_add(list, domfs_files[i].name, false);
        break;
    case TN_GUEST:
    case TN_DEVICES:
    case TN_DEVKIND:
    case TN_DEV:
        if (!(d = tree_guest_info(t, n)))
            return -ENOENT;
        return tree_list_guest(d, n, out);
    default:
        return -ENOTDIR;
    }
    *out = g_steal_pointer(&list);
    return 0;
}

static int
tree_render_guest_file(const DomInfo *d, int index, GString *out)
{
    gsize start = out->len;

    switch (index) {
    case GF_STATE:
        g_string_append(out, state_name(d->state));
        break;
    case GF_REASON:
        g_string_append(out, state_reason_name(d->state, d->reason));
        break;
    case GF_UUID:
        g_string_append(out, d->uuid);
        break;
    case GF_ID:
        if (d->id >= 0)
            g_string_append_printf(out, "%d", d->id);
        break;
    case GF_VCPUS:
        g_string_append_printf(out, "%u", d->vcpus);
        break;
    case GF_MEMORY:
        g_string_append_printf(out, "%llu", d->memory_kib);
        break;
    case GF_AUTOSTART:
        g_string_append(out, d->autostart ? "1" : "0");
        break;
    case GF_PERSISTENT:
        g_string_append(out, d->persistent ? "1" : "0");
        break;
    case GF_TITLE:
        g_string_append(out, d->title);
        break;
    case GF_DESCRIPTION:
        g_string_append(out, d->description);
        break;
    case GF_XML:
        g_string_append(out, d->xml);
        /* libvirt's XML already ends with a newline */
        if (out->len > 0 && out->str[out->len - 1] == '\n')
            return 0;
        break;
    case GF_MIGRATE:
        g_string_append(out, d->migrate);
        break;
    case GF_ERROR:
        if (d->error)
            g_string_append(out, d->error);
        else
            return 0;   /* no error: an empty file */
        break;
    default:
        return -EINVAL;
    }
    /* one value and a newline; an absent value (no id, no title...) is an empty file */
    if (out->len > start)
        g_string_append_c(out, '\n');
    return 0;
}

int
tree_render(const DomInfo *d, const TreeNode *n, GString *out)
{
    const DevEntry *e;
    const char *v;

    switch (n->kind) {
    case TN_GUEST_FILE:
        return tree_render_guest_file(d, n->index, out);
    case TN_DEV_FILE:
        if (!(e = dev_model_find(dom_info_devices(d), n->devkind, n->dev)))
            return -ENOENT;
        v = e->values[n->index];
        /* an absent value is an empty file, not a lone newline */
        if (*v) {
            g_string_append(out, v);
            if (v[strlen(v) - 1] != '\n')
                g_string_append_c(out, '\n');
        }
        return 0;
    default:
        return -EINVAL;
    }
}

int
tree_read(Tree *t, const TreeNode *n, GString *out)
{
    return tree_read_snapshot(t, n, out, NULL);
}

int
tree_read_snapshot(Tree *t, const TreeNode *n, GString *out, DomInfo **used)
{
    DomInfo *d;
    g_autofree char *s = NULL;
    int ret;

    if (n->kind == TN_DOMFS_FILE && n->index == DF_CONNECTION) {
        if (n->conn >= 0) {
            s = conn_describe(t->conns[n->conn]);
            g_string_append(out, s);
            return 0;
        }
        for (guint i = 0; i < t->n_conns; i++) {
            g_autofree char *one = conn_describe(t->conns[i]);

            g_string_append_printf(out, "%s%s", i ? "\n" : "", one);
        }
        return 0;
    }
    if (!(d = tree_guest_info(t, n)))
        return -ENOENT;
    ret = tree_render(d, n, out);
    if (used && ret == 0)
        *used = d;
    else
        dom_info_unref(d);
    return ret;
}

int
tree_write(Tree *t, const TreeNode *n, const char *buf, size_t len)
{
    g_autoptr(DomInfo) d = tree_guest_info(t, n);
    DomConn *c = tree_conn(t, n->conn);

    if (!d)
        return -ENOENT;
    if (n->kind == TN_GUEST_FILE) {
        switch (n->index) {
        case GF_STATE:
            return act_state(c, d, buf, len);
        case GF_AUTOSTART:
            return act_autostart(c, d, buf, len);
        case GF_TITLE:
        case GF_DESCRIPTION:
            return act_metadata(c, d, guest_files[n->index].name, buf, len);
        case GF_MIGRATE:
            return mig_write(c, d, &t->mig, buf, len);
        default:
            break;
        }
    }
    if (n->kind == TN_DEV_FILE) {
        TreeAttr attr;

        if (tree_guest_node_attr(d, n, &attr) < 0)
            return -ENOENT;
        if (!attr.writable)
            return -EACCES;
        return act_device(c, d, n->devkind, n->dev, dev_fields(n->devkind)[n->index], buf,
                          len);
    }
    return -EACCES;
}

void
tree_migrate_interrupt(Tree *t, const TreeNode *n)
{
    g_autoptr(DomInfo) d = tree_guest_info(t, n);

    if (d)
        mig_cancel(tree_conn(t, n->conn), d->uuid);
}
