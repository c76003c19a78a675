#!/bin/bash
# monitor-agent.sh MOUNT [INTERVAL] [--once] - a monitoring agent that only reads files.
#
# Every INTERVAL seconds (default 10) it reads each guest's state, vcpus, memory,
# autostart and persistent files, and the connection's .domfs/metrics.prom for the disk
# and network I/O counters, and prints one line per guest in InfluxDB line protocol (what
# Telegraf's exec/execd inputs and `influx write` take):
#
#   domfs_guest,host=kvm1,guest=web state="running",running=1i,vcpus=2i,memory_kib=2097152i,autostart=0i,persistent=1i,block_read_bytes=1234i,block_write_bytes=0i,net_rx_bytes=10i,net_tx_bytes=20i 1763712000000000000
#
# The I/O fields (sums over the guest's disks / interfaces) are there when metrics.prom has
# samples for the guest (a running guest on a driver with I/O statistics). Tag values are
# the host's connection name and the guest's own name (not its escaped directory name),
# escaped for the line protocol. Several-host mounts are read host by host.
set -u
export LC_ALL=C

me=${0##*/}
usage() { echo "usage: $me MOUNT [INTERVAL] [--once]" >&2; exit 2; }
once=0 m= interval=10
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

# The connection directories: MOUNT itself, or MOUNT/<host> on a several-host mount.
conn_dirs() {
    local d
    if [ -f "$m/.domfs/metrics.prom" ] && ! compgen -G "$m/*/.domfs" >/dev/null; then
        printf '%s\n' "$m"
        return
    fi
    for d in "$m"/*/; do
        d=${d%/}
        [ -d "$d/.domfs" ] && printf '%s\n' "$d"
    done
}

# metrics.prom -> "NAME<TAB>FIELD<TAB>VALUE" sums of the I/O counters per guest name
io_sums() {
    awk '
    function labels(s,    i, c, k, v, st) {
        # s: the text between { and }; fills L[key] = unescaped value
        # st: 0 in a key, 1 at the opening quote, 2 in a value
        delete L; k = ""; v = ""; st = 0
        for (i = 1; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (st == 0) {
                if (c == "=") st = 1
                else if (c != ",") k = k c
            } else if (st == 1) {
                st = 2
            } else if (c == "\\") {
                i++; c = substr(s, i, 1); v = v (c == "n" ? "\n" : c)
            } else if (c == "\"") {
                L[k] = v; k = ""; v = ""; st = 0
            } else {
                v = v c
            }
        }
    }
    /^#/ { next }
    {
        name = $0; sub(/[{ ].*/, "", name)
        f = ""
        if (name == "domfs_guest_block_read_bytes_total") f = "block_read_bytes"
        else if (name == "domfs_guest_block_write_bytes_total") f = "block_write_bytes"
        else if (name == "domfs_guest_network_receive_bytes_total") f = "net_rx_bytes"
        else if (name == "domfs_guest_network_transmit_bytes_total") f = "net_tx_bytes"
        if (f == "") next
        l = $0; sub(/^[^{]*\{/, "", l); sub(/\}[^}]*$/, "", l)
        labels(l)
        val = $NF
        sum[L["name"] "\t" f] += val
    }
    END { for (k in sum) printf "%s\t%.0f\n", k, sum[k] }
    ' "$1"
}

tag_escape() {      # line protocol tag value: backslash before , = and space
    local v=$1
    v=${v//,/\\,}; v=${v//=/\\=}; v=${v// /\\ }
    printf '%s' "$v"
}

dir_to_name() {     # undo domfs's %XX escaping of a directory name
    local v=${1//\\/\\\\}
    printf '%b' "${v//%/\\x}"
}

report() {
    local c host ts g dir name state vcpus memory autostart persistent line f
    local -A io
    ts=$(date +%s%N)
    while IFS= read -r c; do
        host=$(sed -n 's/^name //p' "$c/.domfs/connection")
        io=()
        while IFS=$'\t' read -r name f line; do
            io["$name|$f"]=$line
        done < <(io_sums "$c/.domfs/metrics.prom")
        for g in "$c"/*/; do
            g=${g%/}
            dir=${g##*/}
            [ -f "$g/state" ] || continue
            # one snapshot per file; a guest that vanished meanwhile is skipped
            { state=$(<"$g/state") && vcpus=$(<"$g/vcpus") && memory=$(<"$g/memory") &&
              autostart=$(<"$g/autostart") && persistent=$(<"$g/persistent"); } 2>/dev/null ||
                continue
            name=$(dir_to_name "$dir")
            line="domfs_guest,host=$(tag_escape "$host"),guest=$(tag_escape "$name")"
            line+=" state=\"$state\",running=$([ "$state" = running ] && echo 1 || echo 0)i"
            line+=",vcpus=${vcpus}i,memory_kib=${memory}i"
            line+=",autostart=${autostart}i,persistent=${persistent}i"
            for f in block_read_bytes block_write_bytes net_rx_bytes net_tx_bytes; do
                [ -n "${io["$name|$f"]+x}" ] && line+=",$f=${io["$name|$f"]}i"
            done
            printf '%s %s\n' "$line" "$ts"
        done
    done < <(conn_dirs)
}

if [ "$once" = 1 ]; then
    report
    exit 0
fi
while :; do
    report
    sleep "$interval"
done
