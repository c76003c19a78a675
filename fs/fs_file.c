/* fs_file.c - open files: open, read, write, release (their handles: fs_handle.c; poll:
 * fs_poll.c).
 *
 * A read of .domfs/events with nothing to read and every write that needs libvirt are
 * answered later (fs_req.h): the handler hands a completion to the tree and returns. A
 * write's answer goes through the host's notifier (notify_after), so it reaches the
 * writer only once the kernel's caches show what it changed (or, failed, the new
 * `error`). A blocked events read is parked (takeover_park_current): an upgrade does not
 * wait for it, the next process gets it again from the kernel. A write the kernel sends
 * again after a takeover may have run already: it fails (EIO, and the guest's `error`
 * says so) instead of running twice. */
#define G_LOG_DOMAIN "domfs-fs"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "fs_handle.h"
#include "fs_inode.h"
#include "fs_takeover.h"

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
    DomInfo *snap;
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
    if (f->cached && (snap = tree_file_snap(f->tf))) {
        fs_recheck(ino, &f->tn, snap);
        tree_snap_unref(snap);
    }
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

    /* answered (or dropped at shutdown): the poll()ers its change concerns may read now */
    ino_write_end(a->f->ino);
    fs_poll_wake_ino(a->f->ino);
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
    FsWriteArgs *a = fs_pending_data(p);
    FsWriteAnswer *w = g_new0(FsWriteAnswer, 1);

    w->p = p;
    w->result = result;
    /* the written file's pages and size are forgotten before the writer's answer: readers
     * of it keep it in the page cache, and the write (O_TRUNC, direct I/O) moved its size */
    notify_inval_later(a->host, a->f->ino);
    notify_after(a->host, fs_write_reply, w);
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
    ino_write_begin(f->ino);
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

/* ---- release ---- */

void
fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FsFile *f = fs_file_take(fi);

    if (f)
        fs_poll_forget(f);
    fs_file_unref(f);
    fuse_reply_err(req, 0);
}
