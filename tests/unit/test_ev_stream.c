/* test_ev_stream.c - lib/ev_stream.c: the .domfs/events ring.
 *
 * Line format "<unix time with ms> TEXT\n", reads of any size (lines split and joined
 * across reads), independent readers, late readers, the exact "overflow N" notice of a
 * reader that fell behind, blocking waits (timeout, wake-up by a push, cancel), the
 * notify hook, and several threads pushing and reading at once without losing a line.
 */
#include "ev_stream.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

/* everything pending, read with reads of CHUNK bytes */
static char *
read_all(EvReader *r, size_t chunk)
{
    GString *s = g_string_new(NULL);
    char *buf = g_malloc(chunk);
    size_t n;

    while ((n = ev_reader_read(r, buf, chunk)) > 0) {
        g_assert_cmpuint(n, <=, chunk);
        g_string_append_len(s, buf, (gssize)n);
    }
    g_free(buf);
    return g_string_free(s, FALSE);
}

/* the text parts of the lines in S (timestamps checked and dropped) */
static char *
texts(const char *s)
{
    g_auto(GStrv) lines = g_strsplit(s, "\n", -1);
    GString *out = g_string_new(NULL);
    guint n = g_strv_length(lines);

    /* a complete read ends with a newline: the last split piece is empty */
    g_assert_cmpuint(n, >=, 1);
    g_assert_cmpstr(lines[n - 1], ==, "");
    for (guint i = 0; i + 1 < n; i++) {
        const char *l = lines[i];

        if (g_str_has_prefix(l, "overflow ")) {
            g_string_append_printf(out, "%s[%s]", out->len ? "," : "", l);
            continue;
        }
        if (!g_regex_match_simple("^[0-9]{10,}\\.[0-9]{3} .", l, 0, 0))
            g_error("bad event line \"%s\"", l);
        g_string_append_printf(out, "%s%s", out->len ? "," : "", strchr(l, ' ') + 1);
    }
    return g_string_free(out, FALSE);
}

static void
push_n(EvStream *s, int from, int to)
{
    for (int i = from; i < to; i++) {
        char text[32];

        snprintf(text, sizeof(text), "e%d", i);
        ev_stream_push(s, text);
    }
}

static void
test_push_read(void)
{
    EvStream *s = ev_stream_new(16);
    EvReader *r = ev_reader_new(s);
    gint64 before = g_get_real_time() / G_USEC_PER_SEC;
    g_autofree char *all = NULL;
    g_autofree char *t = NULL;
    char buf[64];
    double when;

    g_assert_cmpuint(ev_stream_pushed(s), ==, 0);
    g_assert_false(ev_reader_ready(r));
    g_assert_cmpuint(ev_reader_read(r, buf, sizeof(buf)), ==, 0);

    ev_stream_push(s, "web lifecycle started booted");
    g_assert_cmpuint(ev_stream_pushed(s), ==, 1);
    g_assert_true(ev_reader_ready(r));
    all = read_all(r, 4096);
    /* "<unix time> <guest> <event> <detail>" with a millisecond fraction */
    g_assert_true(g_regex_match_simple("^[0-9]{10,}\\.[0-9]{3} web lifecycle started booted\n$",
                                       all, 0, 0));
    when = g_ascii_strtod(all, NULL);
    g_assert_cmpfloat(when, >=, (double)before);
    g_assert_cmpfloat(when, <=, (double)(g_get_real_time() / G_USEC_PER_SEC + 1));
    g_assert_false(ev_reader_ready(r));
    g_assert_cmpuint(ev_reader_read(r, buf, sizeof(buf)), ==, 0);

    push_n(s, 0, 3);
    g_clear_pointer(&all, g_free);
    all = read_all(r, 4096);
    t = texts(all);
    g_assert_cmpstr(t, ==, "e0,e1,e2");
    g_assert_cmpuint(ev_stream_pushed(s), ==, 4);

    /* a read of size 0 takes nothing */
    ev_stream_push(s, "x");
    g_assert_cmpuint(ev_reader_read(r, buf, 0), ==, 0);
    g_assert_true(ev_reader_ready(r));
    ev_reader_free(r);
    ev_stream_free(s);
}

/* reads of every size from 1 byte on give exactly the same bytes */
static void
test_partial_reads(void)
{
    EvStream *s = ev_stream_new(64);
    EvReader *ref = ev_reader_new(s);
    EvReader *rs[12];
    g_autofree char *want = NULL;

    for (size_t i = 0; i < G_N_ELEMENTS(rs); i++)
        rs[i] = ev_reader_new(s);
    ev_stream_push(s, "a");
    ev_stream_push(s, "bb bb");
    ev_stream_push(s, "a much longer line, longer than some of the read sizes used here");
    ev_stream_push(s, "z");
    want = read_all(ref, 1 << 16);
    g_assert_cmpuint(strlen(want), >, 60);
    for (size_t i = 0; i < G_N_ELEMENTS(rs); i++) {
        size_t chunk = i + 1 < G_N_ELEMENTS(rs) ? i + 1 : 33;
        g_autofree char *got = read_all(rs[i], chunk);

        g_assert_cmpstr(got, ==, want);
        ev_reader_free(rs[i]);
    }
    ev_reader_free(ref);
    ev_stream_free(s);
}

/* a read stopped in the middle of a line continues it, and lines pushed meanwhile follow */
static void
test_partial_line_then_more(void)
{
    EvStream *s = ev_stream_new(8);
    EvReader *r = ev_reader_new(s);
    char buf[8];
    g_autofree char *rest = NULL;
    g_autofree char *t = NULL;
    GString *all = g_string_new(NULL);
    size_t n;

    ev_stream_push(s, "first-line");
    n = ev_reader_read(r, buf, 5);
    g_assert_cmpuint(n, ==, 5);
    g_string_append_len(all, buf, 5);
    g_assert_true(ev_reader_ready(r));     /* the rest of the line is pending */
    ev_stream_push(s, "second");
    rest = read_all(r, 3);
    g_string_append(all, rest);
    t = texts(all->str);
    g_assert_cmpstr(t, ==, "first-line,second");
    g_string_free(all, TRUE);
    ev_reader_free(r);
    ev_stream_free(s);
}

static void
test_two_readers(void)
{
    EvStream *s = ev_stream_new(16);
    EvReader *a = ev_reader_new(s);
    EvReader *b = ev_reader_new(s);
    g_autofree char *a1 = NULL;
    g_autofree char *a2 = NULL;
    g_autofree char *b1 = NULL;
    g_autofree char *ta1 = NULL;
    g_autofree char *ta2 = NULL;
    g_autofree char *tb1 = NULL;

    push_n(s, 0, 3);
    a1 = read_all(a, 10);
    push_n(s, 3, 5);
    a2 = read_all(a, 1000);
    b1 = read_all(b, 7);       /* b reads everything at once, later */
    ta1 = texts(a1);
    ta2 = texts(a2);
    tb1 = texts(b1);
    g_assert_cmpstr(ta1, ==, "e0,e1,e2");
    g_assert_cmpstr(ta2, ==, "e3,e4");
    g_assert_cmpstr(tb1, ==, "e0,e1,e2,e3,e4");
    /* a reader's reads never consume another's */
    g_assert_false(ev_reader_ready(a));
    g_assert_false(ev_reader_ready(b));
    ev_reader_free(a);
    /* freeing one reader leaves the other working */
    ev_stream_push(s, "after");
    g_clear_pointer(&b1, g_free);
    g_clear_pointer(&tb1, g_free);
    b1 = read_all(b, 100);
    tb1 = texts(b1);
    g_assert_cmpstr(tb1, ==, "after");
    ev_reader_free(b);
    ev_stream_free(s);
}

static void
test_late_reader(void)
{
    EvStream *s = ev_stream_new(16);
    EvReader *early = ev_reader_new(s);
    EvReader *late;
    g_autofree char *got = NULL;
    g_autofree char *t = NULL;
    g_autofree char *e = NULL;
    g_autofree char *te = NULL;

    push_n(s, 0, 5);
    late = ev_reader_new(s);
    g_assert_false(ev_reader_ready(late));
    g_assert_cmpuint(ev_reader_read(late, (char[16]){ 0 }, 16), ==, 0);
    push_n(s, 5, 7);
    got = read_all(late, 64);
    t = texts(got);
    g_assert_cmpstr(t, ==, "e5,e6");
    e = read_all(early, 64);
    te = texts(e);
    g_assert_cmpstr(te, ==, "e0,e1,e2,e3,e4,e5,e6");
    ev_reader_free(late);
    ev_reader_free(early);
    ev_stream_free(s);
}

/* a reader that fell behind a small ring gets "overflow N" for exactly the N lines it
 * missed, then the lines still in the ring, in order */
static void
test_overflow(void)
{
    EvStream *s = ev_stream_new(4);
    EvReader *r = ev_reader_new(s);
    EvReader *fresh;
    g_autofree char *a = NULL;
    g_autofree char *b = NULL;
    g_autofree char *c = NULL;
    g_autofree char *d = NULL;
    g_autofree char *ta = NULL;
    g_autofree char *tb = NULL;
    g_autofree char *tc = NULL;
    g_autofree char *td = NULL;

    push_n(s, 0, 10);
    a = read_all(r, 5);
    ta = texts(a);
    g_assert_cmpstr(ta, ==, "[overflow 6],e6,e7,e8,e9");
    /* the notice is a line of its own, exactly "overflow N\n" */
    g_assert_true(g_str_has_prefix(a, "overflow 6\n"));

    /* within capacity: no notice */
    push_n(s, 10, 14);
    b = read_all(r, 100);
    tb = texts(b);
    g_assert_cmpstr(tb, ==, "e10,e11,e12,e13");

    /* behind by exactly one line */
    push_n(s, 14, 19);
    c = read_all(r, 100);
    tc = texts(c);
    g_assert_cmpstr(tc, ==, "[overflow 1],e15,e16,e17,e18");

    /* far behind */
    fresh = ev_reader_new(s);
    push_n(s, 19, 1019);
    d = read_all(r, 3);
    td = texts(d);
    g_assert_cmpstr(td, ==, "[overflow 996],e1015,e1016,e1017,e1018");
    g_clear_pointer(&d, g_free);
    g_clear_pointer(&td, g_free);
    d = read_all(fresh, 4096);
    td = texts(d);
    g_assert_cmpstr(td, ==, "[overflow 996],e1015,e1016,e1017,e1018");
    g_assert_cmpuint(ev_stream_pushed(s), ==, 1019);
    ev_reader_free(fresh);
    ev_reader_free(r);
    ev_stream_free(s);
}

/* a reader in the middle of a line finishes that line, then gets the notice */
static void
test_overflow_mid_line(void)
{
    EvStream *s = ev_stream_new(3);
    EvReader *r = ev_reader_new(s);
    GString *all = g_string_new(NULL);
    g_autofree char *rest = NULL;
    g_autofree char *t = NULL;
    char buf[4];

    push_n(s, 0, 1);
    g_assert_cmpuint(ev_reader_read(r, buf, 4), ==, 4);
    g_string_append_len(all, buf, 4);
    push_n(s, 1, 9);      /* lines 1..8; the ring keeps 6..8: 1..5 missed */
    rest = read_all(r, 2);
    g_string_append(all, rest);
    t = texts(all->str);
    g_assert_cmpstr(t, ==, "e0,[overflow 5],e6,e7,e8");
    g_string_free(all, TRUE);
    ev_reader_free(r);
    ev_stream_free(s);
}

/* capacity 0 is treated as 1 */
static void
test_capacity_one(void)
{
    EvStream *s = ev_stream_new(0);
    EvReader *r = ev_reader_new(s);
    g_autofree char *a = NULL;
    g_autofree char *ta = NULL;

    push_n(s, 0, 3);
    a = read_all(r, 64);
    ta = texts(a);
    g_assert_cmpstr(ta, ==, "[overflow 2],e2");
    ev_reader_free(r);
    ev_stream_free(s);
}

/* ---- waiting without a thread (completions) ---- */

/* A completion that records its result, waited on with a condition variable. */
typedef struct {
    GMutex lock;
    GCond cond;
    int calls;
    int result;
} Waited;

static void
waited_fn(void *data, int result)
{
    Waited *w = data;

    g_mutex_lock(&w->lock);
    w->calls++;
    w->result = result;
    g_cond_broadcast(&w->cond);
    g_mutex_unlock(&w->lock);
}

static Completion *
waited_new(Waited *w)
{
    memset(w, 0, sizeof(*w));
    g_mutex_init(&w->lock);
    g_cond_init(&w->cond);
    return completion_new(waited_fn, w, NULL);
}

/* Whether W was completed within TIMEOUT_US. */
static bool
waited_done(Waited *w, gint64 timeout_us)
{
    gint64 end = g_get_monotonic_time() + timeout_us;
    bool done;

    g_mutex_lock(&w->lock);
    while (!w->calls && g_cond_wait_until(&w->cond, &w->lock, end))
        ;
    done = w->calls > 0;
    g_mutex_unlock(&w->lock);
    return done;
}

static void
test_wait_timeout(void)
{
    EvStream *s = ev_stream_new(4);
    EvReader *r = ev_reader_new(s);
    Waited w;
    Completion *c = waited_new(&w);

    /* nothing pending: the reader waits, and nothing completes it by itself */
    g_assert_true(ev_reader_wait(r, c));
    g_assert_false(waited_done(&w, 150 * 1000));
    /* a push completes it, once, with 0 */
    ev_stream_push(s, "x");
    g_assert_true(waited_done(&w, 10 * G_USEC_PER_SEC));
    g_assert_cmpint(w.calls, ==, 1);
    g_assert_cmpint(w.result, ==, 0);
    completion_unref(c);
    /* something pending: no wait at all */
    c = waited_new(&w);
    g_assert_false(ev_reader_wait(r, c));
    g_assert_false(completion_is_done(c));
    completion_unref(c);
    ev_reader_free(r);
    ev_stream_free(s);
}

typedef struct {
    EvStream *s;
    gint64 delay_us;
} Waker;

static gpointer
push_later(gpointer data)
{
    Waker *w = data;

    g_usleep((gulong)w->delay_us);
    ev_stream_push(w->s, "wake");
    return NULL;
}

static void
test_wait_woken_by_push(void)
{
    EvStream *s = ev_stream_new(4);
    EvReader *r = ev_reader_new(s);
    Waker wk = { s, 100 * 1000 };
    Waited w;
    Completion *c = waited_new(&w);
    GThread *th;
    g_autofree char *got = NULL;
    g_autofree char *t = NULL;

    g_assert_true(ev_reader_wait(r, c));
    th = g_thread_new("pusher", push_later, &wk);
    g_assert_true(waited_done(&w, 10 * G_USEC_PER_SEC));
    g_thread_join(th);
    got = read_all(r, 64);
    t = texts(got);
    g_assert_cmpstr(t, ==, "wake");
    completion_unref(c);
    ev_reader_free(r);
    ev_stream_free(s);
}

static void
test_wait_cancel(void)
{
    EvStream *s = ev_stream_new(4);
    EvReader *r = ev_reader_new(s);
    Waited w;
    Waited w2;
    Completion *c = waited_new(&w);
    Completion *c2 = waited_new(&w2);

    /* a waiter taken back is not completed by a later push; another still is */
    g_assert_true(ev_reader_wait(r, c));
    g_assert_true(ev_reader_wait(r, c2));
    ev_reader_cancel(r, c);
    ev_stream_push(s, "x");
    g_assert_true(waited_done(&w2, 10 * G_USEC_PER_SEC));
    g_assert_false(waited_done(&w, 100 * 1000));
    /* a completion cancelled elsewhere (an interrupt) stays uncalled even if completed */
    completion_unref(c);
    c = waited_new(&w);
    {
        g_autofree char *drain = read_all(r, 64);
    }
    g_assert_true(ev_reader_wait(r, c));
    g_assert_true(completion_cancel(c));
    ev_stream_push(s, "y");
    g_assert_false(waited_done(&w, 100 * 1000));
    /* freeing the stream completes what still waits, with -ESHUTDOWN */
    completion_unref(c2);
    c2 = waited_new(&w2);
    {
        g_autofree char *drain = read_all(r, 64);
    }
    g_assert_true(ev_reader_wait(r, c2));
    ev_reader_free(r);
    ev_stream_free(s);
    g_assert_true(waited_done(&w2, 0));
    g_assert_cmpint(w2.result, ==, -ESHUTDOWN);
    completion_unref(c);
    completion_unref(c2);
}

static void
count_notify(void *opaque)
{
    g_atomic_int_inc((gint *)opaque);
}

static void
test_notify(void)
{
    EvStream *s = ev_stream_new(2);
    gint calls = 0;

    ev_stream_push(s, "before");
    ev_stream_set_notify(s, count_notify, &calls);
    push_n(s, 0, 5);
    g_assert_cmpint(g_atomic_int_get(&calls), ==, 5);
    ev_stream_set_notify(s, NULL, NULL);
    push_n(s, 5, 7);
    g_assert_cmpint(g_atomic_int_get(&calls), ==, 5);
    ev_stream_free(s);
}

/* ---- threads ---- */

#define PUSHERS 8
#define PER_PUSHER 2000

typedef struct {
    EvStream *s;
    int id;
} Pusher;

static gpointer
pusher_main(gpointer data)
{
    Pusher *p = data;

    for (int i = 0; i < PER_PUSHER; i++) {
        char text[32];

        snprintf(text, sizeof(text), "t%d %d", p->id, i);
        ev_stream_push(p->s, text);
    }
    return NULL;
}

/* every line arrives exactly once, each thread's lines in its order */
static void
check_lines(const char *all)
{
    g_auto(GStrv) lines = g_strsplit(all, "\n", -1);
    int next[PUSHERS] = { 0 };
    guint n = g_strv_length(lines);

    g_assert_cmpuint(n, ==, PUSHERS * PER_PUSHER + 1);
    for (guint i = 0; i + 1 < n; i++) {
        int id = -1;
        int seq = -1;
        const char *text = strchr(lines[i], ' ');

        g_assert_nonnull(text);
        g_assert_false(g_str_has_prefix(lines[i], "overflow"));
        g_assert_cmpint(sscanf(text + 1, "t%d %d", &id, &seq), ==, 2);
        g_assert_cmpint(id, >=, 0);
        g_assert_cmpint(id, <, PUSHERS);
        g_assert_cmpint(seq, ==, next[id]);
        next[id]++;
    }
    for (int i = 0; i < PUSHERS; i++)
        g_assert_cmpint(next[i], ==, PER_PUSHER);
}

static void
test_concurrent_pushers(void)
{
    EvStream *s = ev_stream_new(PUSHERS * PER_PUSHER);
    EvReader *r = ev_reader_new(s);
    GThread *th[PUSHERS];
    Pusher p[PUSHERS];
    g_autofree char *all = NULL;

    for (int i = 0; i < PUSHERS; i++) {
        p[i] = (Pusher){ s, i };
        th[i] = g_thread_new("pusher", pusher_main, &p[i]);
    }
    for (int i = 0; i < PUSHERS; i++)
        g_thread_join(th[i]);
    g_assert_cmpuint(ev_stream_pushed(s), ==, PUSHERS * PER_PUSHER);
    all = read_all(r, 1000);
    check_lines(all);
    ev_reader_free(r);
    ev_stream_free(s);
}

typedef struct {
    EvReader *r;
    GString *got;
    size_t chunk;
} Reader;

static gpointer
reader_main(gpointer data)
{
    Reader *rd = data;
    char buf[512];
    gint64 end = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
    guint lines = 0;

    while (lines < PUSHERS * PER_PUSHER && g_get_monotonic_time() < end) {
        Waited w;
        g_autoptr(Completion) c = waited_new(&w);
        size_t n;

        /* wait for a line the way FUSE's reads do: a completion, woken by a push */
        if (ev_reader_wait(rd->r, c) && !waited_done(&w, 100 * 1000)) {
            ev_reader_cancel(rd->r, c);
            continue;
        }
        n = ev_reader_read(rd->r, buf, rd->chunk);
        for (size_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
        g_string_append_len(rd->got, buf, (gssize)n);
    }
    return NULL;
}

/* readers waiting while several threads push: nothing lost, nothing doubled */
static void
test_concurrent_push_and_read(void)
{
    EvStream *s = ev_stream_new(PUSHERS * PER_PUSHER);
    GThread *th[PUSHERS];
    GThread *rth[3];
    Pusher p[PUSHERS];
    Reader rd[3];

    for (int i = 0; i < 3; i++) {
        rd[i] = (Reader){ ev_reader_new(s), g_string_new(NULL), (size_t[]){ 1, 37, 512 }[i] };
        rth[i] = g_thread_new("reader", reader_main, &rd[i]);
    }
    for (int i = 0; i < PUSHERS; i++) {
        p[i] = (Pusher){ s, i };
        th[i] = g_thread_new("pusher", pusher_main, &p[i]);
    }
    for (int i = 0; i < PUSHERS; i++)
        g_thread_join(th[i]);
    for (int i = 0; i < 3; i++) {
        g_thread_join(rth[i]);
        check_lines(rd[i].got->str);
        g_string_free(rd[i].got, TRUE);
        ev_reader_free(rd[i].r);
    }
    ev_stream_free(s);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ev_stream/push-read", test_push_read);
    g_test_add_func("/ev_stream/partial-reads", test_partial_reads);
    g_test_add_func("/ev_stream/partial-line-then-more", test_partial_line_then_more);
    g_test_add_func("/ev_stream/two-readers", test_two_readers);
    g_test_add_func("/ev_stream/late-reader", test_late_reader);
    g_test_add_func("/ev_stream/overflow", test_overflow);
    g_test_add_func("/ev_stream/overflow-mid-line", test_overflow_mid_line);
    g_test_add_func("/ev_stream/capacity-one", test_capacity_one);
    g_test_add_func("/ev_stream/wait/timeout", test_wait_timeout);
    g_test_add_func("/ev_stream/wait/woken-by-push", test_wait_woken_by_push);
    g_test_add_func("/ev_stream/wait/cancel", test_wait_cancel);
    g_test_add_func("/ev_stream/notify", test_notify);
    g_test_add_func("/ev_stream/threads/pushers", test_concurrent_pushers);
    g_test_add_func("/ev_stream/threads/push-and-read", test_concurrent_push_and_read);
    return g_test_run();
}
