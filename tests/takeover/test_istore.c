/* test_istore.c - the inode store (fs/fs_istore.c): what a new process loads is what the
 * old one put, a record torn by SIGKILL or damaged in the memfd ends the replay without
 * corrupting what came before, compaction keeps the memfd bounded and survives a kill in
 * the middle, inode numbers are never handed out twice, and a live set too big for a
 * region is refused (the store says it is broken rather than lose nodes silently). */
#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_istore.h"

#define SMALL_REGION (64u << 10)
#define CRASH_ROUNDS 40
#define CRASH_REGION (256u << 10)

/* ---- a model of the live set, to compare with what a store loads ---- */

typedef struct {
    GHashTable *nodes;     /* ino -> "parent/nlookup/flags/name" */
    GHashTable *handles;   /* fh -> data as a string */
    guint64 max_ino;
} Model;

static void
model_init(Model *m)
{
    m->nodes = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    m->handles = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    m->max_ino = 0;
}

static void
model_clear(Model *m)
{
    g_hash_table_destroy(m->nodes);
    g_hash_table_destroy(m->handles);
}

static gint64 *
box(guint64 v)
{
    gint64 *p = g_new(gint64, 1);

    *p = (gint64)v;
    return p;
}

static char *
node_text(const IstoreNode *n)
{
    return g_strdup_printf("%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "/%u/%s", n->parent,
                           n->nlookup, n->flags, n->name);
}

static void
load_node(const IstoreNode *n, void *opaque)
{
    Model *m = opaque;

    g_hash_table_replace(m->nodes, box(n->ino), node_text(n));
}

static void
load_handle(uint64_t fh, const void *data, size_t len, void *opaque)
{
    Model *m = opaque;

    g_hash_table_replace(m->handles, box(fh), g_strndup(data, len));
}

/* What the store on FD holds, as a model (-errno when it does not open). */
static int
load(int fd, Model *out, guint64 *next_ino)
{
    Istore *st = NULL;
    int ret = istore_open(fd, &st);

    model_init(out);
    if (ret < 0)
        return ret;
    istore_foreach_node(st, load_node, out);
    istore_foreach_handle(st, load_handle, out);
    if (next_ino)
        *next_ino = istore_next_ino(st);
    istore_close(st);
    return 0;
}

static gboolean
same_table(GHashTable *a, GHashTable *b)
{
    GHashTableIter it;
    gpointer k, v;

    if (g_hash_table_size(a) != g_hash_table_size(b))
        return FALSE;
    g_hash_table_iter_init(&it, a);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        const char *w = g_hash_table_lookup(b, k);

        if (!w || strcmp(v, w) != 0)
            return FALSE;
    }
    return TRUE;
}

static gboolean
same(Model *a, Model *b)
{
    return same_table(a->nodes, b->nodes) && same_table(a->handles, b->handles);
}

/* ---- a deterministic sequence of operations, applied to a store and/or a model ---- */

/* Operation I of the sequence of SEED: applied to ST (may be NULL) and M (may be NULL). */
static void
op_apply(guint32 seed, guint i, Istore *st, Model *m, GArray *live)
{
    GRand *r = g_rand_new_with_seed(seed ^ (i * 2654435761u));
    guint kind = g_rand_int_range(r, 0, 10);
    char name[64];

    if (kind < 4 && live->len > 300)
        kind = 7;    /* a bounded live set: the log, not the set, fills the region */

    if (kind < 4 || live->len < 4) {
        guint64 ino = 2 + i;     /* a new node: inos only grow */
        IstoreNode n = { .ino = ino, .parent = 1, .nlookup = 1, .flags = i & 3, .name = name };

        g_snprintf(name, sizeof(name), "node-%u-%s", i, i % 7 ? "x" : "a-longer-name-here");
        if (st)
            g_assert_cmpint(istore_node_put(st, &n), ==, 0);
        if (m) {
            g_hash_table_replace(m->nodes, box(ino), node_text(&n));
            m->max_ino = MAX(m->max_ino, ino);
        }
        g_array_append_val(live, ino);
    } else if (kind < 6) {
        guint idx = g_rand_int_range(r, 0, live->len);
        guint64 ino = g_array_index(live, guint64, idx);
        IstoreNode n = { .ino = ino, .parent = 1, .nlookup = 2 + i, .name = "renamed" };

        if (st)
            g_assert_cmpint(istore_node_put(st, &n), ==, 0);
        if (m)
            g_hash_table_replace(m->nodes, box(ino), node_text(&n));
    } else if (kind < 9) {
        guint idx = g_rand_int_range(r, 0, live->len);
        guint64 ino = g_array_index(live, guint64, idx);

        if (st)
            g_assert_cmpint(istore_node_drop(st, ino), ==, 0);
        if (m)
            g_hash_table_remove(m->nodes, &(gint64){ (gint64)ino });
        g_array_remove_index_fast(live, idx);
    } else {
        guint64 fh = i % 16;
        g_autofree char *data = g_strdup_printf("handle of op %u", i);

        if (i % 32 < 16) {
            if (st)
                g_assert_cmpint(istore_handle_put(st, fh, data, strlen(data)), ==, 0);
            if (m)
                g_hash_table_replace(m->handles, box(fh), g_strdup(data));
        } else {
            if (st)
                g_assert_cmpint(istore_handle_drop(st, fh), ==, 0);
            if (m)
                g_hash_table_remove(m->handles, &(gint64){ (gint64)fh });
        }
    }
    g_rand_free(r);
}

/* The model after the first N operations of SEED. */
static void
model_after(guint32 seed, guint n, Model *m)
{
    g_autoptr(GArray) live = g_array_new(FALSE, FALSE, sizeof(guint64));

    model_init(m);
    for (guint i = 0; i < n; i++)
        op_apply(seed, i, NULL, m, live);
}

/* ---- tests ---- */

static void
test_empty(void)
{
    int fd = istore_create(0);
    Model m;
    guint64 next = 0;

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(load(fd, &m, &next), ==, 0);
    g_assert_cmpuint(g_hash_table_size(m.nodes), ==, 0);
    g_assert_cmpuint(next, ==, 1);
    model_clear(&m);
    /* sealed: a buggy server cannot shrink it under the others' mappings */
    g_assert_cmpint(ftruncate(fd, 4096), <, 0);
    g_assert_cmpint(errno, ==, EPERM);
    close(fd);
    g_assert_cmpint(istore_create(1024), ==, -EINVAL);
}

static void
test_roundtrip(void)
{
    int fd = istore_create(SMALL_REGION);
    g_autoptr(GArray) live = g_array_new(FALSE, FALSE, sizeof(guint64));
    Istore *st = NULL;
    Model want, got;
    guint64 next = 0;
    IstoreStats stats;

    g_assert_cmpint(istore_open(fd, &st), ==, 0);
    model_init(&want);
    for (guint i = 0; i < 500; i++)
        op_apply(7, i, st, &want, live);
    istore_stats(st, &stats);
    g_assert_cmpuint(stats.nodes, ==, g_hash_table_size(want.nodes));
    istore_close(st);
    g_assert_cmpint(load(fd, &got, &next), ==, 0);
    g_assert_true(same(&want, &got));
    g_assert_cmpuint(next, ==, want.max_ino + 1);
    model_clear(&got);
    /* and again: the reload itself compacted; nothing is lost by that either */
    g_assert_cmpint(load(fd, &got, NULL), ==, 0);
    g_assert_true(same(&want, &got));
    model_clear(&got);
    model_clear(&want);
    close(fd);
}

/* Ids: a dropped node's ino is never handed out again, across compactions and loads. */
static void
test_ids_never_reused(void)
{
    int fd = istore_create(SMALL_REGION);
    Istore *st = NULL;
    IstoreNode n = { .ino = 1000, .parent = 1, .nlookup = 1, .name = "x" };

    g_assert_cmpint(istore_open(fd, &st), ==, 0);
    g_assert_cmpint(istore_node_put(st, &n), ==, 0);
    g_assert_cmpint(istore_node_drop(st, 1000), ==, 0);
    istore_reserve(st, 0, 77);
    istore_close(st);
    for (int round = 0; round < 3; round++) {
        g_assert_cmpint(istore_open(fd, &st), ==, 0);
        g_assert_cmpuint(istore_next_ino(st), ==, 1001);
        g_assert_cmpuint(istore_next_fh(st), ==, 77);
        istore_close(st);
    }
    close(fd);
}

/* The memfd stays within its two regions however long the server runs. */
static void
test_bounded(void)
{
    int fd = istore_create(SMALL_REGION);
    Istore *st = NULL;
    IstoreStats stats;
    struct stat sb;
    Model got;

    g_assert_cmpint(istore_open(fd, &st), ==, 0);
    for (guint64 i = 0; i < 100000; i++) {
        IstoreNode n = { .ino = 10 + i % 100, .parent = 1, .nlookup = i, .name = "a-name" };

        g_assert_cmpint(istore_node_put(st, &n), ==, 0);
        if (i % 5 == 0)
            g_assert_cmpint(istore_node_drop(st, 10 + (i + 50) % 100), ==, 0);
    }
    istore_stats(st, &stats);
    g_assert_cmpuint(stats.compactions, >=, 50);
    g_assert_cmpuint(stats.used_bytes, <=, stats.region_bytes);
    istore_close(st);
    g_assert_cmpint(fstat(fd, &sb), ==, 0);
    g_assert_cmpuint(sb.st_size, ==, 4096 + 2 * SMALL_REGION);
    /* sparse: pages of the inactive region were given back */
    g_assert_cmpuint((guint64)sb.st_blocks * 512, <=, 4096 + SMALL_REGION + 4096);
    g_assert_cmpint(load(fd, &got, NULL), ==, 0);
    g_assert_cmpuint(g_hash_table_size(got.nodes), >, 0);
    model_clear(&got);
    close(fd);
}

/* Damage one byte in the last record, as a torn write would: the load keeps everything
 * before it and drops only that record. */
static void
test_torn_record(void)
{
    int fd = istore_create(SMALL_REGION);
    g_autoptr(GArray) live = g_array_new(FALSE, FALSE, sizeof(guint64));
    Istore *st = NULL;
    Model before, got;
    IstoreNode last = { .ino = 5000, .parent = 1, .nlookup = 1, .name = "the-last-one" };
    struct stat sb;
    unsigned char *map;
    unsigned char *hit;

    g_assert_cmpint(istore_open(fd, &st), ==, 0);
    model_init(&before);
    for (guint i = 0; i < 200; i++)
        op_apply(11, i, st, &before, live);
    g_assert_cmpint(istore_node_put(st, &last), ==, 0);
    istore_close(st);
    g_assert_cmpint(fstat(fd, &sb), ==, 0);
    map = mmap(NULL, sb.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    g_assert_true(map != MAP_FAILED);
    hit = memmem(map, sb.st_size, "the-last-one", 12);
    g_assert_nonnull(hit);
    hit[3] ^= 0x20;
    munmap(map, sb.st_size);
    g_assert_cmpint(load(fd, &got, NULL), ==, 0);
    g_assert_true(same(&before, &got));
    model_clear(&got);
    model_clear(&before);
    close(fd);
}

/* A child appends (with compactions: a small region) until SIGKILLed at a random moment;
 * what loads is the state after the operations whose call had returned, or after one
 * more (the one in flight, if its record was whole). */
static void
test_sigkill_anywhere(void)
{
    GRand *r = g_rand_new_with_seed(42);
    guint *done = mmap(NULL, sizeof(guint), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    g_assert_true(done != MAP_FAILED);
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fd = istore_create(CRASH_REGION);
        guint32 seed = 1000 + round;
        Model got, a, b;
        pid_t pid;
        guint n;

        *done = 0;
        pid = fork();
        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
            g_autoptr(GArray) live = g_array_new(FALSE, FALSE, sizeof(guint64));
            Istore *st = NULL;

            if (istore_open(fd, &st) < 0)
                _exit(1);
            for (guint i = 0;; i++) {
                op_apply(seed, i, st, NULL, live);
                __atomic_store_n(done, i + 1, __ATOMIC_SEQ_CST);
            }
        }
        g_usleep(g_rand_int_range(r, 2000, 60000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        n = __atomic_load_n(done, __ATOMIC_SEQ_CST);
        g_assert_cmpint(load(fd, &got, NULL), ==, 0);
        model_after(seed, n, &a);
        model_after(seed, n + 1, &b);
        if (g_test_verbose())
            g_printerr("round %d: killed after %u operations, %u nodes\n", round, n,
                       g_hash_table_size(got.nodes));
        if (!same(&got, &a) && !same(&got, &b))
            g_error("round %d: killed after %u operations, the store holds neither the "
                    "state after %u nor after %u (%u nodes)", round, n, n, n + 1,
                    g_hash_table_size(got.nodes));
        model_clear(&got);
        model_clear(&a);
        model_clear(&b);
        close(fd);
    }
    munmap(done, sizeof(guint));
    g_rand_free(r);
}

/* Like test_sigkill_anywhere, with a live set near half a region and only updates: a
 * compaction runs every ~560 updates and takes about as long as they do, so most kills
 * land in the middle of one. */
#define COMPACT_LIVE 450

static void
put_update(Istore *st, guint i)
{
    IstoreNode n = { .ino = 2 + i % COMPACT_LIVE, .parent = 1, .nlookup = i,
                     .name = "a-node-name" };

    g_assert_cmpint(istore_node_put(st, &n), ==, 0);
}

static void
check_node(const IstoreNode *n, void *opaque)
{
    guint *limits = opaque;    /* [0]: n, [1]: mismatches against n, [2]: against n + 1 */
    guint k = n->ino - 2;

    for (int j = 0; j < 2; j++) {
        guint upto = limits[0] + j;
        guint want = upto > k ? k + (upto - 1 - k) / COMPACT_LIVE * COMPACT_LIVE : k;

        limits[1 + j] += n->nlookup != want;
    }
}

static void
test_sigkill_in_compaction(void)
{
    GRand *r = g_rand_new_with_seed(7);
    guint *done = mmap(NULL, sizeof(guint), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

    for (int round = 0; round < CRASH_ROUNDS; round++) {
        int fd = istore_create(SMALL_REGION);
        guint limits[3] = { 0 };
        Istore *st = NULL;
        IstoreStats stats;
        pid_t pid;

        *done = 0;
        pid = fork();
        if (pid == 0) {
            if (istore_open(fd, &st) < 0)
                _exit(1);
            for (guint i = 0; i < COMPACT_LIVE; i++)
                put_update(st, i);
            __atomic_store_n(done, COMPACT_LIVE, __ATOMIC_SEQ_CST);
            for (guint i = COMPACT_LIVE;; i++) {
                put_update(st, i);
                __atomic_store_n(done, i + 1, __ATOMIC_SEQ_CST);
            }
        }
        /* every node exists before the kill can come (a slow start under ASan) */
        while (__atomic_load_n(done, __ATOMIC_SEQ_CST) < COMPACT_LIVE &&
               waitpid(pid, NULL, WNOHANG) == 0)
            g_usleep(100);
        g_usleep(g_rand_int_range(r, 3000, 30000));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        limits[0] = __atomic_load_n(done, __ATOMIC_SEQ_CST);
        g_assert_cmpint(istore_open(fd, &st), ==, 0);
        istore_stats(st, &stats);
        g_assert_cmpuint(stats.nodes, ==, COMPACT_LIVE);
        g_assert_cmpuint(istore_next_ino(st), ==, 2 + COMPACT_LIVE);
        istore_foreach_node(st, check_node, limits);
        if (limits[1] != 0 && limits[2] != 0)
            g_error("round %d: killed after %u updates (generation %" G_GUINT64_FORMAT
                    "): %u nodes differ from the state after %u, %u from after %u",
                    round, limits[0], stats.generation, limits[1], limits[0], limits[2],
                    limits[0] + 1);
        if (g_test_verbose())
            g_printerr("round %d: killed after %u updates, generation %" G_GUINT64_FORMAT
                       "\n", round, limits[0], stats.generation);
        istore_close(st);
        close(fd);
    }
    munmap(done, sizeof(guint));
    g_rand_free(r);
}

/* A live set over half a region: refused, and the store says so to the next process. */
static void
test_too_big(void)
{
    int fd = istore_create(SMALL_REGION);
    Istore *st = NULL;
    int ret = 0;
    Model got;

    g_assert_cmpint(istore_open(fd, &st), ==, 0);
    for (guint64 i = 0; i < 10000 && ret == 0; i++) {
        IstoreNode n = { .ino = 2 + i, .parent = 1, .nlookup = 1, .name = "some-file-name" };

        ret = istore_node_put(st, &n);
    }
    g_assert_cmpint(ret, ==, -ENOSPC);
    istore_close(st);
    g_assert_cmpint(load(fd, &got, NULL), ==, -EINVAL);
    model_clear(&got);
    close(fd);
}

static void
test_bad_input(void)
{
    int fd = istore_create(SMALL_REGION);
    Istore *st = NULL;
    g_autofree char *long_name = g_strnfill(ISTORE_NAME_MAX + 1, 'x');
    char big[ISTORE_HANDLE_DATA_MAX + 1] = { 0 };
    IstoreNode n = { .ino = 2, .parent = 1, .name = long_name };

    g_assert_cmpint(istore_open(fd, &st), ==, 0);
    g_assert_cmpint(istore_node_put(st, &n), ==, -ENAMETOOLONG);
    n.ino = 0;
    n.name = "x";
    g_assert_cmpint(istore_node_put(st, &n), ==, -EINVAL);
    g_assert_cmpint(istore_handle_put(st, 1, big, sizeof(big)), ==, -EINVAL);
    istore_close(st);
    close(fd);
    /* not a store at all */
    fd = memfd_create("not-a-store", MFD_CLOEXEC);
    g_assert_cmpint(ftruncate(fd, 1 << 20), ==, 0);
    g_assert_cmpint(istore_open(fd, &st), ==, -EINVAL);
    close(fd);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/istore/empty", test_empty);
    g_test_add_func("/istore/roundtrip", test_roundtrip);
    g_test_add_func("/istore/ids-never-reused", test_ids_never_reused);
    g_test_add_func("/istore/bounded", test_bounded);
    g_test_add_func("/istore/torn-record", test_torn_record);
    g_test_add_func("/istore/sigkill-anywhere", test_sigkill_anywhere);
    g_test_add_func("/istore/sigkill-in-compaction", test_sigkill_in_compaction);
    g_test_add_func("/istore/too-big", test_too_big);
    g_test_add_func("/istore/bad-input", test_bad_input);
    return g_test_run();
}
