/* cleanup.h - scope-bound cleanup for what GLib has no autoptr for: libvirt's handles and
 * plain file descriptors.
 *
 * Why: a function that owns a virDomainPtr or an fd then has one exit path that cannot
 * leak (systemd's _cleanup_close_, libvirt's own g_autoptr(virDomain) inside libvirt). */
#pragma once

#include <errno.h>
#include <glib.h>
#include <libvirt/libvirt.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose)

static inline void
fd_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;

        close(*fd);
        errno = saved;
    }
}

/* `autofd int fd = open(...);` closes fd when it goes out of scope (unless stolen). */
#define autofd __attribute__((cleanup(fd_closep)))

/* Give up ownership of *FD: returns it and leaves -1 behind. */
static inline int
fd_steal(int *fd)
{
    int v = *fd;

    *fd = -1;
    return v;
}
