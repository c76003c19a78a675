#!/bin/bash
# domfs through mount(8) and fstab(5): `mount -t fuse.domfs URI DIR -o OPTS` and an fstab
# line (`mount -T FILE DIR`) start domfs through mount.fuse3, which runs
#   /bin/sh -c "'domfs' 'URI' 'DIR' '-o' 'rw,OPTS,dev,suid'"
# with no PATH (mount(8) drops it): the shell's default path finds domfs, so the test runs
# in a private mount namespace where a scratch directory holding the built binary as
# `domfs` is bind-mounted over the first directory of that path (and /run/mount, where
# mount(8) may record options, is a scratch directory too: the host is not touched).
# Checks: the mount serves the tree, its source and type in the mount table, domfs's own -o
# options and `ro` reach it, umount ends the daemon; examples/mnt-vms.mount is a valid unit
# whose type and options mount the same way.
. "$TESTS_DIR/lib/tap.sh"
: "${DOMFS_BIN:?DOMFS_BIN not set (run through meson test)}"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
[ "$(id -u)" = 0 ] || skip_all "mount(8) of a FUSE file system needs root here"
command -v mount.fuse3 >/dev/null || [ -x /sbin/mount.fuse3 ] || skip_all "mount.fuse3 (Debian package fuse3) not found"
MOUNT_TIMEOUT=60          # seconds mount(8) may take (it waits until domfs serves)
EXIT_TIMEOUT=15           # seconds the daemon may take to exit after umount

if [ "${1:-}" != --inside ]; then
    unshare -m true 2>/dev/null || skip_all "unshare -m not permitted here"
    exec unshare -m --propagation private bash "$0" --inside
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/domfs-fstab.XXXXXX")
cleanup() {
    local m
    for m in "$TMP"/mnt*; do mountpoint -q "$m" 2>/dev/null && umount -l "$m"; done
    rm -rf "$TMP"
}
trap cleanup EXIT

# the shell's default PATH, as mount.fuse3's /bin/sh sees it
SHPATH=$(env -u PATH /bin/sh -c 'echo "$PATH"')
FIRST=${SHPATH%%:*}
[ -d "$FIRST" ] || skip_all "$FIRST (first directory of /bin/sh's default PATH) does not exist"
mkdir -p "$TMP/bin" "$TMP/runmount"
ln -s "$DOMFS_BIN" "$TMP/bin/domfs"
mount --bind "$TMP/bin" "$FIRST" || skip_all "cannot bind-mount over $FIRST"
[ -d /run/mount ] && mount --bind "$TMP/runmount" /run/mount
is "$(env -u PATH /bin/sh -c 'command -v domfs')" "$FIRST/domfs" "the built domfs is the one mount.fuse3's shell finds"

# daemon_of MNT: the pids of the domfs processes serving MNT (their command line names MNT)
daemon_of() { pgrep -f -- "domfs.* $1( |\$)" | tr '\n' ' ' | sed 's/ $//'; }
# gone PID...: waits until every PID has exited (none given: fails)
gone() {
    [ $# -gt 0 ] || return 1
    local end=$(( $(date +%s) + EXIT_TIMEOUT )) p
    for p in "$@"; do
        while kill -0 "$p" 2>/dev/null; do [ "$(date +%s)" -ge "$end" ] && return 1; sleep 0.05; done
    done
}
# mounted_as MNT: "SOURCE TYPE" of MNT in the mount table
mounted_as() { awk -v m="$1" '$2 == m { print $1, $3 }' /proc/self/mounts | tail -1; }

# ---- mount -t fuse.domfs URI DIR -o allow_other
M=$TMP/mnt1; mkdir -p "$M"
out=$(timeout "$MOUNT_TIMEOUT" mount -t fuse.domfs test:///default "$M" -o allow_other 2>&1); rc=$?
tap_ok "$rc" "mount -t fuse.domfs test:///default DIR -o allow_other" "$out"
is "$(mounted_as "$M")" "test:///default fuse.domfs" "the mount table shows the URI as source, type fuse.domfs"
is "$(timeout 10 cat "$M/test/state" 2>&1)" "running" "the tree answers: test/state"
like "$(timeout 10 cat "$M/.domfs/connection" 2>&1)" "test:///default" ".domfs/connection names the URI"
like "$(grep " $M " /proc/self/mounts)" "allow_other" "allow_other reached the kernel mount"
ok "a write through it" timeout 10 sh -c "echo paused > '$M/test/state'"
is "$(timeout 10 cat "$M/test/state" 2>&1)" "paused" "and it took effect"
pid=$(daemon_of "$M")
like "$pid" '^[0-9]+( [0-9]+)*$' "a domfs daemon serves it (detached: mount returned)"
ok "umount" timeout 10 umount "$M"
gone $pid; tap_ok $? "umount ends the daemon"
ok "nothing mounted any more" sh -c "! mountpoint -q '$M'"

# ---- an fstab line: mount -T FILE DIR
M=$TMP/mnt2; mkdir -p "$M"
printf '%s\n' "# domfs test fstab" \
    "test:///default $M fuse.domfs allow_other,noauto,console_max=4096,ro 0 0" > "$TMP/fstab"
out=$(timeout "$MOUNT_TIMEOUT" mount -T "$TMP/fstab" "$M" 2>&1); rc=$?
tap_ok "$rc" "mount -T FSTAB DIR with 'test:///default DIR fuse.domfs allow_other,noauto,console_max=4096,ro 0 0'" "$out"
is "$(mounted_as "$M")" "test:///default fuse.domfs" "the mount table shows the fstab line's source and type"
is "$(timeout 10 cat "$M/test/state" 2>&1)" "running" "the tree answers (a fresh test:///default: running)"
fails_with "Read-only file system" "ro from fstab: a write fails EROFS" timeout 10 sh -c "echo paused > '$M/test/state'"
pid=$(daemon_of "$M")
like "$(for p in $pid; do tr '\0' ' ' < "/proc/$p/cmdline"; echo; done)" "console_max=4096" "domfs's own option console_max=4096 reached it"
ok "umount" timeout 10 umount "$M"
gone $pid; tap_ok $? "umount ends the daemon"

# ---- mount by source through the same fstab
M=$TMP/mnt2
out=$(timeout "$MOUNT_TIMEOUT" mount --fstab "$TMP/fstab" test:///default 2>&1); rc=$?
tap_ok "$rc" "mount --fstab FSTAB test:///default (by its source)" "$out"
is "$(timeout 10 cat "$M/test/state" 2>&1)" "running" "the tree answers"
pid=$(daemon_of "$M")
ok "umount" timeout 10 umount "$M"
gone $pid; tap_ok $? "umount ends the daemon"

# ---- examples/mnt-vms.mount: a valid systemd unit, and its mount works the same way
UNIT=${EXAMPLES_DIR:-$TESTS_DIR/../examples}/mnt-vms.mount
unit_get() { sed -n "s/^$1=//p" "$UNIT" | tail -1; }
if command -v systemd-analyze >/dev/null; then
    out=$(systemd-analyze verify --man=no "$UNIT" 2>&1); rc=$?
    tap_ok "$rc" "systemd-analyze verify examples/mnt-vms.mount" "$out"
else
    echo "ok $((TAP_N += 1)) - systemd-analyze verify # SKIP systemd-analyze not installed"
fi
is "$(unit_get Type) $(unit_get Where)" "fuse.domfs /mnt/vms" "the unit mounts type fuse.domfs on /mnt/vms (its file name)"
M=$TMP/mnt4; mkdir -p "$M"
# the unit's What (qemu:///system) needs the machine's libvirt: mount test:///default instead
out=$(timeout "$MOUNT_TIMEOUT" mount -t "$(unit_get Type)" test:///default "$M" -o "$(unit_get Options)" 2>&1); rc=$?
tap_ok "$rc" "mount -t $(unit_get Type) URI DIR -o $(unit_get Options) (the unit's type and options)" "$out"
is "$(timeout 10 cat "$M/test/state" 2>&1)" "running" "the tree answers"
pid=$(daemon_of "$M")
ok "umount" timeout 10 umount "$M"
gone $pid; tap_ok $? "umount ends the daemon"

# ---- a bad URI: mount fails with domfs's message, nothing stays mounted
M=$TMP/mnt3; mkdir -p "$M"
out=$(timeout "$MOUNT_TIMEOUT" mount -t fuse.domfs test:///nonexistent/node.xml "$M" 2>&1); rc=$?
[ "$rc" != 0 ]; tap_ok $? "mount of an unusable URI fails (status $rc)" "$out"
like "$out" "domfs" "with domfs's message: $(head -1 <<<"$out")"
ok "nothing mounted" sh -c "! mountpoint -q '$M'"
done_testing
