//! The cloudpickle recipes run as plain Python next to the real cloudpickle helpers
//! (`tests/python/test_cloudpickle_recipes.py`), under a small matrix of cloudpickle and CPython
//! versions. Venvs come from `corpus/tools/venvs.py` (cached under `.venvs/`); when one cannot
//! be made (no interpreter, no network) the system `python3` with whatever cloudpickle it has is
//! used instead and what was skipped is printed loudly.
//!
//! Fails when the Python test fails anywhere, or when the full matrix ran and some recipe helper
//! (minus the ones the Python test lists as absent from every tested version) never ran against
//! a real helper.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// (python minor, cloudpickle version)
const MATRIX: &[(&str, &str)] = &[
    ("3.11", "3.1.2"),
    ("3.13", "3.1.2"),
    ("3.10", "2.2.1"),
    ("3.8", "1.6.0"),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python_test() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/test_cloudpickle_recipes.py")
}

/// The venv python for one matrix entry, or why there is none.
fn ensure_venv(minor: &str, cloudpickle: &str) -> Result<PathBuf, String> {
    let out = Command::new("python3")
        .arg(repo_root().join("corpus/tools/venvs.py"))
        .arg(minor)
        .arg(format!("cloudpickle=={cloudpickle}"))
        .output()
        .map_err(|e| format!("cannot run python3 corpus/tools/venvs.py: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(3).collect();
        return Err(tail.into_iter().rev().collect::<Vec<_>>().join(" | "));
    }
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Ok(PathBuf::from(path))
}

struct Run {
    label: String,
    ok: bool,
    ran: BTreeSet<String>,
    required: BTreeSet<String>,
    output: String,
}

fn run_python_test(label: String, python: &Path) -> Run {
    let out = Command::new(python)
        .arg(python_test())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output();
    let Ok(out) = out else {
        return Run {
            label,
            ok: false,
            ran: BTreeSet::new(),
            required: BTreeSet::new(),
            output: format!("cannot run {}", python.display()),
        };
    };
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let mut ran = BTreeSet::new();
    let mut required = BTreeSet::new();
    for line in stdout.lines() {
        if let Some(rest) = line.strip_prefix("RAN ") {
            ran.insert(rest.trim().to_string());
        } else if let Some(rest) = line.strip_prefix("RECIPES ") {
            required.extend(rest.split_whitespace().map(str::to_string));
        }
    }
    Run {
        label,
        ok: out.status.success(),
        ran,
        required,
        output: format!("{stdout}{stderr}"),
    }
}

#[test]
fn cloudpickle_recipes_match_real_helpers() {
    let started = Instant::now();
    let mut targets: Vec<(String, PathBuf)> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for (minor, version) in MATRIX {
        let t = Instant::now();
        match ensure_venv(minor, version) {
            Ok(python) => {
                eprintln!(
                    "recipes_under_cpython: venv cloudpickle {version} / Python {minor} ready in {:.1}s",
                    t.elapsed().as_secs_f64()
                );
                targets.push((format!("cloudpickle {version} on Python {minor}"), python));
            }
            Err(why) => {
                eprintln!(
                    "recipes_under_cpython: !!!!!! SKIPPED cloudpickle {version} on Python {minor}: {why}"
                );
                missing.push(format!("cloudpickle {version} on Python {minor}"));
            }
        }
    }
    eprintln!(
        "recipes_under_cpython: venv creation took {:.1}s in all",
        started.elapsed().as_secs_f64()
    );
    if !missing.is_empty() {
        eprintln!(
            "recipes_under_cpython: !!!!!! falling back to the system python3 (its own \
             cloudpickle) because {} matrix entr{} could not be set up: {}",
            missing.len(),
            if missing.len() == 1 { "y" } else { "ies" },
            missing.join(", ")
        );
        targets.push(("system python3".to_string(), PathBuf::from("python3")));
    }

    let t = Instant::now();
    let runs: Vec<Run> = std::thread::scope(|s| {
        let handles: Vec<_> = targets
            .iter()
            .map(|(label, python)| s.spawn(move || run_python_test(label.clone(), python)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    eprintln!(
        "recipes_under_cpython: Python tests took {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let mut failures = Vec::new();
    let mut ran_anywhere = BTreeSet::new();
    let mut required = BTreeSet::new();
    for run in &runs {
        let first = run.output.lines().next().unwrap_or("");
        eprintln!(
            "recipes_under_cpython: {}: {} ({first}; {} helpers compared)",
            run.label,
            if run.ok { "ok" } else { "FAILED" },
            run.ran.len()
        );
        if !run.ok {
            failures.push(format!("--- {} ---\n{}", run.label, run.output));
        }
        ran_anywhere.extend(run.ran.iter().cloned());
        required.extend(run.required.iter().cloned());
    }
    assert!(
        failures.is_empty(),
        "the recipe test failed:\n{}",
        failures.join("\n")
    );
    assert!(!runs.is_empty(), "no Python could run the recipe test");
    let never: Vec<&String> = required.difference(&ran_anywhere).collect();
    if missing.is_empty() {
        assert!(
            never.is_empty(),
            "recipes never compared with a real helper anywhere in the matrix: {never:?}"
        );
    } else if !never.is_empty() {
        eprintln!(
            "recipes_under_cpython: !!!!!! matrix incomplete, these recipes were NOT compared \
             with a real helper: {never:?}"
        );
    }
    eprintln!(
        "recipes_under_cpython: total {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
