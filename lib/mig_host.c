/* mig_host.c - see mig_host.h.
 *
 * The host written to `migrate` ends up inside a libvirt URI and, through qemu+ssh://,
 * on an ssh command line. No escaping is understood the same way by libvirt's URI
 * parser, ssh and the resolver, so nothing is escaped: anything outside a small grammar
 * is refused, and the grammar is built from allow-lists, never from deny-lists.
 *
 * A write is checked in layers, the most general first, so that the message names the
 * real problem rather than a symptom of it:
 *   1. the whole write: at most DOMFS_WRITE_MAX bytes, no NUL, no control byte other than
 *      a separating tab and one final newline, nothing outside ASCII;
 *   2. it is trimmed of blanks and cut at single blanks into HOST and option tokens;
 *   3. HOST is cut into the name or address and an optional :PORT, and each part is
 *      checked: RFC 1123 labels, a strict dotted quad, or a bracketed IPv6 literal
 *      that inet_pton accepts;
 *   4. options are looked up in a fixed table; each may appear once.
 * The result is built in a local MigRequest and moved to the caller's only on success,
 * so a refused write leaves *req as it was.
 *
 * Decisions a user can see (the README repeats them):
 * - A trailing dot ("h.example.") is accepted and kept: it makes the name absolute, and
 *   stripping it would let the resolver's search list turn it into another host. The
 *   253-byte limit counts the name without that dot, as RFC 1035 does.
 * - A last label made only of digits is refused unless the whole host is a valid dotted
 *   quad: "1.2.3" or "010.1.1.1" would be read as an address by some resolvers and as
 *   a name by others.
 * - "cancel" is a valid host name. The caller must test mig_request_is_cancel() before
 *   parsing, or `echo cancel > migrate` would try to migrate to a host named cancel.
 * - Options are lower case, separated by exactly one space or tab; `persistent` and
 *   `transient` are one option, so giving both is a conflict, not a last-one-wins.
 */
#define G_LOG_DOMAIN "domfs-migrate"

#include "mig_host.h"
#include "verr.h"
#include "domfs_limits.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <glib.h>

#define MIG_NAME_MAX 253
#define MIG_LABEL_MAX 63
#define MIG_PORT_MAX 65535u
#define MIG_BANDWIDTH_MAX 1048576ul /* 1 TiB/s: above any link, far below libvirt's limit */
#define MIG_SHOW_MAX 64             /* bytes of a user's token quoted back in a message */

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(MigRequest, mig_request_clear)

typedef enum {
    MIG_OPT_OFFLINE,
    MIG_OPT_POSTCOPY,
    MIG_OPT_PERSISTENCE,
    MIG_OPT_KEEP_SOURCE,
    MIG_OPT_COMPRESSED,
    MIG_OPT_AUTO_CONVERGE,
    MIG_OPT_UNSAFE,
    MIG_OPT_BANDWIDTH,
    MIG_OPT_COUNT
} MigOptId;

static const struct {
    const char *name;
    MigOptId id;
} mig_options[] = {
    { "offline", MIG_OPT_OFFLINE },
    { "postcopy", MIG_OPT_POSTCOPY },
    { "persistent", MIG_OPT_PERSISTENCE },
    { "transient", MIG_OPT_PERSISTENCE },
    { "keep-source", MIG_OPT_KEEP_SOURCE },
    { "compressed", MIG_OPT_COMPRESSED },
    { "auto-converge", MIG_OPT_AUTO_CONVERGE },
    { "unsafe", MIG_OPT_UNSAFE },
    { "bandwidth", MIG_OPT_BANDWIDTH },
};

#define MIG_KNOWN_OPTIONS \
    "offline postcopy persistent transient keep-source compressed auto-converge unsafe " \
    "bandwidth=MiB/s"

/* A user's token as it may appear inside a message: bounded, and printable even if a
 * caller quotes something the byte checks have not seen. */
static char *
mig_show(const char *s, size_t len)
{
    GString *out = g_string_sized_new(MIG_SHOW_MAX + 4);
    size_t n = MIN(len, (size_t)MIG_SHOW_MAX);

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        g_string_append_c(out, g_ascii_isprint(c) ? (char)c : '?');
    }
    if (len > n)
        g_string_append(out, "...");
    return g_string_free(out, FALSE);
}

static bool
mig_is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Byte-level checks shared by the whole write and by a lone host; blanks_ok tells
 * whether blanks are separators here or an error. */
static int
mig_check_bytes(const char *s, size_t len, bool blanks_ok, char **errmsg)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\0')
            return verr_set(errmsg, EINVAL, "NUL byte at offset %zu", i);
        if (c >= 0x80)
            return verr_set(errmsg, EINVAL,
                            "non-ASCII byte 0x%02x at offset %zu: write internationalized "
                            "names in punycode (xn--...)", c, i);
        if (mig_is_blank((char)c)) {
            if (blanks_ok)
                continue;
            return verr_set(errmsg, EINVAL, "whitespace at offset %zu inside the host", i);
        }
        if (c < 0x20 || c == 0x7f)
            return verr_set(errmsg, EINVAL, "control character 0x%02x at offset %zu", c, i);
    }
    return 0;
}

/* Strict decimal: no sign, no blanks, no leading zero, at most max_digits digits, so
 * strtoul's leniency (" +012") never decides what a user meant. */
static bool
mig_parse_decimal(const char *s, size_t len, size_t max_digits, unsigned long *out)
{
    unsigned long v = 0;

    if (len == 0 || len > max_digits || (len > 1 && s[0] == '0'))
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isdigit(s[i]))
            return false;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    *out = v;
    return true;
}

static int
mig_check_port(const char *s, size_t len, unsigned *port, char **errmsg)
{
    g_autofree char *shown = mig_show(s, len);
    unsigned long v = 0;

    if (len == 0)
        return verr_set(errmsg, EINVAL, "empty port after ':'");
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isdigit(s[i]))
            return verr_set(errmsg, EINVAL, "port '%s' is not a decimal number", shown);
    }
    if (len > 1 && s[0] == '0')
        return verr_set(errmsg, EINVAL, "port '%s' has a leading zero", shown);
    if (!mig_parse_decimal(s, len, 5, &v) || v < 1 || v > MIG_PORT_MAX)
        return verr_set(errmsg, EINVAL, "port %s is out of range 1-65535", shown);
    *port = (unsigned)v;
    return 0;
}

/* Exactly four decimal parts 0-255 without leading zeros: inet_aton would also take
 * "1.2.3", "0x7f.1" and "010.1.1.1" (octal), which is how one string reaches two hosts. */
static bool
mig_is_ipv4(const char *s, size_t len)
{
    size_t parts = 0;
    size_t start = 0;

    for (size_t i = 0; i <= len; i++) {
        unsigned long v = 0;

        if (i < len && s[i] != '.')
            continue;
        if (++parts > 4 || !mig_parse_decimal(s + start, i - start, 3, &v) || v > 255)
            return false;
        start = i + 1;
    }
    return parts == 4;
}

static int
mig_check_name(const char *s, size_t len, char **errmsg)
{
    size_t n = len;
    size_t start = 0;
    size_t last = 0;
    bool digits_and_dots = true;

    if (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0)
        return verr_set(errmsg, EINVAL, "empty host name");
    if (n > MIG_NAME_MAX)
        return verr_set(errmsg, EINVAL, "host name is %zu bytes long, more than %d", n, MIG_NAME_MAX);

    for (size_t i = 0; i <= n; i++) {
        g_autofree char *shown = NULL;
        size_t l;

        if (i < n && s[i] != '.') {
            if (!g_ascii_isdigit(s[i]))
                digits_and_dots = false;
            continue;
        }
        l = i - start;
        if (l == 0)
            return verr_set(errmsg, EINVAL, "empty label in host name (a leading dot or '..')");
        shown = mig_show(s + start, l);
        if (l > MIG_LABEL_MAX)
            return verr_set(errmsg, EINVAL, "label '%s' is %zu bytes long, more than %d",
                            shown, l, MIG_LABEL_MAX);
        if (s[start] == '-' || s[i - 1] == '-')
            return verr_set(errmsg, EINVAL, "label '%s' starts or ends with '-'", shown);
        for (size_t j = start; j < i; j++) {
            if (!g_ascii_isalnum(s[j]) && s[j] != '-')
                return verr_set(errmsg, EINVAL, "character '%c' is not allowed in a host name",
                                s[j]);
        }
        last = start;
        start = i + 1;
    }

    for (size_t j = last; j < n; j++) {
        if (!g_ascii_isdigit(s[j]))
            return 0;
    }
    if (digits_and_dots) {
        g_autofree char *shown = mig_show(s, len);

        if (n == len && mig_is_ipv4(s, len))
            return 0;
        return verr_set(errmsg, EINVAL,
                        "'%s' is not a valid IPv4 address (four decimal parts 0-255, "
                        "no leading zeros)", shown);
    }
    return verr_set(errmsg, EINVAL, "the last label of a host name cannot be all digits");
}

static int
mig_check_ipv6(const char *s, size_t len, char **errmsg)
{
    g_autofree char *shown = mig_show(s, len);
    char buf[INET6_ADDRSTRLEN];
    struct in6_addr addr;

    if (len == 0)
        return verr_set(errmsg, EINVAL, "empty brackets: write an IPv6 address as [2001:db8::1]");
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isxdigit(s[i]) && s[i] != ':' && s[i] != '.')
            return verr_set(errmsg, EINVAL, "'[%s]' is not a valid IPv6 address", shown);
    }
    if (len >= sizeof(buf))
        return verr_set(errmsg, EINVAL, "'[%s]' is not a valid IPv6 address", shown);
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET6, buf, &addr) != 1)
        return verr_set(errmsg, EINVAL, "'[%s]' is not a valid IPv6 address", shown);
    return 0;
}

/* Validate HOST[:PORT] and, when out is given, fill its host, host_bare and port. */
static int
mig_host_parse(const char *s, size_t len, MigRequest *out, char **errmsg)
{
    const char *bare = s;
    size_t bare_len;
    size_t host_len;
    const char *port_s = NULL;
    size_t port_len = 0;
    unsigned port = 0;
    int rc;

    if (!s || len == 0)
        return verr_set(errmsg, EINVAL, "empty host: write a destination host name or address");
    rc = mig_check_bytes(s, len, false, errmsg);
    if (rc < 0)
        return rc;
    if (g_strstr_len(s, (gssize)len, "://"))
        return verr_set(errmsg, EINVAL, "a URI is not a host: write only the host, the URI is "
                                "built from the migrate_uri option");
    if (s[0] == '-')
        return verr_set(errmsg, EINVAL, "a host cannot start with '-' (ssh would take it for an "
                                "option)");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (g_ascii_isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')
            continue;
        if (c == '%' && s[0] == '[')
            return verr_set(errmsg, EINVAL, "IPv6 zone ids ('%%...') are not allowed: a "
                                    "link-local address cannot name a remote host");
        return verr_set(errmsg, EINVAL, "character '%c' at offset %zu is not allowed in a host",
                        c, i);
    }

    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);

        if (!close)
            return verr_set(errmsg, EINVAL, "'[' without a closing ']'");
        host_len = (size_t)(close - s) + 1;
        bare = s + 1;
        bare_len = host_len - 2;
        rc = mig_check_ipv6(bare, bare_len, errmsg);
        if (rc < 0)
            return rc;
        if (host_len < len) {
            g_autofree char *rest = mig_show(close + 1, len - host_len);

            if (close[1] != ':')
                return verr_set(errmsg, EINVAL, "unexpected '%s' after ']'", rest);
            port_s = close + 2;
            port_len = len - host_len - 1;
        }
    } else {
        const char *colon = memchr(s, ':', len);

        if (memchr(s, '[', len) || memchr(s, ']', len))
            return verr_set(errmsg, EINVAL, "brackets are only allowed around a whole IPv6 "
                                    "address, as in [2001:db8::1]:22");
        if (colon && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
            return verr_set(errmsg, EINVAL, "an IPv6 address must be written in brackets, as in "
                                    "[2001:db8::1]");
        host_len = colon ? (size_t)(colon - s) : len;
        bare_len = host_len;
        if (colon) {
            port_s = colon + 1;
            port_len = len - host_len - 1;
        }
        if (host_len == 0)
            return verr_set(errmsg, EINVAL, "empty host before ':'");
        rc = mig_check_name(s, host_len, errmsg);
        if (rc < 0)
            return rc;
    }

    if (port_s) {
        rc = mig_check_port(port_s, port_len, &port, errmsg);
        if (rc < 0)
            return rc;
    }
    if (out) {
        out->host = g_strndup(s, host_len);
        out->host_bare = g_strndup(bare, bare_len);
        out->port = port;
    }
    return 0;
}

int
mig_host_validate(const char *host, size_t len, char **errmsg)
{
    return mig_host_parse(host, len, NULL, errmsg);
}

/* One final newline (what echo adds), then blanks on both sides. A newline anywhere
 * else stays and is refused as a control character. */
static void
mig_trim(const char **buf, size_t *len)
{
    const char *s = *buf;
    size_t n = *len;

    if (n > 0 && s[n - 1] == '\n')
        n--;
    while (n > 0 && mig_is_blank(s[n - 1]))
        n--;
    while (n > 0 && mig_is_blank(s[0])) {
        s++;
        n--;
    }
    *buf = s;
    *len = n;
}

bool
mig_request_is_cancel(const char *buf, size_t len)
{
    if (!buf)
        return false;
    mig_trim(&buf, &len);
    return len == strlen("cancel") && memcmp(buf, "cancel", len) == 0;
}

static int
mig_parse_bandwidth(const char *s, size_t len, unsigned long *out, char **errmsg)
{
    g_autofree char *shown = mig_show(s, len);
    unsigned long v = 0;

    if (len == 0)
        return verr_set(errmsg, EINVAL, "option 'bandwidth' needs a value: bandwidth=MiB/s");
    for (size_t i = 0; i < len; i++) {
        if (!g_ascii_isdigit(s[i]))
            return verr_set(errmsg, EINVAL, "bandwidth '%s' is not a decimal number of MiB/s",
                            shown);
    }
    if (len > 1 && s[0] == '0')
        return verr_set(errmsg, EINVAL, "bandwidth '%s' has a leading zero", shown);
    if (!mig_parse_decimal(s, len, 7, &v) || v < 1 || v > MIG_BANDWIDTH_MAX)
        return verr_set(errmsg, EINVAL, "bandwidth %s is out of range 1-%lu MiB/s", shown,
                        MIG_BANDWIDTH_MAX);
    *out = v;
    return 0;
}

static int
mig_apply_option(MigRequest *r, const char *tok, size_t len, const char **seen,
                 char **errmsg)
{
    g_autofree char *shown = mig_show(tok, len);
    const char *eq = memchr(tok, '=', len);
    size_t name_len = eq ? (size_t)(eq - tok) : len;
    const char *name = NULL;
    MigOptId id = MIG_OPT_COUNT;
    int rc;

    for (size_t i = 0; i < G_N_ELEMENTS(mig_options); i++) {
        if (strlen(mig_options[i].name) == name_len &&
            memcmp(mig_options[i].name, tok, name_len) == 0) {
            name = mig_options[i].name;
            id = mig_options[i].id;
            break;
        }
    }
    if (!name)
        return verr_set(errmsg, EINVAL, "unknown option '%s' (known: " MIG_KNOWN_OPTIONS ")",
                        shown);
    if (seen[id] == name)
        return verr_set(errmsg, EINVAL, "option '%s' given twice", name);
    if (seen[id])
        return verr_set(errmsg, EINVAL, "option '%s' conflicts with '%s'", name, seen[id]);
    seen[id] = name;

    if (id == MIG_OPT_BANDWIDTH) {
        if (!eq)
            return verr_set(errmsg, EINVAL, "option 'bandwidth' needs a value: bandwidth=MiB/s");
        rc = mig_parse_bandwidth(eq + 1, len - name_len - 1, &r->bandwidth_mib, errmsg);
        return rc;
    }
    if (eq)
        return verr_set(errmsg, EINVAL, "option '%s' takes no value", name);

    switch (id) {
    case MIG_OPT_OFFLINE:
        r->offline = true;
        break;
    case MIG_OPT_POSTCOPY:
        r->postcopy = true;
        break;
    case MIG_OPT_PERSISTENCE:
        r->persistent = strcmp(name, "persistent") == 0;
        break;
    case MIG_OPT_KEEP_SOURCE:
        r->undefine_source = false;
        break;
    case MIG_OPT_COMPRESSED:
        r->compressed = true;
        break;
    case MIG_OPT_AUTO_CONVERGE:
        r->auto_converge = true;
        break;
    case MIG_OPT_UNSAFE:
        r->unsafe = true;
        break;
    case MIG_OPT_BANDWIDTH:
    case MIG_OPT_COUNT:
        break;
    }
    return 0;
}

int
mig_request_parse(const char *buf, size_t len, MigRequest *req, char **errmsg)
{
    g_auto(MigRequest) r = { .persistent = true, .undefine_source = true };
    const char *seen[MIG_OPT_COUNT] = { NULL };
    size_t body;
    size_t i = 0;
    size_t start;
    int rc;

    if (!buf || len == 0)
        return verr_set(errmsg, EINVAL, "empty write: write a destination host");
    if (len > DOMFS_WRITE_MAX)
        return verr_set(errmsg, EINVAL, "write of %zu bytes is too long (at most %d)", len,
                        DOMFS_WRITE_MAX);
    /* checked before trimming so that offsets in messages count from the write's start */
    body = buf[len - 1] == '\n' ? len - 1 : len;
    rc = mig_check_bytes(buf, body, true, errmsg);
    if (rc < 0)
        return rc;
    mig_trim(&buf, &len);
    if (len == 0)
        return verr_set(errmsg, EINVAL, "empty write: write a destination host");

    while (i < len && !mig_is_blank(buf[i]))
        i++;
    rc = mig_host_parse(buf, i, &r, errmsg);
    if (rc < 0)
        return rc;

    while (i < len) {
        /* trimming leaves a token after every blank; a second blank is an empty token */
        start = ++i;
        while (i < len && !mig_is_blank(buf[i]))
            i++;
        if (i == start)
            return verr_set(errmsg, EINVAL, "two blanks in a row: separate options with a single "
                                    "space or tab");
        rc = mig_apply_option(&r, buf + start, i - start, seen, errmsg);
        if (rc < 0)
            return rc;
    }

    /* libvirt refuses these too, but only after connecting to the destination and with
     * a message that does not name the option the user wrote */
    if (r.offline && r.postcopy)
        return verr_set(errmsg, EINVAL, "option 'postcopy' cannot be used with 'offline'");
    if (r.offline && !r.persistent)
        return verr_set(errmsg, EINVAL, "option 'transient' cannot be used with 'offline': an "
                                "offline migration only copies the definition");

    *req = r;
    memset(&r, 0, sizeof(r));
    return 0;
}

void
mig_request_clear(MigRequest *req)
{
    if (!req)
        return;
    g_free(req->host);
    g_free(req->host_bare);
    memset(req, 0, sizeof(*req));
}

char *
mig_uri_build(const char *template_uri, const MigRequest *req)
{
    g_autoptr(GString) out = NULL;

    if (!template_uri || !req || !req->host)
        return NULL;
    out = g_string_sized_new(strlen(template_uri) + strlen(req->host) + 8);
    for (const char *p = template_uri; *p; p++) {
        if (*p != '%') {
            g_string_append_c(out, *p);
            continue;
        }
        p++;
        if (*p == '%') {
            g_string_append_c(out, '%');
        } else if (*p == 'h') {
            g_string_append(out, req->host);
            if (req->port)
                g_string_append_printf(out, ":%u", req->port);
        } else {
            /* includes a lone '%' at the end: the template is wrong, guessing is worse */
            return NULL;
        }
    }
    return g_string_free(g_steal_pointer(&out), FALSE);
}
