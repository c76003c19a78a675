#!/bin/bash
# Issue 9, item 3: kill storms. Blocked requests killed in bulk must leave no process in D
# state and no dangling reference in the daemon (the suite also runs under ASan+UBSan in
# .ci/run, where a use-after-free aborts the daemon and fails the unmount check).
#   readers: 12 rounds of 10-40 `cat .domfs/events` killed at once with SIGTERM or SIGKILL,
#            and 500 reader threads of one process killed with it
#   writers: writes to every writable file of a guest on a stopped libvirtd (-o timeout=60,
#            so they are all still waiting in the daemon), killed at once; a migrate writer
#            killed too (its abort cannot reach the stopped host: EINTR after the grace)
. "$TESTS_DIR/stress/common.sh"
lvd_require
lvd_start "$TEST_TMP/lvs" stalled || { tap_ok 1 "libvirtd starts"; done_testing; exit 1; }
S_URI=$LVD_URI S_PID=$LVD_PID
M=$TEST_TMP/m
domfs_mount "$M" -c "h=test:///default" -c "s=$S_URI" -o timeout=60,keepalive=5,60 ||
    { tap_ok 1 "mount"; done_testing; exit 1; }
D=$DOMFS_PID

# ------------------------------------------------------------------ readers
left_total=0 dstate=""
for round in $(seq 1 12); do
    n=$(( 10 + (round * 7) % 31 ))
    sig=TERM; [ $((round % 3)) = 0 ] && sig=KILL
    pids=()
    for _ in $(seq 1 "$n"); do cat "$M/h/.domfs/events" > /dev/null & pids+=($!); done
    sleep 0.$(( round % 5 + 1 ))
    kill -s "$sig" "${pids[@]}" 2>/dev/null
    read -r left states < <(alive_after 3 "${pids[@]}")
    left_total=$((left_total + left)) dstate+=${states:-}
    wait "${pids[@]}" 2>/dev/null
done
is "$left_total" 0 "12 rounds of 10-40 blocked readers killed at once: all gone within 3 s${dstate:+ (states $dstate)}"
kill -0 "$D" 2>/dev/null; tap_ok $? "the daemon survived the reader storms"

"$STRESS_TOOL" readers 500 "$M/s/.domfs/events" 60 > /dev/null 2>&1 &
RP=$!
sleep 1
kill -KILL "$RP"
read -r left states < <(alive_after 5 "$RP")
is "$left" 0 "a process with 500 blocked reader threads dies at SIGKILL${states:+ (states $states)}"
wait "$RP" 2>/dev/null
is "$(timeout 5 cat "$M/h/test/state")" "running" "the mount answers after the reader storms"

# ------------------------------------------------------------------ writers
kill -STOP "$S_PID"
files=(state autostart title description)
words=(destroy 1 hello hello)
for round in 1 2 3; do
    pids=()
    for i in "${!files[@]}"; do
        for _ in 1 2 3; do
            bash -c "echo ${words[$i]} > '$M/s/test/${files[$i]}'" 2>/dev/null & pids+=($!)
        done
    done
    sleep 1
    sig=TERM; [ "$round" = 2 ] && sig=KILL
    kill -s "$sig" "${pids[@]}" 2>/dev/null
    read -r left states < <(alive_after 3 "${pids[@]}")
    is "$left" 0 "round $round: 12 writers waiting on a stopped host, SIG$sig: all gone within 3 s${states:+ (states $states)}"
    wait "${pids[@]}" 2>/dev/null
done
bash -c "echo elsewhere.example > '$M/s/test/migrate'" 2>/dev/null &
MP=$!
sleep 1
kill -TERM "$MP"     # (SIGINT: ignored by a background job of a script)
read -r left states < <(alive_after 6 "$MP")
is "$left" 0 "an interrupted migrate writer ends (abort cannot reach the host: after the grace)${states:+ (states $states)}"
wait "$MP" 2>/dev/null
kill -0 "$D" 2>/dev/null; tap_ok $? "the daemon survived the writer storms"
is "$(timeout 5 cat "$M/h/test/state")" "running" "the healthy host still answers"
kill -CONT "$S_PID"
wait_for 20 grep -q 'status connected' "$M/s/.domfs/connection"
tap_ok $? "the stopped host comes back"
ok "and takes writes again" bash -c "echo 'new title' > '$M/s/test/title'"
is "$(lvd_virsh desc --title test 2>&1)" "new title" "virsh sees the title written after the storm"
domfs_umount "$M"
done_testing
