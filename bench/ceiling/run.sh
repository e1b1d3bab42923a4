#!/usr/bin/env bash
# The load generators' own ceilings (issues 4 and 6): the shared harness's ingest workloads against receivers that do
# no work, so no server can score above these figures in the same workload on this machine.
#   - STOW-RS: ingest_stow.py (b1/b50 x c1/c4) against null_stow_sink (reads and discards each request, answers 200).
#   - C-STORE: ingest_cstore.py (DCMTK storescu, one association) against DCMTK storescp --ignore (receives, stores nothing).
# Then the same bounds for a server that acknowledges only what is on disk, as ours must (issue 4: no acknowledged
# instance lost), on the disk that holds the servers' data ($BENCH_TMP):
#   - STOW-RS one instance per request (b1): null_stow_sink appending each body to a file with one fdatasync per request
#     (workload ingest_durable_stow). At c1 no server can flush less often; at c4 a server can group the flushes.
#   - flush_floor.py: append + fdatasync of one CT instance's size, nothing else (phys_append_fdatasync). storescu sends
#     one instance at a time and waits for its answer, so the C-STORE bound is the storescp --ignore cycle plus this flush.
#   bench/ceiling/run.sh [DATASET] [REPS]     defaults: the harness's 1k CT set, 3 repetitions
# WITH_ORTHANC=1 also runs the anchor (Orthanc, as bench/dicomweb/run.sh starts it) through the same STOW-RS workloads,
# its repetitions taking turns with the sinks', so that the bounds and the anchor's figures come from one run; the
# report's last column is then Orthanc's rate and the do-nothing sink's multiple of it: the most any server can score.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../common.sh"
DATASET=${1:-$BENCH_TMP/bench-data/ct1k}
REPS=${2:-3}
RESULTS=$ROOT/bench/results/ceiling-$DATE.jsonl
ORTHANC_RESULTS=$ROOT/bench/results/ceiling-orthanc-$DATE.jsonl
SINK_PORT=18099 SCP_PORT=18104
WORK=$(mktemp -d)

command -v gcc >/dev/null && command -v storescp >/dev/null || {
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq gcc dcmtk >&2
}
ensure_ct1k "$DATASET"
warm_dataset "$DATASET"
gcc -O2 -pthread -o "$WORK/null_stow_sink" "$HERE/null_stow_sink.c"

trap 'kill $(jobs -p) 2>/dev/null; [[ ${WITH_ORTHANC:-} == 1 ]] && "$HARNESS/orthanc/orthanc_ctl.sh" stop >/dev/null; rm -rf "$WORK" "$BENCH_TMP/durable-stow-sink.bin"' EXIT
stow_once() { # label workload batch:concurrency rep
  (cd "$HARNESS" && BENCH_LABEL=$1 BENCH_SCALE=1k python3 ingest_stow.py --dataset "$DATASET" \
    --batch "${3%:*}" --concurrency "${3#*:}" --workload "$2" --rep "$4" >/dev/null)
}
orthanc_once() { # workload batch:concurrency rep: the anchor, reset and alone, after a sync
  local ctl=$HARNESS/orthanc/orthanc_ctl.sh
  sync
  "$ctl" reset >/dev/null
  RESULTS_FILE=$ORTHANC_RESULTS BASE_URL=http://127.0.0.1:8042/dicom-web AUTH= SERVER_PID_FILE=$BENCH_TMP/orthanc-bench/orthanc.pid stow_once orthanc "$@"
  "$ctl" stop >/dev/null
}
stow_against_sink() { # label workload "batch:concurrency ..." [file the sink appends and flushes each request to]
  for config in $3; do
    for rep in $(seq 0 $((REPS - 1))); do
      sync
      "$WORK/null_stow_sink" $SINK_PORT ${4:+"$4"} & echo $! >"$WORK/sink.pid"
      sleep 0.3
      RESULTS_FILE=$RESULTS BASE_URL=http://127.0.0.1:$SINK_PORT/dicomweb AUTH= SERVER_PID_FILE=$WORK/sink.pid stow_once "$1" "$2" "$config" "$rep"
      kill "$(cat "$WORK/sink.pid")"
      wait "$(cat "$WORK/sink.pid")" 2>/dev/null || true # the port is free for the next sink
      if [[ ${WITH_ORTHANC:-} == 1 && $2 == ingest_fresh_stow ]]; then orthanc_once "$2" "$config" "$rep"; fi
    done
  done
}
stow_against_sink null-stow-sink ingest_fresh_stow "1:1 1:4 50:1 50:4"
stow_against_sink durable-stow-sink ingest_durable_stow "1:1 1:4" "$BENCH_TMP/durable-stow-sink.bin"
for rep in $(seq 0 $((REPS - 1))); do
  HARNESS=$HARNESS RESULTS_FILE=$RESULTS BENCH_LABEL=flush-floor python3 "$HERE/flush_floor.py" "$BENCH_TMP" --rep "$rep" >/dev/null
done

mkdir -p "$WORK/scp"
TCP_NODELAY=1 storescp --ignore -aet CEILING --output-directory "$WORK/scp" $SCP_PORT & echo $! >"$WORK/scp.pid"
sleep 0.3
for rep in $(seq 0 $((REPS - 1))); do
  (cd "$HARNESS" && SERVER_PID_FILE=$WORK/scp.pid DICOM_HOST=127.0.0.1 DICOM_PORT=$SCP_PORT CALLED_AET=CEILING CALLING_AET=BENCHSCU \
    RESULTS_FILE=$RESULTS BENCH_LABEL=storescp-ignore BENCH_SCALE=1k python3 ingest_cstore.py --dataset "$DATASET" \
    --workload ingest_fresh_cstore --rep "$rep" >/dev/null)
done

python3 - "$RESULTS" >"$WORK/bounds.md" <<'PY'
import json, statistics, sys
records = [json.loads(line) for line in open(sys.argv[1])]
def median(workload, field, variant=None):
    values = [r[field] for r in records if r.get("workload") == workload and (variant is None or r.get("variant") == variant)]
    return statistics.median(values) if values else None
scp, flush = median("ingest_fresh_cstore", "inst_per_s"), median("phys_append_fdatasync", "p50_ms")
stow = median("ingest_durable_stow", "inst_per_s", "b1_c1")
print("## Durable bounds (medians of this run)\n")
if scp and flush:
    print("- C-STORE, storescu one association: 1 / (1/%.0f + %.3f ms) = **%.0f inst/s** for a receiver that does nothing"
          " but flush each instance before answering." % (scp, flush, 1 / (1 / scp + flush / 1000)))
if stow:
    print("- STOW-RS b1_c1: **%.0f inst/s** for a receiver that does nothing but append and flush each request." % stow)
PY
[[ ${WITH_ORTHANC:-} == 1 ]] && compare=(--compare "$ORTHANC_RESULTS") || compare=()
python3 "$HARNESS/report.py" "$RESULTS" "${compare[@]}" --title "Load generator ceilings: receivers that do no work ($DATE)" \
  --notes "$WORK/bounds.md" > "$ROOT/bench/results/ceiling-$DATE.md"
echo "wrote bench/results/ceiling-$DATE.md" >&2
