#!/bin/bash
# test_e2e_takeover.sh - domfs's own crash and in-place upgrade (issue 11) with a real
# QEMU guest printing ticks on its serial console, through the e2e harness:
#  - `domfs -f` mounts one private libvirt host; in another mount namespace (slave
#    propagation, mount --bind) run `tail -f console.log`, a reader of .domfs/events
#    and a loop reading the guest's state;
#  - the serving process is SIGKILLed KILLS times, then the supervisor gets SIGHUP HUPS
#    times (in-place upgrade); after each, once served again, the guest is suspended and
#    resumed (two events);
#  - tail -f: every tick once, in order, up to the end, nothing on stderr; the events
#    reader never ended and saw every suspend and resume made after a takeover (an
#    "overflow N" line may stand for events of the gap, a silent gap may not); the state
#    loop never failed (no ENOTCONN, no EIO); unmounting ends every process.
# Skips (77) until domfs runs under its supervisor (fs/fs_super.h): `domfs -f` must be
# the supervisor with a serving child.
# Output: TAP lines, then phase timings. Exit 0 = all passed, 1 = failures, 77 = skipped.
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

# Is `domfs -f` a supervisor with a serving child? (a test:///default mount, no host)
supervised() {
    local m=$DX_MNTDIR/probe p c="" i
    mkdir -p "$m"
    "$DX_BIN" -f -c test:///default "$m" >"$m.log" 2>&1 &
    p=$!
    for ((i = 0; i < 100; i++)); do mountpoint -q "$m" && break; sleep 0.05; done
    mountpoint -q "$m" && c=$(server_of "$p")
    timeout 10 fusermount3 -u "$m" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    [ -n "$c" ]
}
supervised || e2e_skip "domfs -f serves in a single process: it has no supervisor yet" \
    "(issue 11: fs/main.c must run fs/fs_super.h's supervisor and serve through fs_takeover.h)"

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
dx_mount tk -c "$H=$(e2e_host_uri $H)" --log-root "$H=$LOGDIR"
tap_ok $? "domfs -f mounts host $H" || dx_finish
M=$DX_MNT SUP=$DX_PID B=$W/bind
mkdir -p "$B"
SERVER=$(server_of "$SUP")
tap_ok "$([ -n "$SERVER" ]; echo $?)" "the started process ($SUP) supervises a server ($SERVER)"
ok "$G ticks on its serial console" e2e_wait_tick $G $H 5 90
unshare -m --propagation slave bash -c '
    mount --bind "$1" "$2" || exit 1
    tail -s 0.2 -n 2 -f "$2/$3/console.log" >"$4/tail.out" 2>"$4/tail.err" &
    t=$!
    cat "$2/.domfs/events" >"$4/events.out" 2>"$4/events.err" &
    e=$!
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
    wait $r
    touch "$4/done"' _ "$M" "$B" "$G" "$W" &
NS=$!
ok "readers up in their namespace" dx_wait 10 test -e "$W/ready"
in_ns() { nsenter -t "$NS" -m -- "$@"; }
first_tick=$(e2e_last_tick $G $H)

GAPS=()
# after_takeover LABEL OLD T0: a new server, the same supervisor, the guest through the
# bind mount, then a suspend and a resume to be seen by the events reader
after_takeover() {
    local label=$1 old=$2 t0=$3 new=""
    local end=$(( $(ms) + 30000 ))
    until [ -n "$new" ] && [ "$new" != "$old" ]; do
        new=$(server_of "$SUP"); [ "$(ms)" -ge "$end" ] && break; sleep 0.02
    done
    in_ns timeout 30 cat "$B/$G/state" >/dev/null
    GAPS+=($(( $(ms) - t0 )))
    tap_ok "$([ -n "$new" ] && [ "$new" != "$old" ] && kill -0 "$SUP"; echo $?)" \
        "$label: server $old replaced by ${new:-nothing} ($(( $(ms) - t0 )) ms to an answer)"
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
    t0=$(ms); kill -HUP "$SUP"
    after_takeover "upgrade $i" "$SERVER" "$t0"
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
is "$(grep -c " $G lifecycle suspended" "$W/events.out")" "$((KILLS + HUPS))" \
    "the events reader saw every suspend made after a takeover" "$(cat "$W/events.out")"
is "$(grep -c " $G lifecycle resumed" "$W/events.out")" "$((KILLS + HUPS))" \
    "the events reader saw every resume made after a takeover"
bad=$(grep -vE "^[0-9]+\.[0-9]+ [^ ]+ [a-z-]+( .*)?$|^overflow [0-9]+$" "$W/events.out" | head -3)
is "$bad" "" "every events line is an event or an overflow line"
is "$(cat "$W/state.err" 2>/dev/null)" "" "the state loop never failed (no ENOTCONN, no EIO, no hang)"
echo "# stall: signal to an answer through the bind mount (ms), kills then upgrades: ${GAPS[*]}"
echo "# stall: max $(printf '%s\n' "${GAPS[@]}" | sort -n | tail -1) ms, median $(printf '%s\n' "${GAPS[@]}" | median) ms"

dx_phase "unmount ends everything"
dx_umount "$M"
tap_ok "$(kill -0 "$SUP" 2>/dev/null; [ $? != 0 ]; echo $?)" "the supervisor exited"
tap_ok "$([ -z "$(server_of "$SUP")" ] && ! kill -0 "$SERVER" 2>/dev/null; echo $?)" "no server process left"
dx_finish
