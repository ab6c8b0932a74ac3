#!/usr/bin/env python3
"""Socket churn on loopback, from processes with hostile names.

A load that makes a machine "busy" the way real ones are, for checking that
the test suite is hermetic and that portscope survives what other processes
do: several worker processes each keep opening and closing sockets on
127.0.0.x (TCP connect/accept/close, UDP bind/close), while holding unix
sockets with hostile paths and abstract names with embedded NULs. Every
worker's name (prctl PR_SET_NAME, what /proc/PID/comm shows) and command line
carry control characters, separators and invalid UTF-8.

    bench/churn.py                    # ~3000 sockets/s until killed (Ctrl-C or SIGTERM)
    bench/churn.py --seconds 30       # for 30 s, then report and exit
    bench/churn.py --rate 6000 --workers 12 --hold 64

Bounds: only 127.0.0.2-127.0.0.9 are used; each worker holds at most a few
sockets at a time; TCP connections are closed with a reset (SO_LINGER 0) so
no TIME_WAIT pile-up grows; workers die with the parent (PR_SET_PDEATHSIG).
The achieved rate (sockets created per second, every worker summed) is
printed every --report seconds and at the end, on stderr.
"""

import argparse
import ctypes
import os
import signal
import socket
import struct
import sys
import tempfile
import time

PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1

# At most 15 bytes each (the kernel's comm limit).
HOSTILE_NAMES = [
    b"\x1b[2Jchurn",
    b"bel\x07churn",
    b"cr\rchurn\r",
    b"nl\nchurn\n",
    b"tab\tchurn;x:y",
    b"\xff\xfebad-utf8",
    b"churn\x1b]0;t\x07",
    b"a;b:c\x1b[31m",
]

# Extra argv words: /proc/PID/cmdline of each worker carries these.
HOSTILE_ARGS = [
    b"\x1b[2J\x1b[H",
    b"bell\x07\r\n",
    b"semi;colon:colon\tTAB",
    b"\xff\xfe\xc3(invalid",
]


def libc():
    return ctypes.CDLL(None, use_errno=True)


def set_name(name: bytes) -> None:
    lib = libc()
    buf = ctypes.create_string_buffer(name[:15])
    lib.prctl(PR_SET_NAME, buf, 0, 0, 0)


def die_with_parent() -> None:
    libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def hold_unix_sockets(tmpdir: bytes, index: int, pairs: int):
    """Unix sockets with hostile paths and abstract names, held open."""
    held = []
    paths = [
        b"\x1b[2J;evil\n:path\xff-%d" % index,
        b"tab\there\r\x07-%d" % index,
    ]
    for p in paths:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        full = os.path.join(tmpdir, p)
        try:
            s.bind(full)
            s.listen(4)
            held.append(s)
        except OSError:
            s.close()
    # Abstract names: a leading NUL, then embedded NULs and escapes.
    for name in (
        b"\0churn\0embedded\0%d" % index,
        b"\0\x1b[31mred\xff\n%d" % index,
    ):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.bind(name)
            held.append(s)
        except OSError:
            s.close()
    # Connected pairs, so peers exist too, and so each worker holds more
    # sockets than a test process does (a "busiest process" never is the test).
    for _ in range(pairs):
        a, b = socket.socketpair()
        held += [a, b]
    return held


def worker(index: int, rate: float, tmpdir: bytes, counter_fd: int, pairs: int) -> None:
    die_with_parent()
    set_name(HOSTILE_NAMES[index % len(HOSTILE_NAMES)])
    held = hold_unix_sockets(tmpdir, index, pairs)
    host = "127.0.0.%d" % (2 + index % 8)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, 0))
    listener.listen(64)
    addr = listener.getsockname()
    linger = struct.pack("ii", 1, 0)

    made = 0
    reported = 0
    batch = 30
    interval = batch / rate if rate > 0 else 0.0
    next_at = time.monotonic()
    last_report = next_at
    while True:
        for _ in range(batch // 3):
            try:
                c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                c.connect(addr)
                s, _ = listener.accept()
                for x in (c, s):
                    x.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                    x.close()
                made += 2
            except OSError:
                pass
            try:
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.bind((host, 0))
                u.close()
                made += 1
            except OSError:
                pass
        now = time.monotonic()
        if now - last_report >= 0.5:
            os.write(counter_fd, struct.pack("Q", made - reported))
            reported = made
            last_report = now
        next_at += interval
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0:
            # Behind by more than a second (a loaded machine): don't burst.
            next_at = time.monotonic()
    del held


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=0, help="stop after N seconds (default: until killed)")
    ap.add_argument("--rate", type=float, default=3000, help="sockets per second, all workers together (default 3000)")
    ap.add_argument("--workers", type=int, default=4, help="worker processes (default 4, at most 16)")
    ap.add_argument("--hold", type=int, default=16, help="socket pairs each worker holds open (default 16, at most 256)")
    ap.add_argument("--report", type=float, default=5, help="seconds between rate reports (default 5)")
    ap.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    ap.add_argument("hostile", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker is not None:
        worker(args.worker, args.rate, os.fsencode(args.dir), args.fd, max(0, min(args.hold, 256)))
        return 0

    workers = max(1, min(args.workers, 16))
    per_worker = args.rate / workers
    tmpdir = tempfile.mkdtemp(prefix="portscope-churn-")
    rfd, wfd = os.pipe()
    os.set_inheritable(wfd, True)
    children = []
    for i in range(workers):
        argv = [
            os.fsencode(sys.executable),
            os.fsencode(os.path.abspath(__file__)),
            b"--worker", b"%d" % i,
            b"--rate", b"%f" % per_worker,
            b"--dir", os.fsencode(tmpdir),
            b"--fd", b"%d" % wfd,
            b"--hold", b"%d" % args.hold,
            b"--",
        ] + HOSTILE_ARGS
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            try:
                os.execv(argv[0], argv)
            finally:
                os._exit(127)
        children.append(pid)
    os.close(wfd)

    stop = False

    def on_signal(_sig, _frm):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    start = time.monotonic()
    total = 0
    window_start, window_total = start, 0
    os.set_blocking(rfd, False)
    print(f"churn: {workers} workers, target {args.rate:.0f} sockets/s on 127.0.0.2-9, "
          f"unix sockets under {tmpdir}; pid {os.getpid()}", file=sys.stderr, flush=True)
    try:
        while not stop:
            if args.seconds and time.monotonic() - start >= args.seconds:
                break
            time.sleep(0.25)
            while True:
                try:
                    data = os.read(rfd, 8 * 512)
                except BlockingIOError:
                    break
                if not data:
                    stop = True
                    break
                for (n,) in struct.iter_unpack("Q", data[: len(data) - len(data) % 8]):
                    total += n
                    window_total += n
            now = time.monotonic()
            if now - window_start >= args.report:
                rate = window_total / (now - window_start)
                print(f"churn: {rate:.0f} sockets/s (last {now - window_start:.0f} s)", file=sys.stderr, flush=True)
                window_start, window_total = now, 0
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        for name in os.listdir(os.fsencode(tmpdir)):
            try:
                os.unlink(os.path.join(os.fsencode(tmpdir), name))
            except OSError:
                pass
        os.rmdir(tmpdir)
        elapsed = time.monotonic() - start
        print(f"churn: {total} sockets in {elapsed:.1f} s = {total / max(elapsed, 1e-9):.0f} sockets/s",
              file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
