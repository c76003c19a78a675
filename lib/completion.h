/* completion.h - a one-shot, reference-counted "answer this later" callback.
 *
 * Why: every request that cannot be answered at once (a read of .domfs/events with nothing
 * to read, a write waiting for libvirt, a lookup waiting for a guest's XML) is answered by
 * whichever thread finishes the work, by a deadline timer, or cancelled by an interrupt.
 * Those race; a Completion makes exactly one of them win: completion_complete() calls the
 * function at most once over the object's whole life, completion_cancel() makes sure it
 * never will. Every list, timer or job that may fire it holds a reference; the data's
 * destroy function runs when the last reference goes.
 */
#pragma once

#include <glib.h>

typedef struct Completion Completion;
/* RESULT: 0 or -errno, as the producer decides (e.g. -ETIMEDOUT from a deadline). */
typedef void (*CompletionFn)(void *data, int result);

Completion *completion_new(CompletionFn fn, void *data, GDestroyNotify destroy);
Completion *completion_ref(Completion *c);
void completion_unref(Completion *c);
/* Call FN(DATA, RESULT) in this thread unless the completion already completed or was
 * cancelled. TRUE when this call delivered it. */
gboolean completion_complete(Completion *c, int result);
/* Make sure FN is never called. TRUE when it had not been called yet (the canceller now
 * owns the answer). */
gboolean completion_cancel(Completion *c);
/* Completed or cancelled already. */
gboolean completion_is_done(Completion *c);
void *completion_data(Completion *c);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(Completion, completion_unref)
