#!/usr/bin/env bash
# Identification benchmark: `portscope scan` against `nmap -sV` on real
# Debian daemons (the set of crates/portscope-cli/tests/real_services.rs),
# same ports, same run, port by port. See bench/README.md ("scan-id.sh").
#
#   bench/scan-id.sh [--no-build] [--runs N] [--out FILE]
#
# Every daemon runs on 127.0.0.1 of a network namespace made here, and both
# scanners run inside it: no traffic leaves it. Needs root and the packages
# of .ci/packages/scanid.txt. Writes the "Identification" section of
# bench/SCAN-RESULTS.md (the rest of the file is kept).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
. "$HERE/lib.sh"
BENCH=scan-id
BUILD=1
RUNS=3
OUT_FILE="$HERE/SCAN-RESULTS.md"
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) BUILD=0 ;;
        --runs) RUNS=$2; shift ;;
        --out) OUT_FILE=$2; shift ;;
        -h|--help) bench_help 2 12; exit 0 ;;
        *) echo "scan-id.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
case "$RUNS" in ''|*[!0-9]*|0) echo "scan-id.sh: --runs needs a number > 0" >&2; exit 2 ;; esac
log() { bench_log "$@"; }

bench_build
BIN="$ROOT/target/release/portscope"
[ -x "$BIN" ] || { echo "scan-id.sh: $BIN missing (build without --no-build)" >&2; exit 2; }

NS="portscope-bench-scanid-$$"
D=$(mktemp -d /tmp/portscope-scanid.XXXXXX)
chmod 755 "$D"
OUT_DIR="$ROOT/bench/out/scan-id-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT_DIR"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    [ -f "$D/pfq/pid/master.pid" ] && kill "$(tr -d ' ' < "$D/pfq/pid/master.pid")" 2>/dev/null || true
    sleep 1
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$D"
}
trap cleanup EXIT
ip netns add "$NS"
ip -n "$NS" link set lo up
X=(ip netns exec "$NS")
# Each daemon in a session of its own: smbd, stopping, signals its whole
# process group, which must not be this script's.
run() { local name=$1; shift; setsid "${X[@]}" "$@" >"$D/$name.log" 2>&1 & PIDS+=($!); disown; }

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/key.pem" -out "$D/cert.pem" -days 2 \
    -subj /CN=scan.test -addext subjectAltName=DNS:scan.test,IP:127.0.0.1 2>/dev/null
chmod 644 "$D/key.pem"

mkdir -p "$D/empty"
printf 'listen=YES\nlisten_address=127.0.0.1\nlisten_port=21\nbackground=NO\nanonymous_enable=YES\nno_anon_password=YES\nanon_root=%s\nlocal_enable=NO\nsecure_chroot_dir=%s\nrun_as_launching_user=YES\n' "$D/empty" "$D/empty" > "$D/vsftpd.conf"
run vsftpd /usr/sbin/vsftpd "$D/vsftpd.conf"

ssh-keygen -q -t ed25519 -N '' -f "$D/ssh_key"
mkdir -p /run/sshd
printf 'Port 22\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s\nUsePAM no\n' "$D/ssh_key" "$D/sshd.pid" > "$D/sshd_config"
run sshd /usr/sbin/sshd -D -e -f "$D/sshd_config"

mkdir -p "$D/pf" "$D/pfq" "$D/pfdata"; chown postfix "$D/pfdata"
sed 's/^\(smtp *inet *n *- *\)y/\1n/' /usr/share/postfix/master.cf.dist > "$D/pf/master.cf"
printf '465       inet  n       -       n       -       -       smtpd\n  -o smtpd_tls_wrappermode=yes\n  -o smtpd_tls_security_level=encrypt\n  -o smtpd_tls_cert_file=%s\n  -o smtpd_tls_key_file=%s\n' "$D/cert.pem" "$D/key.pem" >> "$D/pf/master.cf"
printf 'compatibility_level = 3.6\nqueue_directory = %s\ndata_directory = %s\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\nmyhostname = scan.test\nmydestination =\nmaillog_file = /dev/stdout\n' "$D/pfq" "$D/pfdata" > "$D/pf/main.cf"
run postfix postfix -c "$D/pf" start-fg

run dnsmasq dnsmasq -k --conf-file=/dev/null --listen-address=127.0.0.1 --bind-interfaces --port=53 \
    --no-resolv --no-hosts --user=root --dhcp-range=127.0.0.50,127.0.0.60 --pid-file="$D/dnsmasq.pid"

mkdir -p "$D/nginx"
cat > "$D/nginx.conf" <<NGINX
daemon off; pid $D/nginx/pid; error_log $D/nginx/error.log;
events {}
http { access_log off;
  client_body_temp_path $D/nginx/b; proxy_temp_path $D/nginx/p; fastcgi_temp_path $D/nginx/f; uwsgi_temp_path $D/nginx/u; scgi_temp_path $D/nginx/s;
  server { listen 127.0.0.1:80; location / { return 200 "ok"; } }
  server { listen 127.0.0.1:443 ssl; ssl_certificate $D/cert.pem; ssl_certificate_key $D/key.pem; location / { return 200 "ok"; } } }
NGINX
run nginx nginx -c "$D/nginx.conf" -p "$D/nginx"

mkdir -p "$D/dc/run" "$D/dc/state" "$D/dc/home"
l() { printf '  inet_listener %s {\n    address = 127.0.0.1\n    port = %s\n%s  }\n' "$1" "$2" "$3"; }
{
    printf 'protocols = imap pop3\nlisten = 127.0.0.1\nbase_dir = %s\nstate_dir = %s\nlog_path = /dev/stderr\n' "$D/dc/run" "$D/dc/state"
    printf 'ssl = yes\nssl_cert = <%s\nssl_key = <%s\ndefault_internal_user = dovenull\ndefault_login_user = dovenull\n' "$D/cert.pem" "$D/key.pem"
    printf 'passdb {\n  driver = static\n  args = nopassword=n\n}\nuserdb {\n  driver = static\n  args = uid=nobody gid=nogroup home=%s\n}\n' "$D/dc/home"
    printf 'service imap-login {\n'; l imap 143 ''; l imaps 993 '    ssl = yes
'; printf '}\n'
    printf 'service pop3-login {\n'; l pop3 110 ''; l pop3s 995 '    ssl = yes
'; printf '}\n'
} > "$D/dovecot.conf"
run dovecot dovecot -F -c "$D/dovecot.conf"

printf 'port 123\nbindaddress 127.0.0.1\nallow 127.0.0.1\nlocal stratum 8\ncmdport 0\npidfile %s\ndriftfile %s\n' "$D/chronyd.pid" "$D/drift" > "$D/chrony.conf"
run chronyd chronyd -d -x -u root -f "$D/chrony.conf"

mkdir -p "$D/slapd"
printf 'include /etc/ldap/schema/core.schema\npidfile %s\nargsfile %s\nTLSCertificateFile %s\nTLSCertificateKeyFile %s\n' "$D/slapd/pid" "$D/slapd/args" "$D/cert.pem" "$D/key.pem" > "$D/slapd.conf"
run slapd slapd -d 0 -f "$D/slapd.conf" -h "ldap://127.0.0.1:389/ ldaps://127.0.0.1:636/"

PG=$(ls -d /usr/lib/postgresql/*/bin | head -1)
mkdir -p "$D/pg"; chown postgres "$D/pg"
setpriv --reuid=postgres --regid=postgres --clear-groups -- "$PG/initdb" -A reject -U postgres -D "$D/pg/data" >/dev/null
run postgres setpriv --reuid=postgres --regid=postgres --clear-groups -- "$PG/postgres" -D "$D/pg/data" -k "$D/pg" -c listen_addresses=127.0.0.1 -c port=5432

mkdir -p "$D/maria"
run mariadb mariadbd --no-defaults --datadir="$D/maria" --socket="$D/maria.sock" --pid-file="$D/maria.pid" --port=3306 --bind-address=127.0.0.1 --user=root --skip-grant-tables
run redis redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no --daemonize no --dir "$D"
run memcached memcached -u root -l 127.0.0.1 -p 11211 -U 11211
printf 'rocommunity public 127.0.0.1\nsmuxsocket 127.0.0.1\n' > "$D/snmpd.conf"
run snmpd snmpd -f -Lo -C -c "$D/snmpd.conf" -p "$D/snmpd.pid" udp:127.0.0.1:161
printf 'pid file = %s\nuse chroot = no\n[pub]\npath = %s\nread only = yes\n' "$D/rsyncd.pid" "$D/empty" > "$D/rsyncd.conf"
run rsync rsync --daemon --no-detach --port=873 --address=127.0.0.1 --config="$D/rsyncd.conf"
printf 'listener 1883 127.0.0.1\nallow_anonymous false\npersistence false\nlog_dest stderr\n' > "$D/mosquitto.conf"
run mosquitto mosquitto -c "$D/mosquitto.conf"
run nats nats-server -a 127.0.0.1 -p 4222

mkdir -p "$D/smb/priv" "$D/smb/lock" "$D/smb/state" "$D/smb/cache" "$D/smb/log"
S="$D/smb"
printf '[global]\ninterfaces = 127.0.0.1\nbind interfaces only = yes\nsmb ports = 445\nprivate dir = %s/priv\nlock directory = %s/lock\nstate directory = %s/state\ncache directory = %s/cache\npid directory = %s/lock\nncalrpc dir = %s/lock/ncalrpc\nlog file = %s/log/%%m.log\ndisable netbios = yes\nserver role = standalone server\nload printers = no\nprinting = bsd\nprintcap name = /dev/null\ndisable spoolss = yes\n[share]\npath = %s\nread only = yes\n' "$S" "$S" "$S" "$S" "$S" "$S" "$S" "$D/empty" > "$D/smb.conf"
run smbd smbd -F --no-process-group --debug-stdout -s "$D/smb.conf"

TCP=21,22,25,53,80,445,465,110,143,199,389,443,636,873,993,995,1883,3306,4222,5432,6379,11211
UDP=53,67,123,161,11211
log "waiting for the daemons"
for i in $(seq 1 300); do
    n=$("${X[@]}" ss -Hltn | awk '{print $4}' | sed 's/.*://' | sort -u | grep -cxE "$(echo $TCP | tr , '|')" || true)
    [ "$n" -ge 22 ] && break
    sleep 0.2
done
"${X[@]}" ss -Hltnu > "$OUT_DIR/ss.txt"

# tm OUT CMD...: runs CMD with its stdout in OUT, prints the seconds taken.
tm() { local out=$1 s e; shift; s=$(date +%s.%N); "$@" > "$out"; e=$(date +%s.%N); echo "$s $e" | awk '{printf "%.3f\n", $2-$1}'; }
: > "$OUT_DIR/times.txt"
for r in $(seq 1 "$RUNS"); do
    log "run $r/$RUNS"
    t=$(tm "$OUT_DIR/portscope-tcp.json" "${X[@]}" "$BIN" scan 127.0.0.1 -p "$TCP" --json); echo "portscope-tcp $t" >> "$OUT_DIR/times.txt"
    cp "$OUT_DIR/portscope-tcp.json" "$OUT_DIR/portscope-tcp-$r.json"
    t=$(tm /dev/null "${X[@]}" nmap -sV -Pn -n -p "$TCP" -oX "$OUT_DIR/nmap-tcp.xml" 127.0.0.1); echo "nmap-tcp $t" >> "$OUT_DIR/times.txt"
done
log "UDP, once each (nmap -sU -sV takes minutes)"
t=$(tm "$OUT_DIR/portscope-udp.json" "${X[@]}" "$BIN" scan 127.0.0.1 --udp -p "$UDP" --json); echo "portscope-udp $t" >> "$OUT_DIR/times.txt"
t=$(tm /dev/null "${X[@]}" nmap -sU -sV -Pn -n -p "$UDP" -oX "$OUT_DIR/nmap-udp.xml" 127.0.0.1); echo "nmap-udp $t" >> "$OUT_DIR/times.txt"
LOAD=$(bench_load)
COMMIT=$(bench_commit)

python3 - "$OUT_DIR" "$OUT_FILE" "$LOAD" "$RUNS" "$COMMIT" <<'PY'
import json, os, platform, statistics, subprocess, sys, datetime
import xml.etree.ElementTree as ET
out_dir, out_file, load, runs, commit = sys.argv[1:6]
times = {}
for line in open(os.path.join(out_dir, "times.txt")):
    k, v = line.split()
    times.setdefault(k, []).append(float(v))
# The scan proper (sweep and identification, as the JSON summary times it),
# without the walk of this machine's processes that links ports to owners.
for name in sorted(os.listdir(out_dir)):
    if name.startswith("portscope-") and name.endswith(".json") and name != "portscope-tcp.json":
        proto = "udp" if "udp" in name else "tcp"
        d = json.load(open(os.path.join(out_dir, name)))
        times.setdefault(f"portscope-{proto}-scan", []).append(d["summary"]["elapsed_ms"] / 1000)
med = {k: statistics.median(v) for k, v in times.items()}
def ours(name):
    d = json.load(open(os.path.join(out_dir, name)))
    return {p["port"]: p for p in d["hosts"][0]["ports"]}
def theirs(name):
    r = {}
    for port in ET.parse(os.path.join(out_dir, name)).getroot().iter("port"):
        st = port.find("state").get("state")
        s = port.find("service")
        desc = ""
        if s is not None:
            name_ = s.get("name", "")
            if s.get("tunnel"):
                name_ = s.get("tunnel") + "/" + name_
            if s.get("method") == "table":
                name_ += "?"
            desc = " ".join(x for x in [name_, s.get("product", ""), s.get("version", ""),
                                          ("(" + s.get("extrainfo") + ")") if s.get("extrainfo") else ""] if x)
        r[int(port.get("portid"))] = (st, desc)
    return r
def cell(p):
    if p is None:
        return "-"
    bits = [p["state"], p.get("protocol") or "?", p.get("product") or "", p.get("version") or "",
            ("(" + p["info"] + ")") if p.get("info") else ""]
    return " ".join(b for b in bits if b)
nmap_v = subprocess.run(["nmap", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
L = []
w = L.append
w("## Identification: portscope against nmap -sV on real daemons")
w("")
w(f"Written by `bench/scan-id.sh` on {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')} "
  f"at commit {commit}; {os.cpu_count()} cores ({cpu}), kernel {platform.release()}, {nmap_v}; "
  f"load average at the end {load} (other builds running). Debian 12's daemons on 127.0.0.1 of a "
  f"network namespace made by the script, both scanners run inside it; TCP {runs} runs each, alternating, median; "
  "UDP once each.")
w("")
w("| | portscope, whole command | of which the scan proper | nmap -sV | portscope takes (whole / scan) |")
w("|---|---:|---:|---:|---:|")
for proto in ("tcp", "udp"):
    a, sc, b = med[f"portscope-{proto}"], med[f"portscope-{proto}-scan"], med[f"nmap-{proto}"]
    w(f"| {proto.upper()}, {'22' if proto == 'tcp' else '5'} ports | {a:.2f} s | {sc:.2f} s | {b:.2f} s | 1/{b/a:.1f} / 1/{b/sc:.1f} of nmap's time |")
w("")
w("The whole command also links every open port to the process holding it (nmap does not): a walk "
  "of every process's open files on the machine, which on a busy machine with processes holding "
  "many thousands of fds takes seconds (`portscope -tp` costs the same there). The scan proper is "
  "the sweep and the identification, as `summary.elapsed_ms` of the JSON reports it.")
w("")
w(f"Commands: `portscope scan 127.0.0.1 -p PORTS --json` (`--udp` for UDP) and `nmap -sV -Pn -n -p PORTS 127.0.0.1` (`-sU -sV`).")
whole = med["nmap-tcp"] / med["portscope-tcp"] >= 5 and med["nmap-udp"] / med["portscope-udp"] >= 5
scan = med["nmap-tcp"] / med["portscope-tcp-scan"] >= 5 and med["nmap-udp"] / med["portscope-udp-scan"] >= 5
w(f"Target at most 1/5 of nmap -sV's time: **{'met' if scan else 'missed'}** for the scan proper, "
  f"**{'met' if whole else 'missed'}** for the whole command with the owner walk.")
w("")
for proto in ("tcp", "udp"):
    o, t = ours(f"portscope-{proto}.json"), theirs(f"nmap-{proto}.xml")
    w(f"| {proto} port | portscope: state protocol product version (info) | nmap: state service product version (extra) |")
    w("|---:|---|---|")
    for port in sorted(set(o) | set(t)):
        n = t.get(port)
        w(f"| {port} | {cell(o.get(port))} | {(n[0] + ' ' + n[1]) if n else '-'} |")
    w("")
w("Raw data: `bench/out/scan-id-<timestamp>/` (both tools' output, times, `ss` inside the namespace).")
section = "\n".join(L) + "\n"
try:
    old = open(out_file).read()
except OSError:
    old = ""
start = old.find("## Identification: portscope against nmap -sV")
if start >= 0:
    nxt = old.find("\n## ", start + 3)
    old = old[:start].rstrip("\n") + "\n\n" + (old[nxt + 1:] if nxt >= 0 else "")
    new = old.rstrip("\n") + "\n\n" + section
else:
    new = old.rstrip("\n") + ("\n\n" if old else "") + section
open(out_file, "w").write(new)
print(section)
PY
