/* tree.c - the tree's hosts, its changes and their event lines.
 *
 * A node is named by what it shows (host index, guest directory name and uuid, device
 * kind and name, file index), never by a pointer into the cache, so it can be resolved
 * against any snapshot: the current one to serve a request, or an old and a new one to
 * find out which files an event changed.
 *
 * Start-up opens every host in parallel (a thread each); with several hosts the tree comes
 * up once every first attempt ended or, after a first success, once no attempt has ended
 * for as long again as the start-up took so far (DOMFS_START_GRACE_MIN_US at least; never
 * later than DOMFS_START_WAIT_US after the first success): a host that refuses costs
 * nothing, one that never answers (stopped, packets dropped, an address nobody has) at
 * most as long again as the live ones took, never a sum of timeouts. A host that comes
 * later fills its directory in then. */
#define G_LOG_DOMAIN "domfs-tree"

#include "tree_priv.h"

#include <errno.h>
#include <string.h>

#include "domfs_limits.h"
#include "name_escape.h"
#include "timer.h"

/* ---- changes ---- */

static void
tree_change_clear(gpointer p)
{
    TreeChange *ch = p;

    dom_info_unref(ch->old_info);
    dom_info_unref(ch->new_info);
    g_free(ch->event);
    g_free(ch->dirname);
}

TreeChange *
tree_change_ref(TreeChange *ch)
{
    return g_atomic_rc_box_acquire(ch);
}

void
tree_change_unref(TreeChange *ch)
{
    if (ch)
        g_atomic_rc_box_release_full(ch, tree_change_clear);
}

static void
tree_on_stats(Host *h, void *opaque)
{
    Tree *t = opaque;
    void (*fn)(int, void *) = g_atomic_pointer_get(&t->stats_fn);

    if (fn)
        fn((int)host_index(h), t->stats_opaque);
}

void
tree_stats_set_notify(Tree *t, void (*fn)(int host, void *opaque), void *opaque)
{
    t->stats_opaque = opaque;
    g_atomic_pointer_set(&t->stats_fn, (gpointer)fn);
}

static void
tree_on_change(Host *h, const DomChange *dc, void *opaque)
{
    Tree *t = opaque;
    TreeChange *ch = g_atomic_rc_box_new0(TreeChange);

    ch->host = host_index(h);
    ch->old_info = dc->old_info ? dom_info_ref(dc->old_info) : NULL;
    ch->new_info = dc->new_info ? dom_info_ref(dc->new_info) : NULL;
    ch->event = g_strdup(dc->event);
    ch->dirname = g_strdup(dc->dirname);
    if (t->fn)
        t->fn(ch, t->opaque);
    tree_change_unref(ch);
}

/* A guest name as one token of an event line. */
static char *
tree_event_token(const char *dirname)
{
    GString *s = g_string_new(NULL);

    for (const char *p = dirname ? dirname : "-"; *p; p++) {
        if (*p == ' ')
            g_string_append(s, "%20");
        else
            g_string_append_c(s, *p);
    }
    return g_string_free(s, FALSE);
}

void
tree_publish(Tree *t, const TreeChange *ch)
{
    Host *h = tree_host(t, (int)ch->host);
    g_autofree char *name = NULL;
    g_autofree char *line = NULL;

    if (!ch->event || !h)
        return;
    name = tree_event_token(ch->dirname);
    line = g_strdup_printf("%s %s", name, ch->event);
    ev_stream_push(host_events(h), line);
    if (t->top_events) {
        g_autofree char *top = g_strdup_printf("%s/%s", host_name(h), line);

        ev_stream_push(t->top_events, top);
    }
}

/* ---- configuration ---- */

static void
tree_config_copy(TreeConfig *dst, const TreeConfig *src)
{
    *dst = *src;
    dst->hosts = g_new0(TreeHostConfig, src->n_hosts);
    for (guint i = 0; i < src->n_hosts; i++) {
        dst->hosts[i].name = g_strdup(src->hosts[i].name);
        dst->hosts[i].uri = g_strdup(src->hosts[i].uri);
        dst->hosts[i].log_root = g_strdup(src->hosts[i].log_root);
    }
    dst->migrate_uri = g_strdup(src->migrate_uri ? src->migrate_uri : "qemu+ssh://%h/system");
    dst->log_dirs = g_strdupv(src->log_dirs);
    dst->log_roots = g_strdupv(src->log_roots);
    dst->media_dirs = g_strdupv(src->media_dirs);
}

static void
tree_config_clear(TreeConfig *c)
{
    for (guint i = 0; i < c->n_hosts; i++) {
        g_free(c->hosts[i].name);
        g_free(c->hosts[i].uri);
        g_free(c->hosts[i].log_root);
    }
    g_free(c->hosts);
    g_free(c->migrate_uri);
    g_strfreev(c->log_dirs);
    g_strfreev(c->log_roots);
    g_strfreev(c->media_dirs);
}

static Host *
tree_host_new(Tree *t, guint i)
{
    const TreeHostConfig *hc = &t->cfg.hosts[i];
    HostConfig c = {
        hc->name, hc->uri, hc->log_root, t->cfg.log_dirs, t->cfg.console_max,
        t->cfg.keepalive_interval, t->cfg.keepalive_count, t->cfg.stats_interval,
        t->cfg.agent_interval,
    };
    Host *h = host_new(i, &c, tree_on_change, t);

    host_set_stats_listener(h, tree_on_stats, t);
    return h;
}

/* ---- start-up ---- */


typedef struct TreeStartup {
    GMutex lock;              /* guards the counters and each attempt's result */
    GCond cond;
    guint finished;
    gint64 first_up;          /* monotonic time of the first success, 0 before */
    gint64 last_end;          /* monotonic time the last attempt ended, 0 before */
} TreeStartup;

typedef struct TreeAttempt {
    TreeStartup *su;          /* shared, outlives every attempt (owned by the tree) */
    GThread *thread;
    Host *h;
    int ret;
    char *msg;
    gboolean finished;
    gboolean waited;          /* tree_new stopped waiting for it: start the host itself */
} TreeAttempt;

static gpointer
tree_attempt_main(gpointer data)
{
    TreeAttempt *a = data;
    g_autofree char *msg = NULL;
    int ret = host_connect(a->h, &msg);
    gboolean late;

    g_mutex_lock(&a->su->lock);
    a->ret = ret;
    a->msg = g_steal_pointer(&msg);
    a->finished = TRUE;
    a->su->finished++;
    a->su->last_end = g_get_monotonic_time();
    if (ret == 0 && !a->su->first_up)
        a->su->first_up = a->su->last_end;
    late = a->waited;
    g_cond_broadcast(&a->su->cond);
    g_mutex_unlock(&a->su->lock);
    /* the tree came up without this host: it starts (and reconnects) on its own now */
    if (late)
        host_start(a->h);
    return NULL;
}

/* With SU's lock held: when to stop waiting for the attempts still running, given that
 * one succeeded (see the top of this file). */
static gint64
tree_startup_deadline(const TreeStartup *su, gint64 start)
{
    gint64 grace = MAX(su->last_end - start, DOMFS_START_GRACE_MIN_US);

    return MIN(su->first_up + DOMFS_START_WAIT_US, su->last_end + grace);
}

/* Is some host whose attempt is still running answering (opened, still loading)? With
 * SU's lock held. */
static gboolean
tree_startup_loading(Tree *t)
{
    for (guint i = 0; i < t->n_hosts; i++) {
        if (!t->attempts[i].finished && conn_was_opened(host_conn(t->hosts[i])))
            return TRUE;
    }
    return FALSE;
}

/* Wait until every attempt ended, or (one succeeded) until tree_startup_deadline, or
 * (none succeeded) TIMEOUT_US in all: a host that never answers costs a bounded wait. A
 * host that answered and is still loading (10000 guests take a while) is waited for: its
 * calls are bounded by libvirt's keepalive. */
static void
tree_startup_wait(Tree *t, gint64 timeout_us)
{
    TreeStartup *su = t->startup;
    gint64 start = g_get_monotonic_time();

    g_mutex_lock(&su->lock);
    while (su->finished < t->n_hosts) {
        gint64 end = su->first_up ? tree_startup_deadline(su, start) : start + timeout_us;

        if (!su->first_up && g_get_monotonic_time() >= end && tree_startup_loading(t))
            end = g_get_monotonic_time() + DOMFS_START_LOADING_POLL_US;
        if (!g_cond_wait_until(&su->cond, &su->lock, end) && g_get_monotonic_time() >= end &&
            (su->first_up || !tree_startup_loading(t)))
            break;
    }
    g_mutex_unlock(&su->lock);
}

/* --log-root NAME=DIR naming no -c NAME: the host whose name (its hostname) is NAME. */
static gboolean
tree_apply_log_roots(Tree *t, GError **error)
{
    for (gsize i = 0; t->cfg.log_roots && t->cfg.log_roots[i]; i++) {
        const char *spec = t->cfg.log_roots[i];
        const char *eq = strchr(spec, '=');
        g_autofree char *name = g_strndup(spec, (gsize)(eq - spec));
        gboolean found = FALSE;

        for (guint h = 0; h < t->n_hosts; h++) {
            if (g_strcmp0(host_name(t->hosts[h]), name) == 0) {
                host_set_log_root(t->hosts[h], eq + 1);
                found = TRUE;
            }
        }
        if (!found) {
            g_set_error(error, g_quark_from_static_string("domfs-tree"), 1,
                        "--log-root %s: no connection named '%s'", spec, name);
            return FALSE;
        }
    }
    return TRUE;
}

/* Name every host: an explicit -c NAME= must be unique (the user chose it); a name taken
 * from a hostname or a URI that is already in use gets ~2, ~3, ... in -c order (two fresh
 * hosts both called "localhost" must not cost the mount). FALSE with *error. */
static gboolean
tree_name_hosts(Tree *t, GError **error)
{
    g_autoptr(GHashTable) names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < t->n_hosts; i++) {
        g_autofree char *name = NULL;

        if (!t->cfg.hosts[i].name)
            continue;
        name = host_wanted_name(t->hosts[i]);
        host_set_name(t->hosts[i], name);
        if (!g_hash_table_add(names, g_steal_pointer(&name))) {
            g_set_error(error, g_quark_from_static_string("domfs-tree"), 1,
                        "two connections are named '%s'", host_name(t->hosts[i]));
            return FALSE;
        }
    }
    for (guint i = 0; i < t->n_hosts; i++) {
        g_autofree char *base = NULL;
        g_autofree char *name = NULL;

        if (t->cfg.hosts[i].name)
            continue;
        base = host_wanted_name(t->hosts[i]);
        name = g_strdup(base);
        for (guint k = 2; g_hash_table_contains(names, name); k++) {
            g_free(name);
            name = name_with_suffix(base, k);
        }
        if (strcmp(name, base) != 0)
            g_warning("%s: another connection is named '%s' too; this one is '%s' (name "
                      "connections with -c NAME=URI)", t->cfg.hosts[i].uri ? t->cfg.hosts[i].uri
                      : "default URI", base, name);
        host_set_name(t->hosts[i], name);
        g_hash_table_add(names, g_steal_pointer(&name));
    }
    return TRUE;
}

/* Name every host, start those whose attempt ended; the others are marked to start
 * themselves. FALSE with *error when the tree cannot come up. */
static gboolean
tree_startup_finish(Tree *t, TreeAttempt *a, GError **error)
{
    guint up = 0;

    g_mutex_lock(&a[0].su->lock);
    for (guint i = 0; i < t->n_hosts; i++) {
        up += a[i].finished && a[i].ret == 0;
        a[i].waited = !a[i].finished;
    }
    if (tree_name_hosts(t, error)) {
        for (guint i = 0; i < t->n_hosts; i++) {
            if (a[i].finished && a[i].ret < 0 && t->multi)
                g_warning("%s: not reachable, reconnecting: %s", host_name(t->hosts[i]),
                          a[i].msg);
        }
    }
    if (!up && !*error) {
        const char *uri = t->cfg.hosts[0].uri;

        g_set_error(error, g_quark_from_static_string("domfs-tree"), 1, "cannot open %s: %s",
                    t->n_hosts > 1 ? "any connection" : uri ? uri : "libvirt's default URI",
                    a[0].msg ? a[0].msg : "no answer");
    }
    if (!*error)
        tree_apply_log_roots(t, error);
    g_mutex_unlock(&a[0].su->lock);
    if (*error)
        return FALSE;
    for (guint i = 0; i < t->n_hosts; i++) {
        if (a[i].finished)
            host_start(t->hosts[i]);
    }
    return TRUE;
}

Tree *
tree_new(const TreeConfig *cfg, TreeListener fn, void *opaque, GError **error)
{
    Tree *t;

    timer_start();
    if (conn_event_loop_start() < 0) {
        g_set_error(error, g_quark_from_static_string("domfs-tree"), 1,
                    "cannot start libvirt's event loop");
        return NULL;
    }
    t = g_new0(Tree, 1);
    tree_config_copy(&t->cfg, cfg);
    t->n_hosts = cfg->n_hosts;
    t->multi = cfg->n_hosts > 1;
    t->fn = fn;
    t->opaque = opaque;
    t->metrics = metrics_cache_new();
    if (t->multi)
        t->top_events = ev_stream_new(DOMFS_EVENTS_RING);
    t->hosts = g_new0(Host *, t->n_hosts);
    t->startup = g_new0(TreeStartup, 1);
    g_mutex_init(&t->startup->lock);
    g_cond_init(&t->startup->cond);
    t->attempts = g_new0(TreeAttempt, t->n_hosts);
    for (guint i = 0; i < t->n_hosts; i++) {
        t->hosts[i] = tree_host_new(t, i);
        t->attempts[i].su = t->startup;
        t->attempts[i].h = t->hosts[i];
        t->attempts[i].thread = g_thread_new("host-connect", tree_attempt_main,
                                             &t->attempts[i]);
    }
    tree_startup_wait(t, (gint64)MAX(cfg->timeout_s, 1) * G_USEC_PER_SEC);
    if (!tree_startup_finish(t, t->attempts, error)) {
        tree_free(t);
        return NULL;
    }
    return t;
}

/* Wait (bounded) for the first connection attempts; FALSE when one is stuck. */
static gboolean
tree_attempts_join(Tree *t)
{
    gint64 end = g_get_monotonic_time() + DOMFS_STOP_WAIT_US;
    gboolean all;

    g_mutex_lock(&t->startup->lock);
    while (!(all = t->startup->finished == t->n_hosts) &&
           g_cond_wait_until(&t->startup->cond, &t->startup->lock, end))
        ;
    g_mutex_unlock(&t->startup->lock);
    if (!all)
        return FALSE;
    for (guint i = 0; i < t->n_hosts; i++) {
        g_thread_join(t->attempts[i].thread);
        g_free(t->attempts[i].msg);
    }
    return TRUE;
}

void
tree_free(Tree *t)
{
    gboolean ok;

    if (!t)
        return;
    /* a host stuck in a libvirt call is left behind, with what it uses (exiting anyway) */
    if (!(ok = tree_attempts_join(t)))
        g_warning("a host is still connecting: left behind");
    for (guint i = 0; ok && i < t->n_hosts; i++)
        ok = host_free(t->hosts[i]);
    if (!ok)
        return;
    metrics_cache_free(t->metrics);
    ev_stream_free(t->top_events);
    g_free(t->hosts);
    g_free(t->attempts);
    g_mutex_clear(&t->startup->lock);
    g_cond_clear(&t->startup->cond);
    g_free(t->startup);
    tree_config_clear(&t->cfg);
    g_free(t);
}

/* ---- hosts ---- */

Host *
tree_host(Tree *t, int index)
{
    return index >= 0 && (guint)index < t->n_hosts ? t->hosts[index] : NULL;
}

guint
tree_n_conns(Tree *t)
{
    return t->n_hosts;
}

bool
tree_is_multi(Tree *t)
{
    return t->multi;
}

const char *
tree_host_name(Tree *t, int index)
{
    Host *h = tree_host(t, index);

    return h ? host_name(h) : NULL;
}

EvStream *
tree_events(Tree *t, int index)
{
    Host *h = tree_host(t, index);

    return h ? host_events(h) : t->top_events;
}

void
tree_events_set_notify(Tree *t, void (*fn)(void *opaque), void *opaque)
{
    for (guint i = 0; i < t->n_hosts; i++)
        ev_stream_set_notify(host_events(t->hosts[i]), fn, opaque);
    if (t->top_events)
        ev_stream_set_notify(t->top_events, fn, opaque);
}

void
tree_connection_text(Tree *t, int index, GString *out)
{
    if (index >= 0) {
        host_describe(t->hosts[index], out);
        return;
    }
    for (guint i = 0; i < t->n_hosts; i++) {
        if (i)
            g_string_append_c(out, '\n');
        host_describe(t->hosts[i], out);
    }
}

typedef struct {
    Completion *comp;
    int result;
} TreeLater;

static gboolean
tree_later_fire(gpointer data)
{
    TreeLater *l = data;

    completion_complete(l->comp, l->result);
    return G_SOURCE_REMOVE;
}

static void
tree_later_free(gpointer data)
{
    TreeLater *l = data;

    completion_unref(l->comp);
    g_free(l);
}

void
tree_complete_after(Completion *comp, gint64 delay_us, int result)
{
    TreeLater *l = g_new0(TreeLater, 1);

    l->comp = completion_ref(comp);
    l->result = result;
    timer_add(delay_us, tree_later_fire, l, tree_later_free);
}

/* ---- nodes ---- */

void
tree_node_clear(TreeNode *n)
{
    g_clear_pointer(&n->guest, g_free);
    g_clear_pointer(&n->dev, g_free);
}

void
tree_node_copy(TreeNode *dst, const TreeNode *src)
{
    *dst = *src;
    dst->guest = g_strdup(src->guest);
    dst->dev = g_strdup(src->dev);
}

void
tree_root(Tree *t, TreeNode *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = t->multi ? TN_TOP : TN_CONNROOT;
    out->conn = t->multi ? -1 : 0;
}

bool
tree_kind_is_dir(TreeKind kind)
{
    return kind == TN_GUEST || kind == TN_DEVICES || kind == TN_DEVKIND || kind == TN_DEV ||
           kind == TN_AGENT;
}

bool
tree_kind_has_content(TreeKind kind)
{
    return kind == TN_GUEST_FILE || kind == TN_DEV_FILE || kind == TN_AGENT_FILE;
}

DomInfo *
tree_snap_ref(DomInfo *d)
{
    return dom_info_ref(d);
}

void
tree_snap_unref(DomInfo *d)
{
    dom_info_unref(d);
}

const char *
tree_snap_dirname(const DomInfo *d)
{
    return d->dirname;
}

const char *
tree_snap_uuid(const DomInfo *d)
{
    return d->uuid;
}

gint64
tree_snap_confirmed(const DomInfo *d)
{
    return d->confirmed;
}
