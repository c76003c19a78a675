/* fs.h - the FUSE front end's shared state and the helpers its files share: fs_attr.c
 * (modes, timeouts, stat), fs_entry.c (names and attributes), fs_file.c (open files),
 * fs_notify.c (the kernel's caches), fs_req.c (requests answered later). */
#pragma once

#include <fuse_lowlevel.h>
#include <glib.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs_istore.h"
#include "tree.h"

/* Owner and modes of every file (-o uid=, gid=, umask=, ro). */
typedef struct {
    uid_t uid;
    gid_t gid;
    mode_t umask;
    bool read_only;
} FsModes;

typedef struct {
    FsModes modes;
    Tree *tree;                /* set once the tree is up (read with fs_tree()) */
    struct fuse_session *se;   /* set once the session exists */
    time_t mount_time;
    Istore *store;             /* inodes and handles for the next process (NULL: none) */
    const char *takeover;      /* "crash" or "upgrade": how this process took over the
                                * mount, NULL when it mounted it */
} FsState;

extern FsState fs_state;
extern const struct fuse_lowlevel_ops fs_ops;

/* The tree, or NULL during start-up (the notifier runs before the tree is built). */
Tree *fs_tree(void);

/* ---- fs_attr.c ---- */
/* Entry and attribute timeout of what the notifier invalidates on change. */
#define FS_TIMEOUT_LONG 86400.0
/* Largest read reply (the tree caps it there too). */
#define FS_READ_MAX (1024 * 1024)
/* FUSE worker threads: handlers never sleep (fs_req.h), so these bound CPU parallelism
 * only. */
#define FS_MAX_THREADS 64
#define FS_IDLE_THREADS 8
/* Most groups a caller's credentials carry into a media check. */
#define FS_CALLER_GROUPS 64

mode_t fs_mode(const TreeAttr *attr);
double fs_attr_timeout(const TreeAttr *attr);
/* Fill ST for node TN; *USED (may be NULL) gets the snapshot a size was rendered from.
 * -EINPROGRESS: see tree_child. */
int fs_fill_stat(fuse_ino_t ino, const TreeNode *tn, const TreeAttr *attr, struct stat *st,
                 DomInfo **used);
/* After a reply built from snapshot USED: if the guest changed meanwhile, the notifier may
 * already have invalidated before our (old) reply reached the kernel, which would then
 * keep the old value until the next change; so invalidate once more. */
void fs_recheck(fuse_ino_t ino, const TreeNode *tn, DomInfo *used);
/* Who sends REQ; GROUPS (FS_CALLER_GROUPS long) receives the supplementary groups. */
void fs_caller(fuse_req_t req, TreeCaller *who, gid_t *groups);

/* ---- fs_file.c: open files and directories ---- */
/* Open files and directories are numbered (never reused) and kept in the store with what
 * reopening them takes (node, flags, uid, the tree's state of the file), so that the next
 * process serves the handles the kernel holds. Handle 0 of the store is main.c's record of
 * the serving process, never a file. */
#define FS_FH_PROCESS 0
/* Reopen every handle the store holds (start-up of a process that took over). */
void fs_files_restore(Istore *st);
/* A directory listing opened (returns its handle), read (a reference; NULL: no such
 * handle), released. */
uint64_t fs_dir_publish(fuse_ino_t ino, GPtrArray *list);
GPtrArray *fs_dir_get(uint64_t fh);
void fs_dir_release(uint64_t fh);
void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi);
void fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
              struct fuse_file_info *fi);
void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
             struct fuse_pollhandle *ph);
/* Free what is left at exit. */
void fs_files_free(void);

/* ---- fs_notify.c ---- */
/* One notifier thread per host: changes are invalidated in the kernel, then their event
 * lines published, in order. */
void notify_start(guint n_hosts);
void notify_stop(void);
/* The tree's listener (TreeListener): queues the change. */
void notify_change(TreeChange *ch, void *opaque);
/* Call FN(DATA) on HOST's notifier thread once everything queued for it so far is done:
 * a write replies only then, so a read right after it never meets a stale page cache. */
void notify_after(int host, void (*fn)(void *data), void *data);
/* Invalidate INO's attributes and pages soon, from HOST's notifier thread (never from a
 * request handler): cache hygiene, not a change (poll()ers are not woken). */
void notify_inval_later(int host, fuse_ino_t ino);
/* After a takeover, once serving: refresh whatever the kernel holds (see fs_notify.c). */
void notify_takeover_sweep(void);
/* ---- fs_poll.c: poll() on every file, with sysfs's semantics ---- */
/* After every events line (tree_events_set_notify): events readers, and the files an
 * event changes without an inode invalidation (.domfs/connection, metrics.prom). */
void fs_events_notify(void *opaque);
/* After every statistics fetch of HOST (tree_stats_set_notify). */
void fs_poll_stats_notify(int host, void *opaque);
/* INO was invalidated (its content changed): wake its poll()ers (notifier thread). */
void fs_poll_wake_ino(fuse_ino_t ino);
/* Forget every poll handle (shutdown). */
void fs_poll_free(void);

/* ---- fs_defer.c ---- */
#include "fs_req.h"

/* An operation that can run again: RUN(req, ARGS, P) with P NULL the first time, the
 * FsPending once it waited (then RUN must fs_pending_done(P) after replying). */
typedef void (*FsRunFn)(fuse_req_t req, void *args, FsPending *p);
/* The tree said -EINPROGRESS for node N (a guest's XML still loading): wait for it,
 * bounded by -o timeout (then ETIMEDOUT), and run again. ARGS (freed with FREE_ARGS) are
 * taken over when P is NULL. */
void fs_defer(fuse_req_t req, FsPending *p, const TreeNode *n, FsRunFn run, void *args,
              GDestroyNotify free_args);
/* Reply an error to a request that may have waited (P may be NULL). */
void fs_reply_err(fuse_req_t req, FsPending *p, int err);
/* After any other reply to such a request. */
void fs_replied(FsPending *p);
