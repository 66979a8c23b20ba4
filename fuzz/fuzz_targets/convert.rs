//! Any byte string either converts (and the output lifts again) or fails with an error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static CATALOG: depickle_recipes::Catalog = depickle_recipes::Catalog::builtin().expect("recipes");
    }
    CATALOG.with(|catalog| {
        if let Ok((out, _)) = depickle_core::convert_bytes(data, Vec::new(), catalog) {
            depickle_core::lift_all(&out).expect("output lifts");
        }
    });
});
