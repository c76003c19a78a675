/* bare_fuse.c - the raw FUSE baseline: a low-level daemon serving one file, "state"
 * ("running\n"), with domfs's settings for it (long entry/attribute timeouts, the same
 * multi-threaded loop). `bare_fuse MNT direct` opens it with direct_io like domfs's
 * writable files; `bare_fuse MNT cached` with keep_cache like its read-only files.
 * It answers only lookup, getattr, open, read and readdir: whatever else is ENOSYS. */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char content[] = "running\n";
static int direct;

static void
bare_stat(fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_mode = ino == 1 ? S_IFDIR | 0755 : S_IFREG | 0644;
    st->st_nlink = ino == 1 ? 2 : 1;
    st->st_size = ino == 1 ? 0 : (off_t)strlen(content);
}

static void
bare_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fuse_entry_param e = { .attr_timeout = 86400, .entry_timeout = 86400 };

    if (parent != 1 || strcmp(name, "state") != 0) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    e.ino = 2;
    bare_stat(2, &e.attr);
    fuse_reply_entry(req, &e);
}

static void
bare_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct stat st;

    bare_stat(ino, &st);
    fuse_reply_attr(req, &st, 86400);
}

static void
bare_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    fi->direct_io = direct;
    fi->keep_cache = !direct;
    fuse_reply_open(req, fi);
}

static void
bare_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    size_t len = strlen(content);

    fuse_reply_buf(req, content + (off < (off_t)len ? off : (off_t)len),
                   off < (off_t)len ? (size < len - off ? size : len - off) : 0);
}

static void
bare_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    char buf[256];
    struct stat st;
    size_t used = 0;

    bare_stat(2, &st);
    if (off == 0)
        used = fuse_add_direntry(req, buf, sizeof(buf), "state", &st, 1);
    fuse_reply_buf(req, buf, used);
}

static const struct fuse_lowlevel_ops ops = {
    .lookup = bare_lookup, .getattr = bare_getattr, .open = bare_open,
    .read = bare_read, .readdir = bare_readdir,
};

int
main(int argc, char **argv)
{
    char *fargv[] = { argv[0], NULL };
    struct fuse_args args = FUSE_ARGS_INIT(1, fargv);
    struct fuse_loop_config *cfg;
    struct fuse_session *se;
    int ret;

    if (argc != 3) {
        fprintf(stderr, "usage: bare_fuse MOUNTPOINT direct|cached\n");
        return 2;
    }
    direct = strcmp(argv[2], "direct") == 0;
    if (!(se = fuse_session_new(&args, &ops, sizeof(ops), NULL)) ||
        fuse_session_mount(se, argv[1]) != 0)
        return 1;
    fuse_set_signal_handlers(se);
    cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, 64);
    fuse_loop_cfg_set_idle_threads(cfg, 8);
    ret = fuse_session_loop_mt(se, cfg);
    fuse_loop_cfg_destroy(cfg);
    fuse_remove_signal_handlers(se);
    fuse_session_unmount(se);
    fuse_session_destroy(se);
    return ret ? 1 : 0;
}
