//! The opcode vocabulary of pickle protocols 0–5.
//!
//! Why a borrowed enum: depickle reads inputs of many gigabytes through a memory map. Every payload
//! (strings, bytes, text-protocol lines) is a slice of the input, so reading never copies payload
//! bytes and the writer can pass large payloads straight from the map to the output file.
//!
//! Text-protocol arguments (`INT`, `LONG`, `FLOAT`, `STRING`, `UNICODE`, `PERSID`, `GLOBAL`,
//! `INST`) keep their raw line (without the trailing `\n`) so a plain pickle round-trips byte for
//! byte; helpers in [`crate::text`] decode them when a consumer needs the value.

/// One pickle opcode with its argument. Payload slices borrow from the input buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op<'a> {
    // ---- stack and memo control ----
    /// `(` push a mark.
    Mark,
    /// `.` end of pickle.
    Stop,
    /// `0` discard top of stack (or the topmost mark if the stack above it is empty).
    Pop,
    /// `1` discard everything down to and including the topmost mark.
    PopMark,
    /// `2` duplicate top of stack.
    Dup,
    /// `g` text memo get; the decimal index as written.
    Get(u64),
    /// `h` memo get, 1-byte index.
    BinGet(u8),
    /// `j` memo get, 4-byte little-endian index.
    LongBinGet(u32),
    /// `p` text memo put.
    Put(u64),
    /// `q` memo put, 1-byte index.
    BinPut(u8),
    /// `r` memo put, 4-byte index.
    LongBinPut(u32),
    /// `\x94` memo put at index `len(memo)` (protocol 4).
    Memoize,
    /// `\x80` protocol header.
    Proto(u8),
    /// `\x95` frame header with the frame's byte length (protocol 4). Readers validate it;
    /// consumers that re-emit may ignore it because the writer re-frames.
    Frame(u64),

    // ---- constants ----
    /// `N`
    None,
    /// `\x88`
    NewTrue,
    /// `\x89`
    NewFalse,
    /// `I` raw decimal line, e.g. `b"42"`, `b"01"` (True), `b"00"` (False).
    Int(&'a [u8]),
    /// `J` 4-byte signed little-endian.
    BinInt(i32),
    /// `K` 1-byte unsigned.
    BinInt1(u8),
    /// `M` 2-byte unsigned little-endian.
    BinInt2(u16),
    /// `L` raw decimal line, possibly ending in `L` (Python 2).
    Long(&'a [u8]),
    /// `\x8a` little-endian two's-complement bytes, 1-byte length.
    Long1(&'a [u8]),
    /// `\x8b` little-endian two's-complement bytes, 4-byte length.
    Long4(&'a [u8]),
    /// `F` raw float repr line.
    Float(&'a [u8]),
    /// `G` 8-byte big-endian IEEE double.
    BinFloat(f64),
    /// `S` raw quoted repr line (Python 2 `str`), quotes included.
    String(&'a [u8]),
    /// `T` Python 2 `str`, 4-byte length.
    BinString(&'a [u8]),
    /// `U` Python 2 `str`, 1-byte length.
    ShortBinString(&'a [u8]),
    /// `V` raw-unicode-escape encoded line.
    Unicode(&'a [u8]),
    /// `X` UTF-8 (surrogatepass) text, 4-byte length.
    BinUnicode(&'a [u8]),
    /// `\x8c` UTF-8 text, 1-byte length.
    ShortBinUnicode(&'a [u8]),
    /// `\x8d` UTF-8 text, 8-byte length.
    BinUnicode8(&'a [u8]),
    /// `B` bytes, 4-byte length.
    BinBytes(&'a [u8]),
    /// `C` bytes, 1-byte length.
    ShortBinBytes(&'a [u8]),
    /// `\x8e` bytes, 8-byte length.
    BinBytes8(&'a [u8]),
    /// `\x96` bytearray, 8-byte length (protocol 5).
    ByteArray8(&'a [u8]),
    /// `\x97` next out-of-band buffer (protocol 5).
    NextBuffer,
    /// `\x98` make the buffer on top of stack read-only (protocol 5).
    ReadonlyBuffer,

    // ---- containers ----
    /// `)`
    EmptyTuple,
    /// `t` tuple from the items above the topmost mark.
    Tuple,
    /// `\x85`
    Tuple1,
    /// `\x86`
    Tuple2,
    /// `\x87`
    Tuple3,
    /// `]`
    EmptyList,
    /// `l` list from the items above the topmost mark.
    List,
    /// `a` append top of stack to the list below it.
    Append,
    /// `e` extend the list below the mark with the items above it.
    Appends,
    /// `}`
    EmptyDict,
    /// `d` dict from key/value pairs above the topmost mark.
    Dict,
    /// `s` set one item on the dict below key and value.
    SetItem,
    /// `u` set the key/value pairs above the mark on the dict below it.
    SetItems,
    /// `\x8f`
    EmptySet,
    /// `\x90` add the items above the mark to the set below it.
    AddItems,
    /// `\x91` frozenset from the items above the mark.
    FrozenSet,

    // ---- globals and object construction ----
    /// `c` module and qualified name, two raw lines.
    Global { module: &'a [u8], name: &'a [u8] },
    /// `\x93` module and name are the two strings on top of the stack (protocol 4).
    StackGlobal,
    /// `R` call the callable below an argument tuple.
    Reduce,
    /// `b` apply state to the object below it (`__setstate__` or `__dict__` update).
    Build,
    /// `i` protocol 0 instance: class from two lines, args above the mark.
    Inst { module: &'a [u8], name: &'a [u8] },
    /// `o` protocol 1 instance: class and args above the mark.
    Obj,
    /// `\x81` `cls.__new__(cls, *args)`.
    NewObj,
    /// `\x92` `cls.__new__(cls, *args, **kwargs)`.
    NewObjEx,
    /// `P` persistent id, raw line.
    PersId(&'a [u8]),
    /// `Q` persistent id from the stack.
    BinPersId,
    /// `\x82` extension registry code, 1 byte.
    Ext1(u8),
    /// `\x83` extension registry code, 2 bytes.
    Ext2(u16),
    /// `\x84` extension registry code, 4 bytes (signed, as CPython reads it).
    Ext4(i32),
}

impl Op<'_> {
    /// The opcode byte that introduces this op.
    pub fn code(&self) -> u8 {
        match self {
            Op::Mark => b'(',
            Op::Stop => b'.',
            Op::Pop => b'0',
            Op::PopMark => b'1',
            Op::Dup => b'2',
            Op::Get(_) => b'g',
            Op::BinGet(_) => b'h',
            Op::LongBinGet(_) => b'j',
            Op::Put(_) => b'p',
            Op::BinPut(_) => b'q',
            Op::LongBinPut(_) => b'r',
            Op::Memoize => 0x94,
            Op::Proto(_) => 0x80,
            Op::Frame(_) => 0x95,
            Op::None => b'N',
            Op::NewTrue => 0x88,
            Op::NewFalse => 0x89,
            Op::Int(_) => b'I',
            Op::BinInt(_) => b'J',
            Op::BinInt1(_) => b'K',
            Op::BinInt2(_) => b'M',
            Op::Long(_) => b'L',
            Op::Long1(_) => 0x8a,
            Op::Long4(_) => 0x8b,
            Op::Float(_) => b'F',
            Op::BinFloat(_) => b'G',
            Op::String(_) => b'S',
            Op::BinString(_) => b'T',
            Op::ShortBinString(_) => b'U',
            Op::Unicode(_) => b'V',
            Op::BinUnicode(_) => b'X',
            Op::ShortBinUnicode(_) => 0x8c,
            Op::BinUnicode8(_) => 0x8d,
            Op::BinBytes(_) => b'B',
            Op::ShortBinBytes(_) => b'C',
            Op::BinBytes8(_) => 0x8e,
            Op::ByteArray8(_) => 0x96,
            Op::NextBuffer => 0x97,
            Op::ReadonlyBuffer => 0x98,
            Op::EmptyTuple => b')',
            Op::Tuple => b't',
            Op::Tuple1 => 0x85,
            Op::Tuple2 => 0x86,
            Op::Tuple3 => 0x87,
            Op::EmptyList => b']',
            Op::List => b'l',
            Op::Append => b'a',
            Op::Appends => b'e',
            Op::EmptyDict => b'}',
            Op::Dict => b'd',
            Op::SetItem => b's',
            Op::SetItems => b'u',
            Op::EmptySet => 0x8f,
            Op::AddItems => 0x90,
            Op::FrozenSet => 0x91,
            Op::Global { .. } => b'c',
            Op::StackGlobal => 0x93,
            Op::Reduce => b'R',
            Op::Build => b'b',
            Op::Inst { .. } => b'i',
            Op::Obj => b'o',
            Op::NewObj => 0x81,
            Op::NewObjEx => 0x92,
            Op::PersId(_) => b'P',
            Op::BinPersId => b'Q',
            Op::Ext1(_) => 0x82,
            Op::Ext2(_) => 0x83,
            Op::Ext4(_) => 0x84,
        }
    }

    /// pickletools' name of the opcode, used in error messages and `--json` reports.
    pub fn name(&self) -> &'static str {
        opcode_name(self.code()).unwrap_or("?")
    }

    /// The lowest protocol that defines this opcode.
    pub fn min_protocol(&self) -> u8 {
        min_protocol_of(self.code())
    }
}

/// The lowest protocol that defines the opcode byte `code` (0 for bytes that are no opcode).
pub fn min_protocol_of(code: u8) -> u8 {
    match code {
        0x80..=0x8b => 2,
        b'B' | b'C' => 3,
        0x8c..=0x95 => 4,
        0x96..=0x98 => 5,
        b'}' | b']' | b')' | b'G' | b'J' | b'K' | b'M' | b'T' | b'U' | b'X' | b'h' | b'j'
        | b'q' | b'r' | b'e' | b'u' | b'o' | b'Q' => 1,
        _ => 0,
    }
}

/// pickletools' name for an opcode byte, or `None` for a byte that is no opcode.
pub fn opcode_name(code: u8) -> Option<&'static str> {
    Some(match code {
        b'(' => "MARK",
        b'.' => "STOP",
        b'0' => "POP",
        b'1' => "POP_MARK",
        b'2' => "DUP",
        b'g' => "GET",
        b'h' => "BINGET",
        b'j' => "LONG_BINGET",
        b'p' => "PUT",
        b'q' => "BINPUT",
        b'r' => "LONG_BINPUT",
        0x94 => "MEMOIZE",
        0x80 => "PROTO",
        0x95 => "FRAME",
        b'N' => "NONE",
        0x88 => "NEWTRUE",
        0x89 => "NEWFALSE",
        b'I' => "INT",
        b'J' => "BININT",
        b'K' => "BININT1",
        b'M' => "BININT2",
        b'L' => "LONG",
        0x8a => "LONG1",
        0x8b => "LONG4",
        b'F' => "FLOAT",
        b'G' => "BINFLOAT",
        b'S' => "STRING",
        b'T' => "BINSTRING",
        b'U' => "SHORT_BINSTRING",
        b'V' => "UNICODE",
        b'X' => "BINUNICODE",
        0x8c => "SHORT_BINUNICODE",
        0x8d => "BINUNICODE8",
        b'B' => "BINBYTES",
        b'C' => "SHORT_BINBYTES",
        0x8e => "BINBYTES8",
        0x96 => "BYTEARRAY8",
        0x97 => "NEXT_BUFFER",
        0x98 => "READONLY_BUFFER",
        b')' => "EMPTY_TUPLE",
        b't' => "TUPLE",
        0x85 => "TUPLE1",
        0x86 => "TUPLE2",
        0x87 => "TUPLE3",
        b']' => "EMPTY_LIST",
        b'l' => "LIST",
        b'a' => "APPEND",
        b'e' => "APPENDS",
        b'}' => "EMPTY_DICT",
        b'd' => "DICT",
        b's' => "SETITEM",
        b'u' => "SETITEMS",
        0x8f => "EMPTY_SET",
        0x90 => "ADDITEMS",
        0x91 => "FROZENSET",
        b'c' => "GLOBAL",
        0x93 => "STACK_GLOBAL",
        b'R' => "REDUCE",
        b'b' => "BUILD",
        b'i' => "INST",
        b'o' => "OBJ",
        0x81 => "NEWOBJ",
        0x92 => "NEWOBJ_EX",
        b'P' => "PERSID",
        b'Q' => "BINPERSID",
        0x82 => "EXT1",
        0x83 => "EXT2",
        0x84 => "EXT4",
        _ => return None,
    })
}
