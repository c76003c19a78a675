/* dom_cache.c - two hash tables (uuid -> snapshot, dirname -> snapshot) under one
 * GRWLock. Changes are published under a second, outer mutex ("updates") which is also
 * held while the change callback runs, so listeners see changes in the order they were
 * made; the callback must only queue work (it runs with the updates mutex held). */
#include "dom_cache.h"

#include <string.h>

struct DomCache {
    GRWLock lock;
    GRecMutex updates;
    GHashTable *by_uuid;   /* uuid (owned by the value) -> DomInfo (ref) */
    GHashTable *by_dir;    /* dirname (owned by the value) -> DomInfo (borrowed) */
    DomCacheChangeFn fn;
    void *opaque;
    guint64 serial;        /* changes so far (under the writer lock) */
    GMutex wait_lock;      /* with `changed`: waiters for a loaded snapshot */
    GCond changed;
};

DomCache *
dom_cache_new(DomCacheChangeFn fn, void *opaque)
{
    DomCache *c = g_new0(DomCache, 1);

    g_rw_lock_init(&c->lock);
    g_rec_mutex_init(&c->updates);
    g_mutex_init(&c->wait_lock);
    g_cond_init(&c->changed);
    c->by_uuid = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify)dom_info_unref);
    c->by_dir = g_hash_table_new(g_str_hash, g_str_equal);
    c->fn = fn;
    c->opaque = opaque;
    return c;
}

void
dom_cache_free(DomCache *c)
{
    if (!c)
        return;
    g_hash_table_destroy(c->by_dir);
    g_hash_table_destroy(c->by_uuid);
    g_rw_lock_clear(&c->lock);
    g_rec_mutex_clear(&c->updates);
    g_mutex_clear(&c->wait_lock);
    g_cond_clear(&c->changed);
    g_free(c);
}

DomInfo *
dom_cache_get(DomCache *c, const char *dirname)
{
    DomInfo *d;

    g_rw_lock_reader_lock(&c->lock);
    d = g_hash_table_lookup(c->by_dir, dirname);
    if (d)
        dom_info_ref(d);
    g_rw_lock_reader_unlock(&c->lock);
    return d;
}

DomInfo *
dom_cache_get_uuid(DomCache *c, const char *uuid)
{
    DomInfo *d;

    g_rw_lock_reader_lock(&c->lock);
    d = g_hash_table_lookup(c->by_uuid, uuid);
    if (d)
        dom_info_ref(d);
    g_rw_lock_reader_unlock(&c->lock);
    return d;
}

DomInfo *
dom_cache_wait_loaded(DomCache *c, const char *uuid, gint64 timeout_us)
{
    gint64 end = g_get_monotonic_time() + timeout_us;
    DomInfo *d;

    g_mutex_lock(&c->wait_lock);
    while ((d = dom_cache_get_uuid(c, uuid)) && !d->loaded) {
        dom_info_unref(d);
        if (!g_cond_wait_until(&c->changed, &c->wait_lock, end)) {
            d = dom_cache_get_uuid(c, uuid);
            break;
        }
    }
    g_mutex_unlock(&c->wait_lock);
    return d;
}

static gint
dom_cache_cmp_dir(gconstpointer a, gconstpointer b)
{
    const DomInfo *da = *(DomInfo *const *)a;
    const DomInfo *db = *(DomInfo *const *)b;

    return strcmp(da->dirname, db->dirname);
}

GPtrArray *
dom_cache_list(DomCache *c)
{
    GPtrArray *out;
    GHashTableIter it;
    gpointer v;

    g_rw_lock_reader_lock(&c->lock);
    out = g_ptr_array_new_full(g_hash_table_size(c->by_uuid), (GDestroyNotify)dom_info_unref);
    g_hash_table_iter_init(&it, c->by_uuid);
    while (g_hash_table_iter_next(&it, NULL, &v))
        g_ptr_array_add(out, dom_info_ref(v));
    g_rw_lock_reader_unlock(&c->lock);
    g_ptr_array_sort(out, dom_cache_cmp_dir);
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

/* Swap in NEW_INFO (or remove UUID when NULL); returns the old snapshot (a reference). */
static DomInfo *
dom_cache_swap(DomCache *c, const char *uuid, DomInfo *new_info)
{
    DomInfo *old;

    g_rw_lock_writer_lock(&c->lock);
    old = g_hash_table_lookup(c->by_uuid, uuid);
    if (old) {
        dom_info_ref(old);
        if (g_hash_table_lookup(c->by_dir, old->dirname) == old)
            g_hash_table_remove(c->by_dir, old->dirname);
        g_hash_table_remove(c->by_uuid, uuid);
    }
    if (new_info) {
        g_hash_table_insert(c->by_uuid, new_info->uuid, new_info);
        g_hash_table_insert(c->by_dir, new_info->dirname, new_info);
    }
    c->serial++;
    g_rw_lock_writer_unlock(&c->lock);
    g_mutex_lock(&c->wait_lock);
    g_cond_broadcast(&c->changed);
    g_mutex_unlock(&c->wait_lock);
    return old;
}

static void
dom_cache_notify(DomCache *c, DomInfo *old_info, DomInfo *new_info, const char *event)
{
    if (c->fn && (old_info || new_info))
        c->fn(old_info, new_info, event, c->opaque);
}

void
dom_cache_put(DomCache *c, DomInfo *info, const char *event)
{
    DomInfo *old;

    g_rec_mutex_lock(&c->updates);
    old = dom_cache_swap(c, info->uuid, info);
    dom_cache_notify(c, old, info, event);
    g_rec_mutex_unlock(&c->updates);
    dom_info_unref(old);
}

void
dom_cache_put_fetched(DomCache *c, DomInfo *info, const char *event)
{
    DomInfo *old;

    g_rec_mutex_lock(&c->updates);
    old = dom_cache_get_uuid(c, info->uuid);
    if (old) {
        g_free(info->error);
        info->error = g_strdup(old->error);
        info->error_serial = old->error_serial;
        g_free(info->migrate);
        info->migrate = g_strdup(old->migrate);
        dom_info_unref(old);
    }
    dom_cache_put(c, info, event);
    g_rec_mutex_unlock(&c->updates);
}

void
dom_cache_remove(DomCache *c, const char *uuid, const char *event)
{
    DomInfo *old;

    g_rec_mutex_lock(&c->updates);
    old = dom_cache_swap(c, uuid, NULL);
    dom_cache_notify(c, old, NULL, event);
    g_rec_mutex_unlock(&c->updates);
    dom_info_unref(old);
}

void
dom_cache_replace_all(DomCache *c, GPtrArray *fetched, const char *event)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) current = NULL;

    g_rec_mutex_lock(&c->updates);
    for (guint i = 0; i < fetched->len; i++) {
        DomInfo *d = g_ptr_array_index(fetched, i);

        g_hash_table_add(seen, d->uuid);
    }
    current = dom_cache_list(c);
    for (guint i = 0; i < current->len; i++) {
        DomInfo *d = g_ptr_array_index(current, i);

        if (!g_hash_table_contains(seen, d->uuid))
            dom_cache_remove(c, d->uuid, event);
    }
    for (guint i = 0; i < fetched->len; i++)
        dom_cache_put_fetched(c, g_ptr_array_index(fetched, i), event);
    g_rec_mutex_unlock(&c->updates);
}

void
dom_cache_lock_updates(DomCache *c)
{
    g_rec_mutex_lock(&c->updates);
}

void
dom_cache_unlock_updates(DomCache *c)
{
    g_rec_mutex_unlock(&c->updates);
}
