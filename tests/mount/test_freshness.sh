#!/bin/bash
# Page-cached files never stay stale: a reader racing with changes made elsewhere (virsh
# on a shared libvirtd) always sees the final value. Regression test for replies built
# from an old snapshot landing in the kernel cache after the notifier's invalidation.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
. "$TESTS_DIR/lib/libvirtd.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
lvd_require
lvd_start "$TEST_TMP/lv" || { tap_ok 1 "private libvirtd starts"; done_testing; exit 1; }
M=$TEST_TMP/mnt
domfs_mount "$M" -c "$LVD_URI" || { tap_ok 1 "mount"; done_testing; exit 1; }
G=$M/test

# Readers keep the page cache of `reason` warm while virsh flips the state.
reader() { while :; do cat "$G/reason" "$G/xml" >/dev/null 2>&1; done; }
reader & R1=$!
reader & R2=$!
reason_is() { [ "$(cat "$G/reason")" = "$1" ]; }
stale=0
for i in $(seq 1 60); do
    if [ $((i % 2)) = 1 ]; then lvd_virsh suspend test >/dev/null; want=user
    else lvd_virsh resume test >/dev/null; want=unpaused; fi
    if ! wait_for 3 reason_is "$want"; then
        stale=$((stale + 1))
        echo "# iteration $i: reason still '$(cat "$G/reason")', want '$want'"
    fi
done
kill $R1 $R2 2>/dev/null; wait $R1 $R2 2>/dev/null
is "$stale" 0 "60 changes made by virsh: reason always shows the new value within 3 s"
is "$(cat "$G/state")" "running" "state agrees at the end"
lvd_stop
done_testing
