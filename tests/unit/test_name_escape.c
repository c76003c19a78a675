/* test_name_escape.c - lib/name_escape.c: libvirt names as single, safe path components.
 *
 * Exact expectations for the documented escapes (name_escape.h), then properties checked
 * over many generated names: the result is never empty, never holds '/', a NUL, a
 * control byte or DEL, never starts with '.', is at most NAME_MAX bytes, every '%' starts
 * a %XX triple, and short names decode back to exactly the input (bijective).
 */
#include "name_escape.h"

#include <string.h>

#include <glib.h>

#include "ut_common.h"

#define NAME_MAX_BYTES 255

/* the invariants every result must satisfy */
static void
check_component(const char *raw, const char *esc)
{
    size_t len = strlen(esc);

    if (len == 0 || len > NAME_MAX_BYTES || esc[0] == '.' || strchr(esc, '/') ||
        strcmp(esc, ".") == 0 || strcmp(esc, "..") == 0)
        g_error("bad component \"%s\" for \"%s\"", esc, g_strescape(raw, NULL));
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)esc[i];

        if (c < 0x20 || c == 0x7f)
            g_error("control byte 0x%02x in \"%s\"", c, g_strescape(esc, NULL));
        if (c == '%') {
            if (i + 2 >= len)
                g_error("'%%' at %zu of \"%s\" does not start a triple", i, esc);
            if (!g_ascii_isxdigit(esc[i + 1]) || !g_ascii_isxdigit(esc[i + 2]))
                g_error("'%%' at %zu of \"%s\" is not followed by two hex digits", i, esc);
        }
    }
}

static char *
escape_checked(const char *raw)
{
    char *esc = name_escape(raw);

    g_assert_nonnull(esc);
    check_component(raw, esc);
    return esc;
}

/* inverse of the escaping for names that were not cut */
static char *
unescape(const char *esc)
{
    GString *s = g_string_new(NULL);

    if (strcmp(esc, "%00") == 0)
        return g_string_free(s, FALSE);
    for (const char *p = esc; *p; p++) {
        if (*p == '%') {
            char hex[3] = { p[1], p[2], 0 };

            g_string_append_c(s, (char)strtol(hex, NULL, 16));
            p += 2;
        } else {
            g_string_append_c(s, *p);
        }
    }
    return g_string_free(s, FALSE);
}

static void
expect(const char *raw, const char *want)
{
    g_autofree char *got = escape_checked(raw);

    if (strcmp(got, want) != 0)
        g_error("name_escape(\"%s\") = \"%s\", expected \"%s\"", g_strescape(raw, NULL), got,
                want);
}

static void
test_plain_unchanged(void)
{
    static const char *const names[] = {
        "web", "db-01", "test", "a", "vm_1", "Web.Example.COM", "x.", "a..b", "a b",
        "with space ", "~tilde", "-dash", "name:with:colons", "q\"uote", "back\\slash",
        "a*b?c[d]", "$HOME", "#1", "0", "+=,;@!&()'`{}|<>^",
        "0123456789012345678901234567890123456789012345678901234567890123",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++)
        expect(names[i], names[i]);
}

static void
test_slash_and_percent(void)
{
    expect("a/b", "a%2Fb");
    expect("/", "%2F");
    expect("//", "%2F%2F");
    expect("/etc/passwd", "%2Fetc%2Fpasswd");
    expect("%", "%25");
    expect("100%", "100%25");
    expect("%2F", "%252F");
    expect("%00", "%2500");
    expect("a%/b", "a%25%2Fb");
}

static void
test_control_and_del(void)
{
    expect("\x01", "%01");
    expect("a\tb", "a%09b");
    expect("line\n", "line%0A");
    expect("\r", "%0D");
    expect("\x1b[31mred", "%1B[31mred");
    expect("\x1f", "%1F");
    expect("del\x7f", "del%7F");
    expect("\x7f", "%7F");
    /* every control byte, alone and inside a name */
    for (int c = 1; c < 0x20; c++) {
        char raw[4] = { 'a', (char)c, 'b', 0 };
        g_autofree char *want = g_strdup_printf("a%%%02Xb", c);

        expect(raw, want);
    }
}

static void
test_leading_dot(void)
{
    expect(".", "%2E");
    expect("..", "%2E.");
    expect("...", "%2E..");
    expect(".domfs", "%2Edomfs");
    expect(".hidden", "%2Ehidden");
    expect("./x", "%2E%2Fx");
    expect("../etc", "%2E.%2Fetc");
    /* only the leading dot */
    expect("a.", "a.");
    expect("a.b.c", "a.b.c");
}

static void
test_empty(void)
{
    g_autofree char *null_name = name_escape(NULL);

    expect("", "%00");
    g_assert_cmpstr(null_name, ==, "%00");
}

static void
test_utf8_passes_through(void)
{
    static const char *const names[] = {
        "caf\xc3\xa9", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", "\xf0\x9f\x9a\x80rocket",
        "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", "na\xc3\xafve-\xc3\x9f",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        expect(names[i], names[i]);
        g_assert_true(g_utf8_validate(names[i], -1, NULL));
    }
    /* a leading multi-byte character is not a dot: unchanged */
    expect("\xc2\xb7" "dot", "\xc2\xb7" "dot");
}

static void
test_length_limit_boundaries(void)
{
    g_autofree char *n255 = g_strnfill(255, 'a');
    g_autofree char *n256 = g_strnfill(256, 'a');
    g_autofree char *e255 = escape_checked(n255);
    g_autofree char *e256 = escape_checked(n256);

    /* fits: unchanged */
    g_assert_cmpstr(e255, ==, n255);
    /* one over: cut, and marked with '~' and 8 hex digits */
    g_assert_cmpuint(strlen(e256), <=, NAME_MAX_BYTES);
    g_assert_cmpstr(e256, !=, n255);
    g_assert_true(g_regex_match_simple("^a+~[0-9a-f]{8}$", e256, 0, 0));
}

static void
test_long_names(void)
{
    g_autofree char *base = g_strnfill(300, 'x');
    g_autofree char *a = g_strconcat(base, "-a", NULL);
    g_autofree char *b = g_strconcat(base, "-b", NULL);
    g_autofree char *ea = escape_checked(a);
    g_autofree char *eb = escape_checked(b);
    g_autofree char *ea2 = escape_checked(a);

    g_assert_cmpuint(strlen(ea), <=, NAME_MAX_BYTES);
    g_assert_cmpuint(strlen(eb), <=, NAME_MAX_BYTES);
    /* differ only beyond the cut: still different */
    g_assert_cmpstr(ea, !=, eb);
    /* deterministic: the same name always gives the same directory */
    g_assert_cmpstr(ea, ==, ea2);
    /* the kept part is the name's own beginning */
    g_assert_true(g_str_has_prefix(ea, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
    g_assert_true(g_regex_match_simple("^x+~[0-9a-f]{8}$", ea, 0, 0));
}

/* many long names differing only at the end all get distinct directories */
static void
test_long_names_unique(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *base = g_strnfill(290, 'n');

    for (int i = 0; i < 2000; i++) {
        g_autofree char *raw = g_strdup_printf("%s%05d", base, i);
        char *esc = escape_checked(raw);

        g_assert_false(g_hash_table_contains(seen, esc));
        g_hash_table_add(seen, esc);
    }
}

/* a long name of escaped bytes is never cut inside a %XX triple (at every alignment) */
static void
test_long_escaped_cut(void)
{
    for (int pad = 0; pad < 3; pad++) {
        g_autofree char *p = g_strnfill(pad, 'p');
        g_autofree char *slashes = g_strnfill(120, '/');
        g_autofree char *raw = g_strconcat(p, slashes, NULL);
        g_autofree char *esc = escape_checked(raw);   /* checks the triples */

        g_assert_cmpuint(strlen(esc), <=, NAME_MAX_BYTES);
        g_assert_true(g_regex_match_simple("^p*(%2F)+~[0-9a-f]{8}$", esc, 0, 0));
    }
}

/* A cut never splits a UTF-8 character: a valid UTF-8 name gives a valid UTF-8
 * directory name (else ls shows '?' and tools that decode file names choke). */
static void
test_long_utf8_cut(void)
{
    for (int pad = 0; pad < 4; pad++) {
        GString *raw = g_string_new(NULL);
        g_autofree char *esc = NULL;

        for (int i = 0; i < pad; i++)
            g_string_append_c(raw, 'a');
        for (int i = 0; i < 100; i++)
            g_string_append(raw, "\xe2\x82\xac");   /* U+20AC, 3 bytes */
        esc = escape_checked(raw->str);
        if (!g_utf8_validate(esc, -1, NULL))
            g_error("pad %d: cut inside a UTF-8 character: \"...%s\"", pad,
                    g_strescape(esc + strlen(esc) - 14, NULL));
        g_string_free(raw, TRUE);
    }
}

/* random names: invariants always hold; names that fit decode back (bijective) */
static void
test_random_names(void)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                       g_free);

    for (int i = 0; i < 20000; i++) {
        int len = g_test_rand_int_range(1, 40);
        char raw[64];
        g_autofree char *esc = NULL;
        g_autofree char *back = NULL;
        const char *other;

        for (int j = 0; j < len; j++) {
            /* favour the interesting bytes */
            static const char special[] = "./%\x01\x7f\n \xc3\xa9";
            if (g_test_rand_bit())
                raw[j] = special[g_test_rand_int_range(0, (int)sizeof(special) - 1)];
            else
                raw[j] = (char)g_test_rand_int_range(1, 256);
        }
        raw[len] = 0;
        esc = escape_checked(raw);
        if (strlen(esc) > NAME_MAX_BYTES - 9)
            continue;
        back = unescape(esc);
        g_assert_cmpstr(back, ==, raw);
        other = g_hash_table_lookup(seen, esc);
        if (other)
            g_assert_cmpstr(other, ==, raw);
        else
            g_hash_table_insert(seen, g_strdup(esc), g_strdup(raw));
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/name_escape/plain-unchanged", test_plain_unchanged);
    g_test_add_func("/name_escape/slash-and-percent", test_slash_and_percent);
    g_test_add_func("/name_escape/control-and-del", test_control_and_del);
    g_test_add_func("/name_escape/leading-dot", test_leading_dot);
    g_test_add_func("/name_escape/empty", test_empty);
    g_test_add_func("/name_escape/utf8", test_utf8_passes_through);
    g_test_add_func("/name_escape/long/boundaries", test_length_limit_boundaries);
    g_test_add_func("/name_escape/long/300-bytes", test_long_names);
    g_test_add_func("/name_escape/long/unique", test_long_names_unique);
    g_test_add_func("/name_escape/long/escaped-cut", test_long_escaped_cut);
    g_test_add_func("/name_escape/long/utf8-cut", test_long_utf8_cut);
    g_test_add_func("/name_escape/random", test_random_names);
    return g_test_run();
}
