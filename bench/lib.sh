# Shared by the bench scripts (sourced after they set HERE and ROOT): the
# help from a script's header, a log line, tools that must be there, the
# release build, and the commit and load a RESULTS file records.
#
#   HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd); ROOT=$(dirname "$HERE")
#   . "$HERE/lib.sh"; BENCH=families.sh

# The script's header comment, lines FROM to TO, as help.
bench_help() { # bench_help FROM TO
    sed -n "$1,$2p" "$0" | sed 's/^# \{0,1\}//'
}

# A line on stderr, stamped with the script's name and the time.
bench_log() {
    printf '[%s %s] %s\n' "${BENCH:-bench}" "$(date +%H:%M:%S)" "$*" >&2
}

# Fails (exit 2) naming the Debian package when a tool is missing.
bench_need() { # bench_need TOOL PACKAGE
    command -v "$1" >/dev/null 2>&1 && return 0
    echo "${BENCH:-bench}: $1 is needed (Debian package $2)" >&2
    exit 2
}

# Builds the release binary (or what ARGS name) unless BUILD=0.
bench_build() { # bench_build [CARGO ARGS…]
    [ "${BUILD:-1}" = 1 ] || return 0
    if [ $# -eq 0 ]; then set -- -p portscope-cli; fi
    (cd "$ROOT" && cargo build --release --locked -q "$@")
}

# The load average now (1, 5 and 15 minutes).
bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

# The commit measured, `+changes` when the tree differs from it.
bench_commit() {
    echo "$(cd "$ROOT" && git rev-parse --short HEAD)$(cd "$ROOT" && git diff --quiet || echo "+changes")"
}
