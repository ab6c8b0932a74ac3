#!/usr/bin/env python3
"""Turn one bench/run.sh output folder into the Markdown of bench/RESULTS.md.

Usage: report.py OUT_DIR > RESULTS.md

Reads OUT_DIR/machine.json and, per size, OUT_DIR/<size>/{population,check}.json,
probes.jsonl (one /usr/bin/time -v run per command) and the hyperfine exports
owners.json, no-owners.json, json.json. Only formats: it measures nothing.
"""

from __future__ import annotations

import json
import os
import statistics
import sys

PS_TANP, PS_TAN, PS_JSON = "portscope-tanp", "portscope-tan", "portscope-tanp-json"
ORDER = [PS_TANP, "ss-tanp", "netstat-tanp", "lsof-nPi", PS_TAN, "ss-tan", PS_JSON]
DISPLAY = {
    PS_TANP: "portscope -tanp",
    "ss-tanp": "ss -tanp",
    "netstat-tanp": "netstat -tanp",
    "lsof-nPi": "lsof -nPi",
    PS_TAN: "portscope -tan",
    "ss-tan": "ss -tan",
    PS_JSON: "portscope -tanp --json",
}
GROUPS = ["owners", "no-owners", "json"]
BIG, SMALL = 100000, 10000


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def load_size(d):
    """Everything measured at one size: {timings: {group: {name: stats}}, probes, population, check}."""
    out = {"timings": {}, "probes": {}, "population": load_json(os.path.join(d, "population.json")),
           "check": load_json(os.path.join(d, "check.json")), "load": {}}
    for g in GROUPS:
        data = load_json(os.path.join(d, f"{g}.json"))
        if not data:
            continue
        stats = {}
        for r in data.get("results", []):
            times = r.get("times") or []
            stats[r["command"]] = {
                "median": r.get("median", statistics.median(times) if times else None),
                "mean": r.get("mean"),
                "stddev": r.get("stddev"),
                "min": r.get("min"),
                "max": r.get("max"),
                "runs": len(times),
            }
        out["timings"][g] = stats
        try:
            with open(os.path.join(d, f"{g}.load")) as f:
                out["load"][g] = f.read().strip()
        except OSError:
            pass
        try:
            with open(os.path.join(d, f"{g}.sockets")) as f:
                out.setdefault("sockets", {})[g] = f.read().split()
        except OSError:
            pass
    try:
        with open(os.path.join(d, "probes.jsonl")) as f:
            for line in f:
                if line.strip():
                    p = json.loads(line)
                    out["probes"][p["name"]] = p
    except OSError:
        pass
    return out


def median_of(sz, name, group=None):
    """Median seconds of `name` at one size; from `group` if given, else the first group with it."""
    groups = [group] if group else GROUPS
    for g in groups:
        s = sz["timings"].get(g, {}).get(name)
        if s and s["median"] is not None:
            return s["median"]
    return None


def fmt_s(x):
    if x is None:
        return "–"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def fmt_ratio(x):
    return "–" if x is None else f"{x:.2f}"


def main():
    out_dir = sys.argv[1]
    machine = load_json(os.path.join(out_dir, "machine.json")) or {}
    sizes = sorted(int(n) for n in os.listdir(out_dir) if n.isdigit() and os.path.isdir(os.path.join(out_dir, n)))
    data = {n: load_size(os.path.join(out_dir, str(n))) for n in sizes}
    have_ps = machine.get("have_portscope", False)
    w = print

    w("# Scale benchmark results")
    w()
    w("Written by `bench/run.sh` (see `bench/README.md`); raw data in `bench/out/` (not committed).")
    w()
    w(f"- Date: {machine.get('date', '?')}")
    w(f"- Machine: {machine.get('nproc', '?')} CPUs ({machine.get('cpu', '?')}), "
      f"{machine.get('memory', '?')} RAM, kernel {machine.get('kernel', '?')}; "
      "shared with other work (see the conditions under the timings)")
    w(f"- fd limit {machine.get('fd_limit', '?')}; ephemeral ports {machine.get('ephemeral_range', '?')}")
    v = machine.get("versions", {})
    w(f"- Tools: {v.get('ss', '?')}; {v.get('netstat', '?')}; lsof {v.get('lsof', '?')}; "
      f"{v.get('hyperfine', '?')}; Python {v.get('python3', '?')}"
      + (f"; portscope {v['portscope']}" if v.get("portscope") else ""))
    if machine.get("git"):
        w(f"- Source: commit {machine['git']}")
    if machine.get("quick"):
        w("- **Quick smoke run** (`--quick`): tiny population, 2 runs per command; not a result.")
    if not have_ps:
        w()
        w(f"> **portscope was not measured in this run** ({machine.get('portscope_note') or 'absent'}). "
          "These are the peers' numbers on the same populations; portscope's numbers and the "
          "target verdicts come from the next run of `bench/run.sh` once the binary exists.")
    w()

    # ---------------------------------------------------------- population
    w("## Population")
    w()
    w("Size = TCP sockets as `ss -tan` counts them: size/2 established loopback connections, "
      "both ends held by the population's workers. On top of that, at every size: the shared "
      "listeners, UDP sockets, unix socket pairs and idle processes below.")
    w()
    w("| size (TCP sockets) | connections | workers × conns | listeners (shared) | UDP | unix pairs | idle processes | `ss -tanH` lines (ours / all) | build time |")
    w("|---:|---:|---|---:|---:|---:|---:|---|---:|")
    for n in sizes:
        p, c = data[n]["population"], data[n]["check"]
        if not p:
            w(f"| {n} | population failed | | | | | | | |")
            continue
        w(f"| {n} | {p['connections']} | {p['workers']} × ≤{p['per_worker']} | {p['listeners']} "
          f"(each owned by {p['workers'] + 1} processes) | {p['udp']} | {p['unix_pairs']} | {p['idle']} | "
          f"{c['ss_ours'] if c else '?'} / {c['ss_total'] if c else '?'} | "
          f"{c['wall_to_ready'] if c else p['build_seconds']} s |")
    w()

    # ---------------------------------------------------------- timings
    w("## Wall time (median of hyperfine runs, output to /dev/null)")
    w()
    w("Each group is one hyperfine invocation (`-N`, no shell): owner-resolving commands together, "
      "then `-tan` without owners, then JSON against the table. hyperfine runs each command's runs "
      "back to back, one command after the other. Cells: median (runs; min–max).")
    w()
    w("| command | " + " | ".join(str(n) for n in sizes) + " |")
    w("|---|" + "---:|" * len(sizes))
    for name in ORDER:
        cells = []
        for n in sizes:
            found = None
            for g in GROUPS:
                s = data[n]["timings"].get(g, {}).get(name)
                if s:
                    found = s
                    break
            if found:
                rng = ""
                if found["runs"] > 1 and found["min"] is not None and found["max"] is not None:
                    rng = f"; {fmt_s(found['min'])}–{fmt_s(found['max'])}"
                cells.append(f"{fmt_s(found['median'])} ({found['runs']}{rng})")
            else:
                pr = data[n]["probes"].get(name)
                if pr and pr.get("short_output"):
                    cells.append("listed too few sockets")
                elif pr and pr["rc"] == 124:
                    cells.append("> timeout")
                elif pr and pr["rc"] != 0:
                    cells.append(f"exit {pr['rc']}")
                else:
                    cells.append("–")
        if any(c != "–" for c in cells):
            w(f"| `{DISPLAY[name]}` | " + " | ".join(cells) + " |")
    w()
    w("Conditions per group (load average at its start; machine-wide `ss -tanH` lines "
      "before → after, which include other work's sockets):")
    w()
    for n in sizes:
        parts = []
        for g in GROUPS:
            ld = data[n]["load"].get(g)
            sk = data[n].get("sockets", {}).get(g)
            if ld or sk:
                parts.append(f"{g}: load {ld or '?'}, sockets {' → '.join(sk) if sk else '?'}")
        if parts:
            w(f"- {n}: " + "; ".join(parts))
    w()
    w("The machine is shared: absolute times move with its load (medians of the same command "
      "at 100k have differed by up to 2x between benchmark runs). Ratios within one group "
      "(same population, same few minutes) are the steadier comparison.")
    w()

    w("Why the peers' owner lookups grow faster than the socket count: `ss -p` keeps its "
      "inode → process map in a fixed 256-bucket hash table (`USER_ENT_HASH_SIZE` in iproute2's "
      "ss.c), so each of N lookups walks a chain of about N/256 entries; netstat's program "
      "cache is a fixed 211-bucket hash (`PRG_HASH_SIZE` in net-tools' netstat.c). `lsof` reads every process's fd table and "
      "/proc/net once and scales about linearly.")
    w()
    # peers' own scaling, always useful
    if SMALL in data and BIG in data:
        w("Scaling, median at 100k / median at 10k: " + "; ".join(
            f"`{DISPLAY[nm]}` {median_of(data[BIG], nm) / median_of(data[SMALL], nm):.1f}x"
            for nm in ORDER
            if median_of(data[BIG], nm) and median_of(data[SMALL], nm)) + ".")
        w()

    if have_ps:
        w("### Ratios (portscope time / peer time; below 1 = portscope faster)")
        w()
        w("| ratio | " + " | ".join(str(n) for n in sizes) + " |")
        w("|---|" + "---:|" * len(sizes))
        pairs = [(PS_TANP, "ss-tanp", "owners"), (PS_TANP, "netstat-tanp", "owners"),
                 (PS_TANP, "lsof-nPi", "owners"), (PS_TAN, "ss-tan", "no-owners"),
                 (PS_JSON, PS_TANP, "json")]
        for a, b, g in pairs:
            cells = []
            for n in sizes:
                x, y = median_of(data[n], a, g), median_of(data[n], b, g)
                cells.append(fmt_ratio(x / y) if x and y else "–")
            w(f"| `{DISPLAY[a]}` / `{DISPLAY[b]}` | " + " | ".join(cells) + " |")
        w()

    # ---------------------------------------------------------- RSS
    w("## Peak RSS (one run under `/usr/bin/time -v`) and output lines")
    w()
    w("| command | " + " | ".join(f"{n}: RSS / lines" for n in sizes) + " |")
    w("|---|" + "---:|" * len(sizes))
    for name in ORDER:
        cells = []
        for n in sizes:
            pr = data[n]["probes"].get(name)
            if not pr or pr["rss_kib"] is None:
                cells.append("–")
                continue
            rows = pr["json_objects"] if name == PS_JSON else pr["rows"]
            cells.append(f"{pr['rss_kib'] / 1024:.1f} MiB / {rows}")
        if any(c != "–" for c in cells):
            w(f"| `{DISPLAY[name]}` | " + " | ".join(cells) + " |")
    w()
    w("Lines: every line the command printed (headers included; `lsof -nPi` also lists UDP); "
      "for JSON, the number of socket objects.")
    w()

    # ---------------------------------------------------------- targets
    w("## Targets")
    w()
    big, small = data.get(BIG), data.get(SMALL)

    def verdict(ok):
        if ok is None:
            return "not measured" if not have_ps else "not measured (size missing or command failed)"
        return "**met**" if ok else "**missed**"

    rows = []

    def t_abs(label, value, limit):
        rows.append((label, fmt_s(value) if value is not None else "–", verdict(None if value is None else value <= limit)))

    def t_speedup(label, peer, factor):
        x = median_of(big, PS_TANP, "owners") if big else None
        y = median_of(big, peer, "owners") if big else None
        sp = y / x if x and y else None
        rows.append((label, f"{sp:.1f}x faster" if sp else "–", verdict(None if sp is None else sp >= factor)))

    t_abs("`portscope -tanp` ≤ 0.6 s at 100k", median_of(big, PS_TANP, "owners") if big else None, 0.6)
    t_speedup("`portscope -tanp` ≥ 8x faster than `ss -tanp` at 100k", "ss-tanp", 8)
    t_speedup("`portscope -tanp` ≥ 3x faster than `netstat -tanp` at 100k", "netstat-tanp", 3)
    t_speedup("`portscope -tanp` ≥ 4x faster than `lsof -nPi` at 100k", "lsof-nPi", 4)

    def worst_ratio(a, b, g):
        rs = []
        for n in sizes:
            x, y = median_of(data[n], a, g), median_of(data[n], b, g)
            if x and y:
                rs.append((x / y, n))
        return max(rs) if rs else None

    r = worst_ratio(PS_TAN, "ss-tan", "no-owners")
    rows.append(("`portscope -tan` ≤ 1.2x `ss -tan` (every size)",
                 f"worst {r[0]:.2f}x (at {r[1]})" if r else "–", verdict(None if r is None else r[0] <= 1.2)))
    r = worst_ratio(PS_JSON, PS_TANP, "json")
    rows.append(("`portscope -tanp --json` ≤ 1.3x the table (every size)",
                 f"worst {r[0]:.2f}x (at {r[1]})" if r else "–", verdict(None if r is None else r[0] <= 1.3)))
    rss = [(data[n]["probes"][nm]["rss_kib"], n, nm) for n in sizes for nm in (PS_TANP, PS_TAN, PS_JSON)
           if data[n]["probes"].get(nm) and data[n]["probes"][nm]["rss_kib"]]
    top = max(rss) if rss else None
    rows.append(("portscope peak RSS ≤ 64 MiB (every mode and size)",
                 f"max {top[0] / 1024:.1f} MiB (`{DISPLAY[top[2]]}` at {top[1]})" if top else "–",
                 verdict(None if top is None else top[0] <= 64 * 1024)))
    x = median_of(big, PS_TANP, "owners") if big else None
    y = median_of(small, PS_TANP, "owners") if small else None
    sc = x / y if x and y else None
    rows.append(("`portscope -tanp` at 100k ≤ 11x its time at 10k",
                 f"{sc:.1f}x" if sc else "–", verdict(None if sc is None else sc <= 11)))
    w("| target | measured | status |")
    w("|---|---|---|")
    for label, value, status in rows:
        w(f"| {label} | {value} | {status} |")
    w()
    if have_ps:
        met = sum(1 for _, _, s in rows if s == "**met**")
        w(f"{met} of {len(rows)} targets met.")
    else:
        w("What the targets mean in seconds on this machine, from the peers measured above "
          "(portscope -tanp at 100k must be at most the smallest of these and 0.6 s):")
        w()
        if big:
            for peer, factor in (("ss-tanp", 8), ("netstat-tanp", 3), ("lsof-nPi", 4)):
                y = median_of(big, peer, "owners")
                if y:
                    w(f"- {factor}x faster than `{DISPLAY[peer]}` ({fmt_s(y)}): ≤ {fmt_s(y / factor)}")
            y = median_of(big, "ss-tan", "no-owners")
            if y:
                w(f"- `portscope -tan` ≤ 1.2x `ss -tan` ({fmt_s(y)}): ≤ {fmt_s(1.2 * y)}")
        else:
            w("- (100k not measured)")
    w()
    other_benchmarks(w)


def other_benchmarks(w):
    """The headline of the scanner's and the live view's own benchmarks,
    copied from their reports (bench/scan.sh, bench/watch.sh)."""
    here = os.path.dirname(os.path.abspath(__file__))
    picks = (
        ("SCAN-RESULTS.md", "`portscope scan` against nmap on all 65535 ports of 127.0.0.1 (`bench/scan.sh`)",
         lambda line: line.startswith("- Target")),
        ("WATCH-RESULTS.md", "one `portscope watch` refresh at 10k sockets (`bench/watch.sh`)",
         lambda line: line.startswith("| one refresh at 10k")
         or line.startswith("- refreshes with")),
    )
    w("## Other benchmarks")
    w()
    for name, what, keep in picks:
        path = os.path.join(here, name)
        try:
            with open(path) as f:
                lines = [line.rstrip("\n") for line in f if keep(line)]
        except OSError:
            continue
        w(f"{what}, from [{name}]({name}):")
        w()
        for line in lines:
            w(line if not line.startswith("|") else "- " + " ".join(c.strip() for c in line.strip("|").split("|") if c.strip()))
        w()


if __name__ == "__main__":
    main()
