#!/bin/bash
# Issue 9, items 1, 2, 7 and 8: no request waits on another request, on libvirt or on a
# guest. Two private libvirtds: "h" healthy, "s" stopped with SIGSTOP. As domfs-test:
# 1000 threads blocked in reads of s/.domfs/events and 64 writers of s/test/state on the
# stopped daemon. Meanwhile root and domfs-test read, list and write the healthy host, read
# the stopped host's cached files and both metrics.prom: every answer comes back, and the
# worst latency is printed. The 64 writes fail with ETIMEDOUT after -o timeout=3.
# Then the notifier case: 1000 readers blocked on h/.domfs/events, lookups of a name in
# flight while virsh defines that guest: every reader gets the line, the guest appears.
. "$TESTS_DIR/stress/common.sh"
lvd_require
READERS=${STRESS_READERS:-1000}
WRITERS=${STRESS_WRITERS:-64}
TIMEOUT=3

lvd_start "$TEST_TMP/lvh" healthy || { tap_ok 1 "healthy libvirtd starts"; done_testing; exit 1; }
H_URI=$LVD_URI
lvd_start "$TEST_TMP/lvs" stalled || { tap_ok 1 "stalled libvirtd starts"; done_testing; exit 1; }
S_URI=$LVD_URI S_PID=$LVD_PID
lvd_virsh_s() { timeout 20 virsh -q -c "$S_URI" "$@"; }
M=$TEST_TMP/m
domfs_mount "$M" -c "h=$H_URI" -c "s=$S_URI" \
    -o "allow_other,gid=$STRESS_GID,umask=002,timeout=$TIMEOUT,keepalive=2,60" ||
    { tap_ok 1 "mount two private libvirtds"; done_testing; exit 1; }
D=$DOMFS_PID
is "$(cat "$M/s/test/state")" "running" "the host to be stopped serves its guest"
RSS0=$(daemon_rss "$D") THR0=$(daemon_threads "$D")

# ------------------------------------------------ 1000 readers + 64 writers on a stopped host
as_member_bg "$STRESS_TOOL" readers "$READERS" "$M/s/.domfs/events" 40 > "$TEST_TMP/readers" 2>&1 &
RPID=$!
wait_for 20 grep -q started "$TEST_TMP/readers"
sleep 1     # the threads are in their reads now
kill -STOP "$S_PID"
t0=$(now_ms)
fails_with "Connection timed out" "a write to the stopped host fails with ETIMEDOUT" \
    bash -c "echo destroy > '$M/s/test/state'"
ms=$(ms_since "$t0")
[ "$ms" -ge $((TIMEOUT * 1000 - 200)) ] && [ "$ms" -lt $(( (TIMEOUT + 3) * 1000 )) ]
tap_ok $? "after timeout=$TIMEOUT s ($ms ms)"
like "$(cat "$M/s/test/error")" "ETIMEDOUT: .*the outcome is unknown" "error says the outcome is unknown"
as_member_bg "$STRESS_TOOL" writers "$WRITERS" "$M/s/test/state" destroy 60 > "$TEST_TMP/writers" 2>&1 &
WPID=$!
sleep 0.5

# what the others do meanwhile: root's loop and another user's shell tools
"$STRESS_TOOL" latency 8 "$M/h/test/state" "$M/h/test/memory" "$M/h/.domfs/metrics.prom" \
    "$M/s/.domfs/metrics.prom" "$M/s/test/state" "$M/s/.domfs/connection" > "$TEST_TMP/latency" &
LPID=$!
t0=$(now_ms)
is "$(as_user cat "$M/h/test/state")" "running" "another user's cat of the healthy guest answers"
like "$(as_user ls "$M/h")" "test" "another user's ls of the healthy host answers"
ok "a group member's echo to the healthy guest answers" as_member sh -c "echo running > '$M/h/test/state'"
is "$(as_user cat "$M/s/test/state")" "running" "the stopped host's state is served from the cache"
like "$(as_user cat "$M/s/.domfs/metrics.prom")" 'domfs_up\{host="s"\}' "the stopped host's metrics.prom is served"
echo "# other user's cat, ls, echo and two reads of the stopped host: $(ms_since "$t0") ms"
wait "$LPID"
read -r _ max count errors rest < "$TEST_TMP/latency"
echo "# healthy requests while $READERS readers and $WRITERS writers are blocked: worst ${max} ms over $count ($rest)"
is "$errors" 0 "root's $count reads, lists and writes during the blockade all succeeded"
like "$max" '^[0-9]+$' "a worst latency was measured"
[ "${max:-99999}" -lt 5000 ]; tap_ok $? "no healthy request waited for the blocked ones (worst ${max} ms)"

wait_for 15 grep -q '^writers' "$TEST_TMP/writers"
wait "$WPID"
cat "$TEST_TMP/writers" | sed 's/^/# /'
like "$(cat "$TEST_TMP/writers")" "^writers ETIMEDOUT $WRITERS [0-9]+$" \
    "all $WRITERS writes to the stopped host failed with ETIMEDOUT"
wmax=$(awk '$2 == "ETIMEDOUT" { print $4 }' "$TEST_TMP/writers")
[ "${wmax:-99999}" -lt $((TIMEOUT * 1000)) ]
tap_ok $? "at once, not one timeout each (slowest ${wmax} ms)"
like "$(cat "$M/s/test/error")" "ETIMEDOUT: libvirt has not answered a write sent at .*: this write was not sent" \
    "error says why they were not sent"
wait_for 6 grep -q 'status stalled since' "$M/s/.domfs/connection"
like "$(cat "$M/s/.domfs/connection")" "status stalled since [0-9]" ".domfs/connection says stalled since T"
threads=$(daemon_threads "$D")
echo "# daemon threads: $THR0 before, $threads with $READERS readers and $WRITERS writers blocked"
[ "$threads" -lt $((THR0 + 40)) ]; tap_ok $? "no thread per blocked request ($threads threads)"

kill -CONT "$S_PID"
wait_for 20 grep -q 'status connected' "$M/s/.domfs/connection"
tap_ok $? "the stopped host is connected again after SIGCONT"
wait_for 15 grep -q 'after the writer had its answer' "$M/s/test/error"
like "$(cat "$M/s/test/error")" "libvirt carried the write out after the writer had its answer" \
    "error then says what libvirt did with the first write"
wait_for 10 grep -qx shutoff "$M/s/test/state"
is "$(cat "$M/s/test/state")" "shutoff" "and the guest is off: that first destroy was carried out"
is "$(lvd_virsh_s domstate test)" "shut off" "virsh agrees"
kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null

# ------------------------------------------------ the notifier with lookups in flight
as_member_bg "$STRESS_TOOL" readers "$READERS" "$M/h/.domfs/events" 30 > "$TEST_TMP/readers2" 2>&1 &
RPID=$!
wait_for 20 grep -q started "$TEST_TMP/readers2"
sleep 1
LOOKUPS=()
for i in $(seq 1 8); do
    ( end=$(( $(date +%s) + 3 )); while [ "$(date +%s)" -lt $end ]; do ls "$M/h/newguest" >/dev/null 2>&1; done ) &
    LOOKUPS+=($!)
done
guest_xml newguest > "$TEST_TMP/newguest.xml"
lvd_virsh() { timeout 20 virsh -q -c "$H_URI" "$@"; }
ok "virsh defines newguest while lookups of it are in flight" lvd_virsh define "$TEST_TMP/newguest.xml"
wait "$RPID"
cat "$TEST_TMP/readers2" | sed 's/^/# /'
like "$(tail -1 "$TEST_TMP/readers2")" "^readers $READERS got $READERS$" "every blocked reader got the define line"
wait "${LOOKUPS[@]}"
wait_for 5 test -d "$M/h/newguest"
is "$(cat "$M/h/newguest/state" 2>&1)" "shutoff" "newguest appeared in the mount"
RSS1=$(daemon_rss "$D")
echo "# daemon RSS: $RSS0 KiB before, $RSS1 KiB after"
rss_growth_ok "$D" "$RSS0" "$RSS1" 65536 "RSS grew by less than 64 MiB"
domfs_umount "$M"
done_testing
