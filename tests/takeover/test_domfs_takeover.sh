#!/bin/bash
# test_domfs_takeover.sh MODE - domfs itself survives its own crash and in-place upgrade
# (issue 11), on libvirt's test driver (no QEMU: the e2e test does it with a real guest).
# `domfs -f` (the supervisor) mounts a node file with one running guest whose serial log
# this script writes and rotates as virtlogd would ("tick N" lines, a rotation every 40);
# in another mount namespace (slave propagation, mount --bind) run 4 reader loops
# (dxreader.py: the whole tree, a kept file descriptor and a kept directory, inode
# numbers), `cat .domfs/events` (a read blocked in the daemon), a poll() loop on it, and
# `tail -f console.log`.
#   kill     SIGKILL the serving process TK_ROUNDS times (default 5); before the second,
#            it is stopped while the log rotates twice
#   upgrade  SIGHUP the supervisor TK_ROUNDS times, a new binary file renamed over the
#            program each time (the new process must run it)
#   resent   a write in flight when the serving process dies (libvirtd stopped, a private
#            one) is not run a second time: EIO, and `error` says the outcome is unknown
# After each kill or upgrade: a new serving process under the same supervisor, the guest
# through the bind mount, a suspend and a resume to be seen by the event readers. At the
# end: no reader error (no ENOTCONN, no EIO, inodes and kept handles good), the events
# readers saw one takeover line per round and every event made after each, tail -f saw
# every tick once in order, unmounting ends every process with status 0. The time from
# each signal to the first answer through the bind mount is printed ("# stall" lines:
# reported, not asserted).
. "$TESTS_DIR/lib/tap.sh"
MODE=${1:?usage: test_domfs_takeover.sh kill|upgrade|resent}
: "${DOMFS_BIN:?DOMFS_BIN not set (run through meson test)}"
ROUNDS=${TK_ROUNDS:-5}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export LC_ALL=C

[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
[ "$(id -u)" = 0 ] || skip_all "needs root: mount namespaces and bind mounts"
for c in unshare nsenter fusermount3 tail python3 pgrep; do
    command -v "$c" >/dev/null || skip_all "no $c on this machine"
done
read -r kmaj kmin < <(uname -r | sed -E 's/^([0-9]+)\.([0-9]+).*/\1 \2/')
if [ "$kmaj" -lt 6 ] || { [ "$kmaj" = 6 ] && [ "$kmin" -lt 9 ]; }; then
    skip_all "kernel $(uname -r) has no FUSE_NOTIFY_RESEND (6.9): requests in flight at a crash would never be answered"
fi
DOMFS_EXPECT_TAKEOVER=1          # the serving process is killed on purpose here
. "$TESTS_DIR/lib/mount.sh"     # its own mount namespace, TEST_TMP, domfs_mount/umount

T=$TEST_TMP
M=$T/mnt B=$T/bind LOGS=$T/log BIN=$T/bin/domfs
G=g UUID=5eedf00d-0000-4000-8000-000000000001
mkdir -p "$B" "$LOGS" "$T/bin"
cp "$DOMFS_BIN" "$BIN"
NSPID="" WRITER=""

ms() { echo $(( $(date +%s%N) / 1000000 )); }
alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
server_of() { pgrep -P "$1" -x domfs | head -1; }
in_ns() { nsenter -t "$NSPID" -m -- "$@"; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2); else print "-"}'; }
stats() { echo "# stall: $1: max $(printf '%s\n' "${@:2}" | sort -n | tail -1) ms, median $(printf '%s\n' "${@:2}" | median) ms ($(echo "${@:2}"))"; }

cleanup_tk() {
    touch "$T/stop"
    [ -n "$WRITER" ] && kill "$WRITER" 2>/dev/null
    [ -n "$NSPID" ] && { sleep 0.5; kill "$NSPID" 2>/dev/null; wait "$NSPID" 2>/dev/null; }
    return 0
}

# ---- the guest's serial log, written and rotated as virtlogd does (max_backups 3)
rotate() {
    local k
    rm -f "$LOGS/$G.log.2"
    for k in 1 0; do [ -e "$LOGS/$G.log.$k" ] && mv "$LOGS/$G.log.$k" "$LOGS/$G.log.$((k + 1))"; done
    mv "$LOGS/$G.log" "$LOGS/$G.log.0"
    : >"$LOGS/$G.log"
}
write_ticks() {
    local n=0 pad
    pad=$(printf 'x%.0s' $(seq 60))
    : >"$LOGS/$G.log"
    while [ ! -e "$T/stop" ]; do
        echo "tick $n $pad" >>"$LOGS/$G.log"
        echo "$n" >"$T/last-tick"
        n=$((n + 1))
        if [ $((n % 40)) = 0 ] || [ -e "$T/rotate-now" ]; then rotate; rm -f "$T/rotate-now"; fi
        sleep 0.05
    done
}

node_xml() {
    cat <<EOF
<node>
  <cpu><mhz>2000</mhz><model>i686</model><active>2</active><total>2</total><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads></cpu>
  <memory>4194304</memory>
  <domain type='test'>
    <name>$G</name>
    <uuid>$UUID</uuid>
    <memory unit='MiB'>64</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <devices>
      <serial type='pty'>
        <log file='$LOGS/$G.log' append='on'/>
        <target port='0'/>
      </serial>
    </devices>
  </domain>
</node>
EOF
}

# ---- the readers' namespace
start_namespace() {
    rm -f "$T/stop" "$T/ns-ready" "$T/ns-done"
    unshare -m --propagation slave bash -c '
        mount --bind "$1" "$2" || exit 1
        pids=()
        for i in 1 2 3 4; do
            python3 "$3/dxreader.py" "$2" "$4" "$5" "$6/stop" "$6/reader$i.out" & pids+=($!)
        done
        cat "$2/.domfs/events" >"$6/events.out" 2>"$6/events.err" &
        ev=$!
        python3 -c "
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK)
out = open(sys.argv[2], \"w\")
p = select.poll()
p.register(fd, select.POLLIN)
while not os.path.exists(sys.argv[3]):
    if p.poll(200):
        try:
            out.write(os.read(fd, 65536).decode()); out.flush()
        except BlockingIOError:
            pass" "$2/.domfs/events" "$6/poll.out" "$6/stop" 2>"$6/poll.err" &
        pids+=($!)
        tail -n +1 -s 0.1 -f "$2/$4/console.log" >"$6/tail.out" 2>"$6/tail.err" &
        tl=$!
        touch "$6/ns-ready"
        while [ ! -e "$6/stop" ]; do sleep 0.1; done
        wait "${pids[@]}"
        sleep 0.5
        kill -0 $ev && kill -0 $tl && touch "$6/alive"
        kill $ev $tl; wait $ev $tl
        touch "$6/ns-done"' _ "$M" "$B" "$HERE" "$G" "$UUID" "$T" &
    NSPID=$!
    wait_for 10 test -e "$T/ns-ready"
    tap_ok $? "readers up in their own namespace: 4 tree readers, cat and poll() on .domfs/events, tail -f console.log, through a bind mount"
    sleep 0.5
}

stop_namespace() {
    touch "$T/stop"
    wait_for 20 test -e "$T/ns-done"
    tap_ok $? "readers stopped"
    wait "$NSPID" 2>/dev/null
    NSPID=""
}

# ---- rounds
GAPS=() WIN_FROM=() WIN_TO=() UPGRADE_MS=() SERVER=""
# after_takeover LABEL OLD T0: a new server under the same supervisor, answering through
# the bind mount; then a suspend and a resume for the event readers
after_takeover() {
    local label=$1 old=$2 t0=$3 new="" t1 end=$(( $(ms) + 30000 ))
    in_ns timeout 30 cat "$B/$G/state" >/dev/null
    t1=$(ms)
    until [ -n "$new" ] && [ "$new" != "$old" ]; do
        new=$(server_of "$SUP"); [ "$(ms)" -ge "$end" ] && break; sleep 0.02
    done
    GAPS+=($((t1 - t0))) WIN_FROM+=("$t0") WIN_TO+=("$t1")
    tap_ok "$( [ -n "$new" ] && [ "$new" != "$old" ] && alive "$SUP" && ! alive "$old"; echo $?)" \
        "$label: server $old replaced by ${new:-nothing} under supervisor $SUP ($((t1 - t0)) ms to an answer)"
    ok "$label: a suspend through the bind mount" in_ns timeout 10 sh -c "echo paused > '$B/$G/state'"
    ok "$label: and a resume" in_ns timeout 10 sh -c "echo running > '$B/$G/state'"
    SERVER=$new
    sleep 1.1   # the supervisor counts a crash within 1 s of serving as a crash loop
}

# rotate_now: the writer rotates the log at its next tick
rotate_now() { touch "$T/rotate-now"; wait_for 5 test ! -e "$T/rotate-now"; sleep 0.3; }

round_kill() {
    local t0
    if [ "$1" = 2 ]; then
        # the log rotates twice while no process serves: the next one finds tail -f's
        # position by the identity of the file that was newest (renamed twice since)
        kill -STOP "$SERVER"
        rotate_now; rotate_now
    fi
    t0=$(ms); kill -9 "$SERVER"
    after_takeover "kill $1" "$SERVER" "$t0"
}

round_upgrade() {
    local t0 old=$SERVER
    cp "$DOMFS_BIN" "$BIN.new" && mv "$BIN.new" "$BIN"     # a package upgrade's rename
    t0=$(ms); kill -HUP "$SUP"
    # the old one serves while the new one starts: the round is the handover itself
    wait_for 30 bash -c '[ -n "$(pgrep -P "$1" -x domfs)" ] && [ "$(pgrep -P "$1" -x domfs)" != "$2" ] && ! [ -e "/proc/$2/exe" ]' _ "$SUP" "$old"
    UPGRADE_MS+=($(( $(ms) - t0 )))
    after_takeover "upgrade $1" "$old" "$t0"
    is "$(stat -Lc %i "/proc/$SERVER/exe" 2>&1)" "$(stat -c %i "$BIN")" \
        "upgrade $1: the new server runs the file installed over the program"
}

# ---- verdicts
check_readers() {
    local f sum
    sum() { cat "$T"/reader?.out | awk -v k="$1" '$1 == k {s += $2} END {print s + 0}'; }
    for f in "$T"/reader?.out; do [ -s "$f" ] || tap_ok 1 "reader report $f"; done
    is "$(sum enotconn)" 0 "no reader call got ENOTCONN"
    is "$(sum eio)" 0 "no reader call got EIO"
    is "$(sum errors)" 0 "no reader call failed or saw a wrong answer (content, inode number)" \
        "$(grep -h '^error' "$T"/reader?.out | head -20)"
    tap_ok "$( [ "$(sum iterations)" -gt "$ROUNDS" ]; echo $?)" \
        "the readers went on: $(sum iterations) passes, $(sum calls) calls"
    echo "# longest reader call: $(cat "$T"/reader?.out | awk '$1 == "max_stall_ms" && $2 > m {m = $2} END {print m + 0}') ms"
}

# The longest reader call overlapping each round (from the signal to the first answer
# after it): what a reader saw of the takeover. Calls under 5 ms are not listed (0).
round_stalls() {
    local k out=()
    for k in "${!WIN_FROM[@]}"; do
        out+=("$(cat "$T"/reader?.out | awk -v a="${WIN_FROM[$k]}" -v b="${WIN_TO[$k]}" \
            '$1 == "stall" && $2 >= a && $2 - $3 <= b && $3 > m {m = $3} END {print m + 0}')")
    done
    stats "longest reader call overlapping each $MODE" "${out[@]}"
    [ "$MODE" = kill ] && echo "# (kill 2's includes the time its server was stopped on purpose while the log rotated)"
    return 0
}

check_events() {
    local what=$1
    is "$(cat "$T/events.err")" "" "cat .domfs/events: nothing on stderr"
    is "$(grep -c " \.domfs takeover $what\$" "$T/events.out")" "$ROUNDS" \
        "cat .domfs/events: one '.domfs takeover $what' line per $MODE" "$(cat "$T/events.out")"
    is "$(grep -c " $G lifecycle suspended" "$T/events.out")" "$ROUNDS" \
        "cat .domfs/events: every suspend made after a takeover"
    is "$(grep -c " $G lifecycle resumed" "$T/events.out")" "$ROUNDS" \
        "cat .domfs/events: every resume made after a takeover"
    is "$(grep -vE '^[0-9]+\.[0-9]{3} [^ ]+ [a-z-]+( .*)?$' "$T/events.out" | head -3)" "" \
        "every line is an event line"
    is "$(cut -d' ' -f2- "$T/poll.out")" "$(cut -d' ' -f2- "$T/events.out")" \
        "the poll() reader read the same lines (woken after every takeover)" "$(cat "$T/poll.err")"
    tap_ok "$(test -e "$T/alive"; echo $?)" "cat .domfs/events and tail -f were still running at the end"
}

check_tail() {
    local t bad first last
    t=$(awk '$1 == "tick" { print $2 }' "$T/tail.out")
    bad=$(awk 'NR > 1 && $1 != prev + 1 { printf "after %d comes %d; ", prev, $1 } { prev = $1 }' <<<"$t" | head -c 300)
    is "$(cat "$T/tail.err")" "" "tail -f console.log: nothing on stderr (no 'file truncated')"
    is "$bad" "" "tail -f console.log: every tick once, in order, across every $MODE and rotation"
    first=$(head -1 <<<"$t") last=$(tail -1 <<<"$t")
    tap_ok "$( [ "${first:-x}" = 0 ] && [ "${last:-0}" -ge $(( $(cat "$T/last-tick") - 20 )) ]; echo $?)" \
        "tail -f covers the whole run: ticks ${first:-none}..${last:-none} of 0..$(cat "$T/last-tick")"
}

check_end() {
    local servers
    servers=$(pgrep -P "$SUP" -x domfs | tr '\n' ' ')
    domfs_umount "$M"
    tap_ok "$( ! alive "$SUP" && [ "$DOMFS_DAEMON_FAILED" = 0 ]; echo $?)" \
        "unmounted: the supervisor exited with status 0"
    for s in $servers $SERVER; do alive "$s" && tap_ok 1 "server $s still there"; done
    tap_ok "$(mountpoint -q "$M"; [ $? != 0 ]; echo $?)" "no mount left"
}

case $MODE in
kill|upgrade)
    node_xml >"$T/node.xml"
    write_ticks &
    WRITER=$!
    trap 'rc=$?; cleanup_tk; (exit $rc); domfs_exit_trap' EXIT
    wait_for 5 test -s "$T/last-tick"
    DOMFS_BIN=$BIN domfs_mount "$M" -c "test://$T/node.xml" -o "log_dirs=$LOGS" ||
        { tap_ok 1 "domfs -f mounts the node file"; done_testing; exit 1; }
    SUP=$DOMFS_SUPER_PID SERVER=$DOMFS_PID
    tap_ok "$( [ "$SUP" != "$SERVER" ] && alive "$SERVER"; echo $?)" \
        "domfs -f ($SUP) is the supervisor of a serving process ($SERVER)"
    is "$(cat "$M/$G/uuid")" "$UUID" "the guest is there"
    like "$(head -c 200 "$M/$G/console.log")" "^tick " "its console.log shows the log"
    start_namespace
    sleep 1.1
    for i in $(seq 1 "$ROUNDS"); do "round_$MODE" "$i"; done
    sleep 1
    stop_namespace
    kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null; WRITER=""
    check_readers
    [ "$MODE" = kill ] && check_events crash || check_events upgrade
    check_tail
    like "$(cat "$M.log")" "took over 1 connection" "the servers' log says they took over"
    stats "signal to the first answer through the bind mount (nsenter + cat included), $MODE" "${GAPS[@]}"
    round_stalls
    [ "$MODE" = upgrade ] && stats "SIGHUP to the old server gone (the new one's start-up included: the old one serves meanwhile)" "${UPGRADE_MS[@]}"
    check_end
    ;;
resent)
    . "$TESTS_DIR/lib/libvirtd.sh"
    lvd_require
    lvd_start "$T/lv" || { tap_ok 1 "private libvirtd starts"; done_testing; exit 1; }
    domfs_mount "$M" -c "$LVD_URI" -o timeout=60 ||
        { tap_ok 1 "domfs -f mounts the private libvirtd"; done_testing; exit 1; }
    SUP=$DOMFS_SUPER_PID SERVER=$DOMFS_PID
    is "$(cat "$M/test/state")" "running" "the private libvirtd's guest"
    sleep 1.1
    kill -STOP "$LVD_PID"
    (echo paused >"$M/test/state") 2>"$T/write.err" &
    WP=$!
    sleep 0.5
    tap_ok "$(kill -0 "$WP" 2>/dev/null; echo $?)" "a write waits for the stopped libvirtd"
    kill -9 "$SERVER"
    sleep 0.5
    kill -CONT "$LVD_PID"
    wait "$WP"; rc=$?
    tap_ok "$( [ "$rc" != 0 ]; echo $?)" "the write in flight at the crash fails (status $rc)"
    like "$(cat "$T/write.err")" "Input/output error" "with EIO"
    like "$(cat "$M/test/error")" "state EIO: domfs restarted \(crash\) while this write was in flight: its outcome is unknown" \
        "error says domfs restarted and the outcome is unknown"
    NEW=$(server_of "$SUP")
    tap_ok "$( [ -n "$NEW" ] && [ "$NEW" != "$SERVER" ]; echo $?)" "a new server ($NEW) serves"
    like "$(lvd_virsh domstate test)" "paused|running" "libvirt ran it once (or not): $(lvd_virsh domstate test)"
    ok "a new write works" sh -c "echo running > '$M/test/state'"
    is "$(cat "$M/test/state")" "running" "and took effect"
    SERVER=$NEW
    check_end
    ;;
*)
    echo "unknown mode $MODE" >&2; exit 2;;
esac
done_testing
