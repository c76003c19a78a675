/* domfs_limits.h - every limit and default of domfs, named and explained in one place.
 *
 * Why one file: a reader who wonders "how many of X can a user hold?" or "how long does Y
 * wait?" finds the answer here instead of in a literal somewhere in a function. Limits that
 * bound what a user can take (threads, descriptors, memory, log lines) say per what.
 */
#pragma once

#include <glib.h>

/* ---- what a user writes and reads ---- */
/* Largest write accepted on any file (EFBIG beyond): values are one line or a short text. */
#define DOMFS_WRITE_MAX 4096
/* Largest single read reply (FUSE caps it lower anyway; this bounds our buffers). */
#define DOMFS_READ_MAX (1024 * 1024)
/* Longest path component (NAME_MAX): longer guest names are cut and hashed. */
#define DOMFS_NAME_MAX 255

/* ---- requests waiting inside domfs (per uid: one user cannot starve another) ---- */
/* Blocked reads (.domfs/events with nothing to read) and lookups waiting for a guest's XML
 * to load, per uid; beyond it a read gets EAGAIN. Each costs ~200 bytes. */
#define DOMFS_WAITS_PER_UID 4096
/* Writes waiting for libvirt (state, autostart, title, ..., migrate), per uid; beyond it a
 * write gets EAGAIN. Each holds at most DOMFS_WRITE_MAX bytes. */
#define DOMFS_WRITES_PER_UID 256
/* Open files one user may hold in domfs (each costs domfs memory: its rendered content).
 * An agent that keeps every guest's state open over a 20 x 500 fleet needs 10000. */
#define DOMFS_OPENS_PER_UID 32768
/* After an interrupt (Ctrl-C) of a write whose libvirt call cannot be taken back (a
 * migration being aborted), how long the writer may wait for the call to end before it
 * gets EINTR and the outcome goes to `error`/`migrate` only. */
#define DOMFS_INTERRUPT_GRACE_US (2 * G_USEC_PER_SEC)

/* ---- threads ---- */
/* FUSE worker threads: handlers never sleep, so these only bound CPU parallelism. */
#define DOMFS_FUSE_MAX_THREADS 64
#define DOMFS_FUSE_IDLE_THREADS 8
/* Per host: threads that make the libvirt calls of writes. A stalled host holds at most
 * these; further writes queue (and time out) without holding a thread. */
#define DOMFS_HOST_ACTION_THREADS 4
/* Per host: threads loading guests' XML in the background after a (re)load. */
#define DOMFS_HOST_LOAD_THREADS 4
/* Start-up with several hosts: once one host is up, wait at most this long for the others'
 * first attempt before mounting (they go on connecting in the background). */
#define DOMFS_START_WAIT_US (10 * G_USEC_PER_SEC)
/* Once a host is up, the others' first attempts are waited for as long again as the
 * start-up took so far, at least this long after the last attempt that ended (a host on a
 * LAN answers within milliseconds), at most DOMFS_START_WAIT_US. */
#define DOMFS_START_GRACE_MIN_US (250 * G_TIME_SPAN_MILLISECOND)
/* Past -o timeout with no host up but one answering and still loading: how often the
 * start-up looks again. */
#define DOMFS_START_LOADING_POLL_US (100 * G_TIME_SPAN_MILLISECOND)

/* At shutdown, how long a host's threads get to stop; a thread stuck in a libvirt call to
 * a host that stopped answering is then left behind (the process is exiting). */
#define DOMFS_STOP_WAIT_US (2 * G_USEC_PER_SEC)

/* ---- libvirt connections ---- */
/* Reconnection delay: doubles from MIN to MAX after each failed attempt. */
#define DOMFS_RECONNECT_MIN_MS 250
#define DOMFS_RECONNECT_MAX_MS 2000
/* -o timeout: a write libvirt has not answered after this many seconds fails ETIMEDOUT. */
#define DOMFS_DEFAULT_TIMEOUT_S 10
/* -o keepalive=INTERVAL,COUNT: libvirt's keepalive (a stall shows after INTERVAL, the
 * connection is dropped after INTERVAL * (COUNT + 1)). */
#define DOMFS_DEFAULT_KEEPALIVE_INTERVAL_S 5
#define DOMFS_DEFAULT_KEEPALIVE_COUNT 3
/* -o stats_interval and -o agent_interval defaults (seconds; 0 turns them off). */
#define DOMFS_DEFAULT_STATS_INTERVAL_S 5
#define DOMFS_DEFAULT_AGENT_INTERVAL_S 30
/* How long a guest agent may take to answer one command (virDomainAgentSetResponseTimeout). */
#define DOMFS_AGENT_RESPONSE_TIMEOUT_S 5
/* A connected agent that did not answer is asked again after 1, 2, 4 ... passes of
 * -o agent_interval, at most this many (or at once when it reconnects). */
#define DOMFS_AGENT_BACKOFF_MAX_PASSES 8
/* At most this many users and filesystems an agent reports are shown (a guest's count is
 * its own word: it never sizes a loop unbounded). */
#define DOMFS_AGENT_ITEMS_MAX 4096
/* Migration progress is polled this often while a migration runs. */
#define DOMFS_MIGRATE_POLL_US (500 * G_TIME_SPAN_MILLISECOND)

/* ---- memory ---- */
/* .domfs/events keeps this many lines; a reader further behind gets "overflow N". */
#define DOMFS_EVENTS_RING 4096
/* metrics.prom is re-rendered at most this often while nothing changed. */
#define DOMFS_METRICS_REUSE_US G_USEC_PER_SEC
/* Domain XML larger than this is refused (libxml2 parse bound). */
#define DOMFS_XML_MAX ((size_t)16 * 1024 * 1024)
/* Distinct "logged once" keys remembered (refused console logs...); beyond it the oldest
 * are forgotten and may be logged again. */
#define DOMFS_LOG_ONCE_MAX 4096

/* ---- console.log ---- */
/* -o console_max default: virtlogd's default max_size. */
#define DOMFS_DEFAULT_CONSOLE_MAX 131072
/* Upper bound of -o console_max. */
#define DOMFS_CONSOLE_MAX_MAX ((guint64)1 << 30)
/* Rotated files looked at: NAME, NAME.0 ... NAME.(BACKUPS-1). */
#define DOMFS_CONSOLE_MAX_BACKUPS 64
/* Logs tracked at once (an idle one is evicted beyond it). */
#define DOMFS_CONSOLE_MAX_LOGS 4096
/* A tracked log no one has open is evictable after this long. */
#define DOMFS_CONSOLE_IDLE_US ((gint64)60 * G_USEC_PER_SEC)
/* Descriptors of console log files kept open across reads, whatever the number of open
 * console.log handles: the least recently used is closed beyond it (and reopened by name
 * and identity when needed), so readers cannot exhaust the daemon's descriptors. */
#define DOMFS_CONSOLE_FD_CACHE 256
