/* name_escape.c - see name_escape.h. Percent-encoding keeps names readable for the common
 * case (plain names are unchanged) while making every result a single, safe path
 * component. */
#include "name_escape.h"

#include <glib.h>

#define NAME_MAX_BYTES 255

static gboolean
name_needs_escape(unsigned char c, gboolean first)
{
    return c == '/' || c == '%' || c < 0x20 || c == 0x7f || (first && c == '.');
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
    if (out->len > NAME_MAX_BYTES) {
        /* keep it unique: cut, then a hash of the whole raw name */
        guint h = g_str_hash(raw);
        gsize keep = NAME_MAX_BYTES - 9;

        /* do not cut inside a %XX triple, nor inside a UTF-8 character */
        if (keep >= 1 && out->str[keep - 1] == '%')
            keep -= 1;
        else if (keep >= 2 && out->str[keep - 2] == '%')
            keep -= 2;
        while (keep > 0 && ((unsigned char)out->str[keep] & 0xC0) == 0x80)
            keep--;
        g_string_truncate(out, keep);
        g_string_append_printf(out, "~%08x", h);
    }
    return g_string_free(out, FALSE);
}
