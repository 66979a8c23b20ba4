"""The object catalog of the depickle test corpus.

Run this file AS ``__main__`` inside a venv that has the serializer installed
(cloudpickle and dill pickle by value only what lives in ``__main__``)::

    python catalog.py --serializer cloudpickle --outdir DIR [--protocols 2,4,5,default]
    python catalog.py --serializer dill --outdir DIR --settings default,recurse,byref

It writes ``DIR/<object>.<proto>.pkl`` (dill: ``DIR/<object>.<setting>.<proto>.pkl``)
and ``DIR/catalog-result.json`` describing what was written and what could not
be built or pickled.  Every object named here has a probe of the same name in
probes.py.  This file must stay self-contained: anything it imported from a
sibling module would be pickled by reference and not load elsewhere.
"""

import abc
import collections
import dataclasses
import enum
import functools
import logging
import math
import os.path
import sys
import threading
import types
import typing
import warnings
import weakref

# ---------------------------------------------------------------------------
# Module globals used by catalog functions
# ---------------------------------------------------------------------------

SCALE = 3
OFFSET_TABLE = {"a": 1, "b": 2}
COUNTER = 0


def helper_square(x):
    return x * x


def uses_globals(x, path="/srv/data/model.bin"):
    """Uses a module global, another global function and imported modules."""
    return {
        "scaled": helper_square(x) * SCALE + OFFSET_TABLE["b"],
        "floor": math.floor(x / 2.0),
        "sqrt": math.sqrt(abs(x)),
        "base": os.path.basename(path),
        "ext": os.path.splitext(path)[1],
    }


def signature_func(a, b=2, *args, c=3, d: int = 4, **kw) -> str:
    """Docstring of signature_func.

    Second line."""
    return "%r|%r|%r|%r|%r|%r" % (a, b, args, c, d, sorted(kw.items()))


def attrs_func(x):
    return x + attrs_func.increment


attrs_func.__qualname__ = "Renamed.attrs_func"
attrs_func.increment = 10
attrs_func.tags = ["fast", "pure"]
attrs_func.meta = {"version": 2}


# A function whose __module__ names a module that does not exist.  It gets a
# small globals dict of its own: dill would otherwise pickle all of this
# module's globals along with it.
_OVERRIDE_NS = {"__name__": "depickle_fake_module", "FACTOR": 7}
exec(compile("def module_override_func(x):\n    return x * FACTOR\n", "catalog.py", "exec"), _OVERRIDE_NS)
module_override_func = _OVERRIDE_NS["module_override_func"]
module_override_func.__module__ = "depickle_fake_module"


def nested_user(x):
    def inner(y):
        return y + x

    def inner2(z):
        return inner(z) * 2

    return inner2(x) + inner(1)


def make_multiplier(k):
    def mul(v):
        return v * k

    return mul


def gen_squares(n):
    for i in range(n):
        yield i * i
    return "done"


def gen_delegating(n):
    got = yield from gen_squares(n)
    yield got


async def async_add(a, b=1):
    return a + b


async def async_gen(n):
    for i in range(n):
        yield i + 100


def set_counter(v):
    global COUNTER
    COUNTER = v
    return COUNTER


def get_counter():
    return COUNTER


def bump_counter(step=1):
    global COUNTER
    COUNTER += step
    return COUNTER


def weak_target(x):
    return x + 100


def decorator(fn):
    @functools.wraps(fn)
    def wrapper(*a, **k):
        return ("wrapped", fn(*a, **k))

    return wrapper


@decorator
def decorated(x):
    """Docstring of decorated."""
    return x * 3


@functools.lru_cache(maxsize=None)
def cached_func(x):
    return x * 11


LAMBDA_SIMPLE = lambda x: x * 2 + 1  # noqa: E731
LAMBDA_DEFAULTS = lambda x, y=10, *a, z=3, **k: [x, y, list(a), z, sorted(k.items())]  # noqa: E731
PARTIAL_TARGET = lambda a, b, c, d=0: [a, b, c, d]  # noqa: E731

# ---------------------------------------------------------------------------
# Closures
# ---------------------------------------------------------------------------


def make_adder(n):
    def add(x):
        return x + n

    return add


def make_affine(a, b, label, extra):
    def affine(x):
        return {"value": a * x + b, "label": label, "extra": list(extra)}

    return affine


def make_empty_cell():
    def inner():
        return never_set

    if False:  # pragma: no cover - keeps the cell empty
        never_set = 1
    return inner


def make_assigned_later():
    def inner(x):
        return later * x

    later = 21
    return inner


def make_recursive():
    def fact(n):
        return 1 if n <= 1 else n * fact(n - 1)

    return fact


def make_mutual():
    def is_even(n):
        return True if n == 0 else is_odd(n - 1)

    def is_odd(n):
        return False if n == 0 else is_even(n - 1)

    return is_even, is_odd


def make_nested(x):
    def level2(y):
        def level3(z):
            return x * 100 + y * 10 + z

        return level3

    return level2


def make_counter():
    count = 0

    def counter():
        nonlocal count
        count += 1
        return count

    return counter


# ---------------------------------------------------------------------------
# Dynamic classes
# ---------------------------------------------------------------------------


class Basic:
    """Docstring of Basic."""

    kind = "basic"
    limit: int = 5

    def __init__(self, value):
        self.value = value

    def doubled(self):
        return self.value * 2

    @classmethod
    def make(cls, v):
        return cls(v + 1)

    @staticmethod
    def static_add(a, b):
        return a + b

    @property
    def half(self):
        return self.value / 2

    @half.setter
    def half(self, v):
        self.value = v * 2

    def __repr__(self):
        return "Basic(%r)" % (self.value,)

    def __eq__(self, other):
        return isinstance(other, Basic) and other.value == self.value

    __hash__ = None


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x = x
        self.y = y

    def total(self):
        return self.x + self.y


class Meta(type):
    def __new__(mcls, name, bases, ns):
        ns.setdefault("added_by_meta", name.lower())
        return super().__new__(mcls, name, bases, ns)

    def describe(cls):
        return "class %s via %s" % (cls.__name__, type(cls).__name__)


class WithMeta(metaclass=Meta):
    def hello(self):
        return "hello from " + type(self).__name__


class StateBase:
    def __getstate__(self):
        return {"payload": self.__dict__.copy(), "version": 1}

    def __setstate__(self, state):
        self.__dict__.update(state["payload"])
        self.restored_version = state["version"]


class StateChild(StateBase):
    def __init__(self, a, b):
        self.a = a
        self.b = b

    def combined(self):
        return self.a * 10 + self.b


class ReduceBase:
    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return (type(self), self.args)


class ReduceChild(ReduceBase):
    def product(self):
        out = 1
        for a in self.args:
            out *= a
        return out


def _mul_global(a, b):
    return a * b


class FuncAttrs:
    ops = {"add": lambda a, b: a + b, "mul": _mul_global}
    default_op = _mul_global
    handler = staticmethod(helper_square)
    transform = staticmethod(lambda s: s.upper())


class Shape(abc.ABC):
    @abc.abstractmethod
    def area(self):
        raise NotImplementedError

    def describe(self):
        return "%s with area %s" % (type(self).__name__, self.area())


class Square(Shape):
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side


class VirtualShape:
    def area(self):
        return 42


Shape.register(VirtualShape)


@functools.total_ordering
class Version:
    def __init__(self, major, minor):
        self.major = major
        self.minor = minor

    def __eq__(self, other):
        return (self.major, self.minor) == (other.major, other.minor)

    def __lt__(self, other):
        return (self.major, self.minor) < (other.major, other.minor)

    def __repr__(self):
        return "Version(%d.%d)" % (self.major, self.minor)


class SuperBase:
    def greet(self):
        return "base"


class SuperChild(SuperBase):
    def greet(self):
        return "child+" + super().greet()


def make_local_class():
    class Local:
        tag = "local"

        def method(self):
            return "local method " + self.tag

    return Local


class DynError(ValueError):
    def __init__(self, code, msg):
        super().__init__(code, msg)
        self.code = code

    def __str__(self):
        return "DynError[%s]: %s" % (self.code, self.args[1])


class Node:
    def __init__(self, name):
        self.name = name
        self.next = None


class Model:
    def __init__(self, weights, bias):
        self.weights = weights
        self.bias = bias

    def predict(self, features):
        return sum(w * f for w, f in zip(self.weights, features)) + self.bias


class WeakTarget:
    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v * 2


class Color(enum.Enum):
    RED = 1
    GREEN = 2
    BLUE = 3

    def describe(self):
        return "%s=%s" % (self.name, self.value)


class Priority(enum.IntEnum):
    LOW = 1
    MID = 2
    HIGH = 3


class Perm(enum.Flag):
    R = 4
    W = 2
    X = 1


@dataclasses.dataclass
class Record:
    name: str
    count: int = 0
    tags: list = dataclasses.field(default_factory=list)

    def label(self):
        return "%s#%d" % (self.name, self.count)


@dataclasses.dataclass(frozen=True)
class FrozenPoint:
    x: int
    y: int = 0

    def norm1(self):
        return abs(self.x) + abs(self.y)


class TypedPoint(typing.NamedTuple):
    x: int
    y: int = 0
    label: str = "p"

    def dist2(self):
        return self.x * self.x + self.y * self.y


CollPoint = collections.namedtuple("CollPoint", ["x", "y", "z"], defaults=[0])

T = typing.TypeVar("T")
TNum = typing.TypeVar("TNum", int, float)
TBound = typing.TypeVar("TBound", bound=Basic, covariant=True)


class Box(typing.Generic[T]):
    def __init__(self, item: T):
        self.item = item

    def get(self) -> T:
        return self.item


# ---------------------------------------------------------------------------
# The catalog: name -> builder.  Builders run once per catalog process.
# ---------------------------------------------------------------------------


def _dyn_module():
    mod = types.ModuleType("dyn", "A dynamic module.")
    mod.x = 41
    mod.items = [1, 2, 3]
    exec("def f(a):\n    return a + x\n\nclass K:\n    def m(self):\n        return x * 2\n", mod.__dict__)
    return mod


def _shared_class_instance():
    a = Basic(3)
    return (Basic, a, Basic(4), a)


def _cycle_list():
    lst = [make_adder(4)]
    lst.append(lst)
    return lst


def _cycle_dict():
    table = {}
    table["even"] = lambda n: True if n == 0 else table["odd"](n - 1)
    table["odd"] = lambda n: False if n == 0 else table["even"](n - 1)
    table["self"] = table
    return table


def _cycle_instance():
    a = Node("a")
    b = Node("b")
    a.next = b
    b.next = a
    return a


def _model():
    return {
        "name": "tiny-linear",
        "preprocess": lambda xs: [float(v) / 10.0 for v in xs],
        "model": Model([0.5, -1.0, 2.0], 0.25),
        "callbacks": [
            lambda pred: round(pred, 6),
            lambda pred: "pos" if pred > 0 else "neg",
            make_adder(1000),
        ],
        "version": (1, 2),
    }


def _empty_cell():
    return make_empty_cell()


def _file_handle():
    path = FILE_HANDLE_PATH
    with open(path, "w") as fh:
        fh.write("depickle file handle line one\nline two\n")
    f = open(path, "r")
    f.read(9)
    _CLEANUPS.append(lambda: (f.close(), os.remove(path)))
    return f


# One path per (serializer, version, python): `generate.py --jobs 2` runs combos in parallel, and
# dill's loader opens the file only if it exists, so a shared path let one combo's expected
# results see another combo's file. Set in main(); pickles made before this fix use
# "/tmp/depickle-corpus-file-handle.txt" (equally absent when the expectations were recorded).
FILE_HANDLE_PATH = "/tmp/depickle-corpus-file-handle.txt"
_CLEANUPS = []


def _weakref_ref():
    return (weak_target, weakref.ref(weak_target))


def _weakref_proxy():
    target = WeakTarget(21)
    return (target, weakref.proxy(target))


def _rlock():
    return threading.RLock()


def _cell():
    return make_adder(9).__closure__[0]


BUILDERS = collections.OrderedDict([
    # functions
    ("lambda_simple", lambda: LAMBDA_SIMPLE),
    ("lambda_defaults", lambda: LAMBDA_DEFAULTS),
    ("closure_one_cell", lambda: make_adder(5)),
    ("closure_multi_cell", lambda: make_affine(3, -2, "aff", (1, "two", 3.5))),
    ("closure_empty_cell", _empty_cell),
    ("closure_assigned_later", lambda: make_assigned_later()),
    ("closure_recursive", lambda: make_recursive()),
    ("closure_mutual", lambda: make_mutual()),
    ("closure_nested", lambda: make_nested(7)(8)),
    ("closure_counter", lambda: make_counter()),
    ("func_globals", lambda: uses_globals),
    ("func_signature", lambda: signature_func),
    ("func_attrs", lambda: attrs_func),
    ("func_module_override", lambda: module_override_func),
    ("func_nested", lambda: nested_user),
    ("func_factory", lambda: make_multiplier),
    ("func_decorated", lambda: decorated),
    ("func_lru_cached", lambda: cached_func),
    ("generator_func", lambda: gen_squares),
    ("generator_delegating", lambda: gen_delegating),
    ("async_func", lambda: async_add),
    ("async_generator", lambda: async_gen),
    ("code_object", lambda: make_affine.__code__),
    ("cell_object", _cell),
    ("partial_lambda", lambda: functools.partial(PARTIAL_TARGET, 1, 2, d=5)),
    ("bound_method", lambda: Basic(6).doubled),
    ("bound_classmethod", lambda: Basic.make),
    # classes
    ("class_basic", lambda: Basic),
    ("class_slots", lambda: Slotted),
    ("class_metaclass", lambda: WithMeta),
    ("class_func_attrs", lambda: FuncAttrs),
    ("class_abc_register", lambda: (Shape, Square, VirtualShape)),
    ("class_total_ordering", lambda: Version),
    ("class_super", lambda: SuperChild),
    ("class_local", lambda: make_local_class()),
    ("class_exception", lambda: (DynError, DynError(7, "boom"))),
    ("instance_dict", lambda: Basic(10)),
    ("instance_slots", lambda: Slotted(3, 4)),
    ("instance_setstate_inherited", lambda: StateChild(4, 2)),
    ("instance_reduce_inherited", lambda: ReduceChild(2, 3, 7)),
    ("instance_metaclass", lambda: WithMeta()),
    ("instance_cycle", _cycle_instance),
    ("enum_class", lambda: Color),
    ("enum_member", lambda: Color.GREEN),
    ("intenum_class", lambda: Priority),
    ("flag_class", lambda: (Perm, Perm.R | Perm.W)),
    ("dataclass_basic", lambda: (Record, Record("r", 2, ["x"]))),
    ("dataclass_frozen", lambda: (FrozenPoint, FrozenPoint(3, -4))),
    ("namedtuple_typing", lambda: (TypedPoint, TypedPoint(3, 4))),
    ("namedtuple_collections", lambda: (CollPoint, CollPoint(1, 2))),
    # typing
    ("typevar", lambda: (T, TNum, TBound)),
    ("generic_class", lambda: (Box, Box(5))),
    ("hint_list_int", lambda: typing.List[int]),
    ("hint_dict_str_t", lambda: typing.Dict[str, T]),
    ("hint_callable", lambda: typing.Callable[[int], str]),
    ("hint_literal", lambda: typing.Literal["a", 1]),
    ("hint_final", lambda: typing.Final[int]),
    ("hint_classvar", lambda: typing.ClassVar[int]),
    ("hint_optional_union", lambda: (typing.Optional[str], typing.Union[int, str])),
    ("hint_tuple", lambda: (typing.Tuple[int, str], typing.Tuple[int, ...])),
    ("hint_generic_alias", lambda: Box[int]),
    # builtin-ish objects
    ("dict_keys", lambda: {"b": 2, "a": 1, "c": 3}.keys()),
    ("dict_values", lambda: {"b": 2, "a": 1, "c": 3}.values()),
    ("dict_items", lambda: {"b": 2, "a": 1, "c": 3}.items()),
    ("mappingproxy", lambda: types.MappingProxyType({"k": 1, "j": [2]})),
    ("module_math", lambda: math),
    ("module_os_path", lambda: os.path),
    ("module_dynamic", _dyn_module),
    ("logger_named", lambda: logging.getLogger("depickle.corpus")),
    ("logger_root", lambda: logging.getLogger()),
    ("singletons", lambda: (Ellipsis, NotImplemented, type(None))),
    ("singleton_types", lambda: (type(Ellipsis), type(NotImplemented))),
    # sharing and cycles
    ("shared_closure_twice", lambda: (lambda f: [f, f, {"again": f}])(make_adder(2))),
    ("shared_class_instance", _shared_class_instance),
    ("shared_globals", lambda: (set_counter, get_counter, bump_counter)),
    ("cycle_list", _cycle_list),
    ("cycle_dict_funcs", _cycle_dict),
    # realistic
    ("model", _model),
])

# dill's specials
DILL_BUILDERS = collections.OrderedDict([
    ("dill_lock", lambda: threading.Lock()),
    ("dill_rlock", _rlock),
    ("dill_weakref", _weakref_ref),
    ("dill_weakproxy", _weakref_proxy),
    ("dill_file_handle", _file_handle),
    ("dill_session", None),  # made in a subprocess, see _dump_session
])


# ---------------------------------------------------------------------------
# Driver (never referenced by catalog objects)
# ---------------------------------------------------------------------------

SESSION_SCRIPT = r'''
SESSION_X = 42
SESSION_LIST = [1, 2, 3]
def session_func(n):
    return n * SESSION_X + len(SESSION_LIST)
class SessionClass:
    def __init__(self, v):
        self.v = v
    def double(self):
        return self.v * 2
session_obj = SessionClass(7)
__import__("dill").settings.update(__import__("json").loads(__import__("sys").argv[2]))
(getattr(__import__("dill"), "dump_module", None) and __import__("dill").dump_module(
    __import__("sys").argv[1], refimported=__import__("json").loads(__import__("sys").argv[3])
) or (not hasattr(__import__("dill"), "dump_module") and __import__("dill").dump_session(
    __import__("sys").argv[1], byref=__import__("json").loads(__import__("sys").argv[3]))))
'''


def _err(exc):
    msg = str(exc).replace("\n", " ")
    if len(msg) > 400:
        msg = msg[:400] + "..."
    return "%s: %s" % (type(exc).__name__, msg)


def _load_serializer(name):
    if name == "cloudpickle":
        import cloudpickle as mod
        return mod, mod.__version__, mod.DEFAULT_PROTOCOL
    if name == "joblib":
        import joblib
        from joblib.externals import cloudpickle as mod
        return mod, joblib.__version__, mod.DEFAULT_PROTOCOL
    if name == "dill":
        import dill as mod
        return mod, mod.__version__, mod.settings["protocol"]
    raise SystemExit("unknown serializer %r" % name)


def _dump_session(path, protocol, setting):
    import json
    import subprocess
    settings = {}
    if protocol is not None:
        settings["protocol"] = protocol
    if setting == "recurse":
        settings["recurse"] = True
    byref = setting == "byref"
    proc = subprocess.run(
        [sys.executable, "-c", SESSION_SCRIPT, path, json.dumps(settings), json.dumps(byref)],
        capture_output=True, text=True)
    if proc.returncode != 0 or not os.path.exists(path):
        lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
        raise RuntimeError(lines[-1] if lines else "session dump failed (rc=%s)" % proc.returncode)


def main(argv=None):
    import argparse
    import json

    ap = argparse.ArgumentParser()
    ap.add_argument("--serializer", required=True, choices=["cloudpickle", "joblib", "dill"])
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--protocols", default="2,4,5,default")
    ap.add_argument("--settings", default="default", help="dill only: default,recurse,byref")
    ap.add_argument("--only", default="", help="comma separated object names")
    ap.add_argument("--list", action="store_true", help="print the object names and exit")
    a = ap.parse_args(argv)

    builders = collections.OrderedDict(BUILDERS)
    if a.serializer == "dill":
        builders.update(DILL_BUILDERS)
    if a.list:
        print("\n".join(builders))
        return 0
    if a.only:
        wanted = a.only.split(",")
        builders = collections.OrderedDict((k, builders[k]) for k in wanted)

    ser, ser_version, default_proto = _load_serializer(a.serializer)
    global FILE_HANDLE_PATH
    FILE_HANDLE_PATH = "/tmp/depickle-corpus-file-handle-%s-%s-py%d.%d.txt" % (
        (a.serializer, ser_version) + tuple(sys.version_info[:2]))
    protocols = [p if p == "default" else int(p) for p in a.protocols.split(",")]
    settings = a.settings.split(",") if a.serializer == "dill" else [None]
    os.makedirs(a.outdir, exist_ok=True)

    result = {
        "serializer": a.serializer,
        "serializer_version": ser_version,
        "module": ser.__name__,
        "module_version": getattr(ser, "__version__", None),
        "python": "%d.%d" % sys.version_info[:2],
        "python_full": "%d.%d.%d" % sys.version_info[:3],
        "default_protocol": default_proto,
        "written": [],
        "unsupported": [],
        "dedup": [],
    }

    objects = collections.OrderedDict()
    for name, build in builders.items():
        if build is None:
            objects[name] = None
            continue
        try:
            objects[name] = build()
        except Exception as exc:  # noqa: BLE001 - recorded
            result["unsupported"].append({"object": name, "stage": "build", "reason": _err(exc)})

    def dump(obj, proto, setting):
        kwargs = {}
        if proto != "default":
            kwargs["protocol"] = proto
        if setting == "recurse":
            kwargs["recurse"] = True
        elif setting == "byref":
            kwargs["byref"] = True
        return ser.dumps(obj, **kwargs)

    for name, obj in objects.items():
        by_setting = {}
        for setting in settings:
            blobs = by_setting.setdefault(setting, {})
            for proto in protocols:
                stem = name if setting is None else "%s.%s" % (name, setting)
                fname = "%s.%s.pkl" % (stem, proto)
                path = os.path.join(a.outdir, fname)
                entry = {"object": name, "protocol": proto, "setting": setting}
                caught = []
                try:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        if name == "dill_session":
                            _dump_session(path, None if proto == "default" else proto, setting)
                            with open(path, "rb") as fh:
                                data = fh.read()
                        else:
                            data = dump(obj, proto, setting)
                except Exception as exc:  # noqa: BLE001 - recorded
                    entry.update(stage="dump", reason=_err(exc))
                    result["unsupported"].append(entry)
                    if os.path.exists(path):
                        os.remove(path)
                    continue
                same = None
                if proto == "default" and blobs.get(default_proto) == data:
                    # identical to the explicit protocol's file: not written twice
                    same = {"protocol": default_proto, "setting": setting}
                elif setting not in (None, "default") and \
                        by_setting.get("default", {}).get(proto) == data:
                    # dill setting without effect on this object: same bytes as default
                    same = {"protocol": proto, "setting": "default"}
                blobs[proto] = data
                if same is not None:
                    if os.path.exists(path):
                        os.remove(path)
                    entry["same_as"] = same
                    result["dedup"].append(entry)
                    continue
                with open(path, "wb") as fh:
                    fh.write(data)
                entry.update(file=fname, size=len(data))
                notes = sorted(set("%s: %s" % (w.category.__name__, w.message) for w in caught))
                if notes:
                    entry["warnings"] = notes
                result["written"].append(entry)

    for fn in _CLEANUPS:
        try:
            fn()
        except Exception:  # noqa: BLE001
            pass
    with open(os.path.join(a.outdir, "catalog-result.json"), "w") as fh:
        json.dump(result, fh, indent=1, sort_keys=True)
    print("%s %s py%s: %d written, %d unsupported, %d dedup" % (
        a.serializer, ser_version, result["python"], len(result["written"]),
        len(result["unsupported"]), len(result["dedup"])), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
