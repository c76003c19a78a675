/* ev_stream.c - one ring of CAPACITY lines with a running sequence number; line k lives in
 * slot k % CAPACITY. A reader holds the sequence number of the next line it wants plus the
 * unread rest of the line it is in the middle of. Everything is under one mutex; pushes
 * are O(1) plus the waiters they complete, and never wait on readers. */
#define G_LOG_DOMAIN "domfs-events"

#include "ev_stream.h"

#include <errno.h>
#include <string.h>

struct EvStream {
    GMutex lock;          /* guards everything below and every reader's fields */
    char **ring;
    guint capacity;
    guint64 next_seq;     /* sequence number of the next line pushed */
    GPtrArray *waiters;   /* Completion (refs) of readers waiting for a line */
    void (*notify)(void *opaque);
    void *notify_opaque;
};

struct EvReader {
    EvStream *s;
    guint64 next_seq;
    GString *pending;     /* the unread rest of the current line */
};

EvStream *
ev_stream_new(guint capacity)
{
    EvStream *s = g_new0(EvStream, 1);

    g_mutex_init(&s->lock);
    s->capacity = MAX(capacity, 1);
    s->ring = g_new0(char *, s->capacity);
    s->waiters = g_ptr_array_new_with_free_func((GDestroyNotify)completion_unref);
    return s;
}

/* Complete (outside the lock) the waiters taken from the stream. */
static void
ev_complete(GPtrArray *waiters, int result)
{
    for (guint i = 0; i < waiters->len; i++)
        completion_complete(g_ptr_array_index(waiters, i), result);
    g_ptr_array_unref(waiters);
}

/* With the lock held: the waiters, leaving an empty list behind. */
static GPtrArray *
ev_take_waiters(EvStream *s)
{
    GPtrArray *w = s->waiters;

    s->waiters = g_ptr_array_new_with_free_func((GDestroyNotify)completion_unref);
    return w;
}

void
ev_stream_free(EvStream *s)
{
    if (!s)
        return;
    ev_complete(ev_take_waiters(s), -ESHUTDOWN);
    for (guint i = 0; i < s->capacity; i++)
        g_free(s->ring[i]);
    g_free(s->ring);
    g_ptr_array_unref(s->waiters);
    g_mutex_clear(&s->lock);
    g_free(s);
}

void
ev_stream_set_notify(EvStream *s, void (*fn)(void *opaque), void *opaque)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&s->lock);

    s->notify = fn;
    s->notify_opaque = opaque;
}

/* "<unix time> TEXT\n", the time now with milliseconds. */
static char *
ev_line(const char *text)
{
    gint64 now = g_get_real_time();

    return g_strdup_printf("%" G_GINT64_FORMAT ".%03d %s\n", now / G_USEC_PER_SEC,
                           (int)(now % G_USEC_PER_SEC / 1000), text);
}

void
ev_stream_push(EvStream *s, const char *text)
{
    char *line = ev_line(text);
    void (*fn)(void *opaque);
    void *opaque;
    GPtrArray *waiters;
    guint slot;

    g_mutex_lock(&s->lock);
    slot = (guint)(s->next_seq % s->capacity);
    g_free(s->ring[slot]);
    s->ring[slot] = line;
    s->next_seq++;
    fn = s->notify;
    opaque = s->notify_opaque;
    waiters = ev_take_waiters(s);
    g_mutex_unlock(&s->lock);
    ev_complete(waiters, 0);
    if (fn)
        fn(opaque);
}

guint64
ev_stream_pushed(EvStream *s)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&s->lock);

    return s->next_seq;
}

EvReader *
ev_reader_new(EvStream *s)
{
    EvReader *r = g_new0(EvReader, 1);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&s->lock);

    r->s = s;
    r->pending = g_string_new(NULL);
    r->next_seq = s->next_seq;
    return r;
}

EvReader *
ev_reader_new_notice(EvStream *s, const char *text)
{
    EvReader *r = ev_reader_new(s);
    g_autofree char *line = ev_line(text);

    g_string_assign(r->pending, line);
    return r;
}

void
ev_reader_free(EvReader *r)
{
    if (!r)
        return;
    g_string_free(r->pending, TRUE);
    g_free(r);
}

/* With the stream locked: move the next line (or an overflow notice) into pending. */
static bool
ev_reader_fill_locked(EvReader *r)
{
    EvStream *s = r->s;
    guint64 oldest = s->next_seq > s->capacity ? s->next_seq - s->capacity : 0;

    if (r->pending->len > 0)
        return true;
    if (r->next_seq >= s->next_seq)
        return false;
    if (r->next_seq < oldest) {
        g_string_printf(r->pending, "overflow %" G_GUINT64_FORMAT "\n", oldest - r->next_seq);
        r->next_seq = oldest;
        return true;
    }
    g_string_assign(r->pending, s->ring[r->next_seq % s->capacity]);
    r->next_seq++;
    return true;
}

size_t
ev_reader_read(EvReader *r, char *buf, size_t size)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&r->s->lock);
    size_t done = 0;

    while (done < size && ev_reader_fill_locked(r)) {
        size_t n = MIN(size - done, r->pending->len);

        memcpy(buf + done, r->pending->str, n);
        g_string_erase(r->pending, 0, (gssize)n);
        done += n;
    }
    return done;
}

static bool
ev_reader_ready_locked(EvReader *r)
{
    return r->pending->len > 0 || r->next_seq < r->s->next_seq;
}

bool
ev_reader_ready(EvReader *r)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&r->s->lock);

    return ev_reader_ready_locked(r);
}

bool
ev_reader_wait(EvReader *r, Completion *comp)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&r->s->lock);

    if (ev_reader_ready_locked(r))
        return false;
    g_ptr_array_add(r->s->waiters, completion_ref(comp));
    return true;
}

void
ev_reader_cancel(EvReader *r, Completion *comp)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&r->s->lock);

    g_ptr_array_remove_fast(r->s->waiters, comp);
}
