//! What a pickle imports and looks up when it is loaded, for `inspect` and reports.
//!
//! Plain globals are only part of the story: a converted cloudpickle pickle imports modules
//! with `importlib.import_module("os.path")` (from `subimport`) and may then look attributes up
//! with `builtins.getattr(module, "name")`. A reviewer needs to see `os.path` and
//! `os.system`, not just `importlib.import_module`. This walk resolves such calls when their
//! arguments are constant strings written in the pickle, and reports calls whose target is not
//! known statically.

use pickle_ir::{const_op_str, Graph, Node, NodeId, Scalar, Use};
use std::collections::BTreeSet;

/// Names a pickle reaches at load time.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadTimeNames {
    /// `module.qualname` of every global, plus attribute lookups resolved statically on imported
    /// modules or globals (`getattr(import_module("os"), "system")` gives `os.system`).
    pub globals: BTreeSet<String>,
    /// Every module imported at load time: the modules of the globals, and modules imported
    /// by name (`import_module`, `__import__`).
    pub modules: BTreeSet<String>,
    /// Import or attribute-lookup calls whose target is only known at load time.
    pub dynamic_lookups: usize,
    /// Names the embedded code objects use (`co_names`: globals, builtins and attributes a
    /// function body looks up, e.g. `os` and `system` for `os.system(cmd)`).
    pub code_names: BTreeSet<String>,
}

/// Position of `co_names` among `types.CodeType`'s positional arguments: the same on every
/// CPython from 3.8 (which added `posonlyargcount`) to 3.13.
const CODE_NAMES_ARG: usize = 8;

/// Walk everything reachable from the root.
pub fn load_time_names(g: &Graph<'_>) -> LoadTimeNames {
    load_time_names_counted(g, &g.use_counts())
}

/// [`load_time_names`] given the graph's [`Graph::use_counts`]: reachable nodes are those with
/// a use, and a dynamic lookup counts once per use, so no walk is needed.
pub fn load_time_names_counted(g: &Graph<'_>, counts: &[u32]) -> LoadTimeNames {
    let mut out = LoadTimeNames::default();
    for (node, &count) in g.nodes.iter().zip(counts) {
        if count == 0 {
            continue;
        }
        match node {
            Node::Global { module, name } => {
                out.globals.insert(format!("{module}.{name}"));
                out.modules.insert(module.to_string());
            }
            Node::Inst(inst) => {
                out.globals.insert(format!("{}.{}", inst.module, inst.name));
                out.modules.insert(inst.module.to_string());
            }
            Node::Call { func, args } => {
                let Some(f) = global_of(g, *func) else {
                    continue;
                };
                let count = count as usize;
                match f.as_str() {
                    "importlib.import_module" | "builtins.__import__" => {
                        match arg_str(g, *args, 0) {
                            Some(m) => {
                                out.modules.insert(m);
                            }
                            None => out.dynamic_lookups += count,
                        }
                    }
                    "types.CodeType" => {
                        if let Node::Tuple(items) = g.node(resolve(g, args.node)) {
                            if let Some(names) = items.get(CODE_NAMES_ARG) {
                                if let Node::Tuple(names) = g.node(resolve(g, names.node)) {
                                    for i in 0..names.len() {
                                        if let Some(n) = names.get(i).and_then(|x| str_of(g, *x)) {
                                            out.code_names.insert(n);
                                        }
                                    }
                                }
                            }
                        }
                    }
                    "builtins.getattr" => match (target_name(g, *args), arg_str(g, *args, 1)) {
                        (Some(base), Some(attr)) => {
                            out.globals.insert(format!("{base}.{attr}"));
                        }
                        (Some(_), None) => out.dynamic_lookups += count,
                        _ => {}
                    },
                    _ => {}
                }
            }
            _ => {}
        }
    }
    out
}

/// Follow rewritten blocks to the node producing the value.
fn resolve(g: &Graph<'_>, mut id: NodeId) -> NodeId {
    for _ in 0..64 {
        match g.node(id) {
            Node::Block { value, .. } => id = value.node,
            _ => break,
        }
    }
    id
}

fn global_of(g: &Graph<'_>, u: Use) -> Option<String> {
    match g.node(resolve(g, u.node)) {
        Node::Global { module, name } => Some(format!("{module}.{name}")),
        _ => None,
    }
}

fn str_of(g: &Graph<'_>, u: Use) -> Option<String> {
    match g.node(resolve(g, u.node)) {
        Node::Const(op) => const_op_str(&op.op()).map(|s| s.into_owned()),
        Node::Value(v) => match &**v {
            Scalar::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

fn arg_str(g: &Graph<'_>, args: Use, i: usize) -> Option<String> {
    match g.node(resolve(g, args.node)) {
        Node::Tuple(items) => items.get(i).and_then(|x| str_of(g, *x)),
        _ => None,
    }
}

/// The dotted name of the object `getattr` is applied to, when it is a global or a module
/// imported by a constant name.
fn target_name(g: &Graph<'_>, args: Use) -> Option<String> {
    let Node::Tuple(items) = g.node(resolve(g, args.node)) else {
        return None;
    };
    let obj = *items.first()?;
    match g.node(resolve(g, obj.node)) {
        Node::Global { module, name } => Some(format!("{module}.{name}")),
        Node::Call { func, args } => match global_of(g, *func)?.as_str() {
            "importlib.import_module" => arg_str(g, *args, 0),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `getattr(importlib.import_module("os"), "system")` at protocol 2.
    fn os_system_pickle(module_arg: &[u8]) -> Vec<u8> {
        let mut p = vec![0x80, 2];
        p.extend_from_slice(b"cbuiltins\ngetattr\n");
        p.extend_from_slice(b"cimportlib\nimport_module\n");
        p.extend_from_slice(module_arg);
        p.extend_from_slice(b"\x85R"); // TUPLE1 REDUCE
        p.extend_from_slice(b"X\x06\x00\x00\x00system\x86R."); // 'system' TUPLE2 REDUCE STOP
        p
    }

    #[test]
    fn resolves_imports_and_lookups_through_calls() {
        let p = os_system_pickle(b"X\x02\x00\x00\x00os");
        let g = pickle_ir::lift(&p, 0).expect("lifts");
        let n = load_time_names(&g);
        assert!(n.globals.contains("os.system"), "{:?}", n.globals);
        assert!(n.modules.contains("os"));
        assert!(n.modules.contains("importlib"));
        assert_eq!(n.dynamic_lookups, 0);
    }

    #[test]
    fn collects_the_names_code_objects_use() {
        // types.CodeType(0, 0, 0, 0, 0, 0, b"", (), ("os", "system"), ...): only argument 8
        // (co_names) matters here; the call is never executed.
        let mut p = vec![0x80, 2];
        p.extend_from_slice(b"ctypes\nCodeType\n(");
        p.extend_from_slice(b"K\x00K\x00K\x00K\x00K\x00K\x00)"); // six ints, then a tuple
        p.extend_from_slice(b")"); // co_consts
        p.extend_from_slice(b"X\x02\x00\x00\x00osX\x06\x00\x00\x00system\x86"); // co_names
        p.extend_from_slice(b")tR.");
        let g = pickle_ir::lift(&p, 0).expect("lifts");
        let n = load_time_names(&g);
        let want: BTreeSet<String> = ["os", "system"].iter().map(|x| x.to_string()).collect();
        assert_eq!(n.code_names, want);
    }

    #[test]
    fn counts_imports_with_a_load_time_target() {
        // The module name comes from a call, so it cannot be known statically.
        let p = os_system_pickle(b"cbuiltins\nstr\n)R");
        let g = pickle_ir::lift(&p, 0).expect("lifts");
        let n = load_time_names(&g);
        assert_eq!(n.dynamic_lookups, 1);
        assert!(!n.modules.contains("os"));
    }
}
