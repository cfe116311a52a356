//! kro's CEL environment: the `cel` standard library and extensions plus everything kro enables
//! that cel 0.15 lacks, declared once for both the interpreter and the static checker.

pub(crate) mod k8s;
pub(crate) mod kro;
pub(crate) mod macros;
pub(crate) mod stdext;

use cel::{DeclarationError, Env, extensions};

use crate::cost;
use crate::decl::Decl;

/// Every overload kro-cel registers itself.
pub(crate) fn own_decls() -> Vec<Decl> {
    let mut out = stdext::decls();
    out.extend(kro::decls());
    out.extend(k8s::decls());
    out.extend(cost::decls());
    out
}

/// Builds the interpreter environment.
pub(crate) fn build_env() -> Result<Env, DeclarationError> {
    let mut env = Env::stdlib();
    env.add_extension(extensions::strings)?;
    env.add_extension(extensions::lists)?;
    env.add_extension(extensions::encoders)?;
    for m in macros::macros() {
        env.add_macro(m)?;
    }
    for (i, d) in own_decls().into_iter().enumerate() {
        let id = format!("kro_{}_{i}", d.name);
        if d.member {
            let mut types = d.runtime_types;
            let receiver = types.remove(0);
            env.add_member_overload(d.name, &id, receiver, types, d.function)?;
        } else {
            env.add_overload(d.name, &id, d.runtime_types, d.function)?;
        }
    }
    Ok(env)
}

/// Checker signatures of the functions the `cel` crate itself provides (standard library,
/// strings, lists and encoders extensions, optionals), in cel-go's declarations.
pub(crate) const BUILTIN_SIGNATURES: &str = r#"
_+_(int, int) -> int
_+_(uint, uint) -> uint
_+_(double, double) -> double
_+_(string, string) -> string
_+_(bytes, bytes) -> bytes
_+_(list(A), list(A)) -> list(A)
_+_(timestamp, duration) -> timestamp
_+_(duration, timestamp) -> timestamp
_+_(duration, duration) -> duration
_-_(int, int) -> int
_-_(uint, uint) -> uint
_-_(double, double) -> double
_-_(timestamp, timestamp) -> duration
_-_(timestamp, duration) -> timestamp
_-_(duration, duration) -> duration
_*_(int, int) -> int
_*_(uint, uint) -> uint
_*_(double, double) -> double
_/_(int, int) -> int
_/_(uint, uint) -> uint
_/_(double, double) -> double
_%_(int, int) -> int
_%_(uint, uint) -> uint
-_(int) -> int
-_(double) -> double
!_(bool) -> bool
size(string) -> int
size(bytes) -> int
size(list(A)) -> int
size(map(K, V)) -> int
<string>.size() -> int
<bytes>.size() -> int
<list(A)>.size() -> int
<map(K, V)>.size() -> int
<string>.contains(string) -> bool
<string>.startsWith(string) -> bool
<string>.endsWith(string) -> bool
matches(string, string) -> bool
<string>.matches(string) -> bool
int(int) -> int
int(uint) -> int
int(double) -> int
int(string) -> int
int(timestamp) -> int
uint(uint) -> uint
uint(int) -> uint
uint(double) -> uint
uint(string) -> uint
double(double) -> double
double(int) -> double
double(uint) -> double
double(string) -> double
string(string) -> string
string(int) -> string
string(uint) -> string
string(double) -> string
string(bool) -> string
string(bytes) -> string
string(timestamp) -> string
string(duration) -> string
bytes(bytes) -> bytes
bytes(string) -> bytes
bool(bool) -> bool
bool(string) -> bool
duration(duration) -> duration
duration(string) -> duration
timestamp(timestamp) -> timestamp
timestamp(string) -> timestamp
timestamp(int) -> timestamp
dyn(A) -> dyn
type(A) -> type(A)
<timestamp>.getFullYear() -> int
<timestamp>.getFullYear(string) -> int
<timestamp>.getMonth() -> int
<timestamp>.getMonth(string) -> int
<timestamp>.getDate() -> int
<timestamp>.getDate(string) -> int
<timestamp>.getDayOfMonth() -> int
<timestamp>.getDayOfMonth(string) -> int
<timestamp>.getDayOfWeek() -> int
<timestamp>.getDayOfWeek(string) -> int
<timestamp>.getDayOfYear() -> int
<timestamp>.getDayOfYear(string) -> int
<timestamp>.getHours() -> int
<timestamp>.getHours(string) -> int
<timestamp>.getMinutes() -> int
<timestamp>.getMinutes(string) -> int
<timestamp>.getSeconds() -> int
<timestamp>.getSeconds(string) -> int
<timestamp>.getMilliseconds() -> int
<timestamp>.getMilliseconds(string) -> int
<duration>.getHours() -> int
<duration>.getMinutes() -> int
<duration>.getSeconds() -> int
<duration>.getMilliseconds() -> int
optional.of(A) -> optional(A)
optional.ofNonZeroValue(A) -> optional(A)
optional.none() -> optional(A)
<optional(A)>.hasValue() -> bool
<optional(A)>.value() -> A
<optional(A)>.or(optional(A)) -> optional(A)
<optional(A)>.orValue(A) -> A
<string>.charAt(int) -> string
<string>.indexOf(string) -> int
<string>.indexOf(string, int) -> int
<string>.lastIndexOf(string) -> int
<string>.lastIndexOf(string, int) -> int
<string>.lowerAscii() -> string
<string>.upperAscii() -> string
<string>.trim() -> string
<string>.reverse() -> string
<string>.replace(string, string) -> string
<string>.replace(string, string, int) -> string
<string>.split(string) -> list(string)
<string>.split(string, int) -> list(string)
<string>.substring(int) -> string
<string>.substring(int, int) -> string
<list(string)>.join() -> string
<list(string)>.join(string) -> string
<string>.format(list(dyn)) -> string
strings.quote(string) -> string
<list(A)>.slice(int, int) -> list(A)
<list(list(A))>.flatten() -> list(A)
<list(dyn)>.flatten() -> list(dyn)
<list(dyn)>.flatten(int) -> list(dyn)
<list(A)>.distinct() -> list(A)
<list(A)>.reverse() -> list(A)
<list(A)>.sort() -> list(A)
<list(A)>.@sortByAssociatedKeys(list(B)) -> list(A)
lists.range(int) -> list(int)
base64.encode(bytes) -> string
base64.decode(string) -> bytes
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_builds_without_declaration_conflicts() {
        if let Err(e) = build_env() {
            panic!("{e}");
        }
    }
}
