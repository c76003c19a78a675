/* host.h - everything domfs keeps for one libvirt host, owned in one place: the
 * connection and its cache, the console logs it may read, its .domfs/events stream, its
 * statistics, the threads that make its writes' libvirt calls, its running migrations.
 * The tree owns the hosts; nothing else keeps per-host state. */
#pragma once

#include <glib.h>

#include "conn.h"
#include "cons_log.h"
#include "ev_stream.h"
#include "job.h"
#include "agent.h"
#include "stats.h"

typedef struct Host Host;
typedef struct MigJobs MigJobs;

/* What a host is built from (main.c fills it from the command line). */
typedef struct {
    const char *name;           /* -c NAME=URI, or NULL: the libvirt hostname */
    const char *uri;            /* NULL: libvirt's default */
    const char *log_root;       /* NULL: none */
    char **log_dirs;
    guint64 console_max;
    guint keepalive_interval;
    guint keepalive_count;
    guint stats_interval;
    guint agent_interval;
} HostConfig;

/* Called for every change of the host's cache (see dom_cache.h: only queue work). */
typedef void (*HostListener)(Host *h, const DomChange *ch, void *opaque);
/* Called after each statistics fetch (on the host's stats thread). */
typedef void (*HostStatsListener)(Host *h, void *opaque);

Host *host_new(guint index, const HostConfig *cfg, HostListener fn, void *opaque);
/* Before host_start: FN(H, OPAQUE) after each statistics fetch. */
void host_set_stats_listener(Host *h, HostStatsListener fn, void *opaque);
/* The first connection attempt (in this thread). 0 or -errno with *errmsg. */
int host_connect(Host *h, char **errmsg);
/* Decide the directory name (after the first attempt), then start the threads. */
void host_start(Host *h);
/* FALSE when some thread is stuck in a libvirt call (the host is then left behind). */
gboolean host_free(Host *h);

guint host_index(Host *h);
/* The directory name of the host in a several-host tree (escaped, unique). */
const char *host_name(Host *h);
void host_set_name(Host *h, const char *name);
/* The name the host would take: -c NAME, else its libvirt hostname, else its URI's host,
 * else "localhost" (escaped). */
char *host_wanted_name(Host *h);
/* The log root of a host matched by name (--log-root NAME=DIR with NAME its hostname):
 * only before host_start. */
void host_set_log_root(Host *h, const char *dir);
DomConn *host_conn(Host *h);
DomCache *host_cache(Host *h);
EvStream *host_events(Host *h);
JobRunner *host_jobs(Host *h);
Stats *host_stats(Host *h);
Agent *host_agent(Host *h);
MigJobs *host_migrations(Host *h);
/* The console log of snapshot D: *out NULL when it has none (or this host's logs are not
 * readable here: a remote host without log root). -EACCES when its path is outside the
 * allowed directories (logged once per guest and reason, never opened). */
int host_console(Host *h, const DomInfo *d, ConsLog **out);
/* The lines of .domfs/connection for this host. */
void host_describe(Host *h, GString *out);
