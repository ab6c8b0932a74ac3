#!/usr/bin/env python3
"""Load for `portscope events`: N loopback connections per second, each
sending a known number of bytes each way, in a network namespace of its own;
counts every close event portscope reports against the connections made,
and measures portscope's CPU (utime + stime from /proc) while it runs.

    sudo bench/events_load.py --rates 500,1000,2000,4000 --seconds 10
    sudo bench/events_load.py --idle 10
    sudo bench/events_load.py --rates 2000 --record

Needs root (ip netns) and a release build (target/release/portscope).
Prints one line per rate: connections made, close events expected and
seen, lost events, CPU as a share of one core, and the rate achieved.
"""

import argparse
import json
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "..", "target", "release", "portscope")
TICK = os.sysconf("SC_CLK_TCK")
UP, DOWN = 300, 700  # bytes client -> server, server -> client


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def server(listener, stop):
    """Answers each connection with DOWN bytes after reading UP, then closes."""
    sel = selectors.DefaultSelector()
    listener.setblocking(False)
    sel.register(listener, selectors.EVENT_READ)
    pending = {}
    while not stop.is_set():
        for key, _ in sel.select(0.1):
            if key.fileobj is listener:
                try:
                    while True:
                        c, _ = listener.accept()
                        c.setblocking(False)
                        pending[c] = 0
                        sel.register(c, selectors.EVENT_READ)
                except BlockingIOError:
                    pass
                continue
            c = key.fileobj
            try:
                data = c.recv(65536)
            except (BlockingIOError, ConnectionError):
                data = b""
            if data:
                pending[c] += len(data)
                if pending[c] >= UP:
                    c.setblocking(True)
                    c.sendall(b"d" * DOWN)
                    c.setblocking(False)
                continue
            sel.unregister(c)
            pending.pop(c, None)
            c.close()


def load(addr, rate, seconds):
    """Opens `rate` connections a second for `seconds`; returns how many."""
    made = 0
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        due = int((time.monotonic() - start) * rate)
        while made < due:
            c = socket.create_connection(addr)
            c.sendall(b"u" * UP)
            got = 0
            while got < DOWN:
                b = c.recv(65536)
                if not b:
                    break
                got += len(b)
            c.close()
            made += 1
        time.sleep(0.001)
    return made, time.monotonic() - start


def run(rate, seconds, record, idle=False):
    with tempfile.TemporaryDirectory() as tmp:
        args = [BIN, "events", "--json", "--event", "close,lost"]
        if record:
            args.append(f"--record={tmp}/events.db")
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready = proc.stderr.readline()
        if b"watching" not in ready:
            sys.exit(f"portscope events did not start: {ready!r}")
        closes, lost, bad = 0, 0, 0

        def read():
            nonlocal closes, lost, bad
            for line in proc.stdout:
                e = json.loads(line)
                if e["event"] == "lost":
                    lost += e.get("lost") or 1
                    continue
                s = e["socket"]
                sent = e.get("bytes_sent")
                if sent in (UP, DOWN):
                    closes += 1
                else:
                    bad += 1

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        stop = threading.Event()
        if not idle:
            # (Idle, nothing is opened: a new socket would cost an owner walk.)
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen(4096)
            srv = threading.Thread(target=server, args=(listener, stop), daemon=True)
            srv.start()
        c0 = cpu_seconds(proc.pid)
        t0 = time.monotonic()
        if idle:
            time.sleep(seconds)
            made, took = 0, seconds
        else:
            made, took = load(listener.getsockname(), rate, seconds)
        # Let the last closes arrive (generous; not part of the CPU window).
        cpu = cpu_seconds(proc.pid) - c0
        wall = time.monotonic() - t0
        deadline = time.monotonic() + 20
        while closes + bad < 2 * made and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        proc.terminate()
        proc.wait()
        reader.join(2)
        share = cpu / wall
        print(
            f"rate {rate:>5}/s{' record' if record else ''}: {made} connections "
            f"({made / took:.0f}/s achieved), close events {closes}/{2 * made} "
            f"(other byte counts {bad}), lost {lost}, cpu {share * 100:.1f}% of a core"
        )
        return made, closes, lost, share


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="500,1000,2000")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--record", action="store_true")
    ap.add_argument("--idle", type=float)
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not a.inner:
        # Again, inside a namespace of its own with lo up.
        ns = f"portscope-bench-{os.getpid()}"
        subprocess.run(["ip", "netns", "add", ns], check=True)
        try:
            subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
            rc = subprocess.run(
                ["ip", "netns", "exec", ns, sys.executable, *sys.argv, "--inner"]
            ).returncode
        finally:
            subprocess.run(["ip", "netns", "del", ns])
        sys.exit(rc)
    if a.idle:
        run(0, a.idle, a.record, idle=True)
        return
    for r in [int(x) for x in a.rates.split(",")]:
        run(r, a.seconds, a.record)


if __name__ == "__main__":
    main()
