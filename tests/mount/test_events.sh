#!/bin/bash
# .domfs/events through a private libvirtd: lines for changes made through the files and
# through virsh (another client of the same daemon), their format, their order with the
# files (a line is readable only once the files show its change), blocking reads,
# O_NONBLOCK (EAGAIN), poll()/select() wake-ups, two readers, a late reader.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
. "$TESTS_DIR/lib/libvirtd.sh"
. "$TESTS_DIR/lib/write1.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
lvd_require

LV=$TEST_TMP/lv
lvd_start "$LV" evhost || { tap_ok 1 "private libvirtd starts"; done_testing; exit 1; }
M=$TEST_TMP/mnt
domfs_mount "$M" -c "$LVD_URI" || { tap_ok 1 "mount"; done_testing; exit 1; }
G=$M/test
E=$M/.domfs/events
EVPY=$(dirname "${BASH_SOURCE[0]}")/events.py
ev() { timeout 60 /usr/bin/python3 "$EVPY" "$@"; }
V="virsh -q -c '$LVD_URI'"
LINE_RE='^[0-9]{10}\.[0-9]{3} [^ ]+ [^ ]+( [^ ]+)*$'
# awaited DESCRIPTION EVENT CMD: runs CMD with a reader open and checks that the next line
# is "<guest> EVENT": a change whose line is not read before the next reader opens would
# reach that reader instead of its own event (events arrive from libvirt asynchronously,
# after the write or the virsh call has returned)
awaited() {
    local got
    got=$(ev fmt "$E" "$3" | sed -n 1p)
    is "${got#* }" "$2" "$1"
}

# ---- format, and the state file already shows the change when the line is readable
out=$(ev fmt "$E" "echo suspend > '$G/state'" "$G/state" "$G/reason")
line=$(sed -n 1p <<< "$out")
like "$line" '^[0-9]{10}\.[0-9]{3} test lifecycle suspended paused$' "state file write: '<time> test lifecycle suspended paused'"
now=$(date +%s); t=${line%%.*}
[ -n "$t" ] && [ "$t" -ge $((now - 10)) ] 2>/dev/null && [ "$t" -le $((now + 1)) ]; tap_ok $? "the time is now (unix seconds.ms)" "line time $t, now $now"
is "$(sed -n 2,3p <<< "$out" | tr '\n' ' ')" "paused user " "state and reason already show it when the line is read"

out=$(ev fmt "$E" "echo resume > '$G/state'" "$G/state")
is "$(cut -d' ' -f2- <<< "$(sed -n 1p <<< "$out")")" "test lifecycle resumed unpaused" "resume: lifecycle resumed unpaused"
is "$(sed -n 2p <<< "$out")" "running" "state running when the line is read"
out=$(ev fmt "$E" "echo destroy > '$G/state'" "$G/state" "$G/id")
is "$(cut -d' ' -f2- <<< "$(sed -n 1p <<< "$out")")" "test lifecycle stopped destroyed" "destroy: lifecycle stopped destroyed"
is "$(sed -n 2p <<< "$out")" "shutoff" "state shutoff when the line is read"
is "$(sed -n 3p <<< "$out")" "" "id empty when the line is read"
out=$(ev fmt "$E" "echo start > '$G/state'" "$G/state" "$G/id")
is "$(cut -d' ' -f2- <<< "$(sed -n 1p <<< "$out")")" "test lifecycle started booted" "start: lifecycle started booted"
like "$(sed -n 2,3p <<< "$out" | tr '\n' '|')" '^running\|[0-9]+\|$' "state running and an id when the line is read"
out=$(ev fmt "$E" "echo 'new title' > '$G/title'" "$G/title")
is "$(cut -d' ' -f2- <<< "$(sed -n 1p <<< "$out")")" "test metadata-change title" "title write: metadata-change title"
is "$(sed -n 2p <<< "$out")" "new title" "title shows it when the line is read"

# ---- changes made by another client (virsh on the same daemon)
out=$(ev fmt "$E" "$V suspend test" "$G/state" "$G/reason")
is "$(cut -d' ' -f2- <<< "$(sed -n 1p <<< "$out")")" "test lifecycle suspended paused" "virsh suspend: lifecycle suspended paused"
is "$(sed -n 2,3p <<< "$out" | tr '\n' ' ')" "paused user " "state and reason already paused/user when the line is read"
out=$(ev fmt "$E" "$V resume test" "$G/state")
is "$(cut -d' ' -f2- <<< "$(sed -n 1p <<< "$out")")" "test lifecycle resumed unpaused" "virsh resume: lifecycle resumed unpaused"
cat > "$TEST_TMP/g.xml" <<'EOF'
<domain type='test'><name>my guest</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
EOF
out=$(ev fmt "$E" "$V define '$TEST_TMP/g.xml'" "$M/my guest/state")
is "$(cut -d' ' -f2- <<< "$(sed -n 1p <<< "$out")")" "my%20guest lifecycle defined added" \
   "virsh define of 'my guest': one token for the name (my%20guest)"
is "$(sed -n 2p <<< "$out")" "shutoff" "its directory is there when the line is read"
out=$(ev fmt "$E" "$V start 'my guest'" "$M/my guest/state")
is "$(cut -d' ' -f2- <<< "$(sed -n 1p <<< "$out")")" "my%20guest lifecycle started booted" "virsh start: started booted"
is "$(sed -n 2p <<< "$out")" "running" "running when the line is read"
out=$(ev fmt "$E" "$V destroy 'my guest'" "$M/my guest/state")
is "$(cut -d' ' -f2- <<< "$(sed -n 1p <<< "$out")")" "my%20guest lifecycle stopped destroyed" "virsh destroy: stopped destroyed"
out=$(ev fmt "$E" "$V undefine 'my guest'" "$M/my guest/state")
is "$(cut -d' ' -f2- <<< "$(sed -n 1p <<< "$out")")" "my%20guest lifecycle undefined removed" "virsh undefine: undefined removed"
is "$(sed -n 2p <<< "$out")" "ERR:No such file or directory" "the directory is gone when the line is read"

# ---- ordering, many times over: files right when each line is read
out=$(ev order "$E" 15 "$V suspend test" "$V resume test" "$G/state" "$G/reason")
bad=$(awk -F'|' '
    $1 ~ / test lifecycle suspended paused$/ && $2 == "paused" && $3 == "user" { next }
    $1 ~ / test lifecycle resumed unpaused$/ && $2 == "running" && $3 == "unpaused" { next }
    { n++; print "# " $0 > "/dev/stderr" } END { print n + 0 }' <<< "$out")
is "$bad" "0" "30 virsh suspend/resume events: each line in order, files already right"
is "$(grep -c . <<< "$out")" "30" "30 lines read"
out=$(ev order "$E" 15 "echo destroy > '$G/state'" "echo start > '$G/state'" "$G/state" "$G/id")
bad=$(awk -F'|' '
    $1 ~ / test lifecycle stopped destroyed$/ && $2 == "shutoff" && $3 == "" { next }
    $1 ~ / test lifecycle started booted$/ && $2 == "running" && $3 ~ /^[0-9]+$/ { next }
    { n++; print "# " $0 > "/dev/stderr" } END { print n + 0 }' <<< "$out")
is "$bad" "0" "30 destroy/start writes: each line in order, state and id already right"

# ---- reading: blocking, O_NONBLOCK, poll, select
is "$(ev block "$E" 1)" "blocked" "a read with no event blocks"
s0=$(date +%s%N); timeout -s INT 1 cat "$E" >/dev/null; rc=$?; s1=$(date +%s%N)
[ "$rc" = 124 ] || [ "$rc" = 130 ]; tap_ok $? "an interrupted blocking read returns (cat killed by SIGINT, rc=$rc)"
[ $(( (s1 - s0) / 1000000 )) -lt 3000 ]; tap_ok $? "within 3 s ($(( (s1 - s0) / 1000000 )) ms)"
is "$(ev nonblock "$E")" "EAGAIN" "O_NONBLOCK read with no event: EAGAIN"
out=$(ev poll "$E" 0.3 "echo suspend > '$G/state'")
is "$(sed -n 1p <<< "$out")" "idle" "poll(): not readable before an event"
like "$(sed -n 2p <<< "$out")" '^POLLIN 0\.[0-9]+$' "poll(): wakes up with POLLIN within a second of the change"
like "$(sed -n 3p <<< "$out")" ' test lifecycle suspended paused$' "and the line is there"
out=$(ev select "$E" 0.3 "echo resume > '$G/state'")
is "$(sed -n 1p <<< "$out")" "idle" "select(): not readable before an event"
like "$(sed -n 2p <<< "$out")" '^POLLIN 0\.[0-9]+$' "select(): wakes up within a second"
like "$(sed -n 3p <<< "$out")" ' test lifecycle resumed unpaused$' "and the line is there"
out=$(ev poll "$E" 0.3 "$V suspend test")
like "$(sed -n 2p <<< "$out")" '^POLLIN 0\.[0-9]+$' "poll(): woken by a virsh change too"
awaited "virsh resume: its line is read before the next reader opens" "test lifecycle resumed unpaused" "$V resume test"
out=$(ev repoll "$E" "echo suspend > '$G/state'" "echo resume > '$G/state'")
is "$(sed -n 1p <<< "$out")" "woken" "poll() again and again: first wake-up"
is "$(sed -n 3p <<< "$out")" "idle" "after reading the line: not readable"
is "$(sed -n 4p <<< "$out")" "woken" "second wake-up on the same open file"
like "$(sed -n 5p <<< "$out")" ' test lifecycle resumed unpaused$' "second line"
out=$(ev small "$E" "echo suspend > '$G/state'")
[ "$(sed -n 1p <<< "$out")" -gt 3 ]; tap_ok $? "reads of 7 bytes: the line comes in pieces"
like "$(sed -n 2p <<< "$out")" '^[0-9]{10}\.[0-9]{3} test lifecycle suspended paused$' "and the pieces make the whole line"
awaited "resume: its line is read before the next reader opens" "test lifecycle resumed unpaused" "echo resume > '$G/state'"

# ---- a name that tries to forge fields (libvirt refuses a newline in a name defined
# through the API; a tab and spaces pass): one line, the name one escaped token
printf '%s\n' "<domain type='test'><name>inj&#9;1 test lifecycle stopped destroyed</name><memory>65536</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>" > "$TEST_TMP/inj.xml"
out=$(ev two "$E" "$V define '$TEST_TMP/inj.xml'")
is "$(sed -n 1p <<< "$out" | cut -d' ' -f2-)" "inj%091%20test%20lifecycle%20stopped%20destroyed lifecycle defined added" \
   "a guest name with a tab and spaces: the name is one escaped token"
like "$(sed -n 2p <<< "$out")" ' lifecycle defined added$' "the next line is the same event for reader 2, not a forged one"
awaited "undefine it: its line is read before the next reader opens" \
    "inj%091%20test%20lifecycle%20stopped%20destroyed lifecycle undefined removed" \
    "$V undefine \"\$(printf 'inj\\t1 test lifecycle stopped destroyed')\""

# ---- several readers
out=$(ev two "$E" "echo suspend > '$G/state'")
l1=$(sed -n 1p <<< "$out"); l2=$(sed -n 2p <<< "$out")
like "$l1" ' test lifecycle suspended paused$' "reader 1 sees the line"
is "$l2" "$l1" "reader 2 sees the same line (same time stamp)"
out=$(ev late "$E" "echo resume > '$G/state'" "echo suspend > '$G/state'")
like "$(sed -n 1p <<< "$out")" ' test lifecycle resumed unpaused$' "reader 1: the first event"
like "$(sed -n 2p <<< "$out")" ' test lifecycle suspended paused$' "a reader opened later starts at its open: the second event only"
like "$(sed -n 3p <<< "$out")" ' test lifecycle suspended paused$' "reader 1: the second event next"
awaited "resume: its line is read before the next reader opens" "test lifecycle resumed unpaused" "echo resume > '$G/state'"

# ---- every line has the format
out=$(ev order "$E" 1 "echo suspend > '$G/state'" "echo resume > '$G/state'")
bad=$(grep -cvE "$LINE_RE" <<< "$out")
is "$bad" "0" "every line: <time> <guest> <event> <detail...>"
is "$(ls -l "$E" | cut -c1)" "-" ".domfs/events is a regular file"
is "$(stat -c %s "$E")" "0" "its size is 0"

kill -0 "$DOMFS_PID"; tap_ok $? "daemon alive"
done_testing
