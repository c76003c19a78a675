/* timer.h - deadlines: call a function on the timer thread after a delay.
 *
 * Why: a write to a stalled host fails with ETIMEDOUT after -o timeout seconds while the
 * libvirt call itself may block much longer; the deadline fires from a thread of its own
 * (one for the whole daemon, a GLib main loop) so nothing that waits holds a thread.
 * Callbacks run on the timer thread and must be quick (complete a request, queue work). */
#pragma once

#include <glib.h>

/* Start the timer thread (idempotent). */
void timer_start(void);
/* Stop it (tests, shutdown); pending timers are dropped without firing. */
void timer_stop(void);
/* Call FN(DATA) once after DELAY_US; DESTROY(DATA) afterwards or when cancelled. Returns
 * an id for timer_cancel (never 0). */
guint timer_add(gint64 delay_us, GSourceFunc fn, gpointer data, GDestroyNotify destroy);
/* Cancel a timer that has not fired (a fired or unknown id is ignored). */
void timer_cancel(guint id);
/* timer_cancel, then wait until its callback is not running (a periodic callback may be
 * running right now on the timer thread): afterwards what it uses may be freed. */
void timer_cancel_wait(guint id);
/* Call FN(DATA) every INTERVAL_US on the timer thread until it returns FALSE. */
guint timer_add_periodic(gint64 interval_us, GSourceFunc fn, gpointer data,
                         GDestroyNotify destroy);
