#!/bin/bash
# test_harness_smoke.sh - the e2e harness against a real guest, with virsh only (no domfs):
# private host up (virtlogd max_size 8192), define + start a guest, tick 3 on its serial
# log, virtlogd rotates that log, pause/resume, graceful shutdown (ACPI) until shut off,
# start again + destroy, undefine, host down, nothing left behind.
# Output: TAP ("ok N - ..."), then the time of each phase. Exit 0 = all passed, 77 = skipped.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=harness.sh
. "$HERE/harness.sh"

H=smoke        # the private libvirt host
G=smokeg       # the guest
n=0; failed=0
T_ALL=$(e2e_now)
TIMES=()

# step DESCRIPTION CMD...: runs CMD, prints a TAP line with its duration
step() {
    local what=$1 t0 rc dt; shift
    n=$((n + 1))
    t0=$(e2e_now)
    "$@"; rc=$?
    dt=$(e2e_since "$t0")
    TIMES+=("$(printf '%7ss  %s' "$dt" "$what")")
    if [ $rc = 0 ]; then
        echo "ok $n - $what (${dt}s)"
    else
        echo "not ok $n - $what (rc $rc, ${dt}s)"
        failed=$((failed + 1))
        finish
    fi
}

finish() {
    echo "# phase timings:"
    printf '#   %s\n' "${TIMES[@]}"
    echo "# total $(e2e_since "$T_ALL")s, $failed failed"
    echo "1..$n"
    [ $failed = 0 ] || exit 1
    exit 0
}

state_is() { # state_is WANT [REASON]
    local s; s=$(e2e_virsh $H domstate $G --reason) || return 1
    echo "# domstate: $s"
    [ "${s%% (*}" = "$1" ] || return 1
    [ -z "${2:-}" ] || [ "$s" = "$1 ($2)" ]
}

define_guest() {
    e2e_define $G $H --disk --cdrom --tickpad 1000 || return 1
    [ "$(e2e_virsh $H domstate $G)" = 'shut off' ]
}

start_guest() {
    e2e_virsh $H start $G >/dev/null && state_is running booted
}

rotated() { # virtlogd rotates the serial log at 8192 bytes: .0 appears, then is replaced
    local l ino i
    l=$(e2e_serial_log $G $H)
    e2e_wait_file "$l.0" 60 || return 1
    ino=$(stat -c %i "$l.0")
    for ((i = 0; i < 300; i++)); do   # the guest prints ~5 KiB/s: next rotation in < 2 s
        [ "$(stat -c %i "$l.0" 2>/dev/null)" != "$ino" ] && break
        sleep 0.1
    done
    echo "# $(cd "$(dirname "$l")" && stat -c '%n %s' "$(basename "$l")"* | paste -sd, -)"
    [ "$(stat -c %i "$l.0")" != "$ino" ] || { echo "# no second rotation within 30 s"; return 1; }
    [ "$(stat -c %s "$l.0")" -le 8192 ] && [ "$(stat -c %s "$l.0")" -gt 0 ] && [ ! -e "$l.3" ]
}

pause_guest() {
    e2e_virsh $H suspend $G >/dev/null && state_is paused user || return 1
    # no ticks while paused
    local a b; a=$(e2e_last_tick $G $H); sleep 1; b=$(e2e_last_tick $G $H)
    echo "# last tick while paused: $a -> $b"
    [ "$a" = "$b" ] && [ "$a" -ge 3 ]
}

resume_guest() {
    local a; a=$(e2e_last_tick $G $H)
    e2e_virsh $H resume $G >/dev/null && state_is running unpaused &&
        e2e_wait_tick $G $H $((a + 2)) 20
}

shutdown_guest() {
    e2e_virsh $H shutdown $G >/dev/null || return 1
    e2e_wait_state $G $H 'shut off' 60 && state_is 'shut off' shutdown || return 1
    grep -aq 'ACPI: power button' "$(e2e_serial_log $G $H)"
}

destroy_guest() {
    e2e_virsh $H start $G >/dev/null && state_is running booted || return 1
    e2e_virsh $H destroy $G >/dev/null && state_is 'shut off' destroyed
}

undefine_guest() {
    e2e_virsh $H undefine $G >/dev/null || return 1
    ! e2e_virsh $H domstate $G >/dev/null 2>&1
}

host_down_clean() {
    local before after b
    b=$(e2e_host_logdir $H); b=${b%/log}
    before=$(e2e_host_pids $H | wc -w)
    echo "# host $H: $before processes before (tini, libvirtd, virtlogd)"
    [ "$before" -ge 3 ] || return 1
    e2e_host_down $H || return 1
    after=$(e2e_host_pids $H)
    [ -z "$after" ] || { echo "# still running: $after"; return 1; }
    if pgrep -f -- "$b/" >/dev/null || pgrep -f "guest=$G," >/dev/null; then
        echo "# leftover processes:"; pgrep -af -- "$b/|guest=$G," | sed 's/^/#   /'
        return 1
    fi
    [ ! -S "$b/run/libvirt-sock" ]
}

e2e_init
step "install packages (only missing ones)" e2e_install
step "guest image (built, or cached)" e2e_guest_build
step "host $H up (virtlogd max_size 8192)" e2e_host_up $H --logmax 8192 --logbackups 3
step "host $H answers as hostname $H" eval '[ "$(e2e_virsh $H hostname)" = $H ]'
step "domain type (E2E_DOMAIN_TYPE=$E2E_DOMAIN_TYPE; auto = KVM only if a KVM guest boots)" e2e_kvm_probe $H
step "define guest $G (disk, cdrom, tickpad 1000)" define_guest
step "start $G" start_guest
step "serial log shows tick 3" e2e_wait_tick $G $H 3 90
step "virtlogd rotated $G-serial0.log (.0 exists)" rotated
step "suspend: paused, ticks stop" pause_guest
step "resume: running, ticks go on" resume_guest
step "graceful shutdown (ACPI) until shut off" shutdown_guest
step "start again, destroy: shut off (destroyed)" destroy_guest
step "undefine $G" undefine_guest
step "host $H down, nothing left running" host_down_clean
finish
