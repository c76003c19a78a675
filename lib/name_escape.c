/* name_escape.c - see name_escape.h. Percent-encoding keeps names readable for the common
 * case (plain names are unchanged) while making every result a single, safe path
 * component. */
#define G_LOG_DOMAIN "domfs-names"

#include "name_escape.h"

#include <string.h>

#include "domfs_limits.h"

/* Room for "~" and 8 hex digits of the long-name hash. */
#define NAME_HASH_SUFFIX_LEN 9

static gboolean
name_needs_escape(unsigned char c, gboolean first)
{
    return c == '/' || c == '%' || c < 0x20 || c == 0x7f || (first && c == '.');
}

/* Largest cut of S (at most KEEP bytes) that does not split a %XX triple or a UTF-8
 * character. */
static gsize
name_safe_cut(const char *s, gsize len, gsize keep)
{
    if (keep >= len)
        return len;
    if (keep >= 1 && s[keep - 1] == '%')
        keep -= 1;
    else if (keep >= 2 && s[keep - 2] == '%')
        keep -= 2;
    while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80)
        keep--;
    return keep;
}

char *
name_escape(const char *raw)
{
    GString *out = g_string_sized_new(32);

    if (!raw || !*raw) {
        g_string_append(out, "%00");
        return g_string_free(out, FALSE);
    }
    for (const unsigned char *p = (const unsigned char *)raw; *p; p++) {
        if (name_needs_escape(*p, p == (const unsigned char *)raw))
            g_string_append_printf(out, "%%%02X", *p);
        else
            g_string_append_c(out, (char)*p);
    }
    if (out->len > DOMFS_NAME_MAX) {
        /* keep it unique: cut, then a hash of the whole raw name */
        guint h = g_str_hash(raw);

        g_string_truncate(out, name_safe_cut(out->str, out->len,
                                             DOMFS_NAME_MAX - NAME_HASH_SUFFIX_LEN));
        g_string_append_printf(out, "~%08x", h);
    }
    return g_string_free(out, FALSE);
}

char *
name_with_suffix(const char *base, guint k)
{
    g_autofree char *suffix = g_strdup_printf("~%u", k);
    gsize len = strlen(base);
    gsize keep = name_safe_cut(base, len, DOMFS_NAME_MAX - strlen(suffix));

    return g_strdup_printf("%.*s%s", (int)keep, base, suffix);
}
