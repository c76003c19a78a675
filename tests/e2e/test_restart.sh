#!/bin/bash
# test_restart.sh - libvirtd restarted under a live domfs mount, with a QEMU guest running:
#  - outage 1 (SIGTERM): reads go on from the last known state without hanging,
#    .domfs/connection says reconnecting, writes fail with ENOTCONN; libvirtd started
#    again in the same namespace: connected within a bound, writes work, and changes made
#    with virsh show up in the files and in .domfs/events (events re-registered);
#  - outage 2 (SIGKILL, and the guest's QEMU dies meanwhile): the files keep the last
#    known state; once back, the reload shows the guest shut off (id gone) and it starts
#    again through the files.
# Every access to the mount is bounded by `timeout`: a hang is a failure, not a stuck test.
# Output: TAP lines, then phase timings. Exit 0 = all passed, 1 = failures, 77 = skipped.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=domfs_e2e.sh
. "$HERE/domfs_e2e.sh"

H=r1
G=rg
BACK=30          # seconds domfs gets to reconnect (it retries every 2 s at most)

dx_phase "setup: packages, guest image, host $H, guest $G running"
e2e_install
e2e_guest_build || e2e_die "guest build failed"
e2e_host_up $H || e2e_die "host $H did not come up"
e2e_kvm_probe $H
e2e_define $G $H || e2e_die "define $G failed"
dx_virsh $H start $G >/dev/null || e2e_die "start $G failed"
HB=$E2E_ROOT/$H

# stop_libvirtd SIGNAL: kills host H's libvirtd (its tini exits with it; virtlogd and
# QEMU live on, and so does the mount namespace they are in)
stop_libvirtd() {
    local pid; pid=$(e2e_host_pid $H) || return 1
    echo "# kill -$1 libvirtd ($pid)"
    kill "-$1" "$pid" || return 1
    local i
    for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
    return 1
}
# start_libvirtd: starts libvirtd again inside host H's namespaces (entered through its
# virtlogd), under tini -s like e2e_host_up does, and waits until it answers
start_libvirtd() {
    local vl i
    vl=$(cat "$HB/run/virtlogd.pid" 2>/dev/null)
    [[ $(tr '\0' ' ' < "/proc/$vl/cmdline" 2>/dev/null) == *virtlogd* ]] || { echo "# virtlogd of $H is gone"; return 1; }
    echo "# starting libvirtd in the namespaces of virtlogd ($vl)"
    setsid nsenter -t "$vl" -m -u -n tini -s -- libvirtd -p /run/libvirt/libvirtd.pid \
        </dev/null >>"$HB/log/e2e-daemons.log" 2>&1 &
    for ((i = 0; i < 300; i++)); do
        [ -S "$HB/run/libvirt-sock" ] && e2e_host_pid $H >/dev/null && break
        sleep 0.05
    done
    timeout 30 virsh -q -c "$(e2e_host_uri $H)" hostname >/dev/null
}
# "status connected", or "status reconnecting since <UTC time>"
status_is() { timeout 5 grep -qE "^status $1( since [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z)?\$" "$M/.domfs/connection"; }

dx_phase "mount"
dx_mount rs -c "$H=$(e2e_host_uri $H)" --log-root "$H=$(e2e_host_logdir $H)"
tap_ok $? "domfs mounts host $H" || dx_finish
M=$DX_MNT; D=$M/$G; PID0=$DX_PID
ok ".domfs/connection: status connected" status_is connected
is "$(dx_cat "$D/state") $(dx_cat "$D/reason")" "running booted" "$G running, booted"
ID=$(dx_cat "$D/id")
is "$ID" "$(dx_virsh $H domid $G)" "id is virsh's domid"
ok "$G ticks" e2e_wait_tick $G $H 3 90
# an event reader that stays open across both outages
EV1=$E2E_ROOT/events-across.txt
timeout 600 cat "$M/.domfs/events" > "$EV1" 2>&1 &
EV1_PID=$!

dx_phase "outage 1: libvirtd stopped (SIGTERM)"
ok "libvirtd of $H stopped (SIGTERM)" stop_libvirtd TERM
T_DOWN=$(e2e_now)
ok ".domfs/connection says reconnecting (10 s)" dx_wait 10 status_is reconnecting
sed 's/^/#   /' < <(dx_cat "$M/.domfs/connection")
s=$(dx_cat "$D/state"); rc=$?
is "$rc:$s" "0:running" "cat state: served from the last known state (timeout 5)"
is "$(dx_cat "$D/reason"):$(dx_cat "$D/id")" "booted:$ID" "reason and id too"
ok "ls -R of the mount answers" eval 'timeout 5 ls -R "$M" >/dev/null'
like "$(dx_cat "$D/xml" | head -1)" "^<domain type='qemu' id='$ID'>" "xml is served"
like "$(dx_cat "$M/.domfs/metrics.prom")" "domfs_guest_running\\{.*name=\"$G\".*\\} 1" "metrics.prom answers, $G running"
n=$(timeout 5 cat "$D/console.log" | wc -c); rc=${PIPESTATUS[0]}
tap_ok "$([ "$rc" = 0 ] && [ "$n" -gt 0 ]; echo $?)" "console.log is served (rc $rc, $n bytes)"
a=$(e2e_last_tick $G $H)
ok "the guest runs on without libvirtd (ticks go on)" e2e_wait_tick $G $H $((a + 3)) 20
for w in "state paused" "state destroy" "autostart 1" "title down"; do
    set -- $w
    out=$(DX_WTIMEOUT=10 dx_write "$D/$1" "$2"); rc=$?
    tap_ok "$([ $rc != 0 ] && [ $rc != 124 ] && [[ $out == *"Transport endpoint is not connected"* ]]; echo $?)" \
        "echo $2 > $1: ENOTCONN, at once" "rc=$rc out=$out"
done
like "$(dx_cat "$D/error")" ' ENOTCONN: ' "error holds ENOTCONN"
is "$(dx_cat "$D/state")" "running" "state still reads running"

dx_phase "libvirtd back: reconnect, writes, events"
ok "libvirtd started again in the same namespace" start_libvirtd
ok "$G kept running meanwhile (virsh)" eval '[ "$(dx_domstate $H $G)" = "running (booted)" ]'
T_UP=$(e2e_now)
ok ".domfs/connection says connected within ${BACK}s" dx_wait $BACK status_is connected
echo "# outage $(e2e_since "$T_DOWN")s; reconnected $(e2e_since "$T_UP")s after libvirtd came back"
is "$(dx_virsh $H domid $G)" "$ID" "same QEMU, same domain id"
is "$(dx_cat "$D/id")" "$ID" "id still $ID"
EV2=$E2E_ROOT/events-after.txt
timeout 600 cat "$M/.domfs/events" > "$EV2" 2>&1 &
EV2_PID=$!
sleep 0.3
out=$(dx_write "$D/state" paused); tap_ok $? "echo paused > state works again" "$out"
is "$(dx_domstate $H $G)" "paused (user)" "virsh: paused (user)"
is "$(dx_cat "$D/state")" "paused" "state reads paused"
out=$(dx_virsh $H resume $G 2>&1); tap_ok $? "virsh resume $G" "$out"
ok "the change made with virsh shows in state (10 s)" dx_wait 10 dx_file_is "$D/state" running
is "$(dx_cat "$D/reason")" "unpaused" "reason unpaused"
ok "'lifecycle resumed' in a reader opened after the reconnect" \
    dx_wait 10 grep -q "^[0-9.]* $G lifecycle resumed unpaused" "$EV2"
ok "'lifecycle resumed' in the reader open across the outage" \
    dx_wait 10 grep -q "^[0-9.]* $G lifecycle resumed unpaused" "$EV1"
out=$(dx_virsh $H desc $G --live --config --title "after restart" 2>&1); tap_ok $? "virsh desc --title" "$out"
ok "the title set with virsh shows in title (10 s)" dx_wait 10 dx_file_is "$D/title" "after restart"
out=$(dx_write "$D/title" ""); tap_ok $? "echo > title works again" "$out"
is "$(dx_virsh $H desc $G --title 2>&1)" "" "virsh: no title"

dx_phase "outage 2: libvirtd SIGKILLed, the guest's QEMU dies meanwhile"
QPID=$(cat "$HB/run/qemu/$G.pid" 2>/dev/null)
ok "QEMU of $G has a pid file" eval '[[ $(tr "\0" " " < /proc/$QPID/cmdline) == *qemu-system* ]]'
ok "libvirtd of $H stopped (SIGKILL)" stop_libvirtd KILL
ok ".domfs/connection says reconnecting (10 s)" dx_wait 10 status_is reconnecting
echo "# kill QEMU of $G ($QPID)"
kill -KILL "$QPID"
ok "QEMU is gone" dx_wait 10 eval '! kill -0 $QPID'
is "$(dx_cat "$D/state")" "running" "state: still the last known state (running)"
out=$(DX_WTIMEOUT=10 dx_write "$D/state" start); rc=$?
tap_ok "$([ $rc != 0 ] && [[ $out == *"Transport endpoint is not connected"* ]]; echo $?)" "echo start > state: ENOTCONN" "rc=$rc out=$out"
ok "ls -R of the mount answers" eval 'timeout 5 ls -R "$M" >/dev/null'
ok "libvirtd started again" start_libvirtd
ok ".domfs/connection says connected within ${BACK}s" dx_wait $BACK status_is connected
like "$(dx_domstate $H $G)" "^shut off" "virsh: $G is shut off ($(dx_domstate $H $G))"
ok "the reload shows $G shut off (10 s)" dx_wait 10 dx_file_is "$D/state" shutoff
is "$(dx_cat "$D/id")" "" "id is empty (the cached file was invalidated)"
like "$(dx_cat "$D/xml" | head -1)" "^<domain type='qemu'>" "xml is the inactive XML"
out=$(dx_write "$D/state" start); tap_ok $? "echo start > state" "$out"
is "$(dx_domstate $H $G)" "running (booted)" "virsh: running (booted)"
ok "$G boots again" dx_wait 60 eval '[ "$(tail -c 400 "$(e2e_serial_log $G $H)" | grep -ac "^tick")" -ge 1 ]'
ok "'lifecycle started' in the reader open across both outages" \
    dx_wait 10 grep -q "^[0-9.]* $G lifecycle started booted" "$EV1"
is "$DX_PID" "$PID0" "one daemon throughout"
ok "domfs is alive and answers" dx_alive
kill "$EV1_PID" "$EV2_PID" 2>/dev/null; wait "$EV1_PID" "$EV2_PID" 2>/dev/null
echo "# events seen across the outages:"; sed 's/^/#   /' "$EV1"

dx_finish
