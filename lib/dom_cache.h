/* dom_cache.h - the in-memory domain cache of one connection: snapshots by uuid and by
 * directory name. Readers never wait for libvirt; writers swap whole snapshots. */
#pragma once

#include <glib.h>

#include "dom_info.h"

typedef struct DomCache DomCache;

/* Called after every change, in change order, with the cache unlocked. OLD is NULL for a
 * new guest, NEW is NULL for a removed one; EVENT (may be NULL) is the event line's tail,
 * e.g. "lifecycle started booted". Runs on whichever thread made the change. */
typedef void (*DomCacheChangeFn)(DomInfo *old_info, DomInfo *new_info, const char *event,
                                 void *opaque);

DomCache *dom_cache_new(DomCacheChangeFn fn, void *opaque);
void dom_cache_free(DomCache *cache);

/* Wait (at most TIMEOUT_US) until the snapshot of UUID is `loaded` or gone; returns the
 * latest snapshot (a new reference) or NULL when gone. */
DomInfo *dom_cache_wait_loaded(DomCache *cache, const char *uuid, gint64 timeout_us);
/* Both return a new reference, or NULL. */
DomInfo *dom_cache_get(DomCache *cache, const char *dirname);
DomInfo *dom_cache_get_uuid(DomCache *cache, const char *uuid);
/* All snapshots (new references), sorted by directory name. */
GPtrArray *dom_cache_list(DomCache *cache);
guint dom_cache_size(DomCache *cache);
/* Grows with every change: equal serials mean equal content. */
guint64 dom_cache_serial(DomCache *cache);

/* Publish a snapshot fetched from libvirt (takes ownership). The domfs-side fields of the
 * previous snapshot of that uuid (error, migrate) are carried over. */
void dom_cache_put_fetched(DomCache *cache, DomInfo *info, const char *event);
/* Publish a snapshot derived from the current one (takes ownership); fields kept as given. */
void dom_cache_put(DomCache *cache, DomInfo *info, const char *event);
void dom_cache_remove(DomCache *cache, const char *uuid, const char *event);
/* Replace the whole content by FETCHED (array of DomInfo, ownership of the elements taken),
 * reporting the difference through the change callback with EVENT. */
void dom_cache_replace_all(DomCache *cache, GPtrArray *fetched, const char *event);
/* Serialises read-modify-write sequences (a refresh, recording an error) against each
 * other; taken before the cache's own lock, never while holding it. */
void dom_cache_lock_updates(DomCache *cache);
void dom_cache_unlock_updates(DomCache *cache);
