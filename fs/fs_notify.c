/* fs_notify.c - keeps the kernel's caches honest.
 *
 * Entries and attributes are handed to the kernel with long timeouts and read-only files
 * are page-cached, so every change of the domain cache must be followed by invalidations.
 * FUSE forbids issuing them from inside a request handler (the kernel may hold locks the
 * notification needs), and changes are also made by write handlers, so the cache listener
 * only queues (old, new) snapshot pairs here; one thread renders each known node against
 * both snapshots and invalidates exactly what differs, then publishes the event line. The
 * order (invalidate, then event) is what lets a reader of .domfs/events trust the files. */
#include <errno.h>
#include <string.h>

#include "fs.h"
#include "fs_inode.h"

typedef struct {
    int conn;
    fuse_ino_t inval_ino;   /* just invalidate this inode */
    GAsyncQueue *barrier;   /* just answer on it: everything queued before is done */
    DomInfo *old_info;
    DomInfo *new_info;
    char *event;
    bool stop;
} NotifyItem;

static GAsyncQueue *notify_queue;
static GThread *notify_thread;

static void
notify_item_free(NotifyItem *it)
{
    dom_info_unref(it->old_info);
    dom_info_unref(it->new_info);
    g_free(it->event);
    g_free(it);
}

void
notify_cache_change(DomInfo *old_info, DomInfo *new_info, const char *event, void *opaque)
{
    NotifyItem *it = g_new0(NotifyItem, 1);

    it->conn = GPOINTER_TO_INT(opaque);
    it->old_info = old_info ? dom_info_ref(old_info) : NULL;
    it->new_info = new_info ? dom_info_ref(new_info) : NULL;
    it->event = g_strdup(event);
    g_async_queue_push(notify_queue, it);
}

static void
notify_inval_inode(fuse_ino_t ino)
{
    if (fs_state.se && ino)
        fuse_lowlevel_notify_inval_inode(fs_state.se, ino, 0, 0);
}

void
notify_flush(gint64 timeout_us)
{
    GAsyncQueue *answer;
    NotifyItem *it;

    if (!notify_thread)
        return;
    /* a queue as a one-shot channel: reference-counted, so a waiter that gives up leaves
     * nothing dangling */
    answer = g_async_queue_new();
    it = g_new0(NotifyItem, 1);
    it->barrier = g_async_queue_ref(answer);
    g_async_queue_push(notify_queue, it);
    g_async_queue_timeout_pop(answer, (guint64)timeout_us);
    g_async_queue_unref(answer);
}

void
notify_inval_later(fuse_ino_t ino)
{
    NotifyItem *it = g_new0(NotifyItem, 1);

    it->inval_ino = ino;
    g_async_queue_push(notify_queue, it);
}

static void
notify_inval_entry(fuse_ino_t parent, const char *name)
{
    if (fs_state.se && parent)
        fuse_lowlevel_notify_inval_entry(fs_state.se, parent, name, strlen(name));
}

static fuse_ino_t
notify_connroot_ino(int conn)
{
    /* during start-up there is no mount yet, hence nothing cached in the kernel */
    if (!fs_state.tree || !fs_state.se)
        return 0;
    if (!tree_is_multi(fs_state.tree))
        return FUSE_ROOT_ID;
    return ino_child(FUSE_ROOT_ID, conn_name(tree_conn(fs_state.tree, conn)));
}

static bool
notify_is_dir(TreeKind kind)
{
    return kind == TN_GUEST || kind == TN_DEVICES || kind == TN_DEVKIND || kind == TN_DEV;
}

/* Invalidate entries that appeared or vanished between two listings of one directory. */
static bool
notify_diff_dir(const FsNodeRef *r, const DomInfo *a, const DomInfo *b)
{
    g_autoptr(GPtrArray) la = NULL;
    g_autoptr(GPtrArray) lb = NULL;
    g_autoptr(GHashTable) sa = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) sb = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer k;
    bool changed = false;

    if (tree_list_guest(a, &r->tn, &la) < 0)
        la = g_ptr_array_new();
    if (tree_list_guest(b, &r->tn, &lb) < 0)
        lb = g_ptr_array_new();
    for (guint i = 0; i < la->len; i++)
        g_hash_table_add(sa, ((TreeDirent *)g_ptr_array_index(la, i))->name);
    for (guint i = 0; i < lb->len; i++)
        g_hash_table_add(sb, ((TreeDirent *)g_ptr_array_index(lb, i))->name);
    g_hash_table_iter_init(&it, sa);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (!g_hash_table_contains(sb, k)) {
            notify_inval_entry(r->ino, k);
            changed = true;
        }
    }
    g_hash_table_iter_init(&it, sb);
    while (g_hash_table_iter_next(&it, &k, NULL)) {
        if (!g_hash_table_contains(sa, k)) {
            notify_inval_entry(r->ino, k);   /* a cached negative entry */
            changed = true;
        }
    }
    return changed;
}

static bool
notify_diff_file(const FsNodeRef *r, const DomInfo *a, const DomInfo *b)
{
    g_autoptr(GString) ca = g_string_new(NULL);
    g_autoptr(GString) cb = g_string_new(NULL);
    int ra = tree_render(a, &r->tn, ca);
    int rb = tree_render(b, &r->tn, cb);

    return ra != rb || !g_string_equal(ca, cb);
}

/* The guest kept its directory: invalidate each known node whose content changed. */
static void
notify_diff_guest(fuse_ino_t guest_ino, const DomInfo *a, const DomInfo *b)
{
    g_autoptr(GArray) nodes = ino_subtree(guest_ino);

    if (notify_diff_dir(&(FsNodeRef){ .ino = guest_ino, .tn = { .kind = TN_GUEST } }, a, b))
        notify_inval_inode(guest_ino);
    for (guint i = 0; i < nodes->len; i++) {
        FsNodeRef *r = &g_array_index(nodes, FsNodeRef, i);
        bool changed;

        if (notify_is_dir(r->tn.kind))
            changed = notify_diff_dir(r, a, b);
        else if (r->tn.kind == TN_GUEST_FILE || r->tn.kind == TN_DEV_FILE)
            changed = notify_diff_file(r, a, b);
        else
            changed = false;
        if (changed)
            notify_inval_inode(r->ino);
    }
}

/* Every known inode below a guest directory that vanished, was renamed or (re)appeared:
 * the kernel may hand an inode number back to a new guest of the same name, and a page
 * cache of the same size would otherwise survive (FUSE compares sizes only). */
static void
notify_inval_guest_tree(fuse_ino_t root, const char *dirname)
{
    fuse_ino_t guest_ino = ino_child(root, dirname);
    g_autoptr(GArray) nodes = NULL;

    if (!guest_ino)
        return;
    notify_inval_inode(guest_ino);
    nodes = ino_subtree(guest_ino);
    for (guint i = 0; i < nodes->len; i++)
        notify_inval_inode(g_array_index(nodes, FsNodeRef, i).ino);
}

/* A guest name as one token of an event line. */
static char *
notify_event_name(const char *dirname)
{
    GString *s = g_string_new(NULL);

    for (const char *p = dirname; *p; p++) {
        if (*p == ' ')
            g_string_append(s, "%20");
        else
            g_string_append_c(s, *p);
    }
    return g_string_free(s, FALSE);
}

static void
notify_process(NotifyItem *it)
{
    const char *old_dir = it->old_info ? it->old_info->dirname : NULL;
    const char *new_dir = it->new_info ? it->new_info->dirname : NULL;
    fuse_ino_t root = notify_connroot_ino(it->conn);
    bool renamed = old_dir && new_dir && strcmp(old_dir, new_dir) != 0;
    fuse_ino_t guest_ino;

    if (root) {
        if (old_dir && (!new_dir || renamed)) {
            notify_inval_guest_tree(root, old_dir);
            notify_inval_entry(root, old_dir);
        }
        if (new_dir && (!old_dir || renamed)) {
            notify_inval_guest_tree(root, new_dir);
            notify_inval_entry(root, new_dir);
        }
        if (!old_dir || !new_dir || renamed)
            notify_inval_inode(root);
        if (old_dir && new_dir && !renamed && (guest_ino = ino_child(root, new_dir)))
            notify_diff_guest(guest_ino, it->old_info, it->new_info);
    }
    if (it->event && fs_state.events) {
        g_autofree char *name = notify_event_name(new_dir ? new_dir : old_dir);
        g_autofree char *line = g_strdup_printf("%s %s", name, it->event);

        ev_stream_push(fs_state.events[it->conn], line);
        if (fs_state.top_events) {
            g_autofree char *top = g_strdup_printf(
                "%s/%s", conn_name(tree_conn(fs_state.tree, it->conn)), line);

            ev_stream_push(fs_state.top_events, top);
        }
    }
}

static gpointer
notify_main(gpointer data)
{
    for (;;) {
        NotifyItem *it = g_async_queue_pop(notify_queue);
        bool stop = it->stop;

        if (it->barrier) {
            g_async_queue_push(it->barrier, GINT_TO_POINTER(1));
            g_async_queue_unref(it->barrier);
        } else if (it->inval_ino) {
            notify_inval_inode(it->inval_ino);
        } else if (!stop) {
            notify_process(it);
        }
        notify_item_free(it);
        if (stop)
            return NULL;
    }
}

void
notify_start(void)
{
    if (!notify_queue)
        notify_queue = g_async_queue_new();
    notify_thread = g_thread_new("notify", notify_main, NULL);
}

void
notify_stop(void)
{
    NotifyItem *it;

    if (!notify_thread)
        return;
    it = g_new0(NotifyItem, 1);
    it->stop = true;
    g_async_queue_push(notify_queue, it);
    g_thread_join(notify_thread);
    notify_thread = NULL;
}
