#!/bin/bash
# Issue 9, items 2 and 9: storms and the small ones.
#   - a define/undefine storm through a private libvirtd (virsh batches) while a reader
#     follows .domfs/events: exactly one `defined` and one `undefined` line per virsh
#     define and undefine, none lost when the guest is gone before it is re-read, no
#     overflow; the tree matches virsh afterwards; RSS before and after is printed
#     (STORM_SECONDS, default 20; the issue's figure is taken with STORM_SECONDS=300)
#   - `error` is current before a failing write returns (300 tries, each a new word)
#   - a refused console.log is logged once per guest and reason, not per lookup
#   - a hard link inside a log dir is refused
#   - a cdrom `source` written by a group member (not the mount owner) must lie under
#     -o media_dirs and be readable by that member; the owner is not restricted
. "$TESTS_DIR/stress/common.sh"
lvd_require
SECONDS_STORM=${STORM_SECONDS:-20}
lvd_start "$TEST_TMP/lv" storm || { tap_ok 1 "libvirtd starts"; done_testing; exit 1; }
M=$TEST_TMP/m
domfs_mount "$M" -c "$LVD_URI" || { tap_ok 1 "mount"; done_testing; exit 1; }
D=$DOMFS_PID

# ------------------------------------------------------------------ define/undefine storm
cat "$M/.domfs/events" > "$TEST_TMP/events" &
EP=$!
sleep 0.5
for i in $(seq 1 20); do guest_xml "s$i" > "$TEST_TMP/s$i.xml"; done
RSS0=$(daemon_rss "$D")
defines=0 undefines=0 rounds=0
end=$(( $(date +%s) + SECONDS_STORM ))
while [ "$(date +%s)" -lt "$end" ]; do
    cmds=""
    for i in $(seq 1 20); do cmds+="define $TEST_TMP/s$i.xml; "; done
    for i in $(seq 1 20); do cmds+="undefine s$i; "; done
    # a batch that ends defined, every other round (the last round leaves 10 defined)
    if [ $((rounds % 2)) = 1 ]; then
        for i in $(seq 1 10); do cmds+="define $TEST_TMP/s$i.xml; "; done
        defines=$((defines + 10))
    fi
    lvd_virsh "$cmds" >/dev/null 2>&1 || break
    defines=$((defines + 20)) undefines=$((undefines + 20)) rounds=$((rounds + 1))
    if [ $((rounds % 2)) = 0 ]; then
        lvd_virsh "$(for i in $(seq 1 10); do printf 'undefine s%d; ' "$i"; done)" >/dev/null 2>&1
        undefines=$((undefines + 10))
    fi
done
echo "# storm: $rounds virsh batches in $SECONDS_STORM s: $defines defines, $undefines undefines"
want_d=$defines want_u=$undefines
count() { grep -cE "^[0-9.]+ s[0-9]+ lifecycle $1 " "$TEST_TMP/events"; }
wait_for 60 test "$(count defined)" -ge "$want_d" -a "$(count undefined)" -ge "$want_u"
sleep 1
got_d=$(count defined) got_u=$(count undefined)
is "$got_d $got_u" "$want_d $want_u" "one event line per define and per undefine ($want_d, $want_u)"
is "$(grep -c overflow "$TEST_TMP/events")" 0 "no overflow for a reader that keeps up"
virsh_list=$(lvd_virsh list --all --name | grep -E '^s[0-9]+$' | sort | tr '\n' ' ')
tree_list=$(ls "$M" | grep -E '^s[0-9]+$' | sort | tr '\n' ' ')
is "$tree_list" "$virsh_list" "the tree matches virsh list --all afterwards"
kill "$EP"; wait "$EP" 2>/dev/null
sleep 2
RSS1=$(daemon_rss "$D")
echo "# daemon RSS: $RSS0 KiB before the storm, $RSS1 KiB after $SECONDS_STORM s"
rss_growth_ok "$D" "$RSS0" "$RSS1" 32768 "RSS grew by less than 32 MiB over the storm"

# ------------------------------------------------------------------ error is current
stale=0
for i in $(seq 1 300); do
    bash -c "echo bogus$i > '$M/test/state'" 2>/dev/null
    grep -q "\"bogus$i\"" "$M/test/error" || stale=$((stale + 1))
done
is "$stale" 0 "after each of 300 failing writes, error already names that write"
domfs_umount "$M"

# ------------------------------------------------------------------ refusals, hard links
L=$TEST_TMP/logs MD=$TEST_TMP/media
mkdir -p "$L" "$MD"
echo secret > "$TEST_TMP/secret"
ln "$TEST_TMP/secret" "$L/hardlink.log"
ln -s /etc/shadow "$L/symlink.log"
echo fine > "$L/fine.log"
echo iso > "$MD/a.iso"; chmod 0644 "$MD/a.iso"
echo private > "$MD/private.iso"; chmod 0600 "$MD/private.iso"
ln -s /etc/shadow "$MD/shadow.iso"
chmod 0755 "$MD"
node_dom() {  # node_dom NAME LOGFILE
    echo "<domain type='test'><name>$1</name><memory>65536</memory><os><type>hvm</type></os><devices>"
    echo "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='hdc' bus='ide'/><readonly/></disk>"
    echo "<serial type='pty'><log file='$2'/><target port='0'/></serial></devices></domain>"
}
{
    echo "<node>"
    node_dom shadow /etc/shadow; node_dom hard "$L/hardlink.log"
    node_dom sym "$L/symlink.log"; node_dom fine "$L/fine.log"
    echo "</node>"
} > "$TEST_TMP/node.xml"
domfs_mount "$M" -c "test://$TEST_TMP/node.xml" \
    -o "log_dirs=$L,media_dirs=$MD,allow_other,gid=$STRESS_GID,umask=002" ||
    { tap_ok 1 "mount the log/media fleet"; done_testing; exit 1; }
is "$(cat "$M/fine/console.log")" "fine" "a log inside log_dirs is served"
for g in shadow hard sym; do
    fails_with "Permission denied" "console.log of $g: EACCES" cat "$M/$g/console.log"
done
for _ in $(seq 1 100); do
    for g in shadow hard sym; do stat "$M/$g/console.log" >/dev/null 2>&1; cat "$M/$g/console.log" >/dev/null 2>&1; done
done
for g in shadow hard sym; do
    is "$(grep -c " $g: console.log" "$M.log")" 1 "200 lookups, stats and opens of $g's console.log: logged once"
done
like "$(grep " hard: console.log" "$M.log")" "hard links" "the hard link refusal says why"

# ------------------------------------------------------------------ media_dirs
src=$M/fine/devices/disks/hdc/source
member_writes() { as_member bash -c "echo '$1' > '$src'"; }
fails_with "Permission denied" "a member's cdrom source /etc/shadow: EACCES" member_writes /etc/shadow
like "$(cat "$M/fine/error")" "EACCES: .*media_dirs" "error says it lies outside media_dirs"
fails_with "Permission denied" "a member's cdrom source /dev/sda: EACCES" member_writes /dev/sda
fails_with "Permission denied" "a member's ../ escape from media_dirs: EACCES" member_writes "$MD/../secret"
fails_with "Permission denied" "a member's symlink inside media_dirs to /etc/shadow: EACCES" member_writes "$MD/shadow.iso"
fails_with "Permission denied" "a file in media_dirs the member cannot read: EACCES" member_writes "$MD/private.iso"
# allowed paths reach libvirt, whose test driver cannot change media: EOPNOTSUPP proves the
# check let them through (real media changes are in the e2e suite)
fails_with "Operation not supported" "a readable file under media_dirs passes the check" member_writes "$MD/a.iso"
fails_with "Operation not supported" "the mount owner is not restricted to media_dirs" \
    bash -c "echo /etc/hostname > '$src'"
fails_with "Permission denied" "a user outside the group cannot write at all" \
    as_user bash -c "echo '$MD/a.iso' > '$src'"
domfs_umount "$M"
done_testing
