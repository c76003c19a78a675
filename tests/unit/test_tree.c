/* test_tree.c - lib/tree.c without FUSE: the names, kinds, writable flags and contents of
 * the tree SPEC.md describes, over connections to libvirt's test driver, in the
 * one-connection layout and in the several-host layout.
 *
 * Paths are walked from the root with tree_child() one component at a time, exactly as
 * the FUSE front end looks names up; contents come from tree_read(), writes go through
 * tree_write(), and every expected value is written out by hand from the node XML.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "dev_model.h"
#include "tree.h"
#include "ut_common.h"

/* ---- walking the tree (ut_walk: as the FUSE front end looks names up) ---- */

static int
walk(Tree *t, const char *path, TreeNode *out, TreeAttr *attr)
{
    return ut_walk(t, path, out, attr);
}

static void
must_walk(Tree *t, const char *path, TreeNode *out, TreeAttr *attr)
{
    int ret = walk(t, path, out, attr);

    if (ret < 0)
        g_error("walk \"%s\": %s", path, g_strerror(-ret));
}

/* the content of the file at PATH; fails the test when it cannot be read */
static char *
read_path(Tree *t, const char *path)
{
    TreeNode n;
    TreeAttr a;
    GString *s = g_string_new(NULL);
    int ret;

    must_walk(t, path, &n, &a);
    g_assert_false(a.is_dir);
    ret = ut_read_node(t, &n, s);
    if (ret < 0)
        g_error("read \"%s\": %s", path, g_strerror(-ret));
    tree_node_clear(&n);
    return g_string_free(s, FALSE);
}

/* "name name/ ..." of the directory at PATH (dirs with a trailing '/'), in list order */
static char *
list_path(Tree *t, const char *path)
{
    TreeNode n;
    TreeAttr a;
    GPtrArray *list = NULL;
    GString *s = g_string_new(NULL);
    int ret;

    must_walk(t, path, &n, &a);
    g_assert_true(a.is_dir);
    ret = tree_list(t, &n, &list);
    if (ret < 0)
        g_error("list \"%s\": %s", path, g_strerror(-ret));
    for (guint i = 0; i < list->len; i++) {
        TreeDirent *e = list->pdata[i];

        g_string_append_printf(s, "%s%s%s", i ? " " : "", e->name, e->is_dir ? "/" : "");
    }
    g_ptr_array_unref(list);
    tree_node_clear(&n);
    return g_string_free(s, FALSE);
}

static int
write_path(Tree *t, const char *path, const char *buf)
{
    return ut_write_path(t, path, buf);
}

/* .domfs/connection of host INDEX, as the host describes itself */
static char *
describe(Tree *t, int index)
{
    GString *s = g_string_new(NULL);

    host_describe(tree_host(t, index), s);
    return g_string_free(s, FALSE);
}

#define assert_read(t, path, want)                       \
    do {                                                 \
        g_autofree char *got_ = read_path((t), (path));  \
        g_assert_cmpstr(got_, ==, (want));               \
    } while (0)

#define assert_list(t, path, want)                       \
    do {                                                 \
        g_autofree char *got_ = list_path((t), (path));  \
        g_assert_cmpstr(got_, ==, (want));               \
    } while (0)

/* ---- fixtures ---- */

typedef struct {
    UtFleet *f;
    DomConn *c;
    virConnectPtr vc;
    Tree *t;
} Single;

static void
single_setup(Single *fx, gconstpointer data)
{
    const char *names[] = { "h1" };
    const char *uris[1];

    fx->f = ut_fleet_new(UT_FLEET_XML);
    uris[0] = fx->f->uri;
    fx->t = ut_tree_new(names, uris, 1, NULL);
    fx->c = ut_tree_conn(fx->t, 0);
    fx->vc = conn_get_virt(fx->c);
}

static void
single_teardown(Single *fx, gconstpointer data)
{
    virConnectClose(fx->vc);
    ut_tree_free(fx->t);
    ut_fleet_free(fx->f);
}

#define GUEST_FILES "state reason uuid id vcpus memory autostart persistent title " \
                    "description xml error console.log migrate cpu.stat vcpu.stat " \
                    "memory.stat io.stat net.stat"

/* ---- one connection ---- */

static void
test_root(Single *fx, gconstpointer data)
{
    TreeNode n;
    TreeAttr a;

    tree_root(fx->t, &n);
    g_assert_cmpint(n.kind, ==, TN_CONNROOT);
    g_assert_cmpint(n.conn, ==, 0);
    g_assert_cmpint(tree_stat(fx->t, &n, &a), ==, 0);
    g_assert_true(a.is_dir);
    g_assert_false(a.writable);
    g_assert_false(tree_is_multi(fx->t));
    g_assert_cmpuint(tree_n_conns(fx->t), ==, 1);
    g_assert_true(host_conn(tree_host(fx->t, 0)) == fx->c);
    g_assert_null(tree_host(fx->t, 1));
    g_assert_null(tree_host(fx->t, -1));
    tree_node_clear(&n);
    /* .domfs first, then the guests sorted by directory name */
    assert_list(fx->t, "", ".domfs/ alpha/ beta/ gamma/ we\"ird\\name/");
}

static void
test_domfs_dir(Single *fx, gconstpointer data)
{
    static const struct {
        const char *name;
        TreeFlavor flavor;
    } files[] = {
        { "connection", TF_CONNECTION },
        { "events", TF_EVENTS },
        { "metrics.prom", TF_METRICS },
    };
    TreeNode n;
    TreeAttr a;
    g_autofree char *conn = NULL;
    g_autofree char *desc = describe(fx->t, 0);

    must_walk(fx->t, ".domfs", &n, &a);
    g_assert_cmpint(n.kind, ==, TN_DOMFS);
    g_assert_true(a.is_dir);
    tree_node_clear(&n);
    assert_list(fx->t, ".domfs", "connection events metrics.prom");
    for (size_t i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *p = g_strconcat(".domfs/", files[i].name, NULL);

        must_walk(fx->t, p, &n, &a);
        g_assert_cmpint(n.kind, ==, TN_DOMFS_FILE);
        g_assert_false(a.is_dir);
        g_assert_false(a.writable);
        g_assert_cmpint(a.flavor, ==, files[i].flavor);
        tree_node_clear(&n);
    }
    conn = read_path(fx->t, ".domfs/connection");
    g_assert_cmpstr(conn, ==, desc);
    g_assert_nonnull(strstr(conn, "status connected\n"));
    g_assert_nonnull(strstr(conn, "name h1\n"));
    g_assert_cmpint(walk(fx->t, ".domfs/nope", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, ".domfs/connection/x", &n, &a), ==, -ENOTDIR);
}

static void
test_guest_dir(Single *fx, gconstpointer data)
{
    static const char *const writable[] = {
        "state", "autostart", "title", "description", "migrate", NULL,
    };
    g_auto(GStrv) files = g_strsplit(GUEST_FILES, " ", -1);
    TreeNode n;
    TreeAttr a;

    must_walk(fx->t, "alpha", &n, &a);
    g_assert_cmpint(n.kind, ==, TN_GUEST);
    g_assert_cmpstr(n.guest, ==, "alpha");
    g_assert_true(a.is_dir);
    tree_node_clear(&n);
    assert_list(fx->t, "alpha", GUEST_FILES " agent/ devices/");
    /* the set of files is fixed: a shut-off guest has the same */
    assert_list(fx->t, "beta", GUEST_FILES " agent/ devices/");

    for (guint i = 0; files[i]; i++) {
        g_autofree char *p = g_strconcat("alpha/", files[i], NULL);
        bool w = g_strv_contains(writable, files[i]);

        must_walk(fx->t, p, &n, &a);
        g_assert_cmpint(n.kind, ==, TN_GUEST_FILE);
        g_assert_cmpstr(tree_guest_file_name(n.index), ==, files[i]);
        g_assert_false(a.is_dir);
        if (a.writable != w)
            g_error("%s: writable %d, expected %d", files[i], a.writable, w);
        g_assert_cmpint(a.flavor, ==, strcmp(files[i], "console.log") == 0 ? TF_CONSOLE
                                      : g_str_has_suffix(files[i], ".stat") ? TF_STATS
                                                                             : TF_SNAPSHOT);
        tree_node_clear(&n);
    }
    g_assert_null(tree_guest_file_name(-1));
    g_assert_null(tree_guest_file_name(1000));
    must_walk(fx->t, "alpha/devices", &n, &a);
    g_assert_cmpint(n.kind, ==, TN_DEVICES);
    g_assert_true(a.is_dir);
    tree_node_clear(&n);
}

/* SPEC.md lists `migrate` (rw) in every guest directory */
static void
test_guest_migrate_file(Single *fx, gconstpointer data)
{
    TreeNode n;
    TreeAttr a;

    g_assert_cmpint(walk(fx->t, "alpha/migrate", &n, &a), ==, 0);
    g_assert_false(a.is_dir);
    g_assert_true(a.writable);
    tree_node_clear(&n);
    assert_read(fx->t, "alpha/migrate", "none\n");
}

static void
test_guest_contents(Single *fx, gconstpointer data)
{
    g_autoptr(DomInfo) a = dom_cache_get(conn_cache(fx->c), "alpha");
    g_autofree char *id = g_strdup_printf("%d\n", a->id);
    virDomainPtr dom = virDomainLookupByUUIDString(fx->vc, UT_UUID_ALPHA);
    char *xml = virDomainGetXMLDesc(dom, 0);

    assert_read(fx->t, "alpha/state", "running\n");
    assert_read(fx->t, "alpha/reason", "unknown\n");     /* as loaded from a node file */
    assert_read(fx->t, "alpha/uuid", UT_UUID_ALPHA "\n");
    assert_read(fx->t, "alpha/id", id);
    assert_read(fx->t, "alpha/vcpus", "2\n");
    assert_read(fx->t, "alpha/memory", "524288\n");
    assert_read(fx->t, "alpha/autostart", "0\n");
    assert_read(fx->t, "alpha/persistent", "1\n");
    assert_read(fx->t, "alpha/title", "Alpha title\n");
    assert_read(fx->t, "alpha/description", "line one\nline two\n");
    assert_read(fx->t, "alpha/xml", xml);
    g_assert_true(g_str_has_suffix(xml, "</domain>\n"));
    assert_read(fx->t, "alpha/error", "");                /* no error yet: empty */

    assert_read(fx->t, "beta/state", "shutoff\n");
    assert_read(fx->t, "beta/id", "");                  /* not running: no id */
    assert_read(fx->t, "beta/vcpus", "1\n");
    assert_read(fx->t, "beta/memory", "262144\n");
    assert_read(fx->t, "beta/title", "");
    assert_read(fx->t, "beta/description", "");
    assert_read(fx->t, "beta/uuid", UT_UUID_BETA "\n");

    assert_read(fx->t, "gamma/state", "paused\n");
    assert_read(fx->t, "gamma/vcpus", "3\n");
    assert_read(fx->t, "gamma/memory", "786432\n");
    assert_read(fx->t, "we\"ird\\name/uuid", UT_UUID_WEIRD "\n");
    assert_read(fx->t, "we\"ird\\name/state", "running\n");
    free(xml);
    virDomainFree(dom);
}

/* every snapshot file holds one value and a newline, or nothing at all when the value is
 * absent (no id, no title, no error) */
static void
test_guest_newlines(Single *fx, gconstpointer data)
{
    static const char *const guests[] = { "alpha", "beta", "gamma", "we\"ird\\name" };
    static const char *const one_line[] = {
        "state", "reason", "uuid", "id", "vcpus", "memory", "autostart", "persistent", "title",
    };

    for (size_t g = 0; g < G_N_ELEMENTS(guests); g++) {
        for (size_t i = 0; i < G_N_ELEMENTS(one_line); i++) {
            g_autofree char *p = g_strdup_printf("%s/%s", guests[g], one_line[i]);
            g_autofree char *v = read_path(fx->t, p);

            if (!*v)
                continue;
            g_assert_true(g_str_has_suffix(v, "\n"));
            g_assert_true(strchr(v, '\n') == v + strlen(v) - 1);
        }
    }
}

static void
test_unknown_names(Single *fx, gconstpointer data)
{
    TreeNode n;
    TreeAttr a;

    g_assert_cmpint(walk(fx->t, "nope", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "ALPHA", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "alpha/nope", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "alpha/State", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "alpha/devices/nope", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "alpha/devices/disks/vdz", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "alpha/devices/disks/vda/nope", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "alpha/devices/serial/1", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "alpha/devices/interfaces/1", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "beta/devices/disks/vda", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "alpha/state/x", &n, &a), ==, -ENOTDIR);
    g_assert_cmpint(walk(fx->t, "alpha/devices/disks/vda/bus/x", &n, &a), ==, -ENOTDIR);
    /* a guest's files are not at the root, nor under .domfs */
    g_assert_cmpint(walk(fx->t, "state", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, ".domfs/alpha", &n, &a), ==, -ENOENT);
    /* guests are found by directory name, not by uuid */
    g_assert_cmpint(walk(fx->t, UT_UUID_ALPHA, &n, &a), ==, -ENOENT);
}

/* nodes of a guest that was undefined are gone */
static void
test_vanished_guest(Single *fx, gconstpointer data)
{
    TreeNode dir, file, dev, devfile;
    TreeAttr a;
    GString *s = g_string_new(NULL);
    GPtrArray *list = NULL;
    virDomainPtr dom = virDomainLookupByUUIDString(fx->vc, UT_UUID_BETA);
    g_autofree char *xml = ut_domain_xml("beta", UT_UUID_BETA, 0,
                                         "<devices><disk type='file' device='disk'>"
                                         "<source file='/x.img'/><target dev='vdb'/></disk>"
                                         "</devices>");
    virDomainPtr again;

    /* give beta a disk, so there are device nodes to lose */
    again = virDomainDefineXML(fx->vc, xml);
    g_assert_nonnull(again);
    g_assert_cmpint(conn_refresh_domain(fx->c, UT_UUID_BETA, NULL), ==, 0);
    must_walk(fx->t, "beta", &dir, &a);
    must_walk(fx->t, "beta/state", &file, &a);
    must_walk(fx->t, "beta/devices/disks/vdb", &dev, &a);
    must_walk(fx->t, "beta/devices/disks/vdb/source", &devfile, &a);
    assert_read(fx->t, "beta/devices/disks/vdb/source", "/x.img\n");

    g_assert_cmpint(virDomainUndefine(dom), ==, 0);
    g_assert_cmpint(conn_refresh_domain(fx->c, UT_UUID_BETA, NULL), ==, 0);

    g_assert_cmpint(tree_stat(fx->t, &dir, &a), ==, -ENOENT);
    g_assert_cmpint(tree_stat(fx->t, &file, &a), ==, -ENOENT);
    g_assert_cmpint(tree_stat(fx->t, &dev, &a), ==, -ENOENT);
    g_assert_cmpint(tree_stat(fx->t, &devfile, &a), ==, -ENOENT);
    g_assert_cmpint(ut_read_node(fx->t, &file, s), ==, -ENOENT);
    g_assert_cmpint(ut_read_node(fx->t, &devfile, s), ==, -ENOENT);
    g_assert_cmpuint(s->len, ==, 0);
    g_assert_cmpint(tree_list(fx->t, &dir, &list), ==, -ENOENT);
    g_assert_null(list);
    g_assert_cmpint(tree_list(fx->t, &dev, &list), ==, -ENOENT);
    g_assert_cmpint(ut_write_node(fx->t, &file, "start", 5, NULL), ==, -ENOENT);
    g_assert_null(tree_guest_snap(fx->t, &file));
    {
        TreeNode n;

        g_assert_cmpint(walk(fx->t, "beta", &n, &a), ==, -ENOENT);
    }
    assert_list(fx->t, "", ".domfs/ alpha/ gamma/ we\"ird\\name/");
    tree_node_clear(&dir);
    tree_node_clear(&file);
    tree_node_clear(&dev);
    tree_node_clear(&devfile);
    g_string_free(s, TRUE);
    virDomainFree(dom);
    virDomainFree(again);
}

static void
test_devices(Single *fx, gconstpointer data)
{
    TreeNode n;
    TreeAttr a;
    g_autofree char *disk_files = g_strjoinv(" ", (char **)dev_fields(DEV_DISK));
    g_autofree char *serial_files = g_strjoinv(" ", (char **)dev_fields(DEV_SERIAL));
    g_autofree char *iface_files = g_strjoinv(" ", (char **)dev_fields(DEV_IFACE));
    g_autofree char *vda_xml = NULL;

    assert_list(fx->t, "alpha/devices", "disks/ serial/ interfaces/");
    assert_list(fx->t, "alpha/devices/disks", "vda/ sda/");
    assert_list(fx->t, "alpha/devices/serial", "0/");
    assert_list(fx->t, "alpha/devices/interfaces", "0/");
    /* a guest without devices has the kind directories, empty */
    assert_list(fx->t, "beta/devices", "disks/ serial/ interfaces/");
    assert_list(fx->t, "beta/devices/disks", "");
    assert_list(fx->t, "beta/devices/serial", "");
    assert_list(fx->t, "beta/devices/interfaces", "");

    /* the spec's file sets */
    g_assert_cmpstr(disk_files, ==, "device bus model source type format cache discard serial "
                    "wwn readonly shareable boot_order address alias tray xml");
    g_assert_cmpstr(serial_files, ==, "type target_type target_model source mode log "
                    "log_append alias tty xml");
    g_assert_cmpstr(iface_files, ==, "type source mac model target link_state alias xml");
    /* plus what is not in the XML: a disk's sizes (statistics), an interface's addresses */
    assert_list(fx->t, "alpha/devices/disks/vda", "device bus model source type format cache "
                "discard serial wwn readonly shareable boot_order address alias tray xml "
                "capacity allocation physical");
    assert_list(fx->t, "alpha/devices/disks/sda", "device bus model source type format cache "
                "discard serial wwn readonly shareable boot_order address alias tray xml "
                "capacity allocation physical");
    assert_list(fx->t, "alpha/devices/serial/0", serial_files);
    assert_list(fx->t, "alpha/devices/interfaces/0", "type source mac model target link_state "
                "alias xml ip");
    must_walk(fx->t, "alpha/devices/disks/vda/capacity", &n, &a);
    g_assert_cmpint(a.flavor, ==, TF_STATS);
    g_assert_false(a.writable);
    tree_node_clear(&n);
    must_walk(fx->t, "alpha/devices/interfaces/0/ip", &n, &a);
    g_assert_cmpint(a.flavor, ==, TF_SNAPSHOT);
    g_assert_false(a.writable);
    tree_node_clear(&n);
    g_assert_cmpint(walk(fx->t, "alpha/devices/serial/0/capacity", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "alpha/devices/disks/vda/ip", &n, &a), ==, -ENOENT);

    must_walk(fx->t, "alpha/devices/disks", &n, &a);
    g_assert_cmpint(n.kind, ==, TN_DEVKIND);
    g_assert_cmpint(n.devkind, ==, DEV_DISK);
    tree_node_clear(&n);
    must_walk(fx->t, "alpha/devices/disks/vda", &n, &a);
    g_assert_cmpint(n.kind, ==, TN_DEV);
    g_assert_cmpstr(n.dev, ==, "vda");
    g_assert_true(a.is_dir);
    tree_node_clear(&n);

    /* contents, from the node XML */
    assert_read(fx->t, "alpha/devices/disks/vda/device", "disk\n");
    assert_read(fx->t, "alpha/devices/disks/vda/bus", "virtio\n");
    assert_read(fx->t, "alpha/devices/disks/vda/type", "file\n");
    assert_read(fx->t, "alpha/devices/disks/vda/source",
                "/var/lib/libvirt/images/alpha.qcow2\n");
    assert_read(fx->t, "alpha/devices/disks/vda/format", "qcow2\n");
    assert_read(fx->t, "alpha/devices/disks/vda/cache", "none\n");
    assert_read(fx->t, "alpha/devices/disks/vda/readonly", "0\n");
    assert_read(fx->t, "alpha/devices/disks/vda/wwn", "");          /* absent: empty */
    assert_read(fx->t, "alpha/devices/disks/sda/device", "cdrom\n");
    assert_read(fx->t, "alpha/devices/disks/sda/bus", "sata\n");
    assert_read(fx->t, "alpha/devices/disks/sda/source", "");       /* no medium */
    assert_read(fx->t, "alpha/devices/disks/sda/readonly", "1\n");
    assert_read(fx->t, "alpha/devices/serial/0/type", "pty\n");
    assert_read(fx->t, "alpha/devices/interfaces/0/type", "network\n");
    assert_read(fx->t, "alpha/devices/interfaces/0/source", "default\n");
    assert_read(fx->t, "alpha/devices/interfaces/0/mac", "52:54:00:00:00:01\n");
    assert_read(fx->t, "alpha/devices/interfaces/0/model", "virtio\n");
    vda_xml = read_path(fx->t, "alpha/devices/disks/vda/xml");
    g_assert_true(g_str_has_prefix(vda_xml, "<disk type=\"file\" device=\"disk\">") ||
                  g_str_has_prefix(vda_xml, "<disk type='file' device='disk'>"));
    g_assert_true(g_str_has_suffix(vda_xml, "</disk>\n"));
    g_assert_nonnull(strstr(vda_xml, "alpha.qcow2"));

    /* every device file holds a value ending with a newline, or is empty */
    for (int k = 0; k < DEV_N_KINDS; k++) {
        const char *dev = k == DEV_DISK ? "vda" : "0";

        for (size_t i = 0; i < dev_n_fields(k); i++) {
            g_autofree char *p = g_strdup_printf("alpha/devices/%s/%s/%s", dev_kind_dir(k), dev,
                                                 dev_fields(k)[i]);
            g_autofree char *v = read_path(fx->t, p);

            g_assert_true(!*v || g_str_has_suffix(v, "\n"));
        }
    }
}

/* writable device files: a cdrom's or floppy's source, an interface's link_state */
static void
test_devices_writable_flags(Single *fx, gconstpointer data)
{
    static const struct {
        const char *path;
        bool writable;
    } rows[] = {
        { "alpha/devices/disks/sda/source", true },
        { "alpha/devices/disks/vda/source", false },
        { "alpha/devices/disks/sda/device", false },
        { "alpha/devices/disks/sda/tray", false },
        { "alpha/devices/interfaces/0/link_state", true },
        { "alpha/devices/interfaces/0/source", false },
        { "alpha/devices/interfaces/0/mac", false },
        { "alpha/devices/serial/0/source", false },
        { "alpha/devices/serial/0/type", false },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        TreeNode n;
        TreeAttr a;

        must_walk(fx->t, rows[i].path, &n, &a);
        g_assert_cmpint(n.kind, ==, TN_DEV_FILE);
        g_assert_false(a.is_dir);
        g_assert_cmpint(a.flavor, ==, TF_SNAPSHOT);
        if (a.writable != rows[i].writable)
            g_error("%s: writable %d", rows[i].path, a.writable);
        tree_node_clear(&n);
    }
}

/* a write to a file the tree calls writable reaches libvirt: the test driver has no
 * virDomainUpdateDeviceFlags, so libvirt's "not supported" comes back as EOPNOTSUPP and
 * lands in `error`; bad values are refused before libvirt with EINVAL */
static void
test_devices_write_dispatched(Single *fx, gconstpointer data)
{
    g_autofree char *err = NULL;

    g_assert_cmpint(write_path(fx->t, "alpha/devices/disks/sda/source", "/tmp/x.iso\n"), ==,
                    -EOPNOTSUPP);
    err = read_path(fx->t, "alpha/error");
    g_assert_true(g_regex_match_simple("^\\S+ devices/disks/sda/source EOPNOTSUPP: .+\n$", err,
                                       0, 0));
    assert_read(fx->t, "alpha/devices/disks/sda/source", "");
    g_assert_cmpint(write_path(fx->t, "alpha/devices/interfaces/0/link_state", "down\n"), ==,
                    -EOPNOTSUPP);
    g_assert_cmpint(write_path(fx->t, "alpha/devices/disks/sda/source", "relative.iso"), ==,
                    -EINVAL);
    g_assert_cmpint(write_path(fx->t, "alpha/devices/interfaces/0/link_state", "sideways"), ==,
                    -EINVAL);
    g_clear_pointer(&err, g_free);
    err = read_path(fx->t, "alpha/error");
    g_assert_nonnull(strstr(err, " devices/interfaces/0/link_state EINVAL: "));
    /* read-only device files stay read-only */
    g_assert_cmpint(write_path(fx->t, "alpha/devices/disks/vda/source", "/x.img"), ==, -EACCES);
    g_assert_cmpint(write_path(fx->t, "alpha/devices/interfaces/0/mac", "52:54:00:00:00:02"),
                    ==, -EACCES);
}

static void
test_writes(Single *fx, gconstpointer data)
{
    /* the new value is readable as soon as the write returns */
    g_assert_cmpint(write_path(fx->t, "alpha/state", "paused\n"), ==, 0);
    assert_read(fx->t, "alpha/state", "paused\n");
    assert_read(fx->t, "alpha/reason", "user\n");
    g_assert_cmpint(ut_virt_state(fx->c, UT_UUID_ALPHA), ==, VIR_DOMAIN_PAUSED);
    g_assert_cmpint(write_path(fx->t, "alpha/state", "running"), ==, 0);
    assert_read(fx->t, "alpha/state", "running\n");
    assert_read(fx->t, "alpha/reason", "unpaused\n");
    g_assert_cmpint(write_path(fx->t, "beta/state", "start\n"), ==, 0);
    assert_read(fx->t, "beta/state", "running\n");
    assert_read(fx->t, "beta/reason", "booted\n");
    g_assert_cmpint(write_path(fx->t, "beta/state", "destroy\n"), ==, 0);
    assert_read(fx->t, "beta/state", "shutoff\n");
    assert_read(fx->t, "beta/reason", "destroyed\n");
    assert_read(fx->t, "beta/id", "");
    g_assert_cmpint(write_path(fx->t, "beta/autostart", "1\n"), ==, 0);
    assert_read(fx->t, "beta/autostart", "1\n");
    g_assert_cmpint(write_path(fx->t, "alpha/title", "New title\n"), ==, 0);
    assert_read(fx->t, "alpha/title", "New title\n");
    g_assert_cmpint(write_path(fx->t, "alpha/description", "d1\nd2\n"), ==, 0);
    assert_read(fx->t, "alpha/description", "d1\nd2\n");
    g_assert_cmpint(write_path(fx->t, "alpha/description", "\n"), ==, 0);
    assert_read(fx->t, "alpha/description", "");

    /* a refused write: errno, and the reason in `error` */
    g_assert_cmpint(write_path(fx->t, "gamma/state", "sleep\n"), ==, -EINVAL);
    assert_read(fx->t, "gamma/state", "paused\n");
    {
        g_autofree char *err = read_path(fx->t, "gamma/error");

        g_assert_true(g_regex_match_simple("^\\S+ state EINVAL: .*unknown state word "
                                           "\"sleep\".*\n$", err, G_REGEX_DOTALL, 0));
    }
    /* read-only files and directories refuse writes */
    g_assert_cmpint(write_path(fx->t, "alpha/uuid", "x"), ==, -EACCES);
    g_assert_cmpint(write_path(fx->t, "alpha/vcpus", "4"), ==, -EACCES);
    g_assert_cmpint(write_path(fx->t, "alpha/xml", "<domain/>"), ==, -EACCES);
    g_assert_cmpint(write_path(fx->t, "alpha/error", ""), ==, -EACCES);
    g_assert_cmpint(write_path(fx->t, "alpha/devices/disks/vda/source", "/x"), ==, -EACCES);
    /* a directory is not opened for writing (as open(2) of a directory says) */
    g_assert_cmpint(write_path(fx->t, "alpha", "x"), ==, -EISDIR);
    g_assert_cmpint(write_path(fx->t, "nope/state", "start"), ==, -ENOENT);
    {
        g_autofree char *s = read_path(fx->t, "alpha/uuid");

        g_assert_cmpstr(s, ==, UT_UUID_ALPHA "\n");
    }
}

/* tree_render works on any snapshot: the old one of a change still renders old values */
static void
test_render_snapshots(Single *fx, gconstpointer data)
{
    g_autoptr(DomInfo) before = dom_cache_get(conn_cache(fx->c), "alpha");
    g_autoptr(DomInfo) after = NULL;
    TreeNode n;
    TreeAttr a;
    GString *s = g_string_new(NULL);
    GPtrArray *list = NULL;

    must_walk(fx->t, "alpha/state", &n, &a);
    g_assert_cmpint(write_path(fx->t, "alpha/state", "suspend"), ==, 0);
    after = tree_guest_snap(fx->t, &n);
    g_assert_nonnull(after);
    g_assert_true(after != before);
    g_assert_cmpint(tree_render(before, &n, s), ==, 0);
    g_assert_cmpstr(s->str, ==, "running\n");
    g_string_truncate(s, 0);
    g_assert_cmpint(tree_render(after, &n, s), ==, 0);
    g_assert_cmpstr(s->str, ==, "paused\n");
    tree_node_clear(&n);

    /* device nodes render against a snapshot; missing devices: -ENOENT */
    must_walk(fx->t, "alpha/devices/disks/vda/bus", &n, &a);
    g_string_truncate(s, 0);
    g_assert_cmpint(tree_render(after, &n, s), ==, 0);
    g_assert_cmpstr(s->str, ==, "virtio\n");
    {
        g_autoptr(DomInfo) beta = dom_cache_get(conn_cache(fx->c), "beta");

        g_string_truncate(s, 0);
        g_assert_cmpint(tree_render(beta, &n, s), ==, -ENOENT);
    }
    tree_node_clear(&n);

    must_walk(fx->t, "alpha/devices/disks", &n, &a);
    g_assert_cmpint(tree_list_guest(before, &n, &list), ==, 0);
    g_assert_cmpuint(list->len, ==, 2);
    g_ptr_array_unref(list);
    tree_node_clear(&n);
    g_string_free(s, TRUE);
}

/* ---- several hosts ---- */

typedef struct {
    UtFleet *f1;
    UtFleet *f2;
    DomConn *c[2];
    Tree *t;
} Multi;

#define UT_UUID_H2_ALPHA "55555555-0000-0000-0000-000000000001"
#define UT_UUID_H2_DELTA "55555555-0000-0000-0000-000000000002"

static void
multi_setup(Multi *fx, gconstpointer data)
{
    g_autofree char *a = ut_domain_xml("alpha", UT_UUID_H2_ALPHA, 5, NULL);
    g_autofree char *d = ut_domain_xml("delta", UT_UUID_H2_DELTA, 0, NULL);
    g_autofree char *xml = g_strconcat("<node>\n", a, d, "</node>\n", NULL);
    const char *names[] = { "h1", "h2" };
    const char *uris[2];

    fx->f1 = ut_fleet_new(UT_FLEET_XML);
    fx->f2 = ut_fleet_new(xml);
    uris[0] = fx->f1->uri;
    uris[1] = fx->f2->uri;
    fx->t = ut_tree_new(names, uris, 2, NULL);
    fx->c[0] = ut_tree_conn(fx->t, 0);
    fx->c[1] = ut_tree_conn(fx->t, 1);
}

static void
multi_teardown(Multi *fx, gconstpointer data)
{
    ut_tree_free(fx->t);
    ut_fleet_free(fx->f1);
    ut_fleet_free(fx->f2);
}

static void
test_multi_layout(Multi *fx, gconstpointer data)
{
    TreeNode n;
    TreeAttr a;

    tree_root(fx->t, &n);
    g_assert_cmpint(n.kind, ==, TN_TOP);
    g_assert_cmpint(n.conn, ==, -1);
    g_assert_cmpint(tree_stat(fx->t, &n, &a), ==, 0);
    g_assert_true(a.is_dir);
    tree_node_clear(&n);
    g_assert_true(tree_is_multi(fx->t));
    g_assert_cmpuint(tree_n_conns(fx->t), ==, 2);

    assert_list(fx->t, "", ".domfs/ h1/ h2/");
    must_walk(fx->t, "h1", &n, &a);
    g_assert_cmpint(n.kind, ==, TN_CONNROOT);
    g_assert_cmpint(n.conn, ==, 0);
    tree_node_clear(&n);
    must_walk(fx->t, "h2", &n, &a);
    g_assert_cmpint(n.conn, ==, 1);
    tree_node_clear(&n);
    assert_list(fx->t, "h1", ".domfs/ alpha/ beta/ gamma/ we\"ird\\name/");
    assert_list(fx->t, "h2", ".domfs/ alpha/ delta/");
    assert_list(fx->t, "h2/alpha", GUEST_FILES " agent/ devices/");
    assert_list(fx->t, ".domfs", "connection events metrics.prom");
    assert_list(fx->t, "h1/.domfs", "connection events metrics.prom");

    /* the same guest name on two hosts: two guests */
    assert_read(fx->t, "h1/alpha/uuid", UT_UUID_ALPHA "\n");
    assert_read(fx->t, "h2/alpha/uuid", UT_UUID_H2_ALPHA "\n");
    assert_read(fx->t, "h1/alpha/state", "running\n");
    assert_read(fx->t, "h2/alpha/state", "shutoff\n");
    assert_read(fx->t, "h2/delta/state", "running\n");

    /* guests live under their host only */
    g_assert_cmpint(walk(fx->t, "alpha", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "h3", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "h1/delta", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "h2/beta/state", &n, &a), ==, -ENOENT);
    g_assert_cmpint(walk(fx->t, "h2/.domfs/nope", &n, &a), ==, -ENOENT);

    /* a write goes to the right host */
    g_assert_cmpint(write_path(fx->t, "h2/alpha/state", "start"), ==, 0);
    assert_read(fx->t, "h2/alpha/state", "running\n");
    assert_read(fx->t, "h1/alpha/state", "running\n");
    g_assert_cmpint(write_path(fx->t, "h1/alpha/state", "paused"), ==, 0);
    assert_read(fx->t, "h1/alpha/state", "paused\n");
    assert_read(fx->t, "h2/alpha/state", "running\n");
    g_assert_cmpint(ut_virt_state(fx->c[1], UT_UUID_H2_ALPHA), ==, VIR_DOMAIN_RUNNING);
}

static void
test_multi_connection_files(Multi *fx, gconstpointer data)
{
    g_autofree char *d1 = describe(fx->t, 0);
    g_autofree char *d2 = describe(fx->t, 1);
    g_autofree char *both = g_strdup_printf("%s\n%s", d1, d2);
    TreeNode n;
    TreeAttr a;

    assert_read(fx->t, "h1/.domfs/connection", d1);
    assert_read(fx->t, "h2/.domfs/connection", d2);
    /* the top's .domfs/connection describes every connection */
    assert_read(fx->t, ".domfs/connection", both);
    must_walk(fx->t, ".domfs/metrics.prom", &n, &a);
    g_assert_cmpint(n.conn, ==, -1);
    g_assert_cmpint(a.flavor, ==, TF_METRICS);
    tree_node_clear(&n);
    must_walk(fx->t, "h2/.domfs/events", &n, &a);
    g_assert_cmpint(n.conn, ==, 1);
    g_assert_cmpint(a.flavor, ==, TF_EVENTS);
    tree_node_clear(&n);
}

int
main(int argc, char **argv)
{
    ut_init(&argc, &argv);
#define ADD1(path, fn) g_test_add(path, Single, NULL, single_setup, fn, single_teardown)
#define ADDM(path, fn) g_test_add(path, Multi, NULL, multi_setup, fn, multi_teardown)
    ADD1("/tree/single/root", test_root);
    ADD1("/tree/single/domfs", test_domfs_dir);
    ADD1("/tree/single/guest-dir", test_guest_dir);
    ADD1("/tree/single/guest-migrate-file", test_guest_migrate_file);
    ADD1("/tree/single/guest-contents", test_guest_contents);
    ADD1("/tree/single/newlines", test_guest_newlines);
    ADD1("/tree/single/unknown-names", test_unknown_names);
    ADD1("/tree/single/vanished-guest", test_vanished_guest);
    ADD1("/tree/single/devices", test_devices);
    ADD1("/tree/single/devices-writable", test_devices_writable_flags);
    ADD1("/tree/single/devices-write-dispatched", test_devices_write_dispatched);
    ADD1("/tree/single/writes", test_writes);
    ADD1("/tree/single/render-snapshots", test_render_snapshots);
    ADDM("/tree/multi/layout", test_multi_layout);
    ADDM("/tree/multi/connection-files", test_multi_connection_files);
#undef ADD1
#undef ADDM
    return g_test_run();
}
