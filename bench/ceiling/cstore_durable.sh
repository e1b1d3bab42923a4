#!/usr/bin/env bash
# The durable C-STORE bound (issue 6), measured through the harness's storescu workload (ingest_cstore.py, one
# association) in one run, the receivers taking turns, each alone and fresh:
#   - orthanc: the anchor (Orthanc as the shared harness starts it);
#   - hounsfield: our server as published (scripts/publish), default settings;
#   - durable-append: DurableScp, which only appends each data set to a growing file and flushes it (fdatasync) before
#     answering: the least any server that acknowledges only what is on disk does, in the usual case of a file that grows;
#   - durable-prewritten: the same into a file written with zeros (and flushed) before the run, as large as the set:
#     records that land in written blocks flush no file metadata. It needs the whole transfer's space written beforehand.
# So the report tells how far the receiving side can go on this disk, and where our server stands between the two.
#   bench/ceiling/cstore_durable.sh [DATASET] [REPS]     defaults: the harness's 1k CT set, 2 repetitions
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../common.sh"
DATASET=${1:-$BENCH_TMP/bench-data/ct1k}
REPS=${2:-2}
SCALE=$(basename "$DATASET"); SCALE=${SCALE#ct}
RESULTS=$ROOT/bench/results/cstore-durable-$DATE.jsonl
ORTHANC_RESULTS=$ROOT/bench/results/cstore-durable-orthanc-$DATE.jsonl
SCP_PORT=18105
WORK=$(mktemp -d "$BENCH_TMP/cstore-durable-XXXXXX")

ensure_ct1k "$DATASET"
warm_dataset "$DATASET"
export HOUNSFIELD_APP HOUNSFIELD_ROOT=$BENCH_TMP/hounsfield-bench ORTHANC_ROOT=$BENCH_TMP/orthanc-bench
HOUNSFIELD_APP=$("$ROOT/scripts/publish" "$ROOT/bench/out/hounsfield")
dotnet build "$HERE/DurableScp/Hounsfield.Bench.DurableScp.csproj" -c Release -o "$ROOT/bench/out/durable-scp" -nologo -clp:ErrorsOnly >/dev/null
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

# The report groups records by workload: the durable receivers' records carry workloads of their own.
storescu_once() { # label workload pid-file storage port aet results rep
  (cd "$HARNESS" && SERVER_PID_FILE=$3 STORAGE_DIR=$4 DICOM_HOST=127.0.0.1 DICOM_PORT=$5 CALLED_AET=$6 CALLING_AET=BENCHSCU \
    RESULTS_FILE=$7 BENCH_LABEL=$1 BENCH_SCALE=$SCALE python3 ingest_cstore.py --dataset "$DATASET" --workload "$2" --rep "$8" >/dev/null)
}
server_once() { # label ctl pid-file storage port aet results rep
  sync
  "$2" reset >/dev/null
  storescu_once "$1" ingest_fresh_cstore "$3" "$4" "$5" "$6" "$7" "$8"
  "$2" stop >/dev/null
}
durable_once() { # mode rep
  rm -rf "$WORK/scp" && mkdir -p "$WORK/scp"
  local length=$(( $(du -sb "$DATASET" | cut -f1) * 11 / 10 ))
  "$ROOT/bench/out/durable-scp/hounsfield-durable-scp" $SCP_PORT "$WORK/scp/records.bin" "$1" $length 2>"$WORK/scp.log" & echo $! >"$WORK/scp.pid"
  for _ in $(seq 1200); do grep -q ready "$WORK/scp.log" && break; sleep 0.1; done
  sync
  storescu_once "durable-$1" "ingest_durable_${1}_cstore" "$WORK/scp.pid" "$WORK/scp" $SCP_PORT DURABLE "$RESULTS" "$2"
  kill "$(cat "$WORK/scp.pid")"
  wait "$(cat "$WORK/scp.pid")" 2>/dev/null || true
}

# One untimed repetition of each server first, as bench/dimse/run.sh does: what follows the publish is kept out of the figures.
server_once orthanc-1.10.1-sqlite "$HARNESS/orthanc/orthanc_ctl.sh" "$ORTHANC_ROOT/orthanc.pid" "$ORTHANC_ROOT/storage" 4242 ORTHANC "$WORK/warmup.jsonl" 0
server_once hounsfield-sqlite "$ROOT/bench/dicomweb/hounsfield_ctl.sh" "$HOUNSFIELD_ROOT/hounsfield.pid" "$HOUNSFIELD_ROOT/data" 11112 HOUNSFIELD "$WORK/warmup.jsonl" 0
for rep in $(seq 0 $((REPS - 1))); do
  server_once orthanc-1.10.1-sqlite "$HARNESS/orthanc/orthanc_ctl.sh" "$ORTHANC_ROOT/orthanc.pid" "$ORTHANC_ROOT/storage" 4242 ORTHANC "$ORTHANC_RESULTS" "$rep"
  server_once hounsfield-sqlite "$ROOT/bench/dicomweb/hounsfield_ctl.sh" "$HOUNSFIELD_ROOT/hounsfield.pid" "$HOUNSFIELD_ROOT/data" 11112 HOUNSFIELD "$RESULTS" "$rep"
  durable_once append "$rep"
  durable_once prewritten "$rep"
done

python3 - "$RESULTS" "$ORTHANC_RESULTS" >"$WORK/ratios.md" <<'PY'
import json, statistics, sys
records = [json.loads(line) for line in open(sys.argv[1])]
anchor = statistics.median(json.loads(line)["inst_per_s"] for line in open(sys.argv[2]) if '"ingest_fresh_cstore"' in line)
print("## Against Orthanc's median in this run (%.0f inst/s; 3x = %.0f)\n" % (anchor, 3 * anchor))
for workload, name in (("ingest_fresh_cstore", "Hounsfield"), ("ingest_durable_append_cstore", "durable receiver, growing file"),
                       ("ingest_durable_prewritten_cstore", "durable receiver, blocks written beforehand")):
    rates = [r["inst_per_s"] for r in records if r.get("workload") == workload]
    if rates:
        print("- %s: %.0f inst/s median (%s), %.2fx" % (name, statistics.median(rates), ", ".join("%.0f" % x for x in rates), statistics.median(rates) / anchor))
PY
python3 "$HARNESS/report.py" "$RESULTS" --compare "$ORTHANC_RESULTS" --notes "$WORK/ratios.md" \
  --title "C-STORE, storescu one association: Hounsfield and the least durable receiver, against Orthanc ($DATE)" \
  > "$ROOT/bench/results/cstore-durable-$DATE.md"
echo "wrote bench/results/cstore-durable-$DATE.md" >&2
