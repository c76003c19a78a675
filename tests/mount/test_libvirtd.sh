#!/bin/bash
# domfs through a private libvirtd (test+unix:///default?socket=...), with virsh on the same
# daemon as an independent witness: what virsh changes, the files follow (events); what is
# written to the files, virsh sees. Then libvirtd goes away under the live mount (SIGTERM,
# SIGKILL, SIGSTOP): reads keep serving the last state, .domfs/connection says
# "reconnecting", writes fail ENOTCONN; once libvirtd is back domfs reconnects by itself,
# with no remount. Every command that touches the mount is bounded by a timeout.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
. "$TESTS_DIR/lib/libvirtd.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
lvd_require

LV=$TEST_TMP/lv
lvd_start "$LV" lvtest || { tap_ok 1 "private libvirtd starts"; done_testing; exit 1; }
tap_ok 0 "private libvirtd starts (pid $LVD_PID)"
M=$TEST_TMP/mnt
domfs_mount "$M" -c "$LVD_URI" || { tap_ok 1 "mount"; done_testing; exit 1; }
G=$M/test
T=5
rd() { timeout $T cat "$@"; }
put() { timeout $T bash -c 'echo "$1" > "$2"' put "$2" "$G/$1"; }
has() { [ "$(timeout $T cat "$1" 2>/dev/null)" = "$2" ]; }     # has FILE VALUE
follows() { # follows FILE VALUE WHAT: the file shows VALUE within 5 s
    wait_for 5 has "$1" "$2"; tap_ok $? "$3" "$(basename "$1") is '$(rd "$1" 2>&1)', wanted '$2'"
}
vstate() { lvd_virsh domstate "$1" | head -1; }

like "$(rd "$M/.domfs/connection")" "status connected" "connected"
like "$(rd "$M/.domfs/connection")" "hostname lvtest" ".domfs/connection: the daemon's hostname"
like "$(rd "$M/.domfs/connection")" "uri test\+unix:///default\?socket=$LVD_SOCK" ".domfs/connection: the URI"
is "$(rd "$G/state")" "$(vstate test)" "state agrees with virsh at start"
is "$(rd "$G/uuid")" "$(lvd_virsh domuuid test | head -1)" "uuid agrees with virsh"
MNT_DEV=$(stat -c %d "$M")

# ---------------------------------------------------------------- virsh -> files
lvd_virsh suspend test >/dev/null
follows "$G/state" paused "virsh suspend: state follows (paused)"
is "$(rd "$G/reason")" "user" "reason user"
lvd_virsh resume test >/dev/null
follows "$G/state" running "virsh resume: running"
is "$(rd "$G/reason")" "unpaused" "reason unpaused"
lvd_virsh destroy test >/dev/null
follows "$G/state" shutoff "virsh destroy: shutoff"
is "$(rd "$G/id")" "" "id empty"
is "$(rd "$G/reason")" "destroyed" "reason destroyed"
lvd_virsh start test >/dev/null
follows "$G/state" running "virsh start: running"
is "$(rd "$G/id")" "$(lvd_virsh domid test | head -1)" "id is virsh's domid"
lvd_virsh desc test --title "Title from virsh" >/dev/null
follows "$G/title" "Title from virsh" "virsh desc --title: title follows"
lvd_virsh desc test "Description from virsh" >/dev/null
follows "$G/description" "Description from virsh" "virsh desc: description follows"
is "$(stat -c %s "$G/title")" "$(rd "$G/title" | wc -c)" "stat size of title follows too"
is "$(stat -c %s "$G/description")" "$(rd "$G/description" | wc -c)" "stat size of description follows too"
# destroy + start in one go: id and xml change to a value of the same size (1 digit);
# cached pages of these read-only files must not survive
rd "$G/id" "$G/xml" >/dev/null
id0=$(rd "$G/id")
lvd_virsh "destroy test; start test" >/dev/null
want=$(lvd_virsh domid test | head -1)
[ "$want" != "$id0" ]; tap_ok $? "virsh destroy+start: a new id ($id0 -> $want)"
follows "$G/id" "$want" "id follows a same-size change"
like "$(timeout $T head -1 "$G/xml")" "^<domain type='test' id='$want'>" "xml follows too"
is "$(rd "$G/state"):$(rd "$G/reason")" "running:booted" "state and reason after destroy+start"

cat > "$TEST_TMP/fresh.xml" <<'EOF'
<domain type='test'>
  <name>fresh</name>
  <memory unit='KiB'>131072</memory>
  <vcpu>3</vcpu>
  <os><type>hvm</type></os>
</domain>
EOF
stat "$M/fresh" >/dev/null 2>&1   # a negative entry the kernel may now cache
tap_ok $((!$?)) "no guest 'fresh' yet"
lvd_virsh define "$TEST_TMP/fresh.xml" >/dev/null
wait_for 5 test -d "$M/fresh"; tap_ok $? "virsh define: the directory appears (negative entry invalidated)"
like "$(timeout $T ls "$M")" "fresh" "ls lists it"
is "$(rd "$M/fresh/state"):$(rd "$M/fresh/vcpus"):$(rd "$M/fresh/memory"):$(rd "$M/fresh/persistent")" \
   "shutoff:3:131072:1" "its files: shutoff, 3 vcpus, 131072 KiB, persistent"
like "$(rd "$M/.domfs/connection")" "guests 2" ".domfs/connection counts 2 guests"
lvd_virsh start fresh >/dev/null
follows "$M/fresh/state" running "virsh start fresh: running"
lvd_virsh destroy fresh >/dev/null
follows "$M/fresh/state" shutoff "virsh destroy fresh: shutoff"
lvd_virsh domrename fresh renamed >/dev/null
wait_for 5 test -d "$M/renamed"; tap_ok $? "virsh domrename: the new name appears"
wait_for 5 test ! -e "$M/fresh"; tap_ok $? "and the old one is gone"
is "$(rd "$M/renamed/uuid")" "$(lvd_virsh domuuid renamed | head -1)" "same guest (uuid) under the new name"
lvd_virsh undefine renamed >/dev/null
wait_for 5 test ! -e "$M/renamed"; tap_ok $? "virsh undefine: the directory disappears"
fails_with "No such file or directory" "its files are gone" rd "$M/renamed/state"
sed 's/fresh/transient/' "$TEST_TMP/fresh.xml" > "$TEST_TMP/transient.xml"
lvd_virsh create "$TEST_TMP/transient.xml" >/dev/null
wait_for 5 has "$M/transient/state" running; tap_ok $? "virsh create: a transient guest appears, running"
is "$(rd "$M/transient/persistent")" "0" "persistent 0"
lvd_virsh destroy transient >/dev/null
wait_for 5 test ! -e "$M/transient"; tap_ok $? "virsh destroy of the transient guest: gone"

# ---------------------------------------------------------------- files -> virsh
ok "write suspend" put state suspend
is "$(vstate test)" "paused" "virsh domstate sees paused"
ok "write resume" put state resume
is "$(vstate test)" "running" "virsh domstate sees running"
ok "write destroy" put state destroy
is "$(vstate test)" "shut off" "virsh domstate sees shut off"
ok "write start" put state start
is "$(vstate test)" "running" "virsh domstate sees running again"
ok "write title" put title "Title from the file"
is "$(lvd_virsh desc test --title | head -1)" "Title from the file" "virsh desc --title sees it"
ok "write autostart 1" put autostart 1
like "$(lvd_virsh dominfo test)" "Autostart: +enable" "virsh dominfo sees autostart enabled"
ok "write autostart 0" put autostart 0
like "$(lvd_virsh dominfo test)" "Autostart: +disable" "virsh dominfo sees autostart disabled"
ok "write suspend (state before the outage)" put state suspend

# ---------------------------------------------------------------- libvirtd restarts (SIGTERM)
outage_checks() { # outage_checks WHAT: everything expected while libvirtd is away
    local w=$1 f
    wait_for 10 grep -q "status reconnecting" "$M/.domfs/connection"
    tap_ok $? "$w: .domfs/connection says reconnecting" "$(rd "$M/.domfs/connection" 2>&1)"
    is "$(rd "$G/state")" "paused" "$w: state still served (last known)"
    is "$(rd "$G/title")" "Title from the file" "$w: title still served"
    like "$(timeout $T head -1 "$G/xml")" "^<domain type='test' id=" "$w: xml still served"
    like "$(timeout $T ls "$M")" "^test$" "$w: ls answers"
    is "$(timeout $T find "$G" -maxdepth 1 -type f | wc -l)" "19" "$w: find answers"
    is "$(stat -c %s "$G/state")" "7" "$w: stat answers"
    for f in state:resume title:x description:x autostart:1; do   # valid values
        fails_with "Transport endpoint is not connected" "$w: write to ${f%%:*}: ENOTCONN" \
            timeout $T bash -c "echo ${f#*:} > '$G/${f%%:*}'"
    done
    like "$(rd "$G/error")" " autostart ENOTCONN: " "$w: error says ENOTCONN"
    is "$(rd "$G/state")" "paused" "$w: nothing changed"
}
back_checks() { # back_checks WHAT: after libvirtd is back
    local w=$1
    wait_for 15 grep -q "status connected" "$M/.domfs/connection"
    tap_ok $? "$w: reconnected by itself" "$(rd "$M/.domfs/connection" 2>&1)"
    # a new test driver instance: its initial state (guest 'test' running, no title)
    follows "$G/state" running "$w: files follow the new daemon's state (running)"
    follows "$G/title" "" "$w: and its title (none)"
    ok "$w: writes work again" put state suspend
    is "$(vstate test)" "paused" "$w: virsh sees the write"
    lvd_virsh resume test >/dev/null
    follows "$G/state" running "$w: events work again (virsh resume followed)"
    is "$(stat -c %d "$M")" "$MNT_DEV" "$w: the same mount (no remount)"
    kill -0 "$DOMFS_PID"; tap_ok $? "$w: the same daemon"
}

sed 's/fresh/extra/' "$TEST_TMP/fresh.xml" > "$TEST_TMP/extra.xml"
lvd_virsh define "$TEST_TMP/extra.xml" >/dev/null
wait_for 5 test -d "$M/extra"; tap_ok $? "a guest 'extra' defined before the restart"
ok "libvirtd stops (SIGTERM)" lvd_stop
outage_checks "SIGTERM"
sleep 2.5        # long enough for domfs's reconnect back-off to grow
is "$(rd "$G/state")" "paused" "still served after 2.5 s of outage"
lvd_start "$LV" lvtest; tap_ok $? "libvirtd starts again (pid $LVD_PID)"
back_checks "after SIGTERM"
# the new daemon does not know 'extra': the reload removes it
wait_for 5 test ! -e "$M/extra"; tap_ok $? "after SIGTERM: a guest the new daemon lacks is gone"
like "$(rd "$M/.domfs/connection")" "guests 1" "after SIGTERM: .domfs/connection counts 1 guest"

# ---------------------------------------------------------------- libvirtd killed (SIGKILL)
ok "write suspend and title (state before the kill)" bash -c "echo suspend > '$G/state' && echo 'Title from the file' > '$G/title'"
kill -KILL "$LVD_PID"
# at once, before domfs may have noticed: still ENOTCONN, not EIO
fails_with "Transport endpoint is not connected" "write right after SIGKILL: ENOTCONN" \
    timeout $T bash -c "echo resume > '$G/state'"
ok "libvirtd killed (SIGKILL)" lvd_stop -9
outage_checks "SIGKILL"
lvd_start "$LV" lvtest; tap_ok $? "libvirtd starts again (pid $LVD_PID)"
back_checks "after SIGKILL"

# ---------------------------------------------------------------- libvirtd frozen (SIGSTOP)
kill -STOP "$LVD_PID"
ok "frozen libvirtd: cat state answers at once" timeout 2 cat "$G/state"
ok "frozen libvirtd: ls answers" timeout 2 ls "$M"
ok "frozen libvirtd: .domfs/connection answers" timeout 2 cat "$M/.domfs/connection"
ok "frozen libvirtd: xml answers" timeout 2 cat "$G/xml"
kill -CONT "$LVD_PID"
ok "thawed libvirtd: a write works" put state suspend
is "$(vstate test)" "paused" "virsh sees it"

kill -0 "$DOMFS_PID"; tap_ok $? "daemon alive at the end"
done_testing
