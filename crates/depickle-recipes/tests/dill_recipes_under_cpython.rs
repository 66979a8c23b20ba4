//! The dill recipes run as plain Python next to the real dill helpers
//! (`tests/python/test_dill_recipes.py`), under a small matrix of dill and CPython versions.
//! Venvs come from `corpus/tools/venvs.py` (cached under `.venvs/`); when one cannot be made
//! (no interpreter, no network) the system `python3` with whatever dill it has is used instead
//! (or nothing, if it has none) and what was skipped is printed loudly.
//!
//! Fails when the Python test fails anywhere, or when the full matrix ran and some recipe
//! (minus the ones the Python test lists as absent from every tested version) never ran
//! against a real helper.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// (python minor, pip pins). numpy rides along on one entry for `_create_array` and
/// `_create_dtypemeta`; `_create_thread_handle` only exists with dill 0.4.x on 3.13.
const MATRIX: &[(&str, &[&str])] = &[
    ("3.11", &["dill==0.4.0", "numpy==2.1.3"]),
    ("3.13", &["dill==0.4.0"]),
    ("3.10", &["dill==0.3.6"]),
    ("3.9", &["dill==0.3.5.1"]),
    ("3.8", &["dill==0.3.4"]),
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python_test() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/test_dill_recipes.py")
}

/// The venv python for one matrix entry, or why there is none.
fn ensure_venv(minor: &str, pins: &[&str]) -> Result<PathBuf, String> {
    let out = Command::new("python3")
        .arg(repo_root().join("corpus/tools/venvs.py"))
        .arg(minor)
        .args(pins)
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
    /// The interpreter has no dill at all (only possible for the system python3 fallback).
    no_dill: bool,
    ran: BTreeSet<String>,
    required: BTreeSet<String>,
    output: String,
    seconds: f64,
}

fn run_python_test(label: String, python: &Path) -> Run {
    let t = Instant::now();
    let out = Command::new(python)
        .arg(python_test())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output();
    let Ok(out) = out else {
        return Run {
            label,
            ok: false,
            no_dill: false,
            ran: BTreeSet::new(),
            required: BTreeSet::new(),
            output: format!("cannot run {}", python.display()),
            seconds: t.elapsed().as_secs_f64(),
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
        no_dill: stderr.contains("No module named 'dill'"),
        ran,
        required,
        output: format!("{stdout}{stderr}"),
        seconds: t.elapsed().as_secs_f64(),
    }
}

#[test]
fn dill_recipes_match_real_helpers() {
    let started = Instant::now();
    let mut targets: Vec<(String, PathBuf)> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for (minor, pins) in MATRIX {
        let label = format!("{} on Python {minor}", pins.join(" + "));
        let t = Instant::now();
        match ensure_venv(minor, pins) {
            Ok(python) => {
                eprintln!(
                    "dill_recipes_under_cpython: venv {label} ready in {:.1}s",
                    t.elapsed().as_secs_f64()
                );
                targets.push((label, python));
            }
            Err(why) => {
                eprintln!("dill_recipes_under_cpython: !!!!!! SKIPPED {label}: {why}");
                missing.push(label);
            }
        }
    }
    eprintln!(
        "dill_recipes_under_cpython: venv creation took {:.1}s in all",
        started.elapsed().as_secs_f64()
    );
    if !missing.is_empty() {
        eprintln!(
            "dill_recipes_under_cpython: !!!!!! falling back to the system python3 (its own \
             dill, if any) because {} matrix entr{} could not be set up: {}",
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
        "dill_recipes_under_cpython: Python tests took {:.1}s (in parallel)",
        t.elapsed().as_secs_f64()
    );

    let mut failures = Vec::new();
    let mut ran_anywhere = BTreeSet::new();
    let mut required = BTreeSet::new();
    let mut usable = 0;
    for run in &runs {
        if run.no_dill && run.label == "system python3" {
            eprintln!("dill_recipes_under_cpython: !!!!!! SKIPPED system python3: it has no dill");
            continue;
        }
        usable += 1;
        let first = run.output.lines().next().unwrap_or("");
        eprintln!(
            "dill_recipes_under_cpython: {}: {} in {:.1}s ({first}; {} helpers compared)",
            run.label,
            if run.ok { "ok" } else { "FAILED" },
            run.seconds,
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
        "the dill recipe test failed:\n{}",
        failures.join("\n")
    );
    if usable == 0 {
        eprintln!(
            "dill_recipes_under_cpython: !!!!!! NOTHING RAN: no venv could be made and the \
             system python3 has no dill"
        );
        return;
    }
    let never: Vec<&String> = required.difference(&ran_anywhere).collect();
    if missing.is_empty() {
        assert!(
            never.is_empty(),
            "dill recipes never compared with a real helper anywhere in the matrix: {never:?}"
        );
    } else if !never.is_empty() {
        eprintln!(
            "dill_recipes_under_cpython: !!!!!! matrix incomplete, these recipes were NOT \
             compared with a real helper: {never:?}"
        );
    }
    eprintln!(
        "dill_recipes_under_cpython: total {:.1}s",
        started.elapsed().as_secs_f64()
    );
}
