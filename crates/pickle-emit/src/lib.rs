//! # pickle-emit
//!
//! Writes a [`pickle_ir::Graph`] as a pickle with `pickle-codec`'s [`Writer`].
//!
//! Why it looks like this: the graph records, for every use of a value, the effects that ran
//! around it, so emitting uses in traversal order replays the input program in its own order.
//! A node is created at its first use and fetched from the memo afterwards; only nodes used more
//! than once are memoized. Lists, dicts and sets are created empty, memoized, then filled, so
//! cycles through them work exactly as in CPython's pickler. The traversal runs on an explicit
//! task stack: inputs nest hundreds of thousands deep.
//!
//! The output keeps the input's protocol. Constructs a low protocol lacks are spelled with
//! older opcodes (`MARK … TUPLE` for `TUPLE2`, `getattr` for dotted global names below 4).

use pickle_codec::{Op, WriteError, Writer};
use pickle_ir::{Effect, Graph, Node, NodeId, Scalar, Use};
use std::io::Write;

/// Why a graph could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error("byte {offset}: value refers to itself while it is being built (node {node})")]
    ConstructionCycle { offset: u64, node: u32 },
    #[error("the passed-through prefix could not be re-read: {message}")]
    Prefix { message: String },
    #[error("byte {offset}: a value left on the stack by the passed-through prefix is used twice")]
    PrefixItemShared { offset: u64 },
    #[error("byte {offset}: {what} cannot be written at protocol {protocol}")]
    NeedsProtocol {
        offset: u64,
        what: &'static str,
        protocol: u8,
    },
}

/// What happened while emitting, for reports.
#[derive(Debug, Default, Clone)]
pub struct EmitStats {
    pub memo_entries: u32,
    pub nodes_written: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    New,
    Building,
    Done,
}

enum Task<'g> {
    Use(Use),
    /// Evaluate a use for its effect and discard the value; skipped when it would only fetch an
    /// already-built value from the memo.
    Stmt(Use),
    Value(NodeId),
    /// Node construction finished: memoize if shared, mark done.
    Done(NodeId),
    /// A fillable container was created empty: memoize and mark done before its items.
    Created(NodeId),
    Op(Op<'g>),
    /// `module.name` with the opcode the protocol allows.
    Global(&'g str, &'g str),
    /// A constant string (attribute names of dotted globals below protocol 4).
    Str(&'g str),
    /// APPENDS/SETITEMS/ADDITEMS over a batch, or per-item ops at protocol 0.
    Items {
        kind: Fill,
        uses: Items<'g>,
    },
    /// Uses `pos..` of a batch, one at a time (pushing millions of tasks at once would cost
    /// memory proportional to the container), then nothing: the caller pushed the closing op.
    Batch {
        uses: Items<'g>,
        pos: usize,
    },
    /// Per-item fills from `pos` on: each step emits one item (or pair) and its op.
    PerItem {
        uses: Items<'g>,
        pos: usize,
        step: usize,
        op: Op<'static>,
    },
}

/// Items of a fill, borrowed from the graph.
#[derive(Clone, Copy)]
enum Items<'g> {
    Uses(&'g [Use]),
    /// Key/value pairs, flattened to `k0, v0, k1, v1, ...`.
    Pairs(&'g [(Use, Use)]),
}

impl Items<'_> {
    fn len(&self) -> usize {
        match self {
            Items::Uses(u) => u.len(),
            Items::Pairs(p) => 2 * p.len(),
        }
    }
    fn get(&self, i: usize) -> Use {
        match self {
            Items::Uses(u) => u[i],
            Items::Pairs(p) => {
                let (k, v) = p[i / 2];
                if i.is_multiple_of(2) {
                    k
                } else {
                    v
                }
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Fill {
    Append,
    SetItems,
    AddItems,
}

/// Emit `graph` to `out` at the graph's own protocol.
pub fn emit<W: Write>(graph: &Graph<'_>, out: W) -> Result<(W, EmitStats), EmitError> {
    emit_at(graph, out, graph.protocol)
}

/// Emit `graph` to `out` at `protocol`.
pub fn emit_at<W: Write>(
    graph: &Graph<'_>,
    out: W,
    protocol: u8,
) -> Result<(W, EmitStats), EmitError> {
    emit_counted(graph, out, protocol, graph.use_counts())
}

/// Emit `graph` to `out` at `protocol`, given the graph's current [`Graph::use_counts`] (callers
/// that already walked the graph pass them to save a walk).
pub fn emit_counted<W: Write>(
    graph: &Graph<'_>,
    out: W,
    protocol: u8,
    counts: Vec<u32>,
) -> Result<(W, EmitStats), EmitError> {
    assert_eq!(
        counts.len(),
        graph.nodes.len(),
        "use counts of another graph"
    );
    emit_counted_after(graph, Writer::new(out, protocol)?, protocol, counts)
}

/// Emit the ops of a passed-through prefix (`data[start..end]`, see `pickle_ir::prefix`), then
/// `graph` (lifted with `pickle_ir::lift_after_prefix`). The prefix keeps its memo keys
/// `0..memo_len`; the graph's memo keys continue after them.
pub fn emit_after_prefix<W: Write>(
    data: &[u8],
    prefix: &pickle_ir::prefix::Prefix,
    graph: &Graph<'_>,
    out: W,
    counts: Vec<u32>,
) -> Result<(W, EmitStats), EmitError> {
    let protocol = graph.protocol.max(prefix.protocol);
    let mut w = Writer::new(out, protocol)?;
    copy_prefix(data, prefix, &mut w)?;
    w.set_memo_len(prefix.memo.len() as u64);
    emit_counted_after(graph, w, protocol, counts)
}

/// Copy the prefix's ops as bytes, frame by frame (its frames hold whole ops: the scan checked),
/// skipping its PROTO (the writer wrote one).
fn copy_prefix<W: Write>(
    data: &[u8],
    prefix: &pickle_ir::prefix::Prefix,
    w: &mut Writer<W>,
) -> Result<(), EmitError> {
    let bad = |m: &str| EmitError::Prefix {
        message: m.to_string(),
    };
    let end = prefix.end;
    let mut p = prefix.start;
    while p < end {
        match data.get(p) {
            Some(0x80) => p += 2,
            Some(0x95) => {
                let len = data
                    .get(p + 1..p + 9)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .map(u64::from_le_bytes)
                    .ok_or_else(|| bad("truncated FRAME"))?;
                let body = p + 9;
                let frame_end = usize::try_from(len)
                    .ok()
                    .and_then(|l| body.checked_add(l))
                    .ok_or_else(|| bad("FRAME too long"))?;
                let stop = frame_end.min(end);
                w.raw_ops(
                    data.get(body..stop)
                        .ok_or_else(|| bad("FRAME past the end"))?,
                    true,
                )?;
                p = stop;
            }
            Some(_) => {
                // An op outside any frame (a large payload): copy it as it is.
                let mut r = pickle_codec::Reader::at(data, p);
                r.next_op().map_err(|e| bad(&e.to_string()))?;
                let next = r.position().min(end);
                w.raw_ops(&data[p..next], false)?;
                p = next;
            }
            None => return Err(bad("prefix past the end of the input")),
        }
    }
    Ok(())
}

fn emit_counted_after<W: Write>(
    graph: &Graph<'_>,
    w: Writer<W>,
    protocol: u8,
    counts: Vec<u32>,
) -> Result<(W, EmitStats), EmitError> {
    assert_eq!(
        counts.len(),
        graph.nodes.len(),
        "use counts of another graph"
    );
    let mut e = Emitter {
        graph,
        w,
        protocol,
        slots: counts,
        state: vec![State::New; graph.nodes.len()],
        stats: EmitStats::default(),
    };
    e.run()?;
    e.w.stop()?;
    let stats = e.stats;
    Ok((e.w.finish()?, stats))
}

struct Emitter<'g, 'a, W: Write> {
    graph: &'g Graph<'a>,
    w: Writer<W>,
    protocol: u8,
    /// Per node: its use count until it is done, then its memo index if it was memoized.
    slots: Vec<u32>,
    state: Vec<State>,
    stats: EmitStats,
}

impl<'g, 'a, W: Write> Emitter<'g, 'a, W> {
    fn run(&mut self) -> Result<(), EmitError> {
        let graph = self.graph;
        let mut tasks: Vec<Task<'g>> = vec![Task::Use(graph.root)];
        // Tasks are popped LIFO, so each expansion pushes its steps in reverse; `seq` collects
        // them in execution order first for readability.
        let mut seq: Vec<Task<'g>> = Vec::new();
        while let Some(task) = tasks.pop() {
            match task {
                Task::Use(u) if u.fx.is_none() => {
                    // No effects: the use is just its value (`seq` is empty here).
                    if !self.leaf(u)? {
                        self.value(u.node, &mut seq)?;
                    }
                }
                Task::Use(u) => {
                    let fx = graph.effects_of(u);
                    for e in &fx.before {
                        Self::effect_tasks(e, &mut seq);
                    }
                    seq.push(Task::Value(u.node));
                    for e in &fx.after {
                        Self::effect_tasks(e, &mut seq);
                    }
                }
                Task::Stmt(u) => {
                    let done = self.state[u.node.index()] == State::Done;
                    if !done || graph.has_effects(u) {
                        seq.push(Task::Use(u));
                        seq.push(Task::Op(Op::Pop));
                    }
                }
                Task::Value(id) => self.value(id, &mut seq)?,
                Task::Done(id) => self.finish(id)?,
                Task::Created(id) => self.finish(id)?,
                Task::Op(op) => self.w.op(&op)?,
                Task::Global(module, name) => self.w.global(module, name)?,
                Task::Str(text) => self.w.str(text)?,
                Task::Items { kind, uses } => self.items(kind, uses, &mut seq),
                Task::Batch { uses, mut pos } => {
                    // Leaves are written right away (nothing is queued before them).
                    while pos < uses.len() && self.leaf(uses.get(pos))? {
                        pos += 1;
                    }
                    if pos < uses.len() {
                        seq.push(Task::Use(uses.get(pos)));
                        seq.push(Task::Batch { uses, pos: pos + 1 });
                    }
                }
                Task::PerItem {
                    uses,
                    pos,
                    step,
                    op,
                } => {
                    if pos < uses.len() {
                        let end = (pos + step).min(uses.len());
                        seq.extend((pos..end).map(|i| Task::Use(uses.get(i))));
                        seq.push(Task::Op(op));
                        seq.push(Task::PerItem {
                            uses,
                            pos: end,
                            step,
                            op,
                        });
                    }
                }
            }
            tasks.extend(seq.drain(..).rev());
        }
        Ok(())
    }

    fn effect_tasks(e: &'g Effect, seq: &mut Vec<Task<'g>>) {
        match e {
            Effect::Eval(u) => seq.push(Task::Stmt(*u)),
            Effect::Build(u) => {
                seq.push(Task::Use(*u));
                seq.push(Task::Op(Op::Build));
            }
            Effect::Append(items) => {
                seq.push(Task::Items {
                    kind: Fill::Append,
                    uses: Items::Uses(items),
                });
            }
            Effect::AddItems(items) => {
                seq.push(Task::Items {
                    kind: Fill::AddItems,
                    uses: Items::Uses(items),
                });
            }
            Effect::SetItems(pairs) => {
                seq.push(Task::Items {
                    kind: Fill::SetItems,
                    uses: Items::Pairs(pairs),
                });
            }
            Effect::Continue(inner) => {
                // The MARK is already on the stack (written by the passed-through prefix).
                let (uses, op) = match &**inner {
                    Effect::Append(items) => (Items::Uses(items), Op::Appends),
                    Effect::AddItems(items) => (Items::Uses(items), Op::AddItems),
                    Effect::SetItems(pairs) => (Items::Pairs(pairs), Op::SetItems),
                    other => return Self::effect_tasks(other, seq),
                };
                seq.push(Task::Batch { uses, pos: 0 });
                seq.push(Task::Op(op));
            }
        }
    }

    /// Fill the container on top of the stack with `uses`.
    fn items(&mut self, kind: Fill, uses: Items<'g>, seq: &mut Vec<Task<'g>>) {
        if uses.len() == 0 {
            return;
        }
        let per_item = match kind {
            Fill::Append => Op::Append,
            Fill::SetItems => Op::SetItem,
            Fill::AddItems => Op::AddItems,
        };
        let batch = match kind {
            Fill::Append => Op::Appends,
            Fill::SetItems => Op::SetItems,
            Fill::AddItems => Op::AddItems,
        };
        let step = if matches!(kind, Fill::SetItems) { 2 } else { 1 };
        if self.protocol == 0 || (uses.len() == step && !matches!(kind, Fill::AddItems)) {
            seq.push(Task::PerItem {
                uses,
                pos: 0,
                step,
                op: per_item,
            });
        } else {
            seq.push(Task::Op(Op::Mark));
            seq.push(Task::Batch { uses, pos: 0 });
            seq.push(Task::Op(batch));
        }
    }

    fn finish(&mut self, id: NodeId) -> Result<(), EmitError> {
        let i = id.index();
        self.state[i] = State::Done;
        self.stats.nodes_written += 1;
        if self.slots[i] >= 2 {
            self.slots[i] = self.w.memoize()?;
            self.stats.memo_entries += 1;
        }
        Ok(())
    }

    /// Write a use right away if it is a single opcode: no effects, and its node is a scalar or
    /// already built (a memo fetch). Only call this when no task is queued before the use.
    fn leaf(&mut self, u: Use) -> Result<bool, EmitError> {
        if !u.fx.is_none() && self.graph.has_effects(u) {
            return Ok(false);
        }
        let i = u.node.index();
        match self.state[i] {
            State::Done => {
                self.w.get(self.slots[i])?;
                Ok(true)
            }
            State::Building => Ok(false),
            State::New => match self.graph.node(u.node) {
                Node::Const(op) => {
                    self.state[i] = State::Building;
                    self.w.op(&op.op())?;
                    self.finish(u.node)?;
                    Ok(true)
                }
                _ => Ok(false),
            },
        }
    }

    /// Tasks of a tuple; `seq` is empty, so leading leaf items are written right away.
    fn tuple_tasks(&mut self, items: &'g [Use], seq: &mut Vec<Task<'g>>) -> Result<(), EmitError> {
        let short = self.protocol >= 2 && items.len() <= 3;
        if items.is_empty() {
            if self.protocol == 0 {
                seq.push(Task::Op(Op::Mark));
                seq.push(Task::Op(Op::Tuple));
            } else {
                seq.push(Task::Op(Op::EmptyTuple));
            }
            return Ok(());
        }
        if !short {
            seq.push(Task::Op(Op::Mark));
        }
        let mut first = 0;
        if seq.is_empty() {
            while first < items.len() && self.leaf(items[first])? {
                first += 1;
            }
        }
        seq.extend(items[first..].iter().map(|u| Task::Use(*u)));
        seq.push(Task::Op(match (short, items.len()) {
            (true, 1) => Op::Tuple1,
            (true, 2) => Op::Tuple2,
            (true, _) => Op::Tuple3,
            _ => Op::Tuple,
        }));
        Ok(())
    }

    fn value(&mut self, id: NodeId, seq: &mut Vec<Task<'g>>) -> Result<(), EmitError> {
        let i = id.index();
        match self.state[i] {
            State::Done => {
                // Shared nodes were memoized when created (use count >= 2 covers this use).
                self.w.get(self.slots[i])?;
                return Ok(());
            }
            State::Building => {
                return Err(EmitError::ConstructionCycle {
                    offset: self.graph.offset(id),
                    node: id.0,
                });
            }
            State::New => self.state[i] = State::Building,
        }
        let graph: &'g Graph<'a> = self.graph;
        let node = graph.node(id);
        match node {
            Node::Const(op) => {
                self.w.op(&op.op())?;
                self.finish(id)?;
            }
            Node::Value(s) => {
                self.scalar(id, s)?;
                self.finish(id)?;
            }
            Node::Global { module, name } => {
                self.global(module, name, seq);
                seq.push(Task::Done(id));
            }
            Node::DynGlobal { module, name } => {
                seq.push(Task::Use(*module));
                seq.push(Task::Use(*name));
                seq.push(Task::Op(Op::StackGlobal));
                seq.push(Task::Done(id));
            }
            Node::Tuple(items) => {
                self.tuple_tasks(items, seq)?;
                seq.push(Task::Done(id));
            }
            Node::FrozenSet(items) => {
                seq.push(Task::Op(Op::Mark));
                seq.extend(items.iter().map(|u| Task::Use(*u)));
                seq.push(Task::Op(Op::FrozenSet));
                seq.push(Task::Done(id));
            }
            Node::List(items) => {
                if self.protocol == 0 {
                    seq.push(Task::Op(Op::Mark));
                    seq.push(Task::Op(Op::List));
                } else {
                    seq.push(Task::Op(Op::EmptyList));
                }
                seq.push(Task::Created(id));
                seq.push(Task::Items {
                    kind: Fill::Append,
                    uses: Items::Uses(items),
                });
            }
            Node::Dict(pairs) => {
                if self.protocol == 0 {
                    seq.push(Task::Op(Op::Mark));
                    seq.push(Task::Op(Op::Dict));
                } else {
                    seq.push(Task::Op(Op::EmptyDict));
                }
                seq.push(Task::Created(id));
                seq.push(Task::Items {
                    kind: Fill::SetItems,
                    uses: Items::Pairs(pairs),
                });
            }
            Node::Set(items) => {
                seq.push(Task::Op(Op::EmptySet));
                seq.push(Task::Created(id));
                seq.push(Task::Items {
                    kind: Fill::AddItems,
                    uses: Items::Uses(items),
                });
            }
            Node::Call { func, args } => {
                seq.push(Task::Use(*func));
                seq.push(Task::Use(*args));
                seq.push(Task::Op(Op::Reduce));
                seq.push(Task::Done(id));
            }
            Node::NewObj { cls, args } => {
                seq.push(Task::Use(*cls));
                seq.push(Task::Use(*args));
                seq.push(Task::Op(Op::NewObj));
                seq.push(Task::Done(id));
            }
            Node::NewObjEx { cls, args, kwargs } => {
                seq.push(Task::Use(*cls));
                seq.push(Task::Use(*args));
                seq.push(Task::Use(*kwargs));
                seq.push(Task::Op(Op::NewObjEx));
                seq.push(Task::Done(id));
            }
            Node::Obj { cls, args } => {
                seq.push(Task::Op(Op::Mark));
                seq.push(Task::Use(*cls));
                seq.extend(args.iter().map(|u| Task::Use(*u)));
                seq.push(Task::Op(Op::Obj));
                seq.push(Task::Done(id));
            }
            Node::Inst(inst) => {
                seq.push(Task::Op(Op::Mark));
                seq.extend(inst.args.iter().map(|u| Task::Use(*u)));
                seq.push(Task::Op(Op::Inst {
                    module: inst.module.as_bytes(),
                    name: inst.name.as_bytes(),
                }));
                seq.push(Task::Done(id));
            }
            Node::PersId(line) => {
                self.w.op(&Op::PersId(line))?;
                self.finish(id)?;
            }
            Node::BinPersId(u) => {
                seq.push(Task::Use(*u));
                seq.push(Task::Op(Op::BinPersId));
                seq.push(Task::Done(id));
            }
            Node::Ext(code) => {
                let op = match *code {
                    c @ 0..=0xff => Op::Ext1(c as u8),
                    c @ 0x100..=0xffff => Op::Ext2(c as u16),
                    c => Op::Ext4(c as i32),
                };
                self.w.op(&op)?;
                self.finish(id)?;
            }
            Node::NextBuffer => {
                self.w.op(&Op::NextBuffer)?;
                self.finish(id)?;
            }
            Node::OnStack(_) => {
                // Already on the stack, written by the passed-through prefix. Memoizing it here
                // would memoize whatever is on top, so such a node may be used only once.
                if self.slots[i] >= 2 {
                    return Err(EmitError::PrefixItemShared {
                        offset: graph.offset(id),
                    });
                }
                self.state[i] = State::Done;
                self.stats.nodes_written += 1;
            }
            Node::PrefixMemo(key) => {
                self.w.get(*key)?;
                self.finish(id)?;
            }
            Node::ReadonlyBuffer(u) => {
                seq.push(Task::Use(*u));
                seq.push(Task::Op(Op::ReadonlyBuffer));
                seq.push(Task::Done(id));
            }
            Node::Block { stmts, value } => {
                seq.extend(stmts.iter().map(|s| Task::Stmt(*s)));
                seq.push(Task::Use(*value));
                seq.push(Task::Done(id));
            }
        }
        Ok(())
    }

    /// Protocols below 4 cannot look up dotted names: spell `m.a.b` as
    /// `getattr(getattr(m.a, 'b'))`-style REDUCE chains over `builtins.getattr`.
    fn global(&self, module: &'g str, name: &'g str, seq: &mut Vec<Task<'g>>) {
        if self.protocol >= 4 || !name.contains('.') {
            seq.push(Task::Global(module, name));
            return;
        }
        let mut parts = name.split('.');
        let first = parts.next().unwrap_or(name);
        let rest: Vec<&'g str> = parts.collect();
        let short = self.protocol >= 2;
        // One `getattr(obj, attr)` call per attribute; the calls open outermost first.
        for _ in &rest {
            seq.push(Task::Global("builtins", "getattr"));
            if !short {
                seq.push(Task::Op(Op::Mark));
            }
        }
        seq.push(Task::Global(module, first));
        for attr in rest {
            seq.push(Task::Str(attr));
            seq.push(Task::Op(if short { Op::Tuple2 } else { Op::Tuple }));
            seq.push(Task::Op(Op::Reduce));
        }
    }

    fn scalar(&mut self, id: NodeId, s: &Scalar<'_>) -> Result<(), EmitError> {
        match s {
            Scalar::None => self.w.none()?,
            Scalar::Bool(b) => self.w.bool(*b)?,
            Scalar::Int(v) => self.w.int_i64(*v)?,
            Scalar::Str(t) => self.w.str(t)?,
            Scalar::Bytes(b) => {
                if self.protocol < 3 {
                    return Err(EmitError::NeedsProtocol {
                        offset: self.graph.offset(id),
                        what: "a bytes constant made by a rewrite",
                        protocol: self.protocol,
                    });
                }
                self.w.bytes(b)?
            }
        }
        Ok(())
    }
}
