/* completion.c - see completion.h. The once-ness is one atomic flag flipped by
 * compare-and-exchange; the object is a GAtomicRcBox. */
#define G_LOG_DOMAIN "domfs-completion"

#include "completion.h"

struct Completion {
    CompletionFn fn;
    void *data;
    GDestroyNotify destroy;
    gint done;    /* 0, then 1 once completed or cancelled (atomic) */
};

Completion *
completion_new(CompletionFn fn, void *data, GDestroyNotify destroy)
{
    Completion *c = g_atomic_rc_box_new0(Completion);

    c->fn = fn;
    c->data = data;
    c->destroy = destroy;
    return c;
}

Completion *
completion_ref(Completion *c)
{
    return g_atomic_rc_box_acquire(c);
}

static void
completion_clear(gpointer p)
{
    Completion *c = p;

    if (c->destroy)
        c->destroy(c->data);
}

void
completion_unref(Completion *c)
{
    if (c)
        g_atomic_rc_box_release_full(c, completion_clear);
}

gboolean
completion_complete(Completion *c, int result)
{
    if (!g_atomic_int_compare_and_exchange(&c->done, 0, 1))
        return FALSE;
    if (c->fn)
        c->fn(c->data, result);
    return TRUE;
}

gboolean
completion_cancel(Completion *c)
{
    return g_atomic_int_compare_and_exchange(&c->done, 0, 1);
}

gboolean
completion_is_done(Completion *c)
{
    return g_atomic_int_get(&c->done) != 0;
}

void *
completion_data(Completion *c)
{
    return c->data;
}
