/* bench_tool.c - the measuring half of the `bench` suite (run-bench.sh drives it).
 *
 *   bench_tool populate URI NODE.xml READY   define NODE.xml's domains on URI (a private
 *                                            libvirtd's test:///default), start those not
 *                                            marked <test:runstate>5</test:runstate>, write
 *                                            "defined started" to READY, then hold the
 *                                            connection (test:///default lives as long as
 *                                            one is open) until killed
 *   bench_tool abexec N CMD-A... ::: CMD-B... run A and B alternately N times (whole
 *                                            processes, output to /dev/null); prints
 *                                            "A_median_us A_p90_us B_median_us B_p90_us"
 *   bench_tool copy DIR FILE DST             DIR/<g>/FILE -> DST/<g>/FILE for every <g>
 *   bench_tool loop K FILE-A FILE-B          open/read/close A and B K times, alternating;
 *                                            prints "A_median_us B_median_us"
 *   bench_tool agent ROUNDS DIR-A DIR-B FILE one process open/read/close of every <g>/FILE;
 *                                            prints "A_cold_ms A_median_ms B_median_ms"
 *   bench_tool latency URI GUEST STATEFILE K suspend/resume GUEST K times, polling STATEFILE
 *   bench_tool startup R MNT URI DOMFS LOG   domfs start-up to a usable mount vs a bare
 *                                            ListAllDomains + GetAllDomainStats process
 *   bench_tool bare-list URI [rss]           that bare process; "rss": print its VmRSS (KiB)
 *   bench_tool pread ROUNDS DIR-A DIR-B FILE the sysfs idiom: every <g>/FILE opened once,
 *                                            then passes of pread(fd, 0) over all of them;
 *                                            prints "A_median_ms B_median_ms files"
 *   bench_tool pollwatch URI MNT K MODE      a watcher: every running guest's MNT/<g>/state
 *                                            open and read, watched for POLLPRI by MODE
 *                                            (epoll: one epoll set; poll: poll() over all);
 *                                            K times suspend/resume one guest through URI
 *                                            and time the call's return to the wake-up of
 *                                            its fd; prints "call_med_us wake_med_us
 *                                            wake_p99_us timeouts watched pass_us" (pass:
 *                                            one poll() over all with nothing changed)
 *
 * Every figure is measured against its baseline side by side, alternating A and B, so
 * that the load of the machine hits both alike. Times are CLOCK_MONOTONIC. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#define FUSE_MAGIC 0x65735546
#define BENCH_NOFILE 65536   /* descriptors: every guest's file, twice, and some */

extern char **environ;

static double
now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Quantile Q (0..1) of N values (sorts them). */
static double
quantile(double *v, size_t n, double q)
{
    size_t i;

    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

static void
die(const char *what)
{
    fprintf(stderr, "bench_tool: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* A libvirt call failed: its own message. */
static void
die_virt(const char *what)
{
    virErrorPtr e = virGetLastError();

    fprintf(stderr, "bench_tool: %s: %s\n", what, e && e->message ? e->message : "failed");
    exit(1);
}

static void
silence(void *opaque, virErrorPtr err)
{
    (void)opaque;
    (void)err;
}

/* ---- populate ---- */

static int
cmd_populate(const char *uri, const char *file, const char *ready)
{
    virConnectPtr c = virConnectOpen(uri);
    xmlDocPtr doc = xmlReadFile(file, NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
    virDomainPtr *doms = NULL;
    int n, defined = 0, started = 0;

    if (!c)
        die_virt("virConnectOpen");
    if (!doc)
        die("cannot parse node file");
    /* test:///default starts with its own guest "test": leave only the fleet */
    n = virConnectListAllDomains(c, &doms, 0);
    for (int i = 0; i < n; i++) {
        if (virDomainIsActive(doms[i]) == 1)
            virDomainDestroy(doms[i]);
        virDomainUndefine(doms[i]);
        virDomainFree(doms[i]);
    }
    free(doms);
    for (xmlNodePtr d = xmlDocGetRootElement(doc)->children; d; d = d->next) {
        xmlBufferPtr buf;
        virDomainPtr dom;
        int shutoff = 0;

        if (d->type != XML_ELEMENT_NODE || strcmp((const char *)d->name, "domain") != 0)
            continue;
        for (xmlNodePtr k = d->children; k; k = k->next) {
            if (k->type == XML_ELEMENT_NODE && strcmp((const char *)k->name, "runstate") == 0) {
                xmlChar *v = xmlNodeGetContent(k);

                shutoff = v && atoi((const char *)v) == 5;
                xmlFree(v);
                xmlUnlinkNode(k);
                xmlFreeNode(k);
                break;
            }
        }
        buf = xmlBufferCreate();
        xmlNodeDump(buf, doc, d, 0, 0);
        dom = virDomainDefineXML(c, (const char *)xmlBufferContent(buf));
        xmlBufferFree(buf);
        if (!dom)
            die_virt("virDomainDefineXML");
        defined++;
        if (!shutoff) {
            if (virDomainCreate(dom) < 0)
                die_virt("virDomainCreate");
            started++;
        }
        virDomainFree(dom);
    }
    xmlFreeDoc(doc);
    /* test:///default lives as long as a connection to it: hold this one until killed */
    {
        char tmp[4096];
        FILE *f;

        snprintf(tmp, sizeof(tmp), "%s.tmp", ready);
        if (!(f = fopen(tmp, "w")))
            die(tmp);
        fprintf(f, "%d %d\n", defined, started);
        fclose(f);
        rename(tmp, ready);
    }
    for (;;)
        pause();
    return 0;
}

/* ---- whole processes, A against B ---- */

static double
run_once(char **argv)
{
    posix_spawn_file_actions_t fa;
    double t0, t1;
    pid_t pid;
    int st;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    t0 = now_us();
    if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0)
        die(argv[0]);
    if (waitpid(pid, &st, 0) < 0)
        die("waitpid");
    t1 = now_us();
    posix_spawn_file_actions_destroy(&fa);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench_tool: %s failed (status %d)\n", argv[0], st);
        exit(1);
    }
    return t1 - t0;
}

static int
cmd_abexec(int n, char **argv)
{
    char **a = argv, **b = NULL;
    double *ta = calloc(n, sizeof(double)), *tb = calloc(n, sizeof(double));

    for (char **p = argv; *p; p++) {
        if (strcmp(*p, ":::") == 0) {
            *p = NULL;
            b = p + 1;
            break;
        }
    }
    if (!b || !*a || !*b) {
        fprintf(stderr, "abexec: CMD-A ::: CMD-B\n");
        return 2;
    }
    for (int i = 0; i < 3; i++) {   /* warm-up: caches, first lookups */
        run_once(a);
        run_once(b);
    }
    for (int i = 0; i < n; i++) {
        if (i % 2) {
            ta[i] = run_once(a);
            tb[i] = run_once(b);
        } else {
            tb[i] = run_once(b);
            ta[i] = run_once(a);
        }
    }
    printf("%.1f %.1f ", quantile(ta, n, 0.5), quantile(ta, n, 0.9));
    printf("%.1f %.1f\n", quantile(tb, n, 0.5), quantile(tb, n, 0.9));
    return 0;
}

/* ---- an agent pass ---- */

typedef struct {
    char **v;
    size_t n, cap;
} Names;

static void
list_dirs(const char *dir, Names *out)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        die(dir);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 1024;
            out->v = realloc(out->v, out->cap * sizeof(char *));
        }
        out->v[out->n++] = strdup(e->d_name);
    }
    closedir(d);
}

static ssize_t
read_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY);
    ssize_t n, total = 0;

    if (fd < 0)
        return -1;
    while ((n = read(fd, buf + total, size - 1 - total)) > 0)
        total += n;
    close(fd);
    buf[total] = 0;
    return n < 0 ? -1 : total;
}

/* One pass: open, read and close DIR/<name>/FILE for every name; ms. */
static double
agent_pass(const char *dir, const Names *names, const char *file)
{
    char path[4096], buf[4096];
    double t0 = now_us();

    for (size_t i = 0; i < names->n; i++) {
        snprintf(path, sizeof(path), "%s/%s/%s", dir, names->v[i], file);
        if (read_file(path, buf, sizeof(buf)) <= 0)
            die(path);
    }
    return (now_us() - t0) / 1000.0;
}

/* K rounds of open/read/close of A and of B, alternating; µs per file. */
static int
cmd_loop(int k, const char *a, const char *b)
{
    double *ta = calloc(k, sizeof(double)), *tb = calloc(k, sizeof(double));
    char buf[4096];

    for (int i = 0; i < k; i++) {
        double t0 = now_us();

        if (read_file(a, buf, sizeof(buf)) <= 0)
            die(a);
        ta[i] = now_us() - t0;
        t0 = now_us();
        if (read_file(b, buf, sizeof(buf)) <= 0)
            die(b);
        tb[i] = now_us() - t0;
    }
    printf("%.2f %.2f\n", quantile(ta, k, 0.5), quantile(tb, k, 0.5));
    return 0;
}

static int
cmd_copy(const char *dir, const char *file, const char *dst)
{
    Names names = { 0 };
    char path[4096], buf[65536];

    list_dirs(dir, &names);
    for (size_t i = 0; i < names.n; i++) {
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "%s/%s/%s", dir, names.v[i], file);
        if ((n = read_file(path, buf, sizeof(buf))) < 0)
            die(path);
        snprintf(path, sizeof(path), "%s/%s", dst, names.v[i]);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            die(path);
        snprintf(path, sizeof(path), "%s/%s/%s", dst, names.v[i], file);
        if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) < 0 || write(fd, buf, n) != n)
            die(path);
        close(fd);
    }
    printf("%zu\n", names.n);
    return 0;
}

static int
cmd_agent(int rounds, const char *da, const char *db, const char *file)
{
    Names names = { 0 };
    double *ta = calloc(rounds, sizeof(double)), *tb = calloc(rounds, sizeof(double));
    double cold;

    list_dirs(da, &names);
    cold = agent_pass(da, &names, file);   /* the kernel looks every name up once */
    agent_pass(db, &names, file);
    for (int i = 0; i < rounds; i++) {
        if (i % 2) {
            ta[i] = agent_pass(da, &names, file);
            tb[i] = agent_pass(db, &names, file);
        } else {
            tb[i] = agent_pass(db, &names, file);
            ta[i] = agent_pass(da, &names, file);
        }
    }
    printf("%.2f %.2f %.2f\n", cold, quantile(ta, rounds, 0.5), quantile(tb, rounds, 0.5));
    return 0;
}

/* ---- keep-open pread pass ---- */

typedef struct {
    int *fd;
    size_t n;
} Fds;

static void
open_all(const char *dir, const Names *names, const char *file, Fds *out)
{
    char path[4096];

    out->fd = calloc(names->n, sizeof(int));
    out->n = names->n;
    for (size_t i = 0; i < names->n; i++) {
        snprintf(path, sizeof(path), "%s/%s/%s", dir, names->v[i], file);
        if ((out->fd[i] = open(path, O_RDONLY)) < 0)
            die(path);
    }
}

static double
pread_pass(const Fds *f)
{
    char buf[4096];
    double t0 = now_us();

    for (size_t i = 0; i < f->n; i++) {
        if (pread(f->fd[i], buf, sizeof(buf), 0) <= 0)
            die("pread");
    }
    return (now_us() - t0) / 1000.0;
}

static void
raise_nofile(void)
{
    struct rlimit want = { BENCH_NOFILE, BENCH_NOFILE };
    struct rlimit rl;

    /* root may raise the hard limit (two sets of 10000 descriptors need it) */
    if (setrlimit(RLIMIT_NOFILE, &want) == 0)
        return;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int
cmd_pread(int rounds, const char *da, const char *db, const char *file)
{
    Names names = { 0 };
    Fds fa, fb;
    double *ta = calloc(rounds, sizeof(double)), *tb = calloc(rounds, sizeof(double));

    struct rlimit rl;

    raise_nofile();
    list_dirs(da, &names);
    /* both sets open at once: where the limit cannot be raised (a container's user
     * namespace), as many files as it allows (the row says how many) */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && names.n > (rl.rlim_cur - 64) / 2)
        names.n = (rl.rlim_cur - 64) / 2;
    open_all(da, &names, file, &fa);
    open_all(db, &names, file, &fb);
    pread_pass(&fa);
    pread_pass(&fb);
    for (int i = 0; i < rounds; i++) {
        ta[i] = pread_pass(&fa);
        tb[i] = pread_pass(&fb);
    }
    printf("%.3f %.3f %zu\n", quantile(ta, rounds, 0.5), quantile(tb, rounds, 0.5), names.n);
    return 0;
}

/* ---- event to readable value ---- */

static _Atomic double ev_time;
static atomic_int ev_count;

static int
on_lifecycle(virConnectPtr c, virDomainPtr d, int event, int detail, void *opaque)
{
    (void)c; (void)d; (void)event; (void)detail; (void)opaque;
    ev_time = now_us();
    atomic_fetch_add(&ev_count, 1);
    return 0;
}

static void *
event_loop(void *arg)
{
    (void)arg;
    for (;;)
        virEventRunDefaultImpl();
    return NULL;
}

static int
cmd_latency(const char *uri, const char *guest, const char *file, int k)
{
    int poll_sleep_us = getenv("BENCH_POLL_SLEEP_US") ? atoi(getenv("BENCH_POLL_SLEEP_US")) : 0;
    virConnectPtr c;
    virDomainPtr dom;
    pthread_t th;
    double *call = calloc(k, sizeof(double)), *after_call = calloc(k, sizeof(double));
    double *after_ev = calloc(k, sizeof(double));
    int n_ev = 0, timeouts = 0;
    char buf[64];

    virEventRegisterDefaultImpl();
    pthread_create(&th, NULL, event_loop, NULL);
    if (!(c = virConnectOpen(uri)))
        die_virt("virConnectOpen");
    if (!(dom = virDomainLookupByName(c, guest)))
        die_virt("virDomainLookupByName");
    if (virConnectDomainEventRegisterAny(c, dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL, NULL) < 0)
        die_virt("virConnectDomainEventRegisterAny");
    for (int i = 0; i < k; i++) {
        const char *want = i % 2 == 0 ? "paused\n" : "running\n";
        int before = atomic_load(&ev_count);
        double t0, t1, t2, deadline;

        t0 = now_us();
        if ((i % 2 == 0 ? virDomainSuspend(dom) : virDomainResume(dom)) < 0)
            die(i % 2 == 0 ? "virDomainSuspend" : "virDomainResume");
        t1 = now_us();
        deadline = t1 + 2e6;
        for (;;) {
            if (read_file(file, buf, sizeof(buf)) > 0 && strcmp(buf, want) == 0)
                break;
            if (now_us() > deadline)
                break;
            /* BENCH_POLL_SLEEP_US: yield between polls (busy polling measured best) */
            if (poll_sleep_us)
                usleep(poll_sleep_us);
        }
        t2 = now_us();
        if (t2 > deadline) {
            timeouts++;
            t2 = deadline;
        }
        call[i] = t1 - t0;
        after_call[i] = t2 - t1;
        /* our own copy of the event, for the event-to-file figure */
        for (double w = now_us() + 1e6; atomic_load(&ev_count) == before && now_us() < w;)
            usleep(50);
        if (atomic_load(&ev_count) != before)
            after_ev[n_ev++] = t2 - ev_time;
        usleep(2000);
    }
    /* call median, call p99, file-after-call median, p99, event-to-file median, p99 */
    printf("%.1f %.1f %.1f %.1f %.1f %.1f %d\n",
           quantile(call, k, 0.5), quantile(call, k, 0.99),
           quantile(after_call, k, 0.5), quantile(after_call, k, 0.99),
           quantile(after_ev, n_ev, 0.5), quantile(after_ev, n_ev, 0.99), timeouts);
    virDomainFree(dom);
    virConnectClose(c);
    return 0;
}

/* ---- poll-driven watcher ---- */

/* Wait until FD reports POLLPRI|POLLERR (sysfs's "changed"), up to TIMEOUT_US; the other
 * descriptors of the set are watched too (a watcher over the whole fleet), and any of
 * them that wakes is re-armed (lseek + read). TRUE when FD woke. */
static int
poll_until(struct pollfd *pfd, size_t n, size_t want, double timeout_us)
{
    char buf[64];
    double end = now_us() + timeout_us;
    int woke = 0;

    while (!woke) {
        int ms = (int)((end - now_us()) / 1000.0);

        if (ms < 0 || poll(pfd, n, ms) <= 0)
            return 0;
        for (size_t i = 0; i < n; i++) {
            if (!(pfd[i].revents & (POLLPRI | POLLERR)))
                continue;
            if (i == want)
                woke = 1;
            lseek(pfd[i].fd, 0, SEEK_SET);
            if (read(pfd[i].fd, buf, sizeof(buf)) < 0)
                die("read after wake-up");
        }
    }
    return 1;
}

/* Like poll_until, through an epoll set EP whose data are indexes into PFD. */
static int
epoll_until(int ep, struct pollfd *pfd, size_t want, double timeout_us)
{
    struct epoll_event ev[64];
    double end = now_us() + timeout_us;
    char buf[64];
    int woke = 0;

    while (!woke) {
        int ms = (int)((end - now_us()) / 1000.0), n;

        if (ms < 0 || (n = epoll_wait(ep, ev, 64, ms)) <= 0)
            return 0;
        for (int i = 0; i < n; i++) {
            size_t j = ev[i].data.u64;

            if (!(ev[i].events & (EPOLLPRI | EPOLLERR)))
                continue;
            if (j == want)
                woke = 1;
            lseek(pfd[j].fd, 0, SEEK_SET);
            if (read(pfd[j].fd, buf, sizeof(buf)) < 0)
                die("read after wake-up");
        }
    }
    return 1;
}

/* The median time of a poll() call over the whole set when nothing changed: what every
 * poll() costs over N FUSE files (the kernel asks the server about each one). */
static double
poll_pass(struct pollfd *pfd, int n)
{
    double t[9];

    for (int i = 0; i < 9; i++) {
        double t0 = now_us();

        if (poll(pfd, n, 0) < 0)
            die("poll");
        t[i] = now_us() - t0;
    }
    return quantile(t, 9, 0.5);
}

static int
cmd_pollwatch(const char *uri, const char *mnt, int k, const char *mode)
{
    virConnectPtr c = virConnectOpen(uri);
    virDomainPtr *doms = NULL;
    double *call = calloc(k, sizeof(double)), *wake = calloc(k, sizeof(double));
    int use_epoll = strcmp(mode, "epoll") == 0, ep = -1;
    struct pollfd *pfd;
    char path[4096], buf[64];
    int n, nw = 0, timeouts = 0, target = -1;

    raise_nofile();
    if (!c || (n = virConnectListAllDomains(c, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE)) <= 0)
        die_virt("virConnectListAllDomains");
    pfd = calloc(n, sizeof(*pfd));
    if (use_epoll && (ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        die("epoll_create1");
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = { .events = EPOLLPRI | EPOLLERR, .data.u64 = (uint64_t)i };

        snprintf(path, sizeof(path), "%s/%s/state", mnt, virDomainGetName(doms[i]));
        if ((pfd[i].fd = open(path, O_RDONLY)) < 0 || read(pfd[i].fd, buf, sizeof(buf)) <= 0)
            die(path);
        pfd[i].events = POLLPRI | POLLERR;
        if (use_epoll && epoll_ctl(ep, EPOLL_CTL_ADD, pfd[i].fd, &ev) < 0)
            die("epoll_ctl");
        if (target < 0 && strcmp(virDomainGetName(doms[i]), "g00042") == 0)
            target = i;
    }
    if (target < 0)
        target = 0;
    if (use_epoll)
        epoll_until(ep, pfd, (size_t)n, 0);   /* the first pass: every fd polled once */
    for (int i = 0; i < k; i++) {
        double t0 = now_us(), t1;

        if ((i % 2 == 0 ? virDomainSuspend(doms[target]) : virDomainResume(doms[target])) < 0)
            die_virt("suspend/resume");
        t1 = now_us();
        call[i] = t1 - t0;
        if (use_epoll ? epoll_until(ep, pfd, target, 2e6) : poll_until(pfd, n, target, 2e6))
            wake[nw++] = now_us() - t1;
        else
            timeouts++;
        usleep(2000);
    }
    printf("%.1f %.1f %.1f %d %d %.1f\n", quantile(call, k, 0.5), quantile(wake, nw, 0.5),
           quantile(wake, nw, 0.99), timeouts, n, use_epoll ? 0.0 : poll_pass(pfd, n));
    return 0;
}

/* ---- start-up ---- */

static int
cmd_bare_list(const char *uri, int rss)
{
    virConnectPtr c = virConnectOpen(uri);
    virDomainStatsRecordPtr *stats = NULL;
    virDomainPtr *doms = NULL;
    int n, ns;

    if (!c)
        die_virt("virConnectOpen");
    if ((n = virConnectListAllDomains(c, &doms, 0)) < 0)
        die_virt("virConnectListAllDomains");
    if (rss) {
        char line[256];
        FILE *f = fopen("/proc/self/status", "r");

        while (f && fgets(line, sizeof(line), f)) {
            if (strncmp(line, "VmRSS:", 6) == 0)
                printf("%ld\n", strtol(line + 6, NULL, 10));
        }
        if (f)
            fclose(f);
    } else {
        ns = virConnectGetAllDomainStats(c, VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_VCPU |
                                         VIR_DOMAIN_STATS_BALLOON, &stats, 0);
        if (ns < 0)
            die_virt("virConnectGetAllDomainStats");
        virDomainStatsRecordListFree(stats);
    }
    for (int i = 0; i < n; i++)
        virDomainFree(doms[i]);
    free(doms);
    virConnectClose(c);
    return 0;
}

static double
domfs_startup(const char *mnt, const char *uri, const char *domfs, const char *log)
{
    char dot[4096];
    char *argv[] = { (char *)domfs, "-f", "-c", (char *)uri, (char *)mnt, NULL };
    posix_spawn_file_actions_t fa;
    struct statfs sf;
    struct stat st;
    double t0, t1;
    pid_t pid;
    int status;

    snprintf(dot, sizeof(dot), "%s/.domfs", mnt);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    t0 = now_us();
    if (posix_spawn(&pid, domfs, &fa, NULL, argv, environ) != 0)
        die(domfs);
    for (;;) {
        if (statfs(mnt, &sf) == 0 && sf.f_type == FUSE_MAGIC && stat(dot, &st) == 0)
            break;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "bench_tool: domfs exited before mounting (see %s)\n", log);
            exit(1);
        }
        if (now_us() - t0 > 300e6) {
            kill(pid, SIGKILL);
            fprintf(stderr, "bench_tool: domfs did not mount in 300 s\n");
            exit(1);
        }
        usleep(500);
    }
    t1 = now_us();
    posix_spawn_file_actions_destroy(&fa);
    {
        char *um[] = { "fusermount3", "-u", (char *)mnt, NULL };

        run_once(um);
    }
    /* a mount namespace created meanwhile (e.g. a private libvirtd's unshare -m) keeps a
     * copy of the mount, and domfs running: do not wait for it forever */
    for (int i = 0; waitpid(pid, &status, WNOHANG) == 0; i++) {
        if (i == 1000)
            kill(pid, SIGTERM);
        if (i == 1400)
            kill(pid, SIGKILL);
        usleep(10000);
    }
    return t1 - t0;
}

static int
cmd_startup(int rounds, const char *mnt, const char *uri, const char *domfs, const char *log)
{
    double *ta = calloc(rounds, sizeof(double)), *tb = calloc(rounds, sizeof(double));
    char *bare[] = { "/proc/self/exe", "bare-list", (char *)uri, NULL };
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n < 0)
        die("readlink");
    self[n] = 0;
    bare[0] = self;
    for (int i = 0; i < rounds; i++) {
        tb[i] = run_once(bare);
        ta[i] = domfs_startup(mnt, uri, domfs, log);
    }
    printf("%.1f %.1f\n", quantile(ta, rounds, 0.5), quantile(tb, rounds, 0.5));
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        goto usage;
    virSetErrorFunc(NULL, silence);
    if (strcmp(argv[1], "populate") == 0 && argc == 5)
        return cmd_populate(argv[2], argv[3], argv[4]);
    if (strcmp(argv[1], "abexec") == 0 && argc > 3)
        return cmd_abexec(atoi(argv[2]), argv + 3);
    if (strcmp(argv[1], "copy") == 0 && argc == 5)
        return cmd_copy(argv[2], argv[3], argv[4]);
    if (strcmp(argv[1], "loop") == 0 && argc == 5)
        return cmd_loop(atoi(argv[2]), argv[3], argv[4]);
    if (strcmp(argv[1], "agent") == 0 && argc == 6)
        return cmd_agent(atoi(argv[2]), argv[3], argv[4], argv[5]);
    if (strcmp(argv[1], "latency") == 0 && argc == 6)
        return cmd_latency(argv[2], argv[3], argv[4], atoi(argv[5]));
    if (strcmp(argv[1], "startup") == 0 && argc == 7)
        return cmd_startup(atoi(argv[2]), argv[3], argv[4], argv[5], argv[6]);
    if (strcmp(argv[1], "pread") == 0 && argc == 6)
        return cmd_pread(atoi(argv[2]), argv[3], argv[4], argv[5]);
    if (strcmp(argv[1], "pollwatch") == 0 && argc == 6)
        return cmd_pollwatch(argv[2], argv[3], atoi(argv[4]), argv[5]);
    if (strcmp(argv[1], "bare-list") == 0 && (argc == 3 || argc == 4))
        return cmd_bare_list(argv[2], argc == 4 && strcmp(argv[3], "rss") == 0);
 usage:
    fprintf(stderr, "usage: see the comment at the top of tests/bench/bench_tool.c\n");
    return 2;
}
