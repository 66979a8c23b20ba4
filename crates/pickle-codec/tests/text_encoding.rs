//! Text arguments are decoded the way CPython 3's unpickler decodes them: `BINUNICODE`-family
//! payloads as UTF-8 with `surrogatepass`, `UNICODE` lines as `raw-unicode-escape`, `GLOBAL`
//! lines as strict UTF-8 and `INST` lines as ASCII. What CPython refuses with
//! `UnicodeDecodeError` the reader refuses with `CodecError::BadText` at the opcode's offset.
//!
//! Every case below was checked with CPython 3.6–3.13 (C `pickle.loads` and the pure-Python
//! `pickle._Unpickler` agree); `agrees_with_cpython` re-checks them with the `python3` it finds.

use pickle_codec::{CodecError, Reader, TextEncoding, TextFault};

fn read_all(data: &[u8]) -> Result<(), CodecError> {
    let mut r = Reader::new(data);
    while r.next_op()?.is_some() {}
    Ok(())
}

/// (name, pickle, `None` if CPython decodes the text, else (encoding, position, fault)).
type Case = (
    &'static str,
    &'static [u8],
    Option<(TextEncoding, usize, TextFault)>,
);

const SP: TextEncoding = TextEncoding::Utf8Surrogatepass;

fn cases() -> Vec<Case> {
    use TextFault::*;
    vec![
        (
            "binunicode_ff",
            b"X\x01\x00\x00\x00\xff.",
            Some((SP, 0, InvalidByte(0xff))),
        ),
        (
            "short_binunicode_ff",
            b"\x8c\x02a\xff.",
            Some((SP, 1, InvalidByte(0xff))),
        ),
        (
            "binunicode8_ff",
            b"\x8d\x01\x00\x00\x00\x00\x00\x00\x00\xff.",
            Some((SP, 0, InvalidByte(0xff))),
        ),
        (
            "overlong_nul",
            b"\x8c\x02\xc0\x80.",
            Some((SP, 0, InvalidByte(0xc0))),
        ),
        (
            "cut_sequence",
            b"\x8c\x02\xe2\x82.",
            Some((SP, 0, UnexpectedEnd)),
        ),
        (
            "above_10ffff",
            b"\x8c\x04\xf4\x90\x80\x80.",
            Some((SP, 0, InvalidByte(0xf4))),
        ),
        // surrogatepass: encoded surrogates are accepted.
        ("high_surrogate", b"\x8c\x03\xed\xa0\x80.", None),
        ("low_surrogate", b"\x8c\x05a\xed\xbf\xbfb.", None),
        ("plain_utf8", b"\x8c\x02\xc3\xa9.", None),
        // UNICODE: bytes are Latin-1; only malformed escapes fail.
        ("unicode_latin1", b"V\xff\xfe\n.", None),
        ("unicode_surrogate_escape", b"V\\ud800\n.", None),
        ("unicode_even_backslashes", b"V\\\\u12\n.", None),
        (
            "unicode_truncated_escape",
            b"Vab\\u12\n.",
            Some((TextEncoding::RawUnicodeEscape, 2, TruncatedEscape)),
        ),
        (
            "unicode_non_hex_escape",
            b"V\\u12zz\n.",
            Some((TextEncoding::RawUnicodeEscape, 0, TruncatedEscape)),
        ),
        (
            "unicode_escape_out_of_range",
            b"V\\U00110000\n.",
            Some((
                TextEncoding::RawUnicodeEscape,
                0,
                EscapeOutOfRange(0x110000),
            )),
        ),
        // GLOBAL: strict UTF-8, so not even surrogates.
        (
            "global_module_ff",
            b"cbuiltins\xff\nlen\n.",
            Some((TextEncoding::Utf8, 8, InvalidByte(0xff))),
        ),
        (
            "global_name_ff",
            b"cbuiltins\nle\xff\n.",
            Some((TextEncoding::Utf8, 2, InvalidByte(0xff))),
        ),
        (
            "global_surrogate",
            b"cbuiltins\nl\xed\xa0\x80\n.",
            Some((TextEncoding::Utf8, 1, InvalidByte(0xed))),
        ),
        // INST: ASCII.
        (
            "inst_module_utf8",
            b"(i\xc3\xa9mod\nlist\n.",
            Some((TextEncoding::Ascii, 0, InvalidByte(0xc3))),
        ),
        (
            "inst_name_ff",
            b"(ibuiltins\nli\xffst\n.",
            Some((TextEncoding::Ascii, 2, InvalidByte(0xff))),
        ),
    ]
}

#[test]
fn text_arguments_are_checked_like_cpython() {
    for (name, data, expected) in cases() {
        let got = read_all(data);
        match expected {
            None => assert_eq!(got, Ok(()), "{name}"),
            Some((encoding, position, reason)) => {
                let e = got.expect_err(name);
                let offset = if data[0] == b'(' { 1 } else { 0 };
                match &e {
                    CodecError::BadText {
                        offset: o,
                        encoding: en,
                        position: p,
                        reason: r,
                        ..
                    } => assert_eq!(
                        (*o, *en, *p, *r),
                        (offset, encoding, position, reason),
                        "{name}: {e}"
                    ),
                    other => panic!("{name}: expected BadText, got {other}"),
                }
                assert_eq!(e.offset(), offset);
                assert!(
                    e.to_string().starts_with(&format!("byte {offset}: ")),
                    "{e}"
                );
            }
        }
    }
}

#[test]
fn message_names_opcode_encoding_and_position() {
    let e =
        read_all(b"\x80\x04\x95\x07\x00\x00\x00\x00\x00\x00\x00\x8c\x03a\xffb\x94.").unwrap_err();
    assert_eq!(
        e.to_string(),
        "byte 11: SHORT_BINUNICODE argument is not valid UTF-8 (surrogatepass): \
         invalid byte 0xff at position 1 of the argument"
    );
}

/// Re-checks the expectations above with the `python3` on PATH: CPython must refuse exactly the
/// cases the reader refuses, with `UnicodeDecodeError`.
#[test]
fn agrees_with_cpython() {
    let ok = std::process::Command::new("python3")
        .arg("-c")
        .arg("pass")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        assert!(std::env::var("CI").is_err(), "python3 is needed in CI");
        eprintln!("python3 not found: skipped");
        return;
    }
    let script = r#"
import pickle, sys
for line in sys.stdin.read().split():
    data = bytes.fromhex(line)
    try:
        pickle.loads(data)
        print("ok")
    except UnicodeDecodeError:
        print("unicode")
    except Exception as e:
        print("other")
"#;
    let input: String = cases()
        .iter()
        .map(|(_, d, _)| d.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
        .collect();
    let mut child = std::process::Command::new("python3")
        .args(["-I", "-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let verdicts: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(verdicts.len(), cases().len());
    for ((name, _, expected), verdict) in cases().iter().zip(&verdicts) {
        if expected.is_some() {
            assert_eq!(verdict, "unicode", "{name}: CPython should refuse it");
        } else {
            // Decoded by CPython; the pickle may still fail later (e.g. an unknown global).
            assert_ne!(verdict, "unicode", "{name}: CPython refuses it");
        }
    }
}
