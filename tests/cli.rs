//! The command line: single files, stdin/stdout, check, inspect, hostile inputs.

mod common;

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

/// Run the depickle binary with stdout connected to a pipe whose reading end is already closed
/// (`depickle ... | head -0`): the first write fails with EPIPE.
fn run_into_closed_pipe(args: &[&str]) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("depickle");
    let mut child = std::process::Command::new(bin)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn depickle");
    drop(child.stdout.take()); // close the reading end before anything is written
    child.wait_with_output().expect("wait for depickle")
}

/// Regression: `depickle catalog | head -1` and `depickle check DIR | head -1` panicked with
/// "failed printing to stdout: Broken pipe" (exit 101). A closed pipe ends the run quietly.
#[test]
fn closed_stdout_pipe_ends_quietly_with_exit_0() {
    let samples = corpus("samples");
    let samples = samples.to_str().unwrap();
    let sample = corpus("samples/model.cloudpickle.pkl");
    let sample = sample.to_str().unwrap();
    for args in [
        vec!["catalog"],
        vec!["catalog", "--json"],
        vec!["check", samples],
        vec!["check", "--json", samples],
        vec!["inspect", sample],
        vec!["inspect", "--json", sample],
    ] {
        let out = run_into_closed_pipe(&args);
        let err = text(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        // `check` exits 1 for pickles that still need a serializer; what matters is that the
        // closed pipe did not turn into a crash (101) or an I/O error (3).
        let code = out.status.code();
        assert!(
            code == Some(0),
            "{args:?}: expected a quiet exit 0 on a closed pipe, got {code:?}; stderr: {err}"
        );
    }
}

/// Regression: `--in-place` on a symbolic link replaced the link with a converted regular file
/// and left its target unconverted. Policy (same as batch mode, which skips links): refuse,
/// name the target, write nothing.
#[cfg(unix)]
#[test]
fn in_place_on_a_symlink_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("model.pkl");
    std::fs::copy(corpus("samples/model.cloudpickle.pkl"), &target).unwrap();
    let before = std::fs::read(&target).unwrap();
    let link = tmp.path().join("link.pkl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let out = depickle().arg(&link).arg("--in-place").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("symbolic link") && err.contains("model.pkl"),
        "{err}"
    );
    assert!(
        std::fs::symlink_metadata(&link).unwrap().is_symlink(),
        "link replaced"
    );
    assert_eq!(std::fs::read(&target).unwrap(), before, "target modified");
    let mut names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["link.pkl", "model.pkl"]);
}

/// Regression: SIGKILL during `--in-place` left a `.depickle-*.tmp` of up to the output's size
/// behind (the replacing path wrote a named temporary file). Kill at many moments of a
/// conversion of a ~48 MB pickle: the directory holds exactly the one file afterwards, and it
/// is either the original or a complete conversion.
#[cfg(target_os = "linux")]
#[test]
fn sigkill_during_in_place_leaves_no_temporary_file() {
    let tmp = tempfile::tempdir().unwrap();
    let pristine = tmp.path().join("pristine.pkl");
    // A pickle that needs converting (one cloudpickle `subimport` call) after 48 MB of data,
    // made with the standard library only: a stand-in module object registered as
    // `cloudpickle.cloudpickle` lets pickle write the helper's name.
    let script = format!(
        "{}{}",
        common::STAND_IN_CLOUDPICKLE,
        r#"
data = [bytes([i]) * (1 << 20) for i in range(48)]
with open(sys.argv[1], "wb") as f:
    pickle.dump([R("os")] + data + [R("sys")], f, protocol=4)
"#
    );
    let st = std::process::Command::new("python3")
        .args(["-I", "-S", "-c", &script])
        .arg(&pristine)
        .status()
        .expect("python3");
    assert!(st.success());
    let original = std::fs::read(&pristine).unwrap();
    let work = tmp.path().join("w");
    std::fs::create_dir(&work).unwrap();
    let file = work.join("model.pkl");
    let bin = assert_cmd::cargo::cargo_bin("depickle");
    let (mut killed_mid_run, mut converted) = (0, 0);
    for trial in 0..40u64 {
        std::fs::write(&file, &original).unwrap();
        let mut child = std::process::Command::new(&bin)
            .arg(&file)
            .arg("--in-place")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over the run (about 0.3 s in a debug build): 0 to ~310 ms in 8 ms steps.
        std::thread::sleep(std::time::Duration::from_millis(trial * 8));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let names: Vec<_> = std::fs::read_dir(&work)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, ["model.pkl"], "trial {trial}: left behind {names:?}");
        let now = std::fs::read(&file).unwrap();
        if now == original {
            if !status.success() {
                killed_mid_run += 1;
            }
        } else {
            converted += 1;
            assert!(
                now.len() > original.len() / 2,
                "trial {trial}: truncated output"
            );
        }
    }
    assert!(
        killed_mid_run > 0,
        "no kill landed during a conversion; the test proves nothing"
    );
    eprintln!("killed mid-run: {killed_mid_run}, converted before the kill: {converted}");
}

/// Run depickle under a 1 GiB address-space limit, so a regression that reads a device until
/// memory runs out aborts quickly instead of eating the machine.
#[cfg(unix)]
fn depickle_capped(args: &[&std::ffi::OsStr], cwd: &Path) -> std::process::Output {
    let bin = assert_cmd::cargo::cargo_bin("depickle");
    std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576; exec timeout 60 \"$0\" \"$@\"")
        .arg(bin)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[cfg(unix)]
#[test]
fn character_device_input_is_refused_without_reading_it() {
    let tmp = tempfile::tempdir().unwrap();
    let zero = std::ffi::OsStr::new("/dev/zero");
    for args in [
        vec![zero, "-o".as_ref(), "out.pkl".as_ref()],
        vec!["check".as_ref(), zero],
        vec!["inspect".as_ref(), zero],
    ] {
        let out = depickle_capped(&args, tmp.path());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {err}");
        assert!(
            text(&out.stdout).contains("character device") || err.contains("character device"),
            "{args:?}: {err}"
        );
    }
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[cfg(unix)]
#[test]
fn fifo_input_is_read_like_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let fifo = tmp.path().join("in.pkl");
    let st = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(corpus("models/tree/closure.pkl")).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, bytes).unwrap())
    };
    let out = tmp.path().join("out.pkl");
    depickle()
        .arg(&fifo)
        .arg("-o")
        .arg(&out)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();
    writer.join().unwrap();
    assert!(std::fs::metadata(&out).unwrap().len() > 0);
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
