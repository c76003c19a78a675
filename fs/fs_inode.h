/* fs_inode.h - inode numbers for tree nodes, as the kernel knows them.
 *
 * A node is found by its parent and a key: its name, or for a guest directory its name and
 * the guest's uuid (fs_inode_key), so a guest re-created under the same name gets a new
 * inode, never the old one's. The table is mirrored into the inode store (fs_istore.h),
 * from which the next serving process rebuilds it after a crash or an upgrade. */
#pragma once

#include <fuse_lowlevel.h>
#include <glib.h>

#include "fs_istore.h"
#include "tree.h"

/* Longest a restored node or handle waits at start-up for its guest's XML (the tree's
 * own -o timeout normally ends the wait first). */
#define FS_RESTORE_WAIT_MAX_S 120

typedef struct FsNode FsNode;

typedef struct {
    fuse_ino_t ino;
    fuse_ino_t parent;
    char *name;
    bool dead;         /* restored after a takeover, its guest gone: TN answers ENOENT */
    TreeNode tn;
} FsNodeRef;   /* a copy taken under the table lock */

/* The table with the root only, then (ST not NULL) every node ST holds, resolved again in
 * TREE: the next process after a crash or an upgrade. ST (may be NULL) then gets every
 * change. Blocks while a restored node's guest XML loads (start-up only). */
void ino_table_init(Tree *tree, Istore *st);
void ino_table_free(void);
/* Copy of node INO (its TreeNode deep-copied). -ENOENT when unknown. */
int ino_get(fuse_ino_t ino, FsNodeRef *out);
void ino_ref_clear(FsNodeRef *r);
/* The key of child NAME with tree node TN. */
char *fs_inode_key(const char *name, const TreeNode *tn);
/* The child NAME of PARENT with tree node TN (ownership taken): found or created, and its
 * lookup count raised by one. Returns the inode number. */
fuse_ino_t ino_lookup_add(fuse_ino_t parent, const char *name, TreeNode *tn);
/* Like ino_lookup_add, but always a new inode (see fs_ops.c: files whose writes block). */
fuse_ino_t ino_lookup_unique(fuse_ino_t parent, const char *name, TreeNode *tn);
/* Undo one lookup (FUSE forget). */
void ino_forget(fuse_ino_t ino, uint64_t nlookup);
/* The child inode of PARENT with KEY (fs_inode_key) if the kernel knows it, else 0. */
fuse_ino_t ino_child(fuse_ino_t parent, const char *key);
/* Every known node in the subtree below INO (not INO itself), as copies. */
GArray *ino_subtree(fuse_ino_t ino);
guint ino_count(void);
/* Start-up only (blocks): wait until TN's guest is loaded (0), or -ETIMEDOUT, -EAGAIN... */
int ino_wait_ready(Tree *tree, const TreeNode *tn);
/* INO's generation: bumped each time the notifier invalidates it (its content changed),
 * so a poll() can tell a change from what the page cache served. 0 when unknown. */
guint64 ino_gen(fuse_ino_t ino);
/* Bump INO's generation; false while a write is in flight on it: its poll()ers are to be
 * woken once that write was answered (ino_write_end), not now. During a write the kernel
 * keeps the size that the writer's O_TRUNC set (0) whatever GETATTR says, so a poll()er
 * woken now could read an empty file where the new value is. */
bool ino_bump_gen(fuse_ino_t ino);
/* A write on INO begins / was answered (then wake its poll()ers: fs_poll_wake_ino). */
void ino_write_begin(fuse_ino_t ino);
void ino_write_end(fuse_ino_t ino);
