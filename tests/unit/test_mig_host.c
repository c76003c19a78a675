/* test_mig_host.c - unit tests for lib/mig_host.c.
 *
 * Table-driven: every table row is registered as its own GTest case, so the TAP output
 * names the row that broke. Inputs are copied into a buffer that is not NUL-terminated
 * right after them (a '/' follows) to prove the code honours the length it is given and
 * never reads up to a NUL. Every refusal must leave the caller's MigRequest byte for
 * byte as it was and produce a printable message naming the problem.
 */
#include "mig_host.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

typedef struct {
    const char *label;
    const char *in;
    const char *host;     /* expected req.host */
    const char *bare;     /* expected req.host_bare */
    unsigned port;
} GoodHost;

typedef struct {
    const char *label;
    const char *in;
    size_t len;           /* 0: strlen(in) */
    const char *msg;      /* substring of mig_host_validate's message */
    const char *parse_msg;/* substring of mig_request_parse's message; NULL: same as msg */
} EvilHost;

typedef struct {
    const char *label;
    const char *in;
    size_t len;           /* 0: strlen(in) */
    const char *msg;      /* NULL: must succeed */
    bool offline, postcopy, persistent, undefine_source, compressed, auto_converge, unsafe;
    unsigned long bandwidth;
} RequestCase;

typedef struct {
    const char *label;
    const char *tmpl;
    const char *host;     /* written to migrate */
    const char *uri;      /* NULL: must fail */
} UriCase;

/* name of `len` bytes made of 63-byte labels, the last one shorter */
static char *
long_name(size_t len, size_t label)
{
    GString *s = g_string_new(NULL);

    while (s->len < len) {
        size_t in_label = s->len % (label + 1);

        g_string_append_c(s, in_label == label ? '.' : 'a' + (char)(s->len % 26));
    }
    /* never end on a dot: that would be the accepted absolute form, not a long name */
    if (s->str[s->len - 1] == '.')
        s->str[s->len - 1] = 'z';
    return g_string_free(s, FALSE);
}

static char *name_253;
static char *name_253_dot;
static char *name_254;
static char *name_300;
static char *label_63;
static char *label_64;
static char *option_100;
static char *write_4096;
static char *write_4097;

/* in, copied to a buffer where the byte after it is not a NUL */
static char *
unterminated(const char *in, size_t len)
{
    char *buf = g_malloc(len + 1);

    memcpy(buf, in, len);
    buf[len] = '/';
    return buf;
}

static void
assert_printable(const char *msg)
{
    g_assert_nonnull(msg);
    g_assert_cmpuint(strlen(msg), >, 0);
    for (const char *p = msg; *p; p++)
        g_assert_true(g_ascii_isprint(*p));
}

static void
assert_defaults(const MigRequest *r)
{
    g_assert_false(r->offline);
    g_assert_false(r->postcopy);
    g_assert_true(r->persistent);
    g_assert_true(r->undefine_source);
    g_assert_false(r->compressed);
    g_assert_false(r->auto_converge);
    g_assert_false(r->unsafe);
    g_assert_cmpuint(r->bandwidth_mib, ==, 0);
}

static void
test_good_host(gconstpointer data)
{
    const GoodHost *c = data;
    size_t len = strlen(c->in);
    g_autofree char *buf = unterminated(c->in, len);
    g_autofree char *line = g_strconcat(c->in, "\n", NULL);
    g_autofree char *errmsg = NULL;
    MigRequest req = { 0 };

    g_assert_cmpint(mig_host_validate(buf, len, &errmsg), ==, 0);
    g_assert_null(errmsg);

    g_assert_cmpint(mig_request_parse(line, strlen(line), &req, &errmsg), ==, 0);
    g_assert_null(errmsg);
    g_assert_cmpstr(req.host, ==, c->host);
    g_assert_cmpstr(req.host_bare, ==, c->bare);
    g_assert_cmpuint(req.port, ==, c->port);
    assert_defaults(&req);
    mig_request_clear(&req);
    g_assert_null(req.host);
    g_assert_null(req.host_bare);
}

static void
test_evil_host(gconstpointer data)
{
    const EvilHost *c = data;
    size_t len = c->len ? c->len : strlen(c->in);
    g_autofree char *buf = unterminated(c->in, len);
    g_autofree char *errmsg = NULL;
    g_autofree char *perr = NULL;
    MigRequest req, before;

    g_assert_cmpint(mig_host_validate(buf, len, &errmsg), ==, -EINVAL);
    assert_printable(errmsg);
    if (!strstr(errmsg, c->msg))
        g_error("validate(%s): message '%s' lacks '%s'", c->label, errmsg, c->msg);

    /* the same bytes as a whole write */
    memset(&req, 0xa5, sizeof(req));
    memcpy(&before, &req, sizeof(req));
    g_assert_cmpint(mig_request_parse(buf, len, &req, &perr), ==, -EINVAL);
    assert_printable(perr);
    if (!strstr(perr, c->parse_msg ? c->parse_msg : c->msg))
        g_error("parse(%s): message '%s' lacks '%s'", c->label, perr,
                c->parse_msg ? c->parse_msg : c->msg);
    g_assert_cmpmem(&req, sizeof(req), &before, sizeof(before));

    /* a NULL errmsg is allowed */
    g_assert_cmpint(mig_host_validate(buf, len, NULL), ==, -EINVAL);
    g_assert_cmpint(mig_request_parse(buf, len, &req, NULL), ==, -EINVAL);
}

static void
test_request(gconstpointer data)
{
    const RequestCase *c = data;
    size_t len = c->len ? c->len : strlen(c->in);
    g_autofree char *buf = unterminated(c->in, len);
    g_autofree char *errmsg = NULL;
    MigRequest req, before;

    memset(&req, 0xa5, sizeof(req));
    memcpy(&before, &req, sizeof(req));
    if (c->msg) {
        g_assert_cmpint(mig_request_parse(buf, len, &req, &errmsg), ==, -EINVAL);
        assert_printable(errmsg);
        if (!strstr(errmsg, c->msg))
            g_error("parse(%s): message '%s' lacks '%s'", c->label, errmsg, c->msg);
        g_assert_cmpmem(&req, sizeof(req), &before, sizeof(before));
        return;
    }
    g_assert_cmpint(mig_request_parse(buf, len, &req, &errmsg), ==, 0);
    g_assert_null(errmsg);
    g_assert_cmpstr(req.host, ==, "h");
    g_assert_cmpuint(req.port, ==, 0);
    g_assert_cmpint(req.offline, ==, c->offline);
    g_assert_cmpint(req.postcopy, ==, c->postcopy);
    g_assert_cmpint(req.persistent, ==, c->persistent);
    g_assert_cmpint(req.undefine_source, ==, c->undefine_source);
    g_assert_cmpint(req.compressed, ==, c->compressed);
    g_assert_cmpint(req.auto_converge, ==, c->auto_converge);
    g_assert_cmpint(req.unsafe, ==, c->unsafe);
    g_assert_cmpuint(req.bandwidth_mib, ==, c->bandwidth);
    mig_request_clear(&req);
}

static void
test_uri(gconstpointer data)
{
    const UriCase *c = data;
    g_autofree char *uri = NULL;
    g_autofree char *errmsg = NULL;
    MigRequest req = { 0 };

    g_assert_cmpint(mig_request_parse(c->host, strlen(c->host), &req, &errmsg), ==, 0);
    uri = mig_uri_build(c->tmpl, &req);
    g_assert_cmpstr(uri, ==, c->uri);
    mig_request_clear(&req);
}

static void
test_uri_null(void)
{
    MigRequest empty = { 0 };
    MigRequest req = { 0 };

    g_assert_cmpint(mig_request_parse("h", 1, &req, NULL), ==, 0);
    g_assert_null(mig_uri_build(NULL, &req));
    g_assert_null(mig_uri_build("qemu+ssh://%h/system", NULL));
    g_assert_null(mig_uri_build("qemu+ssh://%h/system", &empty));
    mig_request_clear(&req);
}

/* Every byte value in the middle of a name: only the RFC 1123 ones may pass, and ':'
 * only where it starts a valid port. */
static void
test_every_byte(void)
{
    for (unsigned c = 0; c < 256; c++) {
        char mid[3] = { 'h', (char)c, 'x' };
        char one[1] = { (char)c };
        bool mid_ok = g_ascii_isalnum((char)c) || c == '-' || c == '.';
        bool one_ok = g_ascii_isalpha((char)c);
        g_autofree char *e1 = NULL;
        g_autofree char *e2 = NULL;
        int rc;

        rc = mig_host_validate(mid, sizeof(mid), &e1);
        if ((rc == 0) != mid_ok)
            g_error("byte 0x%02x inside a host: rc %d (%s)", c, rc, e1 ? e1 : "");
        if (e1)
            assert_printable(e1);
        rc = mig_host_validate(one, sizeof(one), &e2);
        if ((rc == 0) != one_ok)
            g_error("byte 0x%02x as a host: rc %d (%s)", c, rc, e2 ? e2 : "");
        if (e2)
            assert_printable(e2);
    }
}

static void
test_cancel(void)
{
    static const struct {
        const char *in;
        bool yes;
    } cases[] = {
        { "cancel", true },     { "cancel\n", true },   { "  cancel \n", true },
        { "\tcancel\t", true }, { "Cancel", false },    { "CANCEL\n", false },
        { "cancel now", false },{ "cancelx", false },   { "", false },
        { "\n", false },        { "cancel\n\n", false },{ "cancel\r\n", false },
    };
    MigRequest req = { 0 };

    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *buf = unterminated(cases[i].in, strlen(cases[i].in));

        if (mig_request_is_cancel(buf, strlen(cases[i].in)) != cases[i].yes)
            g_error("is_cancel(%s) != %d", g_strescape(cases[i].in, NULL), cases[i].yes);
    }
    g_assert_false(mig_request_is_cancel(NULL, 0));
    g_assert_false(mig_request_is_cancel("cancel", 5));
    /* why the caller has to ask first: as a request it is an ordinary host */
    g_assert_cmpint(mig_request_parse("cancel\n", 7, &req, NULL), ==, 0);
    g_assert_cmpstr(req.host, ==, "cancel");
    mig_request_clear(&req);
}

static void
test_clear(void)
{
    MigRequest req = { 0 };

    mig_request_clear(NULL);
    mig_request_clear(&req);
    g_assert_cmpint(mig_request_parse("[2001:db8::1]:22 offline", 24, &req, NULL), ==, 0);
    g_assert_cmpstr(req.host, ==, "[2001:db8::1]");
    g_assert_true(req.offline);
    mig_request_clear(&req);
    g_assert_null(req.host);
    g_assert_null(req.host_bare);
    g_assert_cmpuint(req.port, ==, 0);
    g_assert_false(req.offline);
    mig_request_clear(&req);
}

/* A failed parse must not free or replace what *req already holds. */
static void
test_failure_keeps_previous(void)
{
    MigRequest req = { 0 };
    g_autofree char *errmsg = NULL;
    char *host;

    g_assert_cmpint(mig_request_parse("a.example:22 offline", 20, &req, NULL), ==, 0);
    host = req.host;
    g_assert_cmpint(mig_request_parse("b.example bogus", 15, &req, &errmsg), ==, -EINVAL);
    g_assert_true(req.host == host);
    g_assert_cmpstr(req.host, ==, "a.example");
    g_assert_cmpuint(req.port, ==, 22);
    g_assert_true(req.offline);
    mig_request_clear(&req);
}

static void
test_long_message_bounded(void)
{
    g_autofree char *errmsg = NULL;
    g_autofree char *line = g_strconcat("h ", option_100, NULL);

    g_assert_cmpint(mig_request_parse(line, strlen(line), &(MigRequest){ 0 }, &errmsg), ==,
                    -EINVAL);
    g_assert_nonnull(strstr(errmsg, "unknown option"));
    g_assert_nonnull(strstr(errmsg, "..."));
    g_assert_null(strstr(errmsg, option_100));
    g_assert_cmpuint(strlen(errmsg), <, 300);
}

static GoodHost good_hosts[] = {
    { "single-label", "h", "h", "h", 0 },
    { "fqdn", "h.example.com", "h.example.com", "h.example.com", 0 },
    { "hyphen", "a-b.c", "a-b.c", "a-b.c", 0 },
    { "punycode", "xn--bcher-kva.example", "xn--bcher-kva.example", "xn--bcher-kva.example", 0 },
    { "upper-case-kept", "H.Example.COM", "H.Example.COM", "H.Example.COM", 0 },
    { "digit-first-label", "1a.example", "1a.example", "1a.example", 0 },
    { "alnum-last-label", "example.1a", "example.1a", "example.1a", 0 },
    { "trailing-dot-kept", "h.example.com.", "h.example.com.", "h.example.com.", 0 },
    { "single-label-dot", "h.", "h.", "h.", 0 },
    { "cancel-is-a-name", "cancel", "cancel", "cancel", 0 },
    { "localhost", "localhost", "localhost", "localhost", 0 },
    { "name-port", "h:22", "h", "h", 22 },
    { "name-port-1", "h:1", "h", "h", 1 },
    { "name-port-max", "h.example:65535", "h.example", "h.example", 65535 },
    { "dot-port", "h.:22", "h.", "h.", 22 },
    { "ipv4", "192.0.2.2", "192.0.2.2", "192.0.2.2", 0 },
    { "ipv4-port", "192.0.2.2:16509", "192.0.2.2", "192.0.2.2", 16509 },
    { "ipv4-zeros", "0.0.0.0", "0.0.0.0", "0.0.0.0", 0 },
    { "ipv4-max", "255.255.255.255", "255.255.255.255", "255.255.255.255", 0 },
    { "ipv4-single-zero-parts", "10.0.0.1", "10.0.0.1", "10.0.0.1", 0 },
    { "ipv6-loopback", "[::1]", "[::1]", "::1", 0 },
    { "ipv6-loopback-port", "[::1]:22", "[::1]", "::1", 22 },
    { "ipv6-port", "[2001:db8::1]:22", "[2001:db8::1]", "2001:db8::1", 22 },
    { "ipv6-upper", "[2001:DB8::A]", "[2001:DB8::A]", "2001:DB8::A", 0 },
    { "ipv6-full", "[2001:0db8:0000:0000:0000:ff00:0042:8329]",
      "[2001:0db8:0000:0000:0000:ff00:0042:8329]", "2001:0db8:0000:0000:0000:ff00:0042:8329",
      0 },
    { "ipv6-mapped-ipv4", "[::ffff:192.0.2.1]:16509", "[::ffff:192.0.2.1]",
      "::ffff:192.0.2.1", 16509 },
    /* the long ones are filled in by main() */
    { "name-253", NULL, NULL, NULL, 0 },
    { "name-253-trailing-dot", NULL, NULL, NULL, 0 },
    { "label-63", NULL, NULL, NULL, 0 },
};

static EvilHost evil_hosts[] = {
    { "empty", "", 0, "empty", NULL },
    { "uri-path-query", "h/system?command=id", 0, "'/'", NULL },
    { "ssh-option", "-oProxyCommand=x", 0, "start with '-'", NULL },
    { "leading-hyphen", "-h", 0, "start with '-'", NULL },
    { "userinfo", "h@evil", 0, "'@'", NULL },
    { "user-at", "root@h", 0, "'@'", NULL },
    { "semicolon", "h;id", 0, "';'", NULL },
    { "space-inside", "h id", 0, "whitespace", "unknown option 'id'" },
    { "tab-inside", "h\tx", 0, "whitespace", "unknown option 'x'" },
    { "percent-encoded-nul", "h%00", 0, "'%'", NULL },
    { "embedded-nul", "h\0x", 3, "NUL byte at offset 1", NULL },
    { "trailing-nul", "h\0", 2, "NUL byte", NULL },
    { "non-ascii-idn", "b\xc3\xbc" "cher.example", 0, "punycode", NULL },
    { "latin1-byte", "h\xff", 0, "non-ASCII byte 0xff", NULL },
    { "dotdot", "..", 0, "empty label", NULL },
    { "dot", ".", 0, "empty host name", NULL },
    { "leading-dot", ".h", 0, "empty label", NULL },
    { "double-dot", "h..x", 0, "empty label", NULL },
    { "two-trailing-dots", "h.example.com..", 0, "empty label", NULL },
    { "label-ends-hyphen", "h-", 0, "starts or ends with '-'", NULL },
    { "label-ends-hyphen-mid", "h-.example", 0, "starts or ends with '-'", NULL },
    { "label-starts-hyphen-mid", "a.-h", 0, "starts or ends with '-'", NULL },
    { "underscore", "h_x.example", 0, "'_'", NULL },
    { "unbracketed-ipv6", "::1", 0, "brackets", NULL },
    { "unbracketed-ipv6-full", "2001:db8::1", 0, "brackets", NULL },
    { "two-colons", "h:1:2", 0, "brackets", NULL },
    { "zone-id", "[fe80::1%eth0]", 0, "zone", NULL },
    { "zone-id-port", "[fe80::1%25eth0]:22", 0, "zone", NULL },
    { "unclosed-bracket", "[::1", 0, "closing ']'", NULL },
    { "unopened-bracket", "::1]", 0, "brackets", NULL },
    { "bracket-name", "[h.example]", 0, "not a valid IPv6", NULL },
    { "bracket-ipv4", "[192.0.2.1]", 0, "not a valid IPv6", NULL },
    { "bracket-bad-hex", "[::g]", 0, "not a valid IPv6", NULL },
    { "bracket-too-many-groups", "[1:2:3:4:5:6:7:8:9]", 0, "not a valid IPv6", NULL },
    { "bracket-double", "[[::1]]", 0, "not a valid IPv6", NULL },
    { "empty-brackets", "[]", 0, "empty brackets", NULL },
    { "after-bracket", "[::1]x", 0, "unexpected 'x' after ']'", NULL },
    { "bracket-empty-port", "[::1]:", 0, "empty port", NULL },
    { "bracket-port-0", "[::1]:0", 0, "out of range", NULL },
    { "bracket-inside-name", "h[1]", 0, "brackets", NULL },
    { "ipv4-port-too-big", "1.2.3.4:99999", 0, "out of range", NULL },
    { "ipv4-leading-zero-query", "01.2.3.4?", 0, "'?'", NULL },
    { "ipv4-leading-zero", "01.2.3.4", 0, "not a valid IPv4", NULL },
    { "ipv4-octal-style", "010.1.1.1", 0, "not a valid IPv4", NULL },
    { "ipv4-256", "256.1.1.1", 0, "not a valid IPv4", NULL },
    { "ipv4-1000", "1.2.3.1000", 0, "not a valid IPv4", NULL },
    { "ipv4-three-parts", "1.2.3", 0, "not a valid IPv4", NULL },
    { "ipv4-five-parts", "1.2.3.4.5", 0, "not a valid IPv4", NULL },
    { "ipv4-trailing-dot", "1.2.3.4.", 0, "not a valid IPv4", NULL },
    { "all-digits", "123", 0, "not a valid IPv4", NULL },
    { "numeric-last-label", "h.123", 0, "all digits", NULL },
    { "hex-ipv4", "0x7f.1", 0, "all digits", NULL },
    { "scheme", "qemu+ssh://h", 0, "URI", NULL },
    { "scheme-plain", "ssh://h", 0, "URI", NULL },
    { "empty-port", "h:", 0, "empty port", NULL },
    { "port-0", "h:0", 0, "out of range", NULL },
    { "port-plus", "h:+5", 0, "'+'", NULL },
    { "port-minus", "h:-5", 0, "not a decimal", NULL },
    { "port-leading-zero", "h:05", 0, "leading zero", NULL },
    { "port-65536", "h:65536", 0, "out of range", NULL },
    { "port-huge", "h:99999999999999999999", 0, "out of range", NULL },
    { "port-hex", "h:0x16", 0, "not a decimal", NULL },
    { "port-name", "h:ssh", 0, "not a decimal", NULL },
    { "empty-host-port", ":22", 0, "empty host", NULL },
    { "hash", "h#x", 0, "'#'", NULL },
    { "equals", "h=x", 0, "'='", NULL },
    { "question", "h?x", 0, "'?'", NULL },
    { "backslash", "h\\x", 0, "'\\'", NULL },
    { "backquote", "h`id`", 0, "'`'", NULL },
    { "dollar", "h$(id)", 0, "'$'", NULL },
    { "quote", "h'x", 0, "'''", NULL },
    { "comma", "h,x", 0, "','", NULL },
    { "newline-inside", "h\nx", 0, "control character 0x0a at offset 1", NULL },
    { "cr", "h\r", 0, "control character 0x0d", NULL },
    { "escape", "h\x1b[31m", 0, "control character 0x1b", NULL },
    { "del", "h\x7f", 0, "control character 0x7f", NULL },
    /* the long ones are filled in by main() */
    { "name-254", NULL, 0, "more than 253", NULL },
    { "name-300", NULL, 0, "more than 253", NULL },
    { "label-64", NULL, 0, "more than 63", NULL },
};

/* defaults: persistent and undefine_source on, everything else off */
#define DEF .persistent = true, .undefine_source = true

static RequestCase requests[] = {
    /* framing */
    { "plain", "h", 0, NULL, DEF },
    { "newline", "h\n", 0, NULL, DEF },
    { "blanks-around", "  h  \n", 0, NULL, DEF },
    { "tabs-around", "\th\t", 0, NULL, DEF },
    { "blank-before-newline", "h offline \n", 0, NULL, DEF, .offline = true },
    { "tab-separator", "h\toffline", 0, NULL, DEF, .offline = true },
    { "empty", "", 0, "empty", DEF },
    { "only-newline", "\n", 0, "empty", DEF },
    { "only-blanks", " \t \n", 0, "empty", DEF },
    { "crlf", "h\r\n", 0, "control character 0x0d at offset 1", DEF },
    { "two-newlines", "h\n\n", 0, "control character 0x0a at offset 1", DEF },
    { "newline-then-blank", "h\n ", 0, "control character 0x0a", DEF },
    { "newline-before-option", "h\noffline", 0, "control character 0x0a", DEF },
    { "two-spaces", "h  offline", 0, "two blanks", DEF },
    { "space-tab", "h \toffline", 0, "two blanks", DEF },
    { "nul-in-option", "h off\0line", 10, "NUL byte at offset 5", DEF },
    { "nul-at-end", "h\0", 2, "NUL byte at offset 1", DEF },
    { "non-ascii-option", "h offl\xc3\xafne", 0, "non-ASCII byte 0xc3 at offset 6", DEF },
    { "control-in-option", "h off\x01line", 0, "control character 0x01", DEF },
    { "write-4096", NULL, 0, NULL, DEF },
    { "write-4097", NULL, 0, "too long", DEF },
    /* each option */
    { "offline", "h offline", 0, NULL, DEF, .offline = true },
    { "postcopy", "h postcopy", 0, NULL, DEF, .postcopy = true },
    { "persistent", "h persistent", 0, NULL, DEF },
    { "transient", "h transient", 0, NULL, .undefine_source = true },
    { "keep-source", "h keep-source", 0, NULL, .persistent = true },
    { "compressed", "h compressed", 0, NULL, DEF, .compressed = true },
    { "auto-converge", "h auto-converge", 0, NULL, DEF, .auto_converge = true },
    { "unsafe", "h unsafe", 0, NULL, DEF, .unsafe = true },
    { "bandwidth-1", "h bandwidth=1", 0, NULL, DEF, .bandwidth = 1 },
    { "bandwidth-100", "h bandwidth=100", 0, NULL, DEF, .bandwidth = 100 },
    { "bandwidth-max", "h bandwidth=1048576", 0, NULL, DEF, .bandwidth = 1048576 },
    { "offline-persistent-keep", "h offline persistent keep-source\n", 0, NULL,
      .offline = true, .persistent = true },
    { "all-live", "h postcopy keep-source compressed auto-converge unsafe bandwidth=500 "
      "transient\n", 0, NULL, .postcopy = true, .compressed = true, .auto_converge = true,
      .unsafe = true, .bandwidth = 500 },
    /* bad values */
    { "bandwidth-0", "h bandwidth=0", 0, "out of range", DEF },
    { "bandwidth-over", "h bandwidth=1048577", 0, "out of range", DEF },
    { "bandwidth-huge", "h bandwidth=99999999999999999999999", 0, "out of range", DEF },
    { "bandwidth-empty", "h bandwidth=", 0, "needs a value", DEF },
    { "bandwidth-bare", "h bandwidth", 0, "needs a value", DEF },
    { "bandwidth-split", "h bandwidth= 5", 0, "needs a value", DEF },
    { "bandwidth-negative", "h bandwidth=-1", 0, "not a decimal", DEF },
    { "bandwidth-plus", "h bandwidth=+1", 0, "not a decimal", DEF },
    { "bandwidth-leading-zero", "h bandwidth=01", 0, "leading zero", DEF },
    { "bandwidth-suffix", "h bandwidth=1k", 0, "not a decimal", DEF },
    { "bandwidth-double-eq", "h bandwidth=1=2", 0, "not a decimal", DEF },
    { "bandwidth-hex", "h bandwidth=0x10", 0, "not a decimal", DEF },
    { "value-on-flag", "h offline=1", 0, "option 'offline' takes no value", DEF },
    { "empty-value-on-flag", "h unsafe=", 0, "option 'unsafe' takes no value", DEF },
    /* unknown */
    { "unknown", "h foo", 0, "unknown option 'foo'", DEF },
    { "unknown-case", "h Offline", 0, "unknown option 'Offline'", DEF },
    { "unknown-upper-bw", "h BANDWIDTH=5", 0, "unknown option 'BANDWIDTH=5'", DEF },
    { "unknown-eq", "h =x", 0, "unknown option '=x'", DEF },
    { "unknown-cancel", "h cancel", 0, "unknown option 'cancel'", DEF },
    { "second-host", "h offline h2", 0, "unknown option 'h2'", DEF },
    { "virsh-style", "h --live", 0, "unknown option '--live'", DEF },
    /* duplicates and conflicts */
    { "dup-offline", "h offline offline", 0, "option 'offline' given twice", DEF },
    { "dup-unsafe", "h unsafe compressed unsafe", 0, "option 'unsafe' given twice", DEF },
    { "dup-bandwidth", "h bandwidth=1 bandwidth=2", 0, "option 'bandwidth' given twice", DEF },
    { "dup-transient", "h transient transient", 0, "option 'transient' given twice", DEF },
    { "persistent-transient", "h persistent transient", 0,
      "option 'transient' conflicts with 'persistent'", DEF },
    { "transient-persistent", "h transient persistent", 0,
      "option 'persistent' conflicts with 'transient'", DEF },
    { "offline-postcopy", "h offline postcopy", 0, "'postcopy' cannot be used with 'offline'",
      DEF },
    { "offline-transient", "h transient offline", 0,
      "'transient' cannot be used with 'offline'", DEF },
    /* bad host first, options fine */
    { "bad-host-good-option", "h/x offline", 0, "'/'", DEF },
};

static const UriCase uris[] = {
    { "default-name", "qemu+ssh://%h/system", "h.example", "qemu+ssh://h.example/system" },
    { "default-port", "qemu+ssh://%h/system", "h:2222", "qemu+ssh://h:2222/system" },
    { "default-ipv4-port", "qemu+tcp://%h/system", "192.0.2.2:16509",
      "qemu+tcp://192.0.2.2:16509/system" },
    { "default-ipv6", "qemu+ssh://%h/system", "[2001:db8::1]", "qemu+ssh://[2001:db8::1]/system" },
    { "default-ipv6-port", "qemu+ssh://%h/system", "[2001:db8::1]:22",
      "qemu+ssh://[2001:db8::1]:22/system" },
    { "trailing-dot", "qemu+ssh://%h/system", "h.example.", "qemu+ssh://h.example./system" },
    { "twice", "%h,%h", "h:1", "h:1,h:1" },
    { "percent", "qemu+ssh://%h/system?x=100%%", "h", "qemu+ssh://h/system?x=100%" },
    { "percent-before-h", "%%h%h", "h", "%hh" },
    { "no-h", "qemu:///system", "h", "qemu:///system" },
    { "empty", "", "h", "" },
    { "bad-x", "qemu+ssh://%x/system", "h", NULL },
    { "bad-upper-h", "qemu+ssh://%H/system", "h", NULL },
    { "bad-s", "%s", "h", NULL },
    { "bad-trailing", "qemu+ssh://%h/%", "h", NULL },
    { "bad-lone", "%", "h", NULL },
    { "bad-odd", "%%%", "h", NULL },
    { "bad-after-good", "%h%p", "h", NULL },
};

int
main(int argc, char **argv)
{
    /* the tables are patched in place: their long entries are built at run time */
    GoodHost *good = good_hosts;
    EvilHost *evil = evil_hosts;
    RequestCase *reqs = requests;
    int rc;

    g_test_init(&argc, &argv, NULL);

    name_253 = long_name(253, 63);
    name_253_dot = g_strconcat(name_253, ".", NULL);
    name_254 = long_name(254, 63);
    name_300 = long_name(300, 63);
    label_63 = long_name(63, 63);
    label_64 = long_name(64, 64);
    option_100 = g_strnfill(100, 'q');
    write_4096 = g_strnfill(4096, ' ');
    write_4096[4000] = 'h';
    write_4097 = g_strnfill(4097, ' ');
    write_4097[4000] = 'h';
    g_assert_cmpuint(strlen(name_253), ==, 253);
    g_assert_cmpuint(strlen(name_300), ==, 300);
    g_assert_cmpuint(strlen(label_64), ==, 64);
    g_assert_null(strchr(label_64, '.'));

    for (size_t i = 0; i < G_N_ELEMENTS(good_hosts); i++) {
        const char *label = good[i].label;
        const char *s = g_str_equal(label, "name-253") ? name_253
                        : g_str_equal(label, "name-253-trailing-dot") ? name_253_dot
                        : g_str_equal(label, "label-63") ? label_63 : NULL;

        if (s)
            good[i].in = good[i].host = good[i].bare = s;
        g_autofree char *path = g_strconcat("/mig_host/good/", label, NULL);
        g_test_add_data_func(path, &good[i], test_good_host);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(evil_hosts); i++) {
        const char *label = evil[i].label;
        const char *s = g_str_equal(label, "name-254") ? name_254
                        : g_str_equal(label, "name-300") ? name_300
                        : g_str_equal(label, "label-64") ? label_64 : NULL;

        if (s)
            evil[i].in = s;
        g_autofree char *path = g_strconcat("/mig_host/evil/", label, NULL);
        g_test_add_data_func(path, &evil[i], test_evil_host);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(requests); i++) {
        const char *label = reqs[i].label;

        if (g_str_equal(label, "write-4096"))
            reqs[i].in = write_4096;
        else if (g_str_equal(label, "write-4097"))
            reqs[i].in = write_4097;
        g_autofree char *path = g_strconcat("/mig_request/", label, NULL);
        g_test_add_data_func(path, &reqs[i], test_request);
    }
    for (size_t i = 0; i < G_N_ELEMENTS(uris); i++) {
        g_autofree char *path = g_strconcat("/mig_uri/", uris[i].label, NULL);
        g_test_add_data_func(path, &uris[i], test_uri);
    }
    g_test_add_func("/mig_uri/null", test_uri_null);
    g_test_add_func("/mig_host/every-byte", test_every_byte);
    g_test_add_func("/mig_request/cancel", test_cancel);
    g_test_add_func("/mig_request/clear", test_clear);
    g_test_add_func("/mig_request/failure-keeps-previous", test_failure_keeps_previous);
    g_test_add_func("/mig_request/long-message-bounded", test_long_message_bounded);

    rc = g_test_run();

    g_free(name_253);
    g_free(name_253_dot);
    g_free(name_254);
    g_free(name_300);
    g_free(label_63);
    g_free(label_64);
    g_free(option_100);
    g_free(write_4096);
    g_free(write_4097);
    return rc;
}
