#!/usr/bin/env bash
# Builds the fuzz package and runs its targets one after the other; prints a
# table (target, result, executions, coverage) and fails when any target
# crashed or a known-bug input still trips its invariant.
#   fuzz/run.sh [--seconds N per target] [--seed N] [--only t1,t2] [-- extra libFuzzer flags]
# Working corpora grow under .build-fuzz/corpus (seeds: fuzz/corpus); crash
# inputs go to .build-fuzz/artifacts.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=10 seed=0 only="" extra=()
while (($#)); do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "fuzz/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

scratch=.build-fuzz
bin=$scratch/release/l7fuzz
# The Swift runtime's crash reporter would race libFuzzer's (and can hang on an ASan report).
export SWIFT_BACKTRACE=enable=no
nice swift build -c release --package-path fuzz --scratch-path "$scratch" 2>&1 | grep -E "error|warning: unre|Compiling|Build" >&2
[[ -x $bin ]] || { echo "fuzz/run.sh: the build failed" >&2; exit 1; }
python3 fuzz/seeds.py --known "$scratch/known"

declare -A dict=([http1]=http1 [http2]=http2 [hpack]=http2)
targets=(http1 http2 hpack huffman traceparent target resource record)
[[ -n $only ]] && IFS=, read -ra targets <<<"$only"
failed=0
rows=()
for t in "${targets[@]}"; do
  corpus=$scratch/corpus/$t artifacts=$scratch/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  flags=(-max_total_time="$seconds" -seed="$seed" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
         -artifact_prefix="$artifacts/")
  [[ -n ${dict[$t]:-} ]] && flags+=(-dict="fuzz/dict/${dict[$t]}.dict")
  log=$scratch/$t.log
  nice "$bin" "$t" "${flags[@]}" "${extra[@]}" "$corpus" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  if ((rc == 0)); then
    result=ok
  else
    failed=1
    crash=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | sed 's/Test unit written to //')
    why=$(grep -m1 -E 'invariant violated|Fatal error|ERROR: AddressSanitizer|ERROR: libFuzzer' "$log" | cut -c1-150)
    result="CRASH ${crash:-?}: $why"
  fi
  rows+=("$(printf '%-12s %10s %6s  %s' "$t" "${execs:-?}" "${cov:-?}" "$result")")
done

# Known bugs (issue 21 item 0): each input must pass its target once fixed.
for input in "$scratch"/known/*; do
  t=$(basename "$input"); t=${t%%-*}
  [[ -n $only && ,$only, != *,$t,* ]] && continue
  if "$bin" "$t" "$input" >"$scratch/known.log" 2>&1; then
    result="ok (no longer trips)"
  else
    failed=1
    result="TRIPS: $(grep -m1 -E 'invariant violated|Fatal error|ERROR' "$scratch/known.log" | cut -c1-150)"
  fi
  rows+=("$(printf '%-12s %10s %6s  %s' "known" "1" "-" "$(basename "$input"): $result")")
done

printf '%-12s %10s %6s  %s\n' target executions cov result
printf '%s\n' "${rows[@]}"
exit $failed
