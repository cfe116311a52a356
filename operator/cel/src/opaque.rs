//! The value types kro-cel adds to CEL: the Kubernetes opaque types (URL, IP, CIDR, Semver,
//! Quantity), kro's `omit()` sentinel and the `runtime` variable. A leaf: the conversions in
//! `value` and the functions in `library` both build on it.

use std::any::Any;
use std::cmp::Ordering;
use std::net::IpAddr;
use std::sync::Arc;

use cel::common::types::Type;
use cel::common::value::{StaticVal, Val};
use serde_json::Value as Json;

macro_rules! opaque {
    ($ty:ident, $static:ident, $name:literal) => {
        pub(crate) static $static: Type = Type::new_unspecified_type($name);
        impl Val for $ty {
            fn get_type(&self) -> &Type {
                &$static
            }
            fn cel_type() -> &'static Type {
                &$static
            }
            fn equals(&self, other: &dyn Val) -> bool {
                other.downcast_ref::<$ty>().is_some_and(|o| o == self)
            }
            fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
                Box::new(self.clone())
            }
            fn as_any(&self) -> Option<&dyn Any> {
                Some(self)
            }
        }
        impl StaticVal for $ty {}
    };
}

/// A parsed URL (Go `url.ParseRequestURI` rules: an absolute URI or an absolute path).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Url {
    pub(crate) raw: String,
    pub(crate) scheme: String,
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) query: String,
}
opaque!(Url, URL_TYPE, "kubernetes.URL");

/// An IP address (no zones, no IPv4-mapped IPv6).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Ip(pub(crate) IpAddr);
opaque!(Ip, IP_TYPE, "net.IP");

/// A CIDR prefix, as written (address part may have host bits).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cidr {
    pub(crate) addr: IpAddr,
    pub(crate) prefix: u8,
}
opaque!(Cidr, CIDR_TYPE, "net.CIDR");

/// A semantic version.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Semver(pub(crate) semver::Version);
opaque!(Semver, SEMVER_TYPE, "kubernetes.Semver");

/// A Kubernetes quantity, held exactly as `mantissa * 10^exp`.
#[derive(Debug, Clone)]
pub(crate) struct Quantity {
    pub(crate) raw: String,
    pub(crate) mantissa: i128,
    pub(crate) exp: i32,
}
opaque!(Quantity, QUANTITY_TYPE, "kubernetes.Quantity");

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.cmp_value(other) == Ordering::Equal
    }
}

impl Url {
    pub(crate) fn hostname(&self) -> &str {
        if let Some(rest) = self.host.strip_prefix('[') {
            return rest.split(']').next().unwrap_or_default();
        }
        self.host.rsplit_once(':').map_or(&self.host, |(h, _)| h)
    }

    pub(crate) fn port(&self) -> &str {
        if self.host.starts_with('[') {
            return self.host.rsplit_once("]:").map_or("", |(_, p)| p);
        }
        self.host.rsplit_once(':').map_or("", |(_, p)| p)
    }
}

impl Quantity {
    /// Both values scaled to a common exponent, or `None` when that overflows.
    pub(crate) fn aligned(&self, other: &Quantity) -> Option<(i128, i128, i32)> {
        let e = self.exp.min(other.exp);
        let scale = |m: i128, from: i32| -> Option<i128> {
            let d = u32::try_from(from - e).ok()?;
            m.checked_mul(10i128.checked_pow(d)?)
        };
        Some((
            scale(self.mantissa, self.exp)?,
            scale(other.mantissa, other.exp)?,
            e,
        ))
    }

    pub(crate) fn approx(&self) -> f64 {
        self.mantissa as f64 * 10f64.powi(self.exp)
    }

    pub(crate) fn cmp_value(&self, other: &Quantity) -> Ordering {
        match self.aligned(other) {
            Some((a, b, _)) => a.cmp(&b),
            None => self
                .approx()
                .partial_cmp(&other.approx())
                .unwrap_or(Ordering::Equal),
        }
    }

    /// The exact integer value, if the quantity is integral.
    pub(crate) fn integer(&self) -> Option<i128> {
        if self.exp >= 0 {
            self.mantissa
                .checked_mul(10i128.checked_pow(u32::try_from(self.exp).ok()?)?)
        } else {
            let d = 10i128.checked_pow(u32::try_from(-self.exp).ok()?)?;
            (self.mantissa % d == 0).then_some(self.mantissa / d)
        }
    }

    pub(crate) fn combine(&self, other: &Quantity, negate: bool) -> Option<Quantity> {
        let (a, b, e) = self.aligned(other)?;
        let m = if negate {
            a.checked_sub(b)?
        } else {
            a.checked_add(b)?
        };
        Some(Quantity {
            raw: String::new(),
            mantissa: m,
            exp: e,
        })
    }

    pub(crate) fn canonical(&self) -> String {
        if !self.raw.is_empty() {
            return self.raw.clone();
        }
        match self.integer() {
            Some(i) => i.to_string(),
            None => {
                // milli-units as Kubernetes prints small decimals, else plain decimal
                let milli = Quantity {
                    raw: String::new(),
                    mantissa: self.mantissa,
                    exp: self.exp + 3,
                };
                match milli.integer() {
                    Some(m) => format!("{m}m"),
                    None => format!("{}e{}", self.mantissa, self.exp),
                }
            }
        }
    }
}

/// The `kro.omit` sentinel `omit()` returns: the renderer drops the field or element.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Omit;

pub(crate) static OMIT_TYPE: Type = Type::new_unspecified_type("kro.omit");
pub(crate) static RUNTIME_TYPE: Type = Type::new_unspecified_type("kro.run.Runtime");

impl Val for Omit {
    fn get_type(&self) -> &Type {
        &OMIT_TYPE
    }
    fn cel_type() -> &'static Type {
        &OMIT_TYPE
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(Omit)
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}
impl StaticVal for Omit {}

/// The value of the `runtime` variable in `status.conditions` expressions. It carries the
/// instance's own conditions, which `runtime.condition(schema, type)` reads (the `schema`
/// variable has no status).
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Runtime {
    /// The instance's current `status.conditions`.
    pub(crate) instance_conditions: Vec<Json>,
}

impl Val for Runtime {
    fn get_type(&self) -> &Type {
        &RUNTIME_TYPE
    }
    fn cel_type() -> &'static Type {
        &RUNTIME_TYPE
    }
    fn equals(&self, other: &dyn Val) -> bool {
        other.downcast_ref::<Runtime>().is_some_and(|o| o == self)
    }
    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}
impl StaticVal for Runtime {}

/// Clones one of this crate's own value types (which own all their data) out of an evaluation;
/// `None` for any other value.
pub(crate) fn clone_opaque(any: &dyn Any) -> Option<Box<dyn Val>> {
    if let Some(v) = any.downcast_ref::<Omit>() {
        return Some(Box::new(v.clone()));
    }
    if let Some(v) = any.downcast_ref::<Runtime>() {
        return Some(Box::new(v.clone()));
    }
    if let Some(v) = any.downcast_ref::<Url>() {
        return Some(Box::new(v.clone()));
    }
    if let Some(v) = any.downcast_ref::<Ip>() {
        return Some(Box::new(v.clone()));
    }
    if let Some(v) = any.downcast_ref::<Cidr>() {
        return Some(Box::new(v.clone()));
    }
    if let Some(v) = any.downcast_ref::<Semver>() {
        return Some(Box::new(v.clone()));
    }
    any.downcast_ref::<Quantity>()
        .map(|v| Box::new(v.clone()) as Box<dyn Val>)
}

/// How the Kubernetes opaque types render into objects (kro has no rule; we write their string
/// form); `None` for any other value.
pub(crate) fn render_opaque(v: &dyn Val) -> Option<Result<Json, String>> {
    let any = v.as_any()?;
    if let Some(u) = any.downcast_ref::<Url>() {
        return Some(Ok(Json::String(u.raw.clone())));
    }
    if let Some(ip) = any.downcast_ref::<Ip>() {
        return Some(Ok(Json::String(ip.0.to_string())));
    }
    if let Some(c) = any.downcast_ref::<Cidr>() {
        return Some(Ok(Json::String(format!("{}/{}", c.addr, c.prefix))));
    }
    if let Some(s) = any.downcast_ref::<Semver>() {
        return Some(Ok(Json::String(s.0.to_string())));
    }
    if let Some(q) = any.downcast_ref::<Quantity>() {
        return Some(Ok(Json::String(q.canonical())));
    }
    None
}

/// The value bound to `runtime` in `status.conditions` expressions.
pub(crate) fn runtime_value(instance_conditions: Vec<Json>) -> Arc<dyn Val> {
    Arc::new(Runtime {
        instance_conditions,
    })
}
