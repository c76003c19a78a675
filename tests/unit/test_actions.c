/* test_actions.c - lib/dom_action.c against libvirt's test driver: what writes to
 * `state`, `autostart`, `title` and `description` do.
 *
 * Each state case starts from a fresh fleet (alpha running, beta shut off, gamma paused)
 * and checks the return value, the state libvirt reports afterwards through a fresh
 * virDomainGetState on the same connection, that the cache shows it as soon as the write
 * returns, and on failure that the guest's `error` names the file and errno and the
 * daemon log has the message. Expected end states after reboot/reset of a paused guest
 * are what the test driver does (the spec leaves them to the hypervisor).
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "dom_action.h"
#include "dom_note.h"
#include "domfs_limits.h"
#include "ut_common.h"

/* The fleet fixture (Fx, fx_setup, fx_teardown) is ut_common.h's. */

static DomInfo *
snap(Fx *fx, const char *uuid)
{
    DomInfo *d = dom_cache_get_uuid(conn_cache(fx->c), uuid);

    g_assert_nonnull(d);
    return d;
}

static int
virt_state(Fx *fx, const char *uuid)
{
    return ut_virt_state(fx->c, uuid);
}

/* A write of BUF to guest file FILE of the guest snapshot D shows (bound to its uuid, as an
 * open file is), through the tree as FUSE makes it. */
static int
write_file(Fx *fx, const DomInfo *d, const char *file, const char *buf, size_t len)
{
    TreeNode n = { .kind = TN_GUEST_FILE, .conn = 0 };
    int ret;

    for (n.index = 0; tree_guest_file_name(n.index); n.index++) {
        if (strcmp(tree_guest_file_name(n.index), file) == 0)
            break;
    }
    g_assert_nonnull(tree_guest_file_name(n.index));
    n.guest = g_strdup(d->dirname);
    g_strlcpy(n.uuid, d->uuid, sizeof(n.uuid));
    ret = ut_write_node(fx->t, &n, buf, len, NULL);
    tree_node_clear(&n);
    return ret;
}

static int
write_state(Fx *fx, const char *uuid, const char *buf, size_t len)
{
    g_autoptr(DomInfo) d = snap(fx, uuid);

    return write_file(fx, d, "state", buf, len);
}

static int
write_autostart(Fx *fx, const char *uuid, const char *buf, size_t len)
{
    g_autoptr(DomInfo) d = snap(fx, uuid);

    return write_file(fx, d, "autostart", buf, len);
}

static int
write_meta(Fx *fx, const char *uuid, const char *file, const char *buf, size_t len)
{
    g_autoptr(DomInfo) d = snap(fx, uuid);

    return write_file(fx, d, file, buf, len);
}

/* the guest's error names FILE and ERRNAME; returns its serial */
static void
check_error(Fx *fx, const char *uuid, const char *file, const char *errname,
            const char *msg_part, gint64 serial_before)
{
    g_autoptr(DomInfo) d = snap(fx, uuid);
    g_autofree char *pat = g_strdup_printf("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z %s %s: .+$",
                                           file, errname);

    g_assert_nonnull(d->local->error);
    if (!g_regex_match_simple(pat, d->local->error, G_REGEX_DOTALL, 0))
        g_error("error \"%s\" does not match %s", d->local->error, pat);
    if (msg_part && !strstr(d->local->error, msg_part))
        g_error("error \"%s\" lacks \"%s\"", d->local->error, msg_part);
    g_assert_cmpint(d->local->error_serial, ==, serial_before + 1);
}

static gint64
error_serial(Fx *fx, const char *uuid)
{
    g_autoptr(DomInfo) d = snap(fx, uuid);

    return d->local->error_serial;
}

/* ---- state: every word from every relevant state ---- */

typedef struct {
    const char *from;      /* "shutoff", "running", "paused" */
    const char *word;
    int ret;               /* 0, or -errno; 1: any failure (errno checked elsewhere) */
    int end;               /* virDomainState afterwards */
} StateCase;

static const StateCase state_cases[] = {
    { "shutoff", "running", 0, VIR_DOMAIN_RUNNING },
    { "shutoff", "start", 0, VIR_DOMAIN_RUNNING },
    { "shutoff", "shutdown", 0, VIR_DOMAIN_SHUTOFF },
    { "shutoff", "shutoff", 0, VIR_DOMAIN_SHUTOFF },
    { "shutoff", "destroy", 0, VIR_DOMAIN_SHUTOFF },
    { "shutoff", "paused", 1, VIR_DOMAIN_SHUTOFF },
    { "shutoff", "suspend", 1, VIR_DOMAIN_SHUTOFF },
    { "shutoff", "resume", 1, VIR_DOMAIN_SHUTOFF },
    { "shutoff", "reboot", -EBUSY, VIR_DOMAIN_SHUTOFF },
    { "shutoff", "reset", -EBUSY, VIR_DOMAIN_SHUTOFF },

    { "running", "running", 0, VIR_DOMAIN_RUNNING },
    { "running", "start", 0, VIR_DOMAIN_RUNNING },
    { "running", "shutdown", 0, VIR_DOMAIN_SHUTOFF },
    { "running", "shutoff", 0, VIR_DOMAIN_SHUTOFF },
    { "running", "destroy", 0, VIR_DOMAIN_SHUTOFF },
    { "running", "paused", 0, VIR_DOMAIN_PAUSED },
    { "running", "suspend", 0, VIR_DOMAIN_PAUSED },
    { "running", "resume", 0, VIR_DOMAIN_RUNNING },
    { "running", "reboot", 0, VIR_DOMAIN_RUNNING },
    { "running", "reset", 0, VIR_DOMAIN_RUNNING },

    { "paused", "running", 0, VIR_DOMAIN_RUNNING },
    { "paused", "start", 0, VIR_DOMAIN_RUNNING },
    { "paused", "shutdown", 0, VIR_DOMAIN_SHUTOFF },
    { "paused", "shutoff", 0, VIR_DOMAIN_SHUTOFF },
    { "paused", "destroy", 0, VIR_DOMAIN_SHUTOFF },
    { "paused", "paused", 0, VIR_DOMAIN_PAUSED },
    { "paused", "suspend", 0, VIR_DOMAIN_PAUSED },
    { "paused", "resume", 0, VIR_DOMAIN_RUNNING },
    { "paused", "reboot", 0, VIR_DOMAIN_RUNNING },   /* test driver: reboot runs it */
    { "paused", "reset", 0, VIR_DOMAIN_PAUSED },     /* test driver: reset keeps it paused */
};

static const char *
uuid_in_state(const char *from)
{
    if (strcmp(from, "shutoff") == 0)
        return UT_UUID_BETA;
    if (strcmp(from, "running") == 0)
        return UT_UUID_ALPHA;
    return UT_UUID_GAMMA;
}

static int
state_of(const char *from)
{
    if (strcmp(from, "shutoff") == 0)
        return VIR_DOMAIN_SHUTOFF;
    if (strcmp(from, "running") == 0)
        return VIR_DOMAIN_RUNNING;
    return VIR_DOMAIN_PAUSED;
}

static void
test_state_case(gconstpointer data)
{
    const StateCase *sc = data;
    Fx fx;
    const char *uuid = uuid_in_state(sc->from);
    gint64 serial;
    guint log_from;
    int ret;

    fx_setup(&fx, NULL);
    g_assert_cmpint(virt_state(&fx, uuid), ==, state_of(sc->from));
    serial = error_serial(&fx, uuid);
    log_from = ut_log_count();

    ret = write_state(&fx, uuid, sc->word, strlen(sc->word));
    if (sc->ret == 1)
        g_assert_cmpint(ret, <, 0);
    else
        g_assert_cmpint(ret, ==, sc->ret);

    /* libvirt's truth */
    g_assert_cmpint(virt_state(&fx, uuid), ==, sc->end);
    /* the cache shows it as soon as the write returned */
    {
        g_autoptr(DomInfo) d = snap(&fx, uuid);

        g_assert_cmpint(d->state, ==, sc->end);
        if (sc->end == VIR_DOMAIN_SHUTOFF)
            g_assert_cmpint(d->id, ==, -1);
        else
            g_assert_cmpint(d->id, >, 0);
        if (ret == 0) {
            g_assert_null(d->local->error);
            g_assert_cmpint(d->local->error_serial, ==, serial);
        }
    }
    if (ret < 0) {
        check_error(&fx, uuid, "state", strerrorname_np(-ret), NULL, serial);
        g_assert_true(ut_log_has(log_from, "state"));
    }
    /* other guests untouched */
    if (strcmp(uuid, UT_UUID_ALPHA) != 0)
        g_assert_cmpint(virt_state(&fx, UT_UUID_ALPHA), ==, VIR_DOMAIN_RUNNING);
    if (strcmp(uuid, UT_UUID_BETA) != 0)
        g_assert_cmpint(virt_state(&fx, UT_UUID_BETA), ==, VIR_DOMAIN_SHUTOFF);
    if (strcmp(uuid, UT_UUID_GAMMA) != 0)
        g_assert_cmpint(virt_state(&fx, UT_UUID_GAMMA), ==, VIR_DOMAIN_PAUSED);
    fx_teardown(&fx, NULL);
}

/* Spec: "operation invalid in the current state: EBUSY". Pausing or resuming a shut-off
 * guest is exactly that, whatever words the hypervisor driver uses for its refusal (the
 * test driver reports VIR_ERR_INTERNAL_ERROR, which domfs maps to EIO; domfs already
 * reads the current state before acting and can refuse with EBUSY itself). */
static void
test_state_invalid_in_state_is_ebusy(void)
{
    static const char *const words[] = { "paused", "suspend", "resume" };

    for (size_t i = 0; i < G_N_ELEMENTS(words); i++) {
        Fx fx;
        int ret;

        fx_setup(&fx, NULL);
        ret = write_state(&fx, UT_UUID_BETA, words[i], strlen(words[i]));
        if (ret != -EBUSY)
            g_error("\"%s\" on a shut-off guest: %d (%s), expected -EBUSY", words[i], ret,
                    g_strerror(-ret));
        fx_teardown(&fx, NULL);
    }
}

/* the written forms of the spec: trailing newline optional, blanks ignored */
static void
test_state_written_forms(Fx *fx, gconstpointer data)
{
    g_assert_cmpint(write_state(fx, UT_UUID_ALPHA, "paused\n", 7), ==, 0);
    g_assert_cmpint(virt_state(fx, UT_UUID_ALPHA), ==, VIR_DOMAIN_PAUSED);
    g_assert_cmpint(write_state(fx, UT_UUID_ALPHA, "  resume \t\n", 11), ==, 0);
    g_assert_cmpint(virt_state(fx, UT_UUID_ALPHA), ==, VIR_DOMAIN_RUNNING);
    g_assert_cmpint(write_state(fx, UT_UUID_BETA, " start", 6), ==, 0);
    g_assert_cmpint(virt_state(fx, UT_UUID_BETA), ==, VIR_DOMAIN_RUNNING);
}

/* writing the state a guest is already in succeeds and does nothing */
static void
test_state_idempotent(Fx *fx, gconstpointer data)
{
    static const struct {
        const char *uuid;
        const char *word;
        int state;
    } rows[] = {
        { UT_UUID_ALPHA, "paused", VIR_DOMAIN_PAUSED },
        { UT_UUID_ALPHA, "suspend", VIR_DOMAIN_PAUSED },
        { UT_UUID_ALPHA, "running", VIR_DOMAIN_RUNNING },
        { UT_UUID_ALPHA, "start", VIR_DOMAIN_RUNNING },
        { UT_UUID_ALPHA, "resume", VIR_DOMAIN_RUNNING },
        { UT_UUID_ALPHA, "shutoff", VIR_DOMAIN_SHUTOFF },
        { UT_UUID_ALPHA, "destroy", VIR_DOMAIN_SHUTOFF },
        { UT_UUID_ALPHA, "shutdown", VIR_DOMAIN_SHUTOFF },
        { UT_UUID_GAMMA, "shutdown", VIR_DOMAIN_SHUTOFF },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        guint from;

        g_assert_cmpint(write_state(fx, rows[i].uuid, rows[i].word, strlen(rows[i].word)),
                        ==, 0);
        g_assert_cmpint(virt_state(fx, rows[i].uuid), ==, rows[i].state);
        /* let the events of the first write settle, then write again */
        g_assert_true(ut_wait_cache_state(fx->c, rows[i].uuid, rows[i].state));
        g_usleep(50 * 1000);
        from = ut_recorder_count(&fx->r);
        g_assert_cmpint(write_state(fx, rows[i].uuid, rows[i].word, strlen(rows[i].word)),
                        ==, 0);
        g_assert_cmpint(virt_state(fx, rows[i].uuid), ==, rows[i].state);
        /* nothing was asked of libvirt: no lifecycle event follows */
        g_assert_null(ut_recorder_wait(&fx->r, from, rows[i].uuid, NULL, 200, NULL));
        {
            g_autoptr(DomInfo) d = snap(fx, rows[i].uuid);

            g_assert_null(d->local->error);
        }
    }
}

typedef struct {
    const char *label;
    const char *buf;
    size_t len;
    const char *errname;
    const char *msg;      /* part of the recorded message */
} BadWrite;

static const BadWrite bad_state_writes[] = {
    { "junk", "bogus", 5, "EINVAL", "unknown state word \"bogus\"" },
    { "empty", "", 0, "EINVAL", "unknown state word" },
    { "newline", "\n", 1, "EINVAL", "unknown state word" },
    { "prefix", "run", 3, "EINVAL", "unknown state word \"run\"" },
    { "upper", "Start", 5, "EINVAL", "unknown state word \"Start\"" },
    { "two-words", "start now", 9, "EINVAL", "unknown state word \"start now\"" },
    { "two-lines", "start\nstop\n", 11, "EINVAL", "unknown state word" },
    { "nul-inside", "start\0", 6, "EINVAL", "contains a NUL byte" },
    { "nul-middle", "sta\0rt", 6, "EINVAL", "contains a NUL byte" },
    { "control", "\x1b[2Jstart", 9, "EINVAL", "unknown state word \"\\033[2Jstart\"" },
};

static void
test_state_bad_writes(Fx *fx, gconstpointer data)
{
    const char *uuids[] = { UT_UUID_ALPHA, UT_UUID_BETA, UT_UUID_GAMMA };
    const int states[] = { VIR_DOMAIN_RUNNING, VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_PAUSED };

    for (size_t u = 0; u < G_N_ELEMENTS(uuids); u++) {
        for (size_t i = 0; i < G_N_ELEMENTS(bad_state_writes); i++) {
            const BadWrite *b = &bad_state_writes[i];
            gint64 serial = error_serial(fx, uuids[u]);
            guint log_from = ut_log_count();
            int ret = write_state(fx, uuids[u], b->buf, b->len);

            if (ret != -EINVAL)
                g_error("%s: %d, expected -EINVAL", b->label, ret);
            g_assert_cmpint(virt_state(fx, uuids[u]), ==, states[u]);
            check_error(fx, uuids[u], "state", b->errname, b->msg, serial);
            /* the daemon log carries the same reason as the error file */
            g_assert_true(ut_log_has(log_from, b->msg));
        }
    }
}

static void
test_state_too_big(Fx *fx, gconstpointer data)
{
    g_autofree char *big = g_strnfill(DOMFS_WRITE_MAX + 1, ' ');
    gint64 serial = error_serial(fx, UT_UUID_BETA);

    /* DOMFS_WRITE_MAX bytes: still one word with blanks around it */
    memcpy(big + 100, "start", 5);
    g_assert_cmpint(write_state(fx, UT_UUID_GAMMA, big, DOMFS_WRITE_MAX), ==, 0);
    g_assert_cmpint(virt_state(fx, UT_UUID_GAMMA), ==, VIR_DOMAIN_RUNNING);
    /* one more byte: EFBIG, unchanged */
    g_assert_cmpint(write_state(fx, UT_UUID_BETA, big, DOMFS_WRITE_MAX + 1), ==, -EFBIG);
    g_assert_cmpint(virt_state(fx, UT_UUID_BETA), ==, VIR_DOMAIN_SHUTOFF);
    check_error(fx, UT_UUID_BETA, "state", "EFBIG", NULL, serial);
}

/* A write with a NUL byte is refused; the recorded reason must say so. act_state quotes
 * the text up to the NUL, so "start\0" is recorded as 'unknown state word "start"',
 * which tells the user a valid word is unknown. */
static void
test_state_nul_reason(Fx *fx, gconstpointer data)
{
    g_autoptr(DomInfo) d = NULL;

    g_assert_cmpint(write_state(fx, UT_UUID_BETA, "start\0", 6), ==, -EINVAL);
    d = snap(fx, UT_UUID_BETA);
    g_assert_nonnull(d->local->error);
    if (!strstr(d->local->error, "NUL"))
        g_error("the reason does not name the NUL byte: %s", d->local->error);
    g_assert_null(strstr(d->local->error, "unknown state word \"start\""));
}

/* a write to a guest that is gone: ENOENT */
static void
test_state_vanished(Fx *fx, gconstpointer data)
{
    g_autoptr(DomInfo) d = snap(fx, UT_UUID_BETA);
    virDomainPtr dom = virDomainLookupByUUIDString(fx->vc, UT_UUID_BETA);

    g_assert_nonnull(dom);
    g_assert_cmpint(virDomainUndefine(dom), ==, 0);
    virDomainFree(dom);
    g_assert_cmpint(write_file(fx, d, "state", "start", 5), ==, -ENOENT);
    g_assert_cmpint(write_file(fx, d, "autostart", "1", 1), ==, -ENOENT);
    g_assert_cmpint(write_file(fx, d, "title", "x", 1), ==, -ENOENT);
}

/* a guest re-created under the same name is never hit by a write aimed at the old one */
static void
test_state_by_uuid(Fx *fx, gconstpointer data)
{
    g_autoptr(DomInfo) old = snap(fx, UT_UUID_BETA);
    g_autofree char *xml = ut_domain_xml("beta", "44444444-0000-0000-0000-000000000001", 5,
                                         NULL);
    virDomainPtr dom = virDomainLookupByUUIDString(fx->vc, UT_UUID_BETA);
    virDomainPtr twin;

    g_assert_cmpint(virDomainUndefine(dom), ==, 0);
    virDomainFree(dom);
    twin = virDomainDefineXML(fx->vc, xml);
    g_assert_nonnull(twin);
    g_assert_cmpint(write_file(fx, old, "state", "start", 5), ==, -ENOENT);
    g_assert_cmpint(virt_state(fx, "44444444-0000-0000-0000-000000000001"), ==,
                    VIR_DOMAIN_SHUTOFF);
    virDomainFree(twin);
}

/* ---- autostart ---- */

static int
virt_autostart(Fx *fx, const char *uuid)
{
    virDomainPtr dom = ut_lookup(fx->c, uuid);
    int on = -1;

    g_assert_cmpint(virDomainGetAutostart(dom, &on), ==, 0);
    virDomainFree(dom);
    return on;
}

static void
test_autostart(Fx *fx, gconstpointer data)
{
    static const struct {
        const char *in;
        int want;
    } rows[] = {
        { "1", 1 }, { "0", 0 }, { "1\n", 1 }, { "0\n", 0 }, { "1", 1 }, { "1", 1 },
        { "0", 0 }, { "0", 0 },
    };
    const char *uuids[] = { UT_UUID_ALPHA, UT_UUID_BETA, UT_UUID_GAMMA };

    for (size_t u = 0; u < G_N_ELEMENTS(uuids); u++) {
        for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
            g_autoptr(DomInfo) d = NULL;

            g_assert_cmpint(write_autostart(fx, uuids[u], rows[i].in, strlen(rows[i].in)), ==, 0);
            g_assert_cmpint(virt_autostart(fx, uuids[u]), ==, rows[i].want);
            /* autostart has no event: the cache is right when the write returns */
            d = snap(fx, uuids[u]);
            g_assert_cmpint(d->autostart, ==, rows[i].want);
            g_assert_null(d->local->error);
        }
    }
}

static void
test_autostart_junk(Fx *fx, gconstpointer data)
{
    static const struct {
        const char *buf;
        size_t len;
    } rows[] = {
        { "2", 1 }, { "yes", 3 }, { "true", 4 }, { "on", 2 }, { "", 0 }, { "\n", 1 },
        { "01", 2 }, { "1\n1", 3 }, { "1\n\n", 3 }, { "1\0", 2 }, { "-1", 2 }, { "1 0", 3 },
        { "\xff", 1 },
    };

    g_assert_cmpint(write_autostart(fx, UT_UUID_BETA, "1", strlen("1")), ==, 0);
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        gint64 serial = error_serial(fx, UT_UUID_BETA);
        g_autoptr(DomInfo) d = snap(fx, UT_UUID_BETA);
        int ret = write_file(fx, d, "autostart", rows[i].buf, rows[i].len);

        if (ret != -EINVAL)
            g_error("autostart \"%s\": %d, expected -EINVAL",
                    g_strescape(rows[i].buf, NULL), ret);
        g_assert_cmpint(virt_autostart(fx, UT_UUID_BETA), ==, 1);
        check_error(fx, UT_UUID_BETA, "autostart", "EINVAL", NULL, serial);
    }
    {
        g_autofree char *big = g_strnfill(DOMFS_WRITE_MAX + 1, '0');
        gint64 serial = error_serial(fx, UT_UUID_BETA);
        g_autoptr(DomInfo) d = snap(fx, UT_UUID_BETA);

        g_assert_cmpint(write_file(fx, d, "autostart", big, DOMFS_WRITE_MAX + 1), ==, -EFBIG);
        check_error(fx, UT_UUID_BETA, "autostart", "EFBIG", NULL, serial);
        g_assert_cmpint(virt_autostart(fx, UT_UUID_BETA), ==, 1);
    }
}

/* A transient guest: qemu refuses autostart, the test driver accepts it. Either way the
 * write's result and the cache follow libvirt: success shows the new value, a refusal
 * is recorded with libvirt's reason and leaves the value. */
static void
test_autostart_transient(Fx *fx, gconstpointer data)
{
    const char *uuid = "44444444-0000-0000-0000-000000000002";
    g_autofree char *xml = ut_domain_xml("eph", uuid, 0, NULL);
    virDomainPtr dom = virDomainCreateXML(fx->vc, xml, 0);
    g_autoptr(DomInfo) d = NULL;
    gint64 serial;
    int ret;

    g_assert_nonnull(dom);
    g_assert_cmpint(conn_refresh_domain(fx->c, uuid, NULL), ==, 0);
    serial = error_serial(fx, uuid);
    ret = write_autostart(fx, uuid, "1", strlen("1"));
    d = snap(fx, uuid);
    g_assert_false(d->persistent);
    g_assert_cmpint(d->autostart, ==, virt_autostart(fx, uuid));
    if (ret == 0) {
        g_assert_cmpint(d->autostart, ==, 1);
        g_assert_null(d->local->error);
    } else {
        g_assert_cmpint(ret, !=, -EINVAL);    /* the input was fine; libvirt said no */
        g_assert_cmpint(d->autostart, ==, 0);
        check_error(fx, uuid, "autostart", strerrorname_np(-ret), NULL, serial);
    }
    virDomainFree(dom);
}

/* ---- title and description ---- */

static char *
virt_meta(Fx *fx, const char *uuid, int type, unsigned int flags)
{
    virDomainPtr dom = ut_lookup(fx->c, uuid);
    char *v = virDomainGetMetadata(dom, type, NULL, flags);
    char *ret = NULL;

    if (v) {
        ret = g_strdup(v);
        free(v);
    } else {
        g_assert_cmpint(virGetLastError()->code, ==, VIR_ERR_NO_DOMAIN_METADATA);
        virResetLastError();
    }
    virDomainFree(dom);
    return ret;    /* NULL: none */
}

static void
check_meta(Fx *fx, const char *uuid, const char *file, const char *want)
{
    int type = strcmp(file, "title") == 0 ? VIR_DOMAIN_METADATA_TITLE
                                          : VIR_DOMAIN_METADATA_DESCRIPTION;
    g_autofree char *cur = virt_meta(fx, uuid, type, VIR_DOMAIN_AFFECT_CURRENT);
    g_autofree char *cfg = virt_meta(fx, uuid, type, VIR_DOMAIN_AFFECT_CONFIG);
    g_autoptr(DomInfo) d = snap(fx, uuid);

    /* libvirt has it, live and in the persistent config; the cache shows it already */
    g_assert_cmpstr(cur, ==, *want ? want : NULL);
    g_assert_cmpstr(cfg, ==, *want ? want : NULL);
    g_assert_cmpstr(strcmp(file, "title") == 0 ? d->title : d->description, ==, want);
}

static void
test_metadata_title(Fx *fx, gconstpointer data)
{
    const char *uuids[] = { UT_UUID_ALPHA, UT_UUID_BETA, UT_UUID_GAMMA };

    for (size_t u = 0; u < G_N_ELEMENTS(uuids); u++) {
        const char *uuid = uuids[u];

        g_assert_cmpint(write_meta(fx, uuid, "title", "Web server\n", 11), ==, 0);
        check_meta(fx, uuid, "title", "Web server");
        g_assert_cmpint(write_meta(fx, uuid, "title", "no newline", 10), ==, 0);
        check_meta(fx, uuid, "title", "no newline");
        /* characters that mean something in XML are stored as written */
        g_assert_cmpint(write_meta(fx, uuid, "title", "<b>&amp; \"q\" 'a'</b>", 20), ==, 0);
        check_meta(fx, uuid, "title", "<b>&amp; \"q\" 'a'</b>");
        g_assert_cmpint(write_meta(fx, uuid, "title", "caf\xc3\xa9 \xe2\x82\xac\n", 10),
                        ==, 0);
        check_meta(fx, uuid, "title", "caf\xc3\xa9 \xe2\x82\xac");
        /* clearing: an empty line, or an empty write */
        g_assert_cmpint(write_meta(fx, uuid, "title", "\n", 1), ==, 0);
        check_meta(fx, uuid, "title", "");
        g_assert_cmpint(write_meta(fx, uuid, "title", "again", 5), ==, 0);
        check_meta(fx, uuid, "title", "again");
        g_assert_cmpint(write_meta(fx, uuid, "title", "", 0), ==, 0);
        check_meta(fx, uuid, "title", "");
    }
}

static void
test_metadata_title_single_line(Fx *fx, gconstpointer data)
{
    static const struct {
        const char *buf;
        size_t len;
        int ret;
    } rows[] = {
        { "two\nlines", 9, -EINVAL },
        { "two\nlines\n", 10, -EINVAL },
        { "one\n\n", 5, -EINVAL },
        { "nul\0inside", 10, -EINVAL },
        { "bad \xff utf8", 10, -EINVAL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        gint64 serial = error_serial(fx, UT_UUID_ALPHA);

        g_assert_cmpint(write_meta(fx, UT_UUID_ALPHA, "title", rows[i].buf, rows[i].len), ==,
                        rows[i].ret);
        check_meta(fx, UT_UUID_ALPHA, "title", "Alpha title");
        check_error(fx, UT_UUID_ALPHA, "title", "EINVAL", NULL, serial);
    }
    {
        g_autofree char *big = g_strnfill(DOMFS_WRITE_MAX + 1, 't');
        gint64 serial = error_serial(fx, UT_UUID_ALPHA);

        g_assert_cmpint(write_meta(fx, UT_UUID_ALPHA, "title", big, DOMFS_WRITE_MAX + 1), ==,
                        -EFBIG);
        check_error(fx, UT_UUID_ALPHA, "title", "EFBIG", NULL, serial);
        check_meta(fx, UT_UUID_ALPHA, "title", "Alpha title");
    }
}

static void
test_metadata_description(Fx *fx, gconstpointer data)
{
    const char *uuids[] = { UT_UUID_ALPHA, UT_UUID_BETA, UT_UUID_GAMMA };

    for (size_t u = 0; u < G_N_ELEMENTS(uuids); u++) {
        const char *uuid = uuids[u];
        g_autofree char *big = g_strnfill(DOMFS_WRITE_MAX - 1, 'd');

        g_assert_cmpint(write_meta(fx, uuid, "description", "first\nsecond\nthird\n", 19), ==,
                        0);
        check_meta(fx, uuid, "description", "first\nsecond\nthird");
        g_assert_cmpint(write_meta(fx, uuid, "description", "a\nb", 3), ==, 0);
        check_meta(fx, uuid, "description", "a\nb");
        /* only one trailing newline is the write's own */
        g_assert_cmpint(write_meta(fx, uuid, "description", "para\n\n", 6), ==, 0);
        check_meta(fx, uuid, "description", "para\n");
        /* a single line is a description too */
        g_assert_cmpint(write_meta(fx, uuid, "description", "one line\n", 9), ==, 0);
        check_meta(fx, uuid, "description", "one line");
        /* up to the size limit */
        g_assert_cmpint(write_meta(fx, uuid, "description", big, strlen(big)), ==, 0);
        check_meta(fx, uuid, "description", big);
        /* clearing with an empty line */
        g_assert_cmpint(write_meta(fx, uuid, "description", "\n", 1), ==, 0);
        check_meta(fx, uuid, "description", "");
    }
    /* the title is left alone by description writes */
    check_meta(fx, UT_UUID_ALPHA, "title", "Alpha title");
    {
        gint64 serial = error_serial(fx, UT_UUID_BETA);

        g_assert_cmpint(write_meta(fx, UT_UUID_BETA, "description", "x\0y", 3), ==, -EINVAL);
        check_error(fx, UT_UUID_BETA, "description", "EINVAL", "NUL", serial);
    }
}

/* ---- act_take_value, dom_note_error ---- */

static void
test_take_value(Fx *fx, gconstpointer data)
{
    g_autoptr(DomInfo) d = snap(fx, UT_UUID_BETA);
    static const struct {
        const char *buf;
        size_t len;
        gboolean single;
        int ret;
        const char *out;
    } rows[] = {
        { "abc", 3, TRUE, 0, "abc" },
        { "abc\n", 4, TRUE, 0, "abc" },
        { "abc\n", 4, FALSE, 0, "abc" },
        { "abc\n\n", 5, FALSE, 0, "abc\n" },
        { "abc\n\n", 5, TRUE, -EINVAL, NULL },
        { "a\nb", 3, TRUE, -EINVAL, NULL },
        { "a\nb", 3, FALSE, 0, "a\nb" },
        { "", 0, TRUE, 0, "" },
        { "\n", 1, TRUE, 0, "" },
        { " x ", 3, TRUE, 0, " x " },
        { "a\0b", 3, FALSE, -EINVAL, NULL },
        { "\xc3", 1, FALSE, -EINVAL, NULL },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        g_autofree char *out = NULL;
        g_autofree char *why = NULL;
        int ret = act_take_value(rows[i].buf, rows[i].len, rows[i].single, &out, &why);

        g_assert_cmpint(ret, ==, rows[i].ret);
        g_assert_cmpstr(out, ==, rows[i].out);
        /* a refusal says why */
        g_assert_true((ret == 0) == (why == NULL));
    }
}

static void
test_refuse(Fx *fx, gconstpointer data)
{
    g_autoptr(DomInfo) d = snap(fx, UT_UUID_GAMMA);
    gint64 serial = d->local->error_serial;

    dom_note_error(conn_cache(fx->c), "h1", d->uuid, "migrate", EINVAL, "bad host \"a/b\"");
    check_error(fx, UT_UUID_GAMMA, "migrate", "EINVAL", "bad host \"a/b\"", serial);
}

int
main(int argc, char **argv)
{
    ut_init(&argc, &argv);
    for (size_t i = 0; i < G_N_ELEMENTS(state_cases); i++) {
        g_autofree char *path = g_strdup_printf("/actions/state/from-%s/%s",
                                                state_cases[i].from, state_cases[i].word);

        g_test_add_data_func(path, &state_cases[i], test_state_case);
    }
    g_test_add_func("/actions/state/invalid-in-state-is-ebusy",
                    test_state_invalid_in_state_is_ebusy);
#define ADD(path, fn) g_test_add(path, Fx, NULL, fx_setup, fn, fx_teardown)
    ADD("/actions/state/written-forms", test_state_written_forms);
    ADD("/actions/state/idempotent", test_state_idempotent);
    ADD("/actions/state/bad-writes", test_state_bad_writes);
    ADD("/actions/state/too-big", test_state_too_big);
    ADD("/actions/state/nul-reason", test_state_nul_reason);
    ADD("/actions/state/vanished", test_state_vanished);
    ADD("/actions/state/by-uuid", test_state_by_uuid);
    ADD("/actions/autostart/values", test_autostart);
    ADD("/actions/autostart/junk", test_autostart_junk);
    ADD("/actions/autostart/transient", test_autostart_transient);
    ADD("/actions/metadata/title", test_metadata_title);
    ADD("/actions/metadata/title-single-line", test_metadata_title_single_line);
    ADD("/actions/metadata/description", test_metadata_description);
    ADD("/actions/take-value", test_take_value);
    ADD("/actions/refuse", test_refuse);
#undef ADD
    return g_test_run();
}
