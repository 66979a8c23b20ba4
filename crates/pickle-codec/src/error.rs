//! Error types of the codec.
//!
//! Every [`CodecError`] names the byte offset of the opcode at fault (counted from the start of the
//! buffer given to [`crate::Reader`]) so a user can find the spot with `pickletools.dis` or a hex
//! dump. Messages read like `byte 1234: truncated BINUNICODE: needs 4000 bytes, 12 remain`.

use thiserror::Error;

/// Why the [`crate::Reader`] could not decode an opcode.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodecError {
    /// A byte that is not an opcode of any protocol.
    #[error("byte {offset}: unknown opcode {}", describe_byte(*.byte))]
    UnknownOpcode { offset: usize, byte: u8 },

    /// The argument of an opcode runs past the end of the input. `needed` is the size of the
    /// argument part that did not fit (a length field, or the payload announced by it) and
    /// `available` the bytes that remained at that point.
    #[error("byte {offset}: truncated {opcode}: needs {needed} bytes, {available} remain")]
    Truncated {
        offset: usize,
        opcode: &'static str,
        needed: u64,
        available: u64,
    },

    /// A text-protocol argument line is malformed: no terminating newline, a non-decimal
    /// integer, a badly quoted string, ...
    #[error("byte {offset}: bad {opcode} argument: {reason}")]
    BadLine {
        offset: usize,
        opcode: &'static str,
        reason: String,
    },

    /// A signed length field (`LONG4`, `BINSTRING`) holds a negative value.
    #[error("byte {offset}: {opcode} has a negative byte count")]
    NegativeLength { offset: usize, opcode: &'static str },

    /// `PROTO` announces a protocol newer than [`crate::HIGHEST_PROTOCOL`].
    #[error("byte {offset}: unsupported pickle protocol {version} (highest known is 5)")]
    UnsupportedProtocol { offset: usize, version: u8 },

    /// A `FRAME` announces more bytes than the input holds after it.
    #[error("byte {offset}: FRAME of {len} bytes overruns the input ({available} bytes remain)")]
    FrameOverrun {
        offset: usize,
        len: u64,
        available: u64,
    },

    /// The input ended before a `STOP` opcode; `offset` is the end of the input.
    #[error("byte {offset}: input ends without a STOP opcode")]
    MissingStop { offset: usize },

    /// A text argument is not valid in the encoding CPython's unpickler decodes it with, so
    /// `pickle.load` would raise `UnicodeDecodeError` there. `position` counts from the start
    /// of the argument (as CPython's message does); `offset` is the opcode's.
    #[error("byte {offset}: {opcode} argument is not valid {encoding}: {reason} at position {position} of the argument")]
    BadText {
        offset: usize,
        opcode: &'static str,
        encoding: TextEncoding,
        position: usize,
        reason: TextFault,
    },
}

/// The codec CPython 3 decodes a text argument with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// `BINUNICODE`, `SHORT_BINUNICODE`, `BINUNICODE8`: UTF-8, individually encoded surrogates
    /// allowed (`surrogatepass`).
    Utf8Surrogatepass,
    /// The module and name lines of `GLOBAL`: strict UTF-8.
    Utf8,
    /// The module and name lines of `INST` (and protocol-0 persistent ids): ASCII.
    Ascii,
    /// The line of `UNICODE`.
    RawUnicodeEscape,
}

impl std::fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TextEncoding::Utf8Surrogatepass => "UTF-8 (surrogatepass)",
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Ascii => "ASCII",
            TextEncoding::RawUnicodeEscape => "raw-unicode-escape",
        })
    }
}

/// What is wrong at the reported position of a [`CodecError::BadText`] argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TextFault {
    /// A byte that cannot start or continue a character here.
    #[error("invalid byte 0x{0:02x}")]
    InvalidByte(u8),
    /// A multi-byte UTF-8 sequence cut short by the end of the argument.
    #[error("unexpected end of data")]
    UnexpectedEnd,
    /// A `\uXXXX` / `\UXXXXXXXX` escape without enough hex digits.
    #[error("truncated \\u/\\U escape")]
    TruncatedEscape,
    /// A `\UXXXXXXXX` escape above U+10FFFF.
    #[error("escape \\U{0:08x} out of range")]
    EscapeOutOfRange(u32),
}

impl CodecError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> usize {
        match *self {
            CodecError::UnknownOpcode { offset, .. }
            | CodecError::Truncated { offset, .. }
            | CodecError::BadLine { offset, .. }
            | CodecError::NegativeLength { offset, .. }
            | CodecError::UnsupportedProtocol { offset, .. }
            | CodecError::FrameOverrun { offset, .. }
            | CodecError::MissingStop { offset }
            | CodecError::BadText { offset, .. } => offset,
        }
    }
}

fn describe_byte(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("0x{byte:02x} ('{}')", byte as char)
    } else {
        format!("0x{byte:02x}")
    }
}

/// Why the [`crate::Writer`] could not write.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The underlying output failed.
    #[error("write failed: {0}")]
    Io(#[from] std::io::Error),

    /// The opcode does not exist in the protocol being written.
    #[error("opcode {opcode} needs protocol {needed}, but protocol {protocol} is being written")]
    OpcodeAboveProtocol {
        opcode: &'static str,
        needed: u8,
        protocol: u8,
    },

    /// The writer was asked for a protocol it does not know.
    #[error("cannot write pickle protocol {protocol} (highest known is 5)")]
    InvalidProtocol { protocol: u8 },

    /// The argument of an op cannot be encoded by that opcode (payload too long for its length
    /// field, newline inside a text line, ...).
    #[error("cannot encode {opcode}: {reason}")]
    InvalidArgument {
        opcode: &'static str,
        reason: String,
    },

    /// The requested value has no encoding in the protocol being written (e.g. `bytes` below
    /// protocol 3); the caller must fall back to another construction.
    #[error("unsupported: {what}")]
    Unsupported { what: String },
}

/// Why a text-protocol argument could not be decoded (see [`crate::text`]). The reader wraps it
/// into [`CodecError::BadLine`] with the offset.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TextError {
    /// The integer is not decimal digits with an optional sign (and an optional `L` suffix).
    #[error("not a decimal integer: {0}")]
    NotDecimal(String),
    /// Decimal integers longer than [`crate::text::MAX_DECIMAL_DIGITS`] digits are refused.
    #[error("integer has {0} digits, more than the {max} supported", max = crate::text::MAX_DECIMAL_DIGITS)]
    TooManyDigits(usize),
    /// Not a float literal as Python's `float()` of a pickle would accept.
    #[error("not a float literal: {0}")]
    NotFloat(String),
    /// A `STRING` argument must be enclosed in matching single or double quotes.
    #[error("the STRING argument must be quoted")]
    NotQuoted,
    /// An invalid backslash escape.
    #[error("{0}")]
    BadEscape(String),
}

/// Shows at most 40 bytes of an offending line, escaped, for error messages.
pub(crate) fn show_line(line: &[u8]) -> String {
    const MAX: usize = 40;
    let shown = line.get(..MAX).unwrap_or(line);
    let mut s = String::from("'");
    s.extend(
        shown
            .iter()
            .flat_map(|b| std::ascii::escape_default(*b).map(char::from)),
    );
    s.push('\'');
    if line.len() > MAX {
        s.push_str("...");
    }
    s
}
