/* conn_events.c - libvirt's domain event callbacks. They run on libvirt's event loop
 * thread and only ever queue a job for the connection's worker: "refresh this domain",
 * carrying the event's words for the .domfs/events line, or "the connection was lost".
 *
 * What a callback holds is a connection number, not a pointer: a DomConn can be closed
 * while a callback runs (deregistering does not wait for it, and libvirt may release a
 * callback's data only at its next dispatch), so callbacks look their connection up in a
 * registry that conn_close leaves first. */
#define G_LOG_DOMAIN "domfs-conn"

#include "conn_priv.h"

#include <libvirt/virterror.h>

#include "verr.h"

static GMutex conn_registry_lock;    /* guards the two below */
static GHashTable *conn_registry;    /* id -> DomConn */
static guint conn_registry_next;

void
conn_registry_add(DomConn *c)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&conn_registry_lock);

    if (!conn_registry)
        conn_registry = g_hash_table_new(g_direct_hash, g_direct_equal);
    c->id = ++conn_registry_next;
    g_hash_table_insert(conn_registry, GUINT_TO_POINTER(c->id), c);
}

void
conn_registry_remove(DomConn *c)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&conn_registry_lock);

    g_hash_table_remove(conn_registry, GUINT_TO_POINTER(c->id));
}

static void
conn_registry_push(void *opaque, ConnJobKind kind, virDomainPtr dom, char *event)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&conn_registry_lock);
    DomConn *c = conn_registry ? g_hash_table_lookup(conn_registry, opaque) : NULL;
    char uuid[VIR_UUID_STRING_BUFLEN] = "";

    if (!c || (dom && virDomainGetUUIDString(dom, uuid) < 0)) {
        g_free(event);
        return;
    }
    conn_push_job(c, kind, uuid, dom, dom ? virDomainGetName(dom) : NULL, event);
}

static void
conn_push_dom(void *opaque, virDomainPtr dom, char *event)
{
    conn_registry_push(opaque, CONN_JOB_REFRESH, dom, event);
}

/* ---- the words of lifecycle events (libvirt's enums, in order) ---- */

static const char *const conn_lifecycle_events[] = {
    "defined", "undefined", "started", "suspended", "resumed", "stopped",
    "shutdown", "pmsuspended", "crashed",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conn_lifecycle_events) == VIR_DOMAIN_EVENT_CRASHED + 1);

#define CONN_MAX_DETAILS 9
static const char *const conn_lifecycle_details[][CONN_MAX_DETAILS] = {
    { "added", "updated", "renamed", "from-snapshot" },
    { "removed", "renamed" },
    { "booted", "migrated", "restored", "from-snapshot", "wakeup" },
    { "paused", "migrated", "ioerror", "watchdog", "restored", "from-snapshot",
      "api-error", "postcopy", "postcopy-failed" },
    { "unpaused", "migrated", "from-snapshot", "postcopy", "postcopy-failed" },
    { "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
      "from-snapshot" },
    { "finished", "guest", "host" },
    { "memory", "disk" },
    { "panicked", "crashloaded" },
};
G_STATIC_ASSERT(G_N_ELEMENTS(conn_lifecycle_details) == G_N_ELEMENTS(conn_lifecycle_events));

static int
conn_on_lifecycle(virConnectPtr vc, virDomainPtr dom, int event, int detail, void *opaque)
{
    const char *eword = "unknown";
    const char *dword = "unknown";

    if (event >= 0 && event < (int)G_N_ELEMENTS(conn_lifecycle_events)) {
        eword = conn_lifecycle_events[event];
        if (detail >= 0 && detail < CONN_MAX_DETAILS && conn_lifecycle_details[event][detail])
            dword = conn_lifecycle_details[event][detail];
    }
    conn_push_dom(opaque, dom, g_strdup_printf("lifecycle %s %s", eword, dword));
    return 0;
}

static void
conn_on_reboot(virConnectPtr vc, virDomainPtr dom, void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup("reboot -"));
}

static void
conn_on_device_added(virConnectPtr vc, virDomainPtr dom, const char *alias, void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("device-added %s", alias));
}

static void
conn_on_device_removed(virConnectPtr vc, virDomainPtr dom, const char *alias, void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("device-removed %s", alias));
}

static void
conn_on_tray_change(virConnectPtr vc, virDomainPtr dom, const char *alias, int reason,
                    void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("tray-change %s %s", alias,
                  reason == VIR_DOMAIN_EVENT_TRAY_CHANGE_OPEN ? "open" : "close"));
}

static void
conn_on_disk_change(virConnectPtr vc, virDomainPtr dom, const char *old_src,
                    const char *new_src, const char *alias, int reason, void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("disk-change %s", alias));
}

static void
conn_on_metadata_change(virConnectPtr vc, virDomainPtr dom, int type, const char *nsuri,
                        void *opaque)
{
    static const char *const types[] = { "description", "title", "element" };

    conn_push_dom(opaque, dom, g_strdup_printf("metadata-change %s",
                  type >= 0 && type < (int)G_N_ELEMENTS(types) ? types[type] : "unknown"));
}

static void
conn_on_balloon_change(virConnectPtr vc, virDomainPtr dom, unsigned long long actual,
                       void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("balloon-change %llu", actual));
}

static void
conn_on_job_completed(virConnectPtr vc, virDomainPtr dom, virTypedParameterPtr params,
                      int nparams, void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup("job-completed -"));
}

static void
conn_on_agent_lifecycle(virConnectPtr vc, virDomainPtr dom, int state, int reason,
                        void *opaque)
{
    conn_push_dom(opaque, dom, g_strdup_printf("agent-lifecycle %s",
                  state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED
                      ? "connected" : "disconnected"));
}

static void
conn_on_close(virConnectPtr vc, int reason, void *opaque)
{
    conn_registry_push(opaque, CONN_JOB_LOST, NULL, NULL);
}

static const struct {
    int id;
    virConnectDomainEventGenericCallback cb;
} conn_event_table[] = {
    { VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(conn_on_lifecycle) },
    { VIR_DOMAIN_EVENT_ID_REBOOT, VIR_DOMAIN_EVENT_CALLBACK(conn_on_reboot) },
    { VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_CALLBACK(conn_on_device_added) },
    { VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_CALLBACK(conn_on_device_removed) },
    { VIR_DOMAIN_EVENT_ID_TRAY_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(conn_on_tray_change) },
    { VIR_DOMAIN_EVENT_ID_DISK_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(conn_on_disk_change) },
    { VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
      VIR_DOMAIN_EVENT_CALLBACK(conn_on_metadata_change) },
    { VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE, VIR_DOMAIN_EVENT_CALLBACK(conn_on_balloon_change) },
    { VIR_DOMAIN_EVENT_ID_JOB_COMPLETED, VIR_DOMAIN_EVENT_CALLBACK(conn_on_job_completed) },
    { VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
      VIR_DOMAIN_EVENT_CALLBACK(conn_on_agent_lifecycle) },
};

/* With c->lock held. */
void
conn_register_events(DomConn *c, virConnectPtr vc)
{
    for (size_t i = 0; i < G_N_ELEMENTS(conn_event_table); i++) {
        int id = virConnectDomainEventRegisterAny(vc, NULL, conn_event_table[i].id,
                                                  conn_event_table[i].cb,
                                                  GUINT_TO_POINTER(c->id), NULL);

        if (id < 0) {
            /* an older or limited driver lacks some events: the others still work */
            g_autofree char *msg = NULL;

            verr_take(&msg);
            g_debug("event %d not available: %s", conn_event_table[i].id, msg);
            continue;
        }
        g_array_append_val(c->callback_ids, id);
    }
    if (virConnectRegisterCloseCallback(vc, conn_on_close, GUINT_TO_POINTER(c->id), NULL) < 0)
        virResetLastError();
}

void
conn_unregister_events(DomConn *c, virConnectPtr vc)
{
    for (guint i = 0; i < c->callback_ids->len; i++)
        virConnectDomainEventDeregisterAny(vc, g_array_index(c->callback_ids, int, i));
    g_array_set_size(c->callback_ids, 0);
    virConnectUnregisterCloseCallback(vc, conn_on_close);
    virResetLastError();
}
