#!/bin/bash
# Bad and hostile input on test:///default: for every writable file, an unknown value,
# an oversized write, a NUL byte, writes at a non-zero offset (pwrite, dd seek, `>>`),
# truncation; writes to read-only files; operations the tree never allows. After each
# refused write the guest is untouched and `error` holds "<time> <file> <ERRNAME>: ...".
# Then 1 MiB writes, binary garbage and many concurrent writers: nothing hangs, the daemon
# lives, the mount answers.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
. "$TESTS_DIR/lib/write1.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"

M=$TEST_TMP/mnt
domfs_mount "$M" -c test:///default || { tap_ok 1 "mount"; done_testing; exit 1; }
G=$M/test
T=10   # every command that touches the mount is bounded

ok "set a title to keep an eye on" write1 "$G/title" <<< "the title"
ok "set a description" write1 "$G/description" <<< "the description"
ok "pause the guest: a state that a stray action would change" write1 "$G/state" <<< suspend

snapshot() { timeout $T cat "$G/state" "$G/autostart" "$G/title" "$G/description" "$G/reason"; }
BEFORE=$(snapshot)
is "$BEFORE" $'paused\n0\nthe title\nthe description\nuser' "starting point"

# refused ERRTEXT ERRNAME FILE WHAT COMMAND...: the command fails with ERRTEXT, nothing
# changed, and error says "<file> <ERRNAME>:"
refused() {
    local text=$1 name=$2 file=$3 what=$4; shift 4
    fails_with "$text" "$file: $what: $name" "$@"
    is "$(snapshot)" "$BEFORE" "$file: $what: guest untouched"
    like "$(timeout $T cat "$G/error")" \
         "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z $file $name: .+" \
         "$file: $what: error says '$file $name: <message>'"
    restore
}
# back to the starting point (idempotent writes), so that one failure does not cascade
restore() {
    echo suspend > "$G/state"; echo 0 > "$G/autostart"
    echo "the title" > "$G/title"; echo "the description" > "$G/description"
}

big=$(head -c 5000 /dev/zero | tr '\0' 'a')
for f in state autostart title description; do
    # bad: an invalid value; same: the current value; other: a valid different one
    case $f in
        state) bad="bogus"; same=suspend; other=resume;;
        autostart) bad="2"; same=0; other=1;;
        title) bad=$'two\nlines'; same="the title"; other=other;;
        description) bad=$'\xff\xfe not UTF-8'; same="the description"; other=other;;
    esac
    refused "Invalid argument" EINVAL $f "invalid value" write1 "$G/$f" <<< "$bad"
    refused "File too large" EFBIG $f "5000-byte write" write1 "$G/$f" < <(printf '%s' "$big")
    like "$(cat "$G/error")" "5000" "$f: the message names the size"
    refused "Invalid argument" EINVAL $f "NUL byte" write1 "$G/$f" < <(printf 'run\0ning\n')
    refused "Invalid argument" EINVAL $f "pwrite at offset 3" write1 "$G/$f" 3 <<< "$other"
    refused "Invalid argument" EINVAL $f "dd seek=2" \
        timeout $T dd of="$G/$f" bs=1 seek=2 conv=notrunc status=none < <(printf '%s' "$other")
    refused "Invalid argument" EINVAL $f "'>>' append" timeout $T bash -c 'echo "$1" >> "$2"' - "$other" "$G/$f"
    # the same after a write and an empty '>': the kernel then believes the file is empty,
    # so the append arrives at offset 0 - it is still an append and must be refused
    refused "Invalid argument" EINVAL $f "'>>' after '>' and ': >'" timeout $T \
        bash -c 'echo "$1" > "$3"; : > "$3"; echo "$2" >> "$3"' - "$same" "$other" "$G/$f"
    ok "$f: truncate -s 0 is accepted" timeout $T truncate -s 0 "$G/$f"
    is "$(snapshot)" "$BEFORE" "$f: truncate -s 0 changed nothing"
    fails_with "Operation not permitted" "$f: truncate -s 5 refused" timeout $T truncate -s 5 "$G/$f"
    ok "$f: an empty '>' (open with O_TRUNC, no write) is accepted" timeout $T bash -c ": > '$G/$f'"
    is "$(snapshot)" "$BEFORE" "$f: and changed nothing"
done
grep -q "write to state failed" "$M.log"; tap_ok $? "refused writes are in the daemon log too"
is "$(cat "$G/error" | wc -l)" "1" "error holds one line: the last failure"

# ---- exactly at the limit: 4096 bytes are one value
long=$(head -c 4095 /dev/zero | tr '\0' 'd')
ok "a 4096-byte description (4095 + newline) is accepted" write1 "$G/description" <<< "$long"
is "$(cat "$G/description")" "$long" "and reads back"
fails_with "File too large" "4097 bytes: EFBIG" write1 "$G/description" <<< "${long}d"
ok "description back" write1 "$G/description" <<< "the description"
is "$(snapshot)" "$BEFORE" "back to the starting point"

# ---- read-only files: EACCES, even for root
for f in reason uuid id vcpus memory persistent xml error console.log; do
    fails_with "Permission denied" "write to $f: EACCES" timeout $T bash -c "echo 1 > '$G/$f'"
    fails_with "Permission denied" "truncate -s 0 $f: refused (EACCES)" timeout $T truncate -s 0 "$G/$f"
done
for f in connection events metrics.prom; do
    fails_with "Permission denied" "write to .domfs/$f: EACCES" timeout $T bash -c "echo 1 > '$M/.domfs/$f'"
done
is "$(snapshot)" "$BEFORE" "guest untouched by writes to read-only files"

# ---- what the tree never allows: EPERM
perm() { fails_with "Operation not permitted" "$1: EPERM" timeout $T "${@:2}"; }
perm "mkdir in the root" mkdir "$M/newguest"
perm "mkdir in a guest" mkdir "$G/newdir"
perm "mkdir in devices/" mkdir "$G/devices/newkind"
perm "rmdir a guest" rmdir "$G"
perm "rmdir devices" rmdir "$G/devices"
perm "rm a file" rm -f "$G/state"
perm "rm .domfs/events" rm -f "$M/.domfs/events"
perm "rename a file" mv "$G/title" "$G/title2"
perm "rename a guest" mv "$G" "$M/test2"
perm "symlink" ln -s state "$G/link"
perm "hard link" ln "$G/state" "$G/hardlink"
perm "mknod a FIFO" mknod "$G/fifo" p
perm "create a new file (touch)" touch "$G/newfile"
perm "create a new file (>)" bash -c "echo x > '$G/newfile2'"
perm "chmod a file" chmod 0666 "$G/state"
perm "chmod a directory" chmod 0777 "$G"
perm "chown a file" chown 1:1 "$G/state"
perm "utimes on a writable file" touch -c -d 2001-01-01 "$G/state"
perm "utimes (os.utime) on a read-only file" /usr/bin/python3 -c "import os,sys; os.utime(sys.argv[1], (0, 0))" "$G/uuid"
is "$(LC_ALL=C ls "$G" | tr '\n' ' ')" "agent autostart console.log cpu.stat description devices error id io.stat memory memory.stat migrate net.stat persistent reason state title uuid vcpu.stat vcpus xml " \
   "the guest directory holds exactly the spec's files afterwards"
is "$(snapshot)" "$BEFORE" "guest untouched by refused operations"

# ---- hostile writes
out=$(timeout 20 /usr/bin/python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
try:
    os.write(fd, b"a" * (1 << 20)); print("accepted")
except OSError as e:
    print(os.strerror(e.errno))
' "$G/description" 2>&1); rc=$?
[ "$rc" != 124 ]; tap_ok $? "a 1 MiB write does not hang"
is "$out" "File too large" "1 MiB write: EFBIG"
like "$(cat "$G/error")" " description EFBIG: " "error: description EFBIG"
ok "1 MiB through dd (chunked writes)" bash -c "head -c 1048576 /dev/zero | timeout $T dd of='$G/title' bs=64k status=none 2>/dev/null; true"
is "$(snapshot)" "$BEFORE" "1 MiB writes changed nothing"

head -c 3000 /dev/urandom > "$TEST_TMP/garbage"; printf '\0\xff' >> "$TEST_TMP/garbage"
for f in state autostart title description; do
    fails_with "Invalid argument" "binary garbage to $f: EINVAL" write1 "$G/$f" < "$TEST_TMP/garbage"
done
is "$(snapshot)" "$BEFORE" "garbage changed nothing"

# many concurrent writers: valid and invalid, to every writable file, plus readers
pids=()
for i in $(seq 1 25); do
    timeout 20 bash -c "echo suspend > '$G/state'" 2>/dev/null & pids+=($!)
    timeout 20 bash -c "echo resume > '$G/state'" 2>/dev/null & pids+=($!)
    timeout 20 bash -c "echo t$i > '$G/title'" 2>/dev/null & pids+=($!)
    timeout 20 bash -c "echo $((i % 2)) > '$G/autostart'" 2>/dev/null & pids+=($!)
    timeout 20 bash -c "echo bogus$i > '$G/state'" 2>/dev/null & pids+=($!)
    timeout 20 cat "$G/state" "$G/xml" "$G/reason" >/dev/null 2>&1 & pids+=($!)
done
hung=0; failed=0; i=0
for p in "${pids[@]}"; do
    wait "$p"; rc=$?
    [ "$rc" = 124 ] && hung=$((hung + 1))
    # every 5th of each group of 6 is the bogus word: it must fail; the others succeed
    if [ $((i % 6)) = 4 ]; then [ "$rc" = 1 ] || failed=$((failed + 1))
    else [ "$rc" = 0 ] || failed=$((failed + 1)); fi
    i=$((i + 1))
done
is "$hung" "0" "${#pids[@]} concurrent writers and readers: none hung"
is "$failed" "0" "valid concurrent writes succeeded, bogus ones failed"
like "$(cat "$G/state")" '^(running|paused)$' "state is a valid word afterwards"
like "$(cat "$G/title")" '^t[0-9]+$' "title is one of the written ones"
like "$(cat "$G/autostart")" '^[01]$' "autostart is 0 or 1"
st=$(cat "$G/state"); re=$(cat "$G/reason")
case $st in running) like "$re" '^(unpaused|booted)$' "reason fits the state";; *) is "$re" user "reason fits the state";; esac

# the daemon and the mount are fine
kill -0 "$DOMFS_PID"; tap_ok $? "daemon alive"
ok "the mount answers: ls" timeout 5 ls "$M"
ok "the mount answers: a write" timeout 5 bash -c "echo resume > '$G/state'"
is "$(timeout 5 cat "$G/state")" "running" "and the write took effect"
done_testing
