/* conn.h - one libvirt connection: its domain cache kept fresh by domain events on
 * libvirt's event loop thread, a worker that refreshes snapshots, and reconnection. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "dom_cache.h"

typedef struct DomConn DomConn;

/* Register libvirt's event loop implementation and run it on its own thread. Must be called
 * once, before any connection is opened. 0 or -errno. */
int conn_event_loop_start(void);

/* Open URI (NULL: libvirt's default resolution, as virsh), load every domain, subscribe to
 * events. NAME (may be NULL) names the connection in a several-host tree; otherwise the
 * connection's hostname does. CHANGE_FN gets every cache change (see dom_cache.h). */
DomConn *conn_open(const char *name, const char *uri, DomCacheChangeFn change_fn,
                   void *opaque, GError **error);
void conn_close(DomConn *c);

DomCache *conn_cache(DomConn *c);
const char *conn_name(DomConn *c);
/* True when the URI names a host (qemu+ssh://h/system): its log paths are not ours. */
gboolean conn_is_remote(DomConn *c);
/* A line added to .domfs/connection (e.g. why console.log is empty). */
void conn_set_note(DomConn *c, const char *note);
/* The content of .domfs/connection. */
char *conn_describe(DomConn *c);
gboolean conn_is_connected(DomConn *c);
/* A new reference to the libvirt connection, or NULL while reconnecting (-> ENOTCONN). */
virConnectPtr conn_get_virt(DomConn *c);

/* The snapshot of the guest in directory DIRNAME with its XML loaded: after a bulk load
 * the XML comes in the background; this asks for this guest first and waits (bounded) for
 * it. A new reference, or NULL when the guest is gone. */
DomInfo *conn_get_loaded(DomConn *c, const char *dirname);
/* Re-read one domain from libvirt now and publish it with EVENT (may be NULL). Used after
 * a write so the new value is readable when the write returns. 0 or -errno. */
int conn_refresh_domain(DomConn *c, const char *uuid, const char *event);
/* Record a failed write on the guest's `error` file (and the daemon log). */
void conn_record_error(DomConn *c, const char *uuid, const char *file, int err,
                       const char *msg);
/* Publish a new migrate status line for the guest. */
void conn_set_migrate_status(DomConn *c, const char *uuid, const char *status);
