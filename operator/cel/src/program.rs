//! The compile/evaluate API: [`Environment`] (built once, shared), [`Program`] (compiled once
//! per expression) and [`Activation`] (the names one evaluation reads).

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::common::value::CowVal;
use cel::context::VariableResolver;
use cel::{Context, ExecutionError};
use serde_json::Value as Json;

use crate::checker::{self, Signatures, TypeEnv};
use crate::cost::{self, DEFAULT_COST_LIMIT, Metered};
use crate::error::{CelError, CheckErrors};
use crate::references::{self, References};
use crate::types::CelType;
use crate::value::{CelValue, Rendered, to_static, val_to_json};
use cel::common::types::{CelBool, CelList, CelOptional};

struct EnvInner {
    env: Arc<cel::Env>,
    signatures: Signatures,
    cost_limit: u64,
}

/// kro's CEL environment: the standard library and macros, optionals, the strings, lists and
/// encoders extensions, two-variable comprehensions, `cel.bind`, the Kubernetes libraries and
/// kro's own functions. Cheap to clone (an `Arc`); build it once.
#[derive(Clone)]
pub struct Environment {
    inner: Arc<EnvInner>,
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Environment")
            .field("cost_limit", &self.inner.cost_limit)
            .finish_non_exhaustive()
    }
}

static SHARED: LazyLock<Environment> = LazyLock::new(Environment::build);

impl Default for Environment {
    fn default() -> Self {
        Environment::new()
    }
}

impl Environment {
    /// The process-wide environment (built on first use, then shared).
    pub fn new() -> Environment {
        SHARED.clone()
    }

    fn build() -> Environment {
        // Every declaration is static and tested; a failure here is a programming error that
        // the crate's tests catch, so fall back to the bare standard library rather than panic.
        let env = crate::library::build_env().unwrap_or_else(|_| cel::Env::stdlib());
        Environment {
            inner: Arc::new(EnvInner {
                env: Arc::new(env),
                signatures: Signatures::build(),
                cost_limit: DEFAULT_COST_LIMIT,
            }),
        }
    }

    /// The same environment with another per-evaluation cost budget (see [`crate::cost`]).
    pub fn with_cost_limit(&self, limit: u64) -> Environment {
        Environment {
            inner: Arc::new(EnvInner {
                env: self.inner.env.clone(),
                signatures: self.inner.signatures.clone(),
                cost_limit: limit,
            }),
        }
    }

    /// The per-evaluation cost budget.
    pub fn cost_limit(&self) -> u64 {
        self.inner.cost_limit
    }

    /// Parses `expr` (expanding macros) into a program.
    ///
    /// # Errors
    /// [`CelError::Parse`] with the parser's messages (line:column).
    pub fn compile(&self, expr: &str) -> Result<Program, CelError> {
        let estimate = match within_limits(expr) {
            Ok(estimate) => estimate,
            Err(message) => {
                return Err(CelError::Parse {
                    expression: expr.to_owned(),
                    message,
                });
            }
        };
        with_stack(estimate, || self.compile_unguarded(expr))
    }

    fn compile_unguarded(&self, expr: &str) -> Result<Program, CelError> {
        let parsed = catch_unwind(AssertUnwindSafe(|| self.inner.env.compile(expr)))
            .map_err(|_| CelError::Parse {
                expression: expr.to_owned(),
                message: "the parser failed on this input".to_owned(),
            })?
            .map_err(|e| CelError::Parse {
                expression: expr.to_owned(),
                message: e.to_string().trim().to_owned(),
            })?;
        let references = references::collect(parsed.expression());
        let mut exec = parsed.expression().clone();
        cost::instrument(&mut exec);
        let depth = ast_depth(&exec);
        Ok(Program {
            inner: Arc::new(ProgramInner {
                depth,
                source: expr.to_owned(),
                parsed,
                exec,
                references,
                env: self.clone(),
            }),
        })
    }

    /// Compiles and type-checks `expr` against `types` in one go.
    ///
    /// # Errors
    /// [`CelError::Parse`] or [`CelError::Check`].
    pub fn compile_checked(
        &self,
        expr: &str,
        types: &TypeEnv,
    ) -> Result<(Program, CelType), CelError> {
        let program = self.compile(expr)?;
        let ty = program.check(types)?;
        Ok((program, ty))
    }
}

/// Longest expression accepted, in bytes.
pub const MAX_EXPRESSION_LENGTH: usize = 32 * 1024;
/// Deepest nesting of `(`, `[` and `{` accepted.
pub const MAX_NESTING: usize = 32;
/// Most operators (`.`, `+`, `!`, `&&`, `?`, ...) accepted in one expression: each adds a level
/// to the syntax tree, and the parser and interpreter recurse over it.
pub const MAX_OPERATORS: usize = 512;

/// Size guards checked before parsing, so no input can exhaust the stack of the parser, the
/// checker or the interpreter (all recursive).
fn within_limits(expr: &str) -> Result<usize, String> {
    if expr.len() > MAX_EXPRESSION_LENGTH {
        return Err(format!(
            "expression is {} bytes long; the limit is {MAX_EXPRESSION_LENGTH}",
            expr.len()
        ));
    }
    let mut depth = 0usize;
    let mut max_depth = 0usize;
    let mut operators = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in expr.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                max_depth = max_depth.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '.' | '+' | '-' | '*' | '/' | '%' | '!' | '<' | '>' | '=' | '&' | '|' | '?' | ':' => {
                operators += 1;
            }
            _ => {}
        }
    }
    if max_depth > MAX_NESTING {
        return Err(format!(
            "expression nests brackets {max_depth} deep; the limit is {MAX_NESTING}"
        ));
    }
    if operators > MAX_OPERATORS {
        return Err(format!(
            "expression has {operators} operators; the limit is {MAX_OPERATORS}, split it up"
        ));
    }
    // The parser descends about a dozen grammar rules per bracket.
    Ok(max_depth * 16 + operators)
}

/// The depth of a syntax tree, computed without recursion.
fn ast_depth(root: &IdedExpr) -> usize {
    let mut max = 0;
    let mut stack: Vec<(&IdedExpr, usize)> = vec![(root, 1)];
    while let Some((e, d)) = stack.pop() {
        max = max.max(d);
        match &e.expr {
            Expr::Call(c) => {
                if let Some(t) = c.target.as_deref() {
                    stack.push((t, d + 1));
                }
                stack.extend(c.args.iter().map(|a| (a, d + 1)));
            }
            Expr::Select(s) => stack.push((&s.operand, d + 1)),
            Expr::List(l) => stack.extend(l.elements.iter().map(|a| (a, d + 1))),
            Expr::Map(m) => {
                for en in &m.entries {
                    if let EntryExpr::MapEntry(me) = &en.expr {
                        stack.push((&me.key, d + 1));
                        stack.push((&me.value, d + 1));
                    }
                }
            }
            Expr::Struct(s) => {
                for en in &s.entries {
                    if let EntryExpr::StructField(f) = &en.expr {
                        stack.push((&f.value, d + 1));
                    }
                }
            }
            Expr::Comprehension(c) => {
                for x in [
                    &c.iter_range,
                    &c.accu_init,
                    &c.loop_cond,
                    &c.loop_step,
                    &c.result,
                ] {
                    stack.push((x, d + 1));
                }
            }
            Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => {}
        }
    }
    max
}

/// Runs `f` with enough stack for a syntax tree `depth` levels deep: the parser, the checker
/// and cel's interpreter all recurse, so a deep expression gets a fresh, larger stack (the
/// common, shallow case costs one comparison).
fn with_stack<R>(depth: usize, f: impl FnOnce() -> R) -> R {
    let per_level = if cfg!(debug_assertions) {
        64 * 1024
    } else {
        16 * 1024
    };
    let needed = 256 * 1024 + depth.saturating_mul(per_level);
    stacker::maybe_grow(needed, needed.saturating_mul(2), f)
}

struct ProgramInner {
    depth: usize,
    source: String,
    parsed: cel::Program,
    exec: IdedExpr,
    references: References,
    env: Environment,
}

/// A compiled expression: `Send + Sync`, cheap to clone, evaluated many times.
#[derive(Clone)]
pub struct Program {
    inner: Arc<ProgramInner>,
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

impl Program {
    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// What the expression reads (root identifiers, field paths, functions).
    pub fn references(&self) -> &References {
        &self.inner.references
    }

    /// Type-checks the expression against the declared variables and returns its type.
    ///
    /// # Errors
    /// [`CelError::Check`] listing every problem found.
    pub fn check(&self, types: &TypeEnv) -> Result<CelType, CelError> {
        with_stack(self.inner.depth, || self.check_unguarded(types))
    }

    fn check_unguarded(&self, types: &TypeEnv) -> Result<CelType, CelError> {
        checker::check(
            self.inner.parsed.expression(),
            self.inner.parsed.source_info(),
            &self.inner.env.inner.signatures,
            types,
        )
        .map_err(|errors| CelError::Check {
            expression: self.inner.source.clone(),
            errors: CheckErrors(errors),
        })
    }

    /// Evaluates with the environment's cost budget.
    ///
    /// # Errors
    /// Runtime errors, classified: see [`CelError`] and [`CelError::is_data_pending`].
    pub fn eval(&self, activation: &Activation) -> Result<CelValue, CelError> {
        self.eval_with_limit(activation, self.inner.env.inner.cost_limit)
    }

    /// Evaluates with an explicit cost budget.
    ///
    /// # Errors
    /// As [`Program::eval`]; [`CelError::CostLimitExceeded`] past `limit`.
    pub fn eval_with_limit(
        &self,
        activation: &Activation,
        limit: u64,
    ) -> Result<CelValue, CelError> {
        self.run(activation, limit, |v| {
            to_static(v)
                .map(CelValue::from_boxed)
                .map_err(|message| CelError::Conversion {
                    expression: self.inner.source.clone(),
                    message,
                })
        })
    }

    /// Evaluates, then hands the borrowed result to `f` (no copy of the result is made).
    fn run<T>(
        &self,
        activation: &Activation,
        limit: u64,
        f: impl FnOnce(&dyn cel::common::value::Val) -> Result<T, CelError>,
    ) -> Result<T, CelError> {
        with_stack(self.inner.depth, || {
            self.run_unguarded(activation, limit, f)
        })
    }

    fn run_unguarded<T>(
        &self,
        activation: &Activation,
        limit: u64,
        f: impl FnOnce(&dyn cel::common::value::Val) -> Result<T, CelError>,
    ) -> Result<T, CelError> {
        let mut ctx = Context::with_env(self.inner.env.inner.env.clone());
        ctx.set_variable_resolver(activation);
        let metered = Metered::start(limit);
        let result = catch_unwind(AssertUnwindSafe(|| {
            match cel::Value::resolve_val(&self.inner.exec, &ctx) {
                Ok(v) => Ok(f(v.as_ref())),
                Err(e) => Err(e),
            }
        }));
        let (_, exceeded) = metered.finish();
        if cost::deadline_passed() {
            return Err(CelError::DeadlineExceeded {
                expression: self.inner.source.clone(),
            });
        }
        if exceeded {
            return Err(CelError::CostLimitExceeded {
                expression: self.inner.source.clone(),
                limit,
            });
        }
        match result {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => Err(self.classify(e)),
            Err(_) => Err(CelError::Evaluation {
                expression: self.inner.source.clone(),
                message: "internal error in the CEL interpreter".to_owned(),
            }),
        }
    }

    /// Evaluates and renders the result as kro writes it into an object.
    ///
    /// # Errors
    /// As [`Program::eval`], plus [`CelError::Conversion`] for results that cannot be written
    /// (bytes, huge uints, ...).
    pub fn eval_json(&self, activation: &Activation) -> Result<Rendered, CelError> {
        self.run(
            activation,
            self.inner.env.inner.cost_limit,
            |v| match val_to_json(v) {
                Ok(Some(j)) => Ok(Rendered::Value(j)),
                Ok(None) => Ok(Rendered::Omit),
                Err(message) => Err(CelError::Conversion {
                    expression: self.inner.source.clone(),
                    message,
                }),
            },
        )
    }

    /// Evaluates a condition (`includeWhen`, `readyWhen`): `bool`, or `optional(bool)` where
    /// `optional.none()` is `false`.
    ///
    /// # Errors
    /// As [`Program::eval`], plus [`CelError::Conversion`] when the result is not a bool.
    pub fn eval_bool(&self, activation: &Activation) -> Result<bool, CelError> {
        self.run(activation, self.inner.env.inner.cost_limit, |v| {
            let v = match v.downcast_ref::<CelOptional>() {
                Some(o) => match o.option() {
                    Some(inner) => inner,
                    None => return Ok(false),
                },
                None => v,
            };
            v.downcast_ref::<CelBool>()
                .map(|b| *b.inner())
                .ok_or_else(|| CelError::Conversion {
                    expression: self.inner.source.clone(),
                    message: format!("must return a bool, got {}", v.get_type().name()),
                })
        })
    }

    /// Evaluates a `forEach` expression: the list's elements, ready to bind as the iterator.
    ///
    /// # Errors
    /// As [`Program::eval`], plus [`CelError::Conversion`] when the result is not a list.
    pub fn eval_list(&self, activation: &Activation) -> Result<Vec<CelValue>, CelError> {
        self.run(activation, self.inner.env.inner.cost_limit, |v| {
            let conv = |message: String| CelError::Conversion {
                expression: self.inner.source.clone(),
                message,
            };
            let list = v
                .downcast_ref::<CelList>()
                .ok_or_else(|| conv(format!("must return a list, got {}", v.get_type().name())))?;
            list.inner()
                .iter()
                .map(|i| {
                    to_static(i.as_ref())
                        .map(CelValue::from_boxed)
                        .map_err(conv)
                })
                .collect()
        })
    }

    fn classify(&self, e: ExecutionError) -> CelError {
        let expression = self.inner.source.clone();
        match e {
            ExecutionError::NoSuchKey(key) => CelError::NoSuchKey {
                expression,
                key: key.to_string(),
            },
            ExecutionError::IndexOutOfBounds(index) => CelError::IndexOutOfBounds {
                expression,
                index: crate::describe::describe_value(&index),
            },
            ExecutionError::UndeclaredReference(name)
                if self.inner.references.identifiers.contains(name.as_str()) =>
            {
                CelError::UnboundVariable {
                    expression,
                    name: name.to_string(),
                }
            }
            other => CelError::Evaluation {
                expression,
                message: crate::describe::describe_error(&other),
            },
        }
    }
}

/// The names one evaluation reads: `schema`, resource ids, `forEach` iterators, `each`,
/// `runtime`, each bound to an already converted [`CelValue`]. Cloning is cheap.
#[derive(Clone, Default, Debug)]
pub struct Activation {
    vars: HashMap<String, CelValue>,
}

impl Activation {
    /// An empty activation.
    pub fn new() -> Activation {
        Activation::default()
    }

    /// Binds `name`, a plain identifier (replacing any previous value).
    pub fn bind(&mut self, name: impl Into<String>, value: CelValue) -> &mut Activation {
        self.vars.insert(name.into(), value);
        self
    }

    /// Builder form of [`Activation::bind`].
    pub fn with(mut self, name: impl Into<String>, value: CelValue) -> Activation {
        self.vars.insert(name.into(), value);
        self
    }

    /// Binds the `runtime` variable of `status.conditions` expressions, carrying the
    /// instance's current conditions.
    pub fn bind_runtime(&mut self, instance_conditions: Vec<Json>) -> &mut Activation {
        self.vars.insert(
            "runtime".to_owned(),
            CelValue(crate::opaque::runtime_value(instance_conditions)),
        );
        self
    }

    /// The value bound to `name`.
    pub fn get(&self, name: &str) -> Option<&CelValue> {
        self.vars.get(name)
    }

    /// Removes a binding.
    pub fn unbind(&mut self, name: &str) -> Option<CelValue> {
        self.vars.remove(name)
    }
}

impl VariableResolver for Activation {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        // The interpreter also asks for `a.b.c` and `a.b` before `a`; bound names are plain
        // identifiers, so skip those lookups.
        if variable.contains('.') {
            return None;
        }
        self.vars
            .get(variable)
            .map(|v| CowVal::Borrowed(v.0.as_ref()))
    }
}
