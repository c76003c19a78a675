# libvirtd.sh - a private libvirtd for mount tests that need a daemon (an independent
# witness through virsh, restarts under a live mount). Source after mount.sh.
#
#   lvd_require              skip the test (77) unless root, unshare, libvirtd and virsh are
#                            there (installs libvirt-daemon/libvirt-clients with apt-get
#                            when missing; skips if that fails)
#   lvd_start DIR [HOSTNAME] start libvirtd with all its state under DIR (config, socket,
#                            /var/lib, /var/cache, /var/log of libvirt bind-mounted from
#                            DIR/{etc,run,lib,cache,log} in a private mount + UTS namespace;
#                            hostname HOSTNAME, default lvtest). Sets LVD_SOCK, LVD_URI
#                            (test+unix:///default?socket=...) and LVD_PID. Calling it again
#                            with the same DIR restarts a stopped daemon on the same socket.
#   lvd_stop [-9]            SIGTERM (or SIGKILL) the libvirtd lvd_start started, by its pid
#                            (checked to be a libvirtd), and wait until it is gone
#   lvd_virsh ARGS...        virsh -q -c $LVD_URI ARGS, bounded by a timeout
#
# The machine's own libvirt is never touched: nothing but DIR is written. The daemon only
# serves the test driver here (test:///default is one shared instance for every client of
# that daemon: virsh and domfs see the same guests; a restart brings back the initial
# state: one running guest "test").
LVD_PIDS=()

lvd_require() {
    [ "$(id -u)" = 0 ] || skip_all "a private libvirtd needs root (mount namespace)"
    command -v unshare >/dev/null || skip_all "unshare (util-linux) not found"
    unshare -m -u true 2>/dev/null || skip_all "unshare -m -u not permitted here"
    if ! command -v libvirtd >/dev/null || ! command -v virsh >/dev/null; then
        command -v apt-get >/dev/null || skip_all "libvirtd/virsh missing and no apt-get"
        DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -q \
            -o DPkg::Lock::Timeout=120 libvirt-daemon libvirt-clients >/dev/null 2>&1 ||
            skip_all "libvirtd/virsh missing and apt-get install libvirt-daemon libvirt-clients failed"
        command -v libvirtd >/dev/null && command -v virsh >/dev/null ||
            skip_all "libvirtd/virsh still missing after apt-get install"
    fi
}

_lvd_is_libvirtd() {
    [[ ${1:-} =~ ^[0-9]+$ ]] && tr '\0' ' ' 2>/dev/null < "/proc/$1/cmdline" | grep -q libvirtd
}

lvd_start() {
    local dir=$1 host=${2:-lvtest} i
    LVD_DIR=$dir
    mkdir -p "$dir"/{etc,run,lib,cache,log}
    [ -f "$dir/etc/libvirtd.conf" ] || cat > "$dir/etc/libvirtd.conf" <<'EOF'
unix_sock_group = "root"
unix_sock_rw_perms = "0700"
unix_sock_ro_perms = "0700"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    rm -f "$dir/run/libvirt-sock" "$dir/run/libvirtd.pid"
    LVD_SOCK=$dir/run/libvirt-sock
    LVD_URI="test+unix:///default?socket=$LVD_SOCK"
    # The new namespace gets a copy of every mount, FUSE ones included: unmount those in
    # there first, or an unmounted domfs would live on (its superblock held by the copy).
    # shellcheck disable=SC2016
    setsid unshare -m -u --propagation private sh -c '
        d=$1; h=$2
        awk '\''$3 ~ /^fuse/ { print $2 }'\'' /proc/self/mounts | while read -r m; do
            umount -l "$(printf "%b" "$m")" 2>/dev/null
        done
        set -e
        hostname "$h"
        mkdir -p /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt
        mount --bind "$d/run" /run/libvirt
        mount --bind "$d/lib" /var/lib/libvirt
        mount --bind "$d/cache" /var/cache/libvirt
        mount --bind "$d/log" /var/log/libvirt
        mount --bind "$d/etc" /etc/libvirt
        exec libvirtd -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid' \
        lvd "$dir" "$host" </dev/null >>"$dir/daemon.log" 2>&1 &
    for ((i = 0; i < 200; i++)); do
        LVD_PID=$(cat "$dir/run/libvirtd.pid" 2>/dev/null)
        [ -S "$LVD_SOCK" ] && _lvd_is_libvirtd "$LVD_PID" && break
        sleep 0.05
    done
    if ! [ -S "$LVD_SOCK" ] || ! _lvd_is_libvirtd "$LVD_PID"; then
        echo "# libvirtd did not come up:"; tail -n 20 "$dir/daemon.log" | sed 's/^/#   /'
        return 1
    fi
    LVD_PIDS+=("$LVD_PID")
    # the first call waits until it really serves
    timeout 20 virsh -q -c "$LVD_URI" hostname >/dev/null 2>&1
}

lvd_stop() {
    local sig=TERM i
    [ "${1:-}" = -9 ] && sig=KILL
    _lvd_is_libvirtd "${LVD_PID:-}" || return 0
    kill -s "$sig" "$LVD_PID"
    for ((i = 0; i < 200; i++)); do _lvd_is_libvirtd "$LVD_PID" || return 0; sleep 0.05; done
    kill -s KILL "$LVD_PID" 2>/dev/null
    for ((i = 0; i < 40; i++)); do _lvd_is_libvirtd "$LVD_PID" || return 0; sleep 0.05; done
    return 1
}

lvd_cleanup() {
    local p
    for p in "${LVD_PIDS[@]}"; do
        _lvd_is_libvirtd "$p" && { kill -CONT "$p"; kill "$p"; } 2>/dev/null
    done
    for p in "${LVD_PIDS[@]}"; do
        for _ in $(seq 1 100); do _lvd_is_libvirtd "$p" || break; sleep 0.05; done
        _lvd_is_libvirtd "$p" && kill -KILL "$p" 2>/dev/null
    done
    LVD_PIDS=()
}
# at exit: domfs first (its daemons must exit cleanly), then libvirtd, then mount.sh's own
# exit handling (scratch directory, verdict on the daemons)
_lvd_exit_trap() {
    local rc=$?
    domfs_cleanup
    lvd_cleanup
    if declare -F domfs_exit_trap >/dev/null; then (exit "$rc"); domfs_exit_trap; fi
    rm -rf "$TEST_TMP"
    exit "$rc"
}
trap _lvd_exit_trap EXIT

lvd_virsh() { timeout 20 virsh -q -c "$LVD_URI" "$@"; }
