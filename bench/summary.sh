#!/usr/bin/env bash
# `portscope -s` against `ss -s` on one socket population: the summary
# with owners (`-s`, the owner walk), without (`-sn`, one dump: the counts
# need no walk), and ss's counts. Writes bench/SUMMARY-RESULTS.md.
#
#   bench/summary.sh [SIZE]      # TCP sockets in the population (default 100000)
#
# Runs as root, in a network namespace of its own (unshare -n), so only the
# population's sockets are counted. PORTSCOPE overrides the binary
# (default target/release/portscope, built first).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
. "$HERE/lib.sh"
BENCH=summary.sh
SIZE=${1:-100000}
OUT_FILE=${OUT_FILE:-$HERE/SUMMARY-RESULTS.md}
PORTSCOPE=${PORTSCOPE:-$ROOT/target/release/portscope}
log() { echo "summary.sh: $*" >&2; }

if [ -z "${PORTSCOPE_SUMMARY_INNER:-}" ]; then
    bench_need hyperfine hyperfine
    if [ "$PORTSCOPE" = "$ROOT/target/release/portscope" ]; then
        bench_build
    fi
    export PORTSCOPE OUT_FILE PORTSCOPE_SUMMARY_INNER=1
    exec unshare -n "$0" "$SIZE"
fi

ip link set lo up
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
WORK=$(mktemp -d)
POP_PID=""
teardown() {
    if [ -n "$POP_PID" ]; then
        kill -TERM -- "-$POP_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 -- "-$POP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$POP_PID" 2>/dev/null || true
        wait "$POP_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap teardown EXIT

setsid python3 "$HERE/population.py" --connections $((SIZE / 2)) --idle 100 \
    --ready-file "$WORK/ready.json" --timeout 600 --max-lifetime 1800 \
    >"$WORK/population.log" 2>&1 </dev/null &
POP_PID=$!
while [ ! -s "$WORK/ready.json" ]; do
    kill -0 "$POP_PID" 2>/dev/null || { log "population failed"; cat "$WORK/population.log" >&2; POP_PID=""; exit 1; }
    sleep 0.2
done
TOTAL=$(ss -tanH | wc -l)
log "population up: ss -tanH lists $TOTAL TCP sockets"
LOAD=$(bench_load)
hyperfine -N --warmup 2 --runs 10 --export-json "$WORK/h.json" \
    -n "ss -s" "ss -s" \
    -n "portscope -sn" "$PORTSCOPE -sn" \
    -n "portscope -s" "$PORTSCOPE -s" >&2

python3 - "$WORK/h.json" "$OUT_FILE" "$SIZE" "$TOTAL" "$LOAD" "$ROOT" <<'PY'
import json, os, subprocess, sys, time
h, out, size, total, load, root = sys.argv[1:7]
res = {r["command"]: r for r in json.load(open(h))["results"]}
ss = res["ss -s"]["median"]
rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
lines = [
    "# `portscope -s` against `ss -s`",
    "",
    "Written by `bench/summary.sh`: the summary with owners (`-s`, which walks",
    "every process's fds), without (`-sn`: counts and listeners from one dump,",
    "no walk) and `ss -s` (counts only), on the same population in a network",
    "namespace of its own. hyperfine, 2 warm-ups, 10 runs, output to /dev/null.",
    "",
    f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {rev}",
    f"- Machine: {os.cpu_count()} CPUs, kernel {os.uname().release}; load at start {load} (shared machine)",
    f"- Population: {size} TCP sockets on loopback (bench/population.py, 100 idle processes); `ss -tanH` listed {total}",
    "",
    "| command | median wall | min–max wall | CPU (user + system, mean) | ratio to `ss -s` (wall) |",
    "|---|---:|---:|---:|---:|",
]
for name in ["ss -s", "portscope -sn", "portscope -s"]:
    r = res[name]
    cpu = (r["user"] + r["system"]) * 1000
    lines.append(f"| `{name}` | {r['median']*1000:.1f} ms | {r['min']*1000:.1f}–{r['max']*1000:.1f} ms | {cpu:.1f} ms | {r['median']/ss:.1f}x |")
lines += ["", "`ss -s` reads the kernel's counters (/proc/net/sockstat) and lists nothing;",
          "`portscope -sn` dumps every socket to count it by state and list the listeners;",
          "`portscope -s` also names each listener's processes and the top holders,",
          "which needs the walk over every process on the machine (not only the",
          "namespace's). On a loaded machine wall time is mostly waiting for a CPU;",
          "the CPU column is what each command itself costs.", ""]
open(out, "w").write("\n".join(lines))
PY
log "wrote $OUT_FILE"
