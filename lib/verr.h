/* verr.h - errors as errno values a shell prints sensibly, with a message.
 *
 * Every failure in lib/ is a negative errno plus a human message: libvirt's errors are
 * mapped here (the README's errors table is this table), and the parsers of what users
 * write report theirs with verr_set(). */
#pragma once

#include <glib.h>
#include <libvirt/virterror.h>

/* errno (positive) for a libvirt error; EIO when unknown. */
int verr_errno(const virError *err);
/* errno and a copy of the message of the calling thread's last libvirt error; *msg is
 * never NULL afterwards. Resets the thread's error. */
int verr_take(char **msg);
/* Set *MSG (when MSG is not NULL; a previous message is freed) to the formatted text and
 * return -ERR: `return verr_set(errmsg, EINVAL, "bad port %s", p);` */
int verr_set(char **msg, int err, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
/* "EINVAL", "ETIMEDOUT", ... for a positive errno ("EIO" when unknown). */
const char *verr_name(int err);
