/* bare_fuse.c - the raw FUSE baseline: a low-level daemon serving one file, "state"
 * ("running\n"), with domfs's settings for it (long entry/attribute timeouts, the same
 * multi-threaded loop). `bare_fuse MNT direct` opens it with direct_io like domfs's
 * writable files; `bare_fuse MNT cached` with keep_cache like its read-only files (and
 * like domfs's read-only opens of state); both with FOPEN_NOFLUSH, as domfs. With `fleet`, the root also holds a directory
 * gNNNNN/ with its own "state" for every name of that form looked up: the same paths as a
 * domfs fleet mount, for an agent pass against the floor, side by side.
 * It answers only lookup, getattr, open, read and readdir: whatever else is ENOSYS. */
#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char content[] = "running\n";
static int direct;
static int fleet;

/* inodes: 1 the root, 2 its state; fleet: 4 + 2n the directory gNNNNN (n), 5 + 2n its
 * state */
static int
bare_is_dir(fuse_ino_t ino)
{
    return ino == 1 || (ino >= 4 && ino % 2 == 0);
}

static void
bare_stat(fuse_ino_t ino, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = ino;
    st->st_mode = bare_is_dir(ino) ? S_IFDIR | 0755 : S_IFREG | 0644;
    st->st_nlink = bare_is_dir(ino) ? 2 : 1;
    st->st_size = bare_is_dir(ino) ? 0 : (off_t)strlen(content);
}

/* The inode of NAME in PARENT, or 0. */
static fuse_ino_t
bare_child(fuse_ino_t parent, const char *name)
{
    char *end;
    unsigned long n;

    if (strcmp(name, "state") == 0)
        return parent == 1 ? 2 : bare_is_dir(parent) ? parent + 1 : 0;
    if (!fleet || parent != 1 || name[0] != 'g' || name[1] < '0' || name[1] > '9')
        return 0;
    n = strtoul(name + 1, &end, 10);
    return *end == '\0' && end - name == 6 ? 4 + 2 * (fuse_ino_t)n : 0;
}

static void
bare_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct fuse_entry_param e = { .attr_timeout = 86400, .entry_timeout = 86400 };

    if (!(e.ino = bare_child(parent, name))) {
        fuse_reply_err(req, ENOENT);
        return;
    }
    bare_stat(e.ino, &e.attr);
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
    fi->noflush = 1;   /* as domfs: nothing to flush, no FLUSH round trip at close */
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

    if (argc < 3 || argc > 4 || (argc == 4 && strcmp(argv[3], "fleet") != 0)) {
        fprintf(stderr, "usage: bare_fuse MOUNTPOINT direct|cached [fleet]\n");
        return 2;
    }
    direct = strcmp(argv[2], "direct") == 0;
    fleet = argc == 4;
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
