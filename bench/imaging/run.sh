#!/usr/bin/env bash
# Imaging benchmark (issue 3): decode MB/s per codec and render frames/s (PNG, JPEG) against DCMTK and Orthanc's
# /rendered, all in one run on this machine. Results are appended to bench/results/imaging-<date>.md.
#   bench/imaging/run.sh
# Environment: BENCH_TMP (scratch; default the system temp dir), MEASURE_SECONDS (per figure, default 5), REPS (DCMTK
# batches, default 5), BASELINE_REF (git revision whose imaging library is measured as "before"; default 94b03b1, the
# library before the encoder speed-ups; empty to skip). Needs: dotnet, DCMTK (dcmcjpeg, dcmcjpls, dcmcrle, dcmdjpeg,
# dcmdjpls, dcmdrle, dcm2pnm, dcmj2pnm), Orthanc 1.10 (../shared/bench/orthanc/orthanc_ctl.sh), wrk, curl, taskset.
# Wait for a quiet machine: the figures are single-core and the 2 cores are shared (the load average is recorded).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=${BENCH_TMP:-$(python3 -c 'import tempfile; print(tempfile.gettempdir())')}
data=$tmp/bench-data/imaging
baseline_ref=${BASELINE_REF-94b03b1}

"$root/scripts/install-prerequisites"
for tool in dcmcjpeg dcmcjpls dcmcrle dcmdjpeg dcmdjpls dcmdrle dcm2pnm dcmj2pnm Orthanc wrk curl taskset; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install dcmtk orthanc wrk curl util-linux)" >&2; exit 1; }
done

# The bench program against the current library, twice: JIT-compiled for the steady-state figures, and ReadyToRun (as
# the CLI ships) for the cold one-process runs. (Pinned to one core, the ReadyToRun build can stay for many seconds on
# instrumented tier-1 code for PGO before its final tier-1 code, which would measure the tiering, not the library.)
out=$root/bench/out
build() { # project output-folder extra-msbuild-arguments...
  local project=$1 folder=$2; shift 2
  dotnet build "$project" -c Release -o "$folder" -nologo -clp:ErrorsOnly "$@" >/dev/null
}
build "$root/bench/imaging/Hounsfield.Bench.Imaging.csproj" "$out/imaging-jit"
dotnet publish "$root/bench/imaging/Hounsfield.Bench.Imaging.csproj" -c Release -r linux-x64 --self-contained false \
  -p:PublishReadyToRun=true -o "$out/imaging" -nologo -clp:ErrorsOnly >/dev/null
build "$root/src/Hounsfield.Server/Hounsfield.Server.csproj" "$out/server"
app=$out/imaging-jit/hounsfield-bench-imaging.dll
cold_app=$out/imaging/hounsfield-bench-imaging.dll

# ... and against the library at $baseline_ref ("before"), from a clean export of that revision.
baseline_app=
if [[ -n $baseline_ref ]]; then
  src=$tmp/imaging-baseline-src
  rm -rf "$src" && mkdir -p "$src/bench/imaging"
  git -C "$root" archive "$baseline_ref" Directory.Build.props Directory.Packages.props global.json src/Hounsfield.Dicom src/Hounsfield.Imaging \
    | tar -x -C "$src"
  cp "$root/bench/imaging/Program.cs" "$root/bench/imaging/Hounsfield.Bench.Imaging.csproj" "$src/bench/imaging/"
  build "$src/bench/imaging/Hounsfield.Bench.Imaging.csproj" "$out/imaging-baseline" -p:BenchBaseline=true
  baseline_app=$out/imaging-baseline/hounsfield-bench-imaging.dll
fi

# 20 CT slices, 512x512, 16-bit signed (BitsStored 12), and copies in each compressed syntax.
if [[ ! -f $data/ct/manifest.json ]]; then
  rm -rf "$data"
  python3 "$root/../shared/bench/gen_dataset.py" --out "$data/ct" --seed imgbench --patients 1 --studies 1 --series 1 \
    --instances 20 --rows 512 --cols 512 >/dev/null
fi
mapfile -t ct < <(find "$data/ct" -name '*.dcm' | sort)
compress() { # folder command...
  local folder=$data/$1; shift
  [[ -d $folder ]] && return
  mkdir -p "$folder.partial"
  for f in "${ct[@]}"; do "$@" "$f" "$folder.partial/$(basename "$f")"; done
  mv "$folder.partial" "$folder"
}
compress sv1 dcmcjpeg +e1      # JPEG lossless SV1 (.70)
compress p14 dcmcjpeg +el      # JPEG lossless process 14 (.57)
compress ext dcmcjpeg +ee      # JPEG extended 12-bit lossy (.51)
compress jls dcmcjpls          # JPEG-LS lossless (.80)
compress rle dcmcrle           # RLE (.5)
if [[ ! -d $data/j2k ]]; then  # JPEG 2000 lossless (.90): DCMTK 3.6.7 has no codec, so ours (OpenJPEG) writes it
  dotnet "$app" transcode --syntax 1.2.840.10008.1.2.4.90 --out "$data/j2k.partial" "${ct[@]}"
  mv "$data/j2k.partial" "$data/j2k"
fi

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
SERVER_APP=$out/server/hounsfield.dll ROOT=$root DATA=$data BENCH_TMP=$tmp BENCH_APP=$app COLD_APP=$cold_app BASELINE_APP=$baseline_app BASELINE_REF=$baseline_ref \
  RESULTS=$root/bench/results/imaging-$(date +%F).md python3 "$root/bench/imaging/measure.py"
