#!/bin/bash
# test_e2e_takeover.sh - domfs's own crash and in-place upgrade (issue 11) with a real
# QEMU guest printing ticks on its serial console, through the e2e harness:
#  - `domfs -f` (the supervisor; a copy of the binary, so that upgrades can install new
#    files over it) mounts one private libvirt host; in another mount namespace (slave
#    propagation, mount --bind) run `tail -f console.log`, `cat .domfs/events`, a poll()
#    loop on .domfs/events, a tree reader (dxreader.py: every file, a kept handle and
#    directory, inode numbers, each call timed) and a loop reading the guest's state;
#  - the serving process is SIGKILLed KILLS times, then the supervisor gets SIGHUP HUPS
#    times (in-place upgrade, a new file renamed over the program each time); after
#    each, once served again, the guest is suspended and resumed (two events);
#  - tail -f: every tick once, in order, up to the end, nothing on stderr; the events
#    readers never ended and saw one takeover line per round and every suspend and
#    resume made after a takeover; no reader call failed (no ENOTCONN, no EIO);
#    unmounting ends every process.
# Output: TAP lines, then the stalls (signal to the first answer through the bind mount;
# the longest reader call overlapping each round) and phase timings. Exit 0 = all passed,
# 1 = failures, 77 = skipped.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/domfs_e2e.sh
. "$HERE/../e2e/domfs_e2e.sh"

H=t1
G=tg
PAD=250          # tick lines of ~270 bytes, ~4 a second
KILLS=${TK_E2E_KILLS:-5}
HUPS=${TK_E2E_HUPS:-5}
W=$E2E_ROOT/takeover
mkdir -p "$W"

# serving PID: the domfs child of the supervisor SUP
server_of() { pgrep -P "$1" -x domfs | head -1; }

ms() { echo $(( $(date +%s%N) / 1000000 )); }
ticks() { tr -d '\r' < "$1" | grep -aoE '^tick [0-9]+ up=' | awk '{ print $2 }'; }
consecutive() {
    awk 'NR > 1 && $1 != prev + 1 { printf "after %d comes %d\n", prev, $1; bad++ } { prev = $1 }
         END { exit bad ? 1 : 0 }' | head -5
    return "${PIPESTATUS[0]}"
}
median() { sort -n | awk '{a[NR]=$1} END {print NR ? (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2) : "-"}'; }

dx_phase "setup: packages, guest image, host $H, guest $G running"
e2e_install
e2e_guest_build || e2e_die "guest build failed"
e2e_host_up $H || e2e_die "host $H did not come up"
e2e_kvm_probe $H
e2e_define $G $H --tickpad $PAD || e2e_die "define $G failed"
LOGDIR=$(e2e_host_logdir $H)
dx_virsh $H start $G >/dev/null || e2e_die "start $G failed"

dx_phase "mount under the supervisor, readers in another mount namespace"
BIN=$W/bin/domfs
mkdir -p "$W/bin" && cp "$DX_BIN" "$BIN" && DX_BIN=$BIN
dx_mount tk -c "$H=$(e2e_host_uri $H)" --log-root "$H=$LOGDIR"
tap_ok $? "domfs -f mounts host $H" || dx_finish
M=$DX_MNT SUP=$DX_PID B=$W/bind
mkdir -p "$B"
SERVER=$(server_of "$SUP")
tap_ok "$([ -n "$SERVER" ]; echo $?)" "the started process ($SUP) supervises a server ($SERVER)"
UUID=$(dx_virsh $H domuuid $G | head -1)
ok "$G ticks on its serial console" e2e_wait_tick $G $H 5 90
unshare -m --propagation slave bash -c '
    mount --bind "$1" "$2" || exit 1
    tail -s 0.2 -n 2 -f "$2/$3/console.log" >"$4/tail.out" 2>"$4/tail.err" &
    t=$!
    cat "$2/.domfs/events" >"$4/events.out" 2>"$4/events.err" &
    e=$!
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
            pass" "$2/.domfs/events" "$4/poll.out" "$4/stop" 2>"$4/poll.err" &
    p=$!
    python3 "$5/dxreader.py" "$2" "$3" "$6" "$4/stop" "$4/reader.out" &
    d=$!
    (while [ ! -e "$4/stop" ]; do
        timeout 10 cat "$2/$3/state" >/dev/null 2>>"$4/state.err" ||
            echo "state: exit $?" >>"$4/state.err"
        sleep 0.1
     done) &
    r=$!
    touch "$4/ready"
    while [ ! -e "$4/stop" ]; do sleep 0.2; done
    kill -0 $t && kill -0 $e && touch "$4/alive"
    kill $t $e
    wait $r $p $d
    touch "$4/done"' _ "$M" "$B" "$G" "$W" "$HERE" "$UUID" &
NS=$!
ok "readers up in their namespace" dx_wait 10 test -e "$W/ready"
in_ns() { nsenter -t "$NS" -m -- "$@"; }
first_tick=$(e2e_last_tick $G $H)

GAPS=() WIN_FROM=() WIN_TO=() UPGRADE_MS=()
# after_takeover LABEL OLD T0: a new server, the same supervisor, the guest through the
# bind mount, then a suspend and a resume to be seen by the events reader
after_takeover() {
    local label=$1 old=$2 t0=$3 new="" t1
    local end=$(( $(ms) + 30000 ))
    in_ns timeout 30 cat "$B/$G/state" >/dev/null
    t1=$(ms)
    until [ -n "$new" ] && [ "$new" != "$old" ]; do
        new=$(server_of "$SUP"); [ "$(ms)" -ge "$end" ] && break; sleep 0.02
    done
    GAPS+=($((t1 - t0))) WIN_FROM+=("$t0") WIN_TO+=("$t1")
    tap_ok "$([ -n "$new" ] && [ "$new" != "$old" ] && kill -0 "$SUP"; echo $?)" \
        "$label: server $old replaced by ${new:-nothing} ($((t1 - t0)) ms to an answer)"
    tap_ok "$(in_ns timeout 10 test -f "$B/$G/console.log"; echo $?)" "$label: the tree is there"
    dx_virsh $H suspend $G >/dev/null && dx_virsh $H resume $G >/dev/null
    SERVER=$new
    sleep 1.2   # the supervisor counts a crash within 1 s of serving as a crash loop
}

dx_phase "$KILLS kills of the serving process"
sleep 1.2
for ((i = 1; i <= KILLS; i++)); do
    t0=$(ms); kill -9 "$SERVER"
    after_takeover "kill $i" "$SERVER" "$t0"
done
dx_phase "$HUPS in-place upgrades (SIGHUP to the supervisor)"
for ((i = 1; i <= HUPS; i++)); do
    cp "$DX_BIN" "$BIN.new" && mv "$BIN.new" "$BIN"      # a package upgrade's rename
    old=$SERVER
    t0=$(ms); kill -HUP "$SUP"
    # the old server serves while the new one starts: wait for the handover itself
    end=$(( $(ms) + 60000 ))
    while [ -e "/proc/$old/exe" ] && [ "$(ms)" -lt "$end" ]; do sleep 0.02; done
    UPGRADE_MS+=($(( $(ms) - t0 )))
    after_takeover "upgrade $i" "$old" "$t0"
    is "$(stat -Lc %i "/proc/$SERVER/exe" 2>&1)" "$(stat -c %i "$BIN")" \
        "upgrade $i: the new server runs the file installed over the program"
done
sleep 2
last_tick=$(e2e_last_tick $G $H)

dx_phase "verdicts"
touch "$W/stop"
ok "readers stopped" dx_wait 20 test -e "$W/done"
wait "$NS" 2>/dev/null
tap_ok "$(test -e "$W/alive"; echo $?)" "tail -f and the events reader were still running at the end"
is "$(cat "$W/tail.err")" "" "tail -f: nothing on stderr (no 'file truncated', no ENOTCONN)"
t=$(ticks "$W/tail.out")
why=$(consecutive <<<"$t"); rc=$?
tap_ok $rc "tail -f: every tick once, in order, across every takeover" "$why"
tap_ok "$([ "$(head -1 <<<"$t")" -le $((first_tick + 2)) ] && [ "$(tail -1 <<<"$t")" -ge $((last_tick - 8)) ]; echo $?)" \
    "tail -f covers the whole time (host ticks $first_tick..$last_tick, tail $(head -1 <<<"$t")..$(tail -1 <<<"$t"))"
is "$(cat "$W/events.err")" "" "the events reader: nothing on stderr"
is "$(grep -c " \.domfs takeover crash$" "$W/events.out"):$(grep -c " \.domfs takeover upgrade$" "$W/events.out")" \
    "$KILLS:$HUPS" "the events reader got one takeover line per kill and per upgrade"
is "$(grep -c " $G lifecycle suspended" "$W/events.out")" "$((KILLS + HUPS))" \
    "the events reader saw every suspend made after a takeover" "$(cat "$W/events.out")"
is "$(grep -c " $G lifecycle resumed" "$W/events.out")" "$((KILLS + HUPS))" \
    "the events reader saw every resume made after a takeover"
bad=$(grep -vE "^[0-9]+\.[0-9]+ [^ ]+ [a-z-]+( .*)?$|^overflow [0-9]+$" "$W/events.out" | head -3)
is "$bad" "" "every events line is an event or an overflow line"
is "$(cut -d' ' -f2- "$W/poll.out")" "$(cut -d' ' -f2- "$W/events.out")" \
    "the poll() reader read the same lines (woken after every takeover)" "$(cat "$W/poll.err")"
is "$(cat "$W/state.err" 2>/dev/null)" "" "the state loop never failed (no ENOTCONN, no EIO, no hang)"
rd() { awk -v k="$1" '$1 == k {print $2}' "$W/reader.out"; }
is "$(rd enotconn):$(rd eio):$(rd errors)" "0:0:0" \
    "the tree reader: no ENOTCONN, no EIO, no wrong answer ($(rd iterations) passes, $(rd calls) calls)" \
    "$(grep '^error' "$W/reader.out" | head -20)"
stats() { echo "# stall: $1: max $(printf '%s\n' "${@:2}" | sort -n | tail -1) ms, median $(printf '%s\n' "${@:2}" | median) ms ($(echo "${@:2}"))"; }
stats "signal to the first answer through the bind mount (nsenter + cat included), kills then upgrades" "${GAPS[@]}"
calls=()
for k in "${!WIN_FROM[@]}"; do
    calls+=("$(awk -v a="${WIN_FROM[$k]}" -v b="${WIN_TO[$k]}" \
        '$1 == "stall" && $2 >= a && $2 - $3 <= b && $3 > m {m = $3} END {print m + 0}' "$W/reader.out")")
done
stats "longest tree-reader call overlapping each round (kills then upgrades; under 5 ms: 0)" "${calls[@]}"
stats "SIGHUP to the old server gone (the new one's start-up included; the old one serves meanwhile)" "${UPGRADE_MS[@]}"

dx_phase "unmount ends everything"
dx_umount "$M"
tap_ok "$(kill -0 "$SUP" 2>/dev/null; [ $? != 0 ]; echo $?)" "the supervisor exited"
tap_ok "$([ -z "$(server_of "$SUP")" ] && ! kill -0 "$SERVER" 2>/dev/null; echo $?)" "no server process left"
dx_finish
