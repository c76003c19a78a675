#!/bin/bash
# bench-fleet.sh - the several-hosts figures of domfs's bench (meson suite `bench`, issue
# 10): one mount of 20 private libvirtd "hosts" (tests/bench/hosts.sh: each its own
# libvirtd serving the test driver, filled with 500 guests) over test+unix. Prints a
# table of figures, each against a baseline measured in this run, and writes it to
# $BENCH_RESULTS. Never fails on a figure: a missed target says MISSED.
#   F1 start-up of the 20-host mount vs the slowest single host (and vs their sum)
#   F2 start-up with one host dead (connect refused, as after a crash) vs all alive
#      (target <= 1.1x)
#   F3 start-up with one host stalled (its libvirtd SIGSTOPped) vs all alive
#   F4 an agent pass (open/read/close of all 10000 `state` files, one process) vs tmpfs
#   F5 daemon RSS after the agent pass
#   F6 .domfs/metrics.prom of the root (all 20 hosts): first read (render), re-read
#      within a second (the last render), re-read after a second (a new render)
# BENCH_FLEET_HOSTS / BENCH_FLEET_GUESTS change the fleet (default 20 x 500).
: "${DOMFS_BIN:?}" "${BENCH_TOOL:?}" "${FLEET_TOOL:?}" "${GEN_FLEET:?}" "${TESTS_DIR:?}"
BENCH_RESULTS=${BENCH_RESULTS:-/dev/null}
unset MALLOC_PERTURB_   # glibc's allocation poisoning (meson sets it): not what users run
NH=${BENCH_FLEET_HOSTS:-20}
NG=${BENCH_FLEET_GUESTS:-500}
R_SINGLE=${BENCH_FLEET_R_SINGLE:-3}        # start-ups of each single host (median per host)
R_ALL=${BENCH_FLEET_R_ALL:-6}           # start-ups of the whole fleet, alive and with one dead (alternating)
R_STALLED=2       # start-ups with a stalled host (each waits for it: see F3)
R_AGENT=5         # agent passes (median)
R_METRICS=5       # metrics re-reads
export LC_ALL=C
# As root, in a mount namespace of its own (re-executed here, before any output), as
# tests/lib/mount.sh does: a namespace another program creates meanwhile would copy the
# bench's FUSE mounts and keep their daemons alive after the unmount.
if [ -z "${FLEET_MNTNS:-}" ] && [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
    export FLEET_MNTNS=1
    exec unshare -m --propagation private "$BASH" "$0" "$@"
fi

say() { printf '# %s\n' "$*"; }
skip() { echo "SKIP: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "the bench needs root (private libvirtd, tmpfs mounts)"
[ -e /dev/fuse ] || skip "no /dev/fuse"
for t in libvirtd tini virsh fusermount3 python3 nsenter; do
    command -v "$t" >/dev/null || skip "$t not installed"
done

W=$(mktemp -d /tmp/domfs-bench-fleet.XXXXXX)
T=$W/tmpfs
MNT=$W/mnt
DOMFS_PID=""

. "$TESTS_DIR/e2e/harness.sh"
. "$TESTS_DIR/bench/hosts.sh"
fleet_cleanup() {
    if [ -n "$DOMFS_PID" ]; then
        mountpoint -q "$MNT" && fusermount3 -u "$MNT" 2>/dev/null
        [[ $(tr '\0' ' ' 2>/dev/null < "/proc/$DOMFS_PID/cmdline") == *"$W"* ]] && kill "$DOMFS_PID" 2>/dev/null
        wait "$DOMFS_PID" 2>/dev/null
    fi
    mountpoint -q "$MNT" && umount -l "$MNT"
    mountpoint -q "$T" && umount "$T"
    bench_hosts_down >/dev/null 2>&1
}
e2e_init 2>"$W/harness.log"
# on a failure the work dir (logs of domfs, the harness, the hosts) is kept
trap 'rc=$?; fleet_cleanup 2>>"$W/harness.log"; (exit $rc); e2e_cleanup_all 2>>"$W/harness.log"
      if [ "$rc" = 0 ]; then rm -rf "$W"; else echo "# logs kept in $W"; fi' EXIT

mkdir -p "$T" "$MNT" && mount -t tmpfs -o size=256m domfs-bench-fleet "$T" || skip "cannot mount a tmpfs"

# ---- table (the format of run-bench.sh)
ROWS=()
row() { ROWS+=("$(printf '%-48s %6s  %-16s %-26s %-9s %-9s %s' "$@")"); echo "${ROWS[-1]}"; }
header() {
    printf '%-48s %6s  %-16s %-26s %-9s %-9s %s\n' figure guests domfs baseline ratio target verdict
}
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
    ok = (op == "le") ? (v <= l) : (v >= l); print ok ? "ok" : "MISSED" }'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }
ms() { awk -v v="$1" 'BEGIN { if (v >= 1000) printf "%.2f s", v / 1000; else if (v >= 1) printf "%.1f ms", v; else printf "%.0f us", v * 1000 }'; }
us() { awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f us", v; else printf "%.1f us", v }'; }
# the resident set of the process serving the mount: `domfs -f` (PID) is its supervisor
rss_kib() {
    local p
    p=$(pgrep -P "$1" -x domfs | head -1)
    awk '/^VmRSS:/ { print $2 }' "/proc/${p:-$1}/status"
}

say "domfs fleet bench: $NH hosts x $NG guests, $(uname -r), $(nproc) CPUs, libvirt $(virsh --version), load average $(cut -d' ' -f1-3 /proc/loadavg)"
say "work dir $W"
T0=$EPOCHSECONDS
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
TOTAL=$((NH * NG))

bench_hosts_up "$NH" "$NG" 2>>"$W/harness.log" || { say "the fleet did not come up:"; tail -n 20 "$W/harness.log"; exit 1; }
say "$NH private libvirtd up in $BENCH_HOSTS_T_DAEMONS s, filled with $NG guests each in $BENCH_HOSTS_T_FILL s"

# the -c arguments of the fleet (host NAME=URI), optionally with one host's URI replaced
fleet_args() {
    local h
    FLEET_ARGS=()
    for h in "${BENCH_HOSTS[@]}"; do FLEET_ARGS+=(-c "$h=$(bench_host_uri "$h")"); done
}
startup() {   # startup ROUNDS LAYOUT EXPECT ARGS...: "MEDIAN MIN MAX" (ms)
    local r=$1 layout=$2 expect=$3; shift 3
    "$FLEET_TOOL" startup "$r" "$MNT" "$W/startup.log" "$layout" "$expect" "$DOMFS_BIN" "$@"
}

# ---- F1: the whole fleet vs the slowest single host; F2: one of them dead at start
# The dead host: its URI names the socket of a libvirtd that is gone (a socket file nobody
# listens on, as a crashed libvirtd leaves it: connect() is refused). Alive and dead
# start-ups alternate (ABBA), so that the load of a shared machine hits both alike.
fleet_args
DEAD=${BENCH_HOSTS[$((NH - 1))]}
python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.close()' "$W/dead.sock" || exit 1
DEAD_ARGS=("${FLEET_ARGS[@]}")
DEAD_ARGS[-1]="$DEAD=test+unix:///default?socket=$W/dead.sock"
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ALIVE=(); DEADT=()
for ((i = 0; i < R_ALL; i++)); do
    for w in $( ((i % 2)) && echo "dead alive" || echo "alive dead"); do
        if [ "$w" = alive ]; then
            read -r t _ _ < <(startup 1 hosts "$TOTAL" "${FLEET_ARGS[@]}") || exit 1
            ALIVE+=("$t")
        else
            read -r t _ _ < <(startup 1 hosts $((TOTAL - NG)) "${DEAD_ARGS[@]}") || exit 1
            DEADT+=("$t")
        fi
    done
done
all_med=$(median "${ALIVE[@]}"); dead_med=$(median "${DEADT[@]}")
say "start-ups of the $NH hosts (ms): alive ${ALIVE[*]}; one dead ${DEADT[*]}"
slowest=0; slowest_h=""; sum=0
for h in "${BENCH_HOSTS[@]}"; do
    read -r med _ _ < <(startup "$R_SINGLE" one "$NG" -c "$h=$(bench_host_uri "$h")") || exit 1
    sum=$(awk -v s="$sum" -v m="$med" 'BEGIN { print s + m }')
    if awk -v m="$med" -v s="$slowest" 'BEGIN { exit !(m > s) }'; then slowest=$med; slowest_h=$h; fi
done
say "start-up of the $NH hosts alone (median of $R_SINGLE each): slowest $slowest_h $(ms "$slowest"), sum $(ms "$sum")"
r=$(div "$all_med" "$slowest")
row "F1 start-up, $NH hosts in one mount" "$TOTAL" "$(ms "$all_med")" "slowest host $(ms "$slowest")" "${r}x" "-" "(sum of the $NH alone $(ms "$sum"): $(div "$all_med" "$sum")x)"
r=$(div "$dead_med" "$all_med")
row "F2 start-up, one of $NH dead (connect refused)" "$((TOTAL - NG))" "$(ms "$dead_med")" "all alive $(ms "$all_med")" "${r}x" "<=1.1x" "$(verdict "$r" le 1.1)"

# ---- F3: one host stalled (its libvirtd SIGSTOPped) at start
e2e_host_stop "$DEAD" 2>>"$W/harness.log"
read -r st_med _ _ < <(startup "$R_STALLED" hosts $((TOTAL - NG)) "${FLEET_ARGS[@]}") || exit 1
e2e_host_cont "$DEAD" 2>>"$W/harness.log"
r=$(div "$st_med" "$all_med")
row "F3 start-up, one of $NH stalled (SIGSTOP)" "$((TOTAL - NG))" "$(ms "$st_med")" "all alive $(ms "$all_med")" "${r}x" "-" "(waited for as long again as the live ones took)"

# ---- F4-F6 on one live mount of the whole fleet
mkdir -p "$MNT"
"$DOMFS_BIN" -f "${FLEET_ARGS[@]}" "$MNT" > "$W/domfs.log" 2>&1 &
DOMFS_PID=$!
for ((i = 0; i < 1200; i++)); do
    mountpoint -q "$MNT" && [ "$(find "$MNT" -mindepth 2 -maxdepth 2 -type d ! -name '.*' 2>/dev/null | wc -l)" = "$TOTAL" ] && break
    kill -0 "$DOMFS_PID" 2>/dev/null || { say "domfs exited:"; tail "$W/domfs.log"; exit 1; }
    sleep 0.05
done
n=$("$FLEET_TOOL" copy "$MNT" state "$T") || exit 1
[ "$n" = "$TOTAL" ] || { say "the mount shows $n guests, not $TOTAL"; exit 1; }

read -r files cold a b < <("$FLEET_TOOL" agent "$R_AGENT" "$MNT" "$T" state) || exit 1
r=$(div "$a" "$b")
row "F4 agent pass: every state of $NH hosts" "$files" "$(ms "$a")" "tmpfs $(ms "$b")" "${r}x" "<=2x" "$(verdict "$r" le 2)"
row "F4 (per file; first pass $(ms "$cold"))" "$files" "$(us "$(awk -v a="$a" -v n="$files" 'BEGIN { print a * 1000 / n }')")" "tmpfs $(us "$(awk -v a="$b" -v n="$files" 'BEGIN { print a * 1000 / n }')")" "-" "-" "(run-bench.sh figure 2: one host)"

rss=$(rss_kib "$DOMFS_PID")
read -r lv hold _ _ _ <<< "$(bench_hosts_rss)"
row "F5 daemon RSS after the agent pass" "$TOTAL" "$(div "$rss" 1024) MiB" "$NH libvirtd $(div "$lv" 1024) MiB" "-" "<=64MiB" "$(verdict "$rss" le 65536)"

sleep 1.2   # nothing rendered within the last second
read -r first reread bytes < <("$FLEET_TOOL" readall "$R_METRICS" "$MNT/.domfs/metrics.prom") || exit 1
cp "$MNT/.domfs/metrics.prom" "$T/metrics.prom"
read -r _ tmpfs_read _ < <("$FLEET_TOOL" readall "$R_METRICS" "$T/metrics.prom")
again=()
for ((i = 0; i < R_METRICS; i++)); do
    sleep 1.2
    read -r t _ _ < <("$FLEET_TOOL" readall 1 "$MNT/.domfs/metrics.prom")
    again+=("$t")
done
rerender=$(printf '%s\n' "${again[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
row "F6 metrics.prom of $NH hosts, first read" "$TOTAL" "$(ms "$first")" "tmpfs $(ms "$tmpfs_read")" "$(div "$first" "$tmpfs_read")x" "-" "($((bytes / 1024)) KiB)"
row "F6 metrics.prom, re-read within 1 s" "$TOTAL" "$(ms "$reread")" "tmpfs $(ms "$tmpfs_read")" "$(div "$reread" "$tmpfs_read")x" "-" "(the last render)"
row "F6 metrics.prom, re-read after 1.2 s" "$TOTAL" "$(ms "$rerender")" "tmpfs $(ms "$tmpfs_read")" "$(div "$rerender" "$tmpfs_read")x" "-" "(rendered again)"

fusermount3 -u "$MNT"
for ((i = 0; i < 300; i++)); do kill -0 "$DOMFS_PID" 2>/dev/null || break; sleep 0.05; done
if kill -0 "$DOMFS_PID" 2>/dev/null; then
    say "domfs did not exit within 15 s of the unmount: killed"; kill -9 "$DOMFS_PID"
fi
wait "$DOMFS_PID"; rc=$?
DOMFS_PID=""
[ "$rc" = 0 ] || say "domfs exited with status $rc after the unmount"

{
    echo "domfs fleet bench, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs, libvirt $(virsh --version), load average at the start: $LOAD0"
    echo "$NH private libvirtd (tests/bench/hosts.sh, test driver only) x $NG guests each, one"
    echo "domfs mount with $NH -c NAME=test+unix:///default?socket=...; start-up = spawn to every"
    echo "host's guests listed; medians; ratio = domfs / baseline."
    header
    printf '%s\n' "${ROWS[@]}"
    echo "bench time: $(( EPOCHSECONDS - T0 )) s; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared: ratios, not absolute times, are the figures)"
} > "$W/table.txt"
echo
cat "$W/table.txt"
cp "$W/table.txt" "$BENCH_RESULTS" 2>/dev/null || say "cannot write $BENCH_RESULTS"
exit 0
