//! Bad input never panics, hangs or allocates without bound: corrupted and truncated real
//! cloudpickle pickles go through the whole pipeline (lift, rewrite, emit) and either convert or
//! fail with an error. Outputs that are produced must themselves lift.

use depickle_recipes::Catalog;
use proptest::prelude::*;
use std::path::Path;

fn samples() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../corpus/cloudpickle/cloudpickle-3.1.2/py3.11");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "pkl"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .into_iter()
        .step_by(7)
        .filter_map(|p| std::fs::read(p).ok())
        .collect()
}

fn run(data: &[u8], catalog: &Catalog) {
    if let Ok((out, _)) = depickle_core::convert_bytes(data, Vec::new(), catalog) {
        depickle_core::lift_all(&out).expect("a produced output must lift");
    }
}

#[test]
fn every_truncation_is_an_error() {
    let catalog = Catalog::builtin().expect("recipes");
    let samples = samples();
    assert!(samples.len() > 10, "corpus samples missing");
    for s in samples.iter().take(6) {
        for cut in 0..s.len() {
            let r = depickle_core::convert_bytes(&s[..cut], Vec::new(), &catalog);
            assert!(r.is_err(), "a pickle cut at {cut} of {} converted", s.len());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn corrupted_pickles_never_panic(pick in 0usize..1000, edits in proptest::collection::vec((0usize..100_000, any::<u8>()), 1..6)) {
        let catalog = Catalog::builtin().expect("recipes");
        let samples = samples();
        let mut data = samples[pick % samples.len()].clone();
        for (pos, byte) in edits {
            let n = data.len();
            data[pos % n] = byte;
        }
        run(&data, &catalog);
    }

    #[test]
    fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let catalog = Catalog::builtin().expect("recipes");
        run(&data, &catalog);
    }
}

#[test]
fn hostile_nesting_and_lengths() {
    let catalog = Catalog::builtin().expect("recipes");
    // 300,000 nested tuples via MARK ... TUPLE: deep, valid, must convert (self-contained).
    let depth = 300_000;
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b'(', depth));
    p.extend(std::iter::repeat_n(b't', depth));
    p.push(b'.');
    let (out, report) =
        depickle_core::convert_bytes(&p, Vec::new(), &catalog).expect("deep pickle converts");
    assert_eq!(report.status, "self-contained");
    assert_eq!(out, p);
    // A BINBYTES8 claiming 2^62 bytes: an error naming the offset, no allocation.
    let mut q = vec![0x80, 4, 0x8e];
    q.extend_from_slice(&(1u64 << 62).to_le_bytes());
    let err = depickle_core::convert_bytes(&q, Vec::new(), &catalog).expect_err("absurd length");
    assert!(err.to_string().contains("byte 2"), "{err}");
}

/// A pickle over the passthrough threshold: a list of 300,000 ints, then a cloudpickle
/// `subimport("os")` call, so the prefix scan, the frame-by-frame copy and the suffix lift run.
fn large_pickle() -> Vec<u8> {
    let mut p = vec![0x80, 4, b']', 0x94, b'('];
    for i in 0..300_000u32 {
        p.push(b'J');
        p.extend_from_slice(&(i as i32).to_le_bytes());
        if i % 1000 == 999 {
            p.extend_from_slice(b"e(");
        }
    }
    p.extend_from_slice(b"\x8c\x17cloudpickle.cloudpickle\x8c\tsubimport\x93\x8c\x02os\x85Re.");
    p
}

#[test]
fn large_input_takes_the_passthrough_and_converts() {
    let catalog = Catalog::builtin().expect("recipes");
    let p = large_pickle();
    let (out, report) = depickle_core::convert_bytes(&p, Vec::new(), &catalog).expect("converts");
    assert!(report.passthrough_bytes > 1 << 20, "{report:?}");
    let (full, _) =
        depickle_core::convert_bytes_with(&p, Vec::new(), &catalog, false).expect("converts");
    // Same program either way: the outputs lift to graphs of the same shape.
    let a = depickle_core::lift_all(&out).expect("lifts");
    let b = depickle_core::lift_all(&full).expect("lifts");
    assert_eq!(a[0].nodes.len(), b[0].nodes.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, .. ProptestConfig::default() })]

    #[test]
    fn corrupted_large_pickles_never_panic(edits in proptest::collection::vec((0usize..2_000_000, any::<u8>()), 1..8)) {
        let catalog = Catalog::builtin().expect("recipes");
        let mut data = large_pickle();
        let n = data.len();
        for (pos, byte) in edits {
            data[pos % n] = byte;
        }
        run(&data, &catalog);
    }
}
