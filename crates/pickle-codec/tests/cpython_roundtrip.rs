//! Differential test against CPython.
//!
//! `gen_plain_pickles.py` writes plain stdlib pickles (C and pure-Python picklers, protocols
//! 0–5, and Python 2.7's for the `S`/`T`/`U`/`L`/`INST` opcodes when pyenv has a 2.7) together
//! with what `pickletools.genops` sees in them. For each pickle this test
//!
//! * reads it with [`Reader`] and checks offsets, opcode names and the decoded values of integer,
//!   float, `STRING` and `UNICODE` ops against `genops`;
//! * re-writes every op with [`Writer`] at the same protocol and reads the result back;
//! * for protocols 0–3 requires the output to equal the input byte for byte;
//! * for protocols 4–5 hands original and re-written pickle to `check_rewritten.py`, which loads
//!   both and compares them, runs `pickletools.dis`, and checks the framing rules.
//!
//! If `python3` is missing the test is skipped with a loud message; likewise the Python 2 part.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use pickle_codec::text::{self, IntValue};
use pickle_codec::{Op, Reader, Writer};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

fn works(python: &Path) -> bool {
    Command::new(python)
        .arg("-c")
        .arg("import pickle")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn python3() -> Option<PathBuf> {
    let p = PathBuf::from("python3");
    works(&p).then_some(p)
}

/// A Python 2.7 interpreter from pyenv, if there is one.
fn python27() -> Option<PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| {
            let out = Command::new("pyenv").arg("root").output().ok()?;
            out.status
                .success()
                .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        })
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))?;
    let mut versions: Vec<_> = std::fs::read_dir(root.join("versions"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("2.7"))
        })
        .collect();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|v| v.join("bin").join("python2.7"))
        .find(|p| works(p))
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// What `gen_plain_pickles.py` writes as the argument of `op` (see its header).
fn describe(op: &Op<'_>) -> String {
    match *op {
        Op::Int(line) => match text::bool_from_int_line(line) {
            Some(b) => format!("bool:{}", u8::from(b)),
            None => IntValue::parse_decimal_line(line).unwrap().to_decimal(),
        },
        Op::Long(line) => IntValue::parse_decimal_line(line).unwrap().to_decimal(),
        Op::BinInt(v) => v.to_string(),
        Op::BinInt1(v) => v.to_string(),
        Op::BinInt2(v) => v.to_string(),
        Op::Long1(b) | Op::Long4(b) => IntValue::from_le_bytes(b).to_decimal(),
        Op::Float(line) => describe_float(text::parse_float_line(line).unwrap()),
        Op::BinFloat(v) => describe_float(v),
        Op::String(line) => format!("b:{}", hex(&text::unquote_string_line(line).unwrap())),
        Op::Unicode(line) if line.len() <= 100_000 => {
            let utf8 = text::raw_unicode_escape_to_surrogatepass(line).unwrap();
            if let Some(s) = text::decode_raw_unicode_escape(line) {
                assert_eq!(s.as_bytes(), &utf8[..]);
            }
            format!("u:{}", hex(&utf8))
        }
        _ => "-".into(),
    }
}

fn describe_float(v: f64) -> String {
    if v.is_nan() {
        "f:nan".into()
    } else {
        format!("f:{}", hex(&v.to_be_bytes()))
    }
}

struct Stats {
    pickles: usize,
    by_protocol: [usize; 6],
    py2: usize,
}

/// Reads, checks and re-writes one pickle; returns the re-written bytes.
fn roundtrip(path: &Path, proto: u8) -> Vec<u8> {
    let data = std::fs::read(path).unwrap();
    let mut reader = Reader::new(&data);
    let ops: Vec<(usize, Op<'_>)> = reader
        .by_ref()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        reader.position(),
        data.len(),
        "{}: STOP is not at the end",
        path.display()
    );
    assert!(matches!(ops.last(), Some((_, Op::Stop))));
    if proto >= 2 {
        assert_eq!(reader.protocol(), proto, "{}", path.display());
    }

    // Compare with pickletools.genops.
    let listing = std::fs::read_to_string(path.with_extension("ops")).unwrap();
    let expected: Vec<&str> = listing.lines().collect();
    assert_eq!(ops.len(), expected.len(), "{}: op count", path.display());
    for ((pos, op), line) in ops.iter().zip(&expected) {
        let mut fields = line.split('\t');
        let (Some(p), Some(name), Some(arg)) = (fields.next(), fields.next(), fields.next()) else {
            panic!("bad listing line {line:?}");
        };
        let what = format!("{} at {pos}", path.display());
        assert_eq!(p.parse::<usize>().unwrap(), *pos, "{what}");
        assert_eq!(op.name(), name, "{what}");
        assert_eq!(describe(op), arg, "{what}: {name} argument");
    }

    // Re-write at the same protocol.
    let mut w = Writer::new(Vec::new(), proto).unwrap();
    for (_, op) in &ops {
        w.op(op)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let out = w.finish().unwrap();

    // Reading the output back gives the same ops, apart from PROTO and FRAME.
    let strip = |v: Vec<Op<'_>>| -> Vec<String> {
        v.into_iter()
            .filter(|op| !matches!(op, Op::Proto(_) | Op::Frame(_)))
            .map(|op| format!("{op:?}"))
            .collect()
    };
    let again: Vec<Op<'_>> = Reader::new(&out).map(|r| r.unwrap().1).collect();
    let orig: Vec<Op<'_>> = ops.iter().map(|(_, op)| *op).collect();
    assert!(
        strip(again) == strip(orig),
        "{}: re-read ops differ",
        path.display()
    );

    if proto <= 3 {
        if let Some(i) = out.iter().zip(&data).position(|(a, b)| a != b) {
            panic!("{}: re-written bytes differ at offset {i}", path.display());
        }
        assert_eq!(
            out.len(),
            data.len(),
            "{}: re-written length",
            path.display()
        );
    }
    out
}

#[test]
fn cpython_roundtrip() {
    let Some(py3) = python3() else {
        eprintln!("SKIPPED cpython_roundtrip: no working `python3` on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let gen = tests_dir().join("gen_plain_pickles.py");
    eprint!("{}", run(Command::new(&py3).arg(&gen).arg(dir.path())));
    match python27() {
        Some(py2) => eprint!("{}", run(Command::new(&py2).arg(&gen).arg(dir.path()))),
        None => eprintln!(
            "WARNING: no Python 2.7 under pyenv; Python 2 opcodes (STRING, BINSTRING, \
             SHORT_BINSTRING, LONG text, INST) are NOT covered by this run"
        ),
    }

    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pkl"))
        .collect();
    paths.sort();

    let mut stats = Stats {
        pickles: 0,
        by_protocol: [0; 6],
        py2: 0,
    };
    let mut manifest = String::new();
    let out_dir = dir.path().join("rewritten");
    std::fs::create_dir(&out_dir).unwrap();
    for path in &paths {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let proto: u8 = stem.rsplit("-p").next().unwrap().parse().unwrap();
        let out = roundtrip(path, proto);
        stats.pickles += 1;
        stats.by_protocol[usize::from(proto)] += 1;
        stats.py2 += usize::from(stem.starts_with("py2"));
        if proto >= 4 {
            let new_path = out_dir.join(path.file_name().unwrap());
            std::fs::write(&new_path, &out).unwrap();
            let _ = writeln!(
                manifest,
                "{}\t{}\t{proto}",
                path.display(),
                new_path.display()
            );
        }
    }
    assert!(
        stats.pickles >= 100,
        "only {} pickles generated",
        stats.pickles
    );
    assert!(
        stats.by_protocol.iter().all(|&n| n > 0),
        "{:?}",
        stats.by_protocol
    );

    let manifest_path = dir.path().join("manifest.tsv");
    std::fs::write(&manifest_path, manifest).unwrap();
    let report = run(Command::new(&py3)
        .args(["-I", "-S"])
        .arg(tests_dir().join("check_rewritten.py"))
        .arg(&manifest_path));
    eprint!("{report}");
    eprintln!(
        "checked {} pickles ({} from Python 2), per protocol {:?}",
        stats.pickles, stats.py2, stats.by_protocol
    );
}

/// The frame checker used above must itself catch bad framing.
#[test]
fn frame_checker_selftest() {
    let Some(py3) = python3() else {
        eprintln!("SKIPPED frame_checker_selftest: no working `python3` on PATH");
        return;
    };
    run(Command::new(&py3)
        .args(["-I", "-S"])
        .arg(tests_dir().join("check_rewritten.py"))
        .arg("--selftest"));
}

/// What the convenience writers produce loads in CPython as the intended values, at every
/// protocol.
#[test]
fn convenience_writers_load_in_cpython() {
    let Some(py3) = python3() else {
        eprintln!("SKIPPED convenience_writers_load_in_cpython: no working `python3` on PATH");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let big = IntValue::parse_decimal_line(b"-123456789012345678901234567890").unwrap();
    let mut neg_2_200 = vec![0u8; 25];
    neg_2_200.push(0xff);
    for proto in 0..=5u8 {
        let mut w = Writer::new(Vec::new(), proto).unwrap();
        w.mark().unwrap();
        for v in [
            0,
            1,
            -1,
            255,
            256,
            65535,
            65536,
            i64::from(i32::MAX),
            1 << 31,
            i64::from(i32::MIN),
            i64::from(i32::MIN) - 1,
            i64::MAX,
            i64::MIN,
        ] {
            w.int_i64(v).unwrap();
        }
        w.int_le_bytes(&[0, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap();
        w.int_le_bytes(&neg_2_200).unwrap();
        w.int_le_bytes(&big.to_le_bytes()).unwrap();
        w.bool(true).unwrap();
        w.bool(false).unwrap();
        w.none().unwrap();
        for f in [1e300, -0.0, 0.1, f64::INFINITY, f64::NAN, 5e-324] {
            w.float(f).unwrap();
        }
        w.str("a\\b\nc\r\0\x1a\u{e9}\u{1234}\u{1f600} \\u0041")
            .unwrap();
        w.str(&"x".repeat(300)).unwrap();
        w.str_utf8_surrogatepass(b"\xed\xa0\x80z").unwrap();
        w.global("collections", "OrderedDict").unwrap();
        w.mark().unwrap();
        w.op(&Op::Tuple).unwrap();
        w.op(&Op::Reduce).unwrap();
        // a shared list: [l, l]
        w.mark().unwrap();
        w.op(&Op::List).unwrap();
        let idx = w.memoize().unwrap();
        w.get(idx).unwrap();
        if proto >= 3 {
            w.bytes(b"\x00\xff").unwrap();
        }
        if proto >= 5 {
            w.bytearray(b"ba").unwrap();
        }
        w.op(&Op::List).unwrap();
        w.stop().unwrap();
        let out = w.finish().unwrap();
        std::fs::write(dir.path().join(format!("p{proto}.pkl")), out).unwrap();
    }
    let script = r#"
import collections, pickle, sys
d = sys.argv[1]
for proto in range(6):
    with open("%s/p%d.pkl" % (d, proto), "rb") as f:
        data = f.read()
    for loads in (pickle.loads, pickle._loads):
        got = loads(data)
        shared = []
        want = [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, 2**31, -2**31, -2**31 - 1,
                2**63 - 1, -2**63, 2**64, -(2**200), -123456789012345678901234567890,
                True, False, None, 1e300, -0.0, 0.1, float("inf"), float("nan"), 5e-324,
                "a\\b\nc\r\x00\x1a\xe9\u1234\U0001f600 \\u0041", "x" * 300, "\ud800z",
                collections.OrderedDict(), shared, shared]
        if proto >= 3:
            want.append(b"\x00\xff")
        if proto >= 5:
            want.append(bytearray(b"ba"))
        assert repr(got) == repr(want), (proto, got)
        assert [type(x) for x in got] == [type(x) for x in want], proto
        assert got[-1 - (proto >= 3) - (proto >= 5)] is got[-2 - (proto >= 3) - (proto >= 5)], proto
print("convenience writers ok")
"#;
    let out = run(Command::new(&py3)
        .args(["-I", "-S", "-c", script])
        .arg(dir.path()));
    assert!(out.contains("convenience writers ok"), "{out}");
}
