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
# Every "host" is a libvirtd + virtlogd pair in its own mount + UTS namespace (optionally
# inside a network namespace), with its own /etc/libvirt (a copy), /run/libvirt,
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

_e2e_guest_stamp() {
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

# e2e_guest_build [DIR]: builds the tiny guest into DIR (default $DOMFS_E2E_CACHE/guest),
# only when DIR does not already hold one built by this recipe. DIR gets: vmlinuz,
# initrd.gz (busybox initramfs, see _e2e_guest_init), media-a.raw and media-b.raw (raw
# files to use as cdrom media). Sets E2E_GUEST_DIR=DIR.
e2e_guest_build() {
    local -; set +e +o pipefail
    local out=${1:-$E2E_GUEST_DIR} stamp
    stamp=$(_e2e_guest_stamp)
    if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.gz" ]; then
        e2e_log "guest: cached in $out"
        E2E_GUEST_DIR=$out
        return 0
    fi
    mkdir -p "$E2E_CACHE/dl" || return 1
    (
        set -e
        exec 9> "$E2E_CACHE/.guest.lock"
        flock 9
        # someone else may have built it while we waited for the lock
        if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$stamp" ]; then exit 0; fi
        e2e_log "guest: building into $out"
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
        _e2e_guest_init > "$r/init"
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
        for m in $E2E_GUEST_MODULES; do addmod "$m"; done
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
        e2e_log "guest: built ($kpkg, initrd $(stat -c %s "$out/initrd.gz") bytes, modules: $(tr '\n' ' ' < "$r/lib/mod/order"))"
    )
    local rc=$?
    [ $rc = 77 ] && exit 77   # e2e_skip inside the subshell
    [ $rc = 0 ] || { e2e_log "guest: build failed"; return 1; }
    E2E_GUEST_DIR=$out
}

# ---------------------------------------------------------------- private libvirt hosts
_e2e_hostdir() { echo "$E2E_ROOT/$1"; }

# e2e_host_uri NAME: the URI that reaches host NAME's libvirtd from this (the real) host
e2e_host_uri() { echo "qemu+unix:///system?socket=$E2E_ROOT/$1/run/libvirt-sock"; }
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

# e2e_host_up NAME [--netns NS] [--listen ADDR] [--logmax BYTES] [--logbackups N] [--portmin N]
#   Starts host NAME: virtlogd + libvirtd (under tini -s, a child subreaper, so QEMU's
#   zombies are reaped at once) in a new mount + UTS namespace (hostname NAME), inside
#   network namespace NS if given. --listen ADDR: also listen on tcp ADDR:16509 without
#   authentication (for peer-to-peer migration between hosts). --logmax/--logbackups:
#   virtlogd's max_size (default 131072) / max_backups (default 3). --portmin: first QEMU
#   migration port (default: distinct per host of this run).
e2e_host_up() {
    local -; set +e +o pipefail
    _e2e_need_init
    local name=${1:?e2e_host_up NAME}; shift
    local netns="" listen="" logmax=131072 logbackups=3 portmin="" b uuid i
    while [ $# -gt 0 ]; do
        case $1 in
            --netns) netns=$2; shift 2;;
            --listen) listen=$2; shift 2;;
            --logmax) logmax=$2; shift 2;;
            --logbackups) logbackups=$2; shift 2;;
            --portmin) portmin=$2; shift 2;;
            *) e2e_log "e2e_host_up: unknown option $1"; return 2;;
        esac
    done
    [[ $name =~ ^[A-Za-z0-9][A-Za-z0-9_-]*$ ]] || { e2e_log "bad host name '$name'"; return 2; }
    if [ -n "$netns" ] && [ ! -e "/run/netns/$netns" ]; then
        e2e_log "e2e_host_up: no network namespace $netns (e2e_netns_up)"; return 2
    fi
    b=$(_e2e_hostdir "$name")
    if e2e_host_pid "$name" >/dev/null; then
        e2e_log "host $name: already up (libvirtd pid $(e2e_host_pid "$name"))"
        return 0
    fi
    local t0; t0=$(e2e_now)
    command -v libvirtd >/dev/null && command -v virtlogd >/dev/null || { e2e_log "libvirtd/virtlogd not installed (e2e_install)"; return 1; }
    command -v tini >/dev/null || { e2e_log "tini not installed (e2e_install)"; return 1; }
    _e2e_fix_kvm_perms
    if [ -z "$portmin" ]; then
        i=$(find "$E2E_ROOT" -mindepth 2 -maxdepth 2 -name .e2e-host | wc -l)
        portmin=$(( 49152 + 128 * i ))
    fi
    e2e_log "host $name: starting (netns ${netns:-none}, listen ${listen:-no}, virtlogd max_size $logmax max_backups $logbackups, migration ports $portmin+)"
    [ -d "$b" ] && e2e_host_down "$name" >/dev/null 2>&1
    rm -rf "$b"
    mkdir -p "$b"/{run,lib,cache,log} || return 1
    chmod 755 "$b"
    # configuration: a copy of the machine's /etc/libvirt without its guests, networks,
    # pools and hooks; the daemons' own files start empty (= libvirt's defaults, whatever
    # the machine's say: libvirt's config reader takes the first of duplicate settings)
    cp -a /etc/libvirt "$b/etc" || return 1
    rm -rf "$b"/etc/qemu/*.xml "$b"/etc/qemu/autostart/*.xml \
          "$b"/etc/qemu/networks/*.xml "$b"/etc/qemu/networks/autostart/*.xml \
          "$b"/etc/storage/*.xml "$b"/etc/storage/autostart/*.xml \
          "$b"/etc/nodedev/*.xml "$b"/etc/secrets/* "$b"/etc/hooks/* 2>/dev/null
    local f
    for f in libvirtd.conf qemu.conf virtlogd.conf; do
        printf '# %s of e2e host %s (domfs tests/e2e/harness.sh)\n' "$f" "$name" > "$b/etc/$f"
    done
    # state directories: same tree (directories only, same owners/modes) as the machine's
    local d
    for d in lib:/var/lib/libvirt cache:/var/cache/libvirt log:/var/log/libvirt; do
        [ -d "${d#*:}" ] || continue
        (cd "${d#*:}" && find . \( -name 'domain-*' -o -name images \) -prune -o -type d -print0 |
            tar --null --no-recursion -T - -cf -) | tar -xpf - -C "$b/${d%%:*}"
    done
    mkdir -p "$b/log/qemu" "$b/cache/qemu/capabilities"
    # QEMU capabilities probed by an earlier instance (libvirt re-validates them): saves
    # the ~2-4 s probe of the first API call needing them
    cp -p "$E2E_CACHE"/qemu-caps/*.xml "$b/cache/qemu/capabilities/" 2>/dev/null
    uuid=$(cat /proc/sys/kernel/random/uuid)
    cat >> "$b/etc/libvirtd.conf" <<EOF
host_uuid = "$uuid"
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
    # /etc/hosts with the instance's own name: libvirt resolves its hostname (for
    # `virsh hostname`, migration) and a DNS lookup of NAME may take seconds to fail
    { cat /etc/hosts 2>/dev/null; echo "${listen:-127.0.1.1} $name"; } > "$b/hosts"
    # mount points for the bind mounts (a machine without a running libvirtd may lack some)
    for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
        [ -d "$d" ] || { e2e_log "mkdir $d (mount point)"; mkdir -p "$d"; }
    done
    : > "$b/.e2e-host"
    [ -n "$netns" ] && echo "$netns" > "$b/netns"
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
        grep ' /run/libvirt ' /proc/self/mountinfo | cut -d' ' -f3-5 > /run/libvirt/e2e-mountkey
        hostname '$name'
        ip link set lo up 2>/dev/null || true
        virtlogd -d -p /run/libvirt/virtlogd.pid
        exec libvirtd ${listen:+--listen} -p /run/libvirt/libvirtd.pid"
    local pre=()
    [ -n "$netns" ] && pre=(ip netns exec "$netns")
    # tini -s: child subreaper; libvirtd is its child, virtlogd and every QEMU become its
    # orphans and are reaped at once (PID 1 may reap only every ~1.5 s, and libvirt waits
    # for QEMU's zombie to go on every destroy). It exits when libvirtd does.
    setsid "${pre[@]}" unshare -m -u --propagation private tini -s -- sh -c "$inner" \
        </dev/null >>"$b/log/e2e-daemons.log" 2>&1 &
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
    # first API call: waits until the daemon really serves requests
    if ! timeout 30 virsh -q -c "$(e2e_host_uri "$name")" hostname >/dev/null; then
        e2e_log "host $name: libvirtd does not answer"
        e2e_host_down "$name"
        return 1
    fi
    e2e_log "host $name: up in $(e2e_since "$t0") s (libvirtd $(e2e_host_pid "$name"), virtlogd $(_e2e_pidfile "$b/run/virtlogd.pid" virtlogd), tini $(cat "$b/run/e2e-tini.pid"), host_uuid $uuid)"
    e2e_log "host $name: $(e2e_host_uri "$name")"
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

# e2e_host_down NAME: destroys host NAME's guests, stops its virtlogd and libvirtd (by
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
    if [ -S "$b/run/libvirt-sock" ]; then
        for dom in $(timeout 15 virsh -q -c "$(e2e_host_uri "$name")" list --name 2>/dev/null); do
            e2e_log "host $name: destroying guest $dom"
            timeout 15 virsh -q -c "$(e2e_host_uri "$name")" destroy "$dom" >/dev/null 2>&1
        done
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

# ---------------------------------------------------------------- network namespaces
# e2e_netns_up: two network namespaces joined by a veth pair, 192.0.2.1/24 (in
# $E2E_NETNS_A) <-> 192.0.2.2/24 (in $E2E_NETNS_B); addresses exist only in there.
# Names are unique to this run; both variables are set.
e2e_netns_up() {
    local -; set +e +o pipefail
    _e2e_need_init
    local id; id=$(basename "$E2E_ROOT"); id=${id#run.}
    E2E_NETNS_A=domfs-e2e-$id-a
    E2E_NETNS_B=domfs-e2e-$id-b
    command -v ip >/dev/null || e2e_skip "ip (iproute2) not found"
    if ip -n "$E2E_NETNS_A" -br addr show dev e2e0 2>/dev/null | grep '192\.0\.2\.1/' >/dev/null &&
       ip -n "$E2E_NETNS_B" -br addr show dev e2e1 2>/dev/null | grep '192\.0\.2\.2/' >/dev/null; then
        e2e_log "netns: $E2E_NETNS_A <-> $E2E_NETNS_B already up"
        return 0
    fi
    e2e_log "netns: creating $E2E_NETNS_A (192.0.2.1) <-> $E2E_NETNS_B (192.0.2.2)"
    printf '%s\n%s\n' "$E2E_NETNS_A" "$E2E_NETNS_B" > "$E2E_ROOT/netns"
    # `ip netns add` makes /run/netns a (shared) mount point when it is not one yet; if
    # we cause that, e2e_netns_down undoes it once no namespace is left there
    if ! mountpoint -q /run/netns 2>/dev/null && [ ! -e "$E2E_ROOT/netns-mount" ]; then
        : > "$E2E_ROOT/netns-mount"
    fi
    ip netns del "$E2E_NETNS_A" 2>/dev/null; ip netns del "$E2E_NETNS_B" 2>/dev/null
    ip netns add "$E2E_NETNS_A" || e2e_skip "ip netns add failed (no network namespaces here)"
    ip netns add "$E2E_NETNS_B" &&
    ip link add e2e0 netns "$E2E_NETNS_A" type veth peer name e2e1 netns "$E2E_NETNS_B" &&
    ip -n "$E2E_NETNS_A" addr add 192.0.2.1/24 dev e2e0 &&
    ip -n "$E2E_NETNS_B" addr add 192.0.2.2/24 dev e2e1 &&
    ip -n "$E2E_NETNS_A" link set lo up && ip -n "$E2E_NETNS_B" link set lo up &&
    ip -n "$E2E_NETNS_A" link set e2e0 up && ip -n "$E2E_NETNS_B" link set e2e1 up ||
        { e2e_log "netns: setup failed"; e2e_netns_down; return 1; }
    # the link needs a moment to come up (carrier)
    local i
    for ((i = 0; i < 100; i++)); do
        ip -n "$E2E_NETNS_A" -br link show dev e2e0 | grep LOWER_UP >/dev/null &&
        ip -n "$E2E_NETNS_B" -br link show dev e2e1 | grep LOWER_UP >/dev/null && break
        sleep 0.05
    done
    e2e_log "netns: up"
}

# e2e_netns_down: deletes the network namespaces e2e_netns_up made in this run
e2e_netns_down() {
    local -; set +e +o pipefail
    local ns
    [ -f "$E2E_ROOT/netns" ] || return 0
    for ns in $(cat "$E2E_ROOT/netns"); do
        if ip netns list 2>/dev/null | grep "^$ns\b" >/dev/null; then
            e2e_log "netns: deleting $ns"
            ip netns del "$ns"
        fi
    done
    rm -f "$E2E_ROOT/netns"
    if [ -f "$E2E_ROOT/netns-mount" ] && mountpoint -q /run/netns 2>/dev/null &&
       [ -z "$(ls -A /run/netns 2>/dev/null)" ]; then
        e2e_log "netns: umount /run/netns (mounted by ip netns add)"
        umount /run/netns 2>/dev/null
    fi
    rm -f "$E2E_ROOT/netns-mount"
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
#   Prints the XML of guest NAME: direct kernel boot of the e2e guest ("console=ttyS0
#   panic=-1"), 128 MiB, 1 vcpu, serial pty logged by virtlogd to
#   /var/log/libvirt/qemu/NAME-serial0.log (append='off'), a pty console, ACPI,
#   on_reboot restart, no balloon, a user-mode (slirp) virtio interface when QEMU has one.
#   --disk: a 64 MiB qcow2 virtio disk vda ($E2E_ROOT/images/NAME.qcow2, created here).
#   --cdrom: an IDE cdrom hdc with media-a.raw inserted. Type: $E2E_DOMAIN_TYPE.
e2e_domain_xml() {
    local -; set +e +o pipefail
    local name=${1:?e2e_domain_xml NAME}; shift
    local disk="" cdrom="" tickpad="" extra="" type=$E2E_DOMAIN_TYPE g=$E2E_GUEST_DIR
    while [ $# -gt 0 ]; do
        case $1 in
            --disk) disk=1; shift;;
            --cdrom) cdrom=1; shift;;
            --tickpad) tickpad=$2; shift 2;;
            --cmdline) extra=$2; shift 2;;
            --type) type=$2; shift 2;;
            *) e2e_log "e2e_domain_xml: unknown option $1"; return 2;;
        esac
    done
    case $type in
        qemu|kvm) ;;
        *) e2e_log "E2E_DOMAIN_TYPE=$type not resolved (call e2e_kvm_probe): using qemu"; type=qemu;;
    esac
    [ -s "$g/vmlinuz" ] || { e2e_log "no guest in $g (e2e_guest_build)"; return 1; }
    local cmdline="console=ttyS0 panic=-1${tickpad:+ tickpad=$tickpad}${extra:+ $extra}"
    local emu; emu=$(command -v qemu-system-x86_64 || echo /usr/bin/qemu-system-x86_64)
    local img=$E2E_ROOT/images/$name.qcow2
    if [ -n "$disk" ] && [ ! -f "$img" ]; then
        e2e_log "qemu-img create $img 64M"
        qemu-img create -q -f qcow2 "$img" 64M >&2 || return 1
    fi
    e2e_log "domain xml: $name (type $type${disk:+, disk}${cdrom:+, cdrom}${tickpad:+, tickpad $tickpad})"
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
    _e2e_has_user_net && cat <<EOF
    <interface type='user'>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>
EOF
    cat <<EOF
    <serial type='pty'>
      <log file='/var/log/libvirt/qemu/$name-serial0.log' append='off'/>
      <target port='0'/>
    </serial>
    <console type='pty'>
      <target type='serial' port='0'/>
    </console>
    <memballoon model='none'/>
  </devices>
</domain>
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
