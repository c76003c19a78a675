#!/bin/bash
# run-bench.sh - domfs's benchmarks (meson suite `bench`). Prints a table of figures, each
# a ratio against a baseline measured side by side in this run, and writes it to
# $BENCH_RESULTS. Never fails on a figure: a missed target says MISSED.
#
# Fleets of N guests (BENCH_SIZES, default "1000 10000") come from gen-fleet.py as
# test-driver node files. Two ways to serve them:
#   remote     a private libvirtd (tests/e2e/harness.sh, own mount namespace) whose
#              test:///default is filled with the node file's domains (bench_tool populate);
#              domfs, virsh and bench_tool all use test+unix:///default?socket=...: they
#              share one driver state, so events reach everyone (figures 1-5, 6, 7)
#   in-process test:///ABS/node.xml, libvirt's test driver inside the process (which
#              parses the node file at every open): start-up and RSS rows marked "node file"
: "${DOMFS_BIN:?}" "${BENCH_TOOL:?}" "${BARE_FUSE:?}" "${GEN_FLEET:?}" "${TESTS_DIR:?}"
BENCH_RESULTS=${BENCH_RESULTS:-/dev/null}
unset MALLOC_PERTURB_   # glibc's allocation poisoning (meson sets it): not what users run
SIZES=${BENCH_SIZES:-"1000 10000"}
export LC_ALL=C

say() { printf '# %s\n' "$*"; }
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "the bench needs root (private libvirtd, tmpfs mounts)"
[ -e /dev/fuse ] || skip "no /dev/fuse"
for t in libvirtd tini virsh fusermount3 python3; do
    command -v "$t" >/dev/null || skip "$t not installed"
done

W=$(mktemp -d /tmp/domfs-bench.XXXXXX)
T=$W/tmpfs
MOUNTS=()     # FUSE mountpoints to unmount at exit
PIDS=()       # processes this script started (domfs, bare_fuse, populate holders)

bench_cleanup() {
    local m p
    for m in "${MOUNTS[@]}"; do mountpoint -q "$m" && fusermount3 -u "$m" 2>/dev/null; done
    for p in "${PIDS[@]}"; do   # only those still running and still ours
        [[ $(tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline") == *"$W"* ]] || continue
        kill "$p" 2>/dev/null; wait "$p" 2>/dev/null
    done
    mountpoint -q "$T" && umount "$T"
}

# the private libvirtd: tests/e2e/harness.sh's hosts (their EXIT trap is chained below)
. "$TESTS_DIR/e2e/harness.sh"
e2e_init 2>"$W/harness.log"
# on a failure the work dir (logs of domfs, the harness, libvirtd) is kept
trap 'rc=$?; bench_cleanup; (exit $rc); e2e_cleanup_all 2>>"$W/harness.log"
      if [ "$rc" = 0 ]; then rm -rf "$W"; else echo "# logs kept in $W"; fi' EXIT

mkdir -p "$T" && mount -t tmpfs -o size=1g domfs-bench "$T" || skip "cannot mount a tmpfs"

# ---- table
ROWS=()
# row FIGURE GUESTS DOMFS BASELINE RATIO TARGET VERDICT
row() {
    ROWS+=("$(printf '%-48s %6s  %-16s %-26s %-9s %-9s %s' "$@")"); echo "${ROWS[-1]}"
    [[ ${7:-} != FAILED* ]] || FAILED=$((FAILED + 1))
}
header() {
    printf '%-48s %6s  %-16s %-26s %-9s %-9s %s\n' figure guests domfs baseline ratio target verdict
}
# verdict VALUE OP LIMIT: ok / MISSED; FAILED when VALUE is no number (the measuring tool
# failed: its message is above); every FAILED row fails the suite at the end
FAILED=0
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
    if (v !~ /^[0-9.]+$/) { print "FAILED"; exit }
    ok = (op == "le") ? (v <= l) : (v >= l); print ok ? "ok" : "MISSED" }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN {
    if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b <= 0) printf "none"; else printf "%.2f", a / b }'; }
us() { awk -v v="$1" 'BEGIN { if (v >= 10000) printf "%.1f ms", v / 1000; else if (v >= 100) printf "%.0f us", v; else printf "%.1f us", v }'; }
ms() { awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f s", v / 1000; else printf "%.1f ms", v }'; }

# mount_domfs MNT URI LOG: domfs in the foreground, in the background; sets DOMFS_PID
mount_domfs() {
    mkdir -p "$1"
    "$DOMFS_BIN" -f -c "$2" "$1" >"$3" 2>&1 &
    DOMFS_PID=$!
    PIDS+=("$DOMFS_PID"); MOUNTS+=("$1")
    local i
    for ((i = 0; i < 6000; i++)); do
        mountpoint -q "$1" && [ -d "$1/.domfs" ] && return 0
        kill -0 "$DOMFS_PID" 2>/dev/null || break
        sleep 0.05
    done
    say "domfs did not mount $1:"; sed 's/^/#   /' "$3"
    return 1
}
umount_domfs() {   # MNT PID
    fusermount3 -u "$1" 2>/dev/null
    # a mount namespace created meanwhile (another test's unshare -m) keeps a copy of
    # the mount and domfs alive: stop it after 10 s
    local i
    for ((i = 0; i < 200; i++)); do kill -0 "$2" 2>/dev/null || break; sleep 0.05; done
    kill "$2" 2>/dev/null
    wait "$2" 2>/dev/null
}
# the resident set of the process serving the mount: `domfs -f` (PID) is its supervisor
rss_kib() {
    local p
    p=$(pgrep -P "$1" -x domfs | head -1)
    awk '/^VmRSS:/ { print $2 }' "/proc/${p:-$1}/status"
}

say "domfs bench: $(uname -r), $(nproc) CPUs, libvirt $(virsh --version), sizes: $SIZES, load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "work dir $W"
T0=$EPOCHSECONDS
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- calibration: a bare FUSE file against tmpfs
printf 'running\n' > "$T/state"
for mode in direct cached; do
    mkdir -p "$W/bare-$mode"
    "$BARE_FUSE" "$W/bare-$mode" "$mode" 2>"$W/bare-$mode.log" &
    PIDS+=("$!"); MOUNTS+=("$W/bare-$mode")
    for _ in $(seq 100); do [ -f "$W/bare-$mode/state" ] && break; sleep 0.02; done
    read -r a _ b _ < <("$BENCH_TOOL" abexec 300 cat "$W/bare-$mode/state" ::: cat "$T/state")
    r=$(div "$a" "$b")
    row "0 calibration: cat of a bare FUSE file ($mode)" 1 "$(us "$a")" "tmpfs $(us "$b")" "${r}x" "-" "(the floor for figure 1)"
    read -r a b < <("$BENCH_TOOL" loop 5000 "$W/bare-$mode/state" "$T/state")
    if [ "$mode" = direct ]; then FLOOR_DIRECT=$a; else FLOOR_CACHED=$a; fi
    r=$(div "$a" "$b")
    row "0 calibration: open/read/close, bare ($mode)" 1 "$(us "$a")" "tmpfs $(us "$b")" "${r}x" "-" "(the floor for figure 2)"
    fusermount3 -u "$W/bare-$mode"
done

# ---- 8: FUSE requests per open, counted in domfs's own debug output (-d) on a private
# mount: what a reader costs in round trips, whatever the machine's speed
requests_per_open() {   # LABEL K CMD... (CMD opens one file once; run K times)
    local label=$1 k=$2; shift 2
    local log=$W/reqs.log n
    truncate -s 0 "$log"
    for ((i = 0; i < k; i++)); do "$@" >/dev/null 2>&1; done
    sleep 0.2
    n=$(grep -ac 'opcode:' "$log")
    ops=$(grep -ao 'opcode: [A-Z_]*' "$log" | awk '{ c[$2]++ } END { for (o in c) printf "%s %d/%d, ", o, c[o], '"$k"' }')
    row "8 requests per open: $label" "-" "$(div "$n" "$k")" "${ops%, }" "-" "-" "-"
}
mkdir -p "$W/dbg"
"$DOMFS_BIN" -d -c test:///default "$W/dbg" > "$W/reqs.log" 2>&1 &
DBG=$!; PIDS+=("$DBG"); MOUNTS+=("$W/dbg")
for _ in $(seq 200); do [ -d "$W/dbg/.domfs" ] && break; sleep 0.05; done
cat "$W/dbg/test/state" "$W/dbg/test/uuid" > /dev/null    # lookups done once
requests_per_open "cat state" 20 cat "$W/dbg/test/state"
requests_per_open "cat uuid (read-only file)" 20 cat "$W/dbg/test/uuid"
requests_per_open "C open/read/close of state" 20 "$BENCH_TOOL" loop 1 "$W/dbg/test/state" "$T/state"
requests_per_open "python3 open().read() of state" 20 python3 -c "open('$W/dbg/test/state').read()"
fusermount3 -u "$W/dbg"; wait "$DBG" 2>/dev/null

for N in $SIZES; do
    say "---- $N guests"
    NODE=$W/fleet-$N.xml
    python3 "$GEN_FLEET" "$N" "$NODE" || exit 1
    HOST=bench$N
    e2e_host_up "$HOST" 2>>"$W/harness.log" || { say "private libvirtd did not start"; exit 1; }
    URI="test+unix:///default?socket=$E2E_ROOT/$HOST/run/libvirt-sock"
    rm -f "$W/ready-$N"
    t=$EPOCHREALTIME
    "$BENCH_TOOL" populate "$URI" "$NODE" "$W/ready-$N" &
    POP=$!; PIDS+=("$POP")
    while [ ! -e "$W/ready-$N" ]; do
        kill -0 "$POP" 2>/dev/null || { say "populate failed"; exit 1; }
        sleep 0.05
    done
    say "private libvirtd $HOST (test+unix:///default) filled from $(basename "$NODE"): defined/started $(cat "$W/ready-$N") in $(e2e_since "$t") s"

    # 6: start-up to a usable mount vs the bare ListAllDomains + GetAllDomainStats
    R=$(( N >= 10000 ? 3 : 5 ))
    mkdir -p "$W/m$N"
    read -r a b < <("$BENCH_TOOL" startup "$R" "$W/m$N" "$URI" "$DOMFS_BIN" "$W/startup-$N.log")
    r=$(div "$a" "$b")
    row "6 start-up to a usable mount (libvirtd)" "$N" "$(us "$a")" "list+stats $(us "$b")" "${r}x" "<=1.5x" "$(verdict "$r" le 1.5)"

    M=$W/m$N
    mount_domfs "$M" "$URI" "$W/domfs-$N.log" || exit 1
    PID=$DOMFS_PID
    G=g00042   # running (every third guest, g00002, g00005, ..., is shut off)
    mkdir -p "$T/$N"
    "$BENCH_TOOL" copy "$M" state "$T/$N" >/dev/null || exit 1

    # 1: whole-process cat
    read -r a _ b _ < <("$BENCH_TOOL" abexec 300 cat "$M/$G/state" ::: cat "$T/$N/$G/state")
    r=$(div "$a" "$b")
    row "1 cat GUEST/state, whole process" "$N" "$(us "$a")" "tmpfs $(us "$b")" "${r}x" "<=1.3x" "$(verdict "$r" le 1.3)"

    # 2: an agent pass, one process
    read -r _ a b < <("$BENCH_TOOL" agent 7 "$M" "$T/$N" state)
    r=$(div "$a" "$b")
    row "2 agent pass: every state, one process" "$N" "$(ms "$a")" "tmpfs $(ms "$b")" "${r}x" "<=2x" "$(verdict "$r" le 2)"
    # ... and against the floor: a bare FUSE server serving the same paths with the same
    # open flags (keep_cache: domfs serves read-only opens of state from the page cache)
    mkdir -p "$W/bare-fleet"
    "$BARE_FUSE" "$W/bare-fleet" cached fleet 2>"$W/bare-fleet.log" &
    BF=$!; PIDS+=("$BF"); MOUNTS+=("$W/bare-fleet")
    for _ in $(seq 100); do [ -f "$W/bare-fleet/$G/state" ] && break; sleep 0.02; done
    read -r _ a b < <("$BENCH_TOOL" agent 7 "$M" "$W/bare-fleet" state)
    r=$(div "$a" "$b")
    row "2 agent pass against the bare FUSE floor" "$N" "$(ms "$a")" "bare cached $(ms "$b")" "${r}x" "<=1.1x" "$(verdict "$r" le 1.1)"
    fusermount3 -u "$W/bare-fleet"; wait "$BF" 2>/dev/null

    # 7: RSS after the agent pass
    rss=$(rss_kib "$PID")
    base=$("$BENCH_TOOL" bare-list "$URI" rss)
    r=$(div "$rss" "$base")
    row "7 daemon RSS after an agent pass (libvirtd)" "$N" "$(div "$rss" 1024) MiB" "list-only $(div "$base" 1024) MiB" "${r}x" "<=64MiB" "$(verdict "$rss" le 65536)"

    # 9: the sysfs idiom: descriptors kept open, pread(fd, 0) each pass
    read -r a b nf < <("$BENCH_TOOL" pread 7 "$M" "$T/$N" state)
    r=$(div "$a" "$b")
    row "9 keep-open pread pass over ${nf:-every} state" "$N" "$(ms "$a")" "tmpfs $(ms "$b")" "${r}x" "<=2x" "$(verdict "$r" le 2)"

    # 10: a watcher over every running guest's state: epoll (registers each file once), and
    # poll(), whose every call asks the server about every file (its floor: one pass)
    read -r cm wm wp to nw _ < <("$BENCH_TOOL" pollwatch "$URI" "$M" 100 epoll)
    row "10 epoll watcher: change -> wake-up, median" "$N" "$(us "$wm")" "the call $(us "$cm")" "-" "<=1ms" "$( [ "${to:-x}" = 0 ] && verdict "$wm" le 1000 || echo "MISSED (${to:-?} of 100 never woke)")"
    row "10 (p99; $nw files watched)" "$N" "$(us "$wp")" "-" "-" "-" "-"
    read -r cm wm wp to nw pass < <("$BENCH_TOOL" pollwatch "$URI" "$M" 40 poll)
    r=$(div "$wm" "$pass")
    row "10 poll() watcher: change -> wake-up, median" "$N" "$(us "$wm")" "one poll() pass $(us "$pass")" "${r}x" "-" "$( [ "${to:-x}" = 0 ] && echo "(poll() asks about all $nw files per call)" || echo "FAILED (${to:-?} of 40 never woke)")"

    # 7: what the handles of figures 9 and 10 left behind
    rss=$(rss_kib "$PID")
    row "7 daemon RSS after figures 9 and 10" "$N" "$(div "$rss" 1024) MiB" "-" "-" "-" "($((2 * N)) handles opened and closed)"

    # 3: ls -l of the root
    read -r a _ b _ < <("$BENCH_TOOL" abexec $(( N >= 10000 ? 15 : 40 )) ls -l "$M" ::: ls -l "$T/$N")
    r=$(div "$a" "$b")
    row "3 ls -l of the root" "$N" "$(us "$a")" "tmpfs $(us "$b")" "${r}x" "<=1.5x" "$(verdict "$r" le 1.5)"

    # 4: virsh domstate vs cat state (speed-up of domfs)
    read -r a _ b _ < <("$BENCH_TOOL" abexec 40 virsh -q -c "$URI" domstate "$G" ::: cat "$M/$G/state")
    r=$(div "$a" "$b")
    row "4 virsh domstate (libvirtd) vs cat state" "$N" "$(us "$b")" "virsh $(us "$a")" "${r}x" ">=10x" "$(verdict "$r" ge 10)"

    # 5: from the libvirt event to the new value being readable
    read -r cm cp fm fp em ep to < <("$BENCH_TOOL" latency "$URI" g00000 "$M/g00000/state" 200)
    row "5 suspend/resume -> state readable, median" "$N" "$(us "$fm")" "the call $(us "$cm")" "$(div "$fm" "$cm")x" "<=1ms" "$(verdict "$fm" le 1000)"
    row "5 suspend/resume -> state readable, p99" "$N" "$(us "$fp")" "the call p99 $(us "$cp")" "$(div "$fp" "$cp")x" "<=5ms" "$(verdict "$fp" le 5000)"
    row "5 (event in bench process -> readable)" "$N" "med $(us "$em")" "p99 $(us "$ep")" "-" "-" "timeouts: $to"

    umount_domfs "$M" "$PID"
    kill "$POP"; wait "$POP" 2>/dev/null
    e2e_host_down "$HOST" 2>>"$W/harness.log"

    # the in-process test driver on the node file itself
    FILE_URI="test://$NODE"
    R=3
    read -r a b < <("$BENCH_TOOL" startup "$R" "$M" "$FILE_URI" "$DOMFS_BIN" "$W/startup-file-$N.log")
    r=$(div "$a" "$b")
    row "6 start-up to a usable mount (node file)" "$N" "$(us "$a")" "list+stats $(us "$b")" "${r}x" "<=1.5x" "$(verdict "$r" le 1.5)"
    mount_domfs "$M" "$FILE_URI" "$W/domfs-file-$N.log" || exit 1
    PID=$DOMFS_PID
    "$BENCH_TOOL" agent 1 "$M" "$T/$N" state >/dev/null
    rss=$(rss_kib "$PID")
    base=$("$BENCH_TOOL" bare-list "$FILE_URI" rss)
    r=$(div "$rss" "$base")
    # libvirt's test driver (the whole fleet) lives inside both processes here: the
    # target is judged on the libvirtd row; this one shows what domfs adds
    row "7 daemon RSS after an agent pass (node file)" "$N" "$(div "$rss" 1024) MiB" "list-only $(div "$base" 1024) MiB" "${r}x" "-" "(domfs $(awk -v d=$(( rss - base )) 'BEGIN { printf "%+.2f", d / 1024 }') MiB)"
    umount_domfs "$M" "$PID"
    rm -rf "${T:?}/$N"
done

{
    echo "domfs bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, libvirt $(virsh --version), load average at the start: $LOAD0"
    echo "libvirtd = a private libvirtd (tests/e2e/harness.sh) serving test+unix:///default filled"
    echo "from the node file; node file = test:///ABS/fleet-N.xml in-process. Medians of"
    echo "alternating A/B runs; ratio = domfs / baseline (figure 4: virsh / domfs)."
    header
    printf '%s\n' "${ROWS[@]}"
    echo "bench time: $(( EPOCHSECONDS - T0 )) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared: ratios, not absolute times, are the figures)"
} > "$W/table.txt"
echo
cat "$W/table.txt"
cp "$W/table.txt" "$BENCH_RESULTS" 2>/dev/null || say "cannot write $BENCH_RESULTS"
[ "$FAILED" = 0 ] || { say "$FAILED figure(s) could not be measured (FAILED above)"; exit 1; }
exit 0
