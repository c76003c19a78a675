# common.sh - what every stress script needs: TAP, mounts, a private libvirtd, another
# user, and the daemon's footprint (RSS, threads, descriptors) read from /proc.
#   as_user CMD...     run CMD as domfs-test (no groups), bounded by STRESS_USER_TIMEOUT
#   as_member CMD...   run CMD as domfs-test in group STRESS_GID (the mount's gid=)
#   daemon_rss PID     resident set in KiB      daemon_threads PID   number of threads
#   daemon_fds PID     open descriptors
#   ms_since T0_MS     milliseconds since T0_MS (from now_ms)
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
. "$TESTS_DIR/lib/libvirtd.sh"
: "${STRESS_TOOL:?STRESS_TOOL not set (run through meson test)}"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
[ "$(id -u)" = 0 ] || skip_all "needs root (another user, a private libvirtd)"
command -v setpriv >/dev/null || skip_all "setpriv (util-linux) not found"
if ! id domfs-test >/dev/null 2>&1; then
    useradd -M -r -s /usr/sbin/nologin domfs-test 2>/dev/null ||
        skip_all "cannot create the user domfs-test"
fi
STRESS_UID=$(id -u domfs-test)
STRESS_UGID=$(id -g domfs-test)
STRESS_GID=4242
STRESS_USER_TIMEOUT=${STRESS_USER_TIMEOUT:-10}
chmod 0711 "$TEST_TMP"

as_user()   { timeout "$STRESS_USER_TIMEOUT" setpriv --reuid="$STRESS_UID" --regid="$STRESS_UGID" --clear-groups -- "$@"; }
as_member() { timeout "$STRESS_USER_TIMEOUT" setpriv --reuid="$STRESS_UID" --regid="$STRESS_UGID" --groups="$STRESS_GID" -- "$@"; }
# unbounded variants for the long-running blockers (they end by themselves or are killed)
as_member_bg() { setpriv --reuid="$STRESS_UID" --regid="$STRESS_UGID" --groups="$STRESS_GID" -- "$@"; }

daemon_rss()     { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
daemon_threads() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }
daemon_fds()     { ls "/proc/$1/fd" | wc -l; }
now_ms()         { echo $(( $(date +%s%N) / 1000000 )); }
ms_since()       { echo $(( $(now_ms) - $1 )); }

# A minimal persistent guest for the test driver, by name.
guest_xml() {
    cat <<XML
<domain type='test'>
  <name>$1</name>
  <memory>65536</memory>
  <os><type>hvm</type></os>
</domain>
XML
}

# alive_after SECONDS PID...: wait up to SECONDS for the processes to end; prints how many
# are still running (zombies count as ended) and, for those, their states (D = stuck in the
# kernel, e.g. a FUSE request nobody answers).
alive_after() {
    local t=$1 end p n states; shift
    end=$(( $(now_ms) + t * 1000 ))
    while :; do
        n=0 states=""
        for p in "$@"; do
            local st
            st=$(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null) || continue
            [ "$st" = Z ] && continue
            n=$((n + 1)) states+="$st"
        done
        [ "$n" = 0 ] || [ "$(now_ms)" -ge "$end" ] && break
        sleep 0.05
    done
    echo "$n${states:+ $states}"
}

# rss_growth_ok PID RSS0 RSS1 LIMIT_KIB DESC: RSS grew by less than LIMIT_KIB. Under
# AddressSanitizer (its quarantine keeps freed memory resident) the figure means nothing:
# the check is reported as skipped (the leak check at exit still runs).
rss_growth_ok() {
    local pid=$1 r0=$2 r1=$3 limit=$4 desc=$5
    if grep -q libasan "/proc/$pid/maps" 2>/dev/null; then
        TAP_N=$((TAP_N + 1))
        echo "ok $TAP_N - $desc # SKIP RSS is not meaningful under AddressSanitizer"
        return
    fi
    [ "$r1" -lt $((r0 + limit)) ]
    tap_ok $? "$desc ($r0 -> $r1 KiB)"
}
