#!/bin/bash
# poll() on every file whose content can change, with sysfs's semantics: a watcher that
# read a file gets POLLPRI|POLLERR once its content changes, then lseek(0) + read gives
# the new content; a file that did not change never wakes it. Driven by a Python
# select.poll / select.select watcher (tests/mount/poll_watch.py) while virsh (a private
# libvirtd, an independent witness) changes the guest.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
. "$TESTS_DIR/lib/libvirtd.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
command -v python3 >/dev/null || skip_all "python3 not installed"
lvd_require
W="python3 $TESTS_DIR/mount/poll_watch.py"
lvd_start "$TEST_TMP/lv" pollhost || { tap_ok 1 "libvirtd starts"; done_testing; exit 1; }
L=$TEST_TMP/logs
mkdir -p "$L"
M=$TEST_TMP/m
domfs_mount "$M" -c "$LVD_URI" -o "stats_interval=1,log_dirs=$L" || { tap_ok 1 "mount"; done_testing; exit 1; }
G=$M/test

# watch FILE... in the background; its output goes to $TEST_TMP/w.N
watch_start() {   # watch_start N ARGS...
    local n=$1; shift
    $W "$@" > "$TEST_TMP/w.$n" 2>&1 &
    eval "WP$n=\$!"
    wait_for 10 grep -q ready "$TEST_TMP/w.$n"
}
watch_done() {    # watch_done N: waits for the watcher (in this shell: a $(...) cannot
    local n=$1 pid  # wait for it); WRES is its last line
    eval "pid=\$WP$n"
    wait "$pid"
    WRES=$(tail -1 "$TEST_TMP/w.$n")
}

watch_start 1 10 "$G/state"
lvd_virsh suspend test >/dev/null
watch_done 1
like "$WRES" '^woke 0 [0-9.]+ paused\\n$' "state: a suspend through virsh wakes poll(); lseek(0)+read gives paused"

watch_start 2 --select 10 "$G/state"
lvd_virsh resume test >/dev/null
watch_done 2
like "$WRES" '^woke 0 [0-9.]+ running\\n$' "state: select()'s exceptional set works the same"

watch_start 3 2 "$G/uuid" "$G/vcpus"
lvd_virsh suspend test >/dev/null
watch_done 3
is "$WRES" "timeout" "files that did not change never wake a watcher"
lvd_virsh resume test >/dev/null

watch_start 4 --twice 10 "$G/title"
ok "a title written through the mount" bash -c "echo first > '$G/title'"
sleep 0.5
ok "and another one" bash -c "echo second > '$G/title'"
watch_done 4
like "$(head -2 "$TEST_TMP/w.4" | tail -1)" '^woke 0 [0-9.]+ first\\n$' "title: the first change wakes with the first value"
like "$WRES" '^woke 0 [0-9.]+ second\\n$' "after a re-read, the next wait blocks until the next change"

# epoll: each file registered once (the way to watch many files)
watch_start 9 --epoll 10 "$G/state"
lvd_virsh suspend test >/dev/null
watch_done 9
like "$WRES" '^woke 0 [0-9.]+ paused\\n$' "epoll: a suspend wakes the set; lseek(0)+read gives paused"
watch_start 10 --epoll 2 "$G/uuid" "$G/vcpus"
lvd_virsh resume test >/dev/null
watch_done 10
is "$WRES" "timeout" "epoll: files that did not change never wake the set"
watch_start 11 --epoll --twice 10 "$G/title" "$G/description"
ok "a title written through the mount" bash -c "echo third > '$G/title'"
sleep 0.5
ok "and another one" bash -c "echo fourth > '$G/title'"
watch_done 11
like "$(head -2 "$TEST_TMP/w.11" | tail -1)" '^woke 0 [0-9.]+ third\\n$' "epoll: the first change wakes with the first value"
like "$WRES" '^woke 0 [0-9.]+ fourth\\n$' "epoll, level-triggered: after a re-read the set stays quiet until the next change"

# A write answers after its change reached the kernel; a poll()er of the written file is
# woken only once the write was answered: woken earlier, its read met the size the
# writer's O_TRUNC left (0) and showed an empty file (1 round in 40 before the fix)
bad=0
for i in $(seq 30); do
    watch_start 12 --twice 10 "$G/description"
    echo "d$i" > "$G/description"
    sleep 0.2
    echo "e$i" > "$G/description"
    watch_done 12
    [[ $(head -2 "$TEST_TMP/w.12" | tail -1) == "woke 0 "*" d$i\\n" && $WRES == "woke 0 "*" e$i\\n" ]] ||
        { bad=$((bad + 1)); echo "# round $i: $(tail -2 "$TEST_TMP/w.12" | tr '\n' '|')"; }
done
is "$bad" 0 "30 rounds of two writes: every wake-up reads the value just written"

watch_start 5 10 "$G/reason" "$G/id" "$G/state"
lvd_virsh destroy test >/dev/null
watch_done 5
like "$WRES" '^woke [0-2] ' "reason/id/state: a destroy wakes the watcher of several files"
lvd_virsh start test >/dev/null

watch_start 6 10 "$M/.domfs/metrics.prom"
lvd_virsh suspend test >/dev/null
watch_done 6
like "$WRES" '^woke 0 .*domfs_guest_state\{[^}]*state="paused"\} 1' "metrics.prom wakes when a guest changes"
lvd_virsh resume test >/dev/null

watch_start 7 15 "$M/.domfs/connection"
kill -STOP "$LVD_PID"
watch_done 7
like "$WRES" '^woke 0 .*status (stalled|reconnecting) since' ".domfs/connection wakes when the host stalls"
kill -CONT "$LVD_PID"
wait_for 20 grep -q 'status connected' "$M/.domfs/connection"

# console.log: a log the guest writes to (a file of log_dirs named by the guest's XML)
cat > "$TEST_TMP/c.xml" <<XML
<domain type='test'><name>talker</name><memory>65536</memory><os><type>hvm</type></os>
<devices><serial type='pty'><log file='$L/talker.log'/><target port='0'/></serial></devices></domain>
XML
echo "boot" > "$L/talker.log"
lvd_virsh define "$TEST_TMP/c.xml" >/dev/null
wait_for 5 test -s "$M/talker/console.log"
watch_start 8 10 "$M/talker/console.log"
echo "login:" >> "$L/talker.log"
watch_done 8
like "$WRES" '^woke 0 [0-9.]+ boot\\nlogin:\\n$' "console.log: a line the guest prints wakes the watcher"
domfs_umount "$M"
done_testing
