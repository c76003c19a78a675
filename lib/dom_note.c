/* dom_note.c - see dom_note.h. */
#define G_LOG_DOMAIN "domfs-note"

#include "dom_note.h"

#include <string.h>

#include "agent_info.h"
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
    next->local->agent = agent_info_ref(l->agent);
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

/* ---- agent data ---- */

static gboolean
dom_note_agent_equal(const AgentInfo *a, const AgentInfo *b)
{
    GHashTableIter it;
    gpointer k, v;

    if (!a || !b)
        return a == b;
    if (a->refreshed != b->refreshed || g_strcmp0(a->ip_source, b->ip_source) != 0 ||
        g_hash_table_size(a->ip_by_mac) != g_hash_table_size(b->ip_by_mac))
        return FALSE;
    for (int i = 0; i < AF_N; i++) {
        if (g_strcmp0(a->text[i], b->text[i]) != 0)
            return FALSE;
    }
    g_hash_table_iter_init(&it, a->ip_by_mac);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        if (g_strcmp0(v, g_hash_table_lookup(b->ip_by_mac, k)) != 0)
            return FALSE;
    }
    return TRUE;
}

static DomInfo *
dom_note_agent_edit(const DomInfo *cur, void *data)
{
    AgentInfo *a = data;
    DomInfo *next;

    if (dom_note_agent_equal(cur->local->agent, a))
        return NULL;
    next = dom_info_copy(cur);
    dom_local_unref(next->local);
    next->local = dom_local_copy(cur->local);
    agent_info_unref(next->local->agent);
    next->local->agent = agent_info_ref(a);
    return next;
}

void
dom_note_agent(DomCache *cache, const char *uuid, AgentInfo *agent)
{
    dom_cache_update(cache, uuid, dom_note_agent_edit, agent, NULL);
}
