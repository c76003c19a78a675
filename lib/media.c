/* media.c - see media.h.
 *
 * As root, the check opens the file for reading with the writer's filesystem identity:
 * setfsuid/setfsgid and setgroups are per-thread system calls on Linux (glibc's wrappers
 * of setgroups broadcast to every thread, so the raw syscalls are used), switched on the
 * calling action thread around one openat2 and switched back. Without root the daemon
 * cannot take another identity, and compares the writer against each component's mode
 * bits instead (ACLs are not consulted then). */
#define G_LOG_DOMAIN "domfs-media"

#include "media.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "open_beneath.h"
#include "verr.h"

static gboolean
media_in_groups(const MediaWriter *w, gid_t g)
{
    if (g == w->gid)
        return TRUE;
    for (int i = 0; i < w->n_groups; i++) {
        if (w->groups[i] == g)
            return TRUE;
    }
    return FALSE;
}

/* Mode-bit permission MASK (4 read, 1 search) of ST for W. */
static gboolean
media_mode_allows(const struct stat *st, const MediaWriter *w, mode_t mask)
{
    if (w->uid == 0)
        return TRUE;
    if (st->st_uid == w->uid)
        return (st->st_mode & (mask << 6)) == (mask << 6);
    if (media_in_groups(w, st->st_gid))
        return (st->st_mode & (mask << 3)) == (mask << 3);
    return (st->st_mode & mask) == mask;
}

/* Not root: every directory from DIRFD down must be searchable and the file readable. */
static int
media_check_modes(int dirfd, const char *rel, const MediaWriter *w, int fd)
{
    g_auto(GStrv) comps = g_strsplit(rel, "/", -1);
    struct stat st;
    autofd int cur = -1;

    if (fstat(dirfd, &st) < 0 || !media_mode_allows(&st, w, 1))
        return -EACCES;
    for (gsize i = 0; comps[i] && comps[i + 1]; i++) {
        int next = open_beneath(cur >= 0 ? cur : dirfd, comps[i], O_PATH | O_DIRECTORY |
                                O_CLOEXEC, FALSE);

        if (next < 0)
            return next;
        fd_closep(&cur);
        cur = next;
        if (fstat(cur, &st) < 0 || !media_mode_allows(&st, w, 1))
            return -EACCES;
    }
    if (fstat(fd, &st) < 0 || !media_mode_allows(&st, w, 4))
        return -EACCES;
    return 0;
}

/* Root: open REL beneath DIRFD as W (this thread only), then back. */
static int
media_open_as(int dirfd, const char *rel, const MediaWriter *w)
{
    int n_saved = getgroups(0, NULL);
    g_autofree gid_t *saved = g_new0(gid_t, MAX(n_saved, 1));
    int fd;

    n_saved = getgroups(n_saved, saved);
    if (n_saved < 0 || syscall(SYS_setgroups, (size_t)w->n_groups, w->groups) < 0)
        return -EPERM;
    syscall(SYS_setfsgid, w->gid);
    syscall(SYS_setfsuid, w->uid);
    fd = open_beneath(dirfd, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, FALSE);
    syscall(SYS_setfsuid, geteuid());
    syscall(SYS_setfsgid, getegid());
    if (syscall(SYS_setgroups, (size_t)n_saved, saved) < 0)
        g_error("cannot restore the supplementary groups of an action thread");
    return fd;
}

int
media_check(const char *path, char *const *dirs, const MediaWriter *w, char **errmsg)
{
    const char *why = NULL;
    const char *rest = NULL;
    const char *dir;
    autofd int dirfd = -1;
    autofd int fd = -1;
    struct stat st;
    int ret;

    if (path_check_normal(path, &why) < 0)
        return verr_set(errmsg, EACCES, "media path refused: %s", why);
    if (!(dir = path_best_dir(dirs, path, &rest)))
        return verr_set(errmsg, EACCES, "media path refused: not inside -o media_dirs");
    if ((dirfd = open(*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
        return verr_set(errmsg, EACCES, "media directory %s: %s", dir, g_strerror(errno));
    fd = geteuid() == 0 ? media_open_as(dirfd, rest, w)
                        : open_beneath(dirfd, rest, O_RDONLY | O_NONBLOCK | O_NOCTTY |
                                       O_CLOEXEC, FALSE);
    if (fd < 0)
        return verr_set(errmsg, EACCES, "media path refused: %s", g_strerror(-fd));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return verr_set(errmsg, EACCES, "media path refused: not a regular file");
    if (geteuid() != 0 && (ret = media_check_modes(dirfd, rest, w, fd)) < 0)
        return verr_set(errmsg, EACCES, "media path refused: not readable by uid %u",
                        (unsigned)w->uid);
    return 0;
}
