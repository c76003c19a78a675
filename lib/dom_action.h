/* dom_action.h - what a write to a guest's file does in libvirt. Each returns 0 or
 * -errno; on failure the message is recorded in the guest's `error` file and the log, and
 * nothing changed. On success the cache is refreshed before returning, so a read right
 * after the write sees the new value. */
#pragma once

#include <stddef.h>

#include "conn.h"
#include "dom_info.h"

#define ACT_WRITE_MAX 4096

int act_state(DomConn *c, const DomInfo *d, const char *buf, size_t len);
int act_autostart(DomConn *c, const DomInfo *d, const char *buf, size_t len);
/* FILE is "title" or "description" */
int act_metadata(DomConn *c, const DomInfo *d, const char *file, const char *buf, size_t len);
/* A device file: a cdrom's/floppy's `source` (a path inserts, empty ejects) or an
 * interface's `link_state` (up/down), through virDomainUpdateDeviceFlags with the element
 * rebuilt by libxml2 from the current one. KIND is a DevKind. */
int act_device(DomConn *c, const DomInfo *d, int kind, const char *dev, const char *field,
               const char *buf, size_t len);
/* Record a refusal decided before libvirt was asked (bad input). Returns -ERR. */
int act_refuse(DomConn *c, const DomInfo *d, const char *file, int err, const char *fmt, ...)
    G_GNUC_PRINTF(5, 6);
/* Look the domain up for a write: a new reference, or NULL with -errno in *err (and the
 * refusal recorded). */
virDomainPtr act_lookup(DomConn *c, const DomInfo *d, const char *file, int *err);
/* Record libvirt's last error for FILE, return its -errno. */
int act_fail(DomConn *c, const DomInfo *d, const char *file);
/* The written text as one value: at most one trailing newline removed; NULL bytes and
 * over-long input refused (-EINVAL/-EFBIG, recorded). *out is owned by the caller. */
int act_take_value(DomConn *c, const DomInfo *d, const char *file, const char *buf,
                   size_t len, gboolean single_line, char **out);
