//! Errors and warnings found while compiling an RGD, each naming the resource and field.

use std::fmt;

use thiserror::Error;

/// Which rule an error breaks (stable, for callers and tests; the message is for humans).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The RGD document itself is not shaped as a ResourceGraphDefinition.
    InvalidDocument,
    /// `spec.schema.kind` / `apiVersion` / `group` / `scope` is wrong.
    InvalidSchema,
    /// SimpleSchema could not be turned into OpenAPI.
    SimpleSchema,
    /// A resource id breaks the naming rules or repeats.
    InvalidId,
    /// template / externalRef / forEach used together or neither given.
    InvalidCombination,
    /// A template lacks apiVersion, kind or metadata, or has the wrong types.
    InvalidTemplate,
    /// `${…}` cannot be scanned, or a field needs a standalone `${…}`.
    InvalidExpression,
    /// A CEL expression does not parse.
    CelSyntax,
    /// An expression names something that is not in scope.
    UnknownIdentifier,
    /// A resource refers to itself.
    SelfReference,
    /// The graph has a cycle.
    Cycle,
    /// forEach rules (dimensions, iterator names, identity).
    InvalidForEach,
    /// A type check failed.
    TypeMismatch,
    /// Metadata kro reserves, or scope rules on metadata.namespace.
    InvalidMetadata,
    /// `spec.schema.status` is not valid.
    InvalidStatus,
    /// A function is used where it is not allowed (omit, runtime) or is unknown.
    InvalidFunction,
    /// A resource reaches outside the instance's namespace under `--namespace-confinement=instance`.
    Confinement,
}

/// One problem in an RGD.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct GraphError {
    /// Which rule.
    pub code: ErrorCode,
    /// The resource id, when the problem is inside `spec.resources`.
    pub resource: Option<String>,
    /// The field inside the resource (or RGD) the problem is at.
    pub path: Option<String>,
    /// kro's message.
    pub message: String,
    /// What to write instead, when there is a clear fix.
    pub hint: Option<String>,
}

impl GraphError {
    /// An error with a message and nothing else.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            resource: None,
            path: None,
            message: message.into(),
            hint: None,
        }
    }

    /// Names the resource the error is about.
    pub fn resource(mut self, id: impl Into<String>) -> Self {
        self.resource = Some(id.into());
        self
    }

    /// Names the field the error is at.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Adds what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

/// A non-fatal finding (for example a kind whose schema is not known offline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The resource id, if any.
    pub resource: Option<String>,
    /// The message.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every error and warning found in one RGD.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct CompileErrors {
    /// The errors, in the order they were found (resources in spec order).
    pub errors: Vec<GraphError>,
    /// Warnings found along the way.
    pub warnings: Vec<Warning>,
}

impl fmt::Display for CompileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
