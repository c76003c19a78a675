# mount.sh - start domfs on a fresh mountpoint and always unmount it again.
#   domfs_mount MNT [domfs args...]   (foreground daemon in the background, waits until
#                                      the mount answers; DOMFS_PID is its pid)
#   domfs_umount MNT
# DOMFS_BIN is set by meson; the daemon's log goes to $MNT.log.
: "${DOMFS_BIN:?DOMFS_BIN not set (run through meson test)}"
DOMFS_MOUNTS=()

domfs_mount() {
    local mnt=$1; shift
    mkdir -p "$mnt"
    "$DOMFS_BIN" -f "$@" "$mnt" >"$mnt.log" 2>&1 &
    DOMFS_PID=$!
    DOMFS_MOUNTS+=("$mnt:$DOMFS_PID")
    local i
    for i in $(seq 1 200); do
        if mountpoint -q "$mnt" && [ -d "$mnt/.domfs" ]; then return 0; fi
        kill -0 "$DOMFS_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "# domfs did not mount $mnt:"; sed 's/^/#   /' "$mnt.log"
    return 1
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
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        echo "# domfs (pid $pid) did not exit 5 s after unmounting $mnt"
        # who still holds the mount (a copy in another mount namespace keeps it alive)
        for m in /proc/[0-9]*/mountinfo; do
            grep -qF " $mnt " "$m" 2>/dev/null || continue
            p=${m#/proc/}; p=${p%/mountinfo}
            echo "#   still mounted in the namespace of pid $p: $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-120)"
        done | head -5
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
    rm -rf "$TEST_TMP"
    [ "$DOMFS_DAEMON_FAILED" = 0 ] || exit 1
    exit $rc
}
trap domfs_exit_trap EXIT
