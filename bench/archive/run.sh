#!/usr/bin/env bash
# Index write benchmark (issues 4 and 6): the cost of an instance's index row, written one per commit as C-STORE and
# one-instance STOW-RS write them, and 50 per commit as a 50-instance STOW-RS request does. The current tree, and the
# tree at BASELINE_REF (a git revision; empty to skip) measured in the same run, one after the other.
#   bench/archive/run.sh [ROWS] [ROUNDS]     defaults: 3000 rows, 5 rounds
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../common.sh"
ROWS=${1:-3000}
ROUNDS=${2:-5}
BASELINE_REF=${BASELINE_REF-}
out=$ROOT/bench/out
report=$ROOT/bench/results/archive-index-$DATE.md

measure() { # label tree revision
  dotnet build "$2/bench/archive/Hounsfield.Bench.Archive.csproj" -c Release -o "$out/archive-$1" -nologo -clp:ErrorsOnly >/dev/null
  echo "- $1 ($3):"
  dotnet "$out/archive-$1/hounsfield-bench-archive.dll" "$ROWS" "$ROUNDS" | sed 's/^/  - /'
}

{
  echo "## Index rows, $(date -u +'%F %H:%M') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  if [[ -n $BASELINE_REF ]]; then
    baseline=$BENCH_TMP/hounsfield-baseline-$BASELINE_REF
    rm -rf "$baseline" && mkdir -p "$baseline" && git -C "$ROOT" archive "$BASELINE_REF" | tar -x -C "$baseline"
    # The baseline tree may predate this benchmark: it gets the current program, built against its own library.
    mkdir -p "$baseline/bench/archive" && cp "$HERE/Program.cs" "$HERE/Hounsfield.Bench.Archive.csproj" "$baseline/bench/archive/"
    measure baseline "$baseline" "$(git -C "$ROOT" rev-parse --short "$BASELINE_REF")"
  fi
  measure current "$ROOT" "$(git -C "$ROOT" rev-parse --short HEAD)$([[ -n $(git -C "$ROOT" status --porcelain -- src) ]] && echo ", uncommitted changes")"
  echo
} | tee -a "$report"
echo "appended to bench/results/archive-index-$DATE.md" >&2
