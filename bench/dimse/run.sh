#!/usr/bin/env bash
# C-STORE ingest benchmark (issue 6): DCMTK storescu of the same files, one association, into Hounsfield and into
# Orthanc in the same run, with the shared harness's ingest_cstore.py (instances/s, server CPU and memory); then the
# same files from our own SCU with an asynchronous operations window (cstore_window.py) into both.
#   bench/dimse/run.sh [DATASET] [REPS]     defaults: the harness's 1k CT set, 3 repetitions
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../common.sh"
DATASET=${1:-$BENCH_TMP/bench-data/ct1k}
REPS=${2:-3}
SCALE=$(basename "$DATASET"); SCALE=${SCALE#ct}  # the harness's set names: ct1k, ct20k

command -v Orthanc >/dev/null && command -v storescu >/dev/null || {
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq orthanc dcmtk >&2
}
ensure_ct1k "$DATASET"
warm_dataset "$DATASET"
# The server as published for production (scripts/publish: self-contained, ReadyToRun composite of the application and
# the .NET libraries, tiered compilation off as the Server csproj says). Against the JIT build of `dotnet run`, fresh
# 1000-instance runs measured 25-35% less server CPU per instance (2026-12-06, storescu 1.0 vs 1.35 ms, STOW b50c1 0.6
# vs 0.9 ms of user time).
export HOUNSFIELD_APP
HOUNSFIELD_APP=$("$ROOT/scripts/publish" "$ROOT/bench/out/hounsfield")

HOUNSFIELD_ROOT=$BENCH_TMP/hounsfield-bench ORTHANC_ROOT=$BENCH_TMP/orthanc-bench
export HOUNSFIELD_ROOT ORTHANC_ROOT
HOUNSFIELD_CTL=$ROOT/bench/dicomweb/hounsfield_ctl.sh ORTHANC_CTL=$HARNESS/orthanc/orthanc_ctl.sh
# Per server: label, control script, pid file, storage, DICOM port, AE title, results file.
HOUNSFIELD=(hounsfield-sqlite "$HOUNSFIELD_CTL" "$HOUNSFIELD_ROOT/hounsfield.pid" "$HOUNSFIELD_ROOT/data" 11112 HOUNSFIELD
  "$ROOT/bench/results/dimse-hounsfield-$DATE.jsonl")
ORTHANC=(orthanc-1.10.1-sqlite "$ORTHANC_CTL" "$ORTHANC_ROOT/orthanc.pid" "$ORTHANC_ROOT/storage" 4242 ORTHANC
  "$ROOT/bench/results/dimse-orthanc-$DATE.jsonl")

storescu_rep() { # rep label ctl pid-file storage port aet results
  sync  # the other server's data written back now, not during this measurement
  "$3" reset >/dev/null
  (cd "$HARNESS" && SERVER_PID_FILE=$4 STORAGE_DIR=$5 DICOM_HOST=127.0.0.1 DICOM_PORT=$6 CALLED_AET=$7 CALLING_AET=BENCHSCU \
    RESULTS_FILE=$8 BENCH_LABEL=$2 BENCH_SCALE=$SCALE python3 ingest_cstore.py --dataset "$DATASET" --workload ingest_fresh_cstore --rep "$1" >/dev/null)
  "$3" stop >/dev/null
}

# The same files from our SCU, which proposes an asynchronous operations window (see cstore_window.py).
window_rep() { # rep label ctl pid-file storage port aet results
  sync
  "$3" reset >/dev/null
  SERVER_PID_FILE=$4 DICOM_HOST=127.0.0.1 DICOM_PORT=$6 CALLED_AET=$7 CALLING_AET=BENCHSCU HARNESS=$HARNESS \
    RESULTS_FILE=$8 BENCH_LABEL=$2 BENCH_SCALE=$SCALE python3 "$HERE/cstore_window.py" --dataset "$DATASET" \
    --app "$HOUNSFIELD_APP" --rep "$1" >/dev/null
  "$3" stop >/dev/null
}

# One untimed repetition of each server first (its results go nowhere). In two runs of this script (2026-12-07) the first
# repetition, right after the publish, was our slowest of four by 15-30% (574 and 463 inst/s against 626-755): what
# follows a build is kept out of the figures, for both servers alike.
warmup=$(mktemp)
storescu_rep 0 "${HOUNSFIELD[@]:0:6}" "$warmup"
storescu_rep 0 "${ORTHANC[@]:0:6}" "$warmup"
rm -f "$warmup"

# The two servers take turns, one repetition each, so that a change in the machine's speed during the run (the host's
# load moved Orthanc's rate between 168 and 292 inst/s within one session) falls on both alike. Only the server being
# measured runs.
for workload in storescu_rep window_rep; do
  for rep in $(seq 0 $((REPS - 1))); do
    "$workload" "$rep" "${HOUNSFIELD[@]}"
    "$workload" "$rep" "${ORTHANC[@]}"
  done
done

python3 "$HARNESS/report.py" "$ROOT/bench/results/dimse-hounsfield-$DATE.jsonl" --title "C-STORE ingest: Hounsfield vs Orthanc ($DATE)" \
  --compare "$ROOT/bench/results/dimse-orthanc-$DATE.jsonl" > "$ROOT/bench/results/dimse-$DATE.md"
echo "wrote bench/results/dimse-$DATE.md" >&2
