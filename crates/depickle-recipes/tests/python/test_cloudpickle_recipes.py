"""Each cloudpickle recipe next to the real cloudpickle helper it replaces.

Run with any Python that can import cloudpickle:

    python crates/depickle-recipes/tests/python/test_cloudpickle_recipes.py

For every `@recipe` of `recipes/cloudpickle.py` whose helper exists in the installed cloudpickle,
the recipe and the helper are called on equivalent, freshly built inputs and what can be observed
of the results is compared. A helper missing from the installed cloudpickle is skipped with a
printed note. Every line `RAN <helper>` / `SKIPPED <helper>` on stdout is read by
`tests/recipes_under_cpython.rs`, which checks that across its matrix every helper ran somewhere.
A recipe without a test here makes `test_every_recipe_has_a_test` fail.
"""
import abc
import collections
import enum
import functools
import importlib.util
import io
import os
import sys
import types
import typing
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RECIPES_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "recipes"))
# Appended, not prepended: recipes/cloudpickle.py must not shadow the real cloudpickle.
sys.path.append(RECIPES_DIR)

import cloudpickle  # noqa: E402
import cloudpickle.cloudpickle as cp_main  # noqa: E402

try:
    import cloudpickle.cloudpickle_fast as cp_fast  # noqa: E402
except ImportError:  # cloudpickle < 1.0, or a shim-less future version
    cp_fast = None


def _load_recipes():
    spec = importlib.util.spec_from_file_location(
        "depickle_cloudpickle_recipes", os.path.join(RECIPES_DIR, "cloudpickle.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


R = _load_recipes()
REAL_EMPTY = getattr(cp_main, "_empty_cell_value", None)
if REAL_EMPTY is not None:
    # Rebind the marker to the real sentinel, in the module global and in any default argument
    # that captured the marker when the recipe module was executed.
    marker = R.EMPTY_CELL_VALUE
    R.EMPTY_CELL_VALUE = REAL_EMPTY
    for _value in list(vars(R).values()):
        if isinstance(_value, types.FunctionType) and _value.__defaults__:
            _value.__defaults__ = tuple(
                REAL_EMPTY if d is marker else d for d in _value.__defaults__
            )

# Recipe helper name -> recipe function.
RECIPES = {}
for _value in list(vars(R).values()):
    for _name in getattr(_value, "replaces", ()):
        RECIPES[_name] = _value

# Helpers that no cloudpickle of the tested matrix (1.6.0 on 3.8, 2.2.1 on 3.10, 3.1.2 on 3.11
# and 3.13; 2.1.0 as the fallback) defines. Their recipes still get a test below (against the
# stdlib meaning when the helper is missing), but `tests/recipes_under_cpython.rs` does not
# require them to have run against a real helper somewhere in the matrix.
ABSENT_FROM_EVERY_TESTED_VERSION = {
    # 1.4-2.2 define it only on Python < 3.7 (None otherwise); the matrix has no 3.6.
    "_create_parametrized_type_hint",
    "_genpartial",  # 0.5.x only (functools.partial reducer)
    "_getobject",  # 0.5.x only (pickle of objects found by module attribute)
    "_get_module_builtins",  # 0.5.x only
    "_restore_attr",  # <= 1.2 (instances of dynamic classes with __dict__)
    "_get_dict_new",  # <= 1.2: cls.__new__ factories for builtin types
    "_get_frozenset_new",
    "_get_list_new",
    "_get_set_new",
    "_get_tuple_new",
    "_get_object_new",
}

TESTED = {}  # helper name -> test method name


def covers(*helpers):
    def mark(method):
        for helper in helpers:
            TESTED[helper] = method.__name__
        method.covers = helpers
        return method

    return mark


def real(name):
    """The installed cloudpickle's helper `name`, or None."""
    for module in (cp_main, cp_fast, cloudpickle):
        if module is not None and hasattr(module, name):
            return getattr(module, name)
    return None


def need(name):
    helper = real(name)
    if helper is None:
        print(
            "SKIPPED %s: not in cloudpickle %s" % (name, cloudpickle.__version__),
            flush=True,
        )
        raise unittest.SkipTest("%s absent from cloudpickle %s" % (name, cloudpickle.__version__))
    print("RAN %s" % name, flush=True)
    return helper


def normalize_builtins(value):
    return value.__dict__ if isinstance(value, types.ModuleType) else value


def globals_view(func):
    g = dict(func.__globals__)
    if "__builtins__" in g:
        g["__builtins__"] = normalize_builtins(g["__builtins__"])
    return g


def cell_view(cell):
    try:
        return ("full", cell.cell_contents)
    except ValueError:
        return ("empty",)


def closure_view(func):
    if func.__closure__ is None:
        return None
    return [cell_view(c) for c in func.__closure__]


# A function with everything cloudpickle transports: closure, defaults, kwdefaults, a builtin
# and a global reference.
def _outer(y):
    def sample(x, k=2, *, z=5):
        return [x, y, k, z, len(GLOBAL_LIST), GLOBAL_SCALE]

    return sample


GLOBAL_LIST = [1, 2, 3]
GLOBAL_SCALE = 10
SAMPLE_CODE = _outer(1).__code__
PLAIN_CODE = (lambda a, b=3: a * b + len("xy")).__code__


def sample_globals():
    return {"GLOBAL_LIST": [1, 2, 3, 4], "GLOBAL_SCALE": 7}


class Base(object):
    pass


class Meta(type):
    pass


class RecipeTests(unittest.TestCase):
    maxDiff = None

    # -- helpers -----------------------------------------------------------------------------

    def assertSameFunction(self, got, want, calls=((1,), (1, 9))):
        """`calls`: argument tuples; every call also gets z=11 (keyword-only, may lack a default)."""
        self.assertIs(type(got), type(want))
        self.assertEqual(got.__name__, want.__name__)
        self.assertEqual(got.__qualname__, want.__qualname__)
        self.assertEqual(got.__defaults__, want.__defaults__)
        self.assertEqual(got.__kwdefaults__, want.__kwdefaults__)
        self.assertEqual(got.__dict__, want.__dict__)
        self.assertEqual(got.__module__, want.__module__)
        self.assertEqual(got.__doc__, want.__doc__)
        self.assertEqual(got.__annotations__, want.__annotations__)
        gg, wg = globals_view(got), globals_view(want)
        if "__builtins__" not in wg:
            # Older helpers leave __builtins__ out; the recipe always provides it (3.8/3.9
            # functions need it), so only compare the rest.
            gg.pop("__builtins__", None)
        self.assertEqual(gg, wg)
        self.assertEqual(closure_view(got), closure_view(want))
        for args in calls:
            if got.__code__.co_kwonlyargcount:
                self.assertEqual(got(*args, z=11), want(*args, z=11))
            else:
                self.assertEqual(got(*args), want(*args))

    def assertSameClass(self, got, want):
        self.assertIs(type(got), type(want))
        self.assertEqual(got.__name__, want.__name__)
        self.assertEqual(got.__qualname__, want.__qualname__)
        self.assertEqual(got.__module__, want.__module__)
        self.assertEqual([c.__name__ for c in got.__mro__], [c.__name__ for c in want.__mro__])
        self.assertEqual(got.__mro__[1:], want.__mro__[1:])
        skip = {"__dict__", "__weakref__", "_abc_impl", "_abc_registry", "_abc_cache",
                "_abc_negative_cache", "_abc_negative_cache_version"}
        gd = {k: v for k, v in vars(got).items() if k not in skip}
        wd = {k: v for k, v in vars(want).items() if k not in skip}
        self.assertEqual(sorted(gd), sorted(wd))
        for key in wd:
            if isinstance(wd[key], types.FunctionType):
                self.assertIs(gd[key], wd[key])
            elif isinstance(wd[key], types.MemberDescriptorType):
                self.assertEqual(type(gd[key]), type(wd[key]))
            else:
                self.assertEqual(gd[key], wd[key], key)

    # -- modules -----------------------------------------------------------------------------

    @covers("_builtin_type")
    def test_builtin_type(self):
        helper = need("_builtin_type")
        for name in ("FunctionType", "CodeType", "MethodType", "ModuleType", "LambdaType",
                     "CellType" if hasattr(types, "CellType") else "FunctionType"):
            try:
                want = helper(name)
            except (AttributeError, KeyError):
                continue
            self.assertIs(R.builtin_type(name), want)
        if hasattr(cp_main, "_BUILTIN_TYPE_NAMES") and "ClassType" in getattr(
            cp_main, "_BUILTIN_TYPE_NAMES", {}
        ):
            self.assertIs(R.builtin_type("ClassType"), helper("ClassType"))
        self.assertIs(R.builtin_type("ClassType"), type)

    @covers("subimport")
    def test_subimport(self):
        helper = need("subimport")
        for name in ("os.path", "collections.abc", "json"):
            self.assertIs(R.subimport(name), helper(name))

    @covers("dynamic_subimport")
    def test_dynamic_subimport(self):
        helper = need("dynamic_subimport")
        source = {"x": 1, "f": len, "__doc__": "dyn"}
        got = R.dynamic_subimport("dyn_mod", dict(source))
        want = helper("dyn_mod", dict(source))
        self.assertIs(type(got), type(want))
        self.assertEqual(got.__name__, want.__name__)
        gd, wd = dict(vars(got)), dict(vars(want))
        gd["__builtins__"] = normalize_builtins(gd["__builtins__"])
        wd["__builtins__"] = normalize_builtins(wd["__builtins__"])
        self.assertEqual(gd, wd)

    # -- functions ---------------------------------------------------------------------------

    @covers("_make_function")
    def test_make_function(self):
        helper = need("_make_function")
        make_cell = real("_make_cell") or (lambda v: types.CellType(v))
        for code, name, argdefs, closure_values in (
            (SAMPLE_CODE, "sample", (2,), [5]),
            (PLAIN_CODE, "<lambda>", (4,), None),
        ):
            def closure():
                if closure_values is None:
                    return None
                return tuple(make_cell(v) for v in closure_values)

            got = R.make_function(code, sample_globals(), name, argdefs, closure())
            want = helper(code, sample_globals(), name, argdefs, closure())
            self.assertIn("__builtins__", got.__globals__)
            self.assertSameFunction(got, want)

    @covers("_make_empty_cell")
    def test_make_empty_cell(self):
        helper = need("_make_empty_cell")
        self.assertEqual(cell_view(R.make_empty_cell()), cell_view(helper()))
        self.assertEqual(type(R.make_empty_cell()), type(helper()))

    @covers("_make_cell")
    def test_make_cell(self):
        helper = need("_make_cell")
        for args in ((), (3,), (None,), ([1, 2],), (REAL_EMPTY,)):
            self.assertEqual(cell_view(R.make_cell(*args)), cell_view(helper(*args)), args)

    @covers("_get_cell_contents")
    def test_get_cell_contents(self):
        helper = need("_get_cell_contents")
        full = types.CellType(4)
        self.assertEqual(R.get_cell_contents(full), helper(full))
        empty = types.CellType()
        self.assertIs(helper(empty), REAL_EMPTY)
        self.assertIs(R.get_cell_contents(empty), helper(empty))

    def _fresh_setstate_target(self):
        func = types.FunctionType(
            SAMPLE_CODE, {"seed": 1}, None, None, (types.CellType(),)
        )
        state = (
            {"tag": "t"},
            {
                "__name__": "sample",
                "__qualname__": "_outer.<locals>.sample",
                "__annotations__": {"x": int},
                "__kwdefaults__": {"z": 6},
                "__defaults__": (3,),
                "__module__": "mod",
                "__doc__": "doc",
                "__closure__": (types.CellType(8),),
                "__globals__": sample_globals(),
                "_cloudpickle_submodules": [],
            },
        )
        return func, state

    @covers("_function_setstate")
    def test_function_setstate(self):
        helper = need("_function_setstate")
        got, gstate = self._fresh_setstate_target()
        want, wstate = self._fresh_setstate_target()
        self.assertIsNone(R.function_setstate(got, gstate))
        helper(want, wstate)
        self.assertSameFunction(got, want)
        self.assertEqual(got.tag, "t")
        # Filled in place: the function's own globals dict and cells.
        self.assertEqual(got.__globals__["seed"], 1)
        # An empty source cell leaves the target cell empty.
        got, gstate = self._fresh_setstate_target()
        want, wstate = self._fresh_setstate_target()
        gstate[1]["__closure__"] = wstate[1]["__closure__"] = (types.CellType(),)
        R.function_setstate(got, gstate)
        helper(want, wstate)
        self.assertEqual(closure_view(got), closure_view(want))

    @covers("_make_skel_func")
    def test_make_skel_func(self):
        helper = need("_make_skel_func")
        import warnings

        for args in ((SAMPLE_CODE, 1, sample_globals()), (PLAIN_CODE, -1, None),
                     (PLAIN_CODE, -1, "modname"), (SAMPLE_CODE, 1)):
            def fresh():
                return tuple(dict(a) if isinstance(a, dict) else a for a in args)

            got = R.make_skel_func(*fresh())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                want = helper(*fresh())
            self.assertEqual(globals_view(got), globals_view(want))
            self.assertEqual(closure_view(got), closure_view(want))
            self.assertEqual(got.__name__, want.__name__)
            self.assertEqual(got.__defaults__, want.__defaults__)

    @covers("_fill_function")
    def test_fill_function(self):
        helper = need("_fill_function")
        import warnings

        def skeleton():
            return types.FunctionType(SAMPLE_CODE, {"__builtins__": __builtins__}, None, None,
                                      (types.CellType(),))

        def state_dict(closure_value):
            return {
                "globals": sample_globals(), "defaults": (4,), "dict": {"a": 1},
                "closure_values": [closure_value], "module": "m", "name": "sample",
                "qualname": "q.sample", "doc": "d", "annotations": {"k": int},
                "kwdefaults": {"z": 1}, "_cloudpickle_submodules": [],
            }

        forms = [
            lambda cv: (skeleton(), state_dict(cv)),
            lambda cv: (skeleton(), sample_globals(), (4,), {"a": 1}, [cv]),
            lambda cv: (skeleton(), sample_globals(), (4,), {"a": 1}, "m", [cv]),
        ]
        for form in forms:
            for cv in (7, REAL_EMPTY):
                got = R.fill_function(*form(cv))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    want = helper(*form(cv))
                self.assertEqual(closure_view(got), closure_view(want))
                if cv is REAL_EMPTY:
                    continue
                self.assertSameFunction(got, want, calls=((1,),))
        with self.assertRaises(ValueError):
            R.fill_function(1, 2, 3)

    # -- classes -----------------------------------------------------------------------------

    def _skeleton_args(self, bases=(Base,), type_constructor=type, kwargs=None):
        return (type_constructor, "Dyn", bases, dict(kwargs or {"__module__": "dynmod"}),
                None, None)

    def _class_dict(self):
        def method(self):
            return 42

        return {"method": method, "x": 1, "__doc__": "doc", "__module__": "dynmod",
                "__qualname__": "outer.Dyn"}

    @covers("_make_skeleton_class", "_lookup_class_or_track")
    def test_make_skeleton_class(self):
        helper = need("_make_skeleton_class")
        for bases, meta, kwargs in (
            ((Base,), type, None),
            ((object,), Meta, {"__module__": "m", "__slots__": ("a", "b")}),
            ((Base,), abc.ABCMeta, None),
        ):
            got = R.make_skeleton_class(*self._skeleton_args(bases, meta, kwargs))
            want = helper(*self._skeleton_args(bases, meta, kwargs))
            self.assertSameClass(got, want)
        lookup = need("_lookup_class_or_track")
        self.assertIs(R.lookup_class_or_track(None, Base), lookup(None, Base))

    def _check_class_setstate(self, recipe, helper, wrap):
        def make(meta):
            return types.new_class("Dyn", (Base,), {"metaclass": meta},
                                   lambda ns: ns.update({"__module__": "dynmod"}))

        for meta in (type, abc.ABCMeta):
            got, want = make(meta), make(meta)
            gstate, wstate = self._class_dict(), self._class_dict()
            wstate["method"] = gstate["method"]
            if meta is abc.ABCMeta:
                gstate["_abc_impl"] = [int, str]
                wstate["_abc_impl"] = [int, str]
            if sys.version_info >= (3, 13):
                gstate["__firstlineno__"] = wstate["__firstlineno__"] = 321
            self.assertIs(recipe(got, wrap(gstate)), got)
            self.assertIs(helper(want, wrap(wstate)), want)
            self.assertSameClass(got, want)
            self.assertEqual(got().method(), 42)
            if meta is abc.ABCMeta:
                self.assertTrue(issubclass(int, got))
                self.assertTrue(issubclass(str, got))
                self.assertFalse(issubclass(float, got))
            if sys.version_info >= (3, 13):
                self.assertEqual(got.__firstlineno__, want.__firstlineno__)
                self.assertEqual(got.__firstlineno__, 321)

    @covers("_class_setstate")
    def test_class_setstate(self):
        helper = need("_class_setstate")
        self._check_class_setstate(R.class_setstate, helper, lambda d: (d, {}))

    @covers("_rehydrate_skeleton_class")
    def test_rehydrate_skeleton_class(self):
        helper = need("_rehydrate_skeleton_class")
        self._check_class_setstate(R.class_setstate, helper, lambda d: d)

    @covers("_make_skeleton_enum")
    def test_make_skeleton_enum(self):
        helper = need("_make_skeleton_enum")
        for bases, members in (
            ((enum.Enum,), {"RED": 1, "GREEN": "g"}),
            ((int, enum.Enum), {"A": 1, "B": 2}),
            ((enum.IntFlag,), {"R": 1, "W": 2}),
        ):
            args = (bases, "Color", "outer.Color", members, "dynmod", None, None)
            got = R.make_skeleton_enum(*args[:3] + (dict(members),) + args[4:])
            want = helper(*args[:3] + (dict(members),) + args[4:])
            self.assertIs(type(got), type(want))
            self.assertEqual(got.__name__, want.__name__)
            self.assertEqual(got.__qualname__, want.__qualname__)
            self.assertEqual(got.__module__, want.__module__)
            self.assertEqual(got.__mro__[1:], want.__mro__[1:])
            self.assertEqual(
                [(m.name, m.value) for m in got], [(m.name, m.value) for m in want]
            )
            self.assertEqual(list(got.__members__), list(want.__members__))

    @covers("_make_typevar")
    def test_make_typevar(self):
        helper = need("_make_typevar")
        for args in (("T", None, (), False, False, None),
                     ("B", int, (), True, False, None),
                     ("C", None, (int, str), False, True, None)):
            got, want = R.make_typevar(*args), helper(*args)
            self.assertIs(type(got), type(want))
            for attr in ("__name__", "__bound__", "__constraints__", "__covariant__",
                         "__contravariant__"):
                self.assertEqual(getattr(got, attr), getattr(want, attr), attr)

    # -- views, type hints, misc --------------------------------------------------------------

    def _check_view(self, recipe, helper, sample):
        import inspect

        # cloudpickle < 2.0 has no is_ordered argument (OrderedDict views came with 2.0).
        orders = (False, True) if len(inspect.signature(helper).parameters) > 1 else (False,)
        for ordered in orders:
            fresh = dict if isinstance(sample, dict) else list
            got = recipe(fresh(sample), ordered)
            want = helper(fresh(sample), ordered) if ordered else helper(fresh(sample))
            self.assertIs(type(got), type(want))
            self.assertEqual(list(got), list(want))
        fresh = dict if isinstance(sample, dict) else list
        self.assertIs(type(recipe(fresh(sample))), type(helper(fresh(sample))))

    @covers("_make_dict_keys")
    def test_make_dict_keys(self):
        self._check_view(R.make_dict_keys, need("_make_dict_keys"), ["b", "a", 3])

    @covers("_make_dict_values")
    def test_make_dict_values(self):
        self._check_view(R.make_dict_values, need("_make_dict_values"), [3, 1, 3])

    @covers("_make_dict_items")
    def test_make_dict_items(self):
        self._check_view(R.make_dict_items, need("_make_dict_items"), {"b": 1, "a": 2})

    @covers("_create_parametrized_type_hint")
    def test_create_parametrized_type_hint(self):
        helper = need("_create_parametrized_type_hint")
        for origin, args in ((typing.List, int), (typing.Dict, (str, int)),
                             (typing.Union, (int, str)), (typing.Tuple, (int, ...))):
            self.assertEqual(R.create_parametrized_type_hint(origin, args),
                             helper(origin, args))

    @covers("_file_reconstructor")
    def test_file_reconstructor(self):
        helper = need("_file_reconstructor")
        f = io.StringIO("x")
        self.assertIs(R.file_reconstructor(f), helper(f))

    @covers("_get_dataclass_field_type_sentinel")
    def test_get_dataclass_field_type_sentinel(self):
        helper = need("_get_dataclass_field_type_sentinel")
        for name in R.DATACLASS_FIELD_SENTINELS:
            self.assertIs(R.get_dataclass_field_type_sentinel(name), helper(name))
        with self.assertRaises(KeyError):
            R.get_dataclass_field_type_sentinel("_FIELD_NOPE")
        with self.assertRaises(KeyError):
            helper("_FIELD_NOPE")

    @covers("_gen_ellipsis", "_gen_not_implemented")
    def test_gen_sentinels(self):
        self.assertIs(R.gen_ellipsis(), need("_gen_ellipsis")())
        self.assertIs(R.gen_not_implemented(), need("_gen_not_implemented")())

    @covers("_rebuild_tornado_coroutine")
    def test_rebuild_tornado_coroutine(self):
        helper = need("_rebuild_tornado_coroutine")
        try:
            import tornado.gen  # noqa: F401
        except ImportError:
            print("SKIPPED-BODY _rebuild_tornado_coroutine: tornado not installed", flush=True)
            # Both must fail the same way without tornado.
            with self.assertRaises(ImportError):
                R.rebuild_tornado_coroutine(len)
            with self.assertRaises(ImportError):
                helper(len)
            return

        def f():
            return 1

        self.assertEqual(type(R.rebuild_tornado_coroutine(f)), type(helper(f)))

    # -- helpers of cloudpickle 0.5-1.2 (checked against their known stdlib meaning) ----------

    @covers("_genpartial")
    def test_genpartial(self):
        helper = real("_genpartial")
        for args, kwds in (((1,), {"b": 2}), (None, None), ((), {})):
            got = R.genpartial(max, args, kwds)
            self.assertIsInstance(got, functools.partial)
            self.assertEqual(got.args, tuple(args or ()))
            self.assertEqual(got.keywords, dict(kwds or {}))
            if helper is not None:
                want = helper(max, args, kwds)
                self.assertEqual((got.func, got.args, got.keywords),
                                 (want.func, want.args, want.keywords))

    @covers("_getobject")
    def test_getobject(self):
        self.assertIs(R.getobject("collections", "OrderedDict"), collections.OrderedDict)
        self.assertIs(R.getobject("os.path", "join"), os.path.join)
        with self.assertRaises(KeyError):
            R.getobject("os", "no_such_attribute")

    @covers("_restore_attr")
    def test_restore_attr(self):
        obj = Base()
        self.assertIs(R.restore_attr(obj, {"a": 1, "b": [2]}), obj)
        self.assertEqual(vars(obj), {"a": 1, "b": [2]})

    @covers("_get_dict_new", "_get_frozenset_new", "_get_list_new", "_get_set_new",
            "_get_tuple_new", "_get_object_new")
    def test_new_factories(self):
        for helper_name, fn, want in (
            ("_get_dict_new", R.get_dict_new, dict.__new__),
            ("_get_frozenset_new", R.get_frozenset_new, frozenset.__new__),
            ("_get_list_new", R.get_list_new, list.__new__),
            ("_get_set_new", R.get_set_new, set.__new__),
            ("_get_tuple_new", R.get_tuple_new, tuple.__new__),
            ("_get_object_new", R.get_object_new, object.__new__),
        ):
            self.assertIs(fn(), want)
            helper = real(helper_name)
            if helper is not None:
                self.assertIs(fn(), helper())

    @covers("_get_module_builtins")
    def test_get_module_builtins(self):
        import builtins

        self.assertIs(R.get_module_builtins(), builtins.__dict__)

    # -- coverage ----------------------------------------------------------------------------

    def test_every_recipe_has_a_test(self):
        untested = sorted(set(RECIPES) - set(TESTED))
        self.assertEqual(untested, [], "recipes without a test in this file")
        unknown = sorted(ABSENT_FROM_EVERY_TESTED_VERSION - set(RECIPES))
        self.assertEqual(unknown, [], "ABSENT_FROM_EVERY_TESTED_VERSION names no recipe")
        print("RECIPES %s" % " ".join(sorted(set(RECIPES) - ABSENT_FROM_EVERY_TESTED_VERSION)),
              flush=True)


if __name__ == "__main__":
    print("cloudpickle %s on Python %s" % (cloudpickle.__version__, sys.version.split()[0]),
          flush=True)
    unittest.main(verbosity=1)
