//! Lifting: run the pickle machine symbolically over the opcode stream and build a [`Graph`].
//!
//! Nothing is executed: `REDUCE` becomes a `Call` node, `BUILD` an effect, globals stay names.
//! The walk is a single loop over opcodes with an explicit stack, so nesting depth costs heap,
//! never native stack. Every failure names the byte offset of the opcode at fault.

use crate::graph::{
    const_op_str, ConstOp, Effect, Graph, Inst, Name, Node, NodeId, TupleItems, Use,
};
use pickle_codec::{CodecError, Op, Reader};
use std::borrow::Cow;
use std::collections::HashMap;

/// Why a stream could not be lifted.
#[derive(Debug, thiserror::Error)]
pub enum LiftError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("byte {offset}: {opcode} needs {needed} value(s) on the stack, found {found}")]
    StackUnderflow {
        offset: usize,
        opcode: &'static str,
        needed: usize,
        found: usize,
    },
    #[error("byte {offset}: {opcode} without a matching MARK")]
    NoMark { offset: usize, opcode: &'static str },
    #[error("byte {offset}: {opcode} found a MARK where a value was expected")]
    UnexpectedMark { offset: usize, opcode: &'static str },
    #[error("byte {offset}: memo key {key} was never stored")]
    MemoMissing { offset: usize, key: u64 },
    #[error(
        "byte {offset}: {opcode} needs an even number of items (key/value pairs), found {found}"
    )]
    OddItems {
        offset: usize,
        opcode: &'static str,
        found: usize,
    },
    #[error("byte {offset}: {opcode} module or name is not valid UTF-8 (a surrogate or invalid byte); CPython cannot import it")]
    BadName { offset: usize, opcode: &'static str },
    #[error(
        "byte {offset}: STOP with {found} values on the stack; a pickle ends with exactly one"
    )]
    BadStop { offset: usize, found: usize },
    #[error("byte {offset}: {opcode} closes a MARK of the passed-through prefix in a way the suffix cannot continue")]
    PrefixMark { offset: usize, opcode: &'static str },
    #[error("byte {offset}: this MARK would nest deeper than the limit of {limit} open MARKs ({depth} already open)")]
    TooDeep {
        offset: usize,
        depth: usize,
        limit: usize,
    },
}

/// Limits that keep hostile inputs bounded. Memory is already linear in the input size; these
/// catch inputs that are technically valid but absurd.
#[derive(Clone, Copy, Debug)]
pub struct LiftLimits {
    /// Maximum number of simultaneously open MARKs.
    pub max_marks: usize,
}

impl Default for LiftLimits {
    fn default() -> Self {
        LiftLimits {
            max_marks: 1_000_000,
        }
    }
}

/// Lift the first pickle in `data` (starting at `start`).
pub fn lift(data: &[u8], start: usize) -> Result<Graph<'_>, LiftError> {
    lift_with(data, start, LiftLimits::default())
}

pub fn lift_with(data: &[u8], start: usize, limits: LiftLimits) -> Result<Graph<'_>, LiftError> {
    Lifter::new(data, start, limits).run()
}

/// Lift the rest of a pickle after a prefix found by [`crate::prefix::scan`]: the prefix's stack
/// items become [`Node::OnStack`] nodes, its memo entries constants re-read from the input or
/// [`Node::PrefixMemo`] fetches, and MEMOIZE keys continue after the prefix's.
pub fn lift_after_prefix<'a>(
    data: &'a [u8],
    prefix: &'a crate::prefix::Prefix,
) -> Result<Graph<'a>, LiftError> {
    let mut l = Lifter::new(data, prefix.end, LiftLimits::default());
    l.graph.protocol = prefix.protocol;
    l.memo_len = prefix.memo.len() as u64;
    l.prefix = Some(prefix);
    let mut marks = prefix.marks.iter().peekable();
    for i in 0..prefix.stack_depth {
        while marks.peek().is_some_and(|&&m| m as usize == l.stack.len()) {
            l.marks.push(l.stack.len());
            marks.next();
        }
        let id = l.graph.add(Node::OnStack(i), prefix.end as u64);
        l.push(Use::of(id));
    }
    for _ in marks {
        l.marks.push(l.stack.len());
    }
    l.prefix_marks = l.marks.len();
    l.run()
}

/// Memo indices are usually dense (MEMOIZE, BINPUT counters); hand-made pickles may use any u64.
#[derive(Default)]
struct Memo {
    /// `u32::MAX` marks a free slot.
    dense: Vec<u32>,
    sparse: HashMap<u64, NodeId>,
}

impl Memo {
    fn put(&mut self, key: u64, id: NodeId) {
        let k = key as usize;
        if key < (1 << 32) && k <= self.dense.len() + 1024 {
            if k >= self.dense.len() {
                self.dense.resize(k + 1, u32::MAX);
            }
            self.dense[k] = id.0;
        } else {
            self.sparse.insert(key, id);
        }
    }
    fn get(&self, key: u64) -> Option<NodeId> {
        if key < (1 << 32) {
            if let Some(&id) = self.dense.get(key as usize) {
                if id != u32::MAX {
                    return Some(NodeId(id));
                }
            }
        }
        self.sparse.get(&key).copied()
    }
}

struct Lifter<'a> {
    reader: Reader<'a>,
    graph: Graph<'a>,
    stack: Vec<Use>,
    marks: Vec<usize>,
    memo: Memo,
    /// Count of MEMOIZE-visible memo entries, maintained incrementally (see `Memo::len`).
    memo_len: u64,
    /// Statements popped while nothing was on the stack; they run before the next pushed value.
    pending_before: Vec<Effect>,
    limits: LiftLimits,
    /// Uses of each node stored so far: every use pushed on the stack ends up stored in the
    /// graph (in a node, an effect, or as the root), except STACK_GLOBAL's constant operands.
    /// This equals `Graph::use_counts` and saves the rewrite a walk.
    counts: Vec<u32>,
    /// Memo entries of a passed-through prefix, consulted when the suffix has no entry.
    prefix: Option<&'a crate::prefix::Prefix>,
    /// How many of the bottom MARKs were opened by that prefix.
    prefix_marks: usize,
}

fn continued(effect: Effect, from_prefix: bool) -> Effect {
    if from_prefix {
        Effect::Continue(Box::new(effect))
    } else {
        effect
    }
}

impl<'a> Lifter<'a> {
    fn new(data: &'a [u8], start: usize, limits: LiftLimits) -> Self {
        Lifter {
            reader: Reader::at(data, start),
            graph: Graph::empty(0),
            stack: Vec::new(),
            marks: Vec::new(),
            memo: Memo::default(),
            memo_len: 0,
            pending_before: Vec::new(),
            limits,
            counts: Vec::new(),
            prefix: None,
            prefix_marks: 0,
        }
    }

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn push_new(&mut self, node: Node<'a>, offset: usize) {
        let id = self.graph.add(node, offset as u64);
        self.push(Use::fresh_of(id));
    }

    fn push(&mut self, mut u: Use) {
        let i = u.node.index();
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] = self.counts[i].saturating_add(1);
        if !self.pending_before.is_empty() {
            let pending = std::mem::take(&mut self.pending_before);
            self.graph.effects_mut(&mut u).before.extend(pending);
        }
        self.stack.push(u);
    }

    fn pop1(&mut self, offset: usize, op: &Op) -> Result<Use, LiftError> {
        if self.stack.len() <= self.fence() {
            let found = self.stack.len() - self.fence();
            return Err(if self.marks.is_empty() {
                LiftError::StackUnderflow {
                    offset,
                    opcode: op.name(),
                    needed: 1,
                    found,
                }
            } else {
                LiftError::UnexpectedMark {
                    offset,
                    opcode: op.name(),
                }
            });
        }
        Ok(self.stack.pop().expect("checked above"))
    }

    fn popn(&mut self, n: usize, offset: usize, op: &Op) -> Result<Vec<Use>, LiftError> {
        self.peekn(n, offset, op)?;
        let at = self.stack.len() - n;
        Ok(self.stack.split_off(at))
    }

    /// The top `n` values (the same checks as `popn`), left on the stack.
    fn peekn(&self, n: usize, offset: usize, op: &Op) -> Result<&[Use], LiftError> {
        let avail = self.stack.len() - self.fence();
        if avail < n {
            return Err(if self.marks.is_empty() {
                LiftError::StackUnderflow {
                    offset,
                    opcode: op.name(),
                    needed: n,
                    found: avail,
                }
            } else {
                LiftError::UnexpectedMark {
                    offset,
                    opcode: op.name(),
                }
            });
        }
        Ok(&self.stack[self.stack.len() - n..])
    }

    fn pop_mark(&mut self, offset: usize, op: &Op) -> Result<Vec<Use>, LiftError> {
        if !self.marks.is_empty() && self.marks.len() <= self.prefix_marks {
            return Err(LiftError::PrefixMark {
                offset,
                opcode: op.name(),
            });
        }
        let Some(k) = self.marks.pop() else {
            return Err(LiftError::NoMark {
                offset,
                opcode: op.name(),
            });
        };
        Ok(self.stack.split_off(k))
    }

    /// Close a batch region (APPENDS/SETITEMS/ADDITEMS): its items, and whether its MARK was
    /// opened by a passed-through prefix (the emitter then writes no MARK).
    fn pop_batch(&mut self, offset: usize, op: &Op) -> Result<(Vec<Use>, bool), LiftError> {
        let from_prefix = !self.marks.is_empty() && self.marks.len() <= self.prefix_marks;
        if from_prefix {
            self.prefix_marks -= 1;
            let k = self.marks.pop().expect("checked above");
            return Ok((self.stack.split_off(k), true));
        }
        Ok((self.pop_mark(offset, op)?, false))
    }

    fn top_mut(&mut self, offset: usize, op: &Op) -> Result<&mut Use, LiftError> {
        if self.stack.len() <= self.fence() {
            return Err(LiftError::StackUnderflow {
                offset,
                opcode: op.name(),
                needed: 1,
                found: 0,
            });
        }
        Ok(self.stack.last_mut().expect("checked above"))
    }

    /// A value was evaluated and thrown away: keep its evaluation, in order.
    fn discard(&mut self, u: Use) {
        let effect = Effect::Eval(u);
        match self.stack.pop() {
            Some(mut top) => {
                self.graph.effects_mut(&mut top).after.push(effect);
                self.stack.push(top);
            }
            None => self.pending_before.push(effect),
        }
    }

    /// Apply a mutation to the value on top of the stack: fold it into a container literal that
    /// was just created and has had nothing else happen to it, else record it as an effect.
    fn mutate(&mut self, effect: Effect, offset: usize, op: &Op) -> Result<(), LiftError> {
        let mut target = *self.top_mut(offset, op)?;
        if target.fresh() && target.fx.is_none() {
            let node = &mut self.graph.nodes[target.node.index()];
            match (node, effect) {
                (Node::List(items), Effect::Append(new)) => {
                    items.extend(new);
                    return Ok(());
                }
                (Node::Dict(items), Effect::SetItems(new)) => {
                    items.extend(new);
                    return Ok(());
                }
                (Node::Set(items), Effect::AddItems(new)) => {
                    items.extend(new);
                    return Ok(());
                }
                (_, effect) => {
                    self.graph.effects_mut(&mut target).after.push(effect);
                }
            }
        } else {
            self.graph.effects_mut(&mut target).after.push(effect);
        }
        *self.top_mut(offset, op)? = target;
        Ok(())
    }

    fn memo_put(&mut self, key: u64, offset: usize, op: &Op) -> Result<(), LiftError> {
        let top = *self.top_mut(offset, op)?;
        if self.memo.get(key).is_none() {
            self.memo_len += 1;
        }
        self.memo.put(key, top.node);
        Ok(())
    }

    fn memo_get(&mut self, key: u64, offset: usize) -> Result<(), LiftError> {
        if let Some(id) = self.memo.get(key) {
            self.push(Use::of(id));
            return Ok(());
        }
        let missing = LiftError::MemoMissing { offset, key };
        let entry = self.prefix.and_then(|p| p.entry(key)).ok_or(missing)?;
        let node = match entry {
            crate::prefix::PrefixEntry::Const(at) => {
                let op = Reader::at(self.reader.data(), at)
                    .next_op()?
                    .map(|(_, op)| op);
                match op.and_then(ConstOp::from_op) {
                    Some(c) => Node::Const(c),
                    None => return Err(LiftError::MemoMissing { offset, key }),
                }
            }
            crate::prefix::PrefixEntry::Opaque => Node::PrefixMemo(
                u32::try_from(key).map_err(|_| LiftError::MemoMissing { offset, key })?,
            ),
        };
        self.push_new(node, offset);
        Ok(())
    }

    fn pairs(items: Vec<Use>, offset: usize, op: &Op) -> Result<Vec<(Use, Use)>, LiftError> {
        if !items.len().is_multiple_of(2) {
            return Err(LiftError::OddItems {
                offset,
                opcode: op.name(),
                found: items.len(),
            });
        }
        let mut out = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            out.push((k, v));
        }
        Ok(out)
    }

    fn name(bytes: &'a [u8], offset: usize, op: &Op) -> Result<Name<'a>, LiftError> {
        std::str::from_utf8(bytes)
            .map(|s| Name::from(Cow::Borrowed(s)))
            .map_err(|_| LiftError::BadName {
                offset,
                opcode: op.name(),
            })
    }

    fn run(mut self) -> Result<Graph<'a>, LiftError> {
        // The reader reports a missing STOP itself, so `None` cannot precede STOP.
        while let Some((offset, op)) = self.reader.next_op()? {
            // Protocol 1 has no PROTO opcode: the protocol is the highest any opcode needs.
            // (From the opcode byte: cheaper than asking the decoded op for its code.)
            let code = self.reader.data()[offset];
            self.graph.protocol = self.graph.protocol.max(pickle_codec::min_protocol_of(code));
            match op {
                Op::Proto(v) => self.graph.protocol = self.graph.protocol.max(v),
                Op::Frame(_) => {}
                Op::Stop => {
                    let found = self.stack.len();
                    if found != 1 || !self.marks.is_empty() {
                        return Err(LiftError::BadStop { offset, found });
                    }
                    let mut root = self.stack.pop().expect("checked above");
                    if !self.pending_before.is_empty() {
                        let pending = std::mem::take(&mut self.pending_before);
                        self.graph.effects_mut(&mut root).after.extend(pending);
                    }
                    self.graph.root = root;
                    self.graph.end = self.reader.position();
                    let mut counts = std::mem::take(&mut self.counts);
                    counts.resize(self.graph.nodes.len(), 0);
                    self.graph.set_lift_counts(counts);
                    return Ok(self.graph);
                }
                Op::Mark => {
                    if self.marks.len() >= self.limits.max_marks {
                        return Err(LiftError::TooDeep {
                            offset,
                            depth: self.marks.len(),
                            limit: self.limits.max_marks,
                        });
                    }
                    self.marks.push(self.stack.len());
                }
                Op::Pop => {
                    if self.stack.len() > self.fence() {
                        let u = self.stack.pop().expect("checked above");
                        self.discard(u);
                    } else if self.marks.last() == Some(&self.stack.len()) {
                        self.marks.pop();
                    } else {
                        return Err(LiftError::StackUnderflow {
                            offset,
                            opcode: op.name(),
                            needed: 1,
                            found: 0,
                        });
                    }
                }
                Op::PopMark => {
                    for u in self.pop_mark(offset, &op)? {
                        self.discard(u);
                    }
                }
                Op::Dup => {
                    let top = *self.top_mut(offset, &op)?;
                    self.push(Use::of(top.node));
                }
                Op::Get(k) => self.memo_get(k, offset)?,
                Op::BinGet(k) => self.memo_get(k as u64, offset)?,
                Op::LongBinGet(k) => self.memo_get(k as u64, offset)?,
                Op::Put(k) => self.memo_put(k, offset, &op)?,
                Op::BinPut(k) => self.memo_put(k as u64, offset, &op)?,
                Op::LongBinPut(k) => self.memo_put(k as u64, offset, &op)?,
                Op::Memoize => {
                    let k = self.memo_len;
                    self.memo_put(k, offset, &op)?;
                }
                Op::None
                | Op::NewTrue
                | Op::NewFalse
                | Op::Int(_)
                | Op::BinInt(_)
                | Op::BinInt1(_)
                | Op::BinInt2(_)
                | Op::Long(_)
                | Op::Long1(_)
                | Op::Long4(_)
                | Op::Float(_)
                | Op::BinFloat(_)
                | Op::String(_)
                | Op::BinString(_)
                | Op::ShortBinString(_)
                | Op::Unicode(_)
                | Op::BinUnicode(_)
                | Op::ShortBinUnicode(_)
                | Op::BinUnicode8(_)
                | Op::BinBytes(_)
                | Op::ShortBinBytes(_)
                | Op::BinBytes8(_)
                | Op::ByteArray8(_) => {
                    let c = ConstOp::from_op(op).expect("a constant opcode");
                    self.push_new(Node::Const(c), offset)
                }
                Op::NextBuffer => self.push_new(Node::NextBuffer, offset),
                Op::ReadonlyBuffer => {
                    let u = self.pop1(offset, &op)?;
                    self.push_new(Node::ReadonlyBuffer(u), offset);
                }
                Op::EmptyTuple => self.push_new(Node::Tuple(TupleItems::from_slice(&[])), offset),
                Op::Tuple => {
                    let items = self.pop_mark(offset, &op)?;
                    self.push_new(Node::Tuple(items.into()), offset);
                }
                Op::Tuple1 | Op::Tuple2 | Op::Tuple3 => {
                    let n = match op {
                        Op::Tuple1 => 1,
                        Op::Tuple2 => 2,
                        _ => 3,
                    };
                    // Popped without allocating: small tuples are stored inline.
                    let items = TupleItems::from_slice(self.peekn(n, offset, &op)?);
                    self.stack.truncate(self.stack.len() - n);
                    self.push_new(Node::Tuple(items), offset);
                }
                Op::EmptyList => self.push_new(Node::List(Vec::new()), offset),
                Op::List => {
                    let items = self.pop_mark(offset, &op)?;
                    self.push_new(Node::List(items), offset);
                }
                Op::EmptyDict => self.push_new(Node::Dict(Vec::new()), offset),
                Op::Dict => {
                    let items = self.pop_mark(offset, &op)?;
                    let pairs = Self::pairs(items, offset, &op)?;
                    self.push_new(Node::Dict(pairs), offset);
                }
                Op::EmptySet => self.push_new(Node::Set(Vec::new()), offset),
                Op::FrozenSet => {
                    let items = self.pop_mark(offset, &op)?;
                    self.push_new(Node::FrozenSet(items), offset);
                }
                Op::Append => {
                    let v = self.pop1(offset, &op)?;
                    self.mutate(Effect::Append(vec![v]), offset, &op)?;
                }
                Op::Appends => {
                    let (items, cont) = self.pop_batch(offset, &op)?;
                    self.mutate(continued(Effect::Append(items), cont), offset, &op)?;
                }
                Op::SetItem => {
                    let kv = self.popn(2, offset, &op)?;
                    let pairs = Self::pairs(kv, offset, &op)?;
                    self.mutate(Effect::SetItems(pairs), offset, &op)?;
                }
                Op::SetItems => {
                    let (items, cont) = self.pop_batch(offset, &op)?;
                    let pairs = Self::pairs(items, offset, &op)?;
                    self.mutate(continued(Effect::SetItems(pairs), cont), offset, &op)?;
                }
                Op::AddItems => {
                    let (items, cont) = self.pop_batch(offset, &op)?;
                    self.mutate(continued(Effect::AddItems(items), cont), offset, &op)?;
                }
                Op::Build => {
                    let state = self.pop1(offset, &op)?;
                    self.mutate(Effect::Build(state), offset, &op)?;
                }
                Op::Global { module, name } => {
                    let module = Self::name(module, offset, &op)?;
                    let name = Self::name(name, offset, &op)?;
                    self.push_new(Node::Global { module, name }, offset);
                }
                Op::StackGlobal => {
                    let mn = self.popn(2, offset, &op)?;
                    let (m, n) = (mn[0], mn[1]);
                    // A `str` operand holding a surrogate (valid for BINUNICODE's
                    // surrogatepass) names nothing importable; refuse it rather than let the
                    // global vanish as a dynamic one.
                    if self.surrogate_str(m) || self.surrogate_str(n) {
                        return Err(LiftError::BadName {
                            offset,
                            opcode: op.name(),
                        });
                    }
                    let node = match (self.plain_str(m), self.plain_str(n)) {
                        (Some(module), Some(name)) => {
                            // The operands are dropped: they are no longer uses.
                            for u in [m, n] {
                                let c = &mut self.counts[u.node.index()];
                                *c = c.saturating_sub(1);
                            }
                            Node::Global {
                                module: module.into(),
                                name: name.into(),
                            }
                        }
                        _ => Node::DynGlobal { module: m, name: n },
                    };
                    self.push_new(node, offset);
                }
                Op::Reduce => {
                    let fa = self.popn(2, offset, &op)?;
                    self.push_new(
                        Node::Call {
                            func: fa[0],
                            args: fa[1],
                        },
                        offset,
                    );
                }
                Op::NewObj => {
                    let ca = self.popn(2, offset, &op)?;
                    self.push_new(
                        Node::NewObj {
                            cls: ca[0],
                            args: ca[1],
                        },
                        offset,
                    );
                }
                Op::NewObjEx => {
                    let c = self.popn(3, offset, &op)?;
                    self.push_new(
                        Node::NewObjEx {
                            cls: c[0],
                            args: c[1],
                            kwargs: c[2],
                        },
                        offset,
                    );
                }
                Op::Inst { module, name } => {
                    let args = self.pop_mark(offset, &op)?;
                    let module = Self::name(module, offset, &op)?;
                    let name = Self::name(name, offset, &op)?;
                    self.push_new(Node::Inst(Box::new(Inst { module, name, args })), offset);
                }
                Op::Obj => {
                    let mut items = self.pop_mark(offset, &op)?;
                    if items.is_empty() {
                        return Err(LiftError::StackUnderflow {
                            offset,
                            opcode: op.name(),
                            needed: 1,
                            found: 0,
                        });
                    }
                    let cls = items.remove(0);
                    self.push_new(
                        Node::Obj {
                            cls,
                            args: items.into_boxed_slice(),
                        },
                        offset,
                    );
                }
                Op::PersId(line) => self.push_new(Node::PersId(line), offset),
                Op::BinPersId => {
                    let u = self.pop1(offset, &op)?;
                    self.push_new(Node::BinPersId(u), offset);
                }
                Op::Ext1(c) => self.push_new(Node::Ext(c as i64), offset),
                Op::Ext2(c) => self.push_new(Node::Ext(c as i64), offset),
                Op::Ext4(c) => self.push_new(Node::Ext(c as i64), offset),
            }
        }
        Err(LiftError::BadStop {
            offset: self.reader.position(),
            found: self.stack.len(),
        })
    }

    /// A STACK_GLOBAL operand that is a constant string with no effects around it.
    /// Whether `u` is a `str` constant that is not valid UTF-8 (it holds a surrogate).
    fn surrogate_str(&self, u: Use) -> bool {
        match self.graph.node(u.node) {
            Node::Const(c) => {
                let op = c.op();
                matches!(
                    op,
                    Op::BinUnicode(_)
                        | Op::ShortBinUnicode(_)
                        | Op::BinUnicode8(_)
                        | Op::Unicode(_)
                ) && const_op_str(&op).is_none()
            }
            _ => false,
        }
    }

    fn plain_str(&self, u: Use) -> Option<Cow<'a, str>> {
        if self.graph.has_effects(u) {
            return None;
        }
        match self.graph.node(u.node) {
            Node::Const(op) => const_op_str(&op.op()),
            _ => None,
        }
    }
}
