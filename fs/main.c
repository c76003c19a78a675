/* main.c - domfs's command line, start-up and shutdown.
 *
 * Start-up order matters: libvirt's event loop thread and the connections are threads,
 * which a fork would lose, so the daemon forks first (keeping a pipe to the parent, which
 * prints the child's verdict and exits with it: errors such as an unreachable URI reach
 * the terminal), then registers the event loop, opens and loads the connections, and only
 * then mounts, so the first `ls` already sees every guest. */
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "conn.h"
#include "fs.h"
#include "fs_inode.h"

void fs_events_setup(void);

enum {
    KEY_RO,
    KEY_ALLOW_OTHER,
    KEY_HELP,
    KEY_VERSION,
};

typedef struct {
    char *console_max;
    char *migrate_uri;
    char *log_dirs;
    char *log_root;
    char *uid;
    char *gid;
    char *umask;
    int ro;
    int allow_other;
} MainRawOpts;

#define MAIN_OPT(t, p) { t, offsetof(MainRawOpts, p), 1 }
static const struct fuse_opt main_opts[] = {
    MAIN_OPT("console_max=%s", console_max),
    MAIN_OPT("migrate_uri=%s", migrate_uri),
    MAIN_OPT("log_dirs=%s", log_dirs),
    MAIN_OPT("log_root=%s", log_root),
    MAIN_OPT("uid=%s", uid),
    MAIN_OPT("gid=%s", gid),
    MAIN_OPT("umask=%s", umask),
    FUSE_OPT_KEY("ro", KEY_RO),
    FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
    FUSE_OPT_END
};

static void
main_usage(FILE *out, const char *prog)
{
    fprintf(out,
"usage: %s [-c [NAME=]URI]... [--log-root NAME=DIR]... [-o OPTION[,OPTION]...] [-f] [-d] MOUNTPOINT\n"
"       %s --help | --version\n"
"\n"
"Mount the guests of libvirt connections as directories of small text files.\n"
"\n"
"  -c [NAME=]URI         libvirt connection (repeatable); default: libvirt's default URI,\n"
"                        as virsh resolves it. test:///default needs no daemon.\n"
"  --log-root NAME=DIR   connection NAME's log directory is DIR on this machine\n"
"  -f                    stay in the foreground\n"
"  -d                    debug: foreground, FUSE requests logged\n"
"  -o console_max=BYTES  bound of console.log (default 131072)\n"
"  -o migrate_uri=TEMPLATE  destination URI, %%h = host (default qemu+ssh://%%h/system)\n"
"  -o log_dirs=DIR[:DIR] where console logs may be read from (default /var/log/libvirt)\n"
"  -o log_root=DIR       log root of every connection (see --log-root)\n"
"  -o uid=N,gid=N        owner of every file (default: the mounting user)\n"
"  -o umask=NNN          mode mask (default 077; 022 with allow_other)\n"
"  -o ro                 refuse every write (EROFS)\n"
"  -o allow_other        let other users in (they may read; writing needs gid=/umask=)\n"
"  other -o options are passed to FUSE (see fuse(8))\n",
            prog, prog);
}

static bool
main_parse_uint(const char *s, int base, unsigned long long max, unsigned long long *out)
{
    char *end = NULL;
    unsigned long long v;

    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    v = strtoull(s, &end, base);
    if (errno || *end || v > max)
        return false;
    *out = v;
    return true;
}

static int
main_opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    MainRawOpts *raw = data;

    switch (key) {
    case KEY_RO:
        raw->ro = 1;
        return 1;      /* FUSE mounts read-only too */
    case KEY_ALLOW_OTHER:
        raw->allow_other = 1;
        return 1;
    default:
        return 1;
    }
}

/* -c and --log-root are domfs's own; everything else goes to FUSE's parser. */
static int
main_take_own_args(int *argc, char **argv, FsOpts *opts, GPtrArray *log_roots)
{
    int out = 1;

    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;

        if (strcmp(a, "-c") == 0 || strcmp(a, "--connect") == 0 ||
            strcmp(a, "--log-root") == 0) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "domfs: %s needs an argument\n", a);
                return -EINVAL;
            }
            v = argv[++i];
        } else if (g_str_has_prefix(a, "-c") && a[2] != '\0') {
            v = a + 2;
        } else if (g_str_has_prefix(a, "--log-root=")) {
            v = a + strlen("--log-root=");
            a = "--log-root";
        } else if (g_str_has_prefix(a, "--connect=")) {
            v = a + strlen("--connect=");
            a = "-c";
        }
        if (!v) {
            argv[out++] = argv[i];
            continue;
        }
        if (strcmp(a, "--log-root") == 0) {
            if (!strchr(v, '=') || v[0] == '=') {
                fprintf(stderr, "domfs: --log-root takes NAME=DIR, not '%s'\n", v);
                return -EINVAL;
            }
            g_ptr_array_add(log_roots, g_strdup(v));
        } else {
            FsConnOpt c = { 0 };
            const char *eq = strchr(v, '=');
            const char *colon = strchr(v, ':');

            /* NAME=URI: a '=' before any ':' (URIs may hold '=' in their query) */
            if (eq && (!colon || eq < colon)) {
                c.name = g_strndup(v, eq - v);
                c.uri = g_strdup(eq + 1);
                if (!*c.name || strchr(c.name, '/') || strcmp(c.name, ".") == 0 ||
                    strcmp(c.name, "..") == 0 || strcmp(c.name, ".domfs") == 0) {
                    fprintf(stderr, "domfs: bad connection name in '%s'\n", v);
                    return -EINVAL;
                }
            } else {
                c.uri = g_strdup(v);
            }
            g_array_append_val(opts->conns, c);
        }
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

static int
main_build_opts(const MainRawOpts *raw, FsOpts *opts)
{
    unsigned long long v;

    opts->console_max = 131072;
    opts->uid = getuid();
    opts->gid = getgid();
    opts->umask = raw->allow_other ? 022 : 077;
    opts->read_only = raw->ro;
    opts->allow_other = raw->allow_other;
    if (raw->console_max) {
        if (!main_parse_uint(raw->console_max, 10, 1ULL << 30, &v) || v == 0) {
            fprintf(stderr, "domfs: console_max must be 1..%llu bytes\n", 1ULL << 30);
            return -EINVAL;
        }
        opts->console_max = v;
    }
    if (raw->uid) {
        if (!main_parse_uint(raw->uid, 10, (uid_t)-2, &v)) {
            fprintf(stderr, "domfs: bad uid '%s'\n", raw->uid);
            return -EINVAL;
        }
        opts->uid = (uid_t)v;
    }
    if (raw->gid) {
        if (!main_parse_uint(raw->gid, 10, (gid_t)-2, &v)) {
            fprintf(stderr, "domfs: bad gid '%s'\n", raw->gid);
            return -EINVAL;
        }
        opts->gid = (gid_t)v;
    }
    if (raw->umask) {
        if (!main_parse_uint(raw->umask, 8, 0777, &v)) {
            fprintf(stderr, "domfs: bad umask '%s' (octal, at most 777)\n", raw->umask);
            return -EINVAL;
        }
        opts->umask = (mode_t)v;
        opts->umask_set = true;
    }
    opts->migrate_uri = g_strdup(raw->migrate_uri ? raw->migrate_uri : "qemu+ssh://%h/system");
    opts->log_dirs = g_strdup(raw->log_dirs ? raw->log_dirs : "/var/log/libvirt");
    for (char **d = g_strsplit(opts->log_dirs, ":", -1), **p = d; d && (p == d || *p); ) {
        bool bad = false;

        for (; *p; p++)
            bad |= !g_path_is_absolute(*p);
        g_strfreev(d);
        if (bad) {
            fprintf(stderr, "domfs: log_dirs entries must be absolute paths\n");
            return -EINVAL;
        }
        break;
    }
    if (raw->log_root) {
        if (!g_path_is_absolute(raw->log_root)) {
            fprintf(stderr, "domfs: log_root must be an absolute path\n");
            return -EINVAL;
        }
        opts->log_root = g_strdup(raw->log_root);
    }
    if (opts->conns->len == 0) {
        FsConnOpt c = { 0 };

        g_array_append_val(opts->conns, c);
    }
    return 0;
}

/* --log-root NAME=DIR applies to the connection named NAME (or -c NAME=URI). */
static int
main_apply_log_roots(FsOpts *opts, GPtrArray *log_roots, DomConn **conns)
{
    for (guint i = 0; i < log_roots->len; i++) {
        const char *spec = g_ptr_array_index(log_roots, i);
        const char *eq = strchr(spec, '=');
        g_autofree char *name = g_strndup(spec, eq - spec);
        bool found = false;

        if (!g_path_is_absolute(eq + 1)) {
            fprintf(stderr, "domfs: --log-root %s: DIR must be absolute\n", spec);
            return -EINVAL;
        }
        for (guint c = 0; c < opts->conns->len; c++) {
            FsConnOpt *co = &g_array_index(opts->conns, FsConnOpt, c);

            if (g_strcmp0(co->name, name) == 0 || strcmp(conn_name(conns[c]), name) == 0) {
                g_free(co->log_root);
                co->log_root = g_strdup(eq + 1);
                found = true;
            }
        }
        if (!found) {
            fprintf(stderr, "domfs: --log-root %s: no connection named '%s'\n", spec, name);
            return -EINVAL;
        }
    }
    return 0;
}

static bool main_syslog;

static void
main_log_handler(const char *domain, GLogLevelFlags level, const char *msg, gpointer data)
{
    int prio = LOG_INFO;

    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        prio = LOG_ERR;
    else if (level & G_LOG_LEVEL_WARNING)
        prio = LOG_WARNING;
    else if (level & G_LOG_LEVEL_DEBUG)
        return;
    if (main_syslog)
        syslog(prio, "%s", msg);
    else
        fprintf(stderr, "domfs: %s\n", msg);
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
    pid = fork();
    if (pid < 0)
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

/* fuse_opt_parse strdup()s every "%s" option */
static void
main_free_raw(MainRawOpts *raw)
{
    free(raw->console_max);
    free(raw->migrate_uri);
    free(raw->log_dirs);
    free(raw->log_root);
    free(raw->uid);
    free(raw->gid);
    free(raw->umask);
    memset(raw, 0, sizeof(*raw));
}

static void
main_free_state(FsOpts *opts, GPtrArray *conns)
{
    for (guint i = 0; i < conns->len; i++) {
        if (fs_state.consoles)
            cons_registry_free(fs_state.consoles[i]);
        if (fs_state.policies) {
            g_strfreev(fs_state.policies[i].log_dirs);
            g_free(fs_state.policies[i].log_root);
        }
    }
    for (guint i = 0; fs_state.events && i < opts->conns->len; i++)
        ev_stream_free(fs_state.events[i]);
    ev_stream_free(fs_state.top_events);
    g_free(fs_state.events);
    g_free(fs_state.consoles);
    g_free(fs_state.policies);
    ino_table_free();
    tree_free(fs_state.tree);
    for (guint i = 0; i < conns->len; i++)
        conn_close(conns->pdata[i]);
    for (guint i = 0; i < opts->conns->len; i++) {
        FsConnOpt *co = &g_array_index(opts->conns, FsConnOpt, i);

        g_free(co->name);
        g_free(co->uri);
        g_free(co->log_root);
    }
    g_array_unref(opts->conns);
    g_free(opts->migrate_uri);
    g_free(opts->log_dirs);
    g_free(opts->log_root);
    memset(&fs_state, 0, sizeof(fs_state));
}

int
main(int argc, char **argv)
{
    struct fuse_args args;
    struct fuse_cmdline_opts cl = { 0 };
    MainRawOpts raw = { 0 };
    FsOpts opts = { 0 };
    g_autoptr(GPtrArray) log_roots = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) conns = g_ptr_array_new();
    struct fuse_loop_config *loop_cfg = NULL;
    int notify_fd = -1;
    int ret = 1;

    g_log_set_default_handler(main_log_handler, NULL);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            main_usage(stdout, argv[0]);
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("domfs %s (libfuse %s, libvirt %lu.%lu.%lu)\n", DOMFS_VERSION,
                   fuse_pkgversion(), (unsigned long)LIBVIR_VERSION_NUMBER / 1000000,
                   (unsigned long)(LIBVIR_VERSION_NUMBER / 1000) % 1000,
                   (unsigned long)LIBVIR_VERSION_NUMBER % 1000);
            return 0;
        }
    }
    opts.conns = g_array_new(FALSE, TRUE, sizeof(FsConnOpt));
    if (main_take_own_args(&argc, argv, &opts, log_roots) < 0)
        return 2;
    args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
    if (fuse_opt_parse(&args, &raw, main_opts, main_opt_proc) < 0)
        return 2;
    if (fuse_parse_cmdline(&args, &cl) != 0)
        return 2;
    if (!cl.mountpoint) {
        main_usage(stderr, argv[0]);
        return 2;
    }
    ret = main_build_opts(&raw, &opts);
    main_free_raw(&raw);
    if (ret < 0)
        return 2;
    ret = 1;
    /* the kernel checks modes: only what the uid/gid/umask options grant is allowed */
    fuse_opt_add_arg(&args, "-odefault_permissions,fsname=domfs,subtype=domfs");

    if (!cl.foreground && main_daemonize(&notify_fd) < 0) {
        fprintf(stderr, "domfs: cannot daemonize: %s\n", g_strerror(errno));
        return 1;
    }
    fs_state.opts = &opts;
    fs_state.mount_time = time(NULL);
    fs_state.events = g_new0(EvStream *, opts.conns->len);
    for (guint i = 0; i < opts.conns->len; i++)
        fs_state.events[i] = ev_stream_new(4096);
    notify_start();
    if (conn_event_loop_start() < 0) {
        fprintf(stderr, "domfs: cannot start libvirt's event loop\n");
        goto out;
    }
    for (guint i = 0; i < opts.conns->len; i++) {
        FsConnOpt *co = &g_array_index(opts.conns, FsConnOpt, i);
        g_autoptr(GError) err = NULL;
        DomConn *c = conn_open(co->name, co->uri, notify_cache_change, GINT_TO_POINTER(i),
                               &err);

        if (!c) {
            fprintf(stderr, "domfs: %s\n", err->message);
            goto out;
        }
        g_ptr_array_add(conns, c);
    }
    for (guint i = 0; i < conns->len; i++) {
        for (guint j = 0; j < i; j++) {
            if (strcmp(conn_name(conns->pdata[i]), conn_name(conns->pdata[j])) == 0) {
                fprintf(stderr, "domfs: two connections are named '%s': name them with "
                        "-c NAME=URI\n", conn_name(conns->pdata[i]));
                goto out;
            }
        }
    }
    if (main_apply_log_roots(&opts, log_roots, (DomConn **)conns->pdata) < 0)
        goto out;
    fs_state.policies = g_new0(ConsPolicy, conns->len);
    fs_state.consoles = g_new0(ConsRegistry *, conns->len);
    for (guint i = 0; i < conns->len; i++) {
        FsConnOpt *co = &g_array_index(opts.conns, FsConnOpt, i);

        fs_state.policies[i].log_dirs = g_strsplit(opts.log_dirs, ":", -1);
        fs_state.policies[i].log_root = g_strdup(co->log_root ? co->log_root : opts.log_root);
        if (!fs_state.policies[i].log_root && conn_is_remote(conns->pdata[i]))
            conn_set_note(conns->pdata[i], "console unavailable: remote connection without a "
                          "log root (--log-root NAME=DIR)");
        fs_state.consoles[i] = cons_registry_new(&fs_state.policies[i], opts.console_max);
    }
    fs_state.tree = tree_new((DomConn **)conns->pdata, conns->len, conns->len > 1);
    tree_set_migrate_uri(fs_state.tree, opts.migrate_uri);
    if (conns->len > 1)
        fs_state.top_events = ev_stream_new(4096);
    fs_events_setup();
    ino_table_init(fs_state.tree);

    fs_state.se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), NULL);
    if (!fs_state.se)
        goto out;
    if (fuse_set_signal_handlers(fs_state.se) != 0)
        goto out_session;
    if (fuse_session_mount(fs_state.se, cl.mountpoint) != 0)
        goto out_signals;
    if (!cl.foreground) {
        main_syslog = true;
        openlog("domfs", LOG_PID, LOG_DAEMON);
        main_notify_parent(&notify_fd, 0);
        main_detach_stdio();
    }
    g_message("mounted %u connection(s) on %s", conns->len, cl.mountpoint);

    loop_cfg = fuse_loop_cfg_create();
    fuse_loop_cfg_set_max_threads(loop_cfg, 64);
    fuse_loop_cfg_set_idle_threads(loop_cfg, 8);
    ret = cl.singlethread ? fuse_session_loop(fs_state.se)
                          : fuse_session_loop_mt(fs_state.se, loop_cfg);
    fuse_loop_cfg_destroy(loop_cfg);
    /* stopped by a signal (SIGTERM, SIGINT, SIGHUP): a normal end */
    if (ret == SIGTERM || ret == SIGINT || ret == SIGHUP)
        ret = 0;
    fuse_session_unmount(fs_state.se);
 out_signals:
    fuse_remove_signal_handlers(fs_state.se);
 out_session:
    notify_stop();
    fuse_session_destroy(fs_state.se);
    fs_state.se = NULL;
 out:
    main_notify_parent(&notify_fd, 1);
    notify_stop();
    main_free_state(&opts, conns);
    free(cl.mountpoint);
    fuse_opt_free_args(&args);
    return ret ? 1 : 0;
}
