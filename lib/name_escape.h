/* name_escape.h - names from libvirt (domain names, device targets, aliases, hostnames) as
 * path components: '/', '%', control bytes, DEL and a leading '.' become %XX (so ".", ".."
 * and ".domfs" can never be produced); an empty name is "%00"; a result over NAME_MAX
 * (255) is cut and ends in '~' plus 8 hex digits of a hash of the whole name. Bijective
 * apart from that rare long-name case, where the cache and the device model make names
 * unique with name_with_suffix(). */
#pragma once

#include <glib.h>

char *name_escape(const char *raw);
/* BASE (an escaped name) with "~K" appended, BASE cut first (never inside a %XX triple or a
 * UTF-8 character) so that the result fits NAME_MAX. */
char *name_with_suffix(const char *base, guint k);
