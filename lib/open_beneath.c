/* open_beneath.c - see open_beneath.h. */
#define G_LOG_DOMAIN "domfs-beneath"

#include "open_beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

/* openat2 may ask to retry (EAGAIN) when a concurrent rename or mount made it unsure. */
#define OPEN_BENEATH_EAGAIN_RETRIES 8

static gint open_beneath_walk_forced;
static gint open_beneath_no_openat2;

void
open_beneath_force_walk(gboolean force)
{
    g_atomic_int_set(&open_beneath_walk_forced, force ? 1 : 0);
}

/* ---- paths ---- */

int
path_check_normal(const char *path, const char **why)
{
    if (!path || path[0] != '/') {
        *why = "not an absolute path";
        return -EACCES;
    }
    if (strlen(path) >= PATH_MAX) {
        *why = "path too long";
        return -EACCES;
    }
    if (path[1] == '\0')
        return 0;
    for (const char *p = path + 1;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);

        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
            *why = "not a normalised path (empty, \".\" or \"..\" component)";
            return -EACCES;
        }
        if (len > NAME_MAX) {
            *why = "path component too long";
            return -EACCES;
        }
        if (!slash)
            return 0;
        p = slash + 1;
    }
}

char *
path_dir_normalise(const char *dir)
{
    g_autofree char *d = g_strdup(dir ? dir : "");
    size_t len = strlen(d);
    const char *why = NULL;

    while (len > 1 && d[len - 1] == '/')
        d[--len] = '\0';
    if (path_check_normal(d, &why) < 0)
        return NULL;
    if (strcmp(d, "/") == 0)
        d[0] = '\0';
    return g_steal_pointer(&d);
}

const char *
path_under(const char *dir, const char *path)
{
    size_t len = strlen(dir);

    if (strncmp(path, dir, len) != 0 || path[len] != '/' || path[len + 1] == '\0')
        return NULL;
    return path + len + 1;
}

const char *
path_best_dir(char *const *dirs, const char *path, const char **rest)
{
    const char *best = NULL;

    *rest = NULL;
    for (gsize i = 0; dirs && dirs[i]; i++) {
        const char *r = path_under(dirs[i], path);

        if (r && (!best || strlen(dirs[i]) > strlen(best))) {
            best = dirs[i];
            *rest = r;
        }
    }
    return best;
}

/* ---- opening ---- */

/* One component of the walk: opened O_PATH | O_NOFOLLOW (or with FLAGS when LAST) below
 * CUR and checked: never a symlink, a directory unless it is the last one. */
static int
open_beneath_step(int cur, const char *comp, gboolean last, int flags)
{
    int fl = last ? flags | O_NOFOLLOW : O_PATH | O_NOFOLLOW | O_CLOEXEC;
    autofd int fd = -1;
    struct stat st;

    if (!*comp || strcmp(comp, ".") == 0 || strcmp(comp, "..") == 0)
        return -EXDEV;
    if ((fd = openat(cur, comp, fl)) < 0)
        return -errno;
    /* O_PATH | O_NOFOLLOW opens a symlink itself: only fstat tells */
    if (!last || (fl & O_PATH)) {
        if (fstat(fd, &st) < 0)
            return -errno;
        if (S_ISLNK(st.st_mode))
            return -ELOOP;
        if ((!last || (flags & O_DIRECTORY)) && !S_ISDIR(st.st_mode))
            return -ENOTDIR;
    }
    return fd_steal(&fd);
}

/* openat(2) walk of REL below DIRFD, for kernels without openat2. */
static int
open_beneath_walk(int dirfd, const char *rel, int flags)
{
    g_auto(GStrv) comps = g_strsplit(rel, "/", -1);
    autofd int cur = -1;

    for (gsize i = 0; comps[i]; i++) {
        int fd = open_beneath_step(cur >= 0 ? cur : dirfd, comps[i], comps[i + 1] == NULL,
                                   flags);

        if (fd < 0)
            return fd;
        fd_closep(&cur);
        cur = fd;
    }
    return cur >= 0 ? fd_steal(&cur) : -EINVAL;
}

int
open_beneath(int dirfd, const char *rel, int flags, gboolean no_symlinks)
{
    struct open_how how = {
        .flags = (uint64_t)flags,
        .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS |
                   (no_symlinks ? RESOLVE_NO_SYMLINKS : 0),
    };
    gboolean walk = g_atomic_int_get(&open_beneath_walk_forced) ||
                    g_atomic_int_get(&open_beneath_no_openat2);
    int ret = -EAGAIN;

    for (int i = 0; !walk && i < OPEN_BENEATH_EAGAIN_RETRIES; i++) {
        long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);

        if (fd >= 0)
            return (int)fd;
        ret = -errno;
        if (ret == -ENOSYS) {
            g_atomic_int_set(&open_beneath_no_openat2, 1);
            walk = TRUE;
        }
        if (ret != -EAGAIN)
            break;
    }
    /* the walk never follows symlinks: stricter than asked when NO_SYMLINKS is false */
    return walk ? open_beneath_walk(dirfd, rel, flags) : ret;
}
