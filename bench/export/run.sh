#!/usr/bin/env bash
# Instructions per span of each export encoder and of the batch processor's
# queue, counted by callgrind (stable
# on a shared machine, unlike times): a run encoding N batches of 512 spans
# minus a run encoding none, divided by the spans. `make bench-export`.
set -euo pipefail
cd "$(dirname "$0")/../.."
batches=${1:-10}
if ! command -v valgrind >/dev/null; then
  echo "bench-export: installing valgrind" >&2
  apt-get install -y -qq valgrind >/dev/null
fi
swift build -c release --package-path bench/export --scratch-path .build-export >/dev/null
bin=$(mktemp)
trap 'rm -f "$bin"' EXIT
# Valgrind 3.19 cannot read the Swift toolchain's DWARF: the symbols stay, the debug info goes.
strip --strip-debug -o "$bin" .build-export/release/ExportBench
count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }
printf '%-12s %14s\n' encoder 'instr/span'
for mode in wire protobuf-c json console processor; do
  base=$(count "$mode" 0) full=$(count "$mode" "$batches")
  printf '%-12s %14d\n' "$mode" $(( (full - base) / (batches * 512) ))
done
