/* cons_fdc.h - the descriptors of console log files, bounded for the whole daemon.
 *
 * Why: every open console.log handle may need every rotated file of its log; holding a
 * descriptor per file per handle (or even per log with a reader) lets an ordinary user
 * with thousands of handles exhaust the daemon's descriptors, so that another user's
 * `cat` fails with EMFILE. Here descriptors are kept per file identity in one LRU of at
 * most DOMFS_CONSOLE_FD_CACHE; a reader leases one for the duration of one read, and the
 * least recently used unleased descriptor is closed when the cache is full (the file is
 * reopened by name and identity the next time it is needed). */
#pragma once

#include "cons_seg.h"

typedef struct ConsFdCache ConsFdCache;
typedef struct ConsFdLease ConsFdLease;

ConsFdCache *cons_fdc_new(guint capacity);
void cons_fdc_free(ConsFdCache *c);
/* A lease on the cached descriptor of ID, or NULL when none is cached. */
ConsFdLease *cons_fdc_get(ConsFdCache *c, const ConsFileId *id);
/* Cache FD (ownership taken) for ID and lease it. */
ConsFdLease *cons_fdc_put(ConsFdCache *c, const ConsFileId *id, int fd);
int cons_fdc_fd(const ConsFdLease *l);
void cons_fdc_release(ConsFdCache *c, ConsFdLease *l);
/* Close the descriptor of ID now (or as soon as its last lease goes). */
void cons_fdc_drop(ConsFdCache *c, const ConsFileId *id);
/* Descriptors open now (tests). */
guint cons_fdc_count(ConsFdCache *c);
