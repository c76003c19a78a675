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

domfs_umount() {
    local mnt=$1 entry pid
    for entry in "${DOMFS_MOUNTS[@]}"; do
        [ "${entry%%:*}" = "$mnt" ] && pid=${entry##*:}
    done
    fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null
    if [ -n "${pid:-}" ]; then
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        kill -9 "$pid" 2>/dev/null
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
trap 'domfs_cleanup; rm -rf "$TEST_TMP"' EXIT
