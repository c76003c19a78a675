/* main.c - domfs's start-up and shutdown.
 *
 * Three kinds of process run this code. Started by a user (or systemd, mount(8), a
 * container), domfs checks its command line and mount point, then becomes the supervisor
 * (fs_super.h): in the foreground with -f (a service's main process, a container's
 * PID 1), else in the background once the mount serves; the supervisor holds the FUSE
 * connection and runs the serving process as a child, again after a crash and, on
 * SIGHUP, for an in-place upgrade. That child (fs_takeover.h: started with the
 * supervisor's descriptors) opens and loads the connections (tree_new) while an older
 * server may still serve, waits for its turn, rebuilds the inodes and open files the
 * kernel holds from the store, then mounts (the first one) or takes the connection over.
 * With -d, one unsupervised process does all of it in the foreground (debugging).
 * Mounting only after the load means the first `ls` already sees every guest. */
#define G_LOG_DOMAIN "domfs"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "fs.h"
#include "fs_inode.h"
#include "fs_istore.h"
#include "fs_opts.h"
#include "fs_super.h"
#include "fs_takeover.h"

static bool main_syslog;

/* MSG as one printable line: control bytes as \n, \t, \xNN (a newline in a guest name
 * must not forge a second log line); UTF-8 left as it is. */
static char *
main_escape(const char *msg)
{
    GString *out = g_string_new(NULL);

    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p == '\n')
            g_string_append(out, "\\n");
        else if (*p == '\t')
            g_string_append(out, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            g_string_append_printf(out, "\\x%02x", *p);
        else
            g_string_append_c(out, (char)*p);
    }
    return g_string_free(out, FALSE);
}

static void
main_log_handler(const char *domain, GLogLevelFlags level, const char *msg, gpointer data)
{
    g_autofree char *line = main_escape(msg);
    int prio = LOG_INFO;

    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        prio = LOG_ERR;
    else if (level & G_LOG_LEVEL_WARNING)
        prio = LOG_WARNING;
    else if (level & G_LOG_LEVEL_DEBUG)
        return;
    if (main_syslog)
        syslog(prio, "%s", line);
    else
        fprintf(stderr, "domfs: %s\n", line);
}

/* Every descriptor the hard limit allows (console logs are bounded by domfs itself). */
static void
main_raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            g_warning("cannot raise the descriptor limit: %s", g_strerror(errno));
    }
}

static void
main_detach_stdio(void)
{
    int fd = open("/dev/null", O_RDWR);

    if (fd < 0)
        return;
    dup2(fd, STDIN_FILENO);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (fd > STDERR_FILENO)
        close(fd);
    if (chdir("/") < 0)
        g_warning("chdir /: %s", g_strerror(errno));
}

/* ---- the mount point ---- */

/* Is MNT (a directory) a mount of domfs already? */
static bool
main_domfs_mounted_on(const char *mnt)
{
    g_autofree char *real = realpath(mnt, NULL);
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;

    if (!real || !g_file_get_contents("/proc/self/mountinfo", &text, NULL, NULL))
        return false;
    lines = g_strsplit(text, "\n", -1);
    for (char **l = lines; *l; l++) {
        g_auto(GStrv) f = g_strsplit(*l, " ", -1);
        g_autofree char *point = NULL;
        guint n = g_strv_length(f);
        guint sep = 6;

        while (sep < n && strcmp(f[sep], "-") != 0)
            sep++;
        if (sep + 1 >= n)
            continue;
        /* mountinfo escapes blanks as \040 */
        point = g_strcompress(f[4]);
        if (strcmp(point, real) == 0 && strcmp(f[sep + 1], "fuse.domfs") == 0)
            return true;
    }
    return false;
}

static int
main_check_mountpoint(const char *mnt, bool nonempty)
{
    struct stat st;

    if (stat(mnt, &st) < 0) {
        fprintf(stderr, "domfs: mount point %s: %s\n", mnt, g_strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        fprintf(stderr, "domfs: mount point %s is not a directory\n", mnt);
        return -1;
    }
    if (!nonempty && main_domfs_mounted_on(mnt)) {
        fprintf(stderr, "domfs: domfs is already mounted on %s (unmount it first, or "
                "-o nonempty to mount over it)\n", mnt);
        return -1;
    }
    return 0;
}

/* The URI libvirt resolves without -c, as virsh does: LIBVIRT_DEFAULT_URI, else
 * uri_default of libvirt.conf, else (for this user) qemu:///system or qemu:///session. */
static char *
main_default_uri(void)
{
    const char *env = g_getenv("LIBVIRT_DEFAULT_URI");
    g_autofree char *conf = geteuid() == 0
        ? g_strdup("/etc/libvirt/libvirt.conf")
        : g_build_filename(g_get_user_config_dir(), "libvirt", "libvirt.conf", NULL);
    g_autofree char *text = NULL;
    g_autoptr(GRegex) re = g_regex_new("^\\s*uri_default\\s*=\\s*\"([^\"]*)\"", G_REGEX_MULTILINE,
                                       0, NULL);
    g_autoptr(GMatchInfo) m = NULL;

    if (env && *env)
        return g_strdup_printf("%s (LIBVIRT_DEFAULT_URI)", env);
    if (g_file_get_contents(conf, &text, NULL, NULL) && g_regex_match(re, text, 0, &m)) {
        g_autofree char *uri = g_match_info_fetch(m, 1);

        return g_strdup_printf("%s (uri_default in %s)", uri, conf);
    }
    return g_strdup(geteuid() == 0 ? "qemu:///system" : "qemu:///session");
}

/* ---- start-up ---- */

static Tree *
main_open_tree(const FsOptions *o)
{
    g_autoptr(GError) err = NULL;
    Tree *t = tree_new(&o->tree, notify_change, NULL, &err);
    g_autofree char *uri = NULL;

    if (t)
        return t;
    if (o->tree.n_hosts == 1 && !o->tree.hosts[0].uri) {
        uri = main_default_uri();
        fprintf(stderr, "domfs: %s\ndomfs: (no -c given: libvirt's default URI is %s; "
                "to try domfs without a hypervisor: -c test:///default)\n", err->message, uri);
    } else {
        fprintf(stderr, "domfs: %s\n", err->message);
    }
    return NULL;
}

/* ---- the supervisor ---- */

/* Become the supervisor (see fs_super.h): its children run this binary with the same
 * command line, the mount point made absolute (later ones run in /). Returns the exit
 * status (the background's parent exits in super_daemonize). */
static int main_server(Takeover *tk, FsOptions *o);

/* The first serving process, forked by the supervisor without an exec (fs_super.h). */
static int
main_first_child(void *opaque)
{
    Takeover *tk = takeover_attach();

    return tk ? main_server(tk, opaque) : 1;
}

static int
main_supervise(int argc, char **argv, FsOptions *o)
{
    g_autofree char *exe = super_resolve_exe();
    g_autofree char *mnt = realpath(o->mountpoint, NULL);
    g_autoptr(GPtrArray) av = g_ptr_array_new();
    SuperConfig sc;
    int ret;

    if (!exe || !mnt || o->mountpoint_arg < 0) {
        fprintf(stderr, "domfs: cannot %s: %s\n", exe ? "resolve the mount point"
                : "find this program's file (/proc/self/exe)", g_strerror(errno));
        return 1;
    }
    for (int i = 0; i < argc; i++)
        g_ptr_array_add(av, i == o->mountpoint_arg ? mnt : argv[i]);
    g_ptr_array_add(av, NULL);
    sc = (SuperConfig){ .exe = exe, .argv = (char *const *)av->pdata, .mountpoint = mnt,
                        .foreground = o->foreground, .first_child = main_first_child,
                        .first_child_opaque = o };
    /* the first child runs with these options: the mount point as its exec would see it */
    g_free(o->mountpoint);
    o->mountpoint = g_strdup(mnt);
    if (o->foreground)
        return super_run(&sc, -1);
    ret = super_daemonize(&sc);
    fprintf(stderr, "domfs: cannot start in the background: %s\n", g_strerror(-ret));
    return 1;
}

/* ---- the serving process ---- */

/* The store's handle FS_FH_PROCESS: which process serves, so that the next one knows
 * whether the last one crashed or handed over, and the mount's time stays. */
#define MAIN_PROC_MAGIC 0x31506664u   /* "dfP1" */
#define MAIN_PROC_SERVING 1u
#define MAIN_PROC_HANDED_OVER 2u

typedef struct {
    uint32_t magic;
    uint32_t state;
    int64_t mount_time;
} MainProcRec;

static void
main_proc_collect(uint64_t fh, const void *data, size_t len, void *opaque)
{
    if (fh == FS_FH_PROCESS && len == sizeof(MainProcRec))
        memcpy(opaque, data, len);
}

static void
main_proc_put(uint32_t state)
{
    MainProcRec rec = { MAIN_PROC_MAGIC, state, (int64_t)fs_state.mount_time };

    if (fs_state.store)
        istore_handle_put(fs_state.store, FS_FH_PROCESS, &rec, sizeof(rec));
}

/* On the handover thread, the last answer sent: the next process is an upgrade's. */
static void
main_on_handover(void *opaque)
{
    main_proc_put(MAIN_PROC_HANDED_OVER);
    g_message("handing over to the new server");
}

/* The store (the supervisor's, or one of our own for -d), and what it says about the
 * process before this one. */
static void
main_open_store(Takeover *tk)
{
    int fd = tk ? takeover_store_fd(tk) : istore_create(0);
    MainProcRec prev = { 0 };
    int ret = fd < 0 ? fd : istore_open(fd, &fs_state.store);

    if (ret < 0) {
        g_warning("no inode store (%s): after a crash or an upgrade the kernel's inodes "
                  "and open files would be stale", g_strerror(-ret));
        fs_state.store = NULL;
        return;
    }
    istore_foreach_handle(fs_state.store, main_proc_collect, &prev);
    if (takeover_has_connection(tk) && prev.magic == MAIN_PROC_MAGIC) {
        fs_state.takeover = prev.state == MAIN_PROC_HANDED_OVER ? "upgrade" : "crash";
        fs_state.mount_time = (time_t)prev.mount_time;
    } else if (takeover_has_connection(tk)) {
        fs_state.takeover = "crash";
    }
    main_proc_put(MAIN_PROC_SERVING);
}

static struct fuse_session *
main_session(Takeover *tk, FsOptions *o)
{
    struct fuse_session *se;

    if (takeover_has_connection(tk))
        return takeover_session_new(tk, &o->fuse, &fs_ops, sizeof(fs_ops), NULL);
    if (!(se = fuse_session_new(&o->fuse, &fs_ops, sizeof(fs_ops), NULL)))
        return NULL;
    if (fuse_session_mount(se, o->mountpoint) != 0) {
        fuse_session_destroy(se);
        return NULL;
    }
    if (takeover_adopt_session(tk, se) < 0) {
        fuse_session_unmount(se);
        fuse_session_destroy(se);
        return NULL;
    }
    return se;
}

/* Serve until unmounted (or a signal). 0 on a normal end. */
static int
main_loop(Takeover *tk, FsOptions *o)
{
    struct fuse_loop_config *cfg;
    int ret;

    if (tk ? !takeover_foreground(tk) : !o->foreground) {
        main_syslog = true;
        openlog("domfs", LOG_PID, LOG_DAEMON);
        main_detach_stdio();
    }
    if (fs_state.takeover)
        notify_takeover_sweep();
    g_message("%s %u connection(s) on %s", fs_state.takeover ? "took over" : "mounted",
              tree_n_conns(fs_tree()), o->mountpoint);
    cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, FS_MAX_THREADS);
    fuse_loop_cfg_set_idle_threads(cfg, FS_IDLE_THREADS);
    ret = o->singlethread ? fuse_session_loop(fs_state.se)
                          : fuse_session_loop_mt(fs_state.se, cfg);
    fuse_loop_cfg_destroy(cfg);
    takeover_after_loop(tk);   /* a handover never comes back from here */
    /* stopped by a signal (SIGTERM, SIGINT, SIGHUP), or the connection aborted (-d: the
     * kernel's ECONNABORTED, see takeover_io_read): a normal end */
    return ret == SIGTERM || ret == SIGINT || ret == SIGHUP || ret == -ECONNABORTED ? 0 : ret;
}

/* Shutdown: no new lines for the tree, the notifiers drained, then the tree goes. */
static void
main_shutdown(Tree *t)
{
    g_atomic_pointer_set(&fs_state.tree, NULL);
    notify_stop();
    /* open files first: a console.log handle closes into its log, which tree_free frees */
    fs_poll_free();
    fs_files_free();
    tree_free(t);
    ino_table_free();
    g_clear_pointer(&fs_state.store, istore_close);
}

/* Mount or take over, and serve. 0 after an unmount. */
static int
main_serve(Takeover *tk, FsOptions *o)
{
    int ret = 1;
    int rs;

    if (!(fs_state.se = main_session(tk, o)))
        return 1;
    if (fuse_set_signal_handlers(fs_state.se) == 0) {
        if ((rs = takeover_resend(tk)) < 0)
            g_warning("requests the last server had not answered cannot be sent again "
                      "(%s: kernel before 6.9): their callers wait until interrupted",
                      g_strerror(-rs));
        takeover_set_stop_fn(tk, main_on_handover, NULL);
        if (takeover_ready(tk) == 0)
            ret = main_loop(tk, o) ? 1 : 0;
        takeover_unmount(tk, fs_state.se, o->mountpoint);
        fuse_remove_signal_handlers(fs_state.se);
    }
    return ret;
}

/* The serving process: supervised (TK) or alone (-d). */
static int
main_server(Takeover *tk, FsOptions *o)
{
    Tree *t;
    int ret = 1;

    main_raise_nofile();
    fs_state.modes = o->modes;
    fs_state.mount_time = time(NULL);
    notify_start(o->tree.n_hosts);
    if (!(t = main_open_tree(o))) {
        notify_stop();
        return 1;
    }
    g_atomic_pointer_set(&fs_state.tree, t);
    tree_events_set_notify(t, fs_events_notify, NULL);
    tree_stats_set_notify(t, fs_poll_stats_notify, NULL);
    /* an upgrade: the old server serves until here, then stops */
    if (takeover_wait_turn(tk) == 0) {
        main_open_store(tk);
        ino_table_init(t, fs_state.store);
        if (fs_state.store)
            fs_files_restore(fs_state.store);
        ret = main_serve(tk, o);
    }
    main_shutdown(t);
    if (fs_state.se)
        fuse_session_destroy(fs_state.se);
    fs_state.se = NULL;
    return ret;
}

int
main(int argc, char **argv)
{
    Takeover *tk = takeover_attach();   /* before any thread */
    FsOptions o;
    int ret;

    g_log_set_default_handler(main_log_handler, NULL);
    if ((ret = fs_opts_parse(argc, argv, &o)) != 0) {
        fs_opts_clear(&o);
        return ret > 0 ? 0 : 2;
    }
    if (tk)
        ret = main_server(tk, &o);
    else if (main_check_mountpoint(o.mountpoint, o.nonempty) < 0)
        ret = 1;
    else
        ret = o.debug ? main_server(NULL, &o) : main_supervise(argc, argv, &o);
    fs_opts_clear(&o);
    return ret;
}
