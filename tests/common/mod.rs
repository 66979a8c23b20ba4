//! Helpers shared by the integration tests.

use std::path::PathBuf;
use std::process::Command;

/// The interpreter for a `3.X` minor version, if this machine has one (pyenv first, then PATH).
#[allow(dead_code)] // not every test crate that includes this module uses it
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

/// Python source that lets the standard library write a pickle needing conversion, without
/// cloudpickle: a stand-in module registered as `cloudpickle.cloudpickle` with a `subimport`
/// function, so `pickle` names the helper; `R("os")` pickles as `subimport("os")`. The tests
/// append their own body (data around the `R` calls) to it.
#[allow(dead_code)]
pub const STAND_IN_CLOUDPICKLE: &str = r#"
import pickle, sys, types
m = types.ModuleType("cloudpickle.cloudpickle")
def subimport(name): raise AssertionError
subimport.__module__ = "cloudpickle.cloudpickle"
m.subimport = subimport
sys.modules["cloudpickle"] = types.ModuleType("cloudpickle")
sys.modules["cloudpickle.cloudpickle"] = m
class R:
    def __init__(self, name): self.name = name
    def __reduce__(self): return (subimport, (self.name,))
"#;
