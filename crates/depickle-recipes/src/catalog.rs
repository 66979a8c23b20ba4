//! Loading recipe modules: the Python files under `recipes/`, parsed with rustpython-parser.
//!
//! A recipe module is plain Python with a small vocabulary at module level: imports (stdlib
//! modules the recipes use), constants, `serializer_global("name")` sentinels, and functions,
//! some decorated with `@recipe("helper_name", ...)` to say which serializer helpers they
//! replace, or with `@recipe_global("module", "name")` (no parameters) to say which names the
//! serializer's unpickler resolves itself in `find_class` (dill's `__builtin__.__main__`). `SERIALIZER = "name"` names the module family.

use crate::value::Value;
use crate::RecipeError;
use rustpython_parser::ast::{self, Constant, Expr, Stmt};
use std::collections::HashMap;
use std::rc::Rc;

/// One parsed recipe module.
#[derive(Debug)]
pub struct RecipeModule {
    /// File name, for messages and docs.
    pub path: String,
    /// The family named by `SERIALIZER`.
    pub serializer: String,
    /// Module-level names: imported modules, constants, sentinels.
    pub globals: HashMap<String, Value>,
    /// Every function of the module, by name.
    pub functions: HashMap<String, Rc<ast::StmtFunctionDef>>,
    /// Serializer helper name -> recipe function name.
    pub helpers: HashMap<String, String>,
    /// Helper names in file order, for the catalog listing.
    pub helper_order: Vec<(String, String)>,
    /// Pseudo-globals: `(module, name)` -> zero-argument recipe function that builds the object
    /// the serializer's own `find_class` returns for that name (declared with
    /// `@recipe_global("module", "name")`). They replace GLOBAL nodes, not calls.
    pub pseudo_globals: HashMap<(String, String), String>,
}

impl RecipeModule {
    pub fn parse(path: &str, source: &str) -> Result<RecipeModule, RecipeError> {
        let parsed = rustpython_parser::parse(source, rustpython_parser::Mode::Module, path)
            .map_err(|e| RecipeError::Parse {
                path: path.into(),
                message: e.to_string(),
            })?;
        let ast::Mod::Module(module) = parsed else {
            return Err(RecipeError::Parse {
                path: path.into(),
                message: "not a module".into(),
            });
        };
        let bad = |message: String| RecipeError::Parse {
            path: path.into(),
            message,
        };
        let mut m = RecipeModule {
            path: path.into(),
            serializer: String::new(),
            globals: HashMap::new(),
            functions: HashMap::new(),
            helpers: HashMap::new(),
            helper_order: Vec::new(),
            pseudo_globals: HashMap::new(),
        };
        for stmt in module.body {
            match stmt {
                Stmt::Expr(_) => {}
                Stmt::Import(i) => {
                    for alias in i.names {
                        let full = alias.name.to_string();
                        let bound = match &alias.asname {
                            Some(a) => a.to_string(),
                            None => full.split('.').next().unwrap_or(&full).to_string(),
                        };
                        let target = if alias.asname.is_some() {
                            full.clone()
                        } else {
                            bound.clone()
                        };
                        m.globals
                            .insert(bound, Value::Module(Rc::from(target.as_str())));
                    }
                }
                Stmt::ImportFrom(f) => {
                    let module = f.module.as_ref().map(|x| x.to_string()).unwrap_or_default();
                    if module == "_depickle" {
                        // Markers (`recipe`, ...) are read syntactically; the other names are
                        // evaluator intrinsics (see `eval::Call::intrinsic`).
                        for alias in f.names {
                            let bound = alias.asname.as_ref().unwrap_or(&alias.name).to_string();
                            m.globals
                                .insert(bound, Value::global("_depickle", alias.name.as_str()));
                        }
                        continue;
                    }
                    for alias in f.names {
                        let bound = alias.asname.as_ref().unwrap_or(&alias.name).to_string();
                        m.globals
                            .insert(bound, Value::global(&module, alias.name.as_str()));
                    }
                }
                Stmt::Assign(a) => {
                    let [Expr::Name(target)] = a.targets.as_slice() else {
                        return Err(bad("module-level assignments must bind one name".into()));
                    };
                    let value = module_constant(&a.value).ok_or_else(|| {
                        bad(format!(
                            "`{}`: only constants and serializer_global() at module level",
                            target.id
                        ))
                    })?;
                    if target.id.as_str() == "SERIALIZER" {
                        if let Value::Str(s) = &value {
                            m.serializer = s.to_string();
                        }
                    }
                    m.globals.insert(target.id.to_string(), value);
                }
                Stmt::FunctionDef(f) => {
                    let name = f.name.to_string();
                    for d in &f.decorator_list {
                        let Expr::Call(c) = d else {
                            return Err(bad(format!("{name}: unknown decorator")));
                        };
                        let decorator = match c.func.as_ref() {
                            Expr::Name(n) => n.id.to_string(),
                            _ => String::new(),
                        };
                        let mut strings = Vec::new();
                        for arg in &c.args {
                            let Expr::Constant(ast::ExprConstant {
                                value: Constant::Str(s),
                                ..
                            }) = arg
                            else {
                                return Err(bad(format!(
                                    "{name}: @{decorator} takes names as strings"
                                )));
                            };
                            strings.push(s.clone());
                        }
                        match decorator.as_str() {
                            "recipe" => {
                                for helper in strings {
                                    if m.helpers.insert(helper.clone(), name.clone()).is_some() {
                                        return Err(bad(format!(
                                            "helper {helper} has two recipes"
                                        )));
                                    }
                                    m.helper_order.push((helper, name.clone()));
                                }
                            }
                            "recipe_global" => {
                                let [module, global] = strings.as_slice() else {
                                    return Err(bad(format!(
                                        "{name}: @recipe_global takes a module and a name"
                                    )));
                                };
                                let key = (module.clone(), global.clone());
                                if m.pseudo_globals.insert(key, name.clone()).is_some() {
                                    return Err(bad(format!(
                                        "pseudo-global {module}.{global} has two recipes"
                                    )));
                                }
                            }
                            _ => return Err(bad(format!("{name}: unknown decorator"))),
                        }
                    }
                    m.functions.insert(name, Rc::new(f));
                }
                _ => return Err(bad("unsupported module-level statement".into())),
            }
        }
        if m.serializer.is_empty() {
            return Err(bad("missing SERIALIZER = \"...\"".into()));
        }
        Ok(m)
    }
}

fn module_constant(e: &Expr) -> Option<Value> {
    match e {
        Expr::Constant(c) => match &c.value {
            Constant::Str(s) => Some(Value::str(s)),
            Constant::Int(i) => i.to_string().parse().ok().map(Value::Int),
            Constant::Bool(b) => Some(Value::Bool(*b)),
            Constant::None => Some(Value::None),
            _ => None,
        },
        Expr::Tuple(t) => t
            .elts
            .iter()
            .map(module_constant)
            .collect::<Option<Vec<_>>>()
            .map(Value::tuple),
        Expr::Call(c) => match (c.func.as_ref(), c.args.as_slice()) {
            (
                Expr::Name(n),
                [Expr::Constant(ast::ExprConstant {
                    value: Constant::Str(s),
                    ..
                })],
            ) if n.id.as_str() == "serializer_global" => {
                Some(Value::Sentinel(Rc::from(s.as_str())))
            }
            _ => None,
        },
        _ => None,
    }
}
