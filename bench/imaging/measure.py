#!/usr/bin/env python3
"""Imaging benchmark driver (called by bench/imaging/run.sh; see there for the environment).

Measures, in one run on this machine, everything pinned to core 0 (taskset -c 0) unless said otherwise:
  decode   per transfer syntax: our decode MB/s (codec alone, and file to pixels) in one process, against DCMTK's
           dcmdjpeg / dcmdjpls / dcmdrle run once per file over the same files (wall time of the batch), plus each
           DCMTK tool's start-up cost per process (the tool run on a file with nothing to decode);
  render   frame 1 of 20 generated 512x512 16-bit CT files to PNG and to JPEG: our frames/s (the library as it is now,
           and as it was at BASELINE_REF), against dcm2pnm --write-png and dcmj2pnm --write-jpeg (one process per file;
           DCMTK 3.6.7's dcm2pnm has no JPEG writer) and Orthanc's /instances/{id}/rendered under wrk -t1 -c1 (Orthanc
           pinned to core 0, wrk to core 1).
Appends a markdown section to the results file and prints it.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.environ["ROOT"]
DATA = os.environ["DATA"]
RESULTS = os.environ["RESULTS"]
SERVER_APP = os.environ["SERVER_APP"]    # hounsfield.dll, the server as built from the current tree
BENCH = os.environ["BENCH_APP"]          # our bench program against the current tree (JIT), for steady-state figures
COLD = os.environ.get("COLD_APP", BENCH)  # the same, ReadyToRun, for the one-process (cold) runs
BASELINE = os.environ.get("BASELINE_APP")  # the same program built against BASELINE_REF's library
BASELINE_REF = os.environ.get("BASELINE_REF", "")
SECONDS = float(os.environ.get("MEASURE_SECONDS", "5"))
REPS = int(os.environ.get("REPS", "5"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
CORPUS = os.path.join(ROOT, "..", "shared", "dicom-corpus")
ORTHANC_CTL = os.path.join(ROOT, "..", "shared", "bench", "orthanc", "orthanc_ctl.sh")
WRK_LUA = os.path.join(ROOT, "..", "shared", "bench", "wrk_urls.lua")
TRIVIAL = os.path.join(CORPUS, "files", "charset_latin1_french.dcm")  # 32x32 8-bit, explicit VR LE: nothing to decode
PIN = ["taskset", "-c", "0"]

DCMTK_DECODER = {
    "1.2.840.10008.1.2.5": "dcmdrle",
    "1.2.840.10008.1.2.4.50": "dcmdjpeg",
    "1.2.840.10008.1.2.4.51": "dcmdjpeg",
    "1.2.840.10008.1.2.4.57": "dcmdjpeg",
    "1.2.840.10008.1.2.4.70": "dcmdjpeg",
    "1.2.840.10008.1.2.4.80": "dcmdjpls",
    "1.2.840.10008.1.2.4.81": "dcmdjpls",
}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# Steady state sooner: hot methods go to their final tier as soon as they are counted, instead of waiting for 100 ms
# without new tier-0 code (pinned to one core, a busy process can wait many seconds; a long-running server gets there).
STEADY = {"DOTNET_TC_CallCountingDelayMs": "0"}

# A host setting for the server to consider: arrays up to 1 MiB (a 512x512 16-bit frame, its 8-bit render) in the small
# object heap, so that they die young instead of each triggering gen-2 collections through the large object heap budget.
LOH_1MIB = {"DOTNET_GCLOHThreshold": "0x100000"}


def bench(app, *args, env=None):
    run_env = dict(os.environ, **STEADY, **(env or {}))
    out = subprocess.run(PIN + ["dotnet", app] + list(args), check=True, capture_output=True, text=True, env=run_env).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def walls(batches, reps=REPS):
    """
    Best (least) wall seconds of each batch (a list of argv lists, one process each, in sequence) over `reps` runs, the
    batches taken in turn within each run (so that a batch and its start-up reference see the same load); one warm-up first.
    """
    def once(commands):
        start = time.perf_counter()
        for argv in commands:
            subprocess.run(PIN + argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return time.perf_counter() - start
    for commands in batches:
        once(commands)
    best = [float("inf")] * len(batches)
    for _ in range(reps):
        for i, commands in enumerate(batches):
            best[i] = min(best[i], once(commands))
    return best


def wall(commands, reps=REPS):
    return walls([commands], reps)[0]


def corpus_groups():
    """Valid corpus files with pixel data that we decode, by encapsulated transfer syntax."""
    with open(os.path.join(CORPUS, "MANIFEST.json")) as f:
        manifest = json.load(f)
    groups = {}
    for entry in manifest["files"]:
        uid = entry.get("transfer_syntax_uid") or ""
        if entry.get("status") != "valid" or not entry.get("rows") or not uid.startswith("1.2.840.10008.1.2.") or uid in (
                "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"):
            continue
        pixels = entry.get("pixels") if isinstance(entry.get("pixels"), dict) else {}
        dcmtk_ok = pixels.get("status") == "decoded"
        groups.setdefault(uid, []).append((os.path.join(CORPUS, entry["file"]), dcmtk_ok))
    return groups


def measure_decode(tmp):
    rows = []
    sets = [("corpus", uid, files) for uid, files in sorted(corpus_groups().items())]
    for name, uid in [("sv1", "1.2.840.10008.1.2.4.70"), ("p14", "1.2.840.10008.1.2.4.57"), ("ext", "1.2.840.10008.1.2.4.51"),
                      ("jls", "1.2.840.10008.1.2.4.80"), ("rle", "1.2.840.10008.1.2.5"), ("j2k", "1.2.840.10008.1.2.4.90")]:
        folder = os.path.join(DATA, name)
        sets.append(("CT 512x512x16 x20", uid, [(os.path.join(folder, f), name != "j2k") for f in sorted(os.listdir(folder))]))

    out = os.path.join(tmp, "decoded.dcm")
    for source, uid, entries in sets:
        files = [f for f, _ in entries]
        tool = DCMTK_DECODER.get(uid)
        # DCMTK figures only over the files DCMTK decodes (the corpus records which); ours over the same files then.
        if tool:
            files = [f for f, ok in entries if ok]
        if not files:
            continue
        log(f"decode {source} {uid}: {len(files)} files")
        ours = bench(BENCH, "decode", "--seconds", str(SECONDS), *files)
        ours = [o for o in ours if o.get("files")]
        if not ours:
            continue
        ours = ours[0]
        row = {"source": source, "uid": uid, "name": ours["name"], "files": ours["files"], "frames": ours["frames"],
               "bytes": ours["decoded_bytes"], "codec_mbps": ours["codec_mbps"], "file_mbps": ours["file_mbps"],
               "failures": ours["failures"], "tool": tool}
        row["ours_once_s"] = wall([["dotnet", COLD, "decode", "--once"] + files])
        if tool:
            # The same number of runs of the tool on a file with nothing to decode: its start-up, measured alongside.
            row["dcmtk_s"], row["dcmtk_startup_s"] = walls([[[tool, f, out] for f in files], [[tool, TRIVIAL, out]] * len(files)])
        rows.append(row)
    return rows


def startup_costs(tmp):
    """Per-process cost of each DCMTK tool on a file with nothing to decode (32x32 8-bit, uncompressed)."""
    out = os.path.join(tmp, "trivial-out")
    n = 20
    costs = {}
    for tool in ["dcmdjpeg", "dcmdjpls", "dcmdrle"]:
        costs[tool] = wall([[tool, TRIVIAL, out + ".dcm"]] * n) / n
    costs["dcm2pnm --write-png"] = wall([["dcm2pnm", "--write-png", TRIVIAL, out + ".png"]] * n) / n
    costs["dcmj2pnm --write-jpeg"] = wall([["dcmj2pnm", "--write-jpeg", TRIVIAL, out + ".jpg"]] * n) / n
    costs["hounsfield bench (dotnet, ReadyToRun) decode --once"] = wall([["dotnet", COLD, "decode", "--once", TRIVIAL]] * 5) / 5
    return costs


def measure_render(tmp, ct):
    rows = []
    variants = [("hounsfield PNG (Fastest: zlib 1 + Z_RLE, the default)", BENCH, ["--format", "png"], None),
                ("hounsfield PNG (Optimal: zlib 6)", BENCH, ["--format", "png", "--level", "optimal"], None),
                ("hounsfield JPEG q90 (typical Huffman tables, the default)", BENCH, ["--format", "jpeg"], None),
                ("hounsfield JPEG q90 (OptimizeCoding: optimal Huffman tables)", BENCH, ["--format", "jpeg", "--optimize-coding"], None),
                ("hounsfield PNG, host GC setting System.GC.LOHThreshold = 1 MiB", BENCH, ["--format", "png"], LOH_1MIB),
                ("hounsfield JPEG, host GC setting System.GC.LOHThreshold = 1 MiB", BENCH, ["--format", "jpeg"], LOH_1MIB)]
    if BASELINE:
        variants += [(f"before ({BASELINE_REF}): PNG (Fastest: zlib 1)", BASELINE, ["--format", "png"], None),
                     (f"before ({BASELINE_REF}): PNG (Optimal: zlib 6)", BASELINE, ["--format", "png", "--level", "optimal"], None),
                     (f"before ({BASELINE_REF}): JPEG q90 (optimal Huffman tables)", BASELINE, ["--format", "jpeg"], None)]
    # Rounds over all variants, each keeping its best window: interference from other load hits every variant alike.
    best = {}
    for round in range(ROUNDS):
        for label, app, args, env in variants:
            log("render", round + 1, label)
            r = bench(app, "render", "--seconds", str(SECONDS), *args, *ct, env=env)[0]
            if label not in best or r["frames_per_second"] > best[label]["frames_per_second"]:
                best[label] = r
    for label, _, _, _ in variants:
        r = best[label]
        rows.append({"label": label, "fps": r["frames_per_second"], "cpu_fps": r["frames_per_cpu_second"],
                     "bytes": r["mean_output_bytes"], "sha": r["rendered_pixels_sha256"],
                     "breakdown": (r["ms_open"], r["ms_read_frame"], r["ms_render"], r["ms_encode"])})

    # DCMTK: one process per file; +Wi 1 = the data set's first window, as our renders (VoiMode.First) and Orthanc's.
    for label, argv, ext in [("dcm2pnm --write-png +Wi 1", ["dcm2pnm", "--write-png", "+Wi", "1"], "png"),
                             ("dcmj2pnm --write-jpeg +Wi 1 (quality 90)", ["dcmj2pnm", "--write-jpeg", "+Wi", "1"], "jpg")]:
        log("render", label)
        outs = [os.path.join(tmp, f"dcmtk{i}.{ext}") for i in range(len(ct))]
        seconds, startup = walls([[argv + [f, o] for f, o in zip(ct, outs)],
                                  [[argv[0], "--write-png" if ext == "png" else "--write-jpeg", TRIVIAL, outs[0]]] * len(ct)])
        size = statistics.mean(os.path.getsize(o) for o in outs)
        rows.append({"label": label, "fps": len(ct) / seconds, "batch_s": seconds, "startup_s": startup / len(ct),
                     "bytes": size, "frames": len(ct)})
    return rows


def measure_rendered_http(name, base, urls, auth=""):
    """wrk -t1 -c1 (pinned to core 1) over a list of rendered-image paths, for PNG and JPEG: best of ROUNDS."""
    rows = []
    for accept in ["image/png", "image/jpeg"]:
        log(name, accept)
        wenv = dict(os.environ, URLS_FILE=urls, ACCEPT=accept, MAX_REQ="0", AUTH_HEADER=auth)
        cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c1", "-s", WRK_LUA, base]
        subprocess.run(cmd[:5] + ["-d2s"] + cmd[5:], check=True, env=wenv, capture_output=True)  # warm-up
        results = []
        for _ in range(ROUNDS):
            out = subprocess.run(cmd[:5] + [f"-d{max(5, int(SECONDS))}s"] + cmd[5:], check=True, env=wenv,
                                 capture_output=True, text=True).stdout
            record = json.loads(next(l for l in out.splitlines() if l.startswith("WRKJSON "))[8:])
            assert record["non2xx"] == 0, record
            results.append(record)
        best = max(results, key=lambda r: r["requests"] / r["duration_us"])
        rows.append({"label": f"{name}, Accept {accept} (wrk -t1 -c1, best of {ROUNDS})",
                     "fps": best["requests"] / (best["duration_us"] / 1e6),
                     "bytes": best["bytes"] / best["requests"], "p50_ms": best["p50_us"] / 1000})
    return rows


def measure_orthanc(tmp, ct):
    env = dict(os.environ, BENCH_TMP=tmp, ORTHANC_ROOT=os.path.join(tmp, "orthanc"))
    subprocess.run(PIN + [ORTHANC_CTL, "reset"], check=True, env=env, stdout=subprocess.DEVNULL)
    try:
        ids = []
        for f in ct:
            out = subprocess.run(["curl", "-sf", "-X", "POST", "http://127.0.0.1:8042/instances", "--data-binary", "@" + f],
                                 check=True, capture_output=True, text=True).stdout
            ids.append(json.loads(out)["ID"])
        urls = os.path.join(tmp, "orthanc-urls.txt")
        with open(urls, "w") as f:
            f.write("".join(f"/instances/{i}/rendered\n" for i in ids))
        return measure_rendered_http("Orthanc 1.10 /instances/{id}/rendered", "http://127.0.0.1:8042", urls)
    finally:
        subprocess.run([ORTHANC_CTL, "stop"], env=env, stdout=subprocess.DEVNULL)


def measure_hounsfield_http(tmp, ct):
    """Our server (hounsfield serve, pinned to core 0 like Orthanc) over the same files: STOW, then /rendered."""
    import urllib.request
    port = 18080
    base = f"http://127.0.0.1:{port}"
    data = os.path.join(tmp, "hounsfield-data")
    env = dict(os.environ, HOUNSFIELD_ADMIN_EMAIL="bench@hounsfield.local", HOUNSFIELD_ADMIN_PASSWORD="bench-password-1",
               DOTNET_TC_CallCountingDelayMs="0")
    server = subprocess.Popen(PIN + ["dotnet", SERVER_APP, "serve", "--urls", base, "--data", data, "--dicom-port", "0"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/health/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        auth = ""
        try:
            body = json.dumps({"email": env["HOUNSFIELD_ADMIN_EMAIL"], "password": env["HOUNSFIELD_ADMIN_PASSWORD"]}).encode()
            req = urllib.request.Request(base + "/api/token/", body, {"Content-Type": "application/json"})
            auth = "Bearer " + json.loads(urllib.request.urlopen(req).read())["access"]
        except OSError:
            pass  # a build without accounts: DICOMweb is open on loopback
        headers = {"Authorization": auth} if auth else {}
        paths = []
        for f in ct:
            boundary = "hounsfieldbench"
            payload = (f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode() + open(f, "rb").read()
                       + f"\r\n--{boundary}--\r\n".encode())
            req = urllib.request.Request(base + "/dicomweb/studies", payload, dict(headers, **{
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": "application/dicom+json"}))
            stored = json.loads(urllib.request.urlopen(req).read())
            url = stored["00081199"]["Value"][0]["00081190"]["Value"][0]
            paths.append(url[len(base):] + "/rendered")
        urls = os.path.join(tmp, "hounsfield-urls.txt")
        with open(urls, "w") as f:
            f.write("".join(p + "\n" for p in paths))
        return measure_rendered_http("hounsfield serve /dicomweb/…/instances/{uid}/rendered", base, urls, auth)
    finally:
        server.terminate()
        server.wait()


def read_png_gray(path):
    """Decodes an 8-bit gray, non-interlaced PNG (zlib + the five RFC 2083 filters) to (width, height, bytes)."""
    import struct
    import zlib
    data = open(path, "rb").read()
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert (depth, colour) == (8, 0), (depth, colour)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    out = bytearray()
    previous = bytearray(width)
    for y in range(height):
        kind, line = raw[y * (width + 1)], bytearray(raw[y * (width + 1) + 1:(y + 1) * (width + 1)])
        for i in range(width):
            a = line[i - 1] if i else 0
            b = previous[i]
            c = previous[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        previous = line
    return width, height, bytes(out)


def read_pgm(path):
    data = open(path, "rb").read()
    magic, width, height, maxval, rest = data.split(maxsplit=4)
    assert magic == b"P5" and maxval == b"255"
    return int(width), int(height), rest


def verify_png(tmp, ct):
    """Our PNGs (current library) decoded against dcm2pnm's 8-bit PGM of the same window: equal pixels for every file?"""
    ours = os.path.join(tmp, "verify")
    bench(BENCH, "render", "--once", "--format", "png", "--write", ours, *ct)
    equal = 0
    for f in ct:
        pgm = os.path.join(tmp, "verify.pgm")
        subprocess.run(["dcm2pnm", "+Wi", "1", f, pgm], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        png = os.path.join(ours, os.path.splitext(os.path.basename(f))[0] + ".png")
        equal += read_png_gray(png) == read_pgm(pgm)
    return equal


def fmt(x, digits=1):
    return f"{x:,.{digits}f}"


def main():
    tmp = tempfile.mkdtemp(prefix="imaging-bench-", dir=os.environ.get("BENCH_TMP"))
    ct_dir = os.path.join(DATA, "ct")
    ct = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(ct_dir) for f in fs if f.endswith(".dcm"))
    load_before = loadavg()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    try:
        verified = verify_png(tmp, ct)
        render = measure_render(tmp, ct)
        orthanc = measure_orthanc(tmp, ct)
        served = measure_hounsfield_http(tmp, ct)
        decode = measure_decode(tmp)
        startup = startup_costs(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = loadavg()

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines = []
    w = lines.append
    w("")
    w(f"## Imaging, {started}, {os.cpu_count()} cores, {cpu}")
    w("")
    w(f"Load average (1, 5, 15 min) before: {load_before}; after: {load_after} (the 2 cores are shared with other sessions).")
    w(f"Everything of ours and DCMTK's pinned to core 0 (`taskset -c 0`); Orthanc pinned to core 0, wrk to core 1. "
      f"Ours: the bench program (`bench/imaging`, .NET {subprocess.run(['dotnet', '--version'], capture_output=True, text=True).stdout.strip()}; "
      f"JIT-compiled for steady-state figures, taken after a warm-up; the ReadyToRun publish for cold one-process runs). DCMTK 3.6.7, Orthanc 1.10.1 (Debian 12 packages).")
    w("")
    w("### Render: frame 1 of 20 generated CT files (512×512, 16-bit signed, BitsStored 12, window 40/400) to PNG and JPEG, one core")
    w("")
    w("Ours: open the file, read the frame, render it (PS3.4 N.2, the data set's first window), encode — in one process; "
      "the breakdown is thread CPU time per stage (open / read frame / render / encode, ms; garbage collections are paid by "
      "the stage that allocates: reading the frame allocates 512 KiB, rendering 256 KiB). "
      "Our processes run with DOTNET_TC_CallCountingDelayMs=0 (hot methods reach their final tier without waiting for a "
      "quiet 100 ms, which a process pinned to one busy core may not see for many seconds) and otherwise default settings "
      "(workstation GC), except the two rows with a larger LOH threshold. "
      f"Each figure is the best of {ROUNDS} windows of {SECONDS:g} s (ours, taken in rounds over all our rows) or of {REPS} batches "
      "(DCMTK: one process per file over the same 20 files), so that the other load on the machine costs every row alike; "
      "DCMTK's per-process start-up is in the table below. "
      "Orthanc: over HTTP on loopback, so its figure includes HTTP and its storage lookup.")
    w("")
    orthanc_png = next(r["fps"] for r in orthanc if "png" in r["label"])
    orthanc_jpeg = next(r["fps"] for r in orthanc if "jpeg" in r["label"])
    dcm_png = next(r for r in render if r["label"].startswith("dcm2pnm"))
    dcm_jpeg = next(r for r in render if r["label"].startswith("dcmj2pnm"))
    for d in [dcm_png, dcm_jpeg]:
        net = d["batch_s"] - d["frames"] * d["startup_s"]
        d["net_fps"] = d["frames"] / net if net > 0 else float("nan")
    w("| renderer | frames/s | ms/frame | mean bytes | vs Orthanc | vs DCMTK | vs DCMTK net of start-up | breakdown ms (open/read/render/encode) |")
    w("|---|---|---|---|---|---|---|---|")
    for r in render + served + orthanc:
        is_png = "PNG" in r["label"] or "png" in r["label"]
        o = orthanc_png if is_png else orthanc_jpeg
        d = dcm_png if is_png else dcm_jpeg
        breakdown = "/".join(f"{x:.2f}" for x in r["breakdown"]) if "breakdown" in r else ""
        if "p50_ms" in r:
            breakdown = f"(HTTP latency p50 {r['p50_ms']:.2f} ms)"
        if "startup_s" in r:
            breakdown = f"(start-up {r['startup_s'] * 1000:.1f} ms/process; net {fmt(r['net_fps'])} frames/s)"
        w(f"| {r['label']} | {fmt(r['fps'])} | {1000 / r['fps']:.2f} | {fmt(r['bytes'], 0)} | {r['fps'] / o:.2f}× "
          f"| {r['fps'] / d['fps']:.2f}× | {r['fps'] / d['net_fps']:.2f}× | {breakdown} |")
    shas = {r["sha"] for r in render if "sha" in r}
    w("")
    w(f"Rendered pixels (SHA-256 over the 20 frames) are {'identical' if len(shas) == 1 else 'DIFFERENT'} across our rows"
      f" ({', '.join(sorted(s[:12] for s in shas))}). Our PNGs, decoded, equal dcm2pnm's 8-bit output (`dcm2pnm +Wi 1`, PGM)"
      f" for {verified} of {len(ct)} files.")
    w("")
    w("### Decode: MB/s of decoded pixel data, per transfer syntax")
    w("")
    w(f"Ours, in one process, the best pass of at least 5 over {SECONDS:g} s: *codec* = the frame decoder alone on compressed "
      "frames held in memory; *file* = open from disk, parse, read and decode every frame; *one process* = wall time of a fresh process doing *file* once over the batch "
      "(start-up and JIT of what is not precompiled included). DCMTK: the tool run once per file (decode + write the output "
      f"file), wall time of the batch (best of {REPS}), and the same net of the tool's start-up cost (the same number of runs "
      "on a file with nothing to decode, timed alongside). Speed-up: our *file* MB/s over DCMTK's net MB/s.")
    w("")
    w("| files | syntax | files (frames) | decoded MB | ours codec MB/s | ours file MB/s | ours one process s | DCMTK tool | DCMTK batch s | DCMTK MB/s | DCMTK MB/s net of start-up | speed-up |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in decode:
        mb = r["bytes"] / 1e6
        codec = fmt(r["codec_mbps"]) if r["codec_mbps"] else "–"
        line = f"| {r['source']} | {r['name']} | {r['files']} ({r['frames']}) | {mb:.2f} | {codec} | {fmt(r['file_mbps'])} | {r['ours_once_s']:.3f} |"
        if r.get("tool"):
            dcm = r["dcmtk_s"]
            net = dcm - r["dcmtk_startup_s"]
            if net > 0.002 * r["files"]:
                line += f" {r['tool']} | {dcm:.3f} | {fmt(mb / dcm)} | {fmt(mb / net)} | {r['file_mbps'] / (mb / net):.1f}× |"
            else:
                line += f" {r['tool']} | {dcm:.3f} | {fmt(mb / dcm)} | (within start-up noise) | |"
        else:
            line += " (no DCMTK 3.6.7 codec) | | | | |"
        w(line)
        if r["failures"]:
            w(f"|  | failed here: {'; '.join(r['failures'])} | | | | | | | | | | |")
    w("")
    w(f"Per-process start-up on its own (a 32×32 uncompressed file, best of {REPS} batches of 20; it varies with the load "
      "from one minute to the next, hence the references timed alongside each batch above):")
    w("")
    w("| command | ms/process |")
    w("|---|---|")
    for k, v in startup.items():
        w(f"| {k} | {v * 1000:.1f} |")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    if not os.path.exists(RESULTS):
        text = "# Imaging benchmark (bench/imaging/run.sh)\n" + text
    with open(RESULTS, "a") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
