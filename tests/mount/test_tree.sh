#!/bin/bash
# The one-connection tree on test:///default: names, contents, sizes, shell tools.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"

M=$TEST_TMP/mnt
domfs_mount "$M" -c test:///default || { tap_ok 1 "mount"; done_testing; exit 1; }
G=$M/test

is "$(ls "$M")" "test" "plain ls shows the guest and hides .domfs"
is "$(ls -A "$M" | tr '\n' ' ')" ".domfs test " "ls -A shows .domfs"
is "$(LC_ALL=C ls "$G" | tr '\n' ' ')" "agent autostart console.log cpu.stat description devices error id io.stat memory memory.stat migrate net.stat persistent reason state title uuid vcpu.stat vcpus xml " "guest directory holds the spec's files"
is "$(cat "$G/state")" "running" "state of the default guest"
is "$(cat "$G/uuid")" "6695eb01-f6a4-8304-79aa-97f2502e193f" "uuid"
is "$(cat "$G/vcpus")" "2" "vcpus"
is "$(cat "$G/memory")" "2097152" "memory in KiB"
is "$(cat "$G/persistent")" "1" "persistent"
is "$(cat "$G/autostart")" "0" "autostart"
is "$(cat "$G/id")" "1" "id of a running guest"
is "$(cat "$G/error")" "" "no error yet: empty file"
like "$(head -1 "$G/xml")" "^<domain type=.test.( id=.1.)?>" "xml is the live domain XML"

for f in state reason uuid id vcpus memory autostart persistent title description xml error; do
    size=$(stat -c %s "$G/$f"); bytes=$(cat "$G/$f" | wc -c)
    is "$size" "$bytes" "stat size of $f matches what a read returns"
done
for f in state reason uuid vcpus memory autostart persistent; do
    is "$(tail -c1 "$G/$f" | od -An -c | tr -d ' ')" '\n' "$f ends with a newline"
done
is "$(find "$G" -maxdepth 1 -type f | wc -l)" "19" "find -type f sees regular files"
like "$(grep -r running "$G" 2>/dev/null)" "state:running" "grep -r works"
like "$(cat "$M/.domfs/connection")" "status connected" ".domfs/connection says connected"
like "$(cat "$M/.domfs/connection")" "uri test:///default" ".domfs/connection names the URI"
cp "$G/uuid" "$TEST_TMP/uuid.copy"
is "$(cat "$TEST_TMP/uuid.copy")" "$(cat "$G/uuid")" "cp copies a file"

done_testing
