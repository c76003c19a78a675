#!/bin/bash
# The files of examples/ used for real on mounts of custom test-driver fleets:
# start-all.sh (a one-host and a several-host mount, and a read-only mount where every
# start fails), wait-state.sh (a state change made in the background by another writer,
# a timeout, bad arguments, CPU time of a wait: no polling), watch.sh (--once, and the
# loop redrawing on an event), monitor-agent.sh (one iteration, checked field by field
# against the files and metrics.prom), domfs.service (systemd-analyze verify when it
# exists, else a key check; its ExecStart/ExecStop run for real), and the sidecar's
# mount propagation (the daemon in its own mount namespace on an rshared directory, read
# from another namespace, as the compose/pod files set it up).
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
: "${EXAMPLES_DIR:?EXAMPLES_DIR not set (run through meson test)}"
E=$EXAMPLES_DIR
export LC_ALL=C

skip() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1 # SKIP $2"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ---- fleets ----
dom() { # dom NAME RUNSTATE(0: running) [EXTRA]
    printf "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    printf "    <name>%s</name>\n    <memory unit='MiB'>1024</memory>\n" "$1"
    printf "    <currentMemory unit='MiB'>512</currentMemory>\n    <vcpu>2</vcpu>\n"
    printf "    <os><type>hvm</type></os>\n    %s\n" "${3:-}"
    [ "$2" != 0 ] && printf "    <test:runstate>%s</test:runstate>\n" "$2"
    printf "  </domain>\n"
}
NODE=$TEST_TMP/node.xml
{
    echo "<node>"
    dom web 0 "<devices><disk type='file' device='disk'><source file='/w.img'/><target dev='vda' bus='virtio'/></disk></devices>"
    dom db 5
    dom batch 5
    dom api 3
    dom "my vm" 5
    echo "</node>"
} >"$NODE"
NODE2=$TEST_TMP/node2.xml
{ echo "<node>"; dom cache 5; dom queue 0; echo "</node>"; } >"$NODE2"

M=$TEST_TMP/mnt
domfs_mount "$M" -c "test://$NODE" || { tap_ok 1 "mount"; done_testing; exit 1; }

# ================= start-all.sh =================
out=$(bash "$E/start-all.sh" "$M" 2>&1); rc=$?
is "$rc" 0 "start-all: exit 0 when every start worked"
is "$(grep '^started' <<<"$out")" "started batch
started db
started my vm" "start-all: started exactly the shut-off guests, in name order"
like "$out" "start-all.sh: 3 started, 0 failed, 2 already running or not shut off" \
    "start-all: summary line"
is "$(cat "$M/db/state" "$M/batch/state" "$M/my vm/state" | tr '\n' ' ')" \
    "running running running " "start-all: the guests really run"
is "$(cat "$M/api/state")" "paused" "start-all: a paused guest is left alone"
out=$(bash "$E/start-all.sh" "$M" 2>&1); rc=$?
is "$rc" 0 "start-all again: exit 0"
like "$out" "0 started, 0 failed, 5 already" "start-all again: nothing to do"
out=$(bash "$E/start-all.sh" "$TEST_TMP" 2>&1); rc=$?
is "$rc" 2 "start-all: not a domfs mount is a usage error"

# a read-only mount: every start fails, with the reason, and the exit status says so
RO=$TEST_TMP/ro
domfs_mount "$RO" -c "test://$NODE" -o ro || tap_ok 1 "read-only mount"
out=$(bash "$E/start-all.sh" "$RO" 2>&1); rc=$?
is "$rc" 1 "start-all on a read-only mount: exit 1"
like "$out" "failed db: Read-only file system" "start-all: a failure names the guest and why"
is "$(grep -c '^failed ' <<<"$out")" 3 "start-all: one failure line per shut-off guest"
like "$out" "0 started, 3 failed" "start-all: failures counted"
is "$(cat "$RO/db/state")" "shutoff" "start-all: a failed start leaves the guest off"
domfs_umount "$RO"

# ================= wait-state.sh =================
t0=$(ms)
out=$(bash "$E/wait-state.sh" "$M" web running 5 2>&1); rc=$?
is "$rc:$out" "0:web running" "wait-state: already in the state: exit 0 at once"
tap_ok $(( $(ms) - t0 < 2000 ? 0 : 1 )) "wait-state: no wait when already there"

# another writer pauses the guest 1 s later; the wait ends on its event
( sleep 1; echo paused >"$M/web/state" ) &
writer=$!
t0=$(ms)
TIMEFORMAT='%U %S'
cpu=$( { time bash "$E/wait-state.sh" "$M" web paused 20 >"$TEST_TMP/ws.out" 2>&1; } 2>&1 )
rc=$?
t1=$(ms)
wait "$writer"
is "$rc:$(cat "$TEST_TMP/ws.out")" "0:web paused" "wait-state: returns when the guest gets there"
el=$((t1 - t0))
tap_ok $(( el >= 700 && el < 6000 ? 0 : 1 )) "wait-state: woke up on the change (after ${el} ms)"
is "$(cat "$M/web/state")" "paused" "wait-state: the state file agrees"
# no polling: a 1 s wait costs (far) less than 0.5 s of CPU in user+system time
cpu_ms=$(awk -v c="$cpu" 'BEGIN { split(c, a, " "); printf "%d", (a[1] + a[2]) * 1000 }')
tap_ok $(( cpu_ms < 500 ? 0 : 1 )) "wait-state: no busy loop (${cpu_ms} ms of CPU)"

t0=$(ms)
out=$(bash "$E/wait-state.sh" "$M" web shutoff 1.5 2>&1); rc=$?
el=$(( $(ms) - t0 ))
is "$rc" 1 "wait-state: exit 1 on timeout"
like "$out" "web is paused, not shutoff, after 1.5s" "wait-state: the timeout says where the guest is"
tap_ok $(( el >= 1400 && el < 5000 ? 0 : 1 )) "wait-state: the timeout is kept (${el} ms)"

# a name with a space, a change made through libvirt's lifecycle (destroy)
( sleep 0.5; echo destroy >"$M/my vm/state" ) &
writer=$!
out=$(bash "$E/wait-state.sh" "$M" "my vm" shutoff 20 2>&1); rc=$?
wait "$writer"
is "$rc:$out" "0:my vm shutoff" "wait-state: a guest whose name has a space"

out=$(bash "$E/wait-state.sh" "$M" nope running 1 2>&1); rc=$?
is "$rc" 2 "wait-state: an unknown guest is exit 2"
out=$(bash "$E/wait-state.sh" "$M" web sleeping 1 2>&1); rc=$?
is "$rc" 2 "wait-state: an unknown state word is exit 2"
out=$(bash "$E/wait-state.sh" "$M" web 2>&1); rc=$?
is "$rc" 2 "wait-state: missing arguments are exit 2"

# ================= watch.sh =================
echo resume >"$M/web/state"
echo destroy >"$M/batch/state"
out=$(bash "$E/watch.sh" "$M" --once 2>&1); rc=$?
is "$rc" 0 "watch --once: exit 0"
is "$out" "api paused
batch shutoff
db running
my vm shutoff
web running" "watch --once: 'name state' for every guest, sorted"
# the same from the files themselves
want=$(for g in "$M"/*/; do g=${g%/}; printf '%s %s\n' "${g##*/}" "$(cat "$g/state")"; done)
is "$out" "$want" "watch --once agrees with the state files"

# the loop redraws on an event, long before its 30 s interval
bash "$E/watch.sh" "$M" 30 >"$TEST_TMP/watch.out" 2>&1 &
watcher=$!
wait_for 5 grep -q '^api paused$' "$TEST_TMP/watch.out"
echo resume >"$M/api/state"
if wait_for 5 grep -q '^api running$' "$TEST_TMP/watch.out"; then r=0; else r=1; fi
tap_ok $r "watch: a state change is shown at once (event-driven redraw)" "$(cat "$TEST_TMP/watch.out")"
is "$(grep -c '^--- ' "$TEST_TMP/watch.out")" 2 "watch: one frame at start, one for the event"
kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null

# ================= monitor-agent.sh =================
host=$(sed -n 's/^name //p' "$M/.domfs/connection")
out=$(bash "$E/monitor-agent.sh" "$M" --once 2>&1); rc=$?
is "$rc" 0 "monitor-agent --once: exit 0"
is "$(wc -l <<<"$out")" 5 "monitor-agent: one line per guest"
tagv='([^ ,=\\]|\\.)+'
is "$(grep -cE "^domfs_guest,host=$tagv,guest=$tagv state=\"[a-z]+\",running=[01]i,vcpus=[0-9]+i,memory_kib=[0-9]+i,autostart=[01]i,persistent=[01]i(,[a-z_]+=[0-9]+i)* [0-9]{19}\$" <<<"$out")" 5 \
    "monitor-agent: every line is InfluxDB line protocol (measurement,tags fields ns-timestamp)"
is "$(awk '{ print $NF }' <<<"$out" | sort -u | wc -l)" 1 "monitor-agent: one timestamp per iteration"
ok=0
for g in "$M"/*/; do
    g=${g%/}; n=${g##*/}; tag=${n// /\\ }
    s=$(cat "$g/state"); r=0; [ "$s" = running ] && r=1
    want="domfs_guest,host=$host,guest=$tag state=\"$s\",running=${r}i,vcpus=$(cat "$g/vcpus")i,memory_kib=$(cat "$g/memory")i,autostart=$(cat "$g/autostart")i,persistent=$(cat "$g/persistent")i"
    line=$(grep -F "guest=$tag " <<<"$out")
    [ "${line% *}" = "$want" ] || { ok=1; echo "# got:  $line"; echo "# want: $want ..."; }
done
tap_ok $ok "monitor-agent: each line holds the guest's own files"
like "$out" 'guest=my\\ vm ' "monitor-agent: a space in a tag value is escaped"
like "$out" 'guest=web state="running",running=1i,vcpus=2i,memory_kib=524288i' \
    "monitor-agent: hand-checked line of web"
# I/O fields exactly when metrics.prom has I/O samples for the guest
samples=$(grep -c '^domfs_guest_block_read_bytes_total{' "$M/.domfs/metrics.prom")
fields=$(grep -c 'block_read_bytes=' <<<"$out")
if [ "$samples" = 0 ]; then
    is "$fields" 0 "monitor-agent: no I/O fields where metrics.prom has no I/O samples"
else
    tap_ok $(( fields > 0 ? 0 : 1 )) "monitor-agent: I/O fields from metrics.prom"
fi

# ================= several hosts =================
MM=$TEST_TMP/multi
domfs_mount "$MM" -c "h1=test://$NODE" -c "h2=test://$NODE2" || tap_ok 1 "multi-host mount"
out=$(bash "$E/watch.sh" "$MM" --once)
is "$out" "h1/api paused
h1/batch shutoff
h1/db shutoff
h1/my vm shutoff
h1/web running
h2/cache shutoff
h2/queue running" "watch --once on a several-host mount: HOST/NAME"
out=$(bash "$E/start-all.sh" "$MM" 2>&1); rc=$?
is "$rc" 0 "start-all on a several-host mount: exit 0"
is "$(grep '^started' <<<"$out" | tr '\n' ,)" "started h1/batch,started h1/db,started h1/my vm,started h2/cache," \
    "start-all on a several-host mount: every host's shut-off guests"
out=$(bash "$E/monitor-agent.sh" "$MM" --once)
is "$(grep -c '^domfs_guest,host=h1,' <<<"$out"):$(grep -c '^domfs_guest,host=h2,' <<<"$out")" "5:2" \
    "monitor-agent on a several-host mount: host tag per connection"
( sleep 0.5; echo paused >"$MM/h2/queue/state" ) &
writer=$!
out=$(bash "$E/wait-state.sh" "$MM" h2/queue paused 20 2>&1); rc=$?
wait "$writer"
is "$rc:$out" "0:h2/queue paused" "wait-state on a several-host mount: HOST/GUEST"
domfs_umount "$MM"

# ================= domfs.service =================
U=$E/domfs.service
keys=$(grep -v '^[[:space:]]*#' "$U" | grep -v '^[[:space:]]*$')
like "$keys" '^Type=simple$' "unit: Type=simple"
is "$(grep '^ExecStart=' "$U")" "ExecStart=/usr/local/bin/domfs -f -c qemu:///system -o allow_other /run/domfs" \
    "unit: ExecStart as documented"
like "$keys" '^ExecStop=/usr/bin/fusermount3 -u /run/domfs$' "unit: ExecStop unmounts"
like "$keys" '^Restart=on-failure$' "unit: Restart=on-failure"
# a FUSE daemon must not get a private mount namespace: its mount would be invisible
ns=$(grep -E '^(ProtectSystem|ProtectHome|PrivateTmp|PrivateDevices|PrivateMounts|ProtectKernelTunables|ProtectKernelModules|ProtectKernelLogs|ProtectControlGroups|ProtectProc|ReadOnlyPaths|ReadWritePaths|InaccessiblePaths|TemporaryFileSystem|BindPaths|BindReadOnlyPaths|MountFlags|RootDirectory|RootImage)=' <<<"$keys")
is "$ns" "" "unit: no option that gives the daemon its own mount namespace"
like "$keys" '^DeviceAllow=/dev/fuse rw$' "unit: /dev/fuse allowed under its device policy"
if command -v systemd-analyze >/dev/null; then
    # verify needs ExecStart's binary to exist: the one just built stands in for it
    mkdir -p "$TEST_TMP/unit"
    sed "s|/usr/local/bin/domfs|$DOMFS_BIN|" "$U" >"$TEST_TMP/unit/domfs.service"
    # --man=no: Documentation=man:... pages are not the unit's business (no man-db on a
    # minimal machine: "Command 'man fuse(8)' failed")
    vout=$(systemd-analyze verify --man=no "$TEST_TMP/unit/domfs.service" 2>&1); rc=$?
    is "$rc:$vout" "0:" "unit: systemd-analyze verify accepts it, without a warning"
else
    bad=$(awk '
        /^[[:space:]]*(#|$)/ { next }
        /^\[(Unit|Service|Install)\]$/ { sec = $0; next }
        !/^[A-Za-z]+=/ { print "not Key=Value: " $0; next }
        sec == "" { print "outside a section: " $0 }' "$U")
    is "$bad" "" "unit: plain syntax check (no systemd-analyze here)"
fi
# ExecStart's options, for real (test URI and a scratch mountpoint), then ExecStop
SVC=$TEST_TMP/run-domfs
mkdir -p "$SVC"
start=$(sed -n 's/^ExecStart=//p' "$U" | sed "s|^/usr/local/bin/domfs|$DOMFS_BIN|; s|qemu:///system|test://$NODE2|; s|/run/domfs|$SVC|")
stop=$(sed -n 's/^ExecStop=//p' "$U" | sed "s|/run/domfs|$SVC|")
$start >"$TEST_TMP/svc.log" 2>&1 &
svc=$!
wait_for 10 test -f "$SVC/queue/state"
is "$(cat "$SVC/queue/state" 2>&1)" "running" "unit: ExecStart's command line mounts (-f, allow_other)"
like "$(stat -c %a "$SVC/queue/state" 2>&1)" '^6[0-4][0-4]$' "unit: allow_other mount is readable by others (umask 022)"
$stop; rc=$?
is "$rc" 0 "unit: ExecStop's fusermount3 -u succeeds"
for _ in $(seq 100); do kill -0 "$svc" 2>/dev/null || break; sleep 0.05; done
wait "$svc"; rc=$?
is "$rc" 0 "unit: the daemon exits 0 after ExecStop (so Restart=on-failure does not fire)"

# ================= sidecar =================
SC=$E/sidecar
tap_ok $( [ -s "$SC/README.md" ] && [ -s "$SC/compose.yaml" ] && [ -s "$SC/pod.yaml" ]; echo $? ) \
    "sidecar: README.md, compose.yaml, pod.yaml"
if python3 -c 'import yaml' 2>/dev/null; then
    yout=$(python3 - "$SC/compose.yaml" "$SC/pod.yaml" <<'EOF' 2>&1
import sys, yaml
compose = yaml.safe_load(open(sys.argv[1]))
pod = yaml.safe_load(open(sys.argv[2]))
s = compose["services"]
def bind(svc, target):
    for v in s[svc]["volumes"]:
        if isinstance(v, dict) and v.get("target") == target:
            return v
    raise SystemExit(f"{svc}: no volume on {target}")
d = bind("domfs", "/domfs")
a = bind("app", "/domfs")
assert d["type"] == "bind" and d["bind"]["propagation"] == "rshared", d
assert a["bind"]["propagation"] in ("rslave", "rshared"), a
assert d["source"] == a["source"], (d, a)
assert "/dev/fuse" in " ".join(s["domfs"]["devices"]), s["domfs"]
assert "SYS_ADMIN" in s["domfs"]["cap_add"]
assert "/domfs" in s["domfs"]["command"]
spec = pod["spec"]
cs = {c["name"]: c for c in spec["containers"]}
dm = [m for m in cs["domfs"]["volumeMounts"] if m["mountPath"] == "/domfs"][0]
am = [m for m in cs["app"]["volumeMounts"] if m["name"] == dm["name"]][0]
assert dm["mountPropagation"] == "Bidirectional", dm
assert am["mountPropagation"] == "HostToContainer", am
assert cs["domfs"]["securityContext"]["privileged"] is True
vol = [v for v in spec["volumes"] if v["name"] == dm["name"]][0]
assert "hostPath" in vol, vol
print("ok")
EOF
)
    is "$yout" "ok" "sidecar: compose (rshared/rslave bind, /dev/fuse, SYS_ADMIN) and pod (Bidirectional/HostToContainer, privileged) as described"
else
    like "$(cat "$SC/compose.yaml")" 'propagation: rshared' "sidecar: compose.yaml binds with rshared propagation"
    like "$(cat "$SC/pod.yaml")" 'mountPropagation: Bidirectional' "sidecar: pod.yaml mounts with Bidirectional propagation"
fi

# What the sidecar does, with mount namespaces instead of containers: domfs mounts in a
# namespace of its own on a shared bind mount (compose: rshared), and the mount shows in
# the host's namespace and in another "app" namespace (rslave).
SH=$TEST_TMP/share
mkdir -p "$SH"
if command -v unshare >/dev/null && mount --bind "$SH" "$SH" 2>/dev/null; then
    mount --make-shared "$SH"
    unshare -m --propagation unchanged "$DOMFS_BIN" -f -c "test://$NODE2" "$SH" >"$TEST_TMP/sc.log" 2>&1 &
    sc=$!
    if wait_for 10 test -f "$SH/queue/state"; then r=0; else r=1; fi
    tap_ok $r "sidecar: a mount made in the sidecar's namespace reaches the host" "$(cat "$TEST_TMP/sc.log")"
    is "$(unshare -m --propagation slave cat "$SH/queue/state" 2>&1)" "running" \
        "sidecar: the app's namespace reads the tree"
    is "$(unshare -m --propagation slave bash "$E/watch.sh" "$SH" --once 2>&1)" "cache shutoff
queue running" "sidecar: examples work from the app's namespace"
    echo start >"$SH/cache/state"
    is "$(cat "$SH/cache/state")" "running" "sidecar: writes from the host reach the sidecar's daemon"
    fusermount3 -u "$SH"; rc=$?
    is "$rc" 0 "sidecar: unmounting on the host unmounts the sidecar's mount"
    for _ in $(seq 100); do kill -0 "$sc" 2>/dev/null || break; sleep 0.05; done
    wait "$sc"; rc=$?
    is "$rc" 0 "sidecar: its daemon exits 0"

    # without shared propagation (a plain private bind) the host would see nothing
    unshare -m --propagation private "$DOMFS_BIN" -f -c "test://$NODE2" "$SH" >"$TEST_TMP/sc2.log" 2>&1 &
    sc=$!
    sleep 1
    alive=0; kill -0 "$sc" 2>/dev/null && alive=1
    is "$alive:$(ls -A "$SH" | wc -l)" "1:0" "sidecar: with private propagation the host sees an empty directory"
    kill -TERM "$sc" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$sc" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$sc" 2>/dev/null; wait "$sc" 2>/dev/null
    umount "$SH" 2>/dev/null || umount -l "$SH"
else
    skip "sidecar: mount propagation between namespaces" "no unshare or no bind mounts here"
fi

domfs_umount "$M"
done_testing
