# pkg.sh - Debian packages for the tests, without changing what the host runs.
#
# Why: the suite must leave the host as it was apart from the packages it names. apt-get
# with Recommends drags in hundreds of packages (a GUI for QEMU), and a package's postinst
# may enable and start a system service (libvirtd.service, podman.socket, prometheus):
# on a systemd host those would run from the next boot on. So every install here is
# --no-install-recommends, runs with a policy-rc.d that forbids starting services, and is
# followed by a check that no new *.wants/*.requires link appeared under /etc/systemd
# (links that did appear are removed again, and said so).
#
#   pkg_missing PKG...        prints the packages of the list that are not installed
#   pkg_install WHY PKG...    installs the missing ones (root only; apt-get update once if
#                             the first try fails); returns 0 when all are installed.
#                             WHY is printed with them ("# installing X Y: WHY").
#   pkg_fetch PKG DIR         the package's files extracted under DIR (apt-get download +
#                             dpkg -x, nothing installed, no root needed); cached: a second
#                             call with the same DIR does nothing. Returns 1 if it fails.
#   pkg_wants_snapshot FILE   writes the list of systemd enablement links to FILE
#   pkg_wants_restore FILE    removes every link that is not in FILE (prints each one);
#                             returns 1 if there was any
PKG_APT_LOCK_WAIT=300          # seconds apt-get waits for another apt's lock
PKG_INSTALL_TIMEOUT=900        # seconds one apt-get install may take at most
_PKG_UPDATED=""

pkg_missing() {
    local p
    for p in "$@"; do
        [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] || echo "$p"
    done
}

# every link that makes systemd start a unit (enable), in /etc and /usr/local
# (only directories that exist: a failing find would end a `set -e -o pipefail` caller)
_pkg_wants_list() {
    local d dirs=()
    for d in /etc/systemd /usr/local/lib/systemd; do [ -d "$d" ] && dirs+=("$d"); done
    [ ${#dirs[@]} -gt 0 ] || return 0
    { find "${dirs[@]}" \( -path '*.wants/*' -o -path '*.requires/*' -o -path '*.upholds/*' \) \
          \( -type l -o -type f \) -print 2>/dev/null || true; } | LC_ALL=C sort
}

pkg_wants_snapshot() { _pkg_wants_list > "$1"; }

pkg_wants_restore() {
    local before=$1 link new=0
    while IFS= read -r link; do
        [ -n "$link" ] || continue
        echo "# a package enabled a service: removing $link -> $(readlink "$link")"
        rm -f "$link"
        new=1
    done < <(LC_ALL=C comm -13 "$before" <(_pkg_wants_list))
    [ "$new" = 0 ]
}

_pkg_apt() {   # apt-get with the options every call here wants
    DEBIAN_FRONTEND=noninteractive timeout "$PKG_INSTALL_TIMEOUT" apt-get -q \
        -o DPkg::Lock::Timeout="$PKG_APT_LOCK_WAIT" "$@"
}

_pkg_update_once() {
    [ -n "$_PKG_UPDATED" ] && return 0
    _pkg_apt update >&2 || return 1
    _PKG_UPDATED=1
}

# a policy-rc.d that refuses every start (exit 101), put in place only if there is none,
# removed by _pkg_policy_off
_PKG_POLICY=/usr/sbin/policy-rc.d
_PKG_POLICY_OURS=""
_pkg_policy_on() {
    [ -e "$_PKG_POLICY" ] && return 0
    printf '#!/bin/sh\n# domfs tests: no service starts while they install packages\nexit 101\n' \
        > "$_PKG_POLICY" && chmod 0755 "$_PKG_POLICY" && _PKG_POLICY_OURS=1
}
_pkg_policy_off() {
    [ -n "$_PKG_POLICY_OURS" ] && rm -f "$_PKG_POLICY"
    _PKG_POLICY_OURS=""
}

pkg_install() {
    local why=$1; shift
    local missing snap rc=0
    mapfile -t missing < <(pkg_missing "$@")
    [ ${#missing[@]} = 0 ] && return 0
    [ "$(id -u)" = 0 ] || { echo "# cannot install ${missing[*]}: not root" >&2; return 1; }
    command -v apt-get >/dev/null || { echo "# cannot install ${missing[*]}: no apt-get" >&2; return 1; }
    echo "# installing ${missing[*]}: $why" >&2
    snap=$(mktemp)
    pkg_wants_snapshot "$snap"
    _pkg_policy_on
    set -- install -y --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
    if ! _pkg_apt "$@" >&2; then
        _PKG_UPDATED=""
        { _pkg_update_once && _pkg_apt "$@" >&2; } || rc=1
    fi
    _pkg_policy_off
    pkg_wants_restore "$snap" >&2 || true
    rm -f "$snap"
    [ "$rc" = 0 ] && [ -z "$(pkg_missing "${missing[@]}")" ]
}

pkg_fetch() {
    local pkg=$1 dir=$2 deb dl
    [ -e "$dir/.extracted" ] && return 0
    command -v apt-get >/dev/null || return 1
    mkdir -p "$dir" || return 1
    dl=$(mktemp -d "$dir/.dl.XXXXXX") || return 1
    if ! (cd "$dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); then
        { [ "$(id -u)" = 0 ] && _pkg_update_once && (cd "$dl" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2); } ||
            { rm -rf "$dl"; return 1; }
    fi
    deb=$(ls "$dl"/*.deb 2>/dev/null | head -1)
    [ -n "$deb" ] && dpkg -x "$deb" "$dir" && basename "$deb" > "$dir/.extracted"
    local rc=$?
    rm -rf "$dl"
    return $rc
}
