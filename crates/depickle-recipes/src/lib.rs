//! # depickle-recipes
//!
//! The catalog of serializer helpers and their stdlib reconstructions ("recipes"), and the pass
//! that applies them to a [`pickle_ir::Graph`].
//!
//! Why recipes are Python: the helpers being replaced are Python, and a reviewer should be able
//! to read a recipe next to the helper and see they do the same thing. Recipes live in
//! `recipes/*.py`, run unchanged under CPython in the tests (against the real helpers), and are
//! evaluated here by a partial evaluator (`eval`): operations on values known while converting
//! happen now; operations on load-time values become GLOBAL/REDUCE/BUILD nodes.

pub mod catalog;
mod eval;
pub mod rewrite;
pub mod value;

pub use catalog::RecipeModule;
pub use rewrite::{rewrite, rewrite_counted, RewriteStats};

/// Why a helper could not be rewritten.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("recipe file {path}: {message}")]
    Parse { path: String, message: String },
    #[error("byte {offset}: `{module}.{name}` is a {serializer} helper depickle does not know; it cannot be rewritten safely (please report it with the serializer's version)")]
    UnknownHelper {
        serializer: String,
        module: String,
        name: String,
        offset: u64,
    },
    #[error("byte {offset}: cannot rewrite `{module}.{name}` faithfully: {reason}")]
    Refused {
        module: String,
        name: String,
        offset: u64,
        reason: String,
    },
    #[error("byte {offset}: `{module}.{name}` would raise {exception} when loaded ({message}); refusing to write a pickle that fails")]
    WouldRaise {
        module: String,
        name: String,
        offset: u64,
        exception: String,
        message: String,
    },
    #[error("byte {offset}: `{module}.{name}` from {serializer} is still referenced after rewriting (used as a plain value, not a call depickle knows)")]
    Survives {
        serializer: String,
        module: String,
        name: String,
        offset: u64,
    },
}

impl RecipeError {
    /// Byte offset in the input the error refers to, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            RecipeError::Parse { .. } => None,
            RecipeError::UnknownHelper { offset, .. }
            | RecipeError::Refused { offset, .. }
            | RecipeError::WouldRaise { offset, .. }
            | RecipeError::Survives { offset, .. } => Some(*offset),
        }
    }
}

/// Every recipe module depickle ships, parsed.
#[derive(Debug)]
pub struct Catalog {
    pub modules: Vec<RecipeModule>,
}

/// The recipe sources, embedded at build time.
pub const RECIPE_SOURCES: &[(&str, &str)] = &[
    ("cloudpickle.py", include_str!("../recipes/cloudpickle.py")),
    ("dill.py", include_str!("../recipes/dill.py")),
];

impl Catalog {
    /// Parse the built-in recipe modules.
    pub fn builtin() -> Result<Catalog, RecipeError> {
        let modules = RECIPE_SOURCES
            .iter()
            .map(|(path, src)| RecipeModule::parse(path, src))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Catalog { modules })
    }

    /// The recipe module and function for a pseudo-global (`@recipe_global`), if one is declared.
    pub fn pseudo_global(&self, module: &str, name: &str) -> Option<(&RecipeModule, &str)> {
        let key = (module.to_string(), name.to_string());
        self.modules
            .iter()
            .find_map(|m| m.pseudo_globals.get(&key).map(|f| (m, f.as_str())))
    }

    /// The recipe module for a serializer module name, if it is one.
    pub fn module_for(&self, module: &str) -> Option<&RecipeModule> {
        let family = serializer_family(module)?;
        self.modules.iter().find(|m| m.serializer == family)
    }
}

/// Which serializer a module name belongs to: cloudpickle (also vendored under any package,
/// e.g. `joblib.externals.cloudpickle.cloudpickle`) or dill.
pub fn serializer_family(module: &str) -> Option<&'static str> {
    let parts: Vec<&str> = module.split('.').collect();
    let n = parts.len();
    let last = parts[n - 1];
    let is_cp = |i: usize| parts.get(i) == Some(&"cloudpickle");
    // `…cloudpickle` (the package or its `cloudpickle` module) or `…cloudpickle.cloudpickle_fast`.
    if last == "cloudpickle" || (last == "cloudpickle_fast" && n >= 2 && is_cp(n - 2)) {
        return Some("cloudpickle");
    }
    if parts[0] == "dill" {
        return Some("dill");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        assert_eq!(
            serializer_family("cloudpickle.cloudpickle"),
            Some("cloudpickle")
        );
        assert_eq!(
            serializer_family("cloudpickle.cloudpickle_fast"),
            Some("cloudpickle")
        );
        assert_eq!(serializer_family("cloudpickle"), Some("cloudpickle"));
        assert_eq!(
            serializer_family("joblib.externals.cloudpickle.cloudpickle"),
            Some("cloudpickle")
        );
        assert_eq!(
            serializer_family("pyspark.cloudpickle"),
            Some("cloudpickle")
        );
        assert_eq!(serializer_family("dill._dill"), Some("dill"));
        assert_eq!(serializer_family("dill"), Some("dill"));
        assert_eq!(serializer_family("mycloudpickle"), None);
        assert_eq!(serializer_family("types"), None);
        assert_eq!(serializer_family("pickle"), None);
    }

    #[test]
    fn builtin_catalog_parses_and_names_helpers() {
        let c = Catalog::builtin().expect("recipes parse");
        let cp = c
            .module_for("cloudpickle.cloudpickle")
            .expect("cloudpickle recipes");
        for h in [
            "_make_function",
            "_function_setstate",
            "_class_setstate",
            "_make_skeleton_class",
            "_make_cell",
            "subimport",
        ] {
            assert!(cp.helpers.contains_key(h), "{h} missing");
        }
        let dill = c.module_for("dill._dill").expect("dill recipes");
        for h in [
            "_create_function",
            "_create_code",
            "_load_type",
            "_create_type",
            "_create_cell",
            "_setattr",
            "_delattr",
            "_import_module",
            "_eval_repr",
        ] {
            assert!(dill.helpers.contains_key(h), "{h} missing");
        }
        assert!(c.pseudo_global("__builtin__", "__main__").is_some());
        assert!(c.pseudo_global("__builtin__", "NoneType").is_some());
        assert!(c.pseudo_global("__builtin__", "len").is_none());
    }
}
