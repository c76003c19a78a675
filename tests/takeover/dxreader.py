#!/usr/bin/env python3
"""dxreader.py - one reader loop over a domfs tree for the takeover tests (the domfs
counterpart of tkreader.c): lists every directory, stats and reads every file (but the
endless .domfs/events), reads a file through a descriptor opened at the start and kept
(its handle must survive every takeover), lists and stats relative to a directory
descriptor kept likewise (its inode must too), and checks that a guest directory keeps
its inode number. Each system call is timed: the report gives the longest stall and the
calls over STALL_MS, so the shell can attribute stalls to the kills it made.

    dxreader.py ROOT GUEST UUID STOPFILE REPORT       (loops until STOPFILE exists)

REPORT: "iterations N", "calls N", "errors N", "enotconn N", "eio N", "max_stall_ms N",
then "stall END_MS DURATION_MS CALL PATH" and "error END_MS CALL PATH WHAT" lines
(END_MS: CLOCK_REALTIME milliseconds). Exit 0 when there was no error."""
import errno
import os
import sys
import time

STALL_MS = 5
MAX_LINES = 10000
SKIP = {".domfs/events"}          # endless: a read would block


class Reader:
    def __init__(self, root):
        self.root = root
        self.iterations = self.calls = self.errors = self.enotconn = self.eio = 0
        self.max_stall = 0.0
        self.lines = []

    def note(self, line):
        if len(self.lines) < MAX_LINES:
            self.lines.append(line)

    def call(self, what, path, fn, *args, **kw):
        """Run FN(*ARGS, **KW) timed; None on an error (counted)."""
        t0 = time.monotonic()
        try:
            return fn(*args, **kw)
        except OSError as e:
            self.fail(what, path, errno.errorcode.get(e.errno, str(e.errno)))
            if e.errno == errno.ENOTCONN:
                self.enotconn += 1
            elif e.errno == errno.EIO:
                self.eio += 1
            return None
        finally:
            ms = (time.monotonic() - t0) * 1000
            self.calls += 1
            self.max_stall = max(self.max_stall, ms)
            if ms > STALL_MS:
                self.note("stall %d %.0f %s %s" % (time.time() * 1000, ms, what, path))

    def fail(self, what, path, why):
        self.errors += 1
        self.note("error %d %s %s %s" % (time.time() * 1000, what, path, why))

    def read_file(self, path):
        fd = self.call("open", path, os.open, path, os.O_RDONLY)
        if fd is None:
            return None
        try:
            data = b""
            while True:
                chunk = self.call("read", path, os.read, fd, 65536)
                if not chunk:
                    return data if chunk is not None else None
                data += chunk
        finally:
            os.close(fd)

    def walk(self, rel):
        path = os.path.join(self.root, rel)
        names = self.call("listdir", path, os.listdir, path)
        for name in names or []:
            sub = os.path.join(rel, name) if rel else name
            st = self.call("stat", sub, os.lstat, os.path.join(self.root, sub))
            if st is None or sub in SKIP:
                continue
            if os.path.isdir(os.path.join(self.root, sub)):
                self.walk(sub)
            else:
                self.read_file(os.path.join(self.root, sub))


def main():
    root, guest, uuid, stop, report = sys.argv[1:6]
    r = Reader(root)
    gdir = os.path.join(root, guest)
    ino = os.stat(gdir).st_ino
    kept_fd = os.open(os.path.join(gdir, "uuid"), os.O_RDONLY)
    dir_fd = os.open(gdir, os.O_RDONLY | os.O_DIRECTORY)
    want = uuid.encode() + b"\n"
    while not os.path.exists(stop):
        r.iterations += 1
        r.walk("")
        got = r.call("pread", "kept uuid", os.pread, kept_fd, 4096, 0)
        if got is not None and got != want:
            r.fail("pread", "kept uuid", "content %r" % got)
        names = r.call("listdir", "kept dir", os.listdir, dir_fd)
        if names is not None and not {"state", "uuid", "console.log", "devices"} <= set(names):
            r.fail("listdir", "kept dir", "entries %s" % sorted(names))
        st = r.call("stat", "state at kept dir", os.stat, "state", dir_fd=dir_fd)
        st = r.call("stat", guest, os.stat, gdir)
        if st is not None and st.st_ino != ino:
            r.fail("stat", guest, "inode %d, was %d" % (st.st_ino, ino))
        text = r.read_file(os.path.join(gdir, "uuid"))
        if text is not None and text != want:
            r.fail("read", "uuid", "content %r" % text)
    with open(report, "w") as f:
        f.write("iterations %d\ncalls %d\nerrors %d\nenotconn %d\neio %d\nmax_stall_ms %.0f\n"
                % (r.iterations, r.calls, r.errors, r.enotconn, r.eio, r.max_stall))
        f.write("".join(line + "\n" for line in r.lines))
    return 1 if r.errors else 0


if __name__ == "__main__":
    sys.exit(main())
