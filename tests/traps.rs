//! Known traps of rewriting cloudpickle helpers into stdlib calls, one test each.
//!
//! Every test converts the committed pickles `corpus/traps/<trap>-py3.X-cp<version>-p<proto>.pkl`
//! (made by `corpus/traps/make_traps.py`) with the library, checks that the output names no
//! serializer global, then loads it under `python3.X -I -S` (no site-packages, so no cloudpickle)
//! with both the C `pickle.loads` and the pure-Python `pickle._Unpickler`, and runs assertions
//! on the loaded object. A Python minor with no interpreter on this machine is skipped loudly.

mod common;

use common::interpreter;
use depickle_recipes::Catalog;
use std::path::{Path, PathBuf};
use std::process::Command;

fn traps_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/traps")
}

const PRELUDE: &str = r#"
import io, pickle, sys
data = open(sys.argv[1], "rb").read()
def check(obj):
"#;

const EPILOGUE: &str = r#"
for name, load in (("pickle.loads", pickle.loads),
                   ("pickle._Unpickler", lambda d: pickle._Unpickler(io.BytesIO(d)).load())):
    try:
        check(load(data))
    except BaseException:
        print("with " + name + ":", file=sys.stderr)
        raise
"#;

/// Convert every pickle of `trap` and run `body` (the body of `def check(obj):`) on each
/// loaded output. Panics listing every failing file.
fn check_trap(trap: &str, body: &str) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(traps_dir())
        .expect("corpus/traps exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.starts_with(&format!("{trap}-py")) && name.ends_with(".pkl")
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no pickles for trap {trap}: run corpus/traps/make_traps.py"
    );
    let catalog = Catalog::builtin().expect("recipes parse");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut script = String::from(PRELUDE);
    for line in body.trim_matches('\n').lines() {
        script.push_str("    ");
        script.push_str(line);
        script.push('\n');
    }
    script.push_str(EPILOGUE);

    let mut failures = Vec::new();
    let mut checked = 0;
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let minor = name
            .split('-')
            .find_map(|part| part.strip_prefix("py"))
            .expect("file name records the python minor")
            .to_string();
        let data = std::fs::read(file).expect("read trap pickle");
        let out = tmp.path().join(&name);
        if let Err(e) = depickle_core::convert_to_file(&data, &out, &catalog) {
            failures.push(format!("{name}: conversion failed: {e}"));
            continue;
        }
        let converted = std::fs::read(&out).expect("read output");
        for g in depickle_core::lift_all(&converted).expect("output lifts") {
            let left = depickle_core::serializer_globals(&g);
            if !left.is_empty() {
                failures.push(format!("{name}: output still names {left:?}"));
            }
        }
        let Some(python) = interpreter(&minor) else {
            eprintln!("traps: !!!!!! SKIPPED loading {name}: no Python {minor} interpreter found");
            continue;
        };
        let run = Command::new(&python)
            .args(["-I", "-S", "-c", &script])
            .arg(&out)
            .output()
            .expect("run python");
        if run.status.success() {
            checked += 1;
        } else {
            failures.push(format!(
                "{name} (python {minor}):\n{}{}",
                String::from_utf8_lossy(&run.stdout),
                String::from_utf8_lossy(&run.stderr)
            ));
        }
    }
    eprintln!(
        "traps: {trap}: {checked}/{} pickle(s) loaded and checked",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "trap {trap} failed:\n{}",
        failures.join("\n")
    );
}

/// A class whose base defines `__setstate__`: class attributes must be set with setattr, not with
/// BUILD (which would call the inherited `__setstate__` on the class object).
#[test]
fn class_with_setstate_base() {
    check_trap(
        "setstate_base",
        r#"
Child, c = obj
assert Child.__name__ == "Child" and Child.kind == "child"
assert Child().method() == 42
base = Child.__mro__[1]
assert base.__name__ == "StatefulBase" and "__setstate__" in vars(base)
assert type(c) is Child and c.value == 7 and c.restored is True
assert not hasattr(Child, "restored"), "BUILD ran __setstate__ on the class"
"#,
    );
}

/// Functions sharing one globals dict and one closure cell: both must be filled in place.
#[test]
fn globals_and_closure_filled_in_place() {
    check_trap(
        "globals_closure_in_place",
        r#"
set_x, get_x, inc, get = obj
assert set_x.__globals__ is get_x.__globals__, "globals not shared"
assert get_x() == (0, 0)
set_x(5)
assert get_x() == (5, 5), get_x()
assert inc() == 1 and inc() == 2
# cloudpickle gives each function its own cells and copies the contents in (_function_setstate),
# so after loading the originals do not share the cell either: `get` still sees 0.
assert inc.__closure__[0] is not get.__closure__[0]
assert get() == 0
"#,
    );
}

/// Function globals carry `__builtins__` (3.8/3.9 resolve builtins through them).
#[test]
fn builtins_in_function_globals() {
    check_trap(
        "builtins",
        r#"
f = obj
assert f([1, 2, 3]) == 3 + 6 + 3
assert "__builtins__" in f.__globals__
"#,
    );
}

/// `TypeVar(name, *constraints, bound=..., covariant=...)`: keyword-only arguments reach the
/// constructor (through functools.partial in the output).
#[test]
fn typevar_keyword_arguments() {
    check_trap(
        "typevar_kwonly",
        r#"
import typing
tb, tc = obj
assert isinstance(tb, typing.TypeVar) and isinstance(tc, typing.TypeVar)
assert tb.__name__ == "T_BOUND" and tb.__bound__ is int
assert tb.__covariant__ is True and tb.__contravariant__ is False
assert tc.__name__ == "T_CONSTRAINED" and tc.__constraints__ == (int, str)
assert tc.__bound__ is None and tc.__contravariant__ is True
"#,
    );
}

/// `types.new_class` with a dynamic metaclass, for a class with `__slots__`. cloudpickle sends
/// `__slots__` in the class state (not to `new_class`) and drops the slot descriptors, so with
/// the original too the loaded class has `__slots__` but its instances get a `__dict__`.
#[test]
fn new_class_with_metaclass_and_slots() {
    check_trap(
        "metaclass_slots",
        r#"
S = obj
meta = type(S)
assert meta is not type and meta.__name__ == "Meta"
assert S.describe() == "meta:Slotted"
assert S.__slots__ == ("a", "b")
s = S()
s.a, s.b = 1, 2
assert s.total() == 3
assert hasattr(s, "__dict__"), "differs from cloudpickle, which does not restore slots"
assert "a" not in vars(S) and "b" not in vars(S)
"#,
    );
}

/// `abc` virtual subclasses registered before pickling are registered again.
#[test]
fn abc_register_replayed() {
    check_trap(
        "abc_register",
        r#"
import abc
R = obj
assert isinstance(R, abc.ABCMeta)
assert issubclass(int, R) and isinstance((1,), R)
assert not issubclass(str, R)
try:
    R()
except TypeError:
    pass
else:
    raise AssertionError("abstract method lost")
"#,
    );
}

/// Python 3.13 classes keep `__firstlineno__`.
#[test]
fn firstlineno_kept_on_313() {
    check_trap(
        "firstlineno",
        r#"
C, line = obj
assert isinstance(line, int) and line > 1
assert C.__firstlineno__ == line, (vars(C).get("__firstlineno__"), line)
assert C().f() == 1
"#,
    );
}

/// `collections.OrderedDict.fromkeys` is a dotted name: at protocol 2 GLOBAL cannot name it.
#[test]
fn dotted_global_at_protocol_2() {
    check_trap(
        "dotted_global",
        r#"
import collections
assert type(obj) is type(collections.OrderedDict().keys()), type(obj)
assert list(obj) == ["b", "a"]
"#,
    );
}

/// One object reached along several paths stays one object.
#[test]
fn shared_references_stay_shared() {
    check_trap(
        "shared_refs",
        r#"
a, b, f, d = obj
assert a is b and d["again"] is a
assert f() is a
a.append(4)
assert f() == [1, 2, 3, 4]
"#,
    );
}

/// A closure holding itself, and a dict of functions whose globals hold the dict.
#[test]
fn self_referencing_closure_and_recursive_dict() {
    check_trap(
        "recursion",
        r#"
fact, funcs = obj
assert fact(5) == 120
assert fact.__closure__[0].cell_contents is fact
assert funcs["self"] is funcs
assert funcs["even"](10) is True and funcs["odd"](7) is True
assert funcs["even"].__globals__["FUNCS"] is funcs
"#,
    );
}
