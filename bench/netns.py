#!/usr/bin/env python3
"""Many namespaces against one: the cost of listing 100 network namespaces
of 1,000 TCP sockets each, against 100,000 TCP sockets in one namespace.

    sudo bench/netns.py [--spaces 100] [--per 1000] [--runs 5] [--portscope PATH]

Both populations are loopback connections (both ends held by processes of
the benchmark) in namespaces this script makes with `ip netns add` and
deletes at the end; first the many, then the one. Both are listed with
`portscope -tan -N all` from the host's namespace (so both include the
host's own sockets), and with `-p` (owners: one fd walk over every
process); the big one also from inside (`ip netns exec`, where the default
is the own namespace) and with ss there. ss for scale: `ss -tan -N NAME`
run for each of the many namespaces in turn, and for the big one. Prints a
Markdown section for bench/RESULTS.md: medians of wall time and of CPU time
(user and system, from the children's rusage), ratios, load.
"""

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

HOLD = r"""
import os, socket, sys, time
n = int(sys.argv[1])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("127.0.0.1", 0)); l.listen(4096)
keep = []
for i in range(n):
    c = socket.socket(); c.connect(l.getsockname()); a, _ = l.accept()
    keep += [c, a]
print("ready", flush=True)
time.sleep(3600)
"""

PREFIX = "psbench-"
FIFO = []


def sh(*args, **kw):
    return subprocess.run(args, check=True, **kw)


def make_ns(name):
    subprocess.run(["ip", "netns", "del", name], stderr=subprocess.DEVNULL)
    sh("ip", "netns", "add", name)
    sh("ip", "-n", name, "link", "set", "lo", "up")


def hold(ns, conns):
    p = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", HOLD, str(conns)],
        stdout=subprocess.PIPE, text=True, start_new_session=True)
    return p


def wait_ready(procs):
    for p in procs:
        line = p.stdout.readline().strip()
        if line != "ready":
            raise SystemExit(f"a holder failed to start ({line!r})")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime, r.ru_stime


def timed(cmd, runs):
    """Median, min and max wall time, lines printed, and the median CPU
    time of the command and its children (user, system): on a shared
    machine the wall time is what the scheduler gave, the CPU time what
    the work cost."""
    out, user, system = [], [], []
    lines = 0
    for _ in range(runs):
        u0, s0 = children_cpu()
        t = time.perf_counter()
        r = subprocess.run(FIFO + cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        out.append(time.perf_counter() - t)
        u1, s1 = children_cpu()
        user.append(u1 - u0)
        system.append(s1 - s0)
        lines = r.stdout.count(b"\n")
    return (statistics.median(out), min(out), max(out), lines,
            statistics.median(user), statistics.median(system))


def timed_loop(cmds, runs):
    """Like `timed`, for a sequence of commands run one after the other
    (ss lists one namespace per run: `ss -tan -N NAME` for each)."""
    out, user, system = [], [], []
    lines = 0
    for _ in range(runs):
        u0, s0 = children_cpu()
        t = time.perf_counter()
        lines = 0
        for cmd in cmds:
            r = subprocess.run(FIFO + cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            lines += r.stdout.count(b"\n")
        out.append(time.perf_counter() - t)
        u1, s1 = children_cpu()
        user.append(u1 - u0)
        system.append(s1 - s0)
    return (statistics.median(out), min(out), max(out), lines,
            statistics.median(user), statistics.median(system))


def paired(cmd, host_cmd, runs):
    """Median of (cmd - host_cmd) over runs taken back to back: what the
    other namespaces cost beyond the host's own sockets, which other work
    on a shared machine changes from minute to minute."""
    diffs, full, host = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(FIFO + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        a = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(FIFO + host_cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        b = time.perf_counter() - t
        diffs.append(a - b)
        full.append(a)
        host.append(b)
    return statistics.median(diffs), statistics.median(full), statistics.median(host)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spaces", type=int, default=100)
    ap.add_argument("--per", type=int, default=1000, help="TCP sockets per namespace")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--fifo", action="store_true",
                    help="run every listing under SCHED_FIFO (`chrt -f 10`): on a machine "
                         "shared with other work, the wall time an idle machine would give")
    ap.add_argument("--portscope", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "target", "release", "portscope"))
    a = ap.parse_args()
    global FIFO
    FIFO = ["chrt", "-f", "10"] if a.fifo else []
    if os.geteuid() != 0:
        raise SystemExit("run as root: it makes network namespaces")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    total = a.spaces * a.per
    # The big namespace's holders: as few as the fd limit allows.
    per_holder = max(1, (hard - 64) // 2)
    names = [f"{PREFIX}{os.getpid()}-{i}" for i in range(a.spaces)]
    big = f"{PREFIX}{os.getpid()}-big"
    procs = []

    def cleanup(*_):
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        for n in names + [big]:
            subprocess.run(["ip", "netns", "del", n], stderr=subprocess.DEVNULL)

    signal.signal(signal.SIGTERM, lambda *_: (cleanup(), sys.exit(1)))
    ps = os.path.abspath(a.portscope)
    load0 = open("/proc/loadavg").read().split()[:3]
    rows = []
    built = []
    try:
        # Phase 1: many small namespaces.
        t0 = time.perf_counter()
        for n in names:
            make_ns(n)
            procs.append(hold(n, a.per // 2))
        wait_ready(procs)
        built.append(time.perf_counter() - t0)
        many = f"{a.spaces} namespaces × {a.per}"
        for label, cmd in [
            (f"{many}: `portscope -tan -N all`", [ps, "-tan", "-N", "all"]),
            (f"{many}: `portscope -tanp -N all`", [ps, "-tanp", "-N", "all"]),
        ]:
            rows.append((label, *timed(cmd, a.runs)))
        ss_many = (f"{many}: `ss -tan -N NAME` for each namespace",
                   *timed_loop([["ss", "-tan", "-N", n] for n in names], a.runs))
        pairs = [paired([ps, "-tan", "-N", "all"], [ps, "-tan", "-N", "host"], a.runs)]
        cleanup()
        procs.clear()
        # Phase 2: one big namespace, the same number of sockets.
        t0 = time.perf_counter()
        make_ns(big)
        left = total // 2
        while left > 0:
            k = min(left, per_holder)
            procs.append(hold(big, k))
            left -= k
        wait_ready(procs)
        built.append(time.perf_counter() - t0)
        one = f"1 namespace × {total}"
        for label, cmd in [
            (f"{one}: `portscope -tan -N all`", [ps, "-tan", "-N", "all"]),
            (f"{one}: `portscope -tanp -N all`", [ps, "-tanp", "-N", "all"]),
            (f"{one}: `portscope -tan` inside it", ["ip", "netns", "exec", big, ps, "-tan"]),
            (f"{one}: `ss -tan` inside it", ["ip", "netns", "exec", big, "ss", "-tan"]),
        ]:
            rows.append((label, *timed(cmd, a.runs)))
        ss_one = (f"{one}: `ss -tan -N NAME`", *timed(["ss", "-tan", "-N", big], a.runs))
        pairs.append(paired([ps, "-tan", "-N", "all"], [ps, "-tan", "-N", "host"], a.runs))
        holders_big = len(procs)
        load1 = open("/proc/loadavg").read().split()[:3]
    finally:
        cleanup()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    print("## Many namespaces against one (bench/netns.py)\n")
    print(f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {commit}")
    print(f"- Machine: {os.cpu_count()} CPUs, kernel {os.uname().release}; load {' '.join(load0)} at the start, {' '.join(load1)} at the end (shared with other work)")
    print(f"- Population, one after the other: {a.spaces} namespaces of {a.per} TCP sockets ({a.per // 2} loopback connections, one holder process each; built in {built[0]:.1f} s), then one namespace of {total} ({total // 2} connections, {holders_big} holders; built in {built[1]:.1f} s). Both listings run from the host's namespace with `-N all`, so both include the host's own sockets (other work's too)")
    print(f"- Median of {a.runs} runs each, output to a pipe; lines = lines printed by the last run"
          + ("; every listing under SCHED_FIFO (`--fifo`: `chrt -f 10`), so other work on the machine waits" if FIFO else "") + "\n")
    print("| listing | median | min–max | CPU user + system (median) | lines |")
    print("|---|---:|---|---:|---:|")
    host_lines = subprocess.run([ps, "-tan", "-N", "host", "-H"], capture_output=True).stdout.count(b"\n")
    for label, med, lo, hi, lines, user, system in rows + [ss_many, ss_one]:
        print(f"| {label} | {med * 1000:.0f} ms | {lo * 1000:.0f}–{hi * 1000:.0f} ms "
              f"| {user * 1000:.0f} + {system * 1000:.0f} ms | {lines} |")
    r1 = rows[0][1] / rows[2][1]
    r2 = rows[1][1] / rows[3][1]
    print(f"\nThe host's own TCP sockets at the end: {host_lines}.")
    print(f"\nRatio many/one: {r1:.2f}x without owners, {r2:.2f}x with owners, whole listings (target ≤ 1.5x).")
    cpu = lambda row: row[5] + row[6]
    print(f"\nCPU time many/one: {cpu(rows[0]) / cpu(rows[2]):.2f}x without owners "
          f"(user {rows[0][5] * 1000:.0f} against {rows[2][5] * 1000:.0f} ms, "
          f"system {rows[0][6] * 1000:.0f} against {rows[2][6] * 1000:.0f} ms), "
          f"{cpu(rows[1]) / cpu(rows[3]):.2f}x with owners.")
    print(f"\nss for scale, many/one: {ss_many[1] / ss_one[1]:.2f}x ({ss_many[1] * 1000:.0f} ms for the {a.spaces} namespaces one by one, {ss_one[1] * 1000:.0f} ms for the big one).")
    (dm, fm, hm), (do, fo, ho) = pairs
    print(f"\nPaired runs (`-tan -N all` then `-tan -N host`, back to back; median of the differences, i.e. the cost of every namespace but the host's): "
          f"many {dm * 1000:.0f} ms (whole {fm * 1000:.0f}, host alone {hm * 1000:.0f}), one {do * 1000:.0f} ms (whole {fo * 1000:.0f}, host alone {ho * 1000:.0f}); ratio {dm / do if do > 0 else float('nan'):.2f}x.")


if __name__ == "__main__":
    main()
