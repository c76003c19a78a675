/* ut_common.h - helpers shared by the unit tests that run lib/ against libvirt's
 * in-process test driver (no FUSE, no daemon); compiled once (ut_common.c) and linked
 * into every test program.
 *
 *  - ut_fleet_*: a custom test-driver node file written into a g_dir_make_tmp() directory,
 *    opened as test:///ABS/PATH.xml. Every open of such a URI is a private driver instance,
 *    so a test acts on the guests through the very connection domfs holds
 *    (conn_get_virt()).
 *  - UtRecorder: a cache/tree listener that keeps every change (old and new snapshot,
 *    event text) and lets a test wait for one with a timeout (GMutex + GCond).
 *  - ut_tree_*: a whole tree (hosts, caches, event streams) as the daemon has it, whose
 *    listener records and publishes at once (no kernel caches to invalidate); reads and
 *    writes go through tree_open/tree_file_read/tree_write as FUSE's would, waiting for
 *    the answers the tree gives later.
 *  - UT_KNOWN_BUG(): a test case that exposes a reported, not yet fixed lib/ bug is
 *    skipped (TAP "ok N # SKIP known bug: ...") unless DOMFS_TEST_KNOWN_BUGS=1 is set. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "conn.h"
#include "dom_cache.h"
#include "dom_info.h"
#include "tree_priv.h"

#define UT_TIMEOUT_MS 5000

#define UT_KNOWN_BUG(what)                                                        \
    do {                                                                          \
        if (!g_getenv("DOMFS_TEST_KNOWN_BUGS")) {                                  \
            g_test_skip("known bug (set DOMFS_TEST_KNOWN_BUGS=1 to run): " what); \
            return;                                                               \
        }                                                                         \
    } while (0)

/* ---- the daemon log ----
 * lib/ logs failed writes with g_warning() (the spec wants libvirt's message in the daemon
 * log). GTest makes warnings fatal; the tests keep them instead, so they can check what
 * was logged. Criticals stay fatal. */
gboolean ut_log_has(guint from, const char *needle);
guint ut_log_count(void);
/* Every test program calls this first. */
void ut_init(int *argc, char ***argv);

/* ---- custom test-driver fleets ---- */
typedef struct {
    char *dir;
    char *path;
    char *uri;
} UtFleet;

UtFleet *ut_fleet_new(const char *node_xml);
void ut_fleet_free(UtFleet *f);
/* A minimal domain of the test driver. RUNSTATE: 0 = leave running (the node file's
 * default), else a virDomainState (3 paused, 5 shut off). EXTRA goes inside <domain>. */
char *ut_domain_xml(const char *name, const char *uuid, int runstate, const char *extra);

#define UT_TEST_NS "xmlns:test='http://libvirt.org/schemas/domain/test/1.0'"

/* The standard fleet of the conn/actions/tree/metrics tests. */
#define UT_UUID_ALPHA "11111111-2222-3333-4444-555555555501"
#define UT_UUID_BETA  "11111111-2222-3333-4444-555555555502"
#define UT_UUID_GAMMA "11111111-2222-3333-4444-555555555503"
#define UT_UUID_WEIRD "11111111-2222-3333-4444-555555555504"

#define UT_FLEET_XML                                                                     \
    "<node>\n"                                                                           \
    "  <domain type='test' " UT_TEST_NS ">\n"                                            \
    "    <name>alpha</name>\n"                                                           \
    "    <uuid>" UT_UUID_ALPHA "</uuid>\n"                                               \
    "    <title>Alpha title</title>\n"                                                   \
    "    <description>line one\nline two</description>\n"                                \
    "    <memory unit='KiB'>1048576</memory>\n"                                          \
    "    <currentMemory unit='KiB'>524288</currentMemory>\n"                             \
    "    <vcpu placement='static' current='2'>4</vcpu>\n"                                \
    "    <os><type>hvm</type></os>\n"                                                    \
    "    <devices>\n"                                                                    \
    "      <disk type='file' device='disk'>\n"                                           \
    "        <driver name='qemu' type='qcow2' cache='none'/>\n"                          \
    "        <source file='/var/lib/libvirt/images/alpha.qcow2'/>\n"                     \
    "        <target dev='vda' bus='virtio'/>\n"                                         \
    "      </disk>\n"                                                                    \
    "      <disk type='file' device='cdrom'>\n"                                          \
    "        <target dev='sda' bus='sata'/>\n"                                           \
    "        <readonly/>\n"                                                              \
    "      </disk>\n"                                                                    \
    "      <interface type='network'>\n"                                                 \
    "        <mac address='52:54:00:00:00:01'/>\n"                                       \
    "        <source network='default'/>\n"                                              \
    "        <model type='virtio'/>\n"                                                   \
    "      </interface>\n"                                                               \
    "      <serial type='pty'>\n"                                                        \
    "        <target port='0'/>\n"                                                       \
    "      </serial>\n"                                                                  \
    "    </devices>\n"                                                                   \
    "  </domain>\n"                                                                      \
    "  <domain type='test' " UT_TEST_NS ">\n"                                            \
    "    <name>beta</name>\n"                                                            \
    "    <uuid>" UT_UUID_BETA "</uuid>\n"                                                \
    "    <memory unit='MiB'>256</memory>\n"                                              \
    "    <vcpu>1</vcpu>\n"                                                               \
    "    <os><type>hvm</type></os>\n"                                                    \
    "    <test:runstate>5</test:runstate>\n"                                             \
    "  </domain>\n"                                                                      \
    "  <domain type='test' " UT_TEST_NS ">\n"                                            \
    "    <name>gamma</name>\n"                                                           \
    "    <uuid>" UT_UUID_GAMMA "</uuid>\n"                                               \
    "    <memory unit='GiB'>1</memory>\n"                                                \
    "    <currentMemory unit='MiB'>768</currentMemory>\n"                                \
    "    <vcpu>3</vcpu>\n"                                                               \
    "    <os><type>hvm</type></os>\n"                                                    \
    "    <test:runstate>3</test:runstate>\n"                                             \
    "  </domain>\n"                                                                      \
    "  <domain type='test'>\n"                                                           \
    "    <name>we\"ird\\name</name>\n"                                                   \
    "    <uuid>" UT_UUID_WEIRD "</uuid>\n"                                               \
    "    <memory unit='KiB'>131072</memory>\n"                                           \
    "    <vcpu>1</vcpu>\n"                                                               \
    "    <os><type>hvm</type></os>\n"                                                    \
    "  </domain>\n"                                                                      \
    "</node>\n"

/* ---- change recorder ---- */

typedef struct {
    DomInfo *old_info;   /* references */
    DomInfo *new_info;
    char *event;
    char *dirname;
} UtChange;

typedef struct {
    GMutex lock;
    GCond cond;
    GPtrArray *changes;  /* of UtChange * */
} UtRecorder;

void ut_recorder_init(UtRecorder *r);
void ut_recorder_clear(UtRecorder *r);
/* The DomCacheListener; OPAQUE is the UtRecorder. Event-only changes (no snapshot: a
 * connection's own lines) are not recorded. */
void ut_recorder_fn(const DomChange *ch, void *opaque);
guint ut_recorder_count(UtRecorder *r);
/* The uuid a change is about. */
const char *ut_change_uuid(const UtChange *ch);
/* Wait until a change with index >= FROM about UUID whose event equals EVENT (NULL: any
 * event) is recorded; returns it (owned by the recorder, valid until the recorder is
 * cleared) and sets *INDEX, or NULL after TIMEOUT_MS. */
const UtChange *ut_recorder_wait(UtRecorder *r, guint from, const char *uuid,
                                 const char *event, gint64 timeout_ms, guint *index);
/* Wait until at least N changes about UUID were recorded from FROM on. */
gboolean ut_recorder_wait_count(UtRecorder *r, guint from, const char *uuid, guint n,
                                gint64 timeout_ms);
/* Events of all changes about UUID (NULL: all) from FROM on, joined with '|'. */
char *ut_recorder_events(UtRecorder *r, guint from, const char *uuid);

/* ---- libvirt helpers on the connection domfs holds ---- */
virDomainPtr ut_lookup(DomConn *c, const char *uuid);
/* The state of UUID as libvirt reports it now (a fresh virDomainGetState). */
int ut_virt_state(DomConn *c, const char *uuid);
/* Wait until the cache's snapshot of UUID satisfies state == STATE. */
gboolean ut_wait_cache_state(DomConn *c, const char *uuid, int state);
/* Wait until every guest of CACHE has its XML. */
void ut_wait_loaded(DomCache *cache);

/* ---- one connection ---- */
/* Connect to URI with a recorder (may be NULL), start its worker, wait for every guest's
 * XML; asserts success. */
DomConn *ut_open(const char *uri, UtRecorder *r);
/* Let every libvirt event already queued for C reach C (a marker metadata change round
 * trip), then close it. */
void ut_close(DomConn *c);

/* ---- a whole tree ---- */
/* A tree of N hosts NAMES[i]=URIS[i] (a name may be NULL); R (may be NULL) records every
 * change, whose event line is published at once. Waits for every guest's XML. */
Tree *ut_tree_new(const char *const *names, const char *const *uris, guint n, UtRecorder *r);
/* A tree from CFG (for options the plain one does not set). */
Tree *ut_tree_new_cfg(const TreeConfig *cfg, UtRecorder *r);
void ut_tree_free(Tree *t);
DomConn *ut_tree_conn(Tree *t, int host);
/* Resolve PATH ("" is the root) into *OUT, waiting for a guest's XML if need be; 0 or the
 * -errno of the failing step. */
int ut_walk(Tree *t, const char *path, TreeNode *out, TreeAttr *attr);
/* The content of node N as an open and reads return it; 0 or -errno. */
int ut_read_node(Tree *t, const TreeNode *n, GString *out);
/* A write of BUF to node N as `echo` does it (open O_WRONLY|O_TRUNC, one write at offset
 * 0), waiting for the answer: 0 or -errno. WHO may be NULL (the current user). */
int ut_write_node(Tree *t, const TreeNode *n, const char *buf, size_t len,
                  const TreeCaller *who);
/* The same by path. */
int ut_write_path(Tree *t, const char *path, const char *buf);

/* ---- the common fixture ----
 * The UT_FLEET_XML fleet as the one host "h1" of a tree, with a change recorder, and a
 * libvirt connection of its own (the same driver state) to act with. */
typedef struct {
    UtFleet *f;
    UtRecorder r;
    Tree *t;
    DomConn *c;
    virConnectPtr vc;
} Fx;

void fx_setup(Fx *fx, gconstpointer data);
void fx_teardown(Fx *fx, gconstpointer data);
