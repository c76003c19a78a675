# tap.sh - TAP output for the shell tests: ok/is/like/fails_with, skip_all, done_testing.
# Every check is a real assertion; a test script exits non-zero when any failed.
TAP_N=0
TAP_FAILED=0

tap_ok() {   # tap_ok COND_RC DESCRIPTION [DIAG]
    TAP_N=$((TAP_N + 1))
    if [ "$1" = 0 ]; then
        echo "ok $TAP_N - $2"
    else
        echo "not ok $TAP_N - $2"
        [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/# /'
        TAP_FAILED=$((TAP_FAILED + 1))
    fi
}

ok() {       # ok DESCRIPTION COMMAND...
    local d=$1; shift
    local out rc
    out=$("$@" 2>&1); rc=$?
    tap_ok "$rc" "$d" "command failed ($rc): $* :: $out"
}

is() {       # is GOT EXPECTED DESCRIPTION
    if [ "$1" == "$2" ]; then tap_ok 0 "$3"
    else tap_ok 1 "$3" "got:      '$1'
expected: '$2'"; fi
}

like() {     # like GOT REGEX DESCRIPTION
    if printf '%s' "$1" | grep -Eq -- "$2"; then tap_ok 0 "$3"
    else tap_ok 1 "$3" "got:      '$1'
expected to match: '$2'"; fi
}

# fails_with ERRNO_TEXT DESCRIPTION COMMAND...: the command must fail and its message
# must contain ERRNO_TEXT (what the shell prints for the errno, e.g. "Invalid argument").
fails_with() {
    local want=$1 d=$2; shift 2
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" != 0 ] && printf '%s' "$out" | grep -qF -- "$want"; then tap_ok 0 "$d"
    else tap_ok 1 "$d" "rc=$rc out='$out' (wanted failure with '$want')"; fi
}

# skip_all WHY: the whole test is skipped: "1..0 # SKIP WHY" and exit status 77, the
# skip of meson's exit-code protocol. Under its TAP protocol a non-zero status is an ERROR
# whatever the plan says, so TAP tests are registered with TAP_SKIP_STATUS=0 (meson then
# reports the "1..0 # SKIP" plan as SKIP).
skip_all() { echo "1..0 # SKIP $*"; echo "SKIP: $*" >&2; exit "${TAP_SKIP_STATUS:-77}"; }

done_testing() {
    echo "1..$TAP_N"
    [ "$TAP_FAILED" = 0 ]
}

# wait_for SECONDS COMMAND...: poll until the command succeeds
wait_for() {
    local t=$1; shift
    local end=$(( $(date +%s%N) / 1000000 + t * 1000 ))
    while ! "$@" >/dev/null 2>&1; do
        [ $(( $(date +%s%N) / 1000000 )) -ge $end ] && return 1
        sleep 0.05
    done
}
