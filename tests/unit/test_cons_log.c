/* test_cons_log.c - console.log: path mapping, confinement, the bounded tail, streaming
 * across virtlogd rotations, and the readers that matter (cat, tail -n, tail -f as GNU
 * tail polls a FUSE file). Real files in a temporary directory; the "guest" appends to
 * NAME and rotates exactly as virtlogd does. Everything the guest wrote is kept, so a
 * reader's output can be compared byte for byte. */
#include "cons_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#define LOG_DOMAIN "domfs-cons"
#define MODE_OPENAT2 GINT_TO_POINTER(0)
#define MODE_WALK GINT_TO_POINTER(1)
#define TAIL_BUFSIZ 8192 /* GNU tail's BUFSIZ */

typedef struct {
    char *tmp;
    char *logdir;  /* the log_dirs entry */
    char *path;    /* logdir/qemu/g-serial0.log: NAME */
    char *secret;  /* a file outside the log directory */
    ConsRegistry *reg;
    GString *written; /* everything the guest printed, in order */
    guint line;
    uint64_t max_size; /* virtlogd max_size: rotate before NAME would exceed it */
    int max_backups;
} Fx;

/* ---- helpers ---- */

static void
rm_rf(const char *path)
{
    struct stat st;

    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        GDir *d = g_dir_open(path, 0, NULL);
        const char *name;

        while (d && (name = g_dir_read_name(d))) {
            g_autofree char *child = g_build_filename(path, name, NULL);

            rm_rf(child);
        }
        if (d)
            g_dir_close(d);
        g_rmdir(path);
    } else {
        g_unlink(path);
    }
}

static void
append_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, data, len), ==, (ssize_t)len);
    close(fd);
}

static void
put_file(const char *path, const char *data)
{
    g_assert_true(g_file_set_contents(path, data, -1, NULL));
}

static uint64_t
file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* virtlogd's rollover: NAME.(B-2) -> NAME.(B-1), ..., NAME -> NAME.0, then a new NAME */
static void
rotate(Fx *fx)
{
    for (int i = fx->max_backups; i > 0; i--) {
        g_autofree char *from =
            i == 1 ? g_strdup(fx->path) : g_strdup_printf("%s.%d", fx->path, i - 2);
        g_autofree char *to = g_strdup_printf("%s.%d", fx->path, i - 1);

        if (rename(from, to) < 0)
            g_assert_cmpint(errno, ==, ENOENT);
    }
    append_file(fx->path, "", 0);
}

/* The guest prints LEN bytes or more, in lines of varying length, through virtlogd. */
static void
guest_print(Fx *fx, size_t len)
{
    size_t done = 0;

    while (done < len) {
        g_autofree char *l = g_strdup_printf("line %06u %.*s\n", fx->line, (int)(fx->line * 7 % 41),
                                             "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ");

        fx->line++;
        if (fx->max_size && file_size(fx->path) + strlen(l) > fx->max_size)
            rotate(fx);
        append_file(fx->path, l, strlen(l));
        g_string_append(fx->written, l);
        done += strlen(l);
    }
}

static void
fx_registry(Fx *fx, uint64_t max_bytes)
{
    char *dirs[] = { fx->logdir, NULL };
    ConsPolicy pol = { dirs, NULL };

    g_clear_pointer(&fx->reg, cons_registry_free);
    fx->reg = cons_registry_new(&pol, max_bytes);
}

static void
fx_setup(Fx *fx, gconstpointer data)
{
    g_autofree char *qemu = NULL;

    cons_force_walk(data == MODE_WALK);
    fx->tmp = g_dir_make_tmp("domfs-cons-XXXXXX", NULL);
    g_assert_nonnull(fx->tmp);
    fx->logdir = g_build_filename(fx->tmp, "log", NULL);
    qemu = g_build_filename(fx->logdir, "qemu", NULL);
    g_assert_cmpint(g_mkdir_with_parents(qemu, 0755), ==, 0);
    fx->path = g_build_filename(qemu, "g-serial0.log", NULL);
    fx->secret = g_build_filename(fx->tmp, "secret", NULL);
    put_file(fx->secret, "TOP SECRET\n");
    fx->written = g_string_new(NULL);
    fx->max_backups = 3;
    fx_registry(fx, 131072);
}

static void
fx_teardown(Fx *fx, gconstpointer data)
{
    cons_registry_free(fx->reg);
    rm_rf(fx->tmp);
    g_free(fx->tmp);
    g_free(fx->logdir);
    g_free(fx->path);
    g_free(fx->secret);
    g_string_free(fx->written, TRUE);
    cons_force_walk(FALSE);
}

static uint64_t
log_size(ConsLog *log)
{
    uint64_t size = G_MAXUINT64;

    g_assert_cmpint(cons_log_size(log, &size), ==, 0);
    return size;
}

/* Read from *OFF until EOF in CHUNK-byte reads, appending to OUT; returns the bytes read. */
static size_t
read_to_eof(ConsHandle *h, uint64_t *off, GString *out, size_t chunk)
{
    g_autofree char *buf = g_malloc(chunk);
    size_t total = 0;
    ssize_t n;

    while ((n = cons_read(h, *off, buf, chunk)) > 0) {
        g_string_append_len(out, buf, n);
        *off += (uint64_t)n;
        total += (size_t)n;
    }
    g_assert_cmpint(n, ==, 0);
    return total;
}

/* What `cat` prints: open, read from 0 to EOF, close. */
static GString *
cat(ConsLog *log, size_t chunk)
{
    GString *out = g_string_new(NULL);
    ConsHandle *h = NULL;
    uint64_t off = 0;

    g_assert_cmpint(cons_open(log, &h), ==, 0);
    read_to_eof(h, &off, out, chunk);
    cons_close(h);
    return out;
}

static void
assert_tail_of_written(Fx *fx, const GString *got, size_t len)
{
    g_assert_cmpuint(got->len, ==, len);
    g_assert_true(len <= fx->written->len);
    g_assert_true(memcmp(got->str, fx->written->str + fx->written->len - len, len) == 0);
}

static void
expect_refusal(void)
{
    g_test_expect_message(LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*refused*");
}

/* ---- cons_resolve ---- */

static void
check_resolve(const ConsPolicy *pol, const char *xml, const char *want)
{
    g_autofree char *local = NULL;
    g_autofree char *msg = NULL;
    int r = cons_resolve(pol, xml, &local, &msg);

    if (want) {
        g_assert_cmpint(r, ==, 0);
        g_assert_cmpstr(local, ==, want);
        g_assert_null(msg);
    } else {
        g_assert_cmpint(r, ==, -EACCES);
        g_assert_null(local);
        g_assert_nonnull(msg);
        /* the message names the path (control bytes escaped) */
        if (xml && !strchr(xml, '\n'))
            g_assert_nonnull(strstr(msg, xml));
    }
}

static void
test_resolve_inside(void)
{
    char *dirs[] = { "/var/log/libvirt", "/srv/logs/", NULL };
    ConsPolicy pol = { dirs, NULL };

    check_resolve(&pol, "/var/log/libvirt/qemu/g0.log", "/var/log/libvirt/qemu/g0.log");
    check_resolve(&pol, "/var/log/libvirt/g.log", "/var/log/libvirt/g.log");
    check_resolve(&pol, "/srv/logs/g.log", "/srv/logs/g.log");
}

static void
test_resolve_outside(void)
{
    char *dirs[] = { "/var/log/libvirt", NULL };
    char *root_dirs[] = { "/", NULL };
    ConsPolicy pol = { dirs, NULL };
    ConsPolicy root = { root_dirs, NULL };
    ConsPolicy none = { NULL, NULL };

    check_resolve(&pol, "/etc/shadow", NULL);
    check_resolve(&pol, "/var/log/libvirtX/qemu/g.log", NULL);
    check_resolve(&pol, "/var/log/libvirt", NULL);
    check_resolve(&pol, "/var/log/g.log", NULL);
    check_resolve(&none, "/var/log/libvirt/g.log", NULL);
    /* "/" allows every absolute, normalised path but itself */
    check_resolve(&root, "/etc/shadow", "/etc/shadow");
    check_resolve(&root, "/", NULL);
}

static void
test_resolve_unnormalised(void)
{
    char *dirs[] = { "/var/log/libvirt", NULL };
    ConsPolicy pol = { dirs, NULL };
    g_autofree char *local = NULL;
    g_autofree char *msg = NULL;

    check_resolve(&pol, "/var/log/libvirt/../../../etc/shadow", NULL);
    check_resolve(&pol, "/var/log/libvirt/qemu/..", NULL);
    check_resolve(&pol, "/var/log/libvirt/./g.log", NULL);
    check_resolve(&pol, "/var/log/libvirt//g.log", NULL);
    check_resolve(&pol, "/var/log/libvirt/g.log/", NULL);
    check_resolve(&pol, "var/log/libvirt/g.log", NULL);
    check_resolve(&pol, "g.log", NULL);
    check_resolve(&pol, "", NULL);
    check_resolve(&pol, NULL, NULL);
    /* a newline in the XML's path cannot forge a line of the message */
    g_assert_cmpint(cons_resolve(&pol, "/etc/x\nforged", &local, &msg), ==, -EACCES);
    g_assert_null(strchr(msg, '\n'));
    g_assert_nonnull(strstr(msg, "x\\nforged"));
    g_assert_nonnull(strstr(msg, "allowed: /var/log/libvirt"));
}

static void
test_resolve_log_root(void)
{
    char *dirs[] = { "/var/log", "/var/log/libvirt/", NULL };
    ConsPolicy pol = { dirs, "/srv/hostA/log/" };
    ConsPolicy bad = { dirs, "relative/dir" };

    /* D/X becomes log_root/X, D being the most specific entry */
    check_resolve(&pol, "/var/log/libvirt/qemu/g.log", "/srv/hostA/log/qemu/g.log");
    check_resolve(&pol, "/var/log/other.log", "/srv/hostA/log/other.log");
    check_resolve(&pol, "/var/log/libvirtX/g.log", "/srv/hostA/log/libvirtX/g.log");
    check_resolve(&pol, "/etc/shadow", NULL);
    check_resolve(&pol, "/var/log/libvirt/../../etc/shadow", NULL);
    check_resolve(&bad, "/var/log/libvirt/g.log", NULL);
}

/* ---- confinement ---- */

static void
assert_refused(ConsRegistry *reg, const char *path)
{
    ConsLog *log = cons_registry_get(reg, path, NULL);
    ConsHandle *h = NULL;
    uint64_t size = 7;

    expect_refusal();
    g_assert_cmpint(cons_log_size(log, &size), ==, -EACCES);
    g_assert_cmpint(cons_open(log, &h), ==, -EACCES);
    g_assert_null(h);
    /* the refusal is logged once, not at every stat */
    g_test_assert_expected_messages();
    g_assert_cmpuint(size, ==, 7);
}

static void
test_confine_outside(Fx *fx, gconstpointer data)
{
    g_autofree char *sibling = g_strconcat(fx->logdir, "X/g.log", NULL);
    g_autofree char *dotdot = g_build_filename(fx->logdir, "..", "secret", NULL);

    assert_refused(fx->reg, "/etc/shadow");
    assert_refused(fx->reg, fx->secret);
    assert_refused(fx->reg, sibling);
    assert_refused(fx->reg, dotdot);
    assert_refused(fx->reg, "relative/g.log");
}

static void
test_confine_symlink_file(Fx *fx, gconstpointer data)
{
    g_autofree char *inside = g_build_filename(fx->logdir, "qemu", "real.log", NULL);
    g_autofree char *link2 = g_build_filename(fx->logdir, "qemu", "inside.log", NULL);

    g_assert_cmpint(symlink("/etc/shadow", fx->path), ==, 0);
    assert_refused(fx->reg, fx->path);
    /* O_NOFOLLOW: even a symlink to a log inside the directory is refused */
    put_file(inside, "fine\n");
    g_assert_cmpint(symlink(inside, link2), ==, 0);
    assert_refused(fx->reg, link2);
}

static void
test_confine_symlink_dir(Fx *fx, gconstpointer data)
{
    g_autofree char *elsewhere = g_build_filename(fx->tmp, "elsewhere", NULL);
    g_autofree char *target = g_build_filename(elsewhere, "g.log", NULL);
    g_autofree char *link = g_build_filename(fx->logdir, "linked", NULL);
    g_autofree char *via = g_build_filename(link, "g.log", NULL);
    g_autofree char *etc = g_build_filename(fx->logdir, "etc", NULL);
    g_autofree char *shadow = g_build_filename(etc, "shadow", NULL);

    g_assert_cmpint(g_mkdir(elsewhere, 0755), ==, 0);
    put_file(target, "outside the log directory\n");
    g_assert_cmpint(symlink(elsewhere, link), ==, 0);
    assert_refused(fx->reg, via);
    g_assert_cmpint(symlink("/etc", etc), ==, 0);
    assert_refused(fx->reg, shadow);
}

static void
test_confine_not_regular(Fx *fx, gconstpointer data)
{
    g_autofree char *fifo = g_build_filename(fx->logdir, "qemu", "fifo.log", NULL);
    g_autofree char *dir = g_build_filename(fx->logdir, "qemu", "dir.log", NULL);

    g_assert_cmpint(mkfifo(fifo, 0644), ==, 0);
    assert_refused(fx->reg, fifo);
    g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
    assert_refused(fx->reg, dir);
}

/* The confinement root itself may be reached through a symlink. */
static void
test_confine_root_symlink(Fx *fx, gconstpointer data)
{
    g_autofree char *alias = g_build_filename(fx->tmp, "alias", NULL);
    g_autofree char *path = g_build_filename(alias, "qemu", "g-serial0.log", NULL);
    char *dirs[] = { alias, NULL };
    ConsPolicy pol = { dirs, NULL };
    ConsRegistry *reg;
    g_autoptr(GString) out = NULL;

    g_assert_cmpint(symlink(fx->logdir, alias), ==, 0);
    put_file(fx->path, "hello\n");
    reg = cons_registry_new(&pol, 1024);
    out = cat(cons_registry_get(reg, path, NULL), 100);
    g_assert_cmpstr(out->str, ==, "hello\n");
    cons_registry_free(reg);
}

/* A backup name that is a symlink is never opened; the rest of the log still reads. */
static void
test_confine_backup_symlink(Fx *fx, gconstpointer data)
{
    g_autofree char *b0 = g_strconcat(fx->path, ".0", NULL);
    g_autoptr(GString) out = NULL;

    g_assert_cmpint(symlink(fx->secret, b0), ==, 0);
    put_file(fx->path, "current\n");
    out = cat(cons_registry_get(fx->reg, fx->path, NULL), 100);
    g_assert_cmpstr(out->str, ==, "current\n");
}

static void
test_confine_log_root(Fx *fx, gconstpointer data)
{
    char *dirs[] = { "/var/log/libvirt", NULL };
    ConsPolicy pol = { dirs, fx->logdir };
    g_autofree char *local = NULL;
    g_autofree char *msg = NULL;
    g_autofree char *escape = g_build_filename(fx->logdir, "qemu", "escape.log", NULL);
    g_autoptr(GString) out = NULL;
    ConsRegistry *reg = cons_registry_new(&pol, 1024);

    put_file(fx->path, "from the host's log directory\n");
    g_assert_cmpint(cons_resolve(&pol, "/var/log/libvirt/qemu/g-serial0.log", &local, &msg), ==, 0);
    g_assert_cmpstr(local, ==, fx->path);
    out = cat(cons_registry_get(reg, local, NULL), 100);
    g_assert_cmpstr(out->str, ==, "from the host's log directory\n");
    /* confined to log_root: the local paths of other log_dirs are not readable */
    g_assert_cmpint(symlink(fx->secret, escape), ==, 0);
    assert_refused(reg, escape);
    assert_refused(reg, "/var/log/libvirt/qemu/g-serial0.log");
    cons_registry_free(reg);
}

/* NAME replaced by a symlink after an open: nothing more is read through it. */
static void
test_confine_replaced(Fx *fx, gconstpointer data)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    ConsHandle *h = NULL;
    ConsHandle *h2 = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    uint64_t off = 0;
    uint64_t size = 0;
    char buf[256];

    guest_print(fx, 500);
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    read_to_eof(h, &off, out, 64);
    g_assert_cmpuint(off, ==, fx->written->len);
    g_assert_cmpint(g_unlink(fx->path), ==, 0);
    g_assert_cmpint(symlink("/etc/shadow", fx->path), ==, 0);
    expect_refusal();
    g_assert_cmpint(cons_open(log, &h2), ==, -EACCES);
    g_assert_cmpint(cons_read(h, off, buf, sizeof buf), ==, -EACCES);
    /* bytes this handle already knew may still come from the original file (its own
     * descriptor, not the path): never anything of the symlink's target */
    {
        ssize_t n = cons_read(h, 0, buf, sizeof buf);

        g_assert_true(n == -EACCES ||
                      (n > 0 && memcmp(buf, fx->written->str, (size_t)n) == 0));
    }
    g_assert_cmpint(cons_log_size(log, &size), ==, -EACCES);
    g_test_assert_expected_messages();
    cons_close(h);
    /* a fresh registry (a new mount) refuses it from the start */
    fx_registry(fx, 131072);
    assert_refused(fx->reg, fx->path);
}

/* ---- bounded tail, streaming ---- */

static void
test_tail_absent(Fx *fx, gconstpointer data)
{
    g_autofree char *nodir = g_build_filename(fx->logdir, "gone", "g.log", NULL);
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    ConsHandle *h = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    uint64_t off = 0;
    char buf[64];

    g_assert_cmpuint(log_size(cons_registry_get(fx->reg, nodir, NULL)), ==, 0);
    g_assert_cmpuint(log_size(log), ==, 0);
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    g_assert_cmpint(cons_read(h, 0, buf, sizeof buf), ==, 0);
    /* the log appears while the handle is open: it streams from its start */
    guest_print(fx, 100);
    read_to_eof(h, &off, out, 64);
    g_assert_cmpstr(out->str, ==, fx->written->str);
    cons_close(h);
}

static void
test_tail_bounded(Fx *fx, gconstpointer data)
{
    ConsLog *log;
    g_autoptr(GString) out = NULL;
    g_autoptr(GString) out2 = NULL;

    fx_registry(fx, 4096);
    log = cons_registry_get(fx->reg, fx->path, NULL);
    guest_print(fx, 10000);
    g_assert_cmpuint(log_size(log), ==, 4096);
    out = cat(log, 1000);
    assert_tail_of_written(fx, out, 4096);
    /* a file below the bound is all there */
    fx_registry(fx, 1 << 20);
    out2 = cat(cons_registry_get(fx->reg, fx->path, NULL), 333);
    g_assert_cmpstr(out2->str, ==, fx->written->str);
    g_assert_cmpuint(log_size(cons_registry_get(fx->reg, fx->path, NULL)), ==, fx->written->len);
}

static void
test_tail_zero_max(Fx *fx, gconstpointer data)
{
    g_autoptr(GString) out = NULL;

    fx_registry(fx, 0);
    guest_print(fx, 300);
    g_assert_cmpuint(log_size(cons_registry_get(fx->reg, fx->path, NULL)), ==, 0);
    out = cat(cons_registry_get(fx->reg, fx->path, NULL), 100);
    g_assert_cmpuint(out->len, ==, 0);
}

static void
test_stream(Fx *fx, gconstpointer data)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    ConsHandle *h = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    uint64_t off = 0;
    uint64_t prev = 0;

    guest_print(fx, 700);
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    for (int i = 0; i < 20; i++) {
        uint64_t size;

        read_to_eof(h, &off, out, 100);
        g_assert_cmpuint(out->len, ==, fx->written->len);
        size = log_size(log);
        g_assert_cmpuint(size, >=, prev);
        g_assert_cmpuint(size, ==, off);
        prev = size;
        guest_print(fx, 37 * (i + 1));
    }
    read_to_eof(h, &off, out, 100);
    g_assert_cmpstr(out->str, ==, fx->written->str);
    cons_close(h);
}

/* ---- rotation ---- */

static void
test_rotate_simple(Fx *fx, gconstpointer data)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    ConsHandle *h = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    uint64_t off = 0;
    uint64_t s1;

    guest_print(fx, 1000);
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    read_to_eof(h, &off, out, 128);
    guest_print(fx, 200);  /* unread bytes in NAME when it is rotated away */
    rotate(fx);
    s1 = log_size(log);
    g_assert_cmpuint(s1, ==, fx->written->len);
    guest_print(fx, 300);
    g_assert_cmpuint(log_size(log), ==, fx->written->len);
    read_to_eof(h, &off, out, 128);
    g_assert_cmpstr(out->str, ==, fx->written->str);
    cons_close(h);
    /* a new reader of the whole log gets both files, in order */
    g_string_free(out, TRUE);
    out = cat(log, 1 << 16);
    g_assert_cmpstr(out->str, ==, fx->written->str);
}

/* Many rotations while a reader is open, NAME.0 -> .1 -> .2 shifting and the oldest
 * dropped; sometimes several rotations between two reads. */
static void
test_rotate_chain(Fx *fx, gconstpointer data)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    ConsHandle *h = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *b2 = g_strconcat(fx->path, ".2", NULL);
    g_autofree char *b3 = g_strconcat(fx->path, ".3", NULL);
    uint64_t off = 0;
    uint64_t prev = 0;

    fx->max_size = 2000;
    guest_print(fx, 1500);
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    for (int i = 0; i < 60; i++) {
        uint64_t size;

        /* up to 3 rotations' worth between reads: 4 files are retained */
        guest_print(fx, (size_t)(i % 7) * 900 + 50);
        size = log_size(log);
        g_assert_cmpuint(size, >=, prev);
        prev = size;
        read_to_eof(h, &off, out, (size_t)(i % 5) * 700 + 1);
    }
    g_assert_true(g_file_test(b2, G_FILE_TEST_EXISTS));
    g_assert_false(g_file_test(b3, G_FILE_TEST_EXISTS));
    g_assert_cmpuint(out->len, ==, fx->written->len);
    g_assert_true(memcmp(out->str, fx->written->str, out->len) == 0);
    cons_close(h);
}

/* Files already rotated when the log is first looked at are read oldest first. */
static void
test_rotate_first_look(Fx *fx, gconstpointer data)
{
    ConsLog *log;
    g_autoptr(GString) all = NULL;
    g_autoptr(GString) tail = NULL;

    fx->max_size = 1000;
    fx->max_backups = 10;
    guest_print(fx, 4500); /* NAME.3 .. NAME.0, NAME */
    fx_registry(fx, 1 << 20);
    log = cons_registry_get(fx->reg, fx->path, NULL);
    all = cat(log, 4096);
    g_assert_cmpstr(all->str, ==, fx->written->str);

    fx_registry(fx, 2500); /* spans three files */
    log = cons_registry_get(fx->reg, fx->path, NULL);
    tail = cat(log, 300);
    assert_tail_of_written(fx, tail, 2500);
}

/* virtlogd renames the highest backup first, so while it runs NAME.1 is briefly
 * missing with NAME.2 present: a refresh then must not lose NAME.2. */
static void
test_rotate_hole(Fx *fx, gconstpointer data)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    ConsHandle *h = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *b0 = g_strconcat(fx->path, ".0", NULL);
    g_autofree char *b1 = g_strconcat(fx->path, ".1", NULL);
    g_autofree char *b2 = g_strconcat(fx->path, ".2", NULL);
    uint64_t off = 0;
    char buf[100];
    ssize_t n;

    fx->max_size = 1000;
    guest_print(fx, 2500); /* NAME.1, NAME.0, NAME */
    g_assert_true(g_file_test(b1, G_FILE_TEST_EXISTS));
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    n = cons_read(h, off, buf, sizeof buf); /* the reader is in NAME.1 */
    g_assert_cmpint(n, ==, sizeof buf);
    g_string_append_len(out, buf, n);
    off += (uint64_t)n;
    g_assert_cmpint(rename(b1, b2), ==, 0);
    (void)log_size(log);
    g_assert_cmpint(rename(b0, b1), ==, 0);
    (void)log_size(log);
    g_assert_cmpint(rename(fx->path, b0), ==, 0);
    (void)log_size(log);
    append_file(fx->path, "", 0);
    guest_print(fx, 100);
    read_to_eof(h, &off, out, 77);
    g_assert_cmpstr(out->str, ==, fx->written->str);
    cons_close(h);
}

/* A reader that does not keep up loses what fell out of the retained files, and only
 * that: it continues with the oldest byte still there, nothing doubled. WATCHED: the
 * size was polled between rotations (getattr from ls, or another reader), so every file
 * got virtual bytes and the reader's origin has to skip the lost ones. */
static void
fell_behind(Fx *fx, gboolean watched)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    ConsHandle *h = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    uint64_t off = 0;
    size_t first;
    size_t rest;
    uint64_t pinned;
    uint64_t retained = 0;

    fx->max_size = 1000;
    guest_print(fx, 600);
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    first = read_to_eof(h, &off, out, 100);
    g_assert_cmpuint(first, ==, fx->written->len);
    for (int i = 0; i < 40; i++) {
        guest_print(fx, 500);
        if (watched)
            (void)log_size(log);
    }
    for (int i = -1; i < fx->max_backups; i++) {
        g_autofree char *p = i < 0 ? g_strdup(fx->path) : g_strdup_printf("%s.%d", fx->path, i);

        retained += file_size(p);
    }
    /* files that came and went unseen never had virtual bytes */
    pinned = log_size(log);
    g_assert_cmpuint(pinned, ==, watched ? fx->written->len : first + retained);
    rest = read_to_eof(h, &off, out, 100);
    g_assert_true(memcmp(out->str, fx->written->str, first) == 0);
    /* the rest is exactly the retained files: NAME.2 .. NAME */
    g_assert_cmpuint(rest, ==, retained);
    g_assert_true(memcmp(out->str + first, fx->written->str + fx->written->len - rest, rest) == 0);
    /* its end offset never passes the pinned size, and the size never dropped */
    g_assert_cmpuint(off, <=, log_size(log));
    g_assert_cmpuint(log_size(log), ==, pinned);
    /* and it goes on streaming */
    guest_print(fx, 300);
    rest += read_to_eof(h, &off, out, 64);
    g_assert_true(memcmp(out->str + first, fx->written->str + fx->written->len - rest, rest) == 0);
    cons_close(h);
}

static void
test_rotate_fell_behind(Fx *fx, gconstpointer data)
{
    fell_behind(fx, FALSE);
}

static void
test_rotate_fell_behind_watched(Fx *fx, gconstpointer data)
{
    fell_behind(fx, TRUE);
}

/* One file under two names (seen twice by a scan racing virtlogd's renames; here a hard
 * link) is one segment: its bytes are read once. */
/* One file under two names (a hard link): never a log file. A rename race shows a file
 * under two names one after the other, never at once; two links at once are someone
 * planting a file: both names are skipped like missing backups, NAME goes on. */
static void
test_rotate_same_file_twice(Fx *fx, gconstpointer data)
{
    g_autofree char *b0 = g_strconcat(fx->path, ".0", NULL);
    g_autofree char *b1 = g_strconcat(fx->path, ".1", NULL);
    g_autoptr(GString) out = NULL;

    fx->max_size = 1000;
    guest_print(fx, 1500); /* NAME.0, NAME */
    g_assert_cmpint(link(b0, b1), ==, 0);
    out = cat(cons_registry_get(fx->reg, fx->path, NULL), 512);
    g_assert_cmpstr(out->str, ==, fx->written->str + file_size(b0));
}

/* A hard link to a file outside the log directory (same filesystem) is refused: EACCES,
 * never its content. */
static void
test_hardlink_refused(Fx *fx, gconstpointer data)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    ConsHandle *h = NULL;
    uint64_t size = 0;

    g_assert_cmpint(link(fx->secret, fx->path), ==, 0);
    expect_refusal();   /* logged once, however often it is asked */
    g_assert_cmpint(cons_log_size(log, &size), ==, -EACCES);
    g_assert_cmpint(cons_open(log, &h), ==, -EACCES);
    g_test_assert_expected_messages();
    g_assert_null(h);
    /* the link goes: a log again */
    g_assert_cmpint(unlink(fx->path), ==, 0);
    guest_print(fx, 100);
    g_assert_cmpint(cons_log_size(log, &size), ==, 0);
    g_assert_cmpuint(size, ==, fx->written->len);
}

/* A rotated file that changed size is not the file we knew (its inode number was
 * reused, or it was rewritten): dropped, never read at its old length. */
static void
test_rotate_backup_changed(Fx *fx, gconstpointer data)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    g_autofree char *b1 = g_strconcat(fx->path, ".1", NULL);
    g_autoptr(GString) before = NULL;
    g_autoptr(GString) after = NULL;
    size_t old_len = 0;
    int fd;

    fx->max_size = 1000;
    guest_print(fx, 2500); /* NAME.1, NAME.0, NAME */
    before = cat(log, 4096);
    g_assert_cmpstr(before->str, ==, fx->written->str);
    old_len = file_size(b1);
    fd = open(b1, O_WRONLY | O_TRUNC);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, "REUSED\n", 7), ==, 7);
    close(fd);
    after = cat(log, 4096);
    g_assert_cmpstr(after->str, ==, fx->written->str + old_len);
}

/* The same, for a file between two others while a reader is in the older one: the
 * reader skips the dropped file's bytes and goes on with the next file. */
static void
test_rotate_middle_changed(Fx *fx, gconstpointer data)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    g_autofree char *b1 = g_strconcat(fx->path, ".1", NULL);
    g_autofree char *b2 = g_strconcat(fx->path, ".2", NULL);
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GString) want = g_string_new(NULL);
    ConsHandle *h = NULL;
    uint64_t off = 0;
    size_t len2, len1;
    char buf[100];
    int fd;

    fx->max_size = 1000;
    guest_print(fx, 3500); /* NAME.2, NAME.1, NAME.0, NAME */
    len2 = file_size(b2);
    len1 = file_size(b1);
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    g_assert_cmpint(cons_read(h, 0, buf, sizeof buf), ==, sizeof buf);
    g_string_append_len(out, buf, sizeof buf);
    off = sizeof buf;
    fd = open(b1, O_WRONLY | O_TRUNC);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, "REUSED\n", 7), ==, 7);
    close(fd);
    read_to_eof(h, &off, out, 333);
    g_string_append_len(want, fx->written->str, len2);
    g_string_append(want, fx->written->str + len2 + len1);
    g_assert_cmpstr(out->str, ==, want->str);
    cons_close(h);
}

/* ---- truncation, deletion ---- */

static void
test_truncate(Fx *fx, gconstpointer data)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    ConsHandle *h = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    g_autoptr(GString) fresh = NULL;
    struct stat before, after;
    uint64_t off = 0;
    size_t old_len;
    int fd;

    guest_print(fx, 1000);
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    read_to_eof(h, &off, out, 256);
    old_len = fx->written->len;
    g_assert_cmpint(stat(fx->path, &before), ==, 0);
    /* the guest restarts with append='off': same file, truncated, written anew */
    fd = open(fx->path, O_WRONLY | O_TRUNC);
    g_assert_cmpint(fd, >=, 0);
    close(fd);
    guest_print(fx, 300);
    g_assert_cmpint(stat(fx->path, &after), ==, 0);
    g_assert_true(before.st_ino == after.st_ino);
    g_assert_cmpuint(log_size(log), ==, fx->written->len);
    read_to_eof(h, &off, out, 256);
    g_assert_cmpstr(out->str, ==, fx->written->str);
    cons_close(h);
    /* without handles the old bytes are gone: only the new content */
    g_assert_cmpuint(log_size(log), ==, fx->written->len - old_len);
    fresh = cat(log, 100);
    g_assert_cmpstr(fresh->str, ==, fx->written->str + old_len);
}

static void
test_vanish(Fx *fx, gconstpointer data)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    ConsHandle *h = NULL;
    ConsHandle *h2 = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    uint64_t off = 0;
    uint64_t pinned;
    size_t old_len;
    char buf[64];

    guest_print(fx, 800);
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    read_to_eof(h, &off, out, 100);
    pinned = log_size(log);
    g_assert_cmpint(g_unlink(fx->path), ==, 0);
    g_assert_cmpuint(log_size(log), ==, pinned);
    g_assert_cmpint(cons_read(h, off, buf, sizeof buf), ==, 0);
    g_assert_cmpint(cons_open(log, &h2), ==, 0);
    g_assert_cmpint(cons_read(h2, 0, buf, sizeof buf), ==, 0);
    cons_close(h2);
    g_assert_cmpuint(log_size(log), ==, pinned);
    /* a new file at NAME continues the stream */
    old_len = fx->written->len;
    guest_print(fx, 200);
    read_to_eof(h, &off, out, 100);
    g_assert_cmpstr(out->str, ==, fx->written->str);
    cons_close(h);
    g_assert_cmpuint(log_size(log), ==, fx->written->len - old_len);
    /* the whole directory goes */
    rm_rf(fx->logdir);
    g_assert_cmpuint(log_size(log), ==, 0);
}

/* ---- the readers that matter ---- */

typedef struct {
    ConsLog *log;
    ConsHandle *h;
    uint64_t pos; /* the file offset, as the kernel keeps it */
} SimFile;

static ssize_t
sim_read(SimFile *f, char *buf, size_t n)
{
    ssize_t r = cons_read(f->h, f->pos, buf, n);

    g_assert_cmpint(r, >=, 0);
    f->pos += (uint64_t)r;
    return r;
}

/* GNU tail's dump_remainder */
static uint64_t
sim_dump(SimFile *f, GString *out, uint64_t n_bytes)
{
    uint64_t n_written = 0;

    while (n_bytes > 0) {
        char buf[TAIL_BUFSIZ];
        ssize_t r = sim_read(f, buf, MIN(n_bytes, (uint64_t)TAIL_BUFSIZ));

        if (r == 0)
            break;
        g_string_append_len(out, buf, r);
        n_written += (uint64_t)r;
        n_bytes -= (uint64_t)r;
    }
    return n_written;
}

/* GNU tail's file_lines: the last N_LINES lines of [0, END_POS), reading backwards in
 * TAIL_BUFSIZ blocks. Returns the read position. */
static uint64_t
sim_file_lines(SimFile *f, GString *out, unsigned n_lines, uint64_t end_pos)
{
    char buf[TAIL_BUFSIZ];
    uint64_t pos = end_pos;
    size_t bytes_read = pos % TAIL_BUFSIZ;

    if (bytes_read == 0)
        bytes_read = TAIL_BUFSIZ;
    pos -= bytes_read;
    f->pos = pos;
    bytes_read = (size_t)sim_read(f, buf, bytes_read);
    if (bytes_read && buf[bytes_read - 1] != '\n')
        --n_lines;
    do {
        size_t n = bytes_read;

        while (n) {
            const char *nl = memrchr(buf, '\n', n);

            if (!nl)
                break;
            n = (size_t)(nl - buf);
            if (n_lines-- == 0) {
                g_string_append_len(out, nl + 1, bytes_read - (n + 1));
                return pos + bytes_read + sim_dump(f, out, end_pos - (pos + bytes_read));
            }
        }
        if (pos == 0) {
            f->pos = 0;
            return sim_dump(f, out, end_pos);
        }
        pos -= TAIL_BUFSIZ;
        f->pos = pos;
        bytes_read = (size_t)sim_read(f, buf, TAIL_BUFSIZ);
    } while (bytes_read > 0);
    return pos + bytes_read;
}

/* The GNU tail -f polling loop (FUSE counts as remote, so no inotify): 1 s sleeps
 * replaced by the guest writing and virtlogd rotating. */
static void
run_tail_f(Fx *fx, size_t initial)
{
    ConsLog *log = cons_registry_get(fx->reg, fx->path, NULL);
    SimFile f = { log, NULL, 0 };
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree char *want = NULL;
    uint64_t size;
    uint64_t f_size;
    const char *p;
    size_t start_len;
    int nl = 0;

    guest_print(fx, initial);
    start_len = fx->written->len;
    g_assert_cmpint(cons_open(log, &f.h), ==, 0);
    /* tail -n 10: fstat, lseek(SEEK_END) = st_size, file_lines */
    size = log_size(log);
    f_size = size > 0 ? sim_file_lines(&f, out, 10, size) : sim_dump(&f, out, G_MAXUINT64);
    for (int i = 0; i < 400; i++) {
        uint64_t st_size;

        guest_print(fx, (size_t)(i * 131 % 2900));
        st_size = log_size(log);
        if (st_size == f_size)
            continue;
        /* "file truncated": tail would print the whole file again */
        g_assert_cmpuint(st_size, >=, f_size);
        f_size += sim_dump(&f, out, st_size - f_size);
    }
    f_size += sim_dump(&f, out, log_size(log) - f_size);
    g_assert_cmpuint(f_size, ==, log_size(log));
    cons_close(f.h);

    /* expected: the last 10 lines as of the start, then everything after */
    for (p = fx->written->str + start_len - 1; p > fx->written->str; p--)
        if (*p == '\n' && ++nl == 11)
            break;
    want = g_strdup(p == fx->written->str ? p : p + 1);
    g_assert_cmpuint(out->len, ==, strlen(want));
    g_assert_cmpstr(out->str, ==, want);
}

static void
test_tail_f(Fx *fx, gconstpointer data)
{
    fx->max_size = 4096;
    fx_registry(fx, 16384);
    run_tail_f(fx, 12000); /* first read absolute: the file is over TAIL_BUFSIZ */
}

static void
test_tail_f_short(Fx *fx, gconstpointer data)
{
    fx->max_size = 4096;
    fx_registry(fx, 16384);
    run_tail_f(fx, 3000); /* first read at offset 0: sequential */
}

/* tail -c N / tail -n: lseek to st_size - N and read forward, with and without a
 * long-lived follower pinning an older origin. */
static void
test_tail_n(Fx *fx, gconstpointer data)
{
    ConsLog *log;
    ConsHandle *follower = NULL;
    g_autofree char *buf = g_malloc(1 << 16);

    fx->max_size = 3000;
    fx_registry(fx, 4096);
    log = cons_registry_get(fx->reg, fx->path, NULL);
    guest_print(fx, 9000);
    for (int pass = 0; pass < 2; pass++) {
        for (uint64_t n = 1; n <= 4096; n = n * 3 + 1) {
            ConsHandle *h = NULL;
            uint64_t size;
            ssize_t r;

            g_assert_cmpint(cons_open(log, &h), ==, 0);
            size = log_size(log);
            g_assert_cmpuint(size, >=, n);
            r = cons_read(h, size - n, buf, 1 << 16);
            g_assert_cmpint(r, ==, (ssize_t)n);
            g_assert_true(memcmp(buf, fx->written->str + fx->written->len - n, n) == 0);
            g_assert_cmpint(cons_read(h, size, buf, 100), ==, 0);
            cons_close(h);
        }
        /* second pass: a follower opened long ago, the size is larger than the bound */
        if (!follower)
            g_assert_cmpint(cons_open(log, &follower), ==, 0);
        guest_print(fx, 6000);
        g_assert_cmpuint(log_size(log), >, 4096);
    }
    cons_close(follower);
}

/* cat while tail -f is open: at most max bytes, the newest; the size is the follower's. */
static void
test_cat_while_pinned(Fx *fx, gconstpointer data)
{
    ConsLog *log;
    ConsHandle *follower = NULL;
    g_autoptr(GString) out = NULL;
    uint64_t pinned;

    fx->max_size = 3000;
    fx_registry(fx, 4096);
    log = cons_registry_get(fx->reg, fx->path, NULL);
    guest_print(fx, 5000);
    g_assert_cmpint(cons_open(log, &follower), ==, 0);
    guest_print(fx, 7000);
    pinned = log_size(log);
    g_assert_cmpuint(pinned, >, 4096);
    out = cat(log, 1000);
    assert_tail_of_written(fx, out, 4096);
    g_assert_cmpuint(log_size(log), >=, pinned);
    cons_close(follower);
    g_assert_cmpuint(log_size(log), ==, 4096);
}

static void
test_read_cap(Fx *fx, gconstpointer data)
{
    g_autofree char *big = g_malloc(4 << 20);
    ConsLog *log;
    ConsHandle *h = NULL;

    fx_registry(fx, 8 << 20);
    log = cons_registry_get(fx->reg, fx->path, NULL);
    memset(big, 'x', 3 << 20);
    append_file(fx->path, big, 3 << 20);
    g_assert_cmpint(cons_open(log, &h), ==, 0);
    g_assert_cmpint(cons_read(h, 0, big, 4 << 20), ==, 1 << 20);
    g_assert_cmpint(cons_read(h, UINT64_MAX - 10, big, 100), ==, 0);
    cons_close(h);
}

/* ---- registry ---- */

static void
test_registry_evict(Fx *fx, gconstpointer data)
{
    ConsLog *held;
    ConsHandle *h = NULL;
    char buf[64];

    put_file(fx->path, "held\n");
    cons_registry_set_limits(fx->reg, 8, 0);
    held = cons_registry_get(fx->reg, fx->path, NULL);
    g_assert_cmpint(cons_open(held, &h), ==, 0);
    for (int i = 0; i < 100; i++) {
        g_autofree char *p = g_strdup_printf("%s/qemu/other-%d.log", fx->logdir, i);

        g_assert_cmpuint(log_size(cons_registry_get(fx->reg, p, NULL)), ==, 0);
        g_assert_cmpuint(cons_registry_count(fx->reg), <=, 8);
    }
    /* the log with an open handle was never evicted */
    g_assert_true(cons_registry_get(fx->reg, fx->path, NULL) == held);
    g_assert_cmpint(cons_read(h, 0, buf, sizeof buf), ==, 5);
    cons_close(h);
    /* logs used recently are not evicted either: the table grows instead */
    cons_registry_set_limits(fx->reg, 8, (gint64)G_USEC_PER_SEC * 3600);
    for (int i = 0; i < 20; i++) {
        g_autofree char *p = g_strdup_printf("%s/qemu/recent-%d.log", fx->logdir, i);

        (void)cons_registry_get(fx->reg, p, NULL);
    }
    g_assert_cmpuint(cons_registry_count(fx->reg), ==, 28);
}

/* ---- threads ---- */

typedef struct {
    Fx *fx;
    ConsLog *log;
    gint stop;
    GString *outs[4];
    gint printed;           /* prints so far (the writer's generation) */
    gint caught_up[3];      /* per reader: the generation it read to the end of */
} Race;

/* The writer waits (bounded) until every reader has read to the end of what was printed,
 * so that on a loaded machine too each reader keeps up with the rotations (a reader that
 * falls behind legitimately loses bytes; that is another test). */
static void
race_wait_readers(Race *r)
{
    gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;

    for (int i = 0; i < 3; i++) {
        while (g_atomic_int_get(&r->caught_up[i]) < g_atomic_int_get(&r->printed) &&
               g_get_monotonic_time() < end)
            g_usleep(200);
    }
}

static gpointer
race_reader(gpointer data)
{
    Race *r = ((gpointer *)data)[0];
    GString *out = ((gpointer *)data)[1];
    guint seed = GPOINTER_TO_UINT(((gpointer *)data)[2]);
    int index = (int)seed - 1;   /* the seed is the reader's number, from 1 */
    ConsHandle *h = NULL;
    uint64_t off = 0;
    char buf[4096];

    g_assert_cmpint(cons_open(r->log, &h), ==, 0);
    while (!g_atomic_int_get(&r->stop)) {
        gint gen = g_atomic_int_get(&r->printed);
        ssize_t n = cons_read(h, off, buf, 1 + (seed = seed * 1103515245 + 12345) % sizeof buf);
        uint64_t size;

        g_assert_cmpint(n, >=, 0);
        if (n == 0)
            g_atomic_int_set(&r->caught_up[index], gen);
        g_string_append_len(out, buf, n);
        off += (uint64_t)n;
        g_assert_cmpint(cons_log_size(r->log, &size), ==, 0);
        g_assert_cmpuint(size, >=, off);
        if (n == 0)
            g_thread_yield();
    }
    read_to_eof(h, &off, out, 999);
    cons_close(h);
    return NULL;
}

static gpointer
race_catter(gpointer data)
{
    Race *r = data;

    while (!g_atomic_int_get(&r->stop))
        g_string_free(cat(r->log, 1500), TRUE);
    return NULL;
}

static void
test_threads(Fx *fx, gconstpointer data)
{
    Race r = { fx, NULL, 0, { NULL }, 0, { 0 } };
    gpointer args[3][3];
    GThread *th[4];

    fx->max_size = 16384;
    fx->max_backups = 3;
    fx_registry(fx, 65536);
    r.log = cons_registry_get(fx->reg, fx->path, NULL);
    guest_print(fx, 1000);
    for (int i = 0; i < 3; i++) {
        r.outs[i] = g_string_new(NULL);
        args[i][0] = &r;
        args[i][1] = r.outs[i];
        args[i][2] = GUINT_TO_POINTER(i + 1);
        th[i] = g_thread_new("reader", race_reader, args[i]);
    }
    th[3] = g_thread_new("cat", race_catter, &r);
    for (int i = 0; i < 300; i++) {
        guest_print(fx, 500);
        g_atomic_int_inc(&r.printed);
        race_wait_readers(&r);
    }
    g_atomic_int_set(&r.stop, 1);
    for (int i = 0; i < 4; i++)
        g_thread_join(th[i]);
    /* each reader kept up, so each got a contiguous run ending at the last byte */
    for (int i = 0; i < 3; i++) {
        g_assert_cmpuint(r.outs[i]->len, >, 0);
        g_assert_cmpuint(r.outs[i]->len, <=, fx->written->len);
        g_assert_true(memcmp(r.outs[i]->str, fx->written->str + fx->written->len - r.outs[i]->len,
                             r.outs[i]->len) == 0);
        g_string_free(r.outs[i], TRUE);
    }
}

static void
add(const char *name, void (*fn)(Fx *, gconstpointer), gconstpointer mode)
{
    g_autofree char *path = g_strdup_printf("/cons/%s%s", name, mode == MODE_WALK ? "/walk" : "");

    g_test_add(path, Fx, mode, fx_setup, fn, fx_teardown);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    g_test_add_func("/cons/resolve/inside", test_resolve_inside);
    g_test_add_func("/cons/resolve/outside", test_resolve_outside);
    g_test_add_func("/cons/resolve/unnormalised", test_resolve_unnormalised);
    g_test_add_func("/cons/resolve/log-root", test_resolve_log_root);
    for (int m = 0; m < 2; m++) {
        gconstpointer mode = m ? MODE_WALK : MODE_OPENAT2;

        add("confine/outside", test_confine_outside, mode);
        add("confine/symlink-file", test_confine_symlink_file, mode);
        add("confine/symlink-dir", test_confine_symlink_dir, mode);
        add("confine/not-regular", test_confine_not_regular, mode);
        add("confine/root-symlink", test_confine_root_symlink, mode);
        add("confine/backup-symlink", test_confine_backup_symlink, mode);
        add("confine/log-root", test_confine_log_root, mode);
        add("confine/replaced-by-symlink", test_confine_replaced, mode);
    }
    add("tail/absent", test_tail_absent, MODE_OPENAT2);
    add("tail/bounded", test_tail_bounded, MODE_OPENAT2);
    add("tail/zero-max", test_tail_zero_max, MODE_OPENAT2);
    add("stream", test_stream, MODE_OPENAT2);
    add("rotate/simple", test_rotate_simple, MODE_OPENAT2);
    add("rotate/chain", test_rotate_chain, MODE_OPENAT2);
    add("rotate/chain", test_rotate_chain, MODE_WALK);
    add("rotate/first-look", test_rotate_first_look, MODE_OPENAT2);
    add("rotate/hole", test_rotate_hole, MODE_OPENAT2);
    add("rotate/fell-behind", test_rotate_fell_behind, MODE_OPENAT2);
    add("rotate/same-file-twice", test_rotate_same_file_twice, MODE_OPENAT2);
    add("confine/hardlink", test_hardlink_refused, MODE_OPENAT2);
    add("confine/hardlink-walk", test_hardlink_refused, MODE_WALK);
    add("rotate/backup-changed", test_rotate_backup_changed, MODE_OPENAT2);
    add("rotate/middle-changed", test_rotate_middle_changed, MODE_OPENAT2);
    add("rotate/fell-behind-watched", test_rotate_fell_behind_watched, MODE_OPENAT2);
    add("truncate", test_truncate, MODE_OPENAT2);
    add("vanish", test_vanish, MODE_OPENAT2);
    add("reader/tail-f", test_tail_f, MODE_OPENAT2);
    add("reader/tail-f-short", test_tail_f_short, MODE_OPENAT2);
    add("reader/tail-n", test_tail_n, MODE_OPENAT2);
    add("reader/cat-while-pinned", test_cat_while_pinned, MODE_OPENAT2);
    add("reader/read-cap", test_read_cap, MODE_OPENAT2);
    add("registry/evict", test_registry_evict, MODE_OPENAT2);
    add("threads", test_threads, MODE_OPENAT2);
    return g_test_run();
}
