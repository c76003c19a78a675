/* fs_handle.h - open files and directories by handle number (fs_handle.c): the tables,
 * and their records in the store so the next process serves the same handles. Shared by
 * fs_file.c (open, read, write, release) and fs_poll.c (poll and its wake-ups). */
#pragma once

#include "fs.h"

typedef struct FsFile FsFile;

struct FsFile {
    uint64_t fh;
    fuse_ino_t ino;
    TreeFile *tf;         /* NULL: reopened after a takeover, its guest gone (ENOENT) */
    TreeNode tn;
    int flags;
    uid_t uid;
    bool cached;          /* opened with keep_cache: the kernel keeps what we return */
    GMutex ph_lock;       /* guards ph and gen_seen (fs_poll.c) */
    struct fuse_pollhandle *ph;
    guint64 gen_seen;     /* the node's generation this handle has seen (fs_poll.c) */
    GMutex state_lock;    /* guards state, state_len: what the store holds */
    guint8 state[TREE_FILE_STATE_MAX];
    size_t state_len;
};

FsFile *fs_file_new(uint64_t fh, fuse_ino_t ino, int flags, uid_t uid);
FsFile *fs_file_ref(FsFile *f);
void fs_file_unref(FsFile *f);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FsFile, fs_file_unref)
/* A new handle number (never reused). */
uint64_t fs_fh_new(void);
/* Put F's record with its current state in the store, if that state changed (or FORCE).
 * Before the reply that depends on it. */
void fs_file_store(FsFile *f, bool force);
void fs_file_insert(FsFile *f);
/* A new reference to the open file of FI, or NULL when it was released. */
FsFile *fs_file_get(struct fuse_file_info *fi);
/* Remove FI's file from the table and the store; returns the table's reference. */
FsFile *fs_file_take(struct fuse_file_info *fi);
/* F is released: its poll handle goes (fs_poll.c). */
void fs_poll_forget(FsFile *f);
