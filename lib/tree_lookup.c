/* tree_lookup.c - resolving names to nodes, and nodes to their attributes and listings,
 * against the current snapshots. Nothing here waits: a node whose answer needs a guest's
 * XML that is still loading gives -EINPROGRESS, and tree_when_ready arranges for a
 * completion when it has loaded (or the timeout passed). */
#define G_LOG_DOMAIN "domfs-tree"

#include "tree_priv.h"

#include <errno.h>
#include <string.h>

#include "agent_info.h"
#include "dev_model.h"
#include "quota.h"
#include "timer.h"

/* ---- snapshots ---- */

/* Does node N show something that comes from the domain XML (of snapshot D)? */
static bool
tree_node_needs_xml(const TreeNode *n, const DomInfo *d)
{
    switch (n->kind) {
    case TN_DEVKIND:
    case TN_DEV:
    case TN_DEV_FILE:
    case TN_AGENT_FILE:     /* the agent's state comes from the XML's channel */
        return true;
    case TN_GUEST_FILE:
        if (n->index == GF_VCPUS || n->index == GF_MEMORY)
            return d->counts_from_xml;
        return tree_guest_files[n->index].needs_xml;
    default:
        return false;
    }
}

int
tree_snap(Tree *t, const TreeNode *n, DomInfo **out)
{
    Host *h = tree_host(t, n->conn);
    DomInfo *d;

    *out = NULL;
    if (!h || !n->guest || !(d = dom_cache_get(host_cache(h), n->guest)))
        return -ENOENT;
    /* a node names one guest for life: a namesake defined since is another guest */
    if (n->uuid[0] && strcmp(d->uuid, n->uuid) != 0) {
        dom_info_unref(d);
        return -ENOENT;
    }
    if (!d->loaded && tree_node_needs_xml(n, d)) {
        conn_want(host_conn(h), d->uuid);
        dom_info_unref(d);
        return -EINPROGRESS;
    }
    *out = d;
    return 0;
}

DomInfo *
tree_guest_snap(Tree *t, const TreeNode *n)
{
    DomInfo *d = NULL;

    tree_snap(t, n, &d);
    return d;
}

/* ---- waiting for a guest's XML ---- */

typedef struct {
    Completion *outer;        /* the caller's */
    Host *h;
    char uuid[VIR_UUID_STRING_BUFLEN];
    uid_t uid;
    gint timer;               /* timer id (atomic: read by whichever thread answers) */
    Completion *self;         /* borrowed: for the timer to unregister it */
} TreeReady;

static void
tree_ready_done(void *data, int result)
{
    TreeReady *r = data;

    timer_cancel((guint)g_atomic_int_get(&r->timer));
    completion_complete(r->outer, result);
}

static void
tree_ready_free(void *data)
{
    TreeReady *r = data;

    quota_release(QUOTA_WAITS, r->uid);
    completion_unref(r->outer);
    g_free(r);
}

static gboolean
tree_ready_timeout(gpointer data)
{
    Completion *inner = data;
    TreeReady *r = completion_data(inner);

    g_atomic_int_set(&r->timer, 0);
    dom_cache_unwait(host_cache(r->h), r->uuid, inner);
    completion_complete(inner, -ETIMEDOUT);
    return G_SOURCE_REMOVE;
}

int
tree_when_ready(Tree *t, const TreeNode *n, uid_t uid, Completion *comp)
{
    Host *h = tree_host(t, n->conn);
    g_autoptr(DomInfo) d = h && n->guest ? dom_cache_get(host_cache(h), n->guest) : NULL;
    g_autoptr(Completion) inner = NULL;
    TreeReady *r;

    if (!d)
        return 0;   /* gone: asking again answers ENOENT */
    if (!quota_take(QUOTA_WAITS, uid))
        return -EAGAIN;
    r = g_new0(TreeReady, 1);
    r->outer = completion_ref(comp);
    r->h = h;
    r->uid = uid;
    memcpy(r->uuid, d->uuid, sizeof(r->uuid));
    inner = completion_new(tree_ready_done, r, tree_ready_free);
    /* the deadline first: once registered, INNER may complete at any time */
    g_atomic_int_set(&r->timer,
                     (gint)timer_add((gint64)MAX(t->cfg.timeout_s, 1) * G_USEC_PER_SEC,
                                     tree_ready_timeout, completion_ref(inner),
                                     (GDestroyNotify)completion_unref));
    if (!dom_cache_wait_loaded(host_cache(h), d->uuid, inner)) {
        timer_cancel((guint)g_atomic_int_get(&r->timer));
        return 0;   /* loaded meanwhile (INNER goes, releasing the quota) */
    }
    conn_want(host_conn(h), d->uuid);
    return -EINPROGRESS;
}

/* ---- attributes ---- */

static void
tree_dir_attr(TreeAttr *attr)
{
    *attr = (TreeAttr){ .is_dir = true, .flavor = TF_SNAPSHOT };
}

/* Is the device file writable: a cdrom's or floppy's source, an interface's link_state. */
static bool
tree_dev_field_writable(const DomInfo *d, const TreeNode *n)
{
    const char *field;
    const DevEntry *e;
    const char *device;

    if (tree_dev_node_extra(n))
        return false;   /* sizes and addresses are what libvirt reports */
    field = dev_fields(n->devkind)[n->index];
    if (n->devkind == DEV_IFACE)
        return strcmp(field, "link_state") == 0;
    if (n->devkind != DEV_DISK || strcmp(field, "source") != 0)
        return false;
    if (!(e = dev_model_find(dom_info_devices(d), DEV_DISK, n->dev)))
        return false;
    device = e->values[dev_field_index(DEV_DISK, "device")];
    return strcmp(device, "cdrom") == 0 || strcmp(device, "floppy") == 0;
}

int
tree_guest_node_attr(const DomInfo *d, const TreeNode *n, TreeAttr *attr)
{
    switch (n->kind) {
    case TN_GUEST:
    case TN_DEVICES:
    case TN_DEVKIND:
    case TN_AGENT:
        tree_dir_attr(attr);
        break;
    case TN_AGENT_FILE:
        *attr = (TreeAttr){ .flavor = TF_SNAPSHOT };
        break;
    case TN_GUEST_FILE:
        *attr = (TreeAttr){
            .writable = tree_guest_files[n->index].writable,
            .flavor = tree_guest_files[n->index].flavor,
            .blocking = n->index == GF_MIGRATE,
        };
        break;
    case TN_DEV:
        if (!dev_model_find(dom_info_devices(d), n->devkind, n->dev))
            return -ENOENT;
        tree_dir_attr(attr);
        break;
    case TN_DEV_FILE:
        if (!dev_model_find(dom_info_devices(d), n->devkind, n->dev))
            return -ENOENT;
        *attr = (TreeAttr){ .writable = tree_dev_field_writable(d, n),
                            .flavor = tree_dev_node_extra(n) ? tree_dev_node_extra(n)->flavor
                                                             : TF_SNAPSHOT };
        break;
    default:
        return -ENOENT;
    }
    attr->mtime = d->confirmed;
    return 0;
}

int
tree_stat(Tree *t, const TreeNode *n, TreeAttr *attr)
{
    g_autoptr(DomInfo) d = NULL;
    int ret;

    switch (n->kind) {
    case TN_TOP:
    case TN_CONNROOT:
    case TN_DOMFS:
        tree_dir_attr(attr);
        return 0;
    case TN_DOMFS_FILE:
        *attr = (TreeAttr){ .flavor = tree_domfs_flavors[n->index] };
        return 0;
    default:
        if ((ret = tree_snap(t, n, &d)) < 0 || (ret = tree_guest_node_attr(d, n, attr)) < 0)
            return ret;
        /* statistics were confirmed by their fetch */
        if (attr->flavor == TF_STATS) {
            g_autoptr(StatsSnap) snap = stats_get(host_stats(tree_host(t, n->conn)));

            attr->mtime = snap->fetched;
        }
        return 0;
    }
}

/* ---- names ---- */

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
        if (strcmp(tree_guest_files[i].name, name) == 0)
            return i;
    }
    return -1;
}

/* A child of the mount root of several hosts: .domfs or a host directory. */
static int
tree_child_of_top(Tree *t, const char *name, TreeNode *n)
{
    if (strcmp(name, TREE_DOMFS_DIR) == 0) {
        n->kind = TN_DOMFS;
        return 0;
    }
    for (guint i = 0; i < t->n_hosts; i++) {
        if (g_strcmp0(host_name(t->hosts[i]), name) == 0) {
            n->kind = TN_CONNROOT;
            n->conn = (int)i;
            return 0;
        }
    }
    return -ENOENT;
}

/* A child of a host's root: .domfs or a guest directory (bound to the guest's uuid). */
static int
tree_child_of_connroot(Tree *t, const TreeNode *parent, const char *name, TreeNode *n)
{
    g_autoptr(DomInfo) d = NULL;

    if (strcmp(name, TREE_DOMFS_DIR) == 0) {
        n->kind = TN_DOMFS;
        return 0;
    }
    if (!(d = dom_cache_get(host_cache(t->hosts[parent->conn]), name)))
        return -ENOENT;
    n->kind = TN_GUEST;
    n->guest = g_strdup(name);
    g_strlcpy(n->uuid, d->uuid, sizeof(n->uuid));
    return 0;
}

/* A child of a guest-level directory. */
static int
tree_child_of_guest(const TreeNode *parent, const char *name, TreeNode *n)
{
    int i;

    n->guest = g_strdup(parent->guest);
    memcpy(n->uuid, parent->uuid, sizeof(n->uuid));
    switch (parent->kind) {
    case TN_GUEST:
        if (strcmp(name, TREE_DEVICES_DIR) == 0) {
            n->kind = TN_DEVICES;
            return 0;
        }
        if (strcmp(name, TREE_AGENT_DIR) == 0) {
            n->kind = TN_AGENT;
            return 0;
        }
        n->kind = TN_GUEST_FILE;
        return (n->index = tree_guest_file_index(name)) < 0 ? -ENOENT : 0;
    case TN_AGENT:
        n->kind = TN_AGENT_FILE;
        return (n->index = tree_find_name(name, agent_file_names, AF_N)) < 0 ? -ENOENT : 0;
    case TN_DEVICES:
        n->kind = TN_DEVKIND;
        n->index = n->devkind = dev_kind_from_dir(name);
        return n->index < 0 ? -ENOENT : 0;
    case TN_DEVKIND:
        n->kind = TN_DEV;
        n->devkind = parent->devkind;
        n->dev = g_strdup(name);
        return 0;
    case TN_DEV:
        n->kind = TN_DEV_FILE;
        n->devkind = parent->devkind;
        n->dev = g_strdup(parent->dev);
        i = tree_find_name(name, dev_fields(parent->devkind),
                           (int)dev_n_fields(parent->devkind));
        if (i < 0 && (i = tree_dev_extra_pos(parent->devkind, name)) >= 0)
            i += (int)dev_n_fields(parent->devkind);
        return (n->index = i) < 0 ? -ENOENT : 0;
    default:
        return -ENOTDIR;
    }
}

int
tree_child(Tree *t, const TreeNode *parent, const char *name, TreeNode *out, TreeAttr *attr)
{
    TreeNode n = { .conn = parent->conn, .devkind = parent->devkind };
    int ret;

    switch (parent->kind) {
    case TN_TOP:
        ret = tree_child_of_top(t, name, &n);
        break;
    case TN_CONNROOT:
        ret = tree_child_of_connroot(t, parent, name, &n);
        break;
    case TN_DOMFS:
        n.kind = TN_DOMFS_FILE;
        ret = (n.index = tree_find_name(name, tree_domfs_files, DF_N)) < 0 ? -ENOENT : 0;
        break;
    default:
        ret = tree_child_of_guest(parent, name, &n);
        break;
    }
    if (ret == 0)
        ret = tree_stat(t, &n, attr);
    if (ret < 0) {
        tree_node_clear(&n);
        return ret;
    }
    *out = n;
    return 0;
}

/* ---- listings ---- */

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
    const DevModel *m;

    switch (n->kind) {
    case TN_GUEST:
        for (int i = 0; i < GF_N; i++)
            tree_add(list, tree_guest_files[i].name, false);
        tree_add(list, TREE_AGENT_DIR, true);
        tree_add(list, TREE_DEVICES_DIR, true);
        break;
    case TN_AGENT:
        for (int i = 0; i < AF_N; i++)
            tree_add(list, agent_file_names[i], false);
        break;
    case TN_DEVICES:
        for (int k = 0; k < DEV_N_KINDS; k++)
            tree_add(list, dev_kind_dir(k), true);
        break;
    case TN_DEVKIND:
        m = dom_info_devices(d);
        for (guint i = 0; i < m->entries[n->devkind]->len; i++)
            tree_add(list, ((DevEntry *)g_ptr_array_index(m->entries[n->devkind], i))->name,
                     true);
        break;
    case TN_DEV:
        if (!dev_model_find(dom_info_devices(d), n->devkind, n->dev))
            return -ENOENT;
        for (size_t i = 0; i < dev_n_fields(n->devkind); i++)
            tree_add(list, dev_fields(n->devkind)[i], false);
        for (int pos = 0; tree_dev_extra(n->devkind, pos); pos++)
            tree_add(list, tree_dev_extra(n->devkind, pos)->name, false);
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
    int ret;

    switch (n->kind) {
    case TN_TOP:
        tree_add(list, TREE_DOMFS_DIR, true);
        for (guint i = 0; i < t->n_hosts; i++)
            tree_add(list, host_name(t->hosts[i]), true);
        break;
    case TN_CONNROOT:
        tree_add(list, TREE_DOMFS_DIR, true);
        doms = dom_cache_list(host_cache(t->hosts[n->conn]));
        for (guint i = 0; i < doms->len; i++)
            tree_add(list, ((DomInfo *)g_ptr_array_index(doms, i))->dirname, true);
        break;
    case TN_DOMFS:
        for (int i = 0; i < DF_N; i++)
            tree_add(list, tree_domfs_files[i], false);
        break;
    case TN_GUEST:
    case TN_DEVICES:
    case TN_DEVKIND:
    case TN_DEV:
    case TN_AGENT:
        if ((ret = tree_snap(t, n, &d)) < 0)
            return ret;
        return tree_list_guest(d, n, out);
    default:
        return -ENOTDIR;
    }
    *out = g_steal_pointer(&list);
    return 0;
}
