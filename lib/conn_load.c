/* conn_load.c - the background XML load. A bulk load (start-up, reconnect) fetches every
 * domain's state in a constant number of calls but not its XML (one call per guest), so
 * the snapshots are published without it (`loaded` false) and DOMFS_HOST_LOAD_THREADS
 * threads fetch the XMLs afterwards, guests someone is waiting for first (conn_want).
 * A request that needs a guest's XML waits for it without holding a thread
 * (dom_cache_wait_loaded). */
#define G_LOG_DOMAIN "domfs-conn"

#include "conn_priv.h"

#include <libvirt/virterror.h>
#include <malloc.h>
#include <string.h>

#include "cleanup.h"
#include "dom_fetch.h"
#include "domfs_limits.h"
#include "stop_wait.h"

/* The edit that completes a snapshot with its XML, unless something newer (an event's
 * refresh, which fetches everything) already did. */
static DomInfo *
conn_load_merge(const DomInfo *cur, void *data)
{
    const char *xml = data;
    DomInfo *next;

    if (cur->loaded)
        return NULL;
    next = dom_info_copy(cur);
    g_free(next->xml);
    next->xml = g_strdup(xml);
    dom_info_fill_from_xml(next, cur->counts_from_xml, cur->counts_from_xml);
    next->loaded = TRUE;
    return next;
}

static void
conn_load_one(DomConn *c, virDomainPtr dom)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autoptr(DomInfo) before = NULL;
    ConnCall *call;
    char *xml;

    if (dom_fetch_uuid(dom, uuid, NULL) < 0)
        return;
    before = dom_cache_get_uuid(c->cache, uuid);
    if (!before || before->loaded)
        return;
    /* the round trip happens unlocked, so the loaders run in parallel */
    call = conn_call_begin(c);
    xml = virDomainGetXMLDesc(dom, 0);
    conn_call_end(c, call);
    if (!xml) {
        virResetLastError();
        return;
    }
    dom_cache_update(c->cache, uuid, conn_load_merge, xml, NULL);
    free(xml);
}

static void
conn_load_wanted(DomConn *c, virConnectPtr vc, const char *uuid)
{
    g_autoptr(virDomain) dom = NULL;
    ConnCall *call = conn_call_begin(c);

    dom = virDomainLookupByUUIDString(vc, uuid);
    conn_call_end(c, call);
    if (dom)
        conn_load_one(c, dom);
    virResetLastError();
}

/* One loader: guests readers wait for first, then every guest in order. */
static gpointer
conn_load_main(gpointer data)
{
    DomConn *c = data;
    g_autoptr(virConnect) vc = conn_get_virt(c);

    while (vc && !g_atomic_int_get(&c->stopping)) {
        g_autofree char *uuid = g_async_queue_try_pop(c->wanted);
        gint i;

        if (uuid) {
            conn_load_wanted(c, vc, uuid);
            continue;
        }
        i = g_atomic_int_add(&c->load_next, 1);
        if (i >= (gint)c->load_doms->len)
            break;
        conn_load_one(c, g_ptr_array_index(c->load_doms, i));
    }
    /* the last loader out hands what is still wanted to the worker */
    if (g_atomic_int_dec_and_test(&c->load_active)) {
        char *uuid;

        while ((uuid = g_async_queue_try_pop(c->wanted))) {
            conn_push_job(c, CONN_JOB_REFRESH, uuid, NULL, NULL, NULL);
            g_free(uuid);
        }
        /* a bulk load leaves much freed memory behind (every reply, every XML copy):
         * give the free pages back now rather than keep a start-up's peak */
        malloc_trim(0);
    }
    return NULL;
}

gboolean
conn_load_wait(DomConn *c)
{
    return stop_wait(&c->load_active, 0);
}

void
conn_load_join(DomConn *c)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&c->load_lock);

    for (guint i = 0; c->load_threads && i < c->load_threads->len; i++)
        g_thread_join(g_ptr_array_index(c->load_threads, i));
    g_clear_pointer(&c->load_threads, g_ptr_array_unref);
    g_clear_pointer(&c->load_doms, g_ptr_array_unref);
}

/* Load the XML of DOMS (virDomainPtr array, ownership taken) in the background. */
void
conn_load_start(DomConn *c, GPtrArray *doms)
{
    conn_load_join(c);
    g_mutex_lock(&c->load_lock);
    c->load_doms = doms;
    g_atomic_int_set(&c->load_next, 0);
    c->load_threads = g_ptr_array_new();
    for (guint i = 0; i < DOMFS_HOST_LOAD_THREADS && i < doms->len; i++) {
        g_atomic_int_inc(&c->load_active);
        g_ptr_array_add(c->load_threads, g_thread_new("conn-load", conn_load_main, c));
    }
    g_mutex_unlock(&c->load_lock);
}

/* While loaders run, they take UUID first; otherwise (its load failed, or it was never
 * part of a bulk load) the worker re-reads the whole domain. */
void
conn_want(DomConn *c, const char *uuid)
{
    if (g_atomic_int_get(&c->load_active) > 0)
        g_async_queue_push(c->wanted, g_strdup(uuid));
    else
        conn_push_job(c, CONN_JOB_REFRESH, uuid, NULL, NULL, NULL);
}
