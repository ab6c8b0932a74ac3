#!/usr/bin/env bash
# Scale benchmark: portscope against ss, netstat and lsof on a loopback socket
# population of each requested size. See bench/README.md.
#
#   bench/run.sh [--quick] [--no-build] [--idle M] [--out FILE] [SIZE ...]
#
# SIZE counts TCP sockets as `ss -tan` shows them: SIZE/2 established loopback
# connections (both ends are on this machine). Default sizes: 10000 50000 100000.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

usage() {
    sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    cat <<'EOF'

Options:
  --quick       tiny smoke run (2000 sockets, 20 idle processes, 2 runs each);
                writes its report under bench/out/ only
  --no-build    do not run cargo; use $PORTSCOPE or target/release/portscope as is
  --idle M      idle processes (default 500)
  --out FILE    where to write the report (default bench/RESULTS.md)
Environment:
  PORTSCOPE     portscope binary (default: target/release/portscope, built first)
  CMD_TIMEOUT   seconds one command may take before it is dropped (default 300)
EOF
}

QUICK=0
BUILD=1
IDLE=500
OUT_FILE=""
SIZES=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --no-build) BUILD=0 ;;
        --idle) IDLE=$2; shift ;;
        --out) OUT_FILE=$2; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) SIZES+=("$1") ;;
    esac
    shift
done

CMD_TIMEOUT=${CMD_TIMEOUT:-300}
# hyperfine runs: slow = commands that resolve owners (-p / lsof), fast = no owners.
RUNS_SLOW=5 WARMUP_SLOW=1 RUNS_FAST=10 WARMUP_FAST=2 RUNS_JSON=5 WARMUP_JSON=1
if [ "$QUICK" = 1 ]; then
    [ ${#SIZES[@]} -gt 0 ] || SIZES=(2000)
    [ "$IDLE" != 500 ] || IDLE=20
    RUNS_SLOW=2 WARMUP_SLOW=0 RUNS_FAST=2 WARMUP_FAST=0 RUNS_JSON=2 WARMUP_JSON=0
fi
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 50000 100000)
for s in "${SIZES[@]}"; do
    case "$s" in ''|*[!0-9]*) echo "run.sh: size must be a number: $s" >&2; exit 2 ;; esac
    [ "$s" -le 400000 ] || { echo "run.sh: size $s is over the 400000 bound" >&2; exit 2; }
done

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT_DIR="$HERE/out/$STAMP"
mkdir -p "$OUT_DIR"
if [ -z "$OUT_FILE" ]; then
    if [ "$QUICK" = 1 ]; then OUT_FILE="$OUT_DIR/RESULTS.md"; else OUT_FILE="$HERE/RESULTS.md"; fi
fi
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---------------------------------------------------------------- tools
need_pkg() { # need_pkg PACKAGE FILE...
    local pkg=$1; shift
    local f missing=0
    for f in "$@"; do [ -x "$f" ] || command -v "$f" >/dev/null 2>&1 || missing=1; done
    [ "$missing" = 1 ] || return 0
    log "installing $pkg"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null 2>&1; then
        apt-get update -qq >/dev/null 2>&1 || true
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
    fi
}
need_pkg hyperfine hyperfine
need_pkg time /usr/bin/time
need_pkg iproute2 ss
need_pkg net-tools netstat
need_pkg lsof lsof
command -v python3 >/dev/null || { echo "run.sh: python3 is required" >&2; exit 1; }

# As many fds as we are allowed: the population's workers inherit this.
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
log "fd limit: soft $(ulimit -Sn), hard $(ulimit -Hn)"

# ---------------------------------------------------------------- portscope
PS_NOTE=""
if [ -z "${PORTSCOPE:-}" ]; then
    PORTSCOPE="$ROOT/target/release/portscope"
    if [ "$BUILD" = 1 ] && command -v cargo >/dev/null && [ -d "$ROOT/crates/portscope-cli" ]; then
        log "building portscope (cargo build --release -p portscope-cli)"
        if ! (cd "$ROOT" && cargo build --release -p portscope-cli) >"$OUT_DIR/build.log" 2>&1; then
            PS_NOTE="cargo build failed (see bench/out/$STAMP/build.log)"
        fi
    fi
fi
HAVE_PS=0
if [ -n "$PS_NOTE" ]; then :
elif [ ! -x "$PORTSCOPE" ]; then
    PS_NOTE="no portscope binary at $PORTSCOPE"
elif ! timeout 30 "$PORTSCOPE" -tan >"$OUT_DIR/portscope-check.out" 2>"$OUT_DIR/portscope-check.err"; then
    PS_NOTE="portscope -tan failed (see bench/out/$STAMP/portscope-check.err)"
elif [ ! -s "$OUT_DIR/portscope-check.out" ]; then
    PS_NOTE="portscope -tan printed nothing (not implemented yet?)"
else
    HAVE_PS=1
fi
if [ "$HAVE_PS" = 0 ]; then log "portscope skipped: $PS_NOTE"; fi

# ---------------------------------------------------------------- machine
python3 - "$OUT_DIR/machine.json" "$HAVE_PS" "$PS_NOTE" "$PORTSCOPE" "$QUICK" <<'EOF'
import json, os, platform, subprocess, sys, datetime
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
mem = sh("awk '/MemTotal/ {printf \"%.1f GiB\", $2/1048576}' /proc/meminfo")
info = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu, "memory": mem,
    "fd_limit": sh("ulimit -Sn") + " (hard " + sh("ulimit -Hn") + ")",
    "ephemeral_range": sh("cat /proc/sys/net/ipv4/ip_local_port_range").replace("\t", "-"),
    "versions": {
        "hyperfine": sh("hyperfine --version"),
        "ss": sh("ss -V"),
        "netstat": sh("netstat --version 2>&1 | head -1"),
        "lsof": sh("lsof -v 2>&1 | grep -m1 -i 'revision'").strip(),
        "python3": platform.python_version(),
        "portscope": sh(f"'{sys.argv[4]}' --version 2>/dev/null | head -1") if sys.argv[2] == "1" else "",
    },
    "git": sh("git -C '%s' rev-parse --short HEAD" % os.path.dirname(os.path.abspath(sys.argv[1]))),
    "have_portscope": sys.argv[2] == "1", "portscope_note": sys.argv[3],
    "quick": sys.argv[5] == "1",
}
json.dump(info, open(sys.argv[1], "w"), indent=1)
EOF

# ---------------------------------------------------------------- population
POP_PID=""
POP_PORTS=""
port_filter() { # ss filter matching every socket of the population's TCP ports
    local f="" p
    for p in $POP_PORTS; do f="$f${f:+ or }sport = :$p or dport = :$p"; done
    printf '( %s )' "$f"
}
teardown() {
    [ -n "$POP_PID" ] || return 0
    log "teardown: process group $POP_PID"
    kill -TERM -- "-$POP_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 100); do kill -0 -- "-$POP_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$POP_PID" 2>/dev/null || true
    wait "$POP_PID" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 -- "-$POP_PID" 2>/dev/null || break; sleep 0.1; done
    if [ -n "$POP_PORTS" ]; then
        for i in $(seq 1 100); do
            [ "$(ss -tanH "$(port_filter)" | wc -l)" -eq 0 ] && break
            sleep 0.1
        done
        local left
        left=$(ss -tanH "$(port_filter)" | wc -l)
        [ "$left" -eq 0 ] || log "WARNING: $left population sockets still present after teardown"
    fi
    if kill -0 -- "-$POP_PID" 2>/dev/null; then log "WARNING: processes left in group $POP_PID"; fi
    POP_PID=""
    POP_PORTS=""
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_population() { # start_population SIZE DIR
    local size=$1 dir=$2 conns=$(( $1 / 2 ))
    rm -f "$dir/ready.json"
    local t0
    t0=$(date +%s.%N)
    setsid python3 "$HERE/population.py" --connections "$conns" --idle "$IDLE" \
        --ready-file "$dir/ready.json" --timeout 600 --max-lifetime 7200 \
        >"$dir/population.log" 2>&1 </dev/null &
    POP_PID=$!
    while [ ! -s "$dir/ready.json" ]; do
        if ! kill -0 "$POP_PID" 2>/dev/null; then
            log "population failed:"; cat "$dir/population.log" >&2; POP_PID=""; return 1
        fi
        sleep 0.2
    done
    local t1
    t1=$(date +%s.%N)
    POP_PORTS=$(python3 -c 'import json,sys; print(*json.load(open(sys.argv[1]))["listener_ports"])' "$dir/ready.json")
    local want=$(( conns * 2 + $(wc -w <<<"$POP_PORTS") ))
    local total ours
    total=$(ss -tanH | wc -l)
    ours=$(ss -tanH "$(port_filter)" | wc -l)
    log "population up in $(python3 -c "print(round($t1-$t0,1))") s: ss -tanH | wc -l = $total, of which ours $ours (expected $want)"
    printf '{"ss_total": %s, "ss_ours": %s, "expected": %s, "wall_to_ready": %s}\n' \
        "$total" "$ours" "$want" "$(python3 -c "print(round($t1-$t0,3))")" >"$dir/check.json"
    if [ "$ours" -ne "$want" ]; then
        log "population check failed: $ours sockets on our ports, expected $want"
        return 1
    fi
}

# ---------------------------------------------------------------- measuring
# probe NAME CMD...: one run under /usr/bin/time -v (peak RSS, wall, exit code,
# output rows); prints "ok" if the command may join the hyperfine runs.
probe() {
    local name=$1; shift
    local f="$SIZE_DIR/probe-$name"
    local rc=0
    timeout "$CMD_TIMEOUT" /usr/bin/time -v -o "$f.time" "$@" >"$f.out" 2>"$f.err" || rc=$?
    local rows
    rows=$(wc -l <"$f.out")
    local objs=0
    case "$name" in *json*) objs=$(grep -o '"proto"' "$f.out" | wc -l || true) ;; esac
    python3 - "$f.time" "$name" "$rc" "$rows" "$objs" "$*" >>"$SIZE_DIR/probes.jsonl" <<'EOF'
import json, re, sys
path, name, rc, rows, objs, cmd = sys.argv[1:]
rss = wall = None
try:
    text = open(path).read()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    rss = int(m.group(1)) if m else None
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    if m:
        wall = 0.0
        for part in m.group(1).split(":"):
            wall = wall * 60 + float(part)
except OSError:
    pass
print(json.dumps({"name": name, "cmd": cmd, "rc": int(rc), "rss_kib": rss, "wall_s": wall,
                  "rows": int(rows), "json_objects": int(objs)}))
EOF
    rm -f "$f.out"
    if [ "$rc" = 124 ]; then log "$name: over ${CMD_TIMEOUT}s, dropped"; return 1; fi
    if [ "$rc" != 0 ]; then log "$name: exit $rc, dropped (stderr: $(head -c 200 "$f.err"))"; return 1; fi
    # A portscope that lists fewer sockets than the population holds is not
    # doing the work the peers do: do not time it.
    local seen=$rows
    case "$name" in *json*) seen=$objs ;; esac
    case "$name" in portscope*)
        if [ "$seen" -lt "$EXPECT_SOCKETS" ]; then
            log "$name: printed $seen sockets, fewer than the population's $EXPECT_SOCKETS: dropped"
            sed -i '$ s/"rc": 0,/"rc": 0, "short_output": true,/' "$SIZE_DIR/probes.jsonl"
            return 1
        fi ;;
    esac
    log "$name: $(tail -1 "$SIZE_DIR/probes.jsonl")"
}

# group NAME RUNS WARMUP "label|cmd" ...: one hyperfine run over the commands that
# passed their probe.
group() {
    local gname=$1 runs=$2 warmup=$3; shift 3
    local args=() spec n=0
    for spec in "$@"; do
        local label=${spec%%|*} cmd=${spec#*|}
        grep "\"name\": \"$label\", " "$SIZE_DIR/probes.jsonl" | grep -q '"rc": 0, "rss' || continue
        args+=(-n "$label" "$cmd")
        n=$((n + 1))
    done
    [ "$n" -gt 0 ] || return 0
    log "hyperfine $gname: $n commands, $runs runs, $warmup warmup (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    cut -d' ' -f1-3 /proc/loadavg >"$SIZE_DIR/$gname.load"
    # Other work on the machine may add sockets of its own: record the total.
    local before after
    before=$(ss -tanH | wc -l)
    hyperfine -N --style basic --output=null --runs "$runs" --warmup "$warmup" \
        --export-json "$SIZE_DIR/$gname.json" "${args[@]}" >"$SIZE_DIR/$gname.log" 2>&1 \
        || log "hyperfine $gname failed (see $SIZE_DIR/$gname.log)"
    after=$(ss -tanH | wc -l)
    echo "$before $after" >"$SIZE_DIR/$gname.sockets"
}

T_ALL=$(date +%s)
for SIZE in "${SIZES[@]}"; do
    SIZE_DIR="$OUT_DIR/$SIZE"
    mkdir -p "$SIZE_DIR"
    log "size $SIZE: $((SIZE / 2)) connections, $IDLE idle processes"
    if ! start_population "$SIZE" "$SIZE_DIR"; then teardown; continue; fi
    cp "$SIZE_DIR/ready.json" "$SIZE_DIR/population.json"
    : >"$SIZE_DIR/probes.jsonl"
    EXPECT_SOCKETS=$(( (SIZE / 2) * 2 ))

    P=()
    if [ "$HAVE_PS" = 1 ]; then
        probe portscope-tanp "$PORTSCOPE" -tanp || true
        probe portscope-tan "$PORTSCOPE" -tan || true
        probe portscope-tanp-json "$PORTSCOPE" -tanp --json || true
    fi
    probe ss-tanp ss -tanp || true
    probe ss-tan ss -tan || true
    probe netstat-tanp netstat -tanp || true
    probe lsof-nPi lsof -nPi || true

    group owners "$RUNS_SLOW" "$WARMUP_SLOW" \
        "portscope-tanp|$PORTSCOPE -tanp" "ss-tanp|ss -tanp" "netstat-tanp|netstat -tanp" "lsof-nPi|lsof -nPi"
    group no-owners "$RUNS_FAST" "$WARMUP_FAST" "portscope-tan|$PORTSCOPE -tan" "ss-tan|ss -tan"
    if [ "$HAVE_PS" = 1 ]; then
        group json "$RUNS_JSON" "$WARMUP_JSON" "portscope-tanp-json|$PORTSCOPE -tanp --json" "portscope-tanp|$PORTSCOPE -tanp"
    fi
    teardown
done
log "all sizes done in $(( $(date +%s) - T_ALL )) s"

python3 "$HERE/report.py" "$OUT_DIR" >"$OUT_FILE"
log "report written to $OUT_FILE (raw data in $OUT_DIR)"
