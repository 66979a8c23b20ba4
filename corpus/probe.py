"""Load pickles with the standard library and run their probes.  STDLIB ONLY.

    python -I -S corpus/probe.py --unpickler {c,py} FILE[:OBJECT] ...
    python -I -S corpus/probe.py --unpickler c --files-from LIST --out RESULT.json

Each FILE is loaded with ``pickle.load`` (``c``) or ``pickle._Unpickler(f).load()``
(``py``); then the probe OBJECT from probes.py runs on the result (OBJECT
defaults to the file name up to its first dot: ``closure_one_cell.4.pkl`` ->
``closure_one_cell``).  Output: ONE JSON object (keys sorted) mapping each FILE,
exactly as given without the ``:OBJECT`` suffix, to its result:

    the probe's dict                         load and probe ran
    {"load_error": "TypeName: message"}      unpickling raised (or the worker died/hung)
    {"error": "TypeName: message"}           the probe itself raised
    {"error": "NoProbe: ..."}                no probe of that name

Each file is loaded with a fresh, empty ``__main__`` module (only
``__builtins__`` in it) standing in for ``sys.modules['__main__']``, so pickles
that refer to ``__main__`` see the same namespace whatever script loads them.

By default the loads run in a worker subprocess (same interpreter, same -I/-S/-E
flags) and this process supervises it: a file that crashes the interpreter or
hangs longer than --timeout seconds becomes a load_error and the worker is
restarted for the remaining files, so one bad file never sinks the batch.

``--loader dill`` is for the generator only: it computes the expected results
of dill pickles the way ``dill.load`` reads them (dill's Unpickler resolves
``__builtin__.__main__`` to the loading ``__main__`` dict, which plain pickle
cannot).  The conformance test always uses the default ``--loader pickle``.
"""

import argparse
import builtins
import importlib.util
import json
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import types

HERE = os.path.dirname(os.path.abspath(__file__))
TAG = "@@DEPICKLE-PROBE@@ "


def _load_probes():
    spec = importlib.util.spec_from_file_location("depickle_corpus_probes", os.path.join(HERE, "probes.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def split_arg(arg):
    """'path:object' -> (path, object); a plain path -> (path, derived name)."""
    path, obj = arg, None
    head, sep, tail = arg.rpartition(":")
    if sep and tail.isidentifier() and not os.path.exists(arg):
        path, obj = head, tail
    if obj is None:
        obj = os.path.basename(path).split(".")[0]
    return path, obj


def _fresh_main():
    mod = types.ModuleType("__main__")
    mod.__dict__["__builtins__"] = builtins
    return mod


class _DillPyUnpickler(pickle._Unpickler):
    """The pure-Python unpickler resolving names the way dill.Unpickler does
    (--loader dill only; dill's own Unpickler class builds on the C one)."""

    def find_class(self, module, name):
        if module == "__builtin__" and name == "__main__":
            return self._main.__dict__
        if module == "__builtin__" and name == "NoneType":
            return type(None)
        if module == "dill.dill":
            module = "dill._dill"
        return pickle._Unpickler.find_class(self, module, name)


def _load(fh, unpickler, loader):
    if loader == "dill":
        import dill  # noqa: F401 - reference mode only, never under -S

        if unpickler == "py":
            u = _DillPyUnpickler(fh)
        else:
            u = dill.Unpickler(fh)
        u._main = sys.modules["__main__"]
        return u.load()
    if unpickler == "py":
        return pickle._Unpickler(fh).load()
    return pickle.load(fh)


def probe_one(probes, arg, unpickler, loader="pickle"):
    path, objname = split_arg(arg)
    saved_main = sys.modules.get("__main__")
    sys.modules["__main__"] = _fresh_main()
    try:
        try:
            with open(path, "rb") as fh:
                obj = _load(fh, unpickler, loader)
        except (Exception, RecursionError, SystemExit) as exc:  # noqa: BLE001
            return {"load_error": probes.err(exc)}
        fn = probes.PROBES.get(objname)
        if fn is None:
            return {"error": "NoProbe: no probe named %r" % objname}
        try:
            result = probes.norm(fn(obj))
        except (Exception, RecursionError, SystemExit) as exc:  # noqa: BLE001
            return {"error": probes.err(exc)}
        # the result must survive JSON encoding
        json.dumps(result)
        return result
    except (Exception, RecursionError) as exc:  # noqa: BLE001 - e.g. unencodable result
        return {"error": "ProbeFailure: " + str(exc)}
    finally:
        sys.modules["__main__"] = saved_main


def run_inprocess(args, unpickler, emit, loader="pickle"):
    probes = _load_probes()
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # loaded code must not corrupt our output
    try:
        for i, arg in enumerate(args):
            emit({"start": i}, real_stdout)
            res = probe_one(probes, arg, unpickler, loader)
            emit({"done": i, "result": res}, real_stdout)
    finally:
        sys.stdout = real_stdout


def _emit_tagged(msg, stream):
    stream.write(TAG + json.dumps(msg, sort_keys=True) + "\n")
    stream.flush()


def _child_cmd(listfile, unpickler, loader):
    flags = []
    if sys.flags.isolated:
        flags.append("-I")
    else:
        if sys.flags.ignore_environment:
            flags.append("-E")
        if sys.flags.no_user_site:
            flags.append("-s")
    if sys.flags.no_site:
        flags.append("-S")
    flags.append("-B")
    return [sys.executable] + flags + [os.path.abspath(__file__), "--worker",
                                       "--unpickler", unpickler, "--loader", loader,
                                       "--files-from", listfile]


def run_supervised(args, unpickler, timeout, loader="pickle"):
    results = {}
    remaining = list(range(len(args)))
    while remaining:
        batch = remaining
        with tempfile.NamedTemporaryFile("w", suffix=".lst", delete=False) as lf:
            lf.write("\n".join(args[i] for i in batch) + "\n")
            listfile = lf.name
        proc = subprocess.Popen(_child_cmd(listfile, unpickler, loader), stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, errors="replace")
        q = queue.Queue()

        def reader(stream=proc.stdout):
            for line in stream:
                if line.startswith(TAG):
                    try:
                        q.put(json.loads(line[len(TAG):]))
                    except ValueError:
                        pass
            q.put(None)

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        current = None
        done_local = set()
        failure = None
        while True:
            try:
                msg = q.get(timeout=timeout)
            except queue.Empty:
                proc.kill()
                failure = "Timeout: no result within %ss" % timeout
                break
            if msg is None:
                break
            if "start" in msg:
                current = msg["start"]
            elif "done" in msg:
                results[args[batch[msg["done"]]]] = msg["result"]
                done_local.add(msg["done"])
                current = None
        proc.wait()
        th.join(5)
        os.unlink(listfile)
        if current is None and failure is None and len(done_local) < len(batch):
            # died between files, or before the first one
            current = min(set(range(len(batch))) - done_local)
        if current is not None:
            if failure is None:
                failure = "WorkerCrash: worker exited with code %s" % proc.returncode
            results[args[batch[current]]] = {"load_error": failure}
            done_local.add(current)
        remaining = [batch[i] for i in range(len(batch)) if i not in done_local]
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--unpickler", choices=["c", "py"], default="c")
    ap.add_argument("--loader", choices=["pickle", "dill"], default="pickle",
                    help="reference mode for the generator: 'dill' resolves names the way "
                         "dill.Unpickler does (needs dill importable)")
    ap.add_argument("--files-from", help="file listing FILE[:OBJECT] arguments, one a line")
    ap.add_argument("--out", help="write the JSON here instead of stdout")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per file (supervised)")
    ap.add_argument("--no-supervise", action="store_true", help="load in this process")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*")
    a = ap.parse_args(argv)

    args = list(a.files)
    if a.files_from:
        with open(a.files_from) as fh:
            args.extend(line.rstrip("\n") for line in fh if line.strip())

    if a.worker:
        run_inprocess(args, a.unpickler, _emit_tagged, a.loader)
        return 0

    if a.no_supervise:
        results = {}

        def collect(msg, _stream):
            if "done" in msg:
                results[args[msg["done"]]] = msg["result"]

        run_inprocess(args, a.unpickler, collect, a.loader)
    else:
        results = run_supervised(args, a.unpickler, a.timeout, a.loader)

    out = {}
    for arg in args:
        out[split_arg(arg)[0]] = results[arg]
    text = json.dumps(out, sort_keys=True, indent=1)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text + "\n")
    else:
        sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
