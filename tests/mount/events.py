#!/usr/bin/python3
"""events.py - drives domfs's .domfs/events for test_events.sh (system python3 only).

Every read is bounded (SIGALRM): a read that should return but blocks prints TIMEOUT.
Commands are shell strings run with /bin/sh, after the reader has opened the stream.

  fmt EVENTS CMD FILE...        open, run CMD, read one line, then at once read each FILE;
                                prints the line, then each FILE's content (one line each)
  order EVENTS N CMD_A CMD_B FILE...
                                N times: run CMD_A, read a line, read the FILEs at once;
                                run CMD_B, same; prints "line|file1|file2..." per event
  nonblock EVENTS               open O_NONBLOCK, read: prints EAGAIN or what was read
  poll EVENTS DELAY CMD         poll(0) first ("idle" or "ready"), then CMD runs in a thread
                                after DELAY s while poll() waits (5 s); prints "idle",
                                "POLLIN <seconds after CMD ended>" and the line
  select EVENTS DELAY CMD       the same with select()
  two EVENTS CMD                two readers opened, CMD, each reads a line: prints both
  late EVENTS CMD1 CMD2         reader 1 opens, CMD1, reader 1 reads; reader 2 opens, CMD2,
                                reader 2 reads, reader 1 reads: prints the three lines
  block EVENTS SECS             a read with nothing to read: prints "blocked" if it is still
                                waiting after SECS s
  repoll EVENTS CMD1 CMD2       poll() woken by CMD1, line read, poll(0) again ("idle"),
                                then woken again by CMD2: prints "woken", the line, "idle",
                                "woken", the line (or "not woken")
  small EVENTS CMD              CMD, then reads of 7 bytes until a newline: prints the
                                number of reads and the joined line
"""
import os
import select
import signal
import subprocess
import sys
import threading
import time

bufs = {}


class Timeout(Exception):
    pass


def on_alarm(sig, frame):
    raise Timeout()


signal.signal(signal.SIGALRM, on_alarm)


def read_line(fd, timeout=5.0):
    buf = bufs.setdefault(fd, b"")
    while b"\n" not in buf:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            data = os.read(fd, 65536)
        except Timeout:
            bufs[fd] = buf
            return "TIMEOUT"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if not data:
            bufs[fd] = buf
            return "EOF"
        buf += data
    line, _, rest = buf.partition(b"\n")
    bufs[fd] = rest
    return line.decode(errors="replace")


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace").rstrip("\n").replace("\n", "\\n")
    except OSError as e:
        return "ERR:" + (os.strerror(e.errno) if e.errno else str(e))


def sh(cmd):
    subprocess.run(["/bin/sh", "-c", cmd], stdout=subprocess.DEVNULL, timeout=30)


def main():
    op, ev = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    if op == "fmt":
        fd = os.open(ev, os.O_RDONLY)
        sh(args[0])
        line = read_line(fd)
        vals = [read_file(p) for p in args[1:]]
        print(line)
        for v in vals:
            print(v)
    elif op == "order":
        n, a, b, files = int(args[0]), args[1], args[2], args[3:]
        fd = os.open(ev, os.O_RDONLY)
        for _ in range(n):
            for cmd in (a, b):
                sh(cmd)
                line = read_line(fd)
                print("|".join([line] + [read_file(p) for p in files]))
    elif op == "nonblock":
        fd = os.open(ev, os.O_RDONLY | os.O_NONBLOCK)
        try:
            print("read: %r" % os.read(fd, 4096))
        except BlockingIOError:
            print("EAGAIN")
    elif op in ("poll", "select"):
        delay, cmd = float(args[0]), args[1]
        fd = os.open(ev, os.O_RDONLY)
        if op == "poll":
            p = select.poll()
            p.register(fd, select.POLLIN)
            wait = lambda t: bool(p.poll(t * 1000))
        else:
            wait = lambda t: bool(select.select([fd], [], [], t)[0])
        print("ready" if wait(0) else "idle")
        done = {}

        def later():
            time.sleep(delay)
            sh(cmd)
            done["t"] = time.monotonic()

        th = threading.Thread(target=later)
        th.start()
        got = wait(5.0)
        t = time.monotonic()
        th.join()
        if got:
            print("POLLIN %.3f" % max(0.0, t - done.get("t", t)))
            print(read_line(fd))
        else:
            print("no POLLIN within 5 s")
    elif op == "two":
        fd1 = os.open(ev, os.O_RDONLY)
        fd2 = os.open(ev, os.O_RDONLY)
        sh(args[0])
        print(read_line(fd1))
        print(read_line(fd2))
    elif op == "late":
        fd1 = os.open(ev, os.O_RDONLY)
        sh(args[0])
        print(read_line(fd1))
        fd2 = os.open(ev, os.O_RDONLY)
        sh(args[1])
        print(read_line(fd2))
        print(read_line(fd1))
    elif op == "block":
        fd = os.open(ev, os.O_RDONLY)
        line = read_line(fd, float(args[0]))
        print("blocked" if line == "TIMEOUT" else "read: " + line)
    elif op == "repoll":
        fd = os.open(ev, os.O_RDONLY)
        p = select.poll()
        p.register(fd, select.POLLIN)
        for cmd in args[:2]:
            th = threading.Thread(target=lambda c=cmd: (time.sleep(0.2), sh(c)))
            th.start()
            print("woken" if p.poll(5000) else "not woken")
            th.join()
            print(read_line(fd))
            if cmd is args[0]:
                print("ready" if p.poll(0) else "idle")
    elif op == "small":
        fd = os.open(ev, os.O_RDONLY)
        sh(args[0])
        data, n = b"", 0
        signal.setitimer(signal.ITIMER_REAL, 5)
        try:
            while not data.endswith(b"\n"):
                data += os.read(fd, 7)
                n += 1
        except Timeout:
            data += b"TIMEOUT"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        print(n)
        print(data.decode(errors="replace").rstrip("\n"))
    else:
        sys.exit("unknown op " + op)


main()
