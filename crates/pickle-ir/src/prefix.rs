//! Finding a prefix of the stream that can be passed through without lifting.
//!
//! Why: a typical large input is mostly plain data (arrays, lists of records) with the
//! serializer's helpers only where functions and classes are. Lifting and re-emitting millions
//! of plain values costs far more than copying them. This scan runs the pickle machine over
//! stack *depths* only (no nodes) and finds the last point before the first mention of a
//! serializer module (MARKs still open there are continued by the suffix's APPENDS/SETITEMS/
//! ADDITEMS; any other way of closing them makes the caller lift everything). Everything before that point is written through
//! unchanged (same ops, same memo keys); the rest is lifted with the prefix's stack items as
//! [`Node::OnStack`](crate::Node::OnStack) values and its memo entries as constants (so recipes
//! can still read memoized strings) or [`Node::PrefixMemo`](crate::Node::PrefixMemo) fetches.
//!
//! The scan gives up (and the caller lifts everything) whenever the prefix does something the
//! suffix could not continue from faithfully: memo keys that are not exactly `0..n` or are
//! overwritten, stack underflow, or a prefix too small to be worth it.

use pickle_codec::{text, Op, Reader};

/// What the suffix needs to know about a passed-through prefix.
#[derive(Debug, Clone)]
pub struct Prefix {
    /// Where the prefix starts (after nothing: the pickle's first byte) and ends (an op boundary).
    pub start: usize,
    pub end: usize,
    /// Values the prefix leaves on the stack.
    pub stack_depth: u32,
    /// MARKs still open at `end`, as stack depths (bottom first).
    pub marks: Vec<u32>,
    /// Memo entries the prefix stored, by key (keys are exactly `0..len`): the offset of the
    /// constant op that wrote the value, or [`OPAQUE`].
    pub memo: Vec<u64>,
    /// Highest protocol the prefix's opcodes need (or its PROTO).
    pub protocol: u8,
    /// `module.name` of every global the prefix names (GLOBAL/INST, STACK_GLOBAL of constants).
    pub globals: Vec<(String, String)>,
}

/// A memo entry whose value is not a single constant: the suffix fetches it from the memo.
pub const OPAQUE: u64 = u64::MAX;

/// A memo entry of the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrefixEntry {
    /// A constant written by the op at this offset (the suffix can read it statically).
    Const(usize),
    /// Anything else: the suffix fetches it from the memo.
    Opaque,
}

impl Prefix {
    /// The prefix's memo entry for `key`, if it stored one.
    pub fn entry(&self, key: u64) -> Option<PrefixEntry> {
        let v = *self.memo.get(usize::try_from(key).ok()?)?;
        Some(if v == OPAQUE {
            PrefixEntry::Opaque
        } else {
            PrefixEntry::Const(v as usize)
        })
    }
}

/// A stack slot during the scan: where a constant came from, if it is one.
#[derive(Clone, Copy)]
enum Slot {
    Const(usize),
    Other,
}

/// Scan the pickle starting at `start`. `is_serializer_text` says whether a module name or a
/// string constant mentions a serializer module. Returns `None` when no useful prefix exists.
pub fn scan(
    data: &[u8],
    start: usize,
    min_len: usize,
    is_serializer_text: impl Fn(&[u8]) -> bool,
) -> Option<Prefix> {
    let mut reader = Reader::at(data, start);
    let mut stack: Vec<Slot> = Vec::new();
    let mut marks: Vec<usize> = Vec::new();
    let mut memo: Vec<u64> = Vec::new();
    let mut protocol = 0u8;
    let mut globals: Vec<(String, String)> = Vec::new();
    // Ops must not straddle frames: the emitter copies the prefix frame by frame.
    let mut frame_end = 0usize;
    let text_of = |op: &Op| -> Option<String> {
        match *op {
            Op::BinUnicode(b) | Op::ShortBinUnicode(b) | Op::BinUnicode8(b) => {
                std::str::from_utf8(b).ok().map(str::to_string)
            }
            Op::Unicode(line) => text::decode_raw_unicode_escape(line),
            _ => None,
        }
    };
    // Runs to the op boundary just before the first mention of a serializer (the cut) and
    // yields the state there.
    let (end, depth, memo_len, protocol, nglobals, open_marks) = loop {
        let (offset, op) = reader.next_op().ok()??;
        if offset < frame_end && reader.position() > frame_end {
            return None;
        }
        if let Op::Frame(len) = op {
            frame_end = reader.position().checked_add(usize::try_from(len).ok()?)?;
        }
        // Stop at the first mention of a serializer module.
        let mentions = match &op {
            Op::Global { module, .. } | Op::Inst { module, .. } => is_serializer_text(module),
            Op::String(_) | Op::BinString(_) | Op::ShortBinString(_) => true,
            Op::BinUnicode(b) | Op::ShortBinUnicode(b) | Op::BinUnicode8(b) => {
                is_serializer_text(b)
            }
            // Escaped text: decode first (rare; protocol 0).
            Op::Unicode(_) => text_of(&op).is_none_or(|t| is_serializer_text(t.as_bytes())),
            _ => false,
        };
        if mentions || matches!(op, Op::Stop) {
            let open: Vec<u32> = marks.iter().map(|&m| m as u32).collect();
            break (
                offset,
                stack.len() as u32,
                memo.len(),
                protocol,
                globals.len(),
                open,
            );
        }
        protocol = protocol.max(op.min_protocol());
        if let Op::Proto(v) = op {
            protocol = protocol.max(v);
        }
        let fence = marks.last().copied().unwrap_or(0);
        let pop = |stack: &mut Vec<Slot>, n: usize| -> Option<()> {
            if stack.len() < fence + n {
                return None;
            }
            stack.truncate(stack.len() - n);
            Some(())
        };
        let pop_mark = |stack: &mut Vec<Slot>, marks: &mut Vec<usize>| -> Option<()> {
            let k = marks.pop()?;
            stack.truncate(k);
            Some(())
        };
        match op {
            Op::Proto(_) | Op::Frame(_) => {}
            Op::Mark => marks.push(stack.len()),
            Op::Pop => {
                if stack.len() > fence {
                    stack.pop();
                } else if marks.last() == Some(&stack.len()) {
                    marks.pop();
                } else {
                    return None;
                }
            }
            Op::PopMark => pop_mark(&mut stack, &mut marks)?,
            Op::Dup => {
                let top = *stack.last()?;
                stack.push(top);
            }
            Op::Get(k) => stack.push(memo_slot(&memo, k)?),
            Op::BinGet(k) => stack.push(memo_slot(&memo, k.into())?),
            Op::LongBinGet(k) => stack.push(memo_slot(&memo, k.into())?),
            Op::Put(_) | Op::BinPut(_) | Op::LongBinPut(_) | Op::Memoize => {
                if stack.len() <= fence {
                    return None;
                }
                let key = match op {
                    Op::Put(k) => k,
                    Op::BinPut(k) => k.into(),
                    Op::LongBinPut(k) => k.into(),
                    _ => memo.len() as u64,
                };
                // Keys must come in order 0, 1, 2, … (what CPython's pickler writes), so the
                // suffix's MEMOIZE keys continue them; anything else goes the full path.
                if key != memo.len() as u64 {
                    return None;
                }
                memo.push(match stack.last()? {
                    Slot::Const(o) => *o as u64,
                    Slot::Other => OPAQUE,
                });
            }
            Op::None
            | Op::NewTrue
            | Op::NewFalse
            | Op::Int(_)
            | Op::BinInt(_)
            | Op::BinInt1(_)
            | Op::BinInt2(_)
            | Op::Long(_)
            | Op::Long1(_)
            | Op::Long4(_)
            | Op::Float(_)
            | Op::BinFloat(_)
            | Op::Unicode(_)
            | Op::BinUnicode(_)
            | Op::ShortBinUnicode(_)
            | Op::BinUnicode8(_)
            | Op::BinBytes(_)
            | Op::ShortBinBytes(_)
            | Op::BinBytes8(_) => stack.push(Slot::Const(offset)),
            Op::ByteArray8(_)
            | Op::NextBuffer
            | Op::EmptyTuple
            | Op::EmptyList
            | Op::EmptyDict
            | Op::EmptySet => stack.push(Slot::Other),
            Op::ReadonlyBuffer | Op::Build => {
                pop(&mut stack, if matches!(op, Op::Build) { 1 } else { 0 })?;
                *stack.last_mut()? = Slot::Other;
            }
            Op::Tuple | Op::List | Op::Dict | Op::FrozenSet | Op::Obj => {
                pop_mark(&mut stack, &mut marks)?;
                stack.push(Slot::Other);
            }
            Op::Inst { module, name } => {
                pop_mark(&mut stack, &mut marks)?;
                stack.push(Slot::Other);
                globals.push((
                    String::from_utf8_lossy(module).into_owned(),
                    String::from_utf8_lossy(name).into_owned(),
                ));
            }
            Op::Tuple1 | Op::Tuple2 | Op::Tuple3 => {
                let n = match op {
                    Op::Tuple1 => 1,
                    Op::Tuple2 => 2,
                    _ => 3,
                };
                pop(&mut stack, n)?;
                stack.push(Slot::Other);
            }
            Op::Append | Op::SetItem => {
                pop(&mut stack, if matches!(op, Op::Append) { 1 } else { 2 })?
            }
            Op::Appends | Op::SetItems | Op::AddItems => pop_mark(&mut stack, &mut marks)?,
            Op::Global { module, name } => {
                stack.push(Slot::Other);
                globals.push((
                    String::from_utf8_lossy(module).into_owned(),
                    String::from_utf8_lossy(name).into_owned(),
                ));
            }
            Op::StackGlobal => {
                let n = stack.len();
                if n < fence + 2 {
                    return None;
                }
                if let (Slot::Const(m), Slot::Const(nm)) = (stack[n - 2], stack[n - 1]) {
                    let read = |o: usize| {
                        Reader::at(data, o)
                            .next_op()
                            .ok()
                            .flatten()
                            .and_then(|(_, op)| text_of(&op))
                    };
                    if let (Some(m), Some(nm)) = (read(m), read(nm)) {
                        globals.push((m, nm));
                    } else {
                        return None;
                    }
                } else {
                    return None; // a computed global name: leave it to the full path
                }
                pop(&mut stack, 2)?;
                stack.push(Slot::Other);
            }
            Op::Reduce | Op::NewObj => {
                pop(&mut stack, 2)?;
                stack.push(Slot::Other);
            }
            Op::NewObjEx => {
                pop(&mut stack, 3)?;
                stack.push(Slot::Other);
            }
            Op::PersId(_) | Op::Ext1(_) | Op::Ext2(_) | Op::Ext4(_) => stack.push(Slot::Other),
            Op::BinPersId => {
                pop(&mut stack, 1)?;
                stack.push(Slot::Other);
            }
            Op::Stop | Op::String(_) | Op::BinString(_) | Op::ShortBinString(_) => {
                unreachable!("the loop stops before these")
            }
        }
    };
    if end < start + min_len || depth == 0 {
        return None;
    }
    memo.truncate(memo_len);
    globals.truncate(nglobals);
    Some(Prefix {
        start,
        end,
        stack_depth: depth,
        marks: open_marks,
        memo,
        protocol,
        globals,
    })
}

fn memo_slot(memo: &[u64], key: u64) -> Option<Slot> {
    let v = *memo.get(usize::try_from(key).ok()?)?;
    Some(if v == OPAQUE {
        Slot::Other
    } else {
        Slot::Const(v as usize)
    })
}
