/* dom_fetch.h - snapshots from libvirt: all domains in a constant number of calls, or one. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "dom_info.h"

/* DOM's UUID as a string (VIR_UUID_STRING_BUFLEN) and, when RAW, as bytes: one libvirt
 * call (each public accessor formats the UUID for its debug log, and
 * virDomainGetUUIDString formats it twice: at 10000 guests that was most of a start-up).
 * 0 or -1. */
int dom_fetch_uuid(virDomainPtr dom, char *out, unsigned char *raw);
/* Every domain of VC: ListAllDomains (autostart, transient) + GetAllDomainStats, in a
 * constant number of calls; the snapshots are not `loaded` (no XML yet). *out: array of
 * DomInfo (no free func); *doms: their domain objects, same order (owned). 0 or -errno. */
int dom_fetch_all(virConnectPtr vc, GPtrArray **out, GPtrArray **doms, char **errmsg);
/* CUR completed with DOM's XML: a new, loaded snapshot. 0 or -errno (-ENOENT: gone). */
int dom_fetch_load(virDomainPtr dom, const DomInfo *cur, DomInfo **out, char **errmsg);
/* One domain by uuid (KNOWN: its domain object, when the caller has one, or NULL). 0,
 * -ENOENT when it no longer exists, other -errno with *errmsg. */
int dom_fetch_one(virConnectPtr vc, const char *uuid, virDomainPtr known, DomInfo **out,
                  char **errmsg);
