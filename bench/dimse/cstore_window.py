#!/usr/bin/env python3
"""C-STORE ingest with our own SCU (`hounsfield store`), one association, proposing an asynchronous operations
window (PS3.7 D.3.3.3): the same files as ingest_cstore.py's storescu run, into whichever server DICOM_HOST/DICOM_PORT
name. A server that accepts the window receives up to that many C-STOREs before answering the first; one that
answers without it gets them one at a time. Wall time includes the CLI's start-up, as storescu's does.
Records go to RESULTS_FILE in the shared harness's format (workload ingest_fresh_cstore, variant hounsfield_store_window16).
  cstore_window.py --dataset DIR --app path/to/hounsfield [--rep N]     (the executable, or a .dll run by dotnet)
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.environ.get("HARNESS", os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/bench")))
import benchlib as bl  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--app", required=True)
    ap.add_argument("--rep", type=int, default=0)
    args = ap.parse_args()

    host, port = bl.env("DICOM_HOST", "127.0.0.1"), bl.env("DICOM_PORT", "4242")
    bl.check_loopback(host)
    manifest = bl.load_manifest(args.dataset)
    folders = sorted({os.path.join(args.dataset, i["path"].split("/")[0]) for i in manifest["instances"]})
    cmd = [*(["dotnet"] if args.app.endswith(".dll") else []), args.app, "store", host, port, *folders, "--aet", bl.env("CALLING_AET", "BENCHSCU"), "--aec", bl.env("CALLED_AET", "ORTHANC")]
    with bl.ResourceMonitor() as mon:
        t0 = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        wall = time.perf_counter() - t0
    summary = re.search(r"(\d+) of (\d+) instances stored", p.stdout + p.stderr)
    ok, attempted = (int(summary.group(1)), int(summary.group(2))) if summary else (0, len(manifest["instances"]))
    nbytes = sum(i["size"] for i in manifest["instances"]) if ok == attempted else None
    rec = {
        "workload": "ingest_fresh_cstore", "variant": "hounsfield_store_window16", "concurrency": 1, "rep": args.rep,
        "dataset": os.path.basename(os.path.normpath(args.dataset)),
        "instances_ok": ok, "instances_attempted": attempted, "rc": p.returncode,
        "errors": (attempted - ok) + (0 if p.returncode == 0 else 1), "error_samples": (p.stderr.strip().splitlines() or [""])[:3],
        "wall_s": round(wall, 3), "inst_per_s": round(ok / wall, 2),
        "mb_per_s": round(nbytes / 1e6 / wall, 2) if nbytes else None,
    }
    rec.update(mon.result)
    bl.emit(rec)


if __name__ == "__main__":
    main()
