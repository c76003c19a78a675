/* dom_fetch.h - snapshots from libvirt: all domains in a constant number of calls, or one. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "dom_info.h"

/* Every domain of VC: ListAllDomains (all, autostart, persistent) + GetAllDomainStats +
 * one GetXMLDesc per guest. *out: array of DomInfo (no free func). 0 or -errno, *errmsg. */
int dom_fetch_all(virConnectPtr vc, GPtrArray **out, char **errmsg);
/* One domain by uuid (KNOWN: its domain object, when the caller has one, or NULL). 0,
 * -ENOENT when it no longer exists, other -errno with *errmsg. */
int dom_fetch_one(virConnectPtr vc, const char *uuid, virDomainPtr known, DomInfo **out,
                  char **errmsg);
