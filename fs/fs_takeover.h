/* fs_takeover.h - the serving process's side of crash survival and in-place upgrade.
 *
 * Why: a FUSE mount dies with the process that reads its /dev/fuse descriptor only if
 * that descriptor dies too. The supervisor (fs_super.h) keeps a duplicate, so when a
 * serving process dies or hands over, the next one serves the same connection: the
 * kernel's queue waits meanwhile, readers see a pause, never ENOTCONN. This module lets a
 * process (1) give a fresh mount's descriptor and its FUSE_INIT to the supervisor, or
 * (2) build a libfuse session on an inherited descriptor that believes it has seen
 * FUSE_INIT (libfuse 3.14 answers EIO to everything until it has, and the kernel sends
 * INIT once per connection: the saved INIT is replayed into the session and its reply
 * kept from the kernel), then (3) have the kernel re-queue the requests the dead process
 * had read but not answered (FUSE_NOTIFY_RESEND, Linux 6.9), and (4) stop serving on
 * request with what is in flight answered, for an upgrade.
 *
 * All reads and writes of /dev/fuse go through this module's libfuse custom I/O (no
 * splice; blocking reads). At a handover, the threads blocked in read(2) are woken with
 * the real-time signal SIGRTMIN+7 (a no-op handler; only ever sent then). Do not use
 * -o clone_fd (a cloned
 * descriptor's unanswered requests are failed with ECONNABORTED when its process dies)
 * nor -o auto_unmount (its helper unmounts when the first process dies).
 *
 * One supervised process has one Takeover; every function is a no-op returning success
 * when given NULL, so unsupervised (foreground) code needs no special case. */
#pragma once

#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct Takeover Takeover;

/* First thing in main, before any thread: NULL when this process was not started by a
 * supervisor. Takes the inherited descriptors (made close-on-exec), removes the
 * environment variable, and reads the supervisor's hello (no hello: the supervisor is
 * gone, the process exits 1; a supervisor of another protocol version: it exits
 * TAKEOVER_EXIT_CONFIG). */
Takeover *takeover_attach(void);

/* The supervisor's spawn count: 1 for the first process, +1 per restart or upgrade. */
uint64_t takeover_generation(const Takeover *tk);
/* True when the supervisor runs in the foreground (-f): keep stdio and log to stderr;
 * false in the background: detach stdio once serving and log to syslog, as without a
 * supervisor. */
bool takeover_foreground(const Takeover *tk);
/* True when the FUSE connection already exists: take it over, do not mount. */
bool takeover_has_connection(const Takeover *tk);
/* The inode store's memfd (for istore_open; owned by the supervisor's chain, never
 * close it). -1 without a supervisor. */
int takeover_store_fd(const Takeover *tk);

/* Start-up is done (libvirt connected, cache loaded). Blocks until this process may
 * serve: at once after a crash, or once the process it replaces has stopped (an upgrade:
 * the old one served meanwhile). Only then load the inode store. 0, or -EPIPE when the
 * supervisor is gone or called the upgrade off (exit then). */
int takeover_wait_turn(Takeover *tk);

/* A fresh mount: after fuse_session_mount(SE), before the loop. Routes SE's I/O through
 * this module (capturing FUSE_INIT and its reply for the supervisor) and gives the
 * supervisor a duplicate of the descriptor. 0 or -errno. */
int takeover_adopt_session(Takeover *tk, struct fuse_session *se);

/* A taken-over connection: a session on the inherited descriptor, already through
 * FUSE_INIT with the kernel's saved request (OP->init runs as usual; the reply never
 * reaches the kernel, which negotiated once). If the reply differs from the one the
 * first server gave (a new version wants other capabilities), that is logged: the
 * kernel keeps what was negotiated first. NULL on failure (logged). */
struct fuse_session *takeover_session_new(Takeover *tk, struct fuse_args *args,
                                          const struct fuse_lowlevel_ops *op,
                                          size_t op_size, void *userdata);

/* Have the kernel re-queue the requests that a dead or replaced server read and never
 * answered: they come again with FUSE_UNIQUE_RESEND in their unique. Also wakes every
 * poll() an earlier server was to wake (the caller polls again, reaching this server).
 * Call once the inode store is loaded and before the loop starts. 0 (also when nothing
 * was taken over), or -ENOSYS when the kernel cannot resend (before 6.9: those requests
 * are never answered and their callers wait until killed), or -errno. */
int takeover_resend(Takeover *tk);

/* Serving now (right before the loop, after fuse_set_signal_handlers): the first time,
 * the supervisor tells the shell that started domfs that the mount is up. Starts the
 * thread that waits for STOP, and ignores SIGHUP from now on (it is the supervisor's
 * signal; libfuse's handler would end the session and unmount). */
int takeover_ready(Takeover *tk);

/* Right after fuse_session_loop*() returns: when the loop ended for a handover this never
 * returns (the handover thread ends the process once what was in flight is answered);
 * otherwise it returns and the daemon shuts down as usual (takeover_unmount). */
void takeover_after_loop(Takeover *tk);

/* An orderly end (SIGTERM, SIGINT): unmount MOUNTPOINT. For a session that mounted this
 * is fuse_session_unmount(SE); a taken-over one has no libfuse mount record, so the mount
 * is detached the way libfuse does it (umount2 MNT_DETACH as root, else fusermount3 -u
 * -z). Unsupervised (TK NULL): fuse_session_unmount(SE). */
void takeover_unmount(Takeover *tk, struct fuse_session *se, const char *mountpoint);

/* Called on the handover thread after the last answer went out and before the process
 * ends (flush logs, nothing on /dev/fuse). */
typedef void (*TakeoverStopFn)(void *opaque);
void takeover_set_stop_fn(Takeover *tk, TakeoverStopFn fn, void *opaque);

/* From a request handler, on the thread libfuse called it on: the request waits for an
 * event (a blocking read of an event stream) and may be left unanswered at a handover;
 * the next server gets it again from the kernel. Requests not parked are waited for (at
 * most TAKEOVER_DRAIN_MS) before a handover completes. */
void takeover_park_current(void);
/* From a request handler: the request was sent again after a crash or a handover (an
 * earlier server may have started it: a non-idempotent write should not run twice). */
bool takeover_current_resent(void);

#define TAKEOVER_DRAIN_MS 5000
