/* tkreader.c - one reader loop over a tkfs tree for the takeover tests: lists every
 * directory, stats and reads every file, reads through a descriptor opened at the start
 * and kept (its handle must survive every takeover) and opens relative to a directory
 * descriptor kept likewise (its inode must too), and checks every answer. Each system
 * call is timed: the report gives the longest stall and every call that took more than
 * TKR_STALL_MS, so the shell can attribute stalls to the kills it made.
 *
 *   tkreader ROOT STOPFILE REPORT     (loops until STOPFILE exists)
 *
 * REPORT: "iterations N", "calls N", "errors N", "enotconn N", "eio N", "max_stall_ms N",
 * then "stall END_MS DURATION_MS CALL PATH" and "error END_MS CALL PATH ERRNO" lines
 * (END_MS: CLOCK_REALTIME milliseconds). Exit 0 when there was no error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TKR_STALL_MS 5
#define TKR_MAX_LINES 10000

typedef struct {
    const char *root;
    guint64 iterations, calls, errors, enotconn, eio;
    double max_stall_ms;
    GString *lines;
    guint nlines;
    double t0;          /* of the call under way, monotonic ms */
} Tkr;

static double
tkr_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long long
tkr_real_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
tkr_begin(Tkr *r)
{
    r->t0 = tkr_mono_ms();
}

/* End of a call: ERR 0 (fine), an errno, or -1 (wrong content). */
static void
tkr_end(Tkr *r, const char *call, const char *path, int err)
{
    double d = tkr_mono_ms() - r->t0;

    r->calls++;
    if (d > r->max_stall_ms)
        r->max_stall_ms = d;
    if (d > TKR_STALL_MS && r->nlines++ < TKR_MAX_LINES)
        g_string_append_printf(r->lines, "stall %lld %.1f %s %s\n", tkr_real_ms(), d, call,
                               path);
    if (err == 0)
        return;
    r->errors++;
    r->enotconn += err == ENOTCONN;
    r->eio += err == EIO;
    if (r->nlines++ < TKR_MAX_LINES)
        g_string_append_printf(r->lines, "error %lld %s %s %s\n", tkr_real_ms(), call, path,
                               err < 0 ? "wrong-content" : g_strerror(err));
}

static gint
tkr_cmp(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
tkr_list(Tkr *r, const char *rel, const char *want)
{
    g_autofree char *path = g_build_filename(r->root, rel, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *got = NULL;
    struct dirent *de;
    DIR *d;
    int err = 0;

    tkr_begin(r);
    d = opendir(path);
    if (!d) {
        tkr_end(r, "opendir", rel, errno);
        return;
    }
    errno = 0;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            g_ptr_array_add(names, g_strdup(de->d_name));
    }
    err = errno;
    closedir(d);
    g_ptr_array_sort(names, tkr_cmp);
    g_ptr_array_add(names, NULL);
    got = g_strjoinv(" ", (char **)names->pdata);
    tkr_end(r, "readdir", rel, err ? err : (strcmp(got, want) ? -1 : 0));
}

/* Stat and read REL whole; WANT NULL: any one line. */
static void
tkr_read(Tkr *r, const char *rel, const char *want)
{
    g_autofree char *path = g_build_filename(r->root, rel, NULL);
    char buf[256];
    ssize_t n, total = 0;
    struct stat st;
    int fd, err = 0;

    tkr_begin(r);
    err = stat(path, &st) < 0 ? errno : 0;
    tkr_end(r, "stat", rel, err);
    tkr_begin(r);
    fd = open(path, O_RDONLY);
    if (fd < 0) {
        tkr_end(r, "open", rel, errno);
        return;
    }
    while ((n = read(fd, buf + total, sizeof(buf) - 1 - total)) > 0)
        total += n;
    err = n < 0 ? errno : 0;
    close(fd);
    buf[total] = '\0';
    if (!err && want && strcmp(buf, want) != 0)
        err = -1;
    if (!err && !want && (total < 2 || buf[total - 1] != '\n'))
        err = -1;
    tkr_end(r, "read", rel, err);
}

/* Through descriptors opened once: the handle and the directory inode outlive servers. */
static void
tkr_held(Tkr *r, int held_fd, int dir_fd)
{
    char buf[64];
    ssize_t n;
    int fd;

    tkr_begin(r);
    n = pread(held_fd, buf, sizeof(buf) - 1, 0);
    tkr_end(r, "pread-held", "pid", n < 0 ? errno : (n < 2 ? -1 : 0));
    tkr_begin(r);
    fd = openat(dir_fd, "sub/deep", O_RDONLY);
    if (fd < 0) {
        tkr_end(r, "openat-held", "dir/sub/deep", errno);
        return;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    tkr_end(r, "openat-held", "dir/sub/deep",
            n < 0 ? errno : (n == 10 && memcmp(buf, "deep down\n", 10) == 0 ? 0 : -1));
}

static void
tkr_iteration(Tkr *r, int held_fd, int dir_fd)
{
    tkr_list(r, ".", "dir gen hello pid poison ppid ticks version wait");
    tkr_list(r, "dir", "a b c sub");
    tkr_list(r, "dir/sub", "deep");
    tkr_read(r, "hello", "hello world\n");
    tkr_read(r, "dir/a", "a\n");
    tkr_read(r, "dir/b", "bb\n");
    tkr_read(r, "dir/c", "ccc\n");
    tkr_read(r, "dir/sub/deep", "deep down\n");
    tkr_read(r, "version", NULL);
    tkr_read(r, "pid", NULL);
    tkr_read(r, "gen", NULL);
    tkr_held(r, held_fd, dir_fd);
    r->iterations++;
}

int
main(int argc, char **argv)
{
    Tkr r = { 0 };
    g_autofree char *held = NULL;
    g_autofree char *dir = NULL;
    FILE *out;
    int held_fd, dir_fd;

    if (argc != 4) {
        fprintf(stderr, "usage: tkreader ROOT STOPFILE REPORT\n");
        return 2;
    }
    r.root = argv[1];
    r.lines = g_string_new(NULL);
    held = g_build_filename(r.root, "pid", NULL);
    dir = g_build_filename(r.root, "dir", NULL);
    held_fd = open(held, O_RDONLY);
    dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (held_fd < 0 || dir_fd < 0) {
        perror("tkreader: open");
        return 2;
    }
    while (access(argv[2], F_OK) != 0)
        tkr_iteration(&r, held_fd, dir_fd);
    close(held_fd);
    close(dir_fd);
    out = fopen(argv[3], "w");
    if (!out)
        return 2;
    fprintf(out, "iterations %" G_GUINT64_FORMAT "\ncalls %" G_GUINT64_FORMAT "\nerrors %"
            G_GUINT64_FORMAT "\nenotconn %" G_GUINT64_FORMAT "\neio %" G_GUINT64_FORMAT
            "\nmax_stall_ms %.1f\n%s", r.iterations, r.calls, r.errors, r.enotconn, r.eio,
            r.max_stall_ms, r.lines->str);
    fclose(out);
    g_string_free(r.lines, TRUE);
    return r.errors ? 1 : 0;
}
