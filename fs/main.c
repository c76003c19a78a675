/* main.c - domfs's start-up and shutdown.
 *
 * Start-up order matters: libvirt's event loop thread and the connections are threads,
 * which a fork would lose, so the daemon forks first (keeping a pipe to the parent, which
 * prints the child's verdict and exits with it: errors such as an unreachable URI reach
 * the terminal), then opens and loads the connections (tree_new), and only then mounts,
 * so the first `ls` already sees every guest. */
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
#include "fs_opts.h"

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

/* Fork; the parent waits for the child's verdict on FD and exits with it. */
static int
main_daemonize(int *notify_fd)
{
    int fds[2];
    pid_t pid;
    char status = 1;

    if (pipe(fds) < 0)
        return -errno;
    if ((pid = fork()) < 0)
        return -errno;
    if (pid > 0) {
        close(fds[1]);
        if (read(fds[0], &status, 1) != 1)
            status = 1;
        _exit(status);
    }
    close(fds[0]);
    setsid();
    *notify_fd = fds[1];
    return 0;
}

static void
main_notify_parent(int *fd, char status)
{
    if (*fd < 0)
        return;
    if (write(*fd, &status, 1) != 1)
        g_warning("cannot tell the parent process how start-up went");
    close(*fd);
    *fd = -1;
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

/* Serve until unmounted (or a signal). 0 on a normal end. */
static int
main_serve(FsOptions *o, int *notify_fd)
{
    struct fuse_loop_config *cfg;
    int ret;

    if (!o->foreground) {
        main_syslog = true;
        openlog("domfs", LOG_PID, LOG_DAEMON);
        main_notify_parent(notify_fd, 0);
        main_detach_stdio();
    }
    g_message("mounted %u connection(s) on %s", tree_n_conns(fs_tree()), o->mountpoint);
    cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(cfg, FS_MAX_THREADS);
    fuse_loop_cfg_set_idle_threads(cfg, FS_IDLE_THREADS);
    ret = o->singlethread ? fuse_session_loop(fs_state.se)
                          : fuse_session_loop_mt(fs_state.se, cfg);
    fuse_loop_cfg_destroy(cfg);
    /* stopped by a signal (SIGTERM, SIGINT, SIGHUP): a normal end */
    return ret == SIGTERM || ret == SIGINT || ret == SIGHUP ? 0 : ret;
}

/* Shutdown: no new lines for the tree, the notifiers drained, then the tree goes. */
static void
main_shutdown(Tree *t)
{
    g_atomic_pointer_set(&fs_state.tree, NULL);
    notify_stop();
    /* open files first: a console.log handle closes into its log, which tree_free frees */
    fs_files_free();
    tree_free(t);
    ino_table_free();
}

int
main(int argc, char **argv)
{
    FsOptions o;
    Tree *t = NULL;
    int notify_fd = -1;
    int ret;

    g_log_set_default_handler(main_log_handler, NULL);
    if ((ret = fs_opts_parse(argc, argv, &o)) != 0) {
        fs_opts_clear(&o);
        return ret > 0 ? 0 : 2;
    }
    ret = 1;
    if (main_check_mountpoint(o.mountpoint, o.nonempty) < 0)
        goto out;
    main_raise_nofile();
    if (!o.foreground && main_daemonize(&notify_fd) < 0) {
        fprintf(stderr, "domfs: cannot daemonize: %s\n", g_strerror(errno));
        goto out;
    }
    fs_state.modes = o.modes;
    fs_state.mount_time = time(NULL);
    notify_start(o.tree.n_hosts);
    if (!(t = main_open_tree(&o)))
        goto out_notify;
    g_atomic_pointer_set(&fs_state.tree, t);
    tree_events_set_notify(t, fs_events_notify, NULL);
    ino_table_init(t);
    if (!(fs_state.se = fuse_session_new(&o.fuse, &fs_ops, sizeof(fs_ops), NULL)))
        goto out_tree;
    if (fuse_set_signal_handlers(fs_state.se) == 0) {
        if (fuse_session_mount(fs_state.se, o.mountpoint) == 0) {
            ret = main_serve(&o, &notify_fd) ? 1 : 0;
            fuse_session_unmount(fs_state.se);
        }
        fuse_remove_signal_handlers(fs_state.se);
    }
 out_tree:
    main_shutdown(t);
    t = NULL;
    if (fs_state.se)
        fuse_session_destroy(fs_state.se);
    fs_state.se = NULL;
 out_notify:
    notify_stop();
 out:
    main_notify_parent(&notify_fd, 1);
    fs_opts_clear(&o);
    return ret;
}
