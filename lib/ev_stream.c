/* ev_stream.c - one ring of CAPACITY lines with a running sequence number; line k lives in
 * slot k % CAPACITY. A reader holds the sequence number of the next line it wants plus the
 * unread rest of the line it is in the middle of. Everything is under one mutex with a
 * condition variable for blocking readers; pushes are O(1) and never wait on readers. */
#include "ev_stream.h"

#include <string.h>

struct EvStream {
    GMutex lock;
    GCond cond;
    char **ring;
    guint capacity;
    guint64 next_seq;     /* sequence number of the next line pushed */
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
    g_cond_init(&s->cond);
    s->capacity = MAX(capacity, 1);
    s->ring = g_new0(char *, s->capacity);
    return s;
}

void
ev_stream_free(EvStream *s)
{
    if (!s)
        return;
    for (guint i = 0; i < s->capacity; i++)
        g_free(s->ring[i]);
    g_free(s->ring);
    g_mutex_clear(&s->lock);
    g_cond_clear(&s->cond);
    g_free(s);
}

void
ev_stream_set_notify(EvStream *s, void (*fn)(void *opaque), void *opaque)
{
    g_mutex_lock(&s->lock);
    s->notify = fn;
    s->notify_opaque = opaque;
    g_mutex_unlock(&s->lock);
}

void
ev_stream_push(EvStream *s, const char *text)
{
    gint64 now = g_get_real_time();
    char *line = g_strdup_printf("%" G_GINT64_FORMAT ".%03d %s\n", now / G_USEC_PER_SEC,
                                 (int)(now % G_USEC_PER_SEC / 1000), text);
    void (*fn)(void *opaque);
    void *opaque;
    guint slot;

    g_mutex_lock(&s->lock);
    slot = (guint)(s->next_seq % s->capacity);
    g_free(s->ring[slot]);
    s->ring[slot] = line;
    s->next_seq++;
    fn = s->notify;
    opaque = s->notify_opaque;
    g_cond_broadcast(&s->cond);
    g_mutex_unlock(&s->lock);
    if (fn)
        fn(opaque);
}

guint64
ev_stream_pushed(EvStream *s)
{
    guint64 n;

    g_mutex_lock(&s->lock);
    n = s->next_seq;
    g_mutex_unlock(&s->lock);
    return n;
}

EvReader *
ev_reader_new(EvStream *s)
{
    EvReader *r = g_new0(EvReader, 1);

    r->s = s;
    r->pending = g_string_new(NULL);
    g_mutex_lock(&s->lock);
    r->next_seq = s->next_seq;
    g_mutex_unlock(&s->lock);
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
    size_t done = 0;

    g_mutex_lock(&r->s->lock);
    while (done < size && ev_reader_fill_locked(r)) {
        size_t n = MIN(size - done, r->pending->len);

        memcpy(buf + done, r->pending->str, n);
        g_string_erase(r->pending, 0, (gssize)n);
        done += n;
    }
    g_mutex_unlock(&r->s->lock);
    return done;
}

bool
ev_reader_ready(EvReader *r)
{
    bool ready;

    g_mutex_lock(&r->s->lock);
    ready = r->pending->len > 0 || r->next_seq < r->s->next_seq;
    g_mutex_unlock(&r->s->lock);
    return ready;
}

bool
ev_reader_wait(EvReader *r, gint64 timeout_us, const volatile int *cancel)
{
    gint64 end = g_get_monotonic_time() + timeout_us;
    bool ready;

    g_mutex_lock(&r->s->lock);
    while (!(ready = r->pending->len > 0 || r->next_seq < r->s->next_seq) &&
           !(cancel && *cancel)) {
        if (!g_cond_wait_until(&r->s->cond, &r->s->lock, end))
            break;
    }
    g_mutex_unlock(&r->s->lock);
    return ready;
}

void
ev_reader_wake(EvReader *r)
{
    g_mutex_lock(&r->s->lock);
    g_cond_broadcast(&r->s->cond);
    g_mutex_unlock(&r->s->lock);
}
