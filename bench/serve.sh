#!/usr/bin/env bash
# Cost of `portscope serve` at scale: how long a /metrics scrape takes
# (a copy of what the last refresh rendered) and what one refresh costs
# (snapshot with owners, the events engine's differ, the metrics pass,
# rendering; the audit when the listeners changed), side by side with
# `ss -tanp` on the same population, in a network namespace of its own
# holding SIZE TCP sockets (bench/population.py).
# Writes bench/SERVE-RESULTS.md (or appends with --append).
#
#   bench/serve.sh [--no-build] [--scrapes N] [--out FILE] [--append] [SIZE]
#
# SIZE counts TCP sockets (default 100000: 50000 connections). Targets:
# /metrics under 50 ms at 100k sockets; a refresh within the live view's
# budget (100 ms CPU median at 100k, bench/WATCH-RESULTS.md).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=1 SCRAPES=200 SIZE=100000 OUT_FILE="$HERE/SERVE-RESULTS.md" APPEND=0 INTERVAL=2
ARGS=("$@")
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --scrapes) SCRAPES=$2; shift ;;
        --out) OUT_FILE=$2; shift ;;
        --append) APPEND=1 ;;
        -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "serve.sh: unknown option $1" >&2; exit 2 ;;
        *) SIZE=$1 ;;
    esac
    shift
done
case "$SIZE$SCRAPES" in *[!0-9]*) echo "serve.sh: SIZE and --scrapes are numbers" >&2; exit 2 ;; esac
log() { printf '[serve.sh] %s\n' "$*" >&2; }

PORTSCOPE=${PORTSCOPE:-$ROOT/target/release/portscope}
if [ -z "${SERVE_BENCH_INSIDE:-}" ]; then
    if [ "$BUILD" = 1 ]; then
        log "building the release binary"
        (cd "$ROOT" && cargo build --release --locked -q -p portscope-cli)
    fi
    [ "$(id -u)" = 0 ] || { log "needs root (it makes a network namespace)"; exit 1; }
    NS="psbench-serve-$$"
    ip netns add "$NS"
    trap 'ip netns del "$NS" 2>/dev/null || true' EXIT
    ip -n "$NS" link set lo up
    SERVE_BENCH_INSIDE=1 PORTSCOPE="$PORTSCOPE" ip netns exec "$NS" "${BASH_SOURCE[0]}" --no-build "${ARGS[@]}"
    exit $?
fi

[ -x "$PORTSCOPE" ] || { log "no binary at $PORTSCOPE"; exit 1; }
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
WORK=$(mktemp -d)
POP_PID="" SERVE_PID=""
teardown() {
    [ -z "$SERVE_PID" ] || { kill -TERM "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; }
    if [ -n "$POP_PID" ]; then
        kill -TERM -- "-$POP_PID" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 -- "-$POP_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$POP_PID" 2>/dev/null || true
        wait "$POP_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "starting a population of $SIZE TCP sockets"
setsid python3 "$HERE/population.py" --connections $((SIZE / 2)) --idle 100 \
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

"$PORTSCOPE" serve --listen 127.0.0.1:0 --interval "$INTERVAL" 2>"$WORK/serve.log" &
SERVE_PID=$!
while ! grep -q 'http://' "$WORK/serve.log"; do sleep 0.1; done
ADDR=$(sed -n 's|.*http://\([^/]*\)/.*|\1|p' "$WORK/serve.log" | head -1)
log "serve at $ADDR"

# ss with processes, as a peer for the refresh.
SS_MS=$(python3 - <<'PY'
import statistics, subprocess, time
t = []
for _ in range(3):
    a = time.perf_counter()
    subprocess.run(["ss", "-tanp"], stdout=subprocess.DEVNULL, check=True)
    t.append((time.perf_counter() - a) * 1000)
print(f"{statistics.median(t):.1f}")
PY
)

python3 - "$ADDR" "$SCRAPES" "$OUT_FILE" "$SIZE" "$TOTAL" "$LOAD" "$APPEND" "$SS_MS" "$SERVE_PID" "$INTERVAL" <<'PY'
import http.client, os, platform, statistics, subprocess, sys, time
addr, scrapes, out_file, size, total, load, append, ss_ms, pid, interval = sys.argv[1:11]
def cpu_ms():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / os.sysconf("SC_CLK_TCK")
host, port = addr.rsplit(":", 1)
def get(conn, path, accept="text/plain"):
    a = time.perf_counter()
    conn.request("GET", path, headers={"Accept": accept})
    r = conn.getresponse()
    body = r.read()
    return (time.perf_counter() - a) * 1000, r.status, body
conn = http.client.HTTPConnection(host, int(port), timeout=120)
# Refreshes at the full population; the first two (the baseline, and the
# differ learning every socket) are not steady.
deadline = time.time() + 900
def refresh_s():
    _, _, b = get(conn, "/metrics")
    vals = {}
    for line in b.decode().splitlines():
        if line.startswith(("portscope_scrape_duration_seconds ", "portscope_last_refresh_timestamp_seconds ")):
            k, v = line.split(" ")
            vals[k] = float(v)
    return vals
seen = set()
durations = []
cpu_marks = []
ROUNDS = 32
while len(durations) < ROUNDS and time.time() < deadline:
    v = refresh_s()
    at = v.get("portscope_last_refresh_timestamp_seconds", 0)
    if at and at not in seen:
        seen.add(at)
        durations.append(v["portscope_scrape_duration_seconds"] * 1000)
        cpu_marks.append(cpu_ms())
    time.sleep(0.1)
steady = durations[2:] or durations
# CPU of the whole server from one refresh seen to the next: one refresh
# and the idle time around it (the polling scrapes cost microseconds).
cpu_each = [b - a for a, b in zip(cpu_marks[1:], cpu_marks[2:])] or [0.0]
cpu_per = statistics.median(cpu_each)
metrics = [get(conn, "/metrics")[0] for _ in range(int(scrapes))]
om = [get(conn, "/metrics", "application/openmetrics-text;version=1.0.0")[0] for _ in range(int(scrapes))]
snap = [get(conn, "/api/v1/snapshot") for _ in range(5)]
filt = [get(conn, "/api/v1/snapshot?filter=state%20listening") for _ in range(5)]
size_m = len(get(conn, "/metrics")[2])
rss_mb = next((int(l.split()[1]) / 1024 for l in open(f"/proc/{pid}/status") if l.startswith("VmRSS:")), 0.0)
print("CPU per refresh, ms:", " ".join(f"{c:.0f}" for c in cpu_each), file=sys.stderr)
def p(v, q):
    v = sorted(v); return v[min(len(v) - 1, int(q * len(v)))]
med_ref = statistics.median(steady)
rev = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(out_file)), "rev-parse", "--short", "HEAD"],
                     capture_output=True, text=True).stdout.strip()
head = [
    "# `portscope serve`: cost of a scrape and of a refresh",
    "",
    "Written by `bench/serve.sh`, in a network namespace of its own holding a",
    "loopback population (bench/population.py). A scrape copies the bytes the",
    "last refresh rendered; the refresh runs on its own thread every",
    f"--interval (here {interval} s) and is what `portscope_scrape_duration_seconds`",
    "reports (wall time: snapshot with owners by the incremental walk, no",
    "tcp_info; the events engine's differ; the metrics pass; the audit when",
    "the listeners changed; the listing JSON is written by the first request",
    "that asks for it after a refresh). The CPU of a refresh is the whole",
    "server's (every thread, /proc/PID/stat, in clock ticks of 10 ms: the",
    "median is as coarse, the mean is not) from one refresh to the next.",
    "`ss -tanp` on the same population is the peer (processes too).",
    "Times are wall clock, one client, keep-alive, release build.",
    "",
]
lines = [
    f"## {size} TCP sockets",
    "",
    f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit {rev or '?'}",
    f"- Machine: {os.cpu_count()} CPUs, kernel {platform.release()}; load at start {load} (shared machine)",
    f"- Population: `ss -tanH` listed {total} TCP sockets in the namespace",
    "",
    "| what | median | p99 | max |",
    "|---|---:|---:|---:|",
    f"| GET /metrics, text 0.0.4 ({size_m} bytes), {scrapes}x | {statistics.median(metrics):.2f} ms | {p(metrics, .99):.2f} ms | {max(metrics):.2f} ms |",
    f"| GET /metrics, OpenMetrics, {scrapes}x | {statistics.median(om):.2f} ms | {p(om, .99):.2f} ms | {max(om):.2f} ms |",
    f"| GET /api/v1/snapshot ({len(snap[0][2])} bytes), 5x | {statistics.median(t for t, _, _ in snap):.1f} ms | | {max(t for t, _, _ in snap):.1f} ms |",
    f"| GET /api/v1/snapshot?filter=state listening, 5x | {statistics.median(t for t, _, _ in filt):.1f} ms | | {max(t for t, _, _ in filt):.1f} ms |",
    f"| one refresh (server thread), wall, {len(steady)} steady | {med_ref:.0f} ms | | {max(steady):.0f} ms |",
    f"| one refresh, CPU of the whole server, {len(cpu_each)} steady (mean {statistics.mean(cpu_each):.1f} ms) | {cpu_per:.0f} ms | | {max(cpu_each):.0f} ms |",
    f"| `ss -tanp` (peer), 3x | {float(ss_ms):.0f} ms | | |",
    f"| resident memory of the server, at the end | {rss_mb:.0f} MiB | | |",
    "",
    f"Refresh / `ss -tanp`: {med_ref / float(ss_ms):.3f}x.",
    "",
    "| target | measured | status |",
    "|---|---|---|",
    f"| /metrics under 50 ms at {size} sockets | p99 {p(metrics, .99):.2f} ms | {'met' if p(metrics, .99) < 50 else 'missed'} |",
    f"| a refresh within the live view's budget (100 ms CPU median at 100k, bench/watch.sh) | median {cpu_per:.0f} ms CPU | {'met' if cpu_per <= 100 else 'missed'} |",
    "",
]
if append == "1" and os.path.exists(out_file):
    open(out_file, "a").write("\n".join(lines))
else:
    open(out_file, "w").write("\n".join(head + lines))
print("\n".join(lines))
PY
