#!/bin/bash
# wait-state.sh MOUNT GUEST STATE [TIMEOUT] - wait until a guest reaches a state.
#
# GUEST is the guest's directory under MOUNT (HOST/GUEST on a several-host mount), STATE
# one of the words `state` shows (running, paused, shutoff, ...), TIMEOUT seconds
# (fractions allowed; none: wait forever).
#
# No polling: the events stream is opened first, then the `state` file is read (it is the
# truth; event lines are only wake-ups), then the script sleeps in a blocking read of
# .domfs/events and reads `state` again after each line. Opening the stream before the
# first read means a change between the two cannot be missed.
#
# Exit: 0 when the guest is in STATE (prints "GUEST STATE"), 1 on timeout, 2 on a usage
# error, an unknown guest, or the event stream ending (unmounted).
#
#   $ examples/wait-state.sh /run/domfs web shutoff 60 &&
#     echo start > /run/domfs/web/state
set -u

me=${0##*/}
usage() { echo "usage: $me MOUNT GUEST STATE [TIMEOUT]" >&2; exit 2; }
[ $# -ge 3 ] && [ $# -le 4 ] || usage
m=${1%/} guest=${2%/} want=$3 timeout=${4:-}

case $want in
running|blocked|paused|shutdown|shutoff|crashed|pmsuspended|nostate) ;;
*) echo "$me: '$want' is not a state (running blocked paused shutdown shutoff crashed pmsuspended nostate)" >&2
   exit 2 ;;
esac
if [ -n "$timeout" ] && ! [[ $timeout =~ ^[0-9]+([.][0-9]+)?$ ]]; then
    echo "$me: bad timeout '$timeout' (seconds)" >&2
    exit 2
fi
[ -d "$m/.domfs" ] || { echo "$me: $m is not a domfs mount (no .domfs/)" >&2; exit 2; }
[ -f "$m/$guest/state" ] || { echo "$me: no guest '$guest' under $m" >&2; exit 2; }

# 1. open the stream (domfs starts each open at "now")
exec {ev}<"$m/.domfs/events" || exit 2
# 2. read it through a pipe: bash's `read` then takes exactly one line per call, and
#    `read -t` gives the timeout (select() on the pipe; cat sleeps in domfs's blocking read)
exec {lines}< <(exec cat <&"$ev")
reader=$!
exec {ev}<&-
trap 'kill "$reader" 2>/dev/null' EXIT

now_us() { local t=${EPOCHREALTIME/./}; echo "${t:-$(date +%s%6N)}"; }
if [ -n "$timeout" ]; then
    # deadline in microseconds, from a decimal number of seconds
    whole=${timeout%%.*} frac=${timeout#"$whole"}; frac=${frac#.}000000
    deadline=$(( $(now_us) + 10#$whole * 1000000 + 10#${frac:0:6} ))
fi

state=
while :; do
    # 3. the truth
    state=$(cat "$m/$guest/state" 2>/dev/null)
    if [ "$state" = "$want" ]; then
        echo "$guest $state"
        exit 0
    fi
    # 4. sleep until the next event line (any guest: reading `state` is cheap)
    if [ -n "$timeout" ]; then
        left=$(( deadline - $(now_us) ))
        if [ "$left" -le 0 ]; then
            echo "$me: $guest is ${state:-gone}, not $want, after ${timeout}s" >&2
            exit 1
        fi
        printf -v secs '%d.%06d' $((left / 1000000)) $((left % 1000000))
        read -r -t "$secs" _ <&"$lines"
    else
        read -r _ <&"$lines"
    fi
    rc=$?
    # >128: timed out (checked at the top of the loop); 1: the stream ended
    if [ "$rc" -ne 0 ] && [ "$rc" -le 128 ]; then
        echo "$me: the event stream of $m ended (unmounted?)" >&2
        exit 2
    fi
done
