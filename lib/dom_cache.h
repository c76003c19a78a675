/* dom_cache.h - the in-memory domain cache of one connection: snapshots by uuid and by
 * directory name. Readers never wait for libvirt; writers swap whole snapshots.
 *
 * Directory names are the escaped domain names, made unique: when escaping makes two
 * names equal (only possible for names cut at 255 bytes), the guests get NAME, NAME~2,
 * NAME~3, ... in uuid order, skipping any name that is another guest's own; the same set
 * of guests always gets the same names. */
#pragma once

#include <glib.h>

#include "completion.h"
#include "dom_info.h"

typedef struct DomCache DomCache;

/* One change, as the listener sees it. */
typedef struct {
    DomInfo *old_info;     /* NULL: the guest is new */
    DomInfo *new_info;     /* NULL: the guest is gone */
    const char *event;     /* the event line's tail ("lifecycle started booted"), or NULL */
    const char *dirname;   /* the directory the line names: new_info's, else old_info's,
                            * else that of a guest gone before it was ever cached */
} DomChange;

/* Called after every change, in change order, with the change serialized against every
 * other (so it must only queue work: it runs with the cache's update lock held). A change
 * may carry only an event (old and new NULL): a libvirt event about a guest that is gone
 * by the time it was re-read still gets its line. */
typedef void (*DomCacheListener)(const DomChange *ch, void *opaque);

DomCache *dom_cache_new(DomCacheListener fn, void *opaque);
void dom_cache_free(DomCache *cache);

/* Both return a new reference, or NULL. */
DomInfo *dom_cache_get(DomCache *cache, const char *dirname);
DomInfo *dom_cache_get_uuid(DomCache *cache, const char *uuid);
/* All snapshots (new references), sorted by directory name. */
GPtrArray *dom_cache_list(DomCache *cache);
guint dom_cache_size(DomCache *cache);
/* Grows with every change: equal serials mean equal content. */
guint64 dom_cache_serial(DomCache *cache);

/* Read-modify-write of one guest, serialized with every other change: EDIT gets the
 * current snapshot of UUID (only called when there is one) and returns the new snapshot
 * (ownership) or NULL to change nothing. TRUE when a change was published. */
typedef DomInfo *(*DomEditFn)(const DomInfo *cur, void *data);
gboolean dom_cache_update(DomCache *cache, const char *uuid, DomEditFn edit, void *data,
                          const char *event);
/* Facts are fetched from libvirt without any lock held, so two fetches of one guest (an
 * event's, a write's) may finish in either order: take a ticket before asking libvirt and
 * store it in the snapshot's `ticket`; a snapshot whose fetch began before the one the
 * cache holds is older news and is not published (its event line still is). */
guint64 dom_cache_ticket(DomCache *cache);
/* Publish facts fetched from libvirt (takes ownership of D): the domfs-side state (error,
 * migrate) of the current snapshot of that uuid is kept. */
void dom_cache_put(DomCache *cache, DomInfo *d, const char *event);
/* UUID is gone. NAME: the domain's name, for the event line when it was never cached (may
 * be NULL). With an EVENT, the line is published even when there was nothing to remove. */
void dom_cache_remove(DomCache *cache, const char *uuid, const char *name, const char *event);
/* Publish only an event line: the guest's files did not change (or could not be re-read).
 * The line names UUID's directory, else NAME escaped, else DIRNAME as given when UUID is
 * NULL (".domfs" for the connection's own lines). */
void dom_cache_event(DomCache *cache, const char *uuid, const char *name, const char *event);
/* Replace the whole content by FETCHED (array of DomInfo; the elements' ownership is
 * taken). RESYNC: after a reconnect, each difference gets an event line ("resync
 * defined <state>", "resync undefined -", "resync changed <state>"); else none. */
void dom_cache_replace_all(DomCache *cache, GPtrArray *fetched, gboolean resync);

/* Waiting for a guest's XML: when UUID is known and not loaded, COMP (a reference is
 * taken) is completed with 0 once it is loaded or gone, and TRUE is returned; else FALSE
 * and COMP is left alone. Cancelled completions are dropped as they are met. */
gboolean dom_cache_wait_loaded(DomCache *cache, const char *uuid, Completion *comp);
/* Forget COMP among UUID's waiters (it was answered otherwise). */
void dom_cache_unwait(DomCache *cache, const char *uuid, Completion *comp);
