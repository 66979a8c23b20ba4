//! Framing-aware opcode writer.
//!
//! [`Writer`] owns the protocol header and, for protocol 4 and later, the framing, which follows
//! CPython's pickler:
//!
//! * ops are buffered into the current frame; once the frame holds at least
//!   [`FRAME_SIZE_TARGET`] bytes at an op boundary it is committed (`FRAME` + 8-byte length +
//!   contents), so no op straddles two frames;
//! * a frame of fewer than 4 bytes is written without a `FRAME` header (CPython's
//!   `_FRAME_SIZE_MIN`), so the `PROTO` header and tiny tails stay unframed;
//! * an op whose payload is at least [`FRAME_SIZE_TARGET`] bytes is written outside any frame:
//!   the current frame is committed, then the op header and the payload slice go straight to the
//!   output, never copied into a buffer. CPython does this for `BINBYTES*`, `BINUNICODE*` and
//!   `BYTEARRAY8`; this writer does it for every op with a payload (also `LONG4`, `BINSTRING`
//!   and text lines), which loaders accept equally.
//!
//! Below protocol 4 there are no frames; ops go through an internal buffer and large payloads
//! are still written straight through.
//!
//! Memo indices: [`Writer::memoize`] keeps the count of memo entries itself. Callers should put
//! to the memo only through `memoize()` so the count stays right; ops passed through
//! [`Writer::op`] also update it (`MEMOIZE`, and a `PUT`/`BINPUT`/`LONG_BINPUT` whose index is the
//! next free one), which is enough for re-emitting a stream read by [`crate::Reader`].

use std::io::Write;

use crate::error::WriteError;
use crate::op::Op;
use crate::text;
use crate::FRAME_SIZE_TARGET;

/// Frames shorter than this get no `FRAME` header (CPython's `_FRAME_SIZE_MIN`).
const FRAME_SIZE_MIN: usize = 4;

/// Writes pickle ops for one protocol. Call [`finish`](Self::finish) at the end: buffered data
/// is lost if the writer is dropped.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    protocol: u8,
    /// The current frame (protocol 4+) or the write buffer (below 4).
    buf: Vec<u8>,
    /// Number of memo entries written so far: the index the next `memoize()` uses.
    memo_len: u64,
}

impl<W: Write> Writer<W> {
    /// A writer for `protocol` (0–5). Writes `PROTO` at once for protocol 2 and later.
    pub fn new(out: W, protocol: u8) -> Result<Self, WriteError> {
        if protocol > crate::HIGHEST_PROTOCOL {
            return Err(WriteError::InvalidProtocol { protocol });
        }
        let mut w = Writer {
            out,
            protocol,
            buf: Vec::with_capacity(FRAME_SIZE_TARGET + 1024),
            memo_len: 0,
        };
        if protocol >= 2 {
            if w.framing() {
                w.out.write_all(&[0x80, protocol])?;
            } else {
                w.buf.extend_from_slice(&[0x80, protocol]);
            }
        }
        Ok(w)
    }

    /// The protocol being written.
    pub fn protocol(&self) -> u8 {
        self.protocol
    }

    /// The number of memo entries written so far (the index the next [`memoize`](Self::memoize)
    /// uses).
    pub fn memo_len(&self) -> u64 {
        self.memo_len
    }

    /// Declare how many memo entries the stream holds so far (keys `0..n`), e.g. after ops
    /// copied from another pickle whose puts the writer could not count itself.
    pub fn set_memo_len(&mut self, n: u64) {
        self.memo_len = n;
    }

    /// The output (without data still buffered).
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    fn framing(&self) -> bool {
        self.protocol >= 4
    }

    /// Commits the last frame, flushes, and returns the output.
    pub fn finish(mut self) -> Result<W, WriteError> {
        self.flush_buf()?;
        self.out.flush()?;
        Ok(self.out)
    }

    /// Writes the buffer: as a frame when framing (with a header if it is large enough).
    fn flush_buf(&mut self) -> Result<(), WriteError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.framing() && self.buf.len() >= FRAME_SIZE_MIN {
            let mut header = [0u8; 9];
            header[0] = 0x95;
            header[1..].copy_from_slice(&(self.buf.len() as u64).to_le_bytes());
            self.out.write_all(&header)?;
        }
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// Writes `ops`, complete ops copied from another pickle of at most this protocol (no PROTO;
    /// FRAME only as part of `framed == false` copies of unframed regions), as one frame of their
    /// own when `framed` (their source frame), else outside any frame. The current frame is
    /// committed first. The caller keeps the memo count right with [`Writer::set_memo_len`].
    pub fn raw_ops(&mut self, ops: &[u8], framed: bool) -> Result<(), WriteError> {
        self.flush_buf()?;
        if framed && self.framing() && ops.len() >= FRAME_SIZE_MIN {
            let mut header = [0u8; 9];
            header[0] = 0x95;
            header[1..].copy_from_slice(&(ops.len() as u64).to_le_bytes());
            self.out.write_all(&header)?;
        }
        self.out.write_all(ops)?;
        Ok(())
    }

    /// Called after each op: commits a full frame / flushes a full buffer.
    fn op_boundary(&mut self) -> Result<(), WriteError> {
        if self.buf.len() >= FRAME_SIZE_TARGET {
            self.flush_buf()?;
        }
        Ok(())
    }

    /// Writes one op given as header, payload and trailer; large payloads bypass the buffer.
    fn emit(&mut self, head: &[u8], payload: &[u8], tail: &[u8]) -> Result<(), WriteError> {
        if payload.len() >= FRAME_SIZE_TARGET {
            if self.framing() {
                self.flush_buf()?;
                self.out.write_all(head)?;
            } else {
                self.buf.extend_from_slice(head);
                self.flush_buf()?;
            }
            self.out.write_all(payload)?;
            self.out.write_all(tail)?;
            Ok(())
        } else {
            self.buf.extend_from_slice(head);
            self.buf.extend_from_slice(payload);
            self.buf.extend_from_slice(tail);
            self.op_boundary()
        }
    }

    /// Writes a small op made of parts.
    fn emit_parts(&mut self, parts: &[&[u8]]) -> Result<(), WriteError> {
        for p in parts {
            self.buf.extend_from_slice(p);
        }
        self.op_boundary()
    }

    fn emit_byte(&mut self, code: u8) -> Result<(), WriteError> {
        self.emit_parts(&[&[code]])
    }

    fn check_protocol(&self, op: &Op<'_>) -> Result<(), WriteError> {
        if op.min_protocol() > self.protocol {
            return Err(WriteError::OpcodeAboveProtocol {
                opcode: op.name(),
                needed: op.min_protocol(),
                protocol: self.protocol,
            });
        }
        Ok(())
    }

    /// Writes one op as given. `PROTO` and `FRAME` are skipped, because the writer owns the
    /// header and the framing. Fails for an op the protocol does not define and for arguments
    /// the opcode cannot encode (too long for the length field, newline in a text line).
    pub fn op(&mut self, op: &Op<'_>) -> Result<(), WriteError> {
        if matches!(op, Op::Proto(_) | Op::Frame(_)) {
            return Ok(());
        }
        let code = op.code();
        if crate::op::min_protocol_of(code) > self.protocol {
            self.check_protocol(op)?;
        }
        match *op {
            Op::Get(i) | Op::Put(i) => {
                let mut digits = [0u8; 20];
                self.emit_parts(&[&[code], decimal_u64(i, &mut digits), b"\n"])?;
            }
            Op::BinGet(i) | Op::BinPut(i) | Op::BinInt1(i) | Op::Ext1(i) => {
                self.emit_parts(&[&[code, i]])?;
            }
            Op::LongBinGet(i) | Op::LongBinPut(i) => {
                self.emit_parts(&[&[code], &i.to_le_bytes()])?
            }
            Op::BinInt(i) | Op::Ext4(i) => self.emit_parts(&[&[code], &i.to_le_bytes()])?,
            Op::BinInt2(i) | Op::Ext2(i) => self.emit_parts(&[&[code], &i.to_le_bytes()])?,
            Op::BinFloat(f) => self.emit_parts(&[&[code], &f.to_be_bytes()])?,
            Op::Int(line)
            | Op::Long(line)
            | Op::Float(line)
            | Op::String(line)
            | Op::Unicode(line)
            | Op::PersId(line) => {
                check_line(op, line)?;
                self.emit(&[code], line, b"\n")?;
            }
            Op::Global { module, name } | Op::Inst { module, name } => {
                check_line(op, module)?;
                check_line(op, name)?;
                self.emit_parts(&[&[code], module, b"\n", name, b"\n"])?;
            }
            Op::Long1(p)
            | Op::ShortBinString(p)
            | Op::ShortBinUnicode(p)
            | Op::ShortBinBytes(p) => {
                let n = u8::try_from(p.len()).map_err(|_| too_long(op, p.len(), 255))?;
                self.emit(&[code, n], p, b"")?;
            }
            Op::Long4(p) | Op::BinString(p) => {
                let n =
                    i32::try_from(p.len()).map_err(|_| too_long(op, p.len(), i32::MAX as u64))?;
                self.emit_sized(code, &n.to_le_bytes(), p)?;
            }
            Op::BinUnicode(p) | Op::BinBytes(p) => {
                let n =
                    u32::try_from(p.len()).map_err(|_| too_long(op, p.len(), u32::MAX as u64))?;
                self.emit_sized(code, &n.to_le_bytes(), p)?;
            }
            Op::BinUnicode8(p) | Op::BinBytes8(p) | Op::ByteArray8(p) => {
                self.emit_sized(code, &(p.len() as u64).to_le_bytes(), p)?;
            }
            _ => self.emit_byte(code)?,
        }
        self.track_memo(op);
        Ok(())
    }

    fn emit_sized(&mut self, code: u8, len: &[u8], payload: &[u8]) -> Result<(), WriteError> {
        let mut head = [0u8; 9];
        head[0] = code;
        let n = len.len().min(8);
        head[1..=n].copy_from_slice(&len[..n]);
        self.emit(&head[..=n], payload, b"")
    }

    fn track_memo(&mut self, op: &Op<'_>) {
        let put = match *op {
            Op::Memoize => true,
            Op::Put(i) => i == self.memo_len,
            Op::BinPut(i) => u64::from(i) == self.memo_len,
            Op::LongBinPut(i) => u64::from(i) == self.memo_len,
            _ => false,
        };
        if put {
            self.memo_len = self.memo_len.saturating_add(1);
        }
    }

    /// An integer with the smallest opcode CPython's pickler would use: `BININT1`/`BININT2`/
    /// `BININT` from protocol 1, `LONG1` from protocol 2 beyond 32 bits, text `INT` (32-bit
    /// range) or `LONG` (`123L`) at protocol 0 and for large values at protocol 1.
    pub fn int_i64(&mut self, v: i64) -> Result<(), WriteError> {
        let fits_i32 = i32::try_from(v).ok();
        if self.protocol >= 1 {
            if let Ok(b) = u8::try_from(v) {
                return self.op(&Op::BinInt1(b));
            }
            if let Ok(b) = u16::try_from(v) {
                return self.op(&Op::BinInt2(b));
            }
            if let Some(i) = fits_i32 {
                return self.op(&Op::BinInt(i));
            }
            if self.protocol >= 2 {
                let enc = text::IntValue::Small(v).to_le_bytes();
                return self.op(&Op::Long1(&enc));
            }
        }
        if fits_i32.is_some() {
            self.op(&Op::Int(v.to_string().as_bytes()))
        } else {
            self.op(&Op::Long(format!("{v}L").as_bytes()))
        }
    }

    /// An integer of any size given as little-endian two's complement (empty = 0), with the
    /// opcode choice of [`int_i64`](Self::int_i64) and `LONG1`/`LONG4` for larger values.
    pub fn int_le_bytes(&mut self, le: &[u8]) -> Result<(), WriteError> {
        match text::IntValue::from_le_bytes(le) {
            text::IntValue::Small(v) => self.int_i64(v),
            big @ text::IntValue::Big(_) => {
                if self.protocol >= 2 {
                    let enc = big.to_le_bytes();
                    if enc.len() < 256 {
                        self.op(&Op::Long1(&enc))
                    } else {
                        self.op(&Op::Long4(&enc))
                    }
                } else {
                    let line = format!("{}L", big.to_decimal());
                    self.op(&Op::Long(line.as_bytes()))
                }
            }
        }
    }

    /// `True`/`False`: `NEWTRUE`/`NEWFALSE` from protocol 2, `I01`/`I00` before.
    pub fn bool(&mut self, b: bool) -> Result<(), WriteError> {
        match (self.protocol >= 2, b) {
            (true, true) => self.op(&Op::NewTrue),
            (true, false) => self.op(&Op::NewFalse),
            (false, true) => self.op(&Op::Int(b"01")),
            (false, false) => self.op(&Op::Int(b"00")),
        }
    }

    /// `None`.
    pub fn none(&mut self) -> Result<(), WriteError> {
        self.op(&Op::None)
    }

    /// A float: `BINFLOAT` from protocol 1, a `FLOAT` line (Rust's shortest round-trip form,
    /// which Python's `float()` parses back exactly) at protocol 0.
    pub fn float(&mut self, f: f64) -> Result<(), WriteError> {
        if self.protocol >= 1 {
            self.op(&Op::BinFloat(f))
        } else {
            self.op(&Op::Float(format!("{f:?}").as_bytes()))
        }
    }

    /// A `str`: `SHORT_BINUNICODE` (protocol 4+, up to 255 bytes), `BINUNICODE`, `BINUNICODE8`
    /// (protocol 4+, over 4 GiB); a `UNICODE` raw-unicode-escape line at protocol 0.
    pub fn str(&mut self, s: &str) -> Result<(), WriteError> {
        if self.protocol == 0 {
            let line = text::encode_raw_unicode_escape(s);
            return self.op(&Op::Unicode(&line));
        }
        self.str_binary(s.as_bytes())
    }

    /// A `str` given as UTF-8 that may hold individually encoded surrogates (CPython's
    /// `surrogatepass`, i.e. a `BINUNICODE` payload). Fails if the bytes are not valid in that
    /// sense.
    pub fn str_utf8_surrogatepass(&mut self, utf8: &[u8]) -> Result<(), WriteError> {
        if self.protocol == 0 {
            let line = text::encode_raw_unicode_escape_surrogatepass(utf8).ok_or_else(|| {
                WriteError::InvalidArgument {
                    opcode: "UNICODE",
                    reason: "payload is not UTF-8 (surrogatepass)".into(),
                }
            })?;
            return self.op(&Op::Unicode(&line));
        }
        if text::utf8_surrogatepass_code_points(utf8).is_none() {
            return Err(WriteError::InvalidArgument {
                opcode: "BINUNICODE",
                reason: "payload is not UTF-8 (surrogatepass)".into(),
            });
        }
        self.str_binary(utf8)
    }

    fn str_binary(&mut self, utf8: &[u8]) -> Result<(), WriteError> {
        let n = utf8.len();
        if self.protocol >= 4 && n <= 0xff {
            self.op(&Op::ShortBinUnicode(utf8))
        } else if n <= u32::MAX as usize {
            self.op(&Op::BinUnicode(utf8))
        } else if self.protocol >= 4 {
            self.op(&Op::BinUnicode8(utf8))
        } else {
            Err(WriteError::Unsupported {
                what: format!("a str of {n} bytes needs protocol 4"),
            })
        }
    }

    /// A `bytes` object: `SHORT_BINBYTES`, `BINBYTES`, `BINBYTES8` (protocol 4+, over 4 GiB).
    /// Below protocol 3 there is no bytes opcode and [`WriteError::Unsupported`] is returned;
    /// the caller must build the value another way (CPython uses `_codecs.encode`).
    pub fn bytes(&mut self, b: &[u8]) -> Result<(), WriteError> {
        let n = b.len();
        if self.protocol < 3 {
            Err(WriteError::Unsupported {
                what: format!(
                    "bytes opcodes need protocol 3, writing protocol {}",
                    self.protocol
                ),
            })
        } else if n <= 0xff {
            self.op(&Op::ShortBinBytes(b))
        } else if n <= u32::MAX as usize {
            self.op(&Op::BinBytes(b))
        } else if self.protocol >= 4 {
            self.op(&Op::BinBytes8(b))
        } else {
            Err(WriteError::Unsupported {
                what: format!("bytes of {n} bytes need protocol 4"),
            })
        }
    }

    /// A `bytearray` via `BYTEARRAY8` (protocol 5 only; [`WriteError::Unsupported`] before).
    pub fn bytearray(&mut self, b: &[u8]) -> Result<(), WriteError> {
        if self.protocol < 5 {
            return Err(WriteError::Unsupported {
                what: format!(
                    "BYTEARRAY8 needs protocol 5, writing protocol {}",
                    self.protocol
                ),
            });
        }
        self.op(&Op::ByteArray8(b))
    }

    /// Pushes the global `module.qualname`: `GLOBAL` below protocol 4 (UTF-8 lines), and from
    /// protocol 4 two strings and `STACK_GLOBAL` (no memo puts). Below protocol 4 CPython looks
    /// the name up with a single `getattr`, so a dotted `qualname` gives
    /// [`WriteError::Unsupported`]; the caller must then build it with `getattr` reductions.
    pub fn global(&mut self, module: &str, qualname: &str) -> Result<(), WriteError> {
        if self.protocol >= 4 {
            self.str(module)?;
            self.str(qualname)?;
            return self.op(&Op::StackGlobal);
        }
        if qualname.contains('.') {
            return Err(WriteError::Unsupported {
                what: format!(
                    "GLOBAL cannot name the nested attribute {module}.{qualname} below protocol 4"
                ),
            });
        }
        self.op(&Op::Global {
            module: module.as_bytes(),
            name: qualname.as_bytes(),
        })
    }

    /// `MARK`.
    pub fn mark(&mut self) -> Result<(), WriteError> {
        self.op(&Op::Mark)
    }

    /// Stores the top of the stack in the memo at the next free index, and returns that index:
    /// `MEMOIZE` from protocol 4, `BINPUT`/`LONG_BINPUT` from protocol 1, `PUT` at protocol 0.
    /// Use only this for memo puts so the writer's count stays right.
    pub fn memoize(&mut self) -> Result<u32, WriteError> {
        let idx = u32::try_from(self.memo_len).map_err(|_| WriteError::Unsupported {
            what: "more than 2^32 memo entries".into(),
        })?;
        match self.protocol {
            0 => self.op(&Op::Put(u64::from(idx)))?,
            1..=3 => match u8::try_from(idx) {
                Ok(i) => self.op(&Op::BinPut(i))?,
                Err(_) => self.op(&Op::LongBinPut(idx))?,
            },
            _ => self.op(&Op::Memoize)?,
        }
        Ok(idx)
    }

    /// Pushes memo entry `idx`: `BINGET`/`LONG_BINGET` from protocol 1, `GET` at protocol 0.
    pub fn get(&mut self, idx: u32) -> Result<(), WriteError> {
        if self.protocol == 0 {
            return self.op(&Op::Get(u64::from(idx)));
        }
        match u8::try_from(idx) {
            Ok(i) => self.op(&Op::BinGet(i)),
            Err(_) => self.op(&Op::LongBinGet(idx)),
        }
    }

    /// `POP`.
    pub fn pop(&mut self) -> Result<(), WriteError> {
        self.op(&Op::Pop)
    }

    /// `STOP`.
    pub fn stop(&mut self) -> Result<(), WriteError> {
        self.op(&Op::Stop)
    }
}

fn check_line(op: &Op<'_>, line: &[u8]) -> Result<(), WriteError> {
    if line.contains(&b'\n') {
        return Err(WriteError::InvalidArgument {
            opcode: op.name(),
            reason: "a text argument cannot contain a newline".into(),
        });
    }
    Ok(())
}

fn too_long(op: &Op<'_>, len: usize, max: u64) -> WriteError {
    WriteError::InvalidArgument {
        opcode: op.name(),
        reason: format!("payload of {len} bytes exceeds the maximum of {max}"),
    }
}

/// Formats `v` in decimal into `buf`, returning the digits.
fn decimal_u64(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(
        protocol: u8,
        f: impl FnOnce(&mut Writer<Vec<u8>>) -> Result<(), WriteError>,
    ) -> Vec<u8> {
        let mut w = Writer::new(Vec::new(), protocol).unwrap();
        f(&mut w).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn header() {
        assert_eq!(written(0, |_| Ok(())), b"");
        assert_eq!(written(1, |_| Ok(())), b"");
        assert_eq!(written(2, |_| Ok(())), b"\x80\x02");
        assert_eq!(written(5, |_| Ok(())), b"\x80\x05");
        assert!(matches!(
            Writer::new(Vec::new(), 6),
            Err(WriteError::InvalidProtocol { protocol: 6 })
        ));
        // PROTO and FRAME ops are the writer's business
        let out = written(2, |w| {
            w.op(&Op::Proto(3))?;
            w.op(&Op::Frame(9))
        });
        assert_eq!(out, b"\x80\x02");
    }

    #[test]
    fn ints_like_cpython() {
        let cases: &[(u8, i64, &[u8])] = &[
            (0, 0, b"I0\n"),
            (0, -5, b"I-5\n"),
            (0, 2147483647, b"I2147483647\n"),
            (0, 2147483648, b"L2147483648L\n"),
            (1, 255, b"K\xff"),
            (1, 256, b"M\x00\x01"),
            (1, 65536, b"J\x00\x00\x01\x00"),
            (1, -1, b"J\xff\xff\xff\xff"),
            (1, -2147483649, b"L-2147483649L\n"),
            (2, 2147483648, b"\x80\x02\x8a\x05\x00\x00\x00\x80\x00"),
            (
                2,
                i64::MIN,
                b"\x80\x02\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80",
            ),
        ];
        for &(p, v, want) in cases {
            assert_eq!(written(p, |w| w.int_i64(v)), want, "protocol {p} value {v}");
        }
        // 2**64 at protocols 1 and 2; 2**2048 needs LONG4
        let two64 = [0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            written(1, |w| w.int_le_bytes(&two64)),
            b"L18446744073709551616L\n"
        );
        assert_eq!(
            written(2, |w| w.int_le_bytes(&two64)),
            b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01"
        );
        let mut big = vec![0u8; 256];
        big.push(1);
        let out = written(3, |w| w.int_le_bytes(&big));
        assert_eq!(&out[..7], b"\x80\x03\x8b\x01\x01\x00\x00");
        assert_eq!(out.len(), 7 + 257);
        assert_eq!(
            written(3, |w| w.int_le_bytes(b"\x05\x00\x00")),
            b"\x80\x03K\x05"
        );
    }

    #[test]
    fn constants() {
        assert_eq!(written(0, |w| w.bool(true)), b"I01\n");
        assert_eq!(written(1, |w| w.bool(false)), b"I00\n");
        assert_eq!(written(2, |w| w.bool(true)), b"\x80\x02\x88");
        assert_eq!(written(3, |w| w.bool(false)), b"\x80\x03\x89");
        assert_eq!(written(0, |w| w.none()), b"N");
        assert_eq!(written(0, |w| w.float(1.5)), b"F1.5\n");
        assert_eq!(
            written(1, |w| w.float(1.5)),
            b"G?\xf8\x00\x00\x00\x00\x00\x00"
        );
    }

    #[test]
    fn strings_and_bytes() {
        assert_eq!(
            written(0, |w| w.str("a\\\n\u{e9}\u{1234}")),
            b"Va\\u005c\\u000a\xe9\\u1234\n"
        );
        assert_eq!(written(1, |w| w.str("ab")), b"X\x02\x00\x00\x00ab");
        assert_eq!(
            written(4, |w| w.str("ab")),
            b"\x80\x04\x95\x04\x00\x00\x00\x00\x00\x00\x00\x8c\x02ab"
        );
        let s256 = "x".repeat(256);
        let out = written(4, |w| w.str(&s256));
        assert_eq!(&out[11..16], b"X\x00\x01\x00\x00");
        assert_eq!(
            written(0, |w| w.str_utf8_surrogatepass(b"\xed\xa0\x80")),
            b"V\\ud800\n"
        );
        assert_eq!(
            written(3, |w| w.str_utf8_surrogatepass(b"\xed\xa0\x80")),
            b"\x80\x03X\x03\x00\x00\x00\xed\xa0\x80"
        );
        assert!(Writer::new(Vec::new(), 3)
            .unwrap()
            .str_utf8_surrogatepass(b"\xff")
            .is_err());
        assert_eq!(written(3, |w| w.bytes(b"ab")), b"\x80\x03C\x02ab");
        let b256 = vec![7u8; 256];
        assert_eq!(&written(3, |w| w.bytes(&b256))[2..7], b"B\x00\x01\x00\x00");
        assert!(matches!(
            Writer::new(Vec::new(), 2).unwrap().bytes(b"x"),
            Err(WriteError::Unsupported { .. })
        ));
        assert!(matches!(
            Writer::new(Vec::new(), 4).unwrap().bytearray(b"x"),
            Err(WriteError::Unsupported { .. })
        ));
        assert_eq!(
            written(5, |w| w.bytearray(b"x")),
            b"\x80\x05\x95\x0a\x00\x00\x00\x00\x00\x00\x00\x96\x01\x00\x00\x00\x00\x00\x00\x00x"
        );
    }

    #[test]
    fn globals_and_memo() {
        assert_eq!(
            written(0, |w| w.global("collections", "OrderedDict")),
            b"ccollections\nOrderedDict\n"
        );
        assert!(matches!(
            Writer::new(Vec::new(), 3).unwrap().global("m", "A.B"),
            Err(WriteError::Unsupported { .. })
        ));
        assert_eq!(
            written(4, |w| w.global("m", "A.B")),
            b"\x80\x04\x95\x09\x00\x00\x00\x00\x00\x00\x00\x8c\x01m\x8c\x03A.B\x93"
        );
        let out = written(0, |w| {
            assert_eq!(w.memoize()?, 0);
            assert_eq!(w.memoize()?, 1);
            w.get(1)
        });
        assert_eq!(out, b"p0\np1\ng1\n");
        let out = written(1, |w| {
            for i in 0..257 {
                assert_eq!(w.memoize()?, i);
            }
            w.get(5)?;
            w.get(256)
        });
        assert!(out.starts_with(b"q\x00q\x01"));
        assert!(out.ends_with(b"q\xffr\x00\x01\x00\x00h\x05j\x00\x01\x00\x00"));
        let out = written(4, |w| {
            w.op(&Op::Memoize)?;
            assert_eq!(w.memoize()?, 1);
            w.mark()?;
            w.pop()?;
            w.stop()
        });
        assert_eq!(
            out,
            b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00\x94\x94(0."
        );
        // explicit puts at the next index count too
        let mut w = Writer::new(Vec::new(), 2).unwrap();
        w.op(&Op::BinPut(0)).unwrap();
        w.op(&Op::BinPut(7)).unwrap();
        assert_eq!(w.memo_len(), 1);
    }

    #[test]
    fn rejects_what_cannot_be_encoded() {
        let mut w = Writer::new(Vec::new(), 3).unwrap();
        assert!(matches!(
            w.op(&Op::Memoize),
            Err(WriteError::OpcodeAboveProtocol {
                opcode: "MEMOIZE",
                needed: 4,
                protocol: 3
            })
        ));
        assert!(matches!(
            w.op(&Op::Int(b"1\n2")),
            Err(WriteError::InvalidArgument { opcode: "INT", .. })
        ));
        assert!(matches!(
            w.op(&Op::ShortBinBytes(&[0; 256])),
            Err(WriteError::InvalidArgument {
                opcode: "SHORT_BINBYTES",
                ..
            })
        ));
        assert!(matches!(
            w.op(&Op::Global {
                module: b"a\nb",
                name: b"c"
            }),
            Err(WriteError::InvalidArgument {
                opcode: "GLOBAL",
                ..
            })
        ));
        let mut w0 = Writer::new(Vec::new(), 0).unwrap();
        assert!(matches!(
            w0.op(&Op::BinInt1(1)),
            Err(WriteError::OpcodeAboveProtocol { .. })
        ));
        assert_eq!(w.finish().unwrap(), b"\x80\x03");
    }

    #[test]
    fn framing_small_and_large() {
        // Small tail without FRAME header (fewer than 4 bytes)
        assert_eq!(
            written(4, |w| {
                w.none()?;
                w.stop()
            }),
            b"\x80\x04N."
        );
        // large payload goes outside frames, preceded by the committed frame
        let big = vec![b'z'; FRAME_SIZE_TARGET];
        let out = written(4, |w| {
            w.op(&Op::EmptyList)?;
            w.memoize()?;
            w.mark()?;
            w.op(&Op::Mark)?;
            w.bytes(&big)?;
            w.memoize()?;
            w.stop()
        });
        let mut want = b"\x80\x04\x95\x04\x00\x00\x00\x00\x00\x00\x00]\x94((".to_vec();
        want.extend_from_slice(b"B\x00\x00\x01\x00");
        want.extend_from_slice(&big);
        want.extend_from_slice(b"\x94.");
        assert!(out == want, "unexpected framing: {:?}", &out[..30]);
        // protocol 3: same bytes as unframed
        let out = written(3, |w| {
            w.bytes(&big)?;
            w.stop()
        });
        assert_eq!(&out[..7], b"\x80\x03B\x00\x00\x01\x00");
        assert_eq!(out.len(), 7 + big.len() + 1);
    }

    #[test]
    fn frames_commit_at_target() {
        // 300 strings of 250 bytes (252-byte ops): the first frame closes at the first op
        // boundary at or above 64 KiB.
        let s = "y".repeat(250);
        let out = written(4, |w| {
            for _ in 0..300 {
                w.str(&s)?;
            }
            w.stop()
        });
        assert_eq!(out[2], 0x95);
        let len = u64::from_le_bytes(out[3..11].try_into().unwrap()) as usize;
        assert_eq!(len, 261 * 252); // 65772 >= 65536 > 260 * 252
        assert_eq!(out[11 + len], 0x95);
        let len2 = u64::from_le_bytes(out[12 + len..20 + len].try_into().unwrap()) as usize;
        assert_eq!(len2, 39 * 252 + 1);
        assert_eq!(out.len(), 20 + len + len2);
    }

    #[test]
    fn decimal() {
        let mut b = [0u8; 20];
        assert_eq!(decimal_u64(0, &mut b), b"0");
        assert_eq!(decimal_u64(u64::MAX, &mut b), b"18446744073709551615");
    }
}
