//! The recipes run as plain Python next to the real serializer helpers
//! (`tests/python/test_cloudpickle_recipes.py`, `tests/python/test_dill_recipes.py`), under a
//! small matrix of serializer and CPython versions. Venvs come from `corpus/tools/venvs.py`
//! (cached under `.venvs/`); when one cannot be made (no interpreter, no network) the system
//! `python3` with whatever serializer it has is used instead, and what was skipped is printed
//! loudly.
//!
//! A run fails when the Python test fails anywhere, when no interpreter could run it at all, or
//! when the full matrix ran and some recipe (minus the ones the Python test lists as absent from
//! every tested version) never ran against a real helper.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// One serializer's recipe test and the (python minor, pip pins) it runs under.
struct Suite {
    serializer: &'static str,
    python_test: &'static str,
    matrix: &'static [(&'static str, &'static [&'static str])],
}

#[test]
fn cloudpickle_recipes_match_real_helpers() {
    check(&Suite {
        serializer: "cloudpickle",
        python_test: "tests/python/test_cloudpickle_recipes.py",
        matrix: &[
            ("3.11", &["cloudpickle==3.1.2"]),
            ("3.13", &["cloudpickle==3.1.2"]),
            ("3.10", &["cloudpickle==2.2.1"]),
            ("3.8", &["cloudpickle==1.6.0"]),
        ],
    });
}

/// numpy rides along on one entry for `_create_array` and `_create_dtypemeta`;
/// `_create_thread_handle` only exists with dill 0.4.x on 3.13.
#[test]
fn dill_recipes_match_real_helpers() {
    check(&Suite {
        serializer: "dill",
        python_test: "tests/python/test_dill_recipes.py",
        matrix: &[
            ("3.11", &["dill==0.4.0", "numpy==2.1.3"]),
            ("3.13", &["dill==0.4.0"]),
            ("3.10", &["dill==0.3.6"]),
            ("3.9", &["dill==0.3.5.1"]),
            ("3.8", &["dill==0.3.4"]),
        ],
    });
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
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
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

struct Run {
    label: String,
    ok: bool,
    /// The interpreter does not have the serializer at all (system python3 fallback only).
    no_serializer: bool,
    ran: BTreeSet<String>,
    required: BTreeSet<String>,
    output: String,
    seconds: f64,
}

fn run_python_test(suite: &Suite, label: String, python: &Path) -> Run {
    let t = Instant::now();
    let out = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(suite.python_test))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output();
    let Ok(out) = out else {
        return Run {
            label,
            ok: false,
            no_serializer: false,
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
        no_serializer: stderr.contains(&format!("No module named '{}'", suite.serializer)),
        ran,
        required,
        output: format!("{stdout}{stderr}"),
        seconds: t.elapsed().as_secs_f64(),
    }
}

fn check(suite: &Suite) {
    let tag = format!("{}_recipes_under_cpython", suite.serializer);
    let started = Instant::now();
    let mut targets: Vec<(String, PathBuf)> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for (minor, pins) in suite.matrix {
        let label = format!("{} on Python {minor}", pins.join(" + "));
        let t = Instant::now();
        match ensure_venv(minor, pins) {
            Ok(python) => {
                eprintln!(
                    "{tag}: venv {label} ready in {:.1}s",
                    t.elapsed().as_secs_f64()
                );
                targets.push((label, python));
            }
            Err(why) => {
                eprintln!("{tag}: !!!!!! SKIPPED {label}: {why}");
                missing.push(label);
            }
        }
    }
    eprintln!(
        "{tag}: venv creation took {:.1}s in all",
        started.elapsed().as_secs_f64()
    );
    if !missing.is_empty() {
        eprintln!(
            "{tag}: !!!!!! falling back to the system python3 (its own {}, if any) because {} \
             matrix entr{} could not be set up: {}",
            suite.serializer,
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
            .map(|(label, python)| s.spawn(move || run_python_test(suite, label.clone(), python)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("runner thread"))
            .collect()
    });
    eprintln!(
        "{tag}: Python tests took {:.1}s (in parallel)",
        t.elapsed().as_secs_f64()
    );

    let mut failures = Vec::new();
    let mut ran_anywhere = BTreeSet::new();
    let mut required = BTreeSet::new();
    let mut usable = 0;
    for run in &runs {
        if run.no_serializer && run.label == "system python3" {
            eprintln!(
                "{tag}: !!!!!! SKIPPED system python3: it has no {}",
                suite.serializer
            );
            continue;
        }
        usable += 1;
        let first = run.output.lines().next().unwrap_or("");
        eprintln!(
            "{tag}: {}: {} in {:.1}s ({first}; {} helpers compared)",
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
        "the {} recipe test failed:\n{}",
        suite.serializer,
        failures.join("\n")
    );
    assert!(
        usable > 0,
        "no Python could run the {} recipe test",
        suite.serializer
    );
    let never: Vec<&String> = required.difference(&ran_anywhere).collect();
    if missing.is_empty() {
        assert!(
            never.is_empty(),
            "{} recipes never compared with a real helper anywhere in the matrix: {never:?}",
            suite.serializer
        );
    } else if !never.is_empty() {
        eprintln!("{tag}: !!!!!! matrix incomplete, these recipes were NOT compared with a real helper: {never:?}");
    }
    eprintln!("{tag}: total {:.1}s", started.elapsed().as_secs_f64());
}
