# write1.sh - exact writes for the mount tests, where shell redirections are too vague
# (bash's echo writes line by line, tools split large writes in chunks).
#
#   write1 FILE [MODE] < DATA   open FILE and write all of stdin in ONE write(2).
#       MODE: trunc (default: O_WRONLY|O_TRUNC, like `>`), keep (O_WRONLY), append
#       (O_WRONLY|O_APPEND, like `>>`), nonblock, or a number N (pwrite at offset N).
#       On failure prints "write error: <strerror> (<ERRNO>)" and returns 1; a short write
#       returns 2. Bounded: after 20 s it is killed (status 124), so a hang fails the test.
#   py3                      the system python3 (readable by every user, unlike a pyenv shim)
py3() { /usr/bin/python3 "$@"; }

_WRITE1_PY='
import errno, os, sys
path = sys.argv[1]
mode = sys.argv[2] if len(sys.argv) > 2 else "trunc"
data = sys.stdin.buffer.read()
flags = os.O_WRONLY
if mode == "trunc": flags |= os.O_TRUNC
elif mode == "append": flags |= os.O_APPEND
elif mode == "nonblock": flags |= os.O_NONBLOCK
try:
    fd = os.open(path, flags)
    try:
        n = os.pwrite(fd, data, int(mode)) if mode.isdigit() else os.write(fd, data)
    finally:
        os.close(fd)
except OSError as e:
    print("write error: %s (%s)" % (e.strerror, errno.errorcode.get(e.errno, "?")), file=sys.stderr)
    sys.exit(1)
if n != len(data):
    print("short write: %d of %d bytes" % (n, len(data)), file=sys.stderr)
    sys.exit(2)
'
write1() { timeout 20 /usr/bin/python3 -c "$_WRITE1_PY" "$@"; }
