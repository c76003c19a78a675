/* media.h - may this user put this file into a guest's cdrom or floppy?
 *
 * Why: a cdrom `source` write makes QEMU (running as libvirt's user, often with more
 * rights than the writer) open the path. The mount owner may write any path, as with
 * virsh; anyone else whom -o gid=/umask= lets write must name a regular file below one
 * of -o media_dirs that they could read themselves, so the mount never lends its rights
 * to read /etc/shadow or a raw disk. */
#pragma once

#include <glib.h>
#include <sys/types.h>

typedef struct {
    uid_t uid;
    gid_t gid;
    const gid_t *groups;    /* supplementary groups */
    int n_groups;
} MediaWriter;

/* 0 when W may use PATH as media: PATH is absolute and normalised, inside one of DIRS
 * (normalised directories), reached without leaving it (symlinks that stay inside are
 * followed), a regular file, and W may read it (checked as W when the daemon is root, by
 * the mode bits otherwise). -EACCES (with *errmsg) otherwise. */
int media_check(const char *path, char *const *dirs, const MediaWriter *w, char **errmsg);
