/* dom_cache.c - the tables (uuid -> snapshot, dirname -> snapshot, escaped name -> uuids)
 * under a GRWLock that readers take shared; every change is made under the update mutex,
 * which is also held while the listener runs, so listeners see changes in the order they
 * were made. Lock order: update mutex, then the table lock; the listener only queues.
 *
 * Waiters for a guest's XML are completions in a table uuid -> GPtrArray, completed
 * (after the update mutex is released) when the guest becomes loaded or goes away. */
#define G_LOG_DOMAIN "domfs-cache"

#include "dom_cache.h"

#include <stdatomic.h>
#include <string.h>

#include "name_escape.h"
#include "state_word.h"

struct DomCache {
    GMutex update;         /* serializes changes and listener calls */
    GRWLock lock;          /* guards the tables and serial */
    GHashTable *by_uuid;   /* uuid (owned by the value) -> DomInfo (ref) */
    GHashTable *by_dir;    /* dirname (owned by the value) -> DomInfo (borrowed) */
    GHashTable *groups;    /* escaped name (owned) -> GPtrArray of uuid strings (owned) */
    GHashTable *multi;     /* the escaped names (owned) whose group has more than one guest */
    GHashTable *suffixed;  /* uuids (owned) whose published dirname is not their escaped name */
    guint64 serial;
    GPtrArray *sorted;     /* the listing by dirname (refs) as of sorted_serial, or NULL */
    guint64 sorted_serial;
    atomic_uint_fast64_t tickets;   /* last ticket handed out */
    DomCacheListener fn;
    void *opaque;
    GMutex wait_lock;      /* guards waiters */
    GHashTable *waiters;   /* uuid (owned) -> GPtrArray of Completion (refs) */
};

DomCache *
dom_cache_new(DomCacheListener fn, void *opaque)
{
    DomCache *c = g_new0(DomCache, 1);

    g_mutex_init(&c->update);
    g_rw_lock_init(&c->lock);
    g_mutex_init(&c->wait_lock);
    c->by_uuid = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify)dom_info_unref);
    c->by_dir = g_hash_table_new(g_str_hash, g_str_equal);
    c->groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify)g_ptr_array_unref);
    c->multi = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    c->suffixed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    c->waiters = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify)g_ptr_array_unref);
    c->fn = fn;
    c->opaque = opaque;
    return c;
}

void
dom_cache_free(DomCache *c)
{
    if (!c)
        return;
    g_hash_table_destroy(c->waiters);
    g_clear_pointer(&c->sorted, g_ptr_array_unref);
    g_hash_table_destroy(c->suffixed);
    g_hash_table_destroy(c->multi);
    g_hash_table_destroy(c->groups);
    g_hash_table_destroy(c->by_dir);
    g_hash_table_destroy(c->by_uuid);
    g_mutex_clear(&c->update);
    g_rw_lock_clear(&c->lock);
    g_mutex_clear(&c->wait_lock);
    g_free(c);
}

/* ---- reading ---- */

static DomInfo *
dom_cache_lookup(DomCache *c, GHashTable *table, const char *key)
{
    DomInfo *d;

    g_rw_lock_reader_lock(&c->lock);
    d = g_hash_table_lookup(table, key);
    if (d)
        dom_info_ref(d);
    g_rw_lock_reader_unlock(&c->lock);
    return d;
}

DomInfo *
dom_cache_get(DomCache *c, const char *dirname)
{
    return dom_cache_lookup(c, c->by_dir, dirname);
}

DomInfo *
dom_cache_get_uuid(DomCache *c, const char *uuid)
{
    return dom_cache_lookup(c, c->by_uuid, uuid);
}

static gint
dom_cache_cmp_dir(gconstpointer a, gconstpointer b)
{
    const DomInfo *da = *(DomInfo *const *)a;
    const DomInfo *db = *(DomInfo *const *)b;

    return strcmp(da->dirname, db->dirname);
}

static gpointer
dom_cache_ref_copy(gconstpointer d, gpointer unused)
{
    return dom_info_ref((DomInfo *)d);
}

/* A new array of new references to LIST's snapshots. */
static GPtrArray *
dom_cache_list_copy(GPtrArray *list)
{
    GPtrArray *out = g_ptr_array_copy(list, dom_cache_ref_copy, NULL);

    g_ptr_array_set_free_func(out, (GDestroyNotify)dom_info_unref);
    return out;
}

/* The sorted listing is kept until the next change: an `ls` of 10000 guests sorted them
 * all at every opendir (a quarter of the daemon's time in `ls -l`). */
GPtrArray *
dom_cache_list(DomCache *c)
{
    GPtrArray *out;
    GPtrArray *old = NULL;
    GHashTableIter it;
    guint64 serial;
    gpointer v;

    g_rw_lock_reader_lock(&c->lock);
    if (c->sorted && c->sorted_serial == c->serial) {
        out = dom_cache_list_copy(c->sorted);
        g_rw_lock_reader_unlock(&c->lock);
        return out;
    }
    serial = c->serial;
    out = g_ptr_array_new_full(g_hash_table_size(c->by_uuid), (GDestroyNotify)dom_info_unref);
    g_hash_table_iter_init(&it, c->by_uuid);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(out, dom_info_ref(v));
    g_rw_lock_reader_unlock(&c->lock);
    g_ptr_array_sort(out, dom_cache_cmp_dir);
    g_rw_lock_writer_lock(&c->lock);
    if (c->serial == serial) {
        old = c->sorted;
        c->sorted = dom_cache_list_copy(out);
        c->sorted_serial = serial;
    }
    g_rw_lock_writer_unlock(&c->lock);
    if (old)
        g_ptr_array_unref(old);
    return out;
}

guint64
dom_cache_serial(DomCache *c)
{
    guint64 n;

    g_rw_lock_reader_lock(&c->lock);
    n = c->serial;
    g_rw_lock_reader_unlock(&c->lock);
    return n;
}

guint
dom_cache_size(DomCache *c)
{
    guint n;

    g_rw_lock_reader_lock(&c->lock);
    n = g_hash_table_size(c->by_uuid);
    g_rw_lock_reader_unlock(&c->lock);
    return n;
}

/* ---- waiters ---- */

gboolean
dom_cache_wait_loaded(DomCache *c, const char *uuid, Completion *comp)
{
    g_autoptr(DomInfo) d = NULL;
    GPtrArray *list;

    /* under wait_lock: a change completes waiters under it too, after publishing, so a
     * waiter added after the check cannot miss the change */
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->wait_lock);

    d = dom_cache_get_uuid(c, uuid);
    if (!d || d->loaded)
        return FALSE;
    list = g_hash_table_lookup(c->waiters, uuid);
    if (!list) {
        list = g_ptr_array_new_with_free_func((GDestroyNotify)completion_unref);
        g_hash_table_insert(c->waiters, g_strdup(uuid), list);
    }
    for (guint i = 0; i < list->len;) {
        if (completion_is_done(g_ptr_array_index(list, i)))
            g_ptr_array_remove_index_fast(list, i);
        else
            i++;
    }
    g_ptr_array_add(list, completion_ref(comp));
    return TRUE;
}

void
dom_cache_unwait(DomCache *c, const char *uuid, Completion *comp)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->wait_lock);
    GPtrArray *list = g_hash_table_lookup(c->waiters, uuid);

    if (list && g_ptr_array_remove_fast(list, comp) && list->len == 0)
        g_hash_table_remove(c->waiters, uuid);
}

/* After a change of UUID: if it is now loaded or gone, take its waiters (to complete
 * them without any lock held). */
static GPtrArray *
dom_cache_take_waiters(DomCache *c, const char *uuid, const DomInfo *now)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->wait_lock);
    gpointer key = NULL;
    gpointer list = NULL;

    if (now && !now->loaded)
        return NULL;
    if (!g_hash_table_steal_extended(c->waiters, uuid, &key, &list))
        return NULL;
    g_free(key);
    return list;
}

static void
dom_cache_complete_waiters(GPtrArray *list)
{
    if (!list)
        return;
    for (guint i = 0; i < list->len; i++)
        completion_complete(g_ptr_array_index(list, i), 0);
    g_ptr_array_unref(list);
}

/* ---- directory names ---- */

static gint
dom_cache_cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Add or remove UUID in the group of BASE (and keep c->multi, the groups of several). */
static void
dom_cache_group_edit(DomCache *c, const char *base, const char *uuid, gboolean add)
{
    GPtrArray *g = g_hash_table_lookup(c->groups, base);

    if (add) {
        if (!g) {
            g = g_ptr_array_new_with_free_func(g_free);
            g_hash_table_insert(c->groups, g_strdup(base), g);
        }
        g_ptr_array_add(g, g_strdup(uuid));
        g_ptr_array_sort(g, dom_cache_cmp_str);
        if (g->len == 2)
            g_hash_table_add(c->multi, g_strdup(base));
        return;
    }
    if (!g)
        return;
    for (guint i = 0; i < g->len; i++) {
        if (strcmp(g_ptr_array_index(g, i), uuid) == 0) {
            g_ptr_array_remove_index(g, i);
            break;
        }
    }
    if (g->len < 2)
        g_hash_table_remove(c->multi, base);
    if (g->len == 0)
        g_hash_table_remove(c->groups, base);
}

/* The names every guest should have now: uuid -> dirname, for the members of groups with
 * more than one guest (a guest alone in its group is named by its base). Generated names
 * skip every base and every name generated before them (groups in base order). Costs the
 * colliding guests only (c->multi), not the whole cache: a put stays O(1) at start-up. */
static GHashTable *
dom_cache_collision_names(DomCache *c)
{
    GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
    g_autoptr(GHashTable) used = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) bases = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, c->multi);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_ptr_array_add(bases, k);
    g_ptr_array_sort(bases, dom_cache_cmp_str);
    for (guint b = 0; b < bases->len; b++) {
        const char *base = g_ptr_array_index(bases, b);
        GPtrArray *g = g_hash_table_lookup(c->groups, base);
        guint k2 = 2;

        g_hash_table_insert(names, g_ptr_array_index(g, 0), g_strdup(base));
        for (guint i = 1; i < g->len; i++) {
            char *cand = NULL;

            for (;; k2++) {
                g_free(cand);
                cand = name_with_suffix(base, k2);
                if (!g_hash_table_contains(c->groups, cand) && !g_hash_table_contains(used, cand))
                    break;
            }
            k2++;
            g_hash_table_insert(names, g_ptr_array_index(g, i), cand);
            g_hash_table_add(used, cand);
        }
    }
    return names;
}

/* ---- publishing ---- */

typedef struct {
    DomInfo *old_info;    /* refs */
    DomInfo *new_info;
    char *event;
    char *dirname;        /* for an event-only change */
} DomPending;

static void
dom_pending_clear(gpointer p)
{
    DomPending *x = p;

    dom_info_unref(x->old_info);
    dom_info_unref(x->new_info);
    g_free(x->event);
    g_free(x->dirname);
}

static void
dom_pending_add(GArray *batch, DomInfo *old_info, DomInfo *new_info, const char *event,
                const char *dirname)
{
    DomPending x = {
        old_info ? dom_info_ref(old_info) : NULL,
        new_info,   /* ownership taken */
        g_strdup(event),
        g_strdup(dirname),
    };

    g_array_append_val(batch, x);
}

/* With the table lock held for writing: remember whether D is named with a suffix. */
static void
dom_cache_note_suffixed(DomCache *c, const DomInfo *d)
{
    g_autofree char *base = name_escape(d->name);

    if (strcmp(base, d->dirname) != 0)
        g_hash_table_add(c->suffixed, g_strdup(d->uuid));
    else
        g_hash_table_remove(c->suffixed, d->uuid);
}

/* With the update mutex held: swap every change of BATCH into the tables at once (so no
 * two guests ever share a directory name, even during a rename), then tell the listener
 * in order. Returns the waiters to complete once the mutex is released. */
static GPtrArray *
dom_cache_commit(DomCache *c, GArray *batch)
{
    GPtrArray *done = g_ptr_array_new();   /* of waiter lists, see dom_cache_finish */
    GPtrArray *stale;

    g_rw_lock_writer_lock(&c->lock);
    for (guint i = 0; i < batch->len; i++) {
        DomPending *x = &g_array_index(batch, DomPending, i);

        if (x->old_info && g_hash_table_lookup(c->by_dir, x->old_info->dirname) == x->old_info)
            g_hash_table_remove(c->by_dir, x->old_info->dirname);
        if (x->old_info && !x->new_info) {
            g_hash_table_remove(c->suffixed, x->old_info->uuid);
            g_hash_table_remove(c->by_uuid, x->old_info->uuid);
        }
    }
    for (guint i = 0; i < batch->len; i++) {
        DomPending *x = &g_array_index(batch, DomPending, i);

        if (!x->new_info)
            continue;
        g_hash_table_replace(c->by_uuid, x->new_info->uuid, dom_info_ref(x->new_info));
        g_hash_table_insert(c->by_dir, x->new_info->dirname, x->new_info);
        dom_cache_note_suffixed(c, x->new_info);
    }
    c->serial += batch->len;
    stale = g_steal_pointer(&c->sorted);   /* its old snapshots go now, not at the next ls */
    g_rw_lock_writer_unlock(&c->lock);
    if (stale)
        g_ptr_array_unref(stale);

    for (guint i = 0; i < batch->len; i++) {
        DomPending *x = &g_array_index(batch, DomPending, i);
        DomChange ch = {
            x->old_info, x->new_info, x->event,
            x->new_info ? x->new_info->dirname : x->old_info ? x->old_info->dirname : x->dirname,
        };
        GPtrArray *w;

        if (c->fn && (ch.old_info || ch.new_info || ch.event))
            c->fn(&ch, c->opaque);
        if ((x->old_info || x->new_info) &&
            (w = dom_cache_take_waiters(c, x->new_info ? x->new_info->uuid : x->old_info->uuid,
                                        x->new_info)))
            g_ptr_array_add(done, w);
    }
    return done;
}

/* With the update mutex held: queue the rename of UUID to WANT into BATCH if its name is
 * not WANT already (WANT NULL: its escaped name). */
static void
dom_cache_rename_to(DomCache *c, const char *uuid, const char *want, GArray *batch)
{
    DomInfo *d = g_hash_table_lookup(c->by_uuid, uuid);
    g_autofree char *base = NULL;
    DomInfo *n;

    if (!d)
        return;
    if (!want)
        want = base = name_escape(d->name);
    if (strcmp(want, d->dirname) == 0)
        return;
    n = dom_info_copy(d);
    g_free(n->dirname);
    n->dirname = g_strdup(want);
    dom_pending_add(batch, d, n, NULL, NULL);
}

/* With the update mutex held: the renames the group change implies, into BATCH (SELF, the
 * uuid being changed, is left out: its caller names it). Only guests in a collision group
 * or named with a suffix now can change name. */
static void
dom_cache_renames(DomCache *c, const char *self, GArray *batch)
{
    g_autoptr(GHashTable) names = dom_cache_collision_names(c);
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init(&it, names);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (!self || strcmp(k, self) != 0)
            dom_cache_rename_to(c, k, v, batch);
    }
    g_hash_table_iter_init(&it, c->suffixed);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if ((!self || strcmp(k, self) != 0) && !g_hash_table_contains(names, k))
            dom_cache_rename_to(c, k, NULL, batch);
    }
}

/* The directory name UUID (of base BASE) gets now. */
static char *
dom_cache_name_for(DomCache *c, const char *uuid, const char *base)
{
    g_autoptr(GHashTable) names = dom_cache_collision_names(c);
    const char *n = g_hash_table_lookup(names, uuid);

    return g_strdup(n ? n : base);
}

/* Complete the waiter lists DONE collected (no lock held). */
static void
dom_cache_finish(GPtrArray *done)
{
    for (guint i = 0; i < done->len; i++)
        dom_cache_complete_waiters(g_ptr_array_index(done, i));
    g_ptr_array_unref(done);
}

guint64
dom_cache_ticket(DomCache *c)
{
    return atomic_fetch_add(&c->tickets, 1) + 1;
}

/* With the update mutex held: publish D (ownership) as the new snapshot of its uuid. */
static GPtrArray *
dom_cache_put_locked(DomCache *c, DomInfo *d, const char *event)
{
    g_autoptr(DomInfo) old = dom_cache_get_uuid(c, d->uuid);
    g_autoptr(GArray) batch = g_array_new(FALSE, FALSE, sizeof(DomPending));
    g_autofree char *base = name_escape(d->name);
    g_autofree char *old_base = old ? name_escape(old->name) : NULL;

    g_array_set_clear_func(batch, dom_pending_clear);
    if (old && d->ticket && old->ticket > d->ticket) {
        /* older news than what the cache has: only the event line goes out */
        dom_pending_add(batch, NULL, NULL, event, old->dirname);
        dom_info_unref(d);
        return dom_cache_commit(c, batch);
    }
    if (old) {
        dom_local_unref(d->local);
        d->local = dom_local_ref(old->local);
    }
    g_free(d->dirname);
    if (old && strcmp(old_base, base) == 0) {
        d->dirname = g_strdup(old->dirname);
        dom_pending_add(batch, old, d, event, NULL);
    } else {
        if (old)
            dom_cache_group_edit(c, old_base, d->uuid, FALSE);
        dom_cache_group_edit(c, base, d->uuid, TRUE);
        d->dirname = dom_cache_name_for(c, d->uuid, base);
        dom_pending_add(batch, old, d, event, NULL);
        dom_cache_renames(c, d->uuid, batch);
    }
    return dom_cache_commit(c, batch);
}

static GPtrArray *
dom_cache_remove_locked(DomCache *c, const char *uuid, const char *name, const char *event)
{
    g_autoptr(DomInfo) old = dom_cache_get_uuid(c, uuid);
    g_autoptr(GArray) batch = g_array_new(FALSE, FALSE, sizeof(DomPending));
    g_autofree char *gone_dir = NULL;

    g_array_set_clear_func(batch, dom_pending_clear);
    if (old) {
        g_autofree char *base = name_escape(old->name);

        dom_cache_group_edit(c, base, uuid, FALSE);
        dom_pending_add(batch, old, NULL, event, NULL);
        dom_cache_renames(c, uuid, batch);
    } else if (event) {
        gone_dir = name ? name_escape(name) : g_strdup(uuid);
        dom_pending_add(batch, NULL, NULL, event, gone_dir);
    }
    return dom_cache_commit(c, batch);
}

gboolean
dom_cache_update(DomCache *c, const char *uuid, DomEditFn edit, void *data, const char *event)
{
    g_autoptr(GArray) batch = g_array_new(FALSE, FALSE, sizeof(DomPending));
    GPtrArray *done = NULL;
    DomInfo *cur;
    DomInfo *next = NULL;

    g_array_set_clear_func(batch, dom_pending_clear);
    g_mutex_lock(&c->update);
    if ((cur = dom_cache_get_uuid(c, uuid)) && (next = edit(cur, data))) {
        /* an edit never renames: the name comes from libvirt (dom_cache_put) */
        g_free(next->dirname);
        next->dirname = g_strdup(cur->dirname);
        dom_pending_add(batch, cur, next, event, NULL);
        done = dom_cache_commit(c, batch);
    }
    g_mutex_unlock(&c->update);
    dom_info_unref(cur);
    if (done)
        dom_cache_finish(done);
    return next != NULL;
}

void
dom_cache_put(DomCache *c, DomInfo *d, const char *event)
{
    GPtrArray *done;

    g_mutex_lock(&c->update);
    done = dom_cache_put_locked(c, d, event);
    g_mutex_unlock(&c->update);
    dom_cache_finish(done);
}

void
dom_cache_remove(DomCache *c, const char *uuid, const char *name, const char *event)
{
    GPtrArray *done;

    g_mutex_lock(&c->update);
    done = dom_cache_remove_locked(c, uuid, name, event);
    g_mutex_unlock(&c->update);
    dom_cache_finish(done);
}

void
dom_cache_event(DomCache *c, const char *uuid, const char *name, const char *event)
{
    g_autoptr(GArray) batch = g_array_new(FALSE, FALSE, sizeof(DomPending));
    g_autoptr(DomInfo) cur = uuid ? dom_cache_get_uuid(c, uuid) : NULL;
    g_autofree char *dir = cur ? g_strdup(cur->dirname)
                           : uuid && name ? name_escape(name)
                           : g_strdup(uuid ? uuid : name);
    GPtrArray *done;

    g_array_set_clear_func(batch, dom_pending_clear);
    dom_pending_add(batch, NULL, NULL, event, dir);
    g_mutex_lock(&c->update);
    done = dom_cache_commit(c, batch);
    g_mutex_unlock(&c->update);
    dom_cache_finish(done);
}

/* The resync line of a guest that changed while the connection was away, or NULL. */
static char *
dom_cache_resync_event(const DomInfo *old, const DomInfo *d, gboolean resync);

void
dom_cache_replace_all(DomCache *c, GPtrArray *fetched, gboolean resync)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) current = NULL;
    g_autoptr(GPtrArray) done = g_ptr_array_new();   /* of dom_cache_commit results */

    g_mutex_lock(&c->update);
    for (guint i = 0; i < fetched->len; i++)
        g_hash_table_add(seen, ((DomInfo *)g_ptr_array_index(fetched, i))->uuid);
    current = dom_cache_list(c);
    for (guint i = 0; i < current->len; i++) {
        DomInfo *d = g_ptr_array_index(current, i);

        if (!g_hash_table_contains(seen, d->uuid))
            g_ptr_array_add(done, dom_cache_remove_locked(c, d->uuid, d->name,
                                                          resync ? "resync undefined -" : NULL));
    }
    for (guint i = 0; i < fetched->len; i++) {
        DomInfo *d = g_ptr_array_index(fetched, i);
        g_autoptr(DomInfo) old = dom_cache_get_uuid(c, d->uuid);
        g_autofree char *event = dom_cache_resync_event(old, d, resync);

        g_ptr_array_add(done, dom_cache_put_locked(c, d, event));
    }
    g_mutex_unlock(&c->update);
    for (guint i = 0; i < done->len; i++)
        dom_cache_finish(g_ptr_array_index(done, i));
}

static char *
dom_cache_resync_event(const DomInfo *old, const DomInfo *d, gboolean resync)
{
    if (!resync)
        return NULL;
    if (!old)
        return g_strdup_printf("resync defined %s", state_name(d->state));
    if (dom_info_facts_differ(old, d))
        return g_strdup_printf("resync changed %s", state_name(d->state));
    return NULL;
}
