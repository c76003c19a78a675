/* tree.h - the file tree domfs shows, independent of FUSE: which names exist under a
 * directory, whether a node is a file or a directory, what a file holds and what a write
 * to it does. fs/ keeps inode numbers for these nodes and nothing else. */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conn.h"
#include "dev_model.h"
#include "dom_info.h"

typedef enum {
    TN_TOP,         /* the mount root of a several-host tree */
    TN_CONNROOT,    /* a connection's tree: the mount root, or a host directory */
    TN_DOMFS,       /* .domfs/ */
    TN_DOMFS_FILE,
    TN_GUEST,
    TN_GUEST_FILE,
    TN_DEVICES,
    TN_DEVKIND,
    TN_DEV,
    TN_DEV_FILE,
} TreeKind;

typedef enum {
    TF_SNAPSHOT,    /* rendered from the guest's snapshot; page-cacheable */
    TF_CONSOLE,     /* console.log: a stream, see cons_log.h */
    TF_CONNECTION,  /* .domfs/connection */
    TF_EVENTS,      /* .domfs/events: an endless stream */
    TF_METRICS,     /* .domfs/metrics.prom */
} TreeFlavor;

typedef struct {
    TreeKind kind;
    int conn;          /* connection index; -1 for TN_TOP and the top's .domfs */
    int index;         /* file index within its directory kind; DevKind for TN_DEVKIND */
    int devkind;       /* for TN_DEV, TN_DEV_FILE */
    char *guest;       /* guest directory name, for guest-level nodes */
    char *dev;         /* device directory name, for TN_DEV, TN_DEV_FILE */
} TreeNode;

typedef struct {
    bool is_dir;
    bool writable;     /* the tree accepts writes here (mode bits are fs/'s business) */
    bool blocking;     /* a write blocks for long (migrate) and can be interrupted */
    TreeFlavor flavor;
} TreeAttr;

typedef struct {
    char *name;
    bool is_dir;
} TreeDirent;

typedef struct Tree Tree;

Tree *tree_new(DomConn **conns, guint n_conns, bool multi);
void tree_free(Tree *t);
guint tree_n_conns(Tree *t);
DomConn *tree_conn(Tree *t, int index);
bool tree_is_multi(Tree *t);
/* -o migrate_uri (the string must outlive the tree) */
void tree_set_migrate_uri(Tree *t, const char *uri_template);
/* Abort the running migration of the guest of guest-level node N (a writer interrupted). */
void tree_migrate_interrupt(Tree *t, const TreeNode *n);

void tree_node_clear(TreeNode *n);
void tree_node_copy(TreeNode *dst, const TreeNode *src);
void tree_root(Tree *t, TreeNode *out);

/* Child NAME of PARENT as the tree stands now: 0 or -ENOENT / -ENOTDIR. */
int tree_child(Tree *t, const TreeNode *parent, const char *name, TreeNode *out,
               TreeAttr *attr);
/* The node's attributes now; -ENOENT when it is gone. */
int tree_stat(Tree *t, const TreeNode *n, TreeAttr *attr);
/* Entries of a directory (array of TreeDirent *, owned), without "." and "..". */
int tree_list(Tree *t, const TreeNode *n, GPtrArray **out);

/* The snapshot a guest-level node belongs to (new reference), or NULL. */
DomInfo *tree_guest_info(Tree *t, const TreeNode *n);
/* Content of a TF_SNAPSHOT file from snapshot D (which need not be the current one: the
 * notifier compares old and new). -ENOENT when the node does not exist in D. */
int tree_render(const DomInfo *d, const TreeNode *n, GString *out);
/* Directory listing of a guest-level directory in snapshot D. */
int tree_list_guest(const DomInfo *d, const TreeNode *n, GPtrArray **out);
/* Content of a TF_SNAPSHOT or TF_CONNECTION file as it stands now. */
int tree_read(Tree *t, const TreeNode *n, GString *out);
/* The same; *USED (may be NULL) gets the snapshot it was rendered from (a new reference;
 * NULL for files that do not come from a snapshot). */
int tree_read_snapshot(Tree *t, const TreeNode *n, GString *out, DomInfo **used);
/* A write of LEN bytes at offset 0. 0 or -errno (recorded in the guest's error file). */
int tree_write(Tree *t, const TreeNode *n, const char *buf, size_t len);

const char *tree_guest_file_name(int index);
