#!/bin/bash
# test_agent.sh - a real QEMU guest with qemu-guest-agent and a DHCP lease proves what
# domfs shows operators (issue 12): agent/ (status, hostname, os, timezone, users,
# filesystems, interfaces), an interface's ip, cpu.stat, vcpu.stat, memory.stat, io.stat,
# net.stat, each disk's capacity/allocation/physical, and .domfs/metrics.prom (promtool and
# the real node_exporter's textfile collector).
#
# Why against a real guest: libvirt's test driver has no agent and reports no counters,
# so only QEMU + qemu-ga show whether the keys are the right ones, the units are right and
# the values follow the guest. Every value is checked against an independent witness: the
# guest itself (its console, `df` run by guest-exec), virsh (guestinfo, domifaddr, domstats
# before and after the read: a counter read from domfs lies between the two), qemu-img.
#
# Steps: a private libvirtd in its own network namespace with an isolated libvirt network
# (DHCP); the agent guest (2 vCPUs) started through domfs; its agent connects; the files
# are compared with the witnesses; the guest writes its disk (guest-exec) and io.stat
# follows; the agent is killed inside the guest (status disconnected, data kept with its
# time, ip falls back to the lease); the guest shuts down (statistics empty, data kept)
# and starts again (agent connected, newer time). A second mount with agent_interval=3600
# gets its agent data from the agent-lifecycle event alone. At the end it prints which
# keys QEMU and this guest fill (for the README).
# Output: TAP lines, phase timings, the keys table. Exit 0 = all passed, 1 = failures,
# 77 = skipped.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# (domfs_e2e.sh runs the test in a mount namespace of its own: the daemon must exit by
# itself after the unmount)
# shellcheck source=domfs_e2e.sh
. "$HERE/domfs_e2e.sh"
# shellcheck source=../lib/pkg.sh
. "$HERE/../lib/pkg.sh"

command -v python3 >/dev/null || e2e_skip "python3 not found (guest-exec's JSON, node_exporter's scrape)"

H=h1                     # the host
DISKS="vda hdc"          # the guest's disks: its ext2 qcow2 (virtio), a cdrom with media (IDE)
G=ag                     # the guest
GHN=ag-e2e-guest         # the hostname the guest gives itself (kernel argument)
NVCPU=2                  # vCPUs of the guest (vcpu.stat: one line each)
WRITE_KIB=4096           # what the guest writes to its disk (guest-exec dd)
WAIT_BOOT=150            # bound of the waits for the guest's agent and lease (TCG, 2 cores)
WAIT_MAX=60              # bound of every other wait for something that must happen
FETCH_MARGIN_S=2         # a fetch whose mtime is this many seconds after a witness came after it
TOOLS_CACHE=${DOMFS_TOOLS_CACHE:-/var/tmp/domfs-tools}
KIB=1024
TIMES=()                 # measured durations, printed at the end

timing() { TIMES+=("$(printf '%7ss  %s' "$2" "$1")"); echo "# $1: $2 s"; }
tap_skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1 # SKIP $2"; }

# ---------------------------------------------------------------- helpers
# flat_of TEXT KEY: the value of "KEY VALUE" (cpu.stat, memory.stat)
flat_of() { awk -v k="$2" '$1 == k { print $2; exit }' <<< "$1"; }
# nested_of TEXT ROW KEY: KEY's value on the line whose first field is ROW (io.stat, ...)
nested_of() {
    awk -v r="$2" -v k="$3" '$1 == r { for (i = 2; i <= NF; i++) {
        n = index($i, "="); if (substr($i, 1, n - 1) == k) { print substr($i, n + 1); exit } } }' <<< "$1"
}
# keys_of TEXT [ROW]: the keys of a flat file, or of row ROW of a nested one, sorted
keys_of() {
    if [ $# = 1 ]; then awk '{ print $1 }' <<< "$1" | sort | tr '\n' ' '
    else awk -v r="$2" '$1 == r { for (i = 2; i <= NF; i++) { sub(/=.*/, "", $i); print $i } }' <<< "$1" |
        sort | tr '\n' ' '; fi
}
# ds_of FILE KEY: the value of KEY in a `virsh domstats` output
ds_of() { awk -F= -v k="$2" '{ sub(/^ +/, "", $1) } $1 == k { print $2; exit }' "$1"; }
# gi KEY [guestinfo options]: one value of `virsh guestinfo` (the witness of agent/)
gi() { dx_virsh "$H" guestinfo "$G" "${@:2}" 2>/dev/null | awk -F' *: ' -v k="$1" '{ sub(/^ +/, "", $1) } $1 == k { print $2; exit }'; }
rd() { dx_cat "$D/$1" 2>/dev/null; }
mtime() { timeout 5 stat -c %Y "$D/$1" 2>/dev/null || echo 0; }
is_num() { [[ $1 =~ ^[0-9]+$ ]]; }
json_str() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }
json_get() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])["return"].get(sys.argv[2], ""))' "$1" "$2" 2>/dev/null; }

# gexec SHELL-COMMAND: runs it in the guest (qemu-ga guest-exec, /bin/sh -c), waits for it
# (WAIT_MAX s), prints its stdout; the exit status is the command's. libvirt marks the
# domain tainted (custom-ga-command): only this test's guest.
gexec() {
    local r pid s i out rc
    r=$(dx_virsh "$H" qemu-agent-command "$G" \
        "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\",\"arg\":[\"-c\",$(json_str "$1")],\"capture-output\":true}}") ||
        { echo "# guest-exec failed: $r" >&2; return 126; }
    pid=$(json_get "$r" pid)
    is_num "$pid" || { echo "# guest-exec: no pid in $r" >&2; return 126; }
    for ((i = 0; i < WAIT_MAX * 5; i++)); do
        s=$(dx_virsh "$H" qemu-agent-command "$G" \
            "{\"execute\":\"guest-exec-status\",\"arguments\":{\"pid\":$pid}}") || return 126
        [ "$(json_get "$s" exited)" = True ] && break
        sleep 0.2
    done
    out=$(json_get "$s" out-data)
    [ -n "$out" ] && base64 -d <<< "$out"
    rc=$(json_get "$s" exitcode)
    is_num "$rc" || { echo "# guest-exec: $1: no exit code within $WAIT_MAX s" >&2; return 125; }
    return "$rc"
}
# gexec_nowait SHELL-COMMAND: starts it in the guest, does not wait (the agent may go)
gexec_nowait() {
    dx_virsh "$H" qemu-agent-command "$G" \
        "{\"execute\":\"guest-exec\",\"arguments\":{\"path\":\"/bin/sh\",\"arg\":[\"-c\",$(json_str "$1")]}}" >/dev/null
}

# status_is FILE REGEX: agent/status (of any mount) matches (for dx_wait)
status_is() { [[ $(timeout 5 cat "$1" 2>/dev/null) =~ $2 ]]; }
# status_epoch TEXT: the UTC time of an agent/status line as seconds since the epoch
status_epoch() { local t=${1#* }; [ "$t" != "$1" ] && date -u -d "$t" +%s 2>/dev/null; }
# status_newer FILE T: agent/status says connected with a refresh later than T (the status
# says connected as soon as libvirt's XML does; the refresh that event triggers follows)
status_newer() {
    local s t
    s=$(timeout 5 cat "$1" 2>/dev/null); t=$(status_epoch "$s")
    [[ $s == "connected "* ]] && [ -n "$t" ] && [ "$t" -gt "$2" ]
}
# stable_size FILE: stat's size equals what a read returns, on a read that no fetch came
# between (same mtime before and after; tried 10 times at most)
stable_size() {
    local i a b n
    for ((i = 0; i < 10; i++)); do
        a=$(timeout 5 stat -c '%s %Y' "$1"); n=$(timeout 5 cat "$1" | wc -c); b=$(timeout 5 stat -c '%s %Y' "$1")
        [ "$a" = "$b" ] || continue
        [ "${a% *}" = "$n" ] && return 0
        echo "stat size ${a% *}, read $n bytes (mtime ${a#* })"; return 1
    done
    echo "no read without a fetch in between"; return 1
}
STATUS_RE='^(connected|disconnected) ([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z)$'

# Witnesses for the statistics: `virsh domstats` just before (A) and just after (B) the
# files are read, the files from a fetch that began after A returned. A counter X that
# domfs shows then satisfies f(A) <= X <= f(B), f being domfs's conversion.
# snapshot_files: reads every statistics file into S_* (from one or more fetches, all
# later than WIT_A)
snapshot_files() {
    S_CPU=$(rd cpu.stat); S_VCPU=$(rd vcpu.stat); S_MEM=$(rd memory.stat)
    S_IO=$(rd io.stat); S_NET=$(rd net.stat)
    local t f
    for t in $DISKS; do
        for f in capacity allocation physical; do
            printf -v "S_${f^^}_$t" '%s' "$(rd "devices/disks/$t/$f")"
        done
    done
}
# disk_file T FIELD: what snapshot_files read from devices/disks/T/FIELD
disk_file() { local v="S_${2^^}_$1"; echo "${!v}"; }
# blk WITNESS T: N of the witness's block.N.name=T (libvirt's order is the XML's)
blk() { awk -F= -v t="$2" '{ sub(/^ +/, "", $1) } $1 ~ /^block\.[0-9]+\.name$/ && $2 == t {
    split($1, p, "."); print p[2]; exit }' "$1"; }
# the statistics files of every disk (for the checks of size and emptiness)
disk_files() { local t f; for t in $DISKS; do for f in capacity allocation physical; do
    echo "devices/disks/$t/$f"; done; done; }
# witnessed_read TAG: domstats A, wait for a later fetch, read the files, domstats B
witnessed_read() {
    WIT_A=$E2E_ROOT/ds-$1-a WIT_B=$E2E_ROOT/ds-$1-b
    dx_virsh "$H" domstats "$G" > "$WIT_A"
    local after=$(( EPOCHSECONDS + FETCH_MARGIN_S ))
    dx_wait "$WAIT_MAX" fetched_since "$after"
    tap_ok $? "$1: a statistics fetch after the first witness (mtime $(mtime cpu.stat) >= $after)"
    snapshot_files
    dx_virsh "$H" domstats "$G" > "$WIT_B"
}
# between WHAT X KEY DIV MUL: X = floor(v/DIV)*MUL of domstats KEY lies between A and B
between() {
    local what=$1 x=$2 key=$3 div=${4:-1} mul=${5:-1} a b
    a=$(ds_of "$WIT_A" "$key"); b=$(ds_of "$WIT_B" "$key")
    if ! is_num "$x" || ! is_num "$a" || ! is_num "$b"; then
        tap_ok 1 "$what: $x between $key's witnesses" "domfs '$x', virsh before '$a', after '$b'"
        return
    fi
    a=$(( a / div * mul )); b=$(( b / div * mul ))
    [ "$a" -le "$x" ] && [ "$x" -le "$b" ]
    tap_ok $? "$what = $x lies within virsh's $key before/after [$a, $b]"
}

# domfs key <- libvirt key, divisor, multiplier (README "Statistics")
CPU_MAP="usage_usec:cpu.time:1000:1 user_usec:cpu.user:1000:1 system_usec:cpu.system:1000:1"
MEM_MAP="current:balloon.rss:1:$KIB max:balloon.maximum:1:$KIB actual:balloon.current:1:$KIB
available:balloon.available:1:$KIB usable:balloon.usable:1:$KIB unused:balloon.unused:1:$KIB
rss:balloon.rss:1:$KIB disk_caches:balloon.disk_caches:1:$KIB swap_in:balloon.swap_in:1:$KIB
swap_out:balloon.swap_out:1:$KIB major_faults:balloon.major_fault:1:1
minor_faults:balloon.minor_fault:1:1"
IO_MAP="rbytes:rd.bytes:1:1 wbytes:wr.bytes:1:1 rios:rd.reqs:1:1 wios:wr.reqs:1:1
fios:fl.reqs:1:1 rtime_usec:rd.times:1000:1 wtime_usec:wr.times:1000:1 ftime_usec:fl.times:1000:1"
NET_MAP="rx_bytes:rx.bytes rx_packets:rx.pkts rx_errs:rx.errs rx_drop:rx.drop
tx_bytes:tx.bytes tx_packets:tx.pkts tx_errs:tx.errs tx_drop:tx.drop"
VCPU_MAP="time_usec:time:1000:1 wait_usec:wait:1000:1 delay_usec:delay:1000:1"

# expected_keys MAP PREFIX [KEY...]: the domfs keys whose libvirt key PREFIX<key> the
# witness A has, plus KEY..., sorted
expected_keys() {
    local e k lk map=$1 prefix=$2; shift 2
    { for e in $map; do
          IFS=: read -r k lk _ <<< "$e"
          [ -n "$(ds_of "$WIT_A" "$prefix$lk")" ] && echo "$k"
      done
      for k in "$@"; do echo "$k"; done; } | sort | tr '\n' ' '
}

# predicates for dx_wait
fetched_since() { [ "$(mtime cpu.stat)" -ge "$1" ]; }
nonempty() { [ -n "$(timeout 5 cat "$1" 2>/dev/null)" ]; }
# flat_above FILE KEY N / nested_above FILE ROW KEY N: the value is a number > N
flat_above() { local v; v=$(flat_of "$(rd "$1")" "$2"); is_num "$v" && [ "$v" -gt "$3" ]; }
nested_above() { local v; v=$(nested_of "$(rd "$1")" "$2" "$3"); is_num "$v" && [ "$v" -gt "$4" ]; }
gone() { ! kill -0 "$1" 2>/dev/null; }
iface_has_lease() { timeout 5 grep -q "^eth0 $MAC .*$IP/24" "$D/agent/interfaces"; }

# ---------------------------------------------------------------- set-up
dx_phase "setup: packages, agent guest, host $H (own netns), DHCP network"
e2e_install
e2e_guest_build --agent || e2e_die "agent guest build failed"
e2e_host_up "$H" --ownnet || e2e_die "host $H did not come up"
e2e_net_dhcp_up "$H" || e2e_die "no libvirt network with DHCP on $H"
e2e_domain_xml "$G" --agent --cdrom --hostname "$GHN" |
    sed "s|<vcpu>1</vcpu>|<vcpu>$NVCPU</vcpu>|" > "$E2E_ROOT/$G.xml" || e2e_die "guest XML"
grep -q "<vcpu>$NVCPU</vcpu>" "$E2E_ROOT/$G.xml" || e2e_die "the guest XML has no <vcpu> to set"
dx_virsh "$H" define "$E2E_ROOT/$G.xml" >/dev/null || e2e_die "define $G failed"
IMG=$E2E_ROOT/images/$G.qcow2
vsize() { qemu-img info -U --output=json "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["virtual-size"])'; }
declare -A DISK_IMG=([vda]=$IMG [hdc]=$E2E_AGENT_GUEST_DIR/media-a.raw) DISK_VSIZE=()
for t in $DISKS; do DISK_VSIZE[$t]=$(vsize "${DISK_IMG[$t]}"); done
VSIZE=${DISK_VSIZE[vda]}
KPKG=$(cat "$E2E_AGENT_GUEST_DIR/kernel-package")
VERS=$(dx_virsh "$H" version 2>/dev/null | awk -F': ' '/^Using library/ { l = $2 } /^Running hypervisor/ { q = $2 } END { print l ", " q }')
echo "# $VERS"

dx_phase "mount (stats_interval=1, agent_interval=5; a second one with agent_interval=3600)"
URI=$(e2e_host_uri "$H")
dx_mount ag -c "$H=$URI" --log-root "$H=$(e2e_host_logdir "$H")" -o stats_interval=1,agent_interval=5
tap_ok $? "domfs mounts $H with -o stats_interval=1,agent_interval=5" || dx_finish
M=$DX_MNT MPID=$DX_PID
dx_mount hint -c "$H=$URI" -o stats_interval=0,agent_interval=3600
tap_ok $? "a second mount with -o agent_interval=3600 (agent data only from the agent-lifecycle event)"
M2=$DX_MNT
D=$M/$G
is "$(timeout 5 ls "$D/agent" | tr '\n' ' ')" "filesystems hostname interfaces os status timezone users " \
    "agent/ holds its seven files"
is "$(rd agent/status)" "disconnected" "shut off, with an agent channel: agent/status says disconnected, no time yet"
is "$(rd cpu.stat)$(rd io.stat)$(rd devices/disks/vda/capacity)$(rd devices/disks/hdc/capacity)" "" "shut off: no statistics"

# ---------------------------------------------------------------- boot
dx_phase "start through domfs; the agent connects; the lease"
T_START=$EPOCHSECONDS T0=$(e2e_now)
out=$(dx_write "$D/state" start); tap_ok $? "echo start > $G/state" "$out"
dx_wait "$WAIT_BOOT" status_is "$D/agent/status" "^connected "
tap_ok $? "agent/status says connected"
timing "start -> agent/status connected (agent_interval=5)" "$(e2e_since "$T0")"
dx_wait "$WAIT_MAX" status_is "$M2/$G/agent/status" "^connected "
tap_ok $? "the agent_interval=3600 mount: agent/status connected too"
timing "start -> agent/status connected (agent_interval=3600: the event alone)" "$(e2e_since "$T0")"
dx_wait "$WAIT_MAX" nonempty "$M2/$G/agent/hostname"
is "$(timeout 5 cat "$M2/$G/agent/hostname")" "$GHN" "... and its agent/hostname, fetched on the agent-lifecycle event"
e2e_wait_agent "$G" "$H" "$WAIT_MAX"; tap_ok $? "witness: virsh guestinfo answers"
IP=$(e2e_wait_lease "$G" "$H" "$WAIT_BOOT")
like "$IP" "^${E2E_NET_SUBNET//./\\.}\.[0-9]+$" "witness: the DHCP lease (domifaddr --source lease): $IP"
timing "start -> lease in domifaddr --source lease" "$(e2e_since "$T0")"
e2e_wait_console "$G" "$H" 'INIT: dhcp (bound|renew) ' "$WAIT_MAX" >/dev/null 2>&1
e2e_wait_agent_ip "$G" "$H" "$WAIT_MAX" >/dev/null
MAC=$(rd devices/interfaces/0/mac)
like "$MAC" '^52:54:00(:[0-9a-f]{2}){3}$' "devices/interfaces/0/mac: $MAC"
is "$MAC" "$(dx_virsh "$H" domiflist "$G" | awk '{ print $5; exit }')" "... is virsh domiflist's"

# ---------------------------------------------------------------- agent/
dx_phase "agent/ against guestinfo, the console and the guest's own df"
# the agent's interfaces once udhcpc has applied the lease: wait for a refresh showing it
dx_wait "$WAIT_MAX" iface_has_lease
st=$(rd agent/status)
like "$st" "$STATUS_RE" "agent/status: connected and a UTC time: '$st'"
t=$(status_epoch "$st")
[ -n "$t" ] && [ "$t" -ge "$T_START" ] && [ "$t" -le "$EPOCHSECONDS" ]
tap_ok $? "its time is a refresh of this run ($T_START <= ${t:-?} <= now)"
is "$(rd agent/hostname)" "$GHN" "agent/hostname is what the guest set"
is "$(rd agent/hostname)" "$(gi hostname --hostname)" "... and virsh guestinfo's"
OS=$(rd agent/os)
echo "$OS" | sed 's/^/#   os: /'
is "$(sed -n 's/^id=//p' <<< "$OS")" "domfs-e2e-guest" "agent/os: id= from the guest's os-release"
KREL=$(_e2e_log_stream "$(e2e_serial_log "$G" "$H")" | sed -n 's/.*Linux version \([^ ]*\) .*/\1/p' | head -1)
is "$(sed -n 's/^kernel_release=//p' <<< "$OS")" "$KREL" "agent/os: kernel_release= is the guest kernel's (its console says '$KREL')"
is "$KREL" "${KPKG#linux-image-}" "... which is the kernel package's ($KPKG)"
bad=""
for k in id name version version-id kernel-release kernel-version machine; do
    w=$(gi "os.$k" --os); l=$(sed -n "s/^${k//-/_}=//p" <<< "$OS")
    [ "$w" = "$l" ] || bad+=" $k(domfs '$l' virsh '$w')"
done
is "$bad" "" "agent/os: every line equals virsh guestinfo's os.* value (missing in both = absent)"
is "$(rd agent/timezone)" "$(gi timezone.name --timezone) $(gi timezone.offset --timezone)" \
    "agent/timezone is 'NAME OFFSET' as guestinfo says"
USERS=$(rd agent/users)
ltms=$(gi user.0.login-time --user)
is "$USERS" "root login_time=$(( ${ltms:-0} / 1000 ))" "agent/users: root with guestinfo's login time in seconds"
bt=$(( ${ltms:-0} / 1000 ))
[ "$bt" -ge $((T_START - 5)) ] && [ "$bt" -le $((EPOCHSECONDS + 5)) ]
tap_ok $? "... which is the guest's boot (/init writes the utmp record): $bt"
FS=$(rd agent/filesystems)
like "$FS" '^/mnt ext2 total_bytes=[0-9]+ used_bytes=[0-9]+$' "agent/filesystems: '/mnt ext2 total_bytes=N used_bytes=N'"
# the guest's own df -k (busybox): 1K-blocks Used Available
DF=$(gexec 'df -k /mnt | tail -n 1'); rc=$?
tap_ok $rc "witness: df -k /mnt run in the guest (guest-exec): $DF"
read -r _ _ df_used df_avail _ <<< "$DF"
total=$(nested_of "$FS" /mnt total_bytes)
is "$total" "$(( (df_used + df_avail) * KIB ))" "total_bytes = (Used + Available) * 1024 of the guest's df (the reserved blocks excluded, as qemu-ga does)"
is "$total" "$(gi fs.0.total-bytes --filesystem)" "total_bytes = guestinfo fs.0.total-bytes"
[ "$total" -le "$VSIZE" ] 2>/dev/null; tap_ok $? "total_bytes ($total) <= the disk's size ($VSIZE)"
# used_bytes changes with the guest's writes: equal to df's within the agent interval
used_matches() {
    local u d
    u=$(nested_of "$(rd agent/filesystems)" /mnt used_bytes)
    d=$(gexec 'df -k /mnt | tail -n 1' | awk '{ print $3 * 1024 }')
    [ -n "$u" ] && [ "$u" = "$d" ]
}
dx_wait "$WAIT_MAX" used_matches; tap_ok $? "used_bytes = Used * 1024 of the guest's df (after a refresh)"
IFS_TXT=$(rd agent/interfaces)
echo "$IFS_TXT" | sed 's/^/#   interfaces: /'
like "$IFS_TXT" "^eth0 $MAC ([^ ]+ )*$IP/24( |\$)" "agent/interfaces: eth0, its MAC and its DHCP address"
like "$IFS_TXT" '^lo 00:00:00:00:00:00 127\.0\.0\.1/8' "agent/interfaces: lo 127.0.0.1/8"
is "$(wc -l <<< "$IFS_TXT")" "$(dx_virsh "$H" domifaddr "$G" --source agent | awk '$2 ~ /^([0-9a-f][0-9a-f]:)+[0-9a-f][0-9a-f]$/ { n++ } END { print n + 0 }')" \
    "one line per interface virsh domifaddr --source agent lists"
IPF=$(rd devices/interfaces/0/ip)
like " $IPF " " $IP/24 " "devices/interfaces/0/ip holds the leased address ($IPF)"
IP_SEEN=""               # where ip's addresses were seen to come from (the keys table)
[[ " $IPF " == *" fe80::"* ]] && IP_SEEN="the agent (IPv4 and IPv6) while it answers"
like "$(dx_virsh "$H" net-dhcp-leases default)" "$MAC +ipv4 +$IP/24 +$GHN" "witness: net-dhcp-leases has $MAC $IP $GHN"

# ---------------------------------------------------------------- statistics
dx_phase "statistics against virsh domstats before/after"
witnessed_read boot
printf '%s\n' "$S_CPU" "$S_VCPU" "$S_MEM" "$S_IO" "$S_NET" | sed 's/^/#   /'
# cpu.stat
is "$(keys_of "$S_CPU")" "$(expected_keys "$CPU_MAP" "")" "cpu.stat: the keys libvirt reports (cpu.time/user/system)"
for e in $CPU_MAP; do
    IFS=: read -r k lk dv ml <<< "$e"
    v=$(flat_of "$S_CPU" "$k"); [ -n "$v" ] && between "cpu.stat $k" "$v" "$lk" "$dv" "$ml"
done
# vcpu.stat
is "$(wc -l <<< "$S_VCPU")" "$NVCPU" "vcpu.stat: one line per vCPU ($NVCPU)"
is "$(ds_of "$WIT_A" vcpu.current)" "$NVCPU" "witness: domstats vcpu.current $NVCPU"
for ((i = 0; i < NVCPU; i++)); do
    like "$S_VCPU" "^$i state=running( [a-z_]+=[0-9]+)+\$" "vcpu.stat: line '$i state=running ...'"
    is "$(keys_of "$S_VCPU" "$i")" "$(expected_keys "$VCPU_MAP" "vcpu.$i." state)" \
        "vcpu.stat $i: state and the times libvirt reports"
    for e in $VCPU_MAP; do
        IFS=: read -r k lk dv ml <<< "$e"
        v=$(nested_of "$S_VCPU" "$i" "$k"); [ -n "$v" ] && between "vcpu.stat $i $k" "$v" "vcpu.$i.$lk" "$dv" "$ml"
    done
done
# memory.stat
is "$(keys_of "$S_MEM")" "$(expected_keys "$MEM_MAP" "")" "memory.stat: the keys libvirt's balloon.* reports"
like "$(keys_of "$S_MEM")" 'available .*usable' "memory.stat: the guest's own balloon statistics (available, usable) are there"
is "$(flat_of "$S_MEM" max)" "$(( $(ds_of "$WIT_A" balloon.maximum) * KIB ))" "memory.stat max = balloon.maximum KiB * 1024"
is "$(flat_of "$S_MEM" actual)" "$(( $(ds_of "$WIT_A" balloon.current) * KIB ))" "memory.stat actual = balloon.current KiB * 1024"
is "$(flat_of "$S_MEM" max)" "$(( E2E_GUEST_MEM_MIB * KIB * KIB ))" "... the guest's ${E2E_GUEST_MEM_MIB} MiB"
is "$(flat_of "$S_MEM" current)" "$(flat_of "$S_MEM" rss)" "memory.stat current = rss (the host memory the guest occupies)"
for k in swap_in swap_out major_faults minor_faults; do   # counters
    for e in $MEM_MAP; do
        IFS=: read -r mk lk dv ml <<< "$e"
        [ "$mk" = "$k" ] || continue
        v=$(flat_of "$S_MEM" "$k"); [ -n "$v" ] && between "memory.stat $k" "$v" "$lk" "$dv" "$ml"
    done
done
# io.stat
is "$(awk '{ print $1 }' <<< "$S_IO" | tr '\n' ' ')" "$DISKS " "io.stat: one line per disk, in the domain's order ($DISKS)"
for t in $DISKS; do
    b=$(blk "$WIT_A" "$t")
    is "$(keys_of "$S_IO" "$t")" "$(expected_keys "$IO_MAP" "block.$b.")" "io.stat $t: the keys libvirt's block.$b.* reports"
    for e in $IO_MAP; do
        IFS=: read -r k lk dv ml <<< "$e"
        v=$(nested_of "$S_IO" "$t" "$k"); [ -n "$v" ] && between "io.stat $t $k" "$v" "block.$b.$lk" "$dv" "$ml"
    done
done
like "$(nested_of "$S_IO" hdc rbytes)" '^[1-9][0-9]*$' "io.stat hdc: the guest read its cdrom (rbytes > 0)"
# net.stat
NETDEV=$(rd devices/interfaces/0/target)
like "$NETDEV" '^vnet[0-9]+$' "devices/interfaces/0/target: $NETDEV"
is "$(awk '{ print $1 }' <<< "$S_NET" | tr '\n' ' ')" "$NETDEV " "net.stat: one line, the interface $NETDEV"
is "$(ds_of "$WIT_A" net.0.name)" "$NETDEV" "witness: net.0 is $NETDEV"
is "$(keys_of "$S_NET" "$NETDEV")" "$(expected_keys "$NET_MAP" "net.0.")" "net.stat: the keys libvirt's net.0.* reports"
for e in $NET_MAP; do
    IFS=: read -r k lk <<< "$e"
    v=$(nested_of "$S_NET" "$NETDEV" "$k"); [ -n "$v" ] && between "net.stat $k" "$v" "net.0.$lk"
done
# disks
for t in $DISKS; do
    b=$(blk "$WIT_A" "$t")
    is "$(disk_file "$t" capacity)" "${DISK_VSIZE[$t]}" "devices/disks/$t/capacity = qemu-img's virtual size of ${DISK_IMG[$t]##*/}"
    between "devices/disks/$t/allocation" "$(disk_file "$t" allocation)" "block.$b.allocation"
    between "devices/disks/$t/physical" "$(disk_file "$t" physical)" "block.$b.physical"
done
S_PHYS=$(disk_file vda physical)
bad=""
for f in cpu.stat vcpu.stat memory.stat io.stat net.stat $(disk_files); do
    out=$(stable_size "$D/$f") || bad+=" $f: $out;"
done
is "$bad" "" "a running guest's statistics files: stat size = bytes read"
bad=""
for f in agent/status agent/hostname agent/os agent/timezone agent/users agent/filesystems \
         agent/interfaces devices/interfaces/0/ip; do
    out=$(stable_size "$D/$f") || bad+=" $f: $out;"
done
is "$bad" "" "agent/ files and ip: stat size = bytes read"
P_IMG=$(stat -c %s "$IMG")
[ "$S_PHYS" -le "$P_IMG" ] 2>/dev/null; tap_ok $? "physical ($S_PHYS) <= the image file's size now ($P_IMG)"
# growth while the guest runs
U1=$(flat_of "$S_CPU" usage_usec); RX1=$(nested_of "$S_NET" "$NETDEV" rx_bytes)
TX1=$(nested_of "$S_NET" "$NETDEV" tx_bytes)
dx_wait "$WAIT_MAX" flat_above cpu.stat usage_usec "${U1:-0}"
tap_ok $? "cpu.stat usage_usec grows while the guest runs (from $U1 to $(flat_of "$(rd cpu.stat)" usage_usec))"
dx_wait "$WAIT_MAX" nested_above net.stat "$NETDEV" tx_bytes "${TX1:-0}" &&
    dx_wait "$WAIT_MAX" nested_above net.stat "$NETDEV" rx_bytes "${RX1:-0}"
tap_ok $? "net.stat rx_bytes and tx_bytes grow (the guest pings its DHCP server every second)"

# ---------------------------------------------------------------- the guest writes its disk
dx_phase "the guest writes $WRITE_KIB KiB to its disk (guest-exec dd + sync)"
W1=$(nested_of "$(rd io.stat)" vda wbytes); U1=$(nested_of "$(rd agent/filesystems)" /mnt used_bytes)
out=$(gexec "dd if=/dev/urandom of=/mnt/e2e-write bs=1024 count=$WRITE_KIB 2>&1 && sync && ls -l /mnt/e2e-write")
tap_ok $? "the guest wrote /mnt/e2e-write" "$out"
dx_wait "$WAIT_MAX" nested_above io.stat vda wbytes $(( ${W1:-0} + WRITE_KIB * KIB - 1 ))
tap_ok $? "io.stat vda wbytes grew by at least $WRITE_KIB KiB ($W1 -> $(nested_of "$(rd io.stat)" vda wbytes))"
dx_wait "$WAIT_MAX" nested_above agent/filesystems /mnt used_bytes $(( ${U1:-0} + WRITE_KIB * KIB - 1 ))
tap_ok $? "agent/filesystems used_bytes grew by at least $WRITE_KIB KiB ($U1 -> $(nested_of "$(rd agent/filesystems)" /mnt used_bytes))"
witnessed_read write
b=$(blk "$WIT_A" vda)
between "io.stat vda wbytes after the write" "$(nested_of "$S_IO" vda wbytes)" "block.$b.wr.bytes"
between "io.stat vda wios after the write" "$(nested_of "$S_IO" vda wios)" "block.$b.wr.reqs"
between "devices/disks/vda/allocation after the write" "$(disk_file vda allocation)" "block.$b.allocation"

# ---------------------------------------------------------------- metrics.prom
dx_phase "metrics.prom: samples, promtool, node_exporter"
PROM=$M/.domfs/metrics.prom
PT=$(timeout 10 cat "$PROM")
L="host=\"$H\",name=\"$G\""
is "$(grep -c "^domfs_up{host=\"$H\"} 1$" <<< "$PT")" 1 "domfs_up{host=\"$H\"} 1"
like "$PT" "domfs_guest_info\{$L,uuid=\"$(rd uuid)\",title=\"\"\} 1" "domfs_guest_info with the uuid"
like "$PT" "domfs_guest_cpu_seconds_total\{$L\} [0-9.e+]+" "domfs_guest_cpu_seconds_total"
is "$(grep -c "^domfs_guest_vcpu_seconds_total{$L,vcpu=\"[0-9]\"} " <<< "$PT")" "$NVCPU" "domfs_guest_vcpu_seconds_total: one sample per vCPU"
for t in $DISKS; do
    is "$(grep "^domfs_guest_block_capacity_bytes{$L,device=\"$t\"}" <<< "$PT" | awk '{ print $2 }')" "${DISK_VSIZE[$t]}" \
        "domfs_guest_block_capacity_bytes{device=\"$t\"} = the virtual size"
done
is "$(grep "^domfs_guest_memory_max_bytes{$L}" <<< "$PT" | awk '{ print $2 }')" "$(flat_of "$S_MEM" max)" \
    "domfs_guest_memory_max_bytes = memory.stat max"
like "$PT" "domfs_guest_network_receive_drops_total\{$L,device=\"$NETDEV\"\} [0-9]+" "NIC drops of $NETDEV"
like "$PT" "domfs_guest_memory_available_bytes\{$L\} [0-9]+" "balloon: available bytes"
AGE=$(grep "^domfs_host_data_age_seconds{host=\"$H\"}" <<< "$PT" | awk '{ print $2 }')
like "$AGE" '^[0-9.e+-]+$' "domfs_host_data_age_seconds{host=\"$H\"} = $AGE"
is "$(stat -c %s "$PROM")" "$(timeout 10 cat "$PROM" | wc -c)" "stat size of metrics.prom = what a read returns"
if pkg_fetch prometheus "$TOOLS_CACHE/prometheus" && [ -x "$TOOLS_CACHE/prometheus/usr/bin/promtool" ]; then
    out=$("$TOOLS_CACHE/prometheus/usr/bin/promtool" check metrics < "$PROM" 2>&1); rc=$?
    tap_ok "$rc" "promtool check metrics accepts metrics.prom of a real QEMU guest" "$out"
    is "$out" "" "promtool has no lint complaint"
else
    tap_skip "promtool check metrics" "apt-get download prometheus into $TOOLS_CACHE failed (no package mirror?)"
fi
NE=$TOOLS_CACHE/prometheus-node-exporter/usr/bin/prometheus-node-exporter
if pkg_fetch prometheus-node-exporter "$TOOLS_CACHE/prometheus-node-exporter" && [ -x "$NE" ]; then
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$NE" --collector.disable-defaults --collector.textfile --collector.textfile.directory="$M/.domfs" \
        --web.listen-address="127.0.0.1:$port" > "$E2E_ROOT/node-exporter.log" 2>&1 &
    ne=$!
    scrape=""
    for _ in $(seq 100); do
        scrape=$(python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' \
                 "http://127.0.0.1:$port/metrics" 2>/dev/null) && break
        kill -0 "$ne" 2>/dev/null || break
        sleep 0.1
    done
    kill "$ne" 2>/dev/null; wait "$ne" 2>/dev/null
    like "$scrape" 'node_textfile_scrape_error 0' "node_exporter's textfile collector: scrape error 0"
    like "$scrape" "domfs_guest_cpu_seconds_total\{$L\} " "node_exporter serves domfs_guest_cpu_seconds_total of $G"
    like "$scrape" "domfs_guest_block_write_bytes_total\{device=\"vda\",$L\} |domfs_guest_block_write_bytes_total\{$L,device=\"vda\"\} " \
        "node_exporter serves the disk's write bytes"
    echo "# node_exporter served $(grep -c '^domfs_' <<< "$scrape") domfs_ samples"
    [ -n "$scrape" ] || sed 's/^/# node_exporter: /' "$E2E_ROOT/node-exporter.log"
else
    tap_skip "node_exporter textfile collector" "apt-get download prometheus-node-exporter into $TOOLS_CACHE failed (no package mirror?)"
fi

# ---------------------------------------------------------------- paused: no answer
dx_phase "paused: the agent cannot answer; its data and addresses stay"
# log_since N TEXT: the daemon's log has TEXT after its first N lines
log_since() { tail -n +"$(( $1 + 1 ))" "$M.log" | grep -qF -- "$2"; }
IPF=$(rd devices/interfaces/0/ip); st=$(rd agent/status); IFS_TXT=$(rd agent/interfaces)
like "$IPF" " fe80::" "before: ip has the agent's addresses (IPv4 and IPv6): $IPF"
nlog=$(wc -l < "$M.log")
out=$(dx_write "$D/state" paused); tap_ok $? "echo paused > state" "$out"
dx_wait "$WAIT_MAX" log_since "$nlog" "$G: the guest agent does not answer"
tap_ok $? "an agent pass finds no answer; the daemon logs it once" "$(tail -n +"$((nlog + 1))" "$M.log")"
tail -n +"$((nlog + 1))" "$M.log" | sed 's/^/#   log: /'
is "$(rd agent/status)" "$st" "paused: agent/status unchanged (connected, the last refresh's time)"
is "$(rd agent/interfaces)" "$IFS_TXT" "paused: agent/interfaces unchanged"
is "$(rd devices/interfaces/0/ip)" "$IPF" "paused: devices/interfaces/0/ip keeps the agent's addresses (not the lease alone)"
nlog=$(wc -l < "$M.log")
out=$(dx_write "$D/state" running); tap_ok $? "echo running > state" "$out"
dx_wait "$WAIT_MAX" status_newer "$D/agent/status" "$(status_epoch "$st")"
tap_ok $? "resumed: a newer refresh ('$(rd agent/status)')"
log_since "$nlog" "$G: the guest agent answers again"; tap_ok $? "... and the log says the agent answers again"
is "$(tail -n +"$((nlog + 1))" "$M.log" | grep -c "guest agent")" 1 "... in one line"

# ---------------------------------------------------------------- the agent stops
dx_phase "qemu-ga killed inside the guest: disconnected, data kept"
BEFORE=$(for f in hostname os timezone users filesystems interfaces; do echo "== $f"; rd "agent/$f"; done)
T_KILL=$EPOCHSECONDS T0=$(e2e_now)
# shellcheck disable=SC2016  # expanded in the guest
gexec_nowait 'sleep 1; kill $(cat /run/qemu-ga.pid)'; tap_ok $? "guest-exec: kill qemu-ga in 1 s"
dx_wait "$WAIT_MAX" status_is "$D/agent/status" "^disconnected "
tap_ok $? "agent/status goes disconnected"
timing "qemu-ga killed -> agent/status disconnected" "$(e2e_since "$T0")"
like "$(dx_virsh "$H" dumpxml "$G")" "name='org.qemu.guest_agent.0' state='disconnected'" "witness: the live XML's channel is disconnected"
st=$(rd agent/status); t=$(status_epoch "$st")
like "$st" "$STATUS_RE" "agent/status keeps the time of the last refresh: '$st'"
[ -n "$t" ] && [ "$t" -ge "$T_START" ] && [ "$t" -le "$((T_KILL + 2))" ]
tap_ok $? "... a time before the agent went ($t <= $T_KILL + 2)"
# the next pass finds no agent: the interface's ip comes from the lease alone
dx_wait "$WAIT_MAX" dx_file_is "$D/devices/interfaces/0/ip" "$IP/24"
is "$(rd devices/interfaces/0/ip)" "$IP/24" "devices/interfaces/0/ip falls back to the lease: $IP/24"
[ "$(rd devices/interfaces/0/ip)" = "$IP/24" ] && IP_SEEN+="${IP_SEEN:+; }the lease (IPv4) once it is gone"
is "$(dx_virsh "$H" domifaddr "$G" --source lease | awk '$3 == "ipv4" { print $4 }')" "$IP/24" "witness: domifaddr --source lease"
is "$(rd agent/status)" "$st" "agent/status unchanged after a refresh pass without an agent"
AFTER=$(for f in hostname os timezone users filesystems interfaces; do echo "== $f"; rd "agent/$f"; done)
is "$AFTER" "$BEFORE" "hostname, os, timezone, users, filesystems, interfaces: unchanged (kept)"
like "$(rd cpu.stat)" 'usage_usec [0-9]+' "the statistics go on without the agent"
like "$(timeout 5 cat "$M2/$G/agent/status")" '^disconnected ' "the agent_interval=3600 mount says disconnected too"

# ---------------------------------------------------------------- shut down, start again
dx_phase "shutdown through domfs: statistics empty, agent data kept; start: connected again"
out=$(dx_write "$D/state" shutdown); tap_ok $? "echo shutdown > state (ACPI)" "$out"
dx_wait "$WAIT_MAX" dx_file_is "$D/state" shutoff; tap_ok $? "state shutoff"
bad=""
for f in cpu.stat vcpu.stat memory.stat io.stat net.stat $(disk_files); do
    [ -z "$(rd "$f")" ] || bad+=" $f"
    [ "$(timeout 5 stat -c %s "$D/$f")" = 0 ] || bad+=" $f(size)"
done
is "$bad" "" "shut off: every statistics file is empty (stat size 0)"
is "$(rd agent/status)" "$st" "shut off: agent/status still disconnected with the last refresh's time"
is "$(rd agent/hostname)" "$GHN" "shut off: agent/hostname kept"
T0=$(e2e_now)
out=$(dx_write "$D/state" start); tap_ok $? "echo start > state" "$out"
dx_wait "$WAIT_BOOT" status_is "$D/agent/status" "^connected "
tap_ok $? "after the restart agent/status is connected again ('$(rd agent/status)')"
timing "restart -> agent/status connected (the XML)" "$(e2e_since "$T0")"
dx_wait "$WAIT_MAX" status_newer "$D/agent/status" "${t:-0}"
tap_ok $? "... with a newer refresh time than before the agent went ('$(rd agent/status)')"
timing "restart -> agent/status connected with a new refresh (agent_interval=5)" "$(e2e_since "$T0")"
dx_wait "$WAIT_MAX" status_newer "$M2/$G/agent/status" "${t:-0}"
tap_ok $? "the agent_interval=3600 mount refreshed on the event too ('$(timeout 5 cat "$M2/$G/agent/status")')"
timing "restart -> agent/status connected with a new refresh (agent_interval=3600)" "$(e2e_since "$T0")"
dx_wait "$WAIT_MAX" nonempty "$D/net.stat"; tap_ok $? "net.stat has content again"
NETDEV=$(rd devices/interfaces/0/target)
is "$(awk '{ print $1 }' <<< "$(rd net.stat)" | tr '\n' ' ')" "$NETDEV " \
    "net.stat names the new tap device, as devices/interfaces/0/target does ($NETDEV)"

# ---------------------------------------------------------------- the keys table
dx_phase "keys QEMU and this guest fill"
witnessed_read table
row() { printf '#   %-28s filled: %-60s empty: %s\n' "$1" "${2:--}" "${3:--}"; }
# fill_row FILE MAP ALLKEYS TEXT [ROW]
fill_row() {
    local f=$1 all=$3 text=$4 have empty="" k
    have=$(if [ $# -ge 5 ]; then keys_of "$text" "$5"; else keys_of "$text"; fi)
    for k in $all; do [[ " $have " == *" $k "* ]] || empty+="$k "; done
    row "$f" "$have" "$empty"
}
echo "# keys filled by ${VERS:-libvirt/QEMU} (TCG, no cgroup controllers), agent guest (Linux ${KREL:-?}, qemu-ga of Debian 12):"
fill_row cpu.stat "" "usage_usec user_usec system_usec" "$S_CPU"
fill_row "vcpu.stat (each line)" "" "state time_usec wait_usec delay_usec" "$S_VCPU" 0
fill_row memory.stat "" "current max actual available usable unused rss disk_caches swap_in swap_out major_faults minor_faults" "$S_MEM"
for t in $DISKS; do
    fill_row "io.stat ($t)" "" "rbytes wbytes rios wios fios rtime_usec wtime_usec ftime_usec" "$S_IO" "$t"
done
fill_row "net.stat ($NETDEV)" "" "rx_bytes rx_packets rx_errs rx_drop tx_bytes tx_packets tx_errs tx_drop" "$S_NET" "$NETDEV"
for t in $DISKS; do
    filled=""; empty=""
    for f in capacity allocation physical; do
        if [ -n "$(disk_file "$t" "$f")" ]; then filled+="$f "; else empty+="$f "; fi
    done
    row "devices/disks/$t/" "$filled" "$empty"
done
filled=""; empty=""
for f in status hostname os timezone users filesystems interfaces; do
    if [ -n "$(rd "agent/$f")" ]; then filled+="$f "; else empty+="$f "; fi
done
row "agent/" "$filled" "$empty"
OSK=$(rd agent/os | sed 's/=.*//' | tr '\n' ' ')
empty=""; for k in id name version version_id kernel_release kernel_version machine; do
    [[ " $OSK " == *" $k "* ]] || empty+="$k "; done
row "agent/os" "$OSK" "$empty"
row "devices/interfaces/0/ip" "${IP_SEEN:-}" ""
echo "# libvirt domstats keys of this guest that no file shows:"
awk -F= 'NF > 1 { sub(/^ +/, "", $1); print $1 }' "$WIT_A" | sed -E 's/\.[0-9]+\./.N./' | sort -u |
    grep -vxE 'state\.(state|reason)|cpu\.(time|user|system)|balloon\.(current|maximum|available|usable|unused|rss|disk_caches|swap_in|swap_out|major_fault|minor_fault)|vcpu\.(current|maximum)|vcpu\.N\.(state|time|wait|delay)|(block|net)\.count|block\.N\.(name|rd\.bytes|wr\.bytes|rd\.reqs|wr\.reqs|fl\.reqs|rd\.times|wr\.times|fl\.times|capacity|allocation|physical)|net\.N\.(name|rx\.bytes|rx\.pkts|rx\.errs|rx\.drop|tx\.bytes|tx\.pkts|tx\.errs|tx\.drop)' |
    paste -sd' ' - | fold -s -w 100 | sed 's/^/#   /'

echo "# timings:"
printf '#   %s\n' "${TIMES[@]}"
kill -0 "$MPID" 2>/dev/null; tap_ok $? "the daemon is still running"
# unmounted, it exits by itself with status 0 (a sanitizer build's reports make it non-zero)
timeout 10 fusermount3 -u "$M"; tap_ok $? "fusermount3 -u $M"
dx_wait "$WAIT_MAX" gone "$MPID"
tap_ok $? "the daemon exits after the unmount"
wait "$MPID"; rc=$?
is "$rc" 0 "... with status 0"
[ "$rc" = 0 ] || tail -n 20 "$M.log" | sed 's/^/#   /'
dx_finish
