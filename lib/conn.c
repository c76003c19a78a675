/* conn.c - a libvirt connection kept in a domain cache.
 *
 * Threads (see doc/threads.md for the whole daemon): libvirt's default event loop runs on
 * its own thread (conn_event_loop_start) and only ever queues jobs (conn_events.c). One
 * worker thread per connection takes the jobs in order, asks libvirt for the domain's
 * current truth (dom_fetch_one) and publishes it in the cache, whose listener (the FUSE
 * front end) invalidates kernel caches and then writes the event line. Re-reading the
 * domain instead of applying the event keeps the cache right even when events are
 * coalesced or lost; a vanished domain is simply removed, and its event line still goes
 * out.
 *
 * Health: calls that may block on libvirt are bracketed (conn_call_begin/end); a watchdog
 * on the timer thread marks the connection "stalled" while one has had no answer for a
 * keepalive interval, and a prober thread makes one round trip every interval so a stall
 * shows even when nobody asks anything. libvirt's keepalive gives up on a connection that
 * stops answering; the idle worker notices (virConnectIsAlive, or the close callback) and
 * reopens the URI with a growing delay, reloads everything and publishes what changed
 * meanwhile (resync event lines). Reads are served from the cache throughout; writes get
 * ENOTCONN while reconnecting.
 *
 * The probe has a thread of its own because libvirt's client can leave a call waiting
 * forever on a connection its keepalive declared dead: when two threads are in calls and
 * the one doing the I/O gets the keepalive error, the other polls the silent socket with
 * no timeout until the network comes back. Such a call must never be the worker's, which
 * has to notice the loss and reconnect meanwhile. */
#define G_LOG_DOMAIN "domfs-conn"

#include "conn_priv.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <string.h>

#include "cleanup.h"
#include "dom_fetch.h"
#include "domfs_limits.h"
#include "stop_wait.h"
#include "timer.h"
#include "verr.h"

/* ---- libvirt's event loop ---- */

static GThread *conn_loop_thread;

static gpointer
conn_loop_main(gpointer data)
{
    for (;;) {
        if (virEventRunDefaultImpl() < 0) {
            g_autofree char *msg = NULL;

            verr_take(&msg);
            g_warning("libvirt event loop: %s", msg);
            g_usleep(100 * G_TIME_SPAN_MILLISECOND);
        }
    }
    return NULL;
}

static void
conn_silence_errors(void *opaque, virErrorPtr err)
{
    /* errors are taken with verr_take() and reported where they matter */
}

int
conn_event_loop_start(void)
{
    if (conn_loop_thread)
        return 0;
    virSetErrorFunc(NULL, conn_silence_errors);
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0)
        return -EIO;
    conn_loop_thread = g_thread_new("libvirt-events", conn_loop_main, NULL);
    return 0;
}

/* ---- jobs ---- */

static void
conn_job_free(ConnJob *job)
{
    if (job->dom)
        virDomainFree(job->dom);
    g_free(job->name);
    g_free(job->event);
    g_free(job);
}

void
conn_push_job(DomConn *c, ConnJobKind kind, const char *uuid, virDomainPtr dom,
              const char *name, char *event)
{
    ConnJob *job = g_new0(ConnJob, 1);

    job->kind = kind;
    if (uuid)
        g_strlcpy(job->uuid, uuid, sizeof(job->uuid));
    if (dom && virDomainRef(dom) == 0)
        job->dom = dom;
    job->name = g_strdup(name);
    job->event = event;
    g_async_queue_push(c->jobs, job);
}

/* ---- health ---- */

/* With c->lock held. A change of status after the first connection is also an event line
 * (".domfs connection stalled|recovered|lost|reconnected"), published by the caller once
 * the lock is released: returns it, or NULL. */
static char *
conn_set_status_locked(DomConn *c, ConnStatus st, gint64 since)
{
    ConnStatus was = c->status;

    if (was == st)
        return NULL;
    c->status = st;
    c->since = since;
    if (!c->ever_connected)
        return NULL;
    switch (st) {
    case CONN_STALLED:
        return g_strdup("connection stalled");
    case CONN_RECONNECTING:
        return g_strdup("connection lost");
    case CONN_CONNECTED:
        return g_strdup(was == CONN_STALLED ? "connection recovered" : "connection reconnected");
    }
    return NULL;
}

static void
conn_publish_status(DomConn *c, char *line)
{
    if (line)
        dom_cache_event(c->cache, NULL, ".domfs", line);
    g_free(line);
}

ConnCall *
conn_call_begin_within(DomConn *c, gint64 limit_us)
{
    ConnCall *call = g_new0(ConnCall, 1);
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);

    call->started = g_get_monotonic_time();
    call->limit = limit_us;
    g_ptr_array_add(c->calls, call);
    return call;
}

ConnCall *
conn_call_begin(DomConn *c)
{
    return conn_call_begin_within(c, (gint64)MAX(c->keepalive_interval, 1) * G_USEC_PER_SEC);
}

void
conn_call_end(DomConn *c, ConnCall *call)
{
    g_mutex_lock(&c->lock);
    g_ptr_array_remove_fast(c->calls, call);
    g_mutex_unlock(&c->lock);
    g_free(call);
}

/* The timer thread's look at the calls in flight. */
static gboolean
conn_watchdog(gpointer data)
{
    DomConn *c = data;
    gint64 now = g_get_monotonic_time();
    gint64 overdue = now;     /* when the oldest call past its limit began */
    char *line = NULL;

    g_mutex_lock(&c->lock);
    for (guint i = 0; i < c->calls->len; i++) {
        ConnCall *call = g_ptr_array_index(c->calls, i);

        if (now - call->started >= call->limit)
            overdue = MIN(overdue, call->started);
    }
    if (c->status == CONN_CONNECTED && overdue < now)
        line = conn_set_status_locked(c, CONN_STALLED, g_get_real_time() - (now - overdue));
    else if (c->status == CONN_STALLED && overdue == now)
        line = conn_set_status_locked(c, CONN_CONNECTED, g_get_real_time());
    g_mutex_unlock(&c->lock);
    conn_publish_status(c, line);
    return G_SOURCE_CONTINUE;
}

/* The prober's question to the host: a round trip, so a stall shows. */
static void
conn_probe(DomConn *c, virConnectPtr vc)
{
    ConnCall *call = conn_call_begin(c);
    unsigned long ver;

    if (virConnectGetLibVersion(vc, &ver) < 0)
        virResetLastError();
    conn_call_end(c, call);
}

static gpointer
conn_prober_main(gpointer data)
{
    DomConn *c = data;
    guint64 wait = (guint64)MAX(c->keepalive_interval, 1) * G_USEC_PER_SEC;
    gpointer stop = NULL;

    while (!(stop = g_async_queue_timeout_pop(c->probe_stop, wait))) {
        g_autoptr(virConnect) vc = conn_get_virt(c);

        if (vc)
            conn_probe(c, vc);
    }
    g_free(stop);
    g_atomic_int_set(&c->prober_done, 1);
    return NULL;
}

/* ---- connecting ---- */

static void
conn_take_identity(DomConn *c, virConnectPtr vc)
{
    unsigned long ver = 0;
    char *uri = virConnectGetURI(vc);
    char *host = virConnectGetHostname(vc);
    const char *driver = virConnectGetType(vc);
    g_autoptr(GMutexLocker) locker = NULL;

    if (virConnectGetLibVersion(vc, &ver) < 0)
        ver = 0;
    virResetLastError();
    locker = g_mutex_locker_new(&c->lock);
    if (uri) {
        g_free(c->uri);
        c->uri = g_strdup(uri);
    }
    if (host) {
        g_free(c->hostname);
        c->hostname = g_strdup(host);
    }
    if (ver) {
        g_free(c->libvirt_version);
        c->libvirt_version = g_strdup_printf("%lu.%lu.%lu", ver / 1000000,
                                             (ver / 1000) % 1000, ver % 1000);
    }
    g_free(c->driver);
    c->driver = g_strdup(driver);
    free(uri);
    free(host);
}

static virConnectPtr
conn_open_virt(DomConn *c, char **errmsg)
{
    virConnectPtr vc = virConnectOpen(c->uri_requested);

    if (!vc) {
        verr_take(errmsg);
        return NULL;
    }
    if (c->keepalive_interval &&
        virConnectSetKeepAlive(vc, (int)c->keepalive_interval, c->keepalive_count) < 0)
        virResetLastError();   /* local drivers have no keepalive; nothing to lose */
    conn_take_identity(c, vc);
    return vc;
}

/* Install VC (NULL: lost, WHY says why) as the connection; the old one is closed. */
static void
conn_set_virt(DomConn *c, virConnectPtr vc, const char *why)
{
    virConnectPtr old;
    char *line;

    g_mutex_lock(&c->lock);
    old = c->vc;
    c->vc = vc;
    if (why) {
        g_free(c->last_error);
        c->last_error = g_strdup(why);
    }
    line = conn_set_status_locked(c, vc ? CONN_CONNECTED : CONN_RECONNECTING,
                                  g_get_real_time());
    if (vc)
        c->ever_connected = TRUE;
    g_mutex_unlock(&c->lock);
    if (old) {
        conn_unregister_events(c, old);
        virConnectClose(old);
    }
    conn_publish_status(c, line);
}

/* Connect, subscribe, then load: an event between the subscription and the load only
 * causes a redundant refresh, never a missed change. RESYNC: this is a reconnect, whose
 * differences get event lines. */
static int
conn_connect_and_load(DomConn *c, gboolean resync, char **errmsg)
{
    virConnectPtr vc = conn_open_virt(c, errmsg);
    GPtrArray *all = NULL;
    GPtrArray *doms = NULL;
    ConnCall *call;
    guint64 ticket;
    int ret;

    if (!vc)
        return -ENOTCONN;
    g_atomic_int_set(&c->opened, 1);
    /* libvirt calls, never under c->lock (readers of .domfs/connection take it);
     * callback_ids is only touched by the thread that connects and by conn_close */
    call = conn_call_begin(c);
    conn_register_events(c, vc);
    ticket = dom_cache_ticket(c->cache);
    ret = dom_fetch_all(vc, &all, &doms, errmsg);
    conn_call_end(c, call);
    for (guint i = 0; ret == 0 && i < all->len; i++)
        ((DomInfo *)g_ptr_array_index(all, i))->ticket = ticket;
    if (ret < 0) {
        conn_unregister_events(c, vc);
        virConnectClose(vc);
        return ret;
    }
    dom_cache_replace_all(c->cache, all, resync);
    g_ptr_array_unref(all);
    conn_set_virt(c, vc, NULL);
    conn_load_start(c, doms);
    return 0;
}

int
conn_connect(DomConn *c, char **errmsg)
{
    int ret = conn_connect_and_load(c, FALSE, errmsg);

    if (ret < 0) {
        g_mutex_lock(&c->lock);
        g_free(c->last_error);
        c->last_error = g_strdup(*errmsg);
        g_mutex_unlock(&c->lock);
    }
    return ret;
}

/* ---- refreshing ---- */

typedef struct {
    int state;
    int reason;
    int id;
    guint64 ticket;
} ConnStateFacts;

static DomInfo *
conn_edit_state(const DomInfo *cur, void *data)
{
    const ConnStateFacts *f = data;
    DomInfo *next;

    if (f->ticket < cur->ticket || (f->state == cur->state && f->reason == cur->reason))
        return NULL;
    next = dom_info_copy(cur);
    next->state = f->state;
    next->reason = f->reason;
    next->id = f->id;
    next->confirmed = g_get_real_time();
    next->ticket = f->ticket;
    return next;
}

/* A lifecycle event changes what `state` says: publish that first, with one call, so a
 * reader sees it at once; the full refresh (and the event's line) follows. */
static void
conn_publish_state(DomConn *c, virDomainPtr dom, const char *uuid)
{
    ConnStateFacts f = { .ticket = dom_cache_ticket(c->cache) };
    unsigned int id;

    if (virDomainGetState(dom, &f.state, &f.reason, 0) < 0) {
        virResetLastError();
        return;
    }
    id = virDomainGetID(dom);
    f.id = id == (unsigned int)-1 || f.state == VIR_DOMAIN_SHUTOFF ? -1 : (int)id;
    dom_cache_update(c->cache, uuid, conn_edit_state, &f, NULL);
}

static void
conn_refresh(DomConn *c, virConnectPtr vc, const ConnJob *job)
{
    g_autofree char *msg = NULL;
    DomInfo *d = NULL;
    ConnCall *call = conn_call_begin(c);
    guint64 ticket;
    int ret;

    if (job->dom && job->event && g_str_has_prefix(job->event, "lifecycle "))
        conn_publish_state(c, job->dom, job->uuid);
    ticket = dom_cache_ticket(c->cache);
    ret = dom_fetch_one(vc, job->uuid, job->dom, &d, &msg);
    conn_call_end(c, call);
    if (ret == 0) {
        d->ticket = ticket;
        dom_cache_put(c->cache, d, job->event);
        return;
    }
    if (ret == -ENOENT) {
        dom_cache_remove(c->cache, job->uuid, job->name, job->event);
        return;
    }
    /* the event happened even if the domain cannot be re-read now: its line goes out */
    if (job->event)
        dom_cache_event(c->cache, job->uuid, job->name, job->event);
    g_warning("refreshing %s: %s", job->uuid, msg);
    if (ret == -ENOTCONN || virConnectIsAlive(vc) != 1)
        conn_push_job(c, CONN_JOB_LOST, NULL, NULL, NULL, NULL);
}

int
conn_refresh_domain(DomConn *c, const char *uuid, const char *event)
{
    g_autoptr(virConnect) vc = conn_get_virt(c);
    ConnJob job = { .kind = CONN_JOB_REFRESH, .event = (char *)event };

    if (!vc)
        return -ENOTCONN;
    g_strlcpy(job.uuid, uuid, sizeof(job.uuid));
    conn_refresh(c, vc, &job);
    return 0;
}

/* ---- the worker ---- */

/* Not connected: wait BACKOFF for a STOP, else try again. TRUE when stopping. */
static gboolean
conn_worker_reconnect(DomConn *c, guint64 *backoff_ms)
{
    ConnJob *job = g_async_queue_timeout_pop(c->jobs, *backoff_ms * 1000);
    g_autofree char *msg = NULL;
    gboolean stop = job && job->kind == CONN_JOB_STOP;

    /* whatever else was queued meanwhile is covered by the reload */
    if (job)
        conn_job_free(job);
    if (stop)
        return TRUE;
    if (conn_connect_and_load(c, c->ever_connected, &msg) == 0) {
        g_message("%s: connected", c->uri ? c->uri : "libvirt");
        *backoff_ms = DOMFS_RECONNECT_MIN_MS;
        return FALSE;
    }
    g_mutex_lock(&c->lock);
    g_free(c->last_error);
    c->last_error = g_steal_pointer(&msg);
    g_mutex_unlock(&c->lock);
    *backoff_ms = MIN(*backoff_ms * 2, DOMFS_RECONNECT_MAX_MS);
    return FALSE;
}

/* VC is no longer alive (libvirt's keepalive gave up, the socket closed): reconnect.
 * virConnectIsAlive only looks at the client's state, it makes no call. */
static gboolean
conn_check_alive(DomConn *c, virConnectPtr vc)
{
    if (virConnectIsAlive(vc) == 1)
        return TRUE;
    g_warning("%s: connection to libvirt lost; reconnecting", c->uri ? c->uri : "");
    conn_set_virt(c, NULL, "connection lost");
    return FALSE;
}

/* Connected: one job (or, idle for a keepalive interval, a look at the connection's
 * health: the close callback does not come while a call is stuck on the dead
 * connection). TRUE when stopping. */
static gboolean
conn_worker_step(DomConn *c, virConnectPtr vc)
{
    guint64 wait = (guint64)MAX(c->keepalive_interval, 1) * G_USEC_PER_SEC;
    ConnJob *job = g_async_queue_timeout_pop(c->jobs, wait);
    gboolean stop = FALSE;

    if (!job) {
        conn_check_alive(c, vc);
        return FALSE;
    }
    switch (job->kind) {
    case CONN_JOB_STOP:
        stop = TRUE;
        break;
    case CONN_JOB_LOST:
        conn_check_alive(c, vc);
        break;
    case CONN_JOB_REFRESH:
        conn_refresh(c, vc, job);
        break;
    }
    conn_job_free(job);
    return stop;
}

static gpointer
conn_worker_main(gpointer data)
{
    DomConn *c = data;
    guint64 backoff_ms = DOMFS_RECONNECT_MIN_MS;
    gboolean stop = FALSE;

    while (!stop) {
        g_autoptr(virConnect) vc = conn_get_virt(c);

        stop = vc ? conn_worker_step(c, vc) : conn_worker_reconnect(c, &backoff_ms);
    }
    g_atomic_int_set(&c->worker_done, 1);
    return NULL;
}

/* ---- lifecycle ---- */

DomConn *
conn_new(const ConnConfig *cfg)
{
    DomConn *c = g_new0(DomConn, 1);

    g_mutex_init(&c->lock);
    g_mutex_init(&c->load_lock);
    conn_registry_add(c);
    c->uri_requested = g_strdup(cfg->uri);
    c->keepalive_interval = cfg->keepalive_interval;
    c->keepalive_count = cfg->keepalive_count;
    c->callback_ids = g_array_new(FALSE, FALSE, sizeof(int));
    c->calls = g_ptr_array_new();
    c->status = CONN_RECONNECTING;
    c->since = g_get_real_time();
    /* what .domfs/connection says of a host whose first attempt has not ended yet (with
     * several hosts the mount may come up before it does) */
    c->last_error = g_strdup("no answer yet: the first connection attempt is under way");
    c->jobs = g_async_queue_new_full((GDestroyNotify)conn_job_free);
    c->wanted = g_async_queue_new_full(g_free);
    c->probe_stop = g_async_queue_new_full(g_free);
    c->cache = dom_cache_new(cfg->listener, cfg->listener_opaque);
    return c;
}

void
conn_start(DomConn *c)
{
    gint64 every = (gint64)MAX(c->keepalive_interval, 2) * G_USEC_PER_SEC / 2;

    c->worker = g_thread_new("conn-worker", conn_worker_main, c);
    c->prober = g_thread_new("conn-prober", conn_prober_main, c);
    c->watchdog = timer_add_periodic(every, conn_watchdog, c, NULL);
}

gboolean
conn_close(DomConn *c)
{
    virConnectPtr vc;

    if (!c)
        return TRUE;
    /* from here on, event callbacks still running or queued reach nothing */
    conn_registry_remove(c);
    g_atomic_int_set(&c->stopping, 1);
    timer_cancel_wait(c->watchdog);
    if (c->worker) {
        conn_push_job(c, CONN_JOB_STOP, NULL, NULL, NULL, NULL);
        g_async_queue_push(c->probe_stop, g_strdup("stop"));
        if (!stop_wait(&c->worker_done, 1) || !stop_wait(&c->prober_done, 1) ||
            !conn_load_wait(c)) {
            g_warning("%s: a libvirt call does not return: leaving the connection as it is",
                      c->uri ? c->uri : "libvirt");
            return FALSE;
        }
        g_thread_join(c->worker);
        g_thread_join(c->prober);
    }
    conn_load_join(c);
    g_mutex_lock(&c->lock);
    vc = g_steal_pointer(&c->vc);
    g_mutex_unlock(&c->lock);
    if (vc) {
        conn_unregister_events(c, vc);
        virConnectClose(vc);
    }
    dom_cache_free(c->cache);
    g_async_queue_unref(c->jobs);
    g_async_queue_unref(c->wanted);
    g_async_queue_unref(c->probe_stop);
    g_array_unref(c->callback_ids);
    g_ptr_array_unref(c->calls);
    g_free(c->uri_requested);
    g_free(c->uri);
    g_free(c->hostname);
    g_free(c->libvirt_version);
    g_free(c->driver);
    g_free(c->last_error);
    g_mutex_clear(&c->lock);
    g_mutex_clear(&c->load_lock);
    g_free(c);
    return TRUE;
}

/* ---- what users see ---- */

DomCache *
conn_cache(DomConn *c)
{
    return c->cache;
}

char *
conn_hostname(DomConn *c)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);

    return g_strdup(c->hostname);
}

gboolean
conn_is_remote(DomConn *c)
{
    g_autoptr(GUri) uri = NULL;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);
    const char *u = c->uri ? c->uri : c->uri_requested;

    uri = g_uri_parse(u ? u : "", G_URI_FLAGS_NON_DNS, NULL);
    return uri && g_uri_get_host(uri) && *g_uri_get_host(uri);
}

ConnStatus
conn_status(DomConn *c, gint64 *since_us)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);

    if (since_us)
        *since_us = c->since;
    return c->status;
}

gboolean
conn_is_connected(DomConn *c)
{
    return conn_status(c, NULL) != CONN_RECONNECTING;
}

virConnectPtr
conn_get_virt(DomConn *c)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);

    if (c->vc)
        virConnectRef(c->vc);
    return c->vc;
}

static char *
conn_time_text(gint64 real_us)
{
    g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(real_us / G_USEC_PER_SEC);

    return t ? g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("?");
}

void
conn_describe(DomConn *c, GString *s)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);
    g_autofree char *since = conn_time_text(c->since);
    const char *uri = c->uri ? c->uri : c->uri_requested;

    g_string_append_printf(s, "uri %s\n", uri ? uri : "");
    g_string_append_printf(s, "hostname %s\n", c->hostname ? c->hostname : "");
    g_string_append_printf(s, "driver %s\n", c->driver ? c->driver : "");
    g_string_append_printf(s, "libvirt %s\n", c->libvirt_version ? c->libvirt_version : "");
    if (c->status == CONN_CONNECTED)
        g_string_append(s, "status connected\n");
    else
        g_string_append_printf(s, "status %s since %s\n",
                               c->status == CONN_STALLED ? "stalled" : "reconnecting", since);
    if (c->status == CONN_RECONNECTING && c->last_error)
        g_string_append_printf(s, "last_error %s\n", c->last_error);
    g_clear_pointer(&locker, g_mutex_locker_free);
    g_string_append_printf(s, "guests %u\n", dom_cache_size(c->cache));
}

gboolean
conn_was_opened(DomConn *c)
{
    return g_atomic_int_get(&c->opened) != 0;
}
