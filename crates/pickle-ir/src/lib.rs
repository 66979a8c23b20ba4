//! # pickle-ir
//!
//! The middle of depickle's pipeline: [`lift`] turns an opcode stream (from `pickle-codec`) into a
//! [`Graph`] of values with sharing, cycles and ordered side effects; rewriting passes edit the
//! graph; `pickle-emit` writes it back out. See `graph` for why effects live on uses.

pub mod graph;
pub mod lift;
pub mod prefix;

pub use graph::{
    const_op_str, ConstOp, Effect, FxId, Graph, Inst, Name, Node, NodeId, Scalar, TupleItems, Use,
    UseEffects,
};
pub use lift::{lift, lift_after_prefix, lift_with, LiftError, LiftLimits};
