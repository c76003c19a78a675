/* cons_seg.h - the byte model of a rotated log: the files NAME, NAME.0, NAME.1, ... as
 * segments of one virtual stream whose coordinates never go back, rebuilt from what a
 * directory scan saw. Pure logic, no I/O (cons_log.c does the scanning and reading).
 *
 * virtlogd renames NAME -> NAME.0 -> ... -> NAME.(max_backups-1), oldest first, then
 * creates a new NAME. Each segment is {file identity, vstart, length}: a new segment
 * starts where everything seen so far ends (v_end). Merging a scan (newest name first):
 *  - a known file keeps its segment wherever it now is. The newest segment may grow (v_end
 *    grows with it); when it shrank (the same file truncated: an append='off' restart) its
 *    old bytes are gone and it starts a new segment at v_end;
 *  - an older segment whose size changed is not the file we knew (inode reuse): dropped;
 *  - files newer than every matched segment are appended at v_end, oldest first (the first
 *    scan is this rule with no segments yet);
 *  - segments whose file is gone are dropped; unknown files older than a known one are
 *    ignored (their bytes would belong before bytes readers already have). */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

/* A file's identity: an inode number alone is not one (a deleted log's number goes to the
 * next new file), so the birth time (ns, 0 when the filesystem has none) is part of it. */
typedef struct {
    dev_t dev;
    ino_t ino;
    int64_t btime;
} ConsFileId;

typedef struct {
    ConsFileId id;
    uint64_t vstart;
    uint64_t length;
    int idx;         /* where the file was last seen: -1 is NAME, k is NAME.k */
} ConsSeg;

typedef struct {
    ConsFileId id;
    uint64_t size;
    int idx;
} ConsSeen;

typedef struct {
    GArray *segs;    /* ConsSeg, oldest first */
    uint64_t v_end;  /* where everything seen so far ends */
} ConsSegs;

gboolean cons_file_same(const ConsFileId *a, const ConsFileId *b);
void cons_segs_init(ConsSegs *s);
void cons_segs_clear(ConsSegs *s);
/* Fold a scan (SEEN, newest name first) into S. GONE (may be NULL) gets the ConsFileId of
 * every segment dropped. */
void cons_segs_merge(ConsSegs *s, const ConsSeen *seen, int n_seen, GArray *gone);
/* Where the retained bytes start (v_end when there are none). */
uint64_t cons_segs_first(const ConsSegs *s);
/* Where a new reader starts: the newest MAX_BYTES at most. */
uint64_t cons_segs_window(const ConsSegs *s, uint64_t max_bytes);
