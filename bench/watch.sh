#!/usr/bin/env bash
# Cost of one `portscope watch` refresh at scale: what the live view does
# every interval (snapshot with owners, tracking, the order, tcp_info for
# the page shown), timed by the library's watch_bench example, on a
# loopback population of SIZE TCP sockets. Writes bench/WATCH-RESULTS.md
# (or appends SIZE's section to it with --append).
#
#   bench/watch.sh [--no-build] [--isolated] [--rounds N] [--idle M] [--out FILE] [--append] [SIZE]
#
# SIZE counts TCP sockets as in bench/run.sh (default 10000: 5000 connections).
# Targets: at most 50 ms CPU per refresh at 10k sockets, 100 ms at 100k.
# --isolated runs the population and the view in a network namespace of
# their own with a TCP hash table of their own (root; see ISOLATED below).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=1 ROUNDS=12 IDLE=100 SIZE=10000 OUT_FILE="$HERE/WATCH-RESULTS.md" APPEND=0 ISOLATED=0
ARGS=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --rounds) ROUNDS=$2; shift ;;
        --idle) IDLE=$2; shift ;;
        --out) OUT_FILE=$2; shift ;;
        --append) APPEND=1 ;;
        --isolated) ISOLATED=1 ;;
        -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "watch.sh: unknown option $1" >&2; exit 2 ;;
        *) SIZE=$1 ;;
    esac
    shift
done
case "$SIZE$ROUNDS" in *[!0-9]*) echo "watch.sh: SIZE and --rounds are numbers" >&2; exit 2 ;; esac
[ "$ROUNDS" -ge 2 ] || { echo "watch.sh: --rounds must be at least 2" >&2; exit 2; }

log() { printf '[watch.sh] %s\n' "$*" >&2; }

# A harness given in $WATCH_BENCH is used as it is.
[ -z "${WATCH_BENCH:-}" ] || BUILD=0
WATCH_BENCH=${WATCH_BENCH:-$ROOT/target/release/examples/watch_bench}
if [ "$BUILD" = 1 ]; then
    log "building the release watch_bench example"
    (cd "$ROOT" && cargo build --release --locked -q -p portscope --example watch_bench)
fi
[ -x "$WATCH_BENCH" ] || { log "no watch_bench at $WATCH_BENCH"; exit 1; }

# ISOLATED: every network namespace shares the host's TCP hash table unless
# made with a table of its own, and the kernel's dump walks the whole table,
# skipping other namespaces' sockets one by one. On a shared machine whose
# other namespaces hold many sockets, that walk measures them, not us (and a
# view in the host's namespace also dumps every other namespace). So: a
# namespace A whose tcp_child_ehash_entries is the host's table size, and in
# it a namespace B, which gets a table of that size of its own; population
# and view run in B, where the view's default is its own namespace only.
WHERE="the host's network namespace"
if [ "$ISOLATED" = 1 ]; then
    case "${WATCH_ISOLATED_STAGE:-}" in
        "")
            command -v unshare >/dev/null || { log "--isolated needs unshare (util-linux)"; exit 1; }
            EHASH=$(cat /proc/sys/net/ipv4/tcp_ehash_entries)
            EHASH=${EHASH#-}
            export WATCH_BENCH WATCH_EHASH=$EHASH WATCH_ISOLATED_STAGE=1
            exec unshare -n "${BASH_SOURCE[0]}" --no-build "${ARGS[@]}" ;;
        1)
            sysctl -qw "net.ipv4.tcp_child_ehash_entries=$WATCH_EHASH"
            export WATCH_ISOLATED_STAGE=2
            exec unshare -n "${BASH_SOURCE[0]}" --no-build "${ARGS[@]}" ;;
        2)
            ip link set lo up
            WHERE="a network namespace of its own with a TCP hash table of its own ($(cat /proc/sys/net/ipv4/tcp_ehash_entries) buckets, the host's size; \`--isolated\`)" ;;
    esac
fi

ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
WORK=$(mktemp -d)
POP_PID=""
teardown() {
    if [ -n "$POP_PID" ]; then
        kill -TERM -- "-$POP_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 -- "-$POP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$POP_PID" 2>/dev/null || true
        wait "$POP_PID" 2>/dev/null || true
        POP_PID=""
    fi
    rm -rf "$WORK"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting a population of $SIZE TCP sockets ($IDLE idle processes)"
setsid python3 "$HERE/population.py" --connections $((SIZE / 2)) --idle "$IDLE" \
    --ready-file "$WORK/ready.json" --timeout 600 --max-lifetime 3600 \
    >"$WORK/population.log" 2>&1 </dev/null &
POP_PID=$!
while [ ! -s "$WORK/ready.json" ]; do
    if ! kill -0 "$POP_PID" 2>/dev/null; then
        log "population failed:"; cat "$WORK/population.log" >&2; POP_PID=""; exit 1
    fi
    sleep 0.2
done
TOTAL=$(ss -tanH | wc -l)
log "population up; ss -tanH lists $TOTAL TCP sockets"

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
"$WATCH_BENCH" "$ROUNDS" >"$WORK/rounds.jsonl"
log "$(wc -l <"$WORK/rounds.jsonl") rounds timed"

python3 - "$WORK/rounds.jsonl" "$OUT_FILE" "$SIZE" "$TOTAL" "$LOAD" "$APPEND" "$WHERE" <<'PY'
import json, os, platform, statistics, subprocess, sys, time
rounds_file, out_file, size, total, load, append, where = sys.argv[1:8]
rows = [json.loads(l) for l in open(rounds_file) if l.strip()]
# Round 0 builds every row and process from nothing; the live view pays
# that once. Later rounds are the steady state.
steady = rows[1:]
def col(k):
    v = [r[k] for r in steady]
    return statistics.median(v), min(v), max(v)
def cell(k):
    med, lo, hi = col(k)
    return f"{med:.1f} ms ({lo:.1f}–{hi:.1f})"
med_total, _, max_total = col("total_cpu_ms")
walk = [r["total_cpu_ms"] for r in steady if r.get("walked")]
nowalk = [r["total_cpu_ms"] for r in steady if not r.get("walked")]
mean_total = statistics.mean(r["total_cpu_ms"] for r in steady)
def med(v):
    return f"{statistics.median(v):.1f} ms over {len(v)} rounds (max {max(v):.1f})" if v else "–"
target = 100.0 if int(size) >= 100000 else 50.0
verdict = "met" if med_total <= target else "missed"
rev = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(out_file)), "rev-parse", "--short", "HEAD"],
                     capture_output=True, text=True).stdout.strip()
cpus = os.cpu_count()
head = [
    "# `portscope watch`: cost of one refresh",
    "",
    "Written by `bench/watch.sh`. One refresh is what the live view does every",
    "interval, timed by the library's `watch_bench` example",
    "(crates/portscope/examples/watch_bench.rs): a snapshot without tcp_info",
    "and with owners (the /proc fd walk, on its own thread, when due),",
    "tracking against the previous refresh, the default order started from",
    "the last one (and kept as it is when the refresh changed nothing the",
    "order reads: `Tracker::settled`), and tcp_info with rates for the 46 rows of a 50-line",
    "screen, read by cookie (`collect::System::tcp_info`). Drawing the frame (about",
    "1 ms at 200x50) is not included. CPU is user + system of the whole",
    "process, both threads.",
    "",
]
lines = [
    f"## {size} TCP sockets",
    "",
    f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {rev or '?'}",
    f"- Machine: {cpus} CPUs, kernel {platform.release()}; load at start {load} (shared machine)",
    f"- Population: {size} TCP sockets on loopback (bench/population.py); `ss -tanH` listed {total} in all",
    f"- Where: population and view in {where}",
    f"- Rounds: {len(rows)} (the first, from an empty view, reported apart), 200 ms apart",
    "",
    "| part | median (min–max), steady rounds |",
    "|---|---:|",
    f"| snapshot, CPU | {cell('collect_cpu_ms')} |",
    f"| snapshot, wall | {cell('collect_wall_ms')} |",
    f"| tracking + sort + tcp_info of the page, CPU | {cell('ingest_cpu_ms')} |",
    f"| **one refresh, CPU** | **{cell('total_cpu_ms')}** |",
    f"| one refresh, wall | {cell('total_wall_ms')} |",
    "",
    f"First round (empty view): {rows[0]['total_cpu_ms']:.1f} ms CPU, {rows[0]['sockets']} sockets.",
    "",
    f"- refreshes without an fd walk: {med(nowalk)}",
    f"- refreshes with an fd walk: {med(walk)}",
    f"- mean over the steady rounds: {mean_total:.1f} ms",
    "",
    "| target | measured | status |",
    "|---|---|---|",
    f"| one refresh at {size} sockets ≤ {target:.0f} ms CPU | median {med_total:.1f} ms, max {max_total:.1f} ms | {verdict} (median) |",
    "",
]
if append == "1" and os.path.exists(out_file):
    open(out_file, "a").write("\n".join(lines))
else:
    open(out_file, "w").write("\n".join(head + lines))
print("\n".join(lines))
PY
