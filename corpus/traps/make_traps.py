#!/usr/bin/env python3
"""Generate the trap pickles that `tests/traps.rs` converts and loads.

    python3 corpus/traps/make_traps.py            # all targets, through cached venvs

Each trap is an object made here (in __main__, so cloudpickle pickles it by value) that exercises
one known pitfall of rewriting cloudpickle helpers into stdlib calls. The driver makes a venv per
(python minor, pinned cloudpickle) with corpus/tools/venvs.py and re-runs this file there with
`--emit`; pickles are written as `<trap>-py3X-cp<version>-p<protocol>.pkl` next to this file.
Runs with any python3 >= 3.8.
"""
import abc
import collections
import functools
import os
import subprocess
import sys
import typing

HERE = os.path.dirname(os.path.abspath(__file__))

# (python minor, cloudpickle pin, traps to emit there)
TARGETS = [
    ("3.11", "3.1.2", "all"),
    ("3.13", "3.1.2", ["firstlineno", "setstate_base", "abc_register"]),
    ("3.8", "3.1.2", ["builtins", "globals_closure_in_place"]),
    ("3.9", "3.1.2", ["builtins"]),
    ("3.8", "1.6.0", ["builtins", "globals_closure_in_place", "setstate_base"]),
]


# -- trap objects ---------------------------------------------------------------------------


class StatefulBase:
    """Instances restore through __setstate__; the class itself must not be BUILT with it."""

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.restored = True


class Child(StatefulBase):
    kind = "child"

    def method(self):
        return 41 + 1


def setstate_base():
    c = Child()
    c.value = 7
    return (Child, c)


SHARED_STATE = {"x": 0}
X = 0


def set_x(v):
    global X
    X = v
    SHARED_STATE["x"] = v


def get_x():
    return X, SHARED_STATE["x"]


def make_counter():
    count = 0

    def inc():
        nonlocal count
        count += 1
        return count

    def get():
        return count

    return inc, get


def globals_closure_in_place():
    inc, get = make_counter()
    return (set_x, get_x, inc, get)


def uses_builtin(items):
    return len(items) + sum(items) + max(items)


def builtins_trap():
    return uses_builtin


T_BOUND = typing.TypeVar("T_BOUND", bound=int, covariant=True)
T_CONSTRAINED = typing.TypeVar("T_CONSTRAINED", int, str, contravariant=True)


def typevar_kwonly():
    return (T_BOUND, T_CONSTRAINED)


class Meta(type):
    def describe(cls):
        return "meta:" + cls.__name__


class Slotted(metaclass=Meta):
    __slots__ = ("a", "b")

    def total(self):
        return self.a + self.b


def metaclass_slots():
    return Slotted


class Registry(abc.ABC):
    @abc.abstractmethod
    def run(self):
        pass


Registry.register(int)
Registry.register(tuple)


def abc_register():
    return Registry


class FirstLine:
    def f(self):
        return 1


def firstlineno():
    return (FirstLine, getattr(FirstLine, "__firstlineno__", None))


def dotted_global():
    return collections.OrderedDict([("b", 1), ("a", 2)]).keys()


SHARED = [1, 2, 3]


def read_shared():
    return SHARED


def shared_refs():
    return (SHARED, SHARED, read_shared, {"again": SHARED})


def make_fact():
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)

    return fact


FUNCS = {}


def is_even(n):
    return True if n == 0 else FUNCS["odd"](n - 1)


def is_odd(n):
    return False if n == 0 else FUNCS["even"](n - 1)


FUNCS["even"] = is_even
FUNCS["odd"] = is_odd
FUNCS["self"] = FUNCS


def recursion():
    return (make_fact(), FUNCS)


TRAPS = {
    "setstate_base": (setstate_base, ["default", 2]),
    "globals_closure_in_place": (globals_closure_in_place, ["default"]),
    "builtins": (builtins_trap, ["default"]),
    "typevar_kwonly": (typevar_kwonly, ["default", 2]),
    "metaclass_slots": (metaclass_slots, ["default"]),
    "abc_register": (abc_register, ["default"]),
    "firstlineno": (firstlineno, ["default"]),
    "dotted_global": (dotted_global, [2, "default"]),
    "shared_refs": (shared_refs, ["default"]),
    "recursion": (recursion, ["default", 2]),
}


def emit(names):
    import cloudpickle

    minor = "%d.%d" % sys.version_info[:2]
    if names == ["all"]:
        names = sorted(TRAPS)
    for name in names:
        make, protocols = TRAPS[name]
        if name == "firstlineno" and sys.version_info < (3, 13):
            continue
        for protocol in protocols:
            proto = None if protocol == "default" else protocol
            data = cloudpickle.dumps(make(), protocol=proto)
            fname = "%s-py%s-cp%s-p%s.pkl" % (name, minor, cloudpickle.__version__, protocol)
            with open(os.path.join(HERE, fname), "wb") as f:
                f.write(data)
            print("wrote", fname)


def drive():
    sys.path.insert(0, os.path.join(HERE, "..", "tools"))
    import venvs

    for minor, version, names in TARGETS:
        python = venvs.ensure_venv(minor, ["cloudpickle==%s" % version])
        names = ["all"] if names == "all" else names
        subprocess.run([str(python), os.path.abspath(__file__), "--emit"] + names, check=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--emit":
        emit(sys.argv[2:])
    else:
        drive()
