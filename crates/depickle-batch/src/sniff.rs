//! Recognising what a file is from its first bytes (never from its name alone).

/// What a file holds, as far as depickle is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Starts like a pickle (PROTO opcode, or a plausible protocol 0/1 opcode).
    Pickle,
    Gzip,
    Bzip2,
    Xz,
    /// A zip archive (PyTorch checkpoints are zip files with `*/data.pkl`).
    Zip,
    /// A joblib file: only joblib's own loader reads it.
    Joblib,
    /// Anything else.
    Other,
}

/// Opcodes a protocol 0/1 pickle commonly starts with.
const P0_START: &[u8] = b"(]}).cNIFSVLKJMXUTGlqtd";

/// Markers of joblib's numpy pickler (its wrappers of array data written after the pickle).
const JOBLIB_MARKERS: &[&[u8]] = &[
    b"joblib.numpy_pickle",
    b"NumpyArrayWrapper",
    b"NDArrayWrapper",
    b"ZNDArrayWrapper",
];

/// Classify a file by content.
pub fn sniff(data: &[u8]) -> Kind {
    if data.starts_with(b"ZF0x") {
        return Kind::Joblib; // joblib < 0.10 zlib format
    }
    if data.starts_with(&[0x1f, 0x8b]) {
        return Kind::Gzip;
    }
    if data.starts_with(b"BZh") && data.len() > 3 && (b'1'..=b'9').contains(&data[3]) {
        return Kind::Bzip2;
    }
    if data.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        return Kind::Xz;
    }
    if data.starts_with(b"PK\x03\x04") || data.starts_with(b"PK\x05\x06") {
        return Kind::Zip;
    }
    if looks_like_pickle(data) {
        if has_joblib_marker(data) {
            return Kind::Joblib;
        }
        return Kind::Pickle;
    }
    if is_zlib_header(data) {
        // joblib's `compress=` zlib format: a bare zlib stream of a joblib pickle.
        return Kind::Joblib;
    }
    Kind::Other
}

/// First bytes parse as the start of a pickle.
pub fn looks_like_pickle(data: &[u8]) -> bool {
    match data {
        [0x80, p, ..] => *p <= 5,
        [b, ..] => P0_START.contains(b),
        [] => false,
    }
}

fn is_zlib_header(data: &[u8]) -> bool {
    data.len() >= 2
        && data[0] == 0x78
        && matches!(data[1], 0x01 | 0x5e | 0x9c | 0xda)
        && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0
}

/// Whether the data names one of joblib's numpy wrapper classes.
pub fn has_joblib_marker(data: &[u8]) -> bool {
    // The wrapper global appears early (before the first array); scanning the first MiB is enough
    // and keeps huge files cheap.
    let head = &data[..data.len().min(1 << 20)];
    JOBLIB_MARKERS
        .iter()
        .any(|m| head.windows(m.len()).any(|w| w == *m))
}

/// File names that are meant to be pickles: failing to parse one is an error, not "some other file".
pub fn pickle_extension(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        ".pkl", ".pickle", ".pck", ".pcl", ".p", ".pkl.gz", ".pkl.bz2", ".pkl.xz",
    ]
    .iter()
    .any(|e| lower.ends_with(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(sniff(b"\x80\x04\x95"), Kind::Pickle);
        assert_eq!(sniff(b"(lp0\n"), Kind::Pickle);
        assert_eq!(sniff(b"hello"), Kind::Other);
        assert_eq!(sniff(b"\x1f\x8b\x08"), Kind::Gzip);
        assert_eq!(sniff(b"BZh91AY"), Kind::Bzip2);
        assert_eq!(sniff(b"\xfd7zXZ\x00"), Kind::Xz);
        assert_eq!(sniff(b"PK\x03\x04"), Kind::Zip);
        assert_eq!(sniff(b"x\x9c"), Kind::Joblib);
        assert_eq!(
            sniff(b"\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n"),
            Kind::Joblib
        );
    }
}
