#!/bin/sh
# Reverse lookups against a real DNS server (dnsmasq) in a network namespace
# of this script's own, with its own resolv.conf, hosts and nsswitch.conf
# (ip netns exec bind-mounts /etc/netns/NAME/*), never the machine's resolver.
# Usage: bench/resolve/run.sh [N]   (root; dnsmasq, iproute2)
set -eu
n=${1:-1000}
here=$(cd "$(dirname "$0")" && pwd)
ns=portscope-resolve-bench-$$
work=$(mktemp -d)
# dnsmasq reads the zone after dropping its privileges.
chmod 755 "$work"
cleanup() {
    [ -n "${dns:-}" ] && kill "$dns" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns" "$work"
}
trap cleanup EXIT INT TERM
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$work/target} cargo build --release --manifest-path "$here/Cargo.toml" -q
bin=${CARGO_TARGET_DIR:-$work/target}/release/resolve-bench
cp "$bin" "$work/resolve-bench"
ip netns add "$ns"
ip -n "$ns" link set lo up
mkdir -p "/etc/netns/$ns"
printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' > "/etc/netns/$ns/resolv.conf"
printf '127.0.0.1 localhost\n' > "/etc/netns/$ns/hosts"
printf 'hosts: files dns\n' > "/etc/netns/$ns/nsswitch.conf"
i=0
while [ "$i" -lt "$n" ]; do
    echo "10.77.$((i / 250)).$((i % 250 + 1)) h$i.bench.test"
    i=$((i + 1))
done > "$work/zone"
ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
    --addn-hosts="$work/zone" --listen-address=127.0.0.1 --bind-interfaces --port=53 \
    --pid-file= --cache-size=0 >/dev/null 2>&1 &
dns=$!
sleep 1
ip netns exec "$ns" "$work/resolve-bench" "$n"
