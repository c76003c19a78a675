# shellcheck shell=bash
# tests/e2e/harness.sh - real-guest harness for domfs's `e2e` test suite.
#
# Source it from a bash test, then call e2e_init:
#
#     . "$(dirname "${BASH_SOURCE[0]}")/harness.sh"
#     e2e_init                       # root/unshare checks, per-run dir, EXIT trap
#     e2e_install                    # packages (apt-get, only when missing)
#     e2e_guest_build                # tiny kernel+busybox guest (cached)
#     e2e_host_up a --logmax 8192    # private libvirtd+virtlogd "host" named a
#     e2e_domain_xml g1 > g1.xml; e2e_virsh a define g1.xml; e2e_virsh a start g1
#     e2e_wait_tick g1 a 3 60
#
# Several hosts reached over TCP (a LAN of network namespaces), and the agent guest:
#
#     e2e_host_up h1 --lan; e2e_host_up h2 --lan     # qemu+tcp://ADDR/system each
#     virsh -c "$(e2e_host_tcp_uri h2)" hostname       # (test+tcp: e2e_host_tcp_uri h2 test)
#     e2e_link_cut h2 [down|drop]; e2e_link_restore h2 # cut off the LAN / back
#     e2e_host_stop h2; e2e_host_cont h2               # SIGSTOP / SIGCONT its libvirtd
#     e2e_guest_build --agent                          # + qemu-guest-agent, DHCP, ext2 disk
#     e2e_net_dhcp_up h1                               # libvirt network "default" in h1's netns
#     e2e_domain_xml g --agent --hostname gh > g.xml   # agent channel, NIC, balloon, disk
#     e2e_wait_agent g h1 60; e2e_wait_lease g h1 60   # guestinfo answers; prints the lease
#
# Lighter hosts that serve libvirt's test driver only: e2e_host_up NAME --testonly
# (e2e_host_test_uri NAME); tests/bench/hosts.sh starts fleets of them.
#
# Every "host" is a libvirtd + virtlogd pair in its own mount + UTS namespace (optionally
# inside a network namespace of its own), with its own /etc/libvirt (a copy), /run/libvirt,
# /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt bind-mounted from
# $E2E_ROOT/NAME/{etc,run,lib,cache,log}. The machine's own libvirt (if any) is not touched.
# Guests are TCG (<domain type='qemu'>) unless E2E_DOMAIN_TYPE=kvm, or =auto and a KVM
# guest really boots (e2e_kvm_probe).
#
# Environment:
#   DOMFS_E2E_CACHE   stable cache (guest images, downloads); default /var/tmp/domfs-e2e
#   E2E_ROOT          per-run state dir; default $DOMFS_E2E_CACHE/run.XXXXXX (unique)
#   E2E_KEEP=1        keep $E2E_ROOT (logs, configs) after the run
#   E2E_DOMAIN_TYPE   qemu (default), kvm, or auto (probe with e2e_kvm_probe)
#   DOMFS_BIN         the domfs binary (set by meson); see e2e_domfs_bin
#
# Exit code 77 (meson's "skipped") is used, with a "SKIP: reason" line, when the suite
# cannot run here at all (not root, no unshare, no network for apt, ...).
# All functions are idempotent, print what they do on stderr, and return non-zero on
# failure (they never exit, except e2e_skip/e2e_init's skips). Tests may use set -e and
# pipefail: each function turns both off for itself (`local -`).

E2E_CACHE=${DOMFS_E2E_CACHE:-/var/tmp/domfs-e2e}
E2E_DOMAIN_TYPE=${E2E_DOMAIN_TYPE:-qemu}
E2E_GUEST_DIR=${E2E_GUEST_DIR:-$E2E_CACHE/guest}
E2E_GUEST_MEM_MIB=${E2E_GUEST_MEM_MIB:-128}
# shellcheck disable=SC2034  # for the tests: where the harness (and tests/e2e) lives
E2E_HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Bump when the guest recipe changes: cached guests with another stamp are rebuilt.
E2E_GUEST_RECIPE=3
# Guest kernel modules, in the order wanted (dependencies are added from modules.dep):
# ACPI power button + evdev (graceful shutdown through acpid), virtio-pci/blk/net,
# IDE (ata_piix) + sr_mod for the cdrom.
E2E_GUEST_MODULES="button evdev virtio_pci virtio_blk virtio_net ata_piix sr_mod"
# The agent guest (e2e_guest_build --agent) has its own directory and recipe stamp.
E2E_AGENT_GUEST_DIR=${E2E_AGENT_GUEST_DIR:-$E2E_CACHE/guest-agent}
E2E_AGENT_RECIPE=1
# ... and these modules too: virtio-serial (the agent's channel), the virtio balloon
E2E_AGENT_MODULES="virtio_console virtio_balloon"
E2E_BALLOON_PERIOD=${E2E_BALLOON_PERIOD:-2}

# ---------------------------------------------------------------- small helpers
e2e_log()  { printf 'e2e: %s\n' "$*" >&2; }
e2e_skip() { printf 'SKIP: %s\n' "$*"; exit 77; }
e2e_die()  { printf 'e2e: FATAL: %s\n' "$*" >&2; exit 1; }

# e2e_now: seconds since the epoch with microseconds (bash 5 EPOCHREALTIME, no fork)
e2e_now() { printf '%s\n' "${EPOCHREALTIME/,/.}"; }
# e2e_since T0: seconds elapsed since T0 (as printed by e2e_now), 2 decimals
e2e_since() {
    local now=${EPOCHREALTIME/,/.}
    local a=${1%.*} af=${1#*.} b=${now%.*} bf=${now#*.}
    af=${af}000000; bf=${bf}000000
    local us=$(( (b - a) * 1000000 + 10#${bf:0:6} - 10#${af:0:6} ))
    printf '%d.%02d\n' $(( us / 1000000 )) $(( (us % 1000000) / 10000 ))
}

# _e2e_alive PID NAME: PID is alive, and its command line mentions NAME
_e2e_alive() {
    local pid=$1 name=$2 cmd
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$pid/cmdline") || return 1
    [[ $cmd == *"$name"* ]]
}
# _e2e_pidfile FILE NAME: prints the pid in FILE if that process is alive and is NAME
_e2e_pidfile() {
    local pid
    pid=$(cat "$1" 2>/dev/null) || return 1
    pid=${pid//[^0-9]/}
    _e2e_alive "$pid" "$2" && echo "$pid"
}
# _e2e_kill PID NAME [WHAT]: SIGTERM, wait up to 5 s, then SIGKILL; only if PID is NAME
_e2e_kill() {
    local pid=$1 name=$2 i
    _e2e_alive "$pid" "$name" || return 0
    e2e_log "killing ${3:-$name} (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100; i++)); do _e2e_alive "$pid" "$name" || return 0; sleep 0.05; done
    e2e_log "pid $pid ignored SIGTERM for 5 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    for ((i = 0; i < 40; i++)); do _e2e_alive "$pid" "$name" || return 0; sleep 0.05; done
    e2e_log "WARNING: pid $pid ($name) still there"
    return 1
}
# _e2e_wait_gone PID NAME SECONDS
_e2e_wait_gone() {
    local i n=$(( $3 * 20 ))
    for ((i = 0; i < n; i++)); do _e2e_alive "$1" "$2" || return 0; sleep 0.05; done
    return 1
}

# ---------------------------------------------------------------- run setup / teardown
# e2e_init: checks that the suite can run here (root, unshare, nsenter, mount namespaces),
# creates this run's $E2E_ROOT, cleans up after earlier runs that died without cleaning
# up, and installs e2e_cleanup_all as the EXIT trap (plus INT/TERM/HUP -> exit).
e2e_init() {
    local -; set +e +o pipefail
    if [ -n "${_E2E_INIT_DONE:-}" ]; then return 0; fi
    [ "$(id -u)" = 0 ] || e2e_skip "the e2e suite needs root (private libvirtd instances, namespaces)"
    local t
    for t in unshare nsenter setsid flock mount; do
        command -v "$t" >/dev/null || e2e_skip "$t not found (util-linux)"
    done
    unshare -m -u true 2>/dev/null || e2e_skip "unshare -m -u is not permitted here (no mount/UTS namespaces)"
    mkdir -p "$E2E_CACHE" || e2e_die "cannot create $E2E_CACHE"
    chmod 755 "$E2E_CACHE"
    _e2e_reap_stale_runs
    if [ -z "${E2E_ROOT:-}" ]; then
        E2E_ROOT=$(mktemp -d "$E2E_CACHE/run.XXXXXX") || e2e_die "mktemp in $E2E_CACHE failed"
    fi
    mkdir -p "$E2E_ROOT/images" || e2e_die "cannot create $E2E_ROOT"
    # qemu runs as libvirt-qemu: every directory on the way to images must be searchable
    chmod 755 "$E2E_ROOT" "$E2E_ROOT/images"
    # owner = this shell (pid + start time, so a reused pid is not mistaken for it)
    echo "$$ $(_e2e_starttime $$) $(readlink /proc/self/ns/pid)" > "$E2E_ROOT/owner"
    _E2E_INIT_DONE=1
    trap 'e2e_cleanup_all' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    e2e_log "run dir $E2E_ROOT (cache $E2E_CACHE)"
}

_e2e_starttime() { awk '{ sub(/^.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null; }

_e2e_need_init() {
    [ -n "${_E2E_INIT_DONE:-}" ] && return 0
    [ "${BASHPID:-$$}" = "$$" ] || e2e_die "call e2e_init first (not from a subshell)"
    e2e_init
}

# Runs whose owner shell is gone (killed with SIGKILL, machine crash...) leave daemons
# behind: bring their instances down (by their pid files) and delete their run dirs.
_e2e_reap_stale_runs() {
    local d owner pid st pidns
    for d in "$E2E_CACHE"/run.*; do
        [ -d "$d" ] || continue
        [ "$d" = "${E2E_ROOT:-}" ] && continue
        owner=$(cat "$d/owner" 2>/dev/null) || owner=""
        read -r pid st pidns <<< "$owner"
        # a run of another pid namespace (container): cannot tell, leave it alone
        [ -n "$pidns" ] && [ "$pidns" != "$(readlink /proc/self/ns/pid)" ] && continue
        if [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(_e2e_starttime "$pid")" = "$st" ]; then
            continue   # still running
        fi
        # a directory younger than a minute without owner file may be a run starting up
        if [ -z "$owner" ] && [ -n "$(find "$d" -maxdepth 0 -mmin -1)" ]; then continue; fi
        e2e_log "cleaning up stale run $d (owner ${pid:-unknown} gone)"
        ( E2E_ROOT=$d; _E2E_INIT_DONE=1; E2E_KEEP=; _e2e_cleanup_root ) || true
    done
}

# e2e_cleanup_all: brings down every host this run started, deletes this run's network
# namespaces and (unless E2E_KEEP=1) $E2E_ROOT. On a failing exit it first prints the
# tails of the daemons' logs. Installed as the EXIT trap by e2e_init.
e2e_cleanup_all() {
    local rc=$?
    local -; set +e +o pipefail
    [ -n "${E2E_ROOT:-}" ] && [ -d "$E2E_ROOT" ] || return 0
    if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then _e2e_dump_logs; fi
    e2e_log "cleanup: run $E2E_ROOT (exit status $rc)"
    _e2e_cleanup_root
    return 0
}

_e2e_cleanup_root() {
    local d
    for d in "$E2E_ROOT"/*/; do
        [ -f "$d/.e2e-host" ] && e2e_host_down "$(basename "$d")"
    done
    e2e_netns_down
    _e2e_leftovers_check
    if [ -n "${E2E_KEEP:-}" ]; then
        e2e_log "E2E_KEEP set: keeping $E2E_ROOT"
    else
        rm -rf "$E2E_ROOT"
    fi
}

# final check: nothing of this run's hosts may be left running
_e2e_leftovers_check() {
    local d pids found=0
    for d in "$E2E_ROOT"/*/; do
        [ -f "$d/.e2e-host" ] || continue
        pids=$(e2e_host_pids "$(basename "$d")")
        [ -z "$pids" ] && continue
        e2e_log "WARNING: host $(basename "$d"): processes left: $pids"
        found=1
    done
    return $found
}

_e2e_dump_logs() {
    local f
    for f in "$E2E_ROOT"/*/log/libvirtd.log "$E2E_ROOT"/*/log/virtlogd.log \
             "$E2E_ROOT"/*/log/e2e-daemons.log "$E2E_ROOT"/*/log/qemu/*.log; do
        # never follow a symlink planted by a test (confinement tests point at /etc/shadow)
        [ -f "$f" ] && [ ! -L "$f" ] && [ -s "$f" ] || continue
        printf -- '----- tail of %s\n' "$f" >&2
        tail -n 15 "$f" | cut -c1-300 >&2
    done
}

# ---------------------------------------------------------------- packages
# What the suite installs (apt-get --no-install-recommends), one reason each. None of these
# packages ships a service unit or an init script, and their maintainer scripts only add
# the users dnsmasq (dnsmasq-base) and the group rdma (libibverbs1, a QEMU library), and
# register alternatives (iptables); see e2e_install for the guard against services anyway.
#   libvirt-daemon              libvirtd, virtlogd, and the network driver (libvirt networks)
#   libvirt-daemon-driver-qemu  libvirtd's QEMU driver
#   libvirt-clients             virsh
#   qemu-system-x86             QEMU, TCG (its Recommends - GUI, OVMF, block-extra - are not needed)
#   qemu-utils                  qemu-img, for the guests' qcow2 disks
#   tini                        a child subreaper (tini -s) under each host's daemons
#   iproute2                    ip: network namespaces, veth links, bridges, link up/down
#   dnsmasq-base                DHCP of libvirt networks (e2e_net_dhcp_up)
#   iptables                    libvirt's network driver applies its rules even for an
#                               isolated network ("cannot execute /usr/sbin/iptables" without)
# libvirt-daemon-system is deliberately NOT installed: it only adds /etc/libvirt's default
# files (each host writes its own), the libvirt-qemu account (each host gets one in a
# private /etc/passwd when the machine has none, see _e2e_host_accounts), and systemd units
# that its postinst enables (libvirtd.service, libvirt-guests.service, the libvirtd,
# virtlogd and virtlockd sockets) and pulls systemd-sysv, polkitd and more. The suite
# works the same whether the machine has it or not.
# Downloaded (apt-get download), never installed: the guest kernel (linux-image-*-cloud-amd64),
# busybox-static and, for the agent guest, qemu-guest-agent (+ its libraries if missing here).
E2E_PACKAGES="libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86
qemu-utils tini iproute2 dnsmasq-base iptables"
# Where packages' maintainer scripts enable services: systemd's enablement symlinks
# (system and global user units) and SysV runlevel links
E2E_SERVICE_LINK_DIRS="/etc/systemd/system /etc/systemd/user /etc/rc0.d /etc/rc1.d /etc/rc2.d
/etc/rc3.d /etc/rc4.d /etc/rc5.d /etc/rc6.d /etc/rcS.d"

_e2e_apt_updated=""
_e2e_apt_update() {
    [ -n "$_e2e_apt_updated" ] && return 0
    e2e_log "apt-get update"
    if ! DEBIAN_FRONTEND=noninteractive apt-get update -q -o DPkg::Lock::Timeout=300 >&2; then
        e2e_skip "apt-get update failed (no network to the package mirror?)"
    fi
    _e2e_apt_updated=1
}

# _e2e_service_links: every symlink in E2E_SERVICE_LINK_DIRS, "PATH -> TARGET", sorted
_e2e_service_links() {
    local d
    for d in $E2E_SERVICE_LINK_DIRS; do
        [ -d "$d" ] && find "$d" -type l -printf '%p -> %l\n' 2>/dev/null
    done | LC_ALL=C sort
}

# e2e_install: installs the packages of E2E_PACKAGES that are missing, without their
# Recommends, and without letting any maintainer script start or enable a service:
#   - a temporary /usr/sbin/policy-rc.d answering 101 ("action forbidden") while apt runs
#     (invoke-rc.d and deb-systemd-invoke obey it: nothing is started), unless the machine
#     already has one (then it is left alone);
#   - deb-systemd-helper enables units whatever policy-rc.d says: the enablement links that
#     appeared during the install (in E2E_SERVICE_LINK_DIRS) are removed afterwards, so the
#     machine's service configuration is what it was (deb-systemd-helper's state keeps the
#     unit known as installed-but-disabled, as after `systemctl disable`).
# Installs of concurrent runs are serialized ($E2E_CACHE/.apt.lock). The machine's own
# libvirt, if any, is never started, stopped or reconfigured.
e2e_install() {
    local -; set +e +o pipefail
    local p missing=()
    for p in $E2E_PACKAGES; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || missing+=("$p")
    done
    if [ ${#missing[@]} = 0 ]; then
        e2e_log "packages: all present"
        return 0
    fi
    command -v apt-get >/dev/null || e2e_skip "missing packages (${missing[*]}) and no apt-get"
    [ "$(id -u)" = 0 ] || e2e_skip "missing packages (${missing[*]}) and not root"
    mkdir -p "$E2E_CACHE" || return 1
    (
        exec 9> "$E2E_CACHE/.apt.lock"
        flock 9
        _e2e_install_guarded "${missing[@]}"
    )
    local rc=$?
    [ $rc = 77 ] && exit 77   # e2e_skip inside the subshell
    return $rc
}

# _e2e_install_guarded PKG...: apt-get install under the policy-rc.d + links guard
_e2e_install_guarded() {
    local before after added l rc
    # (not local: the EXIT trap of the subshell may run after this function returned)
    _e2e_prc=/usr/sbin/policy-rc.d _e2e_prc_ours=""
    _e2e_apt_update
    before=$(_e2e_service_links)
    if [ ! -e "$_e2e_prc" ]; then
        # removed however this subshell ends
        trap '[ -n "$_e2e_prc_ours" ] && rm -f "$_e2e_prc"' EXIT
        printf '#!/bin/sh\n# domfs e2e (tests/e2e/harness.sh): no service starts during its apt-get install\nexit 101\n' > "$_e2e_prc" &&
            chmod 755 "$_e2e_prc" && _e2e_prc_ours=1
    else
        e2e_log "$_e2e_prc exists already: left as it is"
    fi
    e2e_log "apt-get install --no-install-recommends $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=300 \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" >&2
    rc=$?
    if [ -n "$_e2e_prc_ours" ]; then rm -f "$_e2e_prc"; _e2e_prc_ours=""; fi
    after=$(_e2e_service_links)
    added=$(comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed '/^$/d')
    if [ -n "$added" ]; then
        while IFS= read -r l; do
            e2e_log "install enabled a service: removing the link ${l%% -> *} (-> ${l#* -> })"
            rm -f -- "${l%% -> *}"
        done <<< "$added"
    fi
    [ $rc = 0 ] || e2e_skip "apt-get install $* failed"
    return 0
}

# ---------------------------------------------------------------- the guest
# Text of the guest's /init (PID 1 of the initramfs). Kernel arguments it understands:
#   tickpad=N      pad every tick line with N 'x' (fills console logs fast)
#   e2e.noacpid    do not start acpid: the ACPI power button (virsh shutdown) is ignored
# _e2e_guest_init agent: the agent guest's /init: the same, plus `. /etc/e2e-agent.sh`
# (see _e2e_agent_sh) before the tick loop.
_e2e_guest_init() {
    cat <<'EOF'
#!/bin/busybox sh
# domfs e2e guest: PID 1 of a busybox initramfs
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "INIT: userspace at $(cut -d' ' -f1 /proc/uptime)s"
while read -r m; do
    insmod "/lib/mod/$m" 2>/dev/null || echo "INIT: insmod $m failed"
done < /lib/mod/order
# the power button's input device appears asynchronously
i=0; while [ ! -e /dev/input/event0 ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done
echo "INIT: block devices: $(ls /sys/block | tr '\n' ' ')"
trap 'echo "INIT: SIGTERM, powering off"; sync; poweroff -f' TERM
case " $(cat /proc/cmdline) " in
    *" e2e.noacpid "*) echo "INIT: acpid not started (e2e.noacpid)";;
    *) acpid -c /etc/acpi -l /tmp/acpid.log -p /tmp/acpid.pid && echo "INIT: acpid started";;
esac
EOF
    [ "${1:-}" = agent ] && printf '%s\n' '. /etc/e2e-agent.sh'
    cat <<'EOF'
pad=""
for a in $(cat /proc/cmdline); do
    case $a in tickpad=*) pad=" $(head -c "${a#tickpad=}" /dev/zero | tr '\0' x)";; esac
done
n=0
while :; do
    n=$((n+1))
    echo "tick $n up=$(cut -d' ' -f1 /proc/uptime)$pad"
    sleep 0.2
done
EOF
}

# busybox acpid runs /etc/acpi/<ACTION>/<EVENT>; PWRF/00000080 is the power button
_e2e_guest_pwrbtn() {
    cat <<'EOF'
#!/bin/sh
echo "ACPI: power button -> poweroff" > /dev/console
kill -TERM 1
EOF
}

# /etc/e2e-agent.sh of the agent guest, sourced by its /init (PID 1) before the tick loop.
# Kernel arguments:
#   e2e.hostname=NAME   the guest's hostname (default domfs-guest); also sent as the DHCP
#                       hostname option
#   e2e.noheartbeat     no heartbeat (otherwise: every second a write + sync to /mnt and a
#                       ping to the DHCP server, so that block and net counters grow)
# Console lines it prints (tests wait for them): "INIT: /dev/vda (ext2) mounted on /mnt",
# "INIT: qemu-ga started", "INIT: dhcp bound IP/LEN on eth0", "INIT: heartbeat started".
_e2e_agent_sh() {
    cat <<'EOF'
# domfs e2e agent guest: hostname, utmp, /mnt, qemu-ga, DHCP, heartbeat
hn=domfs-guest
for a in $(cat /proc/cmdline); do
    case $a in e2e.hostname=*) hn=${a#e2e.hostname=};; esac
done
hostname "$hn"; echo "$hn" > /etc/hostname
ip link set lo up
# utmp (/var/run/utmp = /run/utmp): one USER_PROCESS record, root on ttyS0, so that
# guest-get-users lists root. struct utmpx of x86_64 glibc, 384 bytes, little-endian.
e2e_le32() {
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $(($1 >> 8 & 255)) \
        $(($1 >> 16 & 255)) $(($1 >> 24 & 255)))"
}
e2e_field() { printf '%s' "$1"; head -c $(($2 - ${#1})) /dev/zero; }
{
    printf '\007\000\000\000'                  # ut_type = USER_PROCESS, padding
    e2e_le32 $$                                # ut_pid
    e2e_field ttyS0 32; e2e_field S0 4         # ut_line, ut_id
    e2e_field root 32; e2e_field "" 256        # ut_user, ut_host
    e2e_le32 0; e2e_le32 0                     # ut_exit, ut_session
    e2e_le32 "$(date +%s)"; e2e_le32 0         # ut_tv
    head -c 36 /dev/zero                       # ut_addr_v6, reserved
} > /run/utmp
# the disk: ext2 on /dev/vda (formatted at its first boot), mounted on /mnt before the
# agent starts, so that its first guest-get-fsinfo lists it
if [ -b /dev/vda ]; then
    if ! mount -t ext2 /dev/vda /mnt 2>/dev/null; then
        mke2fs -L e2e /dev/vda >/dev/null 2>&1 && mount -t ext2 /dev/vda /mnt
    fi && echo "INIT: /dev/vda (ext2) mounted on /mnt"
fi
# /dev/virtio-ports/NAME links (udev makes them on a full system; devtmpfs does not),
# once the ports of a virtio-serial device (virtio id 3) have their names
mkdir -p /dev/virtio-ports
i=0
while [ $i -lt 50 ] && grep -qsx 0x0003 /sys/bus/virtio/devices/*/device &&
      ! grep -qs . /sys/class/virtio-ports/*/name; do
    sleep 0.1; i=$((i+1))
done
for p in /sys/class/virtio-ports/*; do
    n=$(cat "$p/name" 2>/dev/null)
    [ -n "$n" ] && ln -sf "../${p##*/}" "/dev/virtio-ports/$n"
done
if [ -e /dev/virtio-ports/org.qemu.guest_agent.0 ]; then
    /usr/sbin/qemu-ga -d -m virtio-serial -p /dev/virtio-ports/org.qemu.guest_agent.0 \
        -l /tmp/qemu-ga.log -f /run/qemu-ga.pid &&
        echo "INIT: qemu-ga started at $(cut -d' ' -f1 /proc/uptime)s"
else
    echo "INIT: no org.qemu.guest_agent.0 port: qemu-ga not started"
fi
# DHCP on eth0: udhcpc stays in the foreground of its own background job and renews;
# /etc/udhcpc.sh applies the lease
i=0
while [ $i -lt 50 ] && grep -qsx 0x0001 /sys/bus/virtio/devices/*/device &&
      [ ! -e /sys/class/net/eth0 ]; do
    sleep 0.1; i=$((i+1))
done
if [ -e /sys/class/net/eth0 ]; then
    udhcpc -f -i eth0 -s /etc/udhcpc.sh -x "hostname:$hn" -T 1 -t 10 -A 3 \
        > /tmp/udhcpc.log 2>&1 &
else
    echo "INIT: no eth0: no DHCP"
fi
case " $(cat /proc/cmdline) " in
    *" e2e.noheartbeat "*) ;;
    *)  ( while :; do
              date > /mnt/.e2e-heartbeat 2>/dev/null && sync
              s=$(cat /run/dhcp-server 2>/dev/null)
              [ -n "$s" ] && ping -c 1 -W 1 "$s" >/dev/null 2>&1
              sleep 1
          done ) &
        echo "INIT: heartbeat started";;
esac
EOF
}

# busybox udhcpc's script: $1 = deconfig|bound|renew|leasefail|nak; the lease in $ip,
# $mask, $router, $dns, $serverid
_e2e_agent_udhcpc() {
    cat <<'EOF'
#!/bin/sh
case $1 in
    deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up;;
    bound|renew)
        if ! ip -4 addr show dev "$interface" | grep -q "inet $ip/"; then
            ip -4 addr flush dev "$interface"
            ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast $broadcast} dev "$interface"
            echo "INIT: dhcp $1 $ip/${mask:-24} on $interface at $(cut -d' ' -f1 /proc/uptime)s" > /dev/console
        fi
        if [ -n "$router" ]; then
            ip route del default 2>/dev/null
            ip route add default via "${router%% *}" dev "$interface"
        fi
        echo "${serverid:-}" > /run/dhcp-server
        : > /etc/resolv.conf
        for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done;;
esac
exit 0
EOF
}

# qemu-ga's guest-shutdown runs `/sbin/shutdown -h|-P|-H|-r +0 MESSAGE`; busybox has none
_e2e_agent_shutdown() {
    cat <<'EOF'
#!/bin/sh
case " $* " in
    *" -r "*) (sleep 0.3; echo "shutdown: reboot" > /dev/console; sync; reboot -f) &;;
    *) (sleep 0.3; kill -TERM 1) &;;
esac
exit 0
EOF
}

_e2e_agent_os_release() {
    cat <<'EOF'
PRETTY_NAME="domfs e2e agent guest (busybox initramfs, Debian kernel)"
NAME="domfs-e2e-guest"
ID=domfs-e2e-guest
ID_LIKE=debian
VERSION_ID="1"
VERSION="1"
EOF
}

_e2e_guest_stamp() {
    if [ "${1:-}" = agent ]; then
        { echo "agent recipe $E2E_AGENT_RECIPE modules $E2E_GUEST_MODULES $E2E_AGENT_MODULES"
          _e2e_guest_init agent; _e2e_guest_pwrbtn; _e2e_agent_sh; _e2e_agent_udhcpc
          _e2e_agent_shutdown; _e2e_agent_os_release; } | md5sum | cut -d' ' -f1
        return
    fi
    { echo "recipe $E2E_GUEST_RECIPE modules $E2E_GUEST_MODULES"; _e2e_guest_init; _e2e_guest_pwrbtn; } |
        md5sum | cut -d' ' -f1
}

# _e2e_apt_download PKG DIR: fetches PKG's .deb into DIR unless one is there already
_e2e_apt_download() {
    local pkg=$1 dir=$2
    if ls "$dir/${pkg}"_*.deb >/dev/null 2>&1; then return 0; fi
    e2e_log "apt-get download $pkg"
    (cd "$dir" && apt-get download -q "$pkg" >&2 2>&1) && return 0
    _e2e_apt_update
    (cd "$dir" && apt-get download -q "$pkg" >&2 2>&1) ||
        e2e_skip "apt-get download $pkg failed (no network to the package mirror?)"
}

# e2e_guest_build [--agent] [DIR]: builds the tiny guest into DIR, only when DIR does not
# already hold one built by this recipe.
#   plain (default DIR $DOMFS_E2E_CACHE/guest, sets E2E_GUEST_DIR=DIR): vmlinuz, initrd.gz
#     (busybox initramfs, see _e2e_guest_init), media-a.raw and media-b.raw (raw files to
#     use as cdrom media).
#   --agent (default DIR $DOMFS_E2E_CACHE/guest-agent, sets E2E_AGENT_GUEST_DIR=DIR): the
#     same plus qemu-guest-agent (qemu-ga from its Debian package and the shared libraries
#     it needs) and the modules virtio_console and virtio_balloon; its /init also sets a
#     hostname, writes a utmp record, mounts an ext2 /dev/vda on /mnt, starts qemu-ga and
#     udhcpc (see _e2e_agent_sh). Use it with e2e_domain_xml --agent.
e2e_guest_build() {
    local -; set +e +o pipefail
    local agent=""
    [ "${1:-}" = --agent ] && { agent=1; shift; }
    local out stamp
    if [ -n "$agent" ]; then
        out=${1:-$E2E_AGENT_GUEST_DIR}; stamp=$(_e2e_guest_stamp agent)
    else
        out=${1:-$E2E_GUEST_DIR}; stamp=$(_e2e_guest_stamp)
    fi
    if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ]; then
        e2e_log "guest${agent:+ (agent)}: cached in $out"
        _e2e_guest_set_dir "$agent" "$out"
        return 0
    fi
    mkdir -p "$E2E_CACHE/dl" || return 1
    (
        set -e
        exec 9> "$E2E_CACHE/.guest.lock"
        flock 9
        # someone else may have built it while we waited for the lock
        if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then exit 0; fi
        e2e_log "guest${agent:+ (agent)}: building into $out"
        command -v apt-get >/dev/null || e2e_skip "no apt-get to fetch a guest kernel"
        dl=$E2E_CACHE/dl
        kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
        if [ -z "$kpkg" ]; then
            _e2e_apt_update
            kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
        fi
        [ -n "$kpkg" ] || e2e_skip "apt knows no linux-image-cloud-amd64 (not Debian/amd64?)"
        _e2e_apt_download "$kpkg" "$dl"
        _e2e_apt_download busybox-static "$dl"
        kver=${kpkg#linux-image-}
        work=$E2E_CACHE/build.$$
        rm -rf "$work"; mkdir -p "$work"
        trap 'rm -rf "$work"' EXIT
        dpkg -x "$(ls "$dl/${kpkg}"_*.deb | tail -1)" "$work/k"
        dpkg -x "$(ls "$dl"/busybox-static_*.deb | tail -1)" "$work/bb"
        bb=$work/bb/bin/busybox
        [ -x "$bb" ] || { e2e_log "busybox-static has no bin/busybox"; exit 1; }
        r=$work/root
        mkdir -p "$r"/{bin,proc,sys,dev,tmp,etc/acpi/PWRF,lib/mod}
        cp "$bb" "$r/bin/busybox"
        _e2e_guest_init ${agent:+agent} > "$r/init"
        _e2e_guest_pwrbtn > "$r/etc/acpi/PWRF/00000080"
        chmod 755 "$r/init" "$r/etc/acpi/PWRF/00000080"
        # kernel modules, each after its dependencies. The package has no modules.dep (depmod
        # makes it at install time, and kmod may not be installed): read each module's
        # "depends=" from its .modinfo section instead.
        mdir=$work/k/lib/modules/$kver
        declare -A modpath=() seen=()
        while IFS= read -r -d '' p; do
            b=${p##*/}; b=${b%%.ko*}; modpath[${b//-/_}]=$p
        done < <(find "$mdir" -name '*.ko*' -print0)
        : > "$r/lib/mod/order"
        addmod() {
            local m=${1//-/_} f deps dep
            [ -n "${seen[$m]:-}" ] && return 0
            seen[$m]=1
            f=${modpath[$m]:-}
            if [ -z "$f" ]; then
                grep -qE "/(${m}|${m//_/-})\.ko" "$mdir/modules.builtin" 2>/dev/null ||
                    e2e_log "guest: WARNING: kernel module $m not found"
                return 0
            fi
            case $f in
                *.ko.xz)  xz -dc "$f";;
                *.ko.zst) zstd -qdc "$f";;
                *.ko.gz)  gzip -dc "$f";;
                *)        cat "$f";;
            esac > "$r/lib/mod/$m.ko"
            deps=$(grep -m1 -aoE 'depends=[A-Za-z0-9_,-]*' "$r/lib/mod/$m.ko" || true)
            deps=${deps#depends=}
            for dep in ${deps//,/ }; do addmod "$dep"; done
            echo "$m.ko" >> "$r/lib/mod/order"
        }
        for m in $E2E_GUEST_MODULES ${agent:+$E2E_AGENT_MODULES}; do addmod "$m"; done
        [ -n "$agent" ] && _e2e_agent_tree "$r" "$dl" "$work"
        new=$out.new.$$
        rm -rf "$new"; mkdir -p "$new"
        cp "$work/k/boot/vmlinuz-$kver" "$new/vmlinuz"
        (cd "$r" && find . | "$bb" cpio -o -H newc -R 0:0 2>/dev/null | gzip -9) > "$new/initrd.gz"
        for m in a b; do   # cdrom "media": raw files with a recognisable first sector
            printf 'DOMFS-E2E-MEDIA-%s\n' "$m" > "$new/media-$m.raw"
            truncate -s 1M "$new/media-$m.raw"
        done
        echo "$kpkg" > "$new/kernel-package"
        echo "$stamp" > "$new/.stamp"
        chmod 755 "$new"; chmod 644 "$new"/*
        rm -rf "$out"; mv "$new" "$out"
        e2e_log "guest${agent:+ (agent)}: built ($kpkg, initrd $(stat -c %s "$out/initrd.gz") bytes, modules: $(tr '\n' ' ' < "$r/lib/mod/order"))"
    )
    local rc=$?
    [ $rc = 77 ] && exit 77   # e2e_skip inside the subshell
    [ $rc = 0 ] || { e2e_log "guest: build failed"; return 1; }
    _e2e_guest_set_dir "$agent" "$out"
}

_e2e_guest_set_dir() {
    if [ -n "$1" ]; then E2E_AGENT_GUEST_DIR=$2; else E2E_GUEST_DIR=$2; fi
}

# _e2e_agent_tree ROOT DL WORK: adds the agent guest's files to the initramfs tree ROOT:
# qemu-ga from the qemu-guest-agent package with every shared library it needs (this
# machine's copies when ldd finds them all, else those of the library packages, downloaded
# into DL), /etc/e2e-agent.sh, /etc/udhcpc.sh, /sbin/shutdown, /sbin/hwclock,
# /etc/os-release. Runs in e2e_guest_build's subshell (set -e).
_e2e_agent_tree() {
    local r=$1 dl=$2 work=$3 q libp="" p a b c rest
    _e2e_apt_download qemu-guest-agent "$dl"
    dpkg -x "$(ls "$dl"/qemu-guest-agent_*.deb | tail -1)" "$work/qga"
    q=$work/qga/usr/sbin/qemu-ga
    [ -x "$q" ] || { e2e_log "qemu-guest-agent has no usr/sbin/qemu-ga"; return 1; }
    mkdir -p "$r"/{usr/sbin,sbin,lib/x86_64-linux-gnu,lib64,run,var,mnt}
    ln -s ../run "$r/var/run"
    cp "$q" "$r/usr/sbin/qemu-ga"
    if ldd "$q" | grep -q 'not found'; then
        e2e_log "guest: some libraries of qemu-ga are not on this machine: downloading them"
        for p in $(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts \
                       --no-breaks --no-replaces --no-enhances qemu-guest-agent 2>/dev/null |
                   grep -E '^lib' | sort -u | grep -vxE 'libc6|libgcc-s1'); do
            _e2e_apt_download "$p" "$dl"
            dpkg -x "$(ls "$dl/${p}"_*.deb | tail -1)" "$work/qga-libs"
        done
        libp=$work/qga-libs/lib/x86_64-linux-gnu:$work/qga-libs/usr/lib/x86_64-linux-gnu
    fi
    # "libX.so.N => /path (0x...)" and the loader "/lib64/ld-linux-x86-64.so.2 (0x...)"
    while read -r a b c rest; do
        if [ "$b" = "=>" ]; then
            [ -f "$c" ] || { e2e_log "qemu-ga: $a not found"; return 1; }
            cp -L "$c" "$r/lib/x86_64-linux-gnu/$a"
        elif [ "${a#/}" != "$a" ]; then
            mkdir -p "$r${a%/*}"; cp -L "$a" "$r$a"
        fi
    done < <(LD_LIBRARY_PATH=$libp ldd "$q")
    # it must run with the copied files alone
    chroot "$r" /usr/sbin/qemu-ga -V >/dev/null 2>&1 ||
        { e2e_log "qemu-ga does not run inside the guest tree"; return 1; }
    _e2e_agent_sh > "$r/etc/e2e-agent.sh"
    _e2e_agent_udhcpc > "$r/etc/udhcpc.sh"
    _e2e_agent_shutdown > "$r/sbin/shutdown"
    _e2e_agent_os_release > "$r/etc/os-release"
    chmod 755 "$r/etc/udhcpc.sh" "$r/sbin/shutdown"
    ln -s ../bin/busybox "$r/sbin/hwclock"   # guest-set-time (virsh domtime --sync)
}

# ---------------------------------------------------------------- private libvirt hosts
_e2e_hostdir() { echo "$E2E_ROOT/$1"; }

# e2e_host_uri NAME: the URI that reaches host NAME's libvirtd from this (the real) host
e2e_host_uri() { echo "qemu+unix:///system?socket=$E2E_ROOT/$1/run/libvirt-sock"; }
# e2e_host_test_uri NAME: the same daemon's test driver (test:///default, shared by every
# client of that daemon while one is connected)
e2e_host_test_uri() { echo "test+unix:///default?socket=$E2E_ROOT/$1/run/libvirt-sock"; }
# e2e_host_logdir NAME: host-side path of that instance's /var/log/libvirt
e2e_host_logdir() { echo "$E2E_ROOT/$1/log"; }
# e2e_host_pid NAME: pid of the instance's libvirtd (empty and rc 1 if it is not up)
e2e_host_pid() { _e2e_pidfile "$E2E_ROOT/$1/run/libvirtd.pid" libvirtd; }

# e2e_virsh NAME ARGS...: virsh -c <host NAME's URI> ARGS (from the real host)
e2e_virsh() {
    local -; set +e +o pipefail
    local h=$1; shift
    e2e_log "virsh[$h] $*"
    virsh -q -c "$(e2e_host_uri "$h")" "$@"
}

# e2e_host_exec NAME CMD...: runs CMD inside host NAME's namespaces (mount, UTS, network),
# where /var/log/libvirt etc. are that instance's
e2e_host_exec() {
    local -; set +e +o pipefail
    local h=$1 pid; shift
    pid=$(e2e_host_pid "$h") || { e2e_log "host $h is not up"; return 1; }
    e2e_log "exec[$h] $*"
    nsenter -t "$pid" -m -u -n "$@"
}

# QEMU (user libvirt-qemu, group kvm) must be able to open /dev/kvm, else libvirt decides
# on every API call that its cached QEMU capabilities are stale and re-probes (7-40 s).
_e2e_fix_kvm_perms() {
    [ -c /dev/kvm ] || return 0
    getent group kvm >/dev/null || return 0
    if [ "$(stat -c '%G %a' /dev/kvm)" != "kvm 660" ]; then
        e2e_log "/dev/kvm: $(stat -c '%U:%G %a' /dev/kvm) -> root:kvm 660"
        chown root:kvm /dev/kvm && chmod 0660 /dev/kvm
    fi
}

# Debian's QEMU driver runs QEMU as libvirt-qemu:libvirt-qemu and looks that account up
# before it even reads qemu.conf: without it the driver does not load ("Failed to parse
# user 'libvirt-qemu'"). libvirt-daemon-system's postinst creates it; when the machine has
# no such account, the host gets one in its own /etc/passwd and /etc/group (copies of the
# machine's plus the account, bind-mounted in the host's mount namespace only), so the
# machine's accounts stay as they are. _e2e_host_accounts DIR writes DIR/passwd and
# DIR/group when needed; prints "passwd group" (the files to bind) or nothing.
_e2e_host_accounts() {
    local b=$1 uid=64055 gid=64055
    getent passwd libvirt-qemu >/dev/null && getent group libvirt-qemu >/dev/null && return 0
    # the uid/gid the package would use, or the first free one above it
    while getent passwd "$uid" >/dev/null; do uid=$((uid + 1)); done
    while getent group "$gid" >/dev/null; do gid=$((gid + 1)); done
    getent group libvirt-qemu >/dev/null && gid=$(getent group libvirt-qemu | cut -d: -f3)
    cp /etc/passwd "$b/passwd" && cp /etc/group "$b/group" || return 1
    getent passwd libvirt-qemu >/dev/null ||
        echo "libvirt-qemu:x:$uid:$gid:Libvirt Qemu (domfs e2e host):/var/lib/libvirt:/usr/sbin/nologin" >> "$b/passwd"
    getent group libvirt-qemu >/dev/null || echo "libvirt-qemu:x:$gid:libvirt-qemu" >> "$b/group"
    chmod 644 "$b/passwd" "$b/group"
    echo "passwd group"
}

# e2e_host_up NAME [--lan | --ownnet | --netns NS] [--listen ADDR] [--testonly]
#             [--logmax BYTES] [--logbackups N] [--portmin N]
#   Starts host NAME: virtlogd + libvirtd (under tini -s, a child subreaper, so QEMU's
#   zombies are reaped at once) in a new mount + UTS namespace (hostname NAME).
#   Network: the machine's by default; --netns NS: inside network namespace NS;
#   --ownnet: inside a network namespace of its own (only lo; for e2e_net_dhcp_up);
#   --lan: on the run's LAN (see e2e_lan_up): own network namespace, an address of the
#   LAN, libvirtd listening on it (tcp 16509, no authentication: tests only), reachable
#   from here as e2e_host_tcp_uri NAME, cut with e2e_link_cut.
#   --listen ADDR: also listen on tcp ADDR:16509 without authentication.
#   --testonly: libvirtd loads no driver module (no QEMU, no network driver), no virtlogd:
#   a light daemon serving only libvirt's test driver (e2e_host_test_uri), for fleets.
#   --logmax/--logbackups: virtlogd's max_size (default 131072) / max_backups (default 3).
#   --portmin: first QEMU migration port (default: distinct per host of this run).
e2e_host_up() {
    local -; set +e +o pipefail
    _e2e_need_init
    local name=${1:?e2e_host_up NAME}; shift
    local netns="" listen="" net="" testonly="" logmax=131072 logbackups=3 portmin="" b i t0
    while [ $# -gt 0 ]; do
        case $1 in
            --netns) netns=$2; shift 2;;
            --listen) listen=$2; shift 2;;
            --lan) net=lan; shift;;
            --ownnet) net=own; shift;;
            --testonly) testonly=1; shift;;
            --logmax) logmax=$2; shift 2;;
            --logbackups) logbackups=$2; shift 2;;
            --portmin) portmin=$2; shift 2;;
            *) e2e_log "e2e_host_up: unknown option $1"; return 2;;
        esac
    done
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]] || { e2e_log "bad host name '$name'"; return 2; }
    b=$(_e2e_hostdir "$name")
    if e2e_host_pid "$name" >/dev/null; then
        e2e_log "host $name: already up (libvirtd pid $(e2e_host_pid "$name"))"
        return 0
    fi
    t0=$(e2e_now)
    command -v libvirtd >/dev/null || { e2e_log "libvirtd not installed (e2e_install)"; return 1; }
    [ -n "$testonly" ] || command -v virtlogd >/dev/null || { e2e_log "virtlogd not installed (e2e_install)"; return 1; }
    command -v tini >/dev/null || { e2e_log "tini not installed (e2e_install)"; return 1; }
    case $net in
        lan) _e2e_lan_host "$name" || return 1
             netns=$(_e2e_lan_get "$name" netns); listen=${listen:-$(_e2e_lan_get "$name" addr)};;
        own) netns=$(_e2e_netns_name "$name"); _e2e_netns_new "$netns" || return 1;;
    esac
    if [ -n "$netns" ] && [ ! -e "/run/netns/$netns" ]; then
        e2e_log "e2e_host_up: no network namespace $netns (e2e_netns_up)"; return 2
    fi
    [ -n "$testonly" ] || _e2e_fix_kvm_perms
    if [ -z "$portmin" ]; then
        i=$(find "$E2E_ROOT" -mindepth 2 -maxdepth 2 -name .e2e-host | wc -l)
        portmin=$(( 49152 + 128 * i ))
    fi
    e2e_log "host $name: starting (${testonly:+test driver only, }netns ${netns:-none}, listen ${listen:-no}, virtlogd max_size $logmax max_backups $logbackups, migration ports $portmin+)"
    [ -d "$b" ] && e2e_host_down "$name" >/dev/null 2>&1
    rm -rf "$b"
    mkdir -p "$b"/{run,lib,cache,log} || return 1
    chmod 755 "$b"
    _e2e_host_etc "$name" "$listen" "$testonly" "$logmax" "$logbackups" "$portmin" || return 1
    [ -n "$testonly" ] || _e2e_host_state_dirs "$b"
    # /etc/hosts with the instance's own name: libvirt resolves its hostname (for
    # `virsh hostname`, migration) and a DNS lookup of NAME may take seconds to fail
    { cat /etc/hosts 2>/dev/null; echo "${listen:-127.0.1.1} $name"; } > "$b/hosts"
    # mount points for the bind mounts (a machine without a running libvirtd may lack some)
    local d
    for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
        [ -d "$d" ] || { e2e_log "mkdir $d (mount point)"; mkdir -p "$d"; }
    done
    : > "$b/.e2e-host"
    [ -n "$netns" ] && echo "$netns" > "$b/netns"
    [ -n "$testonly" ] && : > "$b/.testonly"
    _e2e_host_spawn "$name" "$netns" "$listen" "$testonly" || return 1
    _e2e_host_ready "$name" || return 1
    e2e_log "host $name: up in $(e2e_since "$t0") s (libvirtd $(e2e_host_pid "$name"), virtlogd $(_e2e_pidfile "$b/run/virtlogd.pid" virtlogd || echo none), tini $(cat "$b/run/e2e-tini.pid"))"
    e2e_log "host $name: $(_e2e_host_main_uri "$name")${listen:+ and tcp $listen}"
}

# the URI e2e_host_up checks a host with: QEMU's, or the test driver's (--testonly)
_e2e_host_main_uri() {
    if [ -e "$E2E_ROOT/$1/.testonly" ]; then e2e_host_test_uri "$1"; else e2e_host_uri "$1"; fi
}

# _e2e_host_etc NAME LISTEN TESTONLY LOGMAX LOGBACKUPS PORTMIN: the host's /etc/libvirt
_e2e_host_etc() {
    local name=$1 listen=$2 testonly=$3 logmax=$4 logbackups=$5 portmin=$6 b f
    b=$(_e2e_hostdir "$name")
    if [ -n "$testonly" ]; then
        mkdir -p "$b/etc" "$b/no-drivers" || return 1
    elif [ -d /etc/libvirt ]; then
        # a copy of the machine's /etc/libvirt without its guests, networks, pools and
        # hooks; the daemons' own files start empty (= libvirt's defaults, whatever the
        # machine's say: libvirt's config reader takes the first of duplicate settings)
        cp -a /etc/libvirt "$b/etc" || return 1
        rm -rf "$b"/etc/qemu/*.xml "$b"/etc/qemu/autostart/*.xml \
              "$b"/etc/qemu/networks/*.xml "$b"/etc/qemu/networks/autostart/*.xml \
              "$b"/etc/storage/*.xml "$b"/etc/storage/autostart/*.xml \
              "$b"/etc/nodedev/*.xml "$b"/etc/secrets/* "$b"/etc/hooks/* 2>/dev/null
    else
        mkdir -p "$b/etc" || return 1
    fi
    for f in libvirtd.conf qemu.conf virtlogd.conf; do
        printf '# %s of e2e host %s (domfs tests/e2e/harness.sh)\n' "$f" "$name" > "$b/etc/$f"
    done
    cat >> "$b/etc/libvirtd.conf" <<EOF
host_uuid = "$(cat /proc/sys/kernel/random/uuid)"
log_filters = "3:remote 4:event 3:util.json 3:util.object 3:util.dbus 3:rpc 4:util.threadjob 3:access 3:util.netlink"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    if [ -n "$listen" ]; then
        cat >> "$b/etc/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 1
listen_addr = "$listen"
auth_tcp = "none"
EOF
    fi
    # cgroup_controllers = [ ]: two instances would otherwise fight over the same
    # machine/qemu-ID-NAME cgroups
    cat >> "$b/etc/qemu.conf" <<EOF
cgroup_controllers = [ ]
migration_port_min = $portmin
migration_port_max = $(( portmin + 63 ))
EOF
    cat >> "$b/etc/virtlogd.conf" <<EOF
max_size = $logmax
max_backups = $logbackups
log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
EOF
}

# _e2e_host_state_dirs DIR: DIR/{lib,cache,log}: the same directory tree (directories only,
# same owners and modes) as the machine's /var/lib/libvirt etc. when it has them, plus what
# QEMU guests need; QEMU capabilities probed by an earlier instance
_e2e_host_state_dirs() {
    local b=$1 d
    for d in lib:/var/lib/libvirt cache:/var/cache/libvirt log:/var/log/libvirt; do
        [ -d "${d#*:}" ] || continue
        (cd "${d#*:}" && find . \( -name 'domain-*' -o -name images \) -prune -o -type d -print0 |
            tar --null --no-recursion -T - -cf -) | tar -xpf - -C "$b/${d%%:*}"
    done
    mkdir -p "$b/log/qemu" "$b/cache/qemu/capabilities"
    # (libvirt re-validates them): saves the ~2-4 s probe of the first API call needing them
    cp -p "$E2E_CACHE"/qemu-caps/*.xml "$b/cache/qemu/capabilities/" 2>/dev/null
    return 0
}

# _e2e_host_spawn NAME NETNS LISTEN TESTONLY: starts tini -s -> sh -> libvirtd (and
# virtlogd) in a new mount + UTS namespace, inside NETNS if not empty
_e2e_host_spawn() {
    local name=$1 netns=$2 listen=$3 testonly=$4 b acc f binds="" daemons
    b=$(_e2e_hostdir "$name")
    acc=$([ -n "$testonly" ] || _e2e_host_accounts "$b") || return 1
    for f in $acc; do binds+="mount --bind '$b/$f' /etc/$f
        "; done
    [ -n "$acc" ] && e2e_log "host $name: no libvirt-qemu account on this machine: the host has its own /etc/passwd and /etc/group with one"
    if [ -n "$testonly" ]; then
        daemons="LIBVIRT_DRIVER_DIR='$b/no-drivers' exec libvirtd ${listen:+--listen} -p /run/libvirt/libvirtd.pid"
    else
        daemons="virtlogd -d -p /run/libvirt/virtlogd.pid
        exec libvirtd ${listen:+--listen} -p /run/libvirt/libvirtd.pid"
    fi
    local inner="echo \$PPID > '$b/run/e2e-tini.pid'
        set -e
        mount --make-rprivate /
        # drop the copies of FUSE mounts (domfs under test): a copy held here would keep
        # an unmounted domfs daemon alive
        awk '\$3 ~ /^fuse/ { print \$2 }' /proc/self/mounts | while read -r m; do
            umount -l \"\$(printf '%b' \"\$m\")\" 2>/dev/null || true
        done
        mount --bind '$b/etc'   /etc/libvirt
        mount --bind '$b/run'   /run/libvirt
        mount --bind '$b/lib'   /var/lib/libvirt
        mount --bind '$b/cache' /var/cache/libvirt
        mount --bind '$b/log'   /var/log/libvirt
        mount --bind '$b/hosts' /etc/hosts
        $binds
        grep ' /run/libvirt ' /proc/self/mountinfo | cut -d' ' -f3-5 > /run/libvirt/e2e-mountkey
        hostname '$name'
        ip link set lo up 2>/dev/null || true
        $daemons"
    local pre=()
    [ -n "$netns" ] && pre=(ip netns exec "$netns")
    # tini -s: child subreaper; libvirtd is its child, virtlogd and every QEMU become its
    # orphans and are reaped at once (PID 1 may reap only every ~1.5 s, and libvirt waits
    # for QEMU's zombie to go on every destroy). It exits when libvirtd does.
    setsid "${pre[@]}" unshare -m -u --propagation private tini -s -- sh -c "$inner" \
        </dev/null >>"$b/log/e2e-daemons.log" 2>&1 &
}

# _e2e_host_ready NAME: waits until host NAME's libvirtd has its socket and answers its
# first API call (30 s at most); brings the host down again if it does not
_e2e_host_ready() {
    local name=$1 b i
    b=$(_e2e_hostdir "$name")
    for ((i = 0; i < 300; i++)); do
        [ -S "$b/run/libvirt-sock" ] && e2e_host_pid "$name" >/dev/null && break
        # tini started and already gone: the start failed
        if [ -s "$b/run/e2e-tini.pid" ] && ! kill -0 "$(cat "$b/run/e2e-tini.pid")" 2>/dev/null; then break; fi
        sleep 0.05
    done
    if ! [ -S "$b/run/libvirt-sock" ] || ! e2e_host_pid "$name" >/dev/null; then
        e2e_log "host $name: libvirtd did not come up:"
        tail -n 20 "$b/log/e2e-daemons.log" "$b/log/libvirtd.log" >&2 2>/dev/null
        e2e_host_down "$name"
        return 1
    fi
    # what identifies this instance's processes (see e2e_host_pids)
    _e2e_mountkey "$name" >/dev/null || e2e_log "host $name: WARNING: no /run/libvirt bind mount seen"
    if ! timeout 30 virsh -q -c "$(_e2e_host_main_uri "$name")" hostname >/dev/null; then
        e2e_log "host $name: libvirtd does not answer"
        tail -n 20 "$b/log/libvirtd.log" >&2 2>/dev/null
        e2e_host_down "$name"
        return 1
    fi
}

# e2e_host_stop NAME / e2e_host_cont NAME: SIGSTOP / SIGCONT host NAME's libvirtd (a
# daemon that hangs: its sockets accept connections, nothing answers). e2e_host_down
# continues a stopped one first.
e2e_host_stop() {
    local pid
    pid=$(e2e_host_pid "$1") || { e2e_log "host $1 is not up"; return 1; }
    e2e_log "host $1: SIGSTOP libvirtd (pid $pid)"
    kill -STOP "$pid"
}
e2e_host_cont() {
    local pid
    pid=$(e2e_host_pid "$1") || { e2e_log "host $1 is not up"; return 1; }
    e2e_log "host $1: SIGCONT libvirtd (pid $pid)"
    kill -CONT "$pid"
}

# What identifies host NAME's processes: its bind mount of $E2E_ROOT/NAME/run on
# /run/libvirt (device, source path, mount point), as its libvirtd's mountinfo shows it.
_e2e_mountkey() {
    local b tn
    b=$(_e2e_hostdir "$1")
    if [ ! -s "$b/run/e2e-mountkey" ]; then
        # not recorded (start failed half-way?): read it from our tini, if it runs
        tn=$(_e2e_pidfile "$b/run/e2e-tini.pid" "$b/run/e2e-tini.pid") || return 1
        awk '$5 == "/run/libvirt" { print $3, $4, $5; exit }' "/proc/$tn/mountinfo" \
            > "$b/run/e2e-mountkey" 2>/dev/null
        [ -s "$b/run/e2e-mountkey" ] || { rm -f "$b/run/e2e-mountkey"; return 1; }
    fi
    cat "$b/run/e2e-mountkey"
}
# e2e_host_pids NAME: pids of every process of host NAME: those whose mounts include the
# instance's /run/libvirt bind mount. That is its daemons, tini, QEMU (in the mount
# namespace libvirt makes for it, a copy of the instance's) and anything e2e_host_exec
# started there, and nothing else, whatever pids and namespace inodes the kernel reuses.
e2e_host_pids() {
    local key
    key=$(_e2e_mountkey "$1") || return 0
    [ -n "$key" ] || return 0
    grep -lsF -- " $key " /proc/[0-9]*/mountinfo | cut -d/ -f3 | grep -vx -e "$$" -e "${BASHPID:-$$}"
    return 0
}
# _e2e_in_instance PID NAME
_e2e_in_instance() {
    local key
    key=$(_e2e_mountkey "$2") || return 1
    [ -n "$key" ] && grep -qsF -- " $key " "/proc/$1/mountinfo"
}

# e2e_host_down NAME: destroys host NAME's guests and its libvirt networks (their
# dnsmasq), stops its virtlogd and libvirtd (by
# their pid files), then ends whatever else of it is left (QEMU libvirt did not stop,
# tini, processes run by e2e_host_exec): see e2e_host_pids. The instance's
# directory (logs) stays until e2e_cleanup_all.
e2e_host_down() {
    local -; set +e +o pipefail
    local name=${1:?e2e_host_down NAME} b lv vl f p dom pids i t0
    b=$(_e2e_hostdir "$name")
    [ -f "$b/.e2e-host" ] || { e2e_log "host $name: not known"; return 0; }
    pids=$(e2e_host_pids "$name")
    if [ -z "$pids" ]; then
        e2e_log "host $name: already down"
        return 0
    fi
    t0=$(e2e_now)
    e2e_log "host $name: going down"
    # a stopped libvirtd (e2e_host_stop) would neither answer nor act on SIGTERM
    lv=$(_e2e_pidfile "$b/run/libvirtd.pid" libvirtd) && _e2e_in_instance "$lv" "$name" &&
        kill -CONT "$lv" 2>/dev/null
    if [ -S "$b/run/libvirt-sock" ] && [ ! -e "$b/.testonly" ]; then
        _e2e_host_stop_guests "$name"
    fi
    # QEMU processes libvirt did not stop (pid files in /run/libvirt/qemu/NAME.pid)
    for f in "$b"/run/qemu/*.pid; do
        [ -f "$f" ] && [ "${f##*/}" != driver.pid ] || continue
        p=$(_e2e_pidfile "$f" qemu-system) && _e2e_in_instance "$p" "$name" &&
            _e2e_kill "$p" qemu-system "qemu of guest $(basename "$f" .pid)"
    done
    vl=$(_e2e_pidfile "$b/run/virtlogd.pid" virtlogd) && _e2e_in_instance "$vl" "$name" &&
        _e2e_kill "$vl" virtlogd "virtlogd of $name"
    lv=$(_e2e_pidfile "$b/run/libvirtd.pid" libvirtd) && _e2e_in_instance "$lv" "$name" &&
        _e2e_kill "$lv" libvirtd "libvirtd of $name"
    # the rest: tini (exits by itself once libvirtd, its child, is gone) and strays
    for ((i = 0; i < 60; i++)); do
        pids=$(e2e_host_pids "$name")
        [ -z "$pids" ] && break
        if [ "$i" = 10 ] || [ "$i" = 40 ]; then
            for p in $pids; do
                e2e_log "host $name: $([ $i = 10 ] && echo SIGTERM || echo SIGKILL) to leftover pid $p: $(tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline" | cut -c1-100)"
                kill "-$([ $i = 10 ] && echo TERM || echo KILL)" "$p" 2>/dev/null
            done
        fi
        sleep 0.05
    done
    [ -z "$pids" ] || e2e_log "host $name: WARNING: still running: $pids"
    rm -f "$b/run/libvirt-sock" "$b/run/libvirt-sock-ro" "$b/run/libvirt-admin-sock"
    e2e_log "host $name: down in $(e2e_since "$t0") s"
    # keep the probed QEMU capabilities for the next instance
    if ls "$b"/cache/qemu/capabilities/*.xml >/dev/null 2>&1; then
        mkdir -p "$E2E_CACHE/qemu-caps"
        cp -p "$b"/cache/qemu/capabilities/*.xml "$E2E_CACHE/qemu-caps/" 2>/dev/null
    fi
    [ -z "$pids" ]
}


# _e2e_host_stop_guests NAME: destroys the running guests and active networks of host NAME
_e2e_host_stop_guests() {
    local uri dom net
    uri=$(e2e_host_uri "$1")
    for dom in $(timeout 15 virsh -q -c "$uri" list --name 2>/dev/null); do
        e2e_log "host $1: destroying guest $dom"
        timeout 15 virsh -q -c "$uri" destroy "$dom" >/dev/null 2>&1
    done
    for net in $(timeout 15 virsh -q -c "$uri" net-list --name 2>/dev/null); do
        e2e_log "host $1: destroying network $net"
        timeout 15 virsh -q -c "$uri" net-destroy "$net" >/dev/null 2>&1
    done
}

# ---------------------------------------------------------------- network namespaces
# Every network namespace of a run is named domfs-e2e-<run id>-<suffix> and listed in
# $E2E_ROOT/netns; e2e_netns_down (run by the cleanup, after the hosts are down) deletes
# them, and with them every veth, bridge and address made in them.
_e2e_run_id() { local id; id=$(basename "$E2E_ROOT"); echo "${id#run.}"; }
_e2e_netns_name() { echo "domfs-e2e-$(_e2e_run_id)-$1"; }

# _e2e_netns_new NS: creates network namespace NS (lo up), registered for the cleanup
_e2e_netns_new() {
    local ns=$1
    command -v ip >/dev/null || e2e_skip "ip (iproute2) not found"
    grep -qxF -- "$ns" "$E2E_ROOT/netns" 2>/dev/null || echo "$ns" >> "$E2E_ROOT/netns"
    # `ip netns add` makes /run/netns a (shared) mount point when it is not one yet; if
    # we cause that, e2e_netns_down undoes it once no namespace is left there
    if ! mountpoint -q /run/netns 2>/dev/null && [ ! -e "$E2E_ROOT/netns-mount" ]; then
        : > "$E2E_ROOT/netns-mount"
    fi
    [ -e "/run/netns/$ns" ] && return 0
    ip netns add "$ns" || e2e_skip "ip netns add failed (no network namespaces here)"
    ip -n "$ns" link set lo up
}

# _e2e_wait_carrier NS DEV: waits (5 s at most) until DEV in NS (empty: this namespace)
# has a carrier
_e2e_wait_carrier() {
    local i ns=()
    [ -n "$1" ] && ns=(-n "$1")
    for ((i = 0; i < 100; i++)); do
        ip "${ns[@]}" -br link show dev "$2" 2>/dev/null | grep -q LOWER_UP && return 0
        sleep 0.05
    done
    return 1
}

# e2e_netns_up: two network namespaces joined by a veth pair, 192.0.2.1/24 (in
# $E2E_NETNS_A) <-> 192.0.2.2/24 (in $E2E_NETNS_B); addresses exist only in there.
# Names are unique to this run; both variables are set.
e2e_netns_up() {
    local -; set +e +o pipefail
    _e2e_need_init
    E2E_NETNS_A=$(_e2e_netns_name a)
    E2E_NETNS_B=$(_e2e_netns_name b)
    command -v ip >/dev/null || e2e_skip "ip (iproute2) not found"
    if ip -n "$E2E_NETNS_A" -br addr show dev e2e0 2>/dev/null | grep '192\.0\.2\.1/' >/dev/null &&
       ip -n "$E2E_NETNS_B" -br addr show dev e2e1 2>/dev/null | grep '192\.0\.2\.2/' >/dev/null; then
        e2e_log "netns: $E2E_NETNS_A <-> $E2E_NETNS_B already up"
        return 0
    fi
    e2e_log "netns: creating $E2E_NETNS_A (192.0.2.1) <-> $E2E_NETNS_B (192.0.2.2)"
    ip netns del "$E2E_NETNS_A" 2>/dev/null; ip netns del "$E2E_NETNS_B" 2>/dev/null
    _e2e_netns_new "$E2E_NETNS_A" && _e2e_netns_new "$E2E_NETNS_B" &&
    ip link add e2e0 netns "$E2E_NETNS_A" type veth peer name e2e1 netns "$E2E_NETNS_B" &&
    ip -n "$E2E_NETNS_A" addr add 192.0.2.1/24 dev e2e0 &&
    ip -n "$E2E_NETNS_B" addr add 192.0.2.2/24 dev e2e1 &&
    ip -n "$E2E_NETNS_A" link set e2e0 up && ip -n "$E2E_NETNS_B" link set e2e1 up ||
        { e2e_log "netns: setup failed"; e2e_netns_down; return 1; }
    # the link needs a moment to come up (carrier)
    _e2e_wait_carrier "$E2E_NETNS_A" e2e0 && _e2e_wait_carrier "$E2E_NETNS_B" e2e1
    e2e_log "netns: up"
}

# e2e_netns_down: deletes every network namespace of this run (e2e_netns_up, the LAN,
# hosts' own namespaces)
e2e_netns_down() {
    local -; set +e +o pipefail
    local ns
    [ -f "$E2E_ROOT/netns" ] || return 0
    # the LAN's end in this namespace: deleting it is immediate, a namespace's own
    # deletion is not (the kernel frees it, and the veth pairs in it, asynchronously)
    if [ -s "$E2E_ROOT/lan/rootdev" ] && ip link show dev "$(cat "$E2E_ROOT/lan/rootdev")" >/dev/null 2>&1; then
        e2e_log "lan: deleting $(cat "$E2E_ROOT/lan/rootdev")"
        ip link del dev "$(cat "$E2E_ROOT/lan/rootdev")"
    fi
    for ns in $(cat "$E2E_ROOT/netns"); do
        if [ -e "/run/netns/$ns" ]; then
            e2e_log "netns: deleting $ns"
            ip netns del "$ns"
        fi
    done
    rm -f "$E2E_ROOT/netns"
    rm -rf "$E2E_ROOT/lan"
    if [ -f "$E2E_ROOT/netns-mount" ] && mountpoint -q /run/netns 2>/dev/null &&
       [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
        e2e_log "netns: umount /run/netns (mounted by ip netns add)"
        umount /run/netns 2>/dev/null
    fi
    rm -f "$E2E_ROOT/netns-mount"
}

# ---------------------------------------------------------------- a LAN of hosts
# The run's LAN: a bridge in a namespace of its own (the "switch"), one veth port per
# host (e2e_host_up NAME --lan: the host's end is lan0 in the host's own namespace) and
# one to this (the machine's) namespace, where domfs runs. Hosts reach each other and are
# reached from here; nothing is routed or forwarded, the machine's other interfaces are
# not involved. The addresses are a /27 of TEST-NET-2 or TEST-NET-3 (RFC 5737, never
# routed) that no route of this namespace covers, picked under a lock, so that concurrent
# runs get distinct ones: .1 is this side, hosts get .2 to .30 in the order they join.
E2E_LAN_SUBNETS="198.51.100 203.0.113"   # each split in eight /27
E2E_LAN_PREFIXLEN=27
E2E_LAN_MAX_HOSTS=29

# _e2e_lan_subnet_free BASE: no route of this namespace (addresses have theirs) within or
# around BASE/27, the default route aside
_e2e_lan_subnet_free() {
    [ -z "$(ip -4 route show root "$1/$E2E_LAN_PREFIXLEN" table all 2>/dev/null)" ] &&
    ! ip -4 route show match "$1/$E2E_LAN_PREFIXLEN" 2>/dev/null | grep -qv '^default'
}
# _e2e_lan_addr N: address N of the run's LAN (1 = this side)
_e2e_lan_addr() {
    local base; base=$(cat "$E2E_ROOT/lan/subnet")
    echo "${base%.*}.$(( ${base##*.} + $1 ))"
}

# e2e_lan_up: makes the run's LAN (once); sets E2E_LAN_SUBNET (A.B.C.D/27), E2E_LAN_ADDR
# (this side's address) and E2E_LAN_SWITCH (the bridge's namespace)
e2e_lan_up() {
    local -; set +e +o pipefail
    _e2e_need_init
    local sw dev l c i base=""
    sw=$(_e2e_netns_name lan); dev="dfe$(_e2e_run_id)"; l=$E2E_ROOT/lan
    if [ -s "$l/subnet" ] && [ -e "/run/netns/$sw" ]; then
        _e2e_lan_vars; return 0
    fi
    mkdir -p "$l" && _e2e_netns_new "$sw" || return 1
    ip -n "$sw" link add br0 type bridge && ip -n "$sw" link set br0 up || return 1
    exec 8> "$E2E_CACHE/.lan.lock"
    flock 8
    for c in $E2E_LAN_SUBNETS; do
        for ((i = 0; i < 256; i += 32)); do
            _e2e_lan_subnet_free "$c.$i" && { base=$c.$i; break 2; }
        done
    done
    if [ -z "$base" ]; then
        flock -u 8; exec 8>&-
        e2e_log "lan: every /27 of $E2E_LAN_SUBNETS is in use here"; return 1
    fi
    echo "$base" > "$l/subnet"; echo "$sw" > "$l/switch"; echo "$dev" > "$l/rootdev"
    ip link add "$dev" type veth peer name uplink netns "$sw" &&
    ip addr add "$(_e2e_lan_addr 1)/$E2E_LAN_PREFIXLEN" dev "$dev" &&
    ip link set "$dev" up &&
    ip -n "$sw" link set uplink master br0 up
    local rc=$?
    flock -u 8; exec 8>&-
    [ $rc = 0 ] || { e2e_log "lan: setup failed"; return 1; }
    _e2e_wait_carrier "" "$dev"
    _e2e_lan_vars
    e2e_log "lan: $E2E_LAN_SUBNET, this side $E2E_LAN_ADDR on $dev, switch $sw"
}
_e2e_lan_switch() { cat "$E2E_ROOT/lan/switch"; }
_e2e_lan_vars() {
    E2E_LAN_SUBNET=$(cat "$E2E_ROOT/lan/subnet")/$E2E_LAN_PREFIXLEN
    E2E_LAN_ADDR=$(_e2e_lan_addr 1)
    # shellcheck disable=SC2034  # for the tests
    E2E_LAN_SWITCH=$(cat "$E2E_ROOT/lan/switch")
}

# _e2e_lan_host NAME: host NAME's place on the LAN: its namespace, its port on the switch
# and its address (kept for the run: a host brought down and up again gets them back).
# Recorded in $E2E_ROOT/lan/host-NAME as "INDEX ADDR NETNS PORT".
_e2e_lan_host() {
    local name=$1 f n ns port addr sw
    e2e_lan_up || return 1
    f=$E2E_ROOT/lan/host-$name
    sw=$(_e2e_lan_switch)
    if [ -s "$f" ]; then
        read -r n addr ns port < "$f"
        [ -e "/run/netns/$ns" ] && return 0
    else
        n=$(( $(find "$E2E_ROOT/lan" -name 'host-*' | wc -l) + 1 ))
        [ "$n" -le "$E2E_LAN_MAX_HOSTS" ] || { e2e_log "lan: more than $E2E_LAN_MAX_HOSTS hosts"; return 1; }
        addr=$(_e2e_lan_addr $((n + 1))); ns=$(_e2e_netns_name "h-$name"); port=p$n
    fi
    _e2e_netns_new "$ns" &&
    ip -n "$sw" link add "$port" type veth peer name lan0 netns "$ns" &&
    ip -n "$sw" link set "$port" master br0 up &&
    ip -n "$ns" addr add "$addr/$E2E_LAN_PREFIXLEN" dev lan0 &&
    ip -n "$ns" link set lan0 up || { e2e_log "lan: cannot attach host $name"; return 1; }
    echo "$n $addr $ns $port" > "$f"
    _e2e_wait_carrier "$ns" lan0 || e2e_log "lan: WARNING: lan0 of $name has no carrier"
    e2e_log "lan: host $name is $addr (namespace $ns, switch port $port)"
}
# _e2e_lan_get NAME index|addr|netns|port
_e2e_lan_get() {
    local n addr ns port
    read -r n addr ns port < "$E2E_ROOT/lan/host-$1" 2>/dev/null || return 1
    case $2 in index) echo "$n";; addr) echo "$addr";; netns) echo "$ns";; port) echo "$port";; esac
}

# e2e_host_addr NAME: host NAME's LAN address
e2e_host_addr() {
    _e2e_lan_get "$1" addr || { e2e_log "host $1 is not on the LAN (e2e_host_up --lan)"; return 1; }
}
# e2e_host_tcp_uri NAME [qemu|test]: qemu+tcp://ADDR/system (default) or
# test+tcp://ADDR/default: host NAME's libvirtd over the LAN
e2e_host_tcp_uri() {
    local a; a=$(e2e_host_addr "$1") || return 1
    case ${2:-qemu} in
        qemu) echo "qemu+tcp://$a/system";;
        test) echo "test+tcp://$a/default";;
        *) e2e_log "e2e_host_tcp_uri: driver qemu or test, not $2"; return 2;;
    esac
}

# e2e_link_cut NAME [down|drop]: cuts host NAME off the LAN (it keeps running).
#   down (default): its switch port goes down, as if its cable were pulled: the host's
#     link loses its carrier, nothing reaches it; new connections fail once ARP gives up
#     (EHOSTUNREACH, ~3 s), established ones see silence.
#   drop: the host's firewall drops every packet in and out of lan0 (iptables in its own
#     namespace): the link stays up and ARP answers, but TCP sees pure silence (a
#     connect hangs in SYN retries).
# e2e_link_restore NAME undoes it.
e2e_link_cut() {
    local -; set +e +o pipefail
    local name=$1 mode=${2:-down} ns port f
    ns=$(_e2e_lan_get "$name" netns) && port=$(_e2e_lan_get "$name" port) ||
        { e2e_log "host $name is not on the LAN"; return 1; }
    f=$E2E_ROOT/lan/cut-$name
    [ -e "$f" ] && { e2e_log "lan: link of $name already cut ($(cat "$f"))"; return 0; }
    case $mode in
        down) ip -n "$(_e2e_lan_switch)" link set "$port" down || return 1;;
        drop) ip netns exec "$ns" iptables -w -I INPUT -i lan0 -j DROP &&
              ip netns exec "$ns" iptables -w -I OUTPUT -o lan0 -j DROP || return 1;;
        *) e2e_log "e2e_link_cut: mode down or drop, not $mode"; return 2;;
    esac
    echo "$mode" > "$f"
    e2e_log "lan: link of $name cut ($mode)"
}
e2e_link_restore() {
    local -; set +e +o pipefail
    local name=$1 ns port f mode
    ns=$(_e2e_lan_get "$name" netns) && port=$(_e2e_lan_get "$name" port) ||
        { e2e_log "host $name is not on the LAN"; return 1; }
    f=$E2E_ROOT/lan/cut-$name
    mode=$(cat "$f" 2>/dev/null) || { e2e_log "lan: link of $name is not cut"; return 0; }
    case $mode in
        down) ip -n "$(_e2e_lan_switch)" link set "$port" up &&
              _e2e_wait_carrier "$ns" lan0 || return 1;;
        drop) ip netns exec "$ns" iptables -w -D INPUT -i lan0 -j DROP &&
              ip netns exec "$ns" iptables -w -D OUTPUT -o lan0 -j DROP || return 1;;
    esac
    rm -f "$f"
    e2e_log "lan: link of $name restored"
}

# ---------------------------------------------------------------- libvirt networks
# e2e_net_dhcp_up HOST [--subnet A.B.C] [--name NET]: defines and starts, on HOST, an
# isolated libvirt network NET (default "default"): bridge virbr0, A.B.C.1/24 (default
# 192.168.150), DHCP A.B.C.100-199 served by libvirt's dnsmasq. HOST must have a network
# namespace of its own (e2e_host_up --ownnet or --lan): the bridge, the dnsmasq and
# libvirt's firewall rules then live in there, and nothing touches the machine's network.
# Sets E2E_NET_SUBNET=A.B.C.
e2e_net_dhcp_up() {
    local -; set +e +o pipefail
    local host=${1:?e2e_net_dhcp_up HOST} subnet=192.168.150 net=default b t0; shift
    while [ $# -gt 0 ]; do
        case $1 in
            --subnet) subnet=$2; shift 2;;
            --name) net=$2; shift 2;;
            *) e2e_log "e2e_net_dhcp_up: unknown option $1"; return 2;;
        esac
    done
    b=$(_e2e_hostdir "$host")
    [ -s "$b/netns" ] || { e2e_log "host $host has no network namespace of its own (e2e_host_up --ownnet or --lan): refusing to make a bridge here"; return 2; }
    cat > "$b/net-$net.xml" <<EOF
<network>
  <name>$net</name>
  <bridge name='virbr0' stp='off' delay='0'/>
  <ip address='$subnet.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='$subnet.100' end='$subnet.199'/>
    </dhcp>
  </ip>
</network>
EOF
    t0=$(e2e_now)
    e2e_virsh "$host" net-define "$b/net-$net.xml" >/dev/null &&
        e2e_virsh "$host" net-start "$net" >/dev/null || return 1
    # shellcheck disable=SC2034  # for the tests
    E2E_NET_SUBNET=$subnet
    e2e_log "host $host: network $net up ($subnet.0/24, DHCP .100-.199) in $(e2e_since "$t0") s"
}

# ---------------------------------------------------------------- domains
_e2e_user_net=""
# QEMU's user-mode network (slirp) needs no privilege and no host setup; use it when this
# QEMU has it (Debian's does), else guests get no network interface.
_e2e_has_user_net() {
    if [ -z "$_e2e_user_net" ]; then
        if qemu-system-x86_64 -netdev help 2>/dev/null | grep -x user >/dev/null; then _e2e_user_net=yes; else _e2e_user_net=no; fi
    fi
    [ "$_e2e_user_net" = yes ]
}

# e2e_domain_xml NAME [--disk] [--cdrom] [--tickpad N] [--cmdline ARGS] [--type qemu|kvm]
#                [--agent [--hostname H] [--network NET] [--mac MAC]]
#   Prints the XML of guest NAME: direct kernel boot of the e2e guest ("console=ttyS0
#   panic=-1"), 128 MiB, 1 vcpu, serial pty logged by virtlogd to
#   /var/log/libvirt/qemu/NAME-serial0.log (append='off'), a pty console, ACPI,
#   on_reboot restart, no balloon, a user-mode (slirp) virtio interface when QEMU has one.
#   --disk: a 64 MiB qcow2 virtio disk vda ($E2E_ROOT/images/NAME.qcow2, created here).
#   --cdrom: an IDE cdrom hdc with media-a.raw inserted. Type: $E2E_DOMAIN_TYPE.
#   --agent: the agent guest (e2e_guest_build --agent) instead: the disk vda (implied;
#   the guest makes it ext2 and mounts it on /mnt), a guest-agent channel
#   (org.qemu.guest_agent.0, unix socket chosen by libvirt), a virtio interface on libvirt
#   network NET (default "default", see e2e_net_dhcp_up; MAC if given) instead of the
#   user-mode one, a virtio balloon with stats every $E2E_BALLOON_PERIOD (2) s, and the
#   kernel argument e2e.hostname=H (default NAME-guest).
e2e_domain_xml() {
    local -; set +e +o pipefail
    local name=${1:?e2e_domain_xml NAME}; shift
    local disk="" cdrom="" tickpad="" extra="" type=$E2E_DOMAIN_TYPE g=$E2E_GUEST_DIR
    local agent="" hn="" network=default mac=""
    while [ $# -gt 0 ]; do
        case $1 in
            --disk) disk=1; shift;;
            --cdrom) cdrom=1; shift;;
            --tickpad) tickpad=$2; shift 2;;
            --cmdline) extra=$2; shift 2;;
            --type) type=$2; shift 2;;
            --agent) agent=1; shift;;
            --hostname) hn=$2; shift 2;;
            --network) network=$2; shift 2;;
            --mac) mac=$2; shift 2;;
            *) e2e_log "e2e_domain_xml: unknown option $1"; return 2;;
        esac
    done
    if [ -n "$agent" ]; then
        g=$E2E_AGENT_GUEST_DIR; disk=1
        extra="e2e.hostname=${hn:-$name-guest}${extra:+ $extra}"
    fi
    case $type in
        qemu|kvm) ;;
        *) e2e_log "E2E_DOMAIN_TYPE=$type not resolved (call e2e_kvm_probe): using qemu"; type=qemu;;
    esac
    [ -s "$g/vmlinuz" ] || { e2e_log "no guest in $g (e2e_guest_build${agent:+ --agent})"; return 1; }
    local cmdline="console=ttyS0 panic=-1${tickpad:+ tickpad=$tickpad}${extra:+ $extra}"
    local emu; emu=$(command -v qemu-system-x86_64 || echo /usr/bin/qemu-system-x86_64)
    local img=$E2E_ROOT/images/$name.qcow2
    if [ -n "$disk" ] && [ ! -f "$img" ]; then
        e2e_log "qemu-img create $img 64M"
        qemu-img create -q -f qcow2 "$img" 64M >&2 || return 1
    fi
    e2e_log "domain xml: $name (type $type${agent:+, agent guest on network $network}${disk:+, disk}${cdrom:+, cdrom}${tickpad:+, tickpad $tickpad})"
    cat <<EOF
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>$E2E_GUEST_MEM_MIB</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$g/vmlinuz</kernel>
    <initrd>$g/initrd.gz</initrd>
    <cmdline>$cmdline</cmdline>
  </os>
  <features>
    <acpi/>
  </features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>$emu</emulator>
EOF
    [ -n "$disk" ] && cat <<EOF
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$img'/>
      <target dev='vda' bus='virtio'/>
    </disk>
EOF
    [ -n "$cdrom" ] && cat <<EOF
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source file='$g/media-a.raw'/>
      <target dev='hdc' bus='ide'/>
      <readonly/>
    </disk>
EOF
    if [ -n "$agent" ]; then
        _e2e_agent_devices "$network" "$mac"
    else
        _e2e_has_user_net && cat <<EOF
    <interface type='user'>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
EOF
    fi
    cat <<EOF
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/$name-serial0.log' append='off'/>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
EOF
    if [ -n "$agent" ]; then
        cat <<EOF
    <memballoon model='virtio'>
      <stats period='$E2E_BALLOON_PERIOD'/>
    </memballoon>
EOF
    else
        echo "    <memballoon model='none'/>"
    fi
    cat <<EOF
  </devices>
</domain>
EOF
}

# _e2e_agent_devices NETWORK MAC: the agent guest's interface and agent channel
_e2e_agent_devices() {
    cat <<EOF
    <interface type='network'>
EOF
    [ -n "$2" ] && echo "      <mac address='$2'/>"
    cat <<EOF
      <source network='$1'/>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
    <channel type='unix'>
      <target type='virtio' name='org.qemu.guest_agent.0'/>
    </channel>
EOF
}

# e2e_define NAME HOST [e2e_domain_xml options]: writes the XML to $E2E_ROOT/NAME.xml and
# defines it on HOST
e2e_define() {
    local -; set +e +o pipefail
    local name=$1 host=$2; shift 2
    e2e_domain_xml "$name" "$@" > "$E2E_ROOT/$name.xml" || return 1
    e2e_virsh "$host" define "$E2E_ROOT/$name.xml" >/dev/null
}

# e2e_serial_log NAME HOST: host-side path of guest NAME's serial log on HOST
e2e_serial_log() { echo "$(e2e_host_logdir "$2")/qemu/$1-serial0.log"; }

# _e2e_log_stream FILE: FILE's rotated files (oldest first: .N ... .1 .0) then FILE, as one
# stream, so that a line cut by a rotation is whole again
_e2e_log_stream() {
    local f=$1 i files=()
    for ((i = 9; i >= 0; i--)); do [ -f "$f.$i" ] && files+=("$f.$i"); done
    [ -f "$f" ] && files+=("$f")
    [ ${#files[@]} = 0 ] || cat "${files[@]}" 2>/dev/null | tr -d '\r'
}

# e2e_last_tick NAME HOST: the highest tick number in the guest's serial log (0 if none)
e2e_last_tick() {
    local -; set +e +o pipefail
    _e2e_log_stream "$(e2e_serial_log "$1" "$2")" |
        awk '/^tick [0-9]+/ { if ($2 + 0 > max) max = $2 + 0 } END { print max + 0 }'
}

# e2e_wait_tick NAME HOST N TIMEOUT: waits until guest NAME's serial log on HOST (with its
# rotated files) shows "tick N" or a later tick (a log that starts after a migration or
# a rotation may lack tick N itself)
e2e_wait_tick() {
    local -; set +e +o pipefail
    local name=$1 host=$2 n=$3 timeout=${4:-60} l t0 end last
    l=$(e2e_serial_log "$name" "$host")
    t0=$(e2e_now); end=$(( ${t0%.*} + timeout ))
    e2e_log "waiting up to ${timeout}s for 'tick $n' of $name on $host"
    while :; do
        last=$(e2e_last_tick "$name" "$host")
        if [ "$last" -ge "$n" ]; then
            e2e_log "tick $n of $name seen after $(e2e_since "$t0") s (last tick $last)"
            return 0
        fi
        if (( EPOCHSECONDS >= end )); then
            e2e_log "no 'tick $n' of $name on $host within ${timeout}s (last tick $last); log tail:"
            _e2e_log_stream "$l" | tail -c 400 | cut -c1-200 >&2
            echo >&2
            return 1
        fi
        sleep 0.1
    done
}

# e2e_wait_state NAME HOST STATE TIMEOUT: waits until `virsh domstate` says STATE
# (e.g. "running", "paused", "shut off")
e2e_wait_state() {
    local -; set +e +o pipefail
    local name=$1 host=$2 want=$3 timeout=${4:-30} t0 end s uri
    uri=$(e2e_host_uri "$host")
    t0=$(e2e_now); end=$(( ${t0%.*} + timeout ))
    e2e_log "waiting up to ${timeout}s for $name on $host to be '$want'"
    while :; do
        s=$(virsh -q -c "$uri" domstate "$name" 2>/dev/null | sed -n 1p) || true
        if [ "$s" = "$want" ]; then
            e2e_log "$name is '$want' after $(e2e_since "$t0") s"
            return 0
        fi
        if (( EPOCHSECONDS >= end )); then
            e2e_log "$name on $host still '$s' after ${timeout}s"
            return 1
        fi
        sleep 0.05
    done
}

# e2e_wait_file PATH TIMEOUT: waits until PATH exists
e2e_wait_file() {
    local -; set +e +o pipefail
    local f=$1 timeout=${2:-30} t0 end
    t0=$(e2e_now); end=$(( ${t0%.*} + timeout ))
    e2e_log "waiting up to ${timeout}s for $f"
    until [ -e "$f" ]; do
        if (( EPOCHSECONDS >= end )); then e2e_log "$f did not appear within ${timeout}s"; return 1; fi
        sleep 0.1
    done
    e2e_log "$f appeared after $(e2e_since "$t0") s"
}

# _e2e_poll TIMEOUT WHAT CMD...: runs CMD every 0.1 s until it succeeds (then logs how
# long it took) or TIMEOUT seconds have passed (rc 1)
_e2e_poll() {
    local timeout=$1 what=$2 t0 end; shift 2
    t0=$(e2e_now); end=$(( ${t0%.*} + timeout ))
    e2e_log "waiting up to ${timeout}s for $what"
    until "$@"; do
        if (( EPOCHSECONDS >= end )); then e2e_log "no $what within ${timeout}s"; return 1; fi
        sleep 0.1
    done
    e2e_log "$what after $(e2e_since "$t0") s"
}

# e2e_wait_console NAME HOST REGEX TIMEOUT: waits until a line of guest NAME's serial log
# on HOST (with its rotated files) matches the extended regular expression REGEX
e2e_wait_console() {
    local -; set +e +o pipefail
    _e2e_poll "${4:-60}" "console line /$3/ of $1" _e2e_console_has "$1" "$2" "$3"
}
_e2e_console_has() { _e2e_log_stream "$(e2e_serial_log "$1" "$2")" | grep -Eq -- "$3"; }

# e2e_wait_agent NAME HOST TIMEOUT: waits until guest NAME's guest agent answers
# (`virsh guestinfo NAME --hostname` succeeds; guestinfo does not taint the domain, unlike
# qemu-agent-command)
e2e_wait_agent() {
    local -; set +e +o pipefail
    _e2e_poll "${3:-60}" "the guest agent of $1" _e2e_agent_answers "$1" "$2"
}
_e2e_agent_answers() {
    timeout 10 virsh -q -c "$(e2e_host_uri "$2")" guestinfo "$1" --hostname >/dev/null 2>&1
}

# e2e_domifaddr_ipv4 NAME HOST SOURCE: the first non-loopback IPv4 address (without its
# prefix length) that `virsh domifaddr NAME --source SOURCE` (lease, agent, arp) shows
e2e_domifaddr_ipv4() {
    timeout 10 virsh -q -c "$(e2e_host_uri "$2")" domifaddr "$1" --source "$3" 2>/dev/null |
        awk '$3 == "ipv4" && $4 !~ /^127\./ { sub(/\/.*/, "", $4); print $4; exit }'
}
_e2e_has_ipv4() { [ -n "$(e2e_domifaddr_ipv4 "$@")" ]; }

# e2e_wait_lease NAME HOST TIMEOUT: waits until libvirt's DHCP lease file has an IPv4
# address for guest NAME (`domifaddr --source lease`); prints it. (On a restart with the
# same MAC the previous lease shows at once, before the guest has asked again.)
e2e_wait_lease() {
    local -; set +e +o pipefail
    _e2e_poll "${3:-60}" "a DHCP lease of $1" _e2e_has_ipv4 "$1" "$2" lease >&2 &&
        e2e_domifaddr_ipv4 "$1" "$2" lease
}

# e2e_wait_agent_ip NAME HOST TIMEOUT: waits until guest NAME's agent reports a
# non-loopback IPv4 address (`domifaddr --source agent`); prints it
e2e_wait_agent_ip() {
    local -; set +e +o pipefail
    _e2e_poll "${3:-60}" "an IPv4 address of $1 from its agent" _e2e_has_ipv4 "$1" "$2" agent >&2 &&
        e2e_domifaddr_ipv4 "$1" "$2" agent
}

# e2e_kvm_probe HOST: with E2E_DOMAIN_TYPE=auto, boots a KVM guest on HOST and sets
# E2E_DOMAIN_TYPE=kvm if it prints a tick within E2E_KVM_WAIT (15) s, else qemu (TCG).
# /dev/kvm may exist and still not boot a stock kernel (e.g. PVM): only a boot counts.
# The verdict is cached per kernel, QEMU and guest. Without auto: nothing to do.
e2e_kvm_probe() {
    local -; set +e +o pipefail
    local host=${1:?e2e_kvm_probe HOST} key cache=$E2E_CACHE/kvm-probe verdict=qemu
    [ "$E2E_DOMAIN_TYPE" = auto ] || { e2e_log "domain type: $E2E_DOMAIN_TYPE"; return 0; }
    if [ ! -c /dev/kvm ]; then E2E_DOMAIN_TYPE=qemu; e2e_log "no /dev/kvm: TCG"; return 0; fi
    key="$(uname -r) $(stat -c %Y "$(command -v qemu-system-x86_64)") $(cat "$E2E_GUEST_DIR/.stamp" 2>/dev/null)"
    if [ "$(head -1 "$cache" 2>/dev/null)" = "$key" ]; then
        E2E_DOMAIN_TYPE=$(sed -n 2p "$cache")
        e2e_log "domain type: $E2E_DOMAIN_TYPE (cached KVM probe)"
        return 0
    fi
    e2e_log "KVM probe: booting a KVM guest on $host"
    local probe=e2e-kvm-probe
    e2e_domain_xml "$probe" --type kvm > "$E2E_ROOT/$probe.xml" || return 1
    if e2e_virsh "$host" create "$E2E_ROOT/$probe.xml" >/dev/null 2>&1 &&
       e2e_wait_tick "$probe" "$host" 1 "${E2E_KVM_WAIT:-15}"; then
        verdict=kvm
    fi
    e2e_virsh "$host" destroy "$probe" >/dev/null 2>&1
    E2E_DOMAIN_TYPE=$verdict
    printf '%s\n%s\n' "$key" "$verdict" > "$cache"
    e2e_log "domain type: $verdict (KVM probe)"
}

# e2e_domfs_bin: prints the domfs binary meson built ($DOMFS_BIN); skips the test if unset
e2e_domfs_bin() {
    local -; set +e +o pipefail
    [ -n "${DOMFS_BIN:-}" ] || e2e_skip "DOMFS_BIN is not set (run through meson test)"
    [ -x "$DOMFS_BIN" ] || e2e_skip "DOMFS_BIN=$DOMFS_BIN is not an executable"
    echo "$DOMFS_BIN"
}

# Run directly: `bash tests/e2e/harness.sh cleanup` brings down what runs that died
# (SIGKILL, crash) left behind; e2e_init does the same at the start of every run.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case ${1:-} in
        cleanup)
            [ "$(id -u)" = 0 ] || e2e_die "cleanup needs root"
            E2E_ROOT=""
            [ -d "$E2E_CACHE" ] && _e2e_reap_stale_runs
            ;;
        *) echo "usage: bash $0 cleanup    (source it from a test otherwise)" >&2; exit 2;;
    esac
fi
