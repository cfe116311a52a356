//! Typed errors of compiling, checking and evaluating kro CEL expressions.

use std::fmt;

/// Everything that can go wrong with one expression. Each variant carries the expression text so
/// the message a user sees names the expression as written in the RGD.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CelError {
    /// The expression does not parse (or a macro rejected it).
    #[error("failed to compile expression {expression:?}: {message}")]
    Parse {
        /// The expression as written.
        expression: String,
        /// What the parser said, with line and column.
        message: String,
    },
    /// The static checker rejected the expression.
    #[error("expression {expression:?} failed type checking: {errors}")]
    Check {
        /// The expression as written.
        expression: String,
        /// Every problem the checker found.
        errors: CheckErrors,
    },
    /// A field or map key the expression reads is absent from the data. kro treats this as
    /// "data not yet available" and retries later (see [`CelError::is_data_pending`]).
    #[error(
        "expression {expression:?}: no such key: {key} (the data is not available yet; use `has()` or `?.` with `orValue()` if it is optional)"
    )]
    NoSuchKey {
        /// The expression as written.
        expression: String,
        /// The missing key.
        key: String,
    },
    /// A list index is past the end of the list; also "data not yet available".
    #[error("expression {expression:?}: index out of bounds: {index}")]
    IndexOutOfBounds {
        /// The expression as written.
        expression: String,
        /// The index, as CEL printed it.
        index: String,
    },
    /// A variable the expression reads is not bound in the activation (for example a resource
    /// that has not been observed yet); also "data not yet available".
    #[error("expression {expression:?}: {name:?} is not available yet")]
    UnboundVariable {
        /// The expression as written.
        expression: String,
        /// The identifier that has no value.
        name: String,
    },
    /// The evaluation used more than its cost budget.
    #[error(
        "expression {expression:?} exceeded its cost limit of {limit} (loops over large lists or strings that grow in a loop; simplify the expression)"
    )]
    CostLimitExceeded {
        /// The expression as written.
        expression: String,
        /// The budget that was exceeded.
        limit: u64,
    },
    /// The evaluation was stopped because the deadline set over it (a [`crate::cost::Deadline`])
    /// passed.
    #[error("expression {expression:?} was stopped: the evaluation deadline has passed")]
    DeadlineExceeded {
        /// The expression as written.
        expression: String,
    },
    /// Any other runtime error (no matching overload, division by zero, overflow, ...).
    #[error("failed to evaluate expression {expression:?}: {message}")]
    Evaluation {
        /// The expression as written.
        expression: String,
        /// What went wrong.
        message: String,
    },
    /// The result cannot be used where it is needed (bytes in a template, a non-bool
    /// condition, a non-list `forEach`, ...).
    #[error("expression {expression:?}: {message}")]
    Conversion {
        /// The expression as written.
        expression: String,
        /// What is wrong with the result and what to write instead.
        message: String,
    },
}

impl CelError {
    /// Whether kro treats this runtime error as "data not yet available" (retry later) rather
    /// than a hard error: missing keys, out-of-range indexes and unbound variables.
    pub fn is_data_pending(&self) -> bool {
        matches!(
            self,
            CelError::NoSuchKey { .. }
                | CelError::IndexOutOfBounds { .. }
                | CelError::UnboundVariable { .. }
        )
    }

    /// The expression the error is about.
    pub fn expression(&self) -> &str {
        match self {
            CelError::Parse { expression, .. }
            | CelError::Check { expression, .. }
            | CelError::NoSuchKey { expression, .. }
            | CelError::IndexOutOfBounds { expression, .. }
            | CelError::UnboundVariable { expression, .. }
            | CelError::CostLimitExceeded { expression, .. }
            | CelError::DeadlineExceeded { expression }
            | CelError::Evaluation { expression, .. }
            | CelError::Conversion { expression, .. } => expression,
        }
    }
}

/// One problem found by the static checker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    /// 1-based line and column of the offending sub-expression, when known.
    pub position: Option<(usize, usize)>,
    /// What kind of problem.
    pub kind: CheckErrorKind,
    /// The full message, in cel-go's wording where there is one.
    pub message: String,
}

/// The kinds of problems the checker reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckErrorKind {
    /// An identifier or function that is not declared.
    UndeclaredReference {
        /// The identifier or function name.
        name: String,
    },
    /// A field that the schema does not have.
    UndefinedField {
        /// The path of the object the field was selected on, e.g. `schema.spec`.
        path: String,
        /// The missing field.
        field: String,
        /// The fields the schema does have at that path (sorted, closest first).
        known: Vec<String>,
    },
    /// No overload of a function or operator accepts the argument types.
    NoMatchingOverload {
        /// The function or operator.
        function: String,
        /// The argument types as CEL names.
        argument_types: Vec<String>,
    },
    /// A value of one type is used where another is required.
    TypeMismatch {
        /// The type the context requires.
        expected: String,
        /// The type the expression has.
        found: String,
    },
    /// A construct the checker does not support.
    Unsupported,
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "ERROR: <input>:{line}:{col}: {}", self.message),
            None => write!(f, "ERROR: {}", self.message),
        }
    }
}

/// All problems found in one expression.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckErrors(pub Vec<CheckError>);

impl fmt::Display for CheckErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
