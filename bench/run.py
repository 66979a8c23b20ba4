#!/usr/bin/env python3
"""depickle benchmarks: builds release, generates inputs in a temp dir (never in the repo),
times conversions, verifies outputs load with `python3 -I -S`, prints a markdown table.

Usage: python3 bench/run.py [--reps N] [--keep DIR] [--skip-batch]
Needs cloudpickle for the generating python (PYTHON env var, default this interpreter) and
GNU time at /usr/bin/time for peak RSS."""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "depickle")
PY = os.environ.get("PYTHON", sys.executable)

def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)

def sync():
    os.sync()

def timed(cmd, clean=()):
    """Wall seconds and peak RSS (KB) of one run; `clean` paths are removed and the disk synced first."""
    for p in clean:
        if os.path.isdir(p):
            shutil.rmtree(p)
        elif os.path.exists(p):
            os.remove(p)
    sync()
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit("failed: %s\n%s" % (" ".join(cmd), r.stderr))
    return dt, int(r.stderr.strip().splitlines()[-1])

def median_run(cmd, reps, clean=()):
    runs = [timed(cmd, clean) for _ in range(reps)]
    return statistics.median(t for t, _ in runs), max(m for _, m in runs)

def dir_bytes(d):
    return sum(e.stat().st_size for e in os.scandir(d))

def verify_big(tmp):
    code = r"""
import pickle, hashlib, json, sys
d = pickle.load(open(sys.argv[1], 'rb'))
h = json.load(open(sys.argv[2]))
assert all(hashlib.sha256(d[k]).hexdigest() == v for k, v in h.items()), 'payload hash mismatch'
c = d['code']
assert c['lam'](3) == 6 and c['add_k'](1) == 4 and c['obj'].f() == 42 and c['Dyn'](2).f() == 14
"""
    sh([sys.executable, "-I", "-S", "-c", code, os.path.join(tmp, "big.out.pkl"),
        os.path.join(tmp, "big.hashes.json")])

def verify_small(tmp):
    code = r"""
import pickle, sys
d = pickle.load(open(sys.argv[1], 'rb'))
it = d['items']
assert len(it) == 5_000_000 and it[:4] == [(0, 's0'), 1, 'x2', (3, 's3')]
assert it[4999998] == (4999998, 's4999998') and d['fn'](1) == 4 and d['lam']([1, 2]) == 2
"""
    sh([sys.executable, "-I", "-S", "-c", code, os.path.join(tmp, "small.out.pkl")])

def has_batch():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
    return "--jobs" in out

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--keep", help="generate/reuse inputs in this dir instead of a fresh temp dir")
    ap.add_argument("--skip-batch", action="store_true")
    a = ap.parse_args()
    sh(["cargo", "build", "--release", "-q"], cwd=ROOT)
    tmp = a.keep or tempfile.mkdtemp(prefix="depickle-bench-")
    os.makedirs(tmp, exist_ok=True)
    gen = os.path.join(ROOT, "bench", "gen.py")
    kinds = {"big": "big.pkl", "small": "small.pkl"}
    if not a.skip_batch:
        kinds.update({"many": "many", "large": "large"})
    for kind, name in kinds.items():
        target = os.path.join(tmp, name) if kind in ("many", "large") else tmp
        if not os.path.exists(os.path.join(tmp, name)):
            print("generating", kind, "...", file=sys.stderr)
            sh([PY, gen, kind, target])
    rows = []
    big, bigout = os.path.join(tmp, "big.pkl"), os.path.join(tmp, "big.out.pkl")
    size = os.path.getsize(big)
    sh(["cat", big], stdout=subprocess.DEVNULL)  # warm the page cache
    cp_t, cp_m = median_run(["cp", big, os.path.join(tmp, "cp.out")], a.reps, [os.path.join(tmp, "cp.out")])
    cps_t, _ = median_run(["sh", "-c", 'cp "$0" "$1" && sync "$1"', big, os.path.join(tmp, "cp.out")], a.reps,
                          [os.path.join(tmp, "cp.out")])
    os.remove(os.path.join(tmp, "cp.out"))
    dp_t, dp_m = median_run([BIN, "-q", big, "-o", bigout], a.reps, [bigout])
    verify_big(tmp)
    rows.append(("1 GB payload-heavy (cp)", "%.2f s" % cp_t, "%.0f MB/s" % (size / cp_t / 1e6), "%.1f MB" % (cp_m / 1024), ""))
    rows.append(("1 GB payload-heavy (cp + sync, durable)", "%.2f s" % cps_t, "%.0f MB/s" % (size / cps_t / 1e6), "", ""))
    rows.append(("1 GB payload-heavy (depickle)", "%.2f s" % dp_t, "%.0f MB/s" % (size / dp_t / 1e6), "%.1f MB" % (dp_m / 1024),
                 "%.2f× cp (target ≤ 2×) %s, %.2f× cp+sync; RSS target < 200 MB %s" % (dp_t / cp_t, ok(dp_t <= 2 * cp_t), dp_t / cps_t, ok(dp_m < 200 * 1024))))
    os.remove(bigout)
    small, smallout = os.path.join(tmp, "small.pkl"), os.path.join(tmp, "small.out.pkl")
    size = os.path.getsize(small)
    sh(["cat", small], stdout=subprocess.DEVNULL)
    t, m = median_run([BIN, "-q", small, "-o", smallout], a.reps, [smallout])
    verify_small(tmp)
    rows.append(("5M small objects (%.0f MB)" % (size / 1e6), "%.2f s" % t, "%.0f MB/s" % (size / t / 1e6), "%.0f MB" % (m / 1024),
                 "target ≥ 100 MB/s %s" % ok(size / t / 1e6 >= 100)))
    if not a.skip_batch:
        batch = has_batch()
        for name, nfiles in (("many", 10_000), ("large", 20)):
            src, dst = os.path.join(tmp, name), os.path.join(tmp, name + ".out")
            nbytes = dir_bytes(src)
            sh(["sh", "-c", "cat %s/* > /dev/null" % src])  # warm the page cache
            reps = max(1, a.reps // 2) if name == "large" else a.reps
            cpdst = dst + ".cp"
            ct, cm = median_run(["cp", "-r", src, cpdst], reps, [cpdst])
            shutil.rmtree(cpdst, ignore_errors=True)
            rows.append(("%d files, cp -r baseline (%.0f MB)" % (nfiles, nbytes / 1e6), "%.2f s" % ct,
                         "%.0f files/s, %.0f MB/s" % (nfiles / ct, nbytes / ct / 1e6), "%.0f MB" % (cm / 1024), ""))
            res = {}
            for jobs in (1, 2):
                if batch:
                    cmd = [BIN, "-q", src, "-o", dst, "--jobs", str(jobs)]
                else:  # no batch mode yet: a shell loop of single-file runs (jobs via xargs -P)
                    os.makedirs(dst, exist_ok=True)
                    cmd = ["sh", "-c", "mkdir -p %s && cd %s && ls | xargs -P %d -I{} %s -q {} -o %s/{}" % (dst, src, jobs, BIN, dst)]
                res[jobs] = median_run(cmd, reps, [dst])
            t1, t2 = res[1][0], res[2][0]
            label = "batch %d files, %s" % (nfiles, "--jobs" if batch else "xargs -P loop (no batch mode)")
            for jobs in (1, 2):
                t, m = res[jobs]
                note = "" if jobs == 1 else "speed-up %.2f× (target ≥ 1.7×) %s" % (t1 / t2, ok(t1 / t2 >= 1.7))
                rows.append(("%s, jobs %d (%.0f MB)" % (label, jobs, nbytes / 1e6), "%.2f s" % t,
                             "%.0f files/s, %.0f MB/s" % (nfiles / t, nbytes / t / 1e6), "%.0f MB" % (m / 1024), note))
            shutil.rmtree(dst, ignore_errors=True)
    print("| case | time (median of %d) | throughput | peak RSS | target |" % a.reps)
    print("|---|---|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if not a.keep:
        shutil.rmtree(tmp)

def ok(b):
    return "**met**" if b else "**not met**"

if __name__ == "__main__":
    main()
