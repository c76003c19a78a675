/* cons_log.c - see cons_log.h.
 *
 * Confinement. A log is only ever opened beneath an O_PATH descriptor of its confinement
 * root: log_root when there is one, else the most specific log_dirs entry holding the
 * path. The root itself may be reached through symlinks (realpath, once per log); below
 * it, the log's directory is opened with openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS), so no component may be a symlink (even one pointing inside)
 * and nothing escapes. Where openat2 is missing (ENOSYS) an openat(O_PATH | O_NOFOLLOW)
 * walk with an fstat of every component does the same. The files NAME, NAME.0, ... are
 * then fstatat(AT_SYMLINK_NOFOLLOW)'d and opened by bare name beneath that directory,
 * O_RDONLY | O_NOFOLLOW | O_NONBLOCK, and must be S_ISREG after the open. Anything else
 * is -EACCES, logged once per log and reason (getattr would repeat it every second).
 *
 * Rotation. virtlogd renames NAME -> NAME.0 -> ... -> NAME.(max_backups-1), oldest first,
 * then creates a new NAME. A log is a list of segments, one per file, oldest first, each
 * {dev, ino, vstart, length} in a virtual byte coordinate that never goes back: a new
 * segment starts where everything seen so far ends (V_end). A refresh stats NAME, NAME.0,
 * NAME.1, ... in ascending order until two names in a row are missing (virtlogd's renames
 * leave one hole while they run) or 64 backups, and matches the inodes to the segments
 * in order:
 *  - a known inode keeps its segment wherever it now is. The newest segment may grow
 *    (V_end grows with it); when it shrank (same inode truncated: append='off' restart)
 *    its old bytes are gone and the file starts a new segment at V_end;
 *  - an older segment whose size changed is not the file we knew (inode reuse): dropped;
 *  - inodes newer than every matched segment are appended at V_end, oldest first. The
 *    first look is this rule with no segments yet: NAME.K ... NAME.0, NAME;
 *  - segments whose file is gone are dropped; unknown files older than a known one are
 *    ignored (their bytes would belong before bytes readers already have).
 * The scan goes up while virtlogd renames files up, so a file can be seen twice (the
 * later, higher-numbered sighting wins: it was stat'ed after the rename) but not missed.
 *
 * Coordinates. F = vstart of the first retained segment (V_end when none) and the window
 * start W = max(F, V_end - max_bytes).
 *  - Size: V_end - W while no handle is open. The first open pins P = W until the last
 *    handle closes, and the size is V_end - P meanwhile: it never drops under a reader
 *    (tail -f polls fstat and says "file truncated" when st_size drops below its
 *    position) and may then exceed max_bytes.
 *  - A handle picks its origin B at its first read: if that read is at offset 0 it is
 *    sequential and B = W as of its open, so cat gets the newest max_bytes at most, then
 *    whatever follows; otherwise it is absolute and B = P, so lseek(SEEK_END) to st_size,
 *    tail -n, tail -c and tail -f's first read land where they aimed. Handle offset x is
 *    virtual position B + x.
 *  - Bytes that no longer exist (B + x < F because the reader fell behind the rotations,
 *    a file turned out shorter than recorded, a deleted file) are skipped: B moves forward
 *    by their count, so the stream continues with the oldest byte that still exists,
 *    bytes are never returned twice to a reader going forward, and nothing blocks.
 *    B only grows and B >= P, so a handle's end never exceeds the pinned size.
 *  - B + x >= V_end is the end for now: 0, and new bytes once the guest printed more.
 *    A read fills its buffer across segments; it is short only at V_end or when it
 *    loses a race with a rotation three times.
 * fs/ must serve console.log with direct_io and no attribute cache: page-cache reads are
 * clipped to the cached st_size, and the kernel takes a short read for a truncation.
 *
 * Not detectable with stat: a file truncated and rewritten past its old size between
 * two refreshes looks like growth, and its new bytes are read at the old offsets.
 *
 * Locking: a GMutex per log guards its segments and all of its handles; the registry's
 * mutex guards the table and is taken before a log's, never after.
 */
#define G_LOG_DOMAIN "domfs-cons"

#include "cons_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#define CONS_MAX_BACKUPS 64
#define CONS_MAX_FILES (CONS_MAX_BACKUPS + 1)
#define CONS_MAX_READ (1024 * 1024)
#define CONS_DEFAULT_MAX_LOGS 4096
#define CONS_DEFAULT_IDLE_USEC ((gint64)60 * G_USEC_PER_SEC)
#define CONS_RACE_RETRIES 3
#define CONS_EAGAIN_RETRIES 8
#define CONS_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
#define CONS_FILE_FLAGS (O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)

typedef struct {
    dev_t dev;
    ino_t ino;
    int64_t btime;  /* birth time (ns), 0 when the filesystem has none */
    uint64_t vstart;
    uint64_t length;
    int idx; /* where the file was last seen: -1 is NAME, k is NAME.k */
    int fd;  /* opened on the first read that needs it; -1 until then */
} ConsSeg;

typedef struct {
    dev_t dev;
    ino_t ino;
    int64_t btime;
    uint64_t size;
    int idx;
} ConsSeen;

/* Birth time of DIRFD/NAME (or of DIRFD itself when NAME is ""), in ns; 0 when unknown.
 * An inode number alone is not an identity: libvirt deletes old logs on a restart and the
 * filesystem hands the freed number to the next new file. */
static int64_t
cons_btime(int dirfd, const char *name)
{
    struct statx stx;
    int flags = AT_SYMLINK_NOFOLLOW | (*name ? 0 : AT_EMPTY_PATH);

    if (statx(dirfd, name, flags, STATX_BTIME, &stx) < 0 || !(stx.stx_mask & STATX_BTIME))
        return 0;
    return (int64_t)stx.stx_btime.tv_sec * 1000000000 + stx.stx_btime.tv_nsec;
}

struct ConsLog {
    GMutex lock;
    char *path;       /* the registry's key */
    char *root;       /* confinement root as configured; NULL: the path is refused */
    char *root_real;  /* realpath of root, NULL until it resolved */
    char *dir_rel;    /* the log's directory below root; NULL: root itself */
    char *base;       /* NAME */
    uint64_t max_bytes;
    GArray *segs;     /* ConsSeg, oldest first */
    uint64_t v_end;
    uint64_t pin;     /* P, valid while n_open > 0 */
    guint n_open;
    gint64 last_used;
    const char *warned; /* reason last logged; NULL after a good refresh */
};

typedef enum { CONS_MODE_UNSET, CONS_MODE_SEQ, CONS_MODE_ABS } ConsMode;

struct ConsHandle {
    ConsLog *log;
    ConsMode mode;
    uint64_t w_open; /* W when the handle opened */
    uint64_t base;   /* B, set by the first read */
};

struct ConsRegistry {
    GMutex lock;
    char **log_dirs;   /* normalised (see cons_dir_normalise); invalid entries left out */
    char *log_root;    /* normalised, or NULL */
    gboolean root_bad; /* log_root was given but is unusable: refuse everything */
    uint64_t max_bytes;
    guint max_logs;
    gint64 idle_usec;
    GHashTable *logs;  /* path -> ConsLog */
};

static gint cons_walk_forced;
static gint cons_no_openat2;

void
cons_force_walk(gboolean force)
{
    g_atomic_int_set(&cons_walk_forced, force ? 1 : 0);
}

/* ---- paths ---- */

/* 0 when PATH is absolute and normalised: no empty, "." or ".." component, no trailing
 * slash (the root "/" alone is accepted; no log can be inside it but as a file of it). */
static int
cons_path_check(const char *path, const char **why)
{
    const char *p;
    int ret = 0;

    if (!path || path[0] != '/') {
        *why = "not an absolute path";
        ret = -EACCES;
        goto out;
    }
    if (strlen(path) >= PATH_MAX) {
        *why = "path too long";
        ret = -EACCES;
        goto out;
    }
    if (path[1] == '\0')
        goto out;
    for (p = path + 1;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);

        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.')) {
            *why = "not a normalised path (empty, \".\" or \"..\" component)";
            ret = -EACCES;
            goto out;
        }
        if (len > NAME_MAX) {
            *why = "path component too long";
            ret = -EACCES;
            goto out;
        }
        if (!slash)
            break;
        p = slash + 1;
    }
out:
    return ret;
}

/* A configured directory without its trailing slashes ("/" becomes ""), NULL when it is
 * not absolute and normalised. */
static char *
cons_dir_normalise(const char *dir)
{
    g_autofree char *d = g_strdup(dir ? dir : "");
    size_t len = strlen(d);
    const char *why = NULL;

    while (len > 1 && d[len - 1] == '/')
        d[--len] = '\0';
    if (cons_path_check(d, &why) < 0)
        g_clear_pointer(&d, g_free);
    else if (strcmp(d, "/") == 0)
        d[0] = '\0';
    return g_steal_pointer(&d);
}

/* What follows "DIR/" in PATH when PATH is strictly inside normalised DIR, compared
 * component-wise (/var/log/libvirtX is not inside /var/log/libvirt); else NULL. */
static const char *
cons_path_under(const char *dir, const char *path)
{
    size_t len = strlen(dir);

    if (strncmp(path, dir, len) != 0 || path[len] != '/' || path[len + 1] == '\0')
        return NULL;
    return path + len + 1;
}

/* The most specific entry of DIRS holding PATH, and what follows it. */
static const char *
cons_best_dir(char *const *dirs, const char *path, const char **rest)
{
    const char *best = NULL;

    *rest = NULL;
    for (gsize i = 0; dirs && dirs[i]; i++) {
        const char *r = cons_path_under(dirs[i], path);

        if (r && (!best || strlen(dirs[i]) > strlen(best))) {
            best = dirs[i];
            *rest = r;
        }
    }
    return best;
}

/* PATH quoted for a message: control bytes escaped, so a hostile XML cannot forge lines
 * in an error file or a log; UTF-8 left readable. */
static char *
cons_quote(const char *path)
{
    char keep[129];
    g_autofree char *esc = NULL;

    for (int i = 0; i < 128; i++)
        keep[i] = (char)(0x80 + i);
    keep[128] = '\0';
    esc = g_strescape(path ? path : "", keep);
    return g_strdup_printf("\"%s\"", esc);
}

int
cons_resolve(const ConsPolicy *policy, const char *xml_path, char **local_path,
             char **errmsg)
{
    g_auto(GStrv) dirs = NULL;
    g_autofree char *root = NULL;
    g_autofree char *out = NULL;
    const char *why = NULL;
    const char *rest = NULL;
    guint n = 0;
    int ret = -EACCES;

    *local_path = NULL;
    if (errmsg)
        *errmsg = NULL;
    dirs = g_new0(char *, (policy && policy->log_dirs ? g_strv_length(policy->log_dirs) : 0) + 1);
    for (gsize i = 0; policy && policy->log_dirs && policy->log_dirs[i]; i++) {
        char *d = cons_dir_normalise(policy->log_dirs[i]);

        if (d)
            dirs[n++] = d;
    }
    if (cons_path_check(xml_path, &why) < 0)
        goto out;
    if (!cons_best_dir(dirs, xml_path, &rest)) {
        why = "not inside an allowed log directory (log_dirs)";
        goto out;
    }
    if (policy->log_root) {
        root = cons_dir_normalise(policy->log_root);
        if (!root) {
            why = "log_root is not an absolute, normalised directory";
            goto out;
        }
        out = g_strconcat(root, "/", rest, NULL);
        if (strlen(out) >= PATH_MAX) {
            why = "path too long below log_root";
            goto out;
        }
    } else {
        out = g_strdup(xml_path);
    }
    *local_path = g_steal_pointer(&out);
    ret = 0;
out:
    if (ret < 0 && errmsg) {
        g_autofree char *q = cons_quote(xml_path);
        g_autoptr(GString) allowed = g_string_new(NULL);

        for (guint i = 0; i < n; i++) /* "/" is "" here, for the prefix test */
            g_string_append_printf(allowed, "%s%s", i ? ":" : "", *dirs[i] ? dirs[i] : "/");
        *errmsg = g_strdup_printf("console log %s refused: %s; allowed: %s", q, why,
                                  n ? allowed->str : "(none)");
    }
    return ret;
}

/* ---- confined opening ---- */

/* openat(2) walk of REL below DIRFD, for kernels without openat2: every component is
 * opened O_PATH | O_NOFOLLOW and must be a directory (the last one: FLAGS decide). */
static int
cons_open_walk(int dirfd, const char *rel, int flags)
{
    g_auto(GStrv) comps = g_strsplit(rel, "/", -1);
    int cur = dirfd;
    int ret = 0;

    for (gsize i = 0; comps[i]; i++) {
        const char *c = comps[i];
        gboolean last = comps[i + 1] == NULL;
        int fl = last ? flags | O_NOFOLLOW : O_PATH | O_NOFOLLOW | O_CLOEXEC;
        struct stat st;
        int fd;

        if (!*c || strcmp(c, ".") == 0 || strcmp(c, "..") == 0) {
            ret = -EXDEV;
            break;
        }
        fd = openat(cur, c, fl);
        if (fd < 0) {
            ret = -errno;
            break;
        }
        if (cur != dirfd)
            close(cur);
        cur = fd;
        /* O_PATH | O_NOFOLLOW opens a symlink itself: only fstat tells */
        if (!last || (fl & O_PATH)) {
            if (fstat(fd, &st) < 0)
                ret = -errno;
            else if (S_ISLNK(st.st_mode))
                ret = -ELOOP;
            else if ((!last || (flags & O_DIRECTORY)) && !S_ISDIR(st.st_mode))
                ret = -ENOTDIR;
            if (ret < 0)
                break;
        }
    }
    if (ret == 0 && cur == dirfd)
        ret = -EINVAL;
    if (ret < 0 && cur != dirfd)
        close(cur);
    return ret < 0 ? ret : cur;
}

/* REL opened with FLAGS beneath DIRFD, symlinks refused anywhere: an fd or -errno
 * (-ELOOP, -EXDEV for what leaves the confinement). */
static int
cons_open_beneath(int dirfd, const char *rel, int flags)
{
    struct open_how how = { .flags = (uint64_t)flags, .resolve = CONS_RESOLVE };
    gboolean walk = g_atomic_int_get(&cons_walk_forced) || g_atomic_int_get(&cons_no_openat2);
    int ret = -EAGAIN;

    for (int i = 0; !walk && i < CONS_EAGAIN_RETRIES; i++) {
        long fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof how);

        if (fd >= 0) {
            ret = (int)fd;
            break;
        }
        ret = -errno;
        if (ret == -ENOSYS) {
            g_atomic_int_set(&cons_no_openat2, 1);
            walk = TRUE;
        }
        /* EAGAIN: a concurrent rename or mount made the kernel unsure; it asks to retry */
        if (ret != -EAGAIN)
            break;
    }
    if (walk)
        ret = cons_open_walk(dirfd, rel, flags);
    return ret;
}

/* ---- one log ---- */

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
    int ret = err;

    if (!reason)
        reason = cons_refusal_reason(err);
    if (err == -ELOOP || err == -EXDEV || err == -ENOTDIR || err == -EPERM)
        ret = -EACCES;
    if (log->warned != reason) {
        g_autofree char *q = cons_quote(log->path);

        g_warning("console log %s refused: %s", q, reason);
        log->warned = reason;
    }
    return ret;
}

static void
cons_seg_close(ConsSeg *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static void
cons_log_close_fds(ConsLog *log)
{
    for (guint i = 0; i < log->segs->len; i++)
        cons_seg_close(&g_array_index(log->segs, ConsSeg, i));
}

static void
cons_log_free(gpointer data)
{
    ConsLog *log = data;

    cons_log_close_fds(log);
    g_array_unref(log->segs);
    g_free(log->path);
    g_free(log->root);
    g_free(log->root_real);
    g_free(log->dir_rel);
    g_free(log->base);
    g_mutex_clear(&log->lock);
    g_free(log);
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
    int rootfd = -1;
    int ret = 0;

    if (!log->root_real) {
        char *r = realpath(log->root, NULL);

        if (!r) {
            ret = -errno;
            goto out;
        }
        log->root_real = g_strdup(r);
        free(r);
    }
    rootfd = open(log->root_real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        ret = -errno;
        /* resolve it again next time: it may be a mount or symlink that comes back */
        g_clear_pointer(&log->root_real, g_free);
        goto out;
    }
    if (!log->dir_rel) {
        *dirfd = rootfd;
        rootfd = -1;
        goto out;
    }
    ret = cons_open_beneath(rootfd, log->dir_rel, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (ret >= 0) {
        *dirfd = ret;
        ret = 0;
    }
out:
    if (rootfd >= 0)
        close(rootfd);
    return ret;
}

/* Stat NAME, NAME.0, NAME.1, ... into SEEN, newest name first. -EACCES when NAME is not a
 * regular file; backups that are not regular files are treated as missing (never
 * opened). */
static int
cons_scan(ConsLog *log, int dirfd, ConsSeen *seen, int *n_seen, const char **reason)
{
    char name[NAME_MAX + 1];
    int missing = 0;
    int n = 0;
    int ret = 0;

    for (int idx = -1; idx < CONS_MAX_BACKUPS && missing < 2; idx++) {
        struct stat st;

        if (cons_file_name(log, idx, name, sizeof name) < 0) {
            if (idx < 0)
                ret = -ENAMETOOLONG;
            break;
        }
        if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (idx < 0 && errno != ENOENT) {
                ret = -errno;
                break;
            }
            missing++;
            continue;
        }
        if (!S_ISREG(st.st_mode)) {
            if (idx < 0) {
                *reason = "not a regular file";
                ret = -EACCES;
                break;
            }
            missing++;
            continue;
        }
        missing = 0;
        seen[n++] = (ConsSeen){ st.st_dev, st.st_ino, cons_btime(dirfd, name),
                                (uint64_t)st.st_size, idx };
    }
    *n_seen = n;
    return ret;
}

static gboolean
cons_same_file(dev_t dev, ino_t ino, int64_t btime, dev_t dev2, ino_t ino2, int64_t btime2)
{
    return dev == dev2 && ino == ino2 && (!btime || !btime2 || btime == btime2);
}

/* Fold a scan (newest name first) into the segments; see the top of the file. */
static void
cons_merge(ConsLog *log, const ConsSeen *seen, int n_seen)
{
    ConsSeen files[CONS_MAX_FILES]; /* oldest first, each inode once */
    int match[CONS_MAX_FILES + 1];  /* per old segment: index in files, or -1 */
    g_autoptr(GArray) out = g_array_sized_new(FALSE, FALSE, sizeof(ConsSeg), n_seen + 1);
    guint nseg = MIN(log->segs->len, CONS_MAX_FILES + 1);
    int nf = 0;
    int last = -1;
    int first_new = 0;

    for (int i = n_seen - 1; i >= 0; i--) {
        gboolean dup = FALSE;

        for (int j = 0; j < nf && !dup; j++)
            dup = cons_same_file(files[j].dev, files[j].ino, files[j].btime,
                                 seen[i].dev, seen[i].ino, seen[i].btime);
        if (!dup)
            files[nf++] = seen[i];
    }

    for (guint k = 0; k < nseg; k++)
        match[k] = -1;
    for (int i = 0; i < nf; i++) {
        for (guint k = (guint)(last + 1); k < nseg; k++) {
            const ConsSeg *s = &g_array_index(log->segs, ConsSeg, k);
            gboolean growable = k == nseg - 1 && s->vstart + s->length == log->v_end;

            if (!cons_same_file(s->dev, s->ino, s->btime, files[i].dev, files[i].ino,
                                files[i].btime))
                continue;
            if (!growable && files[i].size != s->length)
                break; /* same inode number, other file: it is new or ignored */
            match[k] = i;
            last = (int)k;
            first_new = i + 1;
            break;
        }
    }

    for (guint k = 0; k < log->segs->len; k++) {
        ConsSeg s = g_array_index(log->segs, ConsSeg, k);
        const ConsSeen *f;

        if (k >= nseg || match[k] < 0) {
            cons_seg_close(&s);
            continue;
        }
        f = &files[match[k]];
        s.idx = f->idx;
        if (k == nseg - 1 && f->size > s.length) {
            s.length = f->size;
            log->v_end = s.vstart + s.length;
        } else if (k == nseg - 1 && f->size < s.length) {
            /* truncated in place: the same file (the fd stays good), but its old bytes
             * are gone, so what it holds now is new and goes after everything */
            s.vstart = log->v_end;
            s.length = f->size;
            log->v_end += f->size;
        }
        g_array_append_val(out, s);
    }
    for (int i = first_new; i < nf; i++) {
        ConsSeg s = { files[i].dev, files[i].ino, files[i].btime, log->v_end, files[i].size,
                      files[i].idx, -1 };

        log->v_end += files[i].size;
        g_array_append_val(out, s);
    }
    g_array_set_size(log->segs, 0);
    g_array_append_vals(log->segs, out->data, out->len);
}

/* Bring LOG up to date with the files. 0 on success, with *dirfd (when asked) the log's
 * directory for opening segments; -EACCES when the log is refused. No file at all is
 * not an error: the segments are just all gone. */
static int
cons_refresh(ConsLog *log, int *dirfd_out)
{
    ConsSeen seen[CONS_MAX_FILES];
    const char *reason = NULL;
    int n_seen = 0;
    int dirfd = -1;
    int ret;

    if (!log->root) {
        ret = -EACCES;
        reason = "not inside an allowed log directory, or not a normalised absolute path";
        goto out;
    }
    ret = cons_open_dir(log, &dirfd);
    if (ret == -ENOENT) {
        ret = 0;
    } else if (ret == 0) {
        ret = cons_scan(log, dirfd, seen, &n_seen, &reason);
    }
    if (ret < 0)
        goto out;
    cons_merge(log, seen, n_seen);
    log->warned = NULL;
out:
    if (ret < 0)
        ret = cons_refuse(log, ret, reason);
    if (ret == 0 && dirfd_out) {
        *dirfd_out = dirfd;
        dirfd = -1;
    }
    if (dirfd >= 0)
        close(dirfd);
    return ret;
}

/* F: where the retained bytes start. */
static uint64_t
cons_first(const ConsLog *log)
{
    return log->segs->len ? g_array_index(log->segs, ConsSeg, 0).vstart : log->v_end;
}

/* W: where a new reader starts. */
static uint64_t
cons_window(const ConsLog *log)
{
    uint64_t lo = log->v_end > log->max_bytes ? log->v_end - log->max_bytes : 0;

    return MAX(cons_first(log), lo);
}

/* The read descriptor of segment K, opened beneath DIRFD by the name the file had at the
 * last refresh. -ESTALE when that name now holds another file (a rotation raced us). */
static int
cons_seg_fd(ConsLog *log, guint k, int dirfd, int *fd_out)
{
    ConsSeg *s = &g_array_index(log->segs, ConsSeg, k);
    char name[NAME_MAX + 1];
    struct stat st;
    int fd = -1;
    int ret = 0;

    if (s->fd >= 0)
        goto out;
    ret = cons_file_name(log, s->idx, name, sizeof name);
    if (ret < 0)
        goto out;
    fd = cons_open_beneath(dirfd, name, CONS_FILE_FLAGS);
    if (fd < 0) {
        ret = fd == -ENOENT ? -ESTALE : cons_refuse(log, fd, NULL);
        fd = -1;
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        ret = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        ret = cons_refuse(log, -EACCES, "not a regular file");
        goto out;
    }
    if (!cons_same_file(st.st_dev, st.st_ino, cons_btime(fd, ""), s->dev, s->ino, s->btime)) {
        ret = -ESTALE;
        goto out;
    }
    s->fd = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (ret == 0)
        *fd_out = s->fd;
    return ret;
}

/* ---- the public API ---- */

int
cons_log_size(ConsLog *log, uint64_t *size)
{
    int ret;

    g_mutex_lock(&log->lock);
    log->last_used = g_get_monotonic_time();
    ret = cons_refresh(log, NULL);
    if (ret == 0)
        *size = log->v_end - (log->n_open ? log->pin : cons_window(log));
    g_mutex_unlock(&log->lock);
    return ret;
}

int
cons_open(ConsLog *log, ConsHandle **out)
{
    ConsHandle *h = NULL;
    int ret;

    *out = NULL;
    g_mutex_lock(&log->lock);
    log->last_used = g_get_monotonic_time();
    ret = cons_refresh(log, NULL);
    if (ret < 0)
        goto out;
    h = g_new0(ConsHandle, 1);
    h->log = log;
    h->w_open = cons_window(log);
    if (log->n_open++ == 0)
        log->pin = h->w_open;
    *out = h;
out:
    g_mutex_unlock(&log->lock);
    return ret;
}

ssize_t
cons_read(ConsHandle *h, uint64_t off, char *buf, size_t size)
{
    ConsLog *log = h->log;
    gboolean fresh = FALSE;
    int races = 0;
    int dirfd = -1;
    size_t done = 0;
    ssize_t ret = 0;

    size = MIN(size, (size_t)CONS_MAX_READ);
    g_mutex_lock(&log->lock);
    log->last_used = g_get_monotonic_time();
    /* Bytes already known are read through the files' cached descriptors without looking
     * at the directory again (a rotation renames, it does not change bytes; a truncation
     * shows as a short read below). Only a read that reaches the known end, or a first
     * read, looks for new bytes and new files. */
    if (h->mode == CONS_MODE_UNSET || off > UINT64_MAX - h->base - size ||
        h->base + off + size > log->v_end) {
        ret = cons_refresh(log, &dirfd);
        if (ret < 0)
            goto out;
        fresh = TRUE;
    }
    if (h->mode == CONS_MODE_UNSET) {
        h->mode = off == 0 ? CONS_MODE_SEQ : CONS_MODE_ABS;
        h->base = off == 0 ? h->w_open : log->pin;
    }
    while (done < size) {
        uint64_t x = off + done;
        uint64_t first = cons_first(log);
        uint64_t pos;
        ConsSeg *s = NULL;
        guint k;
        int fd = -1;
        ssize_t n;

        if (x > UINT64_MAX - h->base || h->base + x >= log->v_end)
            break;
        pos = h->base + x;
        if (pos < first) {
            h->base += first - pos; /* fell behind: those bytes are gone */
            continue;
        }
        for (k = 0; k < log->segs->len; k++) {
            s = &g_array_index(log->segs, ConsSeg, k);
            if (s->length && s->vstart + s->length > pos)
                break;
        }
        if (k == log->segs->len) {
            h->base += log->v_end - pos; /* the newest files are gone */
            continue;
        }
        if (s->vstart > pos) {
            h->base += s->vstart - pos; /* a hole where a dropped file was */
            continue;
        }
        if (s->fd < 0 && !fresh) {
            /* a file not opened yet: look at the directory now, then start over */
            ret = cons_refresh(log, &dirfd);
            if (ret < 0)
                break;
            fresh = TRUE;
            continue;
        }
        ret = cons_seg_fd(log, k, dirfd, &fd);
        if (ret == -ESTALE && races++ < CONS_RACE_RETRIES) {
            if (dirfd >= 0)
                close(dirfd);
            dirfd = -1;
            ret = cons_refresh(log, &dirfd);
            if (ret < 0)
                break;
            continue;
        }
        if (ret < 0)
            break;
        do {
            uint64_t seg_left = s->vstart + s->length - pos;
            size_t want = seg_left < size - done ? (size_t)seg_left : size - done;

            n = pread(fd, buf + done, want, (off_t)(pos - s->vstart));
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            ret = -errno;
            break;
        }
        if (n == 0) {
            /* the file is shorter than recorded (truncated since): its rest is gone */
            h->base += s->vstart + s->length - pos;
            continue;
        }
        done += (size_t)n;
    }
    /* what was read stands even when a later part failed; the error comes next time */
    if (done > 0 || ret == -ESTALE)
        ret = (ssize_t)done;
out:
    g_mutex_unlock(&log->lock);
    if (dirfd >= 0)
        close(dirfd);
    return ret;
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
        /* no reader left: keep no file (or its mount) busy */
        cons_log_close_fds(log);
    }
    g_mutex_unlock(&log->lock);
    g_free(h);
}

/* ---- the registry ---- */

ConsRegistry *
cons_registry_new(const ConsPolicy *policy, uint64_t max_bytes)
{
    ConsRegistry *reg = g_new0(ConsRegistry, 1);
    guint n_dirs;
    guint n = 0;

    g_mutex_init(&reg->lock);
    n_dirs = policy && policy->log_dirs ? g_strv_length(policy->log_dirs) : 0;
    reg->log_dirs = g_new0(char *, n_dirs + 1);
    for (gsize i = 0; policy && policy->log_dirs && policy->log_dirs[i]; i++) {
        char *d = cons_dir_normalise(policy->log_dirs[i]);

        if (d)
            reg->log_dirs[n++] = d;
        else
            g_warning("log_dirs entry \"%s\" ignored: not an absolute, normalised directory",
                      policy->log_dirs[i]);
    }
    if (policy && policy->log_root) {
        reg->log_root = cons_dir_normalise(policy->log_root);
        reg->root_bad = reg->log_root == NULL;
    }
    reg->max_bytes = max_bytes;
    reg->max_logs = CONS_DEFAULT_MAX_LOGS;
    reg->idle_usec = CONS_DEFAULT_IDLE_USEC;
    reg->logs = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, cons_log_free);
    return reg;
}

void
cons_registry_free(ConsRegistry *reg)
{
    if (!reg)
        return;
    g_hash_table_destroy(reg->logs);
    g_strfreev(reg->log_dirs);
    g_free(reg->log_root);
    g_mutex_clear(&reg->lock);
    g_free(reg);
}

void
cons_registry_set_limits(ConsRegistry *reg, guint max_logs, gint64 idle_usec)
{
    g_mutex_lock(&reg->lock);
    reg->max_logs = MAX(max_logs, 1);
    reg->idle_usec = MAX(idle_usec, 0);
    g_mutex_unlock(&reg->lock);
}

guint
cons_registry_count(ConsRegistry *reg)
{
    guint n;

    g_mutex_lock(&reg->lock);
    n = g_hash_table_size(reg->logs);
    g_mutex_unlock(&reg->lock);
    return n;
}

static ConsLog *
cons_log_new(ConsRegistry *reg, const char *path)
{
    ConsLog *log = g_new0(ConsLog, 1);
    const char *why = NULL;
    const char *root = NULL;
    const char *rest = NULL;

    g_mutex_init(&log->lock);
    log->path = g_strdup(path);
    log->max_bytes = reg->max_bytes;
    log->segs = g_array_new(FALSE, FALSE, sizeof(ConsSeg));
    log->last_used = g_get_monotonic_time();
    if (reg->root_bad || cons_path_check(path, &why) < 0)
        goto out;
    if (reg->log_root) {
        rest = cons_path_under(reg->log_root, path);
        root = rest ? reg->log_root : NULL;
    } else {
        root = cons_best_dir(reg->log_dirs, path, &rest);
    }
    if (!root)
        goto out;
    log->root = g_strdup(*root ? root : "/");
    {
        const char *slash = strrchr(rest, '/');

        log->dir_rel = slash ? g_strndup(rest, (gsize)(slash - rest)) : NULL;
        log->base = g_strdup(slash ? slash + 1 : rest);
    }
out:
    return log;
}

/* Make room for one more log: drop the least recently used one that no handle holds and
 * nobody used for idle_usec. When there is none the table grows past max_logs: every
 * log then has an open handle or was used just now, both bounded by the callers. */
static void
cons_registry_evict(ConsRegistry *reg)
{
    gint64 now = g_get_monotonic_time();
    GHashTableIter it;
    gpointer key, value;
    ConsLog *victim = NULL;
    gint64 victim_used = 0;

    g_hash_table_iter_init(&it, reg->logs);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        ConsLog *log = value;
        gboolean idle;
        gint64 used;

        g_mutex_lock(&log->lock);
        used = log->last_used;
        idle = log->n_open == 0 && now - used >= reg->idle_usec;
        g_mutex_unlock(&log->lock);
        if (idle && (!victim || used < victim_used)) {
            victim = log;
            victim_used = used;
        }
    }
    if (victim)
        g_hash_table_remove(reg->logs, victim->path);
}

ConsLog *
cons_registry_get(ConsRegistry *reg, const char *local_path)
{
    const char *path = local_path ? local_path : "";
    ConsLog *log;

    g_mutex_lock(&reg->lock);
    log = g_hash_table_lookup(reg->logs, path);
    if (!log) {
        if (g_hash_table_size(reg->logs) >= reg->max_logs)
            cons_registry_evict(reg);
        log = cons_log_new(reg, path);
        g_hash_table_insert(reg->logs, log->path, log);
    }
    g_mutex_lock(&log->lock);
    log->last_used = g_get_monotonic_time();
    g_mutex_unlock(&log->lock);
    g_mutex_unlock(&reg->lock);
    return log;
}
