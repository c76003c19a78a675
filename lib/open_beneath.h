/* open_beneath.h - opening a path confined below a directory, with no symlink anywhere on
 * the way (or symlinks allowed but never leaving it), and the checks of a normalised
 * absolute path.
 *
 * Why: paths come from domain XML (console logs) or from users (cdrom media); whoever
 * writes them must not reach a file outside the directories domfs was told to use, by
 * "..", by a symlink, or by a race with a rename. openat2(RESOLVE_BENEATH) does it in the
 * kernel; on kernels without openat2 an openat(O_NOFOLLOW) walk of every component does
 * the same (without symlinks). */
#pragma once

#include <glib.h>

/* 0 when PATH is absolute and normalised: no empty, "." or ".." component, no trailing
 * slash, under PATH_MAX, components under NAME_MAX ("/" alone is accepted). Else -EACCES
 * with *why (a static string). */
int path_check_normal(const char *path, const char **why);
/* A configured directory without its trailing slashes ("/" becomes ""), NULL when it is
 * not absolute and normalised. */
char *path_dir_normalise(const char *dir);
/* What follows "DIR/" in PATH when PATH is strictly inside normalised DIR, compared
 * component-wise (/var/log/libvirtX is not inside /var/log/libvirt); else NULL. */
const char *path_under(const char *dir, const char *path);
/* The most specific entry of DIRS (normalised) holding PATH, and what follows it. */
const char *path_best_dir(char *const *dirs, const char *path, const char **rest);

/* REL opened with FLAGS beneath DIRFD: an fd or -errno (-ELOOP, -EXDEV for what would
 * leave DIRFD). NO_SYMLINKS: no component may be a symlink, even one pointing inside. */
int open_beneath(int dirfd, const char *rel, int flags, gboolean no_symlinks);
/* TRUE: always walk with openat(2), as on kernels without openat2(2) (tests). */
void open_beneath_force_walk(gboolean force);
