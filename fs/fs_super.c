/* fs_super.c - the supervisor (the why is in fs_super.h). One poll() loop over a
 * signalfd, the control sockets of at most two children (the one serving and, during an
 * upgrade, the one preparing to) and, while no child serves, the FUSE descriptor
 * (events 0: only POLLERR, the end of the connection). Children are fork + exec of
 * cfg->exe with the descriptors of fs_tkwire.h (the first one, at mount time, a fork that
 * runs cfg->first_child: the supervisor is one thread, so the fork is as clean as an
 * exec); everything the supervisor opens itself is close-on-exec, and the child closes
 * every other descriptor either way.
 *
 * Threads and locks (for doc/threads.md): none. The supervisor is one thread in one
 * poll() loop; signals arrive through the signalfd (SIGCHLD, SIGHUP, SIGTERM, SIGINT are
 * blocked). It holds no lock, no libvirt, no file of the mount. */
#include "fs_super.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fs_istore.h"
#include "fs_takeover.h"
#include "fs_tkwire.h"

#define SUPER_BACKOFF_FIRST_MS 100
#define SUPER_HIGH_FD 16    /* where a child's descriptors wait before dup2 to 3, 4, 5 */

typedef enum {
    CHILD_NONE,
    CHILD_STARTING,      /* spawned, start-up under way */
    CHILD_PREPARED,      /* waiting for GO */
    CHILD_GO,            /* told to serve, not yet serving */
    CHILD_SERVING,
    CHILD_STOPPING,      /* told to hand over */
} SuperChildState;

typedef struct {
    pid_t pid;
    int ctl;
    SuperChildState state;
    gint64 started_ms;
    gint64 ready_ms;
} SuperChild;

typedef struct {
    const SuperConfig *cfg;
    int store_fd;
    int fuse_fd;
    bool conn_dead;
    TakeoverHello hello;
    uint64_t generation;
    SuperChild cur;          /* serving, or about to */
    SuperChild next;         /* an upgrade's child, preparing */
    GHashTable *pollers;     /* kh -> TakeoverPoller */
    int verdict_fd;
    bool first_ready;
    int quick_crashes;
    gint64 respawn_at_ms;    /* -1: none due */
    gint64 stop_deadline_ms;
    bool terminating;
    int status;
    bool done;
    int sigfd;
} Super;

static gint64
super_now_ms(void)
{
    return g_get_monotonic_time() / 1000;
}

static void G_GNUC_PRINTF(3, 4)
super_log(Super *s, int prio, const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (s->cfg->log)
        s->cfg->log(prio, msg);
    /* in the background, the terminal only gets what went wrong before the mount served */
    else if (!s->cfg->foreground && (s->first_ready || prio > LOG_WARNING))
        syslog(prio, "supervisor: %s", msg);
    else
        fprintf(stderr, "domfs: supervisor: %s\n", msg);
}

char *
super_resolve_exe(void)
{
    g_autofree char *p = g_file_read_link("/proc/self/exe", NULL);

    if (!p || !g_path_is_absolute(p) || g_str_has_suffix(p, " (deleted)"))
        return NULL;
    return g_steal_pointer(&p);
}

/* ---- messages ---- */

static int
super_send(int ctl, uint32_t type, uint64_t arg, const void *data, uint32_t len)
{
    TakeoverMsg m = { .type = type, .len = len, .arg = arg };

    if (len)
        memcpy(m.data, data, len);
    if (send(ctl, &m, TAKEOVER_MSG_HDR + len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        return -errno;
    return 0;
}

/* One message, and a passed descriptor in *FD (-1 if none). -EAGAIN, or -EPIPE at EOF. */
static int
super_recv(int ctl, TakeoverMsg *m, int *fd)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = { .iov_base = m, .iov_len = sizeof(*m) };
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
        .msg_controllen = sizeof(cm.buf),
    };
    ssize_t n = recvmsg(ctl, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

    *fd = -1;
    if (n < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    }
    if (n < (ssize_t)TAKEOVER_MSG_HDR || m->len > TAKEOVER_MSG_DATA_MAX ||
        (size_t)n < TAKEOVER_MSG_HDR + m->len) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return -EPIPE;
    }
    return 0;
}

/* ---- children ---- */

/* In the forked child: descriptors to 3, 4, 5 (via high numbers: a source may already
 * sit on a target), default signals, exec (the first child: cfg->first_child). */
static void G_GNUC_NORETURN
super_exec_child(Super *s, int ctl)
{
    int src[3] = { ctl, s->store_fd, s->fuse_fd };
    int tmp[3];
    sigset_t none;

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);    /* an ignored signal would stay ignored across exec */
    for (int i = 0; i < 3; i++)
        tmp[i] = src[i] >= 0 ? fcntl(src[i], F_DUPFD_CLOEXEC, SUPER_HIGH_FD) : -1;
    for (int i = 0; i < 3; i++) {
        if (tmp[i] >= 0)
            dup2(tmp[i], TAKEOVER_FD_CTL + i);
        else
            close(TAKEOVER_FD_CTL + i);
    }
    /* nothing else the supervisor inherited (a test harness's pipes, ...) */
    close_range(TAKEOVER_FD_FUSE + 1, ~0u, 0);
    setenv(TAKEOVER_ENV, "1", 1);
    if (s->generation == 1 && s->cfg->first_child) {
        int ret = s->cfg->first_child(s->cfg->first_child_opaque);

        fflush(NULL);
        _exit(ret);
    }
    execv(s->cfg->exe, s->cfg->argv);
    fprintf(stderr, "domfs: supervisor: cannot run %s: %s\n", s->cfg->exe, strerror(errno));
    _exit(127);
}

static int
super_spawn(Super *s, SuperChild *c, uint32_t flags)
{
    int sv[2];
    TakeoverHello h = s->hello;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    s->generation++;
    pid = fork();
    if (pid < 0) {
        close(sv[0]);
        close(sv[1]);
        return -errno;
    }
    if (pid == 0) {
        close(sv[0]);
        super_exec_child(s, sv[1]);
    }
    close(sv[1]);
    *c = (SuperChild){ .pid = pid, .ctl = sv[0], .state = CHILD_STARTING,
                       .started_ms = super_now_ms() };
    h.proto = TAKEOVER_PROTO;
    h.flags = flags | (s->cfg->foreground ? TK_HELLO_FOREGROUND : 0);
    super_send(c->ctl, TK_MSG_HELLO, s->generation, &h, sizeof(h));
    super_log(s, LOG_INFO, "started server %d (generation %" G_GUINT64_FORMAT "%s)", pid,
              s->generation, flags & TK_HELLO_FAIL_RESENT ? ", resent requests fail" : "");
    return 0;
}

static void
super_child_clear(SuperChild *c)
{
    if (c->ctl >= 0)
        close(c->ctl);
    *c = (SuperChild){ .ctl = -1, .state = CHILD_NONE };
}

static void
super_poller_add(Super *s, const TakeoverMsg *m)
{
    TakeoverPoller p;
    gint64 *key;

    if (m->len != sizeof(p) || g_hash_table_size(s->pollers) >= TAKEOVER_POLLERS_MAX)
        return;
    memcpy(&p, m->data, sizeof(p));
    key = g_new(gint64, 1);
    *key = (gint64)p.kh;
    g_hash_table_replace(s->pollers, key, g_memdup2(&p, sizeof(p)));
}

/* GO, after the files polled with a wakeup pending: the new server wakes them. */
static void
super_send_go(Super *s, SuperChild *c)
{
    TakeoverPoller batch[TAKEOVER_POLLERS_PER_MSG];
    GHashTableIter it;
    gpointer v;
    guint n = 0;

    g_hash_table_iter_init(&it, s->pollers);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        memcpy(&batch[n++], v, sizeof(batch[0]));
        if (n == TAKEOVER_POLLERS_PER_MSG) {
            super_send(c->ctl, TK_MSG_POLLERS, n, batch, n * sizeof(batch[0]));
            n = 0;
        }
    }
    if (n)
        super_send(c->ctl, TK_MSG_POLLERS, n, batch, n * sizeof(batch[0]));
    if (super_send(c->ctl, TK_MSG_GO, 0, NULL, 0) == 0)
        c->state = CHILD_GO;
}

/* The serving child is gone (handed over or dead): the upgrade's child takes its place. */
static void
super_promote_next(Super *s)
{
    super_child_clear(&s->cur);
    if (s->next.state == CHILD_NONE)
        return;
    s->cur = s->next;
    s->next = (SuperChild){ .ctl = -1, .state = CHILD_NONE };
    if (s->cur.state == CHILD_PREPARED)
        super_send_go(s, &s->cur);
}

/* ---- the end ---- */

/* Is the FUSE connection still there? (POLLERR once it was unmounted or aborted) */
static bool
super_conn_alive(Super *s)
{
    struct pollfd p = { .fd = s->fuse_fd, .events = 0 };

    if (s->fuse_fd < 0 || s->conn_dead)
        return false;
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP)))
        s->conn_dead = true;
    return !s->conn_dead;
}

/* Detach the mount: only while the connection lives, so that nothing else mounted on
 * the same path since is touched. */
static void
super_unmount(Super *s)
{
    pid_t pid;

    if (!s->cfg->mountpoint || !super_conn_alive(s))
        return;
    if (umount2(s->cfg->mountpoint, MNT_DETACH) == 0)
        return;
    pid = fork();
    if (pid == 0) {
        execlp("fusermount3", "fusermount3", "-u", "-q", "-z", "--", s->cfg->mountpoint,
               (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}

static void
super_verdict(Super *s, char status)
{
    if (s->verdict_fd < 0)
        return;
    if (write(s->verdict_fd, &status, 1) != 1)
        super_log(s, LOG_WARNING, "cannot report start-up to the calling process");
    close(s->verdict_fd);
    s->verdict_fd = -1;
}

static void
super_finish(Super *s, int status)
{
    if (s->next.pid > 0)
        kill(s->next.pid, SIGKILL);
    s->status = status;
    s->done = true;
}

/* ---- events ---- */

static void
super_on_first_ready(Super *s)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);

    s->first_ready = true;
    super_verdict(s, 0);
    /* from now on the supervisor pins no directory, and in the background children get
     * no terminal */
    if (null >= 0 && !s->cfg->foreground) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
    }
    if (null >= 0)
        close(null);
    if (chdir("/") < 0)
        super_log(s, LOG_WARNING, "chdir /: %s", strerror(errno));
}

static void
super_on_prepared(Super *s, SuperChild *c)
{
    c->state = CHILD_PREPARED;
    if (c == &s->cur) {
        super_send_go(s, c);
        return;
    }
    /* an upgrade: the new child is ready to take over; stop the old one */
    if (s->cur.state == CHILD_NONE) {
        super_promote_next(s);
        return;
    }
    if (s->cur.state != CHILD_STOPPING) {
        super_log(s, LOG_INFO, "upgrade: server %d is ready to take over; stopping %d",
                  c->pid, s->cur.pid);
        super_send(s->cur.ctl, TK_MSG_STOP, 0, NULL, 0);
        s->cur.state = CHILD_STOPPING;
        s->stop_deadline_ms = super_now_ms() + TAKEOVER_DRAIN_MS + SUPER_STOP_GRACE_MS;
    }
}

/* The first server's FUSE_INIT and its reply, for every later server. */
static void
super_take_init(Super *s, const TakeoverMsg *m)
{
    TakeoverHello h = { 0 };

    memcpy(&h, m->data, MIN((size_t)m->len, sizeof(h)));
    if (h.init_len > TAKEOVER_INIT_MAX || h.reply_len > TAKEOVER_INIT_MAX)
        return;
    memcpy(s->hello.init, h.init, h.init_len);
    memcpy(s->hello.reply, h.reply, h.reply_len);
    s->hello.init_len = h.init_len;
    s->hello.reply_len = h.reply_len;
}

static void
super_on_msg(Super *s, SuperChild *c, const TakeoverMsg *m, int fd)
{
    switch (m->type) {
    case TK_MSG_FD:
        if (fd >= 0 && s->fuse_fd < 0) {
            s->fuse_fd = fd;
            fd = -1;
        }
        break;
    case TK_MSG_INIT:
        super_take_init(s, m);
        break;
    case TK_MSG_POLL_ADD:
        super_poller_add(s, m);
        break;
    case TK_MSG_POLL_DEL:
        g_hash_table_remove(s->pollers, &(gint64){ (gint64)m->arg });
        break;
    case TK_MSG_PREPARED:
        super_on_prepared(s, c);
        break;
    case TK_MSG_READY:
        c->state = CHILD_SERVING;
        c->ready_ms = super_now_ms();
        if (!s->first_ready)
            super_on_first_ready(s);
        break;
    case TK_MSG_STOPPED:
        if (c == &s->cur && s->cur.state == CHILD_STOPPING) {
            if (m->arg)
                super_log(s, LOG_WARNING, "server %d handed over with %" G_GUINT64_FORMAT
                          " request(s) still running: they run again", c->pid,
                          (guint64)m->arg);
            super_promote_next(s);   /* the old process exits by itself: reaped later */
            if (s->cur.state == CHILD_NONE)
                s->respawn_at_ms = super_now_ms();   /* its successor died meanwhile */
        }
        break;
    default:
        break;
    }
    if (fd >= 0)
        close(fd);
}

static void
super_read_ctl(Super *s, SuperChild *c)
{
    TakeoverMsg m;
    int fd;
    int ret;

    while (c->ctl >= 0 && (ret = super_recv(c->ctl, &m, &fd)) == 0)
        super_on_msg(s, c, &m, fd);
    if (c->ctl >= 0 && ret == -EPIPE) {
        close(c->ctl);       /* the child closed it: only its exit is left to see */
        c->ctl = -1;
    }
}

static void
super_schedule_respawn(Super *s, const SuperChild *dead)
{
    gint64 now = super_now_ms();
    bool quick = dead->state != CHILD_SERVING || now - dead->ready_ms < SUPER_STABLE_MS;
    gint64 delay = 0;

    s->quick_crashes = quick ? s->quick_crashes + 1 : 0;
    if (s->quick_crashes >= SUPER_QUICK_CRASH_LIMIT) {
        super_log(s, LOG_ERR, "%d crashes in a row, each within %d ms: giving up, "
                  "unmounting", s->quick_crashes, SUPER_STABLE_MS);
        super_unmount(s);
        super_finish(s, 1);
        return;
    }
    if (s->quick_crashes > 0)
        delay = MIN((gint64)SUPER_BACKOFF_FIRST_MS << (s->quick_crashes - 1),
                    SUPER_BACKOFF_MAX_MS);
    s->respawn_at_ms = now + delay;
}

static int
super_exit_status(int wstatus)
{
    return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
}

static void
super_on_cur_exit(Super *s, int wstatus)
{
    SuperChild dead = s->cur;
    bool handed_over = dead.state == CHILD_STOPPING;
    int status = super_exit_status(wstatus);

    super_promote_next(s);
    if (s->cur.state != CHILD_NONE)
        return;                         /* an upgrade's child takes the connection on */
    if (!s->first_ready) {
        super_log(s, LOG_ERR, "the server exited before serving (status %d)", status);
        super_unmount(s);
        super_verdict(s, status ? (char)MIN(status, 125) : 1);
        super_finish(s, status ? status : 1);
    } else if (s->terminating || !super_conn_alive(s)) {
        if (s->terminating)
            super_unmount(s);           /* in case the child died before unmounting */
        /* the child's own status: a sanitizer's report at its exit must not vanish */
        super_finish(s, s->terminating && WIFSIGNALED(wstatus) &&
                        WTERMSIG(wstatus) == SIGTERM ? 0 : status);
    } else if (handed_over) {
        s->respawn_at_ms = super_now_ms();   /* its successor died: start another */
    } else if (WIFEXITED(wstatus) && status == 0) {
        super_finish(s, 0);             /* an orderly stop */
    } else {
        super_log(s, LOG_WARNING, "server %d %s %d: taking its connection over", dead.pid,
                  WIFSIGNALED(wstatus) ? "killed by signal" : "exited with status",
                  WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : status);
        super_schedule_respawn(s, &dead);
    }
}

static void
super_reap(Super *s)
{
    int wstatus;
    pid_t pid;

    while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
        if (pid == s->cur.pid) {
            super_on_cur_exit(s, wstatus);
        } else if (pid == s->next.pid) {
            super_log(s, LOG_ERR, "upgrade failed: the new server exited (status %d) "
                      "before taking over; the old one serves on",
                      super_exit_status(wstatus));
            super_child_clear(&s->next);
        }
    }
}

static void
super_upgrade(Super *s)
{
    if (s->next.state != CHILD_NONE || s->cur.state != CHILD_SERVING) {
        super_log(s, LOG_WARNING, "SIGHUP ignored: %s",
                  s->next.state != CHILD_NONE ? "an upgrade is under way"
                                              : "no server is serving right now");
        return;
    }
    super_log(s, LOG_INFO, "SIGHUP: upgrading in place to %s", s->cfg->exe);
    if (super_spawn(s, &s->next, 0) < 0)
        super_log(s, LOG_ERR, "upgrade: cannot start %s: %s", s->cfg->exe, strerror(errno));
}

static void
super_on_signal(Super *s)
{
    struct signalfd_siginfo si;

    while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGCHLD) {
            super_reap(s);
        } else if (si.ssi_signo == SIGHUP) {
            super_upgrade(s);
        } else {
            s->terminating = true;
            if (s->next.pid > 0)
                kill(s->next.pid, SIGKILL);
            if (s->cur.pid > 0)
                kill(s->cur.pid, SIGTERM);
            else
                super_finish(s, 0);
        }
    }
}

static void
super_on_timers(Super *s)
{
    gint64 now = super_now_ms();

    if (s->respawn_at_ms >= 0 && now >= s->respawn_at_ms && s->cur.state == CHILD_NONE) {
        uint32_t flags = s->quick_crashes >= SUPER_FAIL_RESENT_AT ? TK_HELLO_FAIL_RESENT : 0;

        s->respawn_at_ms = -1;
        if (super_spawn(s, &s->cur, flags) < 0) {
            super_log(s, LOG_ERR, "cannot start a server: %s", strerror(errno));
            s->respawn_at_ms = now + SUPER_BACKOFF_MAX_MS;
        }
    }
    if (s->cur.state == CHILD_STOPPING && now >= s->stop_deadline_ms) {
        super_log(s, LOG_WARNING, "server %d did not hand over in time: killed", s->cur.pid);
        kill(s->cur.pid, SIGKILL);
        s->stop_deadline_ms = G_MAXINT64;
    }
    if (s->next.state == CHILD_STARTING && now - s->next.started_ms > SUPER_PREPARE_MAX_MS) {
        super_log(s, LOG_ERR, "upgrade: the new server did not start in %d s: killed",
                  SUPER_PREPARE_MAX_MS / 1000);
        kill(s->next.pid, SIGKILL);
        s->next.started_ms = G_MAXINT64 / 2;
    }
}

static int
super_timeout(Super *s)
{
    gint64 now = super_now_ms();
    gint64 t = G_MAXINT64;

    if (s->respawn_at_ms >= 0)
        t = MIN(t, s->respawn_at_ms);
    if (s->cur.state == CHILD_STOPPING)
        t = MIN(t, s->stop_deadline_ms);
    if (s->next.state == CHILD_STARTING)
        t = MIN(t, s->next.started_ms + SUPER_PREPARE_MAX_MS);
    if (t == G_MAXINT64)
        return -1;
    return (int)CLAMP(t - now, 0, 60000);
}

static void
super_poll_once(Super *s)
{
    struct pollfd p[4] = {
        { .fd = s->sigfd, .events = POLLIN },
        { .fd = s->cur.ctl, .events = POLLIN },
        { .fd = s->next.ctl, .events = POLLIN },
        /* the end of the connection, watched only while no child serves it: a poll()
         * of /dev/fuse is woken by every request the kernel queues (a context switch
         * here per request); a serving child sees the end itself (ENODEV) and exits */
        { .fd = s->conn_dead || s->cur.state == CHILD_SERVING ? -1 : s->fuse_fd,
          .events = 0 },
    };

    if (poll(p, 4, super_timeout(s)) < 0 && errno != EINTR) {
        super_log(s, LOG_ERR, "poll: %s", strerror(errno));
        super_finish(s, 1);
        return;
    }
    if (p[1].revents)
        super_read_ctl(s, &s->cur);
    if (p[2].revents)
        super_read_ctl(s, &s->next);
    if (p[3].revents & (POLLERR | POLLHUP)) {
        s->conn_dead = true;     /* unmounted: the serving child ends by itself */
        if (s->cur.state == CHILD_NONE)
            super_finish(s, 0);
    }
    if (p[0].revents)
        super_on_signal(s);
    if (!s->done)
        super_on_timers(s);
}

static int
super_setup(Super *s, const SuperConfig *cfg, int verdict_fd)
{
    sigset_t set;

    *s = (Super){
        .cfg = cfg, .fuse_fd = -1, .verdict_fd = verdict_fd, .respawn_at_ms = -1,
        .cur = { .ctl = -1 }, .next = { .ctl = -1 },
    };
    s->pollers = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    s->store_fd = istore_create(cfg->store_region_bytes);
    if (s->sigfd < 0 || s->store_fd < 0) {
        super_log(s, LOG_ERR, "cannot set up: %s",
                  strerror(s->sigfd < 0 ? errno : -s->store_fd));
        return -1;
    }
    return 0;
}

int
super_run(const SuperConfig *cfg, int verdict_fd)
{
    Super s;

    if (super_setup(&s, cfg, verdict_fd) < 0 || super_spawn(&s, &s.cur, 0) < 0) {
        super_verdict(&s, 1);
        g_hash_table_destroy(s.pollers);
        return 1;
    }
    while (!s.done)
        super_poll_once(&s);
    super_log(&s, LOG_INFO, "exiting (status %d)", s.status);
    super_verdict(&s, (char)(s.status ? s.status : 1));
    super_child_clear(&s.cur);
    super_child_clear(&s.next);
    if (s.fuse_fd >= 0)
        close(s.fuse_fd);
    close(s.store_fd);
    close(s.sigfd);
    g_hash_table_destroy(s.pollers);
    return s.status;
}

int
super_daemonize(const SuperConfig *cfg)
{
    int fds[2];
    pid_t pid;
    char status = 1;

    if (pipe2(fds, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid < 0)
        return -errno;
    if (pid > 0) {
        close(fds[1]);
        if (read(fds[0], &status, 1) != 1)
            status = 1;
        _exit(status);
    }
    close(fds[0]);
    setsid();
    /* descriptors the shell or a test harness left open must not reach the children */
    if (fds[1] > 3)
        close_range(3, fds[1] - 1, 0);
    close_range(fds[1] + 1, ~0u, 0);
    if (!cfg->log)
        openlog("domfs", LOG_PID, LOG_DAEMON);
    _exit(super_run(cfg, fds[1]));
}
