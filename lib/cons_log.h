/* cons_log.h - console.log: the bounded, streaming tail of a virtlogd-written serial log,
 * read across virtlogd's rotations (NAME, NAME.0, NAME.1, ...), confined to the allowed log
 * directories. No FUSE in here: the tree maps open/read/getattr/release onto it.
 *
 * Coordinates (see cons_seg.h for the byte model). F = where the retained bytes start,
 * the window start W = max(F, V_end - max_bytes).
 *  - Size: V_end - W while no handle is open. The first open pins P = W until the last
 *    handle closes, and the size is V_end - P meanwhile: it never drops under a reader
 *    (tail -f polls fstat and says "file truncated" when st_size drops below its
 *    position) and may then exceed max_bytes.
 *  - A handle picks its origin B at its first read: if that read is at offset 0 it is
 *    sequential and B = W as of its open, so cat gets the newest max_bytes at most, then
 *    whatever follows; otherwise it is absolute and B = P, so lseek(SEEK_END) to st_size,
 *    tail -n, tail -c and tail -f's first read land where they aimed. Offset x is virtual
 *    position B + x.
 *  - Bytes that no longer exist (the reader fell behind the rotations, a file turned out
 *    shorter than recorded, a deleted file) are skipped: B moves forward by their count, so
 *    the stream continues with the oldest byte that still exists, bytes are never returned
 *    twice to a reader going forward, and nothing blocks.
 *  - B + x >= V_end is the end for now: 0, and new bytes once the guest printed more.
 * The tree serves console.log with direct_io and no attribute cache: page-cache reads are
 * clipped to the cached st_size, and the kernel takes a short read for a truncation.
 * Not detectable with stat: a file truncated and rewritten past its old size between two
 * refreshes looks like growth, and its new bytes are read at the old offsets. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

#include "cons_path.h"

/* One tracked log (a local path as cons_resolve returned it), shared by every open handle
 * of that log; thread-safe. The registry keeps one ConsLog per path. */
typedef struct ConsLog ConsLog;
typedef struct ConsRegistry ConsRegistry;
typedef struct ConsHandle ConsHandle;

ConsRegistry *cons_registry_new(const ConsPolicy *policy, uint64_t max_bytes);
void cons_registry_free(ConsRegistry *reg);
/* Look up or create the ConsLog of LOCAL_PATH (a cons_resolve result). Never fails. */
/* LABEL ("HOST: GUEST", may be NULL) names the log in daemon log lines (the first guest
 * that names a path gives it its label). */
ConsLog *cons_registry_get(ConsRegistry *reg, const char *local_path, const char *label);
/* Bound the registry to MAX_LOGS logs (default DOMFS_CONSOLE_MAX_LOGS); a log may be
 * evicted when it has no open handle and was last used IDLE_USEC ago or earlier, so that a
 * ConsLog pointer obtained just before stays valid while it is being used. */
void cons_registry_set_limits(ConsRegistry *reg, guint max_logs, gint64 idle_usec);
guint cons_registry_count(ConsRegistry *reg);

/* Size for stat. 0 when no log exists. -EACCES when the file is not a regular file inside
 * the confinement (or is a hard link). */
int cons_log_size(ConsLog *log, uint64_t *size);
int cons_open(ConsLog *log, ConsHandle **out);
/* Bytes at handle offset OFF; 0 at the current end (the handle grows as the log grows). */
ssize_t cons_read(ConsHandle *h, uint64_t off, char *buf, size_t size);
void cons_close(ConsHandle *h);

/* TRUE: resolve paths with the openat(2) component walk, as on kernels without
 * openat2(2) (the fallback is otherwise only taken on ENOSYS). */
void cons_force_walk(gboolean force);
/* Console log descriptors the daemon holds open now (tests). */
guint cons_open_descriptors(void);

/* ---- takeover ---- */
/* Where a handle stands, so that another process (the next server after a crash or an
 * upgrade, fs_takeover.h) can open the same log with the same handle: the same bytes at
 * the same offsets, the log's pinned start kept. Positions are this process's virtual
 * coordinates plus an anchor, the newest file's identity and where it starts: the next
 * process shifts its own coordinates so that the anchor's bytes lie where they lay here,
 * and the handle goes on from there. Fixed-width fields: a newer binary reads it. */
typedef struct {
    uint32_t mode;          /* 0: not read yet; 1: sequential; 2: absolute */
    uint32_t has_anchor;    /* the log had a file */
    uint64_t base;          /* the handle's origin (B) */
    uint64_t w_open;        /* the window start when it opened */
    uint64_t pin;           /* the log's pinned start (P) */
    uint64_t v_end;         /* where the known bytes ended */
    uint64_t anchor_dev;
    uint64_t anchor_ino;
    int64_t anchor_btime;
    uint64_t anchor_vstart; /* where the anchor file's first byte lies */
} ConsMark;

void cons_mark(ConsHandle *h, ConsMark *out);
/* Open LOG as the handle M describes (see ConsMark). When no other handle of LOG is open
 * here, LOG's coordinates are aligned with M's first (by the anchor; when its file is gone,
 * everything that exists now is taken as newer than M's end, so the bytes in between are
 * skipped as lost) and the pin is M's. */
int cons_open_marked(ConsLog *log, const ConsMark *m, ConsHandle **out);
