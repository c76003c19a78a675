/* test_conn.c - lib/conn.c, dom_cache.c, dom_fetch.c against libvirt's test driver.
 *
 * The cache must hold every domain with the values written in the node XML and the values
 * libvirt reports through direct calls on the very connection domfs holds; libvirt calls
 * made on that connection must reach the change callback as old/new snapshots with the
 * event words of the spec; .domfs/connection's content, recorded errors, and the bulk
 * and single fetch paths must agree.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "conn.h"
#include "dom_cache.h"
#include "dom_fetch.h"
#include "dom_info.h"
#include "dom_note.h"
#include "name_escape.h"
#include "ut_common.h"

/* ---- comparing the cache with libvirt ---- */

static char *
virt_metadata(virDomainPtr dom, int type)
{
    char *v = virDomainGetMetadata(dom, type, NULL, 0);
    char *ret;

    if (!v) {
        virErrorPtr e = virGetLastError();

        g_assert_nonnull(e);
        g_assert_cmpint(e->code, ==, VIR_ERR_NO_DOMAIN_METADATA);
        virResetLastError();
        return g_strdup("");
    }
    ret = g_strdup(v);
    free(v);
    return ret;
}

/* D agrees with what libvirt says about its domain, asked directly on VC */
static void
check_against_libvirt(virConnectPtr vc, const DomInfo *d)
{
    virDomainPtr dom = virDomainLookupByUUIDString(vc, d->uuid);
    virDomainInfo info;
    int state = -1;
    int reason = -1;
    int autostart = -1;
    unsigned int id;
    char *xml;
    g_autofree char *title = NULL;
    g_autofree char *desc = NULL;
    g_autofree char *dirname = NULL;

    g_assert_nonnull(dom);
    g_assert_cmpstr(d->name, ==, virDomainGetName(dom));
    dirname = name_escape(d->name);
    g_assert_cmpstr(d->dirname, ==, dirname);
    id = virDomainGetID(dom);
    g_assert_cmpint(d->id, ==, id == (unsigned int)-1 ? -1 : (int)id);
    g_assert_cmpint(virDomainGetState(dom, &state, &reason, 0), ==, 0);
    g_assert_cmpint(d->state, ==, state);
    g_assert_cmpint(d->reason, ==, reason);
    g_assert_cmpint(virDomainGetInfo(dom, &info), ==, 0);
    g_assert_cmpuint(d->vcpus, ==, info.nrVirtCpu);
    g_assert_cmpuint(d->memory_kib, ==, info.memory);
    g_assert_cmpint(virDomainGetAutostart(dom, &autostart), ==, 0);
    g_assert_cmpint(d->autostart, ==, autostart != 0);
    g_assert_cmpint(d->persistent, ==, virDomainIsPersistent(dom) == 1);
    title = virt_metadata(dom, VIR_DOMAIN_METADATA_TITLE);
    desc = virt_metadata(dom, VIR_DOMAIN_METADATA_DESCRIPTION);
    g_assert_cmpstr(d->title, ==, title);
    g_assert_cmpstr(d->description, ==, desc);
    xml = virDomainGetXMLDesc(dom, 0);
    g_assert_nonnull(xml);
    g_assert_cmpstr(d->xml, ==, xml);
    free(xml);
    g_assert_cmpstr(d->local->migrate, ==, "none");
    virDomainFree(dom);
}

/* the cache holds exactly libvirt's domains, each agreeing with libvirt */
static void
check_cache_against_libvirt(DomConn *c)
{
    virConnectPtr vc = conn_get_virt(c);
    virDomainPtr *doms = NULL;
    int n;
    g_autoptr(GPtrArray) list = dom_cache_list(conn_cache(c));

    g_assert_nonnull(vc);
    n = virConnectListAllDomains(vc, &doms, 0);
    g_assert_cmpint(n, >, 0);
    g_assert_cmpuint(dom_cache_size(conn_cache(c)), ==, (guint)n);
    g_assert_cmpuint(list->len, ==, (guint)n);
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        g_autoptr(DomInfo) by_uuid = NULL;
        g_autoptr(DomInfo) by_dir = NULL;

        g_assert_cmpint(virDomainGetUUIDString(doms[i], uuid), ==, 0);
        by_uuid = dom_cache_get_uuid(conn_cache(c), uuid);
        g_assert_nonnull(by_uuid);
        by_dir = dom_cache_get(conn_cache(c), by_uuid->dirname);
        g_assert_true(by_dir == by_uuid);
        check_against_libvirt(vc, by_uuid);
        virDomainFree(doms[i]);
    }
    free(doms);
    /* sorted by directory name */
    for (guint i = 1; i < list->len; i++)
        g_assert_cmpint(strcmp(((DomInfo *)list->pdata[i - 1])->dirname,
                               ((DomInfo *)list->pdata[i])->dirname), <, 0);
    virConnectClose(vc);
}

/* ---- opening ---- */

static void
test_open_default(void)
{
    UtRecorder r;
    DomConn *c;
    g_autoptr(DomInfo) d = NULL;
    virConnectPtr vc;
    char *host;

    ut_recorder_init(&r);
    c = ut_open("test:///default", &r);
    g_assert_true(conn_is_connected(c));
    vc = conn_get_virt(c);
    g_assert_nonnull(vc);
    /* the connection knows its hostname (an unnamed host's directory name) */
    host = virConnectGetHostname(vc);
    g_assert_nonnull(host);
    {
        g_autofree char *known = conn_hostname(c);

        g_assert_cmpstr(known, ==, host);
    }
    free(host);

    /* the default guest, with the values the test driver documents */
    d = dom_cache_get(conn_cache(c), "test");
    g_assert_nonnull(d);
    g_assert_cmpstr(d->uuid, ==, "6695eb01-f6a4-8304-79aa-97f2502e193f");
    g_assert_cmpstr(d->name, ==, "test");
    g_assert_cmpint(d->state, ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpint(d->id, ==, 1);
    g_assert_cmpuint(d->vcpus, ==, 2);
    g_assert_cmpuint(d->memory_kib, ==, 2097152);
    g_assert_true(d->persistent);
    g_assert_false(d->autostart);
    g_assert_null(d->local->error);
    g_assert_cmpstr(d->local->migrate, ==, "none");
    check_cache_against_libvirt(c);

    /* the initial load reported every guest as new, then once more when its XML arrived,
     * never with event text */
    g_assert_cmpuint(ut_recorder_count(&r), ==, 2 * dom_cache_size(conn_cache(c)));
    for (guint i = 0; i < r.changes->len; i++) {
        UtChange *ch = r.changes->pdata[i];

        if (ch->old_info) {
            g_assert_false(ch->old_info->loaded);
            g_assert_true(ch->new_info->loaded);
        }
        g_assert_nonnull(ch->new_info);
        g_assert_null(ch->event);
    }
    virConnectClose(vc);
    ut_close(c);
    ut_recorder_clear(&r);
}

static void
test_open_fleet(void)
{
    UtFleet *f = ut_fleet_new(UT_FLEET_XML);
    DomConn *c = ut_open(f->uri, NULL);
    DomCache *cache = conn_cache(c);
    g_autoptr(DomInfo) a = dom_cache_get(cache, "alpha");
    g_autoptr(DomInfo) b = dom_cache_get(cache, "beta");
    g_autoptr(DomInfo) g = dom_cache_get(cache, "gamma");
    g_autoptr(DomInfo) w = dom_cache_get(cache, "we\"ird\\name");
    g_autoptr(GPtrArray) list = dom_cache_list(cache);

    g_assert_cmpuint(dom_cache_size(cache), ==, 4);
    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_nonnull(g);
    g_assert_nonnull(w);

    /* alpha: as written in the node XML */
    g_assert_cmpstr(a->uuid, ==, UT_UUID_ALPHA);
    g_assert_cmpint(a->state, ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpint(a->id, >, 0);
    g_assert_cmpuint(a->vcpus, ==, 2);              /* current='2' of 4 */
    g_assert_cmpuint(a->memory_kib, ==, 524288);    /* currentMemory */
    g_assert_cmpstr(a->title, ==, "Alpha title");
    g_assert_cmpstr(a->description, ==, "line one\nline two");
    g_assert_true(a->persistent);
    g_assert_false(a->autostart);
    g_assert_true(g_str_has_prefix(a->xml, "<domain type='test' id="));

    /* beta: <test:runstate>5</test:runstate> leaves it shut off */
    g_assert_cmpstr(b->uuid, ==, UT_UUID_BETA);
    g_assert_cmpint(b->state, ==, VIR_DOMAIN_SHUTOFF);
    g_assert_cmpint(b->id, ==, -1);
    g_assert_cmpuint(b->vcpus, ==, 1);
    g_assert_cmpuint(b->memory_kib, ==, 262144);    /* 256 MiB */
    g_assert_cmpstr(b->title, ==, "");
    g_assert_cmpstr(b->description, ==, "");
    g_assert_true(b->persistent);

    /* gamma: paused, memory in other units */
    g_assert_cmpint(g->state, ==, VIR_DOMAIN_PAUSED);
    g_assert_cmpint(g->id, >, 0);
    g_assert_cmpuint(g->vcpus, ==, 3);
    g_assert_cmpuint(g->memory_kib, ==, 786432);    /* 768 MiB */

    /* a name with a quote and a backslash is a plain directory name */
    g_assert_cmpstr(w->name, ==, "we\"ird\\name");
    g_assert_cmpstr(w->dirname, ==, "we\"ird\\name");
    g_assert_cmpstr(w->uuid, ==, UT_UUID_WEIRD);

    /* lookups: by uuid gives the same snapshot; unknown names give NULL */
    {
        g_autoptr(DomInfo) au = dom_cache_get_uuid(cache, UT_UUID_ALPHA);
        g_autoptr(DomInfo) none = dom_cache_get(cache, "nope");
        g_autoptr(DomInfo) none_uuid =
            dom_cache_get_uuid(cache, "00000000-0000-0000-0000-000000000000");

        g_assert_true(au == a);
        g_assert_null(none);
        g_assert_null(none_uuid);
    }
    g_assert_cmpuint(list->len, ==, 4);
    g_assert_cmpstr(((DomInfo *)list->pdata[0])->name, ==, "alpha");
    g_assert_cmpstr(((DomInfo *)list->pdata[1])->name, ==, "beta");
    g_assert_cmpstr(((DomInfo *)list->pdata[2])->name, ==, "gamma");
    g_assert_cmpstr(((DomInfo *)list->pdata[3])->name, ==, "we\"ird\\name");

    check_cache_against_libvirt(c);
    ut_close(c);
    ut_fleet_free(f);
}

/* names that need escaping get escaped directory names; lookups go by those */
static void
test_open_escaped_names(void)
{
    g_autofree char *d1 = ut_domain_xml(".hidden", "22222222-0000-0000-0000-000000000001", 0,
                                        NULL);
    g_autofree char *d2 = ut_domain_xml("50%off", "22222222-0000-0000-0000-000000000002", 5,
                                        NULL);
    g_autofree char *xml = g_strconcat("<node>\n", d1, d2, "</node>\n", NULL);
    UtFleet *f = ut_fleet_new(xml);
    DomConn *c = ut_open(f->uri, NULL);
    g_autoptr(DomInfo) h = dom_cache_get(conn_cache(c), "%2Ehidden");
    g_autoptr(DomInfo) p = dom_cache_get(conn_cache(c), "50%25off");
    g_autoptr(DomInfo) raw = dom_cache_get(conn_cache(c), ".hidden");

    g_assert_nonnull(h);
    g_assert_cmpstr(h->name, ==, ".hidden");
    g_assert_nonnull(p);
    g_assert_cmpstr(p->name, ==, "50%off");
    g_assert_cmpint(p->state, ==, VIR_DOMAIN_SHUTOFF);
    g_assert_null(raw);
    check_cache_against_libvirt(c);
    ut_close(c);
    ut_fleet_free(f);
}

static void
test_open_failure(void)
{
    g_autoptr(GError) err = NULL;
    static char *log_dirs[] = { (char *)"/var/log/libvirt", NULL };
    TreeHostConfig h = { NULL, (char *)"test:///nonexistent/domfs-no-such-node.xml", NULL };
    TreeConfig cfg = { .hosts = &h, .n_hosts = 1, .log_dirs = log_dirs, .timeout_s = 10 };
    Tree *t = tree_new(&cfg, NULL, NULL, &err);

    g_assert_null(t);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err->message, "test:///nonexistent/domfs-no-such-node.xml"));
}

/* ---- events ---- */

/* The fleet fixture (Fx, fx_setup, fx_teardown) is ut_common.h's. */

/* wait for the change about UUID with EVENT from FROM on; fails the test on timeout */
static const UtChange *
wait_change(Fx *fx, guint from, const char *uuid, const char *event)
{
    const UtChange *ch = ut_recorder_wait(&fx->r, from, uuid, event, UT_TIMEOUT_MS, NULL);

    if (!ch) {
        g_autofree char *seen = ut_recorder_events(&fx->r, from, uuid);

        g_error("no change \"%s\" for %s within %d ms; saw: %s", event, uuid, UT_TIMEOUT_MS,
                seen);
    }
    return ch;
}

static virDomainPtr
fx_dom(Fx *fx, const char *uuid)
{
    virDomainPtr dom = virDomainLookupByUUIDString(fx->vc, uuid);

    g_assert_nonnull(dom);
    return dom;
}

static void
test_events_lifecycle(Fx *fx, gconstpointer data)
{
    virDomainPtr dom = fx_dom(fx, UT_UUID_ALPHA);
    const UtChange *ch;
    guint from;

    from = ut_recorder_count(&fx->r);
    g_assert_cmpint(virDomainSuspend(dom), ==, 0);
    ch = wait_change(fx, from, UT_UUID_ALPHA, "lifecycle suspended paused");
    g_assert_nonnull(ch->old_info);
    g_assert_nonnull(ch->new_info);
    /* the new state alone may have been published just before the event's change */
    g_assert_true(ch->old_info->state == VIR_DOMAIN_RUNNING || ch->old_info->state == VIR_DOMAIN_PAUSED);
    g_assert_cmpint(ch->new_info->state, ==, VIR_DOMAIN_PAUSED);
    g_assert_cmpint(ch->new_info->reason, ==, VIR_DOMAIN_PAUSED_USER);
    g_assert_cmpstr(ch->new_info->name, ==, "alpha");
    /* the cache has the new snapshot when the callback runs */
    {
        g_autoptr(DomInfo) now = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_ALPHA);

        g_assert_cmpint(now->state, ==, VIR_DOMAIN_PAUSED);
    }

    from = ut_recorder_count(&fx->r);
    g_assert_cmpint(virDomainResume(dom), ==, 0);
    ch = wait_change(fx, from, UT_UUID_ALPHA, "lifecycle resumed unpaused");
    /* the new state alone may have been published just before the event's change */
    g_assert_true(ch->old_info->state == VIR_DOMAIN_PAUSED || ch->old_info->state == VIR_DOMAIN_RUNNING);
    g_assert_cmpint(ch->new_info->state, ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpint(ch->new_info->reason, ==, VIR_DOMAIN_RUNNING_UNPAUSED);

    from = ut_recorder_count(&fx->r);
    g_assert_cmpint(virDomainDestroy(dom), ==, 0);
    ch = wait_change(fx, from, UT_UUID_ALPHA, "lifecycle stopped destroyed");
    /* the new state alone may have been published just before the event's change */
    g_assert_true(ch->old_info->state == VIR_DOMAIN_RUNNING || ch->old_info->state == VIR_DOMAIN_SHUTOFF);
    g_assert_cmpint(ch->new_info->state, ==, VIR_DOMAIN_SHUTOFF);
    g_assert_cmpint(ch->new_info->reason, ==, VIR_DOMAIN_SHUTOFF_DESTROYED);
    g_assert_cmpint(ch->new_info->id, ==, -1);

    from = ut_recorder_count(&fx->r);
    g_assert_cmpint(virDomainCreate(dom), ==, 0);
    ch = wait_change(fx, from, UT_UUID_ALPHA, "lifecycle started booted");
    /* the new state alone may have been published just before the event's change */
    g_assert_true(ch->old_info->state == VIR_DOMAIN_SHUTOFF || ch->old_info->state == VIR_DOMAIN_RUNNING);
    g_assert_cmpint(ch->new_info->state, ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpint(ch->new_info->reason, ==, VIR_DOMAIN_RUNNING_BOOTED);
    g_assert_cmpint(ch->new_info->id, >, 0);

    from = ut_recorder_count(&fx->r);
    g_assert_cmpint(virDomainShutdown(dom), ==, 0);
    ch = wait_change(fx, from, UT_UUID_ALPHA, "lifecycle stopped shutdown");
    g_assert_cmpint(ch->new_info->state, ==, VIR_DOMAIN_SHUTOFF);
    g_assert_cmpint(ch->new_info->reason, ==, VIR_DOMAIN_SHUTOFF_SHUTDOWN);

    /* the domain's other guests were not touched */
    {
        g_autofree char *others = NULL;
        GString *s = g_string_new(NULL);

        g_mutex_lock(&fx->r.lock);
        for (guint i = 4; i < fx->r.changes->len; i++) {
            UtChange *c = fx->r.changes->pdata[i];

            /* (the background load completing a snapshot with its XML is no change) */
            gboolean load = c->old_info && !c->old_info->loaded && c->new_info &&
                            c->new_info->loaded && !c->event;

            if (strcmp(ut_change_uuid(c), UT_UUID_ALPHA) != 0 && !load)
                g_string_append_printf(s, "%s ", c->event);
        }
        g_mutex_unlock(&fx->r.lock);
        others = g_string_free(s, FALSE);
        g_assert_cmpstr(others, ==, "");
    }
    check_cache_against_libvirt(fx->c);
    virDomainFree(dom);
}

/* every change's old snapshot is the previous change's new one (change order kept) */
static void
test_events_chain(Fx *fx, gconstpointer data)
{
    virDomainPtr dom = fx_dom(fx, UT_UUID_GAMMA);
    guint from = ut_recorder_count(&fx->r);
    const DomInfo *prev = NULL;

    for (int i = 0; i < 10; i++) {
        g_assert_cmpint(virDomainResume(dom), ==, 0);
        g_assert_cmpint(virDomainSuspend(dom), ==, 0);
    }
    /* one change carrying each event, in order, the last one a suspend (changes without
     * an event, the new state published ahead of its event, may come in between) */
    g_assert_true(ut_recorder_wait_count(&fx->r, from, UT_UUID_GAMMA, 20, UT_TIMEOUT_MS));
    g_assert_true(ut_wait_cache_state(fx->c, UT_UUID_GAMMA, VIR_DOMAIN_PAUSED));
    {
        GString *want = g_string_new(NULL);
        g_autofree char *ev = NULL;
        gint64 end = g_get_monotonic_time() + UT_TIMEOUT_MS * 1000;

        for (int i = 0; i < 10; i++)
            g_string_append_printf(want, "%slifecycle resumed unpaused|lifecycle suspended paused",
                                   i ? "|" : "");
        for (;;) {
            g_autofree char *raw = ut_recorder_events(&fx->r, from, UT_UUID_GAMMA);
            g_auto(GStrv) parts = g_strsplit(raw, "|", -1);
            GString *kept = g_string_new(NULL);

            for (char **p = parts; *p; p++) {
                if (strcmp(*p, "(null)") != 0)
                    g_string_append_printf(kept, "%s%s", kept->len ? "|" : "", *p);
            }
            g_free(ev);
            ev = g_string_free(kept, FALSE);
            if (strcmp(ev, want->str) == 0 || g_get_monotonic_time() > end)
                break;
            g_usleep(10000);
        }
        g_assert_cmpstr(ev, ==, want->str);
        g_string_free(want, TRUE);
    }
    g_mutex_lock(&fx->r.lock);
    for (guint i = 0; i < fx->r.changes->len; i++) {
        UtChange *ch = fx->r.changes->pdata[i];

        if (strcmp(ut_change_uuid(ch), UT_UUID_GAMMA) != 0)
            continue;
        if (prev)
            g_assert_true(ch->old_info == prev);
        prev = ch->new_info;
    }
    g_mutex_unlock(&fx->r.lock);
    {
        g_autoptr(DomInfo) now = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_GAMMA);

        g_assert_true(now == prev);
    }
    virDomainFree(dom);
}

static void
test_events_define_undefine(Fx *fx, gconstpointer data)
{
    g_autofree char *xml = ut_domain_xml("delta", "33333333-0000-0000-0000-000000000001", 0,
                                         "<title>Delta</title>");
    virDomainPtr dom;
    const UtChange *ch;
    guint from = ut_recorder_count(&fx->r);

    dom = virDomainDefineXML(fx->vc, xml);
    g_assert_nonnull(dom);
    ch = wait_change(fx, from, "33333333-0000-0000-0000-000000000001",
                     "lifecycle defined added");
    g_assert_null(ch->old_info);
    g_assert_nonnull(ch->new_info);
    g_assert_cmpstr(ch->new_info->name, ==, "delta");
    g_assert_cmpstr(ch->new_info->title, ==, "Delta");
    g_assert_cmpint(ch->new_info->state, ==, VIR_DOMAIN_SHUTOFF);
    g_assert_true(ch->new_info->persistent);
    g_assert_cmpuint(dom_cache_size(conn_cache(fx->c)), ==, 5);
    {
        g_autoptr(DomInfo) d = dom_cache_get(conn_cache(fx->c), "delta");

        g_assert_nonnull(d);
    }

    from = ut_recorder_count(&fx->r);
    g_assert_cmpint(virDomainUndefine(dom), ==, 0);
    ch = wait_change(fx, from, "33333333-0000-0000-0000-000000000001",
                     "lifecycle undefined removed");
    g_assert_nonnull(ch->old_info);
    g_assert_cmpstr(ch->old_info->name, ==, "delta");
    g_assert_null(ch->new_info);
    g_assert_cmpuint(dom_cache_size(conn_cache(fx->c)), ==, 4);
    {
        g_autoptr(DomInfo) d = dom_cache_get(conn_cache(fx->c), "delta");
        g_autoptr(DomInfo) du =
            dom_cache_get_uuid(conn_cache(fx->c), "33333333-0000-0000-0000-000000000001");

        g_assert_null(d);
        g_assert_null(du);
    }
    virDomainFree(dom);
    check_cache_against_libvirt(fx->c);
}

/* a transient guest appears when created and disappears when destroyed */
static void
test_events_transient(Fx *fx, gconstpointer data)
{
    const char *uuid = "33333333-0000-0000-0000-000000000002";
    g_autofree char *xml = ut_domain_xml("eph", uuid, 0, NULL);
    virDomainPtr dom;
    const UtChange *ch;
    guint from = ut_recorder_count(&fx->r);

    dom = virDomainCreateXML(fx->vc, xml, 0);
    g_assert_nonnull(dom);
    ch = wait_change(fx, from, uuid, "lifecycle started booted");
    g_assert_null(ch->old_info);
    g_assert_cmpstr(ch->new_info->name, ==, "eph");
    g_assert_false(ch->new_info->persistent);
    g_assert_cmpint(ch->new_info->state, ==, VIR_DOMAIN_RUNNING);

    from = ut_recorder_count(&fx->r);
    g_assert_cmpint(virDomainDestroy(dom), ==, 0);
    ch = wait_change(fx, from, uuid, "lifecycle stopped destroyed");
    g_assert_nonnull(ch->old_info);
    g_assert_null(ch->new_info);
    g_assert_cmpuint(dom_cache_size(conn_cache(fx->c)), ==, 4);
    virDomainFree(dom);
}

/* undefining a running guest keeps it, now transient */
static void
test_events_undefine_running(Fx *fx, gconstpointer data)
{
    virDomainPtr dom = fx_dom(fx, UT_UUID_ALPHA);
    const UtChange *ch;
    guint from = ut_recorder_count(&fx->r);

    g_assert_cmpint(virDomainUndefine(dom), ==, 0);
    ch = wait_change(fx, from, UT_UUID_ALPHA, "lifecycle undefined removed");
    g_assert_nonnull(ch->old_info);
    g_assert_nonnull(ch->new_info);
    g_assert_true(ch->old_info->persistent);
    g_assert_false(ch->new_info->persistent);
    g_assert_cmpint(ch->new_info->state, ==, VIR_DOMAIN_RUNNING);
    virDomainFree(dom);
    check_cache_against_libvirt(fx->c);
}

static void
test_events_metadata(Fx *fx, gconstpointer data)
{
    virDomainPtr dom = fx_dom(fx, UT_UUID_BETA);
    const UtChange *ch;
    guint from = ut_recorder_count(&fx->r);

    g_assert_cmpint(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_TITLE, "New beta", NULL,
                                         NULL, VIR_DOMAIN_AFFECT_CONFIG), ==, 0);
    ch = wait_change(fx, from, UT_UUID_BETA, "metadata-change title");
    g_assert_cmpstr(ch->old_info->title, ==, "");
    g_assert_cmpstr(ch->new_info->title, ==, "New beta");

    from = ut_recorder_count(&fx->r);
    g_assert_cmpint(virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_DESCRIPTION, "d1\nd2", NULL,
                                         NULL, VIR_DOMAIN_AFFECT_CONFIG), ==, 0);
    ch = wait_change(fx, from, UT_UUID_BETA, "metadata-change description");
    g_assert_cmpstr(ch->new_info->description, ==, "d1\nd2");
    virDomainFree(dom);
    check_cache_against_libvirt(fx->c);
}

/* ---- .domfs/connection ---- */

static char *
describe(Tree *t, int host)
{
    GString *s = g_string_new(NULL);

    host_describe(tree_host(t, host), s);
    return g_string_free(s, FALSE);
}

static void
check_describe(Tree *t, int index, const char *name, guint guests)
{
    g_autofree char *s = describe(t, index);
    virConnectPtr vc = conn_get_virt(ut_tree_conn(t, index));
    char *uri = virConnectGetURI(vc);
    char *host = virConnectGetHostname(vc);
    unsigned long ver = 0;
    g_autofree char *want = NULL;

    g_assert_cmpint(virConnectGetLibVersion(vc, &ver), ==, 0);
    want = g_strdup_printf("name %s\nuri %s\nhostname %s\ndriver %s\nlibvirt %lu.%lu.%lu\n"
                           "status connected\nguests %u\n",
                           name, uri, host, virConnectGetType(vc), ver / 1000000,
                           ver / 1000 % 1000, ver % 1000, guests);
    g_assert_cmpstr(s, ==, want);
    free(uri);
    free(host);
    virConnectClose(vc);
}

static void
test_describe(void)
{
    UtFleet *f = ut_fleet_new(UT_FLEET_XML);
    const char *names[] = { "h1" };
    const char *uris_named[] = { f->uri };
    const char *uris_def[] = { "test:///default" };
    Tree *named = ut_tree_new(names, uris_named, 1, NULL);
    Tree *def = ut_tree_new(NULL, uris_def, 1, NULL);
    g_autofree char *s = describe(def, 0);
    char *host = NULL;
    virConnectPtr vc = conn_get_virt(ut_tree_conn(def, 0));

    check_describe(named, 0, "h1", 4);
    /* unnamed: named by the connection's hostname */
    host = virConnectGetHostname(vc);
    check_describe(def, 0, host, 1);
    /* what the spec names: URI, hostname, libvirt version, connected */
    g_assert_nonnull(strstr(s, "uri test:///default\n"));
    g_assert_nonnull(strstr(s, "status connected\n"));
    g_assert_true(g_regex_match_simple("^libvirt [0-9]+\\.[0-9]+\\.[0-9]+$", s,
                                       G_REGEX_MULTILINE, 0));
    g_assert_true(g_str_has_suffix(s, "\n"));
    free(host);
    virConnectClose(vc);
    ut_tree_free(def);
    ut_tree_free(named);
    ut_fleet_free(f);
}

/* ---- recorded errors ---- */

static void
test_record_error(Fx *fx, gconstpointer data)
{
    g_autoptr(DomInfo) before = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_ALPHA);
    g_autoptr(DomInfo) after = NULL;
    g_autoptr(DomInfo) after2 = NULL;
    g_autoptr(DomInfo) after3 = NULL;
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();
    g_autoptr(GDateTime) when = NULL;
    g_autoptr(GTimeZone) utc = g_time_zone_new_utc();
    g_autofree char *stamp = NULL;
    guint from = ut_recorder_count(&fx->r);
    const UtChange *ch;

    guint log_from = ut_log_count();

    g_assert_null(before->local->error);
    dom_note_error(conn_cache(fx->c), "h1", UT_UUID_ALPHA, "state", EINVAL, "unknown state word \"x\"");
    /* and in the daemon log */
    g_assert_true(ut_log_has(log_from, "unknown state word \"x\""));
    after = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_ALPHA);
    g_assert_nonnull(after->local->error);
    /* "<time> <file> <ERRNAME>: <message>" */
    if (!g_regex_match_simple("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z "
                              "state EINVAL: unknown state word \"x\"$", after->local->error, 0, 0))
        g_error("error is \"%s\"", after->local->error);
    stamp = g_strndup(after->local->error, 20);
    when = g_date_time_new_from_iso8601(stamp, utc);
    g_assert_nonnull(when);
    g_assert_cmpint(ABS(g_date_time_difference(when, now)), <, 60 * G_USEC_PER_SEC);
    g_assert_cmpint(after->local->error_serial, ==, before->local->error_serial + 1);
    /* nothing else changed */
    g_assert_cmpint(after->state, ==, before->state);
    g_assert_cmpstr(after->xml, ==, before->xml);
    g_assert_cmpstr(after->title, ==, before->title);
    /* reported through the change callback, with no event line */
    ch = ut_recorder_wait(&fx->r, from, UT_UUID_ALPHA, NULL, UT_TIMEOUT_MS, NULL);
    g_assert_nonnull(ch);
    g_assert_true(ch->old_info == before);
    g_assert_true(ch->new_info == after);
    g_assert_null(ch->event);

    /* a second error replaces the first, and the serial moves on */
    dom_note_error(conn_cache(fx->c), "h1", UT_UUID_ALPHA, "autostart", EBUSY, "operation invalid");
    after2 = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_ALPHA);
    g_assert_true(g_regex_match_simple("^\\S+ autostart EBUSY: operation invalid$",
                                       after2->local->error, 0, 0));
    g_assert_cmpint(after2->local->error_serial, ==, before->local->error_serial + 2);
    dom_note_error(conn_cache(fx->c), "h1", UT_UUID_ALPHA, "title", ENOTCONN, "libvirt is not connected");
    after3 = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_ALPHA);
    g_assert_true(g_str_has_suffix(after3->local->error, " title ENOTCONN: libvirt is not connected"));

    /* other guests keep no error */
    {
        g_autoptr(DomInfo) b = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_BETA);

        g_assert_null(b->local->error);
    }
    /* an unknown guest: nothing recorded, nothing published, no crash */
    from = ut_recorder_count(&fx->r);
    dom_note_error(conn_cache(fx->c), "h1", "99999999-0000-0000-0000-000000000000", "state", EIO, "x");
    g_assert_cmpuint(ut_recorder_count(&fx->r), ==, from);
}

/* the error (and migrate status) survive a refresh from libvirt and an event */
static void
test_record_error_survives_refresh(Fx *fx, gconstpointer data)
{
    g_autoptr(DomInfo) rec = NULL;
    g_autoptr(DomInfo) refreshed = NULL;
    g_autoptr(DomInfo) evented = NULL;
    virDomainPtr dom = fx_dom(fx, UT_UUID_ALPHA);
    guint from;

    dom_note_error(conn_cache(fx->c), "h1", UT_UUID_ALPHA, "state", EINVAL, "bad");
    dom_note_migrate(conn_cache(fx->c), UT_UUID_ALPHA, "completed host2 3s");
    rec = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_ALPHA);
    g_assert_cmpstr(rec->local->migrate, ==, "completed host2 3s");

    from = ut_recorder_count(&fx->r);
    g_assert_cmpint(conn_refresh_domain(fx->c, UT_UUID_ALPHA, "test refresh"), ==, 0);
    refreshed = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_ALPHA);
    g_assert_true(refreshed != rec);
    g_assert_cmpstr(refreshed->local->error, ==, rec->local->error);
    g_assert_cmpint(refreshed->local->error_serial, ==, rec->local->error_serial);
    g_assert_cmpstr(refreshed->local->migrate, ==, "completed host2 3s");
    g_assert_nonnull(ut_recorder_wait(&fx->r, from, UT_UUID_ALPHA, "test refresh", 0, NULL));

    from = ut_recorder_count(&fx->r);
    g_assert_cmpint(virDomainSuspend(dom), ==, 0);
    wait_change(fx, from, UT_UUID_ALPHA, "lifecycle suspended paused");
    evented = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_ALPHA);
    g_assert_cmpint(evented->state, ==, VIR_DOMAIN_PAUSED);
    g_assert_cmpstr(evented->local->error, ==, rec->local->error);
    g_assert_cmpstr(evented->local->migrate, ==, "completed host2 3s");
    virDomainFree(dom);
}

/* setting the same migrate status twice publishes once */
static void
test_migrate_status(Fx *fx, gconstpointer data)
{
    guint from = ut_recorder_count(&fx->r);
    g_autoptr(DomInfo) d = NULL;

    dom_note_migrate(conn_cache(fx->c), UT_UUID_BETA, "running 10 1/10 bytes 1 MiB/s");
    dom_note_migrate(conn_cache(fx->c), UT_UUID_BETA, "running 10 1/10 bytes 1 MiB/s");
    g_assert_cmpuint(ut_recorder_count(&fx->r), ==, from + 1);
    d = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_BETA);
    g_assert_cmpstr(d->local->migrate, ==, "running 10 1/10 bytes 1 MiB/s");
    /* unknown guest: nothing */
    dom_note_migrate(conn_cache(fx->c), "99999999-0000-0000-0000-000000000000", "none");
    g_assert_cmpuint(ut_recorder_count(&fx->r), ==, from + 1);
}

/* refreshing a guest that is gone removes it */
static void
test_refresh_vanished(Fx *fx, gconstpointer data)
{
    guint from = ut_recorder_count(&fx->r);
    const UtChange *ch;

    g_assert_cmpint(conn_refresh_domain(fx->c, "99999999-0000-0000-0000-000000000000",
                                        NULL), ==, 0);
    g_assert_cmpuint(ut_recorder_count(&fx->r), ==, from);
    g_assert_cmpuint(dom_cache_size(conn_cache(fx->c)), ==, 4);

    /* beta disappears behind the cache's back (undefined with events not yet seen is
     * simulated by refreshing right after the undefine, on this thread) */
    {
        virDomainPtr dom = fx_dom(fx, UT_UUID_BETA);

        g_assert_cmpint(virDomainUndefine(dom), ==, 0);
        virDomainFree(dom);
    }
    g_assert_cmpint(conn_refresh_domain(fx->c, UT_UUID_BETA, "gone"), ==, 0);
    {
        g_autoptr(DomInfo) d = dom_cache_get_uuid(conn_cache(fx->c), UT_UUID_BETA);

        g_assert_null(d);
    }
    ch = ut_recorder_wait(&fx->r, from, UT_UUID_BETA, NULL, UT_TIMEOUT_MS, NULL);
    g_assert_nonnull(ch);
    g_assert_null(ch->new_info);
    g_assert_cmpstr(ch->old_info->name, ==, "beta");
}

/* ---- bulk and single fetch ---- */

static void
check_same_snapshot(const DomInfo *a, const DomInfo *b)
{
    g_assert_cmpstr(a->uuid, ==, b->uuid);
    g_assert_cmpstr(a->name, ==, b->name);
    g_assert_cmpstr(a->dirname, ==, b->dirname);
    g_assert_cmpint(a->id, ==, b->id);
    g_assert_cmpint(a->state, ==, b->state);
    g_assert_cmpint(a->reason, ==, b->reason);
    g_assert_cmpuint(a->vcpus, ==, b->vcpus);
    g_assert_cmpuint(a->memory_kib, ==, b->memory_kib);
    g_assert_cmpint(a->autostart, ==, b->autostart);
    g_assert_cmpint(a->persistent, ==, b->persistent);
    g_assert_cmpstr(a->title, ==, b->title);
    g_assert_cmpstr(a->description, ==, b->description);
    g_assert_cmpstr(a->xml, ==, b->xml);
    g_assert_cmpstr(a->console_log, ==, b->console_log);
    g_assert_cmpstr(a->local->error, ==, b->local->error);
    g_assert_cmpstr(a->local->migrate, ==, b->local->migrate);
}

/* The bulk path (list + stats, then each guest's XML loaded) and the single path give the
 * same snapshot. */
static void
check_fetch_paths(virConnectPtr vc, guint expected)
{
    GPtrArray *all = NULL;
    GPtrArray *doms = NULL;
    g_autofree char *msg = NULL;

    g_assert_cmpint(dom_fetch_all(vc, &all, &doms, &msg), ==, 0);
    g_assert_null(msg);
    g_assert_nonnull(all);
    g_assert_cmpuint(all->len, ==, expected);
    g_assert_cmpuint(doms->len, ==, expected);
    for (guint i = 0; i < all->len; i++) {
        DomInfo *bulk = all->pdata[i];
        DomInfo *a = NULL;
        DomInfo *one = NULL;
        g_autofree char *m1 = NULL;
        g_autofree char *m2 = NULL;

        g_assert_false(bulk->loaded);
        g_assert_cmpint(dom_fetch_load(doms->pdata[i], bulk, &a, &m2), ==, 0);
        g_assert_true(a->loaded);
        dom_info_unref(bulk);
        g_assert_cmpint(dom_fetch_one(vc, a->uuid, NULL, &one, &m1), ==, 0);
        g_assert_nonnull(one);
        check_same_snapshot(a, one);
        check_against_libvirt(vc, a);
        dom_info_unref(one);
        dom_info_unref(a);
    }
    g_ptr_array_unref(all);
    g_ptr_array_unref(doms);
}

static void
test_fetch_all_vs_one(Fx *fx, gconstpointer data)
{
    virDomainPtr a = fx_dom(fx, UT_UUID_ALPHA);
    virDomainPtr b = fx_dom(fx, UT_UUID_BETA);
    DomConn *def = ut_open("test:///default", NULL);
    virConnectPtr dvc = conn_get_virt(def);

    check_fetch_paths(fx->vc, 4);
    /* in other states and with autostart/metadata changed, both paths still agree */
    g_assert_cmpint(virDomainSuspend(a), ==, 0);
    g_assert_cmpint(virDomainSetAutostart(b, 1), ==, 0);
    g_assert_cmpint(virDomainSetMetadata(b, VIR_DOMAIN_METADATA_TITLE, "T", NULL, NULL,
                                         VIR_DOMAIN_AFFECT_CONFIG), ==, 0);
    check_fetch_paths(fx->vc, 4);
    g_assert_cmpint(virDomainCreate(b), ==, 0);
    g_assert_cmpint(virDomainDestroy(a), ==, 0);
    check_fetch_paths(fx->vc, 4);
    check_fetch_paths(dvc, 1);
    virConnectClose(dvc);
    ut_close(def);
    virDomainFree(a);
    virDomainFree(b);
}

static void
test_fetch_one_missing(Fx *fx, gconstpointer data)
{
    DomInfo *d = NULL;
    g_autofree char *msg = NULL;

    g_assert_cmpint(dom_fetch_one(fx->vc, "99999999-0000-0000-0000-000000000000", NULL, &d, &msg),
                    ==, -ENOENT);
    g_assert_null(d);
    g_assert_nonnull(msg);
    /* libvirt's error was taken: none left on this thread */
    g_assert_null(virGetLastError());
}

/* Closing a connection while libvirt is still delivering its events must be safe: the
 * callbacks are registered with the DomConn as opaque and no free callback, and
 * virConnectDomainEventDeregisterAny() does not wait for a callback that the event-loop
 * thread is running at that moment, so conn_close() can free the DomConn under it
 * (heap-use-after-free in conn_push() from conn_on_lifecycle(), seen with ASan). */
static void
test_close_event_in_flight(void)
{
    for (int i = 0; i < 100; i++) {
        UtFleet *f = ut_fleet_new(UT_FLEET_XML);
        DomConn *c = ut_open(f->uri, NULL);
        virConnectPtr vc = conn_get_virt(c);
        virDomainPtr dom = virDomainLookupByUUIDString(vc, UT_UUID_ALPHA);

        for (int j = 0; j < 20; j++) {
            g_assert_cmpint(virDomainSuspend(dom), ==, 0);
            g_assert_cmpint(virDomainResume(dom), ==, 0);
        }
        virDomainFree(dom);
        virConnectClose(vc);
        g_assert_true(conn_close(c));  /* the loop's events are still being dispatched */
        ut_fleet_free(f);
    }
}

int
main(int argc, char **argv)
{
    ut_init(&argc, &argv);
    g_test_add_func("/conn/open/default", test_open_default);
    g_test_add_func("/conn/open/fleet", test_open_fleet);
    g_test_add_func("/conn/open/escaped-names", test_open_escaped_names);
    g_test_add_func("/conn/open/failure", test_open_failure);
    g_test_add("/conn/events/lifecycle", Fx, NULL, fx_setup, test_events_lifecycle,
               fx_teardown);
    g_test_add("/conn/events/chain", Fx, NULL, fx_setup, test_events_chain, fx_teardown);
    g_test_add("/conn/events/define-undefine", Fx, NULL, fx_setup,
               test_events_define_undefine, fx_teardown);
    g_test_add("/conn/events/transient", Fx, NULL, fx_setup, test_events_transient,
               fx_teardown);
    g_test_add("/conn/events/undefine-running", Fx, NULL, fx_setup,
               test_events_undefine_running, fx_teardown);
    g_test_add("/conn/events/metadata", Fx, NULL, fx_setup, test_events_metadata,
               fx_teardown);
    g_test_add_func("/conn/describe", test_describe);
    g_test_add("/conn/error/record", Fx, NULL, fx_setup, test_record_error, fx_teardown);
    g_test_add("/conn/error/survives-refresh", Fx, NULL, fx_setup,
               test_record_error_survives_refresh, fx_teardown);
    g_test_add("/conn/migrate-status", Fx, NULL, fx_setup, test_migrate_status, fx_teardown);
    g_test_add("/conn/refresh-vanished", Fx, NULL, fx_setup, test_refresh_vanished,
               fx_teardown);
    g_test_add("/conn/fetch/all-vs-one", Fx, NULL, fx_setup, test_fetch_all_vs_one,
               fx_teardown);
    g_test_add("/conn/fetch/one-missing", Fx, NULL, fx_setup, test_fetch_one_missing,
               fx_teardown);
    g_test_add_func("/conn/close/event-in-flight", test_close_event_in_flight);
    return g_test_run();
}
