/* fs_istore.h - the inode and handle store that outlives the serving process.
 *
 * Why: the kernel keeps the node ids (and open file handles) a FUSE server gave it. When
 * the serving process dies or is replaced (fs_takeover.h), the next one must give the same
 * ids the same meaning, or every cached dentry, open file and working directory in the
 * mount goes stale. The daemon's inode table mirrors each change here (before the reply
 * that tells the kernel about it), and the next process loads the live set at start.
 *
 * The store lives in a memfd the supervisor keeps (fs_super.h). It is an append-only log
 * of checksummed records in one of two regions; a record torn by a SIGKILL in the middle
 * of an append fails its checksum and ends the replay, which loses only a change the
 * kernel never heard of. When the active region is full, the live set is written to the
 * other region and a single atomic store switches regions (compaction), so the size is
 * bounded by 2 x region_bytes whatever the uptime.
 *
 * One process writes at a time (the supervisor hands the store over with the FUSE
 * connection); calls are thread-safe within that process. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default bytes per region (two regions; the memfd is sparse, only used pages count).
 * A node record is 40 bytes plus its name rounded up to 8: 64 MiB hold ~1M nodes. */
#define ISTORE_DEFAULT_REGION_BYTES (64u << 20)
#define ISTORE_NAME_MAX 1024       /* bytes of a node name */
#define ISTORE_HANDLE_DATA_MAX 1024 /* bytes of a handle's data */

typedef struct Istore Istore;

typedef struct {
    uint64_t ino;
    uint64_t parent;     /* 0 for the root */
    uint64_t nlookup;    /* the kernel's lookup count as the table last knew it */
    uint32_t flags;      /* the daemon's own bits, kept as given */
    const char *name;    /* NUL-terminated, at most ISTORE_NAME_MAX bytes */
} IstoreNode;

typedef struct {
    uint64_t nodes;          /* live nodes */
    uint64_t handles;        /* live handles */
    uint64_t region_bytes;
    uint64_t used_bytes;     /* of the active region */
    uint64_t compactions;    /* by this process */
    uint64_t generation;     /* of the active region: +1 per compaction, ever */
    uint64_t dropped_tail;   /* bytes of a torn record ignored by the last load */
} IstoreStats;

typedef void (*IstoreNodeFn)(const IstoreNode *node, void *opaque);
typedef void (*IstoreHandleFn)(uint64_t fh, const void *data, size_t len, void *opaque);

/* A new, empty store: a sealed memfd (close-on-exec) of 2 x REGION_BYTES plus a header,
 * REGION_BYTES rounded up to pages (0: the default). Returns the fd or -errno. */
int istore_create(size_t region_bytes);

/* Map the store on FD (not closed by istore_close; the caller keeps it) and load it:
 * the live nodes and handles become available through the foreach functions. Then the
 * log is compacted into the other region, so a torn tail never stays behind. Returns 0
 * or -errno (-EINVAL: not a store, or a store a previous writer could not keep whole). */
int istore_open(int fd, Istore **out);
void istore_close(Istore *st);

/* The loaded (and since then changed) live set. Nodes come in increasing ino order, so
 * when inos only grow (fs_inode.c never reuses one) a parent comes before its children.
 * The store's lock is held during the calls: FN must not call the store. */
void istore_foreach_node(Istore *st, IstoreNodeFn fn, void *opaque);
void istore_foreach_handle(Istore *st, IstoreHandleFn fn, void *opaque);
/* Above every ino / fh ever put, live or dropped: a new process starts its counters here
 * so no id is ever reused. */
uint64_t istore_next_ino(Istore *st);
uint64_t istore_next_fh(Istore *st);
/* Raise the counters without putting anything (ids handed out that need no record). */
void istore_reserve(Istore *st, uint64_t next_ino, uint64_t next_fh);

/* Node INO now is NODE (created or changed). Call it before the reply that gives the
 * kernel the node or a new lookup of it. 0, or -ENOSPC when the compacted live set takes
 * more than half a region (the store is then marked broken: the next process starts
 * without it, and istore_open says -EINVAL), -ENAMETOOLONG, -EINVAL. */
int istore_node_put(Istore *st, const IstoreNode *node);
/* Node INO is gone (its lookup count reached zero and the table dropped it). */
int istore_node_drop(Istore *st, uint64_t ino);
/* Open handle FH carries DATA (the daemon's own encoding of what the handle needs). */
int istore_handle_put(Istore *st, uint64_t fh, const void *data, size_t len);
int istore_handle_drop(Istore *st, uint64_t fh);

void istore_stats(Istore *st, IstoreStats *out);
