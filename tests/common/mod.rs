//! Helpers shared by the integration tests.

use std::path::PathBuf;
use std::process::Command;

/// The interpreter for a `3.X` minor version, if this machine has one (pyenv first, then PATH).
pub fn interpreter(minor: &str) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Ok(out) = Command::new("pyenv").arg("root").output() {
        if out.status.success() {
            let root = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if let Ok(entries) = std::fs::read_dir(root.join("versions")) {
                let mut vs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
                vs.sort();
                for v in vs.into_iter().rev() {
                    let name = v
                        .file_name()
                        .map(|n| n.to_string_lossy().to_string())
                        .unwrap_or_default();
                    if name.starts_with(&format!("{minor}.")) {
                        candidates.push(v.join("bin").join(format!("python{minor}")));
                    }
                }
            }
        }
    }
    candidates.push(PathBuf::from(format!("python{minor}")));
    candidates.into_iter().find(|c| {
        Command::new(c)
            .args([
                "-I",
                "-S",
                "-c",
                "import sys; print('%d.%d' % sys.version_info[:2])",
            ])
            .output()
            .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == minor)
            .unwrap_or(false)
    })
}
