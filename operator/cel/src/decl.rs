//! How kro-cel declares a function once for both the interpreter and the static checker, and
//! the argument accessors the function implementations share. A leaf under `cost` and `library`.

use cel::ExecutionError;
use cel::common::functions::Function;
use cel::common::types::{CelInt, CelString, Type};
use cel::common::value::CowVal;

/// One overload: its checker signature (in the small syntax of `crate::types::parse_signature`)
/// and, when we implement it, its runtime registration.
pub(crate) struct Decl {
    pub(crate) name: &'static str,
    pub(crate) signature: Option<&'static str>,
    pub(crate) member: bool,
    pub(crate) runtime_types: Vec<Type>,
    pub(crate) function: Function,
}

impl Decl {
    pub(crate) fn global(
        name: &'static str,
        signature: &'static str,
        runtime_types: Vec<Type>,
        function: Function,
    ) -> Decl {
        Decl {
            name,
            signature: Some(signature),
            member: false,
            runtime_types,
            function,
        }
    }

    /// A runtime overload whose checker signature is declared by another `Decl`.
    pub(crate) fn global_alt(
        name: &'static str,
        _id: &'static str,
        runtime_types: Vec<Type>,
        function: Function,
    ) -> Decl {
        Decl {
            name,
            signature: None,
            member: false,
            runtime_types,
            function,
        }
    }

    pub(crate) fn member(
        name: &'static str,
        signature: &'static str,
        receiver: Type,
        mut args: Vec<Type>,
        function: Function,
    ) -> Decl {
        args.insert(0, receiver);
        Decl {
            name,
            signature: Some(signature),
            member: true,
            runtime_types: args,
            function,
        }
    }
}

/// `args[i]` as a string.
pub(crate) fn arg_str<'a>(
    args: &'a [CowVal<'_, '_>],
    i: usize,
    f: &str,
) -> Result<&'a str, ExecutionError> {
    args.get(i)
        .and_then(|a| a.downcast_ref::<CelString>())
        .map(|s| s.inner())
        .ok_or_else(|| bad_arg(args, i, f, "string"))
}

/// `args[i]` as an int.
pub(crate) fn arg_int(args: &[CowVal<'_, '_>], i: usize, f: &str) -> Result<i64, ExecutionError> {
    args.get(i)
        .and_then(|a| a.downcast_ref::<CelInt>())
        .map(|s| *s.inner())
        .ok_or_else(|| bad_arg(args, i, f, "int"))
}

fn bad_arg(args: &[CowVal<'_, '_>], i: usize, f: &str, want: &str) -> ExecutionError {
    let got = args
        .get(i)
        .map_or("nothing", |a| a.get_type().name())
        .to_owned();
    ExecutionError::function_error(f, format!("argument {} must be {want}, got {got}", i + 1))
}
