/* test_dev_update.c - dev_update on device XML taken from the fixtures (through dev_model,
 * as the file system does). Every result is read back with dev_model (wrapped in a
 * <domain><devices>) so the checks are on what libvirt would see, not on string shapes. */
#include "dev_model.h"
#include "dev_xml.h"
#include "dev_update.h"

#include <errno.h>
#include <string.h>

#include <glib.h>
#include <libxml/tree.h>

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must be defined by the build"
#endif

static char *
fixture_element(const char *fixture, DevKind kind, const char *name)
{
    g_autofree char *path = g_build_filename(FIXTURE_DIR, fixture, NULL);
    g_autofree char *xml = NULL;
    g_autoptr(DevModel) m = NULL;
    g_autoptr(GError) err = NULL;
    gsize len = 0;
    const DevEntry *e;

    g_assert_true(g_file_get_contents(path, &xml, &len, &err));
    g_assert_no_error(err);
    g_assert_cmpint(dev_model_parse(xml, len, &m), ==, 0);
    e = dev_model_find(m, kind, name);
    g_assert_nonnull(e);
    return g_strdup(e->values[dev_n_fields(kind) - 1]);
}

/* the single entry of KIND that ELEMENT is, read back through dev_model */
static DevModel *
reread(const char *element)
{
    g_autofree char *doc = g_strdup_printf("<domain><devices>%s</devices></domain>", element);
    DevModel *m = NULL;

    g_assert_cmpint(dev_model_parse(doc, strlen(doc), &m), ==, 0);
    return m;
}

static const char *
val(const DevModel *m, DevKind kind, const char *field)
{
    const DevEntry *e;
    int i = dev_field_index(kind, field);

    g_assert_cmpuint(m->entries[kind]->len, ==, 1);
    g_assert_cmpint(i, >=, 0);
    e = g_ptr_array_index(m->entries[kind], 0);
    return e->values[i];
}

/* how many direct children named NAME the root of ELEMENT has */
static int
count_children(const char *element, const char *name)
{
    xmlDoc *doc = dev_xml_read(element, strlen(element));
    int n = 0;

    g_assert_nonnull(doc);
    for (xmlNode *c = xmlDocGetRootElement(doc)->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            n++;
    xmlFreeDoc(doc);
    return n;
}

static char *
update_ok(const char *disk_xml, const char *path)
{
    char *out = NULL;
    char *err = NULL;

    g_assert_cmpint(dev_update_disk_source(disk_xml, path, &out, &err), ==, 0);
    g_assert_null(err);
    g_assert_nonnull(out);
    return out;
}

static void
update_refused(const char *disk_xml, const char *path, const char *msg_part)
{
    char *out = (char *)0x1;
    g_autofree char *err = NULL;

    g_assert_cmpint(dev_update_disk_source(disk_xml, path, &out, &err), ==, -EINVAL);
    g_assert_null(out);
    g_assert_nonnull(err);
    g_assert_nonnull(strstr(err, msg_part));
}

/* the fields a medium change must leave alone */
static void
assert_same_disk(const DevModel *before, const DevModel *after)
{
    static const char *const kept[] = {
        "device", "bus", "model", "format", "cache", "discard", "serial", "wwn", "readonly",
        "shareable", "boot_order", "address", "alias", "tray"
    };

    for (size_t i = 0; i < G_N_ELEMENTS(kept); i++)
        g_assert_cmpstr(val(after, DEV_DISK, kept[i]), ==, val(before, DEV_DISK, kept[i]));
}

/* ---- media ----------------------------------------------------------------------- */

static void
test_insert_into_empty(void)
{
    g_autofree char *disk = fixture_element("thirty-disks.xml", DEV_DISK, "hdd");
    g_autofree char *out = update_ok(disk, "/isos/new.iso");
    g_autoptr(DevModel) before = reread(disk);
    g_autoptr(DevModel) after = reread(out);

    g_assert_cmpstr(val(before, DEV_DISK, "source"), ==, "");
    g_assert_cmpstr(val(after, DEV_DISK, "source"), ==, "/isos/new.iso");
    g_assert_cmpstr(val(after, DEV_DISK, "type"), ==, "file");
    assert_same_disk(before, after);
    g_assert_cmpint(count_children(out, "source"), ==, 1);
    /* where libvirt writes it: right after <driver>, on a line of its own */
    g_assert_nonnull(strstr(out, "<driver name='qemu' type='raw'/>\n"
                                 "      <source file='/isos/new.iso'/>\n"
                                 "      <target dev='hdd' bus='ide'/>"));
}

static void
test_insert_without_driver(void)
{
    const char *disk = "<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>";
    g_autofree char *out = update_ok(disk, "/isos/a.iso");

    g_assert_cmpstr(out, ==,
                    "<disk type='file' device='cdrom'><source file='/isos/a.iso'/>"
                    "<target dev='hdc' bus='ide'/></disk>");
}

static void
test_replace(void)
{
    g_autofree char *disk = fixture_element("thirty-disks.xml", DEV_DISK, "hdc");
    g_autofree char *out = update_ok(disk, "/isos/other.iso");
    g_autoptr(DevModel) before = reread(disk);
    g_autoptr(DevModel) after = reread(out);

    g_assert_cmpstr(val(after, DEV_DISK, "source"), ==, "/isos/other.iso");
    g_assert_cmpstr(val(after, DEV_DISK, "tray"), ==, "open");
    assert_same_disk(before, after);
    g_assert_cmpint(count_children(out, "source"), ==, 1);
    /* index= and <backingStore> described the old image */
    g_assert_null(strstr(out, "index="));
    g_assert_cmpint(count_children(out, "backingStore"), ==, 0);
    g_assert_cmpint(count_children(out, "boot"), ==, 1);
    /* no blank line left where <backingStore/> was */
    g_assert_nonnull(strstr(out, "<source file='/isos/other.iso'/>\n"
                                 "      <target dev='hdc' bus='ide' tray='open'/>"));
}

static void
test_eject(void)
{
    g_autofree char *disk = fixture_element("thirty-disks.xml", DEV_DISK, "hdc");
    g_autofree char *out = update_ok(disk, "");
    g_autoptr(DevModel) before = reread(disk);
    g_autoptr(DevModel) after = reread(out);
    g_autofree char *again = update_ok(out, "");

    g_assert_cmpstr(val(after, DEV_DISK, "source"), ==, "");
    g_assert_cmpstr(val(after, DEV_DISK, "type"), ==, "file");
    assert_same_disk(before, after);
    g_assert_cmpint(count_children(out, "source"), ==, 0);
    g_assert_cmpint(count_children(out, "backingStore"), ==, 0);
    /* ejecting an empty drive is a no-op, not an error */
    g_assert_cmpstr(again, ==, out);
}

static void
test_floppy(void)
{
    g_autofree char *fda = fixture_element("thirty-disks.xml", DEV_DISK, "fda");
    g_autofree char *fdb = fixture_element("thirty-disks.xml", DEV_DISK, "fdb");
    g_autofree char *out_a = update_ok(fda, "/var/lib/libvirt/images/other.img");
    g_autofree char *out_b = update_ok(fdb, "/srv/other-floppy");
    g_autoptr(DevModel) a = reread(out_a);
    g_autoptr(DevModel) b = reread(out_b);

    g_assert_cmpstr(val(a, DEV_DISK, "source"), ==, "/var/lib/libvirt/images/other.img");
    g_assert_cmpstr(val(a, DEV_DISK, "device"), ==, "floppy");
    g_assert_cmpstr(val(a, DEV_DISK, "tray"), ==, "open");
    /* a directory-backed floppy takes a directory */
    g_assert_cmpstr(val(b, DEV_DISK, "type"), ==, "dir");
    g_assert_cmpstr(val(b, DEV_DISK, "source"), ==, "/srv/other-floppy");
}

static void
test_block_cdrom(void)
{
    const char *disk = "<disk type='block' device='cdrom'>\n"
                       "  <driver name='qemu' type='raw'/>\n"
                       "  <source dev='/dev/sr0' index='4'>\n"
                       "    <seclabel model='dac' relabel='no'/>\n"
                       "  </source>\n"
                       "  <target dev='sda' bus='sata'/>\n"
                       "  <readonly/>\n"
                       "</disk>";
    g_autofree char *out = update_ok(disk, "/dev/sr1");
    g_autoptr(DevModel) after = reread(out);

    g_assert_cmpstr(val(after, DEV_DISK, "type"), ==, "block");
    g_assert_cmpstr(val(after, DEV_DISK, "source"), ==, "/dev/sr1");
    /* a source's own children stay */
    g_assert_nonnull(strstr(out, "<seclabel model='dac' relabel='no'/>"));
    g_assert_null(strstr(out, "file="));
}

static void
test_network_cdrom_becomes_file(void)
{
    g_autofree char *disk = fixture_element("network-disks.xml", DEV_DISK, "sda");
    g_autofree char *out = update_ok(disk, "/isos/local.iso");
    g_autofree char *ejected = update_ok(disk, "");
    g_autoptr(DevModel) before = reread(disk);
    g_autoptr(DevModel) after = reread(out);
    g_autoptr(DevModel) empty = reread(ejected);

    g_assert_cmpstr(val(after, DEV_DISK, "type"), ==, "file");
    g_assert_cmpstr(val(after, DEV_DISK, "source"), ==, "/isos/local.iso");
    assert_same_disk(before, after);
    g_assert_null(strstr(out, "protocol="));
    g_assert_null(strstr(out, "<host"));
    g_assert_null(strstr(out, "mirror.example.org"));
    g_assert_cmpstr(val(empty, DEV_DISK, "type"), ==, "file");
    g_assert_cmpstr(val(empty, DEV_DISK, "source"), ==, "");
}

static void
test_volume_cdrom_becomes_file(void)
{
    const char *disk = "<disk type='volume' device='cdrom'>"
                       "<driver name='qemu' type='raw'/>"
                       "<auth username='u'><secret type='iscsi' usage='x'/></auth>"
                       "<source pool='isos' volume='a.iso' startupPolicy='optional'/>"
                       "<target dev='hdc' bus='ide'/><readonly/></disk>";
    g_autofree char *out = update_ok(disk, "/isos/b.iso");

    g_assert_cmpstr(out, ==,
                    "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
                    "<source startupPolicy='optional' file='/isos/b.iso'/>"
                    "<target dev='hdc' bus='ide'/><readonly/></disk>");
}

static void
test_keeps_startup_policy(void)
{
    g_autofree char *disk = fixture_element("ovirt.xml", DEV_DISK, "sdc");
    g_autofree char *out = update_ok(disk, "/rhev/data-center/mnt/iso.example.com:_isos/RHEL-9.4.iso");
    g_autoptr(DevModel) after = reread(out);

    g_assert_cmpstr(val(after, DEV_DISK, "source"), ==,
                    "/rhev/data-center/mnt/iso.example.com:_isos/RHEL-9.4.iso");
    g_assert_nonnull(strstr(out, "startupPolicy='optional'"));
    g_assert_cmpint(count_children(out, "source"), ==, 1);
}

static void
test_special_characters(void)
{
    static const char *const paths[] = {
        "/isos/it's \"quoted\" <b> & c.iso",
        "/isos/&amp;&lt;&#10;.iso",
        "/isos/]]>--><!--.iso",
        "/isos/\xc3\xa9t\xc3\xa9 \xe2\x82\xac.iso",
        "/",
    };
    g_autofree char *disk = fixture_element("thirty-disks.xml", DEV_DISK, "sdk");

    for (size_t i = 0; i < G_N_ELEMENTS(paths); i++) {
        g_autofree char *out = update_ok(disk, paths[i]);
        g_autoptr(DevModel) after = reread(out);
        g_autofree char *twice = update_ok(out, paths[i]);

        g_assert_cmpstr(val(after, DEV_DISK, "source"), ==, paths[i]);
        g_assert_cmpint(count_children(out, "source"), ==, 1);
        /* idempotent */
        g_assert_cmpstr(twice, ==, out);
    }
    {
        g_autofree char *out = update_ok(disk, paths[0]);

        g_assert_nonnull(strstr(out, "file='/isos/it&apos;s &quot;quoted&quot; &lt;b&gt; &amp; c.iso'"));
    }
}

static void
test_path_limits(void)
{
    g_autofree char *disk = fixture_element("thirty-disks.xml", DEV_DISK, "hdd");
    g_autofree char *max = g_strnfill(4096, 'a');
    g_autofree char *over = g_strnfill(4097, 'a');
    g_autofree char *out = NULL;
    g_autoptr(DevModel) after = NULL;

    max[0] = '/';
    over[0] = '/';
    out = update_ok(disk, max);
    after = reread(out);
    g_assert_cmpstr(val(after, DEV_DISK, "source"), ==, max);
    update_refused(disk, over, "4096");
}

static void
test_refusals(void)
{
    g_autofree char *vda = fixture_element("thirty-disks.xml", DEV_DISK, "vda");
    g_autofree char *lun = fixture_element("thirty-disks.xml", DEV_DISK, "sdc");
    g_autofree char *cdrom = fixture_element("thirty-disks.xml", DEV_DISK, "hdc");
    g_autofree char *iface = fixture_element("q35.xml", DEV_IFACE, "0");
    char *out = NULL;

    update_refused(vda, "/isos/a.iso", "cdrom");
    update_refused(vda, "", "cdrom");
    update_refused(lun, "/dev/sdz", "lun");
    update_refused("<disk type='file'><target dev='vdz'/></disk>", "/x.iso", "cdrom");
    update_refused(cdrom, "isos/a.iso", "absolute");
    update_refused(cdrom, "~/a.iso", "absolute");
    update_refused(cdrom, " /a.iso", "absolute");
    update_refused(cdrom, "/a.iso\n", "control");
    update_refused(cdrom, "/a\tb.iso", "control");
    update_refused(cdrom, "/a\x7f.iso", "control");
    update_refused(cdrom, "/a\x1b[31m.iso", "control");
    update_refused(cdrom, "/a\xff.iso", "UTF-8");
    update_refused("<disk device='cdrom'", "/a.iso", "parsed");
    update_refused("", "/a.iso", "parsed");
    update_refused(iface, "/a.iso", "<disk>");
    update_refused("<!DOCTYPE disk [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
                   "<disk type='file' device='cdrom'><source file='&x;'/></disk>",
                   "/a.iso", "parsed");
    g_assert_cmpint(dev_update_disk_source(NULL, "/a.iso", &out, NULL), ==, -EINVAL);
    g_assert_cmpint(dev_update_disk_source(cdrom, NULL, &out, NULL), ==, -EINVAL);
    g_assert_cmpint(dev_update_disk_source(cdrom, "/a.iso", NULL, NULL), ==, -EINVAL);
    /* errmsg is optional */
    g_assert_cmpint(dev_update_disk_source(vda, "/a.iso", &out, NULL), ==, -EINVAL);
    g_assert_null(out);
}

/* ---- link state ------------------------------------------------------------------ */

static void
test_link_state(void)
{
    g_autofree char *down = fixture_element("q35.xml", DEV_IFACE, "1");
    g_autofree char *nolink = fixture_element("q35.xml", DEV_IFACE, "4");
    g_autofree char *up_out = NULL;
    g_autofree char *down_out = NULL;
    g_autofree char *same = NULL;
    g_autoptr(DevModel) up_m = NULL;
    g_autoptr(DevModel) down_m = NULL;
    g_autoptr(DevModel) before = reread(down);
    char *err = NULL;

    g_assert_cmpint(dev_update_link_state(down, "up", &up_out, &err), ==, 0);
    g_assert_null(err);
    up_m = reread(up_out);
    g_assert_cmpstr(val(up_m, DEV_IFACE, "link_state"), ==, "up");
    g_assert_cmpint(count_children(up_out, "link"), ==, 1);
    for (size_t f = 0; f + 2 < dev_n_fields(DEV_IFACE); f++)
        if (f != (size_t)dev_field_index(DEV_IFACE, "link_state"))
            g_assert_cmpstr(((DevEntry *)up_m->entries[DEV_IFACE]->pdata[0])->values[f], ==,
                            ((DevEntry *)before->entries[DEV_IFACE]->pdata[0])->values[f]);

    /* no <link> yet: one is added */
    g_assert_cmpint(count_children(nolink, "link"), ==, 0);
    g_assert_cmpint(dev_update_link_state(nolink, "down", &down_out, &err), ==, 0);
    down_m = reread(down_out);
    g_assert_cmpstr(val(down_m, DEV_IFACE, "link_state"), ==, "down");
    g_assert_cmpstr(val(down_m, DEV_IFACE, "source"), ==, "0000:3b:10.2");
    g_assert_cmpint(count_children(down_out, "link"), ==, 1);
    g_assert_true(g_str_has_suffix(down_out, "<address type='pci' domain='0x0000' "
                                             "bus='0x07' slot='0x00' function='0x0'/>\n"
                                             "      <link state='down'/>\n"
                                             "    </interface>"));
    {
        g_autofree char *bare = NULL;

        g_assert_cmpint(dev_update_link_state("<interface type='user'/>", "down", &bare, NULL),
                        ==, 0);
        g_assert_cmpstr(bare, ==, "<interface type='user'><link state='down'/></interface>");
    }

    /* writing the current state changes nothing */
    g_assert_cmpint(dev_update_link_state(down_out, "down", &same, NULL), ==, 0);
    g_assert_cmpstr(same, ==, down_out);
}

static void
test_link_state_refusals(void)
{
    static const char *const bad[] = { "", "UP", "Down", "up\n", " up", "down ", "on", "1" };
    g_autofree char *iface = fixture_element("q35.xml", DEV_IFACE, "0");
    g_autofree char *disk = fixture_element("q35.xml", DEV_DISK, "vda");

    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char *out = (char *)0x1;
        g_autofree char *err = NULL;

        g_assert_cmpint(dev_update_link_state(iface, bad[i], &out, &err), ==, -EINVAL);
        g_assert_null(out);
        g_assert_nonnull(strstr(err, "\"up\" or \"down\""));
    }
    {
        char *out = NULL;
        g_autofree char *err = NULL;

        g_assert_cmpint(dev_update_link_state(disk, "up", &out, &err), ==, -EINVAL);
        g_assert_nonnull(strstr(err, "<interface>"));
        g_assert_null(out);
    }
    {
        char *out = NULL;
        g_autofree char *err = NULL;

        g_assert_cmpint(dev_update_link_state("<interface", "up", &out, &err), ==, -EINVAL);
        g_assert_nonnull(err);
        g_assert_null(out);
    }
    {
        char *out = NULL;

        g_assert_cmpint(dev_update_link_state(NULL, "up", &out, NULL), ==, -EINVAL);
        g_assert_cmpint(dev_update_link_state(iface, NULL, &out, NULL), ==, -EINVAL);
        g_assert_cmpint(dev_update_link_state(iface, "up", NULL, NULL), ==, -EINVAL);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dev_update/disk/insert-into-empty", test_insert_into_empty);
    g_test_add_func("/dev_update/disk/insert-without-driver", test_insert_without_driver);
    g_test_add_func("/dev_update/disk/replace", test_replace);
    g_test_add_func("/dev_update/disk/eject", test_eject);
    g_test_add_func("/dev_update/disk/floppy", test_floppy);
    g_test_add_func("/dev_update/disk/block-cdrom", test_block_cdrom);
    g_test_add_func("/dev_update/disk/network-becomes-file", test_network_cdrom_becomes_file);
    g_test_add_func("/dev_update/disk/volume-becomes-file", test_volume_cdrom_becomes_file);
    g_test_add_func("/dev_update/disk/keeps-startup-policy", test_keeps_startup_policy);
    g_test_add_func("/dev_update/disk/special-characters", test_special_characters);
    g_test_add_func("/dev_update/disk/path-limits", test_path_limits);
    g_test_add_func("/dev_update/disk/refusals", test_refusals);
    g_test_add_func("/dev_update/link/set-and-add", test_link_state);
    g_test_add_func("/dev_update/link/refusals", test_link_state_refusals);
    return g_test_run();
}
