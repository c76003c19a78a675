/* test_dev_model.c - dev_model against the domain XML fixtures in tests/fixtures.
 *
 * Every file of every kind is checked with its exact expected value (the tables below are
 * written by hand from the fixtures, not generated from the code). Each entry's "xml" is
 * additionally checked by wrapping it in a <domain><devices> of its own and parsing that
 * again: the values, and the xml itself, must come out the same. Then malformed, oversized
 * and hostile input: it must be refused with -EINVAL, quickly, without expanding entities.
 */
#include "dev_model.h"
#include "dev_xml.h"
#include "name_escape.h"

#include <errno.h>
#include <string.h>

#include <glib.h>

#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must be defined by the build"
#endif

/* values in dev_fields() order, "xml" left out */
typedef struct {
    const char *name;
    const char *v[16];
} Row;

static char *
read_fixture(const char *name, gsize *len)
{
    g_autofree char *path = g_build_filename(FIXTURE_DIR, name, NULL);
    g_autoptr(GError) err = NULL;
    char *xml = NULL;

    g_assert_true(g_file_get_contents(path, &xml, len, &err));
    g_assert_no_error(err);
    return xml;
}

static DevModel *
load(const char *name)
{
    gsize len = 0;
    g_autofree char *xml = read_fixture(name, &len);
    DevModel *model = NULL;

    g_assert_cmpint(dev_model_parse(xml, len, &model), ==, 0);
    g_assert_nonnull(model);
    return model;
}

static DevModel *
parse_str(const char *xml)
{
    DevModel *model = NULL;

    g_assert_cmpint(dev_model_parse(xml, strlen(xml), &model), ==, 0);
    g_assert_nonnull(model);
    return model;
}

static const char *
val(const DevEntry *e, DevKind kind, const char *field)
{
    int i = dev_field_index(kind, field);

    g_assert_cmpint(i, >=, 0);
    return e->values[i];
}

static const DevEntry *
entry_at(const DevModel *m, DevKind kind, guint i)
{
    g_assert_cmpuint(i, <, m->entries[kind]->len);
    return g_ptr_array_index(m->entries[kind], i);
}

/* The xml value is one whole element, and reading it back gives the same entry. */
static void
check_xml_round_trip(DevKind kind, const DevEntry *e)
{
    static const char *const elements[] = { "disk", "serial", "interface" };
    const char *xml = e->values[dev_n_fields(kind) - 1];
    g_autofree char *open = g_strdup_printf("<%s", elements[kind]);
    g_autofree char *close = g_strdup_printf("</%s>", elements[kind]);
    g_autofree char *wrapped = g_strdup_printf("<domain><devices>%s</devices></domain>", xml);
    g_autoptr(DevModel) again = parse_str(wrapped);
    const DevEntry *e2;

    g_assert_true(g_str_has_prefix(xml, open));
    g_assert_true(g_str_has_suffix(xml, close) || g_str_has_suffix(xml, "/>"));
    g_assert_cmpuint(again->entries[kind]->len, ==, 1);
    e2 = entry_at(again, kind, 0);
    /* interfaces are named by index, and hostile names may carry a dedup suffix */
    for (size_t f = 0; f < dev_n_fields(kind); f++)
        g_assert_cmpstr(e2->values[f], ==, e->values[f]);
}

static void
check_rows(const DevModel *m, DevKind kind, const Row *rows, size_t n)
{
    const char *const *fields = dev_fields(kind);
    size_t nf = dev_n_fields(kind);

    g_assert_cmpuint(m->entries[kind]->len, ==, n);
    for (size_t i = 0; i < n; i++) {
        const DevEntry *e = entry_at(m, kind, (guint)i);

        g_assert_cmpstr(e->name, ==, rows[i].name);
        g_assert_true(dev_model_find(m, kind, e->name) == e);
        for (size_t f = 0; f + 1 < nf; f++) {
            /* name/field in the message so a failure says which file is wrong */
            g_autofree char *got = g_strdup_printf("%s/%s=%s", e->name, fields[f], e->values[f]);
            g_autofree char *want = g_strdup_printf("%s/%s=%s", rows[i].name, fields[f],
                                                    rows[i].v[f]);

            g_assert_nonnull(rows[i].v[f]);
            g_assert_cmpstr(got, ==, want);
        }
        g_assert_null(e->values[nf]);
        check_xml_round_trip(kind, e);
    }
}

#define CHECK_ROWS(m, kind, rows) check_rows((m), (kind), (rows), G_N_ELEMENTS(rows))

/* ---- the field lists ------------------------------------------------------------- */

static void
test_fields(void)
{
    static const char *const disk[] = {
        "device", "bus", "model", "source", "type", "format", "cache", "discard", "serial",
        "wwn", "readonly", "shareable", "boot_order", "address", "alias", "tray", "xml"
    };
    static const char *const serial[] = {
        "type", "target_type", "target_model", "source", "mode", "log", "log_append",
        "alias", "tty", "xml"
    };
    static const char *const iface[] = {
        "type", "source", "mac", "model", "target", "link_state", "alias", "xml"
    };
    const char *const *const want[] = { disk, serial, iface };
    const size_t n[] = { G_N_ELEMENTS(disk), G_N_ELEMENTS(serial), G_N_ELEMENTS(iface) };

    g_assert_cmpstr(dev_kind_dir(DEV_DISK), ==, "disks");
    g_assert_cmpstr(dev_kind_dir(DEV_SERIAL), ==, "serial");
    g_assert_cmpstr(dev_kind_dir(DEV_IFACE), ==, "interfaces");
    g_assert_null(dev_kind_dir(DEV_N_KINDS));
    g_assert_cmpint(dev_kind_from_dir("disks"), ==, DEV_DISK);
    g_assert_cmpint(dev_kind_from_dir("serial"), ==, DEV_SERIAL);
    g_assert_cmpint(dev_kind_from_dir("interfaces"), ==, DEV_IFACE);
    g_assert_cmpint(dev_kind_from_dir("disk"), ==, -1);
    g_assert_cmpint(dev_kind_from_dir(""), ==, -1);
    g_assert_cmpint(dev_kind_from_dir(NULL), ==, -1);
    for (int k = 0; k < DEV_N_KINDS; k++) {
        const char *const *f = dev_fields(k);

        g_assert_cmpuint(dev_n_fields(k), ==, n[k]);
        for (size_t i = 0; i < n[k]; i++) {
            g_assert_cmpstr(f[i], ==, want[k][i]);
            g_assert_cmpint(dev_field_index(k, want[k][i]), ==, (int)i);
        }
        g_assert_null(f[n[k]]);
        g_assert_cmpstr(f[n[k] - 1], ==, "xml");
        g_assert_cmpint(dev_field_index(k, "nonexistent"), ==, -1);
        g_assert_cmpint(dev_field_index(k, NULL), ==, -1);
    }
    g_assert_null(dev_fields(DEV_N_KINDS));
    g_assert_cmpuint(dev_n_fields(DEV_N_KINDS), ==, 0);
    g_assert_cmpint(dev_field_index(DEV_N_KINDS, "xml"), ==, -1);
}

/* ---- fixtures -------------------------------------------------------------------- */

static void
test_ovirt(void)
{
    static const Row disks[] = {
        { "sdc", { "cdrom", "sata", "", "", "file", "", "", "", "", "", "1", "0", "",
                   "0:0:0:2", "ua-d6a8b2c1-4e3f-4a5b-9c7d-2e1f0a9b8c7d", "closed" } },
        { "vda", { "disk", "virtio", "",
                   "/rhev/data-center/mnt/blockSD/2b5e1c3d-6f7a-4b8c-9d0e-1f2a3b4c5d6e/images/"
                   "5a1e7d1a-3b2c-4d5e-8f9a-0b1c2d3e4f5a/9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a",
                   "block", "qcow2", "none", "unmap", "5a1e7d1a-3b2c-4d5e-8f9a-0b1c2d3e4f5a", "",
                   "0", "0", "1", "0000:05:00.0", "ua-5a1e7d1a-3b2c-4d5e-8f9a-0b1c2d3e4f5a", "" } },
        { "vdb", { "disk", "virtio", "",
                   "/rhev/data-center/mnt/nfs.example.com:_exports_data/"
                   "2b5e1c3d-6f7a-4b8c-9d0e-1f2a3b4c5d6e/images/"
                   "0e4f6a8b-1c3d-4e5f-a7b9-c1d3e5f7a9b1/3c5e7a9b-2d4f-4a6b-8c0d-e2f4a6b8c0d2",
                   "file", "raw", "none", "", "0e4f6a8b-1c3d-4e5f-a7b9-c1d3e5f7a9b1", "", "0",
                   "0", "", "0000:06:00.0", "ua-0e4f6a8b-1c3d-4e5f-a7b9-c1d3e5f7a9b1", "" } },
    };
    static const Row serials[] = {
        { "0", { "unix", "isa-serial", "isa-serial",
                 "/var/run/ovirt-vmconsole-console/4f1c6a2e-8d3b-4c5e-9f7a-1b2c3d4e5f60.sock",
                 "bind", "", "", "serial0", "" } },
    };
    static const Row ifaces[] = {
        { "0", { "bridge", "ovirtmgmt", "56:6f:a1:b2:00:01", "virtio", "vnet3", "up",
                 "ua-8f0d7a1c-6c2b-4bfa-9e1d-0a3c5b7d9e21" } },
        { "1", { "bridge", "storage", "56:6f:a1:b2:00:02", "virtio", "vnet4", "up",
                 "ua-1b3d5f7a-9c0e-4a2b-8d4f-6a8c0e2a4c6e" } },
    };
    g_autoptr(DevModel) m = load("ovirt.xml");

    CHECK_ROWS(m, DEV_DISK, disks);
    CHECK_ROWS(m, DEV_SERIAL, serials);
    CHECK_ROWS(m, DEV_IFACE, ifaces);
}

static void
test_xen_pv(void)
{
    static const Row disks[] = {
        { "xvda", { "disk", "xen", "", "/var/lib/xen/images/xen-pv-guest/disk0.img", "file",
                    "raw", "", "", "", "", "0", "0", "", "", "", "" } },
        { "xvdb", { "disk", "xen", "", "/dev/vg0/xen-pv-data", "block", "raw", "", "", "", "",
                    "0", "0", "", "", "", "" } },
        { "xvdc", { "disk", "xen", "", "/var/lib/xen/images/xen-pv-guest/config.qcow2", "file",
                    "qcow2", "", "", "", "", "1", "0", "", "", "", "" } },
    };
    static const Row ifaces[] = {
        { "0", { "bridge", "xenbr0", "00:16:3e:5d:c1:7a", "", "vif7.0", "up", "" } },
    };
    g_autoptr(DevModel) m = load("xen-pv.xml");

    CHECK_ROWS(m, DEV_DISK, disks);
    /* a xen PV guest has a <console>, which is not a serial port */
    g_assert_cmpuint(m->entries[DEV_SERIAL]->len, ==, 0);
    CHECK_ROWS(m, DEV_IFACE, ifaces);
}

static void
test_s390x(void)
{
    static const Row disks[] = {
        { "vda", { "disk", "virtio", "", "/var/lib/libvirt/images/s390x-guest.qcow2", "file",
                   "qcow2", "none", "", "", "", "0", "0", "1", "fe.0.0000", "virtio-disk0", "" } },
        { "vdb", { "disk", "virtio", "", "/dev/disk/by-path/ccw-0.0.1234", "block", "raw",
                   "none", "", "", "", "0", "0", "", "fe.0.0002", "virtio-disk1", "" } },
        { "sda", { "cdrom", "scsi", "", "/var/lib/libvirt/images/install-s390x.iso", "file",
                   "raw", "", "", "", "", "1", "0", "2", "0:0:0:0", "scsi0-0-0-0", "closed" } },
    };
    static const Row serials[] = {
        { "0", { "pty", "sclp-serial", "sclpconsole", "/dev/pts/5", "", "", "", "serial0",
                 "/dev/pts/5" } },
        { "1", { "pty", "sclp-serial", "sclplmconsole", "/dev/pts/6", "", "", "", "serial1",
                 "/dev/pts/6" } },
    };
    static const Row ifaces[] = {
        { "0", { "network", "default", "52:54:00:3a:9c:01", "virtio", "vnet11", "up", "net0" } },
    };
    g_autoptr(DevModel) m = load("s390x.xml");

    CHECK_ROWS(m, DEV_DISK, disks);
    CHECK_ROWS(m, DEV_SERIAL, serials);
    CHECK_ROWS(m, DEV_IFACE, ifaces);
}

static void
test_q35(void)
{
    static const Row disks[] = {
        { "vda", { "disk", "virtio", "virtio-non-transitional",
                   "/var/lib/libvirt/images/q35-net.qcow2", "file", "qcow2", "", "unmap", "",
                   "", "0", "0", "1", "0000:04:00.0", "virtio-disk0", "" } },
        { "sda", { "cdrom", "sata", "", "/var/lib/libvirt/images/cloud-init.iso", "file", "raw",
                   "", "", "", "", "1", "0", "", "0:0:0:0", "sata0-0-0", "closed" } },
    };
    static const Row serials[] = {
        { "0", { "pty", "isa-serial", "isa-serial", "/dev/pts/2", "", "", "", "serial0",
                 "/dev/pts/2" } },
    };
    static const Row ifaces[] = {
        { "0", { "network", "default", "52:54:00:6b:3c:01", "virtio", "vnet20", "up", "net0" } },
        { "1", { "bridge", "br0", "52:54:00:6b:3c:02", "virtio-non-transitional", "vnet21",
                 "down", "net1" } },
        { "2", { "direct", "eno1", "52:54:00:6b:3c:03", "virtio", "macvtap0", "up", "net2" } },
        { "3", { "vhostuser", "/var/run/openvswitch/vhu-q35-net-0", "52:54:00:6b:3c:04",
                 "virtio", "vhu-q35-net-0", "up", "net3" } },
        { "4", { "hostdev", "0000:3b:10.2", "52:54:00:6b:3c:05", "", "", "up", "hostdev0" } },
        { "5", { "user", "", "52:54:00:6b:3c:06", "e1000e", "", "up", "net5" } },
    };
    g_autoptr(DevModel) m = load("q35.xml");

    CHECK_ROWS(m, DEV_DISK, disks);
    CHECK_ROWS(m, DEV_SERIAL, serials);
    CHECK_ROWS(m, DEV_IFACE, ifaces);
}

#define TD "/var/lib/libvirt/images/thirty/"

static void
test_thirty_disks(void)
{
    static const Row disks[] = {
        { "hda", { "disk", "ide", "", TD "hda.qcow2", "file", "qcow2", "writeback", "", "", "",
                   "0", "0", "2", "0:0:0:0", "ide0-0-0", "" } },
        { "hdb", { "disk", "ide", "", TD "hdb.raw", "file", "raw", "none", "", "", "", "0", "0",
                   "", "0:0:0:1", "ide0-0-1", "" } },
        { "hdc", { "cdrom", "ide", "", "/isos/debian-12.5.0-amd64-netinst.iso", "file", "raw",
                   "", "", "", "", "1", "0", "1", "0:1:0:0", "ide0-1-0", "open" } },
        { "hdd", { "cdrom", "ide", "", "", "file", "raw", "", "", "", "", "1", "0", "",
                   "0:1:0:1", "ide0-1-1", "closed" } },
        { "fda", { "floppy", "fdc", "", TD "drivers.img", "file", "raw", "", "", "", "", "0",
                   "0", "", "0:0:0:0", "fdc0-0-0", "open" } },
        { "fdb", { "floppy", "fdc", "", "/srv/floppy", "dir", "fat", "", "", "", "", "0", "0",
                   "", "0:0:0:1", "fdc0-0-1", "closed" } },
        { "sda", { "disk", "scsi", "", TD "sda.qcow2", "file", "qcow2", "none", "unmap", "",
                   "5000c50015ea71ac", "0", "0", "3", "0:0:0:0", "scsi0-0-0-0", "" } },
        { "sdb", { "disk", "scsi", "", "/dev/mapper/quorum", "block", "raw", "none", "",
                   "SHARED-QUORUM-01", "", "0", "1", "", "0:0:0:1", "scsi0-0-0-1", "" } },
        { "sdc", { "lun", "scsi", "", "/dev/disk/by-id/scsi-3600508b400105e210000900000490000",
                   "block", "raw", "none", "", "", "", "0", "0", "", "0:0:0:2", "scsi0-0-0-2",
                   "" } },
        { "sdd", { "disk", "scsi", "", TD "sdd.raw", "file", "raw", "", "", "",
                   "5000c50015ea71ad", "1", "0", "", "0:0:1:0", "scsi0-0-1-0", "" } },
        { "sde", { "cdrom", "scsi", "", "", "file", "raw", "", "", "", "", "1", "0", "",
                   "0:0:0:4", "scsi0-0-0-4", "open" } },
        { "sdf", { "disk", "scsi", "", TD "sdf.qcow2", "file", "qcow2", "writeback", "ignore",
                   "", "", "0", "0", "", "1:0:0:0", "scsi1-0-0-0", "" } },
        { "sdg", { "disk", "scsi", "", "/dev/vg_thirty/sdg", "block", "raw", "directsync", "",
                   "", "", "0", "0", "", "1:0:0:1", "scsi1-0-0-1", "" } },
        { "sdh", { "disk", "scsi", "", TD "sdh.raw", "file", "raw", "unsafe", "unmap", "", "",
                   "0", "0", "4", "1:0:0:2", "scsi1-0-0-2", "" } },
        { "sdi", { "disk", "sata", "", TD "sdi.qcow2", "file", "qcow2", "", "", "", "", "0",
                   "0", "", "0:0:0:0", "sata0-0-0", "" } },
        { "sdj", { "disk", "sata", "", TD "sdj.raw", "file", "raw", "none", "",
                   "WD-WCC4N1234567", "", "0", "0", "", "0:0:0:1", "sata0-0-1", "" } },
        { "sdk", { "cdrom", "sata", "", "/isos/virtio-win-0.1.240.iso", "file", "raw", "", "",
                   "", "", "1", "0", "", "0:0:0:2", "sata0-0-2", "open" } },
        { "sdl", { "disk", "sata", "", "/dev/sdl", "block", "raw", "", "", "", "", "1", "0", "",
                   "0:0:0:3", "sata0-0-3", "" } },
        { "vda", { "disk", "virtio", "", TD "vda.qcow2", "file", "qcow2", "none", "unmap",
                   "OS-DISK", "", "0", "0", "5", "0000:00:07.0", "virtio-disk0", "" } },
        { "vdb", { "disk", "virtio", "", TD "vdb.raw", "file", "raw", "writeback", "", "", "",
                   "0", "0", "", "0000:00:08.0", "virtio-disk1", "" } },
        { "vdc", { "disk", "virtio", "", "/dev/vg_thirty/shared", "block", "raw", "none", "",
                   "", "", "0", "1", "", "0000:00:09.0", "virtio-disk2", "" } },
        { "vdd", { "disk", "virtio", "", TD "vdd.qcow2", "file", "qcow2", "", "", "", "", "1",
                   "0", "", "0000:00:0a.0", "virtio-disk3", "" } },
        { "vde", { "disk", "virtio", "virtio-transitional", TD "vde.raw", "file", "raw", "",
                   "unmap", "", "", "0", "0", "", "0000:00:0b.0", "virtio-disk4", "" } },
        { "vdf", { "disk", "virtio", "", TD "vdf.qcow2", "file", "qcow2", "", "", "", "", "0",
                   "0", "", "0000:00:0c.0", "virtio-disk5", "" } },
        { "vdg", { "disk", "virtio", "", TD "vdg.qcow2", "file", "qcow2", "", "", "", "", "0",
                   "0", "", "0000:00:0d.0", "virtio-disk6", "" } },
        { "vdh", { "disk", "virtio", "", TD "vdh.qcow2", "file", "qcow2", "", "", "", "", "0",
                   "0", "", "0000:00:0e.0", "virtio-disk7", "" } },
        { "vdi", { "disk", "virtio", "", TD "vdi.qcow2", "file", "qcow2", "", "", "", "", "0",
                   "0", "", "0000:00:0f.0", "virtio-disk8", "" } },
        { "sdm", { "disk", "usb", "", TD "sdm.raw", "file", "raw", "", "", "", "", "0", "0", "",
                   "0:1", "usb-disk0", "" } },
        { "sdn", { "disk", "usb", "", TD "sdn.qcow2", "file", "qcow2", "", "", "", "", "0", "0",
                   "", "0:2.1", "usb-disk1", "" } },
        { "sdo", { "disk", "sd", "", TD "sdo.raw", "file", "raw", "", "", "", "", "0", "0", "",
                   "", "sd-disk0", "" } },
    };
    static const Row serials[] = {
        { "0", { "pty", "isa-serial", "isa-serial", "/dev/pts/9", "", "", "", "serial0",
                 "/dev/pts/9" } },
    };
    static const Row ifaces[] = {
        { "0", { "network", "default", "52:54:00:30:30:30", "e1000", "vnet30", "up", "net0" } },
    };
    g_autoptr(DevModel) m = load("thirty-disks.xml");

    g_assert_cmpuint(G_N_ELEMENTS(disks), ==, 30);
    CHECK_ROWS(m, DEV_DISK, disks);
    CHECK_ROWS(m, DEV_SERIAL, serials);
    CHECK_ROWS(m, DEV_IFACE, ifaces);
}

static void
test_network_disks(void)
{
    static const Row disks[] = {
        { "vda", { "disk", "virtio", "",
                   "rbd://ceph-mon1.example.com:6789/libvirt-pool/net-disks-root", "network",
                   "raw", "writeback", "unmap", "", "", "0", "0", "1", "0000:04:00.0",
                   "virtio-disk0", "" } },
        { "vdb", { "disk", "virtio", "",
                   "iscsi://192.168.122.1:3260/iqn.2013-07.com.example:iscsi-nopool/1",
                   "network", "raw", "none", "", "", "", "0", "0", "", "0000:05:00.0",
                   "virtio-disk1", "" } },
        { "vdc", { "disk", "virtio", "", "nbd://nbd.example.com:10809/export0", "network", "raw",
                   "", "", "", "", "0", "0", "", "0000:06:00.0", "virtio-disk2", "" } },
        { "vdd", { "disk", "virtio", "", "nbd+unix:///scratch?socket=/var/run/nbd/scratch.sock",
                   "network", "qcow2", "", "", "", "", "0", "0", "", "0000:07:00.0",
                   "virtio-disk3", "" } },
        { "vde", { "disk", "virtio", "",
                   "gluster://gluster1.example.org:24007/gv0/images/net-disks.qcow2", "network",
                   "qcow2", "", "", "", "", "0", "0", "", "0000:08:00.0", "virtio-disk4", "" } },
        { "vdf", { "disk", "virtio", "", "default/net-disks-data.qcow2", "volume", "qcow2", "",
                   "", "", "", "0", "0", "", "0000:09:00.0", "virtio-disk5", "" } },
        { "vdg", { "disk", "virtio", "", "/dev/mapper/mpatha", "block", "raw", "none", "", "",
                   "", "0", "0", "", "0000:0a:00.0", "virtio-disk6", "" } },
        { "vdh", { "disk", "virtio", "", "rbd:libvirt-pool/from-ceph-conf", "network", "raw",
                   "", "", "", "", "0", "0", "", "0000:0b:00.0", "virtio-disk7", "" } },
        { "vdi", { "disk", "virtio", "", "nbd://[fd00::1]:10809/export1", "network", "raw", "",
                   "", "", "", "0", "0", "", "0000:0c:00.0", "virtio-disk8", "" } },
        { "vdj", { "disk", "virtio", "", "nvme://0000:01:00.0/1", "nvme", "raw", "", "", "", "",
                   "0", "0", "", "0000:0d:00.0", "virtio-disk9", "" } },
        { "sda", { "cdrom", "sata", "",
                   "http://mirror.example.org:80/isos/debian-12.5.0-amd64-netinst.iso?mirror=eu",
                   "network", "raw", "", "", "", "", "1", "0", "", "0:0:0:0", "sata0-0-0",
                   "closed" } },
    };
    static const Row ifaces[] = {
        { "0", { "network", "storage-net", "52:54:00:44:44:01", "virtio", "vnet44", "up",
                 "net0" } },
    };
    g_autoptr(DevModel) m = load("network-disks.xml");

    CHECK_ROWS(m, DEV_DISK, disks);
    g_assert_cmpuint(m->entries[DEV_SERIAL]->len, ==, 0);
    CHECK_ROWS(m, DEV_IFACE, ifaces);
}

#define SLOG "/var/log/libvirt/qemu/serial-types-"

static void
test_serial_types(void)
{
    static const Row serials[] = {
        { "0", { "pty", "isa-serial", "isa-serial", "/dev/pts/4", "", SLOG "serial0.log", "on",
                 "serial0", "/dev/pts/4" } },
        { "1", { "file", "isa-serial", "isa-serial", SLOG "serial1.out", "", SLOG "serial1.log",
                 "off", "serial1", "" } },
        { "2", { "tcp", "isa-serial", "isa-serial", "127.0.0.1:4555", "bind", "", "", "serial2",
                 "" } },
        { "3", { "tcp", "isa-serial", "isa-serial", "console.example.com:7001", "connect", "",
                 "", "serial3", "" } },
        { "4", { "unix", "pci-serial", "pci-serial", "/run/serial-types/port4.sock", "connect",
                 "", "", "serial4", "" } },
        { "5", { "udp", "usb-serial", "usb-serial", "192.0.2.7:2446", "connect", "", "",
                 "serial5", "" } },
        { "6", { "null", "pci-serial", "pci-serial", "", "", "", "", "serial6", "" } },
        { "7", { "spicevmc", "usb-serial", "usb-serial", "", "", "", "", "serial7", "" } },
        { "8", { "stdio", "isa-serial", "isa-serial", "", "", "", "", "serial8", "" } },
        { "9", { "pty", "pci-serial", "pci-serial", "/dev/pts/7", "", SLOG "serial9.log", "off",
                 "serial9", "/dev/pts/7" } },
        { "10", { "tcp", "usb-serial", "usb-serial", "[::1]:5000", "connect", "", "",
                  "serial10", "" } },
        { "11", { "dev", "isa-serial", "isa-serial", "/dev/ttyS0", "", "", "", "serial11",
                  "" } },
        { "12", { "pipe", "isa-serial", "isa-serial", "/run/serial-types/pipe12", "", "", "",
                  "serial12", "" } },
    };
    static const Row disks[] = {
        { "vda", { "disk", "virtio", "", "/var/lib/libvirt/images/serial-types.qcow2", "file",
                   "qcow2", "", "", "", "", "0", "0", "", "0000:04:00.0", "virtio-disk0", "" } },
    };
    g_autoptr(DevModel) m = load("serial-types.xml");

    CHECK_ROWS(m, DEV_SERIAL, serials);
    CHECK_ROWS(m, DEV_DISK, disks);
    g_assert_cmpuint(m->entries[DEV_IFACE]->len, ==, 0);
}

static void
test_aarch64(void)
{
    static const Row serials[] = {
        { "0", { "pty", "system-serial", "pl011", "/dev/pts/11", "", "", "", "serial0",
                 "/dev/pts/11" } },
    };
    static const Row disks[] = {
        { "vda", { "disk", "virtio", "", "/var/lib/libvirt/images/arm-virt.qcow2", "file",
                   "qcow2", "", "", "", "", "0", "0", "", "0000:04:00.0", "virtio-disk0", "" } },
    };
    static const Row ifaces[] = {
        { "0", { "network", "default", "52:54:00:a6:40:01", "virtio", "vnet8", "up", "net0" } },
    };
    g_autoptr(DevModel) m = load("aarch64.xml");

    CHECK_ROWS(m, DEV_SERIAL, serials);
    CHECK_ROWS(m, DEV_DISK, disks);
    CHECK_ROWS(m, DEV_IFACE, ifaces);
}

/* The xml value is the element as it stands in the document, inner whitespace and all,
 * quoted and escaped the way libvirt writes it. */
static void
test_xml_value_exact(void)
{
    g_autoptr(DevModel) m = load("xen-pv.xml");
    const DevEntry *e = dev_model_find(m, DEV_DISK, "xvdb");

    g_assert_nonnull(e);
    g_assert_cmpstr(val(e, DEV_DISK, "xml"), ==,
                    "<disk type='block' device='disk'>\n"
                    "      <driver name='phy' type='raw'/>\n"
                    "      <source dev='/dev/vg0/xen-pv-data'/>\n"
                    "      <target dev='xvdb' bus='xen'/>\n"
                    "    </disk>");
    e = dev_model_find(m, DEV_IFACE, "0");
    g_assert_nonnull(e);
    g_assert_cmpstr(val(e, DEV_IFACE, "xml"), ==,
                    "<interface type='bridge'>\n"
                    "      <mac address='00:16:3e:5d:c1:7a'/>\n"
                    "      <source bridge='xenbr0'/>\n"
                    "      <script path='vif-bridge'/>\n"
                    "      <target dev='vif7.0'/>\n"
                    "    </interface>");
}

/* ---- hostile names and values ---------------------------------------------------- */

static void
test_hostile_names(void)
{
    static const char *const want[] = {
        "%2E.%2F..%2Fetc", "a%2Fb", "%2E.", "%2E", "tab%09and%0Anewline", "vda", "vda~2",
        "vda~3", "vda~2~2", "disk9", "disk10", "%252F", "sd%7Fx", NULL /* long */,
        NULL /* long~2 */, "disk9~2", "vdx", "hdc", "outer", "vdy", "vdz",
    };
    g_autoptr(DevModel) m = load("hostile.xml");
    g_autofree char *long_raw = g_strnfill(300, 'x');
    g_autofree char *long_name = name_escape(long_raw);
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    const DevEntry *e;

    g_assert_cmpuint(m->entries[DEV_DISK]->len, ==, G_N_ELEMENTS(want));
    for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
        e = entry_at(m, DEV_DISK, i);
        if (want[i])
            g_assert_cmpstr(e->name, ==, want[i]);
    }
    /* the long name is cut by name_escape; its duplicate is cut again to fit "~2" */
    e = entry_at(m, DEV_DISK, 13);
    g_assert_cmpstr(e->name, ==, long_name);
    g_assert_cmpuint(strlen(e->name), ==, 255);
    e = entry_at(m, DEV_DISK, 14);
    g_assert_cmpuint(strlen(e->name), ==, 255);
    g_assert_true(g_str_has_suffix(e->name, "~2"));
    g_assert_cmpint(strncmp(e->name, long_name, 253), ==, 0);

    /* every name of every kind: one safe path component, unique within its kind */
    for (int k = 0; k < DEV_N_KINDS; k++) {
        g_hash_table_remove_all(seen);
        for (guint i = 0; i < m->entries[k]->len; i++) {
            e = entry_at(m, k, i);
            g_assert_cmpuint(strlen(e->name), >, 0);
            g_assert_cmpuint(strlen(e->name), <=, 255);
            g_assert_null(strchr(e->name, '/'));
            g_assert_cmpint(e->name[0], !=, '.');
            for (const char *p = e->name; *p; p++)
                g_assert_cmpint((unsigned char)*p, >=, 0x20);
            g_assert_false(g_hash_table_contains(seen, e->name));
            g_hash_table_add(seen, e->name);
            g_assert_true(dev_model_find(m, k, e->name) == e);
            check_xml_round_trip(k, e);
        }
    }
    g_hash_table_unref(seen);

    /* nothing nested, namespaced or in a second <devices> is a device */
    for (guint i = 0; i < m->entries[DEV_DISK]->len; i++) {
        e = entry_at(m, DEV_DISK, i);
        g_assert_null(strstr(e->name, "from-metadata"));
        g_assert_null(strstr(e->name, "nested"));
        g_assert_null(strstr(e->name, "namespaced"));
        g_assert_null(strstr(e->name, "second-devices"));
    }
    g_assert_nonnull(strstr(val(dev_model_find(m, DEV_DISK, "outer"), DEV_DISK, "xml"),
                            "nested-in-disk"));
}

static void
test_hostile_values(void)
{
    g_autoptr(DevModel) m = load("hostile.xml");
    const DevEntry *e;

    e = dev_model_find(m, DEV_DISK, "%2E.%2F..%2Fetc");
    g_assert_nonnull(e);
    g_assert_cmpstr(val(e, DEV_DISK, "source"), ==, "/images/a&b <c> \"d\" 'e'.img");
    /* escaped on the way out the way libvirt does it */
    g_assert_nonnull(strstr(val(e, DEV_DISK, "xml"),
                            "file='/images/a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;.img'"));
    g_assert_nonnull(strstr(val(dev_model_find(m, DEV_DISK, "tab%09and%0Anewline"), DEV_DISK,
                                "xml"),
                            "dev='tab&#9;and&#10;newline'"));

    /* a trailing newline is never part of a value; an inner one is kept */
    e = dev_model_find(m, DEV_DISK, "vda");
    g_assert_cmpstr(val(e, DEV_DISK, "serial"), ==, "with\nnewline");
    g_assert_cmpstr(val(e, DEV_DISK, "source"), ==, "/images/first-vda.img");
    e = dev_model_find(m, DEV_DISK, "vda~2");
    g_assert_cmpstr(val(e, DEV_DISK, "serial"), ==, "<cdata & \"quotes\">");
    g_assert_cmpstr(val(e, DEV_DISK, "source"), ==, "/images/second-vda.img");
    g_assert_cmpstr(val(dev_model_find(m, DEV_DISK, "vda~3"), DEV_DISK, "source"), ==,
                    "/images/third-vda.img");
    e = dev_model_find(m, DEV_DISK, "disk9");
    g_assert_cmpstr(val(e, DEV_DISK, "source"), ==, "/images/no-target.img");
    g_assert_cmpstr(val(e, DEV_DISK, "bus"), ==, "");

    /* addresses that are out of range or have no conventional form */
    g_assert_cmpstr(val(dev_model_find(m, DEV_DISK, "vdx"), DEV_DISK, "address"), ==,
                    "pci:domain=0x10000,bus=0x00,slot=0x01,function=0x0");
    e = dev_model_find(m, DEV_DISK, "hdc");
    g_assert_cmpstr(val(e, DEV_DISK, "address"), ==, "0001:0a:03.4");
    g_assert_cmpstr(val(e, DEV_DISK, "tray"), ==, "half-open");
    g_assert_cmpstr(val(e, DEV_DISK, "device"), ==, "cdrom");
    g_assert_cmpstr(val(dev_model_find(m, DEV_DISK, "outer"), DEV_DISK, "address"), ==,
                    "virtio-mmio");
    g_assert_cmpstr(val(dev_model_find(m, DEV_DISK, "vdy"), DEV_DISK, "address"), ==,
                    "isa:iobase=0x3f8,irq=0x4");
    g_assert_cmpstr(val(dev_model_find(m, DEV_DISK, "vdz"), DEV_DISK, "address"), ==,
                    "ccw:cssid=0x100,ssid=0x0,devno=0x0001");

    /* serial ports: hostile port, missing port (index), clash with the index */
    g_assert_cmpuint(m->entries[DEV_SERIAL]->len, ==, 4);
    g_assert_cmpstr(entry_at(m, DEV_SERIAL, 0)->name, ==, "%2E.%2Fx");
    g_assert_cmpstr(entry_at(m, DEV_SERIAL, 1)->name, ==, "1");
    g_assert_cmpstr(entry_at(m, DEV_SERIAL, 2)->name, ==, "1~2");
    e = entry_at(m, DEV_SERIAL, 3);
    g_assert_cmpstr(e->name, ==, "%2F");
    g_assert_cmpstr(val(e, DEV_SERIAL, "type"), ==, "spiceport");
    g_assert_cmpstr(val(e, DEV_SERIAL, "source"), ==, "");
    g_assert_cmpstr(val(e, DEV_SERIAL, "mode"), ==, "");
    g_assert_cmpstr(val(e, DEV_SERIAL, "tty"), ==, "");

    g_assert_cmpuint(m->entries[DEV_IFACE]->len, ==, 2);
    e = dev_model_find(m, DEV_IFACE, "0");
    g_assert_cmpstr(val(e, DEV_IFACE, "source"), ==, "br\t0");
    g_assert_cmpstr(val(e, DEV_IFACE, "mac"), ==, "52:54:00:\"<&");
    g_assert_cmpstr(val(e, DEV_IFACE, "link_state"), ==, "down&");
    e = dev_model_find(m, DEV_IFACE, "1");
    g_assert_cmpstr(val(e, DEV_IFACE, "type"), ==, "ethernet");
    g_assert_cmpstr(val(e, DEV_IFACE, "target"), ==, "tap\n0");
    g_assert_cmpstr(val(e, DEV_IFACE, "link_state"), ==, "up");
}

static void
test_find(void)
{
    g_autoptr(DevModel) m = load("q35.xml");

    g_assert_nonnull(dev_model_find(m, DEV_DISK, "vda"));
    g_assert_null(dev_model_find(m, DEV_DISK, "vdb"));
    g_assert_null(dev_model_find(m, DEV_SERIAL, "vda"));
    g_assert_nonnull(dev_model_find(m, DEV_IFACE, "5"));
    g_assert_null(dev_model_find(m, DEV_IFACE, "6"));
    g_assert_null(dev_model_find(m, DEV_N_KINDS, "vda"));
    g_assert_null(dev_model_find(m, DEV_DISK, NULL));
    g_assert_null(dev_model_find(NULL, DEV_DISK, "vda"));
    dev_model_free(NULL);
}

static void
test_small_documents(void)
{
    g_autoptr(DevModel) empty = parse_str("<!-- libvirt --><domain type='kvm'/>");
    g_autoptr(DevModel) nodev = parse_str("<domain><name>x</name></domain>");
    g_autoptr(DevModel) latin1 = parse_str(
        "<?xml version='1.0' encoding='ISO-8859-1'?>"
        "<domain><devices><disk><target dev='\xe9t\xe9'/></disk></devices></domain>");
    g_autoptr(DevModel) defaults = parse_str(
        "<domain><devices><disk device='floppy'/><serial/><interface/></devices></domain>");
    const DevEntry *e;

    for (int k = 0; k < DEV_N_KINDS; k++) {
        g_assert_cmpuint(empty->entries[k]->len, ==, 0);
        g_assert_cmpuint(nodev->entries[k]->len, ==, 0);
    }
    /* converted to UTF-8, and kept as UTF-8 in the xml value */
    e = entry_at(latin1, DEV_DISK, 0);
    g_assert_cmpstr(e->name, ==, "\xc3\xa9t\xc3\xa9");
    g_assert_nonnull(strstr(val(e, DEV_DISK, "xml"), "dev='\xc3\xa9t\xc3\xa9'"));

    e = entry_at(defaults, DEV_DISK, 0);
    g_assert_cmpstr(e->name, ==, "disk0");
    g_assert_cmpstr(val(e, DEV_DISK, "device"), ==, "floppy");
    g_assert_cmpstr(val(e, DEV_DISK, "tray"), ==, "closed");
    g_assert_cmpstr(val(e, DEV_DISK, "readonly"), ==, "0");
    g_assert_cmpstr(val(e, DEV_DISK, "address"), ==, "");
    e = entry_at(defaults, DEV_SERIAL, 0);
    g_assert_cmpstr(e->name, ==, "0");
    for (size_t f = 0; f + 1 < dev_n_fields(DEV_SERIAL); f++)
        g_assert_cmpstr(e->values[f], ==, "");
    g_assert_cmpstr(val(e, DEV_SERIAL, "xml"), ==, "<serial/>");
    e = entry_at(defaults, DEV_IFACE, 0);
    g_assert_cmpstr(val(e, DEV_IFACE, "link_state"), ==, "up");
    g_assert_cmpstr(val(e, DEV_IFACE, "type"), ==, "");
}

/* ---- refused input --------------------------------------------------------------- */

static void
assert_refused(const char *xml, size_t len)
{
    DevModel *m = (DevModel *)0x1;

    g_assert_cmpint(dev_model_parse(xml, len, &m), ==, -EINVAL);
    g_assert_null(m);
}

#define REFUSED(s) assert_refused((s), strlen(s))

static void
test_malformed(void)
{
    static const char nul_inside[] = "<domain><devices>\0</devices></domain>";
    DevModel *m = NULL;

    assert_refused(NULL, 10);
    assert_refused("", 0);
    g_assert_cmpint(dev_model_parse("<domain/>", 9, NULL), ==, -EINVAL);
    REFUSED(" ");
    REFUSED("<");
    REFUSED("<domain>");
    REFUSED("<domain><devices><disk></devices></domain>");
    REFUSED("<domain></domain><domain></domain>");
    REFUSED("<domain attr='unterminated/>");
    REFUSED("<domain><devices><disk><target dev='&undefined;'/></disk></devices></domain>");
    REFUSED("<domain>&#0;</domain>");
    REFUSED("<domain>\xff\xfe</domain>");
    REFUSED("not xml at all");
    assert_refused(nul_inside, sizeof(nul_inside) - 1);
    /* not a domain */
    REFUSED("<network><name>default</name></network>");
    REFUSED("<devices><disk><target dev='vda'/></disk></devices>");
    REFUSED("<domain xmlns='urn:example:not-libvirt'><devices/></domain>");
    REFUSED("<x:domain xmlns:x='urn:example:not-libvirt'/>");
    /* only the length counts, not a NUL terminator */
    g_assert_cmpint(dev_model_parse("<domain/>garbage", 9, &m), ==, 0);
    dev_model_free(m);
}

static void
test_truncated(void)
{
    static const char *const fixtures[] = {
        "ovirt.xml", "xen-pv.xml", "s390x.xml", "q35.xml", "thirty-disks.xml",
        "network-disks.xml", "serial-types.xml", "aarch64.xml", "hostile.xml",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(fixtures); i++) {
        gsize len = 0;
        g_autofree char *xml = read_fixture(fixtures[i], &len);
        const char *end = g_strrstr(xml, "</domain>");
        size_t complete;

        g_assert_nonnull(end);
        complete = (size_t)(end - xml) + strlen("</domain>");
        /* every cut short of the root's end tag is malformed */
        for (size_t cut = 0; cut < complete; cut += 1 + cut / 64)
            assert_refused(xml, cut);
        assert_refused(xml, complete - 1);
    }
}

/* A valid document of exactly LEN bytes: comments pad it (each under libxml2's 10 MB
 * single-node limit, so only our own size limit can refuse it). */
static char *
padded_domain(size_t len)
{
    const char *head = "<domain><devices><disk><target dev='vda'/></disk></devices>";
    const char *tail = "</domain>";
    GString *s = g_string_sized_new(len + 1);

    g_string_append(s, head);
    for (;;) {
        size_t room = len - s->len - strlen(tail);
        size_t body = MIN(room - MIN(room, 7), (size_t)1024 * 1024);

        if (room < 8) {
            g_string_append_len(s, "       ", (gssize)room);
            break;
        }
        g_string_append(s, "<!--");
        for (size_t j = 0; j < body; j++)
            g_string_append_c(s, 'p');
        g_string_append(s, "-->");
    }
    g_string_append(s, tail);
    g_assert_cmpuint(s->len, ==, len);
    return g_string_free(s, FALSE);
}

static void
test_size_limit(void)
{
    g_autofree char *limit = padded_domain(DEV_XML_MAX);
    g_autofree char *over = padded_domain(DEV_XML_MAX + 1);
    g_autofree char *big = padded_domain((size_t)17 * 1024 * 1024);
    DevModel *m = NULL;

    g_assert_cmpint(dev_model_parse(limit, DEV_XML_MAX, &m), ==, 0);
    g_assert_cmpuint(m->entries[DEV_DISK]->len, ==, 1);
    dev_model_free(m);
    assert_refused(over, DEV_XML_MAX + 1);
    assert_refused(big, (size_t)17 * 1024 * 1024);
}

static void
test_entities(void)
{
    static const char *const docs[] = {
        /* billion laughs */
        "<?xml version='1.0'?>\n"
        "<!DOCTYPE domain [\n"
        " <!ENTITY lol 'lol'>\n"
        " <!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>\n"
        " <!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>\n"
        " <!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>\n"
        " <!ENTITY lol4 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>\n"
        " <!ENTITY lol5 '&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;'>\n"
        " <!ENTITY lol6 '&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;'>\n"
        " <!ENTITY lol7 '&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;'>\n"
        " <!ENTITY lol8 '&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;'>\n"
        " <!ENTITY lol9 '&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;'>\n"
        "]>\n"
        "<domain><devices><disk><target dev='&lol9;'/><serial>&lol9;</serial></disk>"
        "</devices></domain>",
        /* external entity (XXE) */
        "<!DOCTYPE domain [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
        "<domain><devices><disk><target dev='vda'/><serial>&x;</serial></disk>"
        "</devices></domain>",
        /* parameter entity from the network */
        "<!DOCTYPE domain [<!ENTITY % p SYSTEM 'http://192.0.2.1/evil.dtd'> %p;]>"
        "<domain/>",
        /* external DTD */
        "<!DOCTYPE domain SYSTEM 'http://192.0.2.1/domain.dtd'><domain/>",
        /* even a harmless DOCTYPE: libvirt never writes one */
        "<!DOCTYPE domain><domain/>",
    };

    for (size_t i = 0; i < G_N_ELEMENTS(docs); i++) {
        gint64 start = g_get_monotonic_time();

        REFUSED(docs[i]);
        /* refused before anything is expanded or fetched */
        g_assert_cmpint(g_get_monotonic_time() - start, <, G_USEC_PER_SEC);
    }
}

static void
test_deep_nesting(void)
{
    GString *s = g_string_new("<domain><devices><disk>");

    for (int i = 0; i < 100000; i++)
        g_string_append(s, "<a>");
    g_string_append(s, "</disk></devices></domain>");
    assert_refused(s->str, s->len);
    g_string_free(s, TRUE);
}

static void
test_many_duplicates(void)
{
    GString *s = g_string_new("<domain><devices>");
    g_autoptr(DevModel) m = NULL;
    gint64 start;

    for (int i = 0; i < 20000; i++)
        g_string_append(s, "<disk><target dev='vda'/></disk>");
    g_string_append(s, "</devices></domain>");
    start = g_get_monotonic_time();
    g_assert_cmpint(dev_model_parse(s->str, s->len, &m), ==, 0);
    /* the "~N" search stays linear */
    g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
    g_assert_cmpuint(m->entries[DEV_DISK]->len, ==, 20000);
    g_assert_cmpstr(entry_at(m, DEV_DISK, 0)->name, ==, "vda");
    g_assert_cmpstr(entry_at(m, DEV_DISK, 1)->name, ==, "vda~2");
    g_assert_cmpstr(entry_at(m, DEV_DISK, 19999)->name, ==, "vda~20000");
    g_string_free(s, TRUE);
}

/* ---- threads --------------------------------------------------------------------- */

static gpointer
parse_loop(gpointer data)
{
    const char *xml = data;

    for (int i = 0; i < 50; i++) {
        DevModel *m = NULL;

        if (dev_model_parse(xml, strlen(xml), &m) != 0 || m->entries[DEV_DISK]->len != 30)
            return GINT_TO_POINTER(1);
        dev_model_free(m);
    }
    return NULL;
}

static void
test_threads(void)
{
    gsize len = 0;
    g_autofree char *xml = read_fixture("thirty-disks.xml", &len);
    GThread *threads[8];

    for (size_t i = 0; i < G_N_ELEMENTS(threads); i++)
        threads[i] = g_thread_new("parse", parse_loop, xml);
    for (size_t i = 0; i < G_N_ELEMENTS(threads); i++)
        g_assert_null(g_thread_join(threads[i]));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/dev_model/fields", test_fields);
    g_test_add_func("/dev_model/fixture/ovirt", test_ovirt);
    g_test_add_func("/dev_model/fixture/xen-pv", test_xen_pv);
    g_test_add_func("/dev_model/fixture/s390x", test_s390x);
    g_test_add_func("/dev_model/fixture/q35", test_q35);
    g_test_add_func("/dev_model/fixture/thirty-disks", test_thirty_disks);
    g_test_add_func("/dev_model/fixture/network-disks", test_network_disks);
    g_test_add_func("/dev_model/fixture/serial-types", test_serial_types);
    g_test_add_func("/dev_model/fixture/aarch64", test_aarch64);
    g_test_add_func("/dev_model/xml-value-exact", test_xml_value_exact);
    g_test_add_func("/dev_model/hostile/names", test_hostile_names);
    g_test_add_func("/dev_model/hostile/values", test_hostile_values);
    g_test_add_func("/dev_model/find", test_find);
    g_test_add_func("/dev_model/small-documents", test_small_documents);
    g_test_add_func("/dev_model/refused/malformed", test_malformed);
    g_test_add_func("/dev_model/refused/truncated", test_truncated);
    g_test_add_func("/dev_model/refused/size-limit", test_size_limit);
    g_test_add_func("/dev_model/refused/entities", test_entities);
    g_test_add_func("/dev_model/refused/deep-nesting", test_deep_nesting);
    g_test_add_func("/dev_model/many-duplicates", test_many_duplicates);
    g_test_add_func("/dev_model/threads", test_threads);
    return g_test_run();
}
