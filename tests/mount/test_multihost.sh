#!/bin/bash
# Several -c: the root holds one directory per connection (named NAME from -c NAME=URI, or
# the connection's libvirt hostname) and .domfs; each holds the one-connection tree.
# A NAME= given twice, bad names and an unreachable URI are refused at start with a clear
# message; hostnames that collide get ~2, ~3 in -c order.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
export LC_ALL=C

NODE=$TEST_TMP/node.xml
cat > "$NODE" <<'EOF'
<node>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>web</name>
    <memory unit='MiB'>256</memory>
    <vcpu>2</vcpu>
    <os><type>hvm</type></os>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>db</name>
    <memory unit='MiB'>512</memory>
    <vcpu>1</vcpu>
    <os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
</node>
EOF
FILES="agent autostart console.log cpu.stat description devices error id io.stat memory memory.stat migrate net.stat persistent reason state title uuid vcpu.stat vcpus xml"
T=10

M=$TEST_TMP/mnt
domfs_mount "$M" -c a=test:///default -c "b=test://$NODE" || { tap_ok 1 "mount"; done_testing; exit 1; }
is "$(ls "$M" | tr '\n' ' ')" "a b " "root: one directory per connection"
is "$(ls -A "$M" | tr '\n' ' ')" ".domfs a b " "ls -A: and .domfs"
is "$(ls -A "$M/a" | tr '\n' ' ')" ".domfs test " "a: .domfs and its guest"
is "$(ls -A "$M/b" | tr '\n' ' ')" ".domfs db web " "b: .domfs and its guests"
is "$(LC_ALL=C ls "$M/a/test" | tr '\n' ' ')" "$FILES " "a/test holds the guest files"
is "$(LC_ALL=C ls "$M/b/web" | tr '\n' ' ')" "$FILES " "b/web holds the guest files"
is "$(ls "$M/a/.domfs" | tr '\n' ' ')" "connection events metrics.prom " "a/.domfs"
is "$(ls "$M/.domfs" | tr '\n' ' ')" "connection events metrics.prom " "root .domfs"
is "$(cat "$M/a/test/state") $(cat "$M/b/web/state") $(cat "$M/b/db/state")" "running running shutoff" "states of each host's guests"
is "$(cat "$M/b/web/vcpus") $(cat "$M/b/web/memory")" "2 262144" "b/web vcpus and memory"
c=$(cat "$M/a/.domfs/connection")
like "$c" "^name a$" "a/.domfs/connection: name a"
like "$c" "uri test:///default" "a/.domfs/connection: its URI"
like "$c" "guests 1" "a/.domfs/connection: 1 guest"
c=$(cat "$M/b/.domfs/connection")
like "$c" "uri test://$NODE" "b/.domfs/connection: its URI"
like "$c" "guests 2" "b/.domfs/connection: 2 guests"
c=$(cat "$M/.domfs/connection")
like "$c" "name a" "root .domfs/connection describes a"
like "$c" "name b" "and b"
is "$(grep -c '^status connected' <<< "$c")" "2" "both connected"
is "$(find "$M" -mindepth 2 -maxdepth 2 -type d ! -path '*/.domfs' | sort | sed "s|$M/||" | tr '\n' ' ')" \
   "a/test b/db b/web " "find: the guests under their hosts"
fails_with "No such file or directory" "no guest directly under the root" cat "$M/test/state"
fails_with "Operation not permitted" "no new host directory (mkdir)" mkdir "$M/c"

# writes go to the right host
ok "suspend a/test" timeout $T bash -c "echo suspend > '$M/a/test/state'"
is "$(cat "$M/a/test/state")" "paused" "a/test paused"
is "$(cat "$M/b/web/state")" "running" "b/web untouched"
ok "start b/db" timeout $T bash -c "echo start > '$M/b/db/state'"
is "$(cat "$M/b/db/state")" "running" "b/db running"
is "$(grep '^guests' "$M/b/.domfs/connection")" "guests 2" "b still 2 guests"

# events: per host, and on the root for all hosts
exec 7< "$M/a/.domfs/events"; exec 8< "$M/.domfs/events"; exec 9< "$M/b/.domfs/events"
ok "resume a/test" timeout $T bash -c "echo resume > '$M/a/test/state'"
ok "suspend b/web" timeout $T bash -c "echo suspend > '$M/b/web/state'"
read -r -t 5 l7 <&7; read -r -t 5 l9 <&9; read -r -t 5 l8a <&8; read -r -t 5 l8b <&8
like "$l7" '^[0-9]+\.[0-9]{3} test lifecycle resumed unpaused$' "a/.domfs/events: a's event, plain guest name"
like "$l9" '^[0-9]+\.[0-9]{3} web lifecycle suspended paused$' "b/.domfs/events: b's event only"
like "$l8a" '^[0-9]+\.[0-9]{3} a/test lifecycle resumed unpaused$' "root .domfs/events: a's event, named a/test"
like "$l8b" '^[0-9]+\.[0-9]{3} b/web lifecycle suspended paused$' "root .domfs/events: then b's, named b/web"
extra=$(timeout 1 head -c 200 <&7); rc=$?   # (bash's read -t has no effect on regular files)
is "$rc:$extra" "124:" "a's stream has nothing of b (a read blocks)"
exec 7<&- 8<&- 9<&-
domfs_umount "$M"

# the same driver instance through two connections: both directories follow
M2=$TEST_TMP/same
domfs_mount "$M2" -c one=test:///default -c two=test:///default || { tap_ok 1 "mount one+two"; done_testing; exit 1; }
ok "suspend through one" timeout $T bash -c "echo suspend > '$M2/one/test/state'"
wait_for 5 grep -qx paused "$M2/two/test/state"; tap_ok $? "two/test follows (shared test:///default, by its event)"
ok "resume through two" timeout $T bash -c "echo resume > '$M2/two/test/state'"
wait_for 5 grep -qx running "$M2/one/test/state"; tap_ok $? "one/test follows"
domfs_umount "$M2"

# without NAME= a directory is named by the connection's libvirt hostname
host=$(virsh -q -c test:///default hostname 2>/dev/null || hostname)
M3=$TEST_TMP/byhost
domfs_mount "$M3" -c test:///default -c "b=test://$NODE" || { tap_ok 1 "mount by hostname"; done_testing; exit 1; }
is "$(ls "$M3" | sort | tr '\n' ' ')" "$(printf '%s\n' b "$host" | sort | tr '\n' ' ')" "unnamed connection: directory named by its hostname ($host)"
is "$(cat "$M3/$host/test/state")" "running" "and it holds the tree"
like "$(cat "$M3/$host/.domfs/connection")" "hostname $host" "its .domfs/connection says so"
domfs_umount "$M3"

# refused at start: duplicate names, bad names, an unreachable URI
mkdir -p "$TEST_TMP/never"
refused_start() { # refused_start WHAT REGEX ARGS...
    local what=$1 re=$2 out rc; shift 2
    out=$(timeout 20 "$DOMFS_BIN" "$@" "$TEST_TMP/never" 2>&1); rc=$?
    [ "$rc" != 0 ] && [ "$rc" != 124 ]; tap_ok $? "$what: refused (rc=$rc)"
    like "$out" "$re" "$what: message"
    if grep -q " $TEST_TMP/never " /proc/mounts; then
        tap_ok 1 "$what: nothing mounted"; fusermount3 -u "$TEST_TMP/never"
    else tap_ok 0 "$what: nothing mounted"; fi
}
refused_start "the same NAME twice" "two connections are named 'a'" \
    -c a=test:///default -c "a=test://$NODE"
refused_start "NAME .domfs" "bad connection name" -c .domfs=test:///default -c "b=test://$NODE"
refused_start "NAME with a slash" "bad connection name" -c x/y=test:///default -c "b=test://$NODE"
refused_start "NAME .." "bad connection name" -c ..=test:///default -c "b=test://$NODE"
refused_start "every URI unreachable" "cannot open any connection" \
    -c a="test://$TEST_TMP/missing.xml" -c "b=test://$TEST_TMP/missing2.xml"

# hostnames that collide are made unique in -c order (an explicit NAME= keeps its name)
M5=$TEST_TMP/mnt5
if domfs_mount "$M5" -c test:///default -c "test://$NODE"; then
    is "$(ls "$M5" | tr '\n' ' ')" "$host $host~2 " "two unnamed connections to one host: $host and $host~2"
    like "$(cat "$M5/$host~2/.domfs/connection")" "uri test://$NODE" "the second -c is $host~2"
    like "$(cat "$M5.log")" "another connection is named '$host' too; this one is '$host~2'" "the daemon log says why"
    domfs_umount "$M5"
else tap_ok 1 "two unnamed connections to one host mount"; fi
if domfs_mount "$M5" -c test:///default -c "$host=test://$NODE"; then
    like "$(cat "$M5/$host/.domfs/connection")" "uri test://$NODE" "a NAME= equal to another's hostname keeps it"
    like "$(cat "$M5/$host~2/.domfs/connection")" "uri test:///default" "the hostname-named one becomes $host~2"
    domfs_umount "$M5"
else tap_ok 1 "a NAME= equal to another's hostname mounts"; fi

# hosts fail alone: an unreachable URI among several comes up as reconnecting
M4=$TEST_TMP/mnt4
if domfs_mount "$M4" -c a=test:///default -c "b=test://$TEST_TMP/missing.xml"; then
    is "$(ls "$M4" | tr '\n' ' ')" "a b " "an unreachable host among several: the mount comes up with both"
    is "$(cat "$M4/a/test/state")" "running" "the reachable host's guests are there"
    c=$(cat "$M4/b/.domfs/connection")
    like "$c" "^status reconnecting since [0-9]{4}-[0-9]{2}-[0-9]{2}T" "the unreachable one says reconnecting, since when"
    like "$c" "last_error .*missing\.xml" "and why"
    is "$(ls -A "$M4/b" | tr '\n' ' ')" ".domfs " "it has no guests (yet)"
    domfs_umount "$M4"
else
    tap_ok 1 "an unreachable host among several: the mount comes up"
fi

done_testing
