# shellcheck shell=bash
# tests/e2e/domfs_e2e.sh - what the e2e tests of domfs share on top of harness.sh:
# TAP assertions (tests/lib/tap.sh), domfs mounts that are always unmounted before the
# harness cleans up, and bounded helpers (every access to the mount runs under `timeout`,
# so a hung mount fails a check instead of hanging the suite).
#
#     . "$(dirname "${BASH_SOURCE[0]}")/domfs_e2e.sh"   # sources harness.sh, calls e2e_init
#     dx_mount NAME -c h1="$(e2e_host_uri h1)" ...       # mounts on $DX_MNTDIR/NAME
#     dx_write "$M/g/state" paused                       # prints the shell's error, if any
#     dx_finish                                          # plan line, exit status
set -u
# As root, the test runs in a mount namespace of its own (re-executed here, before any
# output), as tests/lib/mount.sh does: a namespace another program creates meanwhile
# copies every mount of the moment, and such a copy keeps an unmounted daemon alive.
if [ -z "${DOMFS_TEST_MNTNS:-}" ] && [ "$(id -u)" = 0 ] &&
   unshare -m --propagation private true 2>/dev/null; then
    export DOMFS_TEST_MNTNS=1
    exec unshare -m --propagation private "$BASH" "$0" "$@"
fi
DX_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=harness.sh
. "$DX_HERE/harness.sh"
# shellcheck source=../lib/tap.sh
. "$DX_HERE/../lib/tap.sh"

DX_T0=$(e2e_now)
DX_MOUNTS=()      # "MNT PID"
DX_MNTDIR=""
DX_PHASES=()
DX_RM=()          # files removed at exit, before the harness's cleanup (see dx_rm_at_exit)

# Our EXIT trap: unmount every domfs first (the harness deletes $E2E_ROOT afterwards and
# must never walk into a live mount), then the harness's cleanup with our exit status.
_dx_exit() {
    local rc=$?
    dx_umount_all
    [ ${#DX_RM[@]} = 0 ] || rm -f -- "${DX_RM[@]}"
    # the mount points and daemon logs (their tails are printed on a failure); never
    # anything while a mount is still there
    if [ -n "$DX_MNTDIR" ] && ! grep -qF " $DX_MNTDIR/" /proc/self/mountinfo; then
        rm -rf --one-file-system -- "$DX_MNTDIR"
    fi
    (exit "$rc")
    e2e_cleanup_all
}

e2e_init
trap _dx_exit EXIT
DX_BIN=$(e2e_domfs_bin)
[ -e /dev/fuse ] || e2e_skip "no /dev/fuse"
command -v fusermount3 >/dev/null || e2e_skip "fusermount3 not found (fuse3)"
DX_MNTDIR=$(mktemp -d /tmp/domfs-e2e-mnt.XXXXXX) || e2e_die "mktemp failed"

# dx_rm_at_exit FILE...: remove FILE at exit even if the test dies first (e.g. symlinks to
# /etc/shadow in a host's log directory: the harness prints the tails of *.log there on
# a failure, and tail follows symlinks)
dx_rm_at_exit() { DX_RM+=("$@"); }

# dx_phase NAME: records how long the previous phase took (printed by dx_finish)
_dx_phase_name=""; _dx_phase_t0=$DX_T0
dx_phase() {
    [ -n "$_dx_phase_name" ] && DX_PHASES+=("$(printf '%7ss  %s' "$(e2e_since "$_dx_phase_t0")" "$_dx_phase_name")")
    _dx_phase_name=$1; _dx_phase_t0=$(e2e_now)
    echo "# --- $1"
}

dx_finish() {
    dx_phase ""
    echo "# phase timings:"
    printf '#   %s\n' "${DX_PHASES[@]}"
    echo "# total $(e2e_since "$DX_T0")s, $TAP_FAILED of $TAP_N checks failed"
    if [ "$TAP_FAILED" != 0 ]; then
        local m
        for m in "${DX_MOUNTS[@]}"; do
            echo "# ----- tail of domfs log ${m%% *}.log"
            tail -n 30 "${m%% *}.log" 2>/dev/null | cut -c1-300 | sed 's/^/#   /'
        done
    fi
    done_testing
    exit $?
}

# dx_mount NAME DOMFS-ARGS...: mounts domfs (foreground, in the background) on
# $DX_MNTDIR/NAME, waits (10 s at most) until .domfs answers; sets DX_MNT and DX_PID.
# The daemon's output goes to $DX_MNTDIR/NAME.log.
dx_mount() {
    local name=$1 i; shift
    DX_MNT=$DX_MNTDIR/$name
    mkdir -p "$DX_MNT"
    "$DX_BIN" -f "$@" "$DX_MNT" > "$DX_MNT.log" 2>&1 &
    DX_PID=$!
    DX_MOUNTS+=("$DX_MNT $DX_PID")
    for ((i = 0; i < 200; i++)); do
        if mountpoint -q "$DX_MNT" && timeout 2 test -d "$DX_MNT/.domfs"; then return 0; fi
        kill -0 "$DX_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "# domfs did not mount $DX_MNT:"; sed 's/^/#   /' "$DX_MNT.log"
    return 1
}

# dx_umount MNT: unmounts, waits for the daemon to exit (5 s), then SIGKILLs it
dx_umount() {
    local mnt=$1 m pid="" i
    for m in "${DX_MOUNTS[@]}"; do [ "${m%% *}" = "$mnt" ] && pid=${m##* }; done
    if mountpoint -q "$mnt" 2>/dev/null; then
        timeout 10 fusermount3 -u "$mnt" 2>/dev/null || timeout 10 umount -l "$mnt" 2>/dev/null
    fi
    if [ -n "$pid" ]; then
        for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
        if kill -0 "$pid" 2>/dev/null; then
            # (a mount namespace made while the mount existed - another test's private
            # libvirt host - keeps a copy of it, so the kernel does not end the session)
            echo "# domfs pid $pid did not exit within 5 s of the unmount: SIGKILL;" \
                "processes with a copy of the mount: $(grep -lsF " $mnt " /proc/[0-9]*/mountinfo | cut -d/ -f3 | head -5 | tr '\n' ' ')"
            kill -9 "$pid" 2>/dev/null
        fi
    fi
    mountpoint -q "$mnt" 2>/dev/null && umount -l "$mnt" 2>/dev/null
    local keep=()
    for m in "${DX_MOUNTS[@]}"; do [ "${m%% *}" = "$mnt" ] || keep+=("$m"); done
    DX_MOUNTS=("${keep[@]}")
    return 0
}
dx_umount_all() {
    local m
    for m in "${DX_MOUNTS[@]}"; do dx_umount "${m%% *}"; done
}

# dx_cat FILE: cat under `timeout 5` (a hung mount is an error, not a hung test)
dx_cat() { timeout 5 cat -- "$1"; }

# dx_write FILE VALUE: `echo VALUE > FILE` in a shell, bounded (30 s, or $DX_WTIMEOUT);
# returns the shell's status and prints its error message ("...: Invalid argument").
dx_write() {
    timeout "${DX_WTIMEOUT:-30}" bash -c 'echo "$2" > "$1"' _ "$1" "$2" 2>&1
}

# dx_virsh HOST ARGS...: virsh on a private host, bounded (30 s)
dx_virsh() { timeout 30 virsh -q -c "$(e2e_host_uri "$1")" "${@:2}"; }

# dx_domstate HOST GUEST: "running (booted)", "shut off (destroyed)", ...
dx_domstate() { dx_virsh "$1" domstate "$2" --reason 2>&1 | sed -n 1p; }

# dx_wait SECONDS CMD...: polls CMD until it succeeds (CMD must bound itself: the dx_
# helpers do; wrap external commands that touch the mount in `timeout`)
dx_wait() {
    local t=$1; shift
    local end=$(( EPOCHSECONDS + t ))
    until "$@" >/dev/null 2>&1; do
        (( EPOCHSECONDS >= end )) && return 1
        sleep 0.1
    done
}

# dx_file_is FILE VALUE: the file reads VALUE (for dx_wait)
dx_file_is() { [ "$(timeout 5 cat -- "$1" 2>/dev/null)" = "$2" ]; }
# dx_exists PATH / dx_absent PATH (bounded, for dx_wait)
dx_exists() { timeout 5 test -e "$1"; }
dx_absent() { timeout 5 test -e "$1"; [ $? = 1 ]; }

# dx_alive: the last mounted daemon is still running and its mount answers
dx_alive() { kill -0 "$DX_PID" 2>/dev/null && mountpoint -q "$DX_MNT" && timeout 5 ls "$DX_MNT" >/dev/null; }
