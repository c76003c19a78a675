/* stats.h - statistics of every running guest of a host, fetched in the background by one
 * virConnectGetAllDomainStats(NOWAIT) every -o stats_interval, never in a read. A fetch
 * makes an immutable, reference-counted snapshot; files and metrics render from the
 * latest one, and their mtime is its fetch time. */
#pragma once

#include <glib.h>

#include "conn.h"

/* A value libvirt may or may not report: `has` tells. */
typedef struct {
    guint64 v;
    gboolean has;
} StatsVal;

typedef enum {
    STATS_BLK_RD_BYTES, STATS_BLK_WR_BYTES, STATS_BLK_RD_REQS, STATS_BLK_WR_REQS,
    STATS_BLK_FL_REQS, STATS_BLK_RD_TIME_NS, STATS_BLK_WR_TIME_NS, STATS_BLK_FL_TIME_NS,
    STATS_BLK_CAPACITY, STATS_BLK_ALLOCATION, STATS_BLK_PHYSICAL,
    STATS_BLK_N
} StatsBlockKey;

typedef enum {
    STATS_NET_RX_BYTES, STATS_NET_RX_PKTS, STATS_NET_RX_ERRS, STATS_NET_RX_DROP,
    STATS_NET_TX_BYTES, STATS_NET_TX_PKTS, STATS_NET_TX_ERRS, STATS_NET_TX_DROP,
    STATS_NET_N
} StatsNetKey;

/* balloon.* keys, in KiB as libvirt reports them (faults are counts) */
typedef enum {
    STATS_MEM_CURRENT, STATS_MEM_MAXIMUM, STATS_MEM_AVAILABLE, STATS_MEM_USABLE,
    STATS_MEM_UNUSED, STATS_MEM_RSS, STATS_MEM_DISK_CACHES, STATS_MEM_SWAP_IN,
    STATS_MEM_SWAP_OUT, STATS_MEM_MAJOR_FAULT, STATS_MEM_MINOR_FAULT,
    STATS_MEM_N
} StatsMemKey;

/* room for the keys of either kind */
#define STATS_DEV_KEYS 11
G_STATIC_ASSERT((int)STATS_BLK_N <= STATS_DEV_KEYS && (int)STATS_NET_N <= STATS_DEV_KEYS);

typedef struct {
    char *name;                     /* block: target dev (vda); net: target (vnet0) */
    StatsVal v[STATS_DEV_KEYS];
} StatsDev;

typedef struct {
    int state;                      /* virVcpuState */
    StatsVal time_ns;
    StatsVal wait_ns;
    StatsVal delay_ns;
} StatsVcpu;

typedef struct {
    StatsVal cpu_ns;
    StatsVal user_ns;
    StatsVal system_ns;
    GArray *vcpus;                  /* StatsVcpu, by vCPU number */
    StatsVal mem[STATS_MEM_N];
    GPtrArray *blocks;              /* StatsDev */
    GPtrArray *nets;                /* StatsDev */
} StatsDom;

typedef struct {
    gint64 fetched;                 /* real time (µs) of the fetch */
    GHashTable *by_uuid;            /* uuid -> StatsDom, running guests only */
} StatsSnap;

StatsSnap *stats_snap_ref(StatsSnap *s);
void stats_snap_unref(StatsSnap *s);
const StatsDom *stats_snap_get(const StatsSnap *s, const char *uuid);
const StatsDev *stats_dom_block(const StatsDom *d, const char *name);
/* The snapshot made from RECS (tests feed it from the test driver). */
StatsSnap *stats_snap_from_records(virDomainStatsRecordPtr *recs, int n, gint64 fetched);

typedef struct Stats Stats;
/* Called after each fetch with the new snapshot (on the stats thread). */
typedef void (*StatsListener)(StatsSnap *snap, void *opaque);

/* INTERVAL_S 0: no background fetch (the snapshot stays empty). */
Stats *stats_new(DomConn *conn, guint interval_s, StatsListener fn, void *opaque);
void stats_start(Stats *st);
gboolean stats_free(Stats *st);
/* The latest snapshot (a new reference; an empty one before the first fetch). */
StatsSnap *stats_get(Stats *st);
/* Fetch now, in this thread (tests; start-up). 0 or -errno. */
int stats_fetch_now(Stats *st);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(StatsSnap, stats_snap_unref)
