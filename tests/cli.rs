//! The command line: single files, stdin/stdout, check, inspect, hostile inputs.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn corpus(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(p)
}

fn depickle() -> Command {
    Command::cargo_bin("depickle").unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn stdin_to_stdout_loads_with_stdlib_only() {
    let input = std::fs::read(corpus("models/tree/closure.pkl")).unwrap();
    let out = depickle()
        .args(["-", "-o", "-", "-q"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("x.pkl");
    std::fs::write(&f, &out.stdout).unwrap();
    let st = std::process::Command::new("python3")
        .args([
            "-I",
            "-S",
            "-c",
            "import pickle,sys; f = pickle.load(open(sys.argv[1],'rb')); assert callable(f)",
        ])
        .arg(&f)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn single_file_json_parses() {
    let tmp = tempfile::tempdir().unwrap();
    let out = depickle()
        .arg(corpus("models/tree/nested/class.pkl"))
        .arg("-o")
        .arg(tmp.path().join("c.pkl"))
        .arg("--json")
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["report"]["status"], "converted");
}

#[test]
fn garbage_and_truncated_exit_4_with_offset_and_no_output() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["garbage.pkl", "truncated.pkl"] {
        let dest = tmp.path().join(name);
        let out = depickle()
            .arg(corpus("models/bad").join(name))
            .arg("-o")
            .arg(&dest)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4), "{name}");
        let err = text(&out.stderr);
        assert!(err.contains("byte "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!dest.exists());
    }
    // Random-ish garbage that starts like a pickle, and a lone PROTO.
    for bytes in [
        &b"\x80\x05"[..],
        b"\x80\x04\x95\xff\xff",
        b"(((((",
        b"}q\x00X",
    ] {
        let out = depickle()
            .args(["-", "-o", "-"])
            .write_stdin(bytes.to_vec())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(4));
        assert!(text(&out.stderr).contains("byte "));
    }
}

#[test]
fn refused_exit_1_and_in_place_keeps_original() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("r.pkl");
    let original = std::fs::read(corpus("models/bad/refused.pkl")).unwrap();
    std::fs::write(&f, &original).unwrap();
    let out = depickle().arg(&f).arg("--in-place").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(std::fs::read(&f).unwrap(), original);
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn check_exit_codes() {
    depickle()
        .arg("check")
        .arg(corpus("models/tree/plain4.pkl"))
        .assert()
        .success();
    depickle()
        .arg("check")
        .arg(corpus("models/tree/closure.pkl"))
        .assert()
        .code(1);
    depickle()
        .arg("check")
        .arg(corpus("models/tree/compressed/lambda.pkl.xz"))
        .assert()
        .code(1);
    depickle()
        .arg("check")
        .arg(corpus("models/bad/garbage.pkl"))
        .assert()
        .code(4);
}

#[test]
fn inspect_json_names_modules_and_cpython() {
    let out = depickle()
        .arg("inspect")
        .arg("--json")
        .arg(corpus("models/tree/closure.pkl"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let modules: Vec<&str> = v["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert!(modules.contains(&"types"), "{modules:?}");
    assert!(!modules.iter().any(|m| m.contains("cloudpickle")));
    // A tiny closure's bytecode is identical on 3.11 and 3.12: both are named.
    assert_eq!(v["cpython"], serde_json::json!(["3.11", "3.12"]));
    // Calls (PRECALL) pin the sample model to 3.11.
    let out = depickle()
        .arg("inspect")
        .arg("--json")
        .arg(corpus("models/tree/sample_model.bin"))
        .output()
        .unwrap();
    let v2: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v2["cpython"], serde_json::json!(["3.11"]));
    assert!(v2["cpython_note"]
        .as_str()
        .unwrap()
        .contains("this pickle only loads on CPython 3.11"));
    assert!(v["serializer_version"].to_string().contains("2.2"));
    // Human output too.
    let out = depickle()
        .arg("inspect")
        .arg(corpus("models/tree/checkpoint.pt"))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("CPython 3.11"));
}

#[test]
fn inspect_flags_dangerous_globals() {
    // pickle of os.system: protocol 2 GLOBAL + STOP
    let data = b"\x80\x02cposix\nsystem\nq\x00.".to_vec();
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("evil.pkl");
    std::fs::write(&f, data).unwrap();
    let out = depickle()
        .arg("inspect")
        .arg("--json")
        .arg(&f)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dangerous"], serde_json::json!(["posix.system"]));
}

#[test]
fn inspect_sees_lookups_through_import_module_and_getattr() {
    // getattr(importlib.import_module("os"), "system"): no `os.system` global in the stream.
    let data = b"\x80\x02cbuiltins\ngetattr\ncimportlib\nimport_module\nX\x02\x00\x00\x00os\x85RX\x06\x00\x00\x00system\x86R.";
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("indirect.pkl");
    std::fs::write(&f, data).unwrap();
    let out = depickle()
        .arg("inspect")
        .arg("--json")
        .arg(&f)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["dangerous"], serde_json::json!(["os.system"]));
    assert!(v["modules"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("os")));
}

#[test]
fn inspect_flags_risky_names_inside_function_bodies() {
    // The sample model's functions use names, none of them risky.
    let out = depickle()
        .arg("inspect")
        .arg("--json")
        .arg(corpus("samples/model.cloudpickle.pkl"))
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!v["code_names"].as_array().unwrap().is_empty(), "{v}");
    assert!(!v["dangerous"].to_string().contains("code uses"), "{v}");
    // A code object whose co_names (argument 8 of types.CodeType) has `os` and `system`.
    let mut p = b"\x80\x02ctypes\nCodeType\n(K\x00K\x00K\x00K\x00K\x00K\x00))".to_vec();
    p.extend_from_slice(b"X\x02\x00\x00\x00osX\x06\x00\x00\x00system\x86)tR.");
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("code.pkl");
    std::fs::write(&f, p).unwrap();
    let out = depickle()
        .arg("inspect")
        .arg("--json")
        .arg(&f)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["dangerous"],
        serde_json::json!(["code uses `system`"]),
        "{v}"
    );
}

#[test]
fn deeply_nested_pickle_converts_without_stack_overflow() {
    // [[[[...]]]] 200,000 levels: EMPTY_LIST per level, then APPEND per level.
    const DEPTH: usize = 200_000;
    let mut p = vec![0x80, 4];
    p.resize(p.len() + DEPTH, b']');
    p.resize(p.len() + DEPTH - 1, b'a');
    p.push(b'.');
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("deep.pkl");
    std::fs::write(&f, &p).unwrap();
    let out = depickle()
        .arg(&f)
        .arg("-o")
        .arg(tmp.path().join("out.pkl"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    depickle().arg("check").arg(&f).assert().success();
    depickle().arg("inspect").arg(&f).assert().success();
    // Same depth through MARKs: ( ( ( ... l l l
    let mut p = vec![0x80, 2];
    p.resize(p.len() + DEPTH, b'(');
    p.resize(p.len() + DEPTH, b'l');
    p.push(b'.');
    std::fs::write(&f, &p).unwrap();
    let out = depickle()
        .arg(&f)
        .arg("-o")
        .arg(tmp.path().join("out2.pkl"))
        .output()
        .unwrap();
    assert!(!text(&out.stderr).contains("overflow"));
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn joblib_single_file_is_not_modified() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("j.joblib");
    let out = depickle()
        .arg(corpus("models/tree/model.joblib"))
        .arg("-o")
        .arg(&dest)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("joblib's own loader"));
    assert!(!dest.exists());
}

#[cfg(unix)]
#[test]
fn named_pipe_input_is_read_once() {
    // `depickle <(zcat model.pkl.gz) -o out.pkl` hands depickle a pipe: it must not be read twice.
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("in.pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let sample = std::fs::read(corpus("samples/model.cloudpickle.pkl")).unwrap();
    let writer_path = fifo.clone();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(writer_path)
            .unwrap();
        f.write_all(&sample).unwrap();
    });
    let out = tmp.path().join("out.pkl");
    depickle()
        .arg(&fifo)
        .arg("-o")
        .arg(&out)
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .success();
    writer.join().unwrap();
    let loaded = std::process::Command::new("python3")
        .args([
            "-I",
            "-S",
            "-c",
            "import pickle,sys; print(sorted(pickle.load(open(sys.argv[1],'rb'))))",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(loaded.status.success(), "{}", text(&loaded.stderr));
}

/// A global whose module or name CPython cannot decode must not vanish from `check` (it used to
/// be read lossily, or as a dynamic global, and the file called self-contained): `check` and
/// the conversion both refuse it with the byte offset of the faulty opcode, writing nothing.
#[test]
fn undecodable_global_names_are_refused_with_offset() {
    fn sb(b: &[u8]) -> Vec<u8> {
        [&[0x8c, b.len() as u8][..], b].concat()
    }
    let stack_global =
        |name: &[u8]| [&b"\x80\x04"[..], &sb(b"builtins"), &sb(name), b"\x93)R."].concat();
    // (pickle, offset of the faulty opcode); CPython 3.6-3.13 fail on each: UnicodeDecodeError
    // for the first two, AttributeError for the surrogate name (valid surrogatepass text).
    let cases: Vec<(Vec<u8>, usize)> = vec![
        (b"\x80\x02cbuiltins\nle\xffn\n)R.".to_vec(), 2),
        (stack_global(b"le\xffn"), 12),
        (stack_global(b"le\xed\xa0\x80"), 19),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (i, (data, offset)) in cases.into_iter().enumerate() {
        let src = tmp.path().join(format!("bad{i}.pkl"));
        std::fs::write(&src, &data).unwrap();
        let out = depickle().arg("check").arg(&src).output().unwrap();
        let msg = text(&out.stdout) + &text(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "case {i}: {msg}");
        assert!(msg.contains(&format!("byte {offset}:")), "case {i}: {msg}");
        assert!(!msg.contains("self-contained"), "case {i}: {msg}");
        let dest = tmp.path().join(format!("out{i}.pkl"));
        let out = depickle().arg(&src).arg("-o").arg(&dest).output().unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "case {i}: {err}");
        assert!(err.contains(&format!("byte {offset}:")), "case {i}: {err}");
        assert!(!dest.exists(), "case {i}");
    }
}
