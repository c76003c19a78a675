/* dom_action.h - what a write to a guest's file does in libvirt, in two halves: parsing
 * what the user wrote (in the request's thread, no libvirt call: a refusal is immediate)
 * and the libvirt call (on a host's action thread, see job.h). Every libvirt call looks
 * the domain up by uuid, so a re-created guest of the same name is never hit by mistake;
 * a successful call re-reads the domain into the cache before it returns, so a read right
 * after the write sees the new value. Each returns 0 or -errno with a message. */
#pragma once

#include <stddef.h>

#include "conn.h"
#include "dom_info.h"
#include "state_word.h"

/* The written text as one value: at most one trailing newline removed; a NUL byte, more
 * than DOMFS_WRITE_MAX bytes (-EFBIG), several lines when SINGLE_LINE, and invalid UTF-8
 * are refused. *out is owned by the caller. */
int act_take_value(const char *buf, size_t len, gboolean single_line, char **out,
                   char **errmsg);
int act_parse_state(const char *buf, size_t len, StateAction *act, char **errmsg);
int act_parse_autostart(const char *buf, size_t len, gboolean *on, char **errmsg);
/* A write to device file FIELD of device DEV (of DevKind KIND) of snapshot D: the new
 * element for virDomainUpdateDeviceFlags, built with libxml2 from the current one. A disk
 * source write also gives the path written (*media, NULL for an eject) for the media
 * check. -EACCES for a file that is not writable. */
int act_parse_device(const DomInfo *d, int kind, const char *dev, const char *field,
                     const char *buf, size_t len, char **xml, char **media, char **errmsg);

int act_run_state(DomConn *c, const char *uuid, StateAction act, char **msg);
int act_run_autostart(DomConn *c, const char *uuid, gboolean on, char **msg);
int act_run_metadata(DomConn *c, const char *uuid, gboolean title, const char *text,
                     char **msg);
int act_run_device(DomConn *c, const char *uuid, const char *xml, char **msg);
