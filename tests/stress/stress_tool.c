/* stress_tool.c - many blocked requests from one process, for the stress suite.
 *
 * Threads are cheaper than processes: a thousand threads each blocked in a read of
 * .domfs/events are a thousand FUSE requests waiting in domfs, exactly as a thousand
 * `cat` processes would be.
 *
 *   stress_tool readers N PATH SECONDS
 *       N threads open PATH and read once; prints "readers N got G" after SECONDS (or as
 *       soon as all got a line), G = how many got data. Exit 0.
 *   stress_tool writers N PATH TEXT SECONDS
 *       N threads open PATH O_WRONLY|O_TRUNC and write TEXT once; prints one line per
 *       outcome "writers ERRNO COUNT MAX_MS" (OK for success) once all ended or after
 *       SECONDS ("writers PENDING COUNT"). Exit 0.
 *   stress_tool latency SECONDS PATH...
 *       Repeats for SECONDS: read each PATH (open, read, close), list the directory of the
 *       first, write "running" to the first PATH when it ends in /state; prints "latency
 *       MAX_MS COUNT ERRORS worst=OP [first_error=...]". Exit 0.
 *   stress_tool handles N PATH...
 *       Opens every PATH N times (raising RLIMIT_NOFILE to the hard limit), reads one
 *       byte from each handle, prints "handles OPENED FAILED", then waits for stdin to
 *       close (the test holds them open meanwhile). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 4096
#define MAX_ERRNO 200

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* ---- readers ---- */

static const char *r_path;
static atomic_int r_got;
static atomic_int r_done;

static void *
reader_main(void *arg)
{
    (void)arg;
    char buf[4096];
    int fd = open(r_path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;

    if (n > 0)
        atomic_fetch_add(&r_got, 1);
    atomic_fetch_add(&r_done, 1);
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int
cmd_readers(int n, const char *path, int seconds)
{
    pthread_attr_t attr;
    double end = now_ms() + seconds * 1000.0;

    r_path = path;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < n; i++) {
        pthread_t t;

        if (pthread_create(&t, &attr, reader_main, NULL) != 0) {
            fprintf(stderr, "thread %d: %s\n", i, strerror(errno));
            return 1;
        }
    }
    printf("readers %d started\n", n);
    fflush(stdout);
    while (atomic_load(&r_done) < n && now_ms() < end)
        usleep(10000);
    printf("readers %d got %d\n", n, atomic_load(&r_got));
    fflush(stdout);
    return 0;
}

/* ---- writers ---- */

static const char *w_path;
static const char *w_text;
static atomic_int w_count[MAX_ERRNO + 1];
static atomic_int w_done;
static double w_max_ms[MAX_ERRNO + 1];
static pthread_mutex_t w_lock = PTHREAD_MUTEX_INITIALIZER;

static void *
writer_main(void *arg)
{
    (void)arg;
    double t0 = now_ms();
    int fd = open(w_path, O_WRONLY | O_TRUNC);
    int err = 0;
    double dt;

    if (fd < 0 || write(fd, w_text, strlen(w_text)) < 0)
        err = errno;
    if (fd >= 0)
        close(fd);
    dt = now_ms() - t0;
    err = err > MAX_ERRNO ? MAX_ERRNO : err;
    atomic_fetch_add(&w_count[err], 1);
    pthread_mutex_lock(&w_lock);
    if (dt > w_max_ms[err])
        w_max_ms[err] = dt;
    pthread_mutex_unlock(&w_lock);
    atomic_fetch_add(&w_done, 1);
    return NULL;
}

static int
cmd_writers(int n, const char *path, const char *text, int seconds)
{
    pthread_attr_t attr;
    double end = now_ms() + seconds * 1000.0;

    w_path = path;
    w_text = text;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < n; i++) {
        pthread_t t;

        pthread_create(&t, &attr, writer_main, NULL);
    }
    while (atomic_load(&w_done) < n && now_ms() < end)
        usleep(10000);
    for (int e = 0; e <= MAX_ERRNO; e++) {
        if (atomic_load(&w_count[e]))
            printf("writers %s %d %.0f\n", e ? strerrorname_np(e) : "OK",
                   atomic_load(&w_count[e]), w_max_ms[e]);
    }
    if (atomic_load(&w_done) < n)
        printf("writers PENDING %d\n", n - atomic_load(&w_done));
    fflush(stdout);
    return 0;
}

/* ---- latency ---- */

struct lat {
    double max_ms;
    char worst[64];
    long count;
    long errors;
    char first_error[160];
};

static void
lat_note(struct lat *l, const char *what, const char *path, double t0, int err)
{
    double dt = now_ms() - t0;

    l->count++;
    if (dt > l->max_ms) {
        l->max_ms = dt;
        snprintf(l->worst, sizeof l->worst, "%s", what);
    }
    if (err && !l->errors++)
        snprintf(l->first_error, sizeof l->first_error, "%s %s: %s", what, path,
                 strerror(err));
}

static void
lat_read(struct lat *l, const char *path)
{
    char buf[65536];
    double t0 = now_ms();
    int fd = open(path, O_RDONLY);
    int err = 0;

    if (fd < 0 || read(fd, buf, sizeof buf) < 0)
        err = errno;
    if (fd >= 0)
        close(fd);
    lat_note(l, "read", path, t0, err);
}

static void
lat_list(struct lat *l, const char *path)
{
    char dir[4096];
    double t0 = now_ms();
    char *slash;
    DIR *d;
    int err = 0;

    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    d = opendir(dir);
    if (!d) {
        err = errno;
    } else {
        errno = 0;
        while (readdir(d))
            ;
        err = errno;
        closedir(d);
    }
    lat_note(l, "list", dir, t0, err);
}

static void
lat_write(struct lat *l, const char *path)
{
    size_t len = strlen(path);
    double t0 = now_ms();
    int fd, err = 0;

    if (len < 6 || strcmp(path + len - 6, "/state") != 0)
        return;
    fd = open(path, O_WRONLY | O_TRUNC);
    if (fd < 0 || write(fd, "running\n", 8) < 0)
        err = errno;
    if (fd >= 0)
        close(fd);
    lat_note(l, "write", path, t0, err);
}

static int
cmd_latency(int seconds, int npaths, char **paths)
{
    struct lat l = { 0 };
    double end = now_ms() + seconds * 1000.0;

    while (now_ms() < end) {
        for (int i = 0; i < npaths; i++)
            lat_read(&l, paths[i]);
        lat_list(&l, paths[0]);
        lat_write(&l, paths[0]);
        usleep(20000);
    }
    printf("latency %.0f %ld %ld worst=%s%s%s\n", l.max_ms, l.count, l.errors, l.worst,
           l.errors ? " first_error=" : "", l.first_error);
    fflush(stdout);
    return 0;
}

/* ---- handles ---- */

static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int
cmd_handles(int n, int npaths, char **paths)
{
    long opened = 0, failed = 0;
    int first_err = 0;
    char c;

    raise_nofile();
    for (int i = 0; i < npaths; i++) {
        for (int k = 0; k < n; k++) {
            int fd = open(paths[i], O_RDONLY);

            if (fd < 0 || read(fd, &c, 1) < 0) {
                if (!first_err)
                    first_err = errno;
                failed++;
                if (fd >= 0)
                    close(fd);
                continue;
            }
            opened++;      /* deliberately kept open until stdin closes */
        }
    }
    printf("handles %ld %ld %s\n", opened, failed, first_err ? strerror(first_err) : "-");
    fflush(stdout);
    while (read(STDIN_FILENO, &c, 1) > 0)
        ;
    return 0;
}

static int
usage(void)
{
    fprintf(stderr, "usage: stress_tool readers N PATH SECONDS\n"
                    "       stress_tool writers N PATH TEXT SECONDS\n"
                    "       stress_tool latency SECONDS PATH...\n"
                    "       stress_tool handles N PATH...\n");
    return 2;
}

int
main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 5 && strcmp(argv[1], "readers") == 0 && atoi(argv[2]) <= MAX_THREADS)
        return cmd_readers(atoi(argv[2]), argv[3], atoi(argv[4]));
    if (argc == 6 && strcmp(argv[1], "writers") == 0 && atoi(argv[2]) <= MAX_THREADS)
        return cmd_writers(atoi(argv[2]), argv[3], argv[4], atoi(argv[5]));
    if (argc >= 4 && strcmp(argv[1], "latency") == 0)
        return cmd_latency(atoi(argv[2]), argc - 3, argv + 3);
    if (argc >= 4 && strcmp(argv[1], "handles") == 0)
        return cmd_handles(atoi(argv[2]), argc - 3, argv + 3);
    return usage();
}
