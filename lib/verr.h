/* verr.h - libvirt errors as errno values a shell prints sensibly. */
#pragma once

#include <libvirt/virterror.h>

/* errno (positive) for a libvirt error; EIO when unknown. */
int verr_errno(const virError *err);
/* errno and a copy of the message of the calling thread's last libvirt error; *msg is
 * never NULL afterwards. Resets the thread's error. */
int verr_take(char **msg);
