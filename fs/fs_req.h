/* fs_req.h - a FUSE request that is answered later, from another thread.
 *
 * Why: no FUSE worker ever sleeps on anything but memory. A request that must wait (a
 * read of .domfs/events with nothing to read, a write waiting for libvirt, a lookup
 * waiting for a guest's XML) becomes an FsPending: the handler hands its completion to
 * lib/ and returns; whoever completes it (lib's thread, a deadline) retries the operation
 * or replies. An interrupt (Ctrl-C, kill) of the waiting process is answered at once with
 * EINTR, so no process is ever left in D state.
 *
 * Exactly one of "completed" and "interrupted" answers the request: the completion's
 * once-flag decides (completion_cancel in the interrupt callback, completion_complete in
 * lib). The interrupt callback runs with libfuse's request lock held; before replying,
 * the completing side unregisters it (fuse_req_interrupt_func(req, NULL, NULL)), which
 * waits for a callback in progress to end. So no lock held around that call may be one
 * the callback takes: FsPending's own mutex is a leaf, and nothing in lib/ takes a lock
 * while completing that the callback would need. The FsPending itself is
 * reference-counted: the request holds one reference until it is answered, each
 * completion given out holds one. */
#pragma once

#include <fuse_lowlevel.h>

#include "tree.h"

typedef struct FsPending FsPending;

/* The awaited thing happened (RESULT from lib: 0, or -ETIMEDOUT, ...): run the operation
 * again or reply. Runs in the completing thread, owning the reply. */
typedef void (*FsRetryFn)(FsPending *p, int result);
/* The process was interrupted while P waited on completion C: undo the registration in
 * lib/ (e.g. tree_file_unwait). Returns TRUE to keep waiting (C will still come soon, e.g.
 * a migration being aborted), FALSE to have EINTR replied now. Runs with libfuse's
 * request lock held: must not block. */
typedef bool (*FsInterruptFn)(FsPending *p, Completion *c);

/* A request that may wait. DATA (freed with DESTROY when P goes) holds what a retry needs.
 * P starts with one reference: the request's, dropped by fs_pending_done. */
FsPending *fs_pending_new(fuse_req_t req, FsRetryFn retry, FsInterruptFn intr, void *data,
                          GDestroyNotify destroy);
fuse_req_t fs_pending_req(FsPending *p);
void *fs_pending_data(FsPending *p);
/* Start a wait: a new completion (a reference for the caller to hand to lib/ and drop),
 * with the interrupt callback registered first, so that from now on an interrupt is
 * answered. When lib/ returns -EINPROGRESS the caller must not touch the request again. */
Completion *fs_pending_arm(FsPending *p);
/* lib/ answered at once instead of taking the completion: TRUE when the caller still owns
 * the reply (and must answer it, then fs_pending_done), FALSE when an interrupt answered
 * already (the caller stops). */
bool fs_pending_take(FsPending *p);
/* The reply was sent: drops the request's reference. */
void fs_pending_done(FsPending *p);
FsPending *fs_pending_ref(FsPending *p);
void fs_pending_unref(FsPending *p);
/* Requests waiting now (statfs-like counters, tests). */
guint fs_pending_count(void);
