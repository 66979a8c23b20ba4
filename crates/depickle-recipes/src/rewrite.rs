//! The rewriting pass: replace every call of a serializer helper with its recipe's output.
//!
//! Nodes are visited in creation order, which is the input's order, so a helper's arguments
//! (created before the call) are already rewritten when its recipe looks at them. Afterwards no
//! serializer global may remain reachable: a helper used as a plain value, or one with no
//! recipe, stops the conversion with its name and byte offset.

use crate::eval::{Call, Flow, Session};
use crate::value::Value;
use crate::{serializer_family, Catalog, RecipeError};
use pickle_ir::{Graph, Node, NodeId};
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
    let counts = graph.use_counts();
    let mut globals: HashMap<(String, String), NodeId> = HashMap::new();
    let mut stats = RewriteStats::default();
    let is_serializer = |m: &str| serializer_family(m).is_some();
    let original = graph.nodes.len();
    for i in 0..original {
        let id = NodeId(i as u32);
        let Node::Call { func, args } = graph.node(id) else {
            continue;
        };
        let (func, args) = (*func, *args);
        if graph.has_effects(func) {
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
        let refused = |reason: String| RecipeError::Refused {
            module: module.clone(),
            name: name.clone(),
            offset,
            reason,
        };
        let mut session = Session {
            graph,
            counts: &counts,
            globals: &mut globals,
            is_serializer_module: &is_serializer,
        };
        let mut call = Call::new(&mut session, recipes, offset);
        let Value::Tuple(items) = call.view(args) else {
            return Err(refused(
                "its arguments are not a tuple written in the pickle".into(),
            ));
        };
        let outcome = call.call_function(function, items.as_ref().clone(), Vec::new());
        let value = match outcome {
            Ok(v) => call.lower(&v),
            Err(e) => Err(e),
        };
        let value = match value {
            Ok(u) => u,
            Err(Flow::Refuse(reason)) => return Err(refused(reason)),
            Err(Flow::Raise(exception, message)) => {
                return Err(RecipeError::WouldRaise {
                    module,
                    name,
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
        graph.replace(id, Node::Block { stmts, value });
        *stats.helpers.entry(format!("{module}.{name}")).or_default() += 1;
    }
    check_no_serializer_globals(graph)?;
    Ok(stats)
}

/// Fail if any serializer global is still reachable.
pub fn check_no_serializer_globals(graph: &Graph<'_>) -> Result<(), RecipeError> {
    let mut found: Option<RecipeError> = None;
    graph.walk_uses(|u| {
        if found.is_some() {
            return;
        }
        let node = graph.node(u.node);
        let (module, name) = match node {
            Node::Global { module, name } | Node::Inst { module, name, .. } => {
                (module.as_ref(), name.as_ref())
            }
            _ => return,
        };
        if let Some(family) = serializer_family(module) {
            found = Some(RecipeError::Survives {
                serializer: family.into(),
                module: module.into(),
                name: name.into(),
                offset: graph.offset(u.node),
            });
        }
    });
    match found {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
