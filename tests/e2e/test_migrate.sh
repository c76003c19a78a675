#!/bin/bash
# test_migrate.sh - `migrate` between two private libvirt hosts, through ONE domfs mount
# that holds both (-c 192.0.2.1=URI_A -c 192.0.2.2=URI_B, --log-root for each):
#   - the root lists both host directories; a guest boots on A (192.0.2.1)
#   - `echo "192.0.2.2 bandwidth=20" > 192.0.2.1/G/migrate` (HOST = the other connection:
#     client-managed virDomainMigrate3): the write succeeds; meanwhile `migrate` reads
#     `running P processed/total bytes S MiB/s`; then G is gone from 192.0.2.1/, running
#     under 192.0.2.2/, virsh on both hosts agrees, the tick counter goes on (last tick in
#     A's log vs first in B's: gap 1..2) and 192.0.2.2/G/console.log shows it
#   - bad hosts (`h/system?x`, `-oProxyCommand=x`, `h@evil`, `[::1`): EINVAL at once, no job
#   - `echo 192.0.2.99 > migrate` (peer-to-peer to -o migrate_uri=qemu+tcp://%h/system, an
#     address nobody has): EIO in bounded time, `failed: ...`, `error` has the message,
#     the guest runs on where it was
#   - slow migrations (bandwidth=1) cancelled by SIGINT to the writer (a writer that
#     handles SIGINT: the write fails with ECANCELED; a shell killed by SIGINT, as Ctrl-C)
#     and by `echo cancel > migrate` from another shell: `cancelled`, guest stays put
#   - after all that, a migration back to A (no bandwidth limit) still works
# Output: TAP, then phase and migration timings. Exit 0 = all passed, 1 = failures,
# 77 = skipped. Everything (mount, writers, hosts, netns) is cleaned up at exit.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=harness.sh
. "$HERE/harness.sh"
# shellcheck source=../lib/tap.sh
. "$HERE/../lib/tap.sh"

HA=A; HB=B                  # harness host names
IPA=192.0.2.1; IPB=192.0.2.2  # = the domfs connection names
G=migg                      # the guest
UNREACH=192.0.2.99          # on the veth's /24, nobody answers ARP for it
RUN_RE='^running ([0-9]+) ([0-9]+)/([0-9]+) bytes ([0-9]+\.[0-9]) MiB/s$'

T_ALL=$(e2e_now)
TIMES=()        # phase timings
MIGS=()         # migration timings
WRITER_PIDS=()  # background writers this test started
DOMFS_PID=""
MNT=""
T=""

# ---------------------------------------------------------------- bookkeeping
PH_NAME=""; PH_T0=""
phase() {   # phase NAME: ends the current phase (timing), starts NAME
    [ -n "$PH_NAME" ] && TIMES+=("$(printf '%7ss  %s' "$(e2e_since "$PH_T0")" "$PH_NAME")")
    PH_NAME=$1; PH_T0=$(e2e_now)
    echo "# --- $1"
}

finish() {
    phase ""
    echo "# phase timings:"
    printf '#   %s\n' "${TIMES[@]}"
    echo "# migrations:"
    [ ${#MIGS[@]} = 0 ] || printf '#   %s\n' "${MIGS[@]}"
    echo "# total $(e2e_since "$T_ALL")s, $TAP_FAILED failed"
    echo "1..$TAP_N"
    [ "$TAP_FAILED" = 0 ] || exit 1
    exit 0
}

# need DESCRIPTION CMD...: an assertion the rest depends on: on failure, stop here
# (runs CMD in this shell: the harness's functions set variables; their log is on stderr)
need() {
    local d=$1 rc; shift
    "$@"; rc=$?
    tap_ok "$rc" "$d" "command failed ($rc): $*"
    [ "$rc" = 0 ] || { echo "# stopping: later steps depend on this one"; finish; }
}
# bail_if_failed WHAT: stop when any assertion failed so far (later phases would cascade)
bail_if_failed() {
    [ "$TAP_FAILED" = 0 ] && return 0
    echo "# stopping after failures in: $1"
    finish
}

mig_cleanup() {
    local rc=$? p i
    for p in "${WRITER_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    if [ -n "$DOMFS_PID" ] && kill -0 "$DOMFS_PID" 2>/dev/null; then
        fusermount3 -u "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null
        for ((i = 0; i < 100; i++)); do kill -0 "$DOMFS_PID" 2>/dev/null || break; sleep 0.05; done
        kill -TERM "$DOMFS_PID" 2>/dev/null
        for ((i = 0; i < 40; i++)); do kill -0 "$DOMFS_PID" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$DOMFS_PID" 2>/dev/null
    fi
    if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "${E2E_ROOT:-}" ] && [ -s "$E2E_ROOT/domfs.log" ]; then
        echo "----- tail of domfs log" >&2
        tail -n 40 "$E2E_ROOT/domfs.log" | cut -c1-300 >&2
    fi
    ( exit "$rc" ); e2e_cleanup_all
}

# ---------------------------------------------------------------- helpers
# rd FILE: FILE's first line (nothing and rc 1 when unreadable)
rd() { local l=""; { IFS= read -r l < "$1"; } 2>/dev/null || return 1; printf '%s\n' "$l"; }

# start_writer NAME TEXT FILE: `echo TEXT > FILE` by bash in the background;
# $T/NAME.err its stderr, $T/NAME.rc its exit status once done, $T/NAME.t0 start time
start_writer() {
    local w=$1 text=$2 f=$3
    rm -f "$T/$w".*
    e2e_now > "$T/$w.t0"
    bash -c 'echo "$1" > "$2"; rc=$?; echo $rc > "$3.tmp" && mv "$3.tmp" "$3"' \
        _ "$text" "$f" "$T/$w.rc" 2> "$T/$w.err" &
    W_PID=$!
    WRITER_PIDS+=("$W_PID")
}

# wait_done NAME TIMEOUT: waits for writer NAME's $T/NAME.rc; W_SECS = its duration
wait_done() {
    local w=$1 to=$2 end
    end=$(( EPOCHSECONDS + to ))
    until [ -s "$T/$w.rc" ]; do
        (( EPOCHSECONDS >= end )) && { W_SECS=""; return 1; }
        sleep 0.02
    done
    W_SECS=$(e2e_since "$(cat "$T/$w.t0")")
}

# watch_migrate NAME FILE TIMEOUT: reads FILE (fast, no fork) until writer NAME is done.
# W_LINES: the distinct successive lines read; W_RUNNING: reads matching RUN_RE;
# W_PROGRESS: of those, with processed and total > 0; W_MAXLAT_MS: slowest read.
watch_migrate() {
    local w=$1 f=$2 to=$3 line prev="" end a b maxus=0
    W_LINES=(); W_RUNNING=0; W_PROGRESS=0; W_MAXLAT_MS=0
    end=$(( EPOCHSECONDS + to ))
    while [ ! -s "$T/$w.rc" ]; do
        a=${EPOCHREALTIME/[.,]/}
        line=""
        { IFS= read -r line < "$f"; } 2>/dev/null || line="<unreadable>"
        b=${EPOCHREALTIME/[.,]/}
        (( b - a > maxus )) && maxus=$(( b - a ))
        if [ "$line" != "$prev" ]; then W_LINES+=("$line"); prev=$line; fi
        if [[ $line =~ $RUN_RE ]]; then
            W_RUNNING=$((W_RUNNING + 1))
            (( BASH_REMATCH[2] > 0 && BASH_REMATCH[3] > 0 )) && W_PROGRESS=$((W_PROGRESS + 1))
        fi
        (( EPOCHSECONDS >= end )) && { W_MAXLAT_MS=$((maxus / 1000)); return 1; }
        sleep 0.02
    done
    W_MAXLAT_MS=$((maxus / 1000))
    return 0
}
show_lines() {  # the lines watch_migrate saw (first 6 and last 3)
    local n=${#W_LINES[@]} i
    echo "# migrate read (${n} distinct successive values, ${W_RUNNING} running, ${W_PROGRESS} with progress, slowest read ${W_MAXLAT_MS} ms):"
    for ((i = 0; i < n; i++)); do
        if (( i < 6 || i >= n - 3 )); then echo "#   ${W_LINES[i]}"
        elif (( i == 6 )); then echo "#   ..."; fi
    done
}

# wait_progress FILE TIMEOUT: until FILE reads `running` with processed > 0
wait_progress() {
    local f=$1 to=$2 line end
    end=$(( EPOCHSECONDS + to ))
    while :; do
        line=$(rd "$f")
        if [[ $line =~ $RUN_RE ]] && (( BASH_REMATCH[2] > 0 )); then
            echo "# in progress: $line"; return 0
        fi
        (( EPOCHSECONDS >= end )) && { echo "# no progress within ${to}s; migrate reads '$line'"; return 1; }
        sleep 0.05
    done
}

# wait_cond SECONDS CMD...: polls CMD; W_SECS = how long it took
wait_cond() {
    local to=$1 t0 end; shift
    t0=$(e2e_now); end=$(( EPOCHSECONDS + to ))
    until "$@" >/dev/null 2>&1; do
        (( EPOCHSECONDS >= end )) && { W_SECS=""; return 1; }
        sleep 0.05
    done
    W_SECS=$(e2e_since "$t0")
}

vstate() { virsh -q -c "$(e2e_host_uri "$1")" domstate "$G" --reason 2>/dev/null | sed -n 1p; }
has_guest() { virsh -q -c "$(e2e_host_uri "$1")" list --all --name 2>/dev/null | grep -qx "$G"; }
no_guest() { ! has_guest "$1"; }
jobtype() { virsh -q -c "$(e2e_host_uri "$1")" domjobinfo "$G" 2>&1 | awk '/^Job type:/ { print $3 }'; }
job_none() {   # (prints what virsh said, for the diagnostics)
    local j; j=$(virsh -q -c "$(e2e_host_uri "$1")" domjobinfo "$G" 2>&1)
    printf '%s\n' "$j"
    [ "$(printf '%s\n' "$j" | awk '/^Job type:/ { print $3 }')" = None ]
}
dir_in() { [ -d "$MNT/$1/$G" ]; }
dir_not_in() { [ ! -e "$MNT/$1/$G" ]; }
# ticks FILE: "first last" tick numbers in a log (0 0 when none)
ticks() {
    tr -d '\r' < "$1" 2>/dev/null |
        awk '/^tick [0-9]+/ { n = $2 + 0; if (!f) f = n; if (n > m) m = n } END { print f + 0, m + 0 }'
}
first_tick_on() { _e2e_log_stream "$(e2e_serial_log "$G" "$1")" | awk '/^tick [0-9]+/ { print $2 + 0; exit }'; }
console_max_ge() { local ft; ft=$(ticks "$1"); [ "${ft#* }" -ge "$2" ]; }

mount_domfs() {
    local i
    mkdir -p "$MNT"
    "$DOMFS" -f -c "$IPA=$(e2e_host_uri $HA)" -c "$IPB=$(e2e_host_uri $HB)" \
        --log-root "$IPA=$(e2e_host_logdir $HA)" --log-root "$IPB=$(e2e_host_logdir $HB)" \
        -o "migrate_uri=qemu+tcp://%h/system" "$MNT" > "$E2E_ROOT/domfs.log" 2>&1 &
    DOMFS_PID=$!
    for ((i = 0; i < 600; i++)); do
        mountpoint -q "$MNT" && [ -d "$MNT/.domfs" ] && return 0
        kill -0 "$DOMFS_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "domfs did not mount:"; cat "$E2E_ROOT/domfs.log"
    return 1
}

# the writer for SIGINT with a handler: one write(2) (no retry), prints "RET ERRNO-NAME"
PY_WRITER='
import ctypes, errno, os, signal, sys
path, text, out = sys.argv[1:4]
libc = ctypes.CDLL(None, use_errno=True)
signal.signal(signal.SIGINT, lambda s, f: None)
fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
data = (text + "\n").encode()
r = libc.write(fd, data, len(data))
e = ctypes.get_errno()
os.close(fd)
with open(out + ".tmp", "w") as f:
    f.write("%d %s\n" % (r, errno.errorcode.get(e, str(e)) if r < 0 else "OK"))
os.rename(out + ".tmp", out)
'

# ================================================================ setup
e2e_init
trap mig_cleanup EXIT
DOMFS=$(e2e_domfs_bin) || { echo "$DOMFS"; exit 77; }
T=$E2E_ROOT/w; mkdir -p "$T"
MNT=$E2E_ROOT/mnt

phase "setup: packages, guest, netns, hosts $HA ($IPA) and $HB ($IPB)"
need "install packages (only missing ones)" e2e_install
need "guest image (built, or cached)" e2e_guest_build
need "network namespaces $IPA <-> $IPB" e2e_netns_up
need "host $HA up in netns A, libvirtd listening on $IPA" \
    e2e_host_up $HA --netns "$E2E_NETNS_A" --listen $IPA --portmin 49152
need "host $HB up in netns B, libvirtd listening on $IPB" \
    e2e_host_up $HB --netns "$E2E_NETNS_B" --listen $IPB --portmin 49280
need "domain type (E2E_DOMAIN_TYPE=$E2E_DOMAIN_TYPE)" e2e_kvm_probe $HA
need "define + start $G on $HA" eval 'e2e_define $G $HA && e2e_virsh $HA start $G'
need "$G prints tick 3 on $HA" e2e_wait_tick $G $HA 3 90

phase "mount both hosts"
need "domfs mounts -c $IPA=URI_A -c $IPB=URI_B (+ --log-root each)" mount_domfs
is "$(ls "$MNT" | paste -sd' ')" "$IPA $IPB" "the root lists both host directories"
ok "$IPA/$G exists" dir_in $IPA
ok "$IPB/$G does not" dir_not_in $IPB
is "$(rd "$MNT/$IPA/$G/state")" running "$IPA/$G/state: running"
is "$(rd "$MNT/$IPA/$G/migrate")" none "$IPA/$G/migrate: none"
read -r _ A_MAX0 <<< "$(ticks "$MNT/$IPA/$G/console.log")"
ok "$IPA/$G/console.log shows ticks (through --log-root; last $A_MAX0)" test "$A_MAX0" -ge 3
bail_if_failed "mount"

# ================================================================ live migration A -> B
phase "migrate $IPA -> $IPB (bandwidth=20)"
F=$MNT/$IPA/$G/migrate
start_writer m1 "$IPB bandwidth=20" "$F"
watch_migrate m1 "$F" 180; wrc=$?
wait_done m1 5
M1_SECS=$W_SECS
show_lines
is "$wrc" 0 "the migration ends within 180 s"
is "$(cat "$T/m1.rc" 2>/dev/null)" 0 "echo '$IPB bandwidth=20' > $IPA/$G/migrate succeeds (${M1_SECS}s)"
is "$(cat "$T/m1.err")" "" "... and prints nothing"
ok "migrate read 'running P processed/total bytes S MiB/s' during it ($W_RUNNING times)" test "$W_RUNNING" -ge 1
ok "... with libvirt's progress (processed, total > 0) at least once ($W_PROGRESS times)" test "$W_PROGRESS" -ge 1
ok "reads of migrate never waited behind the migration (slowest ${W_MAXLAT_MS} ms < 2000)" test "$W_MAXLAT_MS" -lt 2000
MIGS+=("$(printf '%7ss  %s -> %s, bandwidth=20 (client-managed)' "$M1_SECS" $IPA $IPB)")
bail_if_failed "migration $IPA -> $IPB"

dir_in $IPA && echo "# note: $IPA/$G still listed right after the write returned"
wait_cond 15 dir_not_in $IPA; ok "$G leaves $IPA/ (after ${W_SECS:-?}s)" test -n "$W_SECS"
wait_cond 15 dir_in $IPB; ok "$G appears under $IPB/ (after ${W_SECS:-?}s)" test -n "$W_SECS"
is "$(rd "$MNT/$IPB/$G/state")" running "$IPB/$G/state: running"
is "$(rd "$MNT/$IPB/$G/reason")" migrated "$IPB/$G/reason: migrated"
is "$(rd "$MNT/$IPB/$G/persistent")" 1 "$IPB/$G/persistent: 1 (persisted on the destination)"
like "$(rd "$MNT/$IPB/$G/migrate")" "^completed $IPB [0-9]+\.[0-9]s$" \
     "$IPB/$G/migrate: completed $IPB <seconds>s (the status follows the guest)"
is "$(vstate $HB)" "running (migrated)" "virsh on $HB: running (migrated)"
like "$(virsh -q -c "$(e2e_host_uri $HB)" dominfo $G 2>&1)" 'Persistent: +yes' "virsh on $HB: persistent"
ok "virsh on $HA: $G is gone (undefined on the source)" no_guest $HA
ok "no job left on $HB" job_none $HB

LAST_A=$(e2e_last_tick $G $HA)
e2e_wait_tick $G $HB $((LAST_A + 5)) 60 >/dev/null 2>&1
FIRST_B=$(first_tick_on $HB)
echo "# last tick on $HA: $LAST_A, first tick on $HB: ${FIRST_B:-none}"
ok "the tick counter goes on on $HB (first $FIRST_B after last $LAST_A: gap 1..2)" \
    eval '[ -n "$FIRST_B" ] && (( FIRST_B - LAST_A >= 1 && FIRST_B - LAST_A <= 2 ))'
read -r C_FIRST C_LAST <<< "$(ticks "$MNT/$IPB/$G/console.log")"
echo "# $IPB/$G/console.log: ticks $C_FIRST..$C_LAST"
is "$C_FIRST" "$FIRST_B" "$IPB/$G/console.log starts at the destination's first tick"
wait_cond 30 console_max_ge "$MNT/$IPB/$G/console.log" $((C_LAST + 3))
ok "$IPB/$G/console.log keeps growing (tick $((C_LAST + 3)) after ${W_SECS:-?}s)" test -n "$W_SECS"
bail_if_failed "after the migration"

# ================================================================ bad hosts
phase "bad hosts: EINVAL at once, nothing happens"
F=$MNT/$IPB/$G/migrate
BEFORE=$(rd "$F")
for h in 'h/system?x' '-oProxyCommand=x' 'h@evil' '[::1'; do
    t0=$(e2e_now)
    fails_with "Invalid argument" "echo '$h' > $IPB/$G/migrate: EINVAL" \
        bash -c 'printf "%s\n" "$1" > "$2"' _ "$h" "$F"
    dt=$(e2e_since "$t0")
    ok "... at once (${dt}s < 1s)" test "${dt%.*}" -lt 1
    like "$(rd "$MNT/$IPB/$G/error")" ' migrate EINVAL: ' "... error: $(rd "$MNT/$IPB/$G/error" | cut -d' ' -f2-)"
    is "$(rd "$F")" "$BEFORE" "... migrate still reads '$BEFORE' (unchanged)"
    is "$(jobtype $HB)" None "... virsh domjobinfo on $HB: no job"
done
like "$(vstate $HB)" '^running' "$G still running on $HB"
ok "nothing arrived on $HA" no_guest $HA

# ================================================================ failing migration (p2p)
phase "migrate to $UNREACH (peer-to-peer, unreachable): EIO"
start_writer f1 "$UNREACH" "$F"
watch_migrate f1 "$F" 120; wrc=$?
wait_done f1 5
show_lines
is "$wrc" 0 "the failed migration ends within 120 s (${W_SECS:-?}s)"
MIGS+=("$(printf '%7ss  %s -> %s (p2p, unreachable: failed)' "${W_SECS:-timeout}" $IPB $UNREACH)")
ok "echo $UNREACH > $IPB/$G/migrate fails" test "$(cat "$T/f1.rc" 2>/dev/null)" != 0
like "$(cat "$T/f1.err")" 'Input/output error' "... with EIO ($(cat "$T/f1.err"))"
M=$(rd "$F")
like "$M" '^failed: .+' "migrate reads 'failed: <message>' ($M)"
E=$(rd "$MNT/$IPB/$G/error")
like "$E" ' migrate EIO: .+' "error has the message ($E)"
is "${E#* migrate EIO: }" "${M#failed: }" "... the same message as migrate"
is "$(rd "$MNT/$IPB/$G/state")" running "$G still running on $IPB (domfs)"
like "$(vstate $HB)" '^running' "... and by virsh on $HB"
ok "... no job left on $HB" job_none $HB
ok "nothing arrived on $HA" no_guest $HA
bail_if_failed "the failing migration"

# ================================================================ cancel: SIGINT to the writer
# (1) a writer that handles SIGINT: its one write(2) must fail with ECANCELED
phase "cancel by SIGINT (writer with a handler: the write fails ECANCELED)"
PY=$(command -v python3 || true)
if [ -z "$PY" ]; then
    tap_ok 0 "# SKIP python3 not installed: no SIGINT-with-handler writer"
else
    rm -f "$T/c1".*
    e2e_now > "$T/c1.t0"
    "$PY" -c "$PY_WRITER" "$F" "$IPA bandwidth=1" "$T/c1.rc" 2> "$T/c1.err" &
    c1_pid=$!; WRITER_PIDS+=("$c1_pid")
    need "the slow migration (bandwidth=1) to $IPA is under way" wait_progress "$F" 60
    echo "# virsh domjobinfo on $HB: job type $(jobtype $HB)"
    t0=$(e2e_now)
    kill -INT "$c1_pid"
    if ! wait_done c1 30; then
        echo "# the writer is still there 30 s after SIGINT: virsh domjobabort"
        e2e_virsh $HB domjobabort $G; wait_done c1 30
    fi
    C1_SECS=$(e2e_since "$t0")
    is "$(cat "$T/c1.rc" 2>/dev/null)" "-1 ECANCELED" "write(2) returns -1 ECANCELED after SIGINT (${C1_SECS}s after it)"
    [ -s "$T/c1.err" ] && sed 's/^/#   writer: /' "$T/c1.err"
    MIGS+=("$(printf '%7ss  %s -> %s bandwidth=1, SIGINT after %ss: cancelled %ss later' "$W_SECS" $IPB $IPA "$(e2e_since "$(cat "$T/c1.t0")")" "$C1_SECS")")
    is "$(rd "$F")" cancelled "migrate reads cancelled"
    like "$(rd "$MNT/$IPB/$G/error")" ' migrate ECANCELED: ' "error: $(rd "$MNT/$IPB/$G/error" | cut -d' ' -f2- | cut -c1-120)"
    is "$(rd "$MNT/$IPB/$G/state")" running "$G still running on $IPB (domfs)"
    like "$(vstate $HB)" '^running' "... and by virsh on $HB"
    wait_cond 15 job_none $HB; ok "... no job left on $HB" test -n "$W_SECS"
    wait_cond 15 no_guest $HA; ok "the incoming guest is gone from $HA (after ${W_SECS:-?}s)" test -n "$W_SECS"
    wait_cond 15 dir_not_in $IPA; ok "... and from $IPA/" test -n "$W_SECS"
fi
bail_if_failed "cancel by SIGINT (handler)"

# (2) Ctrl-C semantics: the shell doing the write dies of SIGINT
phase "cancel by SIGINT (a shell killed by it, as Ctrl-C)"
rm -f "$T/c2".*
e2e_now > "$T/c2.t0"
# a background job ignores SIGINT unless told otherwise (bash without job control)
env --default-signal=INT sh -c 'echo "$1" > "$2"' _ "$IPA bandwidth=1" "$F" 2> "$T/c2.err" &
c2_pid=$!; WRITER_PIDS+=("$c2_pid")
need "the slow migration (bandwidth=1) to $IPA is under way" wait_progress "$F" 60
t0=$(e2e_now)
kill -INT "$c2_pid"
if ! wait_cond 30 eval '! kill -0 $c2_pid'; then
    echo "# the writing shell is still there 30 s after SIGINT: virsh domjobabort"
    e2e_virsh $HB domjobabort $G
fi
wait "$c2_pid"; c2_rc=$?
C2_SECS=$(e2e_since "$t0")
is "$c2_rc" 130 "the writing shell dies of SIGINT (status 130, ${C2_SECS}s after it)"
MIGS+=("$(printf '%7ss  %s -> %s bandwidth=1, SIGINT (shell killed) after %ss' "$C2_SECS" $IPB $IPA "$(e2e_since "$(cat "$T/c2.t0")")")")
wait_cond 10 eval '[ "$(rd "$F")" = cancelled ]'
is "$(rd "$F")" cancelled "migrate reads cancelled"
like "$(rd "$MNT/$IPB/$G/error")" ' migrate ECANCELED: ' "error: ECANCELED"
like "$(vstate $HB)" '^running' "$G still running on $HB (virsh)"
wait_cond 15 job_none $HB; ok "... no job left on $HB" test -n "$W_SECS"
wait_cond 15 no_guest $HA; ok "the incoming guest is gone from $HA (after ${W_SECS:-?}s)" test -n "$W_SECS"
bail_if_failed "cancel by SIGINT (shell)"

# ================================================================ cancel: echo cancel
phase "cancel by 'echo cancel > migrate' from another shell"
start_writer c3 "$IPA bandwidth=1" "$F"
need "the slow migration (bandwidth=1) to $IPA is under way" wait_progress "$F" 60
t0=$(e2e_now)
# in the background and bounded: a cancel that blocks must not hang the test
start_writer cx cancel "$F"; cx_pid=$W_PID
if wait_done cx 15; then
    tap_ok 0 "echo cancel > $IPB/$G/migrate returns (${W_SECS}s)"
    is "$(cat "$T/cx.rc")" 0 "... successfully $(cat "$T/cx.err")"
    wait_done c3 30
    C3_SECS=$(e2e_since "$t0")
    MIGS+=("$(printf '%7ss  %s -> %s bandwidth=1, echo cancel: ended %ss after it' "${W_SECS:-timeout}" $IPB $IPA "$C3_SECS")")
    is "$(cat "$T/c3.rc" 2>/dev/null)" 1 "the migrating write fails (${C3_SECS}s after the cancel)"
    like "$(cat "$T/c3.err")" 'Operation canceled' "... with ECANCELED ($(cat "$T/c3.err"))"
    is "$(rd "$F")" cancelled "migrate reads cancelled"
    like "$(rd "$MNT/$IPB/$G/error")" ' migrate ECANCELED: ' "error: ECANCELED"
else
    st=$(tr '\n' ' ' < "/proc/$cx_pid/stack" 2>/dev/null)
    tap_ok 1 "echo cancel > $IPB/$G/migrate returns (within 15 s)" \
"it blocks while the migrating write is in progress (kernel stack: ${st:-?})
migrate meanwhile reads: $(rd "$F")
(not checked: the cancel's effects; aborting the job with virsh domjobabort to go on)"
    e2e_virsh $HB domjobabort $G
    wait_done c3 30; wait_done cx 30
    echo "# after domjobabort: migrating write: rc $(cat "$T/c3.rc" 2>/dev/null) $(cat "$T/c3.err" 2>/dev/null)"
    echo "# the blocked cancel then: rc $(cat "$T/cx.rc" 2>/dev/null) $(cat "$T/cx.err" 2>/dev/null)"
    echo "# migrate: $(rd "$F")"
    MIGS+=("$(printf '%7ss  %s -> %s bandwidth=1, echo cancel blocked, aborted by virsh domjobabort' "$(e2e_since "$(cat "$T/c3.t0")")" $IPB $IPA)")
fi
is "$(rd "$MNT/$IPB/$G/state")" running "$G still running on $IPB (domfs)"
like "$(vstate $HB)" '^running' "... and by virsh on $HB"
wait_cond 15 job_none $HB; ok "... no job left on $HB" test -n "$W_SECS"
wait_cond 15 no_guest $HA; ok "the incoming guest is gone from $HA (after ${W_SECS:-?}s)" test -n "$W_SECS"
fails_with "Invalid argument" "echo cancel with no migration running: EINVAL" \
    bash -c 'echo cancel > "$1"' _ "$F"
# (no bail: the way back below works whatever the cancel did, if the guest is in place)
need "$G is on $HB with no job, ready to go back" eval \
    '[ "$(rd "$MNT/$IPB/$G/state")" = running ] && job_none $HB >/dev/null && no_guest $HA'

# ================================================================ and back
phase "migrate back $IPB -> $IPA (no bandwidth limit)"
B_BEFORE=$(e2e_last_tick $G $HB)
start_writer m2 "$IPA" "$F"
watch_migrate m2 "$F" 120; wrc=$?
wait_done m2 5
M2_SECS=$W_SECS
show_lines
is "$(cat "$T/m2.rc" 2>/dev/null)" 0 "echo $IPA > $IPB/$G/migrate succeeds (${M2_SECS:-?}s)"
MIGS+=("$(printf '%7ss  %s -> %s, unlimited (client-managed)' "${M2_SECS:-timeout}" $IPB $IPA)")
wait_cond 15 dir_not_in $IPB; ok "$G leaves $IPB/" test -n "$W_SECS"
wait_cond 15 dir_in $IPA; ok "$G is back under $IPA/" test -n "$W_SECS"
is "$(rd "$MNT/$IPA/$G/state")" running "$IPA/$G/state: running"
is "$(vstate $HA)" "running (migrated)" "virsh on $HA: running (migrated)"
ok "virsh on $HB: $G is gone" no_guest $HB
ok "ticks go on on $HA" e2e_wait_tick $G $HA $((B_BEFORE + 5)) 60

# ================================================================ unmount
phase "unmount"
ok "fusermount3 -u" fusermount3 -u "$MNT"
ok "the mount is gone" eval '! mountpoint -q "$MNT"'
daemon_threads() {
    local t
    for t in /proc/"$DOMFS_PID"/task/*; do
        printf '%s %s: %s\n' "${t##*/}" "$(cat "$t/comm" 2>/dev/null)" \
            "$(tr '\n' ' ' < "$t/stack" 2>/dev/null | cut -c1-160)"
    done
}
if wait_cond 10 eval '! kill -0 $DOMFS_PID'; then
    tap_ok 0 "the daemon exits (${W_SECS}s)"
else
    # A mount namespace made while the mount existed (e.g. `unshare -m` of a concurrent
    # e2e run's hosts) keeps a copy of it: the FUSE connection, and so the daemon, live
    # on until that namespace ends. Not domfs's doing.
    holders=$(grep -lsF " $MNT " /proc/[0-9]*/mountinfo | cut -d/ -f3 | paste -sd' ')
    if [ -n "$holders" ]; then
        ours=$( { e2e_host_pids $HA; e2e_host_pids $HB; } | grep -xF -f <(tr ' ' '\n' <<< "$holders") | paste -sd' ')
        echo "# the daemon runs on: other mount namespaces still hold the mount (pids: $holders;" \
             "$(for p in $holders; do cat "/proc/$p/comm" 2>/dev/null; done | sort -u | paste -sd,);" \
             "of this run's hosts: ${ours:-none})"
        kill -TERM "$DOMFS_PID"
        wait_cond 10 eval '! kill -0 $DOMFS_PID'
        ok "the daemon exits on SIGTERM then (${W_SECS:-?}s)" test -n "$W_SECS"
    else
        tap_ok 1 "the daemon exits (within 10 s of the unmount)" \
"still running and no mount namespace holds the mount; its threads:
$(daemon_threads)
its log:
$(tail -n 5 "$E2E_ROOT/domfs.log")"
    fi
fi
DOMFS_PID=""
finish
