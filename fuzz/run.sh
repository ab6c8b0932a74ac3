#!/usr/bin/env bash
# Builds and runs the fuzz targets without cargo-fuzz or a nightly compiler.
#
#   fuzz/run.sh --check                 build every target (--locked) and run each over
#                                       its seeds once: what CI does, about a minute
#   fuzz/run.sh [--runs N] [TARGET...]  fuzz (coverage-guided) each TARGET, default all,
#                                       for N executions (default 1000000); new inputs go
#                                       to fuzz/corpus/TARGET, crashes to fuzz/artifacts/
#
# Fuzzing builds with the same coverage instrumentation cargo-fuzz uses
# (sancov passes, stable rustc flags) but without AddressSanitizer, which
# safe Rust does not need; debug assertions and overflow checks are on, so an
# overflow is a crash. libFuzzer comes from the libfuzzer-sys crate.
set -euo pipefail
cd "$(dirname "$0")"

targets_all=$(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^portscope-fuzz$')

if [ "${1:-}" = "--check" ]; then
  cargo fmt --check
  cargo build --locked --bins
  for t in $targets_all; do
    seeds=(seeds/"$t"/*)
    # Given files (not a folder), a libFuzzer binary runs each once and exits.
    "target/debug/$t" "${seeds[@]}" >/dev/null 2>"target/$t.check.log" || {
      cat "target/$t.check.log" >&2
      echo "fuzz/run.sh: $t fails on its seeds" >&2
      exit 1
    }
    echo "$t: ${#seeds[@]} seeds ok"
  done
  exit 0
fi

runs=1000000
if [ "${1:-}" = "--runs" ]; then
  runs=$2
  shift 2
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<<"$(echo $targets_all)"

export RUSTFLAGS="--cfg fuzzing -Cdebug-assertions -Coverflow-checks \
-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares"
# An explicit --target keeps RUSTFLAGS off build scripts and proc macros
# (they run on the host and are not linked with libFuzzer).
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build --locked --release --bins --target "$host" --target-dir target/cov
mkdir -p artifacts
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  dict=()
  [ "$t" = filter_parse ] && dict=(-dict=filter.dict)
  # snapshot_render prints whole listings; keep them off the terminal.
  [ "$t" = snapshot_render ] && dict=(-close_fd_mask=1)
  echo "== $t: $runs runs"
  start=$(date +%s)
  "target/cov/$host/release/$t" "corpus/$t" "seeds/$t" "${dict[@]}" -runs="$runs" \
    -max_len=16384 -timeout=10 -rss_limit_mb=1024 -artifact_prefix="artifacts/$t-" \
    -print_final_stats=1 2>&1 | tail -n 25 | grep -E 'stat::number_of_executed_units|stat::peak_rss|Done|ERROR|panicked|SUMMARY|crash' || true
  echo "$t: $(( $(date +%s) - start )) s"
done
