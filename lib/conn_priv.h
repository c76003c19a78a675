/* conn_priv.h - the DomConn record, shared by conn.c (lifecycle, worker, health),
 * conn_events.c (libvirt's event callbacks) and conn_load.c (background XML load). */
#pragma once

#include "conn.h"

typedef enum {
    CONN_JOB_REFRESH,
    CONN_JOB_LOST,
    CONN_JOB_STOP,
} ConnJobKind;

typedef struct {
    ConnJobKind kind;
    char uuid[VIR_UUID_STRING_BUFLEN];
    virDomainPtr dom;      /* the event's domain (a reference), or NULL */
    char *name;            /* the domain's name when the event came */
    char *event;
} ConnJob;

struct ConnCall {
    gint64 started;        /* monotonic µs */
    gint64 limit;          /* µs without an answer after which the connection is stalled */
};

struct DomConn {
    guint id;                /* in the event registry; the event callbacks' opaque */
    char *uri_requested;     /* NULL: libvirt default */
    guint keepalive_interval;
    guint keepalive_count;
    DomCache *cache;

    GMutex lock;             /* guards everything below up to `jobs` */
    virConnectPtr vc;        /* NULL while reconnecting */
    gboolean ever_connected;
    char *uri;               /* as libvirt reports it */
    char *hostname;
    char *libvirt_version;
    char *driver;
    GArray *callback_ids;    /* of int; only the connecting thread (and conn_close) */
    ConnStatus status;
    gint64 since;            /* real time (µs) the status began */
    char *last_error;        /* why the last (re)connect attempt failed */
    GPtrArray *calls;        /* ConnCall * in flight */

    GAsyncQueue *jobs;       /* ConnJob *, taken by the worker */
    GThread *worker;
    gint worker_done;        /* the worker returned (atomic) */
    gint opened;             /* a connection was opened once: the host answers (atomic) */
    GThread *prober;         /* one round trip per keepalive interval (conn.c) */
    GAsyncQueue *probe_stop; /* anything pushed here stops the prober */
    gint prober_done;        /* the prober returned (atomic) */
    guint watchdog;          /* timer id */

    /* the background XML load after a bulk load (conn_load.c) */
    GMutex load_lock;        /* guards the three below */
    GPtrArray *load_threads;
    GPtrArray *load_doms;    /* virDomainPtr of the bulk load, in order */
    gint load_next;          /* next index into load_doms (atomic) */
    gint load_active;        /* loader threads still running (atomic) */
    GAsyncQueue *wanted;     /* uuids readers wait for: loaded first */
    volatile gint stopping;
};

/* conn.c */
void conn_push_job(DomConn *c, ConnJobKind kind, const char *uuid, virDomainPtr dom,
                   const char *name, char *event);
/* conn_events.c */
void conn_registry_add(DomConn *c);
void conn_registry_remove(DomConn *c);
void conn_register_events(DomConn *c, virConnectPtr vc);
void conn_unregister_events(DomConn *c, virConnectPtr vc);
/* conn_load.c */
void conn_load_start(DomConn *c, GPtrArray *doms);
void conn_load_join(DomConn *c);
/* Wait (bounded, DOMFS_STOP_WAIT_US) until no loader runs; FALSE when one is stuck. */
gboolean conn_load_wait(DomConn *c);
