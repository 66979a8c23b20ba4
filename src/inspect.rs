//! `depickle inspect`: what a pickle is and what loading it (after conversion) will import.
//! Everything here reads the lifted graph; nothing is executed.

use pickle_ir::{ConstOp, Graph, Node, NodeId};
use serde::Serialize;
use std::collections::BTreeSet;

/// Globals that run commands, evaluate code, touch files or load further pickles.
const DANGEROUS: &[(&str, &str)] = &[
    ("os", "system"),
    ("os", "popen"),
    ("os", "execv"),
    ("os", "execve"),
    ("os", "execl"),
    ("os", "execvp"),
    ("os", "spawnv"),
    ("os", "spawnl"),
    ("os", "remove"),
    ("os", "unlink"),
    ("os", "rmdir"),
    ("os", "removedirs"),
    ("os", "kill"),
    ("posix", "system"),
    ("posix", "popen"),
    ("nt", "system"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("builtins", "compile"),
    ("builtins", "__import__"),
    ("builtins", "open"),
    ("builtins", "breakpoint"),
    ("__builtin__", "eval"),
    ("__builtin__", "exec"),
    ("__builtin__", "execfile"),
    ("__builtin__", "compile"),
    ("__builtin__", "__import__"),
    ("__builtin__", "open"),
    ("__builtin__", "file"),
    ("pickle", "loads"),
    ("pickle", "load"),
    ("_pickle", "loads"),
    ("_pickle", "load"),
    ("cPickle", "loads"),
    ("marshal", "loads"),
    ("marshal", "load"),
    ("shutil", "rmtree"),
    ("shutil", "move"),
    ("code", "interact"),
    ("pty", "spawn"),
    ("webbrowser", "open"),
    ("ctypes", "CDLL"),
];

/// Whole modules every global of which is dangerous.
const DANGEROUS_MODULES: &[&str] = &["subprocess", "runpy", "socket", "ctypes", "pdb"];

/// Names that, used inside a function body (`co_names`), run commands, evaluate code, load
/// pickles or delete files. Only a hint: a body can reach anything through `getattr`.
const RISKY_CODE_NAMES: &[&str] = &[
    "system",
    "popen",
    "Popen",
    "spawnv",
    "spawnl",
    "execv",
    "execve",
    "execl",
    "execvp",
    "check_output",
    "check_call",
    "getoutput",
    "getstatusoutput",
    "eval",
    "exec",
    "execfile",
    "compile",
    "__import__",
    "import_module",
    "loads",
    "load",
    "rmtree",
    "unlink",
    "remove",
    "CDLL",
    "ctypes",
    "subprocess",
    "run_path",
    "run_module",
];

/// Whether a name used by embedded code (`co_names`) is worth a reviewer's look.
pub fn is_risky_code_name(name: &str) -> bool {
    RISKY_CODE_NAMES.contains(&name)
}

/// Whether a global (`module.name`) or a whole imported module is dangerous to load. Modules
/// are given without a name and match `DANGEROUS_MODULES`.
pub fn is_dangerous(global: &str) -> bool {
    if DANGEROUS_MODULES.contains(&global) {
        return true;
    }
    let (module, name) = global.rsplit_once('.').unwrap_or(("", global));
    DANGEROUS.iter().any(|(m, n)| *m == module && *n == name)
        || DANGEROUS_MODULES
            .iter()
            .any(|m| module == *m || module.starts_with(&format!("{m}.")))
        || (module == "os" && (name.starts_with("exec") || name.starts_with("spawn")))
}

#[derive(Serialize, Default)]
pub struct Fingerprint {
    /// Human statements about the serializer version, e.g. "cloudpickle 1.x–2.x".
    pub serializer_versions: Vec<String>,
    /// Serializer helper globals found.
    pub helpers: BTreeSet<String>,
    /// Inferred CPython minor versions the embedded code objects were compiled for.
    pub cpython: Vec<String>,
    /// Number of code objects found.
    pub code_objects: usize,
}

/// Fingerprint the serializer and the CPython version of the embedded code objects.
pub fn fingerprint(graphs: &[Graph<'_>]) -> Fingerprint {
    let mut fp = Fingerprint::default();
    let mut modules = BTreeSet::new();
    let mut candidates: Option<BTreeSet<&'static str>> = None;
    for g in graphs {
        for n in &g.nodes {
            let qual = match n {
                Node::Global { module, name } => Some((module, name)),
                Node::Inst(inst) => Some((&inst.module, &inst.name)),
                _ => None,
            };
            if let Some((module, name)) = qual {
                if depickle_recipes::serializer_family(module).is_some() {
                    fp.helpers.insert(format!("{module}.{name}"));
                    modules.insert(module.to_string());
                }
            }
            if let Node::Call { func, args } = n {
                if is_code_type(g, func.node) {
                    fp.code_objects += 1;
                    if let Some(v) = code_versions(g, args.node) {
                        candidates = Some(match candidates {
                            None => v,
                            Some(c) => {
                                let both: BTreeSet<_> = c.intersection(&v).copied().collect();
                                if both.is_empty() {
                                    c
                                } else {
                                    both
                                }
                            }
                        });
                    }
                }
            }
        }
    }
    let names: BTreeSet<String> = fp
        .helpers
        .iter()
        .map(|h| h.rsplit_once('.').map(|x| x.1).unwrap_or(h).to_string())
        .collect();
    if modules.iter().any(|m| m.starts_with("joblib.externals.")) {
        fp.serializer_versions
            .push("cloudpickle vendored by joblib (joblib.externals.cloudpickle)".into());
    }
    if modules.iter().any(|m| m.ends_with("cloudpickle_fast")) {
        fp.serializer_versions
            .push("cloudpickle 1.x–2.x (cloudpickle_fast module)".into());
    }
    if modules.iter().any(|m| m.contains("cloudpickle")) {
        if names.contains("_make_function") {
            fp.serializer_versions
                .push("cloudpickle ≥ 2.2 (_make_function)".into());
        } else if names.contains("_fill_function") || names.contains("_make_skel_func") {
            fp.serializer_versions
                .push("cloudpickle < 2.2 (_fill_function/_make_skel_func)".into());
        }
    }
    if modules.contains("dill._dill") {
        fp.serializer_versions
            .push("dill ≥ 0.3 (dill._dill)".into());
    }
    if modules.contains("dill.dill") {
        fp.serializer_versions.push("dill < 0.3 (dill.dill)".into());
    }
    if let Some(c) = candidates {
        let mut v: Vec<&str> = c.into_iter().collect();
        v.sort_by_key(|s| {
            s.split('.')
                .map(|x| x.parse::<u32>().unwrap_or(0))
                .collect::<Vec<_>>()
        });
        fp.cpython = v.into_iter().map(String::from).collect();
    }
    fp
}

fn global_name<'g>(g: &'g Graph<'_>, id: NodeId) -> Option<(&'g str, &'g str)> {
    match g.node(id) {
        Node::Global { module, name } => Some((module, name)),
        _ => None,
    }
}

/// `types.CodeType`, cloudpickle's `_builtin_type('CodeType')`, dill's `_create_code`.
fn is_code_type(g: &Graph<'_>, id: NodeId) -> bool {
    if let Some((_, name)) = global_name(g, id) {
        return name == "CodeType" || name == "_create_code";
    }
    if let Node::Call { func, args } = g.node(id) {
        let helper = global_name(g, func.node)
            .is_some_and(|(_, n)| n == "_builtin_type" || n == "_load_type");
        if let Node::Tuple(items) = g.node(args.node) {
            return helper
                && items.len() == 1
                && g.const_str(items[0].node).as_deref() == Some("CodeType");
        }
    }
    false
}

/// Bytes of a node: a bytes constant, or protocol 2's `_codecs.encode(str, 'latin1')`.
fn bytes_of(g: &Graph<'_>, id: NodeId) -> Option<Vec<u8>> {
    match g.node(id) {
        Node::Const(ConstOp::BinBytes(b) | ConstOp::ShortBinBytes(b) | ConstOp::BinBytes8(b)) => {
            Some(b.to_vec())
        }
        Node::Call { func, args } => {
            let (m, n) = global_name(g, func.node)?;
            if m != "_codecs" || n != "encode" {
                return None;
            }
            let Node::Tuple(items) = g.node(args.node) else {
                return None;
            };
            let s = g.const_str(items.first()?.node)?;
            s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
        }
        _ => None,
    }
}

/// Candidate CPython versions for one code object's constructor arguments.
fn code_versions(g: &Graph<'_>, args: NodeId) -> Option<BTreeSet<&'static str>> {
    let Node::Tuple(items) = g.node(args) else {
        return None;
    };
    let byte_args: Vec<Vec<u8>> = items
        .iter()
        .take(9)
        .filter_map(|u| bytes_of(g, u.node))
        .collect();
    // dill may put the line table first; the bytecode is the first bytes argument after an int.
    let first_is_bytes = items.first().and_then(|u| bytes_of(g, u.node)).is_some();
    let code = if first_is_bytes {
        byte_args.get(1)
    } else {
        byte_args.first()
    }?;
    let ops: Vec<u8> = code.iter().step_by(2).copied().collect();
    let head = &ops[..ops.len().min(8)];
    let set = |v: &[&'static str]| Some(v.iter().copied().collect());
    let int_args = items.len() - usize::from(first_is_bytes);
    if head.contains(&151) && (head[0] == 151 || [149, 135, 75].contains(&head[0])) {
        // RESUME = 151: 3.11 or 3.12. PRECALL (166) exists only in 3.11, RETURN_CONST (121)
        // only from 3.12.
        if ops.contains(&166) {
            return set(&["3.11"]);
        }
        if ops.contains(&121) {
            return set(&["3.12"]);
        }
        return set(&["3.11", "3.12"]);
    }
    if head.contains(&149) && !head.contains(&151) {
        return set(&["3.13"]);
    }
    match int_args {
        15 => set(&["3.7"]),
        16 => set(&["3.8", "3.9", "3.10"]),
        _ => None,
    }
}
