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

# Reads every file of a dataset once, so that the benchmark client reads it from the page cache in every run. Otherwise
# the first server measured (ours, in every script) pays for reading a set larger than the cache kept from disk, and the
# anchor after it does not: a 20k STOW-RS b1c1 run measured 176 then 303 inst/s in one session, and storescu of the 20k
# set 317 cold and 564 warm (2026-12-06).
warm_dataset() {
  [[ -d $1 ]] && find "$1" -type f -name '*.dcm' -print0 | xargs -0 cat >/dev/null
  return 0
}
