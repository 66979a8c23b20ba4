"""Cached virtual environments for the corpus generator.

``ensure_venv("3.11", ["cloudpickle==3.1.2"])`` returns the path of the
``python`` executable of a venv made from the pyenv CPython 3.11.x
interpreter with exactly those pins installed.  Venvs live under
``$DEPICKLE_VENV_DIR`` (default: ``<repo>/.venvs/``, gitignored) and are named
after the interpreter and the pins, so calling it again is cheap: a venv whose
marker file records the same interpreter and pins is reused as it is.

Standard library only; runs on any python3 >= 3.8.
"""

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MARKER = ".depickle-venv.json"


class VenvError(RuntimeError):
    """A venv could not be created or its requirements could not be installed."""


def _log(msg):
    print("[venvs] " + msg, file=sys.stderr, flush=True)


def venv_root():
    env = os.environ.get("DEPICKLE_VENV_DIR")
    return Path(env) if env else REPO_ROOT / ".venvs"


def pyenv_root():
    try:
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=True)
        root = out.stdout.strip()
        if root:
            return Path(root)
    except (OSError, subprocess.CalledProcessError):
        pass
    return Path(os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv")))


def _version_key(name):
    return tuple(int(p) if p.isdigit() else -1 for p in re.split(r"[.]", name))


def find_interpreter(python_minor):
    """Path of the newest pyenv CPython ``<python_minor>.N`` interpreter."""
    versions = pyenv_root() / "versions"
    candidates = []
    if versions.is_dir():
        for entry in versions.iterdir():
            if re.fullmatch(re.escape(python_minor) + r"\.\d+", entry.name):
                exe = entry / "bin" / "python"
                if exe.exists():
                    candidates.append((_version_key(entry.name), exe))
    if not candidates:
        raise VenvError("no pyenv CPython %s.x under %s" % (python_minor, versions))
    candidates.sort()
    return candidates[-1][1]


def venv_name(python_minor, requirements):
    interp = find_interpreter(python_minor)
    full = interp.parent.parent.name  # e.g. 3.11.7
    pins = [re.sub(r"[^A-Za-z0-9.]+", "-", r).strip("-") for r in requirements]
    return "cpython%s-%s" % (full, "_".join(pins) if pins else "bare")


def ensure_venv(python_minor, requirements):
    """Create (or reuse) a venv for ``python_minor`` with ``requirements``.

    Returns the Path of the venv's python.  Raises VenvError when the
    interpreter is missing or pip cannot install the pins.
    """
    requirements = list(requirements)
    interp = find_interpreter(python_minor)
    root = venv_root()
    root.mkdir(parents=True, exist_ok=True)
    name = venv_name(python_minor, requirements)
    vdir = root / name
    vpython = vdir / "bin" / "python"
    want = {"interpreter": str(interp), "requirements": requirements}
    lock_path = root / (name + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        marker = vdir / MARKER
        if marker.exists() and vpython.exists():
            try:
                have = json.loads(marker.read_text())
            except ValueError:
                have = None
            if have is not None and all(have.get(k) == v for k, v in want.items()):
                _log("reuse %s" % vdir)
                return vpython
        if vdir.exists():
            _log("remove stale %s" % vdir)
            shutil.rmtree(vdir)
        _log("create %s from %s" % (vdir, interp))
        proc = subprocess.run([str(interp), "-m", "venv", str(vdir)], capture_output=True, text=True)
        if proc.returncode != 0:
            shutil.rmtree(vdir, ignore_errors=True)
            raise VenvError("venv creation failed: " + _tail(proc))
        if requirements:
            _log("pip install %s into %s" % (" ".join(requirements), name))
            cmd = [str(vpython), "-m", "pip", "install", "--disable-pip-version-check",
                   "--no-input", "-q"] + requirements
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                shutil.rmtree(vdir, ignore_errors=True)
                raise VenvError("pip install %s failed: %s" % (" ".join(requirements), _tail(proc)))
        freeze = subprocess.run([str(vpython), "-m", "pip", "freeze", "--all"],
                                capture_output=True, text=True)
        record = dict(want)
        record["freeze"] = freeze.stdout.split()
        marker.write_text(json.dumps(record, indent=1) + "\n")
        return vpython


def _tail(proc, n=12):
    text = (proc.stderr or "") + (proc.stdout or "")
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return " | ".join(lines[-n:])


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="create or reuse a cached venv")
    ap.add_argument("python_minor", help="e.g. 3.11")
    ap.add_argument("requirements", nargs="*", help="pip requirement pins")
    a = ap.parse_args()
    print(ensure_venv(a.python_minor, a.requirements))
