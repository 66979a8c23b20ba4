//! # pickle-codec
//!
//! Reads and writes the opcode stream of Python pickles, protocols 0–5, and nothing more: no
//! object model, no memo semantics beyond counting. Parsing into a graph lives in `pickle-ir`,
//! emission of a graph in `pickle-emit`; this split mirrors `wasmparser`/`wasm-encoder`.
//!
//! * [`Reader`] walks a byte slice (typically a memory map) and yields `(offset, Op)` pairs whose
//!   payloads borrow from the input, so multi-gigabyte byte payloads are never copied. Every length
//!   is checked against the bytes that remain before anything is sliced or allocated, so hostile
//!   lengths give an error with an offset, not an allocation.
//! * [`Writer`] writes ops for a chosen protocol with CPython-compatible framing (protocol 4+): ops
//!   are grouped into frames of about 64 KiB, and payloads of 64 KiB or more are written outside
//!   any frame, straight from the borrowed slice.
//! * [`text`] decodes the textual arguments of protocol 0 ops when a consumer needs their value.

#![forbid(unsafe_code)]

pub mod error;
pub mod op;
pub mod read;
pub mod text;
pub mod write;

pub use error::{CodecError, TextEncoding, TextError, TextFault, WriteError};
pub use op::{min_protocol_of, opcode_name, Op};
pub use read::Reader;
pub use write::Writer;

/// Highest protocol this crate reads and writes.
pub const HIGHEST_PROTOCOL: u8 = 5;
/// CPython's frame size target (`_FRAME_SIZE_TARGET`): frames are committed once they reach it,
/// and payloads at least this large are written outside frames.
pub const FRAME_SIZE_TARGET: usize = 64 * 1024;
