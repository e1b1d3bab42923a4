#!/usr/bin/env bash
# DICOMweb benchmark (issue 4): the shared harness (../shared/bench) against Hounsfield and Orthanc, in the same run.
#   bench/dicomweb/run.sh [SCALE] [PHASES]    defaults: 1k  fresh,verify,query,retrieve
# Environment: FRESH_CONFIGS (default stow_b1_c1,stow_b1_c4,stow_b50_c1,stow_b50_c4), REPS (default 3).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../common.sh"
SCALE=${1:-1k}
PHASES=${2:-fresh,verify,query,retrieve}
CONFIGS=${FRESH_CONFIGS:-stow_b1_c1,stow_b1_c4,stow_b50_c1,stow_b50_c4}
REPS=${REPS:-3}
DATA=$BENCH_TMP/bench-data

command -v Orthanc >/dev/null && command -v wrk >/dev/null || {
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq orthanc orthanc-dicomweb wrk >&2
}

# The server as published for production (scripts/publish: self-contained, ReadyToRun composite of the application and
# the .NET libraries, tiered compilation off as the Server csproj says). Against the JIT build of `dotnet run`, fresh
# 1000-instance runs measured 25-35% less server CPU per instance (2026-12-06, storescu 1.0 vs 1.35 ms, STOW b50c1 0.6
# vs 0.9 ms of user time).
export HOUNSFIELD_APP
HOUNSFIELD_APP=$("$ROOT/scripts/publish" "$ROOT/bench/out/hounsfield")

suite() {
  (cd "$HARNESS" && python3 run_suite.py --data-root "$DATA" --scales "$SCALE" --fresh-configs "$CONFIGS" \
    --fresh-reps "$REPS" --query-reps "$REPS" --phases "$PHASES")
}

# The suite generates the scale's set when it is missing (then it is in the page cache anyway).
warm_dataset "$DATA/ct$SCALE"

# Hounsfield
export HOUNSFIELD_ROOT=$BENCH_TMP/hounsfield-bench
export BASE_URL=http://127.0.0.1:8080/dicomweb SERVER_PID_FILE=$HOUNSFIELD_ROOT/hounsfield.pid
export STORAGE_DIR=$HOUNSFIELD_ROOT/data RESET_CMD="$HERE/hounsfield_ctl.sh reset"
export RESULTS_FILE=$ROOT/bench/results/hounsfield-$DATE.jsonl BENCH_LABEL=hounsfield-sqlite
"$HERE/hounsfield_ctl.sh" start
AUTH="Bearer $("$HERE/hounsfield_ctl.sh" token)"
export AUTH
suite
"$HERE/hounsfield_ctl.sh" stop

# Orthanc, the anchor, measured in the same run
export ORTHANC_ROOT=$BENCH_TMP/orthanc-bench
export BASE_URL=http://127.0.0.1:8042/dicom-web SERVER_PID_FILE=$ORTHANC_ROOT/orthanc.pid AUTH=""
export STORAGE_DIR=$ORTHANC_ROOT/storage RESET_CMD="$HARNESS/orthanc/orthanc_ctl.sh reset"
export RESULTS_FILE=$ROOT/bench/results/orthanc-$DATE.jsonl BENCH_LABEL=orthanc-1.10.1+dicomweb-1.7-sqlite
"$HARNESS/orthanc/orthanc_ctl.sh" start >/dev/null
suite
"$HARNESS/orthanc/orthanc_ctl.sh" stop >/dev/null

python3 "$HARNESS/report.py" "$ROOT/bench/results/hounsfield-$DATE.jsonl" --compare "$ROOT/bench/results/orthanc-$DATE.jsonl" \
  > "$ROOT/bench/results/hounsfield-vs-orthanc-$DATE.md"
echo "wrote bench/results/hounsfield-vs-orthanc-$DATE.md" >&2
