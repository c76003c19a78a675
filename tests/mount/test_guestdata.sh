#!/bin/bash
# Statistics files and agent/ on the test driver (real data from QEMU and qemu-guest-agent:
# tests/e2e/test_agent.sh). The test driver's GetAllDomainStats reports no counters and it
# has no GetGuestInfo, so here: the fixed file sets, regular files whose stat size matches
# what a read returns, empty statistics (and empty for a shut-off guest), their mtime
# following the background fetch (-o stats_interval), agent/status from the domain XML's
# agent channel (the test driver drops the channel's state attribute, so its agents are
# never "connected": that case is e2e), an interface's ip from libvirt's lease API (the
# test driver answers it for a network it knows), and -o stats_interval=0 /
# agent_interval=0 turning both off.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"

M=$TEST_TMP/m
cat > "$TEST_TMP/node.xml" <<'XML'
<node>
<network><name>default</name><bridge name='virbr0'/><forward/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp><range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip></network>
<domain type='test'><name>plain</name><memory>65536</memory><os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/var/lib/x.img'/><target dev='vda' bus='virtio'/></disk>
    <interface type='network'><mac address='aa:bb:cc:dd:ee:ff'/><source network='default'/></interface>
  </devices>
</domain>
<domain type='test'><name>withagent</name><memory>65536</memory><os><type>hvm</type></os>
  <devices>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel>
  </devices>
</domain>
</node>
XML
domfs_mount "$M" -c "test://$TEST_TMP/node.xml" -o stats_interval=1,agent_interval=1 ||
    { tap_ok 1 "mount"; done_testing; exit 1; }
G=$M/plain
is "$(LC_ALL=C ls "$G/agent" | tr '\n' ' ')" "filesystems hostname interfaces os status timezone users " \
    "agent/ holds the spec's files"
bad=0
for f in cpu.stat vcpu.stat memory.stat io.stat net.stat agent/status agent/hostname agent/os \
         agent/timezone agent/users agent/filesystems agent/interfaces \
         devices/disks/vda/capacity devices/disks/vda/allocation devices/disks/vda/physical \
         devices/interfaces/0/ip; do
    [ -f "$G/$f" ] || { bad=$((bad + 1)); echo "# not regular: $f"; }
    [ "$(stat -c %s "$G/$f")" = "$(cat "$G/$f" | wc -c)" ] || { bad=$((bad + 1)); echo "# size: $f"; }
    [ -w "$G/$f" ] && [ "$(stat -c %a "$G/$f")" != "${MODE_RO:-444}" ] && [ "$(stat -c %a "$G/$f")" -gt 444 ] &&
        { bad=$((bad + 1)); echo "# writable: $f $(stat -c %a "$G/$f")"; }
done
is "$bad" 0 "16 new files: regular, read-only, stat size = bytes read"
for f in cpu.stat vcpu.stat memory.stat io.stat net.stat; do
    is "$(cat "$G/$f")" "" "$f: empty (the test driver reports no counters)"
done
m1=$(stat -c %Y "$G/cpu.stat")
wait_for 5 test "$(stat -c %Y "$G/cpu.stat")" -gt "$m1"
m2=$(stat -c %Y "$G/cpu.stat")
[ "$m2" -gt "$m1" ]; tap_ok $? "cpu.stat's mtime is the last fetch's time (stats_interval=1: $m1 -> $m2)"
now=$(date +%s)
[ $((now - m2)) -le 3 ]; tap_ok $? "and it is recent ($((now - m2)) s old)"
is "$(cat "$G/agent/status")" "unavailable" "no agent channel: agent/status unavailable"
is "$(cat "$G/agent/hostname")" "" "and no agent data"
wait_for 5 test -s "$G/devices/interfaces/0/ip"
is "$(cat "$G/devices/interfaces/0/ip")" "192.168.122.3/24" "the interface's ip from libvirt's lease API"
is "$(cat "$M/withagent/agent/status")" "disconnected" "an agent channel without an agent: disconnected"
ok "destroy plain" bash -c "echo destroy > '$G/state'"
is "$(cat "$G/cpu.stat" "$G/io.stat" "$G/devices/disks/vda/capacity")" "" "a shut-off guest's statistics are empty"
is "$(cat "$M/withagent/agent/status" 2>&1)" "disconnected" "(the other guest is unaffected)"
domfs_umount "$M"

domfs_mount "$M" -c "test://$TEST_TMP/node.xml" -o stats_interval=0,agent_interval=0 ||
    { tap_ok 1 "mount with stats and agent off"; done_testing; exit 1; }
m1=$(stat -c %Y "$M/plain/cpu.stat")
sleep 1.5
is "$(cat "$M/plain/devices/interfaces/0/ip")" "" "agent_interval=0: no addresses fetched"
is "$(stat -c %Y "$M/plain/cpu.stat")" "$m1" "stats_interval=0: no fetch (mtime stays)"
is "$(cat "$M/plain/agent/status")" "unavailable" "agent/status still follows the XML"
domfs_umount "$M"
done_testing
