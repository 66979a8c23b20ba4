#!/usr/bin/env python3
"""Generate the depickle conformance corpus.  Runs with any python3 >= 3.8.

    python3 corpus/generate.py                       # whole matrix: cloudpickle, joblib, dill
    python3 corpus/generate.py --serializer cloudpickle --versions 3.1.2 --pythons 3.11
    python3 corpus/generate.py --serializer dill --jobs 2

For each (serializer, version, python) it makes a venv (tools/venvs.py), runs
catalog.py AS __main__ there to write the pickles, then loads every ORIGINAL
pickle in fresh processes of that same venv with probe.py (C and pure-Python
unpicklers) to record the expected behaviour, and writes
``<serializer>/<serializer>-<version>/py3.X/manifest.json``.  Combos that fail
to install or import are recorded too (manifest status, matrix.json, MATRIX.md).
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
sys.path.insert(0, str(CORPUS / "tools"))
import venvs  # noqa: E402

PYTHONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
MATRIX = {
    # name: (versions, requirement template, protocols, settings)
    "cloudpickle": (["3.1.2", "3.0.0", "2.2.1", "2.0.0", "1.6.0"], "cloudpickle=={}",
                    ["2", "4", "5", "default"], [None]),
    "joblib": (["1.4.2", "1.1.1"], "joblib=={}", ["2", "4", "5", "default"], [None]),
    "dill": (["0.4.1", "0.4.0", "0.3.9", "0.3.8", "0.3.6", "0.3.5.1", "0.3.4", "0.3.1.1"],
             "dill=={}", ["0", "2", "4", "5", "default"], ["default", "recurse", "byref"]),
}
IMPORT_CHECK = {
    "cloudpickle": "import cloudpickle; print(cloudpickle.__version__)",
    "joblib": "from joblib.externals import cloudpickle; print(cloudpickle.__version__)",
    "dill": "import dill; print(dill.__version__)",
}
LOADER = {"cloudpickle": "pickle", "joblib": "pickle", "dill": "dill"}

_print_lock = threading.Lock()


def log(msg):
    with _print_lock:
        print("[generate %s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def tail(text, n=6):
    lines = [l for l in (text or "").strip().splitlines() if l.strip()]
    return " | ".join(lines[-n:])


def combo_dir(serializer, version, python):
    return CORPUS / serializer / ("%s-%s" % (serializer, version)) / ("py" + python)


def run_probe(vpython, files, unpickler, loader, workdir):
    listfile = workdir / ("probe-%s.lst" % unpickler)
    outfile = workdir / ("probe-%s.json" % unpickler)
    listfile.write_text("\n".join(str(f) for f in files) + "\n")
    cmd = [str(vpython), "-I", "-B", str(CORPUS / "probe.py"), "--unpickler", unpickler,
           "--loader", loader, "--files-from", str(listfile), "--out", str(outfile)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("probe.py failed: " + tail(proc.stderr))
    return json.loads(outfile.read_text())


def rewrite_manifests():
    """Re-serialize every manifest in the current format (no regeneration)."""
    for path in sorted(CORPUS.glob("*/*/py3.*/manifest.json")):
        write_manifest(path, json.loads(path.read_text()))


def write_manifest(path, manifest):
    """One entry per line: compact, yet diffable."""
    head = {k: v for k, v in manifest.items() if k not in ("entries", "unsupported", "aliases")}
    parts = ["{"]
    for k, v in head.items():
        parts.append(" %s: %s," % (json.dumps(k), json.dumps(v, sort_keys=True)))
    for key in ("aliases", "unsupported", "entries"):
        items = manifest.get(key, [])
        parts.append(" %s: [" % json.dumps(key))
        for i, item in enumerate(items):
            parts.append(json.dumps(item, sort_keys=True, separators=(",", ":"))
                         + ("," if i + 1 < len(items) else ""))
        parts.append(" ]" + ("," if key != "entries" else ""))
    parts.append("}")
    text = "\n".join(parts) + "\n"
    json.loads(text)  # self-check
    path.write_text(text)


def generate_combo(serializer, version, python, only=None, outdir=None):
    versions, req_tmpl, protocols, settings = MATRIX[serializer]
    out = outdir or combo_dir(serializer, version, python)
    label = "%s %s py%s" % (serializer, version, python)
    summary = {"serializer": serializer, "version": version, "python": python,
               "dir": str(out.relative_to(CORPUS)) if out.is_relative_to(CORPUS) else str(out)} \
        if hasattr(out, "is_relative_to") else {"serializer": serializer, "version": version,
                                                "python": python, "dir": str(out)}
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    base = {"serializer": serializer, "serializer_version": version, "python": python,
            "protocols": protocols, "settings": settings if settings != [None] else None}

    def fail(status, reason):
        log("%s: %s: %s" % (label, status, reason))
        manifest = dict(base, status=status, reason=reason, entries=[], unsupported=[], aliases=[])
        write_manifest(out / "manifest.json", manifest)
        summary.update(status=status, reason=reason, files=0, unsupported=0, bytes=0)
        return summary

    try:
        vpython = venvs.ensure_venv(python, [req_tmpl.format(version)])
    except venvs.VenvError as exc:
        return fail("install_failed", str(exc))
    proc = subprocess.run([str(vpython), "-I", "-c", IMPORT_CHECK[serializer]],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return fail("import_failed", tail(proc.stderr, 2))
    module_version = proc.stdout.strip()

    cmd = [str(vpython), "-I", "-B", "catalog.py", "--serializer", serializer, "--outdir", str(out),
           "--protocols", ",".join(protocols)]
    if settings != [None]:
        cmd += ["--settings", ",".join(settings)]
    if only:
        cmd += ["--only", ",".join(only)]
    # run from corpus/ with a relative script path: code objects record
    # co_filename 'catalog.py', not a machine-specific absolute path
    proc = subprocess.run(cmd, cwd=str(CORPUS), capture_output=True, text=True)
    result_path = out / "catalog-result.json"
    if proc.returncode != 0 or not result_path.exists():
        return fail("catalog_failed", tail(proc.stderr))
    cat = json.loads(result_path.read_text())
    result_path.unlink()

    written = cat["written"]
    files = [out / w["file"] for w in written]
    expected = {}
    with tempfile.TemporaryDirectory(prefix="depickle-gen-") as tmp:
        for unpickler in ("c", "py"):
            res = run_probe(vpython, files, unpickler, LOADER[serializer], Path(tmp))
            expected[unpickler] = {Path(k).name: v for k, v in res.items()}

    entries = []
    unsupported = list(cat["unsupported"])
    for w in written:
        exp = {u: expected[u][w["file"]] for u in ("c", "py")}
        if all("load_error" in exp[u] for u in exp):
            # the serializer's own environment cannot load it: not a test case
            (out / w["file"]).unlink()
            unsupported.append({"object": w["object"], "protocol": w["protocol"],
                                "setting": w["setting"], "stage": "load",
                                "reason": exp["c"]["load_error"]})
            continue
        entry = {
            "file": w["file"], "object": w["object"], "serializer": serializer,
            "serializer_version": version, "python": python, "protocol": w["protocol"],
            "setting": w["setting"], "expected": exp,
        }
        if w["protocol"] == "default":
            entry["protocol_number"] = cat["default_protocol"]
        if w.get("warnings"):
            entry["dump_warnings"] = w["warnings"]
        entries.append(entry)

    # files not written because they were byte-identical to another one
    present = {(e["object"], e["protocol"], e["setting"]): e["file"] for e in entries}
    aliases = []
    for d in cat["dedup"]:
        same = d["same_as"]
        target = present.get((d["object"], same["protocol"], same["setting"]))
        if target is None:  # the file it equals was dropped as unloadable
            unsupported.append({"object": d["object"], "protocol": d["protocol"],
                                "setting": d["setting"], "stage": "load",
                                "reason": "byte-identical to an unloadable pickle"})
            continue
        aliases.append({"object": d["object"], "protocol": d["protocol"],
                        "setting": d["setting"], "same_bytes_as": target})

    unsupported.sort(key=lambda u: (u["object"], str(u.get("setting")), str(u.get("protocol"))))
    nbytes = sum((out / e["file"]).stat().st_size for e in entries)
    manifest = dict(
        base, status="ok", module=cat["module"], module_version=module_version,
        python_full=cat["python_full"], default_protocol=cat["default_protocol"],
        loader_for_expected=LOADER[serializer],
        entries=entries, unsupported=unsupported, aliases=aliases)
    write_manifest(out / "manifest.json", manifest)
    objects_ok = sorted({e["object"] for e in entries})
    summary.update(status="ok", files=len(entries), aliases=len(aliases),
                   unsupported=len(unsupported), bytes=nbytes, objects_ok=len(objects_ok),
                   module_version=module_version, python_full=cat["python_full"])
    log("%s: %d files (%d objects), %d aliases, %d unsupported, %d bytes" % (
        label, len(entries), len(objects_ok), len(aliases), len(unsupported), nbytes))
    return summary


def make_samples():
    """corpus/samples/model.{cloudpickle,dill}.pkl for the README (py3.11)."""
    samples = CORPUS / "samples"
    samples.mkdir(exist_ok=True)
    info = {}
    for serializer, version, fname in (("cloudpickle", "3.1.2", "model.cloudpickle.pkl"),
                                       ("dill", "0.4.1", "model.dill.pkl")):
        with tempfile.TemporaryDirectory(prefix="depickle-sample-") as tmp:
            vpython = venvs.ensure_venv("3.11", [MATRIX[serializer][1].format(version)])
            cmd = [str(vpython), "-I", "-B", "catalog.py", "--serializer", serializer,
                   "--outdir", tmp, "--protocols", "default", "--only", "model"]
            if serializer == "dill":
                cmd += ["--settings", "default"]
            subprocess.run(cmd, cwd=str(CORPUS), check=True, capture_output=True)
            cat = json.loads((Path(tmp) / "catalog-result.json").read_text())
            src = Path(tmp) / cat["written"][0]["file"]
            shutil.copyfile(src, samples / fname)
            exp = {}
            for unpickler in ("c", "py"):
                res = run_probe(vpython, [samples / fname], unpickler, LOADER[serializer], Path(tmp))
                exp[unpickler] = list(res.values())[0]
        info[fname] = {"object": "model", "serializer": serializer, "serializer_version": version,
                       "python": "3.11", "protocol": "default",
                       "protocol_number": cat["default_protocol"],
                       "setting": "default" if serializer == "dill" else None, "expected": exp}
    (samples / "expected.json").write_text(json.dumps(info, indent=1, sort_keys=True) + "\n")
    log("samples written")


def update_matrix(summaries):
    path = CORPUS / "matrix.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    for s in summaries:
        data["%s/%s/py%s" % (s["serializer"], s["version"], s["python"])] = s
    order = list(MATRIX)

    def key(k):
        s = data[k]
        vers = MATRIX[s["serializer"]][0]
        return (order.index(s["serializer"]),
                vers.index(s["version"]) if s["version"] in vers else 99,
                PYTHONS.index(s["python"]) if s["python"] in PYTHONS else 99)

    data = {k: data[k] for k in sorted(data, key=key)}
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    # human-readable table
    lines = ["# Corpus matrix (generated by generate.py)", "",
             "Cell: pickle files with expected results / unsupported (object, protocol, setting) "
             "records; `install_failed`, `import_failed` as recorded.", ""]
    for ser in order:
        rows = [data[k] for k in data if data[k]["serializer"] == ser]
        if not rows:
            continue
        lines += ["## " + ser, "", "| version | " + " | ".join("py" + p for p in PYTHONS) + " |",
                  "|---|" + "---|" * len(PYTHONS)]
        for ver in MATRIX[ser][0]:
            cells = []
            for py in PYTHONS:
                s = data.get("%s/%s/py%s" % (ser, ver, py))
                if s is None:
                    cells.append("-")
                elif s["status"] == "ok":
                    cells.append("%d / %d" % (s["files"], s["unsupported"]))
                else:
                    cells.append(s["status"])
            lines.append("| %s | %s |" % (ver, " | ".join(cells)))
        lines.append("")
    fails = [data[k] for k in data if data[k]["status"] != "ok"]
    if fails:
        lines += ["## Failed combos", ""]
        for s in fails:
            lines.append("- %s %s py%s: %s: %s" % (s["serializer"], s["version"], s["python"],
                                                   s["status"], s["reason"][:300]))
        lines.append("")
    total = sum(data[k].get("bytes", 0) for k in data)
    nfiles = sum(data[k].get("files", 0) for k in data)
    lines += ["Total: %d pickle files, %.1f MB of pickles." % (nfiles, total / 1e6), ""]
    (CORPUS / "MATRIX.md").write_text("\n".join(lines))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--serializer", default="cloudpickle,joblib,dill",
                    help="comma list of cloudpickle, joblib, dill (in this order)")
    ap.add_argument("--versions", default="", help="comma list; default: all of the matrix")
    ap.add_argument("--pythons", default=",".join(PYTHONS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--only", default="", help="comma list of catalog objects (debugging)")
    ap.add_argument("--no-samples", action="store_true")
    ap.add_argument("--rewrite-manifests", action="store_true",
                    help="only re-serialize the existing manifests, then exit")
    a = ap.parse_args(argv)
    if a.rewrite_manifests:
        rewrite_manifests()
        return 0

    sers = [s for s in a.serializer.split(",") if s]
    for s in sers:
        if s not in MATRIX:
            ap.error("unknown serializer %r" % s)
    pythons = [p for p in a.pythons.split(",") if p]
    only = [o for o in a.only.split(",") if o] or None
    all_summaries = []
    for ser in [s for s in MATRIX if s in sers]:  # cloudpickle first, completely, then the rest
        versions = [v for v in a.versions.split(",") if v] or MATRIX[ser][0]
        combos = [(ser, v, p) for v in versions for p in pythons]
        log("%s: %d combos" % (ser, len(combos)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
            futs = {pool.submit(generate_combo, *c, only=only): c for c in combos}
            for fut in concurrent.futures.as_completed(futs):
                c = futs[fut]
                try:
                    summary = fut.result()
                except Exception as exc:  # noqa: BLE001 - record and go on
                    log("%s %s py%s crashed: %r" % (c[0], c[1], c[2], exc))
                    summary = {"serializer": c[0], "version": c[1], "python": c[2],
                               "status": "generator_error", "reason": repr(exc)}
                all_summaries.append(summary)
        if not only:
            update_matrix([s for s in all_summaries if s["serializer"] == ser])
    if not a.no_samples and not only:
        make_samples()
    bad = [s for s in all_summaries if s["status"] == "generator_error"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
