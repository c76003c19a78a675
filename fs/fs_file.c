/* fs_file.c - open files: open, read, write, release, poll; and the handles of open
 * directories.
 *
 * A read of .domfs/events with nothing to read and every write that needs libvirt are
 * answered later (fs_req.h): the handler hands a completion to the tree and returns. A
 * write's answer goes through the host's notifier (notify_after), so it reaches the
 * writer only once the kernel's caches show what it changed (or, failed, the new
 * `error`).
 *
 * Open files by handle: the kernel has been seen (6.x, page-cache readahead) to send a
 * RELEASE while a READ of the same handle is still being answered; handles are therefore
 * reference-counted and looked up in a table, so a late READ finds nothing (EBADF)
 * instead of freed memory.
 *
 * Handles outlive the process (fs_takeover.h): a handle is a number, never reused, kept
 * in the store (fs_istore.h) with what reopening it takes: the node, the open flags, the
 * opener's uid, the guest it is bound to and the tree's own state of the file (where a
 * console.log handle stands), put before the reply that gives the handle to the kernel
 * and again before a read's reply whenever that state moved. The next process reopens
 * them all at start (fs_files_restore): a console.log handle goes on with the same bytes
 * at the same offsets; an events reader gets one line "<time> .domfs takeover crash" (or
 * "upgrade": lines of the gap may be missing; the files are what is true) and then the
 * new process's stream; any other file is rendered again. A handle whose guest went away
 * meanwhile answers ENOENT. A blocked events read is parked (takeover_park_current): an
 * upgrade does not wait for it, the next process gets it again from the kernel. A write
 * the kernel sends again after a takeover may have run already: it fails (EIO, and the
 * guest's `error` says so) instead of running twice.
 *
 * Locking: fs_files_lock guards the two tables; an FsFile's ph_lock and state_lock are
 * leaves, taken after it (ph_lock) or alone (state_lock). */
#define G_LOG_DOMAIN "domfs-fs"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>

#include "fs.h"
#include "fs_inode.h"
#include "fs_takeover.h"

/* A handle's record in the store (fixed-width: a newer binary reads it), followed by
 * state_len bytes of the tree's state of the file. */
#define FS_HREC_MAGIC 0x31486664u   /* "dfH1" */
#define FS_HREC_FILE 1u
#define FS_HREC_DIR 2u
/* A restored handle tries to reopen this often while its guest's XML loads. */
#define FS_RESTORE_TRIES 3

typedef struct {
    uint32_t magic;
    uint16_t kind;          /* FS_HREC_* */
    uint16_t state_len;
    uint64_t ino;
    int32_t flags;          /* open(2) flags */
    uint32_t uid;
    uint32_t cached;
    uint32_t reserved;
    char uuid[40];          /* the guest the handle is bound to ("" above guests) */
} FsHandleRec;

G_STATIC_ASSERT(sizeof(FsHandleRec) + TREE_FILE_STATE_MAX <= ISTORE_HANDLE_DATA_MAX);

typedef struct {
    uint64_t fh;
    fuse_ino_t ino;
    TreeFile *tf;         /* NULL: reopened after a takeover, its guest gone (ENOENT) */
    TreeNode tn;
    int flags;
    uid_t uid;
    bool cached;          /* opened with keep_cache: the kernel keeps what we return */
    GMutex ph_lock;       /* guards ph */
    struct fuse_pollhandle *ph;
    GMutex state_lock;    /* guards state, state_len: what the store holds */
    guint8 state[TREE_FILE_STATE_MAX];
    size_t state_len;
} FsFile;

typedef struct {
    uint64_t fh;
    fuse_ino_t ino;
    GPtrArray *list;      /* TreeDirent * */
} FsDir;

static GMutex fs_files_lock;     /* guards the two tables */
static GHashTable *fs_files;     /* &fh -> FsFile (the table's references) */
static GHashTable *fs_dirs;      /* &fh -> FsDir */
static guint64 fs_next_fh = 1;   /* atomic; above every handle an earlier process gave */

static void
fs_file_clear(gpointer p)
{
    FsFile *f = p;

    tree_file_unref(f->tf);
    tree_node_clear(&f->tn);
    if (f->ph)
        fuse_pollhandle_destroy(f->ph);
    g_mutex_clear(&f->ph_lock);
    g_mutex_clear(&f->state_lock);
}

static FsFile *
fs_file_ref(FsFile *f)
{
    return g_atomic_rc_box_acquire(f);
}

static void
fs_file_unref(FsFile *f)
{
    if (f)
        g_atomic_rc_box_release_full(f, fs_file_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(FsFile, fs_file_unref)

static void
fs_dir_free(gpointer p)
{
    FsDir *d = p;

    g_ptr_array_unref(d->list);
    g_free(d);
}

static uint64_t
fs_fh_new(void)
{
    return __atomic_fetch_add(&fs_next_fh, 1, __ATOMIC_SEQ_CST);
}

/* ---- the store ---- */

static void
fs_handle_put(uint64_t fh, const FsHandleRec *rec, const void *state, size_t len)
{
    guint8 buf[sizeof(FsHandleRec) + TREE_FILE_STATE_MAX];
    int ret;

    if (!fs_state.store)
        return;
    len = MIN(len, (size_t)TREE_FILE_STATE_MAX);
    memcpy(buf, rec, sizeof(*rec));
    ((FsHandleRec *)buf)->state_len = (uint16_t)len;
    if (len)
        memcpy(buf + sizeof(*rec), state, len);
    if ((ret = istore_handle_put(fs_state.store, fh, buf, sizeof(*rec) + len)) < 0)
        g_debug("handle store: %s", g_strerror(-ret));
}

static void
fs_handle_drop(uint64_t fh)
{
    if (fs_state.store)
        istore_handle_drop(fs_state.store, fh);
}

/* Put F's record with its current state, if that state changed (or FORCE). Before the
 * reply that depends on it. */
static void
fs_file_store(FsFile *f, bool force)
{
    guint8 state[TREE_FILE_STATE_MAX];
    size_t len = f->tf ? tree_file_save(f->tf, state, sizeof(state)) : 0;
    FsHandleRec rec = {
        .magic = FS_HREC_MAGIC, .kind = FS_HREC_FILE, .ino = f->ino, .flags = f->flags,
        .uid = (uint32_t)f->uid, .cached = f->cached,
    };
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&f->state_lock);

    if (!force && len == f->state_len && memcmp(state, f->state, len) == 0)
        return;
    memcpy(f->state, state, len);
    f->state_len = len;
    g_strlcpy(rec.uuid, f->tn.uuid, sizeof(rec.uuid));
    fs_handle_put(f->fh, &rec, state, len);
}

/* ---- the tables ---- */

static FsFile *
fs_file_new(uint64_t fh, fuse_ino_t ino, int flags, uid_t uid)
{
    FsFile *f = g_atomic_rc_box_new0(FsFile);

    g_mutex_init(&f->ph_lock);
    g_mutex_init(&f->state_lock);
    f->fh = fh;
    f->ino = ino;
    f->flags = flags;
    f->uid = uid;
    return f;
}

static void
fs_file_insert(FsFile *f)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);

    if (!fs_files)
        fs_files = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL,
                                         (GDestroyNotify)fs_file_unref);
    g_hash_table_insert(fs_files, &f->fh, f);
}

/* A new reference to the open file of FI, or NULL when it was released. */
static FsFile *
fs_file_get(struct fuse_file_info *fi)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);
    FsFile *f = fs_files ? g_hash_table_lookup(fs_files, &fi->fh) : NULL;

    return f ? fs_file_ref(f) : NULL;
}

/* Remove FI's file from the table and the store; returns the table's reference. */
static FsFile *
fs_file_take(struct fuse_file_info *fi)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);
    gpointer f = NULL;

    if (fs_files && g_hash_table_steal_extended(fs_files, &fi->fh, NULL, &f))
        fs_handle_drop(fi->fh);
    return f;
}

void
fs_files_free(void)
{
    g_mutex_lock(&fs_files_lock);
    g_clear_pointer(&fs_files, g_hash_table_destroy);
    g_clear_pointer(&fs_dirs, g_hash_table_destroy);
    g_mutex_unlock(&fs_files_lock);
}

static void
fs_dir_insert(FsDir *d)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);

    if (!fs_dirs)
        fs_dirs = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, fs_dir_free);
    g_hash_table_insert(fs_dirs, &d->fh, d);
}

uint64_t
fs_dir_publish(fuse_ino_t ino, GPtrArray *list)
{
    FsDir *d = g_new0(FsDir, 1);
    FsHandleRec rec = { .magic = FS_HREC_MAGIC, .kind = FS_HREC_DIR, .ino = ino };

    d->fh = fs_fh_new();
    d->ino = ino;
    d->list = list;
    fs_handle_put(d->fh, &rec, NULL, 0);
    fs_dir_insert(d);
    return d->fh;
}

GPtrArray *
fs_dir_get(uint64_t fh)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);
    FsDir *d = fs_dirs ? g_hash_table_lookup(fs_dirs, &fh) : NULL;

    return d ? g_ptr_array_ref(d->list) : NULL;
}

void
fs_dir_release(uint64_t fh)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&fs_files_lock);

    if (fs_dirs && g_hash_table_remove(fs_dirs, &fh))
        fs_handle_drop(fh);
}

/* ---- open ---- */

typedef struct {
    fuse_ino_t ino;
    struct fuse_file_info fi;
    TreeCaller who;
} FsOpenArgs;

/* The file is open in the tree: a handle for the kernel. */
static void
fs_open_reply(fuse_req_t req, FsOpenArgs *a, const TreeNode *tn, TreeFile *tf,
              const TreeOpenInfo *info)
{
    FsFile *f = fs_file_new(fs_fh_new(), a->ino, a->fi.flags, a->who.uid);

    f->tf = tf;
    tree_node_copy(&f->tn, tn);
    f->cached = info->keep_cache;
    a->fi.keep_cache = info->keep_cache;
    a->fi.direct_io = info->direct_io;
    a->fi.nonseekable = info->nonseekable;
    a->fi.fh = f->fh;
    fs_file_store(f, true);
    fs_file_insert(f);
    if (fuse_reply_open(req, &a->fi) != 0)
        fs_file_unref(fs_file_take(&a->fi));
}

static void
fs_open_run(fuse_req_t req, void *args, FsPending *p)
{
    FsOpenArgs *a = args;
    FsNodeRef r = { 0 };
    TreeFile *tf = NULL;
    TreeOpenInfo info = { 0 };
    int ret;

    if ((a->fi.flags & O_ACCMODE) != O_RDONLY && fs_state.modes.read_only) {
        fs_reply_err(req, p, EROFS);
        return;
    }
    if ((ret = ino_get(a->ino, &r)) == 0)
        ret = tree_open(fs_tree(), &r.tn, a->fi.flags, &a->who, &tf, &info);
    if (ret == -EINPROGRESS) {
        fs_defer(req, p, &r.tn, fs_open_run, p ? NULL : g_memdup2(a, sizeof(*a)), g_free);
    } else if (ret < 0) {
        fs_reply_err(req, p, -ret);
    } else {
        fs_open_reply(req, a, &r.tn, tf, &info);
        fs_replied(p);
    }
    ino_ref_clear(&r);
}

void
fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    FsOpenArgs a = { ino, *fi, { ctx->uid, ctx->gid, ctx->pid, NULL, 0 } };

    fs_open_run(req, &a, NULL);
}

/* ---- read ---- */

typedef struct {
    FsFile *f;
    size_t size;
    bool nonblock;
} FsReadArgs;

static void
fs_read_args_free(void *data)
{
    FsReadArgs *a = data;

    fs_file_unref(a->f);
    g_free(a);
}

static void fs_read_events(fuse_req_t req, FsReadArgs *a, FsPending *p);

static void
fs_read_retry(FsPending *p, int result)
{
    if (result < 0)
        fs_reply_err(fs_pending_req(p), p, result == -ESHUTDOWN ? EIO : -result);
    else
        fs_read_events(fs_pending_req(p), fs_pending_data(p), p);
}

static bool
fs_read_interrupted(FsPending *p, Completion *c)
{
    FsReadArgs *a = fs_pending_data(p);

    tree_file_unwait(a->f->tf, c);
    return false;
}

/* Like /dev/kmsg: wait until a line comes, unless O_NONBLOCK (EAGAIN). */
static void
fs_read_events(fuse_req_t req, FsReadArgs *a, FsPending *p)
{
    g_autofree char *buf = g_malloc(MIN(a->size, (size_t)FS_READ_MAX));
    const char *data = NULL;
    ssize_t n;
    int ret;

    while ((n = tree_file_read(a->f->tf, 0, buf, MIN(a->size, (size_t)FS_READ_MAX),
                               &data)) == -EAGAIN) {
        g_autoptr(Completion) c = NULL;

        if (a->nonblock) {
            fs_reply_err(req, p, EAGAIN);
            return;
        }
        if (!p) {
            FsReadArgs *copy = g_memdup2(a, sizeof(*a));

            /* in the handler's thread, before a line can answer it: a handover does not
             * wait for this request; the next process gets it again */
            takeover_park_current();
            fs_file_ref(copy->f);
            p = fs_pending_new(req, fs_read_retry, fs_read_interrupted, copy,
                               fs_read_args_free);
            a = copy;
        }
        c = fs_pending_arm(p);
        ret = tree_file_wait(a->f->tf, c);
        if (ret == -EINPROGRESS || !fs_pending_take(p))
            return;
        if (ret < 0) {
            fs_reply_err(req, p, -ret);   /* EAGAIN: the user holds too many waiting reads */
            return;
        }
    }
    if (n < 0) {
        fs_reply_err(req, p, (int)-n);
        return;
    }
    fuse_reply_buf(req, data, (size_t)n);
    fs_replied(p);
}

void
fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    g_autoptr(FsFile) f = fs_file_get(fi);
    g_autofree char *buf = NULL;
    const char *data = NULL;
    ssize_t n;

    if (!f || !f->tf) {
        fuse_reply_err(req, f ? ENOENT : EBADF);
        return;
    }
    if (tree_file_is_events(f->tf)) {
        FsReadArgs a = { f, size, (fi->flags & O_NONBLOCK) != 0 };

        fs_read_events(req, &a, NULL);
        return;
    }
    size = MIN(size, (size_t)FS_READ_MAX);
    buf = g_malloc(size);
    n = tree_file_read(f->tf, (uint64_t)off, buf, size, &data);
    /* where a console.log handle stands, for the next process, before the kernel moves */
    fs_file_store(f, false);
    if (n < 0)
        fuse_reply_err(req, (int)-n);
    else
        fuse_reply_buf(req, data, (size_t)n);
    /* a page-cached file read from an old snapshot must not stay in the cache */
    if (f->cached && tree_file_snap(f->tf))
        fs_recheck(ino, &f->tn, tree_file_snap(f->tf));
}

/* ---- write ---- */

typedef struct {
    FsFile *f;
    size_t size;
    int host;
    TreeWrite *op;          /* set once tree_write took the completion (atomic) */
    gint interrupted;       /* an interrupt came before op was set (atomic) */
} FsWriteArgs;

static void
fs_write_args_free(void *data)
{
    FsWriteArgs *a = data;

    fs_file_unref(a->f);
    tree_write_unref(g_atomic_pointer_get(&a->op));
    g_free(a);
}

typedef struct {
    FsPending *p;
    int result;
} FsWriteAnswer;

/* On the host's notifier thread, after what the write changed reached the kernel. */
static void
fs_write_reply(void *data)
{
    FsWriteAnswer *w = data;
    FsWriteArgs *a = fs_pending_data(w->p);
    fuse_req_t req = fs_pending_req(w->p);

    if (w->result < 0)
        fuse_reply_err(req, -w->result);
    else
        fuse_reply_write(req, a->size);
    tree_write_unref(g_atomic_pointer_exchange(&a->op, NULL));
    fs_pending_done(w->p);
    g_free(w);
}

/* This thread owns the reply: send it once the notifier is past the write's changes. */
static void
fs_write_answer(FsPending *p, int result)
{
    FsWriteAnswer *w = g_new0(FsWriteAnswer, 1);

    w->p = p;
    w->result = result;
    notify_after(((FsWriteArgs *)fs_pending_data(p))->host, fs_write_reply, w);
}

static bool
fs_write_interrupted(FsPending *p, Completion *c)
{
    FsWriteArgs *a = fs_pending_data(p);
    TreeWrite *op = g_atomic_pointer_get(&a->op);

    if (!op) {
        /* tree_write has not returned yet: it is told right after, and answers soon */
        g_atomic_int_set(&a->interrupted, 1);
        return true;
    }
    return tree_write_interrupt(op, c);
}

void
fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
         struct fuse_file_info *fi)
{
    FsFile *f = fs_file_get(fi);
    gid_t groups[FS_CALLER_GROUPS];
    g_autoptr(Completion) c = NULL;
    TreeWrite *op = NULL;
    TreeCaller who;
    FsWriteArgs *a;
    FsPending *p;
    int ret;

    if (!f || !f->tf) {
        fuse_reply_err(req, f ? ENOENT : EBADF);
        fs_file_unref(f);
        return;
    }
    fs_caller(req, &who, groups);
    a = g_new0(FsWriteArgs, 1);
    a->f = f;
    a->size = size;
    a->host = f->tn.conn;
    p = fs_pending_new(req, fs_write_answer, fs_write_interrupted, a, fs_write_args_free);
    if (takeover_current_resent()) {
        /* an earlier process read it and may have run it: never twice */
        fs_write_answer(p, tree_file_refuse_resent(fs_tree(), f->tf, fs_state.takeover
                                                   ? fs_state.takeover : "a restart"));
        return;
    }
    c = fs_pending_arm(p);
    ret = tree_write(fs_tree(), f->tf, buf, size, (uint64_t)off, &who, c, &op);
    if (ret == -EINPROGRESS) {
        g_atomic_pointer_set(&a->op, op);
        if (g_atomic_int_get(&a->interrupted) && !tree_write_interrupt(op, c))
            tree_complete_after(c, 0, -EINTR);
        return;
    }
    if (fs_pending_take(p))
        fs_write_answer(p, ret);
}

/* ---- release, poll ---- */

void
fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    fs_file_unref(fs_file_take(fi));
    fuse_reply_err(req, 0);
}

/* Poll handles of open .domfs/events files: woken after every line (any stream). */
void
fs_events_notify(void *opaque)
{
    GHashTableIter it;
    gpointer v;

    g_mutex_lock(&fs_files_lock);
    if (fs_files) {
        g_hash_table_iter_init(&it, fs_files);
        while (g_hash_table_iter_next(&it, NULL, &v)) {
            FsFile *f = v;

            g_mutex_lock(&f->ph_lock);
            if (f->ph && f->tf && tree_file_readable(f->tf)) {
                fuse_lowlevel_notify_poll(f->ph);
                fuse_pollhandle_destroy(f->ph);
                f->ph = NULL;
            }
            g_mutex_unlock(&f->ph_lock);
        }
    }
    g_mutex_unlock(&fs_files_lock);
}

void
fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
        struct fuse_pollhandle *ph)
{
    g_autoptr(FsFile) f = fs_file_get(fi);
    unsigned revents = 0;

    if (!f || !f->tf || !tree_file_is_events(f->tf)) {
        if (ph)
            fuse_pollhandle_destroy(ph);
        fuse_reply_poll(req, POLLIN);
        return;
    }
    g_mutex_lock(&f->ph_lock);
    if (ph) {
        if (f->ph)
            fuse_pollhandle_destroy(f->ph);
        f->ph = ph;
    }
    if (tree_file_readable(f->tf))
        revents |= POLLIN;
    g_mutex_unlock(&f->ph_lock);
    fuse_reply_poll(req, revents);
}

/* ---- handles of an earlier process ---- */

typedef struct {
    uint64_t fh;
    FsHandleRec rec;
    guint8 state[TREE_FILE_STATE_MAX];
    size_t state_len;
} FsHandleBlob;

static void
fs_handle_collect(uint64_t fh, const void *data, size_t len, void *opaque)
{
    FsHandleBlob b = { .fh = fh };

    if (fh == FS_FH_PROCESS || len < sizeof(b.rec))
        return;
    memcpy(&b.rec, data, sizeof(b.rec));
    if (b.rec.magic != FS_HREC_MAGIC || len != sizeof(b.rec) + b.rec.state_len ||
        b.rec.state_len > TREE_FILE_STATE_MAX)
        return;
    memcpy(b.state, (const guint8 *)data + sizeof(b.rec), b.rec.state_len);
    b.state_len = b.rec.state_len;
    g_array_append_val((GArray *)opaque, b);
}

/* The node a handle was opened on, bound to its guest; FALSE when it is gone. */
static bool
fs_handle_node(const FsHandleBlob *b, TreeNode *tn)
{
    FsNodeRef r = { 0 };
    bool ok = ino_get((fuse_ino_t)b->rec.ino, &r) == 0 && !r.dead;

    if (ok) {
        tree_node_copy(tn, &r.tn);
        g_strlcpy(tn->uuid, b->rec.uuid, sizeof(tn->uuid));
    }
    ino_ref_clear(&r);
    return ok;
}

static void
fs_file_restore_one(const FsHandleBlob *b, const char *notice, guint *gone)
{
    FsFile *f = fs_file_new(b->fh, (fuse_ino_t)b->rec.ino, b->rec.flags, b->rec.uid);
    int ret = -ENOENT;

    f->cached = b->rec.cached != 0;
    memcpy(f->state, b->state, b->state_len);
    f->state_len = b->state_len;
    if (fs_handle_node(b, &f->tn)) {
        for (int i = 0; i < FS_RESTORE_TRIES; i++) {
            ret = tree_file_restore(fs_tree(), &f->tn, f->flags, f->uid, b->state,
                                    b->state_len, notice, &f->tf);
            if (ret != -EINPROGRESS || ino_wait_ready(fs_tree(), &f->tn) < 0)
                break;
        }
    }
    if (ret < 0) {
        f->tf = NULL;
        (*gone)++;
    }
    fs_file_insert(f);
}

static void
fs_dir_restore_one(const FsHandleBlob *b, guint *gone)
{
    FsDir *d = g_new0(FsDir, 1);
    TreeNode tn = { 0 };
    int ret = -ENOENT;

    d->fh = b->fh;
    d->ino = (fuse_ino_t)b->rec.ino;
    if (fs_handle_node(b, &tn)) {
        for (int i = 0; i < FS_RESTORE_TRIES; i++) {
            ret = tree_list(fs_tree(), &tn, &d->list);
            if (ret != -EINPROGRESS || ino_wait_ready(fs_tree(), &tn) < 0)
                break;
        }
    }
    if (ret < 0) {
        d->list = g_ptr_array_new();
        (*gone)++;
    }
    tree_node_clear(&tn);
    fs_dir_insert(d);
}

void
fs_files_restore(Istore *st)
{
    g_autoptr(GArray) blobs = g_array_new(FALSE, FALSE, sizeof(FsHandleBlob));
    g_autofree char *notice = g_strdup_printf(".domfs takeover %s",
                                              fs_state.takeover ? fs_state.takeover : "");
    guint gone = 0;

    istore_foreach_handle(st, fs_handle_collect, blobs);
    for (guint i = 0; i < blobs->len; i++) {
        const FsHandleBlob *b = &g_array_index(blobs, FsHandleBlob, i);

        if (b->rec.kind == FS_HREC_DIR)
            fs_dir_restore_one(b, &gone);
        else
            fs_file_restore_one(b, notice, &gone);
    }
    __atomic_store_n(&fs_next_fh, MAX(istore_next_fh(st), (uint64_t)1), __ATOMIC_SEQ_CST);
    if (blobs->len)
        g_message("taken over %u open file(s) and director(ies) (%u of them gone)",
                  blobs->len, gone);
}
