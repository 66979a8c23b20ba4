//! Decoders (and the few encoders the writer needs) for the textual arguments of protocol 0
//! opcodes, plus a small integer model.
//!
//! The reader keeps text arguments as raw lines so plain pickles round-trip byte for byte; these
//! helpers turn them into values when a consumer needs them. They follow what CPython's
//! unpickler accepts, with a few deliberate restrictions that are documented per function.
//!
//! Python `str` payloads may hold lone surrogates, which Rust strings cannot. Functions with
//! `surrogatepass` in their name work on "UTF-8 with surrogates" byte strings (what CPython
//! writes with `encode("utf-8", "surrogatepass")`, i.e. the payload of `BINUNICODE`) so those
//! strings survive a conversion.

use crate::error::{show_line, TextError, TextFault};

/// Decimal integers with more digits than this are refused by
/// [`IntValue::parse_decimal_line`], because conversion is quadratic. CPython 3.11+ refuses
/// more than 4300 digits by default, so no modern pickle holds more.
pub const MAX_DECIMAL_DIGITS: usize = 100_000;

/// An integer of any size.
///
/// The representation is canonical: `Small` holds every value that fits in an `i64`, and `Big`
/// holds the minimal little-endian two's-complement encoding (as in `LONG1`/`LONG4`) of every
/// other value, so derived equality is value equality.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IntValue {
    Small(i64),
    /// Minimal little-endian two's complement, at least 9 bytes long.
    Big(Vec<u8>),
}

/// The boolean meaning of an `INT` line: protocol 0 writes `True` as `I01` and `False` as `I00`
/// (the line without its newline is `b"01"` / `b"00"`). Any other line is an integer.
pub fn bool_from_int_line(line: &[u8]) -> Option<bool> {
    match line {
        b"01" => Some(true),
        b"00" => Some(false),
        _ => None,
    }
}

/// Splits an `INT`/`LONG` line into (negative, digits) after checking its syntax: optional
/// surrounding ASCII whitespace, an optional sign, ASCII digits, an optional trailing `L`.
///
/// CPython also accepts `0x`/`0o`/`0b` prefixes and `_` separators in `INT` lines (it calls
/// `int(line, 0)`); no pickler writes those, and they are refused here.
fn split_decimal(line: &[u8]) -> Result<(bool, &[u8]), TextError> {
    let bad = || TextError::NotDecimal(show_line(line));
    let mut s = trim_ascii(line);
    if let [rest @ .., b'L'] = s {
        s = rest;
    }
    let (negative, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    Ok((negative, digits))
}

/// Checks the syntax of an `INT`/`LONG` line without converting it (no size limit).
pub fn validate_decimal_line(line: &[u8]) -> Result<(), TextError> {
    split_decimal(line).map(|_| ())
}

/// Parses the argument of a text `GET`/`PUT` (decimal digits, optional surrounding whitespace).
pub fn parse_memo_index_line(line: &[u8]) -> Result<u64, TextError> {
    let digits = trim_ascii(line);
    let bad = || TextError::NotDecimal(show_line(line));
    if digits.is_empty() {
        return Err(bad());
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        if !d.is_ascii_digit() {
            return Err(bad());
        }
        acc.checked_mul(10)
            .and_then(|a| a.checked_add(u64::from(d - b'0')))
            .ok_or_else(bad)
    })
}

impl IntValue {
    /// Parses the line of an `INT` or `LONG` op (without its newline): optional sign, decimal
    /// digits, optional trailing `L` (Python 2 longs), optional surrounding whitespace. `I01`/`I00`
    /// parse as 1 and 0 here; use [`bool_from_int_line`] first to recognise booleans.
    pub fn parse_decimal_line(line: &[u8]) -> Result<IntValue, TextError> {
        let (negative, digits) = split_decimal(line)?;
        if digits.len() > MAX_DECIMAL_DIGITS {
            return Err(TextError::TooManyDigits(digits.len()));
        }
        if digits.len() <= 18 {
            let mag = digits
                .iter()
                .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
            return Ok(IntValue::Small(if negative { -mag } else { mag }));
        }
        // Base 2^32 magnitude, fed nine digits at a time.
        let mut limbs: Vec<u32> = Vec::with_capacity(digits.len() / 9 + 1);
        let first = digits.len() % 9;
        let (head, tail) = digits.split_at(first);
        let chunks = std::iter::once(head)
            .filter(|c| !c.is_empty())
            .chain(tail.chunks(9));
        for chunk in chunks {
            let value = chunk
                .iter()
                .fold(0u32, |acc, &d| acc * 10 + u32::from(d - b'0'));
            let scale = 10u32.pow(chunk.len() as u32);
            mul_add_small(&mut limbs, scale, value);
        }
        let mut bytes: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
        bytes.push(0); // room for the sign bit
        if negative {
            negate_twos_complement(&mut bytes);
        }
        Ok(IntValue::from_le_bytes(&bytes))
    }

    /// Decodes little-endian two's complement as `LONG1`/`LONG4` carry it; empty means 0.
    /// Redundant sign bytes are accepted.
    pub fn from_le_bytes(bytes: &[u8]) -> IntValue {
        let minimal = minimal_twos_complement(bytes);
        if minimal.len() <= 8 {
            let fill = match minimal.last() {
                Some(b) if b & 0x80 != 0 => 0xff,
                _ => 0,
            };
            let mut buf = [fill; 8];
            for (dst, src) in buf.iter_mut().zip(minimal) {
                *dst = *src;
            }
            IntValue::Small(i64::from_le_bytes(buf))
        } else {
            IntValue::Big(minimal.to_vec())
        }
    }

    /// The minimal little-endian two's-complement encoding, as CPython's `encode_long` gives it
    /// (0 is empty, 255 is `ff 00`, -1 is `ff`).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            IntValue::Small(v) => minimal_twos_complement(&v.to_le_bytes()).to_vec(),
            IntValue::Big(b) => b.clone(),
        }
    }

    /// The value if it fits in an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            IntValue::Small(v) => Some(*v),
            IntValue::Big(_) => None,
        }
    }

    /// Decimal representation with a leading `-` for negative values, as Python's `repr`.
    pub fn to_decimal(&self) -> String {
        let bytes = match self {
            IntValue::Small(v) => return v.to_string(),
            IntValue::Big(b) => b,
        };
        let negative = bytes.last().is_some_and(|b| b & 0x80 != 0);
        let mut mag = bytes.clone();
        if negative {
            negate_twos_complement(&mut mag);
        }
        let mut limbs: Vec<u32> = mag
            .chunks(4)
            .map(|c| {
                let mut w = [0u8; 4];
                for (dst, src) in w.iter_mut().zip(c) {
                    *dst = *src;
                }
                u32::from_le_bytes(w)
            })
            .collect();
        let mut groups = Vec::new(); // base 10^9, least significant first
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
        while !limbs.is_empty() {
            groups.push(div_rem_small(&mut limbs, 1_000_000_000));
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
        }
        let mut s = String::with_capacity(groups.len() * 9 + 1);
        if negative {
            s.push('-');
        }
        let mut iter = groups.iter().rev();
        if let Some(top) = iter.next() {
            s.push_str(&top.to_string());
        } else {
            s.push('0');
        }
        for g in iter {
            s.push_str(&format!("{g:09}"));
        }
        s
    }
}

/// `limbs = limbs * mul + add` on a base 2^32 little-endian magnitude.
fn mul_add_small(limbs: &mut Vec<u32>, mul: u32, add: u32) {
    let mut carry = u64::from(add);
    for limb in limbs.iter_mut() {
        let v = u64::from(*limb) * u64::from(mul) + carry;
        *limb = v as u32;
        carry = v >> 32;
    }
    if carry != 0 {
        limbs.push(carry as u32);
    }
}

/// Divides a base 2^32 little-endian magnitude in place, returning the remainder.
fn div_rem_small(limbs: &mut [u32], div: u32) -> u32 {
    let mut rem = 0u64;
    for limb in limbs.iter_mut().rev() {
        let cur = (rem << 32) | u64::from(*limb);
        *limb = (cur / u64::from(div)) as u32;
        rem = cur % u64::from(div);
    }
    rem as u32
}

/// In-place two's-complement negation of a little-endian byte string (fixed width).
fn negate_twos_complement(bytes: &mut [u8]) {
    let mut carry = true;
    for b in bytes.iter_mut() {
        let (v, c) = (!*b).overflowing_add(u8::from(carry));
        *b = v;
        carry = c;
    }
}

/// Strips redundant sign-extension bytes from little-endian two's complement.
fn minimal_twos_complement(bytes: &[u8]) -> &[u8] {
    let mut s = bytes;
    while let [.., prev, last] = s {
        let redundant = (*last == 0x00 && prev & 0x80 == 0) || (*last == 0xff && prev & 0x80 != 0);
        match s.split_last() {
            Some((_, init)) if redundant => s = init,
            _ => break,
        }
    }
    if s == [0x00] {
        &[]
    } else {
        s
    }
}

/// `<[u8]>::trim_ascii` without needing Rust 1.80.
pub(crate) fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !first.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !last.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    s
}

/// Parses the line of a `FLOAT` op: what Rust's and Python's float syntaxes share (`1.5`,
/// `-2e-05`, `1e+16`, `inf`, `nan`, ...), with optional surrounding whitespace. A finite literal
/// that overflows to infinity is an error, as in CPython's C unpickler.
pub fn parse_float_line(line: &[u8]) -> Result<f64, TextError> {
    let bad = || TextError::NotFloat(show_line(line));
    let s = std::str::from_utf8(trim_ascii(line)).map_err(|_| bad())?;
    if s.contains('_') {
        return Err(bad());
    }
    let v: f64 = s.parse().map_err(|_| bad())?;
    if v.is_infinite() && !s.to_ascii_lowercase().contains("inf") {
        return Err(TextError::NotFloat(format!(
            "{} is out of range",
            show_line(line)
        )));
    }
    Ok(v)
}

/// Splits a `STRING` line into its quote-stripped body.
fn string_body(line: &[u8]) -> Result<&[u8], TextError> {
    match line {
        [q @ (b'\'' | b'"'), body @ .., last] if q == last => Ok(body),
        _ => Err(TextError::NotQuoted),
    }
}

/// Python's `codecs.escape_decode`, feeding decoded bytes to `sink`.
fn escape_decode(body: &[u8], mut sink: impl FnMut(u8)) -> Result<(), TextError> {
    let mut i = 0usize;
    while let Some(&c) = body.get(i) {
        i += 1;
        if c != b'\\' {
            sink(c);
            continue;
        }
        let Some(&e) = body.get(i) else {
            return Err(TextError::BadEscape("trailing \\ in string".into()));
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => sink(e),
            b'a' => sink(0x07),
            b'b' => sink(0x08),
            b't' => sink(b'\t'),
            b'n' => sink(b'\n'),
            b'v' => sink(0x0b),
            b'f' => sink(0x0c),
            b'r' => sink(b'\r'),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match body.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                // CPython keeps the low byte of escapes above \377 (with a warning).
                sink(v as u8);
            }
            b'x' => {
                let hex = body.get(i..i + 2).and_then(|h| {
                    let s = std::str::from_utf8(h).ok()?;
                    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return None;
                    }
                    u8::from_str_radix(s, 16).ok()
                });
                match hex {
                    Some(v) => sink(v),
                    None => {
                        return Err(TextError::BadEscape(format!(
                            "invalid \\x escape at position {}",
                            i - 2
                        )))
                    }
                }
                i += 2;
            }
            other => {
                sink(b'\\');
                sink(other);
            }
        }
    }
    Ok(())
}

/// Decodes the line of a `STRING` op (the `repr` of a Python 2 `str`, quotes included): it
/// must start and end with the same quote character, and the body is unescaped like
/// `codecs.escape_decode` (`\n`, `\xhh`, octal `\ooo`, `\'`, line continuations; unknown escapes
/// stay as they are).
pub fn unquote_string_line(line: &[u8]) -> Result<Vec<u8>, TextError> {
    let body = string_body(line)?;
    let mut out = Vec::with_capacity(body.len());
    escape_decode(body, |b| out.push(b))?;
    Ok(out)
}

/// Checks a `STRING` line like [`unquote_string_line`] without allocating.
pub fn validate_string_line(line: &[u8]) -> Result<(), TextError> {
    escape_decode(string_body(line)?, |_| {})
}

/// Decodes `raw-unicode-escape` to code points (surrogates included), as Python does: bytes are
/// Latin-1 code points, and `\uXXXX` / `\UXXXXXXXX` are escapes only when preceded by an odd
/// number of backslashes.
pub fn raw_unicode_escape_code_points(line: &[u8]) -> Result<Vec<u32>, TextError> {
    let mut out = Vec::with_capacity(line.len());
    raw_unicode_escape_walk(line, |cp| out.push(cp)).map_err(|(pos, fault)| {
        TextError::BadEscape(match fault {
            TextFault::EscapeOutOfRange(v) => {
                format!("\\U{v:08x} at position {pos} is out of range")
            }
            _ => format!(
                "truncated \\{} escape at position {pos}",
                if line.get(pos + 1) == Some(&b'u') {
                    "uXXXX"
                } else {
                    "UXXXXXXXX"
                }
            ),
        })
    })?;
    Ok(out)
}

/// Checks the line of a `UNICODE` op as CPython's `raw-unicode-escape` decoder would, without
/// allocating. The error holds the position of the bad escape's backslash.
pub fn validate_raw_unicode_escape(line: &[u8]) -> Result<(), (usize, TextFault)> {
    raw_unicode_escape_walk(line, |_| {})
}

fn raw_unicode_escape_walk(
    line: &[u8],
    mut sink: impl FnMut(u32),
) -> Result<(), (usize, TextFault)> {
    let mut i = 0usize;
    while let Some(&c) = line.get(i) {
        if c != b'\\' {
            sink(u32::from(c));
            i += 1;
            continue;
        }
        let start = i;
        while line.get(i) == Some(&b'\\') {
            i += 1;
        }
        let run = i - start;
        let odd = run % 2 == 1;
        let count = match line.get(i) {
            Some(b'u') if odd => 4,
            Some(b'U') if odd => 8,
            _ => {
                (0..run).for_each(|_| sink(u32::from(b'\\')));
                continue;
            }
        };
        (0..run - 1).for_each(|_| sink(u32::from(b'\\')));
        let esc_start = i - 1;
        i += 1;
        let value = line.get(i..i + count).and_then(|h| {
            if !h.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
        });
        let Some(value) = value else {
            return Err((esc_start, TextFault::TruncatedEscape));
        };
        if value > 0x10FFFF {
            return Err((esc_start, TextFault::EscapeOutOfRange(value)));
        }
        sink(value);
        i += count;
    }
    Ok(())
}

/// Checks a `BINUNICODE`-family payload as CPython decodes it: UTF-8 with `surrogatepass`
/// (`ED A0 80` ..= `ED BF BF`, the encoded surrogates, are accepted). The error holds the
/// position of the first bad byte.
pub fn validate_utf8_surrogatepass(bytes: &[u8]) -> Result<(), (usize, TextFault)> {
    let mut pos = 0usize;
    loop {
        let rest = &bytes[pos..];
        match std::str::from_utf8(rest) {
            Ok(_) => return Ok(()),
            Err(e) => {
                let at = pos + e.valid_up_to();
                if let [0xED, 0xA0..=0xBF, 0x80..=0xBF, ..] = &bytes[at..] {
                    pos = at + 3;
                    continue;
                }
                return Err((at, utf8_fault(&bytes[at..], e.error_len())));
            }
        }
    }
}

/// Checks a `GLOBAL` module or name line: strict UTF-8, as CPython 3 decodes it.
pub fn validate_utf8_strict(bytes: &[u8]) -> Result<(), (usize, TextFault)> {
    std::str::from_utf8(bytes).map(|_| ()).map_err(|e| {
        let at = e.valid_up_to();
        (at, utf8_fault(&bytes[at..], e.error_len()))
    })
}

/// Checks an `INST` module or name line: ASCII, as CPython 3 decodes it.
pub fn validate_ascii(bytes: &[u8]) -> Result<(), (usize, TextFault)> {
    match bytes.iter().position(|b| !b.is_ascii()) {
        None => Ok(()),
        Some(at) => Err((at, TextFault::InvalidByte(bytes[at]))),
    }
}

fn utf8_fault(at: &[u8], error_len: Option<usize>) -> TextFault {
    match (error_len, at.first()) {
        (Some(_), Some(&b)) => TextFault::InvalidByte(b),
        _ => TextFault::UnexpectedEnd,
    }
}

/// Decodes the line of a `UNICODE` op. `None` if the escapes are malformed or the text holds a
/// surrogate (a Rust `String` cannot; use [`raw_unicode_escape_to_surrogatepass`] then).
pub fn decode_raw_unicode_escape(line: &[u8]) -> Option<String> {
    raw_unicode_escape_code_points(line)
        .ok()?
        .into_iter()
        .map(char::from_u32)
        .collect()
}

/// Decodes the line of a `UNICODE` op into UTF-8 with surrogates encoded individually, the
/// payload `BINUNICODE` would carry for the same Python `str`.
pub fn raw_unicode_escape_to_surrogatepass(line: &[u8]) -> Result<Vec<u8>, TextError> {
    let cps = raw_unicode_escape_code_points(line)?;
    let mut out = Vec::with_capacity(cps.len());
    for cp in cps {
        push_surrogatepass(&mut out, cp);
    }
    Ok(out)
}

fn push_surrogatepass(out: &mut Vec<u8>, cp: u32) {
    if let Some(c) = char::from_u32(cp) {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    } else {
        // A surrogate (callers only pass code points <= 0x10FFFF).
        out.extend_from_slice(&[
            0xE0 | (cp >> 12) as u8,
            0x80 | ((cp >> 6) & 0x3F) as u8,
            0x80 | (cp & 0x3F) as u8,
        ]);
    }
}

/// Decodes UTF-8 that may hold individually encoded surrogates (`surrogatepass`), as CPython
/// decodes `BINUNICODE` payloads. `None` if the bytes are not valid in that sense.
pub fn utf8_surrogatepass_code_points(bytes: &[u8]) -> Option<Vec<u32>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.extend(s.chars().map(u32::from));
                return Some(out);
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.extend(std::str::from_utf8(valid).ok()?.chars().map(u32::from));
                match after {
                    [0xED, b1 @ 0xA0..=0xBF, b2 @ 0x80..=0xBF, tail @ ..] => {
                        out.push(0xD000 | (u32::from(b1 & 0x3F) << 6) | u32::from(b2 & 0x3F));
                        rest = tail;
                    }
                    _ => return None,
                }
            }
        }
    }
}

/// Encodes code points the way CPython's pickler writes a `str` at protocol 0: `\`, NUL, `\n`,
/// `\r` and `\x1a` become `\u005c`, `\u0000`, `\u000a`, `\u000d`, `\u001a` (Python 3.8+; 2.7 and
/// 3.6 escape only `\` and `\n`), code points below 256 are written as Latin-1 bytes, others as
/// lowercase `\uXXXX` / `\UXXXXXXXX`.
fn encode_code_points(cps: impl Iterator<Item = u32>, out: &mut Vec<u8>) {
    for cp in cps {
        match cp {
            0x5c | 0x00 | 0x0a | 0x0d | 0x1a => {
                out.extend_from_slice(format!("\\u{cp:04x}").as_bytes())
            }
            0..=0xff => out.push(cp as u8),
            0x100..=0xffff => out.extend_from_slice(format!("\\u{cp:04x}").as_bytes()),
            _ => out.extend_from_slice(format!("\\U{cp:08x}").as_bytes()),
        }
    }
}

/// The line (without newline) CPython 3.8+ writes for `str` `s` at protocol 0; see
/// [`raw_unicode_escape_code_points`] for the inverse.
pub fn encode_raw_unicode_escape(s: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 8);
    encode_code_points(s.chars().map(u32::from), &mut out);
    out
}

/// Like [`encode_raw_unicode_escape`] for a `surrogatepass` UTF-8 payload; `None` if the payload
/// is not valid in that sense.
pub fn encode_raw_unicode_escape_surrogatepass(bytes: &[u8]) -> Option<Vec<u8>> {
    let cps = utf8_surrogatepass_code_points(bytes)?;
    let mut out = Vec::with_capacity(bytes.len() + 8);
    encode_code_points(cps.into_iter(), &mut out);
    Some(out)
}

/// The payload of `BINUNICODE`-family ops as `&str` when it is plain UTF-8 (`None` if it holds
/// surrogates or is invalid).
pub fn utf8_text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> IntValue {
        IntValue::parse_decimal_line(s.as_bytes()).unwrap()
    }

    #[test]
    fn decimal_small_and_bool_forms() {
        assert_eq!(int("0"), IntValue::Small(0));
        assert_eq!(int("-42"), IntValue::Small(-42));
        assert_eq!(int("+7"), IntValue::Small(7));
        assert_eq!(int(" 5 "), IntValue::Small(5));
        assert_eq!(int("123L"), IntValue::Small(123));
        assert_eq!(int("01"), IntValue::Small(1));
        assert_eq!(bool_from_int_line(b"01"), Some(true));
        assert_eq!(bool_from_int_line(b"00"), Some(false));
        assert_eq!(bool_from_int_line(b"1"), None);
        assert_eq!(int("9223372036854775807"), IntValue::Small(i64::MAX));
        assert_eq!(int("-9223372036854775808"), IntValue::Small(i64::MIN));
        for bad in ["", "L", "-", "1.5", "0x10", "1_0", "12a", "--1", "LL"] {
            assert!(
                IntValue::parse_decimal_line(bad.as_bytes()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn decimal_big_matches_le_bytes() {
        // 2**64 = 00 00 00 00 00 00 00 00 01
        assert_eq!(
            int("18446744073709551616"),
            IntValue::Big(vec![0, 0, 0, 0, 0, 0, 0, 0, 1])
        );
        // -2**63 - 1 needs 9 bytes: ff ff ff ff ff ff ff 7f ff
        assert_eq!(
            int("-9223372036854775809"),
            IntValue::Big(vec![0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff])
        );
        // 2**63 = 00.. 80 00
        assert_eq!(
            int("9223372036854775808L"),
            IntValue::Big(vec![0, 0, 0, 0, 0, 0, 0, 0x80, 0])
        );
        for s in [
            "18446744073709551616",
            "-9223372036854775809",
            "123456789012345678901234567890123456789012345678901234567890",
            "-100000000000000000000000000000000000000000000000000000000000000",
        ] {
            assert_eq!(int(s).to_decimal(), s);
            let v = int(s);
            assert_eq!(IntValue::from_le_bytes(&v.to_le_bytes()), v);
        }
    }

    #[test]
    fn le_bytes_like_encode_long() {
        let cases: &[(i64, &[u8])] = &[
            (0, b""),
            (255, b"\xff\x00"),
            (-1, b"\xff"),
            (-128, b"\x80"),
            (-129, b"\x7f\xff"),
            (127, b"\x7f"),
            (128, b"\x80\x00"),
            (i64::MIN, b"\x00\x00\x00\x00\x00\x00\x00\x80"),
        ];
        for &(v, enc) in cases {
            assert_eq!(IntValue::Small(v).to_le_bytes(), enc, "{v}");
            assert_eq!(IntValue::from_le_bytes(enc), IntValue::Small(v));
        }
        // redundant sign bytes are accepted
        assert_eq!(IntValue::from_le_bytes(b"\x05\x00\x00"), IntValue::Small(5));
        assert_eq!(
            IntValue::from_le_bytes(b"\xfe\xff\xff\xff"),
            IntValue::Small(-2)
        );
        assert_eq!(IntValue::from_le_bytes(b"\x00"), IntValue::Small(0));
        let big = IntValue::from_le_bytes(&[0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!(big, IntValue::Big(vec![0, 0, 0, 0, 0, 0, 0, 0, 1]));
        assert_eq!(big.to_decimal(), "18446744073709551616");
    }

    #[test]
    fn too_many_digits() {
        let s = "1".repeat(MAX_DECIMAL_DIGITS + 1);
        assert!(matches!(
            IntValue::parse_decimal_line(s.as_bytes()),
            Err(TextError::TooManyDigits(_))
        ));
        assert!(validate_decimal_line(s.as_bytes()).is_ok());
    }

    #[test]
    fn memo_index() {
        assert_eq!(parse_memo_index_line(b"12"), Ok(12));
        assert_eq!(parse_memo_index_line(b"18446744073709551615"), Ok(u64::MAX));
        assert!(parse_memo_index_line(b"18446744073709551616").is_err());
        assert!(parse_memo_index_line(b"").is_err());
        assert!(parse_memo_index_line(b"-1").is_err());
        assert!(parse_memo_index_line(b"1x").is_err());
    }

    #[test]
    fn floats() {
        assert_eq!(parse_float_line(b"1.5"), Ok(1.5));
        assert_eq!(parse_float_line(b"-2e-05"), Ok(-2e-05));
        assert_eq!(parse_float_line(b"1e+16"), Ok(1e16));
        assert_eq!(parse_float_line(b"inf"), Ok(f64::INFINITY));
        assert_eq!(parse_float_line(b"-inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_float_line(b"nan").unwrap().is_nan());
        assert_eq!(
            parse_float_line(b"-0.0").map(f64::to_bits),
            Ok((-0.0f64).to_bits())
        );
        for bad in ["", "1e999", "1_0", "0x1p3", "abc", "1.5.5"] {
            assert!(parse_float_line(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(unquote_string_line(b"'abc'").unwrap(), b"abc");
        assert_eq!(unquote_string_line(b"\"it's\"").unwrap(), b"it's");
        assert_eq!(
            unquote_string_line(br"'\x80\\\'\n\t\x00\r\a\b\f\v'").unwrap(),
            b"\x80\\'\n\t\x00\r\x07\x08\x0c\x0b"
        );
        assert_eq!(
            unquote_string_line(br"'\777\1234\08'").unwrap(),
            b"\xffS4\x008"
        );
        assert_eq!(unquote_string_line(br"'\q'").unwrap(), br"\q");
        assert_eq!(unquote_string_line(b"'a\\\nb'").unwrap(), b"ab");
        assert_eq!(unquote_string_line(b"''").unwrap(), b"");
        assert_eq!(
            unquote_string_line(b"'a\\'"),
            Err(TextError::BadEscape("trailing \\ in string".into()))
        );
        for bad in [
            &b"'abc"[..],
            b"'",
            b"",
            b"abc",
            b"'abc\"",
            br"'\x4'",
            br"'\xzz'",
        ] {
            assert!(unquote_string_line(bad).is_err(), "{bad:?}");
            assert!(validate_string_line(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn raw_unicode_escape_decoding() {
        assert_eq!(decode_raw_unicode_escape(b"abc").as_deref(), Some("abc"));
        assert_eq!(
            decode_raw_unicode_escape(b"\xe9").as_deref(),
            Some("\u{e9}")
        );
        assert_eq!(
            decode_raw_unicode_escape(br"\u1234\U0001f600").as_deref(),
            Some("\u{1234}\u{1f600}")
        );
        assert_eq!(
            decode_raw_unicode_escape(br"\\u0041").as_deref(),
            Some(r"\\u0041")
        );
        assert_eq!(
            decode_raw_unicode_escape(br"\\\u0041").as_deref(),
            Some(r"\\A")
        );
        assert_eq!(
            decode_raw_unicode_escape(br"\x41").as_deref(),
            Some(r"\x41")
        );
        assert_eq!(decode_raw_unicode_escape(b"\\").as_deref(), Some("\\"));
        assert_eq!(decode_raw_unicode_escape(br"\ud800"), None);
        assert!(raw_unicode_escape_code_points(br"\u00").is_err());
        assert!(raw_unicode_escape_code_points(br"\u004G").is_err());
        assert!(raw_unicode_escape_code_points(br"\U00110000").is_err());
        assert_eq!(
            raw_unicode_escape_to_surrogatepass(br"\ud83d\ude00a").unwrap(),
            b"\xed\xa0\xbd\xed\xb8\x80a"
        );
    }

    #[test]
    fn raw_unicode_escape_encoding_matches_cpython() {
        // pickle.dumps('a\\b\nc\rd\x00e\x1af\xe9\u1234\uabcd\U0001f600', 0) on 3.8+
        assert_eq!(
            encode_raw_unicode_escape("a\\b\nc\rd\0e\x1af\u{e9}\u{1234}\u{abcd}\u{1f600}"),
            &b"a\\u005cb\\u000ac\\u000dd\\u0000e\\u001af\xe9\\u1234\\uabcd\\U0001f600"[..]
        );
        assert_eq!(
            encode_raw_unicode_escape_surrogatepass(b"x\xed\xa0\x80").unwrap(),
            b"x\\ud800"
        );
        assert_eq!(encode_raw_unicode_escape_surrogatepass(b"\xff"), None);
        // round trip
        let s = "tab\there \\u0041 \u{10ffff}\u{7f}\u{80}";
        let enc = encode_raw_unicode_escape(s);
        assert!(!enc.contains(&b'\n'));
        assert_eq!(decode_raw_unicode_escape(&enc).as_deref(), Some(s));
    }

    #[test]
    fn surrogatepass_utf8() {
        assert_eq!(
            utf8_surrogatepass_code_points(b"a\xed\xb0\x80b"),
            Some(vec![0x61, 0xDC00, 0x62])
        );
        assert_eq!(utf8_surrogatepass_code_points(b"\xc0\x80"), None);
        assert_eq!(utf8_surrogatepass_code_points(b"\xed\xa0"), None);
        assert_eq!(utf8_text(b"\xed\xa0\x80"), None);
        assert_eq!(utf8_text("é".as_bytes()), Some("é"));
    }
}
