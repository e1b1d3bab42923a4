#!/usr/bin/env bash
# The load generators' own ceilings (issues 4 and 6): the shared harness's ingest workloads against receivers that do
# no work, so no server can score above these figures in the same workload on this machine.
#   - STOW-RS: ingest_stow.py (b1/b50 x c1/c4) against null_stow_sink (reads and discards each request, answers 200).
#   - C-STORE: ingest_cstore.py (DCMTK storescu, one association) against DCMTK storescp --ignore (receives, stores nothing).
#   bench/ceiling/run.sh [DATASET] [REPS]     defaults: the harness's 1k CT set, 3 repetitions
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../common.sh"
DATASET=${1:-$BENCH_TMP/bench-data/ct1k}
REPS=${2:-3}
RESULTS=$ROOT/bench/results/ceiling-$DATE.jsonl
SINK_PORT=18099 SCP_PORT=18104
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT

command -v gcc >/dev/null && command -v storescp >/dev/null || {
  sudo_cmd=(); [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq gcc dcmtk >&2
}
ensure_ct1k "$DATASET"
gcc -O2 -pthread -o "$WORK/null_stow_sink" "$HERE/null_stow_sink.c"

"$WORK/null_stow_sink" $SINK_PORT & echo $! >"$WORK/sink.pid"
sleep 0.3
for config in 1:1 1:4 50:1 50:4; do
  for rep in $(seq 0 $((REPS - 1))); do
    (cd "$HARNESS" && BASE_URL=http://127.0.0.1:$SINK_PORT/dicomweb AUTH= SERVER_PID_FILE=$WORK/sink.pid RESULTS_FILE=$RESULTS \
      BENCH_LABEL=null-stow-sink BENCH_SCALE=1k python3 ingest_stow.py --dataset "$DATASET" --batch "${config%:*}" \
      --concurrency "${config#*:}" --workload ingest_fresh_stow --rep "$rep" >/dev/null)
  done
done

mkdir -p "$WORK/scp"
TCP_NODELAY=1 storescp --ignore -aet CEILING --output-directory "$WORK/scp" $SCP_PORT & echo $! >"$WORK/scp.pid"
sleep 0.3
for rep in $(seq 0 $((REPS - 1))); do
  (cd "$HARNESS" && SERVER_PID_FILE=$WORK/scp.pid DICOM_HOST=127.0.0.1 DICOM_PORT=$SCP_PORT CALLED_AET=CEILING CALLING_AET=BENCHSCU \
    RESULTS_FILE=$RESULTS BENCH_LABEL=storescp-ignore BENCH_SCALE=1k python3 ingest_cstore.py --dataset "$DATASET" \
    --workload ingest_fresh_cstore --rep "$rep" >/dev/null)
done

python3 "$HARNESS/report.py" "$RESULTS" --title "Load generator ceilings: receivers that do no work ($DATE)" > "$ROOT/bench/results/ceiling-$DATE.md"
echo "wrote bench/results/ceiling-$DATE.md" >&2
