/* ut_fs.h - helpers for the unit tests of fs/'s pure parts (the inode table, the
 * notifier's diff), which need the nodes the kernel would know without a kernel: a lookup
 * is made the way fs_entry.c makes it (resolve the name in the tree, then add it to the
 * inode table), on a tree of ut_common.h. */
#pragma once

#include <glib.h>

#include "fs_inode.h"
#include "ut_common.h"

/* One lookup of the node at PATH (from the tree's root) as the child of PARENT, named by
 * PATH's last component, as the kernel's LOOKUP makes it: its inode number (asserts the
 * path resolves and the parent is known). */
fuse_ino_t ut_fs_lookup(Tree *t, fuse_ino_t parent, const char *path);
/* One lookup of every component of PATH from the root: the last one's inode number. */
fuse_ino_t ut_fs_lookup_path(Tree *t, const char *path);
/* The key (fs_inode_key) of the node at PATH, for ino_child. */
char *ut_fs_key(Tree *t, const char *path);
