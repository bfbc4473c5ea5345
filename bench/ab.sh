#!/usr/bin/env bash
# A/B of the protocol layer against an older commit: callgrind instructions per
# exchange of ParserBench's replay through ConnectionTracker (`--only ours`),
# for this working tree and for BASE, side by side. Instruction counts hold
# still on a shared, busy machine where times do not.
#
#   bench/ab.sh BASE [--iterations N] [--own-harness] [--full [-- run.py args]]
#   make bench-ab BASE=<git ref> [ITERATIONS=N] [FULL=1] [ARGS="--quick"]
#
# BASE is checked out in a temporary `git worktree` under /tmp (removed at the
# end). Both sides replay the same recordings (this tree's bench/parsers/streams)
# with the same harness (this tree's bench/parsers, copied over the base's) so
# that only the library differs; when this harness does not build against the
# base (its API changed), or with --own-harness, the base's own harness is used,
# and the table says so. Each side runs twice, with 1 and with N replays; the
# difference, divided by the N - 1 replays' exchanges, leaves out start-up,
# loading the recording and the warm-up replay. SWIFT_DETERMINISTIC_HASHING=1
# makes Dictionary/Set hashing, and with it the counts, the same run to run.
#
# --full (FULL=1) also builds both release binaries and runs
# `bench/run.py --bin <new> --baseline-bin <base>` (root; loads the probes):
# the tracer's CPU per request of both builds, interleaved on the same load.
#
# The base's builds are kept in .build-ab/ (swift-nio and the other dependencies
# are then built once); everything else lives in the temporary directory. Every
# process this script starts is stopped by its pid if the script is interrupted.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
swift=${SWIFT:-swift}

usage() { sed -n '7,8p' "$0" | sed 's/^# *//' >&2; exit 2; }
base_ref='' iterations=50 full=0 own_harness=0 run_args=()
while (($#)); do
  case $1 in
    --iterations) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; iterations=$2; shift 2 ;;
    --full) full=1; shift ;;
    --own-harness) own_harness=1; shift ;;
    --) shift; run_args=("$@"); break ;;
    -h|--help) usage ;;
    -*) echo "bench-ab: unknown option $1" >&2; usage ;;
    *) [[ -z $base_ref ]] || usage; base_ref=$1; shift ;;
  esac
done
[[ -n $base_ref ]] || { echo "bench-ab: which commit to compare with? (make bench-ab BASE=HEAD~3)" >&2; exit 2; }
((iterations >= 2)) || { echo "bench-ab: --iterations must be at least 2" >&2; exit 2; }
base_commit=$(git rev-parse --verify --quiet "$base_ref^{commit}") \
  || { echo "bench-ab: $base_ref is not a commit here" >&2; exit 2; }
new_desc="working tree ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- Sources Package.swift bench/parsers/Sources bench/parsers/Package.swift || echo ' + uncommitted changes'))"
base_desc="$base_ref ($(git rev-parse --short "$base_commit"))"

if ! command -v valgrind >/dev/null; then
  echo "bench-ab: installing valgrind" >&2
  apt-get install -y -qq valgrind >/dev/null
fi

tmp=$(mktemp -d /tmp/l7trace-ab.XXXXXX)
base=$tmp/base
child=''
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true  # run.py stops its own nginx, tracers and collector on SIGTERM
    wait "$child" 2>/dev/null || true
  fi
  if [[ -d $base ]]; then git worktree remove --force "$base" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
  git worktree prune
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Runs a command in the background and waits for it, so that an interrupted
# script knows the pid to stop (cleanup above).
run() {
  "$@" &
  child=$!
  local status=0
  wait "$child" || status=$?
  child=''
  return "$status"
}

step() { printf 'bench-ab: %s\n' "$*" >&2; }

step "checking out $base_desc in $base"
git worktree add --detach --quiet "$base" "$base_commit"
[[ -d $base/bench/parsers ]] || { echo "bench-ab: $base_ref predates the parser benchmark (bench/parsers)" >&2; exit 1; }

# Valgrind 3.19 cannot read the Swift toolchain's DWARF: the symbols stay, the debug info goes.
build_bench() {  # package-dir scratch-dir output
  run "$swift" build -c release --package-path "$1" --scratch-path "$2" >"$tmp/build.log" 2>&1 || return 1
  strip --strip-debug -o "$3" "$2/release/ParserBench"
}

step "building ParserBench (release) for the working tree"
build_bench bench/parsers .build-parsers "$tmp/ParserBench-new" \
  || { cat "$tmp/build.log" >&2; exit 1; }

harness="this tree's harness on both sides"
if ((own_harness == 0)); then
  # The base keeps its recordings and tools; only Package.swift and Sources are replaced.
  rm -rf "$base/bench/parsers/Sources" && cp -r bench/parsers/Sources bench/parsers/Package.swift "$base/bench/parsers/"
  step "building ParserBench for $base_desc with this tree's harness (.build-ab/parsers; the first time swift-nio too, several minutes)"
  if ! build_bench "$base/bench/parsers" "$root/.build-ab/parsers" "$tmp/ParserBench-base"; then
    grep -m5 'error:' "$tmp/build.log" >&2 || true
    step "this harness does not build against $base_desc; using the base's own"
    own_harness=1
    git -C "$base" checkout --quiet -- bench/parsers && git -C "$base" clean -fdq -- bench/parsers
  fi
fi
if ((own_harness == 1)); then
  harness="each side's own harness (the replay code may differ)"
  step "building ParserBench for $base_desc with its own harness"
  build_bench "$base/bench/parsers" "$root/.build-ab/parsers" "$tmp/ParserBench-base" \
    || { cat "$tmp/build.log" >&2; exit 1; }
fi

# count SIDE PROTOCOL REPLAYS: one callgrind run, in this shell (not in a $(…)
# subshell, whose child the cleanup could not see); its log holds the
# instruction count, its JSON the exchanges and fields per replay.
count() {
  local out=$tmp/$1-$2-$3
  SWIFT_DETERMINISTIC_HASHING=1 run valgrind --tool=callgrind --callgrind-out-file=/dev/null --log-file="$out.vg" \
    "$tmp/ParserBench-$1" --only ours --protocol "$2" --rounds 1 --iterations "$3" --json \
    --streams "$root/bench/parsers/streams" >"$out.json" \
    || { cat "$out.vg" >&2; return 1; }
}
instructions() { sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$tmp/$1.vg"; }
per_replay() {  # RUN FIELD: exchanges_per_replay or fields_per_replay of one run (SIDE-PROTOCOL-REPLAYS)
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["figures"][0]["parsers"][0][sys.argv[2]])' \
    "$tmp/$1.json" "$2"
}

declare -A ir exchanges fields per
for protocol in http1 http2; do
  step "callgrind, $protocol: 1 and $iterations replays, new and base in turn"
  for replays in 1 "$iterations"; do
    for side in new base; do
      count "$side" "$protocol" "$replays"
      ir[$side-$protocol-$replays]=$(instructions "$side-$protocol-$replays")
    done
  done
done

echo
echo "A/B, protocol layer: instructions per exchange (callgrind; ParserBench --only ours, $iterations - 1 replays, start-up left out)"
echo "  new  = $new_desc"
echo "  base = $base_desc"
echo "  $harness; recordings: bench/parsers/streams"
echo
printf '| %-8s | %-27s | %-25s | %15s | %14s | %-8s |\n' protocol 'exchanges/replay base, new' 'fields/replay base, new' 'base instr/exch' 'new instr/exch' new/base
printf '|%s|%s|%s|%s|%s|%s|\n' ---------- ----------------------------- --------------------------- ----------------- ---------------- ----------
same=1
for protocol in http1 http2; do
  for side in base new; do
    exchanges[$side]=$(per_replay "$side-$protocol-$iterations" exchanges_per_replay)
    fields[$side]=$(per_replay "$side-$protocol-$iterations" fields_per_replay)
    per[$side]=$(( (ir[$side-$protocol-$iterations] - ir[$side-$protocol-1]) / ((iterations - 1) * exchanges[$side]) ))
  done
  [[ ${exchanges[base]} == "${exchanges[new]}" && ${fields[base]} == "${fields[new]}" ]] || same=0
  ratio=$(python3 -c "print(f'{$((per[new])) / $((per[base])):.3f}')")
  printf '| %-8s | %-27s | %-25s | %15d | %14d | %-8s |\n' "$([[ $protocol == http1 ]] && echo HTTP/1.1 || echo HTTP/2)" \
    "${exchanges[base]}, ${exchanges[new]}" "${fields[base]}, ${fields[new]}" "${per[base]}" "${per[new]}" "$ratio"
done
if ((same == 0)); then
  echo
  echo "WARNING: the two builds do not hand over the same exchanges or header fields for the same recordings."
fi

if ((full == 1)); then
  echo
  step "FULL: building the release l7trace of the working tree and of $base_desc"
  run make --no-print-directory build >"$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log" >&2; exit 1; }
  run make --no-print-directory -C "$base" deps generate >"$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log" >&2; exit 1; }
  run "$swift" build -c release --product l7trace --package-path "$base" --scratch-path "$root/.build-ab/l7trace" \
    >"$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log" >&2; exit 1; }
  cp "$root/.build-ab/l7trace/release/l7trace" "$tmp/l7trace-base"
  step "bench/run.py --baseline-bin (root; ${run_args[*]:-full length})"
  run python3 bench/run.py --bin "$root/.build/release/l7trace" --baseline-bin "$tmp/l7trace-base" --skip-parsers "${run_args[@]}"
fi
