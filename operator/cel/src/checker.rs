//! The static type checker (cel 0.15 has none): types a macro-expanded expression against the
//! declared variables (the instance `schema`, resources by id, iterators, `each`, `runtime`)
//! and reports undeclared references, unknown fields (with the known fields nearby), and calls
//! no overload accepts, as cel-go's checker does for kro. It leans lenient where cel-go's exact
//! rules are unclear: `dyn` passes everywhere, so it never rejects what kro accepts for that
//! reason.

use std::collections::HashMap;
use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, SourceInfo, operators};

use crate::error::{CheckError, CheckErrorKind};
use crate::library::macros;
use crate::references::FUNCTION_NAMESPACES;
use crate::types::{CelType, FieldLookup, parse_type, split_top};

/// The variables an expression may read, with their types.
#[derive(Debug, Clone, Default)]
pub struct TypeEnv {
    vars: HashMap<String, CelType>,
}

impl TypeEnv {
    /// No variables.
    pub fn new() -> TypeEnv {
        TypeEnv::default()
    }

    /// Declares `name` with `ty` (replacing a previous declaration).
    pub fn declare(&mut self, name: impl Into<String>, ty: CelType) -> &mut TypeEnv {
        self.vars.insert(name.into(), ty);
        self
    }

    /// Builder form of [`TypeEnv::declare`].
    pub fn with(mut self, name: impl Into<String>, ty: CelType) -> TypeEnv {
        self.vars.insert(name.into(), ty);
        self
    }

    /// Declares the `runtime` variable of `status.conditions` expressions.
    pub fn declare_runtime(&mut self) -> &mut TypeEnv {
        self.declare("runtime", CelType::Opaque("kro.run.Runtime".to_owned()))
    }

    /// The declared type of `name`.
    pub fn get(&self, name: &str) -> Option<&CelType> {
        self.vars.get(name)
    }
}

#[derive(Debug, Clone)]
struct Overload {
    member: bool,
    params: Vec<CelType>,
    result: CelType,
}

/// The function signature table, parsed once.
#[derive(Debug, Clone)]
pub(crate) struct Signatures {
    funcs: Arc<HashMap<String, Vec<Overload>>>,
}

fn parse_signature(sig: &str) -> Option<(String, Overload)> {
    let (lhs, result) = sig.split_once("->")?;
    let lhs = lhs.trim();
    let (receiver, rest) = match lhs.strip_prefix('<') {
        Some(r) => {
            let (recv, after) = r.split_once(">.")?;
            (Some(parse_type(recv)), after)
        }
        None => (None, lhs),
    };
    let open = rest.find('(')?;
    let name = rest[..open].trim().to_owned();
    let args = rest[open + 1..].strip_suffix(')')?;
    let mut params: Vec<CelType> = split_top(args).iter().map(|a| parse_type(a)).collect();
    let member = receiver.is_some();
    if let Some(r) = receiver {
        params.insert(0, r);
    }
    Some((
        name,
        Overload {
            member,
            params,
            result: parse_type(result),
        },
    ))
}

impl Signatures {
    pub(crate) fn build() -> Signatures {
        let mut funcs: HashMap<String, Vec<Overload>> = HashMap::new();
        let own = crate::library::own_decls();
        let sigs = crate::library::BUILTIN_SIGNATURES
            .lines()
            .filter(|l| !l.trim().is_empty())
            .chain(own.iter().filter_map(|d| d.signature));
        let mut comparisons = Vec::new();
        for op in ["_<_", "_<=_", "_>_", "_>=_"] {
            for (a, b) in [
                ("bool", "bool"),
                ("int", "int"),
                ("uint", "uint"),
                ("double", "double"),
                ("string", "string"),
                ("bytes", "bytes"),
                ("timestamp", "timestamp"),
                ("duration", "duration"),
                ("int", "uint"),
                ("int", "double"),
                ("uint", "int"),
                ("uint", "double"),
                ("double", "int"),
                ("double", "uint"),
            ] {
                comparisons.push(format!("{op}({a}, {b}) -> bool"));
            }
        }
        for sig in sigs.chain(comparisons.iter().map(String::as_str)) {
            if let Some((name, o)) = parse_signature(sig) {
                funcs.entry(name).or_default().push(o);
            }
        }
        Signatures {
            funcs: Arc::new(funcs),
        }
    }

    /// Whether the checker knows a function of that (qualified) name.
    #[cfg(test)]
    pub(crate) fn knows(&self, name: &str) -> bool {
        self.funcs.contains_key(name)
    }
}

type Bindings = HashMap<String, CelType>;

fn unify(param: &CelType, arg: &CelType, b: &mut Bindings) -> bool {
    use CelType::*;
    match (param, arg) {
        (Param(p), a) => match b.get(p).cloned() {
            Some(bound) if bound.is_dyn() => {
                b.insert(p.clone(), a.clone());
                true
            }
            Some(bound) => {
                if a.is_dyn() || matches!(a, Null) {
                    true
                } else if matches!(bound, Null) {
                    b.insert(p.clone(), a.clone());
                    true
                } else {
                    let mut inner = Bindings::new();
                    unify(&bound, a, &mut inner) || unify(a, &bound, &mut inner)
                }
            }
            None => {
                b.insert(p.clone(), a.clone());
                true
            }
        },
        (Dyn, _) => true,
        (p, Dyn) => {
            bind_all(p, b);
            true
        }
        (Null, Null) => true,
        (List(_) | Map(_, _) | Object(_) | Opaque(_) | Timestamp | Duration, Null) => true,
        (List(p), List(a)) => unify(p, a, b),
        (Optional(p), Optional(a)) => unify(p, a, b),
        (Type(p), Type(a)) => unify(p, a, b),
        (Map(pk, pv), Map(ak, av)) => unify(pk, ak, b) && unify(pv, av, b),
        (Map(pk, pv), Object(_)) => unify(pk, &String, b) && unify(pv, &Dyn, b),
        (p, a) => p == a,
    }
}

fn bind_all(t: &CelType, b: &mut Bindings) {
    match t {
        CelType::Param(p) => {
            b.entry(p.clone()).or_insert(CelType::Dyn);
        }
        CelType::List(x) | CelType::Optional(x) | CelType::Type(x) => bind_all(x, b),
        CelType::Map(k, v) | CelType::Pair(k, v) => {
            bind_all(k, b);
            bind_all(v, b);
        }
        _ => {}
    }
}

fn substitute(t: &CelType, b: &Bindings) -> CelType {
    match t {
        CelType::Param(p) => b.get(p).cloned().unwrap_or(CelType::Dyn),
        CelType::List(x) => CelType::List(Box::new(substitute(x, b))),
        CelType::Optional(x) => CelType::Optional(Box::new(substitute(x, b))),
        CelType::Type(x) => CelType::Type(Box::new(substitute(x, b))),
        CelType::Map(k, v) => CelType::Map(Box::new(substitute(k, b)), Box::new(substitute(v, b))),
        other => other.clone(),
    }
}

/// The common type of two types: equal types, else the more specific where one is `dyn`,
/// `null` or an empty-literal `list(dyn)`/`map(dyn, dyn)`, else `dyn`.
fn join(a: &CelType, b: &CelType) -> CelType {
    use CelType::*;
    match (a, b) {
        (x, y) if x == y => x.clone(),
        (Dyn, y) | (y, Dyn) => y.clone(),
        (Null, y) | (y, Null) => y.clone(),
        (List(x), List(y)) => List(Box::new(join(x, y))),
        (Map(k1, v1), Map(k2, v2)) => Map(Box::new(join(k1, k2)), Box::new(join(v1, v2))),
        (Optional(x), Optional(y)) => Optional(Box::new(join(x, y))),
        _ => Dyn,
    }
}

/// Joins for the result of alternatives that cel-go would type `dyn` when they differ.
fn join_strict(a: &CelType, b: &CelType) -> CelType {
    if a == b { a.clone() } else { join(a, b) }
}

struct Checker<'a> {
    sigs: &'a Signatures,
    env: &'a TypeEnv,
    source: &'a SourceInfo,
    scope: Vec<(String, CelType)>,
    errors: Vec<CheckError>,
}

/// Checks `expr` and returns its type, or every error found.
pub(crate) fn check(
    expr: &IdedExpr,
    source: &SourceInfo,
    sigs: &Signatures,
    env: &TypeEnv,
) -> Result<CelType, Vec<CheckError>> {
    let mut c = Checker {
        sigs,
        env,
        source,
        scope: Vec::new(),
        errors: Vec::new(),
    };
    let t = c.check(expr);
    if c.errors.is_empty() {
        Ok(t)
    } else {
        Err(c.errors)
    }
}

fn literal_type(l: &LiteralValue) -> CelType {
    match l {
        LiteralValue::Boolean(_) => CelType::Bool,
        LiteralValue::Bytes(_) => CelType::Bytes,
        LiteralValue::Double(_) => CelType::Double,
        LiteralValue::Int(_) => CelType::Int,
        LiteralValue::Null => CelType::Null,
        LiteralValue::String(_) => CelType::String,
        LiteralValue::UInt(_) => CelType::Uint,
    }
}

fn type_ident(name: &str) -> Option<CelType> {
    Some(match name {
        "int" => CelType::Int,
        "uint" => CelType::Uint,
        "double" => CelType::Double,
        "bool" => CelType::Bool,
        "string" => CelType::String,
        "bytes" => CelType::Bytes,
        "list" => CelType::List(Box::new(CelType::Dyn)),
        "map" => CelType::Map(Box::new(CelType::Dyn), Box::new(CelType::Dyn)),
        "null_type" => CelType::Null,
        "type" => CelType::Type(Box::new(CelType::Dyn)),
        "dyn" => CelType::Dyn,
        "google.protobuf.Timestamp" => CelType::Timestamp,
        "google.protobuf.Duration" => CelType::Duration,
        _ => return None,
    })
    .map(|t| CelType::Type(Box::new(t)))
}

/// A printable path for the object a field is selected on.
fn path_text(e: &IdedExpr) -> String {
    match &e.expr {
        Expr::Ident(n) => n.clone(),
        Expr::Select(s) => format!("{}.{}", path_text(&s.operand), s.field),
        Expr::Call(c) if c.args.len() == 2 && c.target.is_none() => {
            let base = path_text(&c.args[0]);
            match &c.args[1].expr {
                Expr::Literal(LiteralValue::String(s)) if c.func_name == operators::OPT_SELECT => {
                    format!("{base}.?{}", s.inner())
                }
                Expr::Literal(LiteralValue::Int(i)) => format!("{base}[{}]", i.inner()),
                Expr::Literal(LiteralValue::String(s)) => format!("{base}[{:?}]", s.inner()),
                _ => format!("{base}[...]"),
            }
        }
        _ => "<expression>".to_owned(),
    }
}

impl Checker<'_> {
    fn error(&mut self, id: u64, kind: CheckErrorKind, message: String) {
        let position = self.source.offset_for(id).map(|(start, _)| {
            let start = start as usize;
            let text = &self.source.source;
            let mut line = 1;
            let mut line_start = 0;
            for (i, ch) in text.char_indices() {
                if i >= start {
                    break;
                }
                if ch == '\n' {
                    line += 1;
                    line_start = i + 1;
                }
            }
            (line, start.saturating_sub(line_start) + 1)
        });
        if self
            .errors
            .iter()
            .any(|e| e.message == message && e.position == position)
        {
            return;
        }
        self.errors.push(CheckError {
            position,
            kind,
            message,
        });
    }

    fn lookup(&self, name: &str) -> Option<CelType> {
        self.scope
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
            .or_else(|| self.env.get(name).cloned())
    }

    fn check(&mut self, e: &IdedExpr) -> CelType {
        match &e.expr {
            Expr::Literal(l) => literal_type(l),
            Expr::Ident(n) => match self.lookup(n) {
                Some(t) => t,
                None => match type_ident(n) {
                    Some(t) => t,
                    None => {
                        self.error(
                            e.id,
                            CheckErrorKind::UndeclaredReference { name: n.clone() },
                            format!("undeclared reference to '{n}' (in container '')"),
                        );
                        CelType::Dyn
                    }
                },
            },
            Expr::Select(s) => {
                let operand = self.check(&s.operand);
                let t = self.select(e.id, &s.operand, &operand, &s.field);
                if s.test { CelType::Bool } else { t }
            }
            Expr::Call(c) => self.call(e, c),
            Expr::List(l) => {
                let mut elem: Option<CelType> = None;
                for (i, x) in l.elements.iter().enumerate() {
                    let mut t = self.check(x);
                    if l.optional_indices.contains(&i) {
                        t = t.unwrap_optional().clone();
                    }
                    elem = Some(match elem {
                        Some(prev) => join_strict(&prev, &t),
                        None => t,
                    });
                }
                CelType::List(Box::new(elem.unwrap_or(CelType::Dyn)))
            }
            Expr::Map(m) => {
                let mut key: Option<CelType> = None;
                let mut val: Option<CelType> = None;
                for en in &m.entries {
                    if let EntryExpr::MapEntry(me) = &en.expr {
                        let k = self.check(&me.key);
                        let mut v = self.check(&me.value);
                        if me.optional {
                            v = v.unwrap_optional().clone();
                        }
                        if !matches!(
                            k,
                            CelType::String | CelType::Int | CelType::Uint | CelType::Bool
                        ) && !k.is_dyn()
                        {
                            self.error(
                                me.key.id,
                                CheckErrorKind::TypeMismatch {
                                    expected: "string, int, uint or bool".to_owned(),
                                    found: k.to_string(),
                                },
                                format!("unsupported map key type: {k}"),
                            );
                        }
                        key = Some(key.map_or(k.clone(), |p| join_strict(&p, &k)));
                        val = Some(val.map_or(v.clone(), |p| join_strict(&p, &v)));
                    }
                }
                CelType::Map(
                    Box::new(key.unwrap_or(CelType::Dyn)),
                    Box::new(val.unwrap_or(CelType::Dyn)),
                )
            }
            Expr::Comprehension(c) => self.comprehension(c),
            Expr::Struct(_) => {
                self.error(
                    e.id,
                    CheckErrorKind::Unsupported,
                    "message construction is not supported in kro expressions".to_owned(),
                );
                CelType::Dyn
            }
            Expr::Unspecified => CelType::Dyn,
        }
    }

    fn comprehension(&mut self, c: &cel::common::ast::ComprehensionExpr) -> CelType {
        let range = self.check(&c.iter_range);
        let (iter, iter2) = match range.unwrap_optional() {
            CelType::List(t) => ((**t).clone(), None),
            CelType::Map(k, v) => ((**k).clone(), Some((**v).clone())),
            CelType::Object(_) => (CelType::String, Some(CelType::Dyn)),
            t if t.is_dyn() => (CelType::Dyn, Some(CelType::Dyn)),
            other => {
                self.error(
                    c.iter_range.id,
                    CheckErrorKind::TypeMismatch {
                        expected: "list or map".to_owned(),
                        found: other.to_string(),
                    },
                    format!(
                        "expression of type '{other}' cannot be range of a comprehension (must be list, map, or dynamic)"
                    ),
                );
                (CelType::Dyn, None)
            }
        };
        let mut accu = self.check(&c.accu_init);
        let depth = self.scope.len();
        // First pass to learn the accumulator type (`[]` grows into `list(T)`), errors dropped.
        let saved = std::mem::take(&mut self.errors);
        self.push_iter(c, &iter, iter2.as_ref());
        self.scope.push((c.accu_var.clone(), accu.clone()));
        let step = self.check(&c.loop_step);
        self.scope.truncate(depth);
        self.errors = saved;
        accu = join(&accu, &step);
        self.push_iter(c, &iter, iter2.as_ref());
        self.scope.push((c.accu_var.clone(), accu.clone()));
        let cond = self.check(&c.loop_cond);
        if !cond.is_bool_like() {
            self.error(
                c.loop_cond.id,
                CheckErrorKind::TypeMismatch {
                    expected: "bool".to_owned(),
                    found: cond.to_string(),
                },
                format!("comprehension condition must be bool, got {cond}"),
            );
        }
        self.check(&c.loop_step);
        self.scope.truncate(depth);
        self.scope.push((c.accu_var.clone(), accu));
        let result = self.check(&c.result);
        self.scope.truncate(depth);
        result
    }

    fn push_iter(
        &mut self,
        c: &cel::common::ast::ComprehensionExpr,
        iter: &CelType,
        iter2: Option<&CelType>,
    ) {
        match &c.iter_var2 {
            Some(v2) => {
                self.scope.push((c.iter_var.clone(), iter.clone()));
                self.scope
                    .push((v2.clone(), iter2.cloned().unwrap_or(CelType::Dyn)));
            }
            None => self.scope.push((c.iter_var.clone(), iter.clone())),
        }
    }

    fn select(
        &mut self,
        id: u64,
        operand_expr: &IdedExpr,
        operand: &CelType,
        field: &str,
    ) -> CelType {
        if let CelType::Optional(inner) = operand {
            let t = self.select(id, operand_expr, inner, field);
            return CelType::Optional(Box::new(t.unwrap_optional().clone()));
        }
        match operand.field(field) {
            FieldLookup::Found(t) => t,
            FieldLookup::Missing { known } => {
                let path = path_text(operand_expr);
                let nearby: Vec<String> = known.iter().take(8).cloned().collect();
                self.error(
                    id,
                    CheckErrorKind::UndefinedField {
                        path: path.clone(),
                        field: field.to_owned(),
                        known: known.clone(),
                    },
                    format!(
                        "undefined field '{field}' on {path}; known fields: [{}]",
                        nearby.join(", ")
                    ),
                );
                CelType::Dyn
            }
            FieldLookup::NotSupported => {
                self.error(
                    id,
                    CheckErrorKind::TypeMismatch {
                        expected: "object or map".to_owned(),
                        found: operand.to_string(),
                    },
                    format!("type '{operand}' does not support field selection ('{field}')"),
                );
                CelType::Dyn
            }
        }
    }

    fn index(
        &mut self,
        e: &IdedExpr,
        operand_expr: &IdedExpr,
        operand: &CelType,
        index_expr: &IdedExpr,
        index: &CelType,
    ) -> CelType {
        match operand {
            CelType::Optional(inner) => {
                let t = self.index(e, operand_expr, inner, index_expr, index);
                CelType::Optional(Box::new(t.unwrap_optional().clone()))
            }
            CelType::List(t) => {
                if !(matches!(index, CelType::Int | CelType::Uint | CelType::Double)
                    || index.is_dyn())
                {
                    self.no_overload(e.id, operators::INDEX, &[operand.clone(), index.clone()]);
                }
                (**t).clone()
            }
            CelType::Pair(k, v) => match &index_expr.expr {
                Expr::Literal(LiteralValue::Int(i)) if *i.inner() == 0 => (**k).clone(),
                Expr::Literal(LiteralValue::Int(i)) if *i.inner() == 1 => (**v).clone(),
                _ => CelType::Dyn,
            },
            CelType::Object(_) | CelType::Map(_, _) => match &index_expr.expr {
                Expr::Literal(LiteralValue::String(s)) => {
                    self.select(e.id, operand_expr, operand, s.inner())
                }
                _ => match operand {
                    CelType::Map(_, v) => (**v).clone(),
                    _ => CelType::Dyn,
                },
            },
            t if t.is_dyn() || matches!(t, CelType::Null) => CelType::Dyn,
            _ => {
                self.no_overload(e.id, operators::INDEX, &[operand.clone(), index.clone()]);
                CelType::Dyn
            }
        }
    }

    fn no_overload(&mut self, id: u64, function: &str, args: &[CelType]) {
        let names: Vec<String> = args.iter().map(ToString::to_string).collect();
        self.error(
            id,
            CheckErrorKind::NoMatchingOverload {
                function: function.to_owned(),
                argument_types: names.clone(),
            },
            format!(
                "found no matching overload for '{function}' applied to '({})'",
                names.join(", ")
            ),
        );
    }

    fn call(&mut self, e: &IdedExpr, call: &cel::common::ast::CallExpr) -> CelType {
        if call.target.is_none()
            && let Some(result) = self.operator(e, call)
        {
            return result;
        }
        self.function_call(e, call)
    }

    /// The operators and internal macro helpers with their own typing rules; `None` for an
    /// ordinary function, which is checked against its declared overloads.
    fn operator(&mut self, e: &IdedExpr, call: &cel::common::ast::CallExpr) -> Option<CelType> {
        let name = call.func_name.as_str();
        let args = &call.args;
        let result = match name {
            operators::CONDITIONAL if args.len() == 3 => {
                let condition = self.check(&args[0]);
                if !condition.is_bool_like() {
                    self.no_overload(e.id, name, std::slice::from_ref(&condition));
                }
                let then_type = self.check(&args[1]);
                let else_type = self.check(&args[2]);
                join_strict(&then_type, &else_type)
            }
            operators::LOGICAL_AND | operators::LOGICAL_OR => {
                let types: Vec<CelType> = args.iter().map(|arg| self.check(arg)).collect();
                if types.iter().any(|t| !t.is_bool_like()) {
                    self.no_overload(e.id, name, &types);
                }
                CelType::Bool
            }
            operators::NOT_STRICTLY_FALSE => {
                args.iter().for_each(|arg| {
                    self.check(arg);
                });
                CelType::Bool
            }
            operators::EQUALS | operators::NOT_EQUALS if args.len() == 2 => {
                let left = self.check(&args[0]);
                let right = self.check(&args[1]);
                if !comparable(&left, &right) {
                    self.no_overload(e.id, name, &[left, right]);
                }
                CelType::Bool
            }
            operators::INDEX | operators::OPT_INDEX if args.len() == 2 => {
                let operand = self.check(&args[0]);
                let index = self.check(&args[1]);
                let element = self.index(e, &args[0], &operand, &args[1], &index);
                if name == operators::OPT_INDEX {
                    CelType::Optional(Box::new(element.unwrap_optional().clone()))
                } else {
                    element
                }
            }
            operators::OPT_SELECT if args.len() == 2 => {
                let operand = self.check(&args[0]);
                let Expr::Literal(LiteralValue::String(field)) = &args[1].expr else {
                    return Some(CelType::Optional(Box::new(CelType::Dyn)));
                };
                let selected =
                    self.select(e.id, &args[0], operand.unwrap_optional(), field.inner());
                CelType::Optional(Box::new(selected.unwrap_optional().clone()))
            }
            operators::IN if args.len() == 2 => {
                let element = self.check(&args[0]);
                let container = self.check(&args[1]);
                let ok = match container.unwrap_optional() {
                    CelType::List(item) => comparable(&element, item),
                    CelType::Map(key, _) => comparable(&element, key),
                    CelType::Object(_) => true,
                    other => other.is_dyn(),
                };
                if !ok {
                    self.no_overload(e.id, name, &[element, container]);
                }
                CelType::Bool
            }
            macros::ENTRIES => {
                let range = args.first().map_or(CelType::Dyn, |arg| self.check(arg));
                CelType::List(Box::new(self.entry_pair(e.id, &range)))
            }
            macros::MAP_INSERT => {
                let types: Vec<CelType> = args.iter().map(|arg| self.check(arg)).collect();
                let accumulator = types.first().cloned().unwrap_or(CelType::Dyn);
                let added = match types.as_slice() {
                    [_, key, value] => CelType::Map(Box::new(key.clone()), Box::new(value.clone())),
                    [_, map] => map.clone(),
                    _ => CelType::Dyn,
                };
                join(&accumulator, &added)
            }
            _ => return None,
        };
        Some(result)
    }

    /// The `(key, value)` pair a two-variable comprehension sees for each entry of `range`.
    fn entry_pair(&mut self, id: u64, range: &CelType) -> CelType {
        let dyn_pair = || CelType::Pair(Box::new(CelType::Dyn), Box::new(CelType::Dyn));
        match range.unwrap_optional() {
            CelType::List(item) => CelType::Pair(Box::new(CelType::Int), item.clone()),
            CelType::Map(key, value) => CelType::Pair(key.clone(), value.clone()),
            CelType::Object(_) => CelType::Pair(Box::new(CelType::String), Box::new(CelType::Dyn)),
            other if other.is_dyn() => dyn_pair(),
            other => {
                let other = other.clone();
                self.error(
                    id,
                    CheckErrorKind::TypeMismatch {
                        expected: "list or map".to_owned(),
                        found: other.to_string(),
                    },
                    format!(
                        "expression of type '{other}' cannot be range of a comprehension (must be list, map, or dynamic)"
                    ),
                );
                dyn_pair()
            }
        }
    }

    /// A function call checked against the declared overloads of the function.
    fn function_call(&mut self, e: &IdedExpr, call: &cel::common::ast::CallExpr) -> CelType {
        let name = call.func_name.as_str();
        // Namespaced global functions: `optional.of(x)`, `lists.range(n)`, ...
        let mut member_target = call.target.as_deref();
        let mut qualified = name.to_owned();
        if let Some(target) = member_target
            && let Expr::Ident(namespace) = &target.expr
            && self.lookup(namespace).is_none()
            && (FUNCTION_NAMESPACES.contains(&namespace.as_str())
                || self.sigs.funcs.contains_key(&format!("{namespace}.{name}")))
        {
            qualified = format!("{namespace}.{name}");
            member_target = None;
        }
        let mut arg_types: Vec<CelType> = Vec::new();
        if let Some(target) = member_target {
            arg_types.push(self.check(target));
        }
        for arg in &call.args {
            arg_types.push(self.check(arg));
        }
        let member = member_target.is_some();
        let Some(overloads) = self.sigs.funcs.get(&qualified) else {
            self.error(
                e.id,
                CheckErrorKind::UndeclaredReference {
                    name: qualified.clone(),
                },
                format!("undeclared reference to '{qualified}' (in container '')"),
            );
            return CelType::Dyn;
        };
        let mut results: Vec<CelType> = Vec::new();
        for overload in overloads
            .iter()
            .filter(|o| o.member == member && o.params.len() == arg_types.len())
        {
            let mut bindings = Bindings::new();
            if overload
                .params
                .iter()
                .zip(&arg_types)
                .all(|(param, arg)| unify(param, arg, &mut bindings))
            {
                results.push(substitute(&overload.result, &bindings));
            }
        }
        match results.as_slice() {
            [] => {
                self.no_matching_overload(e.id, &qualified, member, &arg_types);
                CelType::Dyn
            }
            [one] => one.clone(),
            [first, rest @ ..] => {
                if rest.iter().all(|other| other == first) {
                    first.clone()
                } else if arg_types.iter().any(CelType::is_dyn) {
                    CelType::Dyn
                } else {
                    first.clone()
                }
            }
        }
    }

    /// Reports that no overload of `qualified` accepts `arg_types` (the receiver first when
    /// `member`), in cel-go's wording.
    fn no_matching_overload(
        &mut self,
        id: u64,
        qualified: &str,
        member: bool,
        arg_types: &[CelType],
    ) {
        let joined = |types: &[CelType]| {
            types
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let display = if member {
            let receiver = arg_types
                .first()
                .map(ToString::to_string)
                .unwrap_or_default();
            format!("{receiver}.({})", joined(&arg_types[1..]))
        } else {
            format!("({})", joined(arg_types))
        };
        let qualified = if qualified == macros::MATCHES {
            "matches"
        } else {
            qualified
        };
        self.error(
            id,
            CheckErrorKind::NoMatchingOverload {
                function: qualified.to_owned(),
                argument_types: arg_types.iter().map(ToString::to_string).collect(),
            },
            format!("found no matching overload for '{qualified}' applied to '{display}'"),
        );
    }
}

fn numeric(t: &CelType) -> bool {
    matches!(t, CelType::Int | CelType::Uint | CelType::Double)
}

/// Whether `==` may compare the two types: lenient for `dyn`, `null`, numbers and
/// containers; an error only for clearly different scalar kinds (`1 == 'a'`).
fn comparable(a: &CelType, b: &CelType) -> bool {
    let (a, b) = (a.unwrap_optional(), b.unwrap_optional());
    if a.is_dyn() || b.is_dyn() || matches!(a, CelType::Null) || matches!(b, CelType::Null) {
        return true;
    }
    if numeric(a) && numeric(b) {
        return true;
    }
    let scalar = |t: &CelType| {
        matches!(
            t,
            CelType::Bool
                | CelType::Int
                | CelType::Uint
                | CelType::Double
                | CelType::String
                | CelType::Bytes
                | CelType::Timestamp
                | CelType::Duration
        )
    };
    if scalar(a) || scalar(b) {
        return a == b;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::library;

    #[test]
    fn every_signature_parses_and_every_own_function_is_known_to_the_checker() {
        let sigs = Signatures::build();
        for line in library::BUILTIN_SIGNATURES
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            assert!(line.contains("->"), "{line}");
        }
        for decl in library::own_decls() {
            if decl.name.starts_with('@') {
                continue;
            }
            assert!(
                sigs.knows(decl.name),
                "{} has no checker signature",
                decl.name
            );
        }
    }
}
