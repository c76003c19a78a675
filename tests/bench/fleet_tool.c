/* fleet_tool.c - the measuring half of the several-hosts bench (bench-fleet.sh, issue 10):
 * what bench_tool.c measures on one connection, over a mount of many hosts, whose tree is
 * one level deeper (MNT/<host>/<guest>/FILE).
 *
 *   fleet_tool startup R MNT LOG one|hosts EXPECT DOMFS ARG...
 *       R times: start DOMFS -f ARG... MNT (output to LOG) and time it until the mount is
 *       usable: MNT is a FUSE mount whose guest directories number EXPECT (counted in MNT
 *       itself for `one` connection, in every MNT/<host>/ for `hosts`); then unmount and
 *       wait for the daemon to exit. Prints "MEDIAN_MS MIN_MS MAX_MS".
 *   fleet_tool copy DIR FILE DST
 *       DIR/<host>/<guest>/FILE -> DST/<host>/<guest>/FILE (the tmpfs baseline); prints
 *       how many files.
 *   fleet_tool agent ROUNDS DIR-A DIR-B FILE
 *       an agent pass: one process opens, reads and closes every <host>/<guest>/FILE of
 *       DIR-A, alternating with DIR-B; prints "FILES A_COLD_MS A_MEDIAN_MS B_MEDIAN_MS".
 *   fleet_tool readall ROUNDS FILE
 *       open, read to the end, close FILE ROUNDS + 1 times; prints "FIRST_MS
 *       MEDIAN_REREAD_MS BYTES".
 *
 * Times are CLOCK_MONOTONIC; A and B alternate so that the load of a shared machine hits
 * both alike. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FLEET_FUSE_MAGIC 0x65735546
/* How long a start-up or an unmount may take before the tool gives up (µs). */
#define FLEET_STARTUP_MAX_US (300 * 1000000.0)
#define FLEET_EXIT_MAX_US (30 * 1000000.0)
/* Polling period of the start-up check (µs): small against start-ups of 100+ ms. */
#define FLEET_POLL_US 1000
#define FLEET_PATH_MAX 4096
#define FLEET_READ_CHUNK 65536

extern char **environ;

static double
fleet_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
fleet_die(const char *what)
{
    fprintf(stderr, "fleet_tool: %s: %s\n", what, strerror(errno));
    exit(1);
}

static int
fleet_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double
fleet_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), fleet_cmp);
    return n ? v[n / 2] : 0;
}

/* ---- names ---- */

typedef struct {
    char **v;
    size_t n;
    size_t cap;
} FleetNames;

static void
fleet_names_add(FleetNames *out, const char *name)
{
    if (out->n == out->cap) {
        out->cap = out->cap ? out->cap * 2 : 1024;
        out->v = realloc(out->v, out->cap * sizeof(char *));
        if (!out->v)
            fleet_die("realloc");
    }
    out->v[out->n++] = strdup(name);
}

/* The directories in DIR, dot entries aside, as PREFIX/name; -1 when DIR cannot be read. */
static int
fleet_list_dirs(const char *dir, const char *prefix, FleetNames *out)
{
    char path[FLEET_PATH_MAX];
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return -1;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (prefix)
            snprintf(path, sizeof(path), "%s/%s", prefix, e->d_name);
        fleet_names_add(out, prefix ? path : e->d_name);
    }
    closedir(d);
    return 0;
}

/* Every <host>/<guest> under DIR. */
static void
fleet_list_guests(const char *dir, FleetNames *out)
{
    char path[FLEET_PATH_MAX];
    FleetNames hosts = { 0 };

    if (fleet_list_dirs(dir, NULL, &hosts) < 0)
        fleet_die(dir);
    for (size_t i = 0; i < hosts.n; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, hosts.v[i]);
        if (fleet_list_dirs(path, hosts.v[i], out) < 0)
            fleet_die(path);
    }
}

/* ---- start-up ---- */

/* Guest directories in MNT: in MNT itself (one connection: HOSTS false), else in every
 * MNT/<host>/; -1 when the mount does not answer yet. */
static long
fleet_count_guests(const char *mnt, int hosts)
{
    char path[FLEET_PATH_MAX];
    FleetNames top = { 0 };
    long n = 0;

    if (fleet_list_dirs(mnt, NULL, &top) < 0)
        return -1;
    if (!hosts)
        return (long)top.n;
    for (size_t i = 0; i < top.n; i++) {
        FleetNames g = { 0 };

        snprintf(path, sizeof(path), "%s/%s", mnt, top.v[i]);
        if (fleet_list_dirs(path, NULL, &g) == 0)
            n += (long)g.n;
    }
    return n;
}

static int
fleet_is_fuse(const char *mnt)
{
    struct statfs sf;

    return statfs(mnt, &sf) == 0 && sf.f_type == FLEET_FUSE_MAGIC;
}

static void
fleet_unmount(const char *mnt, pid_t pid)
{
    char *argv[] = { "fusermount3", "-u", (char *)mnt, NULL };
    double end = fleet_now_us() + FLEET_EXIT_MAX_US;
    pid_t um;
    int st;

    if (posix_spawnp(&um, argv[0], NULL, NULL, argv, environ) == 0)
        waitpid(um, &st, 0);
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (fleet_now_us() > end) {
            fprintf(stderr, "fleet_tool: domfs %d did not exit after the unmount: SIGKILL\n",
                    (int)pid);
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return;
        }
        usleep(FLEET_POLL_US);
    }
}

/* One start-up: ms until MNT shows EXPECT guests. */
static double
fleet_startup_once(const char *mnt, const char *log, int hosts, long expect, char **argv)
{
    posix_spawn_file_actions_t fa;
    double t0, t1, end;
    long got = -1;
    pid_t pid;
    int st;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    t0 = fleet_now_us();
    end = t0 + FLEET_STARTUP_MAX_US;
    if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        fleet_die(argv[0]);
    posix_spawn_file_actions_destroy(&fa);
    for (;;) {
        if (fleet_is_fuse(mnt) && (got = fleet_count_guests(mnt, hosts)) >= expect)
            break;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "fleet_tool: domfs exited before its mount was usable (see %s)\n",
                    log);
            exit(1);
        }
        if (fleet_now_us() > end) {
            fprintf(stderr, "fleet_tool: no usable mount after %.0f s (%ld of %ld guests)\n",
                    FLEET_STARTUP_MAX_US / 1e6, got, expect);
            fleet_unmount(mnt, pid);
            exit(1);
        }
        usleep(FLEET_POLL_US);
    }
    t1 = fleet_now_us();
    if (got != expect)
        fprintf(stderr, "fleet_tool: %ld guests, more than the %ld expected\n", got, expect);
    fleet_unmount(mnt, pid);
    return (t1 - t0) / 1000.0;
}

static int
fleet_cmd_startup(int rounds, const char *mnt, const char *log, int hosts, long expect,
                  int argc, char **args)
{
    char **argv = calloc((size_t)argc + 3, sizeof(char *));
    double *t = calloc((size_t)rounds, sizeof(double));
    double lo, hi;

    if (!argv || !t || rounds < 1)
        fleet_die("startup");
    argv[0] = args[0];
    argv[1] = "-f";
    memcpy(argv + 2, args + 1, (size_t)(argc - 1) * sizeof(char *));
    argv[argc + 1] = (char *)mnt;
    for (int i = 0; i < rounds; i++)
        t[i] = fleet_startup_once(mnt, log, hosts, expect, argv);
    lo = hi = t[0];
    for (int i = 1; i < rounds; i++) {
        lo = t[i] < lo ? t[i] : lo;
        hi = t[i] > hi ? t[i] : hi;
    }
    printf("%.1f %.1f %.1f\n", fleet_median(t, rounds), lo, hi);
    return 0;
}

/* ---- reading ---- */

/* Open, read to the end, close; the byte count, or -1. */
static ssize_t
fleet_read(const char *path)
{
    static char buf[FLEET_READ_CHUNK];
    int fd = open(path, O_RDONLY);
    ssize_t n, total = 0;

    if (fd < 0)
        return -1;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        total += n;
    close(fd);
    return n < 0 ? -1 : total;
}

static int
fleet_cmd_copy(const char *dir, const char *file, const char *dst)
{
    FleetNames names = { 0 };
    char path[FLEET_PATH_MAX], out[FLEET_PATH_MAX], buf[FLEET_READ_CHUNK];

    fleet_list_guests(dir, &names);
    for (size_t i = 0; i < names.n; i++) {
        ssize_t n;
        int fd;

        snprintf(out, sizeof(out), "%s/%s", dst, names.v[i]);
        *strchr(out + strlen(dst) + 1, '/') = 0;
        mkdir(out, 0755);
        snprintf(out, sizeof(out), "%s/%s", dst, names.v[i]);
        mkdir(out, 0755);
        snprintf(path, sizeof(path), "%s/%s/%s", dir, names.v[i], file);
        if ((fd = open(path, O_RDONLY)) < 0 || (n = read(fd, buf, sizeof(buf))) < 0)
            fleet_die(path);
        close(fd);
        snprintf(out, sizeof(out), "%s/%s/%s", dst, names.v[i], file);
        if ((fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 || write(fd, buf, (size_t)n) != n)
            fleet_die(out);
        close(fd);
    }
    printf("%zu\n", names.n);
    return 0;
}

/* One agent pass over DIR: ms. */
static double
fleet_agent_pass(const char *dir, const FleetNames *names, const char *file)
{
    char path[FLEET_PATH_MAX];
    double t0 = fleet_now_us();

    for (size_t i = 0; i < names->n; i++) {
        snprintf(path, sizeof(path), "%s/%s/%s", dir, names->v[i], file);
        if (fleet_read(path) <= 0)
            fleet_die(path);
    }
    return (fleet_now_us() - t0) / 1000.0;
}

static int
fleet_cmd_agent(int rounds, const char *da, const char *db, const char *file)
{
    FleetNames names = { 0 };
    double *ta = calloc((size_t)rounds, sizeof(double)), *tb = calloc((size_t)rounds, sizeof(double));
    double cold;

    if (!ta || !tb || rounds < 1)
        fleet_die("agent");
    fleet_list_guests(da, &names);
    cold = fleet_agent_pass(da, &names, file);   /* the kernel looks every name up once */
    fleet_agent_pass(db, &names, file);
    for (int i = 0; i < rounds; i++) {
        if (i % 2) {
            ta[i] = fleet_agent_pass(da, &names, file);
            tb[i] = fleet_agent_pass(db, &names, file);
        } else {
            tb[i] = fleet_agent_pass(db, &names, file);
            ta[i] = fleet_agent_pass(da, &names, file);
        }
    }
    printf("%zu %.2f %.2f %.2f\n", names.n, cold, fleet_median(ta, rounds),
           fleet_median(tb, rounds));
    return 0;
}

static int
fleet_cmd_readall(int rounds, const char *file)
{
    double *t = calloc((size_t)rounds, sizeof(double));
    double t0, first;
    ssize_t n;

    if (!t || rounds < 1)
        fleet_die("readall");
    t0 = fleet_now_us();
    if ((n = fleet_read(file)) < 0)
        fleet_die(file);
    first = (fleet_now_us() - t0) / 1000.0;
    for (int i = 0; i < rounds; i++) {
        t0 = fleet_now_us();
        if (fleet_read(file) < 0)
            fleet_die(file);
        t[i] = (fleet_now_us() - t0) / 1000.0;
    }
    printf("%.4f %.4f %zd\n", first, fleet_median(t, rounds), n);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc >= 8 && strcmp(argv[1], "startup") == 0)
        return fleet_cmd_startup(atoi(argv[2]), argv[3], argv[4], strcmp(argv[5], "hosts") == 0,
                                 atol(argv[6]), argc - 7, argv + 7);
    if (argc == 5 && strcmp(argv[1], "copy") == 0)
        return fleet_cmd_copy(argv[2], argv[3], argv[4]);
    if (argc == 6 && strcmp(argv[1], "agent") == 0)
        return fleet_cmd_agent(atoi(argv[2]), argv[3], argv[4], argv[5]);
    if (argc == 4 && strcmp(argv[1], "readall") == 0)
        return fleet_cmd_readall(atoi(argv[2]), argv[3]);
    fprintf(stderr, "usage: see the comment at the top of tests/bench/fleet_tool.c\n");
    return 2;
}
