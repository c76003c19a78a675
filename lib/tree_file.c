/* tree_file.c - open files: a snapshot file's content rendered once at open (shared bytes:
 * thousands of opens of a megabyte metrics.prom cost one copy), a console.log stream, or
 * a .domfs/events reader whose reads wait without a thread. */
#define G_LOG_DOMAIN "domfs-tree"

#include "tree_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "domfs_limits.h"
#include "quota.h"

typedef enum {
    FILE_CONTENT,
    FILE_CONSOLE,
    FILE_EVENTS,
} TreeFileKind;

struct TreeFile {
    Tree *tree;
    TreeNode node;
    TreeAttr attr;
    TreeFileKind kind;
    int flags;
    uid_t uid;
    GBytes *content;         /* FILE_CONTENT */
    DomInfo *snap;           /* the snapshot CONTENT was rendered from, if any */
    ConsHandle *console;     /* FILE_CONSOLE; NULL: no log (an empty file) */
    EvReader *events;        /* FILE_EVENTS */
    GMutex lock;             /* guards waits */
    GPtrArray *waits;        /* TreeFileWait *, reads waiting for a line */
};

/* A read waiting for a line: the caller's completion, and ours in the stream (which
 * releases the quota when it goes). */
typedef struct {
    TreeFile *f;
    Completion *outer;
    Completion *inner;       /* borrowed; owned by the stream's list and the caller */
} TreeFileWait;

static void
tree_file_clear(gpointer p)
{
    TreeFile *f = p;

    tree_node_clear(&f->node);
    if (f->content)
        g_bytes_unref(f->content);
    dom_info_unref(f->snap);
    quota_release(QUOTA_OPENS, f->uid);
    cons_close(f->console);
    ev_reader_free(f->events);
    if (f->waits)
        g_ptr_array_unref(f->waits);
    g_mutex_clear(&f->lock);
}

TreeFile *
tree_file_ref(TreeFile *f)
{
    return g_atomic_rc_box_acquire(f);
}

void
tree_file_unref(TreeFile *f)
{
    if (f)
        g_atomic_rc_box_release_full(f, tree_file_clear);
}

/* ---- opening ---- */

static int
tree_open_content(Tree *t, TreeFile *f)
{
    g_autoptr(GString) s = g_string_new(NULL);
    int ret;

    switch (f->attr.flavor) {
    case TF_METRICS:
        f->content = metrics_get(t->metrics, t->hosts, t->n_hosts, f->node.conn);
        return 0;
    case TF_CONNECTION:
        tree_connection_text(t, f->node.conn, s);
        break;
    case TF_STATS:
        if ((ret = tree_render_stats(t, &f->node, s, NULL)) < 0)
            return ret;
        break;
    default:
        if ((ret = tree_snap(t, &f->node, &f->snap)) < 0 ||
            (ret = tree_render(f->snap, &f->node, s)) < 0)
            return ret;
        break;
    }
    f->content = g_bytes_new(s->str, s->len);
    return 0;
}

static int
tree_open_console(Tree *t, TreeFile *f)
{
    g_autoptr(DomInfo) d = NULL;
    ConsLog *log = NULL;
    int ret;

    if ((ret = tree_snap(t, &f->node, &d)) < 0 ||
        (ret = host_console(tree_host(t, f->node.conn), d, &log)) < 0)
        return ret;
    return log ? cons_open(log, &f->console) : 0;
}

int
tree_open(Tree *t, const TreeNode *n, int flags, const TreeCaller *who, TreeFile **out,
          TreeOpenInfo *info)
{
    TreeFile *f;
    TreeAttr attr;
    int ret;

    if ((ret = tree_stat(t, n, &attr)) < 0)
        return ret;
    if (attr.is_dir)
        return -EISDIR;
    if ((flags & O_ACCMODE) != O_RDONLY && !attr.writable)
        return -EACCES;
    /* every open costs memory here: bounded per user, like a process's descriptors */
    if (!quota_take(QUOTA_OPENS, who->uid))
        return -EMFILE;
    f = g_atomic_rc_box_new0(TreeFile);
    g_mutex_init(&f->lock);
    f->tree = t;
    tree_node_copy(&f->node, n);
    f->attr = attr;
    f->flags = flags;
    f->uid = who->uid;
    *info = (TreeOpenInfo){ .direct_io = true };
    switch (attr.flavor) {
    case TF_CONSOLE:
        f->kind = FILE_CONSOLE;
        ret = tree_open_console(t, f);
        break;
    case TF_EVENTS:
        f->kind = FILE_EVENTS;
        f->events = ev_reader_new(tree_events(t, n->conn));
        f->waits = g_ptr_array_new();
        info->nonseekable = true;
        break;
    default:
        f->kind = FILE_CONTENT;
        ret = tree_open_content(t, f);
        /* a read-only snapshot file is what the kernel may keep (invalidated on change) */
        info->keep_cache = attr.flavor == TF_SNAPSHOT && !attr.writable;
        info->direct_io = !info->keep_cache;
        break;
    }
    if (ret < 0) {
        tree_file_unref(f);
        return ret;
    }
    *out = f;
    return 0;
}

/* ---- reading ---- */

ssize_t
tree_file_read(TreeFile *f, uint64_t off, char *buf, size_t size, const char **data)
{
    gsize len;
    const char *bytes;
    size_t n;

    size = MIN(size, (size_t)DOMFS_READ_MAX);
    switch (f->kind) {
    case FILE_CONTENT:
        bytes = g_bytes_get_data(f->content, &len);
        *data = bytes + MIN(off, (uint64_t)len);
        return off >= len ? 0 : (ssize_t)MIN((uint64_t)size, len - off);
    case FILE_CONSOLE:
        *data = buf;
        return f->console ? cons_read(f->console, off, buf, size) : 0;
    case FILE_EVENTS:
        *data = buf;
        n = ev_reader_read(f->events, buf, size);
        return n ? (ssize_t)n : -EAGAIN;
    }
    return -EINVAL;
}

bool
tree_file_readable(TreeFile *f)
{
    return f->kind != FILE_EVENTS || ev_reader_ready(f->events);
}

bool
tree_file_is_events(TreeFile *f)
{
    return f->kind == FILE_EVENTS;
}

DomInfo *
tree_file_snap(TreeFile *f)
{
    return f->snap;
}

/* ---- waiting for a line ---- */

static void
tree_wait_done(void *data, int result)
{
    TreeFileWait *w = data;

    g_mutex_lock(&w->f->lock);
    g_ptr_array_remove_fast(w->f->waits, w);
    g_mutex_unlock(&w->f->lock);
    completion_complete(w->outer, result);
}

static void
tree_wait_free(void *data)
{
    TreeFileWait *w = data;

    quota_release(QUOTA_WAITS, w->f->uid);
    completion_unref(w->outer);
    tree_file_unref(w->f);
    g_free(w);
}

int
tree_file_wait(TreeFile *f, Completion *comp)
{
    g_autoptr(Completion) inner = NULL;
    TreeFileWait *w;

    if (f->kind != FILE_EVENTS)
        return -EINVAL;
    if (!quota_take(QUOTA_WAITS, f->uid))
        return -EAGAIN;
    w = g_new0(TreeFileWait, 1);
    w->f = tree_file_ref(f);
    w->outer = completion_ref(comp);
    inner = completion_new(tree_wait_done, w, tree_wait_free);
    w->inner = inner;
    g_mutex_lock(&f->lock);
    g_ptr_array_add(f->waits, w);
    g_mutex_unlock(&f->lock);
    if (!ev_reader_wait(f->events, inner)) {
        /* a line came meanwhile: read again */
        completion_cancel(inner);
        g_mutex_lock(&f->lock);
        g_ptr_array_remove_fast(f->waits, w);
        g_mutex_unlock(&f->lock);
        return 0;
    }
    return -EINPROGRESS;
}

void
tree_file_unwait(TreeFile *f, Completion *comp)
{
    Completion *inner = NULL;

    g_mutex_lock(&f->lock);
    for (guint i = 0; f->waits && i < f->waits->len; i++) {
        TreeFileWait *w = g_ptr_array_index(f->waits, i);

        if (w->outer == comp) {
            inner = completion_ref(w->inner);
            g_ptr_array_remove_index_fast(f->waits, i);
            break;
        }
    }
    g_mutex_unlock(&f->lock);
    if (inner) {
        completion_cancel(inner);
        ev_reader_cancel(f->events, inner);
        completion_unref(inner);
    }
}

const TreeNode *
tree_file_node(TreeFile *f)
{
    return &f->node;
}

int
tree_file_flags(TreeFile *f)
{
    return f->flags;
}
