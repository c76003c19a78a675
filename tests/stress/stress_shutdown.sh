#!/bin/bash
# Unmounting while every host is still busy: 12 connections of 800 guests each (in-process
# test driver node files: 12 x 4 background XML loaders publishing changes) unmounted as
# soon as the mount answers, 5 times. The daemon must exit by itself with status 0 each
# time (it used to abort with heap corruption: producers pushed onto the notifier's
# queues while shutdown freed them).
. "$TESTS_DIR/stress/common.sh"
HOSTS=${STRESS_SHUTDOWN_HOSTS:-12}
GUESTS=${STRESS_SHUTDOWN_GUESTS:-800}
{
    echo "<node>"
    for i in $(seq 1 "$GUESTS"); do
        echo "<domain type='test'><name>g$i</name><memory>65536</memory><os><type>hvm</type></os><devices><disk type='file' device='disk'><source file='/x$i.img'/><target dev='vda' bus='virtio'/></disk></devices></domain>"
    done
    echo "</node>"
} > "$TEST_TMP/node.xml"
# (opening a node file parses it: 12 of them take a while on 2 cores under ASan)
args=(-o timeout=120)
for h in $(seq 1 "$HOSTS"); do args+=(-c "h$h=test://$TEST_TMP/node.xml"); done
M=$TEST_TMP/m
for round in 1 2 3 4 5; do
    if ! domfs_mount "$M" "${args[@]}"; then tap_ok 1 "round $round: mount"; continue; fi
    pid=$DOMFS_SUPER_PID
    ls "$M/h1" > /dev/null
    fusermount3 -u "$M"
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then
        tap_ok 1 "round $round: the daemon exits after unmounting $HOSTS busy hosts"
        kill -9 "$pid"
    else
        wait "$pid"; rc=$?
        is "$rc" 0 "round $round: the daemon exits with 0 after unmounting $HOSTS busy hosts"
        [ "$rc" = 0 ] || tail -5 "$M.log" | sed 's/^/#   /'
    fi
    DOMFS_MOUNTS=()
done
done_testing
