#!/usr/bin/env bash
# Toolkit parsing benchmark (issue 2): Hounsfield against DCMTK's dcmdump over the same files, in the same run.
# One process for all files in every case. Results are appended to bench/results/toolkit-<date>.md.
#   bench/toolkit/run.sh [FILE_COUNT]   (default 2000 CT files of 256x256, from ../shared/bench/gen_dataset.py)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
count=${1:-2000}
tmp=${BENCH_TMP:-$(python3 -c 'import tempfile; print(tempfile.gettempdir())')}
data=$tmp/bench-data/toolkit-$count
reps=${REPS:-5}

"$root/scripts/install-prerequisites"
if [[ ! -f $data/manifest.json ]]; then
  instances=25; series=2; studies=2
  patients=$(( (count + instances * series * studies - 1) / (instances * series * studies) ))
  python3 "$root/../shared/bench/gen_dataset.py" --out "$data" --seed "toolkit$count" --patients "$patients" \
    --studies $studies --series $series --instances $instances --rows 256 --cols 256 >/dev/null
fi

# The CLI as it ships: published ReadyToRun (precompiled), so start-up does not pay for the JIT.
publish=$root/bench/out/hounsfield-r2r
dotnet publish "$root/src/Hounsfield.Server" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true \
  -o "$publish" -nologo -clp:ErrorsOnly >/dev/null
app="$publish/hounsfield.dll"
dotnet build "$root/src/Hounsfield.Server" -c Release -nologo -clp:ErrorsOnly >/dev/null
jit_app="$root/src/Hounsfield.Server/bin/Release/net10.0/hounsfield.dll"
mapfile -t files < <(find "$data" -name '*.dcm' | sort)
bytes=$(cat "${files[@]}" | wc -c)
echo "files: ${#files[@]}, $((bytes / 1000000)) MB, in $data" >&2

# Median wall time (s) of $reps runs of a command, output discarded; a warm-up run first (page cache, JIT disk cache).
measure() {
  "$@" >/dev/null 2>&1 || true
  for _ in $(seq "$reps"); do
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc
  done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

dcmdump_full=$(measure dcmdump "${files[@]}")
dcmdump_header=$(measure dcmdump +sb 7fe0,0010 "${files[@]}")
hf_dump=$(measure dotnet "$app" dump "${files[@]}")
hf_dump_header=$(measure dotnet "$app" dump --header-only "${files[@]}")
hf_scan=$(measure dotnet "$app" scan "${files[@]}")
hf_scan_header=$(measure dotnet "$app" scan --header-only "${files[@]}")
hf_dump_jit=$(measure dotnet "$jit_app" dump "${files[@]}")
hf_scan_header_jit=$(measure dotnet "$jit_app" scan --header-only "${files[@]}")

n=${#files[@]}
row() { awk -v name="$1" -v t="$2" -v n="$n" -v b="$bytes" -v anchor="$3" \
  'BEGIN { printf "| %s | %.3f | %.0f | %.1f | %.2f× |\n", name, t, n / t, b / 1e6 / t, anchor / t }'; }

out="$root/bench/results/toolkit-$(date +%F).md"
mkdir -p "$(dirname "$out")"
{
  echo
  echo "## Toolkit parsing, $(date -u +%FT%TZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo
  echo "$n files, $((bytes / 1000000)) MB (gen_dataset.py CT 256×256 explicit VR LE), page cache warm, median of $reps runs, one process for all files, output to /dev/null."
  echo 'hounsfield rows run the ReadyToRun-published CLI; the two (JIT) rows run the plain `dotnet build` output.'
  echo "Speed-up is against \`dcmdump\` (full) for full parses and dumps, and against the header-only \`dcmdump +sb 7fe0,0010\` for header-only rows."
  echo
  echo "| command | wall s | files/s | MB/s | vs DCMTK |"
  echo "|---|---|---|---|---|"
  row "dcmdump (DCMTK 3.6.7)" "$dcmdump_full" "$dcmdump_full"
  row "dcmdump +sb 7fe0,0010" "$dcmdump_header" "$dcmdump_header"
  row "hounsfield dump" "$hf_dump" "$dcmdump_full"
  row "hounsfield dump --header-only" "$hf_dump_header" "$dcmdump_header"
  row "hounsfield scan (full parse, no output)" "$hf_scan" "$dcmdump_full"
  row "hounsfield scan --header-only (no output)" "$hf_scan_header" "$dcmdump_header"
  row "hounsfield dump (JIT)" "$hf_dump_jit" "$dcmdump_full"
  row "hounsfield scan --header-only (JIT)" "$hf_scan_header_jit" "$dcmdump_header"
} | tee -a "$out"
