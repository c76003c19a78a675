#!/bin/bash
# test_takeover.sh MODE - the takeover mechanism on a real FUSE mount of tkfs, run in
# background mode under its supervisor, bind-mounted into another mount namespace
# (unshare -m, slave propagation, mount --bind) where 4 reader loops (tkreader), a reader
# blocked in a read (wait, like .domfs/events) and a `tail -f` of a growing file (ticks,
# like console.log) run.
#   kill      SIGKILL the serving process 20 times in a row
#   upgrade   SIGHUP the supervisor 20 times (in-place upgrade), swapping the installed
#             binary between version 1 and 2 every 5th time; start-up takes 300 ms
#             (TKFS_START_DELAY_MS) and must not show in the readers' stalls
#   crashloop a request that crashes every server it reaches (the 5th gets it as EIO, the
#             mount lives), then servers that crash at start (the supervisor gives up
#             after 5, unmounts and exits 1)
#   foreground  -f: the started process stays as the supervisor (systemd's main PID, a
#             container's entrypoint): a kill and an upgrade under it, then SIGTERM to it
#             unmounts and it exits 0
# After each kill/upgrade: a new serving process, the same supervisor, the tree whole
# through the bind mount. At the end: no reader error (no ENOTCONN, no EIO), the blocked
# reader completes once released, tail saw every tick once, and unmounting ends every
# process. Stalls (reader calls that took long, and the time from a kill to the first
# answer) are printed as "# stall" lines: reported, not asserted (no timed assertions).
. "$TESTS_DIR/lib/tap.sh"
MODE=${1:?usage: test_takeover.sh kill|upgrade|crashloop}
: "${TKFS_BIN:?}" "${TKFS_V2_BIN:?}" "${TKREADER_BIN:?}"
export LC_ALL=C
ROUNDS=${TK_ROUNDS:-20}

[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
[ "$(id -u)" = 0 ] || skip_all "needs root: mount namespaces and bind mounts"
for c in unshare nsenter fusermount3 tail python3; do
    command -v "$c" >/dev/null || skip_all "no $c on this machine"
done
# The whole test in a mount namespace of its own (private): a namespace another program
# on this machine creates meanwhile would otherwise get a copy of the test's FUSE mount,
# keep its superblock alive and make "unmounting ends every process" untrue.
if [ -z "${TK_OWN_NS:-}" ]; then
    TK_OWN_NS=1 exec unshare -m --propagation private "$BASH" "$0" "$@"
fi
kver=$(uname -r | sed -E 's/^([0-9]+)\.([0-9]+).*/\1 \2/')
read -r kmaj kmin <<<"$kver"
if [ "$kmaj" -lt 6 ] || { [ "$kmaj" = 6 ] && [ "$kmin" -lt 9 ]; }; then
    skip_all "kernel $(uname -r) has no FUSE_NOTIFY_RESEND (6.9): requests in flight at a crash would never be answered"
fi

ulimit -c 0    # the crash tests abort() servers on purpose
T=$(mktemp -d /tmp/tk-test.XXXXXX)
M=$T/mnt S=$T/state B=$T/bind BIN=$T/bin/tkfs
mkdir -p "$M" "$S" "$B" "$T/bin"
cp "$TKFS_BIN" "$BIN"
NSPID="" SUP="" PIDS=()

ms() { echo $(( $(date +%s%N) / 1000000 )); }
# a pid that exists and is not a zombie
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
log_tail() { sed 's/^/#   /' "$S/tkfs.log" | tail -"${1:-15}"; }

cleanup() {
    touch "$T/stop"
    [ -n "$NSPID" ] && { sleep 0.5; kill "$NSPID" 2>/dev/null; }
    mountpoint -q "$M" && { fusermount3 -u "$M" 2>/dev/null || umount -l "$M"; }
    [ -n "${TK_KEEP:-}" ] && { echo "# kept $T"; return; }
    for p in "$SUP" "${PIDS[@]}"; do alive "$p" && kill -9 "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

# wait_until MS COMMAND...: poll every 20 ms
wait_until() {
    local end=$(( $(ms) + $1 )); shift
    until "$@" >/dev/null 2>&1; do [ "$(ms)" -ge "$end" ] && return 1; sleep 0.02; done
}

EXPECTED_TREE=". ./dir ./dir/a ./dir/b ./dir/c ./dir/sub ./dir/sub/deep ./gen ./hello ./pid ./poison ./ppid ./ticks ./version ./wait"
# tree_whole ROOT [nsenter prefix...]: every entry there, every static file right
tree_whole() {
    local root=$1; shift
    local got
    got=$("$@" bash -c 'cd "$1" && find . | sort | tr "\n" " "' _ "$root" 2>&1) || return 1
    [ "$got" = "$EXPECTED_TREE " ] || { echo "tree: $got"; return 1; }
    got=$("$@" cat "$root/hello" "$root/dir/a" "$root/dir/b" "$root/dir/c" \
          "$root/dir/sub/deep" 2>&1 | tr '\n' '|')
    [ "$got" = "hello world|a|bb|ccc|deep down|" ] || { echo "content: $got"; return 1; }
}
in_ns() { nsenter -t "$NSPID" -m -- "$@"; }

# ---- mount in background mode: returns once served ----
mount_tkfs() {
    local out rc
    out=$("$BIN" --state "$S" "$M" 2>&1); rc=$?
    is "$rc:$out" "0:" "background mount: exit 0 once serving, nothing printed"
    ok "mounted" mountpoint -q "$M"
    SUP=$(cat "$M/ppid")
    CHILD=$(cat "$M/pid")
    PIDS+=("$CHILD")
    tap_ok "$(alive "$SUP" && [ "$SUP" != "$CHILD" ] && echo 0 || echo 1)" \
        "a supervisor ($SUP) runs the server ($CHILD)"
}

# ---- the readers' namespace ----
start_namespace() {
    rm -f "$T/stop" "$T/ns-ready" "$T/ns-done" "$T/wait.rc" "$T/poll.rc"
    unshare -m --propagation slave bash -c '
        mount --bind "$1" "$2" || exit 1
        pids=()
        for i in 1 2 3 4; do "$4" "$2" "$3/stop" "$3/reader$i$5.out" & pids+=($!); done
        (cat "$2/wait" >"$3/wait.out" 2>"$3/wait.err"; echo $? >"$3/wait.rc") &
        pids+=($!)
        # poll() on it: the poll handle the kernel gave a dead server must be woken
        (python3 -c "
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
p = select.poll()
p.register(fd, select.POLLIN | select.POLLPRI)
print(\"pollin\" if p.poll()[0][1] & select.POLLIN else \"other\")" "$2/wait" \
            >"$3/poll.out" 2>"$3/poll.err"; echo $? >"$3/poll.rc") &
        pids+=($!)
        tail -n +1 -s 0.1 -f "$2/ticks" >"$3/tail.out" 2>"$3/tail.err" &
        tailpid=$!
        touch "$3/ns-ready"
        while [ ! -e "$3/stop" ]; do sleep 0.1; done
        wait "${pids[@]}"
        sleep 0.3; kill $tailpid; wait $tailpid
        touch "$3/ns-done"' _ "$M" "$B" "$T" "$TKREADER_BIN" "${1:-}" &
    NSPID=$!
    wait_until 5000 test -e "$T/ns-ready"
    tap_ok $? "reader namespace up: 4 readers, a blocked reader, a poll(), tail -f, through a bind mount"
    sleep 0.5
    tap_ok "$(in_ns mountpoint -q "$B" && ! mountpoint -q "$B" && echo 0 || echo 1)" \
        "the bind mount exists only in the readers' namespace"
}

stop_namespace() {
    touch "$T/stop"
    wait_until 15000 test -e "$T/ns-done"
    tap_ok $? "readers stopped"
    kill "$NSPID" 2>/dev/null
    wait "$NSPID" 2>/dev/null
    NSPID=""
}

# ---- one round ----
KILL_TIMES=() GAPS=()
round_kill() {
    local i=$1 old new t0 t1
    old=$(cat "$M/pid")
    t0=$(ms)
    kill -9 "$old"
    new=$(in_ns cat "$B/pid")     # the first answer after the kill, through the bind mount
    t1=$(ms)
    KILL_TIMES+=("$t0") GAPS+=($((t1 - t0)))
    PIDS+=("$new")
    tap_ok "$( [ -n "$new" ] && [ "$new" != "$old" ] && ! alive "$old" && echo 0 || echo 1)" \
        "kill $i: process $old killed, $new serves the same mount ($((t1 - t0)) ms)" "$(log_tail)"
}

round_upgrade() {
    local i=$1 old new t0 t1 want=$(( (i / 5) % 2 ? 2 : 1 ))
    if [ $((i % 5)) = 0 ]; then      # a package upgrade: a new file renamed over the old
        if [ "$want" = 2 ]; then cp "$TKFS_V2_BIN" "$BIN.new"; else cp "$TKFS_BIN" "$BIN.new"; fi
        mv "$BIN.new" "$BIN"
    fi
    old=$(cat "$M/pid")
    t0=$(ms)
    kill -HUP "$SUP"
    wait_until 10000 bash -c '[ "$(cat "$1/pid")" != "$2" ]' _ "$M" "$old"
    t1=$(ms)
    new=$(cat "$M/pid")
    KILL_TIMES+=("$t0") GAPS+=($((t1 - t0)))
    PIDS+=("$new")
    wait_until 5000 bash -c '! [ -e /proc/$1 ] || grep -q "^[0-9]* ([^)]*) Z" /proc/$1/stat' _ "$old"
    tap_ok "$( [ "$new" != "$old" ] && ! alive "$old" && echo 0 || echo 1)" \
        "upgrade $i: $old handed over to $new ($((t1 - t0)) ms, start-up included)" "$(log_tail)"
    is "$(in_ns cat "$B/version")" "$want" "upgrade $i: version $want serves"
}

after_round() {
    local i=$1 err
    is "$(cat "$M/ppid")" "$SUP" "round $i: the same supervisor"
    err=$(tree_whole "$B" nsenter -t "$NSPID" -m --)
    tap_ok $? "round $i: the tree is whole through the bind mount" "$err"
    tap_ok "$(test -e "$T/wait.rc" && echo 1 || echo 0)" "round $i: the blocked reader still waits"
    tap_ok "$(test -e "$T/poll.rc" && echo 1 || echo 0)" "round $i: the poll() still waits"
    # a new server that dies within SUPER_STABLE_MS counts as a crash loop: give it time
    sleep 1.1
}

# ---- the readers' verdict and the stall figures ----
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2); else print "-"}'; }

# log_times PATTERN: the log's timestamps (CLOCK_REALTIME ms) of lines matching PATTERN
log_times() { grep -- "$1" "$S/tkfs.log" | awk '{printf "%.0f\n", $1 * 1000}'; }
# longest_call FROM TO: the longest reader call (over TKR_STALL_MS) overlapping [FROM, TO]
longest_call() {
    cat "$T"/reader?.out | awk -v a="$1" -v b="$2" \
        '$1 == "stall" && $2 >= a && $2 - $3 <= b && $3 > m {m = $3} END {print m + 0}'
}
stats() { # stats NAME UNIT VALUES...: max and median
    local name=$1 unit=$2; shift 2
    echo "# stall: $name: max $(printf '%s\n' "$@" | sort -n | tail -1) $unit, median $(printf '%s\n' "$@" | median) $unit ($*)"
}

check_readers() {
    local f total=0 errs=0 enotconn=0 eio=0 k t0 served handed
    local calls=() gaps=() handovers=() served_at=() handing_at=()
    for i in 1 2 3 4; do
        f=$T/reader$i.out
        [ -s "$f" ] || { tap_ok 1 "reader $i reported"; continue; }
        total=$((total + $(awk '/^iterations/ {print $2}' "$f")))
        errs=$((errs + $(awk '/^errors/ {print $2}' "$f")))
        enotconn=$((enotconn + $(awk '/^enotconn/ {print $2}' "$f")))
        eio=$((eio + $(awk '/^eio/ {print $2}' "$f")))
    done
    is "$enotconn" 0 "no reader ever got ENOTCONN"
    is "$eio" 0 "no reader ever got EIO"
    is "$errs" 0 "no reader call failed or returned wrong content" \
        "$(grep -h '^error' "$T"/reader*.out | head -20)"
    tap_ok "$( [ "$total" -gt "$((ROUNDS * 4))" ] && echo 0 || echo 1)" \
        "the readers went on: $total passes over the tree"
    # each round's outage: from the signal (kill) or the old server's last answer
    # (upgrade: "handing over") to the new server's "serving"; the longest reader call
    # overlapping it is what a reader saw (calls under 5 ms are not listed: 0 = < 5)
    mapfile -t served_at < <(log_times 'serving:')
    mapfile -t handing_at < <(log_times 'stopping [0-9]*$')
    for k in "${!KILL_TIMES[@]}"; do
        t0=${KILL_TIMES[$k]}
        served=$(printf '%s\n' "${served_at[@]}" | awk -v t="$t0" '$1 >= t {print; exit}')
        handed=$(printf '%s\n' "${handing_at[@]}" | awk -v t="$t0" '$1 >= t {print; exit}')
        [ -n "$served" ] || continue
        # an upgrade's outage starts when the old server is told to stop reading
        calls+=("$(longest_call "${handed:-$t0}" "$served")")
        gaps+=("$((served - t0))")
        [ -n "$handed" ] && handovers+=("$((served - handed))")
    done
    stats "baseline, longest reader call in ${QUIET_MS} ms with no $MODE" ms \
        "$(longest_call "$QUIET_FROM" "$((QUIET_FROM + QUIET_MS))")"
    stats "longest reader call overlapping each $MODE's outage" ms "${calls[@]}"
    if [ "$MODE" = kill ]; then
        stats "kill to the new server serving" ms "${gaps[@]}"
    else
        stats "SIGHUP to the new server serving (its 300 ms start-up included, served by the old one meanwhile)" ms "${gaps[@]}"
        stats "old server told to stop reading to the new server serving" ms "${handovers[@]}"
    fi
    [ "$MODE" = kill ] &&
        stats "kill to the first answer through the bind mount, nsenter + cat included" ms "${GAPS[@]}"
    echo "# readers: $total passes, $(cat "$T"/reader?.out | awk '/^calls/ {s += $2} END {print s}') calls"
}

check_blocked() {
    echo released >"$S/release.new" && mv "$S/release.new" "$S/release"
    wait_until 5000 test -e "$T/wait.rc"
    is "$(cat "$T/wait.rc" 2>/dev/null):$(cat "$T/wait.out" 2>/dev/null)" "0:released" \
        "the blocked reader completed after every $MODE, once released" "$(cat "$T/wait.err" 2>/dev/null)"
    wait_until 5000 test -e "$T/poll.rc"
    is "$(cat "$T/poll.rc" 2>/dev/null):$(cat "$T/poll.out" 2>/dev/null)" "0:pollin" \
        "the poll() woke with POLLIN after every $MODE, once released" "$(cat "$T/poll.err" 2>/dev/null)"
}

check_tail() {
    local n bad
    n=$(wc -l <"$T/tail.out")
    bad=$(awk '{ if ($0 != sprintf("tick %06d", NR - 1)) { print NR": "$0; exit } }' "$T/tail.out")
    tap_ok "$( [ -z "$bad" ] && [ "$n" -gt 20 ] && echo 0 || echo 1)" \
        "tail -f saw every tick once, in order, across every $MODE ($n lines)" "first wrong line $bad; $(cat "$T/tail.err")"
}

# unmount: every process ends (the supervisor's descriptor keeps no superblock alive)
check_unmount() {
    local how=$1
    if [ "$how" = lazy ]; then
        # the namespace's bind mount outlives the detached original: still served
        umount -l "$M"
        tap_ok "$(in_ns cat "$B/hello" >/dev/null && alive "$SUP" && echo 0 || echo 1)" \
            "after umount -l here, the bind mount in the namespace is still served"
        stop_namespace
    else
        stop_namespace
        fusermount3 -u "$M"
    fi
    wait_until 5000 bash -c '! grep -qs "" /proc/$1/stat || grep -q "^[0-9]* ([^)]*) Z" /proc/$1/stat' _ "$SUP"
    tap_ok "$(alive "$SUP" && echo 1 || echo 0)" "unmounted ($how): the supervisor exited" \
        "$(log_tail; echo "processes that still see the mount:"; grep -l "$T" /proc/[0-9]*/mountinfo 2>/dev/null
           echo "fuse connections (waiting):"; grep -H . /sys/fs/fuse/connections/*/waiting
           for p in "${PIDS[@]}"; do alive "$p" && for t in /proc/$p/task/*; do
               echo "server $p thread ${t##*/}: $(cut -d' ' -f3 $t/stat) $(cat $t/wchan)"; done; done)"
    local left=()
    for p in "${PIDS[@]}"; do alive "$p" && left+=("$p"); done
    is "${left[*]}" "" "unmounted ($how): no server process left"
    tap_ok "$(mountpoint -q "$M" && echo 1 || echo 0)" "unmounted ($how): no mount left"
    # the last server's exit status, passed on (a sanitizer's report makes it non-zero)
    like "$(grep 'supervisor: exiting' "$S/tkfs.log" | tail -1)" "exiting \(status 0\)" \
        "unmounted ($how): the last server and the supervisor exited 0" "$(log_tail)"
}

case $MODE in
kill|upgrade)
    [ "$MODE" = upgrade ] && export TKFS_START_DELAY_MS=300
    mount_tkfs
    start_namespace
    err=$(tree_whole "$B" nsenter -t "$NSPID" -m --)
    tap_ok $? "the tree is whole through the bind mount before any $MODE" "$err"
    QUIET_FROM=$(ms) QUIET_MS=1100
    sleep 1.1     # past SUPER_STABLE_MS: a kill now is not a crash loop; and a baseline
    for i in $(seq 1 "$ROUNDS"); do
        "round_$MODE" "$i"
        after_round "$i"
    done
    check_blocked
    stop_namespace
    check_readers
    is "$(grep -cE 'still running|still in read' "$S/tkfs.log")" 0 \
        "no server left a request running or a thread in read(2) when it handed over"
    check_tail
    # the unmount checks need a live namespace for the lazy case: a new one
    start_namespace .end
    if [ "$MODE" = kill ]; then check_unmount plain; else check_unmount lazy; fi
    ;;
crashloop)
    # the first server dies while answering FUSE_INIT: the next one gets INIT again from
    # the kernel (resent), answers it, and the one after replays that one's copy
    touch "$S/crash-on-init"
    mount_tkfs
    is "$(timeout 10 cat "$M/hello" 2>&1)" "hello world" "a server died in FUSE_INIT: the next one serves"
    like "$(grep -c 'aborting in FUSE_INIT' "$S/tkfs.log")" "^1$" "(it did die there)"
    PIDS+=("$(cat "$M/pid")")
    sleep 1.2
    old=$(cat "$M/pid"); kill -9 "$old"
    is "$(timeout 10 cat "$M/dir/sub/deep" 2>&1)" "deep down" \
        "and the server after it replays the INIT the second one answered"
    tap_ok "$( [ "$(cat "$M/pid")" != "$old" ] && echo 0 || echo 1)" "(a new server)"
    PIDS+=("$(cat "$M/pid")")
    sleep 1.2     # past SUPER_STABLE_MS: the first crash below is not a quick one
    # a poison request: each server it reaches aborts; after SUPER_FAIL_RESENT_AT quick
    # crashes the next server answers it EIO, and the mount goes on
    out=$(timeout 30 cat "$M/poison" 2>&1); rc=$?
    tap_ok "$( [ "$rc" = 1 ] && [[ $out == *"Input/output error"* ]] && echo 0 || echo 1)" \
        "a request that crashes every server ends in EIO" "rc=$rc out=$out; $(log_tail)"
    is "$(grep -c 'poison read: crashing' "$S/tkfs.log")" 4 \
        "it crashed 4 servers (the first one and 3 quick respawns)"
    like "$(grep 'supervisor:' "$S/tkfs.log")" "resent requests fail" \
        "the server after them was told to fail resent requests"
    is "$(cat "$M/ppid")" "$SUP" "the same supervisor serves on"
    err=$(tree_whole "$M")
    tap_ok $? "the mount is whole after the crash loop" "$err"
    PIDS+=("$(cat "$M/pid")")
    # servers that cannot start: give up after SUPER_QUICK_CRASH_LIMIT, unmount, exit 1
    sleep 1.2     # likewise: the crash loop below starts from zero
    touch "$S/crash-at-start"
    t0=$(ms)
    kill -9 "$(cat "$M/pid")"
    wait_until 20000 bash -c '! grep -qs "" /proc/$1/stat || grep -q "^[0-9]* ([^)]*) Z" /proc/$1/stat' _ "$SUP"
    tap_ok "$(alive "$SUP" && echo 1 || echo 0)" \
        "servers crashing at start: the supervisor gave up after $(( $(ms) - t0 )) ms" "$(log_tail)"
    like "$(grep 'supervisor:' "$S/tkfs.log" | tail -3 | tr '\n' ' ')" \
        "5 crashes in a row.*giving up.*exiting \(status 1\)" "it says why, and exits 1"
    is "$(grep -c 'crash-at-start exists' "$S/tkfs.log")" 5 "5 servers tried to start"
    tap_ok "$(mountpoint -q "$M" && echo 1 || echo 0)" "the mount is gone, not left dead"
    left=()
    for p in $(grep -o '^[0-9.]* \[[0-9]*\]' "$S/tkfs.log" | grep -o '[0-9]*\]$' | tr -d ']' | sort -u); do
        alive "$p" && left+=("$p")
    done
    is "${left[*]}" "" "no process of the chain is left"
    ;;
foreground)
    "$BIN" -f --state "$S" "$M" >"$T/fg.out" 2>&1 &
    FG=$!
    wait_until 10000 test -e "$M/pid"
    tap_ok $? "-f: mounted" "$(cat "$T/fg.out"; log_tail)"
    SUP=$(cat "$M/ppid") CHILD=$(cat "$M/pid")
    PIDS+=("$CHILD")
    is "$SUP" "$FG" "-f: the started process is the supervisor, a child serves"
    sleep 1.1
    kill -9 "$CHILD"
    new=$(cat "$M/pid"); PIDS+=("$new")
    tap_ok "$( [ "$new" != "$CHILD" ] && alive "$FG" && echo 0 || echo 1)" \
        "-f: a killed server is replaced, the foreground process stays"
    err=$(tree_whole "$M")
    tap_ok $? "-f: the tree is whole" "$err"
    kill -HUP "$new"; sleep 0.5
    tap_ok "$( [ "$(cat "$M/pid")" = "$new" ] && mountpoint -q "$M" && echo 0 || echo 1)" \
        "-f: SIGHUP to the serving child (systemctl kill -s HUP) changes nothing"
    sleep 1.1
    kill -HUP "$FG"
    wait_until 10000 bash -c '[ "$(cat "$1/pid")" != "$2" ]' _ "$M" "$new"
    tap_ok $? "-f: SIGHUP upgrades in place" "$(log_tail)"
    PIDS+=("$(cat "$M/pid")")
    is "$(cat "$T/fg.out")" "" "-f: nothing on the terminal so far (servers log to the state dir)"
    kill -TERM "$FG"
    wait "$FG"; rc=$?
    is "$rc" 0 "-f: SIGTERM to the foreground process: it exits 0"
    tap_ok "$(mountpoint -q "$M" && echo 1 || echo 0)" "-f: SIGTERM unmounted" "$(log_tail)"
    left=()
    for p in "${PIDS[@]}"; do alive "$p" && left+=("$p"); done
    is "${left[*]}" "" "-f: no server process left"
    ;;
*)
    echo "unknown mode $MODE" >&2; exit 2;;
esac

done_testing
