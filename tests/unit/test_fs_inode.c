/* test_fs_inode.c - fs/fs_inode.c, the inode table, without a kernel: until now only the
 * mount tests reached it. What users see depends on it: a path keeps its inode number
 * (ls -i, find, a working directory) as long as the kernel knows it; a number the kernel
 * forgot is never handed out again, so a stale handle never reaches another node; the
 * notifier finds a guest's known nodes through ino_subtree; and a serving process that
 * takes over the mount (fs_takeover.h) rebuilds the same numbers from the inode store.
 *
 * Lookups go through ut_fs_lookup (ut_fs.h): the node is resolved in a real tree on
 * libvirt's test driver (the ut_common.h fleet: alpha running, beta shut off, gamma
 * paused), then added to the table as fs_entry.c adds it. The table is a process-wide
 * singleton: each test builds it in its setup and frees it in its teardown. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "fs_inode.h"
#include "fs_istore.h"
#include "ut_fs.h"

#define STORE_REGION (1u << 20)

typedef struct {
    Fx fx;
    int fd;          /* the store's memfd, or -1 */
    Istore *st;      /* NULL: a table without a store */
} InoFx;

static void
ino_fx_setup(InoFx *f, gconstpointer with_store)
{
    fx_setup(&f->fx, NULL);
    f->fd = -1;
    f->st = NULL;
    if (with_store) {
        f->fd = istore_create(STORE_REGION);
        g_assert_cmpint(f->fd, >=, 0);
        g_assert_cmpint(istore_open(f->fd, &f->st), ==, 0);
    }
    ino_table_init(f->fx.t, f->st);
}

static void
ino_fx_teardown(InoFx *f, gconstpointer with_store)
{
    ino_table_free();
    if (f->st)
        istore_close(f->st);
    if (f->fd >= 0)
        close(f->fd);
    fx_teardown(&f->fx, NULL);
}

static gboolean
ino_known(fuse_ino_t ino)
{
    FsNodeRef r = { 0 };
    int ret = ino_get(ino, &r);

    ino_ref_clear(&r);
    return ret == 0;
}

/* ---- lookups ---- */

/* A node keeps its number across lookups; ino_get tells what it is. */
static void
test_same_ino(InoFx *f, gconstpointer data)
{
    Tree *t = f->fx.t;
    fuse_ino_t alpha = ut_fs_lookup(t, FUSE_ROOT_ID, "alpha");
    fuse_ino_t state = ut_fs_lookup(t, alpha, "alpha/state");
    g_autofree char *key = ut_fs_key(t, "alpha");
    FsNodeRef r = { 0 };

    g_assert_cmpuint(alpha, >, FUSE_ROOT_ID);
    g_assert_cmpuint(ut_fs_lookup(t, FUSE_ROOT_ID, "alpha"), ==, alpha);
    g_assert_cmpuint(ut_fs_lookup(t, alpha, "alpha/state"), ==, state);
    g_assert_cmpuint(state, !=, alpha);
    g_assert_cmpuint(ut_fs_lookup(t, FUSE_ROOT_ID, "beta"), !=, alpha);
    g_assert_cmpuint(ino_count(), ==, 4);   /* the root, alpha, alpha/state, beta */

    g_assert_cmpint(ino_get(state, &r), ==, 0);
    g_assert_cmpuint(r.ino, ==, state);
    g_assert_cmpuint(r.parent, ==, alpha);
    g_assert_cmpstr(r.name, ==, "state");
    g_assert_false(r.dead);
    g_assert_cmpint(r.tn.kind, ==, TN_GUEST_FILE);
    g_assert_cmpstr(r.tn.uuid, ==, UT_UUID_ALPHA);
    ino_ref_clear(&r);

    /* the root is its own parent */
    g_assert_cmpint(ino_get(FUSE_ROOT_ID, &r), ==, 0);
    g_assert_cmpuint(r.parent, ==, FUSE_ROOT_ID);
    g_assert_cmpint(r.tn.kind, ==, TN_CONNROOT);
    ino_ref_clear(&r);
    g_assert_cmpint(ino_get(state + 1000, &r), ==, -ENOENT);

    /* a guest directory is found by name and uuid, a file by name */
    g_assert_cmpstr(key, ==, "alpha/" UT_UUID_ALPHA);
    g_assert_cmpuint(ino_child(FUSE_ROOT_ID, key), ==, alpha);
    g_assert_cmpuint(ino_child(FUSE_ROOT_ID, "alpha"), ==, 0);
    g_assert_cmpuint(ino_child(alpha, "state"), ==, state);
    g_assert_cmpuint(ino_child(alpha, "reason"), ==, 0);
    g_assert_cmpuint(ino_child(state + 1000, "state"), ==, 0);
}

/* A guest re-created under the same name (another uuid) gets another inode. */
static void
test_guest_recreated(InoFx *f, gconstpointer data)
{
    Tree *t = f->fx.t;
    fuse_ino_t alpha = ut_fs_lookup(t, FUSE_ROOT_ID, "alpha");
    TreeNode tn;
    TreeAttr attr;
    fuse_ino_t other;

    g_assert_cmpint(ut_walk(t, "alpha", &tn, &attr), ==, 0);
    g_strlcpy(tn.uuid, UT_UUID_GAMMA, sizeof(tn.uuid));
    other = ino_lookup_add(FUSE_ROOT_ID, "alpha", &tn);
    g_assert_cmpuint(other, !=, 0);
    g_assert_cmpuint(other, !=, alpha);
    g_assert_cmpuint(ino_child(FUSE_ROOT_ID, "alpha/" UT_UUID_GAMMA), ==, other);
    g_assert_cmpuint(ino_child(FUSE_ROOT_ID, "alpha/" UT_UUID_ALPHA), ==, alpha);
    /* a lookup into an unknown parent adds nothing */
    g_assert_cmpint(ut_walk(t, "alpha/state", &tn, &attr), ==, 0);
    g_assert_cmpuint(ino_lookup_add(other + 1000, "state", &tn), ==, 0);
    g_assert_cmpuint(ino_count(), ==, 3);
}

/* ino_lookup_unique: a new inode at each call, never the named one's. */
static void
test_unique(InoFx *f, gconstpointer data)
{
    Tree *t = f->fx.t;
    fuse_ino_t alpha = ut_fs_lookup(t, FUSE_ROOT_ID, "alpha");
    fuse_ino_t named = ut_fs_lookup(t, alpha, "alpha/state");
    fuse_ino_t u[2];

    for (guint i = 0; i < G_N_ELEMENTS(u); i++) {
        TreeNode tn;
        TreeAttr attr;
        FsNodeRef r = { 0 };

        g_assert_cmpint(ut_walk(t, "alpha/state", &tn, &attr), ==, 0);
        u[i] = ino_lookup_unique(alpha, "state", &tn);
        g_assert_cmpuint(u[i], !=, 0);
        g_assert_cmpuint(u[i], !=, named);
        g_assert_cmpint(ino_get(u[i], &r), ==, 0);
        g_assert_cmpstr(r.name, ==, "state");
        g_assert_cmpuint(r.parent, ==, alpha);
        ino_ref_clear(&r);
    }
    g_assert_cmpuint(u[0], !=, u[1]);
    g_assert_cmpuint(ino_child(alpha, "state"), ==, named);
    ino_forget(u[0], 1);
    g_assert_false(ino_known(u[0]));
    g_assert_true(ino_known(u[1]));
    g_assert_true(ino_known(named));
}

/* ---- forget ---- */

/* Forget with the full lookup count drops the node, not before; its number is never
 * handed out again, even to the same name. */
static void
test_forget_drops(InoFx *f, gconstpointer data)
{
    Tree *t = f->fx.t;
    fuse_ino_t alpha = ut_fs_lookup(t, FUSE_ROOT_ID, "alpha");
    fuse_ino_t state = 0;
    fuse_ino_t again;

    for (int i = 0; i < 3; i++)
        state = ut_fs_lookup(t, alpha, "alpha/state");
    ino_forget(state, 2);
    g_assert_true(ino_known(state));
    g_assert_cmpuint(ino_child(alpha, "state"), ==, state);
    ino_forget(state, 1);
    g_assert_false(ino_known(state));
    g_assert_cmpuint(ino_child(alpha, "state"), ==, 0);
    g_assert_true(ino_known(alpha));

    again = ut_fs_lookup(t, alpha, "alpha/state");
    g_assert_cmpuint(again, >, state);
    /* more than the count (a kernel's FORGET after a takeover) drops it all the same */
    ino_forget(again, 99);
    g_assert_false(ino_known(again));
    g_assert_cmpuint(ino_count(), ==, 2);

    ino_forget(alpha, 1);
    g_assert_false(ino_known(alpha));
    g_assert_cmpuint(ut_fs_lookup(t, FUSE_ROOT_ID, "alpha"), >, again);
}

/* A directory the kernel forgot stays while it knows a child, and goes with it; the root
 * is never dropped. */
static void
test_forget_parent_kept(InoFx *f, gconstpointer data)
{
    Tree *t = f->fx.t;
    fuse_ino_t disk = ut_fs_lookup_path(t, "alpha/devices/disks/vda");
    fuse_ino_t alpha = ino_child(FUSE_ROOT_ID, "alpha/" UT_UUID_ALPHA);
    fuse_ino_t devices = ino_child(alpha, "devices");
    fuse_ino_t disks = ino_child(devices, "disks");

    g_assert_cmpuint(ino_child(disks, "vda"), ==, disk);
    g_assert_cmpuint(ino_count(), ==, 5);
    ino_forget(alpha, 1);
    ino_forget(devices, 1);
    g_assert_true(ino_known(alpha));
    g_assert_true(ino_known(devices));
    g_assert_cmpuint(ino_child(FUSE_ROOT_ID, "alpha/" UT_UUID_ALPHA), ==, alpha);
    ino_forget(disks, 1);
    ino_forget(disk, 1);
    g_assert_false(ino_known(disk));
    g_assert_false(ino_known(disks));
    g_assert_false(ino_known(devices));
    g_assert_false(ino_known(alpha));
    g_assert_cmpuint(ino_count(), ==, 1);

    ino_forget(FUSE_ROOT_ID, 1000);
    g_assert_true(ino_known(FUSE_ROOT_ID));
}

/* ---- subtrees and generations ---- */

static gboolean
refs_have(GArray *refs, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
    for (guint i = 0; i < refs->len; i++) {
        FsNodeRef *r = &g_array_index(refs, FsNodeRef, i);

        if (r->ino == ino)
            return r->parent == parent && g_strcmp0(r->name, name) == 0;
    }
    return FALSE;
}

/* ino_subtree(guest) is every known node below the guest, and nothing else. */
static void
test_subtree(InoFx *f, gconstpointer data)
{
    Tree *t = f->fx.t;
    fuse_ino_t vda = ut_fs_lookup_path(t, "alpha/devices/disks/vda");
    fuse_ino_t alpha = ino_child(FUSE_ROOT_ID, "alpha/" UT_UUID_ALPHA);
    fuse_ino_t devices = ino_child(alpha, "devices");
    fuse_ino_t disks = ino_child(devices, "disks");
    fuse_ino_t state = ut_fs_lookup(t, alpha, "alpha/state");
    fuse_ino_t beta = ut_fs_lookup(t, FUSE_ROOT_ID, "beta");
    fuse_ino_t beta_state = ut_fs_lookup(t, beta, "beta/state");
    g_autoptr(GArray) sub = ino_subtree(alpha);
    g_autoptr(GArray) all = ino_subtree(FUSE_ROOT_ID);
    g_autoptr(GArray) leaf = ino_subtree(state);
    g_autoptr(GArray) none = ino_subtree(beta_state + 1000);

    g_assert_cmpuint(sub->len, ==, 4);
    g_assert_true(refs_have(sub, devices, alpha, "devices"));
    g_assert_true(refs_have(sub, disks, devices, "disks"));
    g_assert_true(refs_have(sub, vda, disks, "vda"));
    g_assert_true(refs_have(sub, state, alpha, "state"));
    for (guint i = 0; i < sub->len; i++) {
        FsNodeRef *r = &g_array_index(sub, FsNodeRef, i);

        g_assert_cmpstr(r->tn.uuid, ==, UT_UUID_ALPHA);
        g_assert_false(r->dead);
    }

    g_assert_cmpuint(all->len, ==, 7);
    g_assert_true(refs_have(all, alpha, FUSE_ROOT_ID, "alpha"));
    g_assert_true(refs_have(all, beta_state, beta, "state"));
    g_assert_cmpuint(leaf->len, ==, 0);
    g_assert_cmpuint(none->len, ==, 0);
}

/* A generation counts the invalidations of one inode; a new inode starts at 0. */
static void
test_gen(InoFx *f, gconstpointer data)
{
    Tree *t = f->fx.t;
    fuse_ino_t alpha = ut_fs_lookup(t, FUSE_ROOT_ID, "alpha");
    fuse_ino_t state = ut_fs_lookup(t, alpha, "alpha/state");
    fuse_ino_t again;

    g_assert_cmpuint(ino_gen(state), ==, 0);
    ino_bump_gen(state);
    ino_bump_gen(state);
    g_assert_cmpuint(ino_gen(state), ==, 2);
    g_assert_cmpuint(ino_gen(alpha), ==, 0);
    ino_bump_gen(state + 1000);
    g_assert_cmpuint(ino_gen(state + 1000), ==, 0);

    ino_forget(state, 1);
    g_assert_cmpuint(ino_gen(state), ==, 0);
    again = ut_fs_lookup(t, alpha, "alpha/state");
    g_assert_cmpuint(ino_gen(again), ==, 0);
}

/* ---- the store ---- */

static void
collect_node(const IstoreNode *node, void *opaque)
{
    g_hash_table_insert(opaque, g_memdup2(&node->ino, sizeof(node->ino)),
                        g_strdup_printf("%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %s",
                                        node->parent, node->nlookup, node->name));
}

/* "PARENT NLOOKUP KEY" of every node the store holds, by inode */
static GHashTable *
store_nodes(Istore *st)
{
    GHashTable *h = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);

    istore_foreach_node(st, collect_node, h);
    return h;
}

static char *
rec(fuse_ino_t parent, guint64 nlookup, const char *key)
{
    return g_strdup_printf("%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %s",
                           (guint64)parent, nlookup, key);
}

/* Every lookup and forget reaches the store before the kernel would hear of it. */
static void
test_store_mirror(InoFx *f, gconstpointer data)
{
    Tree *t = f->fx.t;
    fuse_ino_t alpha = ut_fs_lookup(t, FUSE_ROOT_ID, "alpha");
    fuse_ino_t state = ut_fs_lookup(t, alpha, "alpha/state");
    g_autoptr(GHashTable) h = NULL;
    g_autofree char *want_alpha = rec(FUSE_ROOT_ID, 2, "alpha/" UT_UUID_ALPHA);
    g_autofree char *want_state = rec(alpha, 1, "state");

    ut_fs_lookup(t, FUSE_ROOT_ID, "alpha");
    h = store_nodes(f->st);
    g_assert_cmpuint(g_hash_table_size(h), ==, 2);   /* never the root */
    g_assert_cmpstr(g_hash_table_lookup(h, &(guint64){ alpha }), ==, want_alpha);
    g_assert_cmpstr(g_hash_table_lookup(h, &(guint64){ state }), ==, want_state);
    g_clear_pointer(&h, g_hash_table_unref);

    ino_forget(state, 1);
    ino_forget(alpha, 1);
    h = store_nodes(f->st);
    g_assert_cmpuint(g_hash_table_size(h), ==, 1);
    g_assert_null(g_hash_table_lookup(h, &(guint64){ state }));
    g_clear_pointer(&want_alpha, g_free);
    want_alpha = rec(FUSE_ROOT_ID, 1, "alpha/" UT_UUID_ALPHA);
    g_assert_cmpstr(g_hash_table_lookup(h, &(guint64){ alpha }), ==, want_alpha);
    /* the next process starts above every number handed out */
    g_assert_cmpuint(istore_next_ino(f->st), >, state);
}

/* ---- a takeover: the table rebuilt from the store by a new process ----
 * The parent builds a table over a store, then a fresh process (g_test_trap_subprocess:
 * nothing of the parent's table in memory) opens the same memfd through /proc, builds its
 * own tree on the same fleet and rebuilds the table from the store. */

#define ENV_STORE "UT_FS_INODE_STORE"
#define ENV_INOS "UT_FS_INODE_INOS"

typedef struct {
    guint64 alpha, state, vda, beta, beta_state, gamma_gone, max;
} TakeoverInos;

static void
takeover_parent(InoFx *f)
{
    Tree *t = f->fx.t;
    TakeoverInos n;
    g_autofree char *path = g_strdup_printf("/proc/%d/fd/%d", (int)getpid(), f->fd);
    g_autofree char *inos = NULL;

    n.vda = ut_fs_lookup_path(t, "alpha/devices/disks/vda");
    n.alpha = ino_child(FUSE_ROOT_ID, "alpha/" UT_UUID_ALPHA);
    for (int i = 0; i < 3; i++)
        n.state = ut_fs_lookup(t, n.alpha, "alpha/state");
    n.beta = ut_fs_lookup(t, FUSE_ROOT_ID, "beta");
    n.beta_state = ut_fs_lookup(t, n.beta, "beta/state");
    n.gamma_gone = ut_fs_lookup(t, FUSE_ROOT_ID, "gamma");
    n.max = n.gamma_gone;
    ino_forget(n.gamma_gone, 1);
    g_assert_false(ino_known(n.gamma_gone));

    inos = g_strdup_printf("%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                           " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                           " %" G_GUINT64_FORMAT, n.alpha, n.state, n.vda, n.beta,
                           n.beta_state, n.gamma_gone, n.max);
    g_setenv(ENV_STORE, path, TRUE);
    g_setenv(ENV_INOS, inos, TRUE);
    g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDOUT |
                           G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed();
}

static void
takeover_parse(TakeoverInos *n)
{
    const char *s = g_getenv(ENV_INOS);

    g_assert_nonnull(s);
    g_assert_cmpint(sscanf(s, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                           " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
                           " %" G_GUINT64_FORMAT, &n->alpha, &n->state, &n->vda, &n->beta,
                           &n->beta_state, &n->gamma_gone, &n->max), ==, 7);
}

/* The new process: same numbers, same counts, a guest gone meanwhile dead, no number
 * handed out twice. */
static void
takeover_child(void)
{
    InoFx f = { 0 };
    TakeoverInos n;
    FsNodeRef r = { 0 };
    fuse_ino_t alpha, gamma;
    virDomainPtr beta;

    takeover_parse(&n);
    f.fd = open(g_getenv(ENV_STORE), O_RDWR | O_CLOEXEC);
    g_assert_cmpint(f.fd, >=, 0);
    g_assert_cmpint(istore_open(f.fd, &f.st), ==, 0);
    fx_setup(&f.fx, NULL);
    /* beta vanished between the two processes */
    beta = ut_lookup(f.fx.c, UT_UUID_BETA);
    g_assert_cmpint(virDomainUndefine(beta), ==, 0);
    virDomainFree(beta);
    g_assert_cmpint(conn_refresh_domain(f.fx.c, UT_UUID_BETA, NULL), ==, 0);
    ino_table_init(f.fx.t, f.st);

    alpha = ino_child(FUSE_ROOT_ID, "alpha/" UT_UUID_ALPHA);
    g_assert_cmpuint(alpha, ==, n.alpha);
    g_assert_cmpuint(ino_child(alpha, "state"), ==, n.state);
    g_assert_cmpuint(ino_child(ino_child(ino_child(alpha, "devices"), "disks"), "vda"), ==,
                     n.vda);
    g_assert_cmpint(ino_get(n.vda, &r), ==, 0);
    g_assert_false(r.dead);
    g_assert_cmpint(r.tn.kind, ==, TN_DEV);
    g_assert_cmpstr(r.tn.dev, ==, "vda");
    g_assert_cmpstr(r.tn.uuid, ==, UT_UUID_ALPHA);
    ino_ref_clear(&r);
    g_assert_cmpuint(ut_fs_lookup(f.fx.t, FUSE_ROOT_ID, "alpha"), ==, n.alpha);

    /* beta: kept under its number, dead, with its child */
    g_assert_cmpuint(ino_child(FUSE_ROOT_ID, "beta/" UT_UUID_BETA), ==, n.beta);
    g_assert_cmpint(ino_get(n.beta, &r), ==, 0);
    g_assert_true(r.dead);
    ino_ref_clear(&r);
    g_assert_cmpuint(ino_child(n.beta, "state"), ==, n.beta_state);
    /* the root, alpha, devices, disks, vda, alpha/state, beta, beta/state */
    g_assert_cmpuint(ino_count(), ==, 8);

    /* the lookup counts came along: three lookups of state take three forgets */
    ino_forget(n.state, 2);
    g_assert_true(ino_known(n.state));
    ino_forget(n.state, 1);
    g_assert_false(ino_known(n.state));

    /* gamma was forgotten: a new number, above everything the old process handed out */
    g_assert_cmpuint(ino_child(FUSE_ROOT_ID, "gamma/" UT_UUID_GAMMA), ==, 0);
    gamma = ut_fs_lookup(f.fx.t, FUSE_ROOT_ID, "gamma");
    g_assert_cmpuint(gamma, >, n.max);

    ino_fx_teardown(&f, NULL);
}

static void
test_takeover(InoFx *f, gconstpointer data)
{
    if (g_test_subprocess()) {
        takeover_child();
        return;
    }
    takeover_parent(f);
}

int
main(int argc, char **argv)
{
    ut_init(&argc, &argv);
#define ADD(path, fn, store) \
    g_test_add("/fs_inode/" path, InoFx, (store), ino_fx_setup, fn, ino_fx_teardown)
    ADD("lookup/same_ino", test_same_ino, NULL);
    ADD("lookup/guest_recreated", test_guest_recreated, NULL);
    ADD("lookup/unique", test_unique, NULL);
    ADD("forget/drops", test_forget_drops, NULL);
    ADD("forget/parent_kept", test_forget_parent_kept, NULL);
    ADD("subtree", test_subtree, NULL);
    ADD("gen", test_gen, NULL);
    ADD("store/mirror", test_store_mirror, GINT_TO_POINTER(1));
#undef ADD
    /* the child sets up on its own (a new process with a store it did not create) */
    if (g_test_subprocess())
        g_test_add("/fs_inode/store/takeover", InoFx, NULL, NULL, test_takeover, NULL);
    else
        g_test_add("/fs_inode/store/takeover", InoFx, GINT_TO_POINTER(1), ino_fx_setup,
                   test_takeover, ino_fx_teardown);
    return g_test_run();
}
