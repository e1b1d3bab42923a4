#!/usr/bin/env bash
# Start-up with a large archive: seconds until /health/ready and peak RSS, for an empty data folder and for one holding N
# synthetic instances (index rows with metadata as large as the CT corpus's, whose blob keys point into sparse segment
# files: start-up reads no record it knows, so only the index side and the sweep's bookkeeping are measured).
#   bench/startup/run.sh [N] [REPS]     defaults: 500 000 instances, 3 starts each
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../common.sh"
N=${1:-500000}
REPS=${2:-3}
APP=${HOUNSFIELD_APP:-$("$ROOT/scripts/publish" "$ROOT/bench/out/hounsfield")}
PORT=${HOUNSFIELD_PORT:-18089}
WORK=$BENCH_TMP/hounsfield-startup-bench
RESULTS=$ROOT/bench/results/startup-$DATE.md

start() { # data folder -> "seconds peak-RSS-kB"
  HOUNSFIELD_ADMIN_EMAIL=bench@localhost HOUNSFIELD_ADMIN_PASSWORD=bench-password Logging__LogLevel__Default=Warning \
    "$APP" serve --urls "http://127.0.0.1:$PORT" --data "$1" --dicom-port 0 >>"$WORK/log" 2>&1 &
  local pid=$! begin end
  begin=$(date +%s.%N)
  for _ in $(seq 6000); do
    curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break
    kill -0 $pid 2>/dev/null || { echo "the server exited; see $WORK/log" >&2; exit 1; }
    sleep 0.01
  done
  end=$(date +%s.%N)
  local rss; rss=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
  kill $pid; wait $pid || true
  python3 -c "print(f'{$end - $begin:.2f} $rss')"
}

rm -rf "$WORK"; mkdir -p "$WORK"
start "$WORK/empty" >/dev/null      # the schema, for both folders
cp -r "$WORK/empty" "$WORK/large"
python3 "$HERE/synth_archive.py" "$WORK/large" "$N" >/dev/null
start "$WORK/large" >/dev/null      # first start after the bulk insert (page cache warm for both from here on)

{
  echo "# Start-up, $(date +%F), $N instances (checkout $(cd "$ROOT" && git rev-parse --short HEAD), server $APP)"
  echo
  echo "| archive | ready (s) | peak RSS (MB) |"
  echo "|---|---|---|"
} >"$RESULTS"
for rep in $(seq "$REPS"); do
  for folder in empty large; do
    read -r seconds rss < <(start "$WORK/$folder")
    echo "| $folder | $seconds | $((rss / 1024)) |" >>"$RESULTS"
  done
done
cat "$RESULTS"
rm -rf "$WORK"
