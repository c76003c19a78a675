/* job.h - the libvirt calls of writes, run by a host's action threads and answered by a
 * completion: when the call ends, or with -ETIMEDOUT at the deadline, whichever comes
 * first.
 *
 * Why: a FUSE worker never waits for libvirt. A write is validated in the request's
 * thread, then becomes a job; its answer comes from the action thread when libvirt
 * answers, or from the timer thread when -o timeout passes first. A stalled host holds
 * at most its DOMFS_HOST_ACTION_THREADS threads; what queues behind them times out without
 * holding any. Whoever answers first wins; a call that ends after its writer had the
 * answer still reports what libvirt said (JobOps.finished with LATE). */
#pragma once

#include <glib.h>
#include <sys/types.h>

#include "completion.h"

typedef struct Job Job;
typedef struct JobRunner JobRunner;

typedef struct {
    /* The work, on an action thread: 0 or -errno, and what happened in *MSG. */
    int (*run)(void *data, char **msg);
    /* After RUN, on the action thread, before the writer gets the answer: record the
     * outcome (the `error` file...). LATE: the writer had its answer already (a timeout or
     * an interrupt): this is what libvirt answered afterwards. */
    void (*finished)(void *data, int result, const char *msg, gboolean late);
    /* The deadline passed (timer thread): record that the outcome is unknown (STARTED) or
     * that the call was never sent. */
    void (*timed_out)(void *data, gboolean started);
    /* The writer was interrupted while RUN runs: ask the work to stop (must not block:
     * e.g. abort a migration). NULL: the work runs to its end. */
    void (*interrupt)(void *data);
    GDestroyNotify destroy;
} JobOps;

JobRunner *job_runner_new(const char *name, guint threads);
/* Stop the threads (jobs still queued are answered -ENOTCONN). FALSE when a thread is
 * stuck in a call (it is then left behind; see DOMFS_STOP_WAIT_US). */
gboolean job_runner_free(JobRunner *r);

/* Since when (real time, µs) the oldest call still running past its deadline began: the
 * host has not answered it. 0 when every running call is within its deadline. Writers
 * check it first and fail at once instead of queueing behind a host that is not
 * answering (the kernel serializes writes to one file, so one stuck write would
 * otherwise hold the next writer of that file for a whole timeout, and so on). */
gint64 job_runner_overdue_since(JobRunner *r);

/* Queue OPS on DATA for UID (counted in QUOTA_WRITES); DONE (a reference is taken) gets the
 * answer. TIMEOUT_US 0: no deadline. *OUT (may be NULL) gets a reference for
 * job_interrupt. 0, or -EAGAIN when UID holds its quota (nothing queued, DATA destroyed). */
int job_submit(JobRunner *r, const JobOps *ops, void *data, uid_t uid, gint64 timeout_us,
               Completion *done, Job **out);
/* The writer was interrupted: a job not started yet is dropped; a running one is asked to
 * stop (JobOps.interrupt). Never blocks. */
void job_interrupt(Job *job);
/* Whether the writer was interrupted (the work may look). */
gboolean job_was_interrupted(Job *job);
Job *job_ref(Job *job);
void job_unref(Job *job);
