#!/bin/bash
# A fleet of guests from a custom test-driver node file (test:///ABS/PATH/node.xml):
# running, paused, shut-off and transient guests, titles and descriptions, vcpus and
# memory (current vs maximum), and names that need escaping ('%', leading '.', '.', '..',
# space, tab, DEL, newline, unicode, names longer than a path component). Checked with
# ls, stat, cat, find and grep -r; the directory names are cross-checked against the
# domain XML's <name> with an independent implementation of the escaping rule.
. "$TESTS_DIR/lib/tap.sh"
. "$TESTS_DIR/lib/mount.sh"
. "$TESTS_DIR/lib/write1.sh"
[ -e /dev/fuse ] || skip_all "no /dev/fuse on this machine"
export LC_ALL=C.UTF-8

LONG_A=$(printf 'x%.0s' $(seq 300))a
LONG_B=$(printf 'x%.0s' $(seq 300))b
PCTS=$(printf '%%%.0s' $(seq 120))
NODE=$TEST_TMP/node.xml
dom() { # dom NAME [EXTRA-XML] [RUNSTATE]
    printf "  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n"
    printf "    <name>%s</name>\n    <memory unit='MiB'>64</memory>\n    <vcpu>1</vcpu>\n" "$1"
    printf "    <os><type>hvm</type></os>\n%s\n" "${2:-}"
    [ -n "${3:-}" ] && printf "    <test:runstate>%s</test:runstate>\n" "$3"
    printf "  </domain>\n"
}
{
    cat <<'EOF'
<node>
  <cpu><mhz>2000</mhz><model>i686</model><active>8</active><total>8</total><nodes>1</nodes><sockets>1</sockets><cores>8</cores><threads>1</threads></cpu>
  <memory>16777216</memory>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>web</name>
    <uuid>11111111-2222-3333-4444-000000000001</uuid>
    <title>Web front end</title>
    <description>serves
the site</description>
    <memory unit='MiB'>1024</memory>
    <currentMemory unit='MiB'>512</currentMemory>
    <vcpu current='2'>4</vcpu>
    <os><type>hvm</type></os>
  </domain>
  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>db</name>
    <uuid>11111111-2222-3333-4444-000000000002</uuid>
    <memory unit='KiB'>2097152</memory>
    <vcpu>3</vcpu>
    <os><type>hvm</type></os>
    <test:runstate>5</test:runstate>
  </domain>
EOF
    dom '100% cpu' '' 3                 # paused
    dom '.hidden' '' 5
    dom 'ünï☃ snow' ''                  # running
    dom 'tab&#9;del&#127;' '' 5
    dom 'nl&#10;x' '' 5
    dom '..' '' 5
    dom '.' '' 5
    dom "$LONG_A" '' 5
    dom "$LONG_B" '' 5
    dom "$PCTS" '' 5
    dom 'eph' '    <test:transient/>'   # transient, running
    echo '</node>'
} > "$NODE"

M=$TEST_TMP/mnt
domfs_mount "$M" -c "test://$NODE" || { tap_ok 1 "mount"; done_testing; exit 1; }

# ---- the root directory
n_guests=13
is "$(grep '^guests ' "$M/.domfs/connection")" "guests $n_guests" ".domfs/connection counts $n_guests guests"
is "$(grep '^uri ' "$M/.domfs/connection")" "uri test://$NODE" ".domfs/connection names the node file URI"
is "$(ls -A "$M" | wc -l)" "$((n_guests + 1))" "ls -A: one entry per guest plus .domfs"
is "$(ls "$M" | wc -l)" "$n_guests" "plain ls: every guest, .domfs hidden"
is "$(ls "$M" | grep -E '^%2E' | tr '\n' '|')" "%2E|%2E.|%2Ehidden|" \
   "'.', '..' and '.hidden' are escaped (%2E), so plain ls shows them"
is "$(ls -A "$M" | grep '^\.')" ".domfs" "the only dot entry is .domfs"
for d in 'web' 'db' '100%25 cpu' '%2Ehidden' 'ünï☃ snow' 'tab%09del%7F' 'nl%0Ax' '%2E.' '%2E' 'eph'; do
    [ -d "$M/$d" ]; tap_ok $? "guest directory '$d' exists"
done
for d in '.hidden' '100% cpu' 'nl' 'tab	del'; do
    [ ! -e "$M/$d" ]; tap_ok $? "the raw name '$d' is not an entry"
done

# ---- an independent escaping rule, checked against every guest's <name>
cat > "$TEST_TMP/names.py" <<'EOF'
import os, sys, xml.etree.ElementTree as ET
def esc(raw):
    b = raw.encode()
    if not b:
        return "%00"
    out = bytearray()
    for i, c in enumerate(b):
        if c in (0x2f, 0x25, 0x7f) or c < 0x20 or (i == 0 and c == 0x2e):
            out += b"%%%02X" % c
        else:
            out.append(c)
    return out.decode()
root, bad, seen = sys.argv[1], 0, 0
for d in sorted(os.listdir(root)):
    if d == ".domfs":
        continue
    seen += 1
    name = ET.parse(os.path.join(root, d, "xml")).getroot().findtext("name")
    want = esc(name)
    if len(want.encode()) <= 255:
        good = d == want
    else:  # cut to one path component, kept unique (suffix), never inside a %XX
        good = len(d.encode()) <= 255 and len(os.path.commonprefix([d, want])) >= 200
    if not good:
        bad += 1
        print("# dir %r for name %r, expected %r" % (d, name, want))
print("%d %d" % (seen, bad))
EOF
is "$(py3 "$TEST_TMP/names.py" "$M" | tail -1)" "$n_guests 0" "every directory name is the escaped <name> of its guest's XML"
py3 "$TEST_TMP/names.py" "$M" | grep '^#'
long=$(ls "$M" | grep '^xxxx')
is "$(printf '%s\n' "$long" | wc -l)" "2" "two long names (differing after byte 300): two directories"
is "$(printf '%s\n' "$long" | awk '{ print length($0) <= 255 }' | sort -u)" "1" "long names are cut to at most 255 bytes"
pct=$(ls "$M" | grep '^%25')
like "$pct" '^(%25)+' "120 '%': escaped to %25... and cut"
[ "${#pct}" -le 255 ]; tap_ok $? "the '%' name's directory has at most 255 bytes (${#pct})"
while read -r d; do
    is "$(cat "$M/$d/state")" "shutoff" "long-named guest ${d:0:8}...${d: -10} answers"
done <<< "$long
$pct"

# ---- values of each kind of guest
check() { # check DIR FILE WANT
    is "$(cat "$M/$1/$2")" "$3" "$1: $2 = '$3'"
}
check web state running;     check web id 1;        check web vcpus 2
check web memory 524288;     check web persistent 1; check web autostart 0
check web uuid 11111111-2222-3333-4444-000000000001
check web title "Web front end"
is "$(cat "$M/web/description")" $'serves\nthe site' "web: multi-line description"
is "$(stat -c %s "$M/web/description")" "16" "web: description size (15 bytes + newline)"
check db state shutoff;      check db id "";        check db vcpus 3
check db memory 2097152;     check db persistent 1; check db title ""
check db uuid 11111111-2222-3333-4444-000000000002
check '100%25 cpu' state paused;  check '100%25 cpu' id 2
check 'ünï☃ snow' state running;  check 'ünï☃ snow' id 3
check eph state running;     check eph id 4;        check eph persistent 0
check '%2Ehidden' state shutoff;  check '%2E.' state shutoff;  check '%2E' state shutoff
check 'nl%0Ax' state shutoff;     check 'tab%09del%7F' state shutoff
check 'nl%0Ax' memory 65536;      check 'nl%0Ax' vcpus 1

# ---- regular files, sizes, shell tools
bad=0; nf=0
while IFS= read -r -d '' f; do
    nf=$((nf + 1))
    [ "$(stat -c %s "$f")" = "$(cat "$f" | wc -c)" ] || { bad=$((bad + 1)); echo "# size mismatch: $f"; }
done < <(find "$M" -mindepth 2 -maxdepth 2 -type f ! -path "$M/.domfs/*" -print0)
# the spec's files: state reason uuid id vcpus memory autostart persistent title
# description xml error console.log migrate cpu.stat vcpu.stat memory.stat io.stat net.stat
is "$nf" "$((n_guests * 19))" "find -type f: the spec's 19 files in each of the $n_guests guest directories"
is "$bad" "0" "stat size = bytes read, for every guest file"
is "$(find "$M" -mindepth 1 -maxdepth 1 -type d | wc -l)" "$((n_guests + 1))" "find -type d: every guest directory and .domfs"
is "$(stat -c %F "$M/100%25 cpu")" "directory" "stat: a guest is a directory"
is "$(stat -c %F "$M/100%25 cpu/state")" "regular file" "stat: state is a regular file"
is "$(grep -rlx paused "$M" --exclude-dir=.domfs)" "$M/100%25 cpu/state" "grep -r finds the one paused guest"
is "$(grep -rlx running "$M" --exclude-dir=.domfs --include=state | wc -l)" "3" "grep -r: three running guests"
out=$(timeout 10 grep -rs 'Web front end' "$M"); rc=$?
[ "$rc" != 124 ]; tap_ok $? "grep -r on the whole mount (with .domfs/events) ends"
is "$(grep -v '/\.domfs/' <<< "$out" | sort)" "$M/web/title:Web front end
$M/web/xml:  <title>Web front end</title>" "grep -r on the whole mount finds the title (title and xml)"
like "$out" "/\.domfs/metrics\.prom:domfs_guest_info\{.*name=\"web\".*title=\"Web front end\"\} 1" \
     "and in metrics.prom (domfs_guest_info's title label)"
is "$(cd "$M/%2Ehidden" && cat state)" "shutoff" "cd into an escaped directory and read"
cp -r "$M/web" "$TEST_TMP/web.copy" 2>/dev/null
is "$(cat "$TEST_TMP/web.copy/title" 2>&1)" "Web front end" "cp -r copies a guest directory"

# ---- writes through escaped names, metadata round trips
ok "start '.hidden' through %2Ehidden" bash -c "echo start > '$M/%2Ehidden/state'"
check '%2Ehidden' state running
like "$(cat "$M/%2Ehidden/id")" '^[0-9]+$' "'.hidden' has an id now"
ok "resume '100% cpu' through 100%25 cpu" bash -c "echo resume > '$M/100%25 cpu/state'"
check '100%25 cpu' state running
ok "unicode title" write1 "$M/ünï☃ snow/title" <<< "Ünïcødé ☃ title"
check 'ünï☃ snow' title "Ünïcødé ☃ title"
title="<b>&amp; \"quoted\" 'single' </b>"
ok "title with XML special characters" write1 "$M/db/title" <<< "$title"
check db title "$title"
like "$(cat "$M/db/xml")" "<title>&lt;b&gt;&amp;amp; .*</title>" "xml holds it escaped"
ok "multi-line description" write1 "$M/db/description" < <(printf 'line one\n\n  line three\n')
is "$(cat "$M/db/description"; echo .)" $'line one\n\n  line three\n.' "description round trip (blank line, indentation kept)"
ok "clear the title with an empty line" bash -c "echo > '$M/web/title'"
check web title ""
is "$(stat -c %s "$M/web/title")" "0" "empty title: an empty file"
ok "autostart 1 on a shut-off guest" bash -c "echo 1 > '$M/db/autostart'"
check db autostart 1
ok "autostart 0 again" bash -c "echo 0 > '$M/db/autostart'"
check db autostart 0
# a write refreshes the guest from libvirt: values must stay what the bulk load said
check db vcpus 3;   check db memory 2097152
check web vcpus 2;  check web memory 524288
ok "title on the transient guest" bash -c "echo ephemeral > '$M/eph/title'"
check eph title ephemeral

# ---- guests come and go
ok "destroy the transient guest" bash -c "echo destroy > '$M/eph/state'"
wait_for 5 test ! -e "$M/eph"; tap_ok $? "it is gone: no directory"
[ -z "$(ls "$M" | grep -x eph)" ]; tap_ok $? "ls no longer lists it"
fails_with "No such file or directory" "cat of its state: ENOENT" cat "$M/eph/state"
is "$(grep '^guests ' "$M/.domfs/connection")" "guests $((n_guests - 1))" ".domfs/connection counts one less"

# ---- libvirt rejects a '/' in a name: domfs says why and does not mount
printf "<node>\n%s\n</node>\n" "$(dom 'a/b' '')" > "$TEST_TMP/bad.xml"
mkdir -p "$TEST_TMP/bad"
out=$(timeout 20 "$DOMFS_BIN" -c "test://$TEST_TMP/bad.xml" "$TEST_TMP/bad" 2>&1); rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ]; tap_ok $? "domfs exits non-zero on a node file libvirt rejects (rc=$rc)"
like "$out" "cannot open test://$TEST_TMP/bad.xml" "and names the URI it could not open"
mountpoint -q "$TEST_TMP/bad"; tap_ok $((!$?)) "nothing mounted"

kill -0 "$DOMFS_PID"; tap_ok $? "daemon alive"
done_testing
