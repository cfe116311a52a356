//! kro's CEL environment: libraries, value conversion, the static checker and cost limits.
//!
//! Built on the `cel` crate, pinned at 0.15.0, behind this crate's boundary: no `cel::` type
//! appears in the public API except through [`CelValue::to_cel_value`].
//!
//! * [`Environment`]: kro's whole environment, built once and shared. [`Environment::compile`]
//!   gives a [`Program`], which knows its [`References`] (root identifiers and field paths,
//!   comprehension variables excluded), type-checks against a [`TypeEnv`] of OpenAPI-derived
//!   [`CelType`]s ([`Program::check`]), and evaluates against an [`Activation`] of
//!   pre-converted [`CelValue`]s with a cost budget ([`Program::eval`], [`Program::eval_json`],
//!   [`Program::eval_bool`], [`Program::eval_list`]).
//! * [`CelValue::from_json`] / [`CelValue::from_json_with_schema`]: JSON integers become CEL
//!   `int` (the `cel` crate's serde path would make them `uint`); convert each observed object
//!   once per reconcile and bind the value in every activation.
//! * Errors: [`CelError`]; [`CelError::is_data_pending`] marks the "data not yet available"
//!   kinds kro retries (no such key, index out of bounds, unbound variable).
//! * Limits kro does not have: every evaluation has a cost budget ([`cost`],
//!   [`DEFAULT_COST_LIMIT`], [`Environment::with_cost_limit`]); expressions longer than
//!   [`MAX_EXPRESSION_LENGTH`], nesting brackets deeper than [`MAX_NESTING`] or with more than
//!   [`MAX_OPERATORS`] operators are rejected at compile time, and deep ones run on a grown
//!   stack, so no expression can crash the process. A wall-clock [`Deadline`] over a thread's
//!   evaluations stops them from inside (they fail with [`CelError::DeadlineExceeded`]).
//! * `random.seededString` reproduces kro's output byte for byte, including its quirk that the
//!   characters repeat every 8 (kro reads the hash at `(i*4) mod 32` and never re-hashes).
//!
//! Modules, each using only those before it: `error`, `opaque` (the value types kro-cel adds),
//! `decl`, `library::macros` → `types`, `references`, `value`, `cost` → `library` → `checker`
//! → `program`.
//!
//! # Compatibility with kro's environment (cel-go v0.31 + k8s.io/apiserver v0.36 libraries)
//!
//! | Library | Status here |
//! |---|---|
//! | CEL standard library and macros (`has all exists exists_one map filter`) | supported (cel 0.15) |
//! | Optionals: `.?f`, `[?k]`, `[?x]`, `{?k: v}`, `optional.of/none/ofNonZeroValue`, `hasValue`, `value`, `or`, `orValue`, `optMap`, `optFlatMap` | supported (cel 0.15) |
//! | Optionals v2: `first`, `last`, `optional.unwrap`, `unwrapOpt` | supported (this crate) |
//! | `ext.Strings`: `charAt indexOf lastIndexOf lowerAscii upperAscii replace split substring trim reverse join format strings.quote` | supported (cel 0.15) |
//! | `ext.Lists`: `slice flatten distinct reverse sort sortBy lists.range` | supported (cel 0.15) |
//! | `ext.Encoders`: `base64.encode/decode` | supported (cel 0.15) |
//! | `ext.Bindings`: `cel.bind` | supported (macro, this crate); `cel.@block` is internal to cel-go and not provided |
//! | `ext.TwoVarComprehensions`: `all exists existsOne exists_one transformList transformMap transformMapEntry` (3 and 4 arguments) | supported (macro rewrite, this crate); maps are iterated in sorted key order |
//! | k8s Lists: `isSorted sum min max indexOf lastIndexOf` | supported |
//! | k8s Regex: `find findAll` | supported (Rust `regex`, RE2-like; patterns cached) |
//! | k8s URLs: `url isURL getScheme getHost getHostname getPort getEscapedPath getQuery` | supported (hand-written parser following Go's `ParseRequestURI`; `getEscapedPath` returns the path as written) |
//! | k8s Quantity: `quantity isQuantity add sub isLessThan isGreaterThan compareTo asInteger asApproximateFloat isInteger sign` | supported (exact decimal arithmetic up to 30 digits; `sign` both as `sign(q)` and `q.sign()`) |
//! | k8s IP/CIDR: `ip isIP ip.isCanonical family isUnspecified isLoopback isLinkLocalMulticast isLinkLocalUnicast isGlobalUnicast string(ip)`, `cidr isCIDR containsIP containsCIDR ip prefixLength masked string(cidr)` | supported |
//! | k8s Semver: `semver isSemver major minor patch isGreaterThan isLessThan compareTo` | supported (the `semver` crate, precedence ordering); the normalizing `semver(s, true)` forms are version 1 of the library, which kro does not enable, and are not provided |
//! | kro: `random.seededString random.seededInt hash.fnv64a hash.sha256 hash.md5 json.marshal json.unmarshal merge deepMerge lists.setAtIndex lists.insertAtIndex lists.removeAtIndex omit runtime.newCondition runtime.condition` | supported |
//! | Not provided | cel-go `ext.Math`/`ext.Sets`/`ext.Protos` and k8s `format`/`authz`/`jsonpatch` (kro does not enable them); `cel.@block`; protobuf messages |
//!
//! Known differences: the regex dialect is Rust's (`matches`, `find` and `findAll` cache compiled
//! patterns; cel 0.15's own `matches` would recompile per call, so a macro routes `matches`
//! to the cached implementation); map iteration in one-variable macros (`m.map(k, ...)`)
//! follows cel's hash order, while two-variable macros iterate keys sorted; the checker is lenient where cel-go's
//! rules are unclear (`dyn` flows everywhere, `null` is accepted for any container, `int` vs
//! `double` equality is allowed), so it may accept a few expressions kro rejects, never the
//! reverse by design; Kubernetes opaque values render into objects as their string form.

pub mod checker;
pub mod cost;
mod decl;
pub mod describe;
mod error;
mod library;
mod opaque;
mod program;
pub mod references;
pub mod types;
pub mod value;

pub use checker::TypeEnv;
pub use cost::{DEFAULT_COST_LIMIT, Deadline};
pub use error::{CelError, CheckError, CheckErrorKind, CheckErrors};
pub use program::{
    Activation, Environment, MAX_EXPRESSION_LENGTH, MAX_NESTING, MAX_OPERATORS, Program,
};
pub use references::{FieldPath, References};
pub use types::{CelType, ObjectType};
pub use value::{CelValue, Rendered};
