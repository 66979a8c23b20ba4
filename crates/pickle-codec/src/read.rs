//! Zero-copy opcode reader.
//!
//! The reader never allocates for payloads: every `&[u8]` in an [`Op`] is a subslice of the
//! input. Every length field is compared with the bytes that remain before anything is sliced,
//! so a hostile length gives [`CodecError::Truncated`] instead of an allocation or a panic.
//!
//! Framing is handled like CPython's C unpickler: a `FRAME` must fit in the remaining input, but
//! ops may straddle frame boundaries and ops outside frames are accepted. Text arguments are
//! checked for syntax (decimal integers, float literals, quoted strings) so malformed input is
//! reported at the offending op, but kept raw.

use crate::error::{show_line, CodecError, TextEncoding, TextError};
use crate::op::{opcode_name, Op};
use crate::text;

/// Reads the ops of one pickle from a byte slice.
///
/// ```
/// use pickle_codec::{Op, Reader};
/// let mut r = Reader::new(b"\x80\x04K\x05.");
/// assert_eq!(r.next_op().unwrap(), Some((0, Op::Proto(4))));
/// assert_eq!(r.next_op().unwrap(), Some((2, Op::BinInt1(5))));
/// assert_eq!(r.next_op().unwrap(), Some((4, Op::Stop)));
/// assert_eq!(r.next_op().unwrap(), None);
/// assert_eq!(r.position(), 5);
/// ```
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    protocol: u8,
    stopped: bool,
    failed: bool,
}

impl<'a> Reader<'a> {
    /// A reader for the pickle at the start of `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self::at(data, 0)
    }

    /// A reader for the pickle starting at `start` in `data` (files may hold several pickles
    /// back to back: start the next reader at the previous one's [`position`](Self::position)
    /// after `STOP`). Offsets in ops and errors count from the start of `data`.
    pub fn at(data: &'a [u8], start: usize) -> Self {
        Reader {
            data,
            pos: start,
            protocol: 0,
            stopped: false,
            failed: false,
        }
    }

    /// Offset of the next op to read; after `STOP`, the offset just past it.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The protocol announced by the last `PROTO` op read, 0 if none was read yet.
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// Whether `STOP` has been read.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// The input the reader walks.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }

    /// Reads the next op with the offset of its opcode byte. Returns `Ok(None)` once `STOP` has
    /// been returned. On error the position is left at the faulty op.
    pub fn next_op(&mut self) -> Result<Option<(usize, Op<'a>)>, CodecError> {
        if self.stopped {
            return Ok(None);
        }
        let start = self.pos;
        let Some(&code) = self.data.get(start) else {
            return Err(CodecError::MissingStop {
                offset: start.min(self.data.len()),
            });
        };
        let Some(name) = opcode_name(code) else {
            return Err(CodecError::UnknownOpcode {
                offset: start,
                byte: code,
            });
        };
        let mut cur = Cursor {
            data: self.data,
            pos: start + 1,
            start,
            name,
        };
        let op = decode(code, &mut cur)?;
        match op {
            Op::Proto(v) if v > crate::HIGHEST_PROTOCOL => {
                return Err(CodecError::UnsupportedProtocol {
                    offset: start,
                    version: v,
                })
            }
            Op::Proto(v) => self.protocol = v,
            Op::Frame(len) => {
                let available = cur.remaining().len() as u64;
                if len > available {
                    return Err(CodecError::FrameOverrun {
                        offset: start,
                        len,
                        available,
                    });
                }
            }
            Op::Stop => self.stopped = true,
            _ => {}
        }
        self.pos = cur.pos;
        Ok(Some((start, op)))
    }
}

/// Yields `Result<(offset, op)>` up to and including `STOP`, and stops after the first error.
impl<'a> Iterator for Reader<'a> {
    type Item = Result<(usize, Op<'a>), CodecError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_op() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Position within one op's argument.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    start: usize,
    name: &'static str,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> &'a [u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    fn truncated(&self, needed: u64) -> CodecError {
        CodecError::Truncated {
            offset: self.start,
            opcode: self.name,
            needed,
            available: self.remaining().len() as u64,
        }
    }

    fn bad_line(&self, err: TextError) -> CodecError {
        CodecError::BadLine {
            offset: self.start,
            opcode: self.name,
            reason: err.to_string(),
        }
    }

    /// Takes `n` bytes, checking the length before any conversion or slicing.
    fn take(&mut self, n: u64) -> Result<&'a [u8], CodecError> {
        let rest = self.remaining();
        match usize::try_from(n) {
            Ok(len) if len <= rest.len() => {
                let (head, _) = rest.split_at(len);
                self.pos += len;
                Ok(head)
            }
            _ => Err(self.truncated(n)),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], CodecError> {
        let bytes = self.take(N as u64)?;
        <[u8; N]>::try_from(bytes).map_err(|_| self.truncated(N as u64))
    }

    fn u8(&mut self) -> Result<u8, CodecError> {
        self.array::<1>().map(|[b]| b)
    }

    fn u16(&mut self) -> Result<u16, CodecError> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<u32, CodecError> {
        self.array().map(u32::from_le_bytes)
    }

    fn i32(&mut self) -> Result<i32, CodecError> {
        self.array().map(i32::from_le_bytes)
    }

    fn u64(&mut self) -> Result<u64, CodecError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A payload with a 1-, 4- or 8-byte unsigned length prefix.
    fn payload_u8(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.u8()?;
        self.take(u64::from(n))
    }

    fn payload_u32(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.u32()?;
        self.take(u64::from(n))
    }

    fn payload_u64(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.u64()?;
        self.take(n)
    }

    /// A payload with a signed 4-byte length (`LONG4`, `BINSTRING`).
    fn payload_i32(&mut self) -> Result<&'a [u8], CodecError> {
        let n = self.i32()?;
        match u64::try_from(n) {
            Ok(n) => self.take(n),
            Err(_) => Err(CodecError::NegativeLength {
                offset: self.start,
                opcode: self.name,
            }),
        }
    }

    /// A line up to (not including) `\n`; the newline is consumed.
    fn line(&mut self) -> Result<&'a [u8], CodecError> {
        let rest = self.remaining();
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let (line, _) = rest.split_at(i);
                self.pos += i + 1;
                Ok(line)
            }
            None => Err(CodecError::BadLine {
                offset: self.start,
                opcode: self.name,
                reason: format!(
                    "no newline ends the argument ({} bytes remain: {})",
                    rest.len(),
                    show_line(rest)
                ),
            }),
        }
    }

    /// Checks a text argument the way CPython 3's unpickler decodes it.
    fn text(&self, arg: &'a [u8], encoding: TextEncoding) -> Result<&'a [u8], CodecError> {
        let check = match encoding {
            TextEncoding::Utf8Surrogatepass => text::validate_utf8_surrogatepass,
            TextEncoding::Utf8 => text::validate_utf8_strict,
            TextEncoding::Ascii => text::validate_ascii,
            TextEncoding::RawUnicodeEscape => text::validate_raw_unicode_escape,
        };
        check(arg).map_err(|(position, reason)| CodecError::BadText {
            offset: self.start,
            opcode: self.name,
            encoding,
            position,
            reason,
        })?;
        Ok(arg)
    }

    /// A `BINUNICODE`-family payload read with `read`, checked as UTF-8 with surrogatepass.
    fn str_payload(
        &mut self,
        read: fn(&mut Self) -> Result<&'a [u8], CodecError>,
    ) -> Result<&'a [u8], CodecError> {
        let payload = read(self)?;
        self.text(payload, TextEncoding::Utf8Surrogatepass)
    }

    fn text_line(&mut self, encoding: TextEncoding) -> Result<&'a [u8], CodecError> {
        let line = self.line()?;
        self.text(line, encoding)
    }

    fn checked_line(
        &mut self,
        check: impl FnOnce(&[u8]) -> Result<(), TextError>,
    ) -> Result<&'a [u8], CodecError> {
        let line = self.line()?;
        check(line).map_err(|e| self.bad_line(e))?;
        Ok(line)
    }

    fn memo_index_line(&mut self) -> Result<u64, CodecError> {
        let line = self.line()?;
        text::parse_memo_index_line(line).map_err(|e| self.bad_line(e))
    }
}

/// Decodes the argument of opcode `code` (whose byte has been consumed).
fn decode<'a>(code: u8, c: &mut Cursor<'a>) -> Result<Op<'a>, CodecError> {
    Ok(match code {
        b'(' => Op::Mark,
        b'.' => Op::Stop,
        b'0' => Op::Pop,
        b'1' => Op::PopMark,
        b'2' => Op::Dup,
        b'g' => Op::Get(c.memo_index_line()?),
        b'h' => Op::BinGet(c.u8()?),
        b'j' => Op::LongBinGet(c.u32()?),
        b'p' => Op::Put(c.memo_index_line()?),
        b'q' => Op::BinPut(c.u8()?),
        b'r' => Op::LongBinPut(c.u32()?),
        0x94 => Op::Memoize,
        0x80 => Op::Proto(c.u8()?),
        0x95 => Op::Frame(c.u64()?),
        b'N' => Op::None,
        0x88 => Op::NewTrue,
        0x89 => Op::NewFalse,
        b'I' => Op::Int(c.checked_line(text::validate_decimal_line)?),
        b'J' => Op::BinInt(c.i32()?),
        b'K' => Op::BinInt1(c.u8()?),
        b'M' => Op::BinInt2(c.u16()?),
        b'L' => Op::Long(c.checked_line(text::validate_decimal_line)?),
        0x8a => Op::Long1(c.payload_u8()?),
        0x8b => Op::Long4(c.payload_i32()?),
        b'F' => Op::Float(c.checked_line(|l| text::parse_float_line(l).map(|_| ()))?),
        b'G' => Op::BinFloat(f64::from_be_bytes(c.array()?)),
        b'S' => Op::String(c.checked_line(text::validate_string_line)?),
        b'T' => Op::BinString(c.payload_i32()?),
        b'U' => Op::ShortBinString(c.payload_u8()?),
        b'V' => Op::Unicode(c.text_line(TextEncoding::RawUnicodeEscape)?),
        b'X' => Op::BinUnicode(c.str_payload(Cursor::payload_u32)?),
        0x8c => Op::ShortBinUnicode(c.str_payload(Cursor::payload_u8)?),
        0x8d => Op::BinUnicode8(c.str_payload(Cursor::payload_u64)?),
        b'B' => Op::BinBytes(c.payload_u32()?),
        b'C' => Op::ShortBinBytes(c.payload_u8()?),
        0x8e => Op::BinBytes8(c.payload_u64()?),
        0x96 => Op::ByteArray8(c.payload_u64()?),
        0x97 => Op::NextBuffer,
        0x98 => Op::ReadonlyBuffer,
        b')' => Op::EmptyTuple,
        b't' => Op::Tuple,
        0x85 => Op::Tuple1,
        0x86 => Op::Tuple2,
        0x87 => Op::Tuple3,
        b']' => Op::EmptyList,
        b'l' => Op::List,
        b'a' => Op::Append,
        b'e' => Op::Appends,
        b'}' => Op::EmptyDict,
        b'd' => Op::Dict,
        b's' => Op::SetItem,
        b'u' => Op::SetItems,
        0x8f => Op::EmptySet,
        0x90 => Op::AddItems,
        0x91 => Op::FrozenSet,
        b'c' => {
            let module = c.text_line(TextEncoding::Utf8)?;
            let name = c.text_line(TextEncoding::Utf8)?;
            Op::Global { module, name }
        }
        0x93 => Op::StackGlobal,
        b'R' => Op::Reduce,
        b'b' => Op::Build,
        b'i' => {
            let module = c.text_line(TextEncoding::Ascii)?;
            let name = c.text_line(TextEncoding::Ascii)?;
            Op::Inst { module, name }
        }
        b'o' => Op::Obj,
        0x81 => Op::NewObj,
        0x92 => Op::NewObjEx,
        b'P' => Op::PersId(c.line()?),
        b'Q' => Op::BinPersId,
        0x82 => Op::Ext1(c.u8()?),
        0x83 => Op::Ext2(c.u16()?),
        0x84 => Op::Ext4(c.i32()?),
        other => {
            return Err(CodecError::UnknownOpcode {
                offset: c.start,
                byte: other,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(data: &[u8]) -> Vec<Op<'_>> {
        Reader::new(data).map(|r| r.unwrap().1).collect()
    }

    fn err(data: &[u8]) -> CodecError {
        let mut r = Reader::new(data);
        loop {
            match r.next_op() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("no error in {data:?}"),
                Err(e) => return e,
            }
        }
    }

    #[test]
    fn stack_and_memo_ops() {
        assert_eq!(
            ops(b"(012g12\nh\x07j\x01\x00\x00\x00p3\nq\xffr\x00\x01\x00\x00\x94."),
            vec![
                Op::Mark,
                Op::Pop,
                Op::PopMark,
                Op::Dup,
                Op::Get(12),
                Op::BinGet(7),
                Op::LongBinGet(1),
                Op::Put(3),
                Op::BinPut(255),
                Op::LongBinPut(256),
                Op::Memoize,
                Op::Stop
            ]
        );
    }

    #[test]
    fn int_ops() {
        assert_eq!(
            ops(b"I01\nI-5\nJ\xff\xff\xff\xffK\x80M\x01\x02L12L\n\x8a\x00\x8a\x02\xff\x00\x8b\x01\x00\x00\x00\x80."),
            vec![
                Op::Int(b"01"),
                Op::Int(b"-5"),
                Op::BinInt(-1),
                Op::BinInt1(0x80),
                Op::BinInt2(0x0201),
                Op::Long(b"12L"),
                Op::Long1(b""),
                Op::Long1(b"\xff\x00"),
                Op::Long4(b"\x80"),
                Op::Stop
            ]
        );
        assert!(matches!(
            err(b"Iabc\n."),
            CodecError::BadLine {
                offset: 0,
                opcode: "INT",
                ..
            }
        ));
        assert!(matches!(
            err(b"NL1.5\n."),
            CodecError::BadLine {
                offset: 1,
                opcode: "LONG",
                ..
            }
        ));
        assert!(matches!(
            err(b"g-1\n."),
            CodecError::BadLine { opcode: "GET", .. }
        ));
        assert!(matches!(
            err(b"\x8b\xff\xff\xff\xff."),
            CodecError::NegativeLength {
                offset: 0,
                opcode: "LONG4"
            }
        ));
    }

    #[test]
    fn float_and_string_ops() {
        assert_eq!(
            ops(b"F1.5\nG?\xf8\x00\x00\x00\x00\x00\x00S'a\\'b'\nT\x02\x00\x00\x00hiU\x01!V\\u1234\n."),
            vec![
                Op::Float(b"1.5"),
                Op::BinFloat(1.5),
                Op::String(b"'a\\'b'"),
                Op::BinString(b"hi"),
                Op::ShortBinString(b"!"),
                Op::Unicode(b"\\u1234"),
                Op::Stop
            ]
        );
        assert!(matches!(
            err(b"Fx\n."),
            CodecError::BadLine {
                opcode: "FLOAT",
                ..
            }
        ));
        assert!(matches!(
            err(b"S'abc\n."),
            CodecError::BadLine {
                opcode: "STRING",
                ..
            }
        ));
        assert!(matches!(
            err(b"T\x00\x00\x00\x80."),
            CodecError::NegativeLength {
                opcode: "BINSTRING",
                ..
            }
        ));
    }

    #[test]
    fn unicode_and_bytes_ops() {
        assert_eq!(
            ops(b"X\x01\x00\x00\x00a\x8c\x02\xc3\xa9\x8d\x01\x00\x00\x00\x00\x00\x00\x00bB\x00\x00\x00\x00C\x01c\x8e\x02\x00\x00\x00\x00\x00\x00\x00de\x96\x01\x00\x00\x00\x00\x00\x00\x00f\x97\x98."),
            vec![
                Op::BinUnicode(b"a"),
                Op::ShortBinUnicode("é".as_bytes()),
                Op::BinUnicode8(b"b"),
                Op::BinBytes(b""),
                Op::ShortBinBytes(b"c"),
                Op::BinBytes8(b"de"),
                Op::ByteArray8(b"f"),
                Op::NextBuffer,
                Op::ReadonlyBuffer,
                Op::Stop
            ]
        );
    }

    #[test]
    fn container_ops() {
        assert_eq!(
            ops(b")t\x85\x86\x87]lae}dsu\x8f\x90\x91."),
            vec![
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
                Op::Stop
            ]
        );
    }

    #[test]
    fn object_ops() {
        assert_eq!(
            ops(b"cmod\nname\n\x93Rbimod\nCls\no\x81\x92Ppid\nQ\x82\x01\x83\x02\x01\x84\xff\xff\xff\xff."),
            vec![
                Op::Global { module: b"mod", name: b"name" },
                Op::StackGlobal,
                Op::Reduce,
                Op::Build,
                Op::Inst { module: b"mod", name: b"Cls" },
                Op::Obj,
                Op::NewObj,
                Op::NewObjEx,
                Op::PersId(b"pid"),
                Op::BinPersId,
                Op::Ext1(1),
                Op::Ext2(0x0102),
                Op::Ext4(-1),
                Op::Stop
            ]
        );
        assert!(matches!(
            err(b"cmod\nname"),
            CodecError::BadLine {
                offset: 0,
                opcode: "GLOBAL",
                ..
            }
        ));
    }

    #[test]
    fn proto_and_frame() {
        let mut r = Reader::new(b"\x80\x05\x95\x02\x00\x00\x00\x00\x00\x00\x00N.");
        assert_eq!(r.protocol(), 0);
        assert_eq!(r.next_op(), Ok(Some((0, Op::Proto(5)))));
        assert_eq!(r.protocol(), 5);
        assert_eq!(r.next_op(), Ok(Some((2, Op::Frame(2)))));
        assert_eq!(r.next_op(), Ok(Some((11, Op::None))));
        assert_eq!(r.next_op(), Ok(Some((12, Op::Stop))));
        assert_eq!(r.next_op(), Ok(None));
        assert_eq!(r.next_op(), Ok(None));
        assert_eq!(
            err(b"\x80\x06N."),
            CodecError::UnsupportedProtocol {
                offset: 0,
                version: 6
            }
        );
        assert_eq!(
            err(b"\x80\x04\x95\x03\x00\x00\x00\x00\x00\x00\x00N."),
            CodecError::FrameOverrun {
                offset: 2,
                len: 3,
                available: 2
            }
        );
        // An op straddling a frame end is accepted (lenient, like the C unpickler).
        assert_eq!(
            ops(b"\x95\x01\x00\x00\x00\x00\x00\x00\x00K\x01."),
            vec![Op::Frame(1), Op::BinInt1(1), Op::Stop]
        );
    }

    #[test]
    fn concatenated_pickles() {
        let data = b"K\x01.K\x02.";
        let mut r = Reader::new(data);
        assert_eq!(r.by_ref().count(), 2);
        let next = r.position();
        assert_eq!(next, 3);
        let mut r2 = Reader::at(data, next);
        assert_eq!(r2.next_op(), Ok(Some((3, Op::BinInt1(2)))));
        assert_eq!(r2.next_op(), Ok(Some((5, Op::Stop))));
        assert_eq!(
            Reader::at(data, 100).next_op(),
            Err(CodecError::MissingStop { offset: 6 })
        );
    }

    #[test]
    fn error_messages() {
        let e = err(b"X\xa0\x0f\x00\x00abcdefghijkl");
        assert_eq!(
            e.to_string(),
            "byte 0: truncated BINUNICODE: needs 4000 bytes, 12 remain"
        );
        assert_eq!(e.offset(), 0);
        assert_eq!(err(b"N\xff").to_string(), "byte 1: unknown opcode 0xff");
        assert_eq!(err(b"NZ").to_string(), "byte 1: unknown opcode 0x5a ('Z')");
        assert_eq!(
            err(b"NN").to_string(),
            "byte 2: input ends without a STOP opcode"
        );
        assert_eq!(
            err(b"J\x01\x02").to_string(),
            "byte 0: truncated BININT: needs 4 bytes, 2 remain"
        );
        assert!(err(b"Vabc")
            .to_string()
            .starts_with("byte 0: bad UNICODE argument: no newline"));
    }

    #[test]
    fn iterator_stops_after_error() {
        let mut r = Reader::new(b"N\xff.");
        assert!(matches!(r.next(), Some(Ok((0, Op::None)))));
        assert!(matches!(
            r.next(),
            Some(Err(CodecError::UnknownOpcode {
                offset: 1,
                byte: 0xff
            }))
        ));
        assert!(r.next().is_none());
    }
}
