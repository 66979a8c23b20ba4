//! The recipe evaluator: runs a recipe's Python AST over [`Value`]s.
//!
//! Static operations are carried out here; operations on load-time values build graph nodes.
//! Ordering rule: a load-time call made while evaluating a statement is either nested inside a
//! later load-time node of the same statement or emitted as a statement of its own at the end of
//! the statement, in creation order — so the output performs load-time work in the recipe's own
//! order. Inside `try`, no load-time work is allowed: an exception at load time would skip work
//! the recipe already emitted, so such recipes are refused rather than approximated.

use crate::catalog::RecipeModule;
use crate::value::{Lazy, Value};
use pickle_ir::{Effect, Graph, Node, NodeId, Scalar, Use};
use rustpython_parser::ast::{self, Constant, Expr, Stmt};
use std::borrow::Cow;
use std::collections::HashMap;
use std::rc::Rc;

/// Non-local control flow and failures while evaluating.
pub(crate) enum Flow {
    Return(Value),
    Continue,
    Break,
    /// A Python exception raised statically (type name, message).
    Raise(String, String),
    /// The recipe cannot be applied faithfully to these values.
    Refuse(String),
}

type R<T> = Result<T, Flow>;

fn refuse<T>(msg: impl Into<String>) -> R<T> {
    Err(Flow::Refuse(msg.into()))
}

/// Names Python code may use without importing them, as `builtins` globals.
const BUILTIN_NAMES: &[&str] = &[
    "type",
    "dict",
    "tuple",
    "list",
    "set",
    "frozenset",
    "object",
    "str",
    "int",
    "bool",
    "bytes",
    "getattr",
    "setattr",
    "delattr",
    "min",
    "isinstance",
    "len",
    "enumerate",
    "zip",
    "range",
    "vars",
    "Ellipsis",
    "NotImplemented",
    "ValueError",
    "KeyError",
    "TypeError",
    "AttributeError",
    "Exception",
    "__import__",
    "print",
    "super",
    "repr",
    "sorted",
    "reversed",
    "iter",
    "next",
    "hasattr",
    "callable",
];

/// Shared state of one rewrite: the graph being edited and caches that span recipe calls.
pub struct Session<'g, 'a> {
    pub graph: &'g mut Graph<'a>,
    /// Use counts of the graph before rewriting; only literals used once are viewed statically.
    pub counts: &'g [u32],
    pub globals: &'g mut HashMap<(String, String), NodeId>,
    /// Recognises serializer modules (for sentinels met as values).
    pub is_serializer_module: &'g dyn Fn(&str) -> bool,
}

/// Evaluation of one helper call.
pub(crate) struct Call<'s, 'g, 'a> {
    pub s: &'s mut Session<'g, 'a>,
    pub module: &'s RecipeModule,
    pub offset: u64,
    pub stmts: Vec<Use>,
    /// The node being rewritten (nodes created after it in the input are not complete yet
    /// when it runs).
    pub site: Option<NodeId>,
    pending: Vec<NodeId>,
    in_try: usize,
    depth: usize,
}

impl<'s, 'g, 'a> Call<'s, 'g, 'a> {
    pub fn new(s: &'s mut Session<'g, 'a>, module: &'s RecipeModule, offset: u64) -> Self {
        Call {
            s,
            module,
            offset,
            stmts: Vec::new(),
            site: None,
            pending: Vec::new(),
            in_try: 0,
            depth: 0,
        }
    }

    // ------------------------------------------------------------------ graph side

    fn add(&mut self, node: Node<'a>) -> NodeId {
        self.s.graph.add(node, self.offset)
    }

    /// Create a load-time node; it stays pending until nested or flushed.
    fn runtime(&mut self, node: Node<'a>) -> R<Value> {
        if self.in_try > 0 {
            return refuse("the recipe would do load-time work inside `try`, where an exception at load time changes what runs");
        }
        let mut children = Vec::new();
        node.for_each_child(|u| children.push(u.node));
        self.pending.retain(|p| !children.contains(p));
        let id = self.add(node);
        self.pending.push(id);
        Ok(Value::Dyn(Use::of(id)))
    }

    /// End of a statement: pending load-time nodes run now, in creation order.
    fn flush(&mut self) {
        for id in std::mem::take(&mut self.pending) {
            self.stmts.push(Use::of(id));
        }
    }

    fn global_node(&mut self, module: &str, name: &str) -> NodeId {
        let key = (module.to_string(), name.to_string());
        if let Some(id) = self.s.globals.get(&key) {
            return *id;
        }
        let id = self.add(Node::Global {
            module: module.to_string().into(),
            name: name.to_string().into(),
        });
        self.s.globals.insert(key, id);
        id
    }

    fn scalar(&mut self, s: Scalar<'a>) -> Use {
        Use::of(self.add(Node::Value(Box::new(s))))
    }

    /// Turn a value into a use of a node that produces it at load time.
    pub fn lower(&mut self, v: &Value) -> R<Use> {
        Ok(match v {
            Value::None => self.scalar(Scalar::None),
            Value::Bool(b) => self.scalar(Scalar::Bool(*b)),
            Value::Int(i) => self.scalar(Scalar::Int(*i)),
            Value::Str(s) => self.scalar(Scalar::Str(Cow::Owned(s.to_string()))),
            Value::Tuple(items) => {
                let uses = items.iter().map(|x| self.lower(x)).collect::<R<Vec<_>>>()?;
                Use::of(self.add(Node::Tuple(uses.into())))
            }
            Value::List(items) => {
                let items = items.borrow().clone();
                let uses = items.iter().map(|x| self.lower(x)).collect::<R<Vec<_>>>()?;
                Use::of(self.add(Node::List(uses)))
            }
            Value::Dict(items) => {
                let items = items.borrow().clone();
                let mut pairs = Vec::with_capacity(items.len());
                for (k, x) in &items {
                    pairs.push((self.lower(k)?, self.lower(x)?));
                }
                Use::of(self.add(Node::Dict(pairs)))
            }
            Value::Module(m) => {
                let f = self.global_node("importlib", "import_module");
                let name = self.scalar(Scalar::Str(Cow::Owned(m.to_string())));
                let args = self.add(Node::Tuple(vec![name].into()));
                Use::of(self.add(Node::Call {
                    func: Use::of(f),
                    args: Use::of(args),
                }))
            }
            Value::Global(m, n) => Use::of(self.global_node(m, n)),
            Value::Sentinel(n) => {
                return refuse(format!(
                    "the serializer's `{n}` would have to appear in the output"
                ))
            }
            Value::Function(n) => {
                return refuse(format!(
                    "recipe function `{n}` cannot be stored in a pickle"
                ))
            }
            Value::Method(obj, name) => {
                let o = self.lower(obj)?;
                self.getattr_node(o, name)
            }
            Value::Lazy(l) => {
                let f = self.lower(&l.func)?;
                let args = l
                    .args
                    .iter()
                    .map(|x| self.lower(x))
                    .collect::<R<Vec<_>>>()?;
                let t = self.add(Node::Tuple(args.into()));
                Use::of(self.add(Node::Call {
                    func: f,
                    args: Use::of(t),
                }))
            }
            Value::Dyn(u) => *u,
        })
    }

    fn getattr_node(&mut self, obj: Use, name: &str) -> Use {
        let f = self.global_node("builtins", "getattr");
        let n = self.scalar(Scalar::Str(Cow::Owned(name.to_string())));
        let args = self.add(Node::Tuple(vec![obj, n].into()));
        Use::of(self.add(Node::Call {
            func: Use::of(f),
            args: Use::of(args),
        }))
    }

    /// A load-time call `func(*args, **kwargs)`. Keywords go through `functools.partial`, whose
    /// `__setstate__` (run by BUILD) accepts them: REDUCE + BUILD + REDUCE.
    fn call_runtime(
        &mut self,
        func: &Value,
        args: &[Value],
        kwargs: &[(Rc<str>, Value)],
    ) -> R<Value> {
        if self.in_try > 0 {
            return refuse("the recipe would do load-time work inside `try`, where an exception at load time changes what runs");
        }
        let f = self.lower(func)?;
        let arg_uses = args.iter().map(|x| self.lower(x)).collect::<R<Vec<_>>>()?;
        let callee = if kwargs.is_empty() {
            f
        } else {
            let partial = self.global_node("functools", "partial");
            let ptuple = self.add(Node::Tuple(vec![f].into()));
            let p = self.add(Node::Call {
                func: Use::of(partial),
                args: Use::of(ptuple),
            });
            let mut pairs = Vec::new();
            for (k, x) in kwargs {
                let key = self.scalar(Scalar::Str(Cow::Owned(k.to_string())));
                pairs.push((key, self.lower(x)?));
            }
            let kw = self.add(Node::Dict(pairs));
            let empty = self.add(Node::Tuple(vec![].into()));
            let none = self.scalar(Scalar::None);
            let state = self.add(Node::Tuple(
                vec![f, Use::of(empty), Use::of(kw), none].into(),
            ));
            let mut pu = Use::of(p);
            self.s
                .graph
                .effects_mut(&mut pu)
                .after
                .push(Effect::Build(Use::of(state)));
            // A block whose value carries the BUILD keeps the partial a single node.
            let b = self.add(Node::Block {
                stmts: Box::default(),
                value: pu,
            });
            Use::of(b)
        };
        let t = self.add(Node::Tuple(arg_uses.into()));
        self.runtime(Node::Call {
            func: callee,
            args: Use::of(t),
        })
    }

    // ------------------------------------------------------------------ viewing graph values

    /// How a recipe sees a use from the pickle. Literals used once become static containers;
    /// anything else is dynamic. Dynamic parts with effects, or whose evaluation does work, are
    /// evaluated right away (in the input's order) so dropping or reordering them in the recipe
    /// cannot drop or reorder work.
    pub fn view(&mut self, u: Use) -> Value {
        self.view_at(u, 0)
    }

    /// Containers nested deeper than this are left dynamic: recipes never look that deep, and
    /// hostile inputs must not turn nesting into native recursion.
    const MAX_VIEW_DEPTH: usize = 32;

    fn view_at(&mut self, u: Use, depth: usize) -> Value {
        let has_fx = self.s.graph.has_effects(u);
        let count = self
            .s
            .counts
            .get(u.node.index())
            .copied()
            .unwrap_or(u32::MAX);
        // Only small nodes are cloned: containers are cloned below only when viewed statically.
        let graph: &Graph<'a> = self.s.graph;
        if !has_fx {
            match graph.node(u.node) {
                Node::Const(op) => {
                    if let Some(v) = const_value(op) {
                        return v;
                    }
                    return Value::Dyn(Use::of(u.node));
                }
                Node::Value(s) => {
                    return match &**s {
                        Scalar::None => Value::None,
                        Scalar::Bool(b) => Value::Bool(*b),
                        Scalar::Int(i) => Value::Int(*i),
                        Scalar::Str(t) => Value::str(t),
                        Scalar::Bytes(_) => Value::Dyn(Use::of(u.node)),
                    }
                }
                Node::Global { module, name } => {
                    if (self.s.is_serializer_module)(module) {
                        return Value::Sentinel(Rc::from(name.as_ref()));
                    }
                    return Value::global(module, name);
                }
                Node::Block { stmts, value } if stmts.is_empty() => {
                    let value = *value;
                    return self.view_at(value, depth + 1);
                }
                _ => {}
            }
            if count <= 1 && depth < Self::MAX_VIEW_DEPTH {
                let node = match self.s.graph.node(u.node) {
                    n @ (Node::Tuple(_) | Node::List(_) | Node::Dict(_)) => Some(n.clone()),
                    _ => None,
                };
                match &node {
                    Some(Node::Tuple(items)) => {
                        let vs = items.iter().map(|x| self.view_at(*x, depth + 1)).collect();
                        return Value::tuple(vs);
                    }
                    Some(Node::List(items)) => {
                        let vs = items.iter().map(|x| self.view_at(*x, depth + 1)).collect();
                        return Value::list(vs);
                    }
                    Some(Node::Dict(pairs)) => {
                        let mut out = Vec::with_capacity(pairs.len());
                        let mut ok = true;
                        for (k, _) in pairs {
                            if !matches!(self.peek_key(*k), Some(true)) {
                                ok = false;
                            }
                        }
                        if ok {
                            for (k, x) in pairs {
                                let kv = self.view_at(*k, depth + 1);
                                let xv = self.view_at(*x, depth + 1);
                                out.push((kv, xv));
                            }
                            return Value::dict(out);
                        }
                    }
                    _ => {}
                }
            }
        }
        // Dynamic: evaluate now (with its effects), refer to the node afterwards.
        let pure = !has_fx
            && matches!(
                self.s.graph.node(u.node),
                Node::Const(_) | Node::Global { .. } | Node::Value(_)
            );
        if !pure {
            self.stmts.push(u);
        }
        Value::Dyn(Use::of(u.node))
    }

    /// Whether a dict key use is a hashable static constant.
    fn peek_key(&self, u: Use) -> Option<bool> {
        if self.s.graph.has_effects(u) {
            return Some(false);
        }
        Some(match self.s.graph.node(u.node) {
            Node::Const(op) => const_value(op).is_some(),
            Node::Value(s) => !matches!(**s, Scalar::Bytes(_)),
            _ => false,
        })
    }

    /// Static knowledge about a dynamic value's node, used to fold `CellType(v).cell_contents`.
    fn cell_contents(&mut self, u: Use) -> Option<R<Value>> {
        let id = resolve_block(self.s.graph, u.node);
        let node = self.s.graph.node(id).clone();
        let Node::Call { func, args } = node else {
            return None;
        };
        match self.s.graph.node(func.node) {
            Node::Global { module, name } if module == "types" && name == "CellType" => {}
            _ => return None,
        }
        match self.s.graph.node(args.node).clone() {
            Node::Tuple(items) if items.is_empty() => Some(Err(Flow::Raise(
                "ValueError".into(),
                "Cell is empty".into(),
            ))),
            Node::Tuple(items) if items.len() == 1 => {
                // The value was already evaluated when the cell was; refer to it.
                let item = items[0];
                let v = match self.s.graph.node(item.node) {
                    Node::Const(op) => const_value(op).unwrap_or(Value::Dyn(Use::of(item.node))),
                    _ => Value::Dyn(Use::of(item.node)),
                };
                Some(Ok(v))
            }
            _ => None,
        }
    }

    /// Whether a dynamic value is known not to be None (literals and globals).
    fn dyn_not_none(&self, u: Use) -> bool {
        matches!(
            self.s.graph.node(u.node),
            Node::Tuple(_)
                | Node::List(_)
                | Node::Dict(_)
                | Node::Set(_)
                | Node::FrozenSet(_)
                | Node::Global { .. }
        ) || matches!(self.s.graph.node(u.node), Node::Const(op) if !matches!(op, pickle_ir::ConstOp::None))
    }

    // ------------------------------------------------------------------ functions

    pub fn call_function(
        &mut self,
        name: &str,
        args: Vec<Value>,
        kwargs: Vec<(Rc<str>, Value)>,
    ) -> R<Value> {
        self.depth += 1;
        if self.depth > 64 {
            return refuse("recipe recursion is too deep");
        }
        let Some(def) = self.module.functions.get(name).cloned() else {
            return refuse(format!("recipe function `{name}` is not defined"));
        };
        let mut locals: HashMap<String, Value> = HashMap::new();
        let params: Vec<&ast::ArgWithDefault> = def
            .args
            .posonlyargs
            .iter()
            .chain(def.args.args.iter())
            .collect();
        let mut args = args.into_iter();
        for p in &params {
            let v = match args.next() {
                Some(v) => v,
                None => {
                    if let Some((_, v)) = kwargs
                        .iter()
                        .find(|(k, _)| k.as_ref() == p.def.arg.as_str())
                    {
                        v.clone()
                    } else if let Some(d) = &p.default {
                        self.eval(d, &mut locals)?
                    } else {
                        return refuse(format!(
                            "helper called without argument `{}`",
                            p.def.arg.as_str()
                        ));
                    }
                }
            };
            locals.insert(p.def.arg.to_string(), v);
        }
        let rest: Vec<Value> = args.collect();
        match &def.args.vararg {
            Some(va) => {
                locals.insert(va.arg.to_string(), Value::tuple(rest));
            }
            None if !rest.is_empty() => {
                return refuse(format!(
                    "helper called with {} positional arguments; the recipe takes {}",
                    params.len() + rest.len(),
                    params.len()
                ))
            }
            None => {}
        }
        let result = self.exec_block(&def.body, &mut locals);
        self.depth -= 1;
        match result {
            Ok(()) => {
                self.flush();
                Ok(Value::None)
            }
            Err(Flow::Return(v)) => Ok(v),
            Err(other) => Err(other),
        }
    }

    fn exec_block(&mut self, body: &[Stmt], locals: &mut HashMap<String, Value>) -> R<()> {
        for stmt in body {
            let r = self.exec(stmt, locals);
            self.flush();
            r?;
        }
        Ok(())
    }

    fn exec(&mut self, stmt: &Stmt, locals: &mut HashMap<String, Value>) -> R<()> {
        match stmt {
            Stmt::Expr(e) => {
                // Load-time work it created is flushed as statements by the caller.
                self.eval(&e.value, locals)?;
                Ok(())
            }
            Stmt::Pass(_) => Ok(()),
            Stmt::Return(r) => {
                let v = match &r.value {
                    Some(e) => self.eval(e, locals)?,
                    None => Value::None,
                };
                // The returned node is the block's value, not a statement of its own.
                if let Value::Dyn(u) = &v {
                    self.pending.retain(|p| *p != u.node);
                }
                self.flush();
                Err(Flow::Return(v))
            }
            Stmt::Assign(a) => {
                let v = self.eval(&a.value, locals)?;
                for t in &a.targets {
                    self.assign(t, v.clone(), locals)?;
                }
                Ok(())
            }
            Stmt::If(i) => {
                let c = self.eval(&i.test, locals)?;
                if self.truthy(&c)? {
                    self.exec_block(&i.body, locals)
                } else {
                    self.exec_block(&i.orelse, locals)
                }
            }
            Stmt::For(f) => {
                let it = self.eval(&f.iter, locals)?;
                let items = self.iterate(&it)?;
                for item in items {
                    self.assign(&f.target, item, locals)?;
                    match self.exec_block(&f.body, locals) {
                        Ok(()) | Err(Flow::Continue) => {}
                        Err(Flow::Break) => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
                self.exec_block(&f.orelse, locals)
            }
            Stmt::Continue(_) => Err(Flow::Continue),
            Stmt::Break(_) => Err(Flow::Break),
            Stmt::Raise(r) => {
                let (ty, msg) = match &r.exc {
                    Some(e) => match e.as_ref() {
                        Expr::Call(c) => (expr_name(&c.func), format!("{:?}", c.args.len())),
                        other => (expr_name(other), String::new()),
                    },
                    None => ("RuntimeError".into(), String::new()),
                };
                Err(Flow::Raise(ty, msg))
            }
            Stmt::Try(t) => {
                self.in_try += 1;
                let r = self.exec_block(&t.body, locals);
                self.in_try -= 1;
                match r {
                    Err(Flow::Raise(ty, msg)) => {
                        for h in &t.handlers {
                            let ast::ExceptHandler::ExceptHandler(h) = h;
                            let matches = match &h.type_ {
                                None => true,
                                Some(e) => {
                                    let n = expr_name(e);
                                    n == ty || n == "Exception"
                                }
                            };
                            if matches {
                                return self.exec_block(&h.body, locals);
                            }
                        }
                        Err(Flow::Raise(ty, msg))
                    }
                    Ok(()) => self.exec_block(&t.orelse, locals),
                    other => other,
                }
            }
            other => refuse(format!(
                "recipe statement not supported: {}",
                stmt_kind(other)
            )),
        }
    }

    fn assign(&mut self, target: &Expr, v: Value, locals: &mut HashMap<String, Value>) -> R<()> {
        match target {
            Expr::Name(n) => {
                locals.insert(n.id.to_string(), v);
                Ok(())
            }
            Expr::Tuple(t) => {
                let items = self.unpack(&v, t.elts.len())?;
                for (e, x) in t.elts.iter().zip(items) {
                    self.assign(e, x, locals)?;
                }
                Ok(())
            }
            Expr::List(t) => {
                let items = self.unpack(&v, t.elts.len())?;
                for (e, x) in t.elts.iter().zip(items) {
                    self.assign(e, x, locals)?;
                }
                Ok(())
            }
            Expr::Attribute(a) => {
                let obj = self.eval(&a.value, locals)?;
                match obj {
                    Value::Dyn(_) => {
                        let setattr = Value::global("builtins", "setattr");
                        self.call_runtime(&setattr, &[obj, Value::str(a.attr.as_str()), v], &[])?;
                        Ok(())
                    }
                    other => refuse(format!(
                        "cannot set attribute `{}` on {} while converting",
                        a.attr.as_str(),
                        other.describe()
                    )),
                }
            }
            Expr::Subscript(s) => {
                let obj = self.eval(&s.value, locals)?;
                let key = self.eval(&s.slice, locals)?;
                match obj {
                    Value::Dict(d) => {
                        let mut d = d.borrow_mut();
                        set_item(&mut d, key, v).map_err(Flow::Refuse)
                    }
                    Value::Dyn(u) => {
                        if self.in_try > 0 {
                            return refuse("load-time item assignment inside `try`");
                        }
                        let k = self.lower(&key)?;
                        let x = self.lower(&v)?;
                        // These are now nested in the statement, not separate statements.
                        self.pending.retain(|p| *p != k.node && *p != x.node);
                        self.flush();
                        let mut target = Use::of(u.node);
                        self.s
                            .graph
                            .effects_mut(&mut target)
                            .after
                            .push(Effect::SetItems(vec![(k, x)]));
                        self.stmts.push(target);
                        Ok(())
                    }
                    other => refuse(format!("cannot assign an item of {}", other.describe())),
                }
            }
            _ => refuse("unsupported assignment target in recipe"),
        }
    }

    fn unpack(&mut self, v: &Value, n: usize) -> R<Vec<Value>> {
        let items = self.iterate(v)?;
        if items.len() != n {
            return Err(Flow::Raise(
                "ValueError".into(),
                format!("expected {n} values to unpack, got {}", items.len()),
            ));
        }
        Ok(items)
    }

    fn iterate(&mut self, v: &Value) -> R<Vec<Value>> {
        Ok(match v {
            Value::Tuple(t) => t.as_ref().clone(),
            Value::List(l) => l.borrow().clone(),
            Value::Dict(d) => d.borrow().iter().map(|(k, _)| k.clone()).collect(),
            Value::Lazy(l) => l.items.clone(),
            Value::Str(s) => s.chars().map(|c| Value::str(&c.to_string())).collect(),
            other => {
                return refuse(format!(
                "cannot iterate over {} while converting (its length is only known at load time)",
                other.describe()
            ))
            }
        })
    }

    fn truthy(&mut self, v: &Value) -> R<bool> {
        Ok(match v {
            Value::None => false,
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            Value::Str(s) => !s.is_empty(),
            Value::Tuple(t) => !t.is_empty(),
            Value::List(l) => !l.borrow().is_empty(),
            Value::Dict(d) => !d.borrow().is_empty(),
            Value::Lazy(l) => !l.items.is_empty(),
            Value::Module(_)
            | Value::Global(..)
            | Value::Sentinel(_)
            | Value::Function(_)
            | Value::Method(..) => true,
            Value::Dyn(_) => {
                return refuse("a recipe condition depends on a value only known at load time")
            }
        })
    }

    // ------------------------------------------------------------------ expressions

    pub fn eval(&mut self, e: &Expr, locals: &mut HashMap<String, Value>) -> R<Value> {
        match e {
            Expr::Constant(c) => constant(&c.value),
            Expr::Name(n) => self.lookup(n.id.as_str(), locals),
            Expr::Tuple(t) => {
                let mut out = Vec::new();
                for x in &t.elts {
                    if let Expr::Starred(s) = x {
                        let v = self.eval(&s.value, locals)?;
                        out.extend(self.iterate(&v)?);
                    } else {
                        out.push(self.eval(x, locals)?);
                    }
                }
                Ok(Value::tuple(out))
            }
            Expr::List(t) => {
                let out = t
                    .elts
                    .iter()
                    .map(|x| self.eval(x, locals))
                    .collect::<R<Vec<_>>>()?;
                Ok(Value::list(out))
            }
            Expr::Dict(d) => {
                let mut out: Vec<(Value, Value)> = Vec::new();
                for (k, x) in d.keys.iter().zip(d.values.iter()) {
                    let xv = self.eval(x, locals)?;
                    match k {
                        Some(k) => {
                            let kv = self.eval(k, locals)?;
                            set_item(&mut out, kv, xv).map_err(Flow::Refuse)?;
                        }
                        None => match xv {
                            Value::Dict(src) => {
                                for (a, b) in src.borrow().iter() {
                                    set_item(&mut out, a.clone(), b.clone())
                                        .map_err(Flow::Refuse)?;
                                }
                            }
                            other => {
                                return refuse(format!(
                                    "cannot unpack {} as a dict",
                                    other.describe()
                                ))
                            }
                        },
                    }
                }
                Ok(Value::dict(out))
            }
            Expr::Attribute(a) => {
                let obj = self.eval(&a.value, locals)?;
                self.attribute(obj, a.attr.as_str())
            }
            Expr::Subscript(s) => {
                let obj = self.eval(&s.value, locals)?;
                if let Expr::Slice(sl) = s.slice.as_ref() {
                    return self.slice(obj, sl, locals);
                }
                let key = self.eval(&s.slice, locals)?;
                self.subscript(obj, key)
            }
            Expr::Call(c) => {
                let func = self.eval(&c.func, locals)?;
                let mut args = Vec::new();
                for x in &c.args {
                    if let Expr::Starred(s) = x {
                        let v = self.eval(&s.value, locals)?;
                        args.extend(self.iterate(&v)?);
                    } else {
                        args.push(self.eval(x, locals)?);
                    }
                }
                let mut kwargs: Vec<(Rc<str>, Value)> = Vec::new();
                for k in &c.keywords {
                    let v = self.eval(&k.value, locals)?;
                    match &k.arg {
                        Some(name) => kwargs.push((Rc::from(name.as_str()), v)),
                        None => match v {
                            Value::Dict(d) => {
                                for (kk, vv) in d.borrow().iter() {
                                    match kk {
                                        Value::Str(s) => kwargs.push((s.clone(), vv.clone())),
                                        _ => return refuse("keyword names must be strings"),
                                    }
                                }
                            }
                            other => {
                                return refuse(format!(
                                    "cannot use {} as keywords while converting",
                                    other.describe()
                                ))
                            }
                        },
                    }
                }
                self.call(func, args, kwargs)
            }
            Expr::Compare(c) => {
                let mut left = self.eval(&c.left, locals)?;
                for (op, right) in c.ops.iter().zip(c.comparators.iter()) {
                    let r = self.eval(right, locals)?;
                    if !self.compare(*op, &left, &r)? {
                        return Ok(Value::Bool(false));
                    }
                    left = r;
                }
                Ok(Value::Bool(true))
            }
            Expr::BoolOp(b) => {
                let is_and = matches!(b.op, ast::BoolOp::And);
                let mut last = Value::Bool(is_and);
                for x in &b.values {
                    last = self.eval(x, locals)?;
                    let t = self.truthy(&last)?;
                    if is_and != t {
                        return Ok(last);
                    }
                }
                Ok(last)
            }
            Expr::UnaryOp(u) => {
                let v = self.eval(&u.operand, locals)?;
                match u.op {
                    ast::UnaryOp::Not => Ok(Value::Bool(!self.truthy(&v)?)),
                    ast::UnaryOp::USub => match v {
                        Value::Int(i) => Ok(Value::Int(-i)),
                        _ => refuse("unary minus on a non-integer"),
                    },
                    _ => refuse("unsupported unary operator in recipe"),
                }
            }
            Expr::BinOp(b) => {
                let l = self.eval(&b.left, locals)?;
                let r = self.eval(&b.right, locals)?;
                match (b.op, l, r) {
                    (ast::Operator::Add, Value::Str(a), Value::Str(c)) => {
                        Ok(Value::str(&format!("{a}{c}")))
                    }
                    (ast::Operator::Add, Value::Int(a), Value::Int(c)) => {
                        Ok(Value::Int(a.wrapping_add(c)))
                    }
                    (ast::Operator::Sub, Value::Int(a), Value::Int(c)) => {
                        Ok(Value::Int(a.wrapping_sub(c)))
                    }
                    _ => refuse("unsupported binary operation in recipe"),
                }
            }
            Expr::IfExp(i) => {
                let c = self.eval(&i.test, locals)?;
                if self.truthy(&c)? {
                    self.eval(&i.body, locals)
                } else {
                    self.eval(&i.orelse, locals)
                }
            }
            Expr::GeneratorExp(g) => self.comprehension(&g.elt, &g.generators, locals),
            Expr::ListComp(g) => self.comprehension(&g.elt, &g.generators, locals),
            other => refuse(format!(
                "recipe expression not supported: {}",
                expr_kind(other)
            )),
        }
    }

    fn comprehension(
        &mut self,
        elt: &Expr,
        gens: &[ast::Comprehension],
        locals: &mut HashMap<String, Value>,
    ) -> R<Value> {
        if gens.len() != 1 || !gens[0].ifs.is_empty() {
            return refuse("only simple comprehensions are supported in recipes");
        }
        let it = self.eval(&gens[0].iter, locals)?;
        let items = self.iterate(&it)?;
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            self.assign(&gens[0].target, item, locals)?;
            out.push(self.eval(elt, locals)?);
        }
        Ok(Value::list(out))
    }

    fn lookup(&mut self, name: &str, locals: &HashMap<String, Value>) -> R<Value> {
        if let Some(v) = locals.get(name) {
            return Ok(v.clone());
        }
        if let Some(v) = self.module.globals.get(name) {
            return Ok(v.clone());
        }
        if self.module.functions.contains_key(name) {
            return Ok(Value::Function(Rc::from(name)));
        }
        if BUILTIN_NAMES.contains(&name) {
            return Ok(Value::global("builtins", name));
        }
        refuse(format!("recipe uses unknown name `{name}`"))
    }

    fn attribute(&mut self, obj: Value, attr: &str) -> R<Value> {
        match obj {
            Value::Module(m) => Ok(Value::global(&m, attr)),
            Value::Global(m, n) => Ok(Value::global(&m, &format!("{n}.{attr}"))),
            Value::Dict(_) | Value::List(_) | Value::Str(_) => {
                Ok(Value::Method(Box::new(obj), Rc::from(attr)))
            }
            Value::Dyn(u) => {
                if attr == "cell_contents" {
                    if let Some(r) = self.cell_contents(u) {
                        return r;
                    }
                }
                if self.in_try > 0 {
                    return refuse(format!("load-time attribute `{attr}` inside `try`"));
                }
                let f = self.global_node("builtins", "getattr");
                let n = self.scalar(Scalar::Str(Cow::Owned(attr.to_string())));
                let args = self.add(Node::Tuple(vec![u, n].into()));
                self.runtime(Node::Call {
                    func: Use::of(f),
                    args: Use::of(args),
                })
            }
            other => refuse(format!(
                "cannot take attribute `{attr}` of {} while converting",
                other.describe()
            )),
        }
    }

    /// `obj[a:b]` on a static tuple, list or string, with static integer bounds (no step).
    fn slice(
        &mut self,
        obj: Value,
        sl: &ast::ExprSlice,
        locals: &mut HashMap<String, Value>,
    ) -> R<Value> {
        if sl.step.is_some() {
            return refuse("slice steps are not supported in recipes");
        }
        let mut bound = |e: &Option<Box<Expr>>, this: &mut Self| -> R<Option<i64>> {
            match e {
                None => Ok(None),
                Some(e) => match this.eval(e, locals)? {
                    Value::Int(i) => Ok(Some(i)),
                    Value::None => Ok(None),
                    _ => refuse("slice bounds must be integers known while converting"),
                },
            }
        };
        let lo = bound(&sl.lower, self)?;
        let hi = bound(&sl.upper, self)?;
        let cut = |n: usize| -> (usize, usize) {
            let n = n as i64;
            let fix = |i: i64| if i < 0 { (n + i).max(0) } else { i.min(n) };
            let a = lo.map(fix).unwrap_or(0);
            let b = hi.map(fix).unwrap_or(n);
            (a as usize, (b.max(a)) as usize)
        };
        match &obj {
            Value::Tuple(t) => {
                let (a, b) = cut(t.len());
                Ok(Value::tuple(t[a..b].to_vec()))
            }
            Value::List(l) => {
                let l = l.borrow();
                let (a, b) = cut(l.len());
                Ok(Value::list(l[a..b].to_vec()))
            }
            Value::Str(s) => {
                let chars: Vec<char> = s.chars().collect();
                let (a, b) = cut(chars.len());
                Ok(Value::str(&chars[a..b].iter().collect::<String>()))
            }
            other => refuse(format!(
                "cannot slice {} while converting",
                other.describe()
            )),
        }
    }

    fn subscript(&mut self, obj: Value, key: Value) -> R<Value> {
        match (&obj, &key) {
            (Value::Tuple(t), Value::Int(i)) => index(t, *i),
            (Value::List(l), Value::Int(i)) => index(&l.borrow(), *i),
            (Value::Tuple(t), Value::Tuple(_)) | (Value::Tuple(t), Value::None) => {
                Ok(Value::Tuple(t.clone()))
            }
            (Value::Dict(d), _) => {
                let d = d.borrow();
                for (k, v) in d.iter() {
                    if k.static_eq(&key) == Some(true) {
                        return Ok(v.clone());
                    }
                }
                Err(Flow::Raise("KeyError".into(), key.describe()))
            }
            (Value::Dyn(_), _) | (_, Value::Dyn(_)) => {
                let getitem = Value::global("operator", "getitem");
                self.call_runtime(&getitem, &[obj, key], &[])
            }
            _ => refuse(format!(
                "cannot index {} with {} while converting",
                obj.describe(),
                key.describe()
            )),
        }
    }

    fn compare(&mut self, op: ast::CmpOp, l: &Value, r: &Value) -> R<bool> {
        use ast::CmpOp::*;
        match op {
            Is | IsNot => {
                let same = match (l, r) {
                    (Value::Dyn(u), Value::None) | (Value::None, Value::Dyn(u)) => {
                        if self.dyn_not_none(*u) {
                            false
                        } else {
                            return refuse("`is None` on a value only known at load time");
                        }
                    }
                    (Value::Dyn(_), Value::Sentinel(_)) | (Value::Sentinel(_), Value::Dyn(_)) => {
                        false
                    }
                    _ => match l.static_is(r) {
                        Some(b) => b,
                        None => return refuse("identity test on values only known at load time"),
                    },
                };
                Ok(if matches!(op, Is) { same } else { !same })
            }
            Eq | NotEq => match l.static_eq(r) {
                Some(b) => Ok(if matches!(op, Eq) { b } else { !b }),
                None => refuse("comparison of values only known at load time"),
            },
            In | NotIn => {
                let items = match r {
                    Value::Dict(d) => d.borrow().iter().map(|(k, _)| k.clone()).collect(),
                    other => self.iterate(other)?,
                };
                let mut found = false;
                for x in &items {
                    match x.static_eq(l) {
                        Some(true) => {
                            found = true;
                            break;
                        }
                        Some(false) => {}
                        None => return refuse("membership test on values only known at load time"),
                    }
                }
                Ok(if matches!(op, In) { found } else { !found })
            }
            Lt | LtE | Gt | GtE => match (l, r) {
                (Value::Int(a), Value::Int(b)) => Ok(match op {
                    Lt => a < b,
                    LtE => a <= b,
                    Gt => a > b,
                    _ => a >= b,
                }),
                _ => refuse("ordering comparison of non-integers in recipe"),
            },
        }
    }

    fn call(&mut self, func: Value, args: Vec<Value>, kwargs: Vec<(Rc<str>, Value)>) -> R<Value> {
        match &func {
            Value::Function(name) => {
                let name = name.clone();
                self.call_function(&name, args, kwargs)
            }
            Value::Method(obj, name) => self.call_method(obj, name, args),
            Value::Global(m, n) if m.as_ref() == "_depickle" => self.intrinsic(n, &args),
            Value::Global(m, n) if m.as_ref() == "builtins" => {
                if let Some(v) = self.static_builtin(n, &args, &kwargs)? {
                    return Ok(v);
                }
                self.call_runtime(&func, &args, &kwargs)
            }
            Value::Global(..) | Value::Dyn(_) => self.call_runtime(&func, &args, &kwargs),
            Value::Sentinel(n) => refuse(format!("recipe calls serializer global `{n}`")),
            other => refuse(format!("cannot call {} while converting", other.describe())),
        }
    }

    /// Functions from `_depickle` that recipes call (answered while converting).
    ///
    /// `pickled_none(x)`: True only when `x` is written in the pickle as a literal None; a
    /// load-time value counts as not None (the recipe documents why that is safe where used).
    /// `refuse("reason")`: stop converting this input, reported as a refusal with the reason.
    /// `pickled_literal(x)`: whether `x` is known while converting (not a load-time value).
    /// `pickled_truth(x)`: `bool(x)` when known while converting (static values, and load-time
    /// containers written with items, since loading never removes items), else None.
    fn intrinsic(&mut self, name: &str, args: &[Value]) -> R<Value> {
        match (name, args) {
            ("pickled_none", [v]) => Ok(Value::Bool(matches!(v, Value::None))),
            ("refuse", [Value::Str(reason)]) => refuse(reason.to_string()),
            ("pickled_literal", [v]) => Ok(Value::Bool(!v.is_dyn())),
            ("pickled_truth", [v]) => Ok(match v {
                Value::Dyn(u) => {
                    // Items are only in place once all were built: a container whose items are
                    // built after the node being rewritten (a cycle through it, as in dill's
                    // function globals holding the function) is still empty when it runs.
                    let site = self.site.unwrap_or(NodeId(u32::MAX));
                    let done = |us: &mut dyn Iterator<Item = &Use>| {
                        let mut any = false;
                        for x in us {
                            if x.node >= site {
                                return false;
                            }
                            any = true;
                        }
                        any
                    };
                    let written_with_items = match self.s.graph.node(u.node) {
                        Node::Tuple(items) => done(&mut items.iter()),
                        Node::List(items) | Node::Set(items) | Node::FrozenSet(items) => {
                            done(&mut items.iter())
                        }
                        Node::Dict(pairs) => {
                            done(&mut pairs.iter().flat_map(|(k, v)| [k, v].into_iter()))
                        }
                        _ => false,
                    };
                    if written_with_items {
                        Value::Bool(true)
                    } else {
                        Value::None
                    }
                }
                other => Value::Bool(self.truthy(other)?),
            }),
            _ => refuse(format!("unknown _depickle intrinsic `{name}`")),
        }
    }

    /// Builtins evaluated while converting when their arguments are static.
    fn static_builtin(
        &mut self,
        name: &str,
        args: &[Value],
        kwargs: &[(Rc<str>, Value)],
    ) -> R<Option<Value>> {
        let all_static = args.iter().all(is_static) && kwargs.iter().all(|(_, v)| is_static(v));
        Ok(Some(match (name, args) {
            ("isinstance", [v, ty]) => {
                let tname = match ty {
                    Value::Global(m, n) if m.as_ref() == "builtins" => n.to_string(),
                    _ => return refuse("isinstance against a non-builtin type in recipe"),
                };
                match (v, tname.as_str()) {
                    (Value::Str(_), t) => Value::Bool(t == "str"),
                    (Value::Int(_), t) => Value::Bool(t == "int"),
                    (Value::Bool(_), t) => Value::Bool(t == "bool" || t == "int"),
                    (Value::None, _) => Value::Bool(false),
                    (Value::Tuple(_), t) => Value::Bool(t == "tuple"),
                    (Value::List(_), t) => Value::Bool(t == "list"),
                    (Value::Dict(_), t) => Value::Bool(t == "dict"),
                    (Value::Dyn(u), t) => match self.s.graph.node(u.node) {
                        Node::Dict(_) => Value::Bool(t == "dict"),
                        Node::List(_) => Value::Bool(t == "list"),
                        Node::Tuple(_) => Value::Bool(t == "tuple"),
                        _ => return refuse("isinstance on a value only known at load time"),
                    },
                    _ => return refuse("isinstance on an unsupported value in recipe"),
                }
            }
            ("len", [v]) if all_static => Value::Int(self.iterate(v)?.len() as i64),
            ("range", [Value::Int(n)]) => {
                if *n > 1_000_000 {
                    return refuse("range too large in recipe");
                }
                let items = (0..(*n).max(0)).map(Value::Int).collect();
                Value::Lazy(Rc::new(Lazy {
                    items,
                    func: Value::global("builtins", "range"),
                    args: args.to_vec(),
                }))
            }
            ("enumerate", [v]) if !v.is_dyn() => {
                let items = self
                    .iterate(v)?
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| Value::tuple(vec![Value::Int(i as i64), x]))
                    .collect();
                Value::Lazy(Rc::new(Lazy {
                    items,
                    func: Value::global("builtins", "enumerate"),
                    args: args.to_vec(),
                }))
            }
            ("zip", _) if !args.is_empty() && args.iter().all(|a| !a.is_dyn()) => {
                let cols = args
                    .iter()
                    .map(|a| self.iterate(a))
                    .collect::<R<Vec<_>>>()?;
                let n = cols.iter().map(|c| c.len()).min().unwrap_or(0);
                let items = (0..n)
                    .map(|i| Value::tuple(cols.iter().map(|c| c[i].clone()).collect()))
                    .collect();
                Value::Lazy(Rc::new(Lazy {
                    items,
                    func: Value::global("builtins", "zip"),
                    args: args.to_vec(),
                }))
            }
            ("tuple", []) => Value::tuple(vec![]),
            ("tuple", [v]) if !v.is_dyn() => Value::tuple(self.iterate(v)?),
            ("list", [v]) if !v.is_dyn() => Value::list(self.iterate(v)?),
            ("dict", []) if kwargs.is_empty() => Value::dict(vec![]),
            ("dict", [Value::Dict(d)]) if kwargs.is_empty() => Value::dict(d.borrow().clone()),
            ("dict", [v])
                if kwargs.is_empty()
                    && matches!(v, Value::Lazy(_) | Value::Tuple(_) | Value::List(_)) =>
            {
                let mut out = Vec::new();
                for pair in self.iterate(v)? {
                    let kv = self.unpack(&pair, 2)?;
                    set_item(&mut out, kv[0].clone(), kv[1].clone()).map_err(Flow::Refuse)?;
                }
                Value::dict(out)
            }
            ("getattr", [obj, Value::Str(attr)])
                if matches!(obj, Value::Module(_) | Value::Global(..)) =>
            {
                self.attribute(obj.clone(), attr)?
            }
            _ => return Ok(None),
        }))
    }

    fn call_method(&mut self, obj: &Value, name: &str, args: Vec<Value>) -> R<Value> {
        match (obj, name, args.as_slice()) {
            (Value::Dict(d), "items", []) => {
                let items = d
                    .borrow()
                    .iter()
                    .map(|(k, v)| Value::tuple(vec![k.clone(), v.clone()]))
                    .collect();
                Ok(Value::Lazy(Rc::new(Lazy {
                    items,
                    func: Value::Method(Box::new(obj.clone()), Rc::from("items")),
                    args: vec![],
                })))
            }
            (Value::Dict(d), "keys", []) => {
                let items = d.borrow().iter().map(|(k, _)| k.clone()).collect();
                Ok(Value::Lazy(Rc::new(Lazy {
                    items,
                    func: Value::Method(Box::new(obj.clone()), Rc::from("keys")),
                    args: vec![],
                })))
            }
            (Value::Dict(d), "values", []) => {
                let items = d.borrow().iter().map(|(_, v)| v.clone()).collect();
                Ok(Value::Lazy(Rc::new(Lazy {
                    items,
                    func: Value::Method(Box::new(obj.clone()), Rc::from("values")),
                    args: vec![],
                })))
            }
            (Value::Dict(d), "pop", [key]) | (Value::Dict(d), "pop", [key, _]) => {
                let mut d = d.borrow_mut();
                if let Some(pos) = d.iter().position(|(k, _)| k.static_eq(key) == Some(true)) {
                    Ok(d.remove(pos).1)
                } else if let [_, default] = args.as_slice() {
                    Ok(default.clone())
                } else {
                    Err(Flow::Raise("KeyError".into(), key.describe()))
                }
            }
            (Value::Dict(d), "get", [key]) | (Value::Dict(d), "get", [key, _]) => {
                let d = d.borrow();
                Ok(d.iter()
                    .find(|(k, _)| k.static_eq(key) == Some(true))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| args.get(1).cloned().unwrap_or(Value::None)))
            }
            (Value::Dict(d), "update", [Value::Dict(src)]) => {
                let src = src.borrow().clone();
                let mut d = d.borrow_mut();
                for (k, v) in src {
                    set_item(&mut d, k, v).map_err(Flow::Refuse)?;
                }
                Ok(Value::None)
            }
            (Value::Str(s), "startswith", [Value::Str(p)]) => Ok(Value::Bool(s.starts_with(&**p))),
            (Value::Str(s), "endswith", [Value::Str(p)]) => Ok(Value::Bool(s.ends_with(&**p))),
            (Value::Str(s), "count", [Value::Str(p)]) if !p.is_empty() => {
                Ok(Value::Int(s.matches(&**p).count() as i64))
            }
            (Value::List(l), "append", [v]) => {
                l.borrow_mut().push(v.clone());
                Ok(Value::None)
            }
            _ => {
                // A method on a static container with load-time arguments: do it at load time.
                let f = Value::Method(Box::new(obj.clone()), Rc::from(name));
                self.call_runtime(&f, &args, &[])
            }
        }
    }
}

/// Follow rewritten helper calls to the node that produces their value (their statements have
/// already run wherever the block itself was evaluated).
pub(crate) fn resolve_block(graph: &Graph<'_>, mut id: NodeId) -> NodeId {
    for _ in 0..64 {
        match graph.node(id) {
            Node::Block { value, .. } if !graph.has_effects(*value) => id = value.node,
            _ => break,
        }
    }
    id
}

fn is_static(v: &Value) -> bool {
    !matches!(v, Value::Dyn(_))
}

fn index(items: &[Value], i: i64) -> R<Value> {
    let n = items.len() as i64;
    let j = if i < 0 { n + i } else { i };
    if j < 0 || j >= n {
        return Err(Flow::Raise(
            "IndexError".into(),
            format!("index {i} out of range"),
        ));
    }
    Ok(items[j as usize].clone())
}

fn set_item(d: &mut Vec<(Value, Value)>, k: Value, v: Value) -> Result<(), String> {
    for (kk, vv) in d.iter_mut() {
        match kk.static_eq(&k) {
            Some(true) => {
                *vv = v;
                return Ok(());
            }
            Some(false) => {}
            None => return Err("dict key only known at load time".into()),
        }
    }
    d.push((k, v));
    Ok(())
}

fn constant(c: &Constant) -> R<Value> {
    Ok(match c {
        Constant::None => Value::None,
        Constant::Bool(b) => Value::Bool(*b),
        Constant::Str(s) => Value::str(s),
        Constant::Int(i) => match i.to_string().parse::<i64>() {
            Ok(v) => Value::Int(v),
            Err(_) => return refuse("integer constant too large in recipe"),
        },
        Constant::Tuple(items) => Value::tuple(items.iter().map(constant).collect::<R<Vec<_>>>()?),
        Constant::Ellipsis => Value::global("builtins", "Ellipsis"),
        _ => return refuse("unsupported constant in recipe"),
    })
}

/// The static value of a constant opcode, for the kinds recipes reason about.
pub(crate) fn const_value(op: &pickle_ir::ConstOp<'_>) -> Option<Value> {
    use pickle_codec::Op;
    let op = &op.op();
    Some(match *op {
        Op::None => Value::None,
        Op::NewTrue => Value::Bool(true),
        Op::NewFalse => Value::Bool(false),
        Op::BinInt(i) => Value::Int(i as i64),
        Op::BinInt1(i) => Value::Int(i as i64),
        Op::BinInt2(i) => Value::Int(i as i64),
        Op::Int(line) => {
            if let Some(b) = pickle_codec::text::bool_from_int_line(line) {
                Value::Bool(b)
            } else {
                Value::Int(std::str::from_utf8(line).ok()?.trim().parse().ok()?)
            }
        }
        Op::Long1(b) if b.len() <= 8 => {
            Value::Int(pickle_codec::text::IntValue::from_le_bytes(b).as_i64()?)
        }
        _ => {
            let s = pickle_ir::const_op_str(op)?;
            Value::str(&s)
        }
    })
}

fn expr_name(e: &Expr) -> String {
    match e {
        Expr::Name(n) => n.id.to_string(),
        Expr::Attribute(a) => a.attr.to_string(),
        Expr::Call(c) => expr_name(&c.func),
        _ => "?".into(),
    }
}

fn stmt_kind(s: &Stmt) -> &'static str {
    match s {
        Stmt::While(_) => "while",
        Stmt::With(_) => "with",
        Stmt::AugAssign(_) => "augmented assignment",
        Stmt::Delete(_) => "del",
        Stmt::FunctionDef(_) => "nested def",
        Stmt::ClassDef(_) => "class",
        _ => "statement",
    }
}

fn expr_kind(e: &Expr) -> &'static str {
    match e {
        Expr::Lambda(_) => "lambda",
        Expr::DictComp(_) => "dict comprehension",
        Expr::SetComp(_) => "set comprehension",
        Expr::Set(_) => "set display",
        Expr::JoinedStr(_) => "f-string",
        _ => "expression",
    }
}
