/* fs.h - the FUSE front end's shared state: options, the tree, per-connection consoles and
 * event streams. */
#pragma once

#include <fuse_lowlevel.h>
#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "cons_log.h"
#include "ev_stream.h"
#include "tree.h"

typedef struct {
    char *name;        /* NULL: the connection's hostname */
    char *uri;         /* NULL: libvirt's default */
    char *log_root;    /* --log-root NAME=DIR, or -o log_root */
} FsConnOpt;

typedef struct {
    GArray *conns;             /* of FsConnOpt */
    guint64 console_max;
    char *migrate_uri;
    char *log_dirs;            /* colon-separated */
    char *log_root;
    uid_t uid;
    gid_t gid;
    mode_t umask;
    bool umask_set;
    bool read_only;
    bool allow_other;
} FsOpts;

typedef struct {
    FsOpts *opts;
    Tree *tree;
    struct fuse_session *se;
    ConsPolicy *policies;      /* one per connection */
    ConsRegistry **consoles;   /* one per connection */
    EvStream **events;         /* one per connection */
    EvStream *top_events;      /* several hosts: all connections' events */
    time_t mount_time;
} FsState;

extern FsState fs_state;

extern const struct fuse_lowlevel_ops fs_ops;

/* fs_notify.c: kernel cache invalidation after cache changes, then the events line. */
void notify_start(void);
void notify_stop(void);
/* Wait (at most TIMEOUT_US) until every change queued so far is invalidated in the
 * kernel: a write that changed a guest returns only then, so a read right after it never
 * meets a stale page cache. */
void notify_flush(gint64 timeout_us);
/* Invalidate INO's attributes and pages soon, from the notifier thread (never from a
 * request handler). */
void notify_inval_later(fuse_ino_t ino);
/* The cache listener of connection CONN (opaque = GINT_TO_POINTER(conn)). */
void notify_cache_change(DomInfo *old_info, DomInfo *new_info, const char *event,
                         void *opaque);
