#!/bin/bash
# test_lifecycle.sh - a real QEMU guest driven through a domfs mount, virsh as the witness:
# start, pause, resume, graceful shutdown, reboot, reset, destroy (with their reasons and
# ids), idempotent writes, refused words and states; cdrom eject/insert and link_state
# written through devices/; a disk hot-plugged and unplugged with virsh appears and
# vanishes without a remount; .domfs/events carries the lines, after the files show them.
# Output: TAP lines, then phase timings. Exit 0 = all passed, 1 = failures, 77 = skipped.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=domfs_e2e.sh
. "$HERE/domfs_e2e.sh"

H=h1
G=g1

dx_phase "setup: packages, guest image, host $H, guest $G defined"
e2e_install
e2e_guest_build || e2e_die "guest build failed"
e2e_host_up $H || e2e_die "host $H did not come up"
e2e_kvm_probe $H
e2e_define $G $H --disk --cdrom || e2e_die "define $G failed"
LOG=$(e2e_serial_log $G $H)
MEDIA_A=$E2E_GUEST_DIR/media-a.raw
MEDIA_B=$E2E_GUEST_DIR/media-b.raw

dx_phase "mount"
dx_mount lc -c "$H=$(e2e_host_uri $H)" --log-root "$H=$(e2e_host_logdir $H)"
tap_ok $? "domfs mounts -c $H=URI --log-root $H=DIR" || dx_finish
M=$DX_MNT
D=$M/$G
is "$(timeout 5 ls "$M")" "$G" "the root lists the defined guest"
is "$(dx_cat "$D/state")" "shutoff" "a defined guest that never ran reads shutoff"
is "$(dx_cat "$D/id")" "" "id is empty while shut off"
is "$(dx_cat "$D/persistent")" "1" "persistent is 1"
is "$(dx_cat "$D/uuid")" "$(dx_virsh $H domuuid $G)" "uuid is virsh's"

# the event stream, opened before anything happens; for two events it also records what
# the files say the moment the line is read (the spec: files reflect an event first)
EV=$E2E_ROOT/events.txt
timeout 600 bash -c '
    while IFS= read -r l; do
        printf "%s\n" "$l"
        case $l in
            *" lifecycle suspended "*) echo "AT-SUSPEND state=$(timeout 5 cat "$1") reason=$(timeout 5 cat "$2")";;
            *" lifecycle stopped destroyed"*) echo "AT-DESTROY state=$(timeout 5 cat "$1") reason=$(timeout 5 cat "$2") id=[$(timeout 5 cat "$3")]";;
        esac
    done < "$4"' _ "$D/state" "$D/reason" "$D/id" "$M/.domfs/events" > "$EV" 2>&1 &
EV_PID=$!
sleep 0.5

dx_phase "start, idempotent start"
out=$(dx_write "$D/state" start); tap_ok $? "echo start > state" "$out"
is "$(dx_cat "$D/state")" "running" "state reads running right after the write"
is "$(dx_cat "$D/reason")" "booted" "reason booted"
ID=$(dx_cat "$D/id")
like "$ID" '^[0-9]+$' "id is a number once running"
is "$ID" "$(dx_virsh $H domid $G)" "id is virsh's domid"
is "$(dx_domstate $H $G)" "running (booted)" "virsh: running (booted)"
out=$(dx_write "$D/state" running); tap_ok $? "echo running > state on a running guest succeeds" "$out"
is "$(dx_virsh $H domid $G)" "$ID" "... and does nothing (same domain id)"
ok "guest boots and ticks on its serial console" e2e_wait_tick $G $H 3 90

dx_phase "pause, resume, refused words"
out=$(dx_write "$D/state" paused); tap_ok $? "echo paused > state" "$out"
is "$(dx_cat "$D/state") $(dx_cat "$D/reason")" "paused user" "state paused, reason user"
is "$(dx_domstate $H $G)" "paused (user)" "virsh: paused (user)"
dx_wait 10 grep -q '^AT-SUSPEND' "$EV"
is "$(grep '^AT-SUSPEND' "$EV")" "AT-SUSPEND state=paused reason=user" \
    "when the 'lifecycle suspended' line is read, state and reason already show it"
out=$(dx_write "$D/state" suspend); tap_ok $? "echo suspend > state on a paused guest succeeds" "$out"
is "$(dx_domstate $H $G)" "paused (user)" "virsh: still paused (user)"
a=$(e2e_last_tick $G $H); sleep 1; b=$(e2e_last_tick $G $H)
is "$b" "$a" "no ticks while paused"
out=$(dx_write "$D/state" resume); tap_ok $? "echo resume > state" "$out"
is "$(dx_cat "$D/state") $(dx_cat "$D/reason")" "running unpaused" "state running, reason unpaused"
is "$(dx_domstate $H $G)" "running (unpaused)" "virsh: running (unpaused)"
out=$(dx_write "$D/state" resume); tap_ok $? "echo resume > state on a running guest succeeds" "$out"
ok "ticks go on after resume" e2e_wait_tick $G $H $((b + 2)) 20
out=$(dx_write "$D/state" bogus); rc=$?
tap_ok "$([ $rc != 0 ] && [[ $out == *"Invalid argument"* ]]; echo $?)" "echo bogus > state: EINVAL" "rc=$rc out=$out"
like "$(dx_cat "$D/error")" 'state EINVAL: .*bogus' "error names the file, EINVAL and the word"
is "$(dx_domstate $H $G)" "running (unpaused)" "virsh: the guest is untouched by the bad word"

dx_phase "graceful shutdown"
out=$(dx_write "$D/state" shutdown); tap_ok $? "echo shutdown > state" "$out"
dx_wait 60 dx_file_is "$D/state" shutoff
is "$(dx_cat "$D/state") $(dx_cat "$D/reason")" "shutoff shutdown" "state shutoff, reason shutdown (within 60 s)"
is "$(dx_cat "$D/id")" "" "id empty again"
is "$(dx_domstate $H $G)" "shut off (shutdown)" "virsh: shut off (shutdown)"
ok "the guest saw the ACPI power button" grep -aq 'ACPI: power button' "$LOG"
for w in shutdown shutoff destroy; do
    out=$(dx_write "$D/state" $w); tap_ok $? "echo $w > state on a shut-off guest succeeds" "$out"
done
is "$(dx_domstate $H $G)" "shut off (shutdown)" "virsh: still shut off (shutdown), nothing done"
for w in reboot reset paused; do
    out=$(dx_write "$D/state" $w); rc=$?
    tap_ok "$([ $rc != 0 ] && [[ $out == *"Device or resource busy"* ]]; echo $?)" \
        "echo $w > state on a shut-off guest: EBUSY" "rc=$rc out=$out"
done
like "$(dx_cat "$D/error")" 'state EBUSY: ' "error holds the EBUSY and libvirt's message"
is "$(dx_domstate $H $G)" "shut off (shutdown)" "virsh: still shut off"

dx_phase "start again, reboot, reset"
out=$(dx_write "$D/state" running); tap_ok $? "echo running > state starts it again" "$out"
is "$(dx_cat "$D/state") $(dx_cat "$D/reason")" "running booted" "running, booted"
ID=$(dx_cat "$D/id")
is "$ID" "$(dx_virsh $H domid $G)" "new id is virsh's domid"
ok "guest ticks again" e2e_wait_tick $G $H 3 90
boots() { grep -ac 'Linux version' "$LOG"; }
is "$(boots)" "1" "one boot in the serial log (append=off)"
out=$(dx_write "$D/state" reboot); tap_ok $? "echo reboot > state" "$out"
ok "the guest really rebooted (a second boot in its serial log, 60 s)" dx_wait 60 eval '[ "$(boots)" -ge 2 ]'
ok "a 'reboot' line in .domfs/events" dx_wait 10 grep -q "^[0-9.]* $G reboot" "$EV"
ok "state returns to running" dx_wait 30 dx_file_is "$D/state" running
is "$(dx_domstate $H $G | cut -d' ' -f1)" "running" "virsh: running"
is "$(dx_cat "$D/id")" "$ID" "same domain id after a reboot"
ok "guest ticks after the reboot" dx_wait 60 eval '[ "$(tail -c 300 "$LOG" | grep -ac "^tick")" -ge 1 ]'
n=$(boots)
out=$(dx_write "$D/state" reset); tap_ok $? "echo reset > state" "$out"
ok "the guest really was reset (another boot in its serial log, 60 s)" dx_wait 60 eval '[ "$(boots)" -gt '"$n"' ]'
is "$(dx_cat "$D/state")" "running" "state running after reset"
is "$(dx_domstate $H $G | cut -d' ' -f1)" "running" "virsh: running"
is "$(dx_cat "$D/id")" "$ID" "same domain id after a reset"

dx_phase "cdrom eject / insert, link_state"
C=$D/devices/disks/hdc
cdrom_xml() { dx_virsh $H dumpxml "$@" $G | sed -n "/<disk .*device='cdrom'/,/<\/disk>/p"; }
is "$(dx_cat "$C/device") $(dx_cat "$C/source")" "cdrom $MEDIA_A" "hdc is a cdrom holding media-a"
out=$(dx_write "$C/source" ""); tap_ok $? "echo > devices/disks/hdc/source (eject)" "$out"
x=$(cdrom_xml)
tap_ok "$([ -n "$x" ] && ! grep -q '<source file=' <<< "$x"; echo $?)" "virsh dumpxml: the cdrom has no source file" "$x"
is "$(dx_cat "$C/source")" "" "source reads empty after the eject"
vt=$(sed -n "s/.*<target dev='hdc'.* tray='\([a-z]*\)'.*/\1/p" <<< "$x")
is "$(dx_cat "$C/tray")" "${vt:-closed}" "tray reads what virsh says (${vt:-no tray attribute: closed})"
tap_ok "$(! cdrom_xml --inactive | grep -q '<source file='; echo $?)" "the eject reached the persistent config too"
out=$(dx_write "$C/source" "$MEDIA_B"); tap_ok $? "echo MEDIA-B > devices/disks/hdc/source (insert)" "$out"
like "$(cdrom_xml)" "<source file='$MEDIA_B'" "virsh dumpxml: the cdrom holds media-b"
like "$(dx_virsh $H domblklist $G)" "hdc +$MEDIA_B" "virsh domblklist: hdc $MEDIA_B"
is "$(dx_cat "$C/source")" "$MEDIA_B" "source reads media-b"
like "$(cdrom_xml --inactive)" "<source file='$MEDIA_B'" "the insert reached the persistent config too"
out=$(dx_write "$C/source" "relative/path"); rc=$?
tap_ok "$([ $rc != 0 ] && [[ $out == *"Invalid argument"* ]]; echo $?)" "a relative media path: EINVAL" "rc=$rc out=$out"
ok "tray-change lines in .domfs/events" dx_wait 10 grep -q "^[0-9.]* $G tray-change " "$EV"
I=$D/devices/interfaces/0
if [ -d "$I" ]; then
    MAC=$(dx_cat "$I/mac")
    like "$MAC" '^52:54:00(:[0-9a-f]{2}){3}$' "interface 0 has libvirt's MAC"
    is "$(dx_cat "$I/link_state")" "up" "link_state reads up"
    out=$(dx_write "$I/link_state" down); tap_ok $? "echo down > devices/interfaces/0/link_state" "$out"
    like "$(dx_virsh $H domif-getlink $G "$MAC")" "$MAC +down" "virsh domif-getlink: down"
    is "$(dx_cat "$I/link_state")" "down" "link_state reads down"
    like "$(dx_virsh $H dumpxml --inactive $G | grep '<link ')" "state='down'" "persistent config: link down"
    out=$(dx_write "$I/link_state" sideways); rc=$?
    tap_ok "$([ $rc != 0 ] && [[ $out == *"Invalid argument"* ]]; echo $?)" "echo sideways > link_state: EINVAL" "rc=$rc out=$out"
    out=$(dx_write "$I/link_state" up); tap_ok $? "echo up > link_state" "$out"
    like "$(dx_virsh $H domif-getlink $G "$MAC")" "$MAC +up" "virsh domif-getlink: up"
    is "$(dx_cat "$I/link_state")" "up" "link_state reads up again"
else
    tap_ok 0 "# SKIP this QEMU has no user-mode network: the guest has no interface"
fi

dx_phase "disk hot-plug and unplug with virsh"
HOT=$E2E_ROOT/images/hot.raw
qemu-img create -q -f raw "$HOT" 8M
PID0=$DX_PID
out=$(dx_virsh $H attach-disk $G "$HOT" vdb --live --driver qemu --subdriver raw 2>&1)
tap_ok $? "virsh attach-disk $G hot.raw vdb --live" "$out"
ok "devices/disks/vdb appears (no remount, 15 s)" dx_wait 15 dx_exists "$D/devices/disks/vdb"
is "$(timeout 5 ls "$D/devices/disks" | tr '\n' ' ')" "hdc vda vdb " "devices/disks lists hdc vda vdb"
is "$(dx_cat "$D/devices/disks/vdb/source")" "$HOT" "vdb source is the hot-plugged file"
is "$(dx_cat "$D/devices/disks/vdb/bus") $(dx_cat "$D/devices/disks/vdb/format")" "virtio raw" "vdb bus virtio, format raw"
like "$(dx_cat "$D/devices/disks/vdb/xml")" "<source file='$HOT'" "vdb xml holds the element"
ok "device-added line in .domfs/events" dx_wait 10 grep -q "^[0-9.]* $G device-added " "$EV"
# a detach request the guest gets while still busy with the plug is lost (ACPI PCI
# hotplug): wait until its kernel reports vdb, and send the request again if need be
ok "the guest kernel sees vdb (its serial log, 30 s)" dx_wait 30 grep -aq '\[vdb\]' "$LOG"
out=$(dx_virsh $H detach-disk $G vdb --live 2>&1)
tap_ok $? "virsh detach-disk $G vdb --live" "$out"
blk_has_vdb() { dx_virsh $H domblklist $G | grep -q '^ *vdb '; }
for ((i = 0; i < 6; i++)); do
    dx_wait 5 eval '! blk_has_vdb' && break
    echo "# vdb still attached: detach-disk again"
    dx_virsh $H detach-disk $G vdb --live >/dev/null 2>&1
done
ok "virsh domblklist: vdb gone (30 s)" eval '! blk_has_vdb'
ok "devices/disks/vdb vanishes (10 s)" dx_wait 10 dx_absent "$D/devices/disks/vdb"
is "$(timeout 5 ls "$D/devices/disks" | tr '\n' ' ')" "hdc vda " "devices/disks lists hdc vda again"
ok "device-removed line in .domfs/events" dx_wait 10 grep -q "^[0-9.]* $G device-removed " "$EV"
is "$DX_PID" "$PID0" "same mount, same daemon throughout"

dx_phase "destroy"
out=$(dx_write "$D/state" destroy); tap_ok $? "echo destroy > state" "$out"
is "$(dx_cat "$D/state") $(dx_cat "$D/reason")" "shutoff destroyed" "state shutoff, reason destroyed"
is "$(dx_cat "$D/id")" "" "id empty"
is "$(dx_domstate $H $G)" "shut off (destroyed)" "virsh: shut off (destroyed)"
dx_wait 10 grep -q '^AT-DESTROY' "$EV"
is "$(grep '^AT-DESTROY' "$EV")" "AT-DESTROY state=shutoff reason=destroyed id=[]" \
    "when the 'stopped destroyed' line is read, state, reason and id already show it"

dx_phase "events"
kill "$EV_PID" 2>/dev/null; wait "$EV_PID" 2>/dev/null
sed 's/^/#   /' "$EV"
bad=$(grep -v '^AT-' "$EV" | grep -Ev "^[0-9]+\.[0-9]{3} $G [a-z-]+( |$)" | head -3)
is "$bad" "" "every event line is '<time> $G <event> <detail>'"
# the lifecycle lines, in order
# (libvirt sends "resumed unpaused" right before "started booted", and QEMU resets twice
# on a reboot and on a reset: two reboot events each, as `virsh event` shows them too)
seq=$(awk -v g="$G" '$2 == g && $3 == "lifecycle" { print $4, $5 } $2 == g && $3 == "reboot" { print "reboot" }' "$EV" |
      grep -E '^(started booted|suspended paused|resumed unpaused|stopped shutdown|reboot|stopped destroyed)$' | uniq | paste -sd, -)
is "$seq" "resumed unpaused,started booted,suspended paused,resumed unpaused,stopped shutdown,resumed unpaused,started booted,reboot,stopped destroyed" \
    "lifecycle lines in order: started, suspended, resumed, stopped shutdown, started, reboot(s), stopped destroyed"
ok "domfs is alive and answers after it all" dx_alive

dx_finish
