/* tree_file.c - open files: a snapshot file's content rendered once at open (shared bytes:
 * thousands of opens of a megabyte metrics.prom cost one copy), a console.log stream, or
 * a .domfs/events reader whose reads wait without a thread. */
#define G_LOG_DOMAIN "domfs-tree"

#include "tree_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "cons_log.h"
#include "dev_model.h"
#include "dom_note.h"
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
    GMutex lock;             /* guards content, snap, read_end, read_any and waits */
    GBytes *content;         /* FILE_CONTENT: rendered at open and at each read at 0 */
    DomInfo *snap;           /* the snapshot CONTENT was rendered from, if any */
    ConsHandle *console;     /* FILE_CONSOLE; NULL: no log (an empty file) */
    uint64_t read_end;       /* FILE_CONSOLE: the end of what reads returned */
    bool read_any;           /* FILE_CONSOLE: a read happened (the handle has its origin) */
    EvReader *events;        /* FILE_EVENTS */
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

/* F's content as it stands now (and the snapshot it comes from, if any). */
static int
tree_render_now(Tree *t, TreeFile *f, GBytes **content, DomInfo **snap)
{
    g_autoptr(GString) s = g_string_new(NULL);
    int ret;

    *snap = NULL;
    switch (f->attr.flavor) {
    case TF_METRICS:
        *content = metrics_get(t->metrics, t->hosts, t->n_hosts, f->node.conn);
        return 0;
    case TF_CONNECTION:
        tree_connection_text(t, f->node.conn, s);
        break;
    case TF_STATS:
        if ((ret = tree_render_stats(t, &f->node, s, NULL)) < 0)
            return ret;
        break;
    default:
        if ((ret = tree_snap(t, &f->node, snap)) < 0)
            return ret;
        if ((ret = tree_render(*snap, &f->node, s)) < 0) {
            g_clear_pointer(snap, dom_info_unref);
            return ret;
        }
        break;
    }
    *content = g_bytes_new(s->str, s->len);
    return 0;
}

static int
tree_open_content(Tree *t, TreeFile *f)
{
    return tree_render_now(t, f, &f->content, &f->snap);
}

/* MARK (NULL: a fresh open) is where a handle of another process stood (takeover). */
static int
tree_open_console(Tree *t, TreeFile *f, const ConsMark *mark)
{
    g_autoptr(DomInfo) d = NULL;
    ConsLog *log = NULL;
    int ret;

    if ((ret = tree_snap(t, &f->node, &d)) < 0 ||
        (ret = host_console(tree_host(t, f->node.conn), d, &log)) < 0)
        return ret;
    if (!log)
        return 0;
    return mark ? cons_open_marked(log, mark, &f->console) : cons_open(log, &f->console);
}

/* What a restored handle is given (tree_file_restore); NULL for a fresh open. */
typedef struct {
    const ConsMark *mark;    /* a console handle's position, or NULL */
    const char *notice;      /* an events reader's first line, or NULL */
} TreeFileRestore;

static int
tree_open_kind(Tree *t, TreeFile *f, const TreeFileRestore *rs, TreeOpenInfo *info)
{
    int ret = 0;

    *info = (TreeOpenInfo){ .direct_io = true };
    switch (f->attr.flavor) {
    case TF_CONSOLE:
        f->kind = FILE_CONSOLE;
        ret = tree_open_console(t, f, rs ? rs->mark : NULL);
        break;
    case TF_EVENTS:
        f->kind = FILE_EVENTS;
        f->events = rs && rs->notice ? ev_reader_new_notice(tree_events(t, f->node.conn),
                                                           rs->notice)
                                     : ev_reader_new(tree_events(t, f->node.conn));
        f->waits = g_ptr_array_new();
        info->nonseekable = true;
        break;
    default:
        f->kind = FILE_CONTENT;
        ret = tree_open_content(t, f);
        /* a snapshot file opened for reading is what the kernel may keep: the notifier
         * invalidates it on every change, and after every write to it (fs/) */
        info->keep_cache = f->attr.flavor == TF_SNAPSHOT &&
                           (f->flags & O_ACCMODE) == O_RDONLY;
        info->direct_io = !info->keep_cache;
        break;
    }
    return ret;
}

static int
tree_open_as(Tree *t, const TreeNode *n, int flags, uid_t uid, const TreeFileRestore *rs,
             TreeFile **out, TreeOpenInfo *info)
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
    if (!quota_take(QUOTA_OPENS, uid))
        return -EMFILE;
    f = g_atomic_rc_box_new0(TreeFile);
    g_mutex_init(&f->lock);
    f->tree = t;
    tree_node_copy(&f->node, n);
    f->attr = attr;
    f->flags = flags;
    f->uid = uid;
    if ((ret = tree_open_kind(t, f, rs, info)) < 0) {
        tree_file_unref(f);
        return ret;
    }
    *out = f;
    return 0;
}

int
tree_open(Tree *t, const TreeNode *n, int flags, const TreeCaller *who, TreeFile **out,
          TreeOpenInfo *info)
{
    return tree_open_as(t, n, flags, who->uid, NULL, out, info);
}

/* ---- reading ---- */

/* A read at offset 0 renders the file again (seq_file's rule: reading from the start
 * shows what is true now, so lseek(0) + read after poll() gives the new value); reads at
 * other offsets continue the same rendering, so one pass sees one value. */
static ssize_t
tree_file_read_content(TreeFile *f, uint64_t off, char *buf, size_t size)
{
    g_autoptr(GBytes) content = NULL;
    g_autoptr(DomInfo) snap = NULL;
    const char *bytes;
    gsize len;
    int ret;

    if (off == 0) {
        if ((ret = tree_render_now(f->tree, f, &content, &snap)) < 0)
            return ret;
        g_mutex_lock(&f->lock);
        g_bytes_unref(f->content);
        f->content = g_bytes_ref(content);
        dom_info_unref(f->snap);
        f->snap = g_steal_pointer(&snap);
        g_mutex_unlock(&f->lock);
    } else {
        g_mutex_lock(&f->lock);
        content = g_bytes_ref(f->content);
        g_mutex_unlock(&f->lock);
    }
    bytes = g_bytes_get_data(content, &len);
    if (off >= len)
        return 0;
    size = MIN((uint64_t)size, len - off);
    memcpy(buf, bytes + off, size);
    return (ssize_t)size;
}

static ssize_t
tree_file_read_console(TreeFile *f, uint64_t off, char *buf, size_t size)
{
    ssize_t n = f->console ? cons_read(f->console, off, buf, size) : 0;

    if (n >= 0) {
        g_mutex_lock(&f->lock);
        f->read_any = true;
        f->read_end = MAX(f->read_end, off + (uint64_t)n);
        g_mutex_unlock(&f->lock);
    }
    return n;
}

ssize_t
tree_file_read(TreeFile *f, uint64_t off, char *buf, size_t size, const char **data)
{
    size_t n;

    size = MIN(size, (size_t)DOMFS_READ_MAX);
    *data = buf;
    switch (f->kind) {
    case FILE_CONTENT:
        return tree_file_read_content(f, off, buf, size);
    case FILE_CONSOLE:
        return tree_file_read_console(f, off, buf, size);
    case FILE_EVENTS:
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
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&f->lock);

    return f->snap ? dom_info_ref(f->snap) : NULL;
}

TreeFlavor
tree_file_flavor(TreeFile *f)
{
    return f->attr.flavor;
}

/* Has the guest's console printed beyond what this handle read? */
static bool
tree_file_console_grew(TreeFile *f)
{
    uint64_t end;
    char c;

    g_mutex_lock(&f->lock);
    end = f->read_end;
    if (!f->read_any || !f->console) {
        g_mutex_unlock(&f->lock);
        return false;   /* a handle that never read has no origin yet: nothing to compare */
    }
    g_mutex_unlock(&f->lock);
    return cons_read(f->console, end, &c, 1) > 0;
}

bool
tree_file_changed(TreeFile *f)
{
    g_autoptr(GBytes) now = NULL;
    g_autoptr(DomInfo) snap = NULL;
    g_autoptr(GMutexLocker) locker = NULL;

    switch (f->kind) {
    case FILE_EVENTS:
        return ev_reader_ready(f->events);
    case FILE_CONSOLE:
        return tree_file_console_grew(f);
    case FILE_CONTENT:
        break;
    }
    if (tree_render_now(f->tree, f, &now, &snap) < 0)
        return true;   /* gone: what a reader has is stale */
    locker = g_mutex_locker_new(&f->lock);
    return now != f->content && !g_bytes_equal(now, f->content);
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

/* ---- takeover ---- */

/* The state tree_file_save writes: versioned, fixed-width (a newer binary reads it). */
#define TREE_FILE_STATE_V1 1u
#define TREE_FILE_STATE_CONSOLE 1u

typedef struct {
    uint32_t version;
    uint32_t kind;
    ConsMark mark;
} TreeFileState;

G_STATIC_ASSERT(sizeof(TreeFileState) <= TREE_FILE_STATE_MAX);

size_t
tree_file_save(TreeFile *f, void *buf, size_t size)
{
    TreeFileState st = { .version = TREE_FILE_STATE_V1, .kind = TREE_FILE_STATE_CONSOLE };

    if (f->kind != FILE_CONSOLE || !f->console || size < sizeof(st))
        return 0;
    cons_mark(f->console, &st.mark);
    memcpy(buf, &st, sizeof(st));
    return sizeof(st);
}

int
tree_file_restore(Tree *t, const TreeNode *n, int flags, uid_t uid, const void *state,
                  size_t len, const char *notice, TreeFile **out)
{
    TreeFileState st;
    TreeFileRestore rs = { .notice = notice };
    TreeOpenInfo info;

    if (len == sizeof(st)) {
        memcpy(&st, state, sizeof(st));
        if (st.version == TREE_FILE_STATE_V1 && st.kind == TREE_FILE_STATE_CONSOLE)
            rs.mark = &st.mark;
    }
    return tree_open_as(t, n, flags, uid, &rs, out, &info);
}

/* The name a write's record in `error` gives its file (as tree_write.c does). */
static char *
tree_file_write_name(const TreeNode *n)
{
    if (n->kind == TN_DEV_FILE)
        return g_strdup_printf("devices/%s/%s/%s", dev_kind_dir(n->devkind), n->dev,
                               dev_fields(n->devkind)[n->index]);
    return g_strdup(n->kind == TN_GUEST_FILE ? tree_guest_files[n->index].name : "?");
}

int
tree_file_refuse_resent(Tree *t, TreeFile *f, const char *why)
{
    g_autoptr(DomInfo) d = NULL;
    g_autofree char *file = tree_file_write_name(&f->node);
    g_autofree char *msg = g_strdup_printf("domfs restarted (%s) while this write was in "
                                           "flight: its outcome is unknown; read the file "
                                           "and write again if needed", why);
    Host *h = tree_host(t, f->node.conn);

    if (h && tree_snap(t, &f->node, &d) == 0)
        dom_note_error(host_cache(h), host_name(h), d->uuid, file, EIO, msg);
    return -EIO;
}
