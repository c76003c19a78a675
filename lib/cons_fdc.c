/* cons_fdc.c - see cons_fdc.h. A hash table id -> entry plus a GQueue in LRU order (most
 * recent at the head), under one mutex that is a leaf: nothing is called with it held
 * but close(2). */
#define G_LOG_DOMAIN "domfs-cons"

#include "cons_fdc.h"

#include <unistd.h>

struct ConsFdLease {
    ConsFileId id;
    int fd;
    guint leases;
    gboolean dropped;     /* close when the last lease goes */
    GList link;           /* in the LRU queue while cached */
};

struct ConsFdCache {
    GMutex lock;          /* guards everything below */
    guint capacity;
    GHashTable *by_id;    /* ConsFileId * (the entry's) -> ConsFdLease */
    GQueue lru;
};

static guint
cons_fdc_hash(gconstpointer p)
{
    const ConsFileId *id = p;

    return (guint)(id->ino ^ (id->ino >> 32) ^ id->dev);
}

static gboolean
cons_fdc_equal(gconstpointer a, gconstpointer b)
{
    const ConsFileId *x = a;
    const ConsFileId *y = b;

    /* exact: two identities that cons_file_same() calls equal but differ in birth time
     * knowledge are distinct entries, which is only a lost chance to share */
    return x->dev == y->dev && x->ino == y->ino && x->btime == y->btime;
}

ConsFdCache *
cons_fdc_new(guint capacity)
{
    ConsFdCache *c = g_new0(ConsFdCache, 1);

    g_mutex_init(&c->lock);
    c->capacity = MAX(capacity, 1);
    c->by_id = g_hash_table_new(cons_fdc_hash, cons_fdc_equal);
    g_queue_init(&c->lru);
    return c;
}

static void
cons_fdc_close(ConsFdLease *e)
{
    if (e->fd >= 0)
        close(e->fd);
    g_free(e);
}

void
cons_fdc_free(ConsFdCache *c)
{
    GHashTableIter it;
    gpointer v;

    if (!c)
        return;
    g_hash_table_iter_init(&it, c->by_id);
    while (g_hash_table_iter_next(&it, NULL, &v))
        cons_fdc_close(v);
    g_hash_table_destroy(c->by_id);
    g_mutex_clear(&c->lock);
    g_free(c);
}

/* With the lock held: forget E (closing it unless leased: then at its last release). */
static void
cons_fdc_forget_locked(ConsFdCache *c, ConsFdLease *e)
{
    g_hash_table_remove(c->by_id, &e->id);
    g_queue_unlink(&c->lru, &e->link);
    e->dropped = TRUE;
    if (e->leases == 0)
        cons_fdc_close(e);
}

/* With the lock held: close unleased descriptors from the LRU end while over capacity. */
static void
cons_fdc_evict_locked(ConsFdCache *c)
{
    GList *l = c->lru.tail;

    while (g_hash_table_size(c->by_id) > c->capacity && l) {
        ConsFdLease *e = l->data;

        l = l->prev;
        if (e->leases == 0)
            cons_fdc_forget_locked(c, e);
    }
}

ConsFdLease *
cons_fdc_get(ConsFdCache *c, const ConsFileId *id)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);
    ConsFdLease *e = g_hash_table_lookup(c->by_id, id);

    if (!e)
        return NULL;
    e->leases++;
    g_queue_unlink(&c->lru, &e->link);
    g_queue_push_head_link(&c->lru, &e->link);
    return e;
}

ConsFdLease *
cons_fdc_put(ConsFdCache *c, const ConsFileId *id, int fd)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);
    ConsFdLease *old = g_hash_table_lookup(c->by_id, id);
    ConsFdLease *e = g_new0(ConsFdLease, 1);

    if (old)
        cons_fdc_forget_locked(c, old);
    e->id = *id;
    e->fd = fd;
    e->leases = 1;
    e->link.data = e;
    g_hash_table_insert(c->by_id, &e->id, e);
    g_queue_push_head_link(&c->lru, &e->link);
    cons_fdc_evict_locked(c);
    return e;
}

int
cons_fdc_fd(const ConsFdLease *l)
{
    return l->fd;
}

void
cons_fdc_release(ConsFdCache *c, ConsFdLease *e)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);

    if (--e->leases > 0)
        return;
    if (e->dropped)
        cons_fdc_close(e);
    else
        cons_fdc_evict_locked(c);
}

void
cons_fdc_drop(ConsFdCache *c, const ConsFileId *id)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);
    ConsFdLease *e = g_hash_table_lookup(c->by_id, id);

    if (e)
        cons_fdc_forget_locked(c, e);
}

guint
cons_fdc_count(ConsFdCache *c)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->lock);

    return g_hash_table_size(c->by_id);
}
