//! A compiled CEL expression as the graph stores it: source text, references, and the program
//! the runtime evaluates.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use cel::{Context, Env, Program};
use serde_json::Value;
use thiserror::Error;

use crate::refs::{self, References};

/// A CEL expression, parsed once at compile time, evaluated many times.
#[derive(Clone)]
pub struct CompiledExpr {
    source: Arc<str>,
    refs: Arc<References>,
    program: Arc<Program>,
}

impl fmt::Debug for CompiledExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledExpr")
            .field("source", &self.source)
            .field("references", &self.refs.identifiers)
            .finish()
    }
}

/// Why an expression does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("failed to compile expression {expression:?}: {message}")]
pub struct ParseError {
    /// The expression as written.
    pub expression: String,
    /// The parser's message.
    pub message: String,
}

/// Why an evaluation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EvalError {
    /// The data the expression reads is not there yet (missing key, index, variable): retry.
    #[error("expression {expression:?}: data not yet available: {message}")]
    Pending {
        /// The expression as written.
        expression: String,
        /// What is missing.
        message: String,
    },
    /// Any other failure.
    #[error("failed to evaluate expression {expression:?}: {message}")]
    Failed {
        /// The expression as written.
        expression: String,
        /// What went wrong.
        message: String,
    },
}

impl EvalError {
    /// Whether kro retries later instead of reporting an error.
    pub fn is_pending(&self) -> bool {
        matches!(self, EvalError::Pending { .. })
    }
}

fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // Declaration errors here would be programming errors in the extension set; an env
        // with fewer extensions still evaluates every stdlib expression.
        let _ = env.add_extension(cel::extensions::strings);
        let _ = env.add_extension(cel::extensions::lists);
        let _ = env.add_extension(cel::extensions::encoders);
        Arc::new(env)
    })
    .clone()
}

impl CompiledExpr {
    /// Parses `source`.
    pub fn compile(source: &str) -> Result<Self, ParseError> {
        let program = env().compile(source).map_err(|e| ParseError {
            expression: source.to_string(),
            message: e.to_string().trim().to_string(),
        })?;
        let refs = refs::references(program.expression());
        Ok(Self {
            source: Arc::from(source),
            refs: Arc::new(refs),
            program: Arc::new(program),
        })
    }

    /// The expression as written (without `${` `}`).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Identifiers and functions it uses.
    pub fn references(&self) -> &References {
        &self.refs
    }

    /// Evaluates with the given variables (JSON values; integers stay CEL `int`).
    pub fn eval(&self, vars: &BTreeMap<&str, Value>) -> Result<Value, EvalError> {
        let mut ctx = Context::with_env(env());
        for (name, v) in vars {
            if self.refs.identifiers.contains(*name) {
                ctx.add_variable_from_value(*name, json_to_cel(v));
            }
        }
        for id in &self.refs.identifiers {
            if !vars.contains_key(id.as_str()) {
                return Err(EvalError::Pending {
                    expression: self.source.to_string(),
                    message: format!("{id:?} is not available yet"),
                });
            }
        }
        let out = self.program.execute(&ctx).map_err(|e| {
            let message = e.to_string();
            let lower = message.to_lowercase();
            if lower.contains("no such key")
                || lower.contains("no such field")
                || lower.contains("no such attribute")
                || lower.contains("index out of bounds")
                || lower.contains("undeclared reference")
            {
                EvalError::Pending {
                    expression: self.source.to_string(),
                    message,
                }
            } else {
                EvalError::Failed {
                    expression: self.source.to_string(),
                    message,
                }
            }
        })?;
        cel_to_json(&out).map_err(|message| EvalError::Failed {
            expression: self.source.to_string(),
            message,
        })
    }
}

/// JSON to CEL, with integers as `int` (not `uint` as serde would give).
pub fn json_to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                cel::Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                cel::Value::UInt(u)
            } else {
                cel::Value::Float(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Value::Object(m) => {
            let map: std::collections::HashMap<cel::objects::Key, cel::Value> = m
                .iter()
                .map(|(k, v)| {
                    (
                        cel::objects::Key::String(Arc::new(k.clone())),
                        json_to_cel(v),
                    )
                })
                .collect();
            cel::Value::Map(cel::objects::Map { map: Arc::new(map) })
        }
    }
}

/// CEL to JSON the way kro renders results (sorted map keys; bytes rejected).
pub fn cel_to_json(v: &cel::Value) -> Result<Value, String> {
    Ok(match v {
        cel::Value::Null => Value::Null,
        cel::Value::Bool(b) => Value::Bool(*b),
        cel::Value::Int(i) => Value::from(*i),
        cel::Value::UInt(u) => {
            let i = i64::try_from(*u).map_err(|_| format!("uint {u} does not fit in int64"))?;
            Value::from(i)
        }
        cel::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| format!("{f} is not a finite number"))?,
        cel::Value::String(s) => Value::String(s.to_string()),
        cel::Value::Bytes(_) => {
            return Err("bytes value cannot be used directly in a resource template or status field; encode it explicitly, for example with base64.encode() or string()".into());
        }
        cel::Value::List(l) => Value::Array(l.iter().map(cel_to_json).collect::<Result<_, _>>()?),
        cel::Value::Map(m) => {
            let mut out = BTreeMap::new();
            for (k, v) in m.map.iter() {
                let key = match k {
                    cel::objects::Key::String(s) => s.to_string(),
                    cel::objects::Key::Int(i) => i.to_string(),
                    cel::objects::Key::Uint(u) => u.to_string(),
                    cel::objects::Key::Bool(b) => b.to_string(),
                };
                out.insert(key, cel_to_json(v)?);
            }
            Value::Object(out.into_iter().collect())
        }
        cel::Value::Timestamp(t) => Value::String(t.to_rfc3339()),
        other => return Err(format!("unsupported result value {other:?}")),
    })
}
