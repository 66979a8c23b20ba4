//! The IR: an arena of value nodes, and *uses* of those nodes that carry ordered side effects.
//!
//! Why uses carry effects: a pickle is a stack program. Besides building values it mutates
//! objects that already exist (`APPENDS`, `SETITEMS`, `BUILD` on an object fetched from the memo)
//! and evaluates whole expressions only for their effect (`REDUCE` followed by `POP`, which is how
//! cloudpickle applies a function's state). Each of those happens at one place in the stream:
//! right after some value was pushed. Recording the effect on that *use* of the value keeps the
//! original order exactly, so re-emitting the graph in traversal order reproduces the program, and
//! a rewrite that replaces one node cannot move an effect across another.
//!
//! A node is created once, at its first use in emission order; every later use is a memo fetch.
//! Cycles only ever pass through mutable containers (`Dict`, `List`, `Set`), which the emitter
//! creates empty and memoizes before filling, exactly like CPython's pickler.

use pickle_codec::Op;
use std::borrow::Cow;

/// Index of a node in [`Graph::nodes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Index into [`Graph::effects`]; `FxId::NONE` means the use has no effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FxId(pub u32);

impl FxId {
    pub const NONE: FxId = FxId(0);
    pub fn is_none(self) -> bool {
        self.0 == 0
    }
}

/// One occurrence of a node in the program, with the effects that run around it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Use {
    pub node: NodeId,
    pub fx: FxId,
    /// True when this occurrence created the node in the input stream (not a memo fetch or DUP).
    pub fresh: bool,
}

impl Use {
    /// A plain reference with no effects.
    pub fn of(node: NodeId) -> Use {
        Use {
            node,
            fx: FxId::NONE,
            fresh: false,
        }
    }
}

/// Effects attached to a use: `before` run just before the value is pushed, `after` just after.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UseEffects {
    pub before: Vec<Effect>,
    pub after: Vec<Effect>,
}

/// An ordered side effect. Mutations apply to the value of the use that carries them.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Evaluate a value and discard it (`POP`/`POP_MARK` of an evaluated expression).
    Eval(Use),
    /// `APPEND`/`APPENDS` on the value.
    Append(Vec<Use>),
    /// `SETITEM`/`SETITEMS` on the value.
    SetItems(Vec<(Use, Use)>),
    /// `ADDITEMS` on the value.
    AddItems(Vec<Use>),
    /// `BUILD` with this state on the value.
    Build(Use),
}

/// Text of a global's module or qualified name.
pub type Name<'a> = Cow<'a, str>;

/// A value in the program.
#[derive(Clone, Debug, PartialEq)]
pub enum Node<'a> {
    /// A scalar constant, kept as the opcode that wrote it (ints, floats, str, bytes, bool, None,
    /// bytearray). Payloads borrow from the input.
    Const(Op<'a>),
    /// `module.name` looked up with `find_class` (GLOBAL, or STACK_GLOBAL of constant strings).
    Global {
        module: Name<'a>,
        name: Name<'a>,
    },
    /// STACK_GLOBAL whose operands are not constant strings.
    DynGlobal {
        module: Use,
        name: Use,
    },
    Tuple(Vec<Use>),
    /// A list created with these items (further appends are effects on its uses).
    List(Vec<Use>),
    Dict(Vec<(Use, Use)>),
    Set(Vec<Use>),
    FrozenSet(Vec<Use>),
    /// `func(*args)` (REDUCE).
    Call {
        func: Use,
        args: Use,
    },
    /// `cls.__new__(cls, *args)` (NEWOBJ).
    NewObj {
        cls: Use,
        args: Use,
    },
    /// `cls.__new__(cls, *args, **kwargs)` (NEWOBJ_EX).
    NewObjEx {
        cls: Use,
        args: Use,
        kwargs: Use,
    },
    /// Protocol 1 OBJ: class and arguments.
    Obj {
        cls: Use,
        args: Vec<Use>,
    },
    /// Protocol 0 INST: class named inline, arguments.
    Inst {
        module: Name<'a>,
        name: Name<'a>,
        args: Vec<Use>,
    },
    /// PERSID with its raw line.
    PersId(&'a [u8]),
    /// BINPERSID of a value.
    BinPersId(Use),
    /// EXT1/EXT2/EXT4 code.
    Ext(i64),
    /// NEXT_BUFFER (protocol 5 out-of-band buffer).
    NextBuffer,
    /// READONLY_BUFFER applied to a value.
    ReadonlyBuffer(Use),
    /// Introduced by rewriting: evaluate each statement for its effect, then the value.
    Block {
        stmts: Vec<Use>,
        value: Use,
    },
    /// A constant made by a rewrite (not read from the input); the emitter picks its opcode.
    Value(Scalar<'a>),
}

/// Constants that rewrites synthesize.
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar<'a> {
    None,
    Bool(bool),
    Int(i64),
    Str(Cow<'a, str>),
    Bytes(Cow<'a, [u8]>),
}

impl<'a> Node<'a> {
    /// Every use this node's construction evaluates, in evaluation order.
    pub fn children(&self) -> Vec<Use> {
        let mut out = Vec::new();
        self.for_each_child(|u| out.push(u));
        out
    }

    /// Visit every use this node's construction evaluates, in evaluation order.
    pub fn for_each_child(&self, mut f: impl FnMut(Use)) {
        match self {
            Node::Const(_)
            | Node::Global { .. }
            | Node::PersId(_)
            | Node::Ext(_)
            | Node::NextBuffer
            | Node::Value(_) => {}
            Node::DynGlobal { module, name } => {
                f(*module);
                f(*name);
            }
            Node::Tuple(items)
            | Node::List(items)
            | Node::Set(items)
            | Node::FrozenSet(items)
            | Node::Inst { args: items, .. } => items.iter().copied().for_each(f),
            Node::Dict(pairs) => {
                for (k, v) in pairs {
                    f(*k);
                    f(*v);
                }
            }
            Node::Call { func, args } => {
                f(*func);
                f(*args);
            }
            Node::NewObj { cls, args } => {
                f(*cls);
                f(*args);
            }
            Node::NewObjEx { cls, args, kwargs } => {
                f(*cls);
                f(*args);
                f(*kwargs);
            }
            Node::Obj { cls, args } => {
                f(*cls);
                args.iter().copied().for_each(f);
            }
            Node::BinPersId(u) | Node::ReadonlyBuffer(u) => f(*u),
            Node::Block { stmts, value } => {
                stmts.iter().copied().for_each(&mut f);
                f(*value);
            }
        }
    }

    /// Whether this node is a mutable container the emitter creates empty and fills afterwards.
    pub fn is_fillable(&self) -> bool {
        matches!(self, Node::List(_) | Node::Dict(_) | Node::Set(_))
    }
}

/// A lifted pickle program.
#[derive(Clone, Debug)]
pub struct Graph<'a> {
    pub nodes: Vec<Node<'a>>,
    /// Byte offset in the input of the opcode that created each node (rewrites reuse the offset
    /// of the node they replace), for error messages.
    pub offsets: Vec<u64>,
    /// Effect lists; index 0 is a permanent empty placeholder for `FxId::NONE`.
    pub effects: Vec<UseEffects>,
    /// The value STOP returns.
    pub root: Use,
    /// Protocol of the input: the PROTO opcode's, or the highest any opcode needs.
    pub protocol: u8,
    /// Offset just past the STOP opcode.
    pub end: usize,
}

impl<'a> Graph<'a> {
    pub fn empty(protocol: u8) -> Self {
        Graph {
            nodes: Vec::new(),
            offsets: Vec::new(),
            effects: vec![UseEffects::default()],
            root: Use::of(NodeId(0)),
            protocol,
            end: 0,
        }
    }

    pub fn node(&self, id: NodeId) -> &Node<'a> {
        &self.nodes[id.index()]
    }

    pub fn offset(&self, id: NodeId) -> u64 {
        self.offsets[id.index()]
    }

    /// Add a node created at `offset`.
    pub fn add(&mut self, node: Node<'a>, offset: u64) -> NodeId {
        let id = NodeId(self.nodes.len() as u32);
        self.nodes.push(node);
        self.offsets.push(offset);
        id
    }

    /// Replace a node's content in place; every use of it now sees the new content.
    pub fn replace(&mut self, id: NodeId, node: Node<'a>) {
        self.nodes[id.index()] = node;
    }

    pub fn effects_of(&self, u: Use) -> &UseEffects {
        &self.effects[u.fx.0 as usize]
    }

    /// Mutable effects of a use, allocating its list on first need.
    pub fn effects_mut(&mut self, u: &mut Use) -> &mut UseEffects {
        if u.fx.is_none() {
            u.fx = FxId(self.effects.len() as u32);
            self.effects.push(UseEffects::default());
        }
        &mut self.effects[u.fx.0 as usize]
    }

    pub fn has_effects(&self, u: Use) -> bool {
        !u.fx.is_none() && {
            let e = &self.effects[u.fx.0 as usize];
            !(e.before.is_empty() && e.after.is_empty())
        }
    }

    /// The text of a constant string node (`str` opcodes only), if it is valid UTF-8.
    pub fn const_str(&self, id: NodeId) -> Option<Cow<'a, str>> {
        match self.node(id) {
            Node::Const(op) => const_op_str(op),
            _ => None,
        }
    }
}

impl Effect {
    /// Visit every use this effect evaluates, in order.
    pub fn for_each_use(&self, mut f: impl FnMut(Use)) {
        match self {
            Effect::Eval(u) | Effect::Build(u) => f(*u),
            Effect::Append(items) | Effect::AddItems(items) => items.iter().copied().for_each(f),
            Effect::SetItems(pairs) => {
                for (k, v) in pairs {
                    f(*k);
                    f(*v);
                }
            }
        }
    }
}

impl<'a> Graph<'a> {
    /// Visit every use reachable from the root exactly once (each stored `Use` once), with a
    /// heap-allocated work list so depth costs no native stack.
    pub fn walk_uses(&self, mut f: impl FnMut(Use)) {
        let mut seen = vec![false; self.nodes.len()];
        let mut work = vec![self.root];
        while let Some(u) = work.pop() {
            f(u);
            let fx = self.effects_of(u);
            for e in fx.before.iter().chain(fx.after.iter()) {
                e.for_each_use(|x| work.push(x));
            }
            let i = u.node.index();
            if !seen[i] {
                seen[i] = true;
                self.nodes[i].for_each_child(|x| work.push(x));
            }
        }
    }

    /// How many stored uses reference each node, counting only what is reachable from the root.
    pub fn use_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.nodes.len()];
        self.walk_uses(|u| counts[u.node.index()] = counts[u.node.index()].saturating_add(1));
        counts
    }
}

/// Decode a `str` constant opcode (any protocol). Python-2 byte strings are not `str` here.
pub fn const_op_str<'a>(op: &Op<'a>) -> Option<Cow<'a, str>> {
    match *op {
        Op::BinUnicode(b) | Op::ShortBinUnicode(b) | Op::BinUnicode8(b) => {
            std::str::from_utf8(b).ok().map(Cow::Borrowed)
        }
        Op::Unicode(line) => pickle_codec::text::decode_raw_unicode_escape(line).map(Cow::Owned),
        _ => None,
    }
}
