/* cons_log.c - one tracked log: where it lives (confinement), what its files are (a
 * directory scan merged into the segment model, cons_seg.c), and reading it through
 * leased descriptors (cons_fdc.c).
 *
 * Confinement. A log is only ever opened beneath an O_PATH descriptor of its confinement
 * root: log_root when there is one, else the most specific log_dirs entry holding the
 * path. The root itself may be reached through symlinks (realpath, once per log); below
 * it, the log's directory is opened with open_beneath (no symlink on the way, nothing
 * escapes). The files NAME, NAME.0, ... are fstatat(AT_SYMLINK_NOFOLLOW)'d and opened by
 * bare name beneath that directory, O_RDONLY | O_NOFOLLOW | O_NONBLOCK, and must be
 * regular files with a single link after the open (a hard link would let whoever writes in
 * a log directory expose any file of that filesystem). Anything else is -EACCES, logged
 * once per log and reason until the log is good again.
 *
 * Locking: a GMutex per log guards its segments and all of its handles; the registry's
 * mutex is taken before a log's, never after; the descriptor cache's is a leaf. */
#define G_LOG_DOMAIN "domfs-cons"

#include "cons_log_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "domfs_limits.h"
#include "open_beneath.h"

#define CONS_RACE_RETRIES 3
#define CONS_FILE_FLAGS (O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)

typedef enum { CONS_MODE_UNSET, CONS_MODE_SEQ, CONS_MODE_ABS } ConsMode;

struct ConsHandle {
    ConsLog *log;
    ConsMode mode;
    uint64_t w_open; /* W when the handle opened */
    uint64_t base;   /* B, set by the first read */
};

void
cons_force_walk(gboolean force)
{
    open_beneath_force_walk(force);
}

/* Birth time of DIRFD/NAME (or of DIRFD itself when NAME is ""), in ns; 0 when unknown. */
static int64_t
cons_btime(int dirfd, const char *name)
{
    struct statx stx;
    int flags = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);

    if (statx(dirfd, name, flags, STATX_BTIME, &stx) < 0 || !(stx.stx_mask & STATX_BTIME))
        return 0;
    return (int64_t)stx.stx_btime.tv_sec * 1000000000 + stx.stx_btime.tv_nsec;
}

static const char *
cons_refusal_reason(int err)
{
    switch (err) {
    case -ELOOP:
    case -EXDEV:
        return "a symlink on the way, or a path leaving its log directory";
    case -ENOTDIR:
        return "a path component is not a directory";
    case -EACCES:
    case -EPERM:
        return "permission denied";
    default:
        return "cannot be read";
    }
}

/* Log why LOG is refused, once until it is good again. Returns ERR, mapped to -EACCES
 * for everything that is a refusal rather than a transient failure. */
static int
cons_refuse(ConsLog *log, int err, const char *reason)
{
    if (!reason)
        reason = cons_refusal_reason(err);
    if (log->warned != reason) {
        g_autofree char *q = cons_quote(log->path);

        if (log->label)
            g_warning("%s: console log %s refused: %s", log->label, q, reason);
        else
            g_warning("console log %s refused: %s", q, reason);
        log->warned = reason;
    }
    if (err == -ELOOP || err == -EXDEV || err == -ENOTDIR || err == -EPERM)
        return -EACCES;
    return err;
}

/* NAME for IDX -1, NAME.IDX otherwise; -ENAMETOOLONG when it does not fit a component. */
static int
cons_file_name(const ConsLog *log, int idx, char *buf, size_t size)
{
    int n = idx < 0 ? snprintf(buf, size, "%s", log->base)
                    : snprintf(buf, size, "%s.%d", log->base, idx);

    return n < 0 || (size_t)n >= size || n > NAME_MAX ? -ENAMETOOLONG : 0;
}

/* The log's directory, opened confined: 0 and *dirfd, -ENOENT when it does not exist
 * (no log yet), another -errno when it cannot be used. */
static int
cons_open_dir(ConsLog *log, int *dirfd)
{
    autofd int rootfd = -1;
    int fd;

    if (!log->root_real) {
        char *r = realpath(log->root, NULL);

        if (!r)
            return -errno;
        log->root_real = g_strdup(r);
        free(r);
    }
    if ((rootfd = open(log->root_real, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0) {
        int err = -errno;

        /* resolve it again next time: it may be a mount or symlink that comes back */
        g_clear_pointer(&log->root_real, g_free);
        return err;
    }
    if (!log->dir_rel) {
        *dirfd = fd_steal(&rootfd);
        return 0;
    }
    fd = open_beneath(rootfd, log->dir_rel, O_PATH | O_DIRECTORY | O_CLOEXEC, TRUE);
    if (fd < 0)
        return fd;
    *dirfd = fd;
    return 0;
}

/* Is ST acceptable as a log file? NULL, or why not. */
static const char *
cons_file_refusal(const struct stat *st)
{
    if (!S_ISREG(st->st_mode))
        return "not a regular file";
    if (st->st_nlink > 1)
        return "a file with several hard links";
    return NULL;
}

/* Stat NAME, NAME.0, NAME.1, ... into SEEN, newest name first, until two names in a row
 * are missing (virtlogd's renames leave one hole while they run). -EACCES when NAME
 * itself is refused; refused backups are treated as missing (never opened). */
static int
cons_scan(ConsLog *log, int dirfd, ConsSeen *seen, int *n_seen, const char **reason)
{
    char name[NAME_MAX + 1];
    int missing = 0;
    int n = 0;

    for (int idx = -1; idx < DOMFS_CONSOLE_MAX_BACKUPS && missing < 2; idx++) {
        struct stat st;
        const char *why;

        if (cons_file_name(log, idx, name, sizeof name) < 0) {
            if (idx < 0)
                return -ENAMETOOLONG;
            break;
        }
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (idx < 0 && errno != ENOENT)
                return -errno;
            missing++;
            continue;
        }
        if ((why = cons_file_refusal(&st))) {
            if (idx < 0) {
                *reason = why;
                return -EACCES;
            }
            missing++;
            continue;
        }
        missing = 0;
        seen[n++] = (ConsSeen){ { st.st_dev, st.st_ino, cons_btime(dirfd, name) },
                                (uint64_t)st.st_size, idx };
    }
    *n_seen = n;
    return 0;
}

/* Bring LOG up to date with the files. 0 on success, with *dirfd (when asked) the log's
 * directory for opening files; -EACCES when the log is refused. No file at all is not an
 * error: the segments are just all gone. */
static int
cons_refresh(ConsLog *log, int *dirfd_out)
{
    ConsSeen seen[DOMFS_CONSOLE_MAX_BACKUPS + 1];
    g_autoptr(GArray) gone = g_array_new(FALSE, FALSE, sizeof(ConsFileId));
    const char *reason = NULL;
    autofd int dirfd = -1;
    int n_seen = 0;
    int ret;

    if (!log->root)
        return cons_refuse(log, -EACCES, "not inside an allowed log directory, or not a "
                                         "normalised absolute path");
    ret = cons_open_dir(log, &dirfd);
    if (ret == 0)
        ret = cons_scan(log, dirfd, seen, &n_seen, &reason);
    else if (ret == -ENOENT)
        ret = 0;
    if (ret < 0)
        return cons_refuse(log, ret, reason);
    cons_segs_merge(&log->segs, seen, n_seen, gone);
    for (guint i = 0; i < gone->len; i++)
        cons_fdc_drop(cons_fdc_global(), &g_array_index(gone, ConsFileId, i));
    log->warned = NULL;
    if (dirfd_out)
        *dirfd_out = fd_steal(&dirfd);
    return 0;
}

/* A lease on segment K's file: cached, or opened beneath DIRFD by the name the file had at
 * the last refresh. -ESTALE when that name now holds another file (a rotation raced us),
 * -EAGAIN when it is not cached and DIRFD is -1 (refresh first). */
static int
cons_seg_lease(ConsLog *log, guint k, int dirfd, ConsFdLease **out)
{
    ConsSeg *s = &g_array_index(log->segs.segs, ConsSeg, k);
    char name[NAME_MAX + 1];
    autofd int fd = -1;
    ConsFileId id;
    struct stat st;
    const char *why;
    int ret;

    if ((*out = cons_fdc_get(cons_fdc_global(), &s->id)))
        return 0;
    if (dirfd < 0)
        return -EAGAIN;
    if ((ret = cons_file_name(log, s->idx, name, sizeof name)) < 0)
        return ret;
    if ((fd = open_beneath(dirfd, name, CONS_FILE_FLAGS, TRUE)) < 0)
        return fd == -ENOENT ? -ESTALE : cons_refuse(log, fd, NULL);
    if (fstat(fd, &st) < 0)
        return -errno;
    if ((why = cons_file_refusal(&st)))
        return cons_refuse(log, -EACCES, why);
    id = (ConsFileId){ st.st_dev, st.st_ino, cons_btime(fd, "") };
    if (!cons_file_same(&id, &s->id))
        return -ESTALE;
    *out = cons_fdc_put(cons_fdc_global(), &s->id, fd_steal(&fd));
    return 0;
}

/* ---- lifecycle ---- */

ConsLog *
cons_log_new(const char *path, const char *root, const char *rest, uint64_t max_bytes)
{
    ConsLog *log = g_new0(ConsLog, 1);
    const char *slash = rest ? strrchr(rest, '/') : NULL;

    g_mutex_init(&log->lock);
    log->path = g_strdup(path);
    log->max_bytes = max_bytes;
    cons_segs_init(&log->segs);
    log->last_used = g_get_monotonic_time();
    if (root) {
        log->root = g_strdup(*root ? root : "/");
        log->dir_rel = slash ? g_strndup(rest, (gsize)(slash - rest)) : NULL;
        log->base = g_strdup(slash ? slash + 1 : rest);
    }
    return log;
}

/* Give back LOG's descriptors: no reader left, keep no file (or its mount) busy. */
static void
cons_log_drop_fds(ConsLog *log)
{
    for (guint i = 0; i < log->segs.segs->len; i++)
        cons_fdc_drop(cons_fdc_global(), &g_array_index(log->segs.segs, ConsSeg, i).id);
}

void
cons_log_free(gpointer data)
{
    ConsLog *log = data;

    cons_log_drop_fds(log);
    cons_segs_clear(&log->segs);
    g_free(log->path);
    g_free(log->label);
    g_free(log->root);
    g_free(log->root_real);
    g_free(log->dir_rel);
    g_free(log->base);
    g_mutex_clear(&log->lock);
    g_free(log);
}

/* ---- the public API ---- */

int
cons_log_size(ConsLog *log, uint64_t *size)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&log->lock);
    int ret;

    log->last_used = g_get_monotonic_time();
    if ((ret = cons_refresh(log, NULL)) == 0)
        *size = log->segs.v_end - (log->n_open ? log->pin
                                               : cons_segs_window(&log->segs, log->max_bytes));
    return ret;
}

int
cons_open(ConsLog *log, ConsHandle **out)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&log->lock);
    ConsHandle *h;
    int ret;

    *out = NULL;
    log->last_used = g_get_monotonic_time();
    if ((ret = cons_refresh(log, NULL)) < 0)
        return ret;
    h = g_new0(ConsHandle, 1);
    h->log = log;
    h->w_open = cons_segs_window(&log->segs, log->max_bytes);
    if (log->n_open++ == 0)
        log->pin = h->w_open;
    *out = h;
    return 0;
}

void
cons_close(ConsHandle *h)
{
    ConsLog *log;

    if (!h)
        return;
    log = h->log;
    g_mutex_lock(&log->lock);
    log->last_used = g_get_monotonic_time();
    if (log->n_open > 0 && --log->n_open == 0) {
        log->pin = 0;
        cons_log_drop_fds(log);
    }
    g_mutex_unlock(&log->lock);
    g_free(h);
}

/* ---- reading ---- */

typedef struct {
    ConsHandle *h;
    char *buf;
    size_t size;
    size_t done;
    int dirfd;          /* the log's directory once refreshed in this read, else -1 */
    int races;
} ConsRead;

static int
cons_read_refresh(ConsRead *r)
{
    fd_closep(&r->dirfd);
    r->dirfd = -1;
    return cons_refresh(r->h->log, &r->dirfd);
}

/* The segment holding virtual position POS, or NULL after moving the handle's origin past
 * bytes that no longer exist (then the caller looks again). */
static ConsSeg *
cons_read_seg(ConsRead *r, uint64_t pos, guint *k)
{
    ConsLog *log = r->h->log;
    uint64_t first = cons_segs_first(&log->segs);
    ConsSeg *s = NULL;

    if (pos < first) {
        r->h->base += first - pos;   /* fell behind: those bytes are gone */
        return NULL;
    }
    for (*k = 0; *k < log->segs.segs->len; (*k)++) {
        s = &g_array_index(log->segs.segs, ConsSeg, *k);
        if (s->length && s->vstart + s->length > pos)
            break;
    }
    if (*k == log->segs.segs->len) {
        r->h->base += log->segs.v_end - pos;   /* the newest files are gone */
        return NULL;
    }
    if (s->vstart > pos) {
        r->h->base += s->vstart - pos;   /* a hole where a dropped file was */
        return NULL;
    }
    return s;
}

/* One step: read what segment S holds at POS. 0 to go on, or -errno to stop. */
static int
cons_read_step(ConsRead *r, ConsSeg *s, guint k, uint64_t pos)
{
    ConsFdLease *lease = NULL;
    uint64_t seg_left = s->vstart + s->length - pos;
    size_t want = MIN(seg_left, (uint64_t)(r->size - r->done));
    ssize_t n;
    int ret = cons_seg_lease(r->h->log, k, r->dirfd, &lease);

    /* a file not opened yet (or a rotation raced us): look at the directory, start over */
    if (ret == -EAGAIN || (ret == -ESTALE && r->races++ < CONS_RACE_RETRIES))
        return cons_read_refresh(r);
    if (ret < 0)
        return ret;
    do {
        n = pread(cons_fdc_fd(lease), r->buf + r->done, want, (off_t)(pos - s->vstart));
    } while (n < 0 && errno == EINTR);
    ret = n < 0 ? -errno : 0;
    cons_fdc_release(cons_fdc_global(), lease);
    if (n == 0)
        r->h->base += seg_left;   /* shorter than recorded (truncated since): rest is gone */
    else if (n > 0)
        r->done += (size_t)n;
    return ret;
}

ssize_t
cons_read(ConsHandle *h, uint64_t off, char *buf, size_t size)
{
    ConsLog *log = h->log;
    ConsRead r = { h, buf, MIN(size, (size_t)DOMFS_READ_MAX), 0, -1, 0 };
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&log->lock);
    int ret = 0;

    log->last_used = g_get_monotonic_time();
    /* Bytes already known are read through the files' cached descriptors without looking
     * at the directory again (a rotation renames, it does not change bytes; a truncation
     * shows as a short read). Only a read that reaches the known end, or a first read,
     * looks for new bytes and new files. */
    if (h->mode == CONS_MODE_UNSET || off > UINT64_MAX - h->base - r.size ||
        h->base + off + r.size > log->segs.v_end)
        ret = cons_read_refresh(&r);
    if (ret == 0 && h->mode == CONS_MODE_UNSET) {
        h->mode = off == 0 ? CONS_MODE_SEQ : CONS_MODE_ABS;
        h->base = off == 0 ? h->w_open : log->pin;
    }
    while (ret == 0 && r.done < r.size) {
        uint64_t x = off + r.done;
        ConsSeg *s;
        guint k;

        if (x > UINT64_MAX - h->base || h->base + x >= log->segs.v_end)
            break;
        if ((s = cons_read_seg(&r, h->base + x, &k)))
            ret = cons_read_step(&r, s, k, h->base + x);
    }
    fd_closep(&r.dirfd);
    /* what was read stands even when a later part failed; the error comes next time */
    return r.done > 0 || ret == -ESTALE ? (ssize_t)r.done : ret;
}

/* ---- takeover ---- */

void
cons_mark(ConsHandle *h, ConsMark *out)
{
    ConsLog *log = h->log;
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&log->lock);
    guint n = log->segs.segs->len;

    *out = (ConsMark){
        .mode = (uint32_t)h->mode, .base = h->base, .w_open = h->w_open, .pin = log->pin,
        .v_end = log->segs.v_end,
    };
    if (n > 0) {
        const ConsSeg *s = &g_array_index(log->segs.segs, ConsSeg, n - 1);

        out->has_anchor = 1;
        out->anchor_dev = (uint64_t)s->id.dev;
        out->anchor_ino = (uint64_t)s->id.ino;
        out->anchor_btime = s->id.btime;
        out->anchor_vstart = s->vstart;
    }
}

/* The shift that puts M's anchor where it lay in M's process. Lock held, LOG refreshed. */
static int64_t
cons_align_delta(ConsLog *log, const ConsMark *m)
{
    ConsFileId id = { (dev_t)m->anchor_dev, (ino_t)m->anchor_ino, m->anchor_btime };

    for (guint k = 0; m->has_anchor && k < log->segs.segs->len; k++) {
        const ConsSeg *s = &g_array_index(log->segs.segs, ConsSeg, k);

        if (cons_file_same(&s->id, &id))
            return (int64_t)(m->anchor_vstart - s->vstart);
    }
    /* the anchor file is gone (rotated away): what exists now came after M's end */
    return (int64_t)(m->v_end - cons_segs_first(&log->segs));
}

/* Shift LOG's coordinates by DELTA (never below 0). Lock held, no handle open. */
static void
cons_align(ConsLog *log, int64_t delta)
{
    uint64_t first = cons_segs_first(&log->segs);

    if (delta < 0 && (uint64_t)-delta > first)
        delta = -(int64_t)first;
    for (guint k = 0; k < log->segs.segs->len; k++)
        g_array_index(log->segs.segs, ConsSeg, k).vstart += (uint64_t)delta;
    log->segs.v_end += (uint64_t)delta;
}

int
cons_open_marked(ConsLog *log, const ConsMark *m, ConsHandle **out)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&log->lock);
    ConsHandle *h;
    int ret;

    *out = NULL;
    log->last_used = g_get_monotonic_time();
    if ((ret = cons_refresh(log, NULL)) < 0)
        return ret;
    if (log->n_open == 0) {
        cons_align(log, cons_align_delta(log, m));
        log->pin = m->pin;
    }
    log->n_open++;
    h = g_new0(ConsHandle, 1);
    h->log = log;
    h->mode = m->mode <= CONS_MODE_ABS ? (ConsMode)m->mode : CONS_MODE_UNSET;
    h->w_open = m->w_open;
    h->base = m->base;
    *out = h;
    return 0;
}
