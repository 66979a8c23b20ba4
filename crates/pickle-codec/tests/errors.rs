//! The reader on broken input: it must return an error with the right offset, never panic,
//! never allocate for a hostile length.

use pickle_codec::{opcode_name, CodecError, Op, Reader, Writer, FRAME_SIZE_TARGET};

/// Reads to the end; `Ok(n)` is the number of ops up to STOP.
fn read_all(data: &[u8]) -> Result<usize, CodecError> {
    let mut r = Reader::new(data);
    let mut n = 0;
    while let Some((pos, _)) = r.next_op()? {
        assert!(pos < data.len());
        n += 1;
    }
    Ok(n)
}

/// A few valid pickles covering every argument kind, framed and not.
fn samples() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![
        // protocol 0 text ops, INST, PERSID, Python 2 STRING
        b"(lp0\nI01\naL123L\naF1.5\naS'a\\'b'\naVx\\u1234\np1\nag1\nacmod\nname\n(imod\nCls\nPpid\n0.".to_vec(),
        // protocol 1/2 binary ops
        b"\x80\x02]q\x00(K\x01M\x02\x01J\xff\xff\xff\xff\x8a\x02\xff\x00\x8b\x01\x00\x00\x00\x80G?\xf8\x00\x00\x00\x00\x00\x00T\x02\x00\x00\x00hiU\x01!X\x01\x00\x00\x00ah\x00j\x00\x00\x00\x00r\x01\x00\x00\x00\x82\x01\x83\x02\x01\x84\x01\x00\x00\x00e.".to_vec(),
    ];
    for proto in [3u8, 4, 5] {
        let mut w = Writer::new(Vec::new(), proto).unwrap();
        w.op(&Op::EmptyDict).unwrap();
        w.memoize().unwrap();
        w.mark().unwrap();
        w.str("key").unwrap();
        w.bytes(b"value").unwrap();
        w.int_le_bytes(&[0, 0, 0, 0, 0, 0, 0, 0, 1]).unwrap();
        w.float(-0.5).unwrap();
        w.global("collections", "OrderedDict").unwrap();
        w.op(&Op::EmptyTuple).unwrap();
        w.op(&Op::Reduce).unwrap();
        if proto >= 4 {
            w.op(&Op::BinUnicode8(b"u8")).unwrap();
            w.op(&Op::BinBytes8(b"b8")).unwrap();
            w.op(&Op::EmptySet).unwrap();
            w.op(&Op::FrozenSet).unwrap();
        }
        if proto >= 5 {
            w.bytearray(b"ba").unwrap();
            w.op(&Op::NextBuffer).unwrap();
            w.op(&Op::ReadonlyBuffer).unwrap();
        }
        w.op(&Op::SetItems).unwrap();
        w.stop().unwrap();
        v.push(w.finish().unwrap());
    }
    v
}

#[test]
fn samples_are_valid() {
    for s in samples() {
        assert!(read_all(&s).is_ok(), "{s:?}");
    }
}

#[test]
fn truncation_at_every_position_is_an_error() {
    for s in samples() {
        for cut in 0..s.len() {
            let prefix = &s[..cut];
            match read_all(prefix) {
                Ok(_) => panic!("prefix of {cut} bytes read without error: {prefix:?}"),
                Err(e) => {
                    assert!(
                        matches!(
                            e,
                            CodecError::Truncated { .. }
                                | CodecError::MissingStop { .. }
                                | CodecError::BadLine { .. }
                                | CodecError::FrameOverrun { .. }
                        ),
                        "cut {cut}: unexpected {e}"
                    );
                    assert!(e.offset() <= cut, "cut {cut}: offset of {e}");
                    if let CodecError::MissingStop { offset } = e {
                        assert_eq!(offset, cut);
                    }
                }
            }
        }
    }
}

#[test]
fn every_single_byte_corruption_is_handled() {
    // Not a correctness check of the result, only that nothing panics or loops.
    for s in samples() {
        for i in 0..s.len() {
            for b in 0..=255u8 {
                let mut c = s.clone();
                c[i] = b;
                let _ = read_all(&c);
            }
        }
    }
}

#[test]
fn hostile_lengths() {
    let mut cases: Vec<(Vec<u8>, &str, u64, u64)> = Vec::new();
    for (code, name) in [
        (0x8eu8, "BINBYTES8"),
        (0x8d, "BINUNICODE8"),
        (0x96, "BYTEARRAY8"),
    ] {
        for len in [1u64 << 63, u64::MAX, 1 << 40, 100] {
            let mut d = vec![0x80, 5, code];
            d.extend_from_slice(&len.to_le_bytes());
            d.extend_from_slice(b"abc.");
            cases.push((d, name, len, 4));
        }
    }
    for (code, name) in [(b'B', "BINBYTES"), (b'X', "BINUNICODE")] {
        let mut d = vec![code];
        d.extend_from_slice(&u32::MAX.to_le_bytes());
        d.extend_from_slice(b"ab.");
        cases.push((d, name, u64::from(u32::MAX), 3));
    }
    for (code, name) in [(0x8bu8, "LONG4"), (b'T', "BINSTRING")] {
        let mut d = vec![code];
        d.extend_from_slice(&i32::MAX.to_le_bytes());
        d.push(b'.');
        cases.push((d, name, i32::MAX as u64, 1));
    }
    cases.push((b"C\xff.".to_vec(), "SHORT_BINBYTES", 255, 1));
    cases.push((b"\x8a\x05\x01.".to_vec(), "LONG1", 5, 2));
    for (data, opcode, needed, available) in cases {
        let off = if data[0] == 0x80 { 2 } else { 0 };
        assert_eq!(
            read_all(&data),
            Err(CodecError::Truncated {
                offset: off,
                opcode,
                needed,
                available
            }),
            "{data:?}"
        );
    }
    // A FRAME that claims 2^63 bytes.
    let mut d = vec![0x80, 4, 0x95];
    d.extend_from_slice(&(1u64 << 63).to_le_bytes());
    d.extend_from_slice(b"N.");
    assert_eq!(
        read_all(&d),
        Err(CodecError::FrameOverrun {
            offset: 2,
            len: 1 << 63,
            available: 2
        })
    );
    let e = read_all(&d).unwrap_err().to_string();
    assert_eq!(
        e,
        "byte 2: FRAME of 9223372036854775808 bytes overruns the input (2 bytes remain)"
    );
}

#[test]
fn negative_lengths() {
    for (code, name) in [(0x8bu8, "LONG4"), (b'T', "BINSTRING")] {
        let mut d = vec![b'N', code];
        d.extend_from_slice(&(-5i32).to_le_bytes());
        d.extend_from_slice(b"abcdef.");
        assert_eq!(
            read_all(&d),
            Err(CodecError::NegativeLength {
                offset: 1,
                opcode: name
            })
        );
    }
}

#[test]
fn unknown_opcodes() {
    let mut unknown = 0;
    for b in 0..=255u8 {
        if opcode_name(b).is_some() {
            continue;
        }
        unknown += 1;
        let data = [b'N', b'N', b, b'.'];
        assert_eq!(
            read_all(&data),
            Err(CodecError::UnknownOpcode { offset: 2, byte: b })
        );
    }
    assert_eq!(unknown, 256 - 68, "protocols 0-5 define 68 opcodes");
}

#[test]
fn missing_stop() {
    assert_eq!(read_all(b""), Err(CodecError::MissingStop { offset: 0 }));
    assert_eq!(read_all(b"(]"), Err(CodecError::MissingStop { offset: 2 }));
    assert_eq!(
        read_all(b"\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00N"),
        Err(CodecError::MissingStop { offset: 12 })
    );
    let mut r = Reader::at(b"K\x01.N", 3);
    assert_eq!(r.next_op(), Ok(Some((3, Op::None))));
    assert_eq!(r.next_op(), Err(CodecError::MissingStop { offset: 4 }));
}

#[test]
fn bad_lines() {
    let cases: &[(&[u8], &str)] = &[
        (b"I12", "INT"),
        (b"I1x\n.", "INT"),
        (b"L\n.", "LONG"),
        (b"F1.2.3\n.", "FLOAT"),
        (b"S'abc\"\n.", "STRING"),
        (b"Sabc\n.", "STRING"),
        (b"S'\\x4'\n.", "STRING"),
        (b"g\n.", "GET"),
        (b"p1.5\n.", "PUT"),
        (b"p99999999999999999999\n.", "PUT"),
        (b"cmod\n", "GLOBAL"),
        (b"imod", "INST"),
        (b"Ppid", "PERSID"),
        (b"V", "UNICODE"),
    ];
    for &(data, opcode) in cases {
        match read_all(data) {
            Err(CodecError::BadLine {
                offset: 0,
                opcode: o,
                reason,
            }) => {
                assert_eq!(o, opcode, "{data:?}");
                assert!(!reason.is_empty());
            }
            other => panic!("{data:?}: {other:?}"),
        }
    }
}

#[test]
fn protocol_checks() {
    assert_eq!(
        read_all(b"\x80\xffN."),
        Err(CodecError::UnsupportedProtocol {
            offset: 0,
            version: 255
        })
    );
    assert_eq!(read_all(b"\x80\x05N."), Ok(3));
    assert_eq!(
        read_all(b"\x80").unwrap_err().to_string(),
        "byte 0: truncated PROTO: needs 1 bytes, 0 remain"
    );
}

#[test]
fn large_payloads_are_borrowed_not_copied() {
    let payload = vec![7u8; FRAME_SIZE_TARGET * 3];
    let mut w = Writer::new(Vec::new(), 4).unwrap();
    w.bytes(&payload).unwrap();
    w.stop().unwrap();
    let out = w.finish().unwrap();
    let mut r = Reader::new(&out);
    assert_eq!(r.next_op().unwrap(), Some((0, Op::Proto(4))));
    let Some((2, Op::BinBytes(p))) = r.next_op().unwrap() else {
        panic!()
    };
    assert_eq!(p.len(), payload.len());
    // the payload is a subslice of the input
    let range = out.as_ptr_range();
    assert!(range.contains(&p.as_ptr()));
}
