/* fs_opts.c - see fs_opts.h.
 *
 * Accepted forms: `domfs [-c [NAME=]URI]... [--log-root NAME=DIR]... [-o OPT,...] [-f] [-d]
 * MOUNTPOINT` and, as mount(8) and fstab run it through mount.fuse3, `domfs URI MOUNTPOINT
 * -o OPT,...` (the URI as the source). -o keepalive=INTERVAL,COUNT: fuse_opt splits -o at
 * commas, so a bare number right after keepalive=INTERVAL is taken as its COUNT. */
#define G_LOG_DOMAIN "domfs-opts"

#include "fs_opts.h"

#include <errno.h>
#include <stdarg.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

/* Defaults (the README and domfs(1) carry the same). */
#define OPTS_DEFAULT_CONSOLE_MAX 131072
#define OPTS_CONSOLE_MAX_MAX (1ULL << 30)
#define OPTS_DEFAULT_TIMEOUT 10
#define OPTS_DEFAULT_KEEPALIVE_INTERVAL 5
#define OPTS_DEFAULT_KEEPALIVE_COUNT 3
#define OPTS_DEFAULT_STATS_INTERVAL 5
#define OPTS_DEFAULT_AGENT_INTERVAL 30
#define OPTS_MAX_SECONDS 86400
#define OPTS_DEFAULT_LOG_DIRS "/var/log/libvirt"
#define OPTS_DEFAULT_MEDIA_DIRS "/var/lib/libvirt/images"
#define OPTS_DEFAULT_MIGRATE_URI "qemu+ssh://%h/system"

enum {
    KEY_CONNECT, KEY_CONNECT_LONG, KEY_LOG_ROOT, KEY_LOG_ROOT_EQ, KEY_RO, KEY_ALLOW_OTHER,
    KEY_NONEMPTY, KEY_HELP, KEY_VERSION, KEY_KEEPALIVE, KEY_AUTO_UNMOUNT, KEY_CLONE_FD,
};

/* What fuse_opt_parse fills (strings are malloc'd by it). */
typedef struct {
    char *console_max;
    char *migrate_uri;
    char *log_dirs;
    char *log_root;
    char *media_dirs;
    char *uid;
    char *gid;
    char *umask;
    char *timeout;
    char *stats_interval;
    char *agent_interval;
    char *keepalive;         /* INTERVAL, with COUNT from keepalive_count */
    char *keepalive_count;
    GPtrArray *conns;        /* "[NAME=]URI" */
    GPtrArray *log_roots;    /* "NAME=DIR" */
    GPtrArray *positional;
    GPtrArray *positional_at; /* each positional's own argv string (fuse_opt passes it) */
    bool ro;
    bool allow_other;
    bool nonempty;
    bool auto_unmount;       /* FUSE options a supervised mount cannot have */
    bool clone_fd;
    bool help;
    bool version;
    bool expect_count;       /* the last option was keepalive=INTERVAL */
} OptsRaw;

#define OPT(t, p) { t, offsetof(OptsRaw, p), 1 }
static const struct fuse_opt opts_table[] = {
    OPT("console_max=%s", console_max),
    OPT("migrate_uri=%s", migrate_uri),
    OPT("log_dirs=%s", log_dirs),
    OPT("log_root=%s", log_root),
    OPT("media_dirs=%s", media_dirs),
    OPT("uid=%s", uid),
    OPT("gid=%s", gid),
    OPT("umask=%s", umask),
    OPT("timeout=%s", timeout),
    OPT("stats_interval=%s", stats_interval),
    OPT("agent_interval=%s", agent_interval),
    FUSE_OPT_KEY("keepalive=", KEY_KEEPALIVE),
    FUSE_OPT_KEY("-c ", KEY_CONNECT),
    FUSE_OPT_KEY("--connect ", KEY_CONNECT),
    FUSE_OPT_KEY("--connect=", KEY_CONNECT_LONG),
    FUSE_OPT_KEY("--log-root ", KEY_LOG_ROOT),
    FUSE_OPT_KEY("--log-root=", KEY_LOG_ROOT_EQ),
    FUSE_OPT_KEY("ro", KEY_RO),
    FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
    FUSE_OPT_KEY("nonempty", KEY_NONEMPTY),
    FUSE_OPT_KEY("auto_unmount", KEY_AUTO_UNMOUNT),
    FUSE_OPT_KEY("clone_fd", KEY_CLONE_FD),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_END
};

static const char *
opts_strip(const char *arg, const char *prefix)
{
    return g_str_has_prefix(arg, prefix) ? arg + strlen(prefix) : arg;
}

static bool
opts_all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++) {
        if (!g_ascii_isdigit(*s))
            return false;
    }
    return true;
}

static int
opts_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
    OptsRaw *r = data;
    bool was_keepalive = r->expect_count;

    r->expect_count = false;
    switch (key) {
    case KEY_CONNECT:
        g_ptr_array_add(r->conns, g_strdup(opts_strip(opts_strip(arg, "--connect"), "-c")));
        return 0;
    case KEY_CONNECT_LONG:
        g_ptr_array_add(r->conns, g_strdup(opts_strip(arg, "--connect=")));
        return 0;
    case KEY_LOG_ROOT:
    case KEY_LOG_ROOT_EQ:
        g_ptr_array_add(r->log_roots, g_strdup(opts_strip(opts_strip(arg, "--log-root="),
                                                          "--log-root")));
        return 0;
    case KEY_KEEPALIVE:
        g_free(r->keepalive);
        r->keepalive = g_strdup(opts_strip(arg, "keepalive="));
        r->expect_count = true;
        return 0;
    case KEY_RO:
        r->ro = true;
        return 1;      /* FUSE mounts read-only too */
    case KEY_ALLOW_OTHER:
        r->allow_other = true;
        return 1;
    case KEY_NONEMPTY:
        r->nonempty = true;
        return 0;
    case KEY_AUTO_UNMOUNT:
        r->auto_unmount = true;
        return 1;
    case KEY_CLONE_FD:
        r->clone_fd = true;
        return 1;
    case KEY_HELP:
        r->help = true;
        return 0;
    case KEY_VERSION:
        r->version = true;
        return 0;
    case FUSE_OPT_KEY_NONOPT:
        g_ptr_array_add(r->positional, g_strdup(arg));
        g_ptr_array_add(r->positional_at, (gpointer)arg);
        return 0;
    case FUSE_OPT_KEY_OPT:
        if (was_keepalive && opts_all_digits(arg)) {
            g_free(r->keepalive_count);
            r->keepalive_count = g_strdup(arg);
            return 0;
        }
        return 1;
    default:
        return 1;
    }
}

static void
opts_raw_clear(OptsRaw *r)
{
    char **strs[] = { &r->console_max, &r->migrate_uri, &r->log_dirs, &r->log_root,
                      &r->media_dirs, &r->uid, &r->gid, &r->umask, &r->timeout,
                      &r->stats_interval, &r->agent_interval };

    /* fuse_opt_parse strdup()s every "%s" option */
    for (size_t i = 0; i < G_N_ELEMENTS(strs); i++)
        g_clear_pointer(strs[i], free);
    g_clear_pointer(&r->keepalive, g_free);
    g_clear_pointer(&r->keepalive_count, g_free);
    g_clear_pointer(&r->conns, g_ptr_array_unref);
    g_clear_pointer(&r->log_roots, g_ptr_array_unref);
    g_clear_pointer(&r->positional, g_ptr_array_unref);
    g_clear_pointer(&r->positional_at, g_ptr_array_unref);
}

/* ---- values ---- */

static int
opts_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static int
opts_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("domfs: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

/* A number in BASE, MIN..MAX; absent (NULL) leaves *OUT. */
static int
opts_number(const char *name, const char *s, guint base, guint64 min, guint64 max,
            guint64 *out)
{
    g_autoptr(GError) err = NULL;

    if (!s)
        return 0;
    if (!g_ascii_string_to_unsigned(s, base, min, max, out, &err))
        return opts_fail("bad %s '%s': %s", name, s, err->message);
    return 0;
}

static int
opts_seconds(const char *name, const char *s, guint min, guint *out)
{
    guint64 v = *out;

    if (opts_number(name, s, 10, min, OPTS_MAX_SECONDS, &v) < 0)
        return -1;
    *out = (guint)v;
    return 0;
}

static int
opts_uid(const char *s, uid_t *out)
{
    struct passwd *pw;
    guint64 v;

    if (!s)
        return 0;
    if (g_ascii_string_to_unsigned(s, 10, 0, (uid_t)-2, &v, NULL)) {
        *out = (uid_t)v;
        return 0;
    }
    if (!(pw = getpwnam(s)))
        return opts_fail("bad uid '%s': no such user", s);
    *out = pw->pw_uid;
    return 0;
}

static int
opts_gid(const char *s, gid_t *out)
{
    struct group *gr;
    guint64 v;

    if (!s)
        return 0;
    if (g_ascii_string_to_unsigned(s, 10, 0, (gid_t)-2, &v, NULL)) {
        *out = (gid_t)v;
        return 0;
    }
    if (!(gr = getgrnam(s)))
        return opts_fail("bad gid '%s': no such group", s);
    *out = gr->gr_gid;
    return 0;
}

/* DIR[:DIR] of absolute paths. */
static int
opts_dirs(const char *name, const char *s, const char *dflt, char ***out)
{
    g_auto(GStrv) dirs = g_strsplit(s ? s : dflt, ":", -1);

    for (char **d = dirs; *d; d++) {
        if (!g_path_is_absolute(*d))
            return opts_fail("%s entries must be absolute paths, not '%s'", name, *d);
    }
    *out = g_steal_pointer(&dirs);
    return 0;
}

/* ---- connections ---- */

static int
opts_conn(const char *spec, TreeHostConfig *h)
{
    const char *eq = strchr(spec, '=');
    const char *colon = strchr(spec, ':');

    /* NAME=URI: a '=' before any ':' (URIs may hold '=' in their query) */
    if (!eq || (colon && colon < eq)) {
        h->uri = g_strdup(spec);
        return 0;
    }
    h->name = g_strndup(spec, (gsize)(eq - spec));
    h->uri = g_strdup(eq + 1);
    if (!*h->name || strchr(h->name, '/') || strcmp(h->name, ".") == 0 ||
        strcmp(h->name, "..") == 0 || strcmp(h->name, ".domfs") == 0)
        return opts_fail("bad connection name in '%s'", spec);
    return 0;
}

static int
opts_hosts(OptsRaw *r, const char *source, TreeConfig *t)
{
    guint n = r->conns->len + (source ? 1 : 0);

    t->n_hosts = MAX(n, 1);
    t->hosts = g_new0(TreeHostConfig, t->n_hosts);
    for (guint i = 0; i < r->conns->len; i++) {
        if (opts_conn(g_ptr_array_index(r->conns, i), &t->hosts[i]) < 0)
            return -1;
    }
    if (source && opts_conn(source, &t->hosts[r->conns->len]) < 0)
        return -1;
    return 0;
}

/* --log-root NAME=DIR: to the host named NAME with -c NAME=URI, else kept for the tree to
 * match against hostnames once connected. */
static int
opts_log_roots(OptsRaw *r, TreeConfig *t)
{
    g_autoptr(GStrvBuilder) unmatched = g_strv_builder_new();

    for (guint i = 0; i < r->log_roots->len; i++) {
        const char *spec = g_ptr_array_index(r->log_roots, i);
        const char *eq = strchr(spec, '=');
        g_autofree char *name = eq ? g_strndup(spec, (gsize)(eq - spec)) : NULL;
        bool found = false;

        if (!eq || eq == spec)
            return opts_fail("--log-root takes NAME=DIR, not '%s'", spec);
        if (!g_path_is_absolute(eq + 1))
            return opts_fail("--log-root %s: DIR must be absolute", spec);
        for (guint h = 0; h < t->n_hosts; h++) {
            if (g_strcmp0(t->hosts[h].name, name) == 0) {
                g_free(t->hosts[h].log_root);
                t->hosts[h].log_root = g_strdup(eq + 1);
                found = true;
            }
        }
        if (!found)
            g_strv_builder_add(unmatched, spec);
    }
    t->log_roots = g_strv_builder_end(unmatched);
    if (r->log_root && !g_path_is_absolute(r->log_root))
        return opts_fail("log_root must be an absolute path");
    for (guint h = 0; r->log_root && h < t->n_hosts; h++) {
        if (!t->hosts[h].log_root)
            t->hosts[h].log_root = g_strdup(r->log_root);
    }
    return 0;
}

/* ---- the whole command line ---- */

void
fs_opts_usage(FILE *out, const char *prog)
{
    fprintf(out,
"usage: %s [-c [NAME=]URI]... [--log-root NAME=DIR]... [-o OPTION[,OPTION]...] [-f] [-d] MOUNTPOINT\n"
"       %s URI MOUNTPOINT [-o OPTION[,OPTION]...]   (the form of mount(8) and fstab(5))\n"
"       %s --help | --version\n"
"\n"
"Mount the guests of libvirt connections as directories of small text files.\n"
"\n"
"  -c [NAME=]URI         libvirt connection (repeatable); default: libvirt's default URI,\n"
"                        as virsh resolves it. test:///default needs no daemon.\n"
"  --log-root NAME=DIR   connection NAME's log directory is DIR on this machine\n"
"  -f                    stay in the foreground: this process supervises the one that\n"
"                        serves (a crash is taken over; kill -HUP upgrades in place)\n"
"  -d                    debug: one unsupervised foreground process, FUSE requests logged\n"
"  -o console_max=BYTES  bound of console.log (default 131072)\n"
"  -o migrate_uri=TEMPLATE  destination URI, %%h = host (default qemu+ssh://%%h/system)\n"
"  -o log_dirs=DIR[:DIR] where console logs may be read from (default /var/log/libvirt)\n"
"  -o log_root=DIR       log root of every connection (see --log-root)\n"
"  -o media_dirs=DIR[:DIR]  where users other than the owner may take cdrom media from\n"
"                        (default /var/lib/libvirt/images)\n"
"  -o uid=N|NAME,gid=N|NAME  owner of every file (default: the mounting user)\n"
"  -o umask=NNN          mode mask (default 077; 022 with allow_other)\n"
"  -o ro                 refuse every write (EROFS)\n"
"  -o allow_other        let other users in (they may read; writing needs gid=/umask=)\n"
"  -o nonempty           mount even where domfs is mounted already\n"
"  -o timeout=SECONDS    a write libvirt has not answered fails ETIMEDOUT (default 10)\n"
"  -o keepalive=INTERVAL,COUNT  libvirt keepalive (default 5,3): stalled after INTERVAL\n"
"  -o stats_interval=SECONDS  statistics fetch period (default 5; 0: off)\n"
"  -o agent_interval=SECONDS  guest-agent data refresh period (default 30; 0: off)\n"
"  other -o options are passed to FUSE (see fuse(8)); fsname= defaults to the URI\n",
            prog, prog, prog);
}

static void
opts_version(void)
{
    printf("domfs %s (libfuse %s, libvirt %s)\n", DOMFS_VERSION, fuse_pkgversion(),
           DOMFS_LIBVIRT_VERSION);
}

static int
opts_values(OptsRaw *r, FsOptions *o)
{
    TreeConfig *t = &o->tree;
    guint64 v = OPTS_DEFAULT_CONSOLE_MAX;
    guint64 umask_v;
    guint kcount = OPTS_DEFAULT_KEEPALIVE_COUNT;

    if (opts_number("console_max", r->console_max, 10, 1, OPTS_CONSOLE_MAX_MAX, &v) < 0)
        return -1;
    t->console_max = v;
    o->modes.uid = getuid();
    o->modes.gid = getgid();
    if (opts_uid(r->uid, &o->modes.uid) < 0 || opts_gid(r->gid, &o->modes.gid) < 0)
        return -1;
    umask_v = r->allow_other ? 022 : 077;
    if (opts_number("umask", r->umask, 8, 0, 0777, &umask_v) < 0)
        return -1;
    o->modes.umask = (mode_t)umask_v;
    o->modes.read_only = r->ro;
    o->allow_other = r->allow_other;
    o->nonempty = r->nonempty;
    t->owner = o->modes.uid;
    t->timeout_s = OPTS_DEFAULT_TIMEOUT;
    t->keepalive_interval = OPTS_DEFAULT_KEEPALIVE_INTERVAL;
    t->stats_interval = OPTS_DEFAULT_STATS_INTERVAL;
    t->agent_interval = OPTS_DEFAULT_AGENT_INTERVAL;
    if (opts_seconds("timeout", r->timeout, 1, &t->timeout_s) < 0 ||
        opts_seconds("keepalive interval", r->keepalive, 0, &t->keepalive_interval) < 0 ||
        opts_seconds("keepalive count", r->keepalive_count, 1, &kcount) < 0 ||
        opts_seconds("stats_interval", r->stats_interval, 0, &t->stats_interval) < 0 ||
        opts_seconds("agent_interval", r->agent_interval, 0, &t->agent_interval) < 0)
        return -1;
    t->keepalive_count = kcount;
    t->migrate_uri = g_strdup(r->migrate_uri ? r->migrate_uri : OPTS_DEFAULT_MIGRATE_URI);
    if (opts_dirs("log_dirs", r->log_dirs, OPTS_DEFAULT_LOG_DIRS, &t->log_dirs) < 0 ||
        opts_dirs("media_dirs", r->media_dirs, OPTS_DEFAULT_MEDIA_DIRS, &t->media_dirs) < 0)
        return -1;
    return 0;
}

/* Where MOUNTPOINT (the positional AT, fuse_opt's pointer into ARGV) is in ARGV: the
 * supervisor gives its children the same command line with an absolute mount point. */
static int
opts_argv_index(int argc, char **argv, const char *at)
{
    for (int i = argc - 1; i > 0; i--) {
        if (argv[i] == at)
            return i;
    }
    for (int i = argc - 1; i > 0; i--) {
        if (strcmp(argv[i], at) == 0)
            return i;
    }
    return -1;
}

/* fsname=: the URI with one connection (the source mount(8) and /proc/mounts show), else
 * "domfs"; before the user's options, so that an explicit -o fsname= still wins. */
static void
opts_fsname(FsOptions *o)
{
    const TreeConfig *t = &o->tree;
    const char *name = t->n_hosts == 1 && t->hosts[0].uri ? t->hosts[0].uri : "domfs";
    g_autofree char *fs = g_strdup_printf("fsname=%s", name);
    char *opts = NULL;

    /* the kernel checks modes: only what the uid/gid/umask options grant is allowed */
    if (fuse_opt_add_opt(&opts, "default_permissions,subtype=domfs") < 0 ||
        fuse_opt_add_opt_escaped(&opts, fs) < 0 || fuse_opt_insert_arg(&o->fuse, 1, "-o") < 0 ||
        fuse_opt_insert_arg(&o->fuse, 2, opts) < 0)
        g_warning("out of memory for the mount options");
    free(opts);
}

static int
opts_positionals(OptsRaw *r, int argc, char **argv, FsOptions *o, const char **source)
{
    guint n = r->positional->len;

    if (n == 0) {
        opts_fail("no mount point given (MOUNTPOINT: the directory to mount on)");
        fs_opts_usage(stderr, argv[0]);
        return -1;
    }
    if (n > 2) {
        opts_fail("too many arguments: '%s' (a URI and a mount point at most; -c for more "
                  "connections)", (const char *)g_ptr_array_index(r->positional, 2));
        return -1;
    }
    *source = n == 2 ? g_ptr_array_index(r->positional, 0) : NULL;
    o->mountpoint = g_strdup(g_ptr_array_index(r->positional, n - 1));
    o->mountpoint_arg = opts_argv_index(argc, argv, g_ptr_array_index(r->positional_at, n - 1));
    return 0;
}

int
fs_opts_parse(int argc, char **argv, FsOptions *o)
{
    OptsRaw r = { 0 };
    struct fuse_cmdline_opts cl = { 0 };
    const char *source = NULL;
    int ret = -1;

    memset(o, 0, sizeof(*o));
    r.conns = g_ptr_array_new_with_free_func(g_free);
    r.log_roots = g_ptr_array_new_with_free_func(g_free);
    r.positional = g_ptr_array_new_with_free_func(g_free);
    r.positional_at = g_ptr_array_new();
    o->fuse = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
    if (fuse_opt_parse(&o->fuse, &r, opts_table, opts_proc) < 0)
        goto out;
    if (r.help || r.version) {
        r.help ? fs_opts_usage(stdout, argv[0]) : opts_version();
        ret = 1;
        goto out;
    }
    if (fuse_parse_cmdline(&o->fuse, &cl) != 0 ||
        opts_positionals(&r, argc, argv, o, &source) < 0)
        goto out;
    o->foreground = cl.foreground;
    o->debug = cl.debug;
    o->singlethread = cl.singlethread;
    /* the supervisor keeps the connection when the serving process dies: auto_unmount's
     * helper would unmount then, and a cloned descriptor's requests would fail */
    if ((r.auto_unmount || r.clone_fd) && !o->debug) {
        opts_fail("-o %s cannot be used: the mount outlives the serving process (only "
                  "with -d, a process of its own)", r.auto_unmount ? "auto_unmount" : "clone_fd");
        goto out;
    }
    if (opts_values(&r, o) < 0 || opts_hosts(&r, source, &o->tree) < 0 ||
        opts_log_roots(&r, &o->tree) < 0)
        goto out;
    opts_fsname(o);
    ret = 0;
 out:
    free(cl.mountpoint);
    opts_raw_clear(&r);
    return ret;
}

void
fs_opts_clear(FsOptions *o)
{
    TreeConfig *t = &o->tree;

    for (guint i = 0; t->hosts && i < t->n_hosts; i++) {
        g_free(t->hosts[i].name);
        g_free(t->hosts[i].uri);
        g_free(t->hosts[i].log_root);
    }
    g_free(t->hosts);
    g_free(t->migrate_uri);
    g_strfreev(t->log_dirs);
    g_strfreev(t->log_roots);
    g_strfreev(t->media_dirs);
    g_free(o->mountpoint);
    fuse_opt_free_args(&o->fuse);
    memset(o, 0, sizeof(*o));
}
