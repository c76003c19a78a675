#!/bin/bash
# console-bench.sh - console.log read throughput (meson suite `bench`): reading the file
# with 128 KiB reads through domfs vs the same bytes on tmpfs, as a ratio (goal >= 0.5x
# of tmpfs's throughput). Two cases: the default bounded tail (128 KiB of a 4 MiB log)
# and a 64 MiB log streamed whole (console_max=64 MiB). Never fails on a figure.
: "${DOMFS_BIN:?}" "${BENCH_TOOL:?}" "${TESTS_DIR:?}"
BENCH_RESULTS=${BENCH_RESULTS:-/dev/null}
unset MALLOC_PERTURB_
export LC_ALL=C
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (tmpfs mount)"; exit 77; }
[ -e /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }

W=$(mktemp -d /var/tmp/domfs-conbench.XXXXXX)
T=$W/tmpfs
M=$W/mnt
LOGS=$W/logs
PID=
cleanup() {
    fusermount3 -u "$M" 2>/dev/null
    [ -n "$PID" ] && { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
    umount "$T" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$T" "$M" "$LOGS"
mount -t tmpfs -o size=256m tmpfs "$T" || { echo "SKIP: cannot mount tmpfs"; exit 77; }

cat > "$W/node.xml" <<XML
<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads><active>2</active><mhz>2400</mhz><model>i686</model></cpu>
  <memory>2097152</memory>
  <domain type='test'>
    <name>con</name>
    <memory>65536</memory>
    <vcpu>1</vcpu>
    <os><type arch='x86_64'>hvm</type></os>
    <devices>
      <serial type='pty'><log file='$LOGS/con-serial0.log' append='off'/><target port='0'/></serial>
    </devices>
  </domain>
</node>
XML

# a console log of tick lines, like the e2e guest's
gen_log() { # gen_log BYTES FILE
    python3 -c '
import sys
n, path = int(sys.argv[1]), sys.argv[2]
out, i, size = [], 0, 0
while size < n:
    i += 1
    line = "tick %d uptime=%d.%02d %s\n" % (i, i // 5, (i % 5) * 20, "x" * 60)
    out.append(line); size += len(line)
open(path, "w").write("".join(out)[:n])' "$1" "$2"
}

row() { # row FIGURE CASE DOMFS_US TMPFS_US BYTES
    local mbps_d mbps_t ratio verdict
    mbps_d=$(awk -v b="$5" -v u="$3" 'BEGIN { printf "%.0f", b / u }')
    mbps_t=$(awk -v b="$5" -v u="$4" 'BEGIN { printf "%.0f", b / u }')
    ratio=$(awk -v d="$3" -v t="$4" 'BEGIN { printf "%.2f", t / d }')
    verdict=$(awk -v r="$ratio" 'BEGIN { print (r >= 0.5) ? "ok" : "MISSED" }')
    printf '%-46s %-22s %8s MB/s   tmpfs %8s MB/s   %6sx   >=0.5x   %s\n' \
        "$1" "$2" "$mbps_d" "$mbps_t" "$ratio" "$verdict" | tee -a "$BENCH_RESULTS"
}

measure() { # measure CASE BYTES CONSOLE_MAX RUNS
    local case=$1 bytes=$2 max=$3 runs=$4 out
    gen_log "$bytes" "$LOGS/con-serial0.log"
    "$DOMFS_BIN" -f -c "test://$W/node.xml" -o "log_dirs=$LOGS,console_max=$max" "$M" \
        >"$W/domfs.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 200); do [ -d "$M/con" ] && break; sleep 0.05; done
    [ -d "$M/con" ] || { echo "domfs did not mount:"; cat "$W/domfs.log"; exit 1; }
    cat "$M/con/console.log" > "$T/console.log"
    local got; got=$(stat -c %s "$T/console.log")
    [ "$got" -gt 0 ] || { echo "console.log is empty"; exit 1; }
    # whole processes, alternating: dd with 128 KiB reads of each
    out=$("$BENCH_TOOL" abexec "$runs" dd if="$M/con/console.log" of=/dev/null bs=128K \
          ::: dd if="$T/console.log" of=/dev/null bs=128K)
    set -- $out
    row "console.log read, 128 KiB reads, vs tmpfs" "$case ($((got / 1024)) KiB)" "$1" "$3" "$got"
    fusermount3 -u "$M"; wait "$PID" 2>/dev/null; PID=
}

printf '%-46s %-22s %13s   %14s   %7s   %-6s   %s\n' figure case domfs baseline ratio target \
    verdict | tee -a "$BENCH_RESULTS"
measure "bounded tail" $((4 * 1024 * 1024)) 131072 400
measure "64 MiB streamed" $((64 * 1024 * 1024)) $((64 * 1024 * 1024)) 20
echo "# ratio = tmpfs time / domfs time (throughput of domfs as a fraction of tmpfs's)"
