//! Batch mode over corpus/models (built by corpus/models/make_models.py).

mod common;

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn corpus(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus/models")
        .join(p)
}

fn depickle() -> Command {
    Command::cargo_bin("depickle").unwrap()
}

fn files_under(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

fn copy_tree(src: &Path, dst: &Path) {
    for rel in files_under(src) {
        let to = dst.join(&rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(src.join(&rel), to).unwrap();
    }
}

/// Load with only the standard library (`python3 -I -S`); `how` decodes the bytes first.
fn python_loads(path: &Path, how: &str) {
    let script = format!(
        "import sys, pickle, gzip, bz2, lzma\nd = open(sys.argv[1], 'rb').read()\nobj = pickle.loads({how})\nprint(type(obj).__name__)\n"
    );
    let out = std::process::Command::new("python3")
        .args(["-I", "-S", "-c", &script])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{} does not load: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mirror_tree_converts_pickles_and_copies_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let assert = depickle()
        .arg(corpus("tree"))
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(report["exit_code"], 0);
    assert_eq!(files_under(&corpus("tree")), files_under(&out));
    let status = |p: &str| {
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap_or_else(|| panic!("{p} in report"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for p in [
        "closure.pkl",
        "nested/class.pkl",
        "nested/old_cp.pkl",
        "sample_model.bin",
        "checkpoint.pt",
        "compressed/lambda.pkl.gz",
        "compressed/lambda.pkl.bz2",
        "compressed/lambda.pkl.xz",
    ] {
        assert_eq!(status(p), "converted", "{p}");
    }
    assert_eq!(status("plain4.pkl"), "self-contained");
    assert_eq!(status("plain0.pkl"), "self-contained");
    assert_eq!(status("compressed/plain.pkl.gz"), "self-contained");
    assert_eq!(status("model.joblib"), "joblib");
    assert_eq!(status("README.txt"), "copied");
    // Non-pickles, self-contained pickles and joblib files are byte-identical.
    for p in [
        "README.txt",
        "model.joblib",
        "plain4.pkl",
        "plain0.pkl",
        "compressed/plain.pkl.gz",
    ] {
        assert_eq!(
            std::fs::read(corpus("tree").join(p)).unwrap(),
            std::fs::read(out.join(p)).unwrap(),
            "{p}"
        );
    }
    for p in [
        "closure.pkl",
        "nested/class.pkl",
        "nested/old_cp.pkl",
        "sample_model.bin",
        "plain0.pkl",
    ] {
        python_loads(&out.join(p), "d");
    }
    python_loads(&out.join("compressed/lambda.pkl.gz"), "gzip.decompress(d)");
    python_loads(&out.join("compressed/lambda.pkl.bz2"), "bz2.decompress(d)");
    python_loads(&out.join("compressed/lambda.pkl.xz"), "lzma.decompress(d)");
    // Same compression format kept.
    assert!(std::fs::read(out.join("compressed/lambda.pkl.xz"))
        .unwrap()
        .starts_with(b"\xfd7zXZ\0"));
}

#[test]
fn torch_zip_members_kept_and_aligned() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ckpt.pt");
    depickle()
        .arg(corpus("tree/checkpoint.pt"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let script = r#"
import sys, zipfile, pickle, io
a, b = zipfile.ZipFile(sys.argv[1]), zipfile.ZipFile(sys.argv[2])
assert [i.filename for i in a.infolist()] == [i.filename for i in b.infolist()]
raw = open(sys.argv[2], 'rb').read()
class U(pickle.Unpickler):
    def persistent_load(self, pid): return pid
for i in b.infolist():
    j = a.getinfo(i.filename)
    assert i.compress_type == j.compress_type, i.filename
    if i.filename != 'archive/data.pkl':
        assert a.read(i.filename) == b.read(i.filename), i.filename
    if '/data/' in i.filename:
        o = i.header_offset
        start = o + 30 + int.from_bytes(raw[o+26:o+28], 'little') + int.from_bytes(raw[o+28:o+30], 'little')
        assert start % 64 == 0, (i.filename, start)
f = U(io.BytesIO(b.read('archive/data.pkl'))).load()
assert callable(f)
"#;
    let st = std::process::Command::new("python3")
        .args(["-I", "-S", "-c", script])
        .arg(corpus("tree/checkpoint.pt"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn bad_files_fail_without_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let assert = depickle()
        .arg(corpus("bad"))
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .assert()
        .failure();
    let report: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_ne!(report["exit_code"], 0);
    assert_eq!(report["counts"]["refused"], 1);
    assert_eq!(report["counts"]["not-a-pickle"], 2);
    assert!(files_under(&out).is_empty(), "{:?}", files_under(&out));
}

#[test]
fn in_place_failure_keeps_originals_and_converts_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    copy_tree(&corpus("bad"), &dir);
    std::fs::copy(corpus("tree/closure.pkl"), dir.join("good.pkl")).unwrap();
    depickle()
        .arg(&dir)
        .arg("--in-place")
        .arg("--quiet")
        .arg("--jobs")
        .arg("2")
        .assert()
        .failure();
    for p in ["garbage.pkl", "truncated.pkl", "refused.pkl"] {
        assert_eq!(
            std::fs::read(dir.join(p)).unwrap(),
            std::fs::read(corpus("bad").join(p)).unwrap()
        );
    }
    python_loads(&dir.join("good.pkl"), "d");
    let names = files_under(&dir);
    assert!(names.iter().all(|n| !n.contains(".depickle-")), "{names:?}");
}

#[test]
fn output_inside_input_or_same_dir_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    copy_tree(&corpus("tree"), &dir);
    let o = depickle().arg(&dir).arg("-o").arg(&dir).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&o.stderr, "--in-place");
    let o = depickle()
        .arg(&dir)
        .arg("-o")
        .arg(dir.join("sub"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_contains(&o.stderr, "inside the input");
    // Regression: the refused output directory used to be created (empty) before the check.
    assert!(
        !dir.join("sub").exists(),
        "a refused setup created {}",
        dir.join("sub").display()
    );
    let nested = dir.join("a").join("b").join("out");
    let o = depickle()
        .arg(&dir)
        .arg("-o")
        .arg(&nested)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !dir.join("a").exists(),
        "a refused setup created {}",
        dir.join("a").display()
    );
    // Spelled through `..` from outside, it is still recognised as inside.
    let sneaky = tmp
        .path()
        .join("elsewhere")
        .join("..")
        .join("m")
        .join("out2");
    let o = depickle()
        .arg(&dir)
        .arg("-o")
        .arg(&sneaky)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!dir.join("out2").exists());
}

fn assert_contains(out: &[u8], needle: &str) {
    let s = String::from_utf8_lossy(out);
    assert!(s.contains(needle), "{needle:?} not in {s}");
}

#[cfg(unix)]
#[test]
fn symlinks_are_not_followed_out_of_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(corpus("tree/plain4.pkl"), dir.join("a.pkl")).unwrap();
    std::fs::write(tmp.path().join("secret.pkl"), b"outside").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("secret.pkl"), dir.join("escape.pkl")).unwrap();
    let out = tmp.path().join("out");
    let a = depickle()
        .arg(&dir)
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(report["counts"]["skipped"], 1);
    assert!(!out.join("escape.pkl").exists());
}

#[test]
fn check_recurses_into_directories_and_containers() {
    let o = depickle()
        .arg("check")
        .arg(corpus("tree"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_contains(
        &o.stdout,
        "checkpoint.pt!archive/data.pkl: needs cloudpickle",
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    depickle()
        .arg(corpus("tree"))
        .arg("-o")
        .arg(&out)
        .arg("-q")
        .assert()
        .success();
    let a = depickle()
        .arg("check")
        .arg("--json")
        .arg(&out)
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert!(v.as_array().unwrap().len() >= 10);
}

/// Unmounts the small filesystem even when an assertion fails.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_fails_cleanly_and_the_rest_of_the_batch_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let small_fs = tmp.path().join("small");
    std::fs::create_dir_all(&small_fs).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&small_fs)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED disk-full test: cannot mount a 256 KiB tmpfs here (needs root)");
        return;
    }
    let _guard = Mount(small_fs.clone());
    // One converted pickle that fits, one self-contained pickle of 1 MiB that cannot.
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/samples/model.cloudpickle.pkl");
    std::fs::copy(&sample, input.join("a_model.pkl")).unwrap();
    let mut big = vec![0x80, 4, 0x8e];
    big.extend_from_slice(&(1u64 << 20).to_le_bytes());
    big.extend(std::iter::repeat_n(7u8, 1 << 20));
    big.push(b'.');
    std::fs::write(input.join("z_big.pkl"), &big).unwrap();

    let out = small_fs.join("out");
    let assert = depickle()
        .arg(&input)
        .arg("-o")
        .arg(&out)
        .arg("--jobs")
        .arg("1")
        .arg("--json")
        .assert()
        .code(3);
    let report: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let text = report.to_string();
    assert!(text.contains("No space left"), "{text}");
    // The file that fits was converted and loads; the one that did not left nothing behind.
    assert_eq!(files_under(&out), vec!["a_model.pkl".to_string()]);
    python_loads(&out.join("a_model.pkl"), "d");
}

#[cfg(unix)]
#[test]
fn fifos_and_sockets_are_listed_as_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(corpus("tree/plain4.pkl"), dir.join("a.pkl")).unwrap();
    let st = std::process::Command::new("mkfifo")
        .arg(dir.join("pipe.pkl"))
        .status()
        .unwrap();
    assert!(st.success());
    let _sock = std::os::unix::net::UnixListener::bind(dir.join("s.sock")).unwrap();
    let out = tmp.path().join("out");
    let a = depickle()
        .arg(&dir)
        .arg("-o")
        .arg(&out)
        .arg("--json")
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();
    let report: serde_json::Value = serde_json::from_slice(&a.get_output().stdout).unwrap();
    assert_eq!(report["counts"]["skipped"], 2, "{report}");
    let skip_of = |name: &str| {
        report["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == name)
            .map(|f| (f["status"].clone(), f["skip"].clone()))
    };
    assert_eq!(skip_of("pipe.pkl"), Some(("skipped".into(), "fifo".into())));
    assert_eq!(skip_of("s.sock"), Some(("skipped".into(), "socket".into())));
    assert!(!out.join("pipe.pkl").exists());
    // The text summary names them too.
    let out2 = tmp.path().join("out2");
    let a = depickle()
        .arg(&dir)
        .arg("-o")
        .arg(&out2)
        .timeout(std::time::Duration::from_secs(60))
        .assert()
        .success();
    assert_contains(&a.get_output().stderr, "pipe.pkl [fifo]");
    assert_contains(&a.get_output().stderr, "s.sock [socket]");
}

/// Compressed inputs inflate up to a limit (`--max-inflated`), with an error that names the
/// limit and the flag, for conversion and `check` alike; nothing is written.
#[test]
fn inflate_limit_is_enforced_and_named() {
    use std::io::Write as _;
    let tmp = tempfile::tempdir().unwrap();
    // A valid pickle of 8 MiB of zero bytes, gzip'd (a few KiB).
    let mut pickle = vec![0x80, 0x04, 0x8e];
    pickle.extend_from_slice(&(8u64 << 20).to_le_bytes());
    pickle.extend(std::iter::repeat_n(0u8, 8 << 20));
    pickle.push(b'.');
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&pickle).unwrap();
    let src = tmp.path().join("bomb.pkl.gz");
    std::fs::write(&src, gz.finish().unwrap()).unwrap();
    let out = tmp.path().join("out.pkl.gz");
    let o = depickle()
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .args(["--max-inflated", "1M"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("limit of 1048576 bytes") && err.contains("--max-inflated"),
        "{err}"
    );
    assert!(!out.exists());
    let o = depickle()
        .arg("check")
        .arg(&src)
        .args(["--max-inflated", "1M"])
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_ne!(o.status.code(), Some(0), "{all}");
    assert!(all.contains("--max-inflated"), "{all}");
    // Under the default limit the same file is fine (it is self-contained plain data).
    let o = depickle().arg("check").arg(&src).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

/// Regression: a corrupt xz stream printed Rust debug text (`XzError("Invalid block CRC64 ...")`)
/// and no position. Errors are plain words with the compressed byte reached.
#[test]
fn corrupt_xz_message_is_plain_and_has_an_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("m.pkl.xz");
    let st = std::process::Command::new("python3")
        .args(["-I", "-S", "-c"])
        .arg("import lzma, pickle, sys\nd = bytearray(lzma.compress(pickle.dumps(list(range(5000)), 4)))\nd[len(d) - 40] ^= 0xff\nopen(sys.argv[1], 'wb').write(d)")
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let out = tmp.path().join("o.pkl.xz");
    let o = depickle().arg(&src).arg("-o").arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        !err.contains("XzError") && !err.contains("(\""),
        "debug text in: {err}"
    );
    assert!(err.contains("compressed byte "), "no offset in: {err}");
    // One spelling for people, as in the single-file error ("not-a-pickle" is the JSON token).
    assert!(
        err.contains("not a valid pickle") && !err.contains("not-a-pickle"),
        "{err}"
    );
    assert!(!out.exists());
}

/// Regression: a converted `.xz` was not compressed (the pure-Rust encoder wrote literals only,
/// 53 MB in, 62 MB out). Output of every compressed container stays within a few percent of the
/// size the original's compressor reached, keeps xz's check type and gzip's level, and loads.
#[test]
fn compressed_outputs_stay_compressed_like_the_original() {
    let tmp = tempfile::tempdir().unwrap();
    // A pickle that needs converting (a cloudpickle `subimport` call, written with the
    // standard library through a stand-in module) around ~4 MB of compressible text.
    let script = format!(
        "{}{}",
        common::STAND_IN_CLOUDPICKLE,
        r#"
import bz2, gzip, lzma, random
rng = random.Random(7)
rows = [("row %d" % i, rng.random(), rng.choice(["a", "bb", "ccc"])) for i in range(120000)]
raw = pickle.dumps([R("os"), rows], protocol=4)
d = sys.argv[1]
open(d + "/m.pkl.xz", "wb").write(lzma.compress(raw, preset=3, check=lzma.CHECK_CRC32))
open(d + "/m.pkl.gz", "wb").write(gzip.compress(raw, compresslevel=9))
open(d + "/m.pkl.bz2", "wb").write(bz2.compress(raw, 9))
"#
    );
    let st = std::process::Command::new("python3")
        .args(["-I", "-S", "-c", &script])
        .arg(tmp.path())
        .status()
        .expect("python3");
    assert!(st.success());
    for name in ["m.pkl.xz", "m.pkl.gz", "m.pkl.bz2"] {
        let src = tmp.path().join(name);
        let dst = tmp.path().join(format!("out-{name}"));
        let o = depickle().arg(&src).arg("-o").arg(&dst).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let (a, b) = (
            std::fs::metadata(&src).unwrap().len() as f64,
            std::fs::metadata(&dst).unwrap().len() as f64,
        );
        assert!(b <= a * 1.05, "{name}: {a} bytes in, {b} bytes out");
        let how = match name {
            "m.pkl.xz" => "lzma.decompress(d)",
            "m.pkl.gz" => "gzip.decompress(d)",
            _ => "bz2.decompress(d)",
        };
        python_loads(&dst, how);
    }
    // xz keeps the original's integrity check (CRC32 here: stream flags byte 7 == 0x01).
    let out = std::fs::read(tmp.path().join("out-m.pkl.xz")).unwrap();
    assert_eq!(out[7], 0x01, "xz check type not kept");
}

/// A zip member (a torch checkpoint's `data.pkl`) inflates under the same limit as gzip/bz2/xz
/// inputs: past `--max-inflated` it is an error naming the limit, not an allocation abort.
#[test]
fn zip_member_inflation_is_capped() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("model.pt");
    let st = std::process::Command::new("python3")
        .args(["-I", "-S", "-c"])
        .arg("import pickle, sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED)\nz.writestr('archive/data.pkl', pickle.dumps(bytes(8 << 20), 4))\nz.close()")
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let out = tmp.path().join("out.pt");
    let o = depickle()
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .args(["--max-inflated", "1M"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("limit of 1048576 bytes") && err.contains("--max-inflated"),
        "{err}"
    );
    assert!(!out.exists());
}
