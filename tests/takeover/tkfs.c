/* tkfs.c - a minimal low-level FUSE server that uses the takeover mechanism exactly as
 * domfs is meant to (fs_super.h, fs_takeover.h, fs_istore.h), so the mechanism is proven
 * on real mounts before the daemon is wired to it.
 *
 * Why its own server: domfs's front end is being restructured; this one is small enough
 * to be obviously right, and has what the tests need: a static tree (a few files, a
 * directory with a subdirectory), an inode table with lookup counts mirrored into the
 * store, open handles mirrored too, a file whose read blocks until an outside event (like
 * .domfs/events), a file that grows (like console.log under `tail -f`), files showing the
 * serving process and version, and a file whose read crashes the server (a poison
 * request).
 *
 *   tkfs [--state DIR] [-o OPTIONS] [-f | -d] MOUNTPOINT
 *
 * As domfs is meant to: in the background (default) and with -f (foreground) a supervisor
 * runs the servers, -d is a single unsupervised process (debugging). DIR holds its log (tkfs.log), the
 * blocking file's trigger (release), the start time of `ticks` (t0), crash-at-start
 * (when it exists, a server aborts before serving) and crash-on-init (removed by the
 * server that aborts in FUSE_INIT because of it). TKFS_START_DELAY_MS delays start-up
 * (standing in for domfs's libvirt load). */
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <glib.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fs_istore.h"
#include "fs_super.h"
#include "fs_takeover.h"

#ifndef TKFS_VERSION
#define TKFS_VERSION "1"
#endif

#define TKFS_ENTRY_TIMEOUT 2.0   /* the kernel keeps dentries and inodes meanwhile */
#define TKFS_TICK_MS 100
#define TKFS_TICK_LINE 12        /* "tick 000042\n" */
#define TKFS_WAIT_POLL_US 10000
#define TKFS_MAX_THREADS 16

typedef enum {
    TK_DIR, TK_STATIC, TK_VERSION, TK_PID, TK_PPID, TK_GEN, TK_WAIT, TK_TICKS, TK_POISON,
} TkfsKind;

typedef struct {
    const char *name;
    int parent;
    TkfsKind kind;
    const char *content;
} TkfsEnt;

static const TkfsEnt tkfs_tree[] = {
    { "", -1, TK_DIR, NULL },
    { "hello", 0, TK_STATIC, "hello world\n" },
    { "version", 0, TK_VERSION, NULL },
    { "pid", 0, TK_PID, NULL },
    { "ppid", 0, TK_PPID, NULL },
    { "gen", 0, TK_GEN, NULL },
    { "wait", 0, TK_WAIT, NULL },
    { "ticks", 0, TK_TICKS, NULL },
    { "poison", 0, TK_POISON, NULL },
    { "dir", 0, TK_DIR, NULL },
    { "a", 9, TK_STATIC, "a\n" },
    { "b", 9, TK_STATIC, "bb\n" },
    { "c", 9, TK_STATIC, "ccc\n" },
    { "sub", 9, TK_DIR, NULL },
    { "deep", 13, TK_STATIC, "deep down\n" },
};
#define TKFS_N_ENTS ((int)G_N_ELEMENTS(tkfs_tree))

typedef struct {
    uint64_t ino;            /* hash key points here */
    uint64_t parent;
    uint64_t nlookup;
    int sid;                 /* index in tkfs_tree */
    char *key;               /* "parent/name" */
} TkfsNode;

static struct {
    GMutex lock;
    GHashTable *by_ino;      /* &ino -> TkfsNode */
    GHashTable *by_key;      /* key -> TkfsNode */
    GHashTable *handles;     /* &fh (boxed) -> ino (boxed) */
    uint64_t next_ino;
    uint64_t next_fh;
    Istore *store;
    Takeover *tk;
    char *state_dir;
    int log_fd;
    gint quitting;
    struct fuse_session *se;
    GMutex ph_lock;
    GPtrArray *phs;          /* poll handles waiting for DIR/release */
    GThread *watcher;
} tkfs;

/* ---- log: one file for every process of the chain ---- */

static void G_GNUC_PRINTF(1, 2)
tkfs_log(const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    g_autofree char *line = NULL;
    struct timespec ts;
    va_list ap;

    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &ts);
    line = g_strdup_printf("%lld.%03ld [%d] %s\n", (long long)ts.tv_sec, ts.tv_nsec / 1000000,
                           (int)getpid(), msg);
    if (tkfs.log_fd >= 0 && write(tkfs.log_fd, line, strlen(line)) < 0)
        fputs(line, stderr);
}

static void
tkfs_glog(const char *domain, GLogLevelFlags level, const char *msg, gpointer data)
{
    if (!(level & G_LOG_LEVEL_DEBUG))
        tkfs_log("%s", msg);
}

/* The supervisor closed every inherited descriptor: it opens the log for each line. */
static void
tkfs_super_log(int prio, const char *msg)
{
    g_autofree char *path = g_build_filename(tkfs.state_dir, "tkfs.log", NULL);

    tkfs.log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    tkfs_log("supervisor: %s", msg);
    close(tkfs.log_fd);
    tkfs.log_fd = -1;
}

static char *
tkfs_state_path(const char *name)
{
    return g_build_filename(tkfs.state_dir, name, NULL);
}

/* ---- the inode table, mirrored into the store ---- */

static void
tkfs_node_free(gpointer p)
{
    TkfsNode *n = p;

    g_free(n->key);
    g_free(n);
}

static int
tkfs_child_sid(int parent_sid, const char *name)
{
    for (int i = 1; i < TKFS_N_ENTS; i++) {
        if (tkfs_tree[i].parent == parent_sid && strcmp(tkfs_tree[i].name, name) == 0)
            return i;
    }
    return -1;
}

/* Lock held. */
static void
tkfs_mirror(const TkfsNode *n)
{
    IstoreNode rec = {
        .ino = n->ino, .parent = n->parent, .nlookup = n->nlookup,
        .name = tkfs_tree[n->sid].name,
    };

    if (tkfs.store && istore_node_put(tkfs.store, &rec) < 0)
        tkfs_log("store: cannot record node %" PRIu64, n->ino);
}

static TkfsNode *
tkfs_node_add(uint64_t ino, uint64_t parent, uint64_t nlookup, int sid)
{
    TkfsNode *n = g_new0(TkfsNode, 1);

    n->ino = ino;
    n->parent = parent;
    n->nlookup = nlookup;
    n->sid = sid;
    n->key = g_strdup_printf("%" PRIu64 "/%s", parent, tkfs_tree[sid].name);
    g_hash_table_insert(tkfs.by_ino, &n->ino, n);
    g_hash_table_insert(tkfs.by_key, n->key, n);
    if (ino >= tkfs.next_ino)
        tkfs.next_ino = ino + 1;
    return n;
}

static int
tkfs_sid_of(uint64_t ino)
{
    TkfsNode *n;
    int sid = -1;

    g_mutex_lock(&tkfs.lock);
    n = g_hash_table_lookup(tkfs.by_ino, &ino);
    if (n)
        sid = n->sid;
    g_mutex_unlock(&tkfs.lock);
    return sid;
}

/* Found or created, its lookup count raised; the store knows before the kernel does. */
static uint64_t
tkfs_lookup_node(uint64_t parent, const char *name, int *sid_out)
{
    g_autofree char *key = g_strdup_printf("%" PRIu64 "/%s", parent, name);
    TkfsNode *p, *n;
    uint64_t ino = 0;
    int sid;

    g_mutex_lock(&tkfs.lock);
    p = g_hash_table_lookup(tkfs.by_ino, &parent);
    if (!p || (sid = tkfs_child_sid(p->sid, name)) < 0)
        goto out;
    n = g_hash_table_lookup(tkfs.by_key, key);
    if (n)
        n->nlookup++;
    else
        n = tkfs_node_add(tkfs.next_ino, parent, 1, sid);
    tkfs_mirror(n);
    ino = n->ino;
    *sid_out = sid;
 out:
    g_mutex_unlock(&tkfs.lock);
    return ino;
}

static void
tkfs_forget_node(uint64_t ino, uint64_t nlookup)
{
    TkfsNode *n;

    g_mutex_lock(&tkfs.lock);
    n = g_hash_table_lookup(tkfs.by_ino, &ino);
    if (n && ino != FUSE_ROOT_ID) {
        n->nlookup = n->nlookup > nlookup ? n->nlookup - nlookup : 0;
        if (n->nlookup == 0) {
            if (tkfs.store)
                istore_node_drop(tkfs.store, ino);
            g_hash_table_remove(tkfs.by_key, n->key);
            g_hash_table_remove(tkfs.by_ino, &ino);
        } else {
            tkfs_mirror(n);
        }
    }
    g_mutex_unlock(&tkfs.lock);
}

static void
tkfs_load_node(const IstoreNode *rec, void *opaque)
{
    guint *bad = opaque;
    TkfsNode *p = g_hash_table_lookup(tkfs.by_ino, &rec->parent);
    int sid = p ? tkfs_child_sid(p->sid, rec->name) : -1;

    if (sid < 0) {
        (*bad)++;
        return;
    }
    tkfs_node_add(rec->ino, rec->parent, rec->nlookup, sid);
}

static void
tkfs_load_handle(uint64_t fh, const void *data, size_t len, void *opaque)
{
    uint64_t ino;

    if (len != sizeof(ino))
        return;
    memcpy(&ino, data, sizeof(ino));
    g_hash_table_insert(tkfs.handles, g_memdup2(&fh, sizeof(fh)), g_memdup2(&ino, sizeof(ino)));
}

static void
tkfs_table_init(void)
{
    guint bad = 0;

    tkfs.by_ino = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, tkfs_node_free);
    tkfs.by_key = g_hash_table_new(g_str_hash, g_str_equal);
    tkfs.handles = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    tkfs.next_ino = FUSE_ROOT_ID + 1;
    tkfs.next_fh = 1;
    tkfs_node_add(FUSE_ROOT_ID, 0, 1, 0);
    if (!tkfs.store)
        return;
    istore_foreach_node(tkfs.store, tkfs_load_node, &bad);
    istore_foreach_handle(tkfs.store, tkfs_load_handle, NULL);
    tkfs.next_ino = MAX(tkfs.next_ino, istore_next_ino(tkfs.store));
    tkfs.next_fh = MAX(tkfs.next_fh, istore_next_fh(tkfs.store));
    tkfs_log("loaded %u nodes, %u handles (%u unknown), next ino %" PRIu64 ", next fh %"
             PRIu64, g_hash_table_size(tkfs.by_ino) - 1, g_hash_table_size(tkfs.handles), bad,
             tkfs.next_ino, tkfs.next_fh);
}

static void
tkfs_table_free(void)
{
    g_hash_table_destroy(tkfs.by_key);
    g_hash_table_destroy(tkfs.by_ino);
    g_hash_table_destroy(tkfs.handles);
}

/* ---- contents ---- */

static uint64_t
tkfs_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The start of `ticks`, kept in the state directory so every process agrees. */
static uint64_t
tkfs_t0(void)
{
    static uint64_t t0;
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;

    if (t0)
        return t0;
    path = tkfs_state_path("t0");
    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        g_autofree char *now = g_strdup_printf("%" PRIu64 "\n", tkfs_now_ms());

        g_file_set_contents(path, now, -1, NULL);
        g_file_get_contents(path, &text, NULL, NULL);
    }
    t0 = text ? g_ascii_strtoull(text, NULL, 10) : tkfs_now_ms();
    return t0;
}

static uint64_t
tkfs_ticks_size(void)
{
    return (tkfs_now_ms() - tkfs_t0()) / TKFS_TICK_MS * TKFS_TICK_LINE;
}

/* Content of a file that is not blocking nor growing. */
static char *
tkfs_content(int sid)
{
    switch (tkfs_tree[sid].kind) {
    case TK_STATIC:
        return g_strdup(tkfs_tree[sid].content);
    case TK_VERSION:
        return g_strdup(TKFS_VERSION "\n");
    case TK_PID:
        return g_strdup_printf("%d\n", (int)getpid());
    case TK_PPID:
        return g_strdup_printf("%d\n", (int)getppid());
    case TK_GEN:
        return g_strdup_printf("%" PRIu64 "\n", takeover_generation(tkfs.tk));
    default:
        return g_strdup("");
    }
}

static bool
tkfs_dynamic(int sid)
{
    TkfsKind k = tkfs_tree[sid].kind;

    return k != TK_STATIC && k != TK_DIR;
}

static void
tkfs_stat(uint64_t ino, int sid, struct stat *st)
{
    g_autofree char *c = NULL;

    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_uid = getuid();
    st->st_gid = getgid();
    if (tkfs_tree[sid].kind == TK_DIR) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return;
    }
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    if (tkfs_tree[sid].kind == TK_TICKS)
        st->st_size = tkfs_ticks_size();
    else if (tkfs_tree[sid].kind == TK_WAIT || tkfs_tree[sid].kind == TK_POISON)
        st->st_size = 4096;
    else
        st->st_size = strlen(c = tkfs_content(sid));
}

/* ---- operations ---- */

/* DIR/crash-on-init: die while answering the kernel's FUSE_INIT (once), so that the
 * next server must get INIT again from the kernel (resent) instead of from the
 * supervisor. */
static void
tkfs_init(void *userdata, struct fuse_conn_info *conn)
{
    g_autofree char *crash = tkfs_state_path("crash-on-init");

    if (unlink(crash) == 0) {
        tkfs_log("crash-on-init: aborting in FUSE_INIT");
        abort();
    }
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

static void
tkfs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fuse_entry_param e = { 0 };
    int sid = -1;

    e.ino = tkfs_lookup_node(parent, name, &sid);
    if (!e.ino) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    tkfs_stat(e.ino, sid, &e.attr);
    e.entry_timeout = TKFS_ENTRY_TIMEOUT;
    e.attr_timeout = tkfs_dynamic(sid) ? 0 : TKFS_ENTRY_TIMEOUT;
    if (fuse_reply_entry(req, &e) != 0)
        tkfs_forget_node(e.ino, 1);
}

static void
tkfs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    tkfs_forget_node(ino, nlookup);
    fuse_reply_none(req);
}

static void
tkfs_op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    for (size_t i = 0; i < count; i++)
        tkfs_forget_node(forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static void
tkfs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    int sid = tkfs_sid_of(ino);
    struct stat st;

    if (sid < 0) {
        tkfs_log("getattr of unknown inode %" PRIu64, (uint64_t)ino);
        fuse_reply_err(req, ESTALE);
        return;
    }
    tkfs_stat(ino, sid, &st);
    fuse_reply_attr(req, &st, tkfs_dynamic(sid) ? 0 : TKFS_ENTRY_TIMEOUT);
}

static void
tkfs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
                struct fuse_file_info *fi)
{
    int sid = tkfs_sid_of(ino);
    g_autofree char *buf = g_malloc(size);
    size_t used = 0;
    off_t o = 0;

    if (sid < 0 || tkfs_tree[sid].kind != TK_DIR) {
        fuse_reply_err(req, sid < 0 ? ESTALE : ENOTDIR);
        return;
    }
    for (int i = 0; i < TKFS_N_ENTS; i++) {
        struct stat st = { 0 };
        const char *name = i == 0 ? "." : tkfs_tree[i].name;
        size_t n;

        if (i != 0 && tkfs_tree[i].parent != sid)
            continue;
        if (++o <= off)
            continue;
        st.st_ino = i == 0 ? ino : 0x100000u + i;
        st.st_mode = (i == 0 || tkfs_tree[i].kind == TK_DIR) ? S_IFDIR : S_IFREG;
        n = fuse_add_direntry(req, buf + used, size - used, name, &st, o);
        if (n > size - used)
            break;
        used += n;
    }
    fuse_reply_buf(req, buf, used);
}

static void
tkfs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    int sid = tkfs_sid_of(ino);
    uint64_t ino64 = ino;
    uint64_t fh;

    if (sid < 0) {
        tkfs_log("open of unknown inode %" PRIu64, ino64);
        fuse_reply_err(req, ESTALE);
        return;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        fuse_reply_err(req, EACCES);
        return;
    }
    g_mutex_lock(&tkfs.lock);
    fh = tkfs.next_fh++;
    g_hash_table_insert(tkfs.handles, g_memdup2(&fh, sizeof(fh)), g_memdup2(&ino64, sizeof(ino64)));
    if (tkfs.store)
        istore_handle_put(tkfs.store, fh, &ino64, sizeof(ino64));
    g_mutex_unlock(&tkfs.lock);
    fi->fh = fh;
    fi->direct_io = tkfs_dynamic(sid);
    fi->keep_cache = !tkfs_dynamic(sid);
    fuse_reply_open(req, fi);
}

static bool
tkfs_handle_known(uint64_t fh, uint64_t ino)
{
    uint64_t *v;
    bool ok;

    g_mutex_lock(&tkfs.lock);
    v = g_hash_table_lookup(tkfs.handles, &fh);
    ok = v && *v == ino;
    g_mutex_unlock(&tkfs.lock);
    return ok;
}

/* The event of the blocking file: DIR/release exists and is not empty (a writer that
 * created it may not have written yet). Its content in *TEXT if TEXT. */
static bool
tkfs_released(char **text, gsize *len)
{
    g_autofree char *path = tkfs_state_path("release");
    g_autofree char *t = NULL;
    gsize n = 0;

    if (!g_file_get_contents(path, &t, &n, NULL) || n == 0)
        return false;
    if (text) {
        *text = g_steal_pointer(&t);
        *len = n;
    }
    return true;
}

/* The blocking file: the read waits until the event, then returns the release file's
 * content. A handover may leave it unanswered: the next server gets it again. */
static void
tkfs_read_wait(fuse_req_t req, off_t off)
{
    g_autofree char *text = NULL;
    gsize len = 0;

    takeover_park_current();
    while (!tkfs_released(&text, &len)) {
        if (fuse_req_interrupted(req)) {
            fuse_reply_err(req, EINTR);
            return;
        }
        if (g_atomic_int_get(&tkfs.quitting)) {
            fuse_reply_err(req, EIO);
            return;
        }
        g_usleep(TKFS_WAIT_POLL_US);
    }
    if ((gsize)off >= len)
        fuse_reply_buf(req, NULL, 0);
    else
        fuse_reply_buf(req, text + off, len - off);
}

static void
tkfs_read_ticks(fuse_req_t req, size_t size, off_t off)
{
    uint64_t end = tkfs_ticks_size();
    g_autofree char *buf = NULL;
    uint64_t first, last;
    GString *s;

    if ((uint64_t)off >= end) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    first = off / TKFS_TICK_LINE;
    last = MIN(end, off + size + TKFS_TICK_LINE) / TKFS_TICK_LINE;
    s = g_string_sized_new((last - first) * TKFS_TICK_LINE);
    for (uint64_t i = first; i < last; i++)
        g_string_append_printf(s, "tick %06" PRIu64 "\n", i % 1000000);
    size = MIN(size, MIN(end, last * TKFS_TICK_LINE) - off);
    fuse_reply_buf(req, s->str + (off - first * TKFS_TICK_LINE), size);
    g_string_free(s, TRUE);
}

static void
tkfs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
             struct fuse_file_info *fi)
{
    int sid = tkfs_sid_of(ino);
    g_autofree char *c = NULL;
    size_t len;

    if (sid < 0 || !tkfs_handle_known(fi->fh, ino)) {
        tkfs_log("read of unknown %s (ino %" PRIu64 ", fh %" PRIu64 ")",
                 sid < 0 ? "inode" : "handle", (uint64_t)ino, (uint64_t)fi->fh);
        fuse_reply_err(req, sid < 0 ? ESTALE : EBADF);
        return;
    }
    switch (tkfs_tree[sid].kind) {
    case TK_WAIT:
        tkfs_read_wait(req, off);
        return;
    case TK_TICKS:
        tkfs_read_ticks(req, size, off);
        return;
    case TK_POISON:
        tkfs_log("poison read: crashing");
        abort();
    default:
        c = tkfs_content(sid);
        len = strlen(c);
        if ((size_t)off >= len)
            fuse_reply_buf(req, NULL, 0);
        else
            fuse_reply_buf(req, c + off, MIN(size, len - off));
    }
}

static void
tkfs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    uint64_t fh = fi->fh;

    g_mutex_lock(&tkfs.lock);
    g_hash_table_remove(tkfs.handles, &fh);
    if (tkfs.store)
        istore_handle_drop(tkfs.store, fh);
    g_mutex_unlock(&tkfs.lock);
    fuse_reply_err(req, 0);
}

/* poll() on the blocking file, as sysfs-like files do: readable once released; until
 * then the poll handle waits for the watcher thread. */
static void
tkfs_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
             struct fuse_pollhandle *ph)
{
    int sid = tkfs_sid_of(ino);

    if (sid < 0 || tkfs_tree[sid].kind != TK_WAIT || tkfs_released(NULL, NULL)) {
        if (ph)
            fuse_pollhandle_destroy(ph);
        fuse_reply_poll(req, POLLIN);
        return;
    }
    if (ph) {
        g_mutex_lock(&tkfs.ph_lock);
        g_ptr_array_add(tkfs.phs, ph);
        g_mutex_unlock(&tkfs.ph_lock);
    }
    fuse_reply_poll(req, 0);
}

static gpointer
tkfs_watch(gpointer data)
{
    while (!g_atomic_int_get(&tkfs.quitting)) {
        g_usleep(TKFS_WAIT_POLL_US);
        if (!tkfs_released(NULL, NULL))
            continue;
        g_mutex_lock(&tkfs.ph_lock);
        for (guint i = 0; i < tkfs.phs->len; i++)
            fuse_lowlevel_notify_poll(tkfs.phs->pdata[i]);
        g_ptr_array_set_size(tkfs.phs, 0);
        g_mutex_unlock(&tkfs.ph_lock);
    }
    return NULL;
}

static const struct fuse_lowlevel_ops tkfs_ops = {
    .init = tkfs_init,
    .lookup = tkfs_op_lookup,
    .forget = tkfs_op_forget,
    .forget_multi = tkfs_op_forget_multi,
    .getattr = tkfs_op_getattr,
    .readdir = tkfs_op_readdir,
    .open = tkfs_op_open,
    .read = tkfs_op_read,
    .release = tkfs_op_release,
    .poll = tkfs_op_poll,
};

/* ---- start-up ---- */

typedef struct {
    char *state_dir;
    char *opts;             /* -o, or NULL */
    bool foreground;        /* -f: the supervisor stays in the foreground */
    bool single;            /* -d: no supervisor */
    char *mountpoint;
} TkfsArgs;

static int
tkfs_parse(int argc, char **argv, TkfsArgs *a)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
            a->state_dir = realpath(argv[++i], NULL);
        else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc)
            a->opts = g_strdup(argv[++i]);
        else if (strcmp(argv[i], "-f") == 0)
            a->foreground = true;
        else if (strcmp(argv[i], "-d") == 0)
            a->single = true;
        else if (argv[i][0] != '-' && !a->mountpoint)
            a->mountpoint = realpath(argv[i], NULL);
        else
            return -1;
    }
    if (!a->mountpoint)
        return -1;
    if (!a->state_dir)
        a->state_dir = g_strdup("/tmp");
    return 0;
}

/* The supervisor runs servers with absolute paths, from /: in the background (this
 * process exits once the mount serves) or, with -f, in this very process. */
static int G_GNUC_NORETURN
tkfs_supervise(const TkfsArgs *a, const char *argv0)
{
    g_autofree char *exe = super_resolve_exe();
    g_autoptr(GPtrArray) av = g_ptr_array_new();
    SuperConfig cfg = { 0 };
    int ret;

    g_ptr_array_add(av, (char *)argv0);
    g_ptr_array_add(av, "--state");
    g_ptr_array_add(av, a->state_dir);
    if (a->opts) {
        g_ptr_array_add(av, "-o");
        g_ptr_array_add(av, a->opts);
    }
    g_ptr_array_add(av, a->mountpoint);
    g_ptr_array_add(av, NULL);
    cfg.exe = exe;
    cfg.argv = (char *const *)av->pdata;
    cfg.mountpoint = a->mountpoint;
    cfg.log = tkfs_super_log;
    cfg.store_region_bytes = 1 << 20;
    cfg.foreground = a->foreground;
    if (a->foreground) {
        ret = super_run(&cfg, -1);
        tkfs_log("supervisor: exit %d", ret);
        free(a->mountpoint);
        free(a->state_dir);
        g_free(a->opts);
        exit(ret);
    }
    ret = super_daemonize(&cfg);
    fprintf(stderr, "tkfs: cannot start the supervisor: %s\n", g_strerror(-ret));
    exit(1);
}

static void
tkfs_open_store(void)
{
    int fd = tkfs.tk ? takeover_store_fd(tkfs.tk) : istore_create(1 << 20);
    int ret = fd < 0 ? fd : istore_open(fd, &tkfs.store);

    if (ret < 0)
        tkfs_log("no inode store (%s): inode numbers start afresh", g_strerror(-ret));
}

static struct fuse_session *
tkfs_session(const TkfsArgs *a, struct fuse_args *args)
{
    struct fuse_session *se;

    if (takeover_has_connection(tkfs.tk))
        return takeover_session_new(tkfs.tk, args, &tkfs_ops, sizeof(tkfs_ops), NULL);
    se = fuse_session_new(args, &tkfs_ops, sizeof(tkfs_ops), NULL);
    if (!se)
        return NULL;
    if (fuse_session_mount(se, a->mountpoint) != 0 ||
        takeover_adopt_session(tkfs.tk, se) < 0) {
        fuse_session_destroy(se);
        return NULL;
    }
    return se;
}

static void
tkfs_detach_stdio(void)
{
    int fd = open("/dev/null", O_RDWR);

    if (fd < 0)
        return;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
}

static void
tkfs_start_delay(void)
{
    const char *d = getenv("TKFS_START_DELAY_MS");
    g_autofree char *crash = tkfs_state_path("crash-at-start");

    if (access(crash, F_OK) == 0) {
        tkfs_log("crash-at-start exists: aborting");
        abort();
    }
    if (d)
        g_usleep(g_ascii_strtoull(d, NULL, 10) * 1000);
}

static void
tkfs_handing_over(void *opaque)
{
    tkfs_log("handing over");
}

static int
tkfs_serve(const TkfsArgs *a, struct fuse_args *args)
{
    struct fuse_loop_config *cfg;
    bool taken_over = takeover_has_connection(tkfs.tk);
    int ret;

    tkfs_start_delay();
    if (takeover_wait_turn(tkfs.tk) < 0)
        return 1;
    tkfs_log("my turn");
    tkfs_open_store();
    tkfs_table_init();
    tkfs.se = tkfs_session(a, args);
    if (!tkfs.se)
        return 1;
    fuse_set_signal_handlers(tkfs.se);
    ret = takeover_resend(tkfs.tk);
    tkfs_log("serving: version %s, generation %" PRIu64 ", %s, resend %s", TKFS_VERSION,
             takeover_generation(tkfs.tk), taken_over ? "taken over" : "mounted",
             ret == 0 ? "ok" : g_strerror(-ret));
    tkfs.phs = g_ptr_array_new_with_free_func((GDestroyNotify)fuse_pollhandle_destroy);
    tkfs.watcher = g_thread_new("watch", tkfs_watch, NULL);
    takeover_set_stop_fn(tkfs.tk, tkfs_handing_over, NULL);
    takeover_ready(tkfs.tk);
    if (tkfs.tk && !takeover_foreground(tkfs.tk))
        tkfs_detach_stdio();
    cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, TKFS_MAX_THREADS);
    ret = fuse_session_loop_mt(tkfs.se, cfg);
    fuse_loop_cfg_destroy(cfg);
    takeover_after_loop(tkfs.tk);
    g_atomic_int_set(&tkfs.quitting, 1);
    g_thread_join(tkfs.watcher);
    g_ptr_array_unref(tkfs.phs);
    tkfs_log("loop ended (%d): unmounting", ret);
    takeover_unmount(tkfs.tk, tkfs.se, a->mountpoint);
    fuse_remove_signal_handlers(tkfs.se);
    fuse_session_destroy(tkfs.se);
    return 0;
}

int
main(int argc, char **argv)
{
    TkfsArgs a = { 0 };
    g_autofree char *log_path = NULL;
    char *fargv[4] = { argv[0], NULL, NULL, NULL };
    struct fuse_args args;
    int ret;

    tkfs.tk = takeover_attach();
    tkfs.log_fd = -1;
    if (tkfs_parse(argc, argv, &a) < 0) {
        fprintf(stderr, "usage: %s [--state DIR] [-o OPTIONS] [-f | -d] MOUNTPOINT\n",
                argv[0]);
        return 2;
    }
    tkfs.state_dir = a.state_dir;
    log_path = tkfs_state_path("tkfs.log");
    tkfs.log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    g_log_set_default_handler(tkfs_glog, NULL);
    if (!a.single && !tkfs.tk)
        tkfs_supervise(&a, argv[0]);
    if (a.opts) {
        fargv[1] = "-o";
        fargv[2] = a.opts;
    }
    args = (struct fuse_args)FUSE_ARGS_INIT(a.opts ? 3 : 1, fargv);
    ret = tkfs_serve(&a, &args);
    tkfs_table_free();
    istore_close(tkfs.store);
    fuse_opt_free_args(&args);
    tkfs_log("exit %d", ret);
    close(tkfs.log_fd);
    free(a.mountpoint);
    free(a.state_dir);
    g_free(a.opts);
    return ret;
}
