/* fs_diff.h - what the kernel must forget when a guest's snapshot changes.
 *
 * Why: entries and attributes reach the kernel with long timeouts and snapshot files are
 * page-cached, so after each change the notifier (fs_notify.c) invalidates exactly what
 * differs. Deciding what differs needs no FUSE session: it compares renderings of the old
 * and the new snapshot for the nodes the kernel knows (fs_inode.h). It lives here, apart
 * from issuing the invalidations, so that it can be tested without a mount. */
#pragma once

#include <fuse_lowlevel.h>
#include <glib.h>

#include "fs_inode.h"
#include "tree.h"

typedef struct {
    fuse_ino_t ino;   /* the inode to invalidate, or the directory holding NAME */
    char *name;       /* NULL: inode INO's attributes and content; else the entry NAME */
} FsDiffInval;

/* An empty list of FsDiffInval (each one's name freed with the array). */
GArray *fs_diff_new(void);
/* The guest whose directory is GUEST_INO kept it from snapshot A to B; NODES (FsNodeRef,
 * from ino_subtree(GUEST_INO)) are the nodes the kernel knows below it. Appends to OUT, in
 * the order they are to be issued: per directory, its entries that vanished, then those
 * that appeared (the kernel may hold them as negative entries), then the directory's inode
 * if any did; each file whose rendering differs. */
void fs_diff_guest(fuse_ino_t guest_ino, const GArray *nodes, const DomInfo *a,
                   const DomInfo *b, GArray *out);
/* A change of one guest from OLD_INFO to NEW_INFO (either NULL: the guest appeared or
 * vanished) under the host directory ROOT, as the kernel knows it now (the inode table):
 * a guest directory that vanished, appeared or was renamed is dropped by name with every
 * known inode below it, and ROOT's listing invalidated; one that stayed is diffed
 * (fs_diff_guest). */
void fs_diff_change(fuse_ino_t root, const DomInfo *old_info, const DomInfo *new_info,
                    GArray *out);
