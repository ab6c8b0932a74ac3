#!/usr/bin/env bash
# Packet, netlink and MPTCP listings against ss, on a population made in a
# network namespace of the script's own (so nothing else on the machine is
# counted): N packet sockets (half on ETH_P_ALL, half bound to lo), N
# netlink sockets and N/2 MPTCP connections (N MPTCP sockets plus a
# listener). Writes bench/FAMILIES-RESULTS.md (or --out FILE).
#
#   bench/families.sh [--no-build] [--runs R] [--out FILE] [N]   (default N=2000)
#
# Needs root, iproute2, python3 and hyperfine. The namespace and the
# population are removed when the script ends, however it ends.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
. "$HERE/lib.sh"
BENCH=families.sh
BUILD=1
RUNS=10
OUT="$HERE/FAMILIES-RESULTS.md"
N=2000
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --runs) RUNS=$2; shift ;;
        --out) OUT=$2; shift ;;
        -h|--help) bench_help 2 11; exit 0 ;;
        *) N=$1 ;;
    esac
    shift
done
bench_need ip iproute2
bench_need ss iproute2
bench_need python3 python3
bench_need hyperfine hyperfine
PORTSCOPE=${PORTSCOPE:-$ROOT/target/release/portscope}
bench_build

NS="psbench-fam-$$"
POP=""
cleanup() {
    [ -n "$POP" ] && kill "$POP" 2>/dev/null && wait "$POP" 2>/dev/null
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
echo 1 | ip netns exec "$NS" tee /proc/sys/net/mptcp/enabled >/dev/null

FIFO=$(mktemp -u)
mkfifo "$FIFO"
ip netns exec "$NS" python3 - "$N" >"$FIFO" <<'EOF' &
import resource, socket, sys, time
n = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_NOFILE, (4 * n + 64, 4 * n + 64))
keep = []
for i in range(n):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    if i % 2:
        s.bind(("lo", 0))
    keep.append(s)
for i in range(n):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    s.bind((0, 1))
    keep.append(s)
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
l.bind(("127.0.0.1", 0)); l.listen(n); keep.append(l)
for i in range(n // 2):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
    c.connect(l.getsockname()); a, _ = l.accept(); keep += [c, a]
print("ready", flush=True)
time.sleep(86400)
EOF
POP=$!
read -r line <"$FIFO"
rm -f "$FIFO"
[ "$line" = ready ] || { echo "families.sh: the population failed" >&2; exit 3; }

count() { ip netns exec "$NS" "$@" | wc -l; }
echo "population: $(count ss -0 -a -n -H) packet, $(count ss -A netlink -a -n -H) netlink, $(count ss -M -a -n -H) MPTCP sockets" >&2

JSON=$(mktemp)
ip netns exec "$NS" hyperfine -N --warmup 2 --runs "$RUNS" --export-json "$JSON" \
    -n "portscope -0 -n" "$PORTSCOPE -0 -n" \
    -n "ss -0 -a -n" "ss -0 -a -n" \
    -n "portscope --netlink -n" "$PORTSCOPE --netlink -n" \
    -n "ss -A netlink -a -n" "ss -A netlink -a -n" \
    -n "portscope -M -n" "$PORTSCOPE -M -n" \
    -n "ss -M -a -n" "ss -M -a -n" \
    -n "portscope -0 -p -n" "$PORTSCOPE -0 -p -n" \
    -n "ss -0 -a -p -n" "ss -0 -a -p -n" >&2

{
    echo "# Packet, netlink and MPTCP listings against ss"
    echo
    echo "bench/families.sh $N: $N packet sockets (half on ETH_P_ALL, half bound to lo), $N netlink sockets, $((N / 2)) MPTCP connections and a listener, in a namespace of the script's own; hyperfine, $RUNS runs after 2 warm-ups, mean wall time."
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- commit: $(bench_commit)"
    echo "- machine: $(nproc) cores, load average $(bench_load) at the end (shared with other builds)"
    echo
    python3 - "$JSON" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
print("| listing | portscope | ss | ratio |")
print("|---|---:|---:|---:|")
for ours, theirs in [("portscope -0 -n", "ss -0 -a -n"), ("portscope --netlink -n", "ss -A netlink -a -n"),
                     ("portscope -M -n", "ss -M -a -n"), ("portscope -0 -p -n", "ss -0 -a -p -n")]:
    a, b = r[ours]["mean"], r[theirs]["mean"]
    print(f"| `{ours}` vs `{theirs}` | {a*1000:.1f} ms | {b*1000:.1f} ms | {a/b:.2f} |")
EOF
} >"$OUT"
rm -f "$JSON"
cat "$OUT"
