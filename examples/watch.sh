#!/bin/bash
# watch.sh MOUNT [INTERVAL] [--once] - a tiny `virsh list --all` that keeps itself current.
#
# Prints one "NAME STATE" line per guest, sorted by name (HOST/NAME on a several-host
# mount). Without --once it redraws every INTERVAL seconds (default 2), and at once when
# a line arrives on .domfs/events, so a change shows without waiting for the interval.
#
#   $ examples/watch.sh /run/domfs --once
#   batch shutoff
#   db running
#   web paused
set -u
export LC_ALL=C

me=${0##*/}
usage() { echo "usage: $me MOUNT [INTERVAL] [--once]" >&2; exit 2; }
once=0 m= interval=2
for a in "$@"; do
    case $a in
    --once) once=1 ;;
    -h|--help) usage ;;
    *) if [ -z "$m" ]; then m=${a%/}; else interval=$a; fi ;;
    esac
done
[ -n "$m" ] || usage
[[ $interval =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "$me: bad interval '$interval'" >&2; exit 2; }
[ -d "$m/.domfs" ] || { echo "$me: $m is not a domfs mount (no .domfs/)" >&2; exit 2; }

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

list() {
    local g state
    while IFS= read -r g; do
        state=$(cat "$g/state" 2>/dev/null) || continue   # vanished meanwhile
        printf '%s %s\n' "${g#"$m"/}" "$state"
    done < <(guests "$m")
}

if [ "$once" = 1 ]; then
    list
    exit 0
fi

# events as wake-ups: opened once, read through a pipe so `read -t` can time out
exec {ev}<"$m/.domfs/events" || exit 2
exec {lines}< <(exec cat <&"$ev")
reader=$!
exec {ev}<&-
trap 'kill "$reader" 2>/dev/null' EXIT
trap 'exit 0' INT TERM

while :; do
    out=$(list)
    if [ -t 1 ]; then
        printf '\033[H\033[2J%s  %s\n\n' "$m" "$(date '+%F %T')"
    else
        printf -- '--- %s\n' "$(date '+%F %T')"
    fi
    [ -n "$out" ] && printf '%s\n' "$out"
    # wait for the interval or an event; then swallow a burst of events
    if read -r -t "$interval" _ <&"$lines"; then
        while read -r -t 0.1 _ <&"$lines"; do :; done
    elif [ $? -le 128 ]; then
        echo "$me: the event stream of $m ended (unmounted?)" >&2
        exit 2
    fi
done
