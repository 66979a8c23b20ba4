//! Property tests: the reader never panics on random input, and any sequence of valid ops
//! written by the Writer reads back as the same ops, with CPython-style framing.

use pickle_codec::{CodecError, Op, Reader, Writer, FRAME_SIZE_TARGET};
use proptest::prelude::*;

/// Ops without an argument.
const SIMPLE: &[Op<'static>] = &[
    Op::Mark,
    Op::Pop,
    Op::PopMark,
    Op::Dup,
    Op::Memoize,
    Op::None,
    Op::NewTrue,
    Op::NewFalse,
    Op::NextBuffer,
    Op::ReadonlyBuffer,
    Op::EmptyTuple,
    Op::Tuple,
    Op::Tuple1,
    Op::Tuple2,
    Op::Tuple3,
    Op::EmptyList,
    Op::List,
    Op::Append,
    Op::Appends,
    Op::EmptyDict,
    Op::Dict,
    Op::SetItem,
    Op::SetItems,
    Op::EmptySet,
    Op::AddItems,
    Op::FrozenSet,
    Op::StackGlobal,
    Op::Reduce,
    Op::Build,
    Op::Obj,
    Op::NewObj,
    Op::NewObjEx,
    Op::BinPersId,
];

/// An op with owned arguments.
#[derive(Debug, Clone)]
enum Owned {
    Simple(Op<'static>),
    Num(u8, u64),
    BinFloat(f64),
    /// Text-line ops (`I`, `L`, `F`, `S`, `V`, `P`) with their line.
    Line(u8, Vec<u8>),
    /// Length-prefixed payload ops.
    Payload(u8, Vec<u8>),
    Global(bool, Vec<u8>, Vec<u8>),
}

impl Owned {
    fn op(&self) -> Op<'_> {
        match self {
            Owned::Simple(op) => *op,
            &Owned::Num(c, n) => match c {
                b'g' => Op::Get(n),
                b'p' => Op::Put(n),
                b'h' => Op::BinGet(n as u8),
                b'q' => Op::BinPut(n as u8),
                b'j' => Op::LongBinGet(n as u32),
                b'r' => Op::LongBinPut(n as u32),
                b'J' => Op::BinInt(n as i32),
                b'K' => Op::BinInt1(n as u8),
                b'M' => Op::BinInt2(n as u16),
                0x82 => Op::Ext1(n as u8),
                0x83 => Op::Ext2(n as u16),
                _ => Op::Ext4(n as i32),
            },
            Owned::BinFloat(f) => Op::BinFloat(*f),
            Owned::Line(c, l) => match c {
                b'I' => Op::Int(l),
                b'L' => Op::Long(l),
                b'F' => Op::Float(l),
                b'S' => Op::String(l),
                b'V' => Op::Unicode(l),
                _ => Op::PersId(l),
            },
            Owned::Payload(c, p) => match c {
                0x8a => Op::Long1(p),
                0x8b => Op::Long4(p),
                b'T' => Op::BinString(p),
                b'U' => Op::ShortBinString(p),
                b'X' => Op::BinUnicode(p),
                0x8c => Op::ShortBinUnicode(p),
                0x8d => Op::BinUnicode8(p),
                b'B' => Op::BinBytes(p),
                b'C' => Op::ShortBinBytes(p),
                0x8e => Op::BinBytes8(p),
                _ => Op::ByteArray8(p),
            },
            Owned::Global(inst, m, n) => {
                if *inst {
                    Op::Inst { module: m, name: n }
                } else {
                    Op::Global { module: m, name: n }
                }
            }
        }
    }
}

/// Payloads: mostly small, some medium (to fill frames), a few of 64 KiB or more.
fn payload(max_small: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        10 => proptest::collection::vec(any::<u8>(), 0..max_small.min(40)),
        8 => (200usize..8000, any::<u8>()).prop_map(move |(n, b)| vec![b; n.min(max_small)]),
        1 => (FRAME_SIZE_TARGET - 10..FRAME_SIZE_TARGET + 4000, any::<u8>())
            .prop_map(move |(n, b)| vec![b; n.min(max_small)]),
    ]
}

fn line_bytes() -> impl Strategy<Value = Vec<u8>> {
    payload(usize::MAX).prop_map(|mut v| {
        for b in &mut v {
            if *b == b'\n' {
                *b = b' ';
            }
        }
        v
    })
}

/// Non-ASCII bytes become `?` (not masked, which could make a newline).
fn ascii(b: u8) -> u8 {
    if b.is_ascii() {
        b
    } else {
        b'?'
    }
}

fn without_backslash(mut v: Vec<u8>) -> Vec<u8> {
    v.iter_mut()
        .filter(|b| **b == b'\\')
        .for_each(|b| *b = b'/');
    v
}

/// `str` payloads must be UTF-8 (the reader refuses what CPython refuses): ASCII is.
fn text_safe(code: u8, mut p: Vec<u8>) -> Vec<u8> {
    if matches!(code, b'X' | 0x8c | 0x8d) {
        p.iter_mut().for_each(|b| *b = ascii(*b));
    }
    p
}

fn owned_op() -> impl Strategy<Value = Owned> {
    let num = prop_oneof![
        (prop::sample::select(vec![b'g', b'p']), any::<u64>()).prop_map(|(c, n)| Owned::Num(c, n)),
        (
            prop::sample::select(vec![
                b'h', b'q', b'j', b'r', b'J', b'K', b'M', 0x82, 0x83, 0x84
            ]),
            any::<u64>()
        )
            .prop_map(|(c, n)| Owned::Num(c, n)),
    ];
    let int_line = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        "-?[0-9]{1,60}L?".prop_map(String::into_bytes),
        Just(b"01".to_vec()),
    ];
    let float_line = prop_oneof![
        any::<f64>().prop_map(|f| format!("{f:?}").into_bytes()),
        Just(b"inf".to_vec()),
        Just(b"nan".to_vec()),
    ];
    let string_line = line_bytes().prop_map(|v| {
        let mut l = b"'".to_vec();
        for b in v {
            l.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        }
        l.push(b'\'');
        l
    });
    let lines = prop_oneof![
        int_line.clone().prop_map(|l| Owned::Line(b'I', l)),
        int_line.prop_map(|l| Owned::Line(b'L', l)),
        float_line.prop_map(|l| Owned::Line(b'F', l)),
        string_line.prop_map(|l| Owned::Line(b'S', l)),
        // Backslashes could form malformed raw-unicode-escape escapes, which the reader refuses.
        line_bytes().prop_map(|l| Owned::Line(b'V', without_backslash(l))),
        line_bytes().prop_map(|l| Owned::Line(b'P', l)),
    ];
    let short = (
        prop::sample::select(vec![0x8au8, b'U', 0x8c, b'C']),
        payload(255),
    )
        .prop_map(|(c, p)| Owned::Payload(c, text_safe(c, p)));
    let long = (
        prop::sample::select(vec![0x8bu8, b'T', b'X', 0x8d, b'B', 0x8e, 0x96]),
        payload(usize::MAX),
    )
        .prop_map(|(c, p)| Owned::Payload(c, text_safe(c, p)));
    let global = (any::<bool>(), line_bytes(), line_bytes()).prop_map(|(i, m, n)| {
        Owned::Global(
            i,
            m.into_iter().take(50).map(ascii).collect(),
            n.into_iter().take(50).map(ascii).collect(),
        )
    });
    prop_oneof![
        6 => prop::sample::select(SIMPLE.to_vec()).prop_map(Owned::Simple),
        3 => num,
        1 => any::<f64>().prop_map(Owned::BinFloat),
        2 => lines,
        3 => short,
        3 => long,
        1 => global,
    ]
}

fn same(a: &Op<'_>, b: &Op<'_>) -> bool {
    match (a, b) {
        (Op::BinFloat(x), Op::BinFloat(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// The payload of an op, for the "large ops sit outside frames" rule.
fn payload_of<'a>(op: &Op<'a>) -> &'a [u8] {
    match *op {
        Op::Int(p)
        | Op::Long(p)
        | Op::Float(p)
        | Op::String(p)
        | Op::Unicode(p)
        | Op::PersId(p) => p,
        Op::Long1(p) | Op::Long4(p) | Op::BinString(p) | Op::ShortBinString(p) => p,
        Op::BinUnicode(p) | Op::ShortBinUnicode(p) | Op::BinUnicode8(p) => p,
        Op::BinBytes(p) | Op::ShortBinBytes(p) | Op::BinBytes8(p) | Op::ByteArray8(p) => p,
        _ => &[],
    }
}

/// Checks the framing rules of protocol 4+ output (see `check_rewritten.py` for the list).
fn check_framing(out: &[u8]) -> Result<(), String> {
    let ops: Vec<(usize, Op<'_>)> = Reader::new(out)
        .collect::<Result<_, CodecError>>()
        .map_err(|e| e.to_string())?;
    let spans: Vec<(usize, usize, Op<'_>)> = ops
        .iter()
        .enumerate()
        .map(|(i, &(pos, op))| (pos, ops.get(i + 1).map_or(out.len(), |n| n.0), op))
        .collect();
    let large = |op: &Op<'_>| payload_of(op).len() >= FRAME_SIZE_TARGET;
    let mut i = 0;
    while i < spans.len() {
        let (pos, end, op) = spans[i];
        if let Op::Frame(len) = op {
            let frame_end = end + len as usize;
            let mut j = i + 1;
            let mut last = 0;
            while j < spans.len() && spans[j].0 < frame_end {
                let (p, e, o) = spans[j];
                if e > frame_end {
                    return Err(format!(
                        "op at {p} straddles the frame ending at {frame_end}"
                    ));
                }
                if large(&o) || matches!(o, Op::Frame(_)) {
                    return Err(format!("{} at {p} inside a frame", o.name()));
                }
                last = e - p;
                j += 1;
            }
            let len = len as usize;
            if len < 4 || last == 0 {
                return Err(format!("frame at {pos} of {len} bytes"));
            }
            if len - last >= FRAME_SIZE_TARGET {
                return Err(format!("frame at {pos} committed late"));
            }
            if len < FRAME_SIZE_TARGET && spans.get(j).is_some_and(|s| !large(&s.2)) {
                return Err(format!("frame at {pos} committed early"));
            }
            i = j;
        } else if large(&op) || (pos == 0 && matches!(op, Op::Proto(_))) {
            i += 1;
        } else {
            let mut j = i;
            let mut run = 0;
            while j < spans.len() && !matches!(spans[j].2, Op::Frame(_)) && !large(&spans[j].2) {
                run += spans[j].1 - spans[j].0;
                j += 1;
            }
            if run >= 4 || spans.get(j).is_some_and(|s| matches!(s.2, Op::Frame(_))) {
                return Err(format!("{run} bytes of ops outside frames at {pos}"));
            }
            i = j;
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut r = Reader::new(&data);
        let mut last = None;
        loop {
            match r.next_op() {
                Ok(Some((pos, op))) => {
                    if let Some(l) = last {
                        prop_assert!(pos > l);
                    }
                    prop_assert!(pos < data.len());
                    let p = payload_of(&op);
                    prop_assert!(p.is_empty() || data.as_ptr_range().contains(&p.as_ptr()));
                    last = Some(pos);
                }
                Ok(None) => break,
                Err(e) => {
                    prop_assert!(e.offset() <= data.len());
                    prop_assert!(!e.to_string().is_empty());
                    break;
                }
            }
        }
    }

    #[test]
    fn opcode_soup_never_panics(
        parts in proptest::collection::vec(
            (prop::sample::select(
                (0u8..=255).filter(|&b| pickle_codec::opcode_name(b).is_some()).collect::<Vec<_>>()
            ), proptest::collection::vec(any::<u8>(), 0..12)),
            0..40)
    ) {
        let mut data = Vec::new();
        for (code, tail) in parts {
            data.push(code);
            data.extend_from_slice(&tail);
        }
        let _ = Reader::new(&data).count();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn written_ops_read_back(owned in proptest::collection::vec(owned_op(), 0..150)) {
        let ops: Vec<Op<'_>> = owned.iter().map(Owned::op).collect();
        let min = ops.iter().map(Op::min_protocol).max().unwrap_or(0);
        for proto in min..=5u8 {
            let mut w = Writer::new(Vec::new(), proto).unwrap();
            for op in &ops {
                w.op(op).unwrap();
            }
            w.stop().unwrap();
            let out = w.finish().unwrap();
            let back: Vec<Op<'_>> = Reader::new(&out)
                .map(|r| r.map(|(_, op)| op))
                .collect::<Result<_, _>>()
                .map_err(|e| TestCaseError::fail(format!("protocol {proto}: {e}")))?;
            let back: Vec<Op<'_>> =
                back.into_iter().filter(|op| !matches!(op, Op::Proto(_) | Op::Frame(_))).collect();
            prop_assert_eq!(back.len(), ops.len() + 1, "protocol {}", proto);
            for (a, b) in ops.iter().zip(&back) {
                prop_assert!(same(a, b), "protocol {}: wrote {} read {}", proto, a.name(), b.name());
            }
            prop_assert!(matches!(back.last(), Some(Op::Stop)));
            if proto >= 4 {
                check_framing(&out).map_err(|e| TestCaseError::fail(format!("protocol {proto}: {e}")))?;
            } else {
                prop_assert!(Reader::new(&out).all(|r| !matches!(r, Ok((_, Op::Frame(_))))));
            }
        }
    }
}

#[test]
fn framing_checker_rejects_bad_streams() {
    // Sanity check of check_framing: a frame with a large op, and ops outside frames.
    let mut bad = b"\x80\x04\x95\x0a\x00\x00\x00\x00\x00\x00\x00".to_vec();
    bad.extend_from_slice(b"NNNNNNNNN.");
    assert!(check_framing(&bad).is_ok());
    assert!(check_framing(b"\x80\x04NNNNN.").is_err());
    let mut big = b"\x80\x04\x95".to_vec();
    big.extend_from_slice(&(5 + FRAME_SIZE_TARGET as u64 + 1).to_le_bytes());
    big.extend_from_slice(b"B\x00\x00\x01\x00");
    big.extend_from_slice(&vec![0; FRAME_SIZE_TARGET]);
    big.push(b'.');
    assert!(check_framing(&big).unwrap_err().contains("inside a frame"));
    let straddle = b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00NNNNC\x01x.";
    assert!(check_framing(straddle).unwrap_err().contains("straddles"));
}
