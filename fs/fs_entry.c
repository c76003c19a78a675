/* fs_entry.c - names and attributes: lookup, forget, getattr, setattr, directories,
 * statfs, and the operations the tree never allows. Small handlers that resolve an inode
 * to a tree node (fs_inode.c), ask the tree and reply; an answer that needs a guest's XML
 * still loading waits without a thread (fs_defer.c).
 *
 * Caching: entries and attributes get long timeouts; fs_notify.c invalidates them on every
 * change. Writable files, streams and computed files get a short or zero attribute
 * timeout, so what the kernel holds can never go stale for them. */
#define G_LOG_DOMAIN "domfs-fs"

#include <errno.h>
#include <string.h>

#include "fs.h"
#include "fs_inode.h"

/* Bytes of one readdir reply at most. */
#define FS_READDIR_MAX (1 << 20)

/* ---- lookup ---- */

/* Resolve NAME in PARENT into E (inode made or found). */
static int
fs_entry(fuse_ino_t parent, const char *name, struct fuse_entry_param *e, DomInfo **used,
         TreeNode *tn_out, TreeNode *wait_on)
{
    FsNodeRef p = { 0 };
    TreeNode tn = { 0 };
    TreeAttr attr;
    int ret;

    memset(e, 0, sizeof(*e));
    if ((ret = ino_get(parent, &p)) < 0)
        return ret;
    ret = tree_child(fs_tree(), &p.tn, name, &tn, &attr);
    if (ret == -EINPROGRESS && wait_on)
        tree_node_copy(wait_on, &p.tn);
    ino_ref_clear(&p);
    if (ret < 0)
        return ret;
    if ((ret = fs_fill_stat(0, &tn, &attr, &e->attr, used)) < 0) {
        if (ret == -EINPROGRESS && wait_on)
            tree_node_copy(wait_on, &tn);
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

typedef struct {
    fuse_ino_t ino;
    char *name;
} FsLookupArgs;

static void
fs_lookup_args_free(void *data)
{
    FsLookupArgs *a = data;

    g_free(a->name);
    g_free(a);
}

static void
fs_lookup_run(fuse_req_t req, void *args, FsPending *p)
{
    FsLookupArgs *a = args;
    struct fuse_entry_param e;
    DomInfo *used = NULL;
    TreeNode tn = { 0 };
    TreeNode wait_on = { 0 };
    int ret = fs_entry(a->ino, a->name, &e, &used, &tn, &wait_on);

    if (ret == -EINPROGRESS) {
        FsLookupArgs *copy = p ? NULL : g_memdup2(a, sizeof(*a));

        if (copy)
            copy->name = g_strdup(a->name);
        fs_defer(req, p, &wait_on, fs_lookup_run, copy, fs_lookup_args_free);
    } else if (ret == -ENOENT) {
        /* a negative entry: fs_notify.c invalidates it when the name appears */
        memset(&e, 0, sizeof(e));
        e.entry_timeout = FS_TIMEOUT_LONG;
        fuse_reply_entry(req, &e);
        fs_replied(p);
    } else if (ret < 0) {
        fs_reply_err(req, p, -ret);
    } else {
        if (fuse_reply_entry(req, &e) != 0)
            ino_forget(e.ino, 1);
        else
            fs_recheck(e.ino, &tn, used);
        fs_replied(p);
    }
    tree_snap_unref(used);
    tree_node_clear(&tn);
    tree_node_clear(&wait_on);
}

static void
fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    FsLookupArgs a = { parent, (char *)name };

    fs_lookup_run(req, &a, NULL);
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

/* ---- attributes ---- */

typedef struct {
    fuse_ino_t ino;
    struct fuse_file_info fi;   /* opendir, open */
    struct stat in;             /* setattr */
    int to_set;
} FsInoArgs;

/* The node of INO and its attributes and stat. */
static int
fs_stat_ino(fuse_ino_t ino, struct stat *st, TreeAttr *attr, DomInfo **used, TreeNode *tn)
{
    FsNodeRef r = { 0 };
    int ret;

    if ((ret = ino_get(ino, &r)) < 0)
        return ret;
    if ((ret = tree_stat(fs_tree(), &r.tn, attr)) == 0)
        ret = fs_fill_stat(ino, &r.tn, attr, st, used);
    tree_node_copy(tn, &r.tn);
    ino_ref_clear(&r);
    return ret;
}

static FsInoArgs *
fs_ino_args_keep(const FsInoArgs *a, FsPending *p)
{
    return p ? NULL : g_memdup2(a, sizeof(*a));
}

static void
fs_getattr_run(fuse_req_t req, void *args, FsPending *p)
{
    FsInoArgs *a = args;
    struct stat st;
    TreeAttr attr;
    DomInfo *used = NULL;
    TreeNode tn = { 0 };
    int ret = fs_stat_ino(a->ino, &st, &attr, &used, &tn);

    if (ret == -EINPROGRESS) {
        fs_defer(req, p, &tn, fs_getattr_run, fs_ino_args_keep(a, p), g_free);
    } else if (ret < 0) {
        fs_reply_err(req, p, -ret);
    } else {
        fuse_reply_attr(req, &st, fs_attr_timeout(&attr));
        fs_recheck(a->ino, &tn, used);
        fs_replied(p);
    }
    tree_snap_unref(used);
    tree_node_clear(&tn);
}

static void
fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FsInoArgs a = { .ino = ino };

    fs_getattr_run(req, &a, NULL);
}

/* Only what `echo x > file` needs: truncation to 0 of a writable file, a no-op. */
static int
fs_setattr_check(const FsInoArgs *a, const TreeAttr *attr)
{
    if (a->to_set != FUSE_SET_ATTR_SIZE || a->in.st_size != 0 || attr->is_dir)
        return -EPERM;
    if (!attr->writable)
        return -EACCES;
    if (fs_state.modes.read_only)
        return -EROFS;
    return 0;
}

static void
fs_setattr_run(fuse_req_t req, void *args, FsPending *p)
{
    FsInoArgs *a = args;
    struct stat st;
    TreeAttr attr;
    TreeNode tn = { 0 };
    int ret = fs_stat_ino(a->ino, &st, &attr, NULL, &tn);

    if (ret == -EINPROGRESS)
        fs_defer(req, p, &tn, fs_setattr_run, fs_ino_args_keep(a, p), g_free);
    else if (ret < 0 || (ret = fs_setattr_check(a, &attr)) < 0)
        fs_reply_err(req, p, -ret);
    else {
        fuse_reply_attr(req, &st, fs_attr_timeout(&attr));
        fs_replied(p);
    }
    tree_node_clear(&tn);
}

static void
fs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *in, int to_set,
           struct fuse_file_info *fi)
{
    FsInoArgs a = { .ino = ino, .in = *in, .to_set = to_set };

    fs_setattr_run(req, &a, NULL);
}

/* ---- directories ---- */

static void
fs_opendir_run(fuse_req_t req, void *args, FsPending *p)
{
    FsInoArgs *a = args;
    FsNodeRef r = { 0 };
    GPtrArray *list = NULL;
    int ret;

    if ((ret = ino_get(a->ino, &r)) == 0 &&
        (ret = tree_list(fs_tree(), &r.tn, &list)) == -EINPROGRESS) {
        fs_defer(req, p, &r.tn, fs_opendir_run, fs_ino_args_keep(a, p), g_free);
    } else if (ret < 0) {
        fs_reply_err(req, p, -ret);
    } else {
        a->fi.fh = fs_dir_publish(a->ino, list);
        if (fuse_reply_open(req, &a->fi) != 0)
            fs_dir_release(a->fi.fh);
        fs_replied(p);
    }
    ino_ref_clear(&r);
}

static void
fs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    FsInoArgs a = { .ino = ino, .fi = *fi };

    fs_opendir_run(req, &a, NULL);
}

static void
fs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    fs_dir_release(fi->fh);
    fuse_reply_err(req, 0);
}

/* One readdir entry at offset O into BUF: its size (more than LEFT: it did not fit, and
 * nothing was added). Offsets: 0 and 1 are "." and "..", 2 + i is entry i. */
static size_t
fs_dirent(fuse_req_t req, fuse_ino_t ino, GPtrArray *entries, off_t o, char *buf, size_t left,
          bool plus, bool *skip)
{
    struct fuse_entry_param e = { 0 };
    const char *name = o == 0 ? "." : "..";
    size_t n;

    *skip = false;
    if (o >= 2) {
        TreeDirent *de = g_ptr_array_index(entries, o - 2);
        int ret = plus ? fs_entry(ino, de->name, &e, NULL, NULL, NULL) : 0;

        name = de->name;
        if (ret == -ENOENT) {
            *skip = true;   /* gone since opendir: the entry is left out */
            return 0;
        }
        if (!plus || ret < 0) {
            /* no attributes (yet): a plain entry, looked up when used (node id 0) */
            memset(&e, 0, sizeof(e));
            e.attr.st_ino = g_str_hash(name) | 0x80000000u;
            e.attr.st_mode = de->is_dir ? S_IFDIR : S_IFREG;
        }
    } else {
        e.attr.st_ino = ino;
        e.attr.st_mode = S_IFDIR;
    }
    if (!plus)
        return fuse_add_direntry(req, buf, left, name, &e.attr, o + 1);
    n = fuse_add_direntry_plus(req, buf, left, name, o >= 2 ? &e : &(struct fuse_entry_param){
                                   .attr = e.attr }, o + 1);
    if (n > left && o >= 2 && e.ino)
        ino_forget(e.ino, 1);
    return n;
}

static void
fs_do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
              struct fuse_file_info *fi, bool plus)
{
    g_autoptr(GPtrArray) entries = fs_dir_get(fi->fh);
    size_t cap = MIN(size, (size_t)FS_READDIR_MAX);
    g_autofree char *buf = NULL;
    size_t used = 0;

    if (!entries) {
        fuse_reply_err(req, EBADF);
        return;
    }
    buf = g_malloc(cap);
    for (off_t o = off; (guint)o < entries->len + 2; o++) {
        bool skip;
        size_t n = fs_dirent(req, ino, entries, o, buf + used, cap - used, plus, &skip);

        if (skip)
            continue;
        if (n > cap - used)
            break;
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

/* ---- what the tree never allows ---- */

static void
fs_refuse_entry(fuse_req_t req)
{
    fuse_reply_err(req, fs_state.modes.read_only ? EROFS : EPERM);
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
