#!/usr/bin/env python3
"""Build a large, idle socket population on loopback and hold it until killed.

What it builds (all on this machine, loopback 127.0.0.0/8 and unix sockets only):

* ``--listeners L`` TCP listeners on 127.0.0.1 (kernel-chosen ports), created by
  the main process and inherited by every worker, so each listener has many
  owning processes (like a pre-fork server).
* ``--connections N`` established TCP connections to those listeners. Both
  ends live in this process tree, so the kernel holds 2*N ESTABLISHED sockets
  and the tree holds 2*N socket fds. The connections are spread over
  ``--workers W`` forked worker processes; each worker connects its share and
  accepts an equal number from the shared listeners (which worker accepts which
  connection does not matter). To stay clear of ephemeral port exhaustion the
  client ends bind to ``--sources S`` source addresses (127.0.0.2 ...) with
  IP_BIND_ADDRESS_NO_PORT, so the port is chosen per 4-tuple at connect time,
  and target the L listener ports round-robin.
* ``--udp U`` UDP sockets bound on 127.0.0.1 and ``--unix X`` unix stream
  socket pairs plus one abstract unix listener with a few connections, held by
  the main process.
* ``--idle M`` idle processes, each holding a few non-socket fds (/dev/null,
  a pipe, a memfd, an eventfd) and no sockets: they cost an owner walk time
  without contributing any socket.

Every TCP socket has SO_LINGER {on, 0}, so closing it (on kill) sends a reset
and leaves no TIME_WAIT behind.

When everything is up it writes a JSON description to ``--ready-file``
(atomically: temp file + rename) and prints ``READY <json>`` on stdout. It then
stays up until SIGTERM/SIGINT/SIGHUP, or ``--max-lifetime`` seconds, whichever
comes first; on exit it kills and reaps all its children and removes the ready
file. The main process makes itself a process-group leader when it can, so a
caller may also tear everything down with ``kill -- -PGID``; children also get
PR_SET_PDEATHSIG so they die if the main process is killed outright.

This is a load generator for benchmarks and tests. It sends no data over the
connections it makes and never contacts any address outside loopback.

Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import ctypes
import errno
import gc
import json
import math
import os
import resource
import selectors
import signal
import socket
import struct
import sys
import time

IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
PR_SET_NAME = 15
PR_SET_PDEATHSIG = 1
LINGER_RESET = struct.pack("ii", 1, 0)
# fds a worker keeps for things other than its connections (stdio, listeners,
# selector, status pipe, python internals).
FD_MARGIN = 64
# Connections a worker may have issued but not yet matched by its own accepts;
# keeps the listeners' accept queues well below somaxconn.
CONNECT_WINDOW = 256


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


LIBC = _libc()


def set_comm(name: str) -> None:
    """Name the process (what ss -p / lsof / ps show), best effort."""
    if LIBC is None:
        return
    try:
        LIBC.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0)
    except (AttributeError, OSError):
        pass


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this child when its parent goes away."""
    if LIBC is None:
        return
    try:
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (AttributeError, OSError):
        pass


def raise_nofile() -> int:
    """Raise the soft fd limit to the hard limit; return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def somaxconn() -> int:
    try:
        with open("/proc/sys/net/core/somaxconn") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 4096


def close_inherited_fds() -> None:
    """Close fds above stdio inherited from the caller (its pipes would be held open
    by every child and so never reach EOF)."""
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass  # includes the fd listdir itself used


def report(wfd: int, line: str) -> None:
    """Send one status line to the main process (< PIPE_BUF, so atomic)."""
    data = (line.rstrip("\n") + "\n").encode()[:500]
    try:
        os.write(wfd, data)
    except OSError:
        pass


def hold_forever() -> None:
    while True:
        signal.pause()


# --------------------------------------------------------------------------
# children


def idle_child(wfd: int, extra_fds: int) -> None:
    """An idle process holding non-socket fds only."""
    set_comm("psb-idle")
    die_with_parent()
    held = []
    try:
        held.append(os.open("/dev/null", os.O_RDONLY))
        r, w = os.pipe()
        held += [r, w]
        if hasattr(os, "memfd_create"):
            held.append(os.memfd_create("psb-idle"))
        if hasattr(os, "eventfd"):
            held.append(os.eventfd(0))
        for _ in range(extra_fds):
            held.append(os.open("/dev/null", os.O_WRONLY))
    except OSError as e:
        report(wfd, f"err idle {os.getpid()} {e}")
        os._exit(1)
    report(wfd, f"idle {os.getpid()} {len(held)}")
    os.close(wfd)
    hold_forever()


def worker_child(
    wfd: int,
    index: int,
    first: int,
    count: int,
    listeners: list[socket.socket],
    ports: list[int],
    sources: list[str],
    deadline: float,
) -> None:
    """Connect `count` client sockets and accept `count` server ends, then hold."""
    set_comm(f"psb-worker{index}")
    die_with_parent()
    clients: list[socket.socket] = []
    servers: list[socket.socket] = []
    sel = selectors.DefaultSelector()
    for lst in listeners:
        sel.register(lst, selectors.EVENT_READ)
    n_src, n_port = len(sources), len(ports)
    try:
        while len(clients) < count or len(servers) < count:
            while len(clients) < count and len(clients) - len(servers) < CONNECT_WINDOW:
                k = first + len(clients)
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                s.setsockopt(socket.SOL_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                s.bind((sources[k % n_src], 0))
                s.setblocking(False)
                rc = s.connect_ex(("127.0.0.1", ports[(k // n_src) % n_port]))
                if rc not in (0, errno.EINPROGRESS):
                    raise OSError(rc, f"connect: {os.strerror(rc)}")
                clients.append(s)
            if len(servers) < count:
                for key, _ in sel.select(timeout=0.5):
                    while len(servers) < count:
                        try:
                            conn, _ = key.fileobj.accept()
                        except (BlockingIOError, InterruptedError):
                            break
                        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)
                        servers.append(conn)
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"worker {index}: {len(clients)}/{count} connected, "
                    f"{len(servers)}/{count} accepted at deadline"
                )
    except Exception as e:  # report any failure to the main process, then die
        report(wfd, f"err worker {os.getpid()} {type(e).__name__}: {e}")
        os._exit(1)
    sel.close()
    # Confirm the client ends really completed their handshakes.
    pending = sum(1 for s in clients if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0)
    report(wfd, f"worker {os.getpid()} {len(clients)} {len(servers)} {pending}")
    os.close(wfd)
    hold_forever()


# --------------------------------------------------------------------------
# main process


class Population:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.children: list[int] = []
        self.ready_file = args.ready_file
        self.held: list[object] = []

    def kill_children(self) -> None:
        for pid in self.children:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in self.children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
        self.children.clear()

    def shutdown(self, code: int) -> None:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        self.kill_children()
        for obj in self.held:
            try:
                obj.close()  # type: ignore[attr-defined]
            except Exception:
                pass
        if self.ready_file:
            try:
                os.unlink(self.ready_file)
            except FileNotFoundError:
                pass
        sys.stdout.flush()
        os._exit(code)

    def fork(self, fn, *fnargs) -> int:
        pid = os.fork()
        if pid == 0:
            try:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGCHLD):
                    signal.signal(sig, signal.SIG_DFL)
                fn(*fnargs)
            finally:
                os._exit(1)
        self.children.append(pid)
        return pid

    def run(self) -> None:
        a = self.args
        t0 = time.monotonic()
        deadline = t0 + a.timeout
        try:
            os.setpgid(0, 0)
        except OSError:
            pass  # already a group (or session) leader
        set_comm("psb-main")
        close_inherited_fds()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, lambda *_: self.shutdown(0))
        signal.signal(signal.SIGALRM, lambda *_: self.shutdown(0))
        signal.alarm(int(a.timeout + a.max_lifetime))

        fd_limit = raise_nofile()
        budget = min(a.max_per_worker, (fd_limit - FD_MARGIN - a.listeners) // 2)
        if a.connections > 0 and budget < 1:
            sys.exit(f"population: fd limit {fd_limit} too low for any connection")
        workers = a.workers or max(2 if a.connections >= 2 else 1, math.ceil(a.connections / max(budget, 1)))
        if a.connections == 0:
            workers = 0
        share = math.ceil(a.connections / workers) if workers else 0
        if share > budget:
            sys.exit(
                f"population: {a.connections} connections over {workers} workers is {share} "
                f"per worker, over the per-worker limit {budget} (fd limit {fd_limit})"
            )
        sources = [f"127.0.0.{2 + i}" for i in range(a.sources)]

        gc.freeze()  # keep forked children from un-sharing the heap
        rfd, wfd = os.pipe()

        # Idle processes first, so they inherit no sockets.
        for _ in range(a.idle):
            self.fork(idle_child, wfd, a.idle_fds)

        listeners = []
        for _ in range(a.listeners):
            lst = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            lst.bind(("127.0.0.1", 0))
            lst.listen(somaxconn())
            lst.setblocking(False)
            listeners.append(lst)
        self.held += listeners
        ports = [lst.getsockname()[1] for lst in listeners]

        worker_pids = []
        first = 0
        for i in range(workers):
            count = min(share, a.connections - first)
            worker_pids.append(
                self.fork(worker_child, wfd, i, first, count, listeners, ports, sources, deadline)
            )
            first += count

        # Datagram and unix sockets live in the main process only.
        for _ in range(a.udp):
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind(("127.0.0.1", 0))
            self.held.append(u)
        unix_name = f"\0psb-{os.getpid()}"
        if a.unix:
            ul = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            ul.bind(unix_name)
            ul.listen(64)
            self.held.append(ul)
            for _ in range(min(a.unix, 8)):
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect(unix_name)
                s, _ = ul.accept()
                self.held += [c, s]
            for _ in range(a.unix):
                self.held += list(socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM))
        os.close(wfd)

        # Collect one status line per child.
        want = a.idle + workers
        got_idle = got_workers = 0
        stale_handshakes = 0
        buf = b""
        while got_idle + got_workers < want:
            left = deadline - time.monotonic()
            if left <= 0:
                print(
                    f"population: timeout: {got_workers}/{workers} workers, "
                    f"{got_idle}/{a.idle} idle ready",
                    file=sys.stderr,
                )
                self.shutdown(1)
            sel = selectors.DefaultSelector()
            sel.register(rfd, selectors.EVENT_READ)
            events = sel.select(timeout=min(left, 1.0))
            sel.close()
            try:
                dead, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                dead = 0
            if dead:
                self.children.remove(dead)
                print(f"population: child {dead} exited before it was ready (status {status})",
                      file=sys.stderr)
            if not events:
                if dead:
                    self.shutdown(1)
                continue
            chunk = os.read(rfd, 65536)
            if not chunk:
                print("population: a child exited before it was ready", file=sys.stderr)
                self.shutdown(1)
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                words = line.decode(errors="replace").split()
                if not words:
                    continue
                if words[0] == "err":
                    print(f"population: {' '.join(words[1:])}", file=sys.stderr)
                    self.shutdown(1)
                elif words[0] == "idle":
                    got_idle += 1
                elif words[0] == "worker":
                    got_workers += 1
                    stale_handshakes += int(words[4])
        os.close(rfd)

        info = {
            "pid": os.getpid(),
            "pgid": os.getpgid(0),
            "connections": a.connections,
            "tcp_established_sockets": 2 * a.connections,
            "listeners": a.listeners,
            "listener_ports": ports,
            "sources": sources,
            "workers": workers,
            "per_worker": share,
            "worker_pids": worker_pids,
            "idle": a.idle,
            "udp": a.udp,
            "unix_pairs": a.unix,
            "unix_listener": "@" + unix_name[1:] if a.unix else None,
            "fd_limit": fd_limit,
            "unfinished_handshakes": stale_handshakes,
            "build_seconds": round(time.monotonic() - t0, 3),
        }
        text = json.dumps(info)
        if self.ready_file:
            tmp = f"{self.ready_file}.tmp{os.getpid()}"
            with open(tmp, "w") as f:
                f.write(text + "\n")
            os.replace(tmp, self.ready_file)
        print(f"READY {text}", flush=True)

        # Stay up; a child dying early is reported, not fatal.
        def on_child(*_):
            while True:
                try:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                except ChildProcessError:
                    return
                if pid == 0:
                    return
                if pid in self.children:
                    self.children.remove(pid)
                print(f"population: child {pid} exited (status {status})", file=sys.stderr, flush=True)

        signal.signal(signal.SIGCHLD, on_child)
        hold_forever()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Hold a loopback socket population (TCP connections, listeners, "
        "UDP and unix sockets, idle processes) until killed."
    )
    p.add_argument("--connections", type=int, default=5000,
                   help="established TCP connections; the kernel shows 2x this many sockets (default 5000)")
    p.add_argument("--workers", type=int, default=0,
                   help="worker processes holding the connections (default: enough for the fd limit, at least 2)")
    p.add_argument("--max-per-worker", type=int, default=9000,
                   help="connections per worker at most when --workers is automatic (default 9000)")
    p.add_argument("--idle", type=int, default=500, help="idle processes with non-socket fds (default 500)")
    p.add_argument("--idle-fds", type=int, default=2, help="extra /dev/null fds per idle process (default 2)")
    p.add_argument("--listeners", type=int, default=4, help="shared TCP listeners on 127.0.0.1 (default 4)")
    p.add_argument("--sources", type=int, default=8,
                   help="client source addresses 127.0.0.2... (default 8, at most 250)")
    p.add_argument("--udp", type=int, default=64, help="UDP sockets on 127.0.0.1 (default 64)")
    p.add_argument("--unix", type=int, default=64, help="unix socket pairs (default 64)")
    p.add_argument("--ready-file", default=None, help="write the population description (JSON) here when ready")
    p.add_argument("--timeout", type=float, default=600, help="give up building after this many seconds (default 600)")
    p.add_argument("--max-lifetime", type=float, default=7200,
                   help="tear down by itself after this many seconds up (default 7200)")
    a = p.parse_args(argv)
    if a.connections < 0 or a.idle < 0 or a.udp < 0 or a.unix < 0 or a.workers < 0:
        p.error("counts must be >= 0")
    if a.connections > 0 and a.listeners < 1:
        p.error("--listeners must be >= 1 when there are connections")
    if not 1 <= a.sources <= 250:
        p.error("--sources must be in 1..250")
    if a.max_per_worker < 1:
        p.error("--max-per-worker must be >= 1")
    # Port budget: each (source, listener) pair gets its own ephemeral range.
    per_pair = math.ceil(a.connections / (a.sources * max(a.listeners, 1))) if a.connections else 0
    if per_pair > 20000:
        p.error(f"{per_pair} connections per (source, listener) pair would exhaust the "
                "ephemeral port range: raise --sources or --listeners")
    return a


def main() -> None:
    Population(parse_args(sys.argv[1:])).run()


if __name__ == "__main__":
    main()
