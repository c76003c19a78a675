/* test_dom_cache.c - lib/dom_cache.c's directory names: unique at every moment, and equal to
 * what the naming rule says for the whole cache.
 *
 * The cache names guests incrementally (it only revisits colliding or suffixed guests, so
 * that a put costs O(1) at a 10000-guest start-up). This test holds it to the rule computed
 * from scratch over the whole content after every change: a model of random puts, renames
 * and removals over a small alphabet of names built to collide ("a", "a~2", "a~3", ...).
 */
#include "dom_cache.h"

#include <string.h>

#include <glib.h>

#include "name_escape.h"
#include "ut_common.h"

#define MODEL_GUESTS 12
#define MODEL_STEPS 4000

static const char *const model_names[] = { "a", "a~2", "a~3", "a~4", "b", "b~2" };

typedef struct {
    char *name[MODEL_GUESTS];   /* NULL: not in the cache */
} Model;

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
uuid_of(int i, char *buf, gsize len)
{
    g_snprintf(buf, len, "00000000-0000-0000-0000-%012d", i);
}

/* The rule from scratch: uuid -> dirname for every guest of M. */
static GHashTable *
expected_names(const Model *m)
{
    GHashTable *out = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GHashTable) groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                         (GDestroyNotify)g_ptr_array_unref);
    g_autoptr(GHashTable) used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GPtrArray) bases = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;

    for (int i = 0; i < MODEL_GUESTS; i++) {
        char uuid[64];
        GPtrArray *g;

        if (!m->name[i])
            continue;
        uuid_of(i, uuid, sizeof(uuid));
        if (!(g = g_hash_table_lookup(groups, m->name[i]))) {
            g = g_ptr_array_new_with_free_func(g_free);
            g_hash_table_insert(groups, g_strdup(m->name[i]), g);
        }
        g_ptr_array_add(g, g_strdup(uuid));
    }
    g_hash_table_iter_init(&it, groups);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        g_ptr_array_sort(v, cmp_str);
        g_ptr_array_add(bases, k);
    }
    g_ptr_array_sort(bases, cmp_str);
    for (guint b = 0; b < bases->len; b++) {
        const char *base = g_ptr_array_index(bases, b);
        GPtrArray *g = g_hash_table_lookup(groups, base);
        guint next = 2;

        g_hash_table_insert(out, g_strdup(g_ptr_array_index(g, 0)), g_strdup(base));
        for (guint i = 1; i < g->len; i++) {
            char *cand = NULL;

            do {
                g_free(cand);
                cand = name_with_suffix(base, next++);
            } while (g_hash_table_contains(groups, cand) || g_hash_table_contains(used, cand));
            g_hash_table_add(used, g_strdup(cand));
            g_hash_table_insert(out, g_strdup(g_ptr_array_index(g, i)), cand);
        }
    }
    return out;
}

static void
check_against_model(DomCache *c, const Model *m, int step)
{
    g_autoptr(GHashTable) want = expected_names(m);
    g_autoptr(GPtrArray) all = dom_cache_list(c);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    g_ptr_array_set_free_func(all, (GDestroyNotify)dom_info_unref);
    g_assert_cmpuint(all->len, ==, g_hash_table_size(want));
    for (guint i = 0; i < all->len; i++) {
        DomInfo *d = g_ptr_array_index(all, i);
        const char *w = g_hash_table_lookup(want, d->uuid);
        g_autoptr(DomInfo) by_dir = dom_cache_get(c, d->dirname);

        if (g_strcmp0(w, d->dirname) != 0)
            g_error("step %d: %s (%s) is named %s, the rule says %s", step, d->uuid, d->name,
                    d->dirname, w ? w : "(absent)");
        g_assert_false(g_hash_table_contains(seen, d->dirname));
        g_hash_table_add(seen, d->dirname);
        g_assert_nonnull(by_dir);
        g_assert_cmpstr(by_dir->uuid, ==, d->uuid);
    }
}

static void
put_guest(DomCache *c, int i, const char *name)
{
    DomInfo *d = dom_info_new();

    uuid_of(i, d->uuid, sizeof(d->uuid));
    d->name = g_strdup(name);
    d->dirname = g_strdup(name);
    dom_cache_put(c, d, NULL);
}

/* The documented cases, step by step. */
static void
test_collisions(void)
{
    DomCache *c = dom_cache_new(NULL, NULL);
    Model m = { { NULL } };
    const struct {
        int guest;
        const char *name;   /* NULL: remove */
    } steps[] = {
        { 1, "a" }, { 2, "a" },    /* a, a~2 */
        { 3, "a~2" },              /* the literal a~2 takes its name: guest 2 becomes a~3 */
        { 1, NULL },               /* guest 2 alone in "a" again: back to a */
        { 3, NULL }, { 4, "a" },   /* guest 2 keeps a, guest 4 a~2 */
        { 2, "b" },                /* a rename moves guest 2 out of the group */
    };

    for (guint s = 0; s < G_N_ELEMENTS(steps); s++) {
        int i = steps[s].guest;
        char uuid[64];

        uuid_of(i, uuid, sizeof(uuid));
        g_free(m.name[i]);
        m.name[i] = g_strdup(steps[s].name);
        if (steps[s].name)
            put_guest(c, i, steps[s].name);
        else
            dom_cache_remove(c, uuid, NULL, NULL);
        check_against_model(c, &m, (int)s);
    }
    {
        g_autoptr(DomInfo) two = dom_cache_get(c, "b");
        g_autoptr(DomInfo) four = dom_cache_get(c, "a");

        g_assert_nonnull(two);
        g_assert_nonnull(four);
        g_assert_true(g_str_has_suffix(two->uuid, "000000000002"));
        g_assert_true(g_str_has_suffix(four->uuid, "000000000004"));
    }
    for (int i = 0; i < MODEL_GUESTS; i++)
        g_free(m.name[i]);
    dom_cache_free(c);
}

/* Random puts, renames and removals: the names always follow the rule. */
static void
test_model(void)
{
    DomCache *c = dom_cache_new(NULL, NULL);
    Model m = { { NULL } };
    GRand *r = g_rand_new_with_seed(20261130);

    for (int s = 0; s < MODEL_STEPS; s++) {
        int i = g_rand_int_range(r, 0, MODEL_GUESTS);
        char uuid[64];

        uuid_of(i, uuid, sizeof(uuid));
        g_free(m.name[i]);
        m.name[i] = NULL;
        if (g_rand_int_range(r, 0, 3) == 0) {
            dom_cache_remove(c, uuid, NULL, NULL);
        } else {
            const char *n = model_names[g_rand_int_range(r, 0, G_N_ELEMENTS(model_names))];

            m.name[i] = g_strdup(n);
            put_guest(c, i, n);
        }
        check_against_model(c, &m, s);
    }
    for (int i = 0; i < MODEL_GUESTS; i++)
        g_free(m.name[i]);
    g_rand_free(r);
    dom_cache_free(c);
}

int
main(int argc, char **argv)
{
    ut_init(&argc, &argv);
    g_test_add_func("/dom_cache/names/collisions", test_collisions);
    g_test_add_func("/dom_cache/names/model", test_model);
    return g_test_run();
}
