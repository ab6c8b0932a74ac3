#!/usr/bin/env bash
# Scan benchmark: `portscope scan` against nmap's TCP connect scan and a plain
# sequential Python connect loop, all 65535 TCP ports of 127.0.0.1, same run.
# See bench/README.md ("scan.sh").
#
#   bench/scan.sh [--no-build] [--runs N] [--out FILE]
#
# Traffic stays on loopback: every command targets 127.0.0.1 only.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
. "$HERE/lib.sh"
BENCH=scan-bench

BUILD=1
RUNS=10
OUT_FILE="$HERE/SCAN-RESULTS.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --runs) RUNS=$2; shift ;;
        --out) OUT_FILE=$2; shift ;;
        -h|--help) bench_help 2 9; exit 0 ;;
        *) echo "scan.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
case "$RUNS" in ''|*[!0-9]*) echo "scan.sh: --runs needs a number" >&2; exit 2 ;; esac

log() { bench_log "$@"; }

need_pkg() { # need_pkg PACKAGE COMMAND
    command -v "$2" >/dev/null 2>&1 && return 0
    log "installing $1"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null 2>&1; then
        apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
    fi
}
need_pkg nmap nmap
need_pkg hyperfine hyperfine
need_pkg iproute2 ss

PORTSCOPE=${PORTSCOPE:-$ROOT/target/release/portscope}
if [ "$BUILD" = 1 ]; then
    log "building portscope (release)"
    (cd "$ROOT" && cargo build --release -q -p portscope-cli)
fi
[ -x "$PORTSCOPE" ] || { echo "scan.sh: no portscope binary at $PORTSCOPE" >&2; exit 2; }

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT_DIR="$HERE/out/scan-$STAMP"
mkdir -p "$OUT_DIR"

# ------------------------------------------------------------ fixture
# A few listeners spread over the port space (low, middle, high), so "every
# open port found" is checked against ports we know are open.
cat > "$OUT_DIR/listeners.py" <<'EOF'
import socket, sys, time
ports, socks = [], []
for want in (0, 0, 0, 0, 0):
    s = socket.socket()
    s.bind(("127.0.0.1", want))
    s.listen(64)
    socks.append(s)
    ports.append(s.getsockname()[1])
for want in (1023, 40000, 65535):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", want))
        s.listen(64)
        socks.append(s)
        ports.append(want)
    except OSError:
        s.close()
# Accept and drop every connection, so the accept queues never fill (a full
# queue drops SYNs and a blocking connect would hang on it).
import selectors, threading
def drain():
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            try:
                c, _ = key.fileobj.accept()
                c.close()
            except OSError:
                pass
threading.Thread(target=drain, daemon=True).start()
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(" ".join(map(str, ports)))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(float(sys.argv[2]))
EOF
cat > "$OUT_DIR/seq.py" <<'EOF'
# A plain sequential loop of blocking connects: the simplest scanner there is.
import socket, sys
found = []
for port in range(1, 65536):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        found.append(port)
    except OSError:
        pass
    s.close()
if len(sys.argv) > 1:
    print(" ".join(map(str, found)))
EOF

FIXTURE_PID=""
cleanup() { [ -z "$FIXTURE_PID" ] || kill "$FIXTURE_PID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
python3 "$OUT_DIR/listeners.py" "$OUT_DIR/ports" 1800 &
FIXTURE_PID=$!
for _ in $(seq 100); do [ -f "$OUT_DIR/ports" ] && break; sleep 0.05; done
[ -f "$OUT_DIR/ports" ] || { echo "scan.sh: the fixture listeners did not start" >&2; exit 3; }
FIXTURE=$(cat "$OUT_DIR/ports")
log "fixture listeners on 127.0.0.1: $FIXTURE"

# ------------------------------------------------------------ correctness
PS_CMD="$PORTSCOPE scan 127.0.0.1 -p all --no-probe"
NMAP_CMD="nmap -sT -p- -n 127.0.0.1"
SEQ_CMD="python3 $OUT_DIR/seq.py"

"$PORTSCOPE" scan 127.0.0.1 -p all --no-probe --open --json > "$OUT_DIR/portscope.json" || true
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(str(p["port"]) for p in d["hosts"][0]["ports"] if p["state"]=="open"))' \
    "$OUT_DIR/portscope.json" > "$OUT_DIR/portscope.open"
nmap -sT -p- -n -oG - 127.0.0.1 > "$OUT_DIR/nmap.grep"
python3 - "$OUT_DIR/nmap.grep" > "$OUT_DIR/nmap.open" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
print(" ".join(m.group(1) for m in re.finditer(r"(\d+)/open/tcp", text)))
EOF
python3 "$OUT_DIR/seq.py" print > "$OUT_DIR/seq.open"
ss -H -tln | awk '$4 ~ /^(127\.0\.0\.1|0\.0\.0\.0|\[::\]|\*):/ {print $4}' | sed 's/.*://' | sort -n | uniq | tr '\n' ' ' > "$OUT_DIR/ss.open"

# ------------------------------------------------------------ timing
log "timing ($RUNS runs each, 2 warm-ups)"
hyperfine -N --warmup 2 --runs "$RUNS" -i \
    --export-json "$OUT_DIR/hyperfine.json" \
    -n portscope "$PS_CMD" \
    -n "portscope (with identification)" "$PORTSCOPE scan 127.0.0.1 -p all --banner-timeout 300 --timeout 300" \
    -n nmap "$NMAP_CMD" \
    -n "python sequential" "$SEQ_CMD" \
    > "$OUT_DIR/hyperfine.txt" 2>&1
LOAD=$(bench_load)

python3 - "$OUT_DIR" "$OUT_FILE" "$FIXTURE" "$LOAD" "$RUNS" <<'EOF'
import json, os, platform, subprocess, sys, datetime
out_dir, out_file, fixture, load, runs = sys.argv[1:6]
fixture = set(map(int, fixture.split()))
def ports(name):
    return set(map(int, open(os.path.join(out_dir, name)).read().split()))
found = {k: ports(f"{k}.open") for k in ("portscope", "nmap", "seq", "ss")}
res = json.load(open(os.path.join(out_dir, "hyperfine.json")))["results"]
med = {r["command"]: r["median"] for r in res}
mean = {r["command"]: (r["mean"], r["stddev"] or 0.0) for r in res}
ps = med["portscope"]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip()
nmap_v = subprocess.run(["nmap", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
lines = []
w = lines.append
w("# Scan benchmark: all 65535 TCP ports of 127.0.0.1")
w("")
w(f"Written by `bench/scan.sh` on {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}; "
  f"{os.cpu_count()} cores ({cpu}), kernel {platform.release()}, {nmap_v}; "
  f"load average at the end {load}. hyperfine, {runs} runs after 2 warm-ups, commands run one after another.")
w("")
w("| command | median | mean ± sd | portscope is |")
w("|---|---:|---:|---:|")
for r in res:
    c = r["command"]
    m, sd = mean[c]
    ratio = "—" if c == "portscope" else f"{med[c] / ps:.1f}x faster"
    if c == "portscope (with identification)":
        ratio = "(same tool, greeting read and probes on the open ports)"
    w(f"| {c} | {med[c]*1000:.0f} ms | {m*1000:.0f} ± {sd*1000:.0f} ms | {ratio} |")
w("")
w("Commands: `portscope scan 127.0.0.1 -p all --no-probe`; "
  "`nmap -sT -p- -n 127.0.0.1`; a Python loop of blocking `connect` calls, one port after another.")
w("")
target_ok = ps <= 0.6
ratio_ok = med["nmap"] / ps >= 3
w(f"- Target 0.6 s for the whole range: **{'met' if target_ok else 'missed'}** (median {ps*1000:.0f} ms).")
w(f"- Target at least 3x faster than nmap: **{'met' if ratio_ok else 'missed'}** ({med['nmap']/ps:.1f}x).")
missing = {k: sorted(fixture - v) for k, v in found.items() if k != "ss"}
w(f"- Every open port found: fixture listeners {sorted(fixture)}; "
  + "; ".join(f"{k} missed {m if m else 'none'}" for k, m in missing.items()) + ".")
extra = {k: sorted(v - found["ss"]) for k, v in found.items() if k != "ss"}
w(f"- Open ports per tool: portscope {sorted(found['portscope'])}; nmap {sorted(found['nmap'])}; "
  f"python {sorted(found['seq'])}; ss lists as listening on 127.0.0.1 or a wildcard {sorted(found['ss'])}.")
w("- Reported open with no listener (ss): " + "; ".join(f"{k} {m if m else 'none'}" for k, m in extra.items())
  + ". A port here from the Python loop is a TCP self-connect: a connect to a free port in the "
  "ephemeral range that picked that same port as its source connects to itself. portscope "
  "detects that case and reports it closed.")
w("- The tools run one after another and other work on the machine opens and closes "
  "listeners meanwhile, so their lists can differ by such short-lived ports; the fixture "
  "ports are there throughout.")
w("")
w("Raw data: `bench/out/scan-<timestamp>/` (hyperfine export and text, each tool's open ports).")
# Sections after the generated part ("## ..."), written by hand or by
# bench/scan-id.sh, are kept.
try:
    old = open(out_file).read()
    at = old.find("\n## ")
    kept = old[at:] if at >= 0 else ""
except OSError:
    kept = ""
open(out_file, "w").write("\n".join(lines) + "\n" + kept)
print("\n".join(lines))
EOF
log "report: $OUT_FILE"
