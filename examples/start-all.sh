#!/bin/bash
# start-all.sh MOUNT - start every shut-off guest of a domfs mount.
#
# Writes `start` to the `state` file of each guest whose state is `shutoff`, prints one
# line per guest it started, one line (on stderr) per guest it could not start with the
# reason domfs recorded in that guest's `error` file, and a summary. Exits 1 when any
# start failed, 2 on a usage error. Works on one-connection mounts (MOUNT/<guest>) and
# several-host mounts (MOUNT/<host>/<guest>).
#
#   $ examples/start-all.sh /run/domfs
#   started db
#   started batch
#   start-all: 2 started, 0 failed, 3 already running or not shut off
set -u
export LC_ALL=C

usage() { echo "usage: ${0##*/} MOUNT" >&2; exit 2; }
[ $# -eq 1 ] || usage
m=${1%/}
[ -d "$m/.domfs" ] || { echo "${0##*/}: $m is not a domfs mount (no .domfs/)" >&2; exit 2; }

# Guest directories: MOUNT/<guest>/ or, with several hosts, MOUNT/<host>/<guest>/.
# (The glob skips .domfs; names with newlines are escaped by domfs, so lines are safe.)
guests() {
    local d h
    for d in "$1"/*/; do
        d=${d%/}
        if [ -f "$d/state" ]; then
            printf '%s\n' "$d"
        elif [ -d "$d/.domfs" ]; then
            for h in "$d"/*/; do
                h=${h%/}
                [ -f "$h/state" ] && printf '%s\n' "$h"
            done
        fi
    done
}

started=0 failed=0 other=0
while IFS= read -r g; do
    name=${g#"$m"/}
    # a guest may vanish between the listing and the read
    state=$(cat "$g/state" 2>/dev/null) || continue
    if [ "$state" != shutoff ]; then
        other=$((other + 1))
        continue
    fi
    before=$(cat "$g/error" 2>/dev/null)
    if msg=$( { printf 'start\n' > "$g/state"; } 2>&1 ); then
        echo "started $name"
        started=$((started + 1))
    else
        # domfs keeps libvirt's reason in `error`; a refusal before domfs saw the write
        # (a read-only mount, permissions) only has the shell's message
        after=$(cat "$g/error" 2>/dev/null)
        if [ -n "$after" ] && [ "$after" != "$before" ]; then
            reason=$after
        else
            reason=${msg##*: }
        fi
        echo "failed $name: $reason" >&2
        failed=$((failed + 1))
    fi
done < <(guests "$m")

echo "${0##*/}: $started started, $failed failed, $other already running or not shut off"
[ "$failed" -eq 0 ]
