/* fs_attr.c - what the kernel is told about a node: its mode (from -o uid=, gid=, umask=,
 * ro), how long it may cache the attributes, and the stat itself. */
#define G_LOG_DOMAIN "domfs-fs"

#include <errno.h>
#include <string.h>

#include "fs.h"

FsState fs_state;

Tree *
fs_tree(void)
{
    return g_atomic_pointer_get(&fs_state.tree);
}

mode_t
fs_mode(const TreeAttr *attr)
{
    mode_t m;

    if (attr->is_dir)
        return S_IFDIR | (0777 & ~fs_state.modes.umask);
    m = attr->writable && !fs_state.modes.read_only ? 0666 : 0444;
    return S_IFREG | (m & ~fs_state.modes.umask);
}

double
fs_attr_timeout(const TreeAttr *attr)
{
    /* snapshot files change only when the notifier says so (an event, or a write's
     * invalidation before the writer gets its answer, which also undoes the size the
     * kernel guessed from the write): a short timeout would only make every pread() of a
     * kept-open file ask again (its count is past the size) */
    if (attr->is_dir || attr->flavor == TF_SNAPSHOT)
        return FS_TIMEOUT_LONG;
    return 0.0;
}

/* Size of a file as a read would return it now. */
static int
fs_file_size(const TreeNode *tn, const TreeAttr *attr, off_t *size, DomInfo **used)
{
    g_autoptr(GString) s = NULL;
    DomInfo *d;
    uint64_t sz = 0;
    int ret;

    if (attr->flavor != TF_SNAPSHOT) {
        ret = tree_size(fs_tree(), tn, attr, &sz);
        *size = (off_t)sz;
        return ret;
    }
    if (!(d = tree_guest_snap(fs_tree(), tn)))
        return tree_stat(fs_tree(), tn, &(TreeAttr){ 0 });   /* -ENOENT or -EINPROGRESS */
    s = g_string_new(NULL);
    ret = tree_render(d, tn, s);
    *size = (off_t)s->len;
    if (used && ret == 0)
        *used = d;
    else
        tree_snap_unref(d);
    return ret;
}

int
fs_fill_stat(fuse_ino_t ino, const TreeNode *tn, const TreeAttr *attr, struct stat *st,
             DomInfo **used)
{
    time_t mtime = attr->mtime ? (time_t)(attr->mtime / G_USEC_PER_SEC) : fs_state.mount_time;
    off_t size = 0;
    int ret;

    memset(st, 0, sizeof(*st));
    if (!attr->is_dir && (ret = fs_file_size(tn, attr, &size, used)) < 0)
        return ret;
    st->st_ino = ino;
    st->st_mode = fs_mode(attr);
    st->st_nlink = attr->is_dir ? 2 : 1;
    st->st_uid = fs_state.modes.uid;
    st->st_gid = fs_state.modes.gid;
    st->st_size = size;
    st->st_blksize = 4096;
    st->st_blocks = (size + 511) / 512;
    st->st_atime = st->st_ctime = fs_state.mount_time;
    st->st_mtime = mtime;
    return 0;
}

void
fs_recheck(fuse_ino_t ino, const TreeNode *tn, DomInfo *used)
{
    DomInfo *cur;

    if (!used)
        return;
    cur = tree_guest_snap(fs_tree(), tn);
    if (cur != used)
        notify_inval_later(tn->conn, ino);
    tree_snap_unref(cur);
}

void
fs_caller(fuse_req_t req, TreeCaller *who, gid_t *groups)
{
    const struct fuse_ctx *ctx = fuse_req_ctx(req);
    int n = fuse_req_getgroups(req, FS_CALLER_GROUPS, groups);

    *who = (TreeCaller){ ctx->uid, ctx->gid, ctx->pid, groups,
                         n < 0 ? 0 : MIN(n, FS_CALLER_GROUPS) };
}
