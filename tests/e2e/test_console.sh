#!/bin/bash
# test_console.sh - console.log of real guests through a domfs mount, with virtlogd
# rotating the serial log every few seconds (max_size 8192, 3 backups):
#  - `tail -f console.log` for 30 s across several rotations: every tick once, in order,
#    every line whole, no "file truncated";
#  - `cat` is bounded by console_max (default, and -o console_max=4096 on a second mount),
#    ends, returns the newest bytes exactly, and stat's size is what cat returns;
#  - a shut-off guest shows its last log; a restart with append='off' (the log truncated)
#    is followed by a running reader from the new content on;
#  - confinement: a log named /etc/shadow, a symlink to it (or to another log) inside the
#    log directory, a directory: EACCES and no content; no log at all: an empty file.
# Output: TAP lines, then phase timings. Exit 0 = all passed, 1 = failures, 77 = skipped.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=domfs_e2e.sh
. "$HERE/domfs_e2e.sh"

H=c1
G=cg
PAD=250          # tick lines of ~270 bytes, ~4 a second: virtlogd rotates every ~8 s
MAX_B=4096       # console_max of the second mount
FOLLOW=30        # seconds of tail -f

dx_phase "setup: packages, guest image, host $H (virtlogd max_size 8192), guest $G running"
e2e_install
e2e_guest_build || e2e_die "guest build failed"
e2e_host_up $H --logmax 8192 --logbackups 3 || e2e_die "host $H did not come up"
e2e_kvm_probe $H
e2e_define $G $H --tickpad $PAD || e2e_die "define $G failed"
LOGDIR=$(e2e_host_logdir $H)
LOG=$(e2e_serial_log $G $H)
dx_virsh $H start $G >/dev/null || e2e_die "start $G failed"

# host_stream: the guest's serial log as virtlogd keeps it (NAME.2 NAME.1 NAME.0 NAME)
host_stream() {
    local i files=()
    for ((i = 9; i >= 0; i--)); do [ -f "$LOG.$i" ] && files+=("$LOG.$i"); done
    [ -f "$LOG" ] && files+=("$LOG")
    cat "${files[@]}"
}
# ticks FILE: the tick numbers of FILE's whole tick lines, one per line
ticks() { tr -d '\r' < "$1" | grep -aoE '^tick [0-9]+ up=' | awk '{ print $2 }'; }
# consecutive: stdin is a run of consecutive numbers (no gap, no repeat); prints why not
consecutive() {
    awk 'NR > 1 && $1 != prev + 1 { printf "after %d comes %d\n", prev, $1; bad++ } { prev = $1 }
         END { exit bad ? 1 : 0 }' | head -5
    return "${PIPESTATUS[0]}"
}

dx_phase "mount twice (default console_max, console_max=$MAX_B)"
dx_mount a -c "$H=$(e2e_host_uri $H)" --log-root "$H=$LOGDIR"
tap_ok $? "mount a: default console_max" || dx_finish
A=$DX_MNT/$G
dx_mount b -c "$H=$(e2e_host_uri $H)" --log-root "$H=$LOGDIR" -o console_max=$MAX_B
tap_ok $? "mount b: -o console_max=$MAX_B" || dx_finish
B=$DX_MNT/$G
ok "$G ticks on its serial console" e2e_wait_tick $G $H 5 90

dx_phase "tail -f console.log for ${FOLLOW}s across rotations"
CAP=$E2E_ROOT/tail-a.txt; CAPB=$E2E_ROOT/tail-b.txt
timeout $FOLLOW tail -s 0.2 -n 2 -f "$A/console.log" > "$CAP" 2> "$CAP.err" &
TA=$!
timeout $FOLLOW tail -s 0.2 -n 2 -f "$B/console.log" > "$CAPB" 2> "$CAPB.err" &
TB=$!
first_tick=$(e2e_last_tick $G $H)
# count virtlogd's rotations meanwhile (a new inode for NAME each time)
rot=0; ino=$(stat -c %i "$LOG" 2>/dev/null)
end=$(( EPOCHSECONDS + FOLLOW ))
while (( EPOCHSECONDS < end )) && kill -0 $TA 2>/dev/null; do
    i=$(stat -c %i "$LOG" 2>/dev/null)
    if [ -n "$i" ] && [ "$i" != "$ino" ]; then rot=$((rot + 1)); ino=$i; fi
    sleep 0.2
done
last_tick=$(e2e_last_tick $G $H)
wait $TA; rca=$?
wait $TB; rcb=$?
echo "# host log: ticks $first_tick..$last_tick, $rot rotations; captured $(wc -c < "$CAP") bytes (a), $(wc -c < "$CAPB") bytes (b)"
tap_ok "$([ $rot -ge 3 ]; echo $?)" "virtlogd rotated the log at least 3 times meanwhile ($rot)"
for m in a b; do
    c=$E2E_ROOT/tail-$m.txt
    rc=$([ $m = a ] && echo $rca || echo $rcb)
    is "$rc" "124" "tail -f ($m) was still following when stopped"
    is "$(cat "$c.err")" "" "tail -f ($m) printed nothing on stderr (no 'file truncated')"
    t=$(ticks "$c")
    n=$(wc -w <<< "$t")
    tap_ok "$([ "$n" -ge $((FOLLOW * 2)) ]; echo $?)" "tail -f ($m) captured at least $((FOLLOW * 2)) ticks ($n: $(head -1 <<< "$t")..$(tail -1 <<< "$t"))"
    why=$(consecutive <<< "$t"); rc=$?
    tap_ok $rc "tail -f ($m): the ticks are consecutive, none missing, none twice" "$why"
    tap_ok "$([ "$(head -1 <<< "$t")" -le $((first_tick + 2)) ] && [ "$(tail -1 <<< "$t")" -ge $((last_tick - 8)) ]; echo $?)" \
        "tail -f ($m) covers the whole time (host ticks $first_tick..$last_tick)"
    # every line but the first and last (cut by the start and stop) is a whole tick line:
    # a byte lost or doubled at a rotation would break one
    broken=$(tr -d '\r' < "$c" | sed '1d;$d' | grep -avE "^tick [0-9]+ up=[0-9]+\.[0-9]+ x{$PAD}$" | head -3)
    is "$broken" "" "tail -f ($m): every line in between is a whole tick line"
done

dx_phase "cat and stat, guest paused (a stable log)"
dx_virsh $H suspend $G >/dev/null
sleep 0.5
HS=$E2E_ROOT/host-stream
host_stream > "$HS"; total=$(stat -c %s "$HS")
echo "# host: $(cd "$LOGDIR/qemu" && stat -c '%n %s' "$G-serial0.log"* | paste -sd, -) = $total bytes"
tap_ok "$([ "$total" -gt 20000 ] && [ "$total" -le $((4 * 8192)) ]; echo $?)" "the host keeps 20000..32768 bytes ($total)"
timeout 5 cat "$A/console.log" > "$E2E_ROOT/cat-a"; rc=$?
is "$rc" "0" "cat console.log ends (a)"
is "$(stat -c %s "$E2E_ROOT/cat-a")" "$total" "cat (a) returns every byte the host keeps (< console_max)"
ok "cat (a) is the host's log byte for byte, across the rotated files" cmp "$E2E_ROOT/cat-a" "$HS"
is "$(timeout 5 stat -c %s "$A/console.log")" "$total" "stat size (a) == what cat returns, nobody has it open"
timeout 5 cat "$B/console.log" > "$E2E_ROOT/cat-b"; rc=$?
is "$rc" "0" "cat console.log ends (b)"
is "$(stat -c %s "$E2E_ROOT/cat-b")" "$MAX_B" "cat (b) returns console_max=$MAX_B bytes"
ok "cat (b) is the newest $MAX_B bytes of the host's log" cmp "$E2E_ROOT/cat-b" <(tail -c $MAX_B "$HS")
is "$(timeout 5 stat -c %s "$B/console.log")" "$MAX_B" "stat size (b) == $MAX_B, nobody has it open"
# a reader holding it open keeps its size; a second cat meanwhile still gets the tail
exec 7< "$B/console.log"
is "$(timeout 5 stat -c %s "$B/console.log")" "$MAX_B" "stat size (b) with a reader open: still $MAX_B"
is "$(timeout 5 cat "$B/console.log" | wc -c)" "$MAX_B" "a second cat (b) with a reader open: $MAX_B bytes"
exec 7<&-
dx_virsh $H resume $G >/dev/null

dx_phase "cat of a running guest: bounded, ends"
sleep 1
for i in 1 2 3; do
    s=$(timeout 5 cat "$B/console.log" | wc -c); rc=${PIPESTATUS[0]}
    # the newest console_max bytes, plus whatever the guest printed while cat read (~1 KiB/s)
    tap_ok "$([ "$rc" = 0 ] && [ "$s" -ge $MAX_B ] && [ "$s" -le $((MAX_B + 1024)) ]; echo $?)" \
        "cat (b) of a running guest ends with $MAX_B..$((MAX_B + 1024)) bytes (rc $rc, $s bytes)"
    s=$(timeout 5 cat "$A/console.log" | wc -c); rc=${PIPESTATUS[0]}
    tap_ok "$([ "$rc" = 0 ] && [ "$s" -gt 8192 ] && [ "$s" -le 131072 ]; echo $?)" \
        "cat (a) of a running guest ends with at most 131072 bytes (rc $rc, $s bytes)"
    sleep 0.3
done

dx_phase "shut off: the last log stays"
dx_virsh $H destroy $G >/dev/null
ok "$G is shut off" dx_wait 10 dx_file_is "$A/state" shutoff
sleep 0.5
host_stream > "$HS"; total=$(stat -c %s "$HS")
timeout 5 cat "$A/console.log" > "$E2E_ROOT/cat-a"; rc=$?
tap_ok "$([ $rc = 0 ] && [ "$total" -gt 0 ]; echo $?)" "cat console.log of the shut-off guest ends ($total bytes)"
ok "... and is the last log, byte for byte" cmp "$E2E_ROOT/cat-a" "$HS"
is "$(timeout 5 stat -c %s "$A/console.log")" "$total" "stat size == cat size"
lt=$(e2e_last_tick $G $H)
like "$(tr -d '\r' < "$E2E_ROOT/cat-a" | grep -a '^tick' | tail -1)" "^tick $lt up=" "it ends with the last tick ($lt)"

dx_phase "restart with append='off': a running reader carries on"
like "$(dx_virsh $H dumpxml $G | grep '<log ')" "append='off'" "the serial log has append='off'"
CAP=$E2E_ROOT/tail-restart.txt
timeout 60 tail -s 0.2 -n 1 -f "$A/console.log" > "$CAP" 2> "$CAP.err" &
TR=$!
sleep 1
dx_virsh $H start $G >/dev/null
ok "$G ticks again (tick 10 of its new boot)" e2e_wait_tick $G $H 10 90
sleep 1
kill $TR 2>/dev/null; wait $TR 2>/dev/null
is "$(cat "$CAP.err")" "" "tail -f printed nothing on stderr (no 'file truncated')"
is "$(grep -ac 'Linux version' "$CAP")" "1" "the reader got the new boot once"
is "$(tr -d '\r' < "$CAP" | grep -a '^tick' | head -1 | cut -d' ' -f1-2)" "tick $lt" \
    "... after the old log's last tick ($lt)"
sed -n '/Linux version/,$p' "$CAP" > "$CAP.new"
t=$(ticks "$CAP.new")
is "$(head -1 <<< "$t")" "1" "the new run's ticks start at 1"
why=$(consecutive <<< "$t"); rc=$?
tap_ok $rc "the new run's ticks are consecutive ($(head -1 <<< "$t")..$(tail -1 <<< "$t")), none missing, none twice" "$why"
tap_ok "$([ "$(tail -1 <<< "$t")" -ge 10 ]; echo $?)" "the reader followed the new run (last tick $(tail -1 <<< "$t"), host has $(e2e_last_tick $G $H))"
ok "the host's new log starts with the new boot (truncated by append=off)" eval "host_stream | head -c 300 | grep -aq 'Linux version'"

dx_phase "restarts while nobody reads: the new files reuse the old inodes"
# domfs saw the log (stat) and then does not look while the guest restarts: libvirt
# deletes the old files (append='off') and virtlogd rotates new ones, all between two
# looks of domfs. ext4 hands the freed inode numbers out again, and rotated files are
# mostly exactly max_size long: a new file may have an old file's inode and size.
inodes() { (cd "$LOGDIR/qemu" && stat -c '%n:%i:%s' "$G-serial0.log"* | sed "s/^$G-serial0.log//" | paste -sd' ' -); }
ok "the guest is running" dx_wait 10 dx_file_is "$A/state" running
for round in 1 2; do
    dx_wait 60 test -f "$LOG.2"     # the log to replace has rotated three times
    before=$(inodes)
    timeout 5 stat -c %s "$A/console.log" >/dev/null
    dx_virsh $H destroy $G >/dev/null && dx_virsh $H start $G >/dev/null
    dx_wait 60 test -f "$LOG.2"     # three rotations of the new log
    dx_virsh $H suspend $G >/dev/null
    sleep 0.5
    after=$(inodes)
    host_stream > "$HS"; total=$(stat -c %s "$HS")
    sz=$(timeout 5 stat -c %s "$A/console.log")
    timeout 5 cat "$A/console.log" > "$E2E_ROOT/cat-a"
    got="$sz:$(stat -c %s "$E2E_ROOT/cat-a")"
    tap_ok "$([ "$got" = "$total:$total" ]; echo $?)" \
        "restart $round: stat size and cat size are the host's $total bytes" \
        "got stat:cat = $got
files (name:inode:size) before: $before
files (name:inode:size) after:  $after"
    ok "restart $round: cat is the host's new log byte for byte" cmp "$E2E_ROOT/cat-a" "$HS"
    dx_virsh $H resume $G >/dev/null
done
dx_virsh $H destroy $G >/dev/null

dx_phase "confinement and missing logs"
# guests defined only (never started): their log paths are what domfs is told to read
define_with_log() { # NAME SED-EXPRESSION (applied to the <log .../> line)
    e2e_domain_xml "$1" > "$E2E_ROOT/$1.xml" &&
        sed -i "\\|<log file=|$2" "$E2E_ROOT/$1.xml" &&
        dx_virsh $H define "$E2E_ROOT/$1.xml" >/dev/null
}
ok "define cshadow: <log file='/etc/shadow'/>" define_with_log cshadow "s|file='[^']*'|file='/etc/shadow'|"
dx_rm_at_exit "$LOGDIR/qemu/csym.log" "$LOGDIR/qemu/csymin.log"
ln -sfn /etc/shadow "$LOGDIR/qemu/csym.log"
ok "define csym: log = a symlink to /etc/shadow inside the log directory" \
    define_with_log csym "s|file='[^']*'|file='/var/log/libvirt/qemu/csym.log'|"
ln -sfn "$G-serial0.log" "$LOGDIR/qemu/csymin.log"
ok "define csymin: log = a symlink to $G's log, inside the log directory" \
    define_with_log csymin "s|file='[^']*'|file='/var/log/libvirt/qemu/csymin.log'|"
ok "define cdir: log = the log directory itself" \
    define_with_log cdir "s|file='[^']*'|file='/var/log/libvirt/qemu'|"
ok "define cnolog: a serial port without <log>" define_with_log cnolog "d"
ok "define cnofile: a log that does not exist (yet)" \
    define_with_log cnofile "s|file='[^']*'|file='/var/log/libvirt/qemu/cnofile-never.log'|"
ok "the guests appear in the mount" dx_wait 10 dx_exists "$DX_MNTDIR/a/cnofile"
ok "$H's log directory does have the symlinks" test -L "$LOGDIR/qemu/csym.log" -a -L "$LOGDIR/qemu/csymin.log"
like "$(dx_cat "$DX_MNTDIR/a/cshadow/devices/serial/0/log")" "^/etc/shadow$" "cshadow's serial log file reads /etc/shadow"
for g in cshadow csym csymin cdir; do
    out=$(timeout 5 cat "$DX_MNTDIR/a/$g/console.log" 2>"$E2E_ROOT/err"); rc=$?
    err=$(cat "$E2E_ROOT/err")
    tap_ok "$([ $rc != 0 ] && [[ $err == *"Permission denied"* ]]; echo $?)" "cat $g/console.log: Permission denied" "rc=$rc stderr=$err"
    is "${#out}" "0" "cat $g/console.log: no content"
done
tap_ok "$(! timeout 10 grep -rqa 'root:' "$DX_MNTDIR/a/cshadow" "$DX_MNTDIR/a/csym" 2>/dev/null; echo $?)" \
    "grep -r finds nothing of /etc/shadow in their directories"
for g in cnolog cnofile; do
    out=$(timeout 5 cat "$DX_MNTDIR/a/$g/console.log" 2>&1); rc=$?
    is "$rc:${#out}" "0:0" "cat $g/console.log: an empty file (rc 0, no bytes)"
    is "$(timeout 5 stat -c %s "$DX_MNTDIR/a/$g/console.log")" "0" "stat $g/console.log: size 0"
done
rm -f "$LOGDIR/qemu/csym.log" "$LOGDIR/qemu/csymin.log"
ok "both daemons are alive and answer" eval 'timeout 5 ls "$DX_MNTDIR/a" "$DX_MNTDIR/b" >/dev/null'

dx_finish
