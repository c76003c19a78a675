# mount.sh - start domfs on a fresh mountpoint and always unmount it again.
#   domfs_mount MNT [domfs args...]   (foreground daemon in the background, waits until
#                                      the mount answers, at most DOMFS_MOUNT_TIMEOUT s or
#                                      until the daemon exits; DOMFS_PID is the process
#                                      serving the mount (its memory, threads, descriptors),
#                                      DOMFS_SUPER_PID the one started, its supervisor: the
#                                      shell's child, so `wait` it for the exit status)
#   domfs_umount MNT
#   domfs_logs                        prints the tail of every daemon's log ($MNT.log);
#                                     done at exit when the test failed
# Why: every mount test needs a daemon that is really serving before its first check, its
# log when something went wrong, and no mount or daemon left behind.
# DOMFS_BIN is set by meson; the daemon's log goes to $MNT.log.
: "${DOMFS_BIN:?DOMFS_BIN not set (run through meson test)}"
# As root, the test runs in a mount namespace of its own (re-executed here, before any
# output): its FUSE mounts then exist nowhere else. A namespace that another program
# creates from the machine's (a container, a private libvirtd, someone else's test) copies
# every mount there is at that moment, and such a copy of a test's mount keeps the daemon
# alive after the test unmounted it ("did not exit after unmounting").
if [ -z "${DOMFS_TEST_MNTNS:-}" ] && [ "$(id -u)" = 0 ] &&
   unshare -m --propagation private true 2>/dev/null; then
    export DOMFS_TEST_MNTNS=1
    exec unshare -m --propagation private "$BASH" "$0" "$@"
fi
DOMFS_MOUNT_TIMEOUT=60      # seconds a daemon may take to serve its mount
DOMFS_EXIT_TIMEOUT=15       # seconds a daemon may take to exit after its unmount
DOMFS_LOG_LINES=40          # lines of a daemon's log printed on failure
DOMFS_LOGS=()               # every daemon log of this test
DOMFS_MOUNTS=()

domfs_mount() {
    local mnt=$1; shift
    mkdir -p "$mnt"
    "$DOMFS_BIN" -f "$@" "$mnt" >"$mnt.log" 2>&1 &
    DOMFS_PID=$! DOMFS_SUPER_PID=$!
    DOMFS_MOUNTS+=("$mnt:$DOMFS_PID")
    DOMFS_LOGS+=("$mnt.log")
    local end=$(( $(date +%s) + DOMFS_MOUNT_TIMEOUT )) child
    while [ "$(date +%s)" -lt "$end" ]; do
        if mountpoint -q "$mnt" && [ -d "$mnt/.domfs" ]; then
            # what tests measure (memory, threads, descriptors) is the serving process
            child=$(pgrep -P "$DOMFS_SUPER_PID" -x domfs | head -1)
            DOMFS_PID=${child:-$DOMFS_SUPER_PID}
            return 0
        fi
        kill -0 "$DOMFS_PID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$DOMFS_PID" 2>/dev/null; then
        echo "# domfs (pid $DOMFS_PID) did not serve $mnt within $DOMFS_MOUNT_TIMEOUT s:"
    else
        echo "# domfs exited before serving $mnt:"
    fi
    sed 's/^/#   /' "$mnt.log" | tail -n "$DOMFS_LOG_LINES"
    return 1
}

domfs_logs() {
    local f
    for f in "${DOMFS_LOGS[@]}"; do
        [ -s "$f" ] || continue
        echo "# ---- last $DOMFS_LOG_LINES lines of $f"
        tail -n "$DOMFS_LOG_LINES" "$f" | cut -c1-300 | sed 's/^/#   /'
    done
}

# domfs_holders MNT: the processes whose mount namespace still has MNT mounted (a namespace
# created while the mount existed keeps a copy, which keeps the daemon's connection alive
# after our unmount); printed when a daemon does not exit
domfs_holders() {
    grep -l -F " $1 " /proc/[0-9]*/mountinfo 2>/dev/null | while read -r f; do
        p=${f#/proc/}; p=${p%%/*}
        echo "#   pid $p ($(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-120)) mnt ns $(readlink "/proc/$p/ns/mnt" 2>/dev/null)"
    done | head -20
}

# Unmount and check the daemon: it must exit by itself, with status 0 (under the
# sanitizers a memory error or leak makes that status non-zero).
DOMFS_DAEMON_FAILED=0
domfs_umount() {
    local mnt=$1 entry pid="" keep=() rc
    for entry in "${DOMFS_MOUNTS[@]}"; do
        if [ "${entry%%:*}" = "$mnt" ]; then pid=${entry##*:}; else keep+=("$entry"); fi
    done
    DOMFS_MOUNTS=("${keep[@]}")
    fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
    [ -n "$pid" ] || return 0
    local end=$(( $(date +%s%N) / 1000000 + DOMFS_EXIT_TIMEOUT * 1000 ))
    while kill -0 "$pid" 2>/dev/null && [ $(( $(date +%s%N) / 1000000 )) -lt "$end" ]; do
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "# domfs (pid $pid) did not exit $DOMFS_EXIT_TIMEOUT s after unmounting $mnt;" \
             "processes that still have it mounted (ours: $(readlink /proc/self/ns/mnt)):"
        domfs_holders "$mnt"
        echo "# its threads:"
        if command -v gdb >/dev/null; then
            timeout 20 gdb -q -batch -p "$pid" -ex 'thread apply all bt 12' 2>/dev/null |
                grep -E '^(Thread|#)' | sed 's/^/#   /' | head -150
        fi
        kill -9 "$pid" 2>/dev/null
        DOMFS_DAEMON_FAILED=1
    fi
    wait "$pid" 2>/dev/null; rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 127 ]; then
        echo "# domfs (pid $pid) exited with status $rc; its log:"
        sed 's/^/#   /' "$mnt.log" | tail -40
        DOMFS_DAEMON_FAILED=1
    fi
    # the supervisor replaces a serving process that dies (a crash, a sanitizer's abort):
    # unless the test kills it on purpose (DOMFS_EXPECT_TAKEOVER=1), that is a failure the
    # exit status alone would hide
    if [ -z "${DOMFS_EXPECT_TAKEOVER:-}" ] && grep -q ': taking its connection over' "$mnt.log"; then
        echo "# a serving process of $mnt died under the test; the log:"
        grep -B5 -A3 ': taking its connection over' "$mnt.log" | sed 's/^/#   /' | head -60
        DOMFS_DAEMON_FAILED=1
    fi
    return 0
}

domfs_cleanup() {
    local entry
    for entry in "${DOMFS_MOUNTS[@]}"; do domfs_umount "${entry%%:*}"; done
    DOMFS_MOUNTS=()
}
trap domfs_cleanup EXIT

# A scratch directory for the test, removed at exit.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/domfs-test.XXXXXX")
domfs_exit_trap() {
    local rc=$?
    domfs_cleanup
    [ "$rc" = 0 ] || [ "$rc" = 77 ] || { echo "# the test failed: domfs's logs"; domfs_logs; }
    rm -rf "$TEST_TMP"
    [ "$DOMFS_DAEMON_FAILED" = 0 ] || exit 1
    exit $rc
}
trap domfs_exit_trap EXIT
