/* ut_common.h - helpers shared by the unit tests that run lib/ against libvirt's
 * in-process test driver (no FUSE, no daemon):
 *
 *  - ut_fleet_*: a custom test-driver node file written into a g_dir_make_tmp() directory,
 *    opened as test:///ABS/PATH.xml. Every open of such a URI is a private driver instance,
 *    so a test acts on the guests through the very connection domfs holds
 *    (conn_get_virt()).
 *  - UtRecorder: a DomCacheChangeFn that keeps every change (old and new snapshot, event
 *    text) and lets a test wait for one with a timeout (GMutex + GCond, no main loop).
 *  - UT_KNOWN_BUG(): a test case that exposes a reported, not yet fixed lib/ bug is
 *    skipped (TAP "ok N # SKIP known bug: ...") unless DOMFS_TEST_KNOWN_BUGS=1 is set, so
 *    the unit suite stays usable for everyone while the bug stays visible. The assertions
 *    in such a case are the correct ones: run with DOMFS_TEST_KNOWN_BUGS=1 to see them fail,
 *    and drop the UT_KNOWN_BUG line when the bug is fixed.
 */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "conn.h"
#include "dom_cache.h"
#include "dom_info.h"

#define UT_TIMEOUT_MS 5000

#define UT_KNOWN_BUG(what)                                                        \
    do {                                                                          \
        if (!g_getenv("DOMFS_TEST_KNOWN_BUGS")) {                                  \
            g_test_skip("known bug (set DOMFS_TEST_KNOWN_BUGS=1 to run): " what); \
            return;                                                               \
        }                                                                         \
    } while (0)

/* ---- the daemon log ----
 * lib/ logs failed writes with g_warning() (the spec wants libvirt's message in the daemon
 * log). GTest makes warnings fatal; the tests that drive lib/ keep them instead, so they
 * can check what was logged. Criticals stay fatal. */

static GMutex ut_log_lock;
static GPtrArray *ut_log_lines;

G_GNUC_UNUSED static void
ut_log_handler(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    g_mutex_lock(&ut_log_lock);
    g_ptr_array_add(ut_log_lines, g_strdup(message));
    g_mutex_unlock(&ut_log_lock);
    if (g_getenv("UT_VERBOSE"))
        g_printerr("# log: %s\n", message);
}

/* Was a warning containing NEEDLE logged since line FROM (see ut_log_count)? */
G_GNUC_UNUSED static gboolean
ut_log_has(guint from, const char *needle)
{
    gboolean found = FALSE;

    g_mutex_lock(&ut_log_lock);
    for (guint i = from; i < ut_log_lines->len && !found; i++)
        found = strstr(g_ptr_array_index(ut_log_lines, i), needle) != NULL;
    g_mutex_unlock(&ut_log_lock);
    return found;
}

G_GNUC_UNUSED static guint
ut_log_count(void)
{
    guint n;

    g_mutex_lock(&ut_log_lock);
    n = ut_log_lines->len;
    g_mutex_unlock(&ut_log_lock);
    return n;
}

/* Every test program calls this first. */
G_GNUC_UNUSED static void
ut_init(int *argc, char ***argv)
{
    g_test_init(argc, argv, NULL);
    ut_log_lines = g_ptr_array_new_with_free_func(g_free);
    g_log_set_always_fatal(G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
    g_log_set_handler(NULL, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, ut_log_handler, NULL);
    g_assert_cmpint(conn_event_loop_start(), ==, 0);
}

/* ---- custom test-driver fleets ---- */

typedef struct {
    char *dir;
    char *path;
    char *uri;
} UtFleet;

#define UT_TEST_NS "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'"

/* Write NODE_XML (a whole <node> document) and return its test:/// URI. */
G_GNUC_UNUSED static UtFleet *
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

G_GNUC_UNUSED static void
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
G_GNUC_UNUSED static char *
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

/* The standard fleet of the conn/actions/tree/metrics tests. */
#define UT_UUID_ALPHA "11111111-2222-3333-4444-555555555501"
#define UT_UUID_BETA  "11111111-2222-3333-4444-555555555502"
#define UT_UUID_GAMMA "11111111-2222-3333-4444-555555555503"
#define UT_UUID_WEIRD "11111111-2222-3333-4444-555555555504"

#define UT_FLEET_XML                                                                     \
    "<node>\n"                                                                           \
    "  <domain type='test' " UT_TEST_NS ">\n"                                            \
    "    <name>alpha</name>\n"                                                           \
    "    <uuid>" UT_UUID_ALPHA "</uuid>\n"                                               \
    "    <title>Alpha title</title>\n"                                                   \
    "    <description>line one\nline two</description>\n"                                \
    "    <memory unit='KiB'>1048576</memory>\n"                                          \
    "    <currentMemory unit='KiB'>524288</currentMemory>\n"                             \
    "    <vcpu placement='static' current='2'>4</vcpu>\n"                                \
    "    <os><type>hvm</type></os>\n"                                                    \
    "    <devices>\n"                                                                    \
    "      <disk type='file' device='disk'>\n"                                           \
    "        <driver name='qemu' type='qcow2' cache='none'/>\n"                          \
    "        <source file='/var/lib/libvirt/images/alpha.qcow2'/>\n"                     \
    "        <target dev='vda' bus='virtio'/>\n"                                         \
    "      </disk>\n"                                                                    \
    "      <disk type='file' device='cdrom'>\n"                                          \
    "        <target dev='sda' bus='sata'/>\n"                                           \
    "        <readonly/>\n"                                                              \
    "      </disk>\n"                                                                    \
    "      <interface type='network'>\n"                                                 \
    "        <mac address='52:54:00:00:00:01'/>\n"                                       \
    "        <source network='default'/>\n"                                              \
    "        <model type='virtio'/>\n"                                                   \
    "      </interface>\n"                                                               \
    "      <serial type='pty'>\n"                                                        \
    "        <target port='0'/>\n"                                                       \
    "      </serial>\n"                                                                  \
    "    </devices>\n"                                                                   \
    "  </domain>\n"                                                                      \
    "  <domain type='test' " UT_TEST_NS ">\n"                                            \
    "    <name>beta</name>\n"                                                            \
    "    <uuid>" UT_UUID_BETA "</uuid>\n"                                                \
    "    <memory unit='MiB'>256</memory>\n"                                              \
    "    <vcpu>1</vcpu>\n"                                                               \
    "    <os><type>hvm</type></os>\n"                                                    \
    "    <test:runstate>5</test:runstate>\n"                                             \
    "  </domain>\n"                                                                      \
    "  <domain type='test' " UT_TEST_NS ">\n"                                            \
    "    <name>gamma</name>\n"                                                           \
    "    <uuid>" UT_UUID_GAMMA "</uuid>\n"                                               \
    "    <memory unit='GiB'>1</memory>\n"                                                \
    "    <currentMemory unit='MiB'>768</currentMemory>\n"                                \
    "    <vcpu>3</vcpu>\n"                                                               \
    "    <os><type>hvm</type></os>\n"                                                    \
    "    <test:runstate>3</test:runstate>\n"                                             \
    "  </domain>\n"                                                                      \
    "  <domain type='test'>\n"                                                           \
    "    <name>we\"ird\\name</name>\n"                                                   \
    "    <uuid>" UT_UUID_WEIRD "</uuid>\n"                                               \
    "    <memory unit='KiB'>131072</memory>\n"                                           \
    "    <vcpu>1</vcpu>\n"                                                               \
    "    <os><type>hvm</type></os>\n"                                                    \
    "  </domain>\n"                                                                      \
    "</node>\n"

/* ---- change recorder ---- */

typedef struct {
    DomInfo *old_info;   /* references */
    DomInfo *new_info;
    char *event;
} UtChange;

typedef struct {
    GMutex lock;
    GCond cond;
    GPtrArray *changes;  /* of UtChange * */
} UtRecorder;

G_GNUC_UNUSED static void
ut_change_free(gpointer p)
{
    UtChange *ch = p;

    dom_info_unref(ch->old_info);
    dom_info_unref(ch->new_info);
    g_free(ch->event);
    g_free(ch);
}

G_GNUC_UNUSED static void
ut_recorder_init(UtRecorder *r)
{
    g_mutex_init(&r->lock);
    g_cond_init(&r->cond);
    r->changes = g_ptr_array_new_with_free_func(ut_change_free);
}

G_GNUC_UNUSED static void
ut_recorder_clear(UtRecorder *r)
{
    g_ptr_array_unref(r->changes);
    g_mutex_clear(&r->lock);
    g_cond_clear(&r->cond);
}

/* The DomCacheChangeFn; OPAQUE is the UtRecorder. */
G_GNUC_UNUSED static void
ut_recorder_fn(DomInfo *old_info, DomInfo *new_info, const char *event, void *opaque)
{
    UtRecorder *r = opaque;
    UtChange *ch = g_new0(UtChange, 1);

    ch->old_info = old_info ? dom_info_ref(old_info) : NULL;
    ch->new_info = new_info ? dom_info_ref(new_info) : NULL;
    ch->event = g_strdup(event);
    g_mutex_lock(&r->lock);
    g_ptr_array_add(r->changes, ch);
    g_cond_broadcast(&r->cond);
    g_mutex_unlock(&r->lock);
}

G_GNUC_UNUSED static guint
ut_recorder_count(UtRecorder *r)
{
    guint n;

    g_mutex_lock(&r->lock);
    n = r->changes->len;
    g_mutex_unlock(&r->lock);
    return n;
}

/* The uuid a change is about. */
G_GNUC_UNUSED static const char *
ut_change_uuid(const UtChange *ch)
{
    return ch->new_info ? ch->new_info->uuid : ch->old_info->uuid;
}

/* Wait until a change with index >= FROM about UUID whose event equals EVENT (NULL: any
 * event) is recorded; returns it (owned by the recorder, valid until the recorder is
 * cleared) and sets *INDEX, or NULL after TIMEOUT_MS. */
G_GNUC_UNUSED static const UtChange *
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

/* Wait until at least N changes about UUID were recorded from FROM on. */
G_GNUC_UNUSED static gboolean
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

/* Events of all changes about UUID from FROM on, joined with '|' (for diagnostics). */
G_GNUC_UNUSED static char *
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

/* ---- libvirt helpers on the connection domfs holds ---- */

G_GNUC_UNUSED static virDomainPtr
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

/* The state of UUID as libvirt reports it now (a fresh virDomainGetState). */
G_GNUC_UNUSED static int
ut_virt_state(DomConn *c, const char *uuid)
{
    virDomainPtr dom = ut_lookup(c, uuid);
    int state = -1;
    int reason = -1;

    g_assert_cmpint(virDomainGetState(dom, &state, &reason, 0), ==, 0);
    virDomainFree(dom);
    return state;
}

/* Wait until the cache's snapshot of UUID satisfies state == STATE. */
G_GNUC_UNUSED static gboolean
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

/* Open URI with a recorder (may be NULL); asserts success. */
G_GNUC_UNUSED static DomConn *
ut_open(const char *name, const char *uri, UtRecorder *r)
{
    g_autoptr(GError) err = NULL;
    DomConn *c = conn_open(name, uri, r ? ut_recorder_fn : NULL, r, &err);

    g_assert_no_error(err);
    g_assert_nonnull(c);
    /* the XML of every guest arrives in the background after the bulk load: the tests
     * read snapshots straight from the cache, so wait for it */
    for (gint64 end = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;;) {
        g_autoptr(GPtrArray) all = dom_cache_list(conn_cache(c));
        gboolean loaded = TRUE;

        for (guint i = 0; i < all->len; i++)
            loaded &= ((DomInfo *)g_ptr_array_index(all, i))->loaded;
        if (loaded)
            break;
        g_assert_cmpint(g_get_monotonic_time(), <, end);
        g_usleep(1000);
    }
    return c;
}

/* Let every libvirt event already queued for C reach C before it is closed.
 *
 * conn_close() frees the DomConn while libvirt's event-loop thread may still be inside one
 * of its domain-event callbacks (registered without a free callback), which then touches
 * the freed connection: a reported lib/ bug, reproduced by /conn/close/event-in-flight.
 * The other tests close only after a marker event (a metadata change) has been delivered:
 * libvirt dispatches events in order, so every earlier callback has returned by then. */
G_GNUC_UNUSED static void
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

/* conn_close() after ut_settle() */
G_GNUC_UNUSED static void
ut_close(DomConn *c)
{
    if (!c)
        return;
    ut_settle(c);
    conn_close(c);
}

/* The common fixture: the UT_FLEET_XML fleet opened as connection "h1" with a change
 * recorder, and a libvirt connection of its own (the same driver state) to act with. */
typedef struct {
    UtFleet *f;
    UtRecorder r;
    DomConn *c;
    virConnectPtr vc;
} Fx;

G_GNUC_UNUSED static void
fx_setup(Fx *fx, gconstpointer data)
{
    fx->f = ut_fleet_new(UT_FLEET_XML);
    ut_recorder_init(&fx->r);
    fx->c = ut_open("h1", fx->f->uri, &fx->r);
    fx->vc = conn_get_virt(fx->c);
    g_assert_nonnull(fx->vc);
}

G_GNUC_UNUSED static void
fx_teardown(Fx *fx, gconstpointer data)
{
    virConnectClose(fx->vc);
    ut_close(fx->c);
    ut_recorder_clear(&fx->r);
    ut_fleet_free(fx->f);
}
