//! Differential test of lifting and emission against CPython.
//!
//! The codec's generator (`pickle-codec/tests/gen_plain_pickles.py`) writes a varied set of plain
//! pickles — every protocol, the C and pure-Python picklers, Python 2.7's when pyenv has it —
//! including shared references, recursive lists/dicts/tuples and objects built by `copyreg`.
//! Each is lifted into a graph and emitted again; the codec's `check_rewritten.py` then loads
//! original and output in CPython, requires equal objects (shared structure included) and valid
//! framing. This exercises memo sharing, cycles through mutable containers, POP/POP_MARK
//! statements and the tuple-recursion pattern of CPython's pickler.

use std::path::{Path, PathBuf};
use std::process::Command;

fn codec_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../pickle-codec/tests")
}

fn python27() -> Option<PathBuf> {
    let out = Command::new("pyenv").arg("root").output().ok()?;
    let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let mut vs: Vec<PathBuf> = std::fs::read_dir(root.join("versions"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .collect();
    vs.sort();
    vs.into_iter()
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("2.7"))
        })
        .map(|p| p.join("bin").join("python2.7"))
        .find(|p| p.exists())
}

#[test]
fn lift_then_emit_preserves_every_plain_pickle() {
    if Command::new("python3").arg("-c").arg("1").output().is_err() {
        eprintln!("SKIPPED: no python3 on PATH");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let gen = codec_tests().join("gen_plain_pickles.py");
    let st = Command::new("python3")
        .arg(&gen)
        .arg(dir.path())
        .status()
        .expect("run generator");
    assert!(st.success());
    match python27() {
        Some(py2) => {
            let st = Command::new(py2)
                .arg(&gen)
                .arg(dir.path())
                .status()
                .expect("run py2 generator");
            assert!(st.success());
        }
        None => eprintln!("SKIPPED: Python 2.7 pickles (no 2.7 interpreter under pyenv)"),
    }
    let mut manifest = String::new();
    let mut count = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("list")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("pkl") {
            continue;
        }
        let data = std::fs::read(&path).expect("read");
        let graph = pickle_ir::lift(&data, 0).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (out, _) = pickle_emit::emit(&graph, Vec::new())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let again = pickle_ir::lift(&out, 0)
            .unwrap_or_else(|e| panic!("{}: output does not lift: {e}", path.display()));
        assert_eq!(again.protocol, graph.protocol, "{}", path.display());
        let out_path = path.with_extension("emitted");
        std::fs::write(&out_path, &out).expect("write");
        // Python 2 pickles of byte strings and old-style classes do not load in Python 3 at
        // all (original included); they are checked for lifting and re-lifting only.
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("py2") {
            count += 1;
            continue;
        }
        manifest.push_str(&format!(
            "{}\t{}\t{}\n",
            path.display(),
            out_path.display(),
            graph.protocol
        ));
        count += 1;
    }
    assert!(count > 100, "generator wrote only {count} pickles");
    let list = dir.path().join("manifest.tsv");
    std::fs::write(&list, manifest).expect("write manifest");
    let out = Command::new("python3")
        .args(["-I", "-S"])
        .arg(codec_tests().join("check_rewritten.py"))
        .arg(&list)
        .output()
        .expect("run checker");
    assert!(
        out.status.success(),
        "CPython found differences:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("lift+emit: {count} pickles load identically in CPython");
}

#[test]
fn deep_nesting_is_iterative() {
    // 200,000 nested lists: [[[...]]] at protocol 2, lifted and emitted without recursion.
    let depth = 200_000;
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b']', depth)); // EMPTY_LIST
    p.extend(std::iter::repeat_n(b'a', depth - 1)); // APPEND
    p.push(b'.');
    let graph = pickle_ir::lift(&p, 0).expect("lifts");
    let (out, _) = pickle_emit::emit(&graph, Vec::new()).expect("emits");
    let again = pickle_ir::lift(&out, 0).expect("output lifts");
    assert_eq!(again.nodes.len(), depth);
}
