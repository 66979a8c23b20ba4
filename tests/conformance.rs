//! Conformance: every pickle in `corpus/` converts, names no serializer global afterwards, loads
//! under `python -I -S` (no site-packages, so no cloudpickle/dill) with both `pickle.load` and
//! the pure-Python `pickle._Unpickler`, and behaves like the original (the probe results the
//! generator recorded by loading the original with the serializer installed).
//!
//! Interpreters come from `$(pyenv root)/versions/` or PATH; a missing one is reported loudly
//! and its pickles are skipped. `DEPICKLE_CONFORMANCE_FILTER=substring` restricts the run to
//! corpus paths containing the substring.

mod common;

use common::interpreter;
use depickle_recipes::Catalog;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

fn find_manifests(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            find_manifests(&p, out);
        } else if p.file_name().is_some_and(|n| n == "manifest.json") {
            out.push(p);
        }
    }
}

struct Job {
    manifest_dir: PathBuf,
    label: String,
    file: String,
    object: String,
    expected: Value,
    converted: PathBuf,
}

#[test]
fn corpus_conformance() {
    let corpus = corpus_dir();
    let mut manifests = Vec::new();
    find_manifests(&corpus, &mut manifests);
    assert!(
        !manifests.is_empty(),
        "no corpus manifests under {}",
        corpus.display()
    );
    let filter = std::env::var("DEPICKLE_CONFORMANCE_FILTER").unwrap_or_default();
    let catalog = Catalog::builtin().expect("recipes parse");
    let covered: Vec<String> = catalog
        .modules
        .iter()
        .map(|m| m.serializer.clone())
        .collect();
    let out_root = tempfile::tempdir().expect("tempdir");

    let mut by_python: BTreeMap<String, Vec<Job>> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut not_covered: BTreeMap<String, usize> = BTreeMap::new();
    let mut converted_count = 0usize;

    for m in &manifests {
        let rel = m.strip_prefix(&corpus).unwrap_or(m).display().to_string();
        if !filter.is_empty() && !rel.contains(&filter) {
            continue;
        }
        let text = std::fs::read_to_string(m).expect("read manifest");
        let manifest: Value = serde_json::from_str(&text).expect("manifest is JSON");
        let serializer = manifest["serializer"].as_str().unwrap_or("?").to_string();
        let python = manifest["python"].as_str().unwrap_or("?").to_string();
        let dir = m.parent().expect("manifest dir").to_path_buf();
        let entries = manifest["entries"].as_array().cloned().unwrap_or_default();
        // joblib pickles are made by its vendored cloudpickle (joblib.externals.cloudpickle).
        let family = if serializer == "joblib" {
            "cloudpickle".to_string()
        } else {
            serializer.clone()
        };
        if !covered.contains(&family) {
            *not_covered.entry(serializer.clone()).or_default() += entries.len();
            continue;
        }
        let label = dir
            .strip_prefix(&corpus)
            .unwrap_or(&dir)
            .display()
            .to_string();
        let out_dir = out_root.path().join(label.replace('/', "_"));
        std::fs::create_dir_all(&out_dir).expect("mkdir");
        for e in entries {
            let file = e["file"].as_str().expect("entry file").to_string();
            let object = e["object"].as_str().expect("entry object").to_string();
            let input = dir.join(&file);
            let converted = out_dir.join(&file);
            let data = std::fs::read(&input).expect("read corpus pickle");
            match depickle_core::convert_to_file(&data, &converted, &catalog) {
                Ok(_) => {}
                Err(err) => {
                    failures.push(format!("{label}/{file}: conversion failed: {err}"));
                    continue;
                }
            }
            converted_count += 1;
            // Static check, independent of the converter's own: no serializer global remains.
            let out = std::fs::read(&converted).expect("read output");
            let graphs = depickle_core::lift_all(&out).expect("output lifts");
            for g in &graphs {
                let left = depickle_core::serializer_globals(g);
                if !left.is_empty() {
                    failures.push(format!("{label}/{file}: output still names {left:?}"));
                }
            }
            by_python.entry(python.clone()).or_default().push(Job {
                manifest_dir: dir.clone(),
                label: label.clone(),
                file,
                object,
                expected: e["expected"].clone(),
                converted,
            });
        }
    }

    let probe = corpus.join("probe.py");
    let mut checked = 0usize;
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    for (python, jobs) in &by_python {
        let Some(interp) = interpreter(python) else {
            eprintln!(
                "conformance: SKIPPED {} pickle(s) for Python {python}: no interpreter found",
                jobs.len()
            );
            skipped.insert(python.clone(), jobs.len());
            continue;
        };
        eprintln!(
            "conformance: Python {python} -> {} ({} pickles)",
            interp.display(),
            jobs.len()
        );
        for unpickler in ["c", "py"] {
            let list = out_root
                .path()
                .join(format!("list-{python}-{unpickler}.txt"));
            let result = out_root
                .path()
                .join(format!("result-{python}-{unpickler}.json"));
            let lines: Vec<String> = jobs
                .iter()
                .map(|j| format!("{}:{}", j.converted.display(), j.object))
                .collect();
            std::fs::write(&list, lines.join("\n")).expect("write list");
            let status = Command::new(&interp)
                .args(["-I", "-S"])
                .arg(&probe)
                .args(["--unpickler", unpickler, "--files-from"])
                .arg(&list)
                .arg("--out")
                .arg(&result)
                .current_dir(out_root.path())
                .status()
                .expect("run probe.py");
            assert!(status.success(), "probe.py failed for Python {python}");
            let results: Value =
                serde_json::from_str(&std::fs::read_to_string(&result).expect("probe output"))
                    .expect("probe JSON");
            for j in jobs {
                let key = j.converted.display().to_string();
                let got = &results[&key];
                let want = &j.expected[unpickler];
                checked += 1;
                if got != want {
                    let _ = &j.manifest_dir;
                    failures.push(format!(
                        "{}/{} [{unpickler}]: behaves differently\n    expected: {}\n    got:      {}",
                        j.label,
                        j.file,
                        truncate(&want.to_string()),
                        truncate(&got.to_string())
                    ));
                }
            }
        }
    }

    for (s, n) in &not_covered {
        eprintln!("conformance: NOT COVERED {n} {s} pickle(s): no recipe module for {s} yet");
    }
    eprintln!(
        "conformance: {converted_count} converted, {checked} probe comparisons, {} failure(s), skipped pythons: {:?}",
        failures.len(),
        skipped.keys().collect::<Vec<_>>()
    );
    if !failures.is_empty() {
        for f in failures.iter().take(60) {
            eprintln!("  FAIL {f}");
        }
        panic!("{} conformance failure(s)", failures.len());
    }
    assert!(checked > 0 || !skipped.is_empty(), "nothing was checked");
}

fn truncate(s: &str) -> String {
    if s.len() > 400 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(400).map(|x| x.0).unwrap_or(s.len())]
        )
    } else {
        s.to_string()
    }
}
