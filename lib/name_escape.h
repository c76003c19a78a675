/* name_escape.h - names from libvirt (domain names, device targets, aliases) as path
 * components: '/', '%', control bytes, DEL and a leading '.' become %XX (so ".", ".." and
 * ".domfs" can never be produced); an empty name is "%00"; a result over NAME_MAX (255) is
 * cut and ends in '~' plus 8 hex digits of a hash of the whole name. Bijective apart from
 * that rare long-name case. */
#pragma once

char *name_escape(const char *raw);
