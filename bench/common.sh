# Sourced by the benchmark scripts after they set HERE: where things are, the scratch root, the results' date label,
# and the shared harness's 1k CT dataset.
ROOT=$(cd "$HERE/../.." && pwd)
HARNESS=${HARNESS:-$ROOT/../shared/bench}
export BENCH_TMP=${BENCH_TMP:-$(python3 -c 'import tempfile; print(tempfile.gettempdir())')}
DATE=$(date +%F)${RESULTS_TAG:+-$RESULTS_TAG}  # RESULTS_TAG names a second run of the day (results files are appended to)

# The harness's 1k set (its own seed and shape), generated when missing.
ensure_ct1k() {
  [[ -d $1 ]] || python3 "$HARNESS/gen_dataset.py" --out "$1" --seed s1k --patients 7 --studies 2 --series 2 \
    --instances 25 --big-series 300 --rows 256 --cols 256 >/dev/null
}
