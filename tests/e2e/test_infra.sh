#!/bin/bash
# test_infra.sh - the e2e infrastructure itself, with virsh only (no domfs): what the
# multi-host (issue 10) and guest-agent (issue 12) tests stand on.
#   - three private libvirtd hosts on the run's LAN (each in its own network namespace,
#     reached from this namespace over TCP: qemu+tcp://ADDR/system, test+tcp://ADDR/default)
#   - a cut host (link down, packets dropped, libvirtd SIGSTOPped): a connected virsh with
#     keepalive (-k 1 -K 3) is disconnected, a new call fails within its bound, the two
#     other hosts answer meanwhile; once restored the host answers again
#   - the agent guest, defined and started over TCP on a host with an isolated libvirt
#     network with DHCP: guestinfo shows the hostname it was given, the user root, the
#     ext2 filesystem on /mnt; domifaddr --source agent and --source lease show its DHCP
#     address; domstats shows cpu.time, balloon, block and net counters growing
#   - nothing of the run is left once its hosts and namespaces are down
# Prints the timings it measured (nothing is asserted on them). Output: TAP; exit 0 = all
# passed, 77 = skipped.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=harness.sh
. "$HERE/harness.sh"
# shellcheck source=../lib/tap.sh
. "$HERE/../lib/tap.sh"

HOSTS=(h1 h2 h3)
CUT=h2                 # the host whose link is cut / whose libvirtd is stopped
GHOST=h1               # the host of the agent guest
G=ag                   # the agent guest
GNAME=ag-e2e           # the hostname it is given (kernel argument e2e.hostname)
KA=(-k 1 -K 3)         # virsh keepalive: a probe after 1 s of silence, dead after 3 unanswered
FRESH_TIMEOUT=3        # bound of a new virsh call to a cut host
WAIT_MAX=60            # bound of every wait for something that must happen
T_ALL=$(e2e_now)
TIMINGS=()

# timing WHAT SECONDS: a measured time, printed at the end
timing() { TIMINGS+=("$(printf '%7ss  %s' "$2" "$1")"); echo "# $1: $2 s"; }

finish() {
    echo "# timings:"
    printf '#   %s\n' "${TIMINGS[@]}"
    echo "# total $(e2e_since "$T_ALL") s"
    done_testing
    exit $?
}
# bail DESCRIPTION: a step the rest depends on failed
bail() { tap_ok 1 "$1"; finish; }

tcp_virsh() { # tcp_virsh HOST ARGS...: virsh over TCP, bounded
    timeout 20 virsh -q -c "$(e2e_host_tcp_uri "$1")" "${@:2}"
}
# stat_of FILE KEY: the value of KEY in a `virsh domstats` output
stat_of() { awk -F= -v k="$2" '{ sub(/^ +/, "", $1) } $1 == k { print $2; exit }' "$1"; }
# grew FILE1 FILE2 KEY: KEY is a number in both and larger in FILE2
grew() {
    local a b
    a=$(stat_of "$1" "$3"); b=$(stat_of "$2" "$3")
    [[ $a =~ ^[0-9]+$ && $b =~ ^[0-9]+$ ]] && [ "$b" -gt "$a" ]
}

# ---------------------------------------------------------------- set-up
e2e_init
links_before=$(_e2e_service_links)
ok "install packages (only missing ones)" e2e_install
is "$(_e2e_service_links)" "$links_before" "no service was enabled by the install"
ok "agent guest image (built, or cached)" e2e_guest_build --agent

for h in "${HOSTS[@]}"; do
    t=$(e2e_now)
    e2e_host_up "$h" --lan || bail "host $h up on the LAN"
    timing "host $h up (own network namespace, tcp listener)" "$(e2e_since "$t")"
done
tap_ok 0 "three hosts up on the LAN $E2E_LAN_SUBNET (this side $E2E_LAN_ADDR)"
for h in "${HOSTS[@]}"; do
    is "$(tcp_virsh "$h" hostname 2>&1)" "$h" "$(e2e_host_tcp_uri "$h") answers as $h"
done
like "$(tcp_virsh "$GHOST" --connect "$(e2e_host_tcp_uri "$GHOST" test)" list --all 2>&1)" \
    '^ *1 +test +running' "$(e2e_host_tcp_uri "$GHOST" test) serves the test driver"

t=$(e2e_now)
e2e_net_dhcp_up "$GHOST" || bail "libvirt network 'default' with DHCP on $GHOST"
timing "network 'default' defined and started on $GHOST" "$(e2e_since "$t")"
is "$(e2e_host_exec "$GHOST" ip -br link show dev virbr0 2>/dev/null | wc -l)" 1 \
    "its bridge virbr0 is in $GHOST's network namespace"
ip -br link show dev virbr0 >/dev/null 2>&1
tap_ok $(( $? == 0 )) "... and not in this one"

# ---------------------------------------------------------------- the agent guest boots
e2e_domain_xml "$G" --agent --hostname "$GNAME" > "$E2E_ROOT/$G.xml" || bail "agent guest XML"
ok "define $G over TCP on $GHOST" tcp_virsh "$GHOST" define "$E2E_ROOT/$G.xml"
T_START=$(e2e_now)
ok "start $G over TCP" tcp_virsh "$GHOST" start "$G"
timing "virsh start $G returned" "$(e2e_since "$T_START")"

# watch_guest: in the background while the cut trials run, records (in $E2E_ROOT/seen-*)
# when the agent first answers, the lease first shows, the agent first reports an IPv4
# address; every 0.25 s, WAIT_MAX s at most
watch_guest() {
    local what end=$(( EPOCHSECONDS + WAIT_MAX ))
    while (( EPOCHSECONDS < end )); do
        [ -e "$E2E_ROOT/seen-agent" ] || { _e2e_agent_answers "$G" "$GHOST" &&
            e2e_since "$T_START" > "$E2E_ROOT/seen-agent"; }
        for what in lease agent; do
            [ -e "$E2E_ROOT/seen-ip-$what" ] || { _e2e_has_ipv4 "$G" "$GHOST" "$what" &&
                e2e_since "$T_START" > "$E2E_ROOT/seen-ip-$what"; }
        done
        [ -e "$E2E_ROOT/seen-agent" ] && [ -e "$E2E_ROOT/seen-ip-lease" ] &&
            [ -e "$E2E_ROOT/seen-ip-agent" ] && return 0
        sleep 0.25
    done
}
watch_guest &
WATCHER=$!

# ---------------------------------------------------------------- cut hosts (the guest boots meanwhile)
# connected PID: process PID has an established TCP connection to a libvirtd (port 16509)
# (seen from the client's side: the server's side of an earlier trial's connection may
# still be there)
connected() {
    ss -Htnp state established '( dport = :16509 )' 2>/dev/null | grep -q "pid=$1,"
}

# cut_trial MODE: down / drop (e2e_link_cut MODE) or stop (e2e_host_stop) on $CUT
cut_trial() {
    local mode=$1 u t0 t out rc h vpid f=$E2E_ROOT/ka-$1
    u=$(e2e_host_tcp_uri "$CUT")
    echo "# --- $CUT: $mode"
    # a client that stays connected, with keepalive: it ends when the connection does
    virsh "${KA[@]}" -c "$u" event --all --loop > "$f.out" 2>&1 &
    vpid=$!
    wait_for 10 connected "$vpid" || { tap_ok 1 "$mode: a virsh with keepalive is connected to $CUT"; return; }
    # when it ends (polled, 0.05 s resolution)
    ( while kill -0 "$vpid" 2>/dev/null; do sleep 0.05; done; e2e_now > "$f.end" ) &
    t0=$(e2e_now)
    case $mode in
        stop) e2e_host_stop "$CUT";;
        *) e2e_link_cut "$CUT" "$mode";;
    esac
    tap_ok $? "$mode: $CUT cut off"
    t=$(e2e_now)
    out=$(timeout "$FRESH_TIMEOUT" virsh "${KA[@]}" -c "$u" hostname 2>&1); rc=$?
    tap_ok $(( rc == 0 )) "$mode: a new virsh call to $CUT fails or times out (rc $rc${out:+: ${out//$'\n'/ }})"
    timing "$mode: new call to $CUT ended (timeout $FRESH_TIMEOUT s)" "$(e2e_since "$t")"
    for h in "${HOSTS[@]}"; do
        [ "$h" = "$CUT" ] && continue
        is "$(tcp_virsh "$h" hostname 2>&1)" "$h" "$mode: $h answers meanwhile"
    done
    if wait_for "$WAIT_MAX" test -s "$f.end"; then
        tap_ok 0 "$mode: the connected virsh was disconnected"
        timing "$mode: keepalive (${KA[*]}) disconnected virsh after" \
            "$(awk -v a="$t0" -v b="$(cat "$f.end")" 'BEGIN { printf "%.2f", b - a }')"
    else
        tap_ok 1 "$mode: the connected virsh was disconnected"
        kill "$vpid" 2>/dev/null
    fi
    wait "$vpid" 2>/dev/null
    like "$(cat "$f.out")" 'keepalive timeout' "$mode: ... by its keepalive"
    t=$(e2e_now)
    case $mode in
        stop) e2e_host_cont "$CUT";;
        *) e2e_link_restore "$CUT";;
    esac
    tap_ok $? "$mode: $CUT restored"
    wait_for "$WAIT_MAX" cut_answers
    tap_ok $? "$mode: $CUT answers again"
    timing "$mode: $CUT answers again after the restore" "$(e2e_since "$t")"
}
cut_answers() { [ "$(timeout 5 virsh -q -c "$(e2e_host_tcp_uri "$CUT")" hostname 2>/dev/null)" = "$CUT" ]; }

for m in down drop stop; do cut_trial "$m"; done

# ---------------------------------------------------------------- the agent guest
echo "# --- agent guest $G on $GHOST"
wait "$WATCHER"
e2e_wait_agent "$G" "$GHOST" 1
tap_ok $? "the guest agent of $G answers"
timing "agent answers (from virsh start)" "$(cat "$E2E_ROOT/seen-agent" 2>/dev/null || echo never)"
ip_lease=$(e2e_domifaddr_ipv4 "$G" "$GHOST" lease)
like "$ip_lease" "^${E2E_NET_SUBNET//./\\.}\.[0-9]+$" "domifaddr --source lease: an address of $E2E_NET_SUBNET.0/24"
timing "lease in domifaddr --source lease (from virsh start)" "$(cat "$E2E_ROOT/seen-ip-lease" 2>/dev/null || echo never)"
ip_agent=$(e2e_domifaddr_ipv4 "$G" "$GHOST" agent)
is "$ip_agent" "$ip_lease" "domifaddr --source agent: the leased address"
timing "agent reports the address (from virsh start)" "$(cat "$E2E_ROOT/seen-ip-agent" 2>/dev/null || echo never)"
e2e_wait_console "$G" "$GHOST" 'INIT: /dev/vda \(ext2\) mounted on /mnt' "$WAIT_MAX" >/dev/null 2>&1

like "$(tcp_virsh "$GHOST" guestinfo "$G" --hostname 2>&1)" "^hostname +: $GNAME\$" \
    "guestinfo: hostname $GNAME (from the kernel argument)"
like "$(tcp_virsh "$GHOST" guestinfo "$G" --user 2>&1)" 'user\.0\.name +: root' "guestinfo: user root"
like "$(tcp_virsh "$GHOST" guestinfo "$G" --os 2>&1)" 'os\.id +: domfs-e2e-guest' "guestinfo: os"
like "$(tcp_virsh "$GHOST" domfsinfo "$G" 2>&1)" '/mnt +vda +ext2' "domfsinfo: ext2 on /mnt (vda)"
like "$(tcp_virsh "$GHOST" guestinfo "$G" --filesystem 2>&1)" 'fs\.0\.used-bytes +: [1-9]' \
    "guestinfo: its used bytes"
like "$(tcp_virsh "$GHOST" net-dhcp-leases default 2>&1)" "$ip_lease/24 +$GNAME" \
    "net-dhcp-leases: the lease carries the guest's hostname"

S1=$E2E_ROOT/stats1 S2=$E2E_ROOT/stats2
tcp_virsh "$GHOST" domstats "$G" > "$S1"
# the balloon refreshes every 2 s; the guest writes to /mnt and pings every second
sleep 3
tcp_virsh "$GHOST" domstats "$G" > "$S2"
echo "# domstats: $(grep -c = "$S2") fields"
grep -hE '^ *(cpu\.time|balloon\.(rss|last-update)|block\.0\.wr\.(bytes|reqs)|net\.0\.(rx|tx)\.bytes)=' "$S1" "$S2" |
    sed 's/^/#   /'
ok "domstats: cpu.time grows" grew "$S1" "$S2" cpu.time
ok "domstats: balloon.last-update grows (stats period 2 s)" grew "$S1" "$S2" balloon.last-update
like "$(stat_of "$S2" balloon.rss)" '^[1-9][0-9]*$' "domstats: balloon.rss"
like "$(stat_of "$S2" balloon.available)" '^[1-9][0-9]*$' "domstats: balloon.available (from the guest)"
ok "domstats: block.0.wr.bytes grows" grew "$S1" "$S2" block.0.wr.bytes
ok "domstats: net.0.tx.bytes grows" grew "$S1" "$S2" net.0.tx.bytes
ok "domstats: net.0.rx.bytes grows" grew "$S1" "$S2" net.0.rx.bytes

# ---------------------------------------------------------------- nothing left
echo "# --- cleanup"
t=$(e2e_now)
for h in "${HOSTS[@]}"; do e2e_host_down "$h" >/dev/null 2>&1; done
left=""
for h in "${HOSTS[@]}"; do left+=$(e2e_host_pids "$h"); done
is "$left" "" "no process of the three hosts is left (QEMU, dnsmasq, daemons)"
run_id=$(_e2e_run_id)
e2e_netns_down 2>/dev/null
is "$(ip netns list 2>/dev/null | grep -c "^domfs-e2e-$run_id-")" 0 "the run's network namespaces are gone"
ip link show dev "dfe$run_id" >/dev/null 2>&1
tap_ok $(( $? == 0 )) "the LAN's link in this namespace is gone"
timing "hosts down and namespaces deleted" "$(e2e_since "$t")"
finish
