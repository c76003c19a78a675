/* conn.c - a libvirt connection kept in a domain cache.
 *
 * Threads: libvirt's default event loop runs on its own thread (conn_event_loop_start)
 * and only ever queues jobs: a domain event becomes a "refresh this uuid" job carrying
 * the event's words, the connection's close callback becomes a "lost" job. One worker
 * thread per connection takes the jobs in order, asks libvirt for the domain's current
 * truth (dom_fetch_one) and publishes it in the cache, whose listener (the FUSE front end)
 * invalidates kernel caches. Re-reading the domain instead of applying the event keeps the
 * cache right even when events are coalesced or lost; a vanished domain is simply removed.
 *
 * When the connection is lost, reads keep being served from the cache while the worker
 * reopens the URI with a growing delay; once back it re-registers the events and reloads
 * everything, publishing only what changed. Writes meanwhile get ENOTCONN. */
#include "conn.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <string.h>
#include <time.h>

#include "dom_fetch.h"
#include "verr.h"

typedef enum {
    CONN_JOB_REFRESH,
    CONN_JOB_LOST,
    CONN_JOB_STOP,
} ConnJobKind;

typedef struct {
    ConnJobKind kind;
    char uuid[VIR_UUID_STRING_BUFLEN];
    virDomainPtr dom;      /* the event's domain (a reference), or NULL */
    char *event;
} ConnJob;

/* What libvirt's event callbacks hold is a connection number, not a pointer: a DomConn can
 * be closed while a callback runs on the event loop thread (deregistering does not wait
 * for it, and libvirt may release a callback's data only at its next dispatch), so the
 * callbacks look their connection up in this registry, which conn_close leaves first. */
static GMutex conn_registry_lock;
static GHashTable *conn_registry;   /* id -> DomConn */
static guint conn_registry_next;

struct DomConn {
    char *name;
    guint id;                /* in conn_registry; the event callbacks' opaque */
    char *uri_requested;     /* NULL: libvirt default */
    DomCache *cache;

    GMutex lock;             /* protects everything below */
    virConnectPtr vc;        /* NULL while reconnecting */
    char *uri;               /* as libvirt reports it */
    char *hostname;
    char *libvirt_version;
    char *driver;
    GArray *callback_ids;    /* of int */
    gboolean connected;
    char *last_error;        /* why the last (re)connect attempt failed */
    char *note;

    GAsyncQueue *jobs;
    GThread *worker;

    /* the background XML load after a bulk load (see conn_warmup_main) */
    GPtrArray *warmup_threads;
    GPtrArray *warmup_doms;      /* virDomainPtr of the bulk load, in order */
    gint warmup_next;            /* next index into warmup_doms */
    GAsyncQueue *wanted;         /* uuids readers wait for: loaded first */
    volatile gint stopping;
};

#define CONN_WARMUP_THREADS 4
#define CONN_LOAD_WAIT_US (10 * G_USEC_PER_SEC)

static GThread *conn_loop_thread;

static gpointer
conn_loop_main(gpointer data)
{
    for (;;) {
        if (virEventRunDefaultImpl() < 0) {
            g_autofree char *msg = NULL;

            verr_take(&msg);
            g_warning("libvirt event loop: %s", msg);
            g_usleep(100 * 1000);
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

static void
conn_job_free(ConnJob *job)
{
    if (job->dom)
        virDomainFree(job->dom);
    g_free(job->event);
    g_free(job);
}

static void
conn_push_job(DomConn *c, ConnJobKind kind, const char *uuid, virDomainPtr dom, char *event)
{
    ConnJob *job = g_new0(ConnJob, 1);

    job->kind = kind;
    if (uuid)
        g_strlcpy(job->uuid, uuid, sizeof(job->uuid));
    if (dom && virDomainRef(dom) == 0)
        job->dom = dom;
    job->event = event;
    g_async_queue_push(c->jobs, job);
}

static void
conn_push(DomConn *c, ConnJobKind kind, const char *uuid, char *event)
{
    conn_push_job(c, kind, uuid, NULL, event);
}

static void
conn_registry_push(void *opaque, ConnJobKind kind, const char *uuid, virDomainPtr dom,
                   char *event)
{
    DomConn *c;

    g_mutex_lock(&conn_registry_lock);
    c = conn_registry ? g_hash_table_lookup(conn_registry, opaque) : NULL;
    if (c)
        conn_push_job(c, kind, uuid, dom, event);
    else
        g_free(event);
    g_mutex_unlock(&conn_registry_lock);
}

static void
conn_push_dom(void *opaque, virDomainPtr dom, char *event)
{
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (virDomainGetUUIDString(dom, uuid) < 0) {
        g_free(event);
        return;
    }
    conn_registry_push(opaque, CONN_JOB_REFRESH, uuid, dom, event);
}

/* ---- libvirt event callbacks: on the event loop thread, only queue ---- */

static const char *
conn_lifecycle_words(int event, int detail, const char **detail_word)
{
    static const char *const events[] = {
        "defined", "undefined", "started", "suspended", "resumed", "stopped",
        "shutdown", "pmsuspended", "crashed",
    };
    static const char *const details[][9] = {
        { "added", "updated", "renamed", "from-snapshot" },
        { "removed", "renamed" },
        { "booted", "migrated", "restored", "from-snapshot", "wakeup" },
        { "paused", "migrated", "ioerror", "watchdog", "restored", "from-snapshot",
          "api-error", "postcopy", "postcopy-failed" },
        { "unpaused", "migrated", "from-snapshot", "postcopy", "postcopy-failed" },
        { "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
          "from-snapshot" },
        { "finished", "guest", "host" },
        { "memory", "disk" },
        { "panicked", "crashloaded" },
    };

    *detail_word = "unknown";
    if (event < 0 || event >= (int)G_N_ELEMENTS(events))
        return "unknown";
    if (detail >= 0 && detail < 9 && details[event][detail])
        *detail_word = details[event][detail];
    return events[event];
}

static int
conn_on_lifecycle(virConnectPtr vc, virDomainPtr dom, int event, int detail, void *opaque)
{
    const char *dword;
    const char *eword = conn_lifecycle_words(event, detail, &dword);

    conn_push_dom(opaque, dom, g_strdup_printf("lifecycle %s %s", eword, dword));
    return 0;
}

static void
conn_on_reboot(virConnectPtr vc, virDomainPtr dom, void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup("reboot -"));
}

static void
conn_on_device_added(virConnectPtr vc, virDomainPtr dom, const char *alias, void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("device-added %s", alias));
}

static void
conn_on_device_removed(virConnectPtr vc, virDomainPtr dom, const char *alias, void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("device-removed %s", alias));
}

static void
conn_on_tray_change(virConnectPtr vc, virDomainPtr dom, const char *alias, int reason,
                    void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("tray-change %s %s", alias,
                  reason == VIR_DOMAIN_EVENT_TRAY_CHANGE_OPEN ? "open" : "close"));
}

static void
conn_on_disk_change(virConnectPtr vc, virDomainPtr dom, const char *old_src,
                    const char *new_src, const char *alias, int reason, void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("disk-change %s", alias));
}

static void
conn_on_metadata_change(virConnectPtr vc, virDomainPtr dom, int type, const char *nsuri,
                        void *opaque)
{
    static const char *const types[] = { "description", "title", "element" };

    conn_push_dom(opaque, dom, g_strdup_printf("metadata-change %s",
                  type >= 0 && type < 3 ? types[type] : "unknown"));
}

static void
conn_on_balloon_change(virConnectPtr vc, virDomainPtr dom, unsigned long long actual,
                       void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("balloon-change %llu", actual));
}

static void
conn_on_job_completed(virConnectPtr vc, virDomainPtr dom, virTypedParameterPtr params,
                      int nparams, void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup("job-completed -"));
}

static void
conn_on_close(virConnectPtr vc, int reason, void *opaque)
{
    conn_registry_push(opaque, CONN_JOB_LOST, NULL, NULL, NULL);
}

static void
conn_register_events(DomConn *c, virConnectPtr vc)
{
    static const struct {
        int id;
        virConnectDomainEventGenericCallback cb;
    } evs[] = {
        { VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(conn_on_lifecycle) },
        { VIR_DOMAIN_EVENT_ID_REBOOT, VIR_DOMAIN_EVENT_CALLBACK(conn_on_reboot) },
        { VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_CALLBACK(conn_on_device_added) },
        { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
          VIR_DOMAIN_EVENT_CALLBACK(conn_on_device_removed) },
        { VIR_DOMAIN_EVENT_ID_TRAY_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(conn_on_tray_change) },
        { VIR_DOMAIN_EVENT_ID_DISK_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(conn_on_disk_change) },
        { VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
          VIR_DOMAIN_EVENT_CALLBACK(conn_on_metadata_change) },
        { VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
          VIR_DOMAIN_EVENT_CALLBACK(conn_on_balloon_change) },
        { VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
          VIR_DOMAIN_EVENT_CALLBACK(conn_on_job_completed) },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(evs); i++) {
        int id = virConnectDomainEventRegisterAny(vc, NULL, evs[i].id, evs[i].cb,
                                                  GUINT_TO_POINTER(c->id), NULL);

        if (id < 0) {
            /* an older or limited driver lacks some events: the others still work */
            g_autofree char *msg = NULL;

            verr_take(&msg);
            g_debug("event %d not available: %s", evs[i].id, msg);
            continue;
        }
        g_array_append_val(c->callback_ids, id);
    }
    if (virConnectRegisterCloseCallback(vc, conn_on_close, GUINT_TO_POINTER(c->id),
                                        NULL) < 0) {
        g_autofree char *msg = NULL;

        verr_take(&msg);
    }
}

static void
conn_unregister_events(DomConn *c, virConnectPtr vc)
{
    for (guint i = 0; i < c->callback_ids->len; i++)
        virConnectDomainEventDeregisterAny(vc, g_array_index(c->callback_ids, int, i));
    g_array_set_size(c->callback_ids, 0);
    virConnectUnregisterCloseCallback(vc, conn_on_close);
    virResetLastError();
}

/* Open the URI and fill the identity fields. Returns a connection or NULL (*errmsg). */
static virConnectPtr
conn_open_virt(DomConn *c, char **errmsg)
{
    virConnectPtr vc = virConnectOpen(c->uri_requested);
    unsigned long ver = 0;
    char *s;

    if (!vc) {
        verr_take(errmsg);
        return NULL;
    }
    if (virConnectSetKeepAlive(vc, 5, 3) < 0)
        virResetLastError();   /* local drivers have no keepalive; nothing to lose */

    g_mutex_lock(&c->lock);
    if ((s = virConnectGetURI(vc))) {
        g_free(c->uri);
        c->uri = g_strdup(s);
        free(s);
    }
    if ((s = virConnectGetHostname(vc))) {
        g_free(c->hostname);
        c->hostname = g_strdup(s);
        free(s);
    }
    if (virConnectGetLibVersion(vc, &ver) == 0) {
        g_free(c->libvirt_version);
        c->libvirt_version = g_strdup_printf("%lu.%lu.%lu", ver / 1000000,
                                             (ver / 1000) % 1000, ver % 1000);
    }
    g_free(c->driver);
    c->driver = g_strdup(virConnectGetType(vc));
    g_mutex_unlock(&c->lock);
    virResetLastError();
    return vc;
}

static void
conn_set_connected(DomConn *c, virConnectPtr vc, const char *why)
{
    virConnectPtr old;

    g_mutex_lock(&c->lock);
    old = c->vc;
    c->vc = vc;
    c->connected = vc != NULL;
    g_free(c->last_error);
    c->last_error = g_strdup(why);
    g_mutex_unlock(&c->lock);
    if (old) {
        conn_unregister_events(c, old);
        virConnectClose(old);
    }
}

/* Connect, subscribe, then load: an event between the subscription and the load only
 * causes a redundant refresh, never a missed change. */
/* Complete the snapshot of DOM with its XML, unless something (an event's refresh, which
 * fetches everything) already did. */
static void
conn_load_one(DomConn *c, virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autofree char *msg = NULL;
    g_autoptr(DomInfo) before = NULL;
    DomInfo *next = NULL;
    DomInfo *cur;

    if (virDomainGetUUIDString(dom, uuid) < 0)
        return;
    before = dom_cache_get_uuid(c->cache, uuid);
    if (!before || before->loaded)
        return;
    /* the round trip happens unlocked, so the loaders run in parallel */
    if (dom_fetch_load(dom, before, &next, &msg) < 0) {
        virResetLastError();
        return;
    }
    dom_cache_lock_updates(c->cache);
    cur = dom_cache_get_uuid(c->cache, uuid);
    if (cur == before) {
        dom_cache_put(c->cache, g_steal_pointer(&next), NULL);
    } else if (cur && !cur->loaded) {
        /* changed meanwhile (an error recorded...) but still without XML: complete the
         * newer snapshot rather than undo its change */
        DomInfo *merged = dom_info_copy(cur);

        g_free(merged->xml);
        merged->xml = g_strdup(next->xml);
        dom_info_fill_from_xml(merged, cur->counts_from_xml, cur->counts_from_xml);
        merged->loaded = TRUE;
        dom_cache_put(c->cache, merged, NULL);
    }
    dom_cache_unlock_updates(c->cache);
    dom_info_unref(cur);
    dom_info_unref(next);
}

/* The background load: guests readers wait for first, then every guest in order. */
static gpointer
conn_warmup_main(gpointer data)
{
    DomConn *c = data;
    virConnectPtr vc = conn_get_virt(c);

    while (vc && !g_atomic_int_get(&c->stopping)) {
        char *uuid = g_async_queue_try_pop(c->wanted);
        gint i;

        if (uuid) {
            virDomainPtr dom = virDomainLookupByUUIDString(vc, uuid);

            if (dom) {
                conn_load_one(c, dom);
                virDomainFree(dom);
            }
            virResetLastError();
            g_free(uuid);
            continue;
        }
        i = g_atomic_int_add(&c->warmup_next, 1);
        if (i >= (gint)c->warmup_doms->len)
            break;
        conn_load_one(c, g_ptr_array_index(c->warmup_doms, i));
    }
    if (vc)
        virConnectClose(vc);
    return NULL;
}

static void
conn_warmup_join(DomConn *c)
{
    for (guint i = 0; c->warmup_threads && i < c->warmup_threads->len; i++)
        g_thread_join(g_ptr_array_index(c->warmup_threads, i));
    g_clear_pointer(&c->warmup_threads, g_ptr_array_unref);
    g_clear_pointer(&c->warmup_doms, g_ptr_array_unref);
}

static void
conn_warmup_start(DomConn *c, GPtrArray *doms)
{
    conn_warmup_join(c);
    c->warmup_doms = doms;
    c->warmup_next = 0;
    c->warmup_threads = g_ptr_array_new();
    for (int i = 0; i < CONN_WARMUP_THREADS && (guint)i < doms->len; i++)
        g_ptr_array_add(c->warmup_threads, g_thread_new("conn-load", conn_warmup_main, c));
}

DomInfo *
conn_get_loaded(DomConn *c, const char *dirname)
{
    DomInfo *d = dom_cache_get(c->cache, dirname);
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (!d || d->loaded)
        return d;
    memcpy(uuid, d->uuid, sizeof(uuid));
    dom_info_unref(d);
    g_async_queue_push(c->wanted, g_strdup(uuid));
    d = dom_cache_wait_loaded(c->cache, uuid, CONN_LOAD_WAIT_US);
    /* renamed meanwhile: the directory asked for is gone */
    if (d && strcmp(d->dirname, dirname) != 0)
        g_clear_pointer(&d, dom_info_unref);
    return d;
}

static int
conn_connect_and_load(DomConn *c, const char *event, char **errmsg)
{
    virConnectPtr vc = conn_open_virt(c, errmsg);
    GPtrArray *all = NULL;
    GPtrArray *doms = NULL;
    int ret;

    if (!vc)
        return -ENOTCONN;
    g_mutex_lock(&c->lock);
    conn_register_events(c, vc);
    g_mutex_unlock(&c->lock);
    if ((ret = dom_fetch_all(vc, &all, &doms, errmsg)) < 0) {
        conn_unregister_events(c, vc);
        virConnectClose(vc);
        return ret;
    }
    dom_cache_replace_all(c->cache, all, event);
    g_ptr_array_unref(all);
    conn_set_connected(c, vc, NULL);
    conn_warmup_start(c, doms);
    return 0;
}

/* A lifecycle event changes what `state` says: publish that first, with one call, so a
 * reader sees it at once; the full refresh (and the event's line) follows. */
static void
conn_publish_state(DomConn *c, virDomainPtr dom, const char *uuid)
{
    g_autoptr(DomInfo) cur = dom_cache_get_uuid(c->cache, uuid);
    unsigned int id;
    int state;
    int reason;
    DomInfo *next;

    if (!cur || virDomainGetState(dom, &state, &reason, 0) < 0) {
        virResetLastError();
        return;
    }
    if (state == cur->state && reason == cur->reason)
        return;
    next = dom_info_copy(cur);
    next->state = state;
    next->reason = reason;
    id = virDomainGetID(dom);
    next->id = id == (unsigned int)-1 || state == VIR_DOMAIN_SHUTOFF ? -1 : (int)id;
    dom_cache_put(c->cache, next, NULL);
}

static void
conn_refresh(DomConn *c, virConnectPtr vc, const char *uuid, virDomainPtr known,
             const char *event)
{
    g_autofree char *msg = NULL;
    DomInfo *d = NULL;
    int ret;

    dom_cache_lock_updates(c->cache);
    if (known && event && g_str_has_prefix(event, "lifecycle "))
        conn_publish_state(c, known, uuid);
    ret = dom_fetch_one(vc, uuid, known, &d, &msg);
    if (ret == 0)
        dom_cache_put_fetched(c->cache, d, event);
    else if (ret == -ENOENT)
        dom_cache_remove(c->cache, uuid, event);
    dom_cache_unlock_updates(c->cache);
    if (ret < 0 && ret != -ENOENT) {
        g_warning("%s: refreshing %s: %s", c->name, uuid, msg);
        if (ret == -ENOTCONN || virConnectIsAlive(vc) != 1)
            conn_push(c, CONN_JOB_LOST, NULL, NULL);
    }
}

static gpointer
conn_worker_main(gpointer data)
{
    DomConn *c = data;
    guint64 backoff_ms = 250;

    for (;;) {
        ConnJob *job;
        virConnectPtr vc = conn_get_virt(c);

        if (vc) {
            job = g_async_queue_pop(c->jobs);
        } else {
            job = g_async_queue_timeout_pop(c->jobs, backoff_ms * 1000);
            if (!job || job->kind != CONN_JOB_STOP) {
                g_autofree char *msg = NULL;

                if (conn_connect_and_load(c, NULL, &msg) == 0) {
                    g_message("%s: reconnected", c->name);
                    backoff_ms = 250;
                } else {
                    g_mutex_lock(&c->lock);
                    g_free(c->last_error);
                    c->last_error = g_steal_pointer(&msg);
                    g_mutex_unlock(&c->lock);
                    backoff_ms = MIN(backoff_ms * 2, 2000);
                }
                /* what was queued while disconnected is covered by the reload */
                if (job && job->kind == CONN_JOB_LOST) {
                    conn_job_free(job);
                    job = NULL;
                }
                if (!job)
                    continue;
            }
        }

        switch (job->kind) {
        case CONN_JOB_STOP:
            conn_job_free(job);
            if (vc)
                virConnectClose(vc);
            return NULL;
        case CONN_JOB_LOST:
            if (vc && virConnectIsAlive(vc) != 1) {
                g_warning("%s: connection to libvirt lost; reconnecting", c->name);
                conn_set_connected(c, NULL, "connection lost");
            }
            break;
        case CONN_JOB_REFRESH:
            if (vc)
                conn_refresh(c, vc, job->uuid, job->dom, job->event);
            break;
        }
        if (vc)
            virConnectClose(vc);
        conn_job_free(job);
    }
}

DomConn *
conn_open(const char *name, const char *uri, DomCacheChangeFn change_fn, void *opaque,
          GError **error)
{
    DomConn *c = g_new0(DomConn, 1);
    g_autofree char *msg = NULL;

    g_mutex_init(&c->lock);
    g_mutex_lock(&conn_registry_lock);
    if (!conn_registry)
        conn_registry = g_hash_table_new(g_direct_hash, g_direct_equal);
    c->id = ++conn_registry_next;
    g_hash_table_insert(conn_registry, GUINT_TO_POINTER(c->id), c);
    g_mutex_unlock(&conn_registry_lock);
    c->uri_requested = g_strdup(uri);
    c->callback_ids = g_array_new(FALSE, FALSE, sizeof(int));
    c->jobs = g_async_queue_new_full((GDestroyNotify)conn_job_free);
    c->wanted = g_async_queue_new_full(g_free);
    c->cache = dom_cache_new(change_fn, opaque);
    if (conn_connect_and_load(c, NULL, &msg) < 0) {
        g_set_error(error, g_quark_from_static_string("domfs-conn"), 1, "cannot open %s: %s",
                    uri ? uri : "libvirt's default URI", msg ? msg : "unknown error");
        conn_close(c);
        return NULL;
    }
    c->name = g_strdup(name ? name : (c->hostname ? c->hostname : "localhost"));
    c->worker = g_thread_new("conn-worker", conn_worker_main, c);
    return c;
}

void
conn_close(DomConn *c)
{
    if (!c)
        return;
    /* from here on, event callbacks still running or queued reach nothing */
    g_mutex_lock(&conn_registry_lock);
    g_hash_table_remove(conn_registry, GUINT_TO_POINTER(c->id));
    g_mutex_unlock(&conn_registry_lock);
    g_atomic_int_set(&c->stopping, 1);
    if (c->worker) {
        conn_push(c, CONN_JOB_STOP, NULL, NULL);
        g_thread_join(c->worker);
    }
    conn_warmup_join(c);
    conn_set_connected(c, NULL, NULL);
    dom_cache_free(c->cache);
    g_async_queue_unref(c->jobs);
    g_async_queue_unref(c->wanted);
    g_array_unref(c->callback_ids);
    g_free(c->name);
    g_free(c->uri_requested);
    g_free(c->uri);
    g_free(c->hostname);
    g_free(c->libvirt_version);
    g_free(c->driver);
    g_free(c->last_error);
    g_free(c->note);
    g_mutex_clear(&c->lock);
    g_free(c);
}

DomCache *
conn_cache(DomConn *c)
{
    return c->cache;
}

const char *
conn_name(DomConn *c)
{
    return c->name;
}

gboolean
conn_is_remote(DomConn *c)
{
    g_autoptr(GUri) uri = NULL;
    gboolean remote;

    g_mutex_lock(&c->lock);
    uri = g_uri_parse(c->uri ? c->uri : "", G_URI_FLAGS_NON_DNS, NULL);
    g_mutex_unlock(&c->lock);
    remote = uri && g_uri_get_host(uri) && *g_uri_get_host(uri);
    return remote;
}

void
conn_set_note(DomConn *c, const char *note)
{
    g_mutex_lock(&c->lock);
    g_free(c->note);
    c->note = g_strdup(note);
    g_mutex_unlock(&c->lock);
}

gboolean
conn_is_connected(DomConn *c)
{
    gboolean ret;

    g_mutex_lock(&c->lock);
    ret = c->connected;
    g_mutex_unlock(&c->lock);
    return ret;
}

virConnectPtr
conn_get_virt(DomConn *c)
{
    virConnectPtr vc;

    g_mutex_lock(&c->lock);
    vc = c->vc;
    if (vc)
        virConnectRef(vc);
    g_mutex_unlock(&c->lock);
    return vc;
}

char *
conn_describe(DomConn *c)
{
    GString *s = g_string_new(NULL);

    g_mutex_lock(&c->lock);
    g_string_append_printf(s, "name %s\n", c->name);
    g_string_append_printf(s, "uri %s\n", c->uri ? c->uri : "");
    g_string_append_printf(s, "hostname %s\n", c->hostname ? c->hostname : "");
    g_string_append_printf(s, "driver %s\n", c->driver ? c->driver : "");
    g_string_append_printf(s, "libvirt %s\n", c->libvirt_version ? c->libvirt_version : "");
    g_string_append_printf(s, "status %s\n", c->connected ? "connected" : "reconnecting");
    if (!c->connected && c->last_error)
        g_string_append_printf(s, "last_error %s\n", c->last_error);
    if (c->note)
        g_string_append_printf(s, "%s\n", c->note);
    g_mutex_unlock(&c->lock);
    g_string_append_printf(s, "guests %u\n", dom_cache_size(c->cache));
    return g_string_free(s, FALSE);
}

int
conn_refresh_domain(DomConn *c, const char *uuid, const char *event)
{
    virConnectPtr vc = conn_get_virt(c);

    if (!vc)
        return -ENOTCONN;
    conn_refresh(c, vc, uuid, NULL, event);
    virConnectClose(vc);
    return 0;
}

void
conn_record_error(DomConn *c, const char *uuid, const char *file, int err, const char *msg)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autofree char *when = g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
    DomInfo *cur;
    DomInfo *next;

    g_warning("%s: %s: write to %s failed: %s (%s)", c->name, uuid, file, msg,
              g_strerror(err));
    dom_cache_lock_updates(c->cache);
    cur = dom_cache_get_uuid(c->cache, uuid);
    if (cur) {
        next = dom_info_copy(cur);
        g_free(next->error);
        next->error = g_strdup_printf("%s %s %s: %s", when, file,
                                      strerrorname_np(err) ? strerrorname_np(err) : "EIO",
                                      msg);
        next->error_serial++;
        dom_cache_put(c->cache, next, NULL);
        dom_info_unref(cur);
    }
    dom_cache_unlock_updates(c->cache);
}

void
conn_set_migrate_status(DomConn *c, const char *uuid, const char *status)
{
    DomInfo *cur;

    dom_cache_lock_updates(c->cache);
    cur = dom_cache_get_uuid(c->cache, uuid);
    if (cur && g_strcmp0(cur->migrate, status) != 0) {
        DomInfo *next = dom_info_copy(cur);

        g_free(next->migrate);
        next->migrate = g_strdup(status);
        dom_cache_put(c->cache, next, NULL);
    }
    dom_info_unref(cur);
    dom_cache_unlock_updates(c->cache);
}
