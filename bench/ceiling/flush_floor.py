#!/usr/bin/env python3
"""The cost of keeping one instance durable on this disk, with nothing else: append LENGTH bytes to a file in DIR and
flush it (fdatasync) before the next append, COUNT times. Any server that acknowledges an instance only once it is on
disk pays at least this per instance received one at a time. Emits a harness record (phys_append_fdatasync) to
RESULTS_FILE.
  flush_floor.py DIR [--length 135168] [--count 1000] [--rep N]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.environ.get("HARNESS", os.path.join(os.path.dirname(__file__), "../../../shared/bench")))
import benchlib as bl  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--length", type=int, default=132 * 1024, help="bytes per append (the CT set's instance size)")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--rep", type=int, default=0)
    args = ap.parse_args()
    block = os.urandom(args.length)
    path = os.path.join(args.dir, "flush-floor-%d.bin" % os.getpid())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    latencies = []
    try:
        started = time.perf_counter()
        for i in range(args.count):
            t = time.perf_counter()
            os.pwrite(descriptor, block, i * args.length)
            os.fdatasync(descriptor)
            latencies.append(time.perf_counter() - t)
        wall = time.perf_counter() - started
    finally:
        os.close(descriptor)
        os.unlink(path)
    latencies.sort()
    bl.emit({"workload": "phys_append_fdatasync", "variant": "%dKiB_append_fdatasync" % (args.length // 1024),
             "rep": args.rep, "requests": args.count, "req_per_s": round(args.count / wall, 1),
             "mb_per_s": round(args.count * args.length / 1e6 / wall, 1),
             "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3),
             "p99_ms": round(latencies[len(latencies) * 99 // 100] * 1000, 3),
             "mean_ms": round(statistics.fmean(latencies) * 1000, 3)})


if __name__ == "__main__":
    main()
