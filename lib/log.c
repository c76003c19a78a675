/* log.c - see log.h. The "once" set is a hash set plus a FIFO of its keys for eviction,
 * under one mutex (log paths are rare and never hot). */
#define G_LOG_DOMAIN "domfs-log"

#include "log.h"

#include "domfs_limits.h"

static GMutex log_once_lock;
static GHashTable *log_once_keys;   /* key (owned by log_once_fifo) -> itself */
static GQueue log_once_fifo = G_QUEUE_INIT;

gboolean
log_once(const char *key)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&log_once_lock);
    char *k;

    if (!log_once_keys)
        log_once_keys = g_hash_table_new(g_str_hash, g_str_equal);
    if (g_hash_table_contains(log_once_keys, key))
        return FALSE;
    if (g_queue_get_length(&log_once_fifo) >= DOMFS_LOG_ONCE_MAX) {
        char *old = g_queue_pop_head(&log_once_fifo);

        g_hash_table_remove(log_once_keys, old);
        g_free(old);
    }
    k = g_strdup(key);
    g_queue_push_tail(&log_once_fifo, k);
    g_hash_table_add(log_once_keys, k);
    return TRUE;
}

void
log_once_reset(const char *key)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&log_once_lock);
    char *k;

    if (!log_once_keys || !(k = g_hash_table_lookup(log_once_keys, key)))
        return;
    g_hash_table_remove(log_once_keys, k);
    g_queue_remove(&log_once_fifo, k);
    g_free(k);
}
