/* fs_notify.c - keeps the kernel's caches honest.
 *
 * Entries and attributes are handed to the kernel with long timeouts and read-only files
 * are page-cached, so every change of the domain cache must be followed by invalidations.
 * FUSE forbids issuing them from inside a request handler (the kernel may hold locks the
 * notification needs), so the tree's listener only queues changes here; one thread per
 * host asks fs_diff.h what differs between the old and the new snapshot for the nodes
 * the kernel knows, invalidates exactly that, then publishes the event line. The order
 * (invalidate, then event) is what lets a reader of .domfs/events trust the files. A
 * thread per host: an invalidation the kernel makes wait (on a directory's lock) delays
 * that host's lines only.
 *
 * An invalidation waits for requests in flight on the same directory; no handler sleeps
 * (fs_req.h), so that wait is short. */
#define G_LOG_DOMAIN "domfs-fs"

#include <errno.h>
#include <string.h>

#include "fs.h"
#include "fs_diff.h"
#include "fs_inode.h"

typedef struct {
    TreeChange *change;          /* a change to invalidate and publish */
    fuse_ino_t inval_ino;        /* or: just invalidate this inode */
    void (*after_fn)(void *);    /* or: call this (a barrier) */
    void *after_data;
    bool stop;
} NotifyItem;

typedef struct {
    int host;
    GAsyncQueue *queue;          /* NotifyItem * */
    GThread *thread;
} NotifyHost;

/* Producers (any lib thread publishing a change, a write's reply) push while notify_stop
 * may be taking the queues away: they hold the reader side while they push; notify_start
 * and notify_stop the writer side while they set or take notify_hosts. */
static GRWLock notify_lock;
static NotifyHost *notify_hosts;     /* protected by notify_lock */
static guint notify_n;               /* protected by notify_lock */

static NotifyHost *
notify_host(int host)
{
    return &notify_hosts[host >= 0 && (guint)host < notify_n ? (guint)host : 0];
}

static void
notify_push(int host, NotifyItem *it)
{
    g_rw_lock_reader_lock(&notify_lock);
    if (notify_hosts) {
        g_async_queue_push(notify_host(host)->queue, it);
        it = NULL;
    }
    g_rw_lock_reader_unlock(&notify_lock);
    if (it) {
        /* shutting down: nothing is mounted any more */
        tree_change_unref(it->change);
        g_free(it);
    }
}

void
notify_change(TreeChange *ch, void *opaque)
{
    NotifyItem *it = g_new0(NotifyItem, 1);

    it->change = tree_change_ref(ch);
    notify_push((int)ch->host, it);
}

void
notify_after(int host, void (*fn)(void *data), void *data)
{
    NotifyItem *it = g_new0(NotifyItem, 1);

    it->after_fn = fn;
    it->after_data = data;
    notify_push(host, it);
}

void
notify_inval_later(int host, fuse_ino_t ino)
{
    NotifyItem *it = g_new0(NotifyItem, 1);

    it->inval_ino = ino;
    notify_push(host, it);
}

/* ---- invalidating ---- */

/* The kernel forgets INO's attributes and pages (cache hygiene: its content may be the
 * same, so poll()ers are not told). */
static void
notify_forget_inode(fuse_ino_t ino)
{
    if (fs_state.se && ino)
        fuse_lowlevel_notify_inval_inode(fs_state.se, ino, 0, 0);
}

/* INO's content changed: the kernel forgets it, then a poll()er of it learns the news. */
static void
notify_inval_inode(fuse_ino_t ino)
{
    if (!fs_state.se || !ino)
        return;
    notify_forget_inode(ino);
    if (ino_bump_gen(ino))
        fs_poll_wake_ino(ino);   /* else once the write in flight on it is answered */
}

static void
notify_inval_entry(fuse_ino_t parent, const char *name)
{
    if (fs_state.se && parent)
        fuse_lowlevel_notify_inval_entry(fs_state.se, parent, name, strlen(name));
}

static fuse_ino_t
notify_connroot_ino(Tree *t, guint host)
{
    /* during start-up there is no mount yet, hence nothing cached in the kernel */
    if (!t || !fs_state.se)
        return 0;
    if (!tree_is_multi(t))
        return FUSE_ROOT_ID;
    return ino_child(FUSE_ROOT_ID, tree_host_name(t, (int)host));
}

/* Issue what fs_diff decided, in its order. */
static void
notify_issue(const GArray *invals)
{
    for (guint i = 0; i < invals->len; i++) {
        const FsDiffInval *v = &g_array_index(invals, FsDiffInval, i);

        if (v->name)
            notify_inval_entry(v->ino, v->name);
        else
            notify_inval_inode(v->ino);
    }
}

static void
notify_process(Tree *t, TreeChange *ch)
{
    fuse_ino_t root = notify_connroot_ino(t, ch->host);

    if (root) {
        g_autoptr(GArray) invals = fs_diff_new();

        fs_diff_change(root, ch->old_info, ch->new_info, invals);
        notify_issue(invals);
    }
    if (t)
        tree_publish(t, ch);
}

/* ---- after a takeover ---- */

static bool
notify_is_dir(TreeKind kind)
{
    return kind == TN_TOP || kind == TN_CONNROOT || kind == TN_DOMFS || kind == TN_GUEST ||
           kind == TN_DEVICES || kind == TN_DEVKIND || kind == TN_DEV || kind == TN_AGENT;
}

/* Names of directory INO the kernel may hold as negative entries: listed now, but no
 * node of ours (a node the kernel holds is known here). */
static void
notify_sweep_dir(Tree *t, fuse_ino_t ino, const TreeNode *tn)
{
    g_autoptr(GPtrArray) list = NULL;

    notify_inval_inode(ino);
    if (tree_list(t, tn, &list) < 0)
        return;
    for (guint i = 0; i < list->len; i++) {
        const char *name = ((TreeDirent *)g_ptr_array_index(list, i))->name;
        TreeNode c = { 0 };
        TreeAttr attr;
        g_autofree char *key = NULL;

        if (tree_child(t, tn, name, &c, &attr) == 0)
            key = fs_inode_key(name, &c);
        if (!key || !ino_child(ino, key))
            notify_inval_entry(ino, name);
        tree_node_clear(&c);
    }
}

/* What the kernel holds may be older than this process's tree: the gap between two
 * processes, and the invalidations a crashed one never made. Every node it knows is
 * invalidated, dead ones (their guest gone) dropped by name, and names that appeared
 * meanwhile let through. On host 0's notifier thread, once serving. */
static void
notify_sweep(void *data)
{
    Tree *t = fs_tree();
    g_autoptr(GArray) nodes = ino_subtree(FUSE_ROOT_ID);
    TreeNode root = { 0 };

    if (!t)
        return;
    tree_root(t, &root);
    notify_sweep_dir(t, FUSE_ROOT_ID, &root);
    tree_node_clear(&root);
    for (guint i = 0; i < nodes->len; i++) {
        FsNodeRef *r = &g_array_index(nodes, FsNodeRef, i);

        if (r->dead)
            notify_inval_entry(r->parent, r->name);
        else if (notify_is_dir(r->tn.kind))
            notify_sweep_dir(t, r->ino, &r->tn);
        else
            notify_inval_inode(r->ino);
    }
    g_message("takeover: %u inode(s) the kernel holds refreshed", nodes->len);
}

void
notify_takeover_sweep(void)
{
    notify_after(0, notify_sweep, NULL);
}

/* ---- the threads ---- */

static gpointer
notify_main(gpointer data)
{
    NotifyHost *nh = data;

    for (;;) {
        NotifyItem *it = g_async_queue_pop(nh->queue);
        bool stop = it->stop;

        if (it->after_fn)
            it->after_fn(it->after_data);
        else if (it->inval_ino)
            notify_forget_inode(it->inval_ino);
        else if (it->change)
            notify_process(fs_tree(), it->change);
        tree_change_unref(it->change);
        g_free(it);
        if (stop)
            return NULL;
    }
}

void
notify_start(guint n_hosts)
{
    guint n = MAX(n_hosts, 1);
    NotifyHost *hosts = g_new0(NotifyHost, n);

    for (guint i = 0; i < n; i++) {
        hosts[i].host = (int)i;
        hosts[i].queue = g_async_queue_new();
        hosts[i].thread = g_thread_new("notify", notify_main, &hosts[i]);
    }
    g_rw_lock_writer_lock(&notify_lock);
    notify_hosts = hosts;
    notify_n = n;
    g_rw_lock_writer_unlock(&notify_lock);
}

/* From here on pushes are dropped; the threads finish what was queued, then stop. */
void
notify_stop(void)
{
    NotifyHost *hosts;
    guint n;

    g_rw_lock_writer_lock(&notify_lock);
    hosts = g_steal_pointer(&notify_hosts);
    n = notify_n;
    notify_n = 0;
    g_rw_lock_writer_unlock(&notify_lock);
    for (guint i = 0; hosts && i < n; i++) {
        NotifyItem *it = g_new0(NotifyItem, 1);

        it->stop = true;
        g_async_queue_push(hosts[i].queue, it);
        g_thread_join(hosts[i].thread);
        g_async_queue_unref(hosts[i].queue);
    }
    g_free(hosts);
}
