//! A compiled CEL expression as the graph stores it: the kro-cel program (source text and
//! references included) and, once type-checked, its output type.

use std::fmt;

use kro_cel::{CelError, CelType, Environment, Program, References};

/// A CEL expression, parsed once at compile time, evaluated many times. Cheap to clone.
#[derive(Clone)]
pub struct CompiledExpr {
    program: Program,
    output_type: Option<CelType>,
}

impl fmt::Debug for CompiledExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledExpr")
            .field("source", &self.program.source())
            .field("type", &self.output_type.as_ref().map(ToString::to_string))
            .finish()
    }
}

impl CompiledExpr {
    /// Parses `source` in kro's CEL environment.
    pub fn compile(source: &str) -> Result<Self, CelError> {
        Self::compile_in(&Environment::new(), source)
    }

    /// Parses `source` in `env` (kro's environment with the cost budget of the run).
    pub fn compile_in(env: &Environment, source: &str) -> Result<Self, CelError> {
        Ok(Self {
            program: env.compile(source)?,
            output_type: None,
        })
    }

    /// The expression as written (without `${` `}`).
    pub fn source(&self) -> &str {
        self.program.source()
    }

    /// Identifiers, field paths and functions it uses.
    pub fn references(&self) -> &References {
        self.program.references()
    }

    /// The program, for evaluation.
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The type the checker inferred (None when not checked).
    pub fn output_type(&self) -> Option<&CelType> {
        self.output_type.as_ref()
    }

    pub(crate) fn set_output_type(&mut self, t: CelType) {
        self.output_type = Some(t);
    }

    /// Whether the expression calls `omit()`.
    pub fn uses_omit(&self) -> bool {
        self.references().functions.contains("omit")
    }
}
