#!/bin/bash
# The command line as a new user meets it (issue 13): uid=/gid= take names as well as
# numbers; a mount point that is not a directory is refused with a clear message; a second
# domfs on a directory where domfs is already mounted is refused unless -o nonempty; with
# no -c, a default URI that does not answer gives an error naming that URI and suggesting
# -c test:///default; no MOUNTPOINT gives an error, not only the usage. Every refusal must
# exit non-zero before detaching and leave nothing mounted.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
[ "$(id -u)" = 0 ] || skip_all "needs root (files owned by other users)"
CLI_TIMEOUT=30      # seconds one refused start may take before it counts as hanging

# refused ARGS...: runs domfs (in the background mode a user runs, bounded); sets OUT and RC
refused() { OUT=$(timeout "$CLI_TIMEOUT" "$DOMFS_BIN" "$@" 2>&1); RC=$?; }
# mounts_on PATH: how many mounts sit on PATH
mounts_on() { awk -v p="$1" '$2 == p' /proc/self/mounts | wc -l; }
# unmount_all PATH: removes whatever a wrongly successful start left on PATH
unmount_all() { while [ "$(mounts_on "$1")" -gt 0 ]; do fusermount3 -u "$1" 2>/dev/null || umount -l "$1" || break; done; }

# ---- uid= and gid= by name
M=$TEST_TMP/names
if domfs_mount "$M" -c test:///default -o uid=nobody,gid=root; then
    tap_ok 0 "-o uid=nobody,gid=root mounts"
    is "$(stat -c '%U %G' "$M/test/state")" "nobody root" "files belong to nobody:root"
    is "$(stat -c '%u %g' "$M/test")" "$(id -u nobody) 0" "directories too (numeric: $(id -u nobody) 0)"
    domfs_umount "$M"
else
    tap_ok 1 "-o uid=nobody,gid=root mounts"
fi
M=$TEST_TMP/numbers
if domfs_mount "$M" -c test:///default -o "uid=$(id -u nobody),gid=0"; then
    is "$(stat -c '%U %G' "$M/test/state")" "nobody root" "the same with numbers"
    domfs_umount "$M"
else
    tap_ok 1 "-o uid=N,gid=N mounts"
fi
if getent group libvirt >/dev/null; then
    M=$TEST_TMP/readme
    if domfs_mount "$M" -c test:///default -o allow_other,gid=libvirt,umask=007; then
        is "$(stat -c '%G %a' "$M/test/state")" "libvirt 660" "the README's -o allow_other,gid=libvirt,umask=007: group libvirt, 0660"
        domfs_umount "$M"
    else
        tap_ok 1 "the README's -o allow_other,gid=libvirt,umask=007 mounts"
    fi
else
    echo "ok $((TAP_N += 1)) - the README's gid=libvirt example # SKIP no group libvirt here"
fi
M=$TEST_TMP/badname; mkdir -p "$M"
refused -c test:///default -o uid=no-such-user-domfs "$M"
[ "$RC" != 0 ]; tap_ok $? "an unknown user name is refused (status $RC)" "$OUT"
like "$OUT" "no-such-user-domfs" "the message names it: $(head -1 <<<"$OUT")"
is "$(mounts_on "$M")" 0 "nothing mounted"
unmount_all "$M"

# ---- a mount point that is not a directory
F=$TEST_TMP/regular-file; echo data > "$F"
refused -c test:///default "$F"
[ "$RC" != 0 ]; tap_ok $? "mount on a regular file is refused (status $RC)" "$OUT"
like "$OUT" "[Nn]ot a directory" "the message says it is not a directory: $(head -1 <<<"$OUT")"
like "$OUT" "$F" "and names it"
is "$(mounts_on "$F")" 0 "nothing mounted on the file"
unmount_all "$F"
is "$(cat "$F")" "data" "the file is untouched"
refused -c test:///default "$TEST_TMP/does-not-exist"
[ "$RC" != 0 ]; tap_ok $? "mount on a missing path is refused (status $RC)" "$OUT"
like "$OUT" "does-not-exist" "the message names it: $(head -1 <<<"$OUT")"

# ---- a second domfs on the same directory
M=$TEST_TMP/twice
if domfs_mount "$M" -c test:///default; then
    first=$DOMFS_PID
    refused -c test:///default "$M"
    [ "$RC" != 0 ]; tap_ok $? "a second mount on the same directory is refused (status $RC)" "$OUT"
    like "$OUT" "already" "the message says domfs is already mounted there: $(head -1 <<<"$OUT")"
    is "$(mounts_on "$M")" 1 "one mount only, not two stacked"
    [ "$(mounts_on "$M")" -gt 1 ] && fusermount3 -u "$M"
    kill -0 "$first" 2>/dev/null; tap_ok $? "the first daemon still serves"
    is "$(timeout 10 cat "$M/test/state" 2>&1)" "running" "and its tree answers"
    refused -c test:///default -o nonempty "$M"
    tap_ok "$RC" "-o nonempty: the second mount is allowed" "$OUT"
    is "$(mounts_on "$M")" 2 "two mounts stacked on purpose"
    [ "$RC" = 0 ] && ok "unmount the second" fusermount3 -u "$M"
    domfs_umount "$M"
    unmount_all "$M"
else
    tap_ok 1 "first mount for the double-mount check"
fi

# ---- no -c: the default URI that was tried is named, test:///default suggested
DEAD="test+unix:///default?socket=$TEST_TMP/no-daemon/libvirt-sock"
M=$TEST_TMP/nouri; mkdir -p "$M"
OUT=$(LIBVIRT_DEFAULT_URI=$DEAD timeout "$CLI_TIMEOUT" "$DOMFS_BIN" "$M" 2>&1); RC=$?
[ "$RC" != 0 ]; tap_ok $? "no -c, LIBVIRT_DEFAULT_URI at a dead socket: refused (status $RC)" "$OUT"
like "$OUT" "$(printf '%s' "$DEAD" | sed 's/[?+.]/\\&/g')" "the message names the URI libvirt resolved"
like "$OUT" "-c test:///default" "and suggests -c test:///default"
is "$(mounts_on "$M")" 0 "nothing mounted"
unmount_all "$M"

# ---- no MOUNTPOINT
refused -c test:///default
[ "$RC" != 0 ]; tap_ok $? "no MOUNTPOINT: refused (status $RC)" "$OUT"
like "$OUT" "^domfs: .*(mount ?point|MOUNTPOINT)" "an error line says the mount point is missing, not only the usage"
done_testing
