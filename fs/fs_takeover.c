/* fs_takeover.c - the serving process's side of crash survival and upgrade (the why is
 * in fs_takeover.h). Every read of /dev/fuse goes through takeover_io_read, every reply
 * through takeover_io_writev: that is where FUSE_INIT and its reply are captured for the
 * supervisor, where a replayed INIT's reply is kept from the kernel, where the requests
 * in flight are counted for a handover, and where a handover stops the readers.
 *
 * Threads and locks (for doc/threads.md):
 *  - libfuse's workers read /dev/fuse through takeover_io_read; each takes a slot in
 *    takeover_readers (lock-free states) so that a handover can signal (SIGRTMIN+7) the
 *    ones blocked in read(2); at a handover they retire there (pause() until _exit).
 *  - "takeover-ctl" (takeover_ready): reads the control socket; on STOP it is the
 *    handover thread: stops the readers, waits for the answers in flight (at most
 *    TAKEOVER_DRAIN_MS; parked ones excepted), calls the stop function (domfs: main.c
 *    marks the store "handed over"), tells the supervisor and _exit(0)s.
 *  - Takeover.lock guards the parked set and the polled set; a leaf (taken inside a
 *    worker's read or reply, never around a call that could take another lock);
 *    in_flight and n_parked are atomics outside it.
 *  - domfs's own users of the store (fs_inode.c under ino_lock, fs_file.c under
 *    fs_files_lock or an FsFile's state_lock) take the store's lock inside theirs; the
 *    store (fs_istore.c) takes no other lock and calls nobody back. */
#include "fs_takeover.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_tkwire.h"

/* The parts of the kernel's FUSE ABI used here (include/uapi/linux/fuse.h; Debian 12's
 * copy is 7.38 and predates FUSE_NOTIFY_RESEND, 7.40). */
#define TK_FUSE_INIT 26
#define TK_FUSE_FORGET 2
#define TK_FUSE_INTERRUPT 36
#define TK_FUSE_NOTIFY_REPLY 41
#define TK_FUSE_BATCH_FORGET 42
#define TK_FUSE_POLL 40
#define TK_FUSE_RELEASE 18
#define TK_FUSE_POLL_SCHEDULE_NOTIFY 1u
#define TK_FUSE_NOTIFY_POLL 1
#define TK_FUSE_NOTIFY_RESEND 7
#define TK_FUSE_INIT_EXT (1u << 30)
#define TK_FUSE_HAS_RESEND_FLAGS2 (1u << (39 - 32))
#define TK_FUSE_UNIQUE_RESEND (1ull << 63)

typedef struct {
    uint32_t len;
    uint32_t opcode;
    uint64_t unique;
    uint64_t nodeid;
    uint32_t uid;
    uint32_t gid;
    uint32_t pid;
    uint16_t total_extlen;
    uint16_t padding;
} TkInHeader;

typedef struct {
    uint32_t len;
    int32_t error;
    uint64_t unique;
} TkOutHeader;

typedef struct {
    uint32_t major;
    uint32_t minor;
    uint32_t max_readahead;
    uint32_t flags;
    uint32_t flags2;
} TkInitIn;

typedef struct {
    uint32_t major;
    uint32_t minor;
    uint32_t max_readahead;
    uint32_t flags;
    uint16_t max_background;
    uint16_t congestion_threshold;
    uint32_t max_write;
    uint32_t time_gran;
    uint16_t max_pages;
    uint16_t map_alignment;
    uint32_t flags2;
} TkInitOut;

typedef struct {
    uint64_t fh;
    uint64_t kh;
    uint32_t flags;
    uint32_t events;
} TkPollIn;

struct Takeover {
    int ctl;
    int store_fd;
    int fuse_fd;               /* -1 until inherited or adopted */
    uint64_t generation;
    TakeoverHello hello;       /* from the supervisor; init/reply updated when captured */
    struct fuse_session *se;
    bool mounted_here;         /* this process mounted (libfuse knows the mount point) */
    /* FUSE_INIT capture (a fresh connection) or replay (a taken-over one) */
    bool capture_init;
    bool swallow_init;
    uint64_t init_unique;
    unsigned char new_reply[TAKEOVER_INIT_MAX];
    size_t new_reply_len;
    /* requests in flight, for a handover: counted without a lock (every request pays
     * for it), the rare parked ones in a set */
    GMutex lock;
    gint64 in_flight;          /* read, not yet answered (atomic) */
    gint n_parked;             /* of those, parked (atomic) */
    GHashTable *parked;        /* unique (boxed) of the parked ones */
    guint64 failed_resent;
    GHashTable *polled;        /* fh -> kh: open files polled for a wakeup */
    gint stopping;
    GThread *ctl_thread;
    TakeoverStopFn stop_fn;
    void *stop_opaque;
};

#define TAKEOVER_READERS_MAX 256   /* threads reading /dev/fuse (domfs: at most 64) */
#define TAKEOVER_WAKE_SIGNAL (SIGRTMIN + 7)
#define TAKEOVER_KICK_US 1000
#define TAKEOVER_DRAIN_POLL_US 1000

/* libfuse gives custom I/O the file system's userdata, not ours: one Takeover a process */
static Takeover *takeover_self;
static _Thread_local uint64_t takeover_cur_unique;
static _Thread_local bool takeover_cur_resent;

/* ---- control socket ---- */

static int
takeover_send(Takeover *tk, uint32_t type, uint64_t arg, const void *data, uint32_t len,
              int pass_fd)
{
    TakeoverMsg m = { .type = type, .len = len, .arg = arg };
    struct iovec iov = { .iov_base = &m, .iov_len = TAKEOVER_MSG_HDR + len };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

    if (len > TAKEOVER_MSG_DATA_MAX)
        return -EINVAL;
    if (len)
        memcpy(m.data, data, len);
    if (pass_fd >= 0) {
        memset(&cm, 0, sizeof(cm));
        mh.msg_control = cm.buf;
        mh.msg_controllen = sizeof(cm.buf);
        cm.h.cmsg_level = SOL_SOCKET;
        cm.h.cmsg_type = SCM_RIGHTS;
        cm.h.cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(&cm.h), &pass_fd, sizeof(int));
    }
    while (sendmsg(tk->ctl, &mh, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* One message; -EPIPE when the supervisor is gone. */
static int
takeover_recv(Takeover *tk, TakeoverMsg *m)
{
    ssize_t n;

    do {
        n = recv(tk->ctl, m, sizeof(*m), 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n < (ssize_t)TAKEOVER_MSG_HDR || m->len > TAKEOVER_MSG_DATA_MAX ||
        (size_t)n < TAKEOVER_MSG_HDR + m->len)
        return -EPIPE;
    return 0;
}

/* ---- attach ---- */

static bool
takeover_fd_valid(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void
takeover_cloexec(int fd)
{
    int fl = fcntl(fd, F_GETFD);

    if (fl >= 0)
        fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
}

Takeover *
takeover_attach(void)
{
    Takeover *tk;
    TakeoverMsg m;
    const char *env = getenv(TAKEOVER_ENV);

    if (!env)
        return NULL;
    unsetenv(TAKEOVER_ENV);   /* not for the processes the daemon starts (ssh, ...) */
    if (!takeover_fd_valid(TAKEOVER_FD_CTL) || !takeover_fd_valid(TAKEOVER_FD_STORE)) {
        g_warning("takeover: started by a supervisor without its descriptors");
        return NULL;
    }
    tk = g_new0(Takeover, 1);
    tk->ctl = TAKEOVER_FD_CTL;
    tk->store_fd = TAKEOVER_FD_STORE;
    tk->fuse_fd = takeover_fd_valid(TAKEOVER_FD_FUSE) ? TAKEOVER_FD_FUSE : -1;
    takeover_cloexec(tk->ctl);
    takeover_cloexec(tk->store_fd);
    if (tk->fuse_fd >= 0)
        takeover_cloexec(tk->fuse_fd);
    g_mutex_init(&tk->lock);
    tk->parked = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    if (takeover_recv(tk, &m) < 0 || m.type != TK_MSG_HELLO ||
        m.len < offsetof(TakeoverHello, init)) {
        g_warning("takeover: no hello from the supervisor");
        exit(1);
    }
    memcpy(&tk->hello, m.data, MIN((size_t)m.len, sizeof(tk->hello)));
    if (tk->hello.proto != TAKEOVER_PROTO || tk->hello.init_len > TAKEOVER_INIT_MAX ||
        tk->hello.reply_len > TAKEOVER_INIT_MAX) {
        g_warning("takeover: the supervisor speaks protocol %u, this binary %u: restart "
                  "the service to upgrade the supervisor too", tk->hello.proto, TAKEOVER_PROTO);
        exit(TAKEOVER_EXIT_CONFIG);
    }
    tk->generation = m.arg;
    tk->polled = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    takeover_self = tk;
    return tk;
}

uint64_t
takeover_generation(const Takeover *tk)
{
    return tk ? tk->generation : 0;
}

bool
takeover_foreground(const Takeover *tk)
{
    return tk && (tk->hello.flags & TK_HELLO_FOREGROUND);
}

bool
takeover_has_connection(const Takeover *tk)
{
    return tk && tk->fuse_fd >= 0;
}

int
takeover_store_fd(const Takeover *tk)
{
    return tk ? tk->store_fd : -1;
}

static void
takeover_polled_set(Takeover *tk, uint64_t fh, uint64_t kh)
{
    gint64 *key = g_new(gint64, 1);

    *key = (gint64)fh;
    g_hash_table_replace(tk->polled, key, g_memdup2(&kh, sizeof(kh)));
}

static void
takeover_take_pollers(Takeover *tk, const TakeoverMsg *m)
{
    TakeoverPoller p;

    for (uint32_t off = 0; off + sizeof(p) <= m->len; off += sizeof(p)) {
        memcpy(&p, m->data + off, sizeof(p));
        takeover_polled_set(tk, p.fh, p.kh);
    }
}

int
takeover_wait_turn(Takeover *tk)
{
    TakeoverMsg m;
    int ret;

    if (!tk)
        return 0;
    if ((ret = takeover_send(tk, TK_MSG_PREPARED, 0, NULL, 0, -1)) < 0)
        return ret;
    for (;;) {
        if ((ret = takeover_recv(tk, &m)) < 0)
            return -EPIPE;
        if (m.type == TK_MSG_POLLERS)
            takeover_take_pollers(tk, &m);
        if (m.type == TK_MSG_GO)
            return 0;
        if (m.type == TK_MSG_STOP)
            return -EPIPE;    /* the upgrade was called off */
    }
}

/* ---- requests in flight ---- */

static bool
takeover_tracked(uint32_t opcode)
{
    /* requests that get no reply */
    return opcode != TK_FUSE_FORGET && opcode != TK_FUSE_BATCH_FORGET &&
           opcode != TK_FUSE_INTERRUPT && opcode != TK_FUSE_NOTIFY_REPLY;
}

static void
takeover_flight_add(Takeover *tk)
{
    __atomic_add_fetch(&tk->in_flight, 1, __ATOMIC_SEQ_CST);
}

static void
takeover_flight_done(Takeover *tk, uint64_t unique)
{
    gint64 key = (gint64)unique;

    /* an odd unique is the reply to a FUSE_INTERRUPT (FUSE_INT_REQ_BIT), not counted */
    if (unique & 1)
        return;
    __atomic_sub_fetch(&tk->in_flight, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&tk->n_parked, __ATOMIC_SEQ_CST) == 0)
        return;
    g_mutex_lock(&tk->lock);
    if (g_hash_table_remove(tk->parked, &key))
        __atomic_sub_fetch(&tk->n_parked, 1, __ATOMIC_SEQ_CST);
    g_mutex_unlock(&tk->lock);
}

void
takeover_park_current(void)
{
    Takeover *tk = takeover_self;
    gint64 *key;

    if (!tk || !takeover_cur_unique)
        return;
    key = g_new(gint64, 1);
    *key = (gint64)takeover_cur_unique;
    g_mutex_lock(&tk->lock);
    if (!g_hash_table_contains(tk->parked, key)) {
        g_hash_table_add(tk->parked, key);
        __atomic_add_fetch(&tk->n_parked, 1, __ATOMIC_SEQ_CST);
        key = NULL;
    }
    g_mutex_unlock(&tk->lock);
    g_free(key);
}

bool
takeover_current_resent(void)
{
    return takeover_cur_resent;
}

/* ---- custom I/O ---- */

static void
takeover_reply_err(int fd, uint64_t unique, int err)
{
    TkOutHeader oh = { .len = sizeof(oh), .error = -err, .unique = unique };

    if (write(fd, &oh, sizeof(oh)) < 0)
        g_debug("takeover: reply to %" G_GUINT64_FORMAT ": %s", unique, g_strerror(errno));
}

/* A poll that asks for a wakeup, and the release of a polled file: the supervisor keeps
 * the set, so that the next server can wake every poller this one leaves waiting. */
static void
takeover_note_poll(Takeover *tk, const void *buf, size_t len)
{
    TakeoverPoller p;
    TkPollIn in;
    bool tell;

    if (len < sizeof(TkInHeader) + sizeof(in))
        return;
    memcpy(&in, (const char *)buf + sizeof(TkInHeader), sizeof(in));
    if (!(in.flags & TK_FUSE_POLL_SCHEDULE_NOTIFY))
        return;
    g_mutex_lock(&tk->lock);
    tell = !g_hash_table_contains(tk->polled, &(gint64){ (gint64)in.fh });
    if (tell)
        takeover_polled_set(tk, in.fh, in.kh);
    g_mutex_unlock(&tk->lock);
    p = (TakeoverPoller){ .kh = in.kh, .fh = in.fh };
    if (tell)
        takeover_send(tk, TK_MSG_POLL_ADD, 0, &p, sizeof(p), -1);
}

static void
takeover_note_release(Takeover *tk, const void *buf, size_t len)
{
    uint64_t fh, kh = 0;
    gint64 key;
    uint64_t *v;

    if (len < sizeof(TkInHeader) + sizeof(fh))
        return;
    memcpy(&fh, (const char *)buf + sizeof(TkInHeader), sizeof(fh));
    key = (gint64)fh;
    g_mutex_lock(&tk->lock);
    v = g_hash_table_lookup(tk->polled, &key);
    if (v) {
        kh = *v;
        g_hash_table_remove(tk->polled, &key);
    }
    g_mutex_unlock(&tk->lock);
    if (v)
        takeover_send(tk, TK_MSG_POLL_DEL, kh, NULL, 0, -1);
}

/* A request just read: note it; false when it was answered here instead (a resent
 * request under TK_HELLO_FAIL_RESENT). */
static bool
takeover_note_request(Takeover *tk, int fd, const void *buf, size_t len)
{
    TkInHeader ih;
    bool tracked;

    takeover_cur_unique = 0;
    takeover_cur_resent = false;
    if (len < sizeof(ih))
        return true;
    memcpy(&ih, buf, sizeof(ih));
    if (tk->capture_init && ih.opcode == TK_FUSE_INIT) {
        tk->init_unique = ih.unique;
        tk->hello.init_len = MIN(len, (size_t)TAKEOVER_INIT_MAX);
        memcpy(tk->hello.init, buf, tk->hello.init_len);
    } else if (ih.opcode == TK_FUSE_POLL) {
        takeover_note_poll(tk, buf, len);
    } else if (ih.opcode == TK_FUSE_RELEASE) {
        takeover_note_release(tk, buf, len);
    }
    tracked = takeover_tracked(ih.opcode);
    if (tracked && (ih.unique & TK_FUSE_UNIQUE_RESEND) && ih.opcode != TK_FUSE_INIT &&
        (tk->hello.flags & TK_HELLO_FAIL_RESENT)) {
        takeover_reply_err(fd, ih.unique, EIO);
        if (__atomic_add_fetch(&tk->failed_resent, 1, __ATOMIC_SEQ_CST) == 1)
            g_warning("takeover: the last servers crashed one after the other: requests "
                      "sent again after a crash get EIO (one may be what crashed them)");
        return false;
    }
    if (!tracked)
        return true;
    takeover_flight_add(tk);
    takeover_cur_unique = ih.unique;
    takeover_cur_resent = (ih.unique & TK_FUSE_UNIQUE_RESEND) != 0;
    return true;
}

/* The threads inside read(2) of /dev/fuse. A blocking read wakes one thread per request
 * (a poll()ing crowd would all wake); a handover must still get every reader out, so
 * that none reads after it said STOPPED (a request read then would wait for a RESEND
 * that already happened): it signals the threads in read until there is none. */
enum { TK_READER_FREE, TK_READER_IDLE, TK_READER_READING };

typedef struct {
    int state;
    pid_t tid;
} TkReader;

static TkReader takeover_readers[TAKEOVER_READERS_MAX];
static _Thread_local int takeover_slot = -1;
static pthread_key_t takeover_slot_key;

static void
takeover_wake_handler(int sig)
{
    (void)sig;   /* only there to interrupt read(2) */
}

static void
takeover_slot_release(void *p)
{
    int slot = (int)(intptr_t)p - 1;

    __atomic_store_n(&takeover_readers[slot].state, TK_READER_FREE, __ATOMIC_SEQ_CST);
}

/* This thread's slot (-1 if all are taken: it cannot be woken, see takeover_handover);
 * libfuse starts its workers with every signal blocked: this one is let through. */
static int
takeover_reader_slot(void)
{
    sigset_t set;

    if (takeover_slot >= 0)
        return takeover_slot;
    for (int i = 0; i < TAKEOVER_READERS_MAX; i++) {
        int free_state = TK_READER_FREE;

        if (__atomic_compare_exchange_n(&takeover_readers[i].state, &free_state,
                                        TK_READER_IDLE, false, __ATOMIC_SEQ_CST,
                                        __ATOMIC_SEQ_CST)) {
            takeover_readers[i].tid = (pid_t)syscall(SYS_gettid);
            takeover_slot = i;
            pthread_setspecific(takeover_slot_key, (void *)(intptr_t)(i + 1));
            sigemptyset(&set);
            sigaddset(&set, TAKEOVER_WAKE_SIGNAL);
            pthread_sigmask(SIG_UNBLOCK, &set, NULL);
            return i;
        }
    }
    return -1;
}

static void
takeover_reader_state(int slot, int state)
{
    if (slot >= 0)
        __atomic_store_n(&takeover_readers[slot].state, state, __ATOMIC_SEQ_CST);
}

/* Signal every thread inside read(2); returns how many there were. */
static int
takeover_readers_kick(void)
{
    pid_t pid = getpid();
    int n = 0;

    for (int i = 0; i < TAKEOVER_READERS_MAX; i++) {
        if (__atomic_load_n(&takeover_readers[i].state, __ATOMIC_SEQ_CST) != TK_READER_READING)
            continue;
        syscall(SYS_tgkill, pid, takeover_readers[i].tid, TAKEOVER_WAKE_SIGNAL);
        n++;
    }
    return n;
}

/* A reader of a server that hands over stays here until the process ends. It does not
 * return to libfuse: an ended session would make libfuse's other workers drop requests
 * they had just read (fuse_loop_mt's exit flag), which then wait for the drain's
 * deadline. */
static void G_GNUC_NORETURN
takeover_reader_retire(int slot)
{
    takeover_reader_state(slot, TK_READER_IDLE);
    for (;;)
        pause();
}

static ssize_t
takeover_io_read(int fd, void *buf, size_t len, void *userdata)
{
    Takeover *tk = takeover_self;
    int slot = takeover_reader_slot();

    for (;;) {
        ssize_t n;
        bool keep;
        int err;

        takeover_reader_state(slot, TK_READER_READING);
        if (g_atomic_int_get(&tk->stopping))
            takeover_reader_retire(slot);
        n = read(fd, buf, len);
        err = errno;
        /* read during a handover: left unanswered, the next server gets it resent */
        if (g_atomic_int_get(&tk->stopping))
            takeover_reader_retire(slot);
        if (n < 0) {
            takeover_reader_state(slot, TK_READER_IDLE);
            /* ENODEV: unmounted; EINTR: a signal, libfuse retries. ECONNABORTED: the
             * connection was aborted, which Linux 6.18 also reports to a reader when an
             * unmount meets background requests still queued (a burst of releases): the
             * connection is gone either way, the end of the session, not a failure */
            if (err == ECONNABORTED) {
                static gint told;   /* every reader sees it: said once */

                if (g_atomic_int_compare_and_exchange(&told, 0, 1))
                    g_message("takeover: the kernel aborted the FUSE connection: the end");
                err = ENODEV;
            }
            errno = err;
            return -1;
        }
        /* counted before this thread stops being a reader: a handover that sees no
         * reader sees every request that was read */
        keep = takeover_note_request(tk, fd, buf, n);
        takeover_reader_state(slot, TK_READER_IDLE);
        if (keep)
            return n;
    }
}

static size_t
takeover_iov_copy(const struct iovec *iov, int count, unsigned char *dst, size_t cap)
{
    size_t n = 0;

    for (int i = 0; i < count && n < cap; i++) {
        size_t k = MIN(iov[i].iov_len, cap - n);

        memcpy(dst + n, iov[i].iov_base, k);
        n += k;
    }
    return n;
}

static void
takeover_init_answered(Takeover *tk, const struct iovec *iov, int count)
{
    tk->hello.reply_len = takeover_iov_copy(iov, count, tk->hello.reply, TAKEOVER_INIT_MAX);
    tk->capture_init = false;
    if (takeover_send(tk, TK_MSG_INIT, 0, &tk->hello, sizeof(tk->hello), -1) < 0)
        g_warning("takeover: cannot give FUSE_INIT to the supervisor: a crash will end "
                  "the mount");
}

static ssize_t
takeover_io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
    Takeover *tk = takeover_self;
    TkOutHeader oh = { 0 };
    ssize_t n;
    int err;

    if (count > 0 && iov[0].iov_len >= sizeof(oh))
        memcpy(&oh, iov[0].iov_base, sizeof(oh));
    if (tk->swallow_init && oh.unique == tk->init_unique) {
        tk->new_reply_len = takeover_iov_copy(iov, count, tk->new_reply, TAKEOVER_INIT_MAX);
        return (ssize_t)oh.len;
    }
    n = writev(fd, iov, count);
    err = errno;
    if (oh.unique != 0) {
        if (tk->capture_init && oh.unique == tk->init_unique && n >= 0)
            takeover_init_answered(tk, iov, count);
        takeover_flight_done(tk, oh.unique);
    }
    errno = err;
    return n;
}

static int
takeover_use_io(Takeover *tk, struct fuse_session *se, int fd)
{
    const struct fuse_custom_io io = {
        .read = takeover_io_read,
        .writev = takeover_io_writev,
    };
    struct sigaction sa = { .sa_handler = takeover_wake_handler };   /* no SA_RESTART */
    int fl = fcntl(fd, F_GETFL);
    int ret;

    /* blocking reads (the file description is shared: an older server may have left it
     * non-blocking) */
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
        return -errno;
    sigemptyset(&sa.sa_mask);
    if (sigaction(TAKEOVER_WAKE_SIGNAL, &sa, NULL) < 0)
        return -errno;
    if ((ret = pthread_key_create(&takeover_slot_key, takeover_slot_release)) != 0)
        return -ret;
    if ((ret = fuse_session_custom_io(se, &io, fd)) < 0)
        return ret;
    tk->se = se;
    tk->fuse_fd = fd;
    return 0;
}

int
takeover_adopt_session(Takeover *tk, struct fuse_session *se)
{
    int ret;

    if (!tk)
        return 0;
    tk->capture_init = true;
    tk->mounted_here = true;
    if ((ret = takeover_use_io(tk, se, fuse_session_fd(se))) < 0)
        return ret;
    return takeover_send(tk, TK_MSG_FD, 0, NULL, 0, tk->fuse_fd);
}

/* Log what differs between the first server's INIT reply and ours. */
static void
takeover_compare_reply(Takeover *tk)
{
    TkInitOut a = { 0 }, b = { 0 };
    size_t h = sizeof(TkOutHeader);

    if (tk->hello.reply_len == tk->new_reply_len &&
        memcmp(tk->hello.reply, tk->new_reply, tk->new_reply_len) == 0)
        return;
    memcpy(&a, tk->hello.reply + h, MIN(sizeof(a), tk->hello.reply_len - h));
    memcpy(&b, tk->new_reply + h, MIN(sizeof(b), tk->new_reply_len - h));
    g_warning("takeover: this server would negotiate differently (flags %#x/%#x -> "
              "%#x/%#x, max_write %u -> %u, max_pages %u -> %u); the kernel keeps the "
              "first negotiation", a.flags, a.flags2, b.flags, b.flags2, a.max_write,
              b.max_write, a.max_pages, b.max_pages);
}

/* Feed the saved FUSE_INIT to SE; its reply stays here. */
static int
takeover_replay_init(Takeover *tk, struct fuse_session *se)
{
    g_autofree unsigned char *copy = g_memdup2(tk->hello.init, tk->hello.init_len);
    struct fuse_buf buf = { .mem = copy, .size = tk->hello.init_len };
    TkInHeader ih;
    TkOutHeader oh;

    if (tk->hello.init_len < sizeof(ih) + sizeof(TkInitIn) ||
        tk->hello.reply_len < sizeof(oh) + offsetof(TkInitOut, flags2))
        return -EINVAL;
    memcpy(&ih, tk->hello.init, sizeof(ih));
    tk->init_unique = ih.unique;
    tk->swallow_init = true;
    fuse_session_process_buf(se, &buf);
    tk->swallow_init = false;
    if (tk->new_reply_len < sizeof(oh))
        return -EPROTO;
    memcpy(&oh, tk->new_reply, sizeof(oh));
    if (oh.error != 0)
        return oh.error;
    takeover_compare_reply(tk);
    return 0;
}

struct fuse_session *
takeover_session_new(Takeover *tk, struct fuse_args *args,
                     const struct fuse_lowlevel_ops *op, size_t op_size, void *userdata)
{
    struct fuse_session *se;
    int ret;

    if (!tk || tk->fuse_fd < 0)
        return NULL;
    se = fuse_session_new(args, op, op_size, userdata);
    if (!se)
        return NULL;
    if ((ret = takeover_use_io(tk, se, tk->fuse_fd)) < 0) {
        g_warning("takeover: cannot serve the inherited connection: %s", g_strerror(-ret));
        goto fail;
    }
    if (tk->hello.init_len == 0) {
        /* the first server died before answering INIT: it comes (again) from the kernel */
        tk->capture_init = true;
        return se;
    }
    if ((ret = takeover_replay_init(tk, se)) < 0) {
        g_warning("takeover: the saved FUSE_INIT does not initialize this server: %s",
                  g_strerror(-ret));
        goto fail;
    }
    return se;

 fail:
    tk->se = NULL;
    fuse_session_destroy(se);    /* closes the inherited descriptor */
    tk->fuse_fd = -1;
    return NULL;
}

static bool
takeover_kernel_resends(Takeover *tk)
{
    TkInitIn in;

    if (tk->hello.init_len < sizeof(TkInHeader) + sizeof(in))
        return true;    /* INIT never seen: try, the kernel says */
    memcpy(&in, tk->hello.init + sizeof(TkInHeader), sizeof(in));
    return (in.flags & TK_FUSE_INIT_EXT) && (in.flags2 & TK_FUSE_HAS_RESEND_FLAGS2);
}

/* Wake every poller an earlier server left waiting (it polls again and reaches this
 * one); a handle whose file is gone meanwhile is ignored by the kernel. */
static void
takeover_wake_pollers(Takeover *tk)
{
    struct {
        TkOutHeader oh;
        uint64_t kh;
    } n = { .oh = { .len = sizeof(n), .error = TK_FUSE_NOTIFY_POLL } };
    GHashTableIter it;
    gpointer v;

    g_mutex_lock(&tk->lock);
    g_hash_table_iter_init(&it, tk->polled);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        n.kh = *(uint64_t *)v;
        if (write(tk->fuse_fd, &n, sizeof(n)) < 0)
            g_debug("takeover: poll wakeup %" G_GUINT64_FORMAT ": %s", n.kh,
                    g_strerror(errno));
    }
    g_mutex_unlock(&tk->lock);
}

int
takeover_resend(Takeover *tk)
{
    TkOutHeader oh = { .len = sizeof(oh), .error = TK_FUSE_NOTIFY_RESEND, .unique = 0 };
    int ret = 0;

    if (!tk || tk->mounted_here || tk->fuse_fd < 0)
        return 0;
    if (!takeover_kernel_resends(tk))
        ret = -ENOSYS;
    else if (write(tk->fuse_fd, &oh, sizeof(oh)) < 0)
        ret = errno == EINVAL ? -ENOSYS : -errno;
    takeover_wake_pollers(tk);
    return ret;
}

/* ---- handover ---- */

/* Requests read and not answered, parked ones excepted. */
static gint64
takeover_unparked(Takeover *tk)
{
    return __atomic_load_n(&tk->in_flight, __ATOMIC_SEQ_CST) -
           __atomic_load_n(&tk->n_parked, __ATOMIC_SEQ_CST);
}

/* Stop reading (every reader retires: libfuse's loop goes on, it just gets no more
 * requests), wait for the answers to what is in flight (parked requests excepted), tell
 * the supervisor, end the process. */
static void
takeover_handover(Takeover *tk)
{
    gint64 deadline = g_get_monotonic_time() + TAKEOVER_DRAIN_MS * G_TIME_SPAN_MILLISECOND;
    gint64 left;
    int reading;

    g_atomic_int_set(&tk->stopping, 1);
    /* again and again: a thread signalled just before it entered read(2) blocks there */
    while ((reading = takeover_readers_kick()) > 0 && g_get_monotonic_time() < deadline)
        g_usleep(TAKEOVER_KICK_US);
    if (reading)
        g_warning("takeover: %d thread(s) still in read(2) of /dev/fuse", reading);
    while ((left = takeover_unparked(tk)) > 0 && g_get_monotonic_time() < deadline)
        g_usleep(TAKEOVER_DRAIN_POLL_US);
    if (left)
        g_warning("takeover: handing over with %" G_GINT64_FORMAT " request(s) still "
                  "running after %d ms: the next server runs them again", left,
                  TAKEOVER_DRAIN_MS);
    if (tk->stop_fn)
        tk->stop_fn(tk->stop_opaque);
    takeover_send(tk, TK_MSG_STOPPED, left, NULL, 0, -1);
    _exit(0);
}

static gpointer
takeover_ctl_thread(gpointer data)
{
    Takeover *tk = data;
    TakeoverMsg m;

    for (;;) {
        if (takeover_recv(tk, &m) < 0) {
            g_warning("takeover: the supervisor is gone: serving on; a crash now ends "
                      "the mount");
            return NULL;
        }
        if (m.type == TK_MSG_STOP)
            takeover_handover(tk);
    }
}

int
takeover_ready(Takeover *tk)
{
    int ret;

    if (!tk)
        return 0;
    if ((ret = takeover_send(tk, TK_MSG_READY, 0, NULL, 0, -1)) < 0)
        return ret;
    /* SIGHUP is the supervisor's (an upgrade); for libfuse's handler it would end the
     * session and unmount: `systemctl kill -s HUP` signals every process of the unit */
    signal(SIGHUP, SIG_IGN);
    tk->ctl_thread = g_thread_new("takeover-ctl", takeover_ctl_thread, tk);
    return 0;
}

void
takeover_after_loop(Takeover *tk)
{
    if (!tk || !g_atomic_int_get(&tk->stopping))
        return;
    for (;;)
        pause();   /* takeover_handover ends the process */
}

void
takeover_set_stop_fn(Takeover *tk, TakeoverStopFn fn, void *opaque)
{
    if (!tk)
        return;
    tk->stop_fn = fn;
    tk->stop_opaque = opaque;
}

void
takeover_unmount(Takeover *tk, struct fuse_session *se, const char *mountpoint)
{
    pid_t pid;

    struct pollfd p = { .fd = tk ? tk->fuse_fd : -1, .events = 0 };

    if (!tk || tk->mounted_here || !mountpoint) {
        fuse_session_unmount(se);
        return;
    }
    /* unmounted already (POLLERR, as libfuse checks): whatever is mounted on the path
     * now (a second domfs stacked with -o nonempty) is not ours to detach */
    if (p.fd < 0 || (poll(&p, 1, 0) == 1 && (p.revents & POLLERR)))
        return;
    if (umount2(mountpoint, MNT_DETACH) == 0 || errno == EINVAL || errno == ENOENT)
        return;
    pid = fork();
    if (pid == 0) {
        execlp("fusermount3", "fusermount3", "-u", "-q", "-z", "--", mountpoint,
               (char *)NULL);
        _exit(127);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
}
