/* test_fs_diff.c - fs/fs_diff.c, the notifier's decision, without a mount: after a guest's
 * snapshot changed, which inodes the kernel must forget and which directory entries it
 * must drop. Too little and a reader keeps seeing the old value (files are page-cached,
 * entries and attributes have day-long timeouts); too much and every change costs every
 * reader a re-read. Until now only the mount tests reached this.
 *
 * The kernel's knowledge is a real inode table (fs_inode.c) filled by lookups in a tree on
 * libvirt's test driver (ut_fs.h): guest alpha with some of its files and device nodes.
 * The snapshots are the cache's own, before and after a libvirt change, or copies of one
 * with a single field changed. A result is written as a sorted list of "@PATH" (an inode)
 * and "DIR:NAME" (an entry), paths from the mount root ("/" itself). */
#include <string.h>

#include "dom_info.h"
#include "fs_diff.h"
#include "ut_fs.h"

/* the nodes below alpha the kernel knows in every test, parents first */
static const char *const known_paths[] = {
    "state", "reason", "id", "uuid", "title", "description", "xml", "vcpus", "memory",
    "autostart", "devices", "devices/disks", "devices/disks/vda",
    "devices/disks/vda/source", "devices/disks/sda", "devices/interfaces",
};

typedef struct {
    Fx fx;
    fuse_ino_t alpha;
    GHashTable *path_of;   /* fuse_ino_t -> path from the mount root */
    DomInfo *snap;         /* alpha's snapshot at setup */
} DiffFx;

static void
diff_fx_known(DiffFx *f, fuse_ino_t ino, const char *path)
{
    g_hash_table_insert(f->path_of, g_memdup2(&ino, sizeof(ino)), g_strdup(path));
}

static fuse_ino_t
diff_fx_ino(DiffFx *f, const char *path)
{
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, f->path_of);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (strcmp(v, path) == 0)
            return *(fuse_ino_t *)k;
    }
    g_error("not a known path: %s", path);
}

static void
diff_fx_setup(DiffFx *f, gconstpointer data)
{
    TreeNode tn;
    TreeAttr attr;

    fx_setup(&f->fx, NULL);
    ino_table_init(f->fx.t, NULL);
    f->path_of = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
    diff_fx_known(f, FUSE_ROOT_ID, "/");
    f->alpha = ut_fs_lookup(f->fx.t, FUSE_ROOT_ID, "alpha");
    diff_fx_known(f, f->alpha, "alpha");
    for (guint i = 0; i < G_N_ELEMENTS(known_paths); i++) {
        g_autofree char *path = g_strconcat("alpha/", known_paths[i], NULL);
        g_autofree char *dir = g_path_get_dirname(path);

        diff_fx_known(f, ut_fs_lookup(f->fx.t, diff_fx_ino(f, dir), path), path);
    }
    g_assert_cmpint(ut_walk(f->fx.t, "alpha", &tn, &attr), ==, 0);
    f->snap = tree_guest_snap(f->fx.t, &tn);
    g_assert_nonnull(f->snap);
    g_assert_true(f->snap->loaded);
    tree_node_clear(&tn);
}

static void
diff_fx_teardown(DiffFx *f, gconstpointer data)
{
    dom_info_unref(f->snap);
    g_hash_table_unref(f->path_of);
    ino_table_free();
    fx_teardown(&f->fx, NULL);
}

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* OUT as "@PATH" and "DIR:NAME" items, sorted, joined by spaces */
static char *
diff_text(DiffFx *f, const GArray *out)
{
    g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < out->len; i++) {
        const FsDiffInval *v = &g_array_index(out, FsDiffInval, i);
        const char *path = g_hash_table_lookup(f->path_of, &v->ino);

        g_assert_nonnull(path);
        g_ptr_array_add(items, v->name ? g_strdup_printf("%s:%s", path, v->name)
                                       : g_strdup_printf("@%s", path));
    }
    g_ptr_array_sort(items, cmp_str);
    g_ptr_array_add(items, NULL);
    return g_strjoinv(" ", (char **)items->pdata);
}

/* What fs_diff_guest says for alpha between A and B. */
static char *
diff_guest(DiffFx *f, const DomInfo *a, const DomInfo *b)
{
    g_autoptr(GArray) nodes = ino_subtree(f->alpha);
    g_autoptr(GArray) out = fs_diff_new();

    fs_diff_guest(f->alpha, nodes, a, b, out);
    return diff_text(f, out);
}

/* What fs_diff_change says for a change from A to B under the mount root. */
static char *
diff_change(DiffFx *f, const DomInfo *a, const DomInfo *b)
{
    g_autoptr(GArray) out = fs_diff_new();

    fs_diff_change(FUSE_ROOT_ID, a, b, out);
    return diff_text(f, out);
}

/* Is ITEM one of TEXT's (diff_text)? */
static gboolean
has(const char *text, const char *item)
{
    g_auto(GStrv) items = g_strsplit(text, " ", -1);

    return g_strv_contains((const char *const *)items, item);
}

/* Index in OUT of inode INO (NAME NULL) or entry NAME of INO; -1 when absent. */
static int
diff_index(const GArray *out, fuse_ino_t ino, const char *name)
{
    for (guint i = 0; i < out->len; i++) {
        const FsDiffInval *v = &g_array_index(out, FsDiffInval, i);

        if (v->ino == ino && g_strcmp0(v->name, name) == 0)
            return (int)i;
    }
    return -1;
}

/* ---- a guest that kept its directory ---- */

/* Identical snapshots (a copy: the renderings are compared, not pointers): nothing. */
static void
test_identical(DiffFx *f, gconstpointer data)
{
    g_autoptr(DomInfo) copy = dom_info_copy(f->snap);
    g_autofree char *same = diff_guest(f, f->snap, f->snap);
    g_autofree char *copied = diff_guest(f, f->snap, copy);
    g_autofree char *change = diff_change(f, f->snap, copy);

    g_assert_cmpstr(same, ==, "");
    g_assert_cmpstr(copied, ==, "");
    g_assert_cmpstr(change, ==, "");
}

/* A real state change (alpha destroyed): state, reason and id, never uuid, no entry, not
 * the guest's listing. */
static void
test_state(DiffFx *f, gconstpointer data)
{
    virDomainPtr dom = ut_lookup(f->fx.c, UT_UUID_ALPHA);
    g_autoptr(DomInfo) after = NULL;
    g_autofree char *got = NULL;
    TreeNode tn;
    TreeAttr attr;

    g_assert_cmpint(virDomainDestroy(dom), ==, 0);
    virDomainFree(dom);
    g_assert_true(ut_wait_cache_state(f->fx.c, UT_UUID_ALPHA, VIR_DOMAIN_SHUTOFF));
    g_assert_cmpint(ut_walk(f->fx.t, "alpha", &tn, &attr), ==, 0);
    after = tree_guest_snap(f->fx.t, &tn);
    tree_node_clear(&tn);
    g_assert_nonnull(after);

    got = diff_guest(f, f->snap, after);
    /* xml too: a shut-off guest's file holds the inactive XML */
    g_assert_cmpstr(got, ==, "@alpha/id @alpha/reason @alpha/state @alpha/xml");
    g_assert_false(has(got, "@alpha/uuid"));
}

/* The title alone changed: the title file alone, here and through fs_diff_change. */
static void
test_title(DiffFx *f, gconstpointer data)
{
    g_autoptr(DomInfo) retitled = dom_info_copy(f->snap);
    g_autofree char *got = NULL;
    g_autofree char *change = NULL;

    g_free(retitled->title);
    retitled->title = g_strdup("Another title");
    got = diff_guest(f, f->snap, retitled);
    change = diff_change(f, f->snap, retitled);
    g_assert_cmpstr(got, ==, "@alpha/title");
    g_assert_cmpstr(change, ==, "@alpha/title");
}

/* F's snapshot with its XML edited: FROM replaced by TO (FROM must occur once). */
static DomInfo *
with_xml(DiffFx *f, const char *from, const char *to)
{
    DomInfo *d = dom_info_copy(f->snap);
    char *at = strstr(d->xml, from);
    char *xml;

    g_assert_nonnull(at);
    g_assert_null(strstr(at + 1, from));
    xml = g_strdup_printf("%.*s%s%s", (int)(at - d->xml), d->xml, to, at + strlen(from));
    g_free(d->xml);
    d->xml = xml;
    return d;
}

/* A disk added: the new name's (negative) entry in devices/disks and that directory's
 * listing, and xml; nothing else, and the entry goes before the directory. */
static void
test_device_added(DiffFx *f, gconstpointer data)
{
    g_autoptr(DomInfo) added = with_xml(f, "</devices>",
                                        "<disk type='file' device='disk'>"
                                        "<source file='/x.img'/><target dev='vdb' bus='virtio'/>"
                                        "</disk></devices>");
    g_autoptr(GArray) nodes = ino_subtree(f->alpha);
    g_autoptr(GArray) out = fs_diff_new();
    g_autofree char *got = NULL;
    fuse_ino_t disks = diff_fx_ino(f, "alpha/devices/disks");

    fs_diff_guest(f->alpha, nodes, f->snap, added, out);
    got = diff_text(f, out);
    g_assert_cmpstr(got, ==, "@alpha/devices/disks @alpha/xml alpha/devices/disks:vdb");
    g_assert_cmpint(diff_index(out, disks, "vdb"), <, diff_index(out, disks, NULL));
}

/* A disk removed: its entry, its directory's listing and known files, the parent's
 * listing; the other disk stays untouched. */
static void
test_device_removed(DiffFx *f, gconstpointer data)
{
    const char *xml = f->snap->xml;
    const char *target = strstr(xml, "<target dev='vda'");
    const char *start = target ? g_strrstr_len(xml, target - xml, "<disk ") : NULL;
    const char *end = target ? strstr(target, "</disk>") : NULL;
    g_autofree char *block = NULL;
    g_autoptr(DomInfo) removed = NULL;
    g_autofree char *got = NULL;

    g_assert_nonnull(start);
    g_assert_nonnull(end);
    block = g_strndup(start, (gsize)(end + strlen("</disk>") - start));
    removed = with_xml(f, block, "");
    got = diff_guest(f, f->snap, removed);
    g_test_message("removed: %s", got);
    g_assert_true(has(got, "alpha/devices/disks:vda"));
    g_assert_true(has(got, "@alpha/devices/disks"));
    g_assert_true(has(got, "@alpha/devices/disks/vda"));
    g_assert_true(has(got, "@alpha/devices/disks/vda/source"));
    g_assert_true(has(got, "alpha/devices/disks/vda:source"));
    g_assert_true(has(got, "@alpha/xml"));
    g_assert_null(strstr(got, "sda"));
    g_assert_false(has(got, "@alpha/state"));
    g_assert_null(strstr(got, "interfaces"));
}

/* ---- a guest directory that appeared, vanished or was renamed ---- */

/* Every known inode of alpha's, alpha's name, the root's listing. */
#define ALPHA_TREE \
    "@alpha @alpha/autostart @alpha/description @alpha/devices @alpha/devices/disks " \
    "@alpha/devices/disks/sda @alpha/devices/disks/vda @alpha/devices/disks/vda/source " \
    "@alpha/devices/interfaces @alpha/id @alpha/memory @alpha/reason @alpha/state " \
    "@alpha/title @alpha/uuid @alpha/vcpus @alpha/xml"

static void
test_gone(DiffFx *f, gconstpointer data)
{
    g_autofree char *got = diff_change(f, f->snap, NULL);

    g_assert_cmpstr(got, ==, "/:alpha @/ " ALPHA_TREE);
}

/* A new guest the kernel knows nothing of: its name (a negative entry) and the listing. */
static void
test_appeared(DiffFx *f, gconstpointer data)
{
    g_autoptr(DomInfo) other = dom_info_copy(f->snap);
    g_autofree char *got = NULL;

    g_strlcpy(other->uuid, "11111111-2222-3333-4444-555555555599", sizeof(other->uuid));
    g_free(other->dirname);
    other->dirname = g_strdup("delta");
    got = diff_change(f, NULL, other);
    g_assert_cmpstr(got, ==, "/:delta @/");
}

static void
test_renamed(DiffFx *f, gconstpointer data)
{
    g_autoptr(DomInfo) renamed = dom_info_copy(f->snap);
    g_autofree char *got = NULL;

    g_free(renamed->dirname);
    renamed->dirname = g_strdup("alpha-2");
    got = diff_change(f, f->snap, renamed);
    g_assert_cmpstr(got, ==, "/:alpha /:alpha-2 @/ " ALPHA_TREE);
}

/* A change of a guest the kernel does not know: nothing to forget. */
static void
test_unknown_guest(DiffFx *f, gconstpointer data)
{
    g_autoptr(DomInfo) a = dom_info_copy(f->snap);
    g_autoptr(DomInfo) b = NULL;
    g_autofree char *got = NULL;

    g_strlcpy(a->uuid, UT_UUID_GAMMA, sizeof(a->uuid));
    g_free(a->dirname);
    a->dirname = g_strdup("gamma");
    b = dom_info_copy(a);
    b->state = VIR_DOMAIN_SHUTOFF;
    got = diff_change(f, a, b);
    g_assert_cmpstr(got, ==, "");
}

int
main(int argc, char **argv)
{
    ut_init(&argc, &argv);
#define ADD(path, fn) \
    g_test_add("/fs_diff/" path, DiffFx, NULL, diff_fx_setup, fn, diff_fx_teardown)
    ADD("guest/identical", test_identical);
    ADD("guest/state", test_state);
    ADD("guest/title", test_title);
    ADD("guest/device_added", test_device_added);
    ADD("guest/device_removed", test_device_removed);
    ADD("change/gone", test_gone);
    ADD("change/appeared", test_appeared);
    ADD("change/renamed", test_renamed);
    ADD("change/unknown_guest", test_unknown_guest);
#undef ADD
    return g_test_run();
}
