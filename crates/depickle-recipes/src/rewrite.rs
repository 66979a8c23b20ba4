//! The rewriting pass: replace every call of a serializer helper with its recipe's output.
//!
//! First, GLOBAL nodes naming a pseudo-global of a recipe module (`@recipe_global`, e.g. dill's
//! `__builtin__.__main__`, which only dill's `find_class` understands) are replaced by their
//! recipe's stdlib expression. Then calls: nodes are visited in creation order, which is the input's order, so a helper's arguments
//! (created before the call) are already rewritten when its recipe looks at them. Afterwards no
//! serializer global may remain reachable: a helper used as a plain value, or one with no
//! recipe, stops the conversion with its name and byte offset.

use crate::eval::{Call, Flow, Session};
use crate::value::Value;
use crate::{serializer_family, Catalog, RecipeError, RecipeModule};
use pickle_ir::{Graph, Node, NodeId, Use};
use std::collections::{BTreeMap, HashMap};

/// What the pass did, for reports.
#[derive(Debug, Default, Clone)]
pub struct RewriteStats {
    /// Helper name (`module.name`) -> number of calls rewritten.
    pub helpers: BTreeMap<String, u64>,
}

impl RewriteStats {
    pub fn total(&self) -> u64 {
        self.helpers.values().sum()
    }
}

pub fn rewrite(graph: &mut Graph<'_>, catalog: &Catalog) -> Result<RewriteStats, RecipeError> {
    rewrite_counted(graph, catalog).map(|(stats, _)| stats)
}

/// [`rewrite`], also returning the [`Graph::use_counts`] of the rewritten graph (computed by the
/// same walk that checks no serializer global survives), for the emitter.
pub fn rewrite_counted(
    graph: &mut Graph<'_>,
    catalog: &Catalog,
) -> Result<(RewriteStats, Vec<u32>), RecipeError> {
    let counts = graph.take_use_counts();
    let mut globals: HashMap<(String, String), NodeId> = HashMap::new();
    let mut stats = RewriteStats::default();
    let original = graph.nodes.len();
    // Pass 1: pseudo-globals, names a serializer's own `find_class` resolves (dill's
    // `__builtin__.__main__`). Done first so calls see what those globals stand for.
    for i in 0..original {
        let id = NodeId(i as u32);
        let Node::Global { module, name } = graph.node(id) else {
            continue;
        };
        let Some((recipes, function)) = catalog.pseudo_global(module, name) else {
            continue;
        };
        let (module, name) = (module.to_string(), name.to_string());
        let function = function.to_string();
        apply(
            graph,
            &counts,
            &mut globals,
            recipes,
            id,
            (&module, &name),
            &function,
            None,
        )?;
        *stats.helpers.entry(format!("{module}.{name}")).or_default() += 1;
    }
    // Pass 2: helper calls, in the input's order.
    for i in 0..original {
        let id = NodeId(i as u32);
        let Node::Call { func, args } = graph.node(id) else {
            continue;
        };
        let (func, args) = (*func, *args);
        if graph.has_effects(func) {
            continue;
        }
        if let Some((module, name)) = serializer_attribute(graph, func, args) {
            // `getattr(<serializer module>, "name"[, default])` is how dill pickles its shims
            // (`_CELL_EMPTY`, `_setattr`, `_delattr`): it names a serializer global, which is
            // then rewritten (or refused) like one written with GLOBAL.
            graph.replace(
                id,
                Node::Global {
                    module: module.into(),
                    name: name.into(),
                },
            );
            continue;
        }
        let Node::Global { module, name } = graph.node(func.node) else {
            continue;
        };
        let (module, name) = (module.to_string(), name.to_string());
        let Some(family) = serializer_family(&module) else {
            continue;
        };
        let offset = graph.offset(id);
        let Some(recipes) = catalog.module_for(&module) else {
            return Err(RecipeError::UnknownHelper {
                serializer: family.into(),
                module,
                name,
                offset,
            });
        };
        let Some(function) = recipes.helpers.get(&name) else {
            return Err(RecipeError::UnknownHelper {
                serializer: family.into(),
                module,
                name,
                offset,
            });
        };
        apply(
            graph,
            &counts,
            &mut globals,
            recipes,
            id,
            (&module, &name),
            function,
            Some(args),
        )?;
        *stats.helpers.entry(format!("{module}.{name}")).or_default() += 1;
    }
    let counts = checked_use_counts(graph)?;
    Ok((stats, counts))
}

/// Run recipe `function` for node `id` (a helper call with argument tuple `args`, or a
/// pseudo-global when `args` is None) and replace the node with the recipe's block.
#[allow(clippy::too_many_arguments)]
fn apply(
    graph: &mut Graph<'_>,
    counts: &[u32],
    globals: &mut HashMap<(String, String), NodeId>,
    recipes: &RecipeModule,
    id: NodeId,
    (module, name): (&str, &str),
    function: &str,
    args: Option<Use>,
) -> Result<(), RecipeError> {
    let offset = graph.offset(id);
    let refused = |reason: String| RecipeError::Refused {
        module: module.to_string(),
        name: name.to_string(),
        offset,
        reason,
    };
    let is_serializer = |m: &str| serializer_family(m).is_some();
    let mut session = Session {
        graph,
        counts,
        globals,
        is_serializer_module: &is_serializer,
    };
    let mut call = Call::new(&mut session, recipes, offset);
    call.site = Some(id);
    let items = match args {
        Some(args) => {
            let Value::Tuple(items) = call.view(args) else {
                return Err(refused(
                    "its arguments are not a tuple written in the pickle".into(),
                ));
            };
            items.as_ref().clone()
        }
        None => Vec::new(),
    };
    let outcome = call.call_function(function, items, Vec::new());
    let value = match outcome {
        Ok(v) => call.lower(&v),
        Err(e) => Err(e),
    };
    let value = match value {
        Ok(u) => u,
        Err(Flow::Refuse(reason)) => return Err(refused(reason)),
        Err(Flow::Raise(exception, message)) => {
            return Err(RecipeError::WouldRaise {
                module: module.to_string(),
                name: name.to_string(),
                offset,
                exception,
                message,
            })
        }
        Err(Flow::Return(_) | Flow::Break | Flow::Continue) => {
            return Err(refused("control flow escaped the recipe".into()))
        }
    };
    let stmts = std::mem::take(&mut call.stmts);
    drop(call);
    graph.replace(
        id,
        Node::Block {
            stmts: stmts.into_boxed_slice(),
            value,
        },
    );
    Ok(())
}

/// `getattr(G, "name"[, default])` where `G` is a global of a serializer module `m.n`: the
/// serializer global `(m.n, name)` it looks up.
fn serializer_attribute(graph: &Graph<'_>, func: Use, args: Use) -> Option<(String, String)> {
    match graph.node(func.node) {
        Node::Global { module, name }
            if (module == "builtins" || module == "__builtin__") && name == "getattr" => {}
        _ => return None,
    }
    if graph.has_effects(args) {
        return None;
    }
    let Node::Tuple(items) = graph.node(args.node) else {
        return None;
    };
    if !(2..=3).contains(&items.len()) || graph.has_effects(items[0]) {
        return None;
    }
    let Node::Global { module, name } = graph.node(items[0].node) else {
        return None;
    };
    let owner = format!("{module}.{name}");
    serializer_family(module)?;
    serializer_family(&owner)?;
    let attr = graph.const_str(items[1].node)?;
    Some((owner, attr.to_string()))
}

/// Fail if any serializer global is still reachable.
pub fn check_no_serializer_globals(graph: &Graph<'_>) -> Result<(), RecipeError> {
    checked_use_counts(graph).map(|_| ())
}

/// [`Graph::use_counts`], failing if any serializer global is reachable (the first one the walk
/// meets is reported).
pub fn checked_use_counts(graph: &Graph<'_>) -> Result<Vec<u32>, RecipeError> {
    let is_bad = |node: &Node<'_>| match node {
        Node::Global { module, .. } => serializer_family(module).is_some(),
        Node::Inst(inst) => serializer_family(&inst.module).is_some(),
        _ => false,
    };
    let mut bad = false;
    let counts = graph.use_counts_unordered(|_, node| bad |= is_bad(node));
    if !bad {
        return Ok(counts);
    }
    // Report the first survivor in walk order, as the ordered walk meets them.
    graph.use_counts_with(|id, node| {
        let (module, name) = match node {
            Node::Global { module, name } => (module.as_str(), name.as_str()),
            Node::Inst(inst) => (inst.module.as_str(), inst.name.as_str()),
            _ => return Ok(()),
        };
        match serializer_family(module) {
            Some(family) => Err(RecipeError::Survives {
                serializer: family.into(),
                module: module.into(),
                name: name.into(),
                offset: graph.offset(id),
            }),
            None => Ok(()),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Protocol-2 pickle text builders (GLOBAL, BINUNICODE, TUPLE, REDUCE).
    fn global(m: &str, n: &str) -> Vec<u8> {
        format!("c{m}\n{n}\n").into_bytes()
    }
    fn string(s: &str) -> Vec<u8> {
        let mut v = vec![b'X'];
        v.extend_from_slice(&(s.len() as u32).to_le_bytes());
        v.extend_from_slice(s.as_bytes());
        v
    }
    /// `f(*args)`: callee, MARK, args, TUPLE, REDUCE.
    fn call(f: Vec<u8>, args: &[Vec<u8>]) -> Vec<u8> {
        let mut v = f;
        v.push(b'(');
        for a in args {
            v.extend_from_slice(a);
        }
        v.extend_from_slice(b"tR");
        v
    }
    fn pickle(body: Vec<u8>) -> Vec<u8> {
        let mut v = vec![0x80, 2];
        v.extend(body);
        v.push(b'.');
        v
    }
    fn convert(data: &[u8]) -> Result<(Vec<(String, String)>, RewriteStats), RecipeError> {
        let mut g = pickle_ir::lift(data, 0).expect("lift");
        let stats = rewrite(&mut g, &Catalog::builtin().expect("catalog"))?;
        let mut globals = Vec::new();
        g.walk_uses(|u| {
            if let Node::Global { module, name } = g.node(u.node) {
                globals.push((module.to_string(), name.to_string()));
            }
        });
        Ok((globals, stats))
    }
    fn refusal(data: &[u8]) -> String {
        match convert(data) {
            Err(e @ RecipeError::Refused { .. }) => e.to_string(),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    const DILL: &str = "dill._dill";

    #[test]
    fn dill_main_pseudo_global_becomes_main_namespace() {
        let data = pickle(global("__builtin__", "__main__"));
        let (globals, stats) = convert(&data).expect("converts");
        assert!(!globals.iter().any(|(m, _)| m == "__builtin__"));
        assert!(globals.contains(&("importlib".into(), "import_module".into())));
        assert!(globals.contains(&("builtins".into(), "vars".into())));
        assert_eq!(stats.helpers.get("__builtin__.__main__"), Some(&1));
    }

    #[test]
    fn dill_none_type_pseudo_global() {
        let data = pickle(global("__builtin__", "NoneType"));
        let (globals, _) = convert(&data).expect("converts");
        assert_eq!(globals, vec![("builtins".to_string(), "type".to_string())]);
    }

    #[test]
    fn other_builtin_globals_are_left_alone() {
        // Plain pickle maps `__builtin__` to `builtins` itself for protocols < 3.
        let data = pickle(global("__builtin__", "len"));
        let (globals, stats) = convert(&data).expect("converts");
        assert_eq!(
            globals,
            vec![("__builtin__".to_string(), "len".to_string())]
        );
        assert_eq!(stats.total(), 0);
    }

    #[test]
    fn dill_shim_lookup_becomes_a_helper() {
        // _setattr = getattr(dill._dill, '_setattr', setattr); _setattr(dict, 'x', 'y')
        let shim = call(
            global("__builtin__", "getattr"),
            &[
                global("dill", "_dill"),
                string("_setattr"),
                global("__builtin__", "setattr"),
            ],
        );
        let data = pickle(call(
            shim,
            &[
                global("collections", "OrderedDict"),
                string("x"),
                string("y"),
            ],
        ));
        let (globals, stats) = convert(&data).expect("converts");
        assert!(!globals.iter().any(|(m, _)| m.starts_with("dill")));
        assert!(globals.contains(&("builtins".into(), "setattr".into())));
        assert_eq!(stats.helpers.get("dill._dill._setattr"), Some(&1));
    }

    #[test]
    fn dill_held_lock_is_refused() {
        let data = pickle(call(global(DILL, "_create_lock"), &[b"\x88".to_vec()]));
        assert!(refusal(&data).contains("lock held"));
        let free = pickle(call(global(DILL, "_create_lock"), &[b"\x89".to_vec()]));
        let (globals, _) = convert(&free).expect("an unheld lock converts");
        assert!(globals.contains(&("_thread".into(), "allocate_lock".into())));
    }

    #[test]
    fn dill_held_rlock_is_refused() {
        let data = pickle(call(
            global(DILL, "_create_rlock"),
            &[b"K\x01".to_vec(), b"J\x39\x30\x00\x00".to_vec()],
        ));
        assert!(refusal(&data).contains("RLock held"));
    }

    #[test]
    fn dill_capsule_is_refused() {
        let data = pickle(call(
            global(DILL, "_create_capsule"),
            &[b"K\x01".to_vec(), string("x"), b"N".to_vec(), b"N".to_vec()],
        ));
        assert!(refusal(&data).contains("PyCapsule"));
    }

    #[test]
    fn dill_eval_repr_only_for_constants() {
        let ok = pickle(call(global(DILL, "_eval_repr"), &[string("Ellipsis")]));
        let (globals, _) = convert(&ok).expect("Ellipsis converts");
        assert_eq!(
            globals,
            vec![("builtins".to_string(), "Ellipsis".to_string())]
        );
        let bad = pickle(call(
            global(DILL, "_eval_repr"),
            &[string("__import__('os').system('true')")],
        ));
        assert!(refusal(&bad).contains("not a known constant"));
        // A repr computed at load time is not constant either.
        let dynamic = pickle(call(
            global(DILL, "_eval_repr"),
            &[call(global("builtins", "repr"), &[b"K\x01".to_vec()])],
        ));
        assert!(refusal(&dynamic).contains("not a known constant"));
    }

    #[test]
    fn dill_writable_file_handle_is_refused() {
        let data = pickle(call(
            global(DILL, "_create_filehandle"),
            &[
                string("/tmp/x"),
                string("w"),
                b"K\x00".to_vec(),
                b"\x89".to_vec(),
                global("io", "open"),
                b"\x89".to_vec(),
                b"K\x00".to_vec(),
                string(""),
            ],
        ));
        assert!(refusal(&data).contains("can write"));
    }

    #[test]
    fn dill_code_layouts_by_field_count() {
        // 15 fields is CPython 3.7's layout: not loadable by 3.8-3.13 as written.
        let fields: Vec<Vec<u8>> = (0..15).map(|_| b"K\x00".to_vec()).collect();
        let data = pickle(call(global(DILL, "_create_code"), &fields));
        assert!(refusal(&data).contains("layout"));
        // 17 fields: co_lnotab first (3.10, dill >= 0.3.6); it is dropped.
        let mut fields: Vec<Vec<u8>> = vec![string("lnotab")];
        fields.extend((0..16).map(|_| b"K\x00".to_vec()));
        let data = pickle(call(global(DILL, "_create_code"), &fields));
        let (globals, _) = convert(&data).expect("3.10 layout converts");
        assert!(globals.contains(&("types".into(), "CodeType".into())));
    }

    #[test]
    fn dill_load_type_never_hands_out_non_types() {
        let data = pickle(call(global(DILL, "_load_type"), &[string("eval")]));
        assert!(matches!(
            convert(&data),
            Err(RecipeError::WouldRaise { ref exception, .. }) if exception == "KeyError"
        ));
    }
}
