/* tree.h - the file tree domfs shows, and everything the FUSE front end may ask of the
 * core: which names exist under a directory, whether a node is a file or a directory, what
 * a file holds, what a write to it does, and when a change must reach the kernel's caches.
 * fs/ includes this header and nothing else of lib/.
 *
 * The request model: nothing here sleeps on libvirt, on a guest or on another request.
 * A call either answers at once or returns -EINPROGRESS after arranging for a Completion
 * the caller gave to be completed later, from another thread: a read of .domfs/events
 * with nothing to read (tree_file_wait), a write that needs libvirt (tree_write), a
 * lookup of a guest whose XML is still loading (tree_when_ready). */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "completion.h"

/* ---- configuration (main.c fills it from the command line) ---- */

typedef struct {
    char *name;                 /* -c NAME=URI, or NULL: the libvirt hostname */
    char *uri;                  /* NULL: libvirt's default, as virsh */
    char *log_root;             /* --log-root NAME=DIR or -o log_root, or NULL */
} TreeHostConfig;

typedef struct {
    TreeHostConfig *hosts;
    guint n_hosts;
    guint64 console_max;        /* bytes */
    char *migrate_uri;          /* template, %h = host */
    char **log_dirs;            /* NULL-terminated */
    char **log_roots;           /* "NAME=DIR" naming no -c NAME: matched to hostnames */
    char **media_dirs;          /* NULL-terminated */
    guint timeout_s;            /* writes waiting for libvirt longer fail ETIMEDOUT */
    guint keepalive_interval;
    guint keepalive_count;
    guint stats_interval;       /* 0: no statistics */
    guint agent_interval;       /* 0: no guest-agent data */
    uid_t owner;                /* may write any media path; others only media_dirs */
} TreeConfig;

/* ---- nodes ---- */

typedef enum {
    TN_TOP,         /* the mount root of a several-host tree */
    TN_CONNROOT,    /* a host's tree: the mount root, or a host directory */
    TN_DOMFS,       /* .domfs/ */
    TN_DOMFS_FILE,
    TN_GUEST,
    TN_GUEST_FILE,
    TN_DEVICES,
    TN_DEVKIND,
    TN_DEV,
    TN_DEV_FILE,
    TN_AGENT,       /* <guest>/agent/ */
    TN_AGENT_FILE,
} TreeKind;

typedef enum {
    TF_SNAPSHOT,    /* rendered from the guest's snapshot; page-cacheable */
    TF_STATS,       /* rendered from the host's statistics; changes on every fetch */
    TF_CONSOLE,     /* console.log: a stream */
    TF_CONNECTION,  /* .domfs/connection */
    TF_EVENTS,      /* .domfs/events: an endless stream */
    TF_METRICS,     /* .domfs/metrics.prom */
} TreeFlavor;

typedef struct {
    TreeKind kind;
    int conn;          /* host index; -1 for TN_TOP and the top's .domfs */
    int index;         /* file index within its directory kind; DevKind for TN_DEVKIND */
    int devkind;       /* for TN_DEV, TN_DEV_FILE */
    char *guest;       /* guest directory name, for guest-level nodes */
    char *dev;         /* device directory name, for TN_DEV, TN_DEV_FILE */
    char uuid[40];     /* the guest's uuid when the node was resolved ("" above guests):
                        * a node names one guest for life, never a namesake */
} TreeNode;

typedef struct {
    bool is_dir;
    bool writable;     /* the tree accepts writes here (mode bits are fs/'s business) */
    bool blocking;     /* a write blocks for long (migrate) and can be interrupted */
    TreeFlavor flavor;
    gint64 mtime;      /* real time (µs) the content was last confirmed; 0: unknown */
} TreeAttr;

typedef struct {
    char *name;
    bool is_dir;
} TreeDirent;

typedef struct Tree Tree;
typedef struct DomInfo DomInfo;   /* an immutable guest snapshot (reference-counted) */

/* ---- changes: what the kernel's caches must forget, then the event line ---- */

typedef struct {
    guint host;
    DomInfo *old_info;     /* NULL: a new guest */
    DomInfo *new_info;     /* NULL: the guest is gone */
    char *event;           /* the event line's tail, or NULL */
    char *dirname;         /* the directory the line names */
} TreeChange;

/* Called for every change, in order per host, from whichever thread made it; it must only
 * queue (a reference to) the change: see tree_change_ref. The listener invalidates what
 * the change touched, then calls tree_publish so the event line becomes readable. */
typedef void (*TreeListener)(TreeChange *ch, void *opaque);

TreeChange *tree_change_ref(TreeChange *ch);
void tree_change_unref(TreeChange *ch);

/* ---- the tree ---- */

/* Open every host (in parallel) and load its guests. With one host, an unreachable URI is
 * an error; with several, the tree comes up when one host did, and the others appear as
 * reconnecting. NULL with *error. */
Tree *tree_new(const TreeConfig *cfg, TreeListener fn, void *opaque, GError **error);
void tree_free(Tree *t);
guint tree_n_conns(Tree *t);
bool tree_is_multi(Tree *t);
/* The directory name of host INDEX (several-host layout). */
const char *tree_host_name(Tree *t, int index);
/* The event line of a change, once its invalidation is done. */
void tree_publish(Tree *t, const TreeChange *ch);

/* ---- resolving (never waits; -EINPROGRESS: see tree_when_ready) ---- */

void tree_node_clear(TreeNode *n);
void tree_node_copy(TreeNode *dst, const TreeNode *src);
void tree_root(Tree *t, TreeNode *out);
/* Child NAME of PARENT as the tree stands now: 0, -ENOENT, -ENOTDIR, or -EINPROGRESS when
 * the answer needs the guest's XML, which is still loading. */
int tree_child(Tree *t, const TreeNode *parent, const char *name, TreeNode *out,
               TreeAttr *attr);
/* The node's attributes now; -ENOENT when it is gone; -EINPROGRESS (see tree_child). */
int tree_stat(Tree *t, const TreeNode *n, TreeAttr *attr);
/* Entries of a directory (array of TreeDirent *, owned), without "." and "..". */
int tree_list(Tree *t, const TreeNode *n, GPtrArray **out);
/* After -EINPROGRESS: COMP (a reference is taken) is completed with 0 once N's guest is
 * loaded (or gone: ask again), or with -ETIMEDOUT after -o timeout. UID's QUOTA_WAITS is
 * held meanwhile; -EAGAIN when UID holds its quota. 0 when it is ready already. */
int tree_when_ready(Tree *t, const TreeNode *n, uid_t uid, Completion *comp);
/* Size of a file as a read would return it now. */
int tree_size(Tree *t, const TreeNode *n, const TreeAttr *attr, uint64_t *size);

/* ---- contents from snapshots (the notifier compares old and new) ---- */

/* The current snapshot of N's guest (a new reference), NULL when gone or not loaded. */
DomInfo *tree_guest_snap(Tree *t, const TreeNode *n);
DomInfo *tree_snap_ref(DomInfo *d);
void tree_snap_unref(DomInfo *d);
const char *tree_snap_dirname(const DomInfo *d);
const char *tree_snap_uuid(const DomInfo *d);
/* Real time (µs) libvirt last confirmed the snapshot's facts (the files' mtime). */
gint64 tree_snap_confirmed(const DomInfo *d);
/* Content of a TF_SNAPSHOT file in snapshot D (which need not be the current one).
 * -ENOENT when the node does not exist in D. */
int tree_render(const DomInfo *d, const TreeNode *n, GString *out);
/* Listing of a guest-level directory in snapshot D. */
int tree_list_guest(const DomInfo *d, const TreeNode *n, GPtrArray **out);
/* Does a guest-level directory of kind KIND list what the snapshot's devices hold (and so
 * change with them)? */
bool tree_kind_is_dir(TreeKind kind);
/* Is a node of KIND a guest-level file whose content tree_render gives (so a change of
 * snapshot can change it)? */
bool tree_kind_has_content(TreeKind kind);

/* ---- open files ---- */

typedef struct TreeFile TreeFile;

/* Who asks: the FUSE request's credentials (groups for the media check). */
typedef struct {
    uid_t uid;
    gid_t gid;
    pid_t pid;
    const gid_t *groups;
    int n_groups;
} TreeCaller;

typedef struct {
    bool keep_cache;   /* the kernel may keep what reads return (invalidated on change) */
    bool direct_io;    /* every read comes here */
    bool nonseekable;
} TreeOpenInfo;

/* Open N for FLAGS (O_ACCMODE, O_APPEND, O_NONBLOCK). A snapshot file's content is fixed at
 * open: reads at any offset of one open file see one value, like sysfs's seq_file.
 * -EMFILE when the caller's uid holds DOMFS_OPENS_PER_UID open files already. */
int tree_open(Tree *t, const TreeNode *n, int flags, const TreeCaller *who, TreeFile **out,
              TreeOpenInfo *info);
TreeFile *tree_file_ref(TreeFile *f);
void tree_file_unref(TreeFile *f);
/* Up to SIZE bytes at OFF: the length, with *DATA pointing at them (into the file's own
 * content, or into BUF). -EAGAIN: an events file has nothing to read now. */
ssize_t tree_file_read(TreeFile *f, uint64_t off, char *buf, size_t size, const char **data);
/* An events file: 0 when something is readable now (read again); else COMP (a reference
 * is taken) is completed when a line comes, and -EINPROGRESS is returned. -EAGAIN when
 * the caller's uid holds its QUOTA_WAITS already. */
int tree_file_wait(TreeFile *f, Completion *comp);
void tree_file_unwait(TreeFile *f, Completion *comp);
/* Whether a read would return something now (poll). */
bool tree_file_readable(TreeFile *f);
/* The snapshot a content file was last rendered from (a new reference; NULL when not
 * from a snapshot). */
DomInfo *tree_file_snap(TreeFile *f);
TreeFlavor tree_file_flavor(TreeFile *f);
/* poll()'s question, sysfs's semantics: does the file hold something its reader has not
 * seen? Content files: what a read at offset 0 would render now differs from the last
 * rendering (true when the node is gone); console.log: the guest printed beyond what this
 * handle read; events: a line is readable. (Page-cached snapshot files are judged by fs/,
 * which knows what the kernel's cache holds.) */
bool tree_file_changed(TreeFile *f);
bool tree_file_is_events(TreeFile *f);

/* ---- writes ---- */

typedef struct TreeWrite TreeWrite;
/* A write of LEN bytes at OFF to F by WHO. Returns the result now (0 or -errno, recorded in
 * the guest's `error`), or -EINPROGRESS: DONE (a reference is taken) gets it later, from
 * another thread, possibly before this returns. *OP (when -EINPROGRESS) is a reference for
 * tree_write_interrupt and tree_write_unref. */
int tree_write(Tree *t, TreeFile *f, const char *buf, size_t len, uint64_t off,
               const TreeCaller *who, Completion *done, TreeWrite **op);
/* The writer was interrupted (Ctrl-C): a write not sent yet is dropped; a migration is
 * aborted (its result then still comes to DONE, the write's completion, or -EINTR after a
 * grace period). Never blocks. Returns whether DONE will still be completed soon. */
bool tree_write_interrupt(TreeWrite *op, Completion *done);
void tree_write_unref(TreeWrite *op);

/* ---- several things ---- */

/* Complete COMP with RESULT after DELAY_US (on the timer thread) unless it completed
 * before: e.g. the grace period of an interrupted migration. */
void tree_complete_after(Completion *comp, gint64 delay_us, int result);

/* .domfs/events streams: a host's (INDEX >= 0) or the top one (-1, several hosts). For the
 * poll wake-ups of fs/: FN(OPAQUE) after every line. */
void tree_events_set_notify(Tree *t, void (*fn)(void *opaque), void *opaque);
/* Statistics files (TF_STATS) of host HOST have new content: FN(HOST, OPAQUE) after every
 * fetch, on that host's statistics thread (for poll wake-ups; only queue work there). */
void tree_stats_set_notify(Tree *t, void (*fn)(int host, void *opaque), void *opaque);
const char *tree_guest_file_name(int index);

/* ---- takeover ---- */
/* The serving process can be replaced under the mount (fs/fs_takeover.h): the next one
 * opens the files the kernel holds open again, as they were. */

/* Most bytes tree_file_save writes. */
#define TREE_FILE_STATE_MAX 256
/* F's own state (a console.log handle's position and the log's pinned start; nothing for
 * other files), as bytes another process's tree_file_restore understands: its length (0:
 * nothing to keep), at most SIZE. */
size_t tree_file_save(TreeFile *f, void *buf, size_t size);
/* Open N again for a handle of another process: STATE (LEN bytes, from tree_file_save;
 * may be empty) puts a console.log handle where it was; an events reader starts with the
 * line "<unix time> NOTICE" (NULL: none) and then reads this process's stream. A snapshot
 * file's content is rendered again. Errors as tree_open. */
int tree_file_restore(Tree *t, const TreeNode *n, int flags, uid_t uid, const void *state,
                      size_t len, const char *notice, TreeFile **out);
/* A write the kernel sent again after the process serving it died or was replaced
 * (WHY: "crash" or "upgrade"): it may have run already, so it does not run again; the
 * guest's `error` says so. Returns -EIO. */
int tree_file_refuse_resent(Tree *t, TreeFile *f, const char *why);
