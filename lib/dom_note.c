/* dom_note.c - see dom_note.h. */
#define G_LOG_DOMAIN "domfs-note"

#include "dom_note.h"

#include <string.h>

#include "verr.h"

typedef struct {
    const char *error;     /* new error line, or NULL to keep */
    const char *migrate;   /* new migrate line, or NULL to keep */
} DomNote;

static DomInfo *
dom_note_edit(const DomInfo *cur, void *data)
{
    const DomNote *n = data;
    const DomLocal *l = cur->local;
    DomInfo *next;

    if (!n->error && (!n->migrate || g_strcmp0(l->migrate, n->migrate) == 0))
        return NULL;
    next = dom_info_copy(cur);
    dom_local_unref(next->local);
    next->local = dom_local_new(n->error ? n->error : l->error,
                                l->error_serial + (n->error ? 1 : 0),
                                n->migrate ? n->migrate : l->migrate);
    return next;
}

static char *
dom_note_now(void)
{
    g_autoptr(GDateTime) now = g_date_time_new_now_utc();

    return g_date_time_format(now, "%Y-%m-%dT%H:%M:%SZ");
}

static void
dom_note_log(DomCache *cache, const char *host, const char *uuid, const char *what)
{
    g_autoptr(DomInfo) d = dom_cache_get_uuid(cache, uuid);

    g_warning("%s: %s: %s", host ? host : "", d ? d->name : uuid, what);
}

void
dom_note_error(DomCache *cache, const char *host, const char *uuid, const char *file, int err,
               const char *msg)
{
    g_autofree char *when = dom_note_now();
    g_autofree char *line = g_strdup_printf("%s %s %s: %s", when, file, verr_name(err), msg);
    g_autofree char *what = g_strdup_printf("write to %s failed: %s (%s)", file, msg,
                                            g_strerror(err));
    DomNote n = { line, NULL };

    dom_note_log(cache, host, uuid, what);
    dom_cache_update(cache, uuid, dom_note_edit, &n, NULL);
}

void
dom_note_later(DomCache *cache, const char *host, const char *uuid, const char *file,
               const char *msg)
{
    g_autofree char *when = dom_note_now();
    g_autofree char *line = g_strdup_printf("%s %s: %s", when, file, msg);
    g_autofree char *what = g_strdup_printf("write to %s: %s", file, msg);
    DomNote n = { line, NULL };

    dom_note_log(cache, host, uuid, what);
    dom_cache_update(cache, uuid, dom_note_edit, &n, NULL);
}

void
dom_note_migrate(DomCache *cache, const char *uuid, const char *status)
{
    DomNote n = { NULL, status };

    dom_cache_update(cache, uuid, dom_note_edit, &n, NULL);
}
