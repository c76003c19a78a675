# libvirtd.sh - a private libvirtd for mount tests that need a daemon (an independent
# witness through virsh, restarts under a live mount). Source after mount.sh.
#
#   lvd_require              skip the test (77) unless root, unshare, libvirtd and virsh are
#                            there (installs LVD_PACKAGES without Recommends when libvirtd or
#                            virsh is missing, see pkg.sh; skips if that fails)
#   lvd_start DIR [HOSTNAME] start libvirtd with all its state under DIR (config, socket,
#                            /var/lib, /var/cache, /var/log of libvirt bind-mounted from
#                            DIR/{etc,run,lib,cache,log} in a private mount + UTS namespace;
#                            hostname HOSTNAME, default lvtest) and wait until it answers a
#                            virsh call (at most LVD_START_TIMEOUT s, less if it exits).
#                            Sets LVD_SOCK, LVD_URI (test+unix:///default?socket=...) and
#                            LVD_PID. Calling it again with the same DIR restarts a stopped
#                            daemon on the same socket. On failure prints why and the logs.
#   lvd_stop [-9]            SIGTERM (or SIGKILL) the libvirtd lvd_start started, by its pid
#                            (checked to be a libvirtd), and wait until it is gone
#   lvd_virsh ARGS...        virsh -q -c $LVD_URI ARGS, bounded by a timeout
#   lvd_logs                 prints the tails of the daemon's logs, DIR/daemon.log (its
#                            stdout and stderr, one "====" line per start) and
#                            DIR/log/libvirtd.log (libvirtd's own log: warnings and errors);
#                            done by lvd_start on failure and at exit when the test failed
#
# The machine's own libvirt is never touched: nothing but DIR is written. The daemon only
# serves the test driver here (test:///default is one shared instance for every client of
# that daemon: virsh and domfs see the same guests; a restart brings back the initial
# state: one running guest "test").
#
# Why LIBVIRT_DRIVER_DIR points at an empty directory: libvirtd loads every hypervisor
# driver module installed and exits (with status 0, the reason only in its own log file)
# when one fails to initialize. Debian's libvirt-daemon depends on the QEMU driver, whose
# initialization fails on a machine where libvirt-daemon-system never created the
# libvirt-qemu user ("Failed to parse user 'libvirt-qemu'"): that was the "libvirtd did
# not come up" (with an empty log) of a first run on a fresh machine. The test driver is
# part of libvirt itself, not a module, so the daemon serves test+unix:// with no module
# loaded (and starts faster: no QEMU, network, storage or nodedev driver to set up).
LVD_PIDS=()
LVD_START_TIMEOUT=60      # seconds a fresh libvirtd may take to answer its first call
LVD_STOP_TIMEOUT=10       # seconds a signalled libvirtd may take to exit
LVD_VIRSH_TIMEOUT=20      # seconds one virsh call may take
LVD_POLL=0.1              # seconds between two readiness probes
LVD_LOG_LINES=40          # lines of each log printed on failure
# Installed (without Recommends) only when libvirtd or virsh is missing:
#   libvirt-daemon   libvirtd itself (Debian makes it depend on libvirt-daemon-driver-qemu,
#                    never loaded here; neither package ships or enables a service)
#   libvirt-clients  virsh, the independent witness
LVD_PACKAGES="libvirt-daemon libvirt-clients"

. "$(dirname "${BASH_SOURCE[0]}")/pkg.sh"

lvd_require() {
    [ "$(id -u)" = 0 ] || skip_all "a private libvirtd needs root (mount namespace)"
    command -v unshare >/dev/null || skip_all "unshare (util-linux) not found"
    unshare -m -u true 2>/dev/null || skip_all "unshare -m -u not permitted here"
    if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
        # shellcheck disable=SC2086
        pkg_install "a private libvirtd (test driver) and virsh for the mount tests" \
            $LVD_PACKAGES || skip_all "libvirtd/virsh missing and apt-get install $LVD_PACKAGES failed"
        command -v libvirtd >/dev/null && command -v virsh >/dev/null ||
            skip_all "libvirtd/virsh still missing after apt-get install $LVD_PACKAGES"
    fi
}

_lvd_is_libvirtd() {
    [[ ${1:-} =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" | grep -q libvirtd
}

lvd_logs() {
    local f
    for f in "${LVD_DIR:-}/daemon.log" "${LVD_DIR:-}/log/libvirtd.log"; do
        if [ ! -s "$f" ]; then echo "# ($f: empty or missing)"; continue; fi
        echo "# ---- last $LVD_LOG_LINES lines of $f"
        tail -n "$LVD_LOG_LINES" "$f" | cut -c1-300 | sed 's/^/#   /'
    done
}

_lvd_conf() {   # _lvd_conf DIR: the daemon's configuration, written once
    [ -f "$1/etc/libvirtd.conf" ] && return 0
    cat > "$1/etc/libvirtd.conf" <<'EOF'
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
}

# _lvd_await PID: until the daemon answers; 1 (with the logs printed) if it exits or takes
# longer than LVD_START_TIMEOUT
_lvd_await() {
    local pid=$1 end rc
    end=$(( $(date +%s) + LVD_START_TIMEOUT ))
    until timeout "$LVD_VIRSH_TIMEOUT" virsh -q -c "$LVD_URI" hostname >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"; rc=$?
            echo "# libvirtd exited (status $rc) before it answered on $LVD_URI:"
            lvd_logs
            return 1
        fi
        if [ "$(date +%s)" -ge "$end" ]; then
            echo "# libvirtd (pid $pid) did not answer on $LVD_URI within $LVD_START_TIMEOUT s:"
            lvd_logs
            kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
            return 1
        fi
        sleep "$LVD_POLL"
    done
}

lvd_start() {
    local dir=$1 host=${2:-lvtest} pid t0
    LVD_DIR=$dir
    mkdir -p "$dir"/{etc,run,lib,cache,log,drivers}
    _lvd_conf "$dir"
    rm -f "$dir/run/libvirt-sock" "$dir/run/libvirtd.pid"
    LVD_SOCK=$dir/run/libvirt-sock
    LVD_URI="test+unix:///default?socket=$LVD_SOCK"
    echo "==== $(date -u +%FT%TZ) lvd_start $host" >> "$dir/daemon.log"
    t0=$(date +%s%N)
    # The new namespace gets a copy of every mount, FUSE ones included: unmount those in
    # there first, or an unmounted domfs would live on (its superblock held by the copy).
    # shellcheck disable=SC2016
    LIBVIRT_DRIVER_DIR=$dir/drivers setsid unshare -m -u --propagation private sh -c '
        d=$1; h=$2
        awk '\''$3 ~ /^fuse/ { print $2 }'\'' /proc/self/mounts | while read -r m; do
            umount -l "$(printf "%b" "$m")" 2>/dev/null
        done
        set -e
        # through the kernel: hostname(1) refuses names such as "a/b" (tests of hostile
        # hostnames need them)
        printf %s "$h" > /proc/sys/kernel/hostname
        mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt
        mount --bind "$d/run" /run/libvirt
        mount --bind "$d/lib" /var/lib/libvirt
        mount --bind "$d/cache" /var/cache/libvirt
        mount --bind "$d/log" /var/log/libvirt
        mount --bind "$d/etc" /etc/libvirt
        exec libvirtd -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid' \
        lvd "$dir" "$host" </dev/null >>"$dir/daemon.log" 2>&1 &
    pid=$!   # setsid (not a group leader here: no fork), unshare and sh all exec: libvirtd
    _lvd_await "$pid" || return 1
    LVD_PID=$pid
    LVD_PIDS+=("$LVD_PID")
    echo "# private libvirtd '$host' (pid $LVD_PID) answered after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

# _lvd_gone PID SECONDS: waits until PID is no libvirtd any more
_lvd_gone() {
    local end=$(( $(date +%s%N) / 1000000 + $2 * 1000 ))
    while _lvd_is_libvirtd "$1"; do
        [ $(( $(date +%s%N) / 1000000 )) -ge "$end" ] && return 1
        sleep 0.05
    done
}

lvd_stop() {
    local sig=TERM
    [ "${1:-}" = -9 ] && sig=KILL
    _lvd_is_libvirtd "${LVD_PID:-}" || return 0
    kill -s "$sig" "$LVD_PID"
    _lvd_gone "$LVD_PID" "$LVD_STOP_TIMEOUT" && return 0
    echo "# libvirtd (pid $LVD_PID) still there $LVD_STOP_TIMEOUT s after SIG$sig: SIGKILL"
    kill -s KILL "$LVD_PID" 2>/dev/null
    _lvd_gone "$LVD_PID" 2
}

lvd_cleanup() {
    local p
    for p in "${LVD_PIDS[@]}"; do
        _lvd_is_libvirtd "$p" && { kill -CONT "$p"; kill "$p"; } 2>/dev/null
    done
    for p in "${LVD_PIDS[@]}"; do
        _lvd_gone "$p" "$LVD_STOP_TIMEOUT" || kill -KILL "$p" 2>/dev/null
    done
    LVD_PIDS=()
}
# at exit: domfs first (its daemons must exit cleanly), then libvirtd, then mount.sh's own
# exit handling (domfs logs of a failed test, scratch directory, verdict on the daemons)
_lvd_exit_trap() {
    local rc=$?
    domfs_cleanup
    lvd_cleanup
    [ "$rc" = 0 ] || [ "$rc" = 77 ] || [ -z "${LVD_DIR:-}" ] || { echo "# the test failed: libvirtd's logs"; lvd_logs; }
    if declare -F domfs_exit_trap >/dev/null; then (exit "$rc"); domfs_exit_trap; fi
    rm -rf "$TEST_TMP"
    exit "$rc"
}
trap _lvd_exit_trap EXIT

lvd_virsh() { timeout "$LVD_VIRSH_TIMEOUT" virsh -q -c "$LVD_URI" "$@"; }
