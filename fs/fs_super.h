/* fs_super.h - the supervisor: a tiny process that keeps the FUSE connection alive while
 * the processes serving it die, restart and get replaced.
 *
 * Why: the kernel ends a FUSE mount when the last descriptor of its /dev/fuse file is
 * closed, so a crash of the only holder is a dead mount for every bind mount of it (the
 * LXCFS problem). The supervisor holds a duplicate of that descriptor, the kernel's
 * FUSE_INIT as the first server answered it, and the inode store (fs_istore.h), and runs
 * the serving processes as children (fs_takeover.h is their side):
 *
 *   - a child that dies by a signal or exits non-zero is replaced at once by the binary
 *     at cfg->exe (resolved when domfs started, so an upgraded file is what runs); after
 *     crashes that come less than SUPER_STABLE_MS after serving began, the respawn backs
 *     off (100 ms doubling to SUPER_BACKOFF_MAX_MS), from the SUPER_FAIL_RESENT_AT-th on
 *     the new child answers the requests it is sent again with EIO (one of them may be
 *     what kills it), and at SUPER_QUICK_CRASH_LIMIT the supervisor gives up: it unmounts
 *     and exits 1;
 *   - SIGHUP upgrades in place: a new child starts from cfg->exe and prepares (libvirt,
 *     cache) while the old one serves; then the old one stops reading, answers what is in
 *     flight and exits, and the new one serves. A new binary that fails to start changes
 *     nothing (the old child serves on);
 *   - SIGTERM/SIGINT go to the serving child, which unmounts and exits; a child that exits
 *     0 (unmounted, or stopped) ends the supervisor, and so does the end of the
 *     connection itself (unmount by anyone: the supervisor sees POLLERR on its
 *     descriptor, which does not keep a superblock alive).
 *
 * The supervisor never execs itself: an upgrade replaces the serving code, not this loop
 * (fs_tkwire.h is the interface between versions). It holds no cwd in the mount, no file
 * of it, no thread, no libvirt. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define SUPER_STABLE_MS 1000
#define SUPER_BACKOFF_MAX_MS 5000
#define SUPER_FAIL_RESENT_AT 3
#define SUPER_QUICK_CRASH_LIMIT 5
#define SUPER_PREPARE_MAX_MS 120000     /* a new child's start-up, for an upgrade */
#define SUPER_STOP_GRACE_MS 3000         /* beyond TAKEOVER_DRAIN_MS, before SIGKILL */

typedef void (*SuperLogFn)(int priority, const char *message);

typedef struct {
    const char *exe;            /* absolute path of the binary children run */
    char *const *argv;          /* their argv (argv[0] included), absolute paths only:
                                 * children after the first run in / */
    const char *mountpoint;     /* absolute: unmounted when the supervisor gives up */
    size_t store_region_bytes;  /* 0: ISTORE_DEFAULT_REGION_BYTES */
    SuperLogFn log;             /* NULL: stderr until the first child serves, then syslog
                                 * (foreground: stderr) */
    bool foreground;            /* super_run in the started process (-f): stdio stays */
    /* The first child (at mount time: the same binary, this moment) runs this in the
     * forked process instead of exec'ing EXE, with descriptors and environment set as
     * for an exec: a program load (about 10 ms, a third of a 1000-guest start-up) saved.
     * Its return is the child's exit status. NULL: exec, as for every later child. */
    int (*first_child)(void *opaque);
    void *first_child_opaque;
} SuperConfig;

/* The absolute path of the running binary (/proc/self/exe), resolved now: a later package
 * upgrade renames a new file over it, and that new file is what children run. NULL if
 * unknown. g_free() it. */
char *super_resolve_exe(void);

/* Background mode: fork the supervisor and wait for the first child's verdict; the calling
 * process then exits with it (0 once the mount serves). Returns only if the fork fails
 * (-errno). Call it before any thread exists. */
int super_daemonize(const SuperConfig *cfg);

/* Be the supervisor in this process (foreground, -f: a service manager's main process, a
 * container's entrypoint). Call it before any thread exists. VERDICT_FD gets one byte,
 * the first child's verdict, then is closed (-1: none). Returns the exit status: after an
 * unmount or an orderly stop the last child's (0, or a sanitizer's report at its exit),
 * 1 when it gave up, the first child's when that one failed to start. */
int super_run(const SuperConfig *cfg, int verdict_fd);
