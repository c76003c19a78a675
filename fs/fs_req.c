/* fs_req.c - see fs_req.h. */
#define G_LOG_DOMAIN "domfs-fs"

#include "fs_req.h"

#include <errno.h>

struct FsPending {
    fuse_req_t req;
    FsRetryFn retry;
    FsInterruptFn intr;
    void *data;
    GDestroyNotify destroy;
    GMutex lock;              /* guards current; a leaf (see fs_req.h) */
    Completion *current;      /* the wait in progress (a reference), or NULL */
    bool early_interrupt;     /* interrupted while arming (only the arming thread) */
};

static gint fs_pending_n;     /* requests not answered yet (atomic) */

/* The request this thread is registering an interrupt callback for: libfuse calls the
 * callback right inside fuse_req_interrupt_func when the request was interrupted already,
 * with the request lock held and no reference of its own, so a reply from there would
 * free the request under libfuse's feet (and under the handler still using it). */
static _Thread_local FsPending *fs_arming;

static void
fs_pending_clear(gpointer data)
{
    FsPending *p = data;

    if (p->destroy)
        p->destroy(p->data);
    completion_unref(p->current);
    g_mutex_clear(&p->lock);
}

FsPending *
fs_pending_ref(FsPending *p)
{
    return g_atomic_rc_box_acquire(p);
}

void
fs_pending_unref(FsPending *p)
{
    if (p)
        g_atomic_rc_box_release_full(p, fs_pending_clear);
}

FsPending *
fs_pending_new(fuse_req_t req, FsRetryFn retry, FsInterruptFn intr, void *data,
               GDestroyNotify destroy)
{
    FsPending *p = g_atomic_rc_box_new0(FsPending);

    g_mutex_init(&p->lock);
    p->req = req;
    p->retry = retry;
    p->intr = intr;
    p->data = data;
    p->destroy = destroy;
    g_atomic_int_inc(&fs_pending_n);
    return p;
}

fuse_req_t
fs_pending_req(FsPending *p)
{
    return p->req;
}

void *
fs_pending_data(FsPending *p)
{
    return p->data;
}

guint
fs_pending_count(void)
{
    return (guint)g_atomic_int_get(&fs_pending_n);
}

void
fs_pending_done(FsPending *p)
{
    Completion *c;

    /* the answer is sent: the current completion (which holds P) is of no more use */
    g_mutex_lock(&p->lock);
    c = g_steal_pointer(&p->current);
    g_mutex_unlock(&p->lock);
    completion_unref(c);
    g_atomic_int_add(&fs_pending_n, -1);
    fs_pending_unref(p);
}

static Completion *
fs_pending_current(FsPending *p)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&p->lock);

    return p->current ? completion_ref(p->current) : NULL;
}

/* libfuse's interrupt callback (with the request's lock held). */
static void
fs_pending_on_interrupt(fuse_req_t req, void *data)
{
    FsPending *p = data;
    g_autoptr(Completion) c = NULL;

    if (fs_arming == p) {
        p->early_interrupt = true;   /* fs_pending_arm answers it once libfuse let go */
        return;
    }
    c = fs_pending_current(p);
    if (!c || completion_is_done(c))
        return;   /* answered, or being answered, by the completing side */
    if (p->intr && p->intr(p, c))
        return;   /* the completion still comes (soon) */
    if (!completion_cancel(c))
        return;
    fuse_reply_err(req, EINTR);
    fs_pending_done(p);
}

/* The completion fired: this thread owns the reply. */
static void
fs_pending_fire(void *data, int result)
{
    FsPending *p = data;

    /* waits out an interrupt callback in progress; none can start afterwards */
    fuse_req_interrupt_func(p->req, NULL, NULL);
    p->retry(p, result);
}

Completion *
fs_pending_arm(FsPending *p)
{
    Completion *c = completion_new(fs_pending_fire, fs_pending_ref(p),
                                   (GDestroyNotify)fs_pending_unref);

    g_mutex_lock(&p->lock);
    completion_unref(p->current);
    p->current = completion_ref(c);
    g_mutex_unlock(&p->lock);
    fs_arming = p;
    fuse_req_interrupt_func(p->req, fs_pending_on_interrupt, p);
    fs_arming = NULL;
    /* interrupted before the wait began: answered like a wait that was interrupted, but
     * from the timer thread, once this handler no longer touches the request */
    if (p->early_interrupt && !(p->intr && p->intr(p, c)))
        tree_complete_after(c, 0, -EINTR);
    return c;
}

bool
fs_pending_take(FsPending *p)
{
    g_autoptr(Completion) c = fs_pending_current(p);

    if (!c || !completion_cancel(c))
        return false;
    fuse_req_interrupt_func(p->req, NULL, NULL);
    return true;
}
