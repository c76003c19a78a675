/* test_metrics.c - lib/metrics.c: .domfs/metrics.prom.
 *
 * The output is parsed by a strict reader of the Prometheus text exposition format
 * (version 0.0.4) written here: every sample belongs to a family announced by one HELP
 * and one TYPE line before its samples, the samples of a family are contiguous, names and
 * label names are valid, label values use only the three escapes the format has, no
 * sample (name + label set) appears twice, and counters end in _total. When promtool is
 * installed, `promtool check metrics` must accept the output too. Values are compared
 * with the domain cache, and a guest named  we"ird\name  (libvirt accepts quotes and
 * backslashes in names) checks the label escaping.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "dom_action.h"
#include "metrics.h"
#include "state_word.h"
#include "tree.h"
#include "ut_common.h"

typedef struct {
    char *name;
    GHashTable *labels;    /* name -> unescaped value */
    char *label_key;       /* canonical "k=v,..." (sorted) for uniqueness */
    double value;
} Sample;

typedef struct {
    GHashTable *help;      /* family -> help text */
    GHashTable *type;      /* family -> type */
    GPtrArray *samples;    /* of Sample * */
} Expo;

static void
sample_free(gpointer p)
{
    Sample *s = p;

    g_free(s->name);
    g_hash_table_unref(s->labels);
    g_free(s->label_key);
    g_free(s);
}

static void
expo_free(Expo *e)
{
    g_hash_table_unref(e->help);
    g_hash_table_unref(e->type);
    g_ptr_array_unref(e->samples);
    g_free(e);
}

static gboolean
valid_metric_name(const char *s, size_t n)
{
    if (n == 0 || !(g_ascii_isalpha(s[0]) || s[0] == '_' || s[0] == ':'))
        return FALSE;
    for (size_t i = 1; i < n; i++)
        if (!(g_ascii_isalnum(s[i]) || s[i] == '_' || s[i] == ':'))
            return FALSE;
    return TRUE;
}

static gboolean
valid_label_name(const char *s, size_t n)
{
    if (n == 0 || !(g_ascii_isalpha(s[0]) || s[0] == '_'))
        return FALSE;
    for (size_t i = 1; i < n; i++)
        if (!(g_ascii_isalnum(s[i]) || s[i] == '_'))
            return FALSE;
    return TRUE;
}

static int
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Parse TEXT strictly; NULL with *WHY set when it breaks a rule of the format. */
static Expo *
expo_parse(const char *text, char **why)
{
    Expo *e = g_new0(Expo, 1);
    g_auto(GStrv) lines = NULL;
    g_autoptr(GHashTable) done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *current = NULL;   /* the family whose samples we are in */
    Sample *s = NULL;
    GPtrArray *keys = NULL;
    guint li = 0;
    guint n;

#define FAIL(...)                                                                   \
    do {                                                                            \
        g_autofree char *m_ = g_strdup_printf(__VA_ARGS__);                         \
        *why = g_strdup_printf("line %u: %s", li + 1, m_);                          \
        goto fail;                                                                  \
    } while (0)

    e->help = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    e->type = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    e->samples = g_ptr_array_new_with_free_func(sample_free);

    if (!g_str_has_suffix(text, "\n"))
        FAIL("the text does not end with a newline");
    lines = g_strsplit(text, "\n", -1);
    n = g_strv_length(lines);
    for (li = 0; li + 1 < n; li++) {
        const char *l = lines[li];
        const char *p;
        size_t nl;
        char *end = NULL;

        if (!*l)
            continue;
        if (g_str_has_prefix(l, "# HELP ") || g_str_has_prefix(l, "# TYPE ")) {
            gboolean help = l[2] == 'H';
            const char *name = l + 7;
            const char *sp = strchr(name, ' ');
            g_autofree char *fam = NULL;

            if (!sp)
                FAIL("no text after the name: \"%s\"", l);
            fam = g_strndup(name, (gsize)(sp - name));
            if (!valid_metric_name(fam, strlen(fam)))
                FAIL("bad metric name \"%s\"", fam);
            if (g_hash_table_contains(help ? e->help : e->type, fam))
                FAIL("second %s for %s", help ? "HELP" : "TYPE", fam);
            if (g_hash_table_contains(done, fam))
                FAIL("%s announced after its samples", fam);
            if (!help) {
                static const char *const types[] = {
                    "counter", "gauge", "histogram", "summary", "untyped", NULL,
                };

                if (!g_strv_contains(types, sp + 1))
                    FAIL("bad type \"%s\"", sp + 1);
                if (strcmp(sp + 1, "counter") == 0 && !g_str_has_suffix(fam, "_total"))
                    FAIL("counter %s does not end in _total", fam);
            } else if (!*(sp + 1)) {
                FAIL("empty HELP");
            }
            g_hash_table_insert(help ? e->help : e->type, g_strdup(fam), g_strdup(sp + 1));
            if (current && strcmp(current, fam) != 0)
                g_hash_table_add(done, g_steal_pointer(&current));
            continue;
        }
        if (l[0] == '#')
            continue;   /* a plain comment */

        /* a sample: name{k="v",...} value */
        s = g_new0(Sample, 1);
        s->labels = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        keys = g_ptr_array_new_with_free_func(g_free);
        p = l;
        nl = strcspn(p, "{ ");
        s->name = g_strndup(p, nl);
        if (!valid_metric_name(s->name, strlen(s->name)))
            FAIL("bad sample name in \"%s\"", l);
        p += nl;
        if (*p == '{') {
            p++;
            while (*p != '}') {
                size_t kl = strcspn(p, "=");
                g_autofree char *k = g_strndup(p, kl);
                g_autoptr(GString) v = g_string_new(NULL);

                if (!valid_label_name(k, kl))
                    FAIL("bad label name \"%s\"", k);
                p += kl;
                if (p[0] != '=' || p[1] != '"')
                    FAIL("label %s without a quoted value", k);
                p += 2;
                while (*p != '"') {
                    if (!*p)
                        FAIL("unterminated label value");
                    if (*p == '\\') {
                        if (p[1] == '\\' || p[1] == '"')
                            g_string_append_c(v, p[1]);
                        else if (p[1] == 'n')
                            g_string_append_c(v, '\n');
                        else
                            FAIL("bad escape \\%c", p[1]);
                        p += 2;
                    } else {
                        g_string_append_c(v, *p++);
                    }
                }
                p++;
                if (g_hash_table_contains(s->labels, k))
                    FAIL("label %s twice", k);
                g_ptr_array_add(keys, g_strdup_printf("%s=%s", k, v->str));
                g_hash_table_insert(s->labels, g_strdup(k), g_strdup(v->str));
                if (*p == ',')
                    p++;
                else if (*p != '}')
                    FAIL("expected , or } at \"%s\"", p);
            }
            p++;
        }
        if (*p != ' ')
            FAIL("no value in \"%s\"", l);
        p++;
        s->value = g_ascii_strtod(p, &end);
        if (end == p || (*end && *end != ' '))
            FAIL("bad value \"%s\"", p);
        g_ptr_array_sort(keys, cmp_str);
        g_ptr_array_add(keys, NULL);
        s->label_key = g_strjoinv("\x01", (char **)keys->pdata);
        g_clear_pointer(&keys, g_ptr_array_unref);

        /* its family was announced, and is the one being listed */
        if (!g_hash_table_contains(e->type, s->name) || !g_hash_table_contains(e->help, s->name))
            FAIL("sample of %s before its HELP/TYPE", s->name);
        if (g_hash_table_contains(done, s->name))
            FAIL("samples of %s are not contiguous", s->name);
        if (current && strcmp(current, s->name) != 0)
            g_hash_table_add(done, g_steal_pointer(&current));
        if (!current)
            current = g_strdup(s->name);
        {
            char *id = g_strdup_printf("%s{%s}", s->name, s->label_key);

            if (g_hash_table_contains(seen, id)) {
                g_free(id);
                FAIL("duplicate sample %s", l);
            }
            g_hash_table_add(seen, id);
        }
        g_ptr_array_add(e->samples, g_steal_pointer(&s));
    }
    return e;

 fail:
#undef FAIL
    if (s)
        sample_free(s);
    if (keys)
        g_ptr_array_unref(keys);
    expo_free(e);
    return NULL;
}

/* parse, failing the test on a format error */
static Expo *
expo_parse_ok(const char *text)
{
    g_autofree char *why = NULL;
    Expo *e = expo_parse(text, &why);

    if (!e)
        g_error("not valid Prometheus text format: %s\n---\n%s", why, text);
    return e;
}

/* the value of the one sample of FAMILY with labels host, name (and extra k=v), or fail */
static double
expo_value(Expo *e, const char *family, const char *host, const char *name,
           const char *extra_k, const char *extra_v)
{
    const Sample *found = NULL;

    for (guint i = 0; i < e->samples->len; i++) {
        const Sample *s = e->samples->pdata[i];

        if (strcmp(s->name, family) != 0 ||
            g_strcmp0(g_hash_table_lookup(s->labels, "host"), host) != 0 ||
            g_strcmp0(g_hash_table_lookup(s->labels, "name"), name) != 0)
            continue;
        if (extra_k && g_strcmp0(g_hash_table_lookup(s->labels, extra_k), extra_v) != 0)
            continue;
        if (found)
            g_error("two samples of %s for %s/%s", family, host, name);
        found = s;
    }
    if (!found)
        g_error("no sample of %s for %s/%s", family, host, name);
    return found->value;
}

static guint
expo_count(Expo *e, const char *family, const char *host)
{
    guint n = 0;

    for (guint i = 0; i < e->samples->len; i++) {
        const Sample *s = e->samples->pdata[i];

        n += strcmp(s->name, family) == 0 &&
             (!host || g_strcmp0(g_hash_table_lookup(s->labels, "host"), host) == 0);
    }
    return n;
}

/* every guest of host INDEX of T appears with the cache's values */
static void
check_against_cache(Expo *e, Tree *t, int index)
{
    DomConn *c = ut_tree_conn(t, index);
    g_autoptr(GPtrArray) doms = dom_cache_list(conn_cache(c));
    const char *host = tree_host_name(t, index);

    g_assert_cmpuint(expo_count(e, "domfs_guest_state", host), ==, doms->len);
    for (guint i = 0; i < doms->len; i++) {
        const DomInfo *d = doms->pdata[i];

        g_assert_cmpfloat(expo_value(e, "domfs_guest_state", host, d->name, "state",
                                     state_name(d->state)), ==, 1);
        g_assert_cmpfloat(expo_value(e, "domfs_guest_running", host, d->name, NULL, NULL), ==,
                          d->state == VIR_DOMAIN_RUNNING ? 1 : 0);
        g_assert_cmpfloat(expo_value(e, "domfs_guest_vcpus", host, d->name, NULL, NULL), ==,
                          d->vcpus);
        g_assert_cmpfloat(expo_value(e, "domfs_guest_memory_bytes", host, d->name, NULL, NULL),
                          ==, (double)d->memory_kib * 1024);
    }
}

static void
promtool_check(const char *text)
{
    g_autofree char *promtool = g_find_program_in_path("promtool");
    g_autoptr(GError) err = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *path = NULL;
    g_autofree char *cmd = NULL;
    g_autofree char *out = NULL;
    g_autofree char *errout = NULL;
    int status = -1;

    if (!promtool) {
        g_test_message("promtool not installed: own parser only");
        return;
    }
    dir = g_dir_make_tmp("domfs-prom-XXXXXX", &err);
    g_assert_no_error(err);
    path = g_build_filename(dir, "metrics.prom", NULL);
    g_assert_true(g_file_set_contents(path, text, -1, &err));
    cmd = g_strdup_printf("sh -c '\"%s\" check metrics < \"%s\"'", promtool, path);
    g_assert_true(g_spawn_command_line_sync(cmd, &out, &errout, &status, &err));
    g_assert_no_error(err);
    if (!g_spawn_check_wait_status(status, NULL))
        g_error("promtool check metrics refused the output:\n%s%s\n---\n%s", out, errout, text);
    g_unlink(path);
    g_rmdir(dir);
}

/* metrics.prom of view CONN (-1: all hosts), as a read of the file gets it */
static char *
render(Tree *t, int conn)
{
    g_autoptr(GBytes) b = metrics_get(t->metrics, t->hosts, t->n_hosts, conn);
    gsize len;
    const char *data = g_bytes_get_data(b, &len);

    return g_strndup(data, len);
}

/* A tree of one host NAME=URI. */
static Tree *
one_host(const char *name, const char *uri)
{
    const char *names[] = { name };
    const char *uris[] = { uri };

    return ut_tree_new(names, uris, 1, NULL);
}

/* ---- tests ---- */

static void
test_single(void)
{
    UtFleet *f = ut_fleet_new(UT_FLEET_XML);
    Tree *t = one_host("h1", f->uri);
    g_autofree char *text = render(t, 0);
    g_autofree char *all = render(t, -1);
    Expo *e = expo_parse_ok(text);

    /* the families the spec promises: state, vcpus, memory, disk I/O */
    g_assert_cmpstr(g_hash_table_lookup(e->type, "domfs_guest_state"), ==, "gauge");
    g_assert_cmpstr(g_hash_table_lookup(e->type, "domfs_guest_running"), ==, "gauge");
    g_assert_cmpstr(g_hash_table_lookup(e->type, "domfs_guest_vcpus"), ==, "gauge");
    g_assert_cmpstr(g_hash_table_lookup(e->type, "domfs_guest_memory_bytes"), ==, "gauge");
    g_assert_cmpstr(g_hash_table_lookup(e->type, "domfs_guest_block_read_bytes_total"), ==,
                    "counter");
    g_assert_cmpstr(g_hash_table_lookup(e->type, "domfs_guest_block_write_bytes_total"), ==,
                    "counter");
    check_against_cache(e, t, 0);

    /* hand-checked values from the node XML */
    g_assert_cmpfloat(expo_value(e, "domfs_guest_vcpus", "h1", "alpha", NULL, NULL), ==, 2);
    g_assert_cmpfloat(expo_value(e, "domfs_guest_memory_bytes", "h1", "alpha", NULL, NULL), ==,
                      536870912.0);
    g_assert_cmpfloat(expo_value(e, "domfs_guest_memory_bytes", "h1", "gamma", NULL, NULL), ==,
                      805306368.0);
    g_assert_cmpfloat(expo_value(e, "domfs_guest_running", "h1", "beta", NULL, NULL), ==, 0);
    g_assert_cmpfloat(expo_value(e, "domfs_guest_running", "h1", "gamma", NULL, NULL), ==, 0);
    g_assert_cmpfloat(expo_value(e, "domfs_guest_state", "h1", "beta", "state", "shutoff"), ==,
                      1);
    g_assert_cmpfloat(expo_value(e, "domfs_guest_state", "h1", "gamma", "state", "paused"), ==,
                      1);

    /* one connection: all of them is this one */
    g_assert_cmpstr(all, ==, text);
    promtool_check(text);
    expo_free(e);
    ut_tree_free(t);
    ut_fleet_free(f);
}

/* label values escape backslash and quote as \\ and \" */
static void
test_label_escaping(void)
{
    UtFleet *f = ut_fleet_new(UT_FLEET_XML);
    Tree *t = one_host("host \"q\" \\b", f->uri);
    DomConn *c = ut_tree_conn(t, 0);
    g_autofree char *text = render(t, 0);
    Expo *e = expo_parse_ok(text);

    /* libvirt keeps such a name as written */
    {
        g_autoptr(DomInfo) d = dom_cache_get_uuid(conn_cache(c), UT_UUID_WEIRD);

        g_assert_cmpstr(d->name, ==, "we\"ird\\name");
    }
    g_assert_nonnull(strstr(text, "name=\"we\\\"ird\\\\name\""));
    g_assert_nonnull(strstr(text, "host=\"host \\\"q\\\" \\\\b\""));
    /* and the parser reads back the raw name */
    g_assert_cmpfloat(expo_value(e, "domfs_guest_vcpus", "host \"q\" \\b", "we\"ird\\name",
                                 NULL, NULL), ==, 1);
    check_against_cache(e, t, 0);
    promtool_check(text);
    expo_free(e);
    ut_tree_free(t);
    ut_fleet_free(f);
}

/* names with spaces, UTF-8, and a name that needs a directory escape keep their own
 * name in labels (not the escaped directory name) */
static void
test_label_names_raw(void)
{
    g_autofree char *d1 = ut_domain_xml("with space", "66666666-0000-0000-0000-000000000001",
                                        0, NULL);
    g_autofree char *d2 = ut_domain_xml("caf\xc3\xa9", "66666666-0000-0000-0000-000000000002",
                                        0, NULL);
    g_autofree char *d3 = ut_domain_xml(".dot%", "66666666-0000-0000-0000-000000000003", 5,
                                        NULL);
    g_autofree char *xml = g_strconcat("<node>\n", d1, d2, d3, "</node>\n", NULL);
    UtFleet *f = ut_fleet_new(xml);
    Tree *t = one_host("h", f->uri);
    g_autofree char *text = render(t, 0);
    Expo *e = expo_parse_ok(text);

    g_assert_nonnull(strstr(text, "name=\"with space\""));
    g_assert_nonnull(strstr(text, "name=\"caf\xc3\xa9\""));
    g_assert_nonnull(strstr(text, "name=\".dot%\""));
    g_assert_null(strstr(text, "%2E"));
    check_against_cache(e, t, 0);
    promtool_check(text);
    expo_free(e);
    ut_tree_free(t);
    ut_fleet_free(f);
}

/* values follow the cache as guests change */
static void
test_follows_changes(void)
{
    UtFleet *f = ut_fleet_new(UT_FLEET_XML);
    Tree *t = one_host("h1", f->uri);
    DomConn *c = ut_tree_conn(t, 0);
    g_autoptr(DomInfo) a = dom_cache_get_uuid(conn_cache(c), UT_UUID_ALPHA);
    g_autoptr(DomInfo) b = dom_cache_get_uuid(conn_cache(c), UT_UUID_BETA);
    g_autofree char *text = NULL;
    Expo *e;

    {
        g_autofree char *pa = g_strdup_printf("%s/state", a->dirname);
        g_autofree char *pb = g_strdup_printf("%s/state", b->dirname);

        g_assert_cmpint(ut_write_path(t, pa, "paused"), ==, 0);
        g_assert_cmpint(ut_write_path(t, pb, "start"), ==, 0);
    }
    text = render(t, 0);
    e = expo_parse_ok(text);
    g_assert_cmpfloat(expo_value(e, "domfs_guest_state", "h1", "alpha", "state", "paused"), ==,
                      1);
    g_assert_cmpfloat(expo_value(e, "domfs_guest_running", "h1", "alpha", NULL, NULL), ==, 0);
    g_assert_cmpfloat(expo_value(e, "domfs_guest_state", "h1", "beta", "state", "running"), ==,
                      1);
    g_assert_cmpfloat(expo_value(e, "domfs_guest_running", "h1", "beta", NULL, NULL), ==, 1);
    /* one state sample per guest: the old state is gone */
    g_assert_cmpuint(expo_count(e, "domfs_guest_state", "h1"), ==, 4);
    check_against_cache(e, t, 0);
    expo_free(e);

    /* a new guest appears, an undefined one disappears */
    {
        virConnectPtr vc = conn_get_virt(c);
        g_autofree char *dx = ut_domain_xml("delta", "66666666-0000-0000-0000-000000000009", 0,
                                            NULL);
        virDomainPtr dom = virDomainDefineXML(vc, dx);
        virDomainPtr g = virDomainLookupByUUIDString(vc, UT_UUID_GAMMA);

        g_assert_nonnull(dom);
        g_assert_cmpint(virDomainDestroy(g), ==, 0);
        g_assert_cmpint(virDomainUndefine(g), ==, 0);
        g_assert_cmpint(conn_refresh_domain(c, "66666666-0000-0000-0000-000000000009", NULL), ==,
                        0);
        g_assert_cmpint(conn_refresh_domain(c, UT_UUID_GAMMA, NULL), ==, 0);
        g_clear_pointer(&text, g_free);
        text = render(t, 0);
        e = expo_parse_ok(text);
        g_assert_cmpuint(expo_count(e, "domfs_guest_state", "h1"), ==, 4);
        g_assert_cmpfloat(expo_value(e, "domfs_guest_state", "h1", "delta", "state", "shutoff"),
                          ==, 1);
        g_assert_null(strstr(text, "name=\"gamma\""));
        check_against_cache(e, t, 0);
        expo_free(e);
        virDomainFree(dom);
        virDomainFree(g);
        virConnectClose(vc);
    }
    ut_tree_free(t);
    ut_fleet_free(f);
}

static void
test_multi(void)
{
    g_autofree char *d = ut_domain_xml("alpha", "77777777-0000-0000-0000-000000000001", 5, NULL);
    g_autofree char *xml = g_strconcat("<node>\n", d, "</node>\n", NULL);
    UtFleet *f1 = ut_fleet_new(UT_FLEET_XML);
    UtFleet *f2 = ut_fleet_new(xml);
    const char *names[] = { "h1", "h2" };
    const char *uris[] = { f1->uri, f2->uri };
    Tree *t = ut_tree_new(names, uris, 2, NULL);
    g_autofree char *all = render(t, -1);
    g_autofree char *one = render(t, 1);
    Expo *ea = expo_parse_ok(all);
    Expo *e1 = expo_parse_ok(one);

    /* every family once, samples of both hosts */
    check_against_cache(ea, t, 0);
    check_against_cache(ea, t, 1);
    g_assert_cmpuint(expo_count(ea, "domfs_guest_state", NULL), ==, 5);
    /* the same guest name on two hosts: told apart by the host label */
    g_assert_cmpfloat(expo_value(ea, "domfs_guest_running", "h1", "alpha", NULL, NULL), ==, 1);
    g_assert_cmpfloat(expo_value(ea, "domfs_guest_running", "h2", "alpha", NULL, NULL), ==, 0);
    /* one connection's file: only that host */
    check_against_cache(e1, t, 1);
    g_assert_cmpuint(expo_count(e1, "domfs_guest_state", NULL), ==, 1);
    g_assert_cmpuint(expo_count(e1, "domfs_guest_state", "h1"), ==, 0);
    g_assert_cmpuint(g_hash_table_size(e1->type), ==, g_hash_table_size(ea->type));
    promtool_check(all);
    promtool_check(one);
    expo_free(ea);
    expo_free(e1);
    ut_tree_free(t);
    ut_fleet_free(f1);
    ut_fleet_free(f2);
}

/* the parser itself refuses what the format forbids (so the checks above mean something) */
static void
test_parser_refuses(void)
{
    static const char *const bad[] = {
        "x 1\n",                                                       /* no HELP/TYPE */
        "# HELP x h\n# TYPE x gauge\nx{a=\"b} 1\n",                    /* unterminated */
        "# HELP x h\n# TYPE x gauge\nx{a=\"\\t\"} 1\n",                /* bad escape */
        "# HELP x h\n# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",    /* duplicate */
        "# HELP x h\n# TYPE x counter\nx 1\n",                         /* no _total */
        "# HELP x h\n# TYPE x gauge\n# HELP y h\n# TYPE y gauge\nx 1\ny 1\nx 2\n",
        "# HELP 1x h\n# TYPE 1x gauge\n",                               /* bad name */
        "# HELP x h\n# TYPE x gauge\nx{a=\"1\",a=\"2\"} 1\n",          /* label twice */
        "# HELP x h\n# TYPE x gauge\nx{a=\"1\"} one\n",                /* bad value */
        "# HELP x h\n# TYPE x gauge\nx 1",                             /* no final newline */
    };
    static const char *const good =
        "# HELP x h\n# TYPE x gauge\nx{a=\"q\\\"b\\\\n\\n\"} 1\nx{a=\"2\"} 2.5\n"
        "# HELP y_total h\n# TYPE y_total counter\ny_total 3\n";

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *why = NULL;
        Expo *e = expo_parse(bad[i], &why);

        if (e)
            g_error("accepted: %s", bad[i]);
        g_assert_nonnull(why);
    }
    {
        Expo *e = expo_parse_ok(good);
        const Sample *s0 = e->samples->pdata[0];

        g_assert_cmpuint(e->samples->len, ==, 3);
        g_assert_cmpstr(g_hash_table_lookup(s0->labels, "a"), ==, "q\"b\\n\n");
        expo_free(e);
    }
}

int
main(int argc, char **argv)
{
    ut_init(&argc, &argv);
    g_test_add_func("/metrics/single", test_single);
    g_test_add_func("/metrics/label-escaping", test_label_escaping);
    g_test_add_func("/metrics/label-names-raw", test_label_names_raw);
    g_test_add_func("/metrics/follows-changes", test_follows_changes);
    g_test_add_func("/metrics/multi", test_multi);
    g_test_add_func("/metrics/parser/refuses", test_parser_refuses);
    return g_test_run();
}
