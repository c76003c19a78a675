#!/bin/bash
# Issue 9, item 6: no reader can exhaust the daemon's descriptors. 300 guests whose
# console logs each have three rotated files (4 files a guest); another user (allow_other)
# holds 3000 open console.log handles, each read once, while the daemon's descriptor limit
# is lowered to 1024 (a handle that pinned its files would need 12000). Root's cat of
# every console.log still works and the daemon's descriptors stay bounded by the shared
# cache (DOMFS_CONSOLE_FD_CACHE = 256). The daemon raises its own limit to the hard one.
. "$TESTS_DIR/stress/common.sh"
command -v prlimit >/dev/null || skip_all "prlimit (util-linux) not found"
N=${STRESS_GUESTS:-300}
PER=${STRESS_HANDLES_PER_GUEST:-10}
L=$TEST_TMP/logs
mkdir -p "$L"
{
    echo "<node>"
    for i in $(seq 1 "$N"); do
        echo "<domain type='test'><name>g$i</name><memory>65536</memory><os><type>hvm</type></os>"
        echo "<devices><serial type='pty'><log file='$L/g$i.log'/><target port='0'/></serial></devices></domain>"
        for r in 2 1 0; do echo "g$i rotated $r" > "$L/g$i.log.$r"; done
        echo "g$i current" > "$L/g$i.log"
    done
    echo "</node>"
} > "$TEST_TMP/node.xml"
chmod 0755 "$L"
M=$TEST_TMP/m
domfs_mount "$M" -c "test://$TEST_TMP/node.xml" -o "allow_other,log_dirs=$L" ||
    { tap_ok 1 "mount $N guests with logs"; done_testing; exit 1; }
D=$DOMFS_PID
read -r soft hard < <(awk '/^Max open files/ { print $4, $5 }' "/proc/$D/limits")
is "$soft" "$hard" "the daemon raised its descriptor limit to the hard limit ($hard)"
is "$(cat "$M/g7/console.log")" "g7 rotated 2
g7 rotated 1
g7 rotated 0
g7 current" "console.log reads the rotated files in order"
prlimit --pid "$D" --nofile=1024:1024
FD0=$(daemon_fds "$D")

paths=()
for i in $(seq 1 "$N"); do paths+=("$M/g$i/console.log"); done
mkfifo "$TEST_TMP/hold"
as_member_bg "$STRESS_TOOL" handles "$PER" "${paths[@]}" < "$TEST_TMP/hold" > "$TEST_TMP/handles" 2>&1 &
HP=$!
exec 5> "$TEST_TMP/hold"
wait_for 120 grep -q '^handles' "$TEST_TMP/handles"
read -r _ opened failed why < "$TEST_TMP/handles"
is "$opened $failed" "$((N * PER)) 0" "another user holds $((N * PER)) console.log handles, each read ($why)"
FD1=$(daemon_fds "$D")
echo "# daemon descriptors: $FD0 before, $FD1 with $((N * PER)) handles held"
[ "$FD1" -lt $((FD0 + 300)) ]; tap_ok $? "the daemon's descriptors stay bounded ($FD1)"
bad=0
for i in $(seq 1 "$N"); do
    [ "$(tail -1 "$M/g$i/console.log" 2>&1)" = "g$i current" ] || bad=$((bad + 1))
done
is "$bad" 0 "meanwhile root reads all $N console.logs, right content"
ok "and root's cat of the first works" grep -q "g1 current" "$M/g1/console.log"
# the guests print meanwhile: a held handle still follows its log
echo "g5 more" >> "$L/g5.log"
is "$(tail -1 "$M/g5/console.log")" "g5 more" "a log that grows is read to its new end"
exec 5>&-
wait "$HP"
FD2=$(daemon_fds "$D")
echo "# daemon descriptors after the handles closed: $FD2"
[ "$FD2" -lt $((FD0 + 300)) ]; tap_ok $? "still bounded after they closed ($FD2)"

# open files cost domfs memory: one user holds at most DOMFS_OPENS_PER_UID (32768) of them,
# whatever the number of its processes; root's opens still work meanwhile
upaths=()
for i in $(seq 1 "$N"); do upaths+=("$M/g$i/uuid"); done
for k in 1 2; do
    mkfifo "$TEST_TMP/hold$k"
    as_member_bg "$STRESS_TOOL" handles 60 "${upaths[@]}" < "$TEST_TMP/hold$k" > "$TEST_TMP/many$k" 2>&1 &
    eval "MP$k=\$!"
    exec {fd}> "$TEST_TMP/hold$k"; eval "HFD$k=\$fd"
    wait_for 120 grep -q '^handles' "$TEST_TMP/many$k"
done
read -r _ o1 f1 why1 < "$TEST_TMP/many1"
read -r _ o2 f2 why2 < "$TEST_TMP/many2"
echo "# two processes of one user: $o1 + $o2 opened, $f1 + $f2 refused ($why2)"
is "$((o1 + o2))" 32768 "one user's open files stop at 32768 across its processes"
like "$why2" "Too many open files" "beyond it: EMFILE"
is "$(cat "$M/g1/uuid" | wc -c)" 37 "root still opens files meanwhile"
fails_with "Too many open files" "that user's next process gets EMFILE too" as_user cat "$M/g2/state"
eval "exec $HFD1>&- $HFD2>&-"
wait "$MP1" "$MP2"
is "$(as_member cat "$M/g3/state")" "running" "once they closed, that user opens again"
domfs_umount "$M"
done_testing
