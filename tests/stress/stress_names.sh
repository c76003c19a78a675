#!/bin/bash
# Issue 9, items 4, 5 and 9 (names): colliding escaped guest names get distinct
# directories deterministically (the first in uuid order keeps the name, the others get
# ~2, ~3, ... skipping names that exist), through define/undefine churn under readers
# (ASan in CI: no freed key is ever used); a handle opened on a guest that was replaced by
# a namesake gets ENOENT and touches nothing; control bytes in a guest name never forge a
# daemon log line; connection names taken from hostnames ("a/b", ".domfs", twice the same)
# are escaped and made unique, and .domfs is never shadowed.
. "$TESTS_DIR/stress/common.sh"
lvd_require
lvd_start "$TEST_TMP/lv" names || { tap_ok 1 "libvirtd starts"; done_testing; exit 1; }
M=$TEST_TMP/m
domfs_mount "$M" -c "$LVD_URI" || { tap_ok 1 "mount"; done_testing; exit 1; }
D=$DOMFS_PID

define() {   # define NAME UUID
    printf "<domain type='test'><name>%s</name><uuid>%s</uuid><memory>65536</memory><os><type>hvm</type></os></domain>" \
        "$1" "$2" > "$TEST_TMP/d.xml"
    lvd_virsh define "$TEST_TMP/d.xml" >/dev/null
}
U1=00000000-0000-4000-8000-000000000001
U2=00000000-0000-4000-8000-000000000002
U3=00000000-0000-4000-8000-000000000003
LONG=$(printf 'a%.0s' $(seq 1 300))

# ------------------------------------------------------------------ collisions
ok "a guest with a 300-byte name is defined" define "$LONG" "$U1"
wait_for 5 sh -c "ls '$M' | grep -q '^aaa.*~'"
BASE=$(ls "$M" | grep '^aaa' | head -1)
like "$BASE" '^a{246}~[0-9a-f]{8}$' "its directory is the name cut to 255 bytes with a hash"
# suffixed names are cut to fit 255 bytes: the base loses two bytes for "~2"
S2=${BASE:0:253}~2 S3=${BASE:0:253}~3
ok "a second guest named exactly that directory name is defined" define "$BASE" "$U2"
wait_for 5 test -d "$M/$S2"
is "$(cat "$M/$BASE/uuid" 2>&1)" "$U1" "the first in uuid order keeps the name"
is "$(cat "$M/$S2/uuid" 2>&1)" "$U2" "the other gets ~2 (the name cut to fit 255 bytes)"
ok "a third guest named like that ~2 is defined" define "$S2" "$U3"
wait_for 5 test -d "$M/$S3"
is "$(cat "$M/$S2/uuid" 2>&1)" "$U3" "the guest really named ~2 gets that directory"
is "$(cat "$M/$S3/uuid" 2>&1)" "$U2" "the generated name skips it: ~3"
ok "a title written through the ~3 directory" bash -c "echo third > '$M/$S3/title'"
is "$(lvd_virsh desc --title "$U2" 2>&1)" "third" "reaches the guest of that directory (virsh)"
is "$(lvd_virsh desc --title "$U1" 2>&1)" "" "and no other"

# churn: undefine/define the colliding guests while readers walk the tree
( end=$(( $(date +%s) + 8 )); while [ "$(date +%s)" -lt $end ]; do
      for d in "$M"/aaa*; do cat "$d/uuid" "$d/state" >/dev/null 2>&1; done
  done ) &
WALK=$!
for i in $(seq 1 15); do
    lvd_virsh undefine "$U1" >/dev/null; lvd_virsh undefine "$U2" >/dev/null
    define "$BASE" "$U2"; define "$LONG" "$U1"
done
wait "$WALK"
kill -0 "$D"; tap_ok $? "the daemon survived 15 rounds of colliding define/undefine under readers"
wait_for 5 test "$(cat "$M/$BASE/uuid" 2>/dev/null)" = "$U1"
is "$(cat "$M/$BASE/uuid" 2>&1) $(cat "$M/$S2/uuid" 2>&1) $(cat "$M/$S3/uuid" 2>&1)" \
   "$U1 $U3 $U2" "after the churn the same names again (deterministic)"

# ------------------------------------------------------------------ stale handles
define victim 00000000-0000-4000-8000-0000000000a1
lvd_virsh start victim >/dev/null
wait_for 5 grep -qx running "$M/victim/state"
exec 3> "$M/victim/state"
exec 4< "$M/victim/uuid"
lvd_virsh destroy victim >/dev/null; lvd_virsh undefine victim >/dev/null
define victim 00000000-0000-4000-8000-0000000000a2
lvd_virsh start victim >/dev/null
wait_for 5 grep -q 'a2$' "$M/victim/uuid"
fails_with "No such file or directory" "destroy written on a handle of the replaced guest: ENOENT" \
    bash -c 'echo destroy >&3'
is "$(lvd_virsh domstate victim)" "running" "the new guest of that name was not touched (virsh)"
fails_with "No such file or directory" "reading an old handle of the replaced guest: ENOENT" \
    bash -c 'cat <&4'
exec 3>&- 4<&-

# ------------------------------------------------------------------ control bytes in names
# libvirt refuses CR, LF and most C0 controls in names (XML and its own check), but a TAB
# and DEL pass: they must not reach the log raw
CTRL=$'evil\tline\x7f'
ok "libvirt accepts a name with TAB and DEL" define "$CTRL" 00000000-0000-4000-8000-0000000000b1
wait_for 5 test -d "$M/evil%09line%7F"
ok "it gets an escaped directory" test -d "$M/evil%09line%7F"
lines0=$(wc -l < "$M.log")
fails_with "Invalid argument" "a bad write to it fails" bash -c "echo bogus > '$M/evil%09line%7F/state'"
wait_for 5 grep -q 'evil' "$M.log"
is "$(( $(wc -l < "$M.log") - lines0 ))" 1 "the failure is one daemon log line"
if grep -q $'[\t\x7f]' "$M.log"; then tap_ok 1 "no raw control byte in the daemon log"
else tap_ok 0 "no raw control byte in the daemon log"; fi
like "$(grep evil "$M.log" | tail -1)" 'evil\\tline\\x7f' "the name is escaped in the log line"
nl_rc=0; define $'two\nlines' 00000000-0000-4000-8000-0000000000b2 2>/dev/null || nl_rc=$?
echo "# libvirt $( [ $nl_rc = 0 ] && echo accepts || echo refuses ) a newline in a domain name"
if [ "$nl_rc" = 0 ]; then
    wait_for 5 test -d "$M/two%0Alines"
    ok "a newline in a name becomes %0A" test -d "$M/two%0Alines"
fi
domfs_umount "$M"

# ------------------------------------------------------------------ hostnames as names
lvd_start "$TEST_TMP/lva" "a/b" || { tap_ok 1 "libvirtd a/b starts"; done_testing; exit 1; }
UA=$LVD_URI
lvd_start "$TEST_TMP/lvd" ".domfs" || { tap_ok 1 "libvirtd .domfs starts"; done_testing; exit 1; }
UD=$LVD_URI
lvd_start "$TEST_TMP/lvx" "twin" || { tap_ok 1 "libvirtd twin starts"; done_testing; exit 1; }
UX=$LVD_URI
lvd_start "$TEST_TMP/lvy" "twin" || { tap_ok 1 "second libvirtd twin starts"; done_testing; exit 1; }
UY=$LVD_URI
domfs_mount "$M" -c "$UA" -c "$UD" -c "$UX" -c "$UY" ||
    { tap_ok 1 "mount four hosts by hostname"; done_testing; exit 1; }
is "$(LC_ALL=C ls -A "$M" | tr "\n" " ")" "%2Edomfs .domfs a%2Fb twin twin~2 " \
    "hostnames a/b, .domfs and two twins: escaped, unique, .domfs not shadowed"
like "$(cat "$M/.domfs/connection" 2>&1)" "name" "the mount's own .domfs still answers"
is "$(cat "$M/a%2Fb/test/state" 2>&1)" "running" "the host named a/b serves its guest"
like "$(cat "$M/%2Edomfs/.domfs/connection" 2>&1)" "hostname \.domfs" "the host named .domfs has its own .domfs"
like "$(cat "$M/twin~2/.domfs/connection" 2>&1)" "uri .*lvy" "the second twin is twin~2, in -c order"
domfs_umount "$M"
done_testing
