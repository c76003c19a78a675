/* timer.c - one thread running a GMainLoop on a private GMainContext; timers are GSources
 * attached to that context (g_source_attach and g_source_destroy are thread-safe). */
#define G_LOG_DOMAIN "domfs-timer"

#include "timer.h"

static GMutex timer_lock;          /* guards the three below */
static GMainContext *timer_ctx;
static GMainLoop *timer_loop;
static GThread *timer_thread;

static gpointer
timer_main(gpointer data)
{
    GMainLoop *loop = data;

    g_main_context_push_thread_default(g_main_loop_get_context(loop));
    g_main_loop_run(loop);
    g_main_context_pop_thread_default(g_main_loop_get_context(loop));
    return NULL;
}

void
timer_start(void)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&timer_lock);

    if (timer_thread)
        return;
    timer_ctx = g_main_context_new();
    timer_loop = g_main_loop_new(timer_ctx, FALSE);
    timer_thread = g_thread_new("domfs-timer", timer_main, timer_loop);
}

void
timer_stop(void)
{
    GThread *thread;

    g_mutex_lock(&timer_lock);
    thread = g_steal_pointer(&timer_thread);
    g_mutex_unlock(&timer_lock);
    if (!thread)
        return;
    g_main_loop_quit(timer_loop);
    g_thread_join(thread);
    g_mutex_lock(&timer_lock);
    g_clear_pointer(&timer_loop, g_main_loop_unref);
    g_clear_pointer(&timer_ctx, g_main_context_unref);
    g_mutex_unlock(&timer_lock);
}

static guint
timer_attach(GSource *src, GSourceFunc fn, gpointer data, GDestroyNotify destroy)
{
    guint id = 0;

    g_source_set_callback(src, fn, data, destroy);
    g_mutex_lock(&timer_lock);
    if (timer_ctx)
        id = g_source_attach(src, timer_ctx);
    g_mutex_unlock(&timer_lock);
    if (!id && destroy)
        destroy(data);   /* not running (shut down): the timer never fires */
    g_source_unref(src);
    return id;
}

guint
timer_add(gint64 delay_us, GSourceFunc fn, gpointer data, GDestroyNotify destroy)
{
    GSource *src = g_timeout_source_new((guint)MAX((delay_us + 999) / 1000, 0));

    return timer_attach(src, fn, data, destroy);
}

guint
timer_add_periodic(gint64 interval_us, GSourceFunc fn, gpointer data, GDestroyNotify destroy)
{
    return timer_add(interval_us, fn, data, destroy);
}

void
timer_cancel(guint id)
{
    GSource *src = NULL;

    if (!id)
        return;
    g_mutex_lock(&timer_lock);
    if (timer_ctx)
        src = g_main_context_find_source_by_id(timer_ctx, id);
    if (src)
        g_source_ref(src);
    g_mutex_unlock(&timer_lock);
    if (src) {
        g_source_destroy(src);
        g_source_unref(src);
    }
}

/* ---- waiting out a callback ---- */

typedef struct {
    GMutex lock;
    GCond cond;
    gboolean ran;
} TimerBarrier;

static gboolean
timer_barrier_fire(gpointer data)
{
    TimerBarrier *b = data;

    g_mutex_lock(&b->lock);
    b->ran = TRUE;
    g_cond_signal(&b->cond);
    g_mutex_unlock(&b->lock);
    return G_SOURCE_REMOVE;
}

void
timer_cancel_wait(guint id)
{
    TimerBarrier b = { .ran = FALSE };
    GSource *src;
    guint bid;

    timer_cancel(id);
    if (g_thread_self() == g_atomic_pointer_get(&timer_thread))
        return;   /* on the timer thread: no callback of it runs now */
    g_mutex_init(&b.lock);
    g_cond_init(&b.cond);
    /* the timer thread runs one callback at a time: once this one ran, the cancelled
     * callback is not running any more (and, destroyed, never runs again) */
    src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_HIGH);
    bid = timer_attach(src, timer_barrier_fire, &b, NULL);
    g_mutex_lock(&b.lock);
    while (bid && !b.ran)
        g_cond_wait(&b.cond, &b.lock);
    g_mutex_unlock(&b.lock);
    g_mutex_clear(&b.lock);
    g_cond_clear(&b.cond);
}
