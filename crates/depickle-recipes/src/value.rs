//! Values a recipe computes with.
//!
//! A value is either *static* — known while converting (constants, tuples and dicts built by the
//! pickle and used only once, stdlib modules and globals named by the recipe) — or *dynamic*: a
//! use of a graph node whose value only exists at load time. Recipes may branch, loop and index
//! on static values; anything done to a dynamic value becomes a node in the output program.

use pickle_ir::Use;
use std::cell::RefCell;
use std::rc::Rc;

pub type Shared<T> = Rc<RefCell<T>>;

#[derive(Clone, Debug)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    Str(Rc<str>),
    Tuple(Rc<Vec<Value>>),
    List(Shared<Vec<Value>>),
    Dict(Shared<Vec<(Value, Value)>>),
    /// A module the recipe imported (`types`, `builtins`, ...).
    Module(Rc<str>),
    /// `module.qualname`, named statically (stdlib callables, the input's own globals).
    Global(Rc<str>, Rc<str>),
    /// A serializer module attribute used as a sentinel (e.g. cloudpickle's `_empty_cell_value`).
    Sentinel(Rc<str>),
    /// Another function of the recipe module.
    Function(Rc<str>),
    /// A method of a static container, bound but not yet called.
    Method(Box<Value>, Rc<str>),
    /// A static iterable whose load-time form is a call (`d.items()`, `enumerate(t)`): loops
    /// see `items`; passing it to a load-time call emits `form`.
    Lazy(Rc<Lazy>),
    /// A load-time value: a use of a graph node.
    Dyn(Use),
}

#[derive(Debug)]
pub struct Lazy {
    pub items: Vec<Value>,
    /// The call that produces this iterable at load time.
    pub func: Value,
    pub args: Vec<Value>,
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }

    pub fn global(module: &str, name: &str) -> Value {
        Value::Global(Rc::from(module), Rc::from(name))
    }

    pub fn tuple(items: Vec<Value>) -> Value {
        Value::Tuple(Rc::new(items))
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(Rc::new(RefCell::new(items)))
    }

    pub fn dict(items: Vec<(Value, Value)>) -> Value {
        Value::Dict(Rc::new(RefCell::new(items)))
    }

    pub fn is_dyn(&self) -> bool {
        matches!(self, Value::Dyn(_))
    }

    /// A short description for error messages.
    pub fn describe(&self) -> String {
        match self {
            Value::None => "None".into(),
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::Int(i) => i.to_string(),
            Value::Str(s) => format!("{s:?}"),
            Value::Tuple(t) => format!("a tuple of {}", t.len()),
            Value::List(l) => format!("a list of {}", l.borrow().len()),
            Value::Dict(d) => format!("a dict of {}", d.borrow().len()),
            Value::Module(m) => format!("module {m}"),
            Value::Global(m, n) => format!("{m}.{n}"),
            Value::Sentinel(n) => format!("serializer global {n}"),
            Value::Function(n) => format!("recipe function {n}"),
            Value::Method(_, n) => format!("method {n}"),
            Value::Lazy(_) => "an iterable".into(),
            Value::Dyn(_) => "a load-time value".into(),
        }
    }

    /// Static equality for keys and comparisons; `None` when it cannot be decided statically.
    pub fn static_eq(&self, other: &Value) -> Option<bool> {
        use Value::*;
        Some(match (self, other) {
            (None, None) => true,
            (Bool(a), Bool(b)) => a == b,
            (Int(a), Int(b)) => a == b,
            (Bool(a), Int(b)) | (Int(b), Bool(a)) => (*a as i64) == *b,
            (Str(a), Str(b)) => a == b,
            (Sentinel(a), Sentinel(b)) => a == b,
            (Global(m1, n1), Global(m2, n2)) => m1 == m2 && n1 == n2,
            (Module(a), Module(b)) => a == b,
            (Tuple(a), Tuple(b)) => {
                if a.len() != b.len() {
                    return Some(false);
                }
                for (x, y) in a.iter().zip(b.iter()) {
                    if !x.static_eq(y)? {
                        return Some(false);
                    }
                }
                true
            }
            (List(a), List(b)) => {
                let (a, b) = (a.borrow(), b.borrow());
                a.len() == b.len()
                    && a.iter()
                        .zip(b.iter())
                        .all(|(x, y)| x.static_eq(y) == Some(true))
            }
            (Dyn(_), _) | (_, Dyn(_)) => return Option::None,
            (Lazy(_), _) | (_, Lazy(_)) | (Method(..), _) | (_, Method(..)) => return Option::None,
            // Two static values of different kinds are never equal.
            _ => false,
        })
    }

    /// Static identity (`is`); `None` when it cannot be decided statically.
    pub fn static_is(&self, other: &Value) -> Option<bool> {
        use Value::*;
        Some(match (self, other) {
            (Tuple(a), Tuple(b)) => Rc::ptr_eq(a, b),
            (List(a), List(b)) => Rc::ptr_eq(a, b),
            (Dict(a), Dict(b)) => Rc::ptr_eq(a, b),
            (Dyn(a), Dyn(b)) if a.node == b.node => true,
            (Dyn(_), _) | (_, Dyn(_)) => return Option::None,
            _ => return self.static_eq(other),
        })
    }
}
