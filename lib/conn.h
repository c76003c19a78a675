/* conn.h - one libvirt connection: its domain cache kept fresh by domain events, a worker
 * that refreshes snapshots and reconnects, a background loader of guests' XML, and the
 * connection's health (connected, stalled, reconnecting) as users see it in
 * .domfs/connection. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "dom_cache.h"

typedef struct DomConn DomConn;

typedef enum {
    CONN_CONNECTED,
    CONN_STALLED,        /* connected, but a call has had no answer for a keepalive interval */
    CONN_RECONNECTING,   /* not connected; retrying */
} ConnStatus;

typedef struct {
    const char *uri;              /* NULL: libvirt's default resolution, as virsh */
    guint keepalive_interval;     /* seconds; 0: libvirt's keepalive off */
    guint keepalive_count;
    DomCacheListener listener;    /* gets every cache change */
    void *listener_opaque;
} ConnConfig;

/* Register libvirt's event loop implementation and run it on its own thread. Must be called
 * once, before any connection is opened. 0 or -errno. */
int conn_event_loop_start(void);

/* A connection that is not connected yet (status reconnecting). */
DomConn *conn_new(const ConnConfig *cfg);
/* One attempt to connect and load every domain, in this thread. 0 or -errno (*errmsg). */
int conn_connect(DomConn *c, char **errmsg);
/* Start the worker: events are applied from now on, and a connection that is not (or no
 * longer) connected is retried in the background. */
void conn_start(DomConn *c);
/* Stop and free. FALSE when a thread of the connection is stuck in a libvirt call (a host
 * that stopped answering): the connection is then left as it is, not freed. */
gboolean conn_close(DomConn *c);

DomCache *conn_cache(DomConn *c);
/* The libvirt hostname as of the last connection (NULL if it never connected). */
char *conn_hostname(DomConn *c);
/* True when the URI names a host (qemu+ssh://h/system): its log paths are not ours. */
gboolean conn_is_remote(DomConn *c);
ConnStatus conn_status(DomConn *c, gint64 *since_us);
gboolean conn_is_connected(DomConn *c);
/* The connection's lines of .domfs/connection (uri, hostname, driver, libvirt, status,
 * last_error, guests). */
void conn_describe(DomConn *c, GString *out);
/* Whether a connection was ever opened (the host answered; its load may still run). */
gboolean conn_was_opened(DomConn *c);
/* A new reference to the libvirt connection, or NULL while reconnecting (-> ENOTCONN). */
virConnectPtr conn_get_virt(DomConn *c);

/* Calls that may block on libvirt are bracketed so a stall can be seen: a call with no
 * answer for a keepalive interval (conn_call_begin) or for LIMIT_US (a write's -o timeout)
 * makes the status "stalled" until it returns. */
typedef struct ConnCall ConnCall;
ConnCall *conn_call_begin(DomConn *c);
ConnCall *conn_call_begin_within(DomConn *c, gint64 limit_us);
void conn_call_end(DomConn *c, ConnCall *call);

/* Re-read one domain from libvirt now (in this thread) and publish it with EVENT (may be
 * NULL). Used after a write so the new value is readable when the write returns. 0 or
 * -errno. */
int conn_refresh_domain(DomConn *c, const char *uuid, const char *event);
/* Ask the background loader to load the XML of UUID before the others. */
void conn_want(DomConn *c, const char *uuid);
