#!/bin/bash
# domfs(1) and `domfs --help` document the same options: both are parsed and compared with
# the one list below (the options domfs has), so an option added to one and not the other,
# or to neither, fails here with its name. Also: the page is well-formed roff (groff, when
# there), names the version `domfs --version` prints, and `meson install` puts the program,
# the page and the systemd unit in place (into a scratch DESTDIR).
. "$TESTS_DIR/lib/tap.sh"
: "${DOMFS_BIN:?DOMFS_BIN not set (run through meson test)}"
MAN=${MANPAGE:-$TESTS_DIR/../doc/domfs.1}
[ -r "$MAN" ] || skip_all "no manual page at $MAN"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/domfs-man.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

# ---- THE list: every command-line option and every -o option of domfs
EXPECTED_OPTIONS="-c --log-root -f -d -o --help --version"
EXPECTED_MOUNT_OPTIONS="console_max migrate_uri log_dirs log_root media_dirs uid gid umask ro
allow_other nonempty timeout keepalive stats_interval agent_interval"

sorted() { tr ' \n' '\n\n' | grep -v '^$' | LC_ALL=C sort -u | tr '\n' ' ' | sed 's/ $//'; }

# roff_text: one .TP item head of the page as plain text (fonts and escapes removed)
roff_text() {
    sed -E -e 's/^\.(B|I|BI|IB|BR|RB|IR|RI) //' -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/"//g'
}
# man_items SECTION: the first word of every .TP item of that section
man_items() {
    awk -v sec="$1" '
        /^\.SH / { insec = ($0 == ".SH " sec); next }
        insec && /^\.TP/ { getline; print }' "$MAN" | roff_text | awk '{ print $1 }'
}

# help_options: dash options of --help (its usage lines, and the first word of its option
# lines); help_mount_options: the names in its "-o name=...,name=..." lines
HELP=$("$DOMFS_BIN" --help 2>&1); rc=$?
is "$rc" 0 "domfs --help exits 0"
help_options() {
    { sed -n '/^usage:/,/^$/p' <<<"$HELP" | grep -oE '(^|[][ |])--?[a-zA-Z][a-zA-Z-]*' | tr -d '[] |'
      grep -E '^ {1,4}-' <<<"$HELP" | awk '{ print $1 }'; } | sed -E 's/[=,].*//'
}
help_mount_options() {
    grep -E '^ +-o [a-z]' <<<"$HELP" | awk '{ print $2 }' | tr ',' '\n' |
        grep -oE '^[a-z_]+(=|$)' | tr -d '='
}

want=$(sorted <<<"$EXPECTED_OPTIONS")
want_o=$(sorted <<<"$EXPECTED_MOUNT_OPTIONS")
man_o=$(man_items "MOUNT OPTIONS" | sed 's/=.*//' | sorted)
man_c=$(man_items "OPTIONS" | sorted)
help_c=$(help_options | sorted)
help_o=$(help_mount_options | sorted)

is "$man_c" "$want" "the page's OPTIONS are the expected ones"
is "$man_o" "$want_o" "the page's MOUNT OPTIONS are the expected ones"
is "$help_c" "$want" "--help lists the expected options"
is "$help_o" "$want_o" "--help lists the expected -o options"
# the same comparison said the other way round, naming what is missing on each side
missing() { comm -23 <(tr ' ' '\n' <<<"$1" | LC_ALL=C sort) <(tr ' ' '\n' <<<"$2" | LC_ALL=C sort) | tr '\n' ' '; }
is "$(missing "$help_c $help_o" "$man_c $man_o")" "" "every option of --help is in the page"
is "$(missing "$man_c $man_o" "$help_c $help_o")" "" "every option of the page is in --help"

# ---- the page itself
ver=$("$DOMFS_BIN" --version | awk '{ print $2; exit }')
like "$(grep '^\.TH ' "$MAN")" "\"domfs $ver\"" "the page is for the version domfs prints ($ver)"
for s in NAME SYNOPSIS DESCRIPTION OPTIONS "MOUNT OPTIONS" "THE TREE" ERRORS "MOUNT AND FSTAB" \
         "UPGRADE AND RELOAD" EXAMPLES FILES "SEE ALSO"; do
    grep -qx "\.SH $s" "$MAN"; tap_ok $? "section $s"
done
if command -v groff >/dev/null; then
    out=$(groff -man -ww -z "$MAN" 2>&1)
    is "$out" "" "groff -man -ww: no warning"
else
    echo "ok $((TAP_N += 1)) - groff -man -ww # SKIP groff not installed"
fi

# ---- meson install puts program, page and unit in place
if [ -n "${MESON_BUILD_ROOT:-}" ] && command -v meson >/dev/null; then
    out=$(meson install -C "$MESON_BUILD_ROOT" --no-rebuild --destdir "$TMP/dest" 2>&1); rc=$?
    tap_ok "$rc" "meson install --destdir" "$out"
    for f in bin/domfs share/man/man1/domfs.1 lib/systemd/system/domfs.service; do
        n=$(find "$TMP/dest" -path "*/$f" -type f | wc -l)
        is "$n" 1 "meson install puts $f in place"
    done
    cmp -s "$(find "$TMP/dest" -path '*/man1/domfs.1' | head -1)" "$MAN"
    tap_ok $? "the installed page is this page"
else
    echo "ok $((TAP_N += 1)) - meson install # SKIP no MESON_BUILD_ROOT (run through meson test)"
fi
done_testing
