"""Stdlib reconstructions of cloudpickle's load-time helpers (cloudpickle 0.5 to 3.1).

Each function takes the arguments the pickled helper call receives and does what the helper
does, with standard-library callables only. depickle does not run this file: it parses it and
evaluates each recipe over the pickle's values. Operations on values known while converting
(argument tuples, state dicts, names) happen during conversion; operations on load-time values
become pickle opcodes. Under CPython the same functions run for real, which is how the tests
compare every recipe with the helper it replaces.

Module family: any module named `cloudpickle`, `cloudpickle.cloudpickle` or
`cloudpickle.cloudpickle_fast`, under any package prefix (joblib.externals, srsly, ray,
pyspark, ...).
"""
import builtins
import collections
import dataclasses
import functools
import importlib
import operator
import types
import typing

from _depickle import recipe, serializer_global

SERIALIZER = "cloudpickle"

# cloudpickle pickles this sentinel by name; it marks "no value" for a closure cell.
EMPTY_CELL_VALUE = serializer_global("_empty_cell_value")

# Names of the dataclasses field-kind sentinels cloudpickle looks up by name.
DATACLASS_FIELD_SENTINELS = ("_FIELD", "_FIELD_CLASSVAR", "_FIELD_INITVAR")


@recipe("_builtin_type")
def builtin_type(name):
    # Python 2's old-style ClassType maps to `type`, as cloudpickle does for old pickles.
    if name == "ClassType":
        return type
    return getattr(types, name)


@recipe("subimport")
def subimport(name):
    return importlib.import_module(name)


@recipe("dynamic_subimport")
def dynamic_subimport(name, vars):
    module = types.ModuleType(name)
    namespace = module.__dict__
    namespace.update(vars)
    namespace["__builtins__"] = builtins.__dict__
    return module


@recipe("_make_function")
def make_function(code, globals, name, argdefs, closure):
    # Functions need builtins reachable from their globals (3.8/3.9 raise NameError otherwise).
    globals["__builtins__"] = builtins.__dict__
    return types.FunctionType(code, globals, name, argdefs, closure)


@recipe("_make_empty_cell")
def make_empty_cell():
    return types.CellType()


@recipe("_make_cell")
def make_cell(value=EMPTY_CELL_VALUE):
    if value is EMPTY_CELL_VALUE:
        return types.CellType()
    return types.CellType(value)


@recipe("_get_cell_contents")
def get_cell_contents(cell):
    try:
        return cell.cell_contents
    except ValueError:
        return EMPTY_CELL_VALUE


@recipe("_function_setstate")
def function_setstate(obj, state):
    attributes, slots = state
    obj.__dict__.update(attributes)
    slots = dict(slots)
    new_globals = slots.pop("__globals__")
    closure_source = slots.pop("__closure__")
    # Only there so the submodules get imported while the state loads; nothing to set.
    slots.pop("_cloudpickle_submodules")
    func_globals = obj.__globals__
    func_globals.update(new_globals)
    func_globals["__builtins__"] = builtins.__dict__
    if closure_source is not None:
        for index, source_cell in enumerate(closure_source):
            try:
                contents = source_cell.cell_contents
            except ValueError:
                continue
            obj.__closure__[index].cell_contents = contents
    for attribute, value in slots.items():
        setattr(obj, attribute, value)


@recipe("_make_skel_func")
def make_skel_func(code, cell_count, base_globals=None):
    # cloudpickle 0.5.4-0.7 could pass a module name or None here; later versions a dict.
    if base_globals is None or isinstance(base_globals, str):
        base_globals = {}
    base_globals["__builtins__"] = builtins.__dict__
    if cell_count >= 0:
        closure = tuple(types.CellType() for _ in range(cell_count))
    else:
        closure = None
    return types.FunctionType(code, base_globals, None, None, closure)


@recipe("_fill_function")
def fill_function(*args):
    if len(args) == 2:
        func, state = args
    elif len(args) == 5:
        func = args[0]
        state = dict(zip(("globals", "defaults", "dict", "closure_values"), args[1:]))
    elif len(args) == 6:
        func = args[0]
        state = dict(
            zip(("globals", "defaults", "dict", "module", "closure_values"), args[1:])
        )
    else:
        raise ValueError("unexpected _fill_function arguments")
    func.__globals__.update(state["globals"])
    func.__defaults__ = state["defaults"]
    func.__dict__ = state["dict"]
    for key in ("annotations", "doc", "name", "module", "qualname", "kwdefaults"):
        if key in state:
            setattr(func, "__" + key + "__", state[key])
    cells = func.__closure__
    values = state["closure_values"]
    if values is not None:
        for index, value in enumerate(values):
            if value is not EMPTY_CELL_VALUE:
                cells[index].cell_contents = value
    return func


@recipe("_make_skeleton_class")
def make_skeleton_class(type_constructor, name, bases, type_kwargs, class_tracker_id, extra):
    # The class tracker (sharing one class between loads) has no stdlib equivalent; see
    # docs/differences.md.
    return types.new_class(
        name,
        bases,
        {"metaclass": type_constructor},
        operator.methodcaller("update", type_kwargs),
    )


@recipe("_class_setstate", "_rehydrate_skeleton_class")
def class_setstate(obj, state):
    if isinstance(state, tuple):
        attributes, _slots = state
    else:
        attributes = state
    registered = None
    for attribute, value in attributes.items():
        if attribute == "_abc_impl":
            registered = value
        else:
            setattr(obj, attribute, value)
    # 3.13 drops __firstlineno__ when other attributes are set, so set it last again.
    if "__firstlineno__" in attributes:
        setattr(obj, "__firstlineno__", attributes["__firstlineno__"])
    if registered is not None:
        for subclass in registered:
            obj.register(subclass)
    return obj


@recipe("_make_skeleton_enum")
def make_skeleton_enum(bases, name, qualname, members, module, class_tracker_id, extra):
    metaclass = type(bases[-1])
    namespace = metaclass.__prepare__(name, bases)
    for member, value in members.items():
        namespace[member] = value
    enum_class = metaclass.__new__(metaclass, name, bases, namespace)
    enum_class.__module__ = module
    enum_class.__qualname__ = qualname
    return enum_class


@recipe("_make_typevar")
def make_typevar(name, bound, constraints, covariant, contravariant, class_tracker_id):
    return typing.TypeVar(
        name, *constraints, bound=bound, covariant=covariant, contravariant=contravariant
    )


@recipe("_make_dict_keys")
def make_dict_keys(obj, is_ordered=False):
    if is_ordered:
        return collections.OrderedDict.fromkeys(obj).keys()
    return dict.fromkeys(obj).keys()


@recipe("_make_dict_values")
def make_dict_values(obj, is_ordered=False):
    if is_ordered:
        return collections.OrderedDict(enumerate(obj)).values()
    return dict(enumerate(obj)).values()


@recipe("_make_dict_items")
def make_dict_items(obj, is_ordered=False):
    if is_ordered:
        return collections.OrderedDict(obj).items()
    return dict(obj).items()


@recipe("_create_parametrized_type_hint")
def create_parametrized_type_hint(origin, args):
    return operator.getitem(origin, args)


@recipe("_file_reconstructor")
def file_reconstructor(retval):
    return retval


@recipe("_get_dataclass_field_type_sentinel")
def get_dataclass_field_type_sentinel(name):
    if name not in DATACLASS_FIELD_SENTINELS:
        raise KeyError(name)
    return getattr(dataclasses, name)


@recipe("_gen_ellipsis")
def gen_ellipsis():
    return Ellipsis


@recipe("_gen_not_implemented")
def gen_not_implemented():
    return NotImplemented


@recipe("_genpartial")
def genpartial(func, args, kwds):
    if not args:
        args = ()
    if not kwds:
        kwds = {}
    return functools.partial(func, *args, **kwds)


@recipe("_getobject")
def getobject(modname, attribute):
    return operator.getitem(vars(importlib.import_module(modname)), attribute)


@recipe("_restore_attr")
def restore_attr(obj, attr):
    for key, value in attr.items():
        setattr(obj, key, value)
    return obj


# cloudpickle < 1.3 pickled `dict.__new__` & co. as calls of module-level factories.
@recipe("_get_dict_new")
def get_dict_new():
    return dict.__new__


@recipe("_get_frozenset_new")
def get_frozenset_new():
    return frozenset.__new__


@recipe("_get_list_new")
def get_list_new():
    return list.__new__


@recipe("_get_set_new")
def get_set_new():
    return set.__new__


@recipe("_get_tuple_new")
def get_tuple_new():
    return tuple.__new__


@recipe("_get_object_new")
def get_object_new():
    return object.__new__


@recipe("_get_module_builtins")
def get_module_builtins():
    return builtins.__dict__


@recipe("_rebuild_tornado_coroutine")
def rebuild_tornado_coroutine(func):
    return importlib.import_module("tornado.gen").coroutine(func)


@recipe("_lookup_class_or_track")
def lookup_class_or_track(class_tracker_id, class_def):
    return class_def
