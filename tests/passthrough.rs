//! The plain-data prefix passthrough (`pickle_ir::prefix`, `depickle_core::convert_bytes`).
//!
//! Real cloudpickle pickles (cloudpickle 3.1.2, CPython 3.11, made here in a venv) with a large
//! plain-data part before the functions, in the shapes that matter: data in an open
//! `SETITEMS`/`APPENDS` region, nested regions, functions whose globals share the data (a memo
//! fetch across the cut), memoized strings reused as function-state keys, a region the suffix
//! closes with `TUPLE` (must fall back to full lifting), and protocols 2/4/5. Each is converted
//! with and without passthrough; both outputs are loaded under `python3.11 -I -S` with both
//! unpicklers and must behave like the original.

mod common;

use depickle_recipes::Catalog;
use std::path::{Path, PathBuf};
use std::process::Command;

const PROBE: &str = r#"
def summarize(v):
    if callable(v) and hasattr(v, '__code__'):
        try:
            r = v(3)
        except TypeError:
            r = v()
        return ['fn', v.__name__, v.__qualname__, repr(r)]
    if isinstance(v, (list, tuple)):
        if len(v) > 20:
            return [type(v).__name__, len(v)] + [summarize(x) for x in v[:3]] + [summarize(x) for x in v[-2:]]
        return [type(v).__name__] + [summarize(x) for x in v]
    if isinstance(v, dict):
        out = {str(k): summarize(x) for k, x in v.items()}
        if 'data' in v and 'g' in v:
            out['g shares data'] = v['g'].__globals__['DATA'] is v['data']
        return out
    return repr(v)
"#;

const GENERATE: &str = r#"
import json, os, pickle, sys
import cloudpickle
out = sys.argv[1]
exec(PROBE_SOURCE)
N = 200_000
DATA = [(i, 's%d' % i) if i % 3 == 0 else (i if i % 3 == 1 else 'x%d' % i) for i in range(N)]
NAMES = ['__name__', '__qualname__', '__module__', '__doc__', '__defaults__', '__kwdefaults__',
         '__globals__', '__closure__', '__dict__', '__annotations__']
def g():
    return len(DATA)
def outer(k):
    def add(x):
        return x + k
    return add
f = outer(5)
cases = [
    # name, object, protocols, passthrough expected
    ('dict_data_then_funcs', {'data': DATA, 'f': f, 'g': g}, [2, 4, 5], True),
    ('list_items_then_func', DATA + [f], [4, 5], True),
    ('tuple_data_func', (DATA, f), [5], True),
    ('nested_regions', {'outer': {'data': DATA, 'g': g, 'f': f}}, [4], True),
    ('names_reused_as_keys', {'names': NAMES * 1000, 'data': DATA, 'g': g}, [5], True),
    ('region_closed_by_tuple', (DATA, 1, 2, f), [2], False),
    ('small', {'data': DATA[:10], 'f': f}, [5], False),
]
expected = {}
for name, obj, protocols, passthrough in cases:
    for proto in protocols:
        fname = '%s.%d.pkl' % (name, proto)
        with open(os.path.join(out, fname), 'wb') as fh:
            cloudpickle.dump(obj, fh, protocol=proto)
        expected[fname] = {'probe': summarize(obj), 'passthrough': passthrough}
with open(os.path.join(out, 'expected.json'), 'w') as fh:
    json.dump(expected, fh)
"#;

const LOAD: &str = r#"
import json, pickle, sys
results = {}
for path in sys.argv[1:]:
    for how in ('c', 'py'):
        with open(path, 'rb') as fh:
            obj = pickle.load(fh) if how == 'c' else pickle._Unpickler(fh).load()
        results[path + ':' + how] = summarize(obj)
print(json.dumps(results))
"#;

fn venv_python() -> Result<PathBuf, String> {
    let venvs = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/tools/venvs.py");
    let out = Command::new("python3")
        .arg(venvs)
        .args(["3.11", "cloudpickle==3.1.2"])
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
            .to_string());
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

#[test]
fn plain_prefix_passes_through_and_behaves_like_full_lifting() {
    let Some(py311) = common::interpreter("3.11") else {
        eprintln!("passthrough: SKIPPED: no Python 3.11 interpreter");
        return;
    };
    let venv = match venv_python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("passthrough: SKIPPED: cannot make a cloudpickle 3.1.2 venv: {why}");
            return;
        }
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let script = format!("PROBE_SOURCE = {PROBE:?}\n{GENERATE}");
    let st = Command::new(&venv)
        .args(["-c", &script])
        .arg(dir.path())
        .status()
        .expect("run generator");
    assert!(st.success(), "generator failed");
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    let catalog = Catalog::builtin().expect("recipes");
    let mut outputs = Vec::new();
    for (fname, want) in expected.as_object().expect("object") {
        let data = std::fs::read(dir.path().join(fname)).expect("read");
        let (fast, report) = depickle_core::convert_bytes_with(&data, Vec::new(), &catalog, true)
            .unwrap_or_else(|e| panic!("{fname}: {e}"));
        let (full, full_report) =
            depickle_core::convert_bytes_with(&data, Vec::new(), &catalog, false)
                .unwrap_or_else(|e| panic!("{fname}: {e}"));
        assert_eq!(full_report.passthrough_bytes, 0);
        let wants_passthrough = want["passthrough"].as_bool().expect("bool");
        assert_eq!(
            report.passthrough_bytes > 0,
            wants_passthrough,
            "{fname}: passthrough of {} bytes",
            report.passthrough_bytes
        );
        if wants_passthrough {
            assert!(
                report.passthrough_bytes > (1 << 20),
                "{fname}: only {} bytes passed through",
                report.passthrough_bytes
            );
        }
        assert_eq!(
            report.helpers_rewritten, full_report.helpers_rewritten,
            "{fname}"
        );
        assert_eq!(
            report.output_globals, full_report.output_globals,
            "{fname}: reported globals differ"
        );
        for (tag, bytes) in [("fast", fast), ("full", full)] {
            let path = dir.path().join(format!("{fname}.{tag}.out"));
            std::fs::write(&path, bytes).expect("write");
            outputs.push((fname.clone(), path));
        }
    }
    let script = format!("{PROBE}\n{LOAD}");
    let out = Command::new(&py311)
        .args(["-I", "-S", "-c", &script])
        .args(outputs.iter().map(|(_, p)| p))
        .output()
        .expect("load outputs");
    assert!(
        out.status.success(),
        "loading failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("loader json");
    for (fname, path) in &outputs {
        for how in ["c", "py"] {
            let key = format!("{}:{how}", path.display());
            assert_eq!(
                got[&key],
                expected[fname]["probe"],
                "{} behaves differently ({how})",
                path.display()
            );
        }
    }
    eprintln!("passthrough: {} outputs checked", outputs.len());
}
