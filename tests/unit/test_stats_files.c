/* test_stats_files.c - lib/stats_render.c and lib/agent_info.c: the statistics files and
 * the agent/ files, from records built with libvirt's own typed-parameter API (the keys
 * and units virConnectGetAllDomainStats and virDomainGetGuestInfo document), for a real
 * domain handle of the test driver. The test driver itself fills none of these keys (its
 * GetAllDomainStats reports state only; GetGuestInfo is unsupported), which is why the
 * records are built here; real QEMU fills them in the e2e suite. */
#include <string.h>

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "agent_info.h"
#include "cleanup.h"
#include "stats.h"
#include "stats_render.h"

static void
quiet(void *opaque, virErrorPtr err)
{
}

/* A record of the test driver's "test" domain with the given parameters. */
typedef struct {
    virConnectPtr vc;
    virDomainPtr dom;
    virTypedParameterPtr params;
    int n;
    int max;
} Rec;

static void
rec_init(Rec *r)
{
    memset(r, 0, sizeof(*r));
    r->vc = virConnectOpen("test:///default");
    g_assert_nonnull(r->vc);
    r->dom = virDomainLookupByName(r->vc, "test");
    g_assert_nonnull(r->dom);
}

static void
rec_ull(Rec *r, const char *key, unsigned long long v)
{
    g_assert_cmpint(virTypedParamsAddULLong(&r->params, &r->n, &r->max, key, v), ==, 0);
}

static void
rec_uint(Rec *r, const char *key, unsigned int v)
{
    g_assert_cmpint(virTypedParamsAddUInt(&r->params, &r->n, &r->max, key, v), ==, 0);
}

static void
rec_int(Rec *r, const char *key, int v)
{
    g_assert_cmpint(virTypedParamsAddInt(&r->params, &r->n, &r->max, key, v), ==, 0);
}

static void
rec_str(Rec *r, const char *key, const char *v)
{
    g_assert_cmpint(virTypedParamsAddString(&r->params, &r->n, &r->max, key, v), ==, 0);
}

static void
rec_clear(Rec *r)
{
    virTypedParamsFree(r->params, r->n);
    virDomainFree(r->dom);
    virConnectClose(r->vc);
}

static char *
render(const StatsDom *d, StatsFile f)
{
    GString *s = g_string_new(NULL);

    stats_render(d, f, s);
    return g_string_free(s, FALSE);
}

static StatsSnap *
snap_of(Rec *r)
{
    virDomainStatsRecord rec = { r->dom, r->params, r->n };
    virDomainStatsRecordPtr recs[] = { &rec };

    return stats_snap_from_records(recs, 1, 1234567);
}

static const char *
uuid_of(Rec *r, char *buf)
{
    g_assert_cmpint(virDomainGetUUIDString(r->dom, buf), ==, 0);
    return buf;
}

static void
test_full_record(void)
{
    Rec r;
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autoptr(StatsSnap) snap = NULL;
    const StatsDom *d;
    g_autofree char *cpu = NULL, *vcpu = NULL, *mem = NULL, *io = NULL, *net = NULL;
    g_autoptr(GString) cap = g_string_new(NULL);

    rec_init(&r);
    rec_ull(&r, "cpu.time", 5000123456ULL);
    rec_ull(&r, "cpu.user", 3000000000ULL);
    rec_ull(&r, "cpu.system", 1500000999ULL);
    rec_uint(&r, "vcpu.current", 2);
    rec_uint(&r, "vcpu.maximum", 2);
    rec_int(&r, "vcpu.0.state", VIR_VCPU_RUNNING);
    rec_ull(&r, "vcpu.0.time", 2000000000ULL);
    rec_ull(&r, "vcpu.0.wait", 1000ULL);
    rec_ull(&r, "vcpu.0.delay", 7000ULL);
    rec_int(&r, "vcpu.1.state", VIR_VCPU_BLOCKED);
    rec_ull(&r, "vcpu.1.time", 1000000ULL);
    rec_ull(&r, "balloon.current", 1048576);
    rec_ull(&r, "balloon.maximum", 2097152);
    rec_ull(&r, "balloon.rss", 524288);
    rec_ull(&r, "balloon.major_fault", 12);
    rec_uint(&r, "block.count", 1);
    rec_str(&r, "block.0.name", "vda");
    rec_ull(&r, "block.0.rd.bytes", 4096);
    rec_ull(&r, "block.0.wr.bytes", 8192);
    rec_ull(&r, "block.0.rd.reqs", 1);
    rec_ull(&r, "block.0.wr.reqs", 2);
    rec_ull(&r, "block.0.fl.reqs", 3);
    rec_ull(&r, "block.0.rd.times", 5000);
    rec_ull(&r, "block.0.wr.times", 6000);
    rec_ull(&r, "block.0.fl.times", 7000);
    rec_ull(&r, "block.0.capacity", 10737418240ULL);
    rec_ull(&r, "block.0.allocation", 200704);
    rec_uint(&r, "net.count", 1);
    rec_str(&r, "net.0.name", "vnet0");
    rec_ull(&r, "net.0.rx.bytes", 100);
    rec_ull(&r, "net.0.rx.pkts", 2);
    rec_ull(&r, "net.0.rx.errs", 0);
    rec_ull(&r, "net.0.rx.drop", 1);
    rec_ull(&r, "net.0.tx.bytes", 300);
    rec_ull(&r, "net.0.tx.pkts", 4);
    rec_ull(&r, "net.0.tx.errs", 0);
    rec_ull(&r, "net.0.tx.drop", 0);
    snap = snap_of(&r);
    g_assert_cmpint(snap->fetched, ==, 1234567);
    d = stats_snap_get(snap, uuid_of(&r, uuid));
    g_assert_nonnull(d);
    cpu = render(d, SF_CPU);
    g_assert_cmpstr(cpu, ==, "usage_usec 5000123\nuser_usec 3000000\nsystem_usec 1500000\n");
    vcpu = render(d, SF_VCPU);
    g_assert_cmpstr(vcpu, ==, "0 state=running time_usec=2000000 wait_usec=1 delay_usec=7\n"
                              "1 state=blocked time_usec=1000\n");
    mem = render(d, SF_MEMORY);
    g_assert_cmpstr(mem, ==, "current 536870912\nmax 2147483648\nactual 1073741824\n"
                             "rss 536870912\nmajor_faults 12\n");
    io = render(d, SF_IO);
    g_assert_cmpstr(io, ==, "vda rbytes=4096 wbytes=8192 rios=1 wios=2 fios=3 rtime_usec=5 "
                            "wtime_usec=6 ftime_usec=7\n");
    net = render(d, SF_NET);
    g_assert_cmpstr(net, ==, "vnet0 rx_bytes=100 rx_packets=2 rx_errs=0 rx_drop=1 tx_bytes=300 "
                             "tx_packets=4 tx_errs=0 tx_drop=0\n");
    stats_render_disk(d, "vda", "capacity", cap);
    g_assert_cmpstr(cap->str, ==, "10737418240\n");
    g_string_truncate(cap, 0);
    stats_render_disk(d, "vda", "physical", cap);
    g_assert_cmpstr(cap->str, ==, "");   /* not reported: empty */
    g_string_truncate(cap, 0);
    stats_render_disk(d, "vdb", "capacity", cap);
    g_assert_cmpstr(cap->str, ==, "");   /* no such disk */
    rec_clear(&r);
}

static void
test_no_stats(void)
{
    for (int f = 0; f < SF_N; f++) {
        g_autofree char *s = render(NULL, f);

        g_assert_cmpstr(s, ==, "");
    }
    g_assert_true(stats_is_disk_field("allocation"));
    g_assert_false(stats_is_disk_field("source"));
}

/* A device name with a space stays one token of its line. */
static void
test_hostile_device_name(void)
{
    Rec r;
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autoptr(StatsSnap) snap = NULL;
    g_autofree char *net = NULL;

    rec_init(&r);
    rec_uint(&r, "net.count", 1);
    rec_str(&r, "net.0.name", "bad name\nx=1");
    rec_ull(&r, "net.0.rx.bytes", 1);
    snap = snap_of(&r);
    net = render(stats_snap_get(snap, uuid_of(&r, uuid)), SF_NET);
    g_assert_cmpstr(net, ==, "bad?name?x=1 rx_bytes=1\n");
    rec_clear(&r);
}

/* ---- agent ---- */

static char *
agent_file(const AgentInfo *a, AgentState st, AgentFile f)
{
    GString *s = g_string_new(NULL);

    agent_info_render(a, st, f, s);
    return g_string_free(s, FALSE);
}

static void
test_agent_guest_info(void)
{
    Rec r;
    g_autoptr(AgentInfo) a = agent_info_new();
    g_autofree char *host = NULL, *os = NULL, *tz = NULL, *users = NULL, *fs = NULL;
    g_autofree char *status = NULL, *never = NULL, *none = NULL;

    rec_init(&r);
    rec_str(&r, "hostname", "ag-e2e");
    rec_str(&r, "os.id", "debian");
    rec_str(&r, "os.name", "Debian GNU/Linux");
    rec_str(&r, "os.version", "12 (bookworm)");
    rec_str(&r, "os.kernel-release", "6.1.0-28-amd64");
    rec_str(&r, "os.machine", "x86_64");
    rec_str(&r, "timezone.name", "UTC");
    rec_int(&r, "timezone.offset", 0);
    rec_uint(&r, "user.count", 2);
    rec_str(&r, "user.0.name", "root");
    rec_ull(&r, "user.0.login-time", 1763712000123ULL);
    rec_str(&r, "user.1.name", "evil\nline");
    rec_uint(&r, "fs.count", 2);
    rec_str(&r, "fs.0.mountpoint", "/");
    rec_str(&r, "fs.0.fstype", "ext4");
    rec_ull(&r, "fs.0.total-bytes", 1000);
    rec_ull(&r, "fs.0.used-bytes", 400);
    rec_str(&r, "fs.1.mountpoint", "/mnt/with space");
    rec_str(&r, "fs.1.fstype", "ext2");
    agent_info_take_guest_info(a, r.params, r.n);
    host = agent_file(a, AGENT_CONNECTED, AF_HOSTNAME);
    g_assert_cmpstr(host, ==, "ag-e2e\n");
    os = agent_file(a, AGENT_CONNECTED, AF_OS);
    g_assert_cmpstr(os, ==, "id=debian\nname=Debian GNU/Linux\nversion=12 (bookworm)\n"
                            "kernel_release=6.1.0-28-amd64\nmachine=x86_64\n");
    tz = agent_file(a, AGENT_CONNECTED, AF_TIMEZONE);
    g_assert_cmpstr(tz, ==, "UTC 0\n");
    users = agent_file(a, AGENT_CONNECTED, AF_USERS);
    g_assert_cmpstr(users, ==, "root login_time=1763712000\nevil?line\n");
    fs = agent_file(a, AGENT_CONNECTED, AF_FILESYSTEMS);
    g_assert_cmpstr(fs, ==, "/ ext4 total_bytes=1000 used_bytes=400\n/mnt/with?space ext2\n");
    never = agent_file(a, AGENT_CONNECTED, AF_STATUS);
    g_assert_cmpstr(never, ==, "connected\n");
    a->refreshed = (gint64)1763712000 * G_USEC_PER_SEC;
    status = agent_file(a, AGENT_DISCONNECTED, AF_STATUS);
    g_assert_cmpstr(status, ==, "disconnected 2025-11-21T08:00:00Z\n");
    none = agent_file(NULL, AGENT_UNAVAILABLE, AF_HOSTNAME);
    g_assert_cmpstr(none, ==, "");
    rec_clear(&r);
}

static void
test_agent_interfaces(void)
{
    virDomainIPAddress a4 = { VIR_IP_ADDR_TYPE_IPV4, (char *)"192.168.100.17", 24 };
    virDomainIPAddress a6 = { VIR_IP_ADDR_TYPE_IPV6, (char *)"fe80::5054:ff:fe12:3456", 64 };
    virDomainIPAddress both[] = { a4, a6 };
    virDomainInterface lo = { (char *)"lo", (char *)"00:00:00:00:00:00", 0, NULL };
    virDomainInterface eth = { (char *)"eth0", (char *)"52:54:00:12:34:56", 2, both };
    virDomainInterfacePtr list[] = { &lo, &eth };
    g_autoptr(AgentInfo) a = agent_info_new();
    g_autoptr(AgentInfo) l = agent_info_new();
    g_autofree char *ifs = NULL;

    agent_info_take_ifaces(a, list, 2, TRUE);
    ifs = agent_file(a, AGENT_CONNECTED, AF_INTERFACES);
    g_assert_cmpstr(ifs, ==, "lo 00:00:00:00:00:00\n"
                             "eth0 52:54:00:12:34:56 192.168.100.17/24 fe80::5054:ff:fe12:3456/64\n");
    g_assert_cmpstr(agent_info_ip(a, "52:54:00:12:34:56"), ==,
                    "192.168.100.17/24 fe80::5054:ff:fe12:3456/64");
    g_assert_cmpstr(agent_info_ip(a, "52:54:00:12:34:57"), ==, "");
    g_assert_cmpstr(a->ip_source, ==, "agent");
    /* leases fill ip only, never the agent's own interfaces file */
    agent_info_take_ifaces(l, list, 2, FALSE);
    g_assert_cmpstr(agent_info_ip(l, "52:54:00:12:34:56"), ==,
                    "192.168.100.17/24 fe80::5054:ff:fe12:3456/64");
    g_assert_cmpstr(l->text[AF_INTERFACES], ==, "");
    g_assert_cmpstr(l->ip_source, ==, "lease");
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    virSetErrorFunc(NULL, quiet);
    g_test_add_func("/stats_files/full-record", test_full_record);
    g_test_add_func("/stats_files/no-stats", test_no_stats);
    g_test_add_func("/stats_files/hostile-device-name", test_hostile_device_name);
    g_test_add_func("/agent_files/guest-info", test_agent_guest_info);
    g_test_add_func("/agent_files/interfaces", test_agent_interfaces);
    return g_test_run();
}
