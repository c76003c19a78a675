#!/bin/bash
# test_partition.sh - hosts fail alone (issue 10): one domfs mount of three private
# libvirtd hosts, each in its own network namespace on the run's LAN, reached over
# qemu+tcp through veth links (-c h1=qemu+tcp://ADDR/system ..., -o keepalive=1,3,timeout=3).
#   - h1 stays healthy: a reader/writer loop works its guest's files the whole time
#     (reads, listings, `title` and `state` writes read back at once) and reports the
#     worst latency per phase; every request must succeed, none may take over 1 s (the
#     issue's goal is 50 ms: the figure is printed, not asserted)
#   - h2's link is cut, first with its switch port down, then with its packets dropped:
#     its files stay readable (cached); .domfs/connection goes `stalled since T` and then
#     `reconnecting since T`; its writes fail within -o timeout with ETIMEDOUT or ENOTCONN
#     and an `error` line; guests defined, undefined, started and destroyed through a virsh
#     inside h2's namespace while it is away appear, vanish and change once the link is
#     back, with their `resync ...` event lines after `.domfs connection reconnected`
#   - h3's libvirtd is SIGSTOPped and continued: the same stall, timeout and recovery
#   - after each restore, every host's directory matches `virsh list --all` of that host
# QEMU guests (TCG) on the QEMU driver, over qemu+tcp: the remote protocol, keepalive and a
# guest start are real; test+tcp would lose the test driver's guests with the connection.
# Output: TAP, then phase timings. Exit 0 = all passed, 1 = failures, 77 = skipped.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=domfs_e2e.sh
. "$HERE/domfs_e2e.sh"

HOSTS=(h1 h2 h3)
OK_H=h1          # the healthy host and its running guest, worked by the loop
OK_G=g1
CUT=h2           # the host whose link is cut (down, then drop)
STOP=h3          # the host whose libvirtd is SIGSTOPped
TIMEOUT=3        # -o timeout (seconds)
KA_I=1 KA_N=3    # -o keepalive=INTERVAL,COUNT
SLOW_MS=50       # the issue's goal for a healthy request (reported)
BOUND_MS=1000    # what a healthy request may never exceed (asserted)
WRITE_BOUND=$((TIMEOUT + 3))   # a write to a cut host ends within -o timeout (+ slack)
STALL_WAIT=15    # seconds for the status to go stalled / reconnecting
BACK=90          # seconds for a restored host to be connected again (a SYN in flight
                 # while packets were dropped is retransmitted after up to 64 s)
ST_RE='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z'

# ---------------------------------------------------------------- helpers
tcp_uri() { e2e_host_tcp_uri "$1"; }
# nsvirsh HOST ARGS...: virsh run inside HOST's namespaces (its own socket, not the LAN)
nsvirsh() { timeout 60 nsenter -t "$(e2e_host_pid "$1")" -m -u -n virsh -q -c qemu:///system "${@:2}"; }

# status HOST: the status line of HOST's .domfs/connection, without "status "
status() { timeout 5 sed -n 's/^status //p' "$M/$1/.domfs/connection" 2>/dev/null; }
status_like() { [[ $(status "$1") =~ ^$2 ]]; }

# virsh_tree HOST: "NAME STATE" per guest, sorted, as `virsh list --all` over TCP says
virsh_tree() {
    timeout 30 virsh -q -c "$(tcp_uri "$1")" list --all |
        awk '{ n = $2; $1 = ""; $2 = ""; s = substr($0, 3)
               m["running"] = "running"; m["paused"] = "paused"; m["shut off"] = "shutoff"
               m["in shutdown"] = "shutdown"; m["crashed"] = "crashed"; m["idle"] = "blocked"
               m["pmsuspended"] = "pmsuspended"; m["no state"] = "nostate"
               print n, (s in m ? m[s] : s) }' | LC_ALL=C sort
}
# mount_tree HOST: "NAME STATE" per guest directory of HOST in the mount, sorted
mount_tree() {
    local d
    for d in "$M/$1"/*/; do
        [ -d "$d" ] || continue
        echo "$(basename "$d") $(timeout 5 cat "$d/state")"
    done | LC_ALL=C sort
}
tree_matches() { [ -n "$(virsh_tree "$1")" ] && [ "$(virsh_tree "$1")" = "$(mount_tree "$1")" ]; }
check_trees() {   # check_trees WHEN: every host's directory matches virsh list --all
    local h
    for h in "${HOSTS[@]}"; do
        if dx_wait 30 tree_matches "$h"; then
            tap_ok 0 "$1: $h/ matches virsh list --all of $h ($(virsh_tree "$h" | wc -l) guests)"
        else
            tap_ok 1 "$1: $h/ matches virsh list --all of $h" \
                "virsh: $(virsh_tree "$h" | tr '\n' ';') mount: $(mount_tree "$h" | tr '\n' ';')"
        fi
    done
}

# timed_mount NAME ARGS...: dx_mount, and how long it took in MOUNT_S (seconds)
timed_mount() {
    local t0 rc; t0=$(e2e_now)
    dx_mount "$@"; rc=$?
    MOUNT_S=$(e2e_since "$t0")
    return $rc
}

# timed_write FILE VALUE: writes VALUE to FILE in a shell (bounded by 30 s); sets W_RC,
# W_OUT (the shell's error) and W_MS (how long it took)
timed_write() {
    local t0; t0=$(e2e_now)
    W_OUT=$(dx_write "$1" "$2"); W_RC=$?
    W_MS=$(awk -v a="$t0" -v b="$(e2e_now)" 'BEGIN { printf "%d", (b - a) * 1000 }')
}
# write_fails_fast HOST WHAT: a title write to HOST's first guest fails with ETIMEDOUT
# or ENOTCONN within WRITE_BOUND seconds, and `error` says so
write_fails_fast() {
    local h=$1 what=$2 g f
    g=$(first_guest "$h"); f=$M/$h/$g/title
    timed_write "$f" "during-$what"
    local ok=1
    [ "$W_RC" != 0 ] && [ "$W_RC" != 124 ] &&
        [[ $W_OUT == *"Connection timed out"* || $W_OUT == *"Transport endpoint is not connected"* ]] &&
        [ "$W_MS" -le $((WRITE_BOUND * 1000)) ] && ok=0
    tap_ok $ok "$what: echo > $h/$g/title fails with ETIMEDOUT or ENOTCONN within ${WRITE_BOUND}s (${W_MS} ms: ${W_OUT##*: })" \
        "rc=$W_RC out=$W_OUT ms=$W_MS"
    WRITE_TIMES+=("$(printf '%6s ms  %s: %s' "$W_MS" "$what" "${W_OUT##*: }")")
    like "$(dx_cat "$M/$h/$g/error")" "^$ST_RE title (ETIMEDOUT|ENOTCONN): " "$what: $h/$g/error has the failed write"
}
first_guest() { local d; for d in "$M/$1"/*/; do basename "$d"; return; done; }

# reads_served HOST WHAT: every file of every guest of HOST reads (cached), bounded
reads_served() {
    local h=$1 bad=0 n=0 f
    for f in "$M/$h"/*/state "$M/$h"/*/title "$M/$h"/*/xml "$M/$h"/*/id; do
        n=$((n + 1))
        timeout 2 cat "$f" >/dev/null 2>&1 || { bad=$((bad + 1)); echo "# unreadable: $f"; }
    done
    tap_ok $(( bad != 0 )) "$2: $n files of $h read from the cache (2 s bound each)"
}

# wait_status HOST REGEX WHAT: the status reaches REGEX within STALL_WAIT s; prints it
wait_status() {
    if dx_wait "$STALL_WAIT" status_like "$1" "$2"; then
        tap_ok 0 "$3: $1/.domfs/connection says '$(status "$1")'"
    else
        tap_ok 1 "$3: $1/.domfs/connection reaches '$2'" "status: $(status "$1")"
    fi
}
# seen_status HOST WORD: the watcher saw HOST go WORD with a since-time; prints the line
seen_status() { grep -m1 -E "^[0-9.]+ $1 $2 since $ST_RE" "$WATCH_OUT"; }

# events_after LINE_NO REGEX: an event line after line LINE_NO of the root events file
events_after() { tail -n +"$(($1 + 1))" "$EV" | grep -qE "$2"; }
ev_mark() { wc -l < "$EV"; }

# phase_loop NAME: tells the healthy loop which phase its requests belong to
phase_loop() { echo "$1" > "$LOOP_PHASE.tmp" && mv "$LOOP_PHASE.tmp" "$LOOP_PHASE"; }

# ---------------------------------------------------------------- the loop and the watcher
# One python process: `loop` works the healthy guest until STOP exists, attributing each
# request to the phase named in PHASEFILE; `watch` records every change of each host's
# status line with its time.
write_helper() {
    cat > "$E2E_ROOT/partition.py" <<'EOF'
import os, sys, time

def now_ms():
    return time.monotonic() * 1000.0

def cmd_loop(stop, phasefile, mnt, host, guest, slow_ms, out):
    # every request is timed and attributed to (phase, class): class "read" (reads and
    # listings, served from the cache) or "write" (a write libvirt carries out, then the
    # read that must show it)
    g = os.path.join(mnt, host, guest)
    st = {}            # (phase, class) -> [count, max_ms, worst_op, errors, slow]
    errs = []
    order = []
    rnd = 0
    def phase():
        try:
            with open(phasefile) as f:
                return f.read().strip() or "?"
        except OSError:
            return "?"
    def note(key, op, dt, err):
        s = st.get(key)
        if s is None:
            s = st[key] = [0, 0.0, "", 0, 0]
            order.append(key)
        s[0] += 1
        if dt > s[1]:
            s[1], s[2] = dt, op
        if dt > slow_ms:
            s[4] += 1
        if err:
            s[3] += 1
            if len(errs) < 20:
                errs.append("%s %s: %s" % (key[0], op, err))
    def read(path):
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.read(fd, 65536).decode()
        finally:
            os.close(fd)
    def write(path, text):
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
    def run(ph, cls, op, fn):
        # fn returns None, or a string saying what was wrong
        t0 = now_ms()
        try:
            err = fn()
        except OSError as e:
            err = e.strerror
        note((ph, cls), op, now_ms() - t0, err)
    def rd(path):
        return None if read(path) else "empty read of " + path
    def ls(path):
        return None if os.listdir(path) else "empty listing of " + path
    def write_back(file, value):
        def fn():
            write(os.path.join(g, file), value + "\n")
            got = read(os.path.join(g, file)).strip()
            return None if got == value else "read back %r after writing %r" % (got, value)
        return fn
    while not os.path.exists(stop):
        ph = phase()
        for f in ("state", "title", "id", "reason", "xml"):
            if f != "title" or rnd > 0:
                run(ph, "read", "read " + f, lambda f=f: rd(os.path.join(g, f)))
        run(ph, "read", "read .domfs/connection",
            lambda: rd(os.path.join(mnt, host, ".domfs/connection")))
        run(ph, "read", "ls guest", lambda: ls(g))
        run(ph, "read", "ls host", lambda: ls(os.path.join(mnt, host)))
        run(ph, "read", "ls root", lambda: ls(mnt))
        run(ph, "write", "title", write_back("title", "loop %d" % rnd))
        run(ph, "write", "state", write_back("state", "paused" if rnd % 2 == 0 else "running"))
        rnd += 1
        time.sleep(0.02)
    if rnd % 2 == 1:
        write(os.path.join(g, "state"), "running\n")
    with open(out, "w") as f:
        for key in order:
            s = st[key]
            f.write("phase %s %s count %d max_ms %.1f worst %s errors %d slow %d\n"
                    % (key[0], key[1], s[0], s[1], s[2].replace(" ", "_"), s[3], s[4]))
        for e in errs:
            f.write("error %s\n" % e)

def cmd_watch(stop, mnt, hosts):
    last = {}
    while not os.path.exists(stop):
        for h in hosts:
            try:
                with open(os.path.join(mnt, h, ".domfs/connection")) as f:
                    text = f.read()
            except OSError as e:
                text = "status unreadable " + e.strerror
            line = next((l[7:] for l in text.splitlines() if l.startswith("status ")), "?")
            if last.get(h) != line:
                last[h] = line
                print("%.3f %s %s" % (time.time(), h, line), flush=True)
        time.sleep(0.05)

if sys.argv[1] == "loop":
    cmd_loop(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6],
             float(sys.argv[7]), sys.argv[8])
else:
    cmd_watch(sys.argv[2], sys.argv[3], sys.argv[4:])
EOF
}

# ---------------------------------------------------------------- setup
dx_phase "setup: packages, guest image, three hosts on a LAN, guests"
command -v python3 >/dev/null || e2e_skip "python3 not found (the healthy-host loop)"
command -v iptables >/dev/null || e2e_install
e2e_install
e2e_guest_build || e2e_die "guest build failed"
for h in "${HOSTS[@]}"; do
    e2e_host_up "$h" --lan || e2e_die "host $h did not come up on the LAN"
done
e2e_kvm_probe "$OK_H"
# h1: g1 running (the loop's), g2 shut off; h2: c1 c2 c3 shut off; h3: s1 shut off
e2e_define g1 h1 && e2e_define g2 h1 && dx_virsh h1 start g1 >/dev/null || e2e_die "guests of h1"
for g in c1 c2 c3; do e2e_define "$g" h2 || e2e_die "define $g on h2"; done
e2e_define s1 h3 || e2e_die "define s1 on h3"
write_helper
WRITE_TIMES=()

dx_phase "mount h1 h2 h3 over qemu+tcp"
MARGS=()
for h in "${HOSTS[@]}"; do MARGS+=(-c "$h=$(tcp_uri "$h")"); done
timed_mount part "${MARGS[@]}" -o "keepalive=$KA_I,$KA_N,timeout=$TIMEOUT"
tap_ok $? "domfs mounts ${HOSTS[*]} (${MARGS[*]})" || dx_finish
M=$DX_MNT
is "$(cd "$M" && ls | tr '\n' ' ')" "h1 h2 h3 " "the root lists one directory per host"
for h in "${HOSTS[@]}"; do
    is "$(status "$h")" "connected" "$h/.domfs/connection: status connected"
done
check_trees "at start"

# the root's events (every host's, as HOST/GUEST), the status watcher, the healthy loop
EV=$E2E_ROOT/events.txt
timeout 900 cat "$M/.domfs/events" > "$EV" 2>&1 &
EV_PID=$!
STOPF=$E2E_ROOT/stop
WATCH_OUT=$E2E_ROOT/status-changes.txt
timeout 900 python3 "$E2E_ROOT/partition.py" watch "$STOPF" "$M" "${HOSTS[@]}" > "$WATCH_OUT" 2>&1 &
WATCH_PID=$!
LOOP_PHASE=$E2E_ROOT/loop-phase
LOOP_OUT=$E2E_ROOT/loop-result.txt
phase_loop "quiet"
timeout 900 python3 "$E2E_ROOT/partition.py" loop "$STOPF" "$LOOP_PHASE" "$M" "$OK_H" "$OK_G" \
    "$SLOW_MS" "$LOOP_OUT" 2> "$E2E_ROOT/loop.err" &
LOOP_PID=$!
sleep 5   # the baseline: the loop's latencies while every host is fine

# the mtime of a file whose content never changes (uuid): what it says of the data's age
mtime_of() { stat -c %Y "$M/$CUT/c1/uuid" 2>/dev/null; }
dx_cat "$M/$CUT/c1/uuid" >/dev/null
MTIME_START=$(mtime_of)

# ---------------------------------------------------------------- h2: link down
# cut_phase MODE: h2 cut off (MODE down/drop), checked, changed meanwhile, restored
cut_phase() {
    local mode=$1 t_cut t_back mark line1 line2
    dx_phase "$CUT cut off ($mode)"
    phase_loop "$CUT-link-$mode"
    mark=$(ev_mark)
    t_cut=$(e2e_now)
    ok "$mode: $CUT's link cut" e2e_link_cut "$CUT" "$mode"
    # a write right away: the connection still looks up, nothing answers
    write_fails_fast "$CUT" "$mode, right after the cut"
    wait_status "$CUT" "(stalled|reconnecting) since $ST_RE\$" "$mode"
    wait_status "$CUT" "reconnecting since $ST_RE\$" "$mode"
    line1=$(seen_status "$CUT" stalled); line2=$(seen_status "$CUT" reconnecting)
    tap_ok $([ -n "$line1" ] && [ -n "$line2" ]; echo $?) \
        "$mode: the status went stalled, then reconnecting, each with its since-time" \
        "$(grep " $CUT " "$WATCH_OUT")"
    echo "# $mode: status changes of $CUT: $(grep " $CUT " "$WATCH_OUT" | tail -n 3 | tr '\n' ';')"
    like "$(timeout 5 cat "$M/$CUT/.domfs/connection")" "last_error " "$mode: .domfs/connection has a last_error"
    reads_served "$CUT" "$mode"
    write_fails_fast "$CUT" "$mode, reconnecting"
    # the host lives on without us: change it from inside its namespace
    if [ "$mode" = down ]; then
        e2e_domain_xml c4 > "$E2E_ROOT/c4.xml" &&
            ok "$mode: virsh define c4 inside $CUT" nsvirsh "$CUT" define "$E2E_ROOT/c4.xml"
        ok "$mode: virsh undefine c2 inside $CUT" nsvirsh "$CUT" undefine c2
        ok "$mode: virsh start c3 inside $CUT" nsvirsh "$CUT" start c3
    else
        ok "$mode: virsh destroy c3 inside $CUT" nsvirsh "$CUT" destroy c3
        ok "$mode: virsh undefine c4 inside $CUT" nsvirsh "$CUT" undefine c4
    fi
    reads_served "$CUT" "$mode, after the changes"
    ok "$mode: the mount does not show them yet (c1's state still served)" dx_file_is "$M/$CUT/c1/state" shutoff
    sleep 3   # a few more seconds cut off (reconnect attempts fail meanwhile)
    t_back=$(e2e_now)
    ok "$mode: $CUT's link restored" e2e_link_restore "$CUT"
    if dx_wait "$BACK" status_like "$CUT" 'connected$'; then
        tap_ok 0 "$mode: $CUT connected again"
    else
        tap_ok 1 "$mode: $CUT connected again within ${BACK}s" "$(timeout 5 cat "$M/$CUT/.domfs/connection")"
    fi
    RECONNECT_TIMES+=("$(printf '%6ss  %s: cut %ss, connected again after the restore' \
        "$(e2e_since "$t_back")" "$mode" "$(awk -v a="$t_cut" -v b="$t_back" 'BEGIN { printf "%.1f", b - a }')")")
    ok "$mode: '.domfs connection reconnected' event line" \
        dx_wait 10 events_after "$mark" "^[0-9.]+ $CUT/\\.domfs connection reconnected"
    if [ "$mode" = down ]; then
        ok "$mode: c4 appeared" dx_wait 10 dx_exists "$M/$CUT/c4/state"
        ok "$mode: c2 vanished" dx_wait 10 dx_absent "$M/$CUT/c2"
        ok "$mode: c3 is running" dx_wait 10 dx_file_is "$M/$CUT/c3/state" running
        ok "$mode: event 'resync defined' for c4" events_after "$mark" "^[0-9.]+ $CUT/c4 resync defined shutoff"
        ok "$mode: event 'resync undefined' for c2" events_after "$mark" "^[0-9.]+ $CUT/c2 resync undefined"
        ok "$mode: event 'resync changed' for c3" events_after "$mark" "^[0-9.]+ $CUT/c3 resync changed running"
    else
        ok "$mode: c4 vanished" dx_wait 10 dx_absent "$M/$CUT/c4"
        ok "$mode: c3 is shut off" dx_wait 10 dx_file_is "$M/$CUT/c3/state" shutoff
        ok "$mode: event 'resync undefined' for c4" events_after "$mark" "^[0-9.]+ $CUT/c4 resync undefined"
        ok "$mode: event 'resync changed' for c3" events_after "$mark" "^[0-9.]+ $CUT/c3 resync changed shutoff"
    fi
    local n_after
    n_after=$(tail -n +"$((mark + 1))" "$EV" | grep -c "^[0-9.]* $CUT/")
    echo "# $mode: $n_after event lines of $CUT since the cut:"
    tail -n +"$((mark + 1))" "$EV" | grep "^[0-9.]* $CUT/" | head -12 | sed 's/^/#   /'
    dx_cat "$M/$CUT/c1/uuid" >/dev/null
    echo "# $mode: mtime of $CUT/c1/uuid (never changes): $(date -u -d "@$(mtime_of)" +%T) after the" \
        "reconnect at $(date -u -d "@${t_back%.*}" +%T) (at the start: $(date -u -d "@$MTIME_START" +%T))"
    out=$(dx_write "$M/$CUT/c1/title" "after-$mode"); tap_ok $? "$mode: writes to $CUT work again" "$out"
    is "$(timeout 30 virsh -q -c "$(tcp_uri "$CUT")" desc c1 --title 2>&1)" "after-$mode" "$mode: virsh sees the title"
    check_trees "after the $mode cut"
}
RECONNECT_TIMES=()
cut_phase down
cut_phase drop

# ---------------------------------------------------------------- h3: libvirtd stopped
dx_phase "$STOP's libvirtd stopped (SIGSTOP) and continued"
phase_loop "$STOP-sigstop"
mark=$(ev_mark)
ok "SIGSTOP the libvirtd of $STOP" e2e_host_stop "$STOP"
t_stop=$(e2e_now)
write_fails_fast "$STOP" "sigstop, right after the stop"
wait_status "$STOP" "(stalled|reconnecting) since $ST_RE\$" "sigstop"
# (until keepalive gives up, a write behind an unanswered one fails at once)
write_fails_fast "$STOP" "sigstop, again"
wait_status "$STOP" "reconnecting since $ST_RE\$" "sigstop"
tap_ok $([ -n "$(seen_status "$STOP" stalled)" ] && [ -n "$(seen_status "$STOP" reconnecting)" ]; echo $?) \
    "sigstop: the status went stalled, then reconnecting, each with its since-time" \
    "$(grep " $STOP " "$WATCH_OUT")"
reads_served "$STOP" "sigstop"
write_fails_fast "$STOP" "sigstop, reconnecting"
sleep 2
t_back=$(e2e_now)
ok "SIGCONT the libvirtd of $STOP" e2e_host_cont "$STOP"
if dx_wait "$BACK" status_like "$STOP" 'connected$'; then
    tap_ok 0 "sigstop: $STOP connected again"
else
    tap_ok 1 "sigstop: $STOP connected again within ${BACK}s" "$(timeout 5 cat "$M/$STOP/.domfs/connection")"
fi
RECONNECT_TIMES+=("$(printf '%6ss  sigstop: stopped %ss, connected again after SIGCONT' \
    "$(e2e_since "$t_back")" "$(awk -v a="$t_stop" -v b="$t_back" 'BEGIN { printf "%.1f", b - a }')")")
ok "sigstop: '.domfs connection reconnected' event line" \
    dx_wait 10 events_after "$mark" "^[0-9.]+ $STOP/\\.domfs connection reconnected"
out=$(dx_write "$M/$STOP/s1/title" "after-sigstop"); tap_ok $? "sigstop: writes to $STOP work again" "$out"
check_trees "after the sigstop"

# ---------------------------------------------------------------- results
dx_phase "results"
phase_loop "after"
sleep 1
touch "$STOPF"
wait "$LOOP_PID"; loop_rc=$?
wait "$WATCH_PID" 2>/dev/null
kill "$EV_PID" 2>/dev/null; wait "$EV_PID" 2>/dev/null
is "$loop_rc" 0 "the healthy-host loop ended normally$( [ -s "$E2E_ROOT/loop.err" ] && echo ": $(head -c 300 "$E2E_ROOT/loop.err")")"
echo "# healthy host $OK_H ($OK_G): requests per phase and class (goal: none over $SLOW_MS ms):"
sed -n 's/^phase /#   /p' "$LOOP_OUT"
# the figures of one class: "COUNT ERRORS WORST_MS SLOW"
figures() { awk -v c="$1" '$1 == "phase" && $3 == c { n += $5; e += $11; s += $13; if ($7 > m) m = $7 }
                            END { printf "%d %d %.1f %d\n", n, e, m, s }' "$LOOP_OUT"; }
read -r r_n r_err r_worst r_slow <<< "$(figures read)"
read -r w_n w_err w_worst w_slow <<< "$(figures write)"
q_w=$(awk '$1 == "phase" && $2 == "quiet" && $3 == "write" { print $7 }' "$LOOP_OUT")
tap_ok $([ "$r_n" -gt 0 ] && [ "$w_n" -gt 0 ] && [ "$r_err" = 0 ] && [ "$w_err" = 0 ]; echo $?) \
    "every healthy-host request succeeded: $r_n reads/listings, $w_n writes read back at once" \
    "$(grep '^error ' "$LOOP_OUT")"
tap_ok $(awk -v r="$r_worst" -v w="$w_worst" -v b="$BOUND_MS" 'BEGIN { exit !(r <= b && w <= b) }'; echo $?) \
    "no healthy-host request took over $BOUND_MS ms (reads $r_worst ms, writes $w_worst ms)"
echo "# WORST HEALTHY-HOST LATENCY: reads/listings $r_worst ms over $r_n ($r_slow over $SLOW_MS ms);" \
    "writes (libvirt call + read back) $w_worst ms over $w_n ($w_slow over $SLOW_MS ms)," \
    "$q_w ms before any host failed"
echo "# writes to the cut/stopped hosts:"; printf '#   %s\n' "${WRITE_TIMES[@]}"
echo "# reconnections:"; printf '#   %s\n' "${RECONNECT_TIMES[@]}"
echo "# status changes seen:"; sed 's/^/#   /' "$WATCH_OUT"
# how old the data says it is: a guest file's mtime against the host's history
for h in "$CUT" "$STOP"; do
    echo "# mtime of $h/$(first_guest "$h")/state: $(stat -c %y "$M/$h/$(first_guest "$h")/state")"
done
ok "domfs is alive and answers" dx_alive
T_UP1=$MOUNT_S

# ---------------------------------------------------------------- start-up with two hosts away
dx_phase "start-up with $CUT cut off (drop) and $STOP stopped"
dx_umount "$M"
ok "$CUT's link cut (drop) before the mount" e2e_link_cut "$CUT" drop
ok "$STOP's libvirtd stopped before the mount" e2e_host_stop "$STOP"
timed_mount part2 "${MARGS[@]}" -o "keepalive=$KA_I,$KA_N,timeout=$TIMEOUT"
tap_ok $? "domfs mounts with $CUT unreachable and $STOP not answering" || dx_finish
M=$DX_MNT
echo "# start-up: $MOUNT_S s with two hosts away, $T_UP1 s with all three up (figures, not asserted)"
is "$(cd "$M" && ls | tr '\n' ' ')" "h1 h2 h3 " "the root lists every host, the two away ones too"
is "$(status "$OK_H")" "connected" "$OK_H is connected"
ok "$OK_H/ matches virsh list --all of $OK_H" tree_matches "$OK_H"
for h in "$CUT" "$STOP"; do
    like "$(status "$h")" "^reconnecting since $ST_RE\$" "$h/.domfs/connection says reconnecting"
    like "$(timeout 5 cat "$M/$h/.domfs/connection")" '^last_error .+' "$h/.domfs/connection says why"
    sed -n 's/^last_error /#   '"$h"': last_error /p' "$M/$h/.domfs/connection"
    is "$(timeout 5 ls "$M/$h" | wc -l)" 0 "$h/ is empty until it answers"
done
ok "$STOP's libvirtd continued" e2e_host_cont "$STOP"
ok "$CUT's link restored" e2e_link_restore "$CUT"
t_back=$(e2e_now)
for h in "$CUT" "$STOP"; do
    if dx_wait "$BACK" status_like "$h" 'connected$'; then
        tap_ok 0 "$h connected after it came back ($(e2e_since "$t_back") s)"
    else
        tap_ok 1 "$h connected within ${BACK}s after it came back" "$(timeout 5 cat "$M/$h/.domfs/connection")"
    fi
done
check_trees "after a start-up with two hosts away"
ok "domfs is alive and answers" dx_alive
dx_finish
