# shellcheck shell=bash
# tests/bench/hosts.sh - a fleet of N private libvirtd "hosts", each serving libvirt's test
# driver with M guests, for the several-hosts figures of the bench (issue 10): domfs with
# N `-c` connections against N real daemons, one of which can be stopped.
#
# Each host is an e2e host (tests/e2e/harness.sh, e2e_host_up --testonly): a libvirtd in
# its own mount + UTS namespace (hostname = its name) that loads no driver module (no QEMU,
# network, storage... driver, no virtlogd) and so serves only the test driver, reached
# through its own unix socket. Its test:///default is filled with the M guests of a
# gen-fleet.py node file by `bench_tool populate`, which keeps a connection open (the
# test driver's default instance lives as long as one client is connected): domfs, virsh
# and bench_tool see the same guests and the same events, as with run-bench.sh's host.
#
# As a library, after harness.sh and e2e_init (run-bench.sh has both), with BENCH_TOOL and
# GEN_FLEET set (meson's bench environment):
#   bench_hosts_up N M [PREFIX]  starts hosts PREFIX1..PREFIXN (default prefix bh) and
#                                fills each with M guests; sets BENCH_HOSTS (names) and
#                                the timings BENCH_HOSTS_T_DAEMONS / _T_FILL / _T_TOTAL (s)
#   bench_host_uri NAME          test+unix:///default?socket=... of host NAME
#   bench_host_stop NAME         stops host NAME (its libvirtd and its populate holder);
#                                e2e_host_stop/e2e_host_cont SIGSTOP/SIGCONT a libvirtd
#   bench_host_start NAME        starts a stopped host again and refills it
#   bench_hosts_rss              "LV_RSS HOLD_RSS LV_MAX_RSS LV_PSS HOLD_PSS" (KiB): summed
#                                VmRSS of the libvirtd and of the holders, the largest
#                                libvirtd's, and the summed Pss (shared pages divided)
#   bench_hosts_down             stops every host of the fleet
# BENCH_HOSTS_FULL=1: full daemons instead (every driver module and virtlogd, as e2e hosts
# with QEMU have), to compare their cost.
#
# As a command, a standalone check of the fleet (root; after `ninja -C build
# tests/bench/bench_tool`):
#   BENCH_TOOL=build/tests/bench/bench_tool bash tests/bench/hosts.sh [N [M]]
# starts N (20) hosts of M (500) guests, checks that `virsh list --all` of each lists M
# guests, prints the timings and the RSS, stops one host, checks that it fails and the
# others answer, starts it again, and brings everything down.

BENCH_HOSTS_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GEN_FLEET=${GEN_FLEET:-$BENCH_HOSTS_HERE/gen-fleet.py}
BENCH_HOSTS=()
declare -A BENCH_HOLDER=()        # host -> pid of its bench_tool populate holder
BENCH_HOSTS_NODE=""               # the node file every host is filled from
BENCH_HOSTS_FILL_TIMEOUT=300      # seconds: populate of one host
BENCH_HOSTS_VIRSH_TIMEOUT=30      # seconds: one virsh call

bench_host_uri() { e2e_host_test_uri "$1"; }

# _bench_now / _bench_since: see harness.sh's e2e_now / e2e_since
_bench_log() { printf 'bench-hosts: %s\n' "$*" >&2; }

# bench_hosts_up N M [PREFIX]
bench_hosts_up() {
    local n=${1:?bench_hosts_up N M} m=${2:?bench_hosts_up N M} prefix=${3:-bh} i h t0 t1
    [ -x "${BENCH_TOOL:-}" ] || { _bench_log "BENCH_TOOL (bench_tool) is not set"; return 1; }
    BENCH_TOOL=$(readlink -f "$BENCH_TOOL")   # (run from / inside the hosts' namespaces)
    BENCH_HOSTS_NODE=$E2E_ROOT/fleet-$m.xml
    [ -s "$BENCH_HOSTS_NODE" ] || python3 "$GEN_FLEET" "$m" "$BENCH_HOSTS_NODE" || return 1
    t0=$(e2e_now)
    for ((i = 1; i <= n; i++)); do
        h=$prefix$i
        _bench_host_daemon "$h" || return 1
        BENCH_HOSTS+=("$h")
    done
    BENCH_HOSTS_T_DAEMONS=$(e2e_since "$t0")
    t1=$(e2e_now)
    for ((i = 1; i <= n; i++)); do _bench_host_fill "$prefix$i" || return 1; done
    for ((i = 1; i <= n; i++)); do _bench_host_filled "$prefix$i" || return 1; done
    BENCH_HOSTS_T_FILL=$(e2e_since "$t1")
    BENCH_HOSTS_T_TOTAL=$(e2e_since "$t0")
    _bench_log "$n hosts of $m guests: daemons up in $BENCH_HOSTS_T_DAEMONS s, filled in $BENCH_HOSTS_T_FILL s"
}

# _bench_host_daemon NAME: its libvirtd (test driver only unless BENCH_HOSTS_FULL=1)
_bench_host_daemon() {
    local lean=(--testonly)
    [ "${BENCH_HOSTS_FULL:-0}" = 1 ] && lean=()
    e2e_host_up "$1" "${lean[@]}"
}

# _bench_host_fill NAME: starts the populate holder of host NAME (in the background), in
# the host's namespaces: it is then one of the host's processes (e2e_host_pids), and
# whatever brings the host down (e2e_host_down, the cleanup of a run that died) ends it too
_bench_host_fill() {
    local h=$1 r=$E2E_ROOT/$1.ready lv
    rm -f "$r"
    lv=$(e2e_host_pid "$h") || { _bench_log "host $h is not up"; return 1; }
    nsenter -t "$lv" -m -u -n "$BENCH_TOOL" populate "$(bench_host_uri "$h")" "$BENCH_HOSTS_NODE" "$r" \
        >>"$E2E_ROOT/$h.populate.log" 2>&1 &
    BENCH_HOLDER[$h]=$!
}

# _bench_host_filled NAME: waits until its holder has defined and started every guest
_bench_host_filled() {
    local h=$1 r=$E2E_ROOT/$1.ready end=$(( EPOCHSECONDS + BENCH_HOSTS_FILL_TIMEOUT ))
    until [ -s "$r" ]; do
        if ! kill -0 "${BENCH_HOLDER[$h]}" 2>/dev/null || (( EPOCHSECONDS >= end )); then
            _bench_log "host $h: populate failed: $(tail -n 3 "$E2E_ROOT/$h.populate.log" 2>/dev/null)"
            return 1
        fi
        sleep 0.02
    done
}

# _bench_holder_alive NAME: the pid recorded for host NAME is still its populate holder
_bench_holder_alive() {
    local p=${BENCH_HOLDER[$1]:-}
    [ -n "$p" ] && [[ $(tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline") == *"populate $(bench_host_uri "$1") "* ]]
}

# bench_host_stop NAME: its holder, then its daemon
bench_host_stop() {
    local h=$1
    if _bench_holder_alive "$h"; then
        kill "${BENCH_HOLDER[$h]}" 2>/dev/null
        wait "${BENCH_HOLDER[$h]}" 2>/dev/null
    fi
    unset "BENCH_HOLDER[$h]"
    e2e_host_down "$h"
}

# bench_host_start NAME: a stopped host up and filled again
bench_host_start() {
    _bench_host_daemon "$1" && _bench_host_fill "$1" && _bench_host_filled "$1"
}

bench_hosts_down() {
    local h
    for h in "${BENCH_HOSTS[@]}"; do bench_host_stop "$h" 2>/dev/null; done
}

# bench_hosts_rss: "LV_RSS HOLD_RSS LV_MAX_RSS LV_PSS HOLD_PSS" (KiB) over the running hosts
bench_hosts_rss() {
    local h p r lv=0 hold=0 max=0 lvp=0 holdp=0
    for h in "${BENCH_HOSTS[@]}"; do
        p=$(e2e_host_pid "$h") || continue
        r=$(_bench_kib "$p" VmRSS status)
        lv=$((lv + r)); [ "$r" -gt "$max" ] && max=$r
        lvp=$((lvp + $(_bench_kib "$p" Pss smaps_rollup)))
        if _bench_holder_alive "$h"; then
            hold=$((hold + $(_bench_kib "${BENCH_HOLDER[$h]}" VmRSS status)))
            holdp=$((holdp + $(_bench_kib "${BENCH_HOLDER[$h]}" Pss smaps_rollup)))
        fi
    done
    echo "$lv $hold $max $lvp $holdp"
}
# _bench_kib PID KEY FILE: the KiB value of KEY in /proc/PID/FILE (0 if unreadable)
_bench_kib() { awk -v k="$2:" '$1 == k { print $2; f = 1; exit } END { if (!f) print 0 }' "/proc/$1/$3" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- standalone check
_bench_hosts_count() { # guests listed by `virsh list --all --name` of host NAME
    timeout "$BENCH_HOSTS_VIRSH_TIMEOUT" virsh -q -c "$(bench_host_uri "$1")" list --all --name 2>/dev/null |
        grep -c .
}

_bench_hosts_main() {
    local n=${1:-20} m=${2:-500} h rss c bad=0 t stopped
    [ "$(id -u)" = 0 ] || { echo "SKIP: needs root (private libvirtd instances)"; exit 77; }
    # shellcheck source=../e2e/harness.sh
    . "$BENCH_HOSTS_HERE/../e2e/harness.sh"
    e2e_init 2>/dev/null
    trap 'bench_hosts_down >/dev/null 2>&1; e2e_cleanup_all' EXIT
    bench_hosts_up "$n" "$m" 2>"$E2E_ROOT/hosts.log" || { tail -n 20 "$E2E_ROOT/hosts.log"; exit 1; }
    echo "# $n hosts x $m guests ($( [ "${BENCH_HOSTS_FULL:-0}" = 1 ] && echo 'full daemons' || echo 'test driver only'))"
    echo "#   daemons up (first API call answered): $BENCH_HOSTS_T_DAEMONS s, $(awk -v t="$BENCH_HOSTS_T_DAEMONS" -v n="$n" 'BEGIN { printf "%.3f", t / n }') s per host"
    echo "#   filled (populate, all hosts at once): $BENCH_HOSTS_T_FILL s; total $BENCH_HOSTS_T_TOTAL s"
    for h in "${BENCH_HOSTS[@]}"; do
        c=$(_bench_hosts_count "$h")
        [ "$c" = "$m" ] || { echo "not ok - $h lists $c guests, not $m"; bad=1; }
    done
    [ $bad = 0 ] && echo "ok - each of the $n hosts lists $m guests (virsh list --all --name)"
    h=${BENCH_HOSTS[0]}
    echo "#   virsh -c $(bench_host_uri "$h") list --all | wc -l: $(timeout 30 virsh -c "$(bench_host_uri "$h")" list --all | wc -l) (header 2 lines + trailing blank)"
    local lvp holdp
    read -r rss c t lvp holdp <<< "$(bench_hosts_rss)"
    echo "#   RSS: $n libvirtd $((rss / 1024)) MiB (max $((t / 1024)) MiB each), $n populate holders $((c / 1024)) MiB"
    echo "#   PSS: $n libvirtd $((lvp / 1024)) MiB, $n populate holders $((holdp / 1024)) MiB"
    stopped=${BENCH_HOSTS[$((n / 2))]}
    t=$(e2e_now); bench_host_stop "$stopped" 2>/dev/null
    echo "#   host $stopped stopped in $(e2e_since "$t") s"
    if timeout 10 virsh -q -c "$(bench_host_uri "$stopped")" hostname >/dev/null 2>&1; then
        echo "not ok - stopped host $stopped still answers"; bad=1
    else
        echo "ok - stopped host $stopped does not answer"
    fi
    c=0
    for h in "${BENCH_HOSTS[@]}"; do
        [ "$h" = "$stopped" ] && continue
        [ "$(timeout 10 virsh -q -c "$(bench_host_uri "$h")" hostname 2>/dev/null)" = "$h" ] && c=$((c + 1))
    done
    [ "$c" = $((n - 1)) ] && echo "ok - the $c other hosts answer" || { echo "not ok - only $c others answer"; bad=1; }
    t=$(e2e_now); bench_host_start "$stopped" 2>/dev/null
    c=$(_bench_hosts_count "$stopped")
    [ "$c" = "$m" ] && echo "ok - $stopped started again and refilled in $(e2e_since "$t") s" ||
        { echo "not ok - $stopped restarted lists $c guests"; bad=1; }
    t=$(e2e_now); bench_hosts_down 2>/dev/null
    echo "#   $n hosts down in $(e2e_since "$t") s"
    exit $bad
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    _bench_hosts_main "$@"
fi
