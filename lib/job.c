/* job.c - see job.h.
 *
 * A job's answer is decided under its mutex by whichever of the action thread (the call
 * ended) and the timer thread (the deadline) comes first; the completion is completed
 * while the mutex is held, so the outcome recorded (`error`) is always the one the writer
 * got. Nothing takes a job's mutex while holding a FUSE request's lock: job_interrupt
 * (called from FUSE's interrupt callback) only flips an atomic flag and calls
 * JobOps.interrupt, which must not block. */
#define G_LOG_DOMAIN "domfs-job"

#include "job.h"

#include <errno.h>

#include "domfs_limits.h"
#include "quota.h"
#include "stop_wait.h"
#include "timer.h"

typedef enum { JOB_QUEUED, JOB_RUNNING, JOB_FINISHED, JOB_SKIPPED } JobState;

struct Job {
    JobRunner *runner;     /* outlives the job while it runs (a thread runs it) */
    const JobOps *ops;
    void *data;
    uid_t uid;
    GMutex lock;           /* guards the fields below */
    Completion *done;      /* until the job answered */
    JobState state;
    gboolean answered;     /* the writer has its answer (from this job) */
    guint deadline;        /* timer id, 0 when none */
    gint64 started;        /* real time the call began (JOB_RUNNING on) */
    gboolean overdue;      /* counted in runner->overdue */
    gint interrupted;      /* atomic */
};

struct JobRunner {
    char *name;
    GAsyncQueue *queue;    /* Job * (references); NULL item = stop */
    GPtrArray *threads;
    gint running;          /* threads not yet returned (atomic) */
    GMutex lock;           /* guards the two below; taken after a job's lock */
    guint overdue;         /* running jobs past their deadline */
    gint64 overdue_since;  /* real time the oldest of them began; 0 when none */
};

static void
job_clear(gpointer p)
{
    Job *j = p;

    if (j->ops->destroy)
        j->ops->destroy(j->data);
    completion_unref(j->done);
    g_mutex_clear(&j->lock);
}

Job *
job_ref(Job *j)
{
    return g_atomic_rc_box_acquire(j);
}

void
job_unref(Job *j)
{
    if (j)
        g_atomic_rc_box_release_full(j, job_clear);
}

gboolean
job_was_interrupted(Job *j)
{
    return g_atomic_int_get(&j->interrupted) != 0;
}

void
job_interrupt(Job *j)
{
    g_atomic_int_set(&j->interrupted, 1);
    if (j->ops->interrupt)
        j->ops->interrupt(j->data);
}

/* With J's lock held: its call outlived the deadline (the host is not answering). */
static void
job_runner_overdue_add(Job *j)
{
    JobRunner *r = j->runner;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&r->lock);

    j->overdue = TRUE;
    if (!r->overdue++ || j->started < r->overdue_since)
        r->overdue_since = j->started;
}

/* With J's lock held: its overdue call ended. */
static void
job_runner_overdue_remove(Job *j)
{
    JobRunner *r = j->runner;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&r->lock);

    j->overdue = FALSE;
    if (!--r->overdue)
        r->overdue_since = 0;
}

gint64
job_runner_overdue_since(JobRunner *r)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&r->lock);

    return r->overdue_since;
}

static gboolean
job_deadline(gpointer data)
{
    Job *j = data;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&j->lock);

    j->deadline = 0;
    if (j->answered || j->state == JOB_FINISHED)
        return G_SOURCE_REMOVE;
    j->answered = TRUE;
    if (j->state == JOB_RUNNING)
        job_runner_overdue_add(j);
    if (j->ops->timed_out)
        j->ops->timed_out(j->data, j->state == JOB_RUNNING);
    if (j->state == JOB_QUEUED)
        j->state = JOB_SKIPPED;
    completion_complete(j->done, -ETIMEDOUT);
    /* answered: the job never needs it again (and the answer's holder may hold the job) */
    g_clear_pointer(&j->done, completion_unref);
    return G_SOURCE_REMOVE;
}

/* The action thread takes J: FALSE when it must not run (answered already: timed out, or
 * interrupted before it started). */
static gboolean
job_start(Job *j)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&j->lock);

    if (j->state == JOB_SKIPPED || j->answered || job_was_interrupted(j)) {
        j->state = JOB_SKIPPED;
        return FALSE;
    }
    j->state = JOB_RUNNING;
    j->started = g_get_real_time();
    return TRUE;
}

static void
job_finish(Job *j, int result, const char *msg)
{
    gboolean late;
    guint deadline;

    g_mutex_lock(&j->lock);
    j->state = JOB_FINISHED;
    if (j->overdue)
        job_runner_overdue_remove(j);
    late = j->answered;
    j->answered = TRUE;
    deadline = j->deadline;
    j->deadline = 0;
    if (!late) {
        if (j->ops->finished)
            j->ops->finished(j->data, result, msg, FALSE);
        completion_complete(j->done, result);
        g_clear_pointer(&j->done, completion_unref);
    }
    g_mutex_unlock(&j->lock);
    timer_cancel(deadline);
    if (late && j->ops->finished)
        j->ops->finished(j->data, result, msg, TRUE);
}

static void
job_run(Job *j)
{
    g_autofree char *msg = NULL;
    int result;

    if (job_start(j)) {
        result = j->ops->run(j->data, &msg);
        job_finish(j, result, msg);
    }
    quota_release(QUOTA_WRITES, j->uid);
}

static gpointer
job_thread(gpointer data)
{
    JobRunner *r = data;
    Job *j;

    while ((j = g_async_queue_pop(r->queue)) != GINT_TO_POINTER(1)) {
        job_run(j);
        job_unref(j);
    }
    g_atomic_int_dec_and_test(&r->running);
    return NULL;
}

JobRunner *
job_runner_new(const char *name, guint threads)
{
    JobRunner *r = g_new0(JobRunner, 1);

    r->name = g_strdup(name);
    g_mutex_init(&r->lock);
    r->queue = g_async_queue_new();
    r->threads = g_ptr_array_new();
    for (guint i = 0; i < threads; i++) {
        g_atomic_int_inc(&r->running);
        g_ptr_array_add(r->threads, g_thread_new("host-action", job_thread, r));
    }
    return r;
}

int
job_submit(JobRunner *r, const JobOps *ops, void *data, uid_t uid, gint64 timeout_us,
           Completion *done, Job **out)
{
    Job *j;

    if (!quota_take(QUOTA_WRITES, uid)) {
        if (ops->destroy)
            ops->destroy(data);
        return -EAGAIN;
    }
    j = g_atomic_rc_box_new0(Job);
    g_mutex_init(&j->lock);
    j->runner = r;
    j->ops = ops;
    j->data = data;
    j->uid = uid;
    j->done = completion_ref(done);
    if (out)
        *out = job_ref(j);
    if (timeout_us > 0) {
        g_mutex_lock(&j->lock);
        j->deadline = timer_add(timeout_us, job_deadline, job_ref(j), (GDestroyNotify)job_unref);
        g_mutex_unlock(&j->lock);
    }
    g_async_queue_push(r->queue, j);
    return 0;
}

gboolean
job_runner_free(JobRunner *r)
{
    Job *j;

    if (!r)
        return TRUE;
    /* what is still queued is answered now; the threads stop after their current job */
    while ((j = g_async_queue_try_pop(r->queue))) {
        if (j != GINT_TO_POINTER(1)) {
            g_mutex_lock(&j->lock);
            j->state = JOB_SKIPPED;
            if (!j->answered) {
                j->answered = TRUE;
                completion_complete(j->done, -ENOTCONN);
                g_clear_pointer(&j->done, completion_unref);
            }
            g_mutex_unlock(&j->lock);
            quota_release(QUOTA_WRITES, j->uid);
            job_unref(j);
        }
    }
    for (guint i = 0; i < r->threads->len; i++)
        g_async_queue_push(r->queue, GINT_TO_POINTER(1));
    if (!stop_wait(&r->running, 0)) {
        g_warning("%s: an action thread is stuck in a libvirt call: left behind", r->name);
        return FALSE;
    }
    for (guint i = 0; i < r->threads->len; i++)
        g_thread_join(g_ptr_array_index(r->threads, i));
    g_ptr_array_unref(r->threads);
    g_async_queue_unref(r->queue);
    g_mutex_clear(&r->lock);
    g_free(r->name);
    g_free(r);
    return TRUE;
}
