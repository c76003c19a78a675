/* fs_ops.c - the FUSE low-level operations: small handlers that resolve an inode to a
 * tree node (fs_inode.c), ask the tree (lib/tree.c) and reply, returning errno values.
 *
 * Caching: entries and attributes get long timeouts and read-only snapshot files keep the
 * page cache across opens; fs_notify.c invalidates them on every change. Writable files,
 * streams (console.log, .domfs/events) and computed files (.domfs/connection, metrics) are
 * direct I/O with a zero attribute timeout, so what the kernel holds can never go stale
 * for them. A snapshot file's content is rendered once at open: reads at any offset of one
 * open file see one consistent value, like sysfs's seq_file. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dom_action.h"
#include "fs.h"
#include "fs_inode.h"
#include "metrics.h"

#define FS_TIMEOUT_LONG 86400.0

typedef enum {
    FH_CONTENT,   /* a rendered value */
    FH_CONSOLE,
    FH_EVENTS,
} FsFileKind;

typedef struct {
    FsFileKind kind;
    bool append;          /* opened O_APPEND: writes are refused (one value per write) */
    GString *content;
    DomInfo *snap;        /* the snapshot CONTENT was rendered from, if any */
    bool cached;          /* opened with keep_cache: the kernel keeps what we return */
    TreeNode tn;
    ConsHandle *console;
    EvReader *events;
    volatile int interrupted;
    struct fuse_pollhandle *ph;
    GMutex ph_lock;
} FsFile;

typedef struct {
    GPtrArray *entries;   /* TreeDirent */
} FsDir;

FsState fs_state;

/* ---- attributes ---- */

static mode_t
fs_mode(const TreeAttr *attr)
{
    mode_t umask_bits = fs_state.opts->umask;
    mode_t m;

    if (attr->is_dir)
        return S_IFDIR | (0777 & ~umask_bits);
    m = attr->writable && !fs_state.opts->read_only ? 0666 : 0444;
    return S_IFREG | (m & ~umask_bits);
}

static double
fs_attr_timeout(const TreeAttr *attr)
{
    if (attr->is_dir || (attr->flavor == TF_SNAPSHOT && !attr->writable))
        return FS_TIMEOUT_LONG;
    /* writable files too: their size follows the domain, not the writes */
    return attr->flavor == TF_SNAPSHOT ? 1.0 : 0.0;
}

/* The console log of a guest: *OUT is NULL when it has none (an empty file); -EACCES when
 * its path is outside the allowed directories (logged, never opened). */
static int
fs_console_log(const TreeNode *tn, ConsLog **out)
{
    g_autoptr(DomInfo) d = tree_guest_info(fs_state.tree, tn);
    g_autofree char *local = NULL;
    g_autofree char *why = NULL;

    *out = NULL;
    if (!d || !d->console_log || !*d->console_log)
        return 0;
    /* a remote host's log paths mean nothing here without a log root */
    if (!fs_state.policies[tn->conn].log_root &&
        conn_is_remote(tree_conn(fs_state.tree, tn->conn)))
        return 0;
    if (cons_resolve(&fs_state.policies[tn->conn], d->console_log, &local, &why) < 0) {
        g_warning("%s: console.log refused: %s", d->name, why ? why : d->console_log);
        return -EACCES;
    }
    *out = cons_registry_get(fs_state.consoles[tn->conn], local);
    return 0;
}

/* After a reply built from snapshot USED: if the guest changed meanwhile, the notifier may
 * already have invalidated the inode before our (old) reply reached the kernel, which
 * would then keep the old value until the next change; so invalidate once more. */
static void
fs_recheck(fuse_ino_t ino, const TreeNode *tn, DomInfo *used)
{
    g_autoptr(DomInfo) cur = NULL;

    if (!used)
        return;
    cur = tree_guest_info(fs_state.tree, tn);
    if (cur != used)
        notify_inval_later(ino);
}

/* Size of a file as a read would return it now (see tree_read_snapshot for USED). */
static int
fs_file_size(const TreeNode *tn, const TreeAttr *attr, off_t *size, DomInfo **used)
{
    g_autoptr(GString) s = NULL;
    ConsLog *log;
    uint64_t sz = 0;
    int ret;

    switch (attr->flavor) {
    case TF_SNAPSHOT:
    case TF_CONNECTION:
        s = g_string_new(NULL);
        if ((ret = tree_read_snapshot(fs_state.tree, tn, s, used)) < 0)
            return ret;
        *size = (off_t)s->len;
        return 0;
    case TF_METRICS:
        s = g_string_new(NULL);
        metrics_render(fs_state.tree, tn->conn, s);
        *size = (off_t)s->len;
        return 0;
    case TF_CONSOLE:
        /* stat works on a refused log (size 0); open says EACCES */
        if (fs_console_log(tn, &log) == 0 && log && cons_log_size(log, &sz) < 0)
            sz = 0;
        *size = (off_t)sz;
        return 0;
    case TF_EVENTS:
        *size = 0;
        return 0;
    }
    return -EINVAL;
}

static int
fs_fill_stat(fuse_ino_t ino, const TreeNode *tn, const TreeAttr *attr, struct stat *st,
             DomInfo **used)
{
    off_t size = 0;
    int ret;

    memset(st, 0, sizeof(*st));
    if (!attr->is_dir && (ret = fs_file_size(tn, attr, &size, used)) < 0)
        return ret;
    st->st_ino = ino;
    st->st_mode = fs_mode(attr);
    st->st_nlink = attr->is_dir ? 2 : 1;
    st->st_uid = fs_state.opts->uid;
    st->st_gid = fs_state.opts->gid;
    st->st_size = size;
    st->st_blksize = 4096;
    st->st_blocks = (size + 511) / 512;
    st->st_atime = st->st_mtime = st->st_ctime = fs_state.mount_time;
    return 0;
}

/* ---- lookup, attributes ---- */

static int
fs_entry(fuse_ino_t parent, const char *name, struct fuse_entry_param *e, DomInfo **used,
         TreeNode *tn_out)
{
    FsNodeRef p = { 0 };
    TreeNode tn = { 0 };
    TreeAttr attr;
    int ret;

    memset(e, 0, sizeof(*e));
    if ((ret = ino_get(parent, &p)) < 0)
        return ret;
    ret = tree_child(fs_state.tree, &p.tn, name, &tn, &attr);
    ino_ref_clear(&p);
    if (ret < 0)
        return ret;
    if ((ret = fs_fill_stat(0, &tn, &attr, &e->attr, used)) < 0) {
        tree_node_clear(&tn);
        return ret;
    }
    if (tn_out)
        tree_node_copy(tn_out, &tn);
    if (attr.blocking) {
        /* a blocking write (migrate) holds its inode's lock in the kernel until it ends:
         * a second `echo cancel >` (O_TRUNC needs that lock) would wait behind it, so
         * every lookup yields a fresh inode, never cached: each open gets its own lock */
        e->ino = ino_lookup_unique(parent, name, &tn);
        e->entry_timeout = 0;
    } else {
        e->ino = ino_lookup_add(parent, name, &tn);
        e->entry_timeout = FS_TIMEOUT_LONG;
    }
    if (!e->ino)
        return -ENOENT;
    e->attr.st_ino = e->ino;
    e->attr_timeout = fs_attr_timeout(&attr);
    return 0;
}

static void
fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fuse_entry_param e;
    g_autoptr(DomInfo) used = NULL;
    TreeNode tn = { 0 };
    int ret = fs_entry(parent, name, &e, &used, &tn);

    if (ret == -ENOENT) {
        /* a negative entry: fs_notify.c invalidates it when the name appears */
        memset(&e, 0, sizeof(e));
        e.entry_timeout = FS_TIMEOUT_LONG;
        fuse_reply_entry(req, &e);
        return;
    }
    if (ret < 0) {
        fuse_reply_err(req, -ret);
        return;
    }
    if (fuse_reply_entry(req, &e) != 0)
        ino_forget(e.ino, 1);
    else
        fs_recheck(e.ino, &tn, used);
    tree_node_clear(&tn);
}

static void
fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    ino_forget(ino, nlookup);
    fuse_reply_none(req);
}

static void
fs_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    for (size_t i = 0; i < count; i++)
        ino_forget(forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

static int
fs_stat_ino(fuse_ino_t ino, struct stat *st, TreeAttr *attr, DomInfo **used, TreeNode *tn)
{
    FsNodeRef r = { 0 };
    int ret;

    if ((ret = ino_get(ino, &r)) < 0)
        return ret;
    if ((ret = tree_stat(fs_state.tree, &r.tn, attr)) == 0)
        ret = fs_fill_stat(ino, &r.tn, attr, st, used);
    if (tn)
        tree_node_copy(tn, &r.tn);
    ino_ref_clear(&r);
    return ret;
}

static void
fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct stat st;
    TreeAttr attr;
    g_autoptr(DomInfo) used = NULL;
    TreeNode tn = { 0 };
    int ret = fs_stat_ino(ino, &st, &attr, &used, &tn);

    if (ret < 0) {
        fuse_reply_err(req, -ret);
    } else {
        fuse_reply_attr(req, &st, fs_attr_timeout(&attr));
        fs_recheck(ino, &tn, used);
    }
    tree_node_clear(&tn);
}

static void
fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *in, int to_set,
           struct fuse_file_info *fi)
{
    struct stat st;
    TreeAttr attr;
    int ret = fs_stat_ino(ino, &st, &attr, NULL, NULL);

    if (ret < 0) {
        fuse_reply_err(req, -ret);
        return;
    }
    /* only what `echo x > file` needs: truncation to 0 of a writable file, a no-op */
    if (to_set != FUSE_SET_ATTR_SIZE || in->st_size != 0 || attr.is_dir) {
        fuse_reply_err(req, EPERM);
        return;
    }
    if (!attr.writable) {
        fuse_reply_err(req, EACCES);
        return;
    }
    if (fs_state.opts->read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    fuse_reply_attr(req, &st, fs_attr_timeout(&attr));
}

/* ---- directories ---- */

static void
fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FsNodeRef r = { 0 };
    FsDir *dir;
    GPtrArray *list = NULL;
    int ret;

    if ((ret = ino_get(ino, &r)) < 0) {
        fuse_reply_err(req, -ret);
        return;
    }
    ret = tree_list(fs_state.tree, &r.tn, &list);
    ino_ref_clear(&r);
    if (ret < 0) {
        fuse_reply_err(req, -ret);
        return;
    }
    dir = g_new0(FsDir, 1);
    dir->entries = list;
    fi->fh = (uint64_t)(uintptr_t)dir;
    if (fuse_reply_open(req, fi) != 0) {
        g_ptr_array_unref(dir->entries);
        g_free(dir);
    }
}

static void
fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FsDir *dir = (FsDir *)(uintptr_t)fi->fh;

    g_ptr_array_unref(dir->entries);
    g_free(dir);
    fuse_reply_err(req, 0);
}

/* Offsets: 1 and 2 are "." and "..", 3 + i is entry i. */
static void
fs_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
              struct fuse_file_info *fi, bool plus)
{
    FsDir *dir = (FsDir *)(uintptr_t)fi->fh;
    g_autofree char *buf = g_malloc(MIN(size, 1 << 20));
    size_t cap = MIN(size, 1 << 20);
    size_t used = 0;

    for (off_t o = off; ; o++) {
        struct fuse_entry_param e = { 0 };
        const char *name;
        size_t n;

        if (o == 0 || o == 1) {
            name = o == 0 ? "." : "..";
            e.attr.st_ino = ino;
            e.attr.st_mode = S_IFDIR;
        } else if ((guint)(o - 2) < dir->entries->len) {
            TreeDirent *de = g_ptr_array_index(dir->entries, o - 2);

            name = de->name;
            if (plus) {
                if (fs_entry(ino, name, &e, NULL, NULL) < 0)
                    continue;   /* gone since opendir */
            } else {
                e.attr.st_ino = ino_child(ino, name);
                if (!e.attr.st_ino)
                    e.attr.st_ino = g_str_hash(name) | 0x80000000u;
                e.attr.st_mode = de->is_dir ? S_IFDIR : S_IFREG;
            }
        } else {
            break;
        }
        if (plus && o >= 2)
            n = fuse_add_direntry_plus(req, buf + used, cap - used, name, &e, o + 1);
        else if (plus)
            n = fuse_add_direntry_plus(req, buf + used, cap - used, name,
                                       &(struct fuse_entry_param){ .attr = e.attr }, o + 1);
        else
            n = fuse_add_direntry(req, buf + used, cap - used, name, &e.attr, o + 1);
        if (n > cap - used) {
            if (plus && o >= 2)
                ino_forget(e.ino, 1);
            break;
        }
        used += n;
    }
    fuse_reply_buf(req, buf, used);
}

static void
fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    fs_do_readdir(req, ino, size, off, fi, false);
}

static void
fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
               struct fuse_file_info *fi)
{
    fs_do_readdir(req, ino, size, off, fi, true);
}

/* ---- files ---- */

/* Open files by handle. The kernel has been seen (6.x, page-cache readahead) to send a
 * RELEASE while a READ of the same handle is still being answered; handles are therefore
 * reference-counted and looked up in this set, so a late READ finds nothing (EBADF)
 * instead of freed memory. */
static GMutex fs_files_lock;
static GHashTable *fs_files;

static void
fs_file_clear(gpointer p)
{
    FsFile *f = p;

    if (f->content)
        g_string_free(f->content, TRUE);
    dom_info_unref(f->snap);
    tree_node_clear(&f->tn);
    if (f->console)
        cons_close(f->console);
    ev_reader_free(f->events);
    if (f->ph)
        fuse_pollhandle_destroy(f->ph);
    g_mutex_clear(&f->ph_lock);
}

static void
fs_file_unref(FsFile *f)
{
    if (f)
        g_atomic_rc_box_release_full(f, fs_file_clear);
}

static void
fs_file_publish(FsFile *f, struct fuse_file_info *fi)
{
    g_mutex_lock(&fs_files_lock);
    if (!fs_files)
        fs_files = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_hash_table_add(fs_files, f);
    g_mutex_unlock(&fs_files_lock);
    fi->fh = (uint64_t)(uintptr_t)f;
}

/* A new reference to the open file of FI, or NULL when it was released. */
static FsFile *
fs_file_get(struct fuse_file_info *fi)
{
    FsFile *f = (FsFile *)(uintptr_t)fi->fh;

    g_mutex_lock(&fs_files_lock);
    if (fs_files && g_hash_table_contains(fs_files, f))
        g_atomic_rc_box_acquire(f);
    else
        f = NULL;
    g_mutex_unlock(&fs_files_lock);
    return f;
}

/* Remove FI's file from the set; returns the set's reference. */
static FsFile *
fs_file_take(struct fuse_file_info *fi)
{
    FsFile *f = (FsFile *)(uintptr_t)fi->fh;

    g_mutex_lock(&fs_files_lock);
    if (!fs_files || !g_hash_table_remove(fs_files, f))
        f = NULL;
    g_mutex_unlock(&fs_files_lock);
    return f;
}

static EvStream *
fs_events_of(const TreeNode *tn)
{
    return tn->conn >= 0 ? fs_state.events[tn->conn] : fs_state.top_events;
}

/* Poll handles of open .domfs/events files, woken by the streams' notify function. */
static GMutex fs_pollers_lock;
static GPtrArray *fs_pollers;

static void
fs_events_notify(void *opaque)
{
    g_mutex_lock(&fs_pollers_lock);
    for (guint i = 0; fs_pollers && i < fs_pollers->len; i++) {
        FsFile *f = g_ptr_array_index(fs_pollers, i);

        g_mutex_lock(&f->ph_lock);
        if (f->ph && ev_reader_ready(f->events)) {
            fuse_lowlevel_notify_poll(f->ph);
            fuse_pollhandle_destroy(f->ph);
            f->ph = NULL;
        }
        g_mutex_unlock(&f->ph_lock);
    }
    g_mutex_unlock(&fs_pollers_lock);
}

void fs_events_setup(void);

void
fs_events_setup(void)
{
    fs_pollers = g_ptr_array_new();
    for (guint i = 0; i < tree_n_conns(fs_state.tree); i++)
        ev_stream_set_notify(fs_state.events[i], fs_events_notify, NULL);
    if (fs_state.top_events)
        ev_stream_set_notify(fs_state.top_events, fs_events_notify, NULL);
}

static int
fs_open_file(const TreeNode *tn, const TreeAttr *attr, struct fuse_file_info *fi,
             FsFile **out)
{
    g_autoptr(GString) content = NULL;
    FsFile *f = g_atomic_rc_box_new0(FsFile);
    ConsLog *log;
    int ret;

    g_mutex_init(&f->ph_lock);
    switch (attr->flavor) {
    case TF_SNAPSHOT:
    case TF_CONNECTION:
    case TF_METRICS:
        content = g_string_new(NULL);
        if (attr->flavor == TF_METRICS)
            ret = metrics_render(fs_state.tree, tn->conn, content);
        else
            ret = tree_read_snapshot(fs_state.tree, tn, content, &f->snap);
        tree_node_copy(&f->tn, tn);
        if (ret < 0)
            goto error;
        f->kind = FH_CONTENT;
        f->content = g_steal_pointer(&content);
        fi->keep_cache = attr->flavor == TF_SNAPSHOT && !attr->writable;
        fi->direct_io = !fi->keep_cache;
        f->cached = fi->keep_cache;
        break;
    case TF_CONSOLE:
        f->kind = FH_CONSOLE;
        if ((ret = fs_console_log(tn, &log)) < 0)
            goto error;
        if (log && (ret = cons_open(log, &f->console)) < 0)
            goto error;
        fi->direct_io = 1;
        break;
    case TF_EVENTS:
        f->kind = FH_EVENTS;
        f->events = ev_reader_new(fs_events_of(tn));
        fi->direct_io = 1;
        fi->nonseekable = 1;
        g_mutex_lock(&fs_pollers_lock);
        g_ptr_array_add(fs_pollers, f);
        g_mutex_unlock(&fs_pollers_lock);
        break;
    }
    *out = f;
    return 0;

 error:
    fs_file_unref(f);
    return ret;
}

static void
fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FsNodeRef r = { 0 };
    FsFile *f = NULL;
    TreeAttr attr;
    int ret;

    if ((ret = ino_get(ino, &r)) < 0 || (ret = tree_stat(fs_state.tree, &r.tn, &attr)) < 0)
        goto reply;
    if (attr.is_dir) {
        ret = -EISDIR;
        goto reply;
    }
    if ((fi->flags & O_ACCMODE) != O_RDONLY) {
        /* root passes default_permissions' mode check: refuse here too */
        if (!attr.writable) {
            ret = -EACCES;
            goto reply;
        }
        if (fs_state.opts->read_only) {
            ret = -EROFS;
            goto reply;
        }
    }
    if ((ret = fs_open_file(&r.tn, &attr, fi, &f)) == 0)
        f->append = (fi->flags & O_APPEND) != 0;

 reply:
    ino_ref_clear(&r);
    if (ret < 0) {
        fuse_reply_err(req, -ret);
        return;
    }
    fs_file_publish(f, fi);
    if (fuse_reply_open(req, fi) != 0)
        fs_file_unref(fs_file_take(fi));
}

static void
fs_events_interrupt(fuse_req_t req, void *data)
{
    FsFile *f = data;

    f->interrupted = 1;
    ev_reader_wake(f->events);
}

static void
fs_read_events(fuse_req_t req, FsFile *f, size_t size, struct fuse_file_info *fi)
{
    g_autofree char *buf = g_malloc(MIN(size, 1 << 20));
    size_t n;

    size = MIN(size, 1 << 20);
    f->interrupted = 0;
    fuse_req_interrupt_func(req, fs_events_interrupt, f);
    /* like /dev/kmsg: block until a line comes, unless O_NONBLOCK */
    while ((n = ev_reader_read(f->events, buf, size)) == 0) {
        if (fi->flags & O_NONBLOCK) {
            fuse_reply_err(req, EAGAIN);
            return;
        }
        if (f->interrupted || fuse_req_interrupted(req) || fuse_session_exited(fs_state.se)) {
            fuse_reply_err(req, EINTR);
            return;
        }
        ev_reader_wait(f->events, G_USEC_PER_SEC, &f->interrupted);
    }
    fuse_reply_buf(req, buf, n);
}

static void
fs_read_file(fuse_req_t req, FsFile *f, size_t size, off_t off, struct fuse_file_info *fi)
{
    g_autofree char *buf = NULL;
    ssize_t n;

    switch (f->kind) {
    case FH_CONTENT:
        if (off >= (off_t)f->content->len)
            fuse_reply_buf(req, NULL, 0);
        else
            fuse_reply_buf(req, f->content->str + off, MIN(size, f->content->len - off));
        return;
    case FH_CONSOLE:
        if (!f->console) {
            fuse_reply_buf(req, NULL, 0);
            return;
        }
        size = MIN(size, 1 << 20);
        buf = g_malloc(size);
        n = cons_read(f->console, (uint64_t)off, buf, size);
        if (n < 0)
            fuse_reply_err(req, (int)-n);
        else
            fuse_reply_buf(req, buf, (size_t)n);
        return;
    case FH_EVENTS:
        fs_read_events(req, f, size, fi);
        return;
    }
}

static void
fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    FsFile *f = fs_file_get(fi);

    if (!f) {
        fuse_reply_err(req, EBADF);
        return;
    }
    fs_read_file(req, f, size, off, fi);
    /* a page-cached file read from an old snapshot must not stay in the cache */
    if (f->snap && f->cached)
        fs_recheck(ino, &f->tn, f->snap);
    fs_file_unref(f);
}

static void
fs_write_interrupt(fuse_req_t req, void *data)
{
    tree_migrate_interrupt(fs_state.tree, data);
}

static int
fs_do_write(fuse_req_t req, const FsNodeRef *r, const char *buf, size_t size, off_t off,
            bool append)
{
    g_autoptr(DomInfo) d = NULL;
    TreeAttr attr;

    /* an append (>>) is refused even at offset 0: after `: > f` the kernel believes the
     * file is empty, and a value must never be taken as a second part of another */
    if (off != 0 || append) {
        /* one value per write, like sysfs: a second or appended chunk is refused */
        if (!(d = tree_guest_info(fs_state.tree, &r->tn)))
            return -EINVAL;
        return act_refuse(tree_conn(fs_state.tree, r->tn.conn), d, r->name, EINVAL,
                          append ? "append refused: write the whole value at once (>)"
                                 : "write at offset %lld refused: write the whole value "
                                   "at once", (long long)off);
    }
    /* a blocking write (a migration) is aborted when its writer is interrupted (Ctrl-C) */
    if (tree_stat(fs_state.tree, &r->tn, &attr) == 0 && attr.blocking)
        fuse_req_interrupt_func(req, fs_write_interrupt, (void *)&r->tn);
    return tree_write(fs_state.tree, &r->tn, buf, size);
}

static void
fs_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
         struct fuse_file_info *fi)
{
    FsNodeRef r = { 0 };
    FsFile *f = fs_file_get(fi);
    int ret = -EBADF;

    if (f && (ret = ino_get(ino, &r)) == 0)
        ret = fs_do_write(req, &r, buf, size, off, f->append);
    fs_file_unref(f);
    /* the refresh the write made is in the notifier's queue: let it reach the kernel */
    if (ret == 0)
        notify_flush(G_USEC_PER_SEC);
    /* reply before freeing R: the interrupt callback may use it until the reply */
    if (ret < 0)
        fuse_reply_err(req, -ret);
    else
        fuse_reply_write(req, size);
    ino_ref_clear(&r);
}

static void
fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FsFile *f = fs_file_take(fi);

    if (f && f->kind == FH_EVENTS) {
        g_mutex_lock(&fs_pollers_lock);
        g_ptr_array_remove_fast(fs_pollers, f);
        g_mutex_unlock(&fs_pollers_lock);
        /* a reader blocked in this handle's read returns now */
        f->interrupted = 1;
        ev_reader_wake(f->events);
    }
    fs_file_unref(f);
    fuse_reply_err(req, 0);
}

static void
fs_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
        struct fuse_pollhandle *ph)
{
    FsFile *f = fs_file_get(fi);
    unsigned revents = 0;

    if (!f || f->kind != FH_EVENTS) {
        if (ph)
            fuse_pollhandle_destroy(ph);
        fuse_reply_poll(req, POLLIN);
        fs_file_unref(f);
        return;
    }
    g_mutex_lock(&f->ph_lock);
    if (ph) {
        if (f->ph)
            fuse_pollhandle_destroy(f->ph);
        f->ph = ph;
    }
    if (ev_reader_ready(f->events))
        revents |= POLLIN;
    g_mutex_unlock(&f->ph_lock);
    fuse_reply_poll(req, revents);
    fs_file_unref(f);
}

/* ---- what the tree never allows ---- */

static void
fs_refuse_entry(fuse_req_t req)
{
    fuse_reply_err(req, fs_state.opts->read_only ? EROFS : EPERM);
}

static void
fs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    fs_refuse_entry(req);
}

static void
fs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    fs_refuse_entry(req);
}

static void
fs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    fs_refuse_entry(req);
}

static void
fs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    fs_refuse_entry(req);
}

static void
fs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
    fs_refuse_entry(req);
}

static void
fs_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
          const char *newname, unsigned int flags)
{
    fs_refuse_entry(req);
}

static void
fs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
    fs_refuse_entry(req);
}

static void
fs_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
          struct fuse_file_info *fi)
{
    fs_refuse_entry(req);
}

static void
fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
    struct statvfs st = { 0 };

    st.f_bsize = 4096;
    st.f_frsize = 4096;
    st.f_namemax = 255;
    st.f_files = ino_count();
    fuse_reply_statfs(req, &st);
}

static void
fs_init(void *userdata, struct fuse_conn_info *conn)
{
    /* open(O_TRUNC) arrives as a flag, not a separate truncate: `echo x > f` is one write */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
}

const struct fuse_lowlevel_ops fs_ops = {
    .init = fs_init,
    .lookup = fs_lookup,
    .forget = fs_forget,
    .forget_multi = fs_forget_multi,
    .getattr = fs_getattr,
    .setattr = fs_setattr,
    .mknod = fs_mknod,
    .mkdir = fs_mkdir,
    .unlink = fs_unlink,
    .rmdir = fs_rmdir,
    .symlink = fs_symlink,
    .rename = fs_rename,
    .link = fs_link,
    .create = fs_create,
    .open = fs_open,
    .read = fs_read,
    .write = fs_write,
    .release = fs_release,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .readdirplus = fs_readdirplus,
    .releasedir = fs_releasedir,
    .statfs = fs_statfs,
    .poll = fs_poll,
};
