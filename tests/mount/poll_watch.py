#!/usr/bin/env python3
"""poll_watch.py - the sysfs idiom against domfs, as a watcher would write it.

    poll_watch.py [--select|--epoll] [--twice] TIMEOUT PATH...

Opens every PATH, reads each once, prints "ready", then waits (poll() with POLLPRI|POLLERR,
select() with the exceptional set, or one epoll set, level-triggered, every PATH
registered once for EPOLLPRI|EPOLLERR) up to TIMEOUT seconds for one of them to report a
change. On a wake-up it seeks to 0, reads the new content and prints
"woke INDEX MS CONTENT" (CONTENT's newlines as \\n); else "timeout". A change must not be
reported before it happened: a second wait right after a wake-up must block until the
next change (printed the same way), for --twice.
"""
import os
import select
import sys
import time


def main():
    args = sys.argv[1:]
    use_select = use_epoll = twice = False
    while args and args[0].startswith("--"):
        opt = args.pop(0)
        use_select |= opt == "--select"
        use_epoll |= opt == "--epoll"
        twice |= opt == "--twice"
    timeout = float(args[0])
    fds = [os.open(p, os.O_RDONLY) for p in args[1:]]
    for fd in fds:
        os.read(fd, 1 << 20)
    ep = None
    if use_epoll:
        ep = select.epoll()
        for fd in fds:
            ep.register(fd, select.EPOLLPRI | select.EPOLLERR)
    print("ready", flush=True)
    for _ in range(2 if twice else 1):
        t0 = time.monotonic()
        if ep:
            woke = [fds.index(fd) for fd, ev in ep.poll(timeout)
                    if ev & (select.EPOLLPRI | select.EPOLLERR)]
        elif use_select:
            _, _, ex = select.select([], [], fds, timeout)
            woke = [fds.index(fd) for fd in ex]
        else:
            p = select.poll()
            for fd in fds:
                p.register(fd, select.POLLPRI | select.POLLERR)
            woke = [fds.index(fd) for fd, ev in p.poll(timeout * 1000)
                    if ev & (select.POLLPRI | select.POLLERR)]
        if not woke:
            print("timeout", flush=True)
            return 0
        ms = (time.monotonic() - t0) * 1000
        i = woke[0]
        os.lseek(fds[i], 0, os.SEEK_SET)
        data = os.read(fds[i], 1 << 20).decode(errors="replace")
        print("woke %d %.1f %s" % (i, ms, data.replace("\n", "\\n")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
