#!/bin/bash
# The container sidecar of examples/sidecar/, under a real container runtime (podman with
# runc, from Debian) and with no image registry: the containers' root file system is built
# here from busybox-static (downloaded and unpacked, not installed), the domfs container
# gets the host's /usr read-only plus the built binary.
#   1. domfs mounted on the host, an app container bind-mounts it with rslave propagation:
#      it reads the tree and writes `paused`, the host sees it.
#   2. the sidecar itself: domfs runs in a container (/dev/fuse, CAP_SYS_ADMIN) and mounts
#      on a bind mount with rshared propagation; the host and an app container (rslave)
#      see the mount, the app writes through it; `podman stop` makes domfs unmount and exit
#      0, leaving no mount behind.
#   3. examples/sidecar/pod.yaml against the Kubernetes API schemas (npm kubernetes-models,
#      when node and npm are there) and compose.yaml's propagation settings.
# Everything runs in a private mount namespace; podman's storage and run state live in a
# scratch directory, so nothing of it stays on the host. Exit 77 ("SKIP: why") when podman
# cannot run containers here.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TESTS_DIR=${TESTS_DIR:-$HERE/..}
SIDECAR_DIR=$HERE/../../examples/sidecar
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/pkg.sh"
skip() { echo "SKIP: $*"; echo "1..0 # SKIP $*"; exit 77; }
: "${DOMFS_BIN:?DOMFS_BIN not set (run through meson test)}"
TOOLS_CACHE=${DOMFS_TOOLS_CACHE:-/var/tmp/domfs-tools}
SIDECAR_MOUNT_TIMEOUT=60    # seconds the domfs container may take to serve its mount
PODMAN_STOP_TIMEOUT=15      # seconds `podman stop` waits before SIGKILL
K8S_MODELS=kubernetes-models@4.5.1   # the last line that runs on Debian's node (>= 14)
JS_YAML=js-yaml@4

if [ "${1:-}" != --inside ]; then
    [ "$(id -u)" = 0 ] || skip "needs root (podman as root, mount namespaces)"
    [ -e /dev/fuse ] || skip "no /dev/fuse on this machine"
    unshare -m true 2>/dev/null || skip "unshare -m not permitted here"
    # podman runs the containers; runc because crun refuses this VM's hybrid cgroup layout
    pkg_install "a real container runtime for the sidecar test" podman runc ||
        skip "podman/runc missing and apt-get install podman runc failed"
    pkg_fetch busybox-static "$TOOLS_CACHE/busybox-static" ||
        skip "apt-get download busybox-static failed (no package mirror?)"
    exec unshare -m --propagation private bash "$0" --inside
fi

. "$TESTS_DIR/lib/mount.sh"
W=$(mktemp -d /var/tmp/domfs-sidecar.XXXXXX)
POD=(podman --root "$W/storage" --runroot "$W/run" --tmpdir "$W/tmp"
     --cgroup-manager cgroupfs --events-backend file)
RUN=(run --runtime runc --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
SIDE=domfs-sidecar-$$
sidecar_cleanup() {
    "${POD[@]}" rm -f -t 5 "$SIDE" >/dev/null 2>&1
    mountpoint -q "$W/shared" && { umount -l "$W/shared" 2>/dev/null; umount -l "$W/shared" 2>/dev/null; }
    rm -rf "$W"
}
_sidecar_exit() { local rc=$?; sidecar_cleanup; (exit "$rc"); domfs_exit_trap; }
trap _sidecar_exit EXIT

# ---- the root file system: busybox and its applets, mount points for /usr and the tree
R=$W/rootfs
mkdir -p "$R"/{bin,dev,proc,sys,etc,tmp,opt,usr,vms,domfs} "$W"/{storage,run,tmp}
cp "$TOOLS_CACHE/busybox-static/bin/busybox" "$R/bin/busybox"
for a in sh cat echo ls sleep test; do ln -s busybox "$R/bin/$a"; done
ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"    # the host's /usr comes in read-only
out=$("${POD[@]}" "${RUN[@]}" --rm --rootfs "$R" /bin/sh -c 'echo hello' 2>&1)
[ "$out" = hello ] || skip "podman cannot run a container here: $(tail -3 <<<"$out" | tr '\n' ' ')"
tap_ok 0 "podman runs a container from a local root file system"

# app CMD: runs CMD in an app container that bind-mounts DIR on /vms with rslave
app() {
    local dir=$1; shift
    timeout 60 "${POD[@]}" "${RUN[@]}" --rm \
        --mount "type=bind,src=$dir,dst=/vms,bind-propagation=rslave" \
        --rootfs "$R" /bin/sh -c "$*" 2>&1
}

# ---- 1. domfs on the host, the app container reads and writes through a bind mount
M=$W/hostmnt
domfs_mount "$M" -c test:///default -o allow_other || { tap_ok 1 "mount"; done_testing; exit 1; }
is "$(app "$M" 'ls /vms')" "test" "app container (rslave bind): ls shows the guest"
is "$(app "$M" 'cat /vms/test/state')" "running" "app container reads test/state"
out=$(app "$M" 'echo paused > /vms/test/state && cat /vms/test/state /vms/test/reason')
is "$(tr '\n' ' ' <<<"$out")" "paused user " "app container writes paused, reads it back with its reason"
is "$(cat "$M/test/state")" "paused" "the host sees paused"
domfs_umount "$M"

# ---- 2. domfs itself in a container, mounting on a shared bind mount
H=$W/shared
mkdir -p "$H"
mount --bind "$H" "$H" && mount --make-shared "$H"
tap_ok $? "the host directory is a shared mount point (mount --make-shared)"
out=$("${POD[@]}" "${RUN[@]}" -d --name "$SIDE" \
    --device /dev/fuse --cap-add SYS_ADMIN --security-opt apparmor=unconfined \
    --mount "type=bind,src=$H,dst=/domfs,bind-propagation=rshared" \
    --mount type=bind,src=/usr,dst=/usr,ro \
    --mount "type=bind,src=$DOMFS_BIN,dst=/opt/domfs,ro" \
    --rootfs "$R" /opt/domfs -f -c test:///default -o allow_other /domfs 2>&1)
tap_ok $? "the domfs container starts (/dev/fuse, CAP_SYS_ADMIN, rshared)" "$out"
wait_for "$SIDECAR_MOUNT_TIMEOUT" test -d "$H/.domfs"
tap_ok $? "its mount reaches the host (rshared propagation)" "$("${POD[@]}" logs "$SIDE" 2>&1 | tail -5)"
like "$(awk -v h="$H" '$2 == h { print $3 }' /proc/self/mounts | tr '\n' ' ')" "fuse\.domfs" \
     "the host's mount table has the fuse.domfs mount on the shared directory"
is "$(cat "$H/test/state" 2>&1)" "running" "the host reads the sidecar's tree"
is "$(app "$H" 'cat /vms/test/state')" "running" "an app container (rslave) reads it too"
out=$(app "$H" 'echo paused > /vms/test/state && cat /vms/test/state')
is "$out" "paused" "the app container writes paused through the sidecar"
is "$(cat "$H/test/state" 2>&1)" "paused" "the host sees it"
ok "podman stop (SIGTERM)" timeout 60 "${POD[@]}" stop -t "$PODMAN_STOP_TIMEOUT" "$SIDE"
is "$("${POD[@]}" inspect "$SIDE" --format '{{.State.ExitCode}}' 2>&1)" "0" "domfs exited 0 in the container"
is "$(awk -v h="$H" '$2 == h && $3 ~ /^fuse/' /proc/self/mounts | wc -l)" 0 "no FUSE mount left on the host"
echo "# the sidecar's log:"; "${POD[@]}" logs "$SIDE" 2>&1 | tail -5 | sed 's/^/#   /'
"${POD[@]}" rm "$SIDE" >/dev/null 2>&1

# ---- 3. the Kubernetes pod and the compose file
if command -v node >/dev/null && command -v npm >/dev/null; then
    NM=$TOOLS_CACHE/npm-k8s
    if [ ! -d "$NM/node_modules/kubernetes-models" ] || [ ! -d "$NM/node_modules/js-yaml" ]; then
        mkdir -p "$NM"
        timeout 300 npm install --no-audit --no-fund --prefix "$NM" "$K8S_MODELS" "$JS_YAML" >&2
    fi
    if [ -d "$NM/node_modules/kubernetes-models" ]; then
        out=$(NODE_PATH=$NM/node_modules node "$HERE/k8s-validate.js" "$SIDECAR_DIR/pod.yaml" 2>&1)
        tap_ok $? "pod.yaml is a valid v1 Pod ($K8S_MODELS schemas): $out" "$out"
        # the validator itself must catch a bad value
        sed 's/mountPropagation: HostToContainer/mountPropagation: Sideways/' "$SIDECAR_DIR/pod.yaml" > "$W/bad-pod.yaml"
        out=$(NODE_PATH=$NM/node_modules node "$HERE/k8s-validate.js" "$W/bad-pod.yaml" 2>&1)
        [ $? != 0 ]; tap_ok $? "and a pod with mountPropagation: Sideways is refused" "$out"
        out=$(NODE_PATH=$NM/node_modules node -e '
            const y = require("js-yaml").load(require("fs").readFileSync(process.argv[1], "utf8"));
            const p = s => y.services[s].volumes.filter(v => v.target === "/domfs" || v.target === "/vms")
                                                .map(v => v.bind.propagation).join(",");
            console.log(p("domfs") + " " + p("app"));' "$SIDECAR_DIR/compose.yaml" 2>&1)
        is "$out" "rshared rslave" "compose.yaml: domfs bind-mounts rshared, app rslave (as tested above)"
    else
        echo "ok $((TAP_N += 1)) - pod.yaml schema check # SKIP npm install $K8S_MODELS failed"
    fi
else
    echo "ok $((TAP_N += 1)) - pod.yaml schema check # SKIP no node/npm here (npm package $K8S_MODELS)"
fi
done_testing
