/* ut_common.c - see ut_common.h. */
#include "ut_common.h"

#include <fcntl.h>

#include "completion.h"
#include "dom_note.h"
#include "timer.h"

/* ---- the daemon log ---- */

static GMutex ut_log_lock;
static GPtrArray *ut_log_lines;

static void
ut_log_handler(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    g_mutex_lock(&ut_log_lock);
    g_ptr_array_add(ut_log_lines, g_strdup(message));
    g_mutex_unlock(&ut_log_lock);
    if (g_getenv("UT_VERBOSE"))
        g_printerr("# log: %s\n", message);
}

gboolean
ut_log_has(guint from, const char *needle)
{
    gboolean found = FALSE;

    g_mutex_lock(&ut_log_lock);
    for (guint i = from; i < ut_log_lines->len && !found; i++)
        found = strstr(g_ptr_array_index(ut_log_lines, i), needle) != NULL;
    g_mutex_unlock(&ut_log_lock);
    return found;
}

guint
ut_log_count(void)
{
    guint n;

    g_mutex_lock(&ut_log_lock);
    n = ut_log_lines->len;
    g_mutex_unlock(&ut_log_lock);
    return n;
}

void
ut_init(int *argc, char ***argv)
{
    g_test_init(argc, argv, NULL);
    ut_log_lines = g_ptr_array_new_with_free_func(g_free);
    g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
    g_log_set_default_handler(ut_log_handler, NULL);
    g_log_set_handler(NULL, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, ut_log_handler, NULL);
    g_assert_cmpint(conn_event_loop_start(), ==, 0);
    timer_start();
}

/* ---- custom test-driver fleets ---- */

/* Write NODE_XML (a whole <node> document) and return its test:/// URI. */
UtFleet *
ut_fleet_new(const char *node_xml)
{
    g_autoptr(GError) err = NULL;
    UtFleet *f = g_new0(UtFleet, 1);

    f->dir = g_dir_make_tmp("domfs-ut-XXXXXX", &err);
    g_assert_no_error(err);
    f->path = g_build_filename(f->dir, "node.xml", NULL);
    g_assert_true(g_file_set_contents(f->path, node_xml, -1, &err));
    g_assert_no_error(err);
    f->uri = g_strdup_printf("test://%s", f->path);
    return f;
}

void
ut_fleet_free(UtFleet *f)
{
    if (!f)
        return;
    g_unlink(f->path);
    g_rmdir(f->dir);
    g_free(f->dir);
    g_free(f->path);
    g_free(f->uri);
    g_free(f);
}

/* A minimal domain of the test driver. RUNSTATE: 0 = leave running (the node file's
 * default), else a virDomainState (3 paused, 5 shut off). EXTRA goes inside <domain>. */
char *
ut_domain_xml(const char *name, const char *uuid, int runstate, const char *extra)
{
    g_autofree char *rs = runstate ? g_strdup_printf("<test:runstate>%d</test:runstate>",
                                                     runstate) : g_strdup("");
    g_autofree char *ename = g_markup_escape_text(name, -1);

    return g_strdup_printf(
        "<domain type='test' " UT_TEST_NS ">\n"
        "  <name>%s</name>\n"
        "  <uuid>%s</uuid>\n"
        "  <memory unit='KiB'>131072</memory>\n"
        "  <vcpu>1</vcpu>\n"
        "  <os><type>hvm</type></os>\n"
        "  %s\n"
        "  %s\n"
        "</domain>\n", ename, uuid, extra ? extra : "", rs);
}

/* ---- change recorder ---- */

static void
ut_change_free(gpointer p)
{
    UtChange *ch = p;

    dom_info_unref(ch->old_info);
    dom_info_unref(ch->new_info);
    g_free(ch->event);
    g_free(ch->dirname);
    g_free(ch);
}

void
ut_recorder_init(UtRecorder *r)
{
    g_mutex_init(&r->lock);
    g_cond_init(&r->cond);
    r->changes = g_ptr_array_new_with_free_func(ut_change_free);
}

void
ut_recorder_clear(UtRecorder *r)
{
    g_ptr_array_unref(r->changes);
    g_mutex_clear(&r->lock);
    g_cond_clear(&r->cond);
}

static void
ut_recorder_add(UtRecorder *r, DomInfo *old_info, DomInfo *new_info, const char *event,
                const char *dirname)
{
    UtChange *ch;

    if (!old_info && !new_info)
        return;   /* a connection's own line: no guest */
    ch = g_new0(UtChange, 1);
    ch->old_info = old_info ? dom_info_ref(old_info) : NULL;
    ch->new_info = new_info ? dom_info_ref(new_info) : NULL;
    ch->event = g_strdup(event);
    ch->dirname = g_strdup(dirname);
    g_mutex_lock(&r->lock);
    g_ptr_array_add(r->changes, ch);
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
}

void
ut_recorder_fn(const DomChange *ch, void *opaque)
{
    ut_recorder_add(opaque, ch->old_info, ch->new_info, ch->event, ch->dirname);
}

guint
ut_recorder_count(UtRecorder *r)
{
    guint n;

    g_mutex_lock(&r->lock);
    n = r->changes->len;
    g_mutex_unlock(&r->lock);
    return n;
}

const char *
ut_change_uuid(const UtChange *ch)
{
    return ch->new_info ? ch->new_info->uuid : ch->old_info->uuid;
}

const UtChange *
ut_recorder_wait(UtRecorder *r, guint from, const char *uuid, const char *event,
                 gint64 timeout_ms, guint *index)
{
    gint64 end = g_get_monotonic_time() + timeout_ms * 1000;
    const UtChange *found = NULL;

    g_mutex_lock(&r->lock);
    for (;;) {
        for (guint i = from; i < r->changes->len; i++) {
            const UtChange *ch = g_ptr_array_index(r->changes, i);

            if (strcmp(ut_change_uuid(ch), uuid) == 0 &&
                (!event || g_strcmp0(ch->event, event) == 0)) {
                found = ch;
                if (index)
                    *index = i;
                break;
            }
        }
        if (found || !g_cond_wait_until(&r->cond, &r->lock, end))
            break;
    }
    g_mutex_unlock(&r->lock);
    return found;
}

gboolean
ut_recorder_wait_count(UtRecorder *r, guint from, const char *uuid, guint n, gint64 timeout_ms)
{
    gint64 end = g_get_monotonic_time() + timeout_ms * 1000;
    gboolean ok = FALSE;

    g_mutex_lock(&r->lock);
    for (;;) {
        guint seen = 0;

        for (guint i = from; i < r->changes->len; i++)
            seen += strcmp(ut_change_uuid(g_ptr_array_index(r->changes, i)), uuid) == 0;
        if ((ok = seen >= n) || !g_cond_wait_until(&r->cond, &r->lock, end))
            break;
    }
    g_mutex_unlock(&r->lock);
    return ok;
}

char *
ut_recorder_events(UtRecorder *r, guint from, const char *uuid)
{
    GString *s = g_string_new(NULL);

    g_mutex_lock(&r->lock);
    for (guint i = from; i < r->changes->len; i++) {
        const UtChange *ch = g_ptr_array_index(r->changes, i);

        if (!uuid || strcmp(ut_change_uuid(ch), uuid) == 0)
            g_string_append_printf(s, "%s%s", s->len ? "|" : "",
                                   ch->event ? ch->event : "(null)");
    }
    g_mutex_unlock(&r->lock);
    return g_string_free(s, FALSE);
}

/* ---- libvirt helpers ---- */

virDomainPtr
ut_lookup(DomConn *c, const char *uuid)
{
    virConnectPtr vc = conn_get_virt(c);
    virDomainPtr dom;

    g_assert_nonnull(vc);
    dom = virDomainLookupByUUIDString(vc, uuid);
    virConnectClose(vc);
    g_assert_nonnull(dom);
    return dom;
}

int
ut_virt_state(DomConn *c, const char *uuid)
{
    virDomainPtr dom = ut_lookup(c, uuid);
    int state = -1;
    int reason = -1;

    g_assert_cmpint(virDomainGetState(dom, &state, &reason, 0), ==, 0);
    virDomainFree(dom);
    return state;
}

gboolean
ut_wait_cache_state(DomConn *c, const char *uuid, int state)
{
    gint64 end = g_get_monotonic_time() + UT_TIMEOUT_MS * 1000;

    do {
        DomInfo *d = dom_cache_get_uuid(conn_cache(c), uuid);
        gboolean ok = d && d->state == state;

        dom_info_unref(d);
        if (ok)
            return TRUE;
        g_usleep(10 * 1000);
    } while (g_get_monotonic_time() < end);
    return FALSE;
}

void
ut_wait_loaded(DomCache *cache)
{
    for (gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;;) {
        g_autoptr(GPtrArray) all = dom_cache_list(cache);
        gboolean loaded = TRUE;

        for (guint i = 0; i < all->len; i++)
            loaded &= ((DomInfo *)g_ptr_array_index(all, i))->loaded;
        if (loaded)
            return;
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
}

/* ---- one connection ---- */

DomConn *
ut_open(const char *uri, UtRecorder *r)
{
    ConnConfig cfg = { uri, 0, 0, r ? ut_recorder_fn : NULL, r };
    g_autofree char *msg = NULL;
    DomConn *c = conn_new(&cfg);

    if (conn_connect(c, &msg) < 0)
        g_error("cannot open %s: %s", uri, msg);
    conn_start(c);
    ut_wait_loaded(conn_cache(c));
    return c;
}

/* Let every libvirt event already queued for C reach C before it is closed: a marker
 * event (a metadata change) is waited for; libvirt dispatches events in order, so every
 * earlier callback has returned by then. */
static void
ut_settle(DomConn *c)
{
    static gint serial;
    g_autoptr(GPtrArray) doms = dom_cache_list(conn_cache(c));
    virConnectPtr vc = conn_get_virt(c);
    g_autofree char *token = g_strdup_printf("domfs-settle-%d", g_atomic_int_add(&serial, 1));
    g_autofree char *meta = g_strdup_printf("<settle>%s</settle>", token);
    const char *uuid = NULL;
    gint64 end;

    if (!vc)
        return;
    for (guint i = 0; i < doms->len && !uuid; i++) {
        const DomInfo *d = doms->pdata[i];
        virDomainPtr dom = virDomainLookupByUUIDString(vc, d->uuid);

        if (dom && virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, meta, "s",
                                        "http://domfs.test/settle",
                                        VIR_DOMAIN_AFFECT_CURRENT) == 0)
            uuid = d->uuid;
        virResetLastError();
        if (dom)
            virDomainFree(dom);
    }
    virConnectClose(vc);
    if (!uuid) {
        g_usleep(200 * 1000);   /* no guest to mark: give the loop a moment */
        return;
    }
    end = g_get_monotonic_time() + UT_TIMEOUT_MS * 1000;
    do {
        DomInfo *d = dom_cache_get_uuid(conn_cache(c), uuid);
        gboolean seen = d && strstr(d->xml, token);

        dom_info_unref(d);
        if (seen)
            return;
        g_usleep(5 * 1000);
    } while (g_get_monotonic_time() < end);
    g_error("the settle marker on %s never reached the cache", uuid);
}

void
ut_close(DomConn *c)
{
    if (!c)
        return;
    ut_settle(c);
    g_assert_true(conn_close(c));
}

/* ---- waiting for a completion ---- */

typedef struct {
    GMutex lock;
    GCond cond;
    gboolean done;
    int result;
} UtWait;

static void
ut_wait_fn(void *data, int result)
{
    UtWait *w = data;

    g_mutex_lock(&w->lock);
    w->done = TRUE;
    w->result = result;
    g_cond_broadcast(&w->cond);
    g_mutex_unlock(&w->lock);
}

static void
ut_wait_free(void *data)
{
    UtWait *w = data;

    g_mutex_clear(&w->lock);
    g_cond_clear(&w->cond);
    g_free(w);
}

static Completion *
ut_wait_new(UtWait **w)
{
    *w = g_new0(UtWait, 1);
    g_mutex_init(&(*w)->lock);
    g_cond_init(&(*w)->cond);
    return completion_new(ut_wait_fn, *w, ut_wait_free);
}

/* The result COMP (made by ut_wait_new) was completed with; fails the test after 20 s. */
static int
ut_wait_result(UtWait *w)
{
    gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
    int ret;

    g_mutex_lock(&w->lock);
    while (!w->done)
        g_assert_true(g_cond_wait_until(&w->cond, &w->lock, end));
    ret = w->result;
    g_mutex_unlock(&w->lock);
    return ret;
}

/* After -EINPROGRESS about N: wait until its guest is ready; the wait's result. */
static int
ut_wait_ready(Tree *t, const TreeNode *n)
{
    UtWait *w;
    g_autoptr(Completion) c = ut_wait_new(&w);
    int ret = tree_when_ready(t, n, getuid(), c);

    return ret == -EINPROGRESS ? ut_wait_result(w) : ret;
}

/* ---- a whole tree ---- */

typedef struct {
    Tree *t;          /* set once tree_new returned */
    UtRecorder *r;
} UtTreeCtx;

static GMutex ut_trees_lock;
static GHashTable *ut_trees;   /* Tree -> UtTreeCtx */

static void
ut_tree_listener(TreeChange *ch, void *opaque)
{
    UtTreeCtx *ctx = opaque;
    Tree *t = g_atomic_pointer_get(&ctx->t);

    if (ctx->r)
        ut_recorder_add(ctx->r, ch->old_info, ch->new_info, ch->event, ch->dirname);
    if (t)
        tree_publish(t, ch);
}

Tree *
ut_tree_new_cfg(const TreeConfig *cfg, UtRecorder *r)
{
    g_autoptr(GError) err = NULL;
    UtTreeCtx *ctx = g_new0(UtTreeCtx, 1);
    Tree *t;

    ctx->r = r;
    t = tree_new(cfg, ut_tree_listener, ctx, &err);
    g_assert_no_error(err);
    g_assert_nonnull(t);
    g_atomic_pointer_set(&ctx->t, t);
    g_mutex_lock(&ut_trees_lock);
    if (!ut_trees)
        ut_trees = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
    g_hash_table_insert(ut_trees, t, ctx);
    g_mutex_unlock(&ut_trees_lock);
    for (guint i = 0; i < tree_n_conns(t); i++)
        ut_wait_loaded(host_cache(tree_host(t, (int)i)));
    return t;
}

Tree *
ut_tree_new(const char *const *names, const char *const *uris, guint n, UtRecorder *r)
{
    static char *log_dirs[] = { (char *)"/var/log/libvirt", NULL };
    static char *media_dirs[] = { (char *)"/var/lib/libvirt/images", NULL };
    g_autofree TreeHostConfig *hosts = g_new0(TreeHostConfig, n);
    TreeConfig cfg = {
        .hosts = hosts, .n_hosts = n, .console_max = 131072,
        .log_dirs = log_dirs, .media_dirs = media_dirs, .timeout_s = 10,
        .owner = getuid(),
    };

    for (guint i = 0; i < n; i++) {
        hosts[i].name = (char *)(names ? names[i] : NULL);
        hosts[i].uri = (char *)uris[i];
    }
    return ut_tree_new_cfg(&cfg, r);
}

DomConn *
ut_tree_conn(Tree *t, int host)
{
    return host_conn(tree_host(t, host));
}

void
ut_tree_free(Tree *t)
{
    if (!t)
        return;
    for (guint i = 0; i < tree_n_conns(t); i++)
        ut_settle(ut_tree_conn(t, (int)i));
    tree_free(t);
    g_mutex_lock(&ut_trees_lock);
    g_hash_table_remove(ut_trees, t);
    g_mutex_unlock(&ut_trees_lock);
}

/* ---- walking, reading, writing ---- */

int
ut_walk(Tree *t, const char *path, TreeNode *out, TreeAttr *attr)
{
    g_auto(GStrv) parts = g_strsplit(path, "/", -1);
    TreeNode cur;
    int ret;

    tree_root(t, &cur);
    if ((ret = tree_stat(t, &cur, attr)) < 0)
        return ret;
    for (guint i = 0; parts[i]; i++) {
        TreeNode next;

        if (!*parts[i])
            continue;
        while ((ret = tree_child(t, &cur, parts[i], &next, attr)) == -EINPROGRESS &&
               ut_wait_ready(t, &cur) == 0)
            ;
        tree_node_clear(&cur);
        if (ret < 0)
            return ret;
        cur = next;
    }
    *out = cur;
    return 0;
}

/* tree_open, waiting for the guest's XML if need be. */
static int
ut_open_node(Tree *t, const TreeNode *n, int flags, const TreeCaller *who, TreeFile **f)
{
    TreeCaller me = { getuid(), getgid(), getpid(), NULL, 0 };
    TreeOpenInfo info;
    int ret;

    while ((ret = tree_open(t, n, flags, who ? who : &me, f, &info)) == -EINPROGRESS &&
           ut_wait_ready(t, n) == 0)
        ;
    return ret;
}

int
ut_read_node(Tree *t, const TreeNode *n, GString *out)
{
    TreeFile *f = NULL;
    char buf[65536];
    int ret = ut_open_node(t, n, O_RDONLY, NULL, &f);

    while (ret == 0) {
        const char *data = NULL;
        ssize_t got = tree_file_read(f, out->len, buf, sizeof buf, &data);

        if (got <= 0) {
            ret = (int)MIN(got, 0);
            break;
        }
        g_string_append_len(out, data, got);
    }
    tree_file_unref(f);
    return ret;
}

int
ut_write_node(Tree *t, const TreeNode *n, const char *buf, size_t len, const TreeCaller *who)
{
    TreeCaller me = { getuid(), getgid(), getpid(), NULL, 0 };
    TreeFile *f = NULL;
    TreeWrite *op = NULL;
    UtWait *w;
    g_autoptr(Completion) c = ut_wait_new(&w);
    int ret = ut_open_node(t, n, O_WRONLY | O_TRUNC, who, &f);

    if (ret < 0)
        return ret;
    ret = tree_write(t, f, buf, len, 0, who ? who : &me, c, &op);
    if (ret == -EINPROGRESS)
        ret = ut_wait_result(w);
    tree_write_unref(op);
    tree_file_unref(f);
    return ret;
}

int
ut_write_path(Tree *t, const char *path, const char *buf)
{
    TreeNode n;
    TreeAttr a;
    int ret;

    if ((ret = ut_walk(t, path, &n, &a)) < 0)
        return ret;
    ret = ut_write_node(t, &n, buf, strlen(buf), NULL);
    tree_node_clear(&n);
    return ret;
}

/* ---- the common fixture ---- */

void
fx_setup(Fx *fx, gconstpointer data)
{
    const char *names[] = { "h1" };
    const char *uris[1];

    fx->f = ut_fleet_new(UT_FLEET_XML);
    uris[0] = fx->f->uri;
    ut_recorder_init(&fx->r);
    fx->t = ut_tree_new(names, uris, 1, &fx->r);
    fx->c = ut_tree_conn(fx->t, 0);
    fx->vc = conn_get_virt(fx->c);
    g_assert_nonnull(fx->vc);
}

void
fx_teardown(Fx *fx, gconstpointer data)
{
    virConnectClose(fx->vc);
    ut_tree_free(fx->t);
    ut_recorder_clear(&fx->r);
    ut_fleet_free(fx->f);
}
