#!/bin/bash
# state on test:///default: every word, idempotence of the desired states, actions that
# need a running guest, reason and id after each transition, and that every file the
# transition changes (state, reason, id, xml, their stat sizes) is right at once.
# test:///default is in-process: virsh cannot witness it, so the guest's other files
# (xml's id attribute, reason) cross-check the state file.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
. "$TESTS_DIR/lib/write1.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"

M=$TEST_TMP/mnt
domfs_mount "$M" -c test:///default || { tap_ok 1 "mount"; done_testing; exit 1; }
G=$M/test
ERR_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z state E[A-Z]+: .+$'

put() { timeout 10 bash -c 'echo "$1" > "$2"' put "$1" "$G/state"; }

# expect STATE REASON RUNNING(yes/no) WHAT: the guest's files after a transition
expect() {
    local st=$1 re=$2 run=$3 what=$4 id xmlhead
    is "$(cat "$G/state")" "$st" "$what: state is $st"
    is "$(cat "$G/reason")" "$re" "$what: reason is $re"
    id=$(cat "$G/id"); xmlhead=$(head -1 "$G/xml")
    if [ "$run" = yes ]; then
        like "$id" '^[0-9]+$' "$what: id is a number"
        like "$xmlhead" "^<domain type='test' id='$id'>" "$what: xml is the live XML with that id"
    else
        is "$id" "" "$what: id is empty"
        is "$(stat -c %s "$G/id")" "0" "$what: the id of a guest that is not running is an empty file"
        like "$xmlhead" "^<domain type='test'>" "$what: xml has no id"
    fi
    is "$(stat -c %s "$G/state"):$(stat -c %s "$G/reason")" \
       "$(cat "$G/state" | wc -c):$(cat "$G/reason" | wc -c)" "$what: stat sizes match the contents"
}

# ---- start: the default guest runs
is "$(cat "$G/state")" "running" "default guest runs"
is "$(cat "$G/id")" "1" "its id is 1"
is "$(cat "$G/reason")" "unknown" "its reason as libvirt's test driver reports it (virsh: running (unknown))"
is "$(cat "$G/error")" "" "no error yet"

# ---- pause / resume, with both spellings
ok "write suspend" put suspend
expect paused user yes "after suspend"
is "$(cat "$G/id")" "1" "pausing keeps the id"
ok "write paused while paused: success" put paused
ok "write suspend while paused: success" put suspend
expect paused user yes "paused twice more"
ok "write resume" put resume
expect running unpaused yes "after resume"
ok "write resume while running: success" put resume
expect running unpaused yes "resume while running changed nothing"
ok "write paused" put paused
expect paused user yes "after paused"
ok "write running to a paused guest: resumes it" put running
expect running unpaused yes "after running (from paused)"
ok "write running while running: success" put running
ok "write start while running: success" put start
expect running unpaused yes "start/running while running changed nothing"
is "$(cat "$G/id")" "1" "id unchanged: not restarted"

# ---- forced power-off, and what needs a running guest
ok "write destroy" put destroy
expect shutoff destroyed no "after destroy"
ok "write destroy while shut off: success" put destroy
ok "write shutoff while shut off: success" put shutoff
ok "write shutdown while shut off: success" put shutdown
expect shutoff destroyed no "shut-off words on a shut-off guest did nothing"
is "$(cat "$G/error")" "" "successful writes leave error empty"

fails_with "Device or resource busy" "reboot when shut off: EBUSY" put reboot
like "$(cat "$G/error")" "$ERR_RE" "error line: <ISO time> <file> <ERRNAME>: <message>"
like "$(cat "$G/error")" " state EBUSY: " "error names state and EBUSY"
fails_with "Device or resource busy" "reset when shut off: EBUSY" put reset
like "$(cat "$G/error")" " state EBUSY: " "error: state EBUSY after reset"
# "operation invalid in the current state: EBUSY" (spec, Errors) for every action
fails_with "Device or resource busy" "suspend when shut off: EBUSY" put suspend
like "$(cat "$G/error")" " state EBUSY: " "error: state EBUSY after suspend"
fails_with "Device or resource busy" "paused when shut off: EBUSY" put paused
fails_with "Device or resource busy" "resume when shut off: EBUSY" put resume
like "$(cat "$G/error")" " state EBUSY: " "error: state EBUSY after resume"
expect shutoff destroyed no "refused actions left the guest alone"

# ---- start again
ok "write start" put start
expect running booted yes "after start"
id2=$(cat "$G/id")
[ "$id2" != 1 ]; tap_ok $? "a new run has a new id ($id2)"
ok "write shutoff" put shutoff
expect shutoff destroyed no "after shutoff"
ok "write running to a shut-off guest: starts it" put running
expect running booted yes "after running (from shut off)"
[ "$(cat "$G/id")" != "$id2" ]; tap_ok $? "and another new id"

# ---- graceful shutdown (the test driver powers off at once)
ok "write shutdown" put shutdown
expect shutoff shutdown no "after shutdown"
ok "write start after shutdown" put start

# ---- reboot / reset on a running guest
ok "write reboot while running" put reboot
is "$(cat "$G/state")" "running" "reboot: still running"
ok "write reset while running" put reset
is "$(cat "$G/state")" "running" "reset: still running"

# ---- pause, then power off from paused
ok "write suspend (before destroy)" put suspend
ok "write destroy to a paused guest" put destroy
expect shutoff destroyed no "destroy from paused"
ok "start again" put start

# ---- what counts as the word: blanks around it, no newline, nothing else
ok "no trailing newline" write1 "$G/state" < <(printf 'suspend')
is "$(cat "$G/state")" "paused" "'suspend' without newline worked"
ok "surrounding blanks are ignored" write1 "$G/state" < <(printf ' \t resume \t\n')
is "$(cat "$G/state")" "running" "' resume ' worked"
ok "CRLF line end" write1 "$G/state" < <(printf 'suspend\r\n')
is "$(cat "$G/state")" "paused" "'suspend\\r\\n' worked"
put resume
for w in RUNNING Suspend "running now" "pause" "stop" "" "-" "start start"; do
    fails_with "Invalid argument" "'$w' is not a state word: EINVAL" put "$w"
done
like "$(cat "$G/error")" " state EINVAL: " "error: state EINVAL"
is "$(cat "$G/state")" "running" "unknown words left the guest running"

# ---- transitions are visible at once, many times over (no stale kernel cache)
bad=0
for i in $(seq 1 60); do
    echo suspend > "$G/state"
    [ "$(cat "$G/state") $(cat "$G/reason") $(stat -c %s "$G/reason")" = "paused user 5" ] || bad=$((bad + 1))
    echo destroy > "$G/state"
    [ "$(cat "$G/id")|$(stat -c %s "$G/id")|$(cat "$G/reason")" = "|0|destroyed" ] || bad=$((bad + 1))
    echo start > "$G/state"
    [ -n "$(cat "$G/id")" ] && [ "$(cat "$G/reason")" = booted ] || bad=$((bad + 1))
done
is "$bad" "0" "60 suspend/destroy/start cycles: every file right right after each write"

kill -0 "$DOMFS_PID"; tap_ok $? "daemon alive"
done_testing
