#!/bin/bash
# .domfs/metrics.prom against the guests, promtool and the real node exporter's textfile
# collector; .domfs/events under load (a slow reader, a stalled reader, writes that keep
# returning).
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"

tap_skip() {   # tap_skip DESCRIPTION REASON
    TAP_N=$((TAP_N + 1))
    echo "ok $TAP_N - $1 # SKIP $2"
}

# promtool and the node exporter come from Debian's packages, downloaded and unpacked
# (never installed: both packages ship and enable a system service) into a cache kept
# across runs. Both are Go programs that need only libc.
. "$TESTS_DIR/lib/pkg.sh"
TOOLS_CACHE=${DOMFS_TOOLS_CACHE:-/var/tmp/domfs-tools}
# ensure_tool VAR CMD PACKAGE: sets VAR to CMD's path (from the cache, fetched if need be,
# else an installed one); else sets TOOL_WHY to why not and returns 1
ensure_tool() {
    local dir=$TOOLS_CACHE/$3
    if pkg_fetch "$3" "$dir" && [ -x "$dir/usr/bin/$2" ]; then
        printf -v "$1" '%s' "$dir/usr/bin/$2"
    elif command -v "$2" >/dev/null; then
        printf -v "$1" '%s' "$(command -v "$2")"
    else
        TOOL_WHY="$2 missing: apt-get download $3 into $dir failed (no package mirror?) and none installed"
        return 1
    fi
}
# fetch_url URL: the body of an HTTP GET, fails on an error status (python3, not curl:
# meson brings python3, nothing brings curl)
fetch_url() {
    python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1" 2>/dev/null
}

# Three guests: running (with a disk and an interface), shut off, and paused with a name
# that needs label escaping.
NODE=$TEST_TMP/node.xml
cat > "$NODE" <<'EOF'
<node>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>web</name>
    <uuid>11111111-2222-3333-4444-000000000001</uuid>
    <memory unit='MiB'>1024</memory>
    <currentMemory unit='MiB'>512</currentMemory>
    <vcpu current='2'>4</vcpu>
    <os><type>hvm</type></os>
    <devices>
      <disk type='file' device='disk'>
        <source file='/var/lib/libvirt/images/web.qcow2'/>
        <target dev='vda' bus='virtio'/>
      </disk>
      <interface type='network'>
        <mac address='52:54:00:00:00:01'/>
        <source network='default'/>
      </interface>
    </devices>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>db</name>
    <uuid>11111111-2222-3333-4444-000000000002</uuid>
    <memory unit='KiB'>2097152</memory>
    <vcpu>3</vcpu>
    <os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>we"ird\name</name>
    <uuid>11111111-2222-3333-4444-000000000003</uuid>
    <memory unit='MiB'>64</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <test:runstate>3</test:runstate>
  </domain>
</node>
EOF

M=$TEST_TMP/mnt
domfs_mount "$M" -c "test://$NODE" || { tap_ok 1 "mount"; done_testing; exit 1; }
PROM=$M/.domfs/metrics.prom
HOST=$(sed -n 's/^name //p' "$M/.domfs/connection")
like "$HOST" "." "the connection has a name (the host label)"

# label NAME: a label value as the exposition format escapes it
label() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g'; }

# check_guests TEXT: every guest's samples match its files
check_guests() {
    local text=$1 g n st l running
    n=0
    for g in "$M"/*/; do
        g=${g%/}; g=${g##*/}
        n=$((n + 1))
        st=$(cat "$M/$g/state")
        l="host=\"$(label "$HOST")\",name=\"$(label "$g")\""
        running=0; [ "$st" = running ] && running=1
        is "$(grep -cF "domfs_guest_state{$l,state=\"$st\"} 1" <<<"$text")" 1 "$g: domfs_guest_state says $st, as its state file"
        is "$(grep -F "domfs_guest_state{$l," <<<"$text" | wc -l)" 1 "$g: exactly one state sample"
        is "$(grep -F "domfs_guest_running{$l}" <<<"$text")" "domfs_guest_running{$l} $running" "$g: domfs_guest_running"
        is "$(grep -F "domfs_guest_vcpus{$l}" <<<"$text")" "domfs_guest_vcpus{$l} $(cat "$M/$g/vcpus")" "$g: domfs_guest_vcpus = vcpus"
        is "$(grep -F "domfs_guest_memory_bytes{$l}" <<<"$text")" \
           "domfs_guest_memory_bytes{$l} $(( $(cat "$M/$g/memory") * 1024 ))" "$g: domfs_guest_memory_bytes = memory KiB * 1024"
    done
    is "$(grep -c '^domfs_guest_state{' <<<"$text")" "$n" "one domfs_guest_state sample per guest directory ($n)"
}

text=$(cat "$PROM")
is "$(tail -c1 "$PROM" | od -An -c | tr -d ' ')" '\n' "metrics.prom ends with a newline"
is "$(stat -c %s "$PROM")" "$(cat "$PROM" | wc -c)" "stat size of metrics.prom matches what a read returns"
like "$text" "# TYPE domfs_guest_state gauge" "TYPE line of domfs_guest_state"
like "$text" "# HELP domfs_guest_memory_bytes " "HELP line of domfs_guest_memory_bytes"
check_guests "$text"
is "$(grep -cF 'name="we\"ird\\name"' <<<"$text")" 5 "a quote and a backslash in a name are escaped in the labels (info, state, running, vcpus, memory)"

# a change shows in the next read
ok "pause web" sh -c "echo paused > '$M/web/state'"
text=$(cat "$PROM")
like "$text" "domfs_guest_state\\{host=\"[^\"]*\",name=\"web\",state=\"paused\"\\} 1" "metrics.prom follows a state change"
check_guests "$text"

# ---- promtool
if ensure_tool PROMTOOL promtool prometheus; then
    out=$("$PROMTOOL" check metrics < "$PROM" 2>&1); rc=$?
    tap_ok "$rc" "promtool check metrics accepts metrics.prom" "$out"
    is "$out" "" "promtool has no lint complaint"
else
    tap_skip "promtool check metrics" "$TOOL_WHY"
fi

# ---- the node exporter's textfile collector on .domfs/
if ensure_tool NODE_EXPORTER prometheus-node-exporter prometheus-node-exporter; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$NODE_EXPORTER" --collector.disable-defaults --collector.textfile \
        --collector.textfile.directory="$M/.domfs" --web.listen-address="127.0.0.1:$port" \
        >"$TEST_TMP/node-exporter.log" 2>&1 &
    ne=$!
    scrape=""
    for _ in $(seq 100); do
        scrape=$(fetch_url "http://127.0.0.1:$port/metrics") && break
        kill -0 "$ne" 2>/dev/null || break
        sleep 0.1
    done
    like "$scrape" "node_textfile_scrape_error 0" "node exporter: node_textfile_scrape_error 0"
    is "$(grep -c '^node_textfile_scrape_error 1' <<<"$scrape")" 0 "node exporter: no scrape error"
    like "$scrape" "node_textfile_mtime_seconds\\{file=\"[^\"]*metrics.prom\"\\}" "node exporter read .domfs/metrics.prom"
    is "$(grep -c '^domfs_guest_state{' <<<"$scrape")" "$(ls "$M" | wc -l)" "node exporter serves a domfs_guest_state line per guest"
    like "$scrape" "domfs_guest_state\\{host=\"[^\"]*\",name=\"web\",state=\"paused\"\\} 1" "node exporter serves web's state"
    kill "$ne" 2>/dev/null; wait "$ne" 2>/dev/null
    ok "node exporter stopped" sh -c "! kill -0 $ne 2>/dev/null"
    [ -n "$scrape" ] || sed 's/^/# node exporter: /' "$TEST_TMP/node-exporter.log"
else
    tap_skip "node exporter textfile collector" "$TOOL_WHY"
fi

# ---- .domfs/events under load
EV=$M/.domfs/events
ok "resume web" sh -c "echo running > '$M/web/state'"

# CHANGES state changes of web, each write timed: none may block
toggle() {   # toggle COUNT -> sets TOGGLE_MAX_MS, TOGGLE_FAILED
    local i t0 t1 ms
    TOGGLE_MAX_MS=0; TOGGLE_FAILED=0
    for ((i = 0; i < $1; i++)); do
        t0=${EPOCHREALTIME/./}
        if (( i % 2 == 0 )); then
            echo paused > "$M/web/state" || TOGGLE_FAILED=$((TOGGLE_FAILED + 1))
        else
            echo running > "$M/web/state" || TOGGLE_FAILED=$((TOGGLE_FAILED + 1))
        fi
        t1=${EPOCHREALTIME/./}
        ms=$(( (t1 - t0) / 1000 ))
        (( ms > TOGGLE_MAX_MS )) && TOGGLE_MAX_MS=$ms
    done
}

# total_of FILE: lines that are events plus the N of every "overflow N" line
total_of() {
    awk '/(^| )overflow [0-9]+$/ { n += $NF; next } /lifecycle/ { n++ } END { print n + 0 }' "$1"
}

# reader.py EVENTS OUT READY STOP DELAY: opens EVENTS (then creates READY); until STOP
# exists, waits with poll() and reads 64 bytes at a time, sleeping DELAY seconds after
# each read (DELAY < 0: reads nothing at all); then switches to O_NONBLOCK and drains
# until EAGAIN. (bash's `read -t` cannot be used: it does not interrupt a blocked read.)
cat > "$TEST_TMP/reader.py" <<'PY'
import fcntl, os, select, sys, time
path, out, ready, stop, delay = sys.argv[1:6]
delay = float(delay)
fd = os.open(path, os.O_RDONLY)
open(ready, "w").close()
with open(out, "wb") as f:
    p = select.poll()
    p.register(fd, select.POLLIN)
    while not os.path.exists(stop):
        if delay < 0:
            time.sleep(0.05)
            continue
        if p.poll(100):
            f.write(os.read(fd, 64))
            f.flush()
            time.sleep(delay)
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not data:
            break
        f.write(data)
PY

# start_reader NAME DELAY: a reader.py in the background (READER_PID), once it has opened
start_reader() {
    rm -f "$TEST_TMP/$1.ready" "$TEST_TMP/$1.stop"
    timeout 120 python3 "$TEST_TMP/reader.py" "$EV" "$TEST_TMP/$1.txt" "$TEST_TMP/$1.ready" \
        "$TEST_TMP/$1.stop" "$2" &
    READER_PID=$!
    wait_for 10 test -e "$TEST_TMP/$1.ready"
}
stop_reader() {   # stop_reader NAME PID: returns the reader's exit status
    : > "$TEST_TMP/$1.stop"
    wait "$2"
}

# 1. 200 changes while a slow reader (64 bytes per read, 20 ms between reads) and a fast
#    one (cat) read
cat "$EV" > "$TEST_TMP/fast.txt" &
fast=$!
start_reader slow 0.02
slow=$READER_PID
sleep 0.2   # cat has opened the stream too
toggle 200
is "$TOGGLE_FAILED" 0 "200 state writes all succeeded"
ok "no write blocked (longest took ${TOGGLE_MAX_MS} ms)" test "$TOGGLE_MAX_MS" -lt 2000
wait_for 20 sh -c "[ \$(grep -c 'web lifecycle' '$TEST_TMP/fast.txt') -ge 200 ]"
is "$(grep -c 'web lifecycle' "$TEST_TMP/fast.txt")" 200 "the fast reader got one lifecycle line per change"
is "$(grep -c overflow "$TEST_TMP/fast.txt")" 0 "the fast reader never overflowed"
echo "# the slow reader had read $(total_of "$TEST_TMP/slow.txt") of the 200 lines when the writes were done"
stop_reader slow "$slow"
tap_ok $? "the slow reader drained the stream with O_NONBLOCK until EAGAIN"
is "$(total_of "$TEST_TMP/slow.txt")" "$(total_of "$TEST_TMP/fast.txt")" \
   "the slow reader got every line, or overflow N lines that add up to the same total"
if grep -q overflow "$TEST_TMP/slow.txt"; then
    echo "# the slow reader overflowed: $(grep overflow "$TEST_TMP/slow.txt" | tr '\n' ' ')"
else
    is "$(grep 'web lifecycle' "$TEST_TMP/slow.txt" | cut -d' ' -f2-)" \
       "$(grep 'web lifecycle' "$TEST_TMP/fast.txt" | cut -d' ' -f2-)" "the slow reader got the same lines in the same order"
fi
like "$(head -1 "$TEST_TMP/slow.txt")" '^[0-9]+\.[0-9]{3} web lifecycle (suspended paused|resumed unpaused)$' "event line format"
kill "$fast" 2>/dev/null; wait "$fast" 2>/dev/null

# 2. a reader that reads nothing while 5000 changes go by (the ring keeps 4096 lines):
#    it must get one "overflow N" and then the newest lines, adding up to 5000
cat "$EV" > "$TEST_TMP/fast2.txt" &
fast=$!
start_reader stalled -1
stalled=$READER_PID
sleep 0.2
toggle 5000
is "$TOGGLE_FAILED" 0 "5000 state writes all succeeded with a stalled reader"
ok "no write blocked with a stalled reader (longest took ${TOGGLE_MAX_MS} ms)" test "$TOGGLE_MAX_MS" -lt 2000
wait_for 30 sh -c "[ \$(grep -c 'web lifecycle' '$TEST_TMP/fast2.txt') -ge 5000 ]"
is "$(total_of "$TEST_TMP/fast2.txt")" 5000 "the fast reader saw all 5000 changes"
stop_reader stalled "$stalled"
tap_ok $? "the stalled reader drained the stream with O_NONBLOCK until EAGAIN"
like "$(head -1 "$TEST_TMP/stalled.txt")" '^overflow [0-9]+$' "the stalled reader first gets an overflow line"
is "$(grep -c overflow "$TEST_TMP/stalled.txt")" 1 "exactly one overflow line"
is "$(total_of "$TEST_TMP/stalled.txt")" 5000 "overflow N plus the lines kept add up to the 5000 changes"
is "$(tail -n 1 "$TEST_TMP/stalled.txt" | cut -d' ' -f2-)" "$(tail -n 1 "$TEST_TMP/fast2.txt" | cut -d' ' -f2-)" \
   "the stalled reader still gets the newest line"
kill "$fast" 2>/dev/null; wait "$fast" 2>/dev/null
is "$(cat "$M/web/state")" running "after an even number of changes web runs again"

done_testing
