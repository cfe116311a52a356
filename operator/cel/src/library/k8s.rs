//! The Kubernetes CEL libraries kro enables (`k8s.io/apiserver/pkg/cel/library`): URLs, IP,
//! CIDR, Quantity and Semver: the functions over the opaque types of `crate::opaque`.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::IpAddr;

use cel::ExecutionError;
use cel::common::types::{self, CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelString};
use cel::common::value::{CowVal, StaticVal, Val};

use crate::decl::{Decl, arg_str};
use crate::describe::describe_str;
use crate::opaque::{
    CIDR_TYPE, Cidr, IP_TYPE, Ip, QUANTITY_TYPE, Quantity, SEMVER_TYPE, Semver, URL_TYPE, Url,
};

type R<'b, 'v> = Result<CowVal<'b, 'v>, ExecutionError>;

fn err(f: &str, msg: impl std::fmt::Display) -> ExecutionError {
    ExecutionError::function_error(f, msg)
}

fn downcast<'a, T: StaticVal>(
    args: &'a [CowVal<'_, '_>],
    i: usize,
    f: &str,
) -> Result<&'a T, ExecutionError> {
    args.get(i)
        .and_then(|a| a.as_any())
        .and_then(|a| a.downcast_ref::<T>())
        .ok_or_else(|| err(f, format!("argument {} has the wrong type", i + 1)))
}

fn b<'b, 'v>(v: bool) -> R<'b, 'v> {
    Ok(CowVal::owned(CelBool::from(v)))
}

fn s<'b, 'v>(v: String) -> R<'b, 'v> {
    Ok(CowVal::owned(CelString::from(v)))
}

fn i<'b, 'v>(v: i64) -> R<'b, 'v> {
    Ok(CowVal::owned(CelInt::from(v)))
}

// ---------- URL ----------

fn parse_url(raw: &str) -> Result<Url, String> {
    if raw.is_empty() {
        return Err("empty url".to_owned());
    }
    if raw.chars().any(|c| c.is_control() || c == ' ') {
        return Err(format!(
            "invalid URL ({}): contains a space or control character",
            describe_str(raw)
        ));
    }
    let (without_query, query) = match raw.split_once('?') {
        Some((a, q)) => (a, q.to_owned()),
        None => (raw, String::new()),
    };
    if without_query.starts_with('/') {
        return Ok(Url {
            raw: raw.to_owned(),
            scheme: String::new(),
            host: String::new(),
            path: without_query.to_owned(),
            query,
        });
    }
    let Some((scheme, rest)) = without_query.split_once(':') else {
        return Err(format!(
            "invalid URL ({}): not an absolute URI or path",
            describe_str(raw)
        ));
    };
    let valid_scheme = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return Err(format!(
            "invalid URL ({}): missing protocol scheme",
            describe_str(raw)
        ));
    }
    let (host, path) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            let authority = &after[..end];
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            (host.to_owned(), after[end..].to_owned())
        }
        None => (String::new(), rest.to_owned()),
    };
    if host.starts_with('[') && !host.contains(']') {
        return Err(format!(
            "invalid URL ({}): missing ']' in host",
            describe_str(raw)
        ));
    }
    Ok(Url {
        raw: raw.to_owned(),
        scheme: scheme.to_owned(),
        host,
        path,
        query,
    })
}

fn url_new<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let raw = arg_str(&args, 0, "url")?;
    Ok(CowVal::owned(parse_url(raw).map_err(|e| err("url", e))?))
}
fn is_url<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(parse_url(arg_str(&args, 0, "isURL")?).is_ok())
}
fn url_scheme<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    s(downcast::<Url>(&args, 0, "getScheme")?.scheme.clone())
}
fn url_host<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    s(downcast::<Url>(&args, 0, "getHost")?.host.clone())
}
fn url_hostname<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    s(downcast::<Url>(&args, 0, "getHostname")?
        .hostname()
        .to_owned())
}
fn url_port<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    s(downcast::<Url>(&args, 0, "getPort")?.port().to_owned())
}
fn url_path<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    s(downcast::<Url>(&args, 0, "getEscapedPath")?.path.clone())
}
fn url_query<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let u = downcast::<Url>(&args, 0, "getQuery")?;
    let mut grouped: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in url::form_urlencoded::parse(u.query.as_bytes()) {
        match grouped.iter_mut().find(|(key, _)| *key == k) {
            Some((_, vals)) => vals.push(v.into_owned()),
            None => grouped.push((k.into_owned(), vec![v.into_owned()])),
        }
    }
    let map: HashMap<CelMapKey<'v>, Box<dyn Val + 'v>> = grouped
        .into_iter()
        .map(|(k, vals)| {
            let list: Vec<Box<dyn Val + 'v>> = vals
                .into_iter()
                .map(|v| Box::new(CelString::from(v)) as Box<dyn Val + 'v>)
                .collect();
            (
                CelMapKey::from(k),
                Box::new(CelList::from(list)) as Box<dyn Val + 'v>,
            )
        })
        .collect();
    Ok(CowVal::owned(CelMap::from(map)))
}

// ---------- IP / CIDR ----------

fn parse_ip(raw: &str) -> Result<IpAddr, String> {
    let addr: IpAddr = raw.parse().map_err(|_| {
        format!(
            "IP Address ({}) parse error during conversion from string",
            describe_str(raw)
        )
    })?;
    if let IpAddr::V6(v6) = addr
        && v6.to_ipv4_mapped().is_some()
        && raw.contains('.')
    {
        return Err(format!(
            "IPv4-mapped IPv6 address ({}) is not allowed",
            describe_str(raw)
        ));
    }
    Ok(addr)
}

fn ip_new<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let raw = arg_str(&args, 0, "ip")?;
    Ok(CowVal::owned(Ip(parse_ip(raw).map_err(|e| err("ip", e))?)))
}
fn is_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(parse_ip(arg_str(&args, 0, "isIP")?).is_ok())
}
fn ip_is_canonical<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let raw = arg_str(&args, 0, "ip.isCanonical")?;
    let addr = parse_ip(raw).map_err(|e| err("ip.isCanonical", e))?;
    b(addr.to_string() == raw)
}
fn ip_family<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    i(if downcast::<Ip>(&args, 0, "family")?.0.is_ipv4() {
        4
    } else {
        6
    })
}
fn ip_unspecified<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(downcast::<Ip>(&args, 0, "isUnspecified")?
        .0
        .is_unspecified())
}
fn ip_loopback<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(downcast::<Ip>(&args, 0, "isLoopback")?.0.is_loopback())
}
fn link_local_unicast(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v4) => v4.octets()[0] == 169 && v4.octets()[1] == 254,
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}
fn ip_link_local_multicast<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let a = downcast::<Ip>(&args, 0, "isLinkLocalMulticast")?.0;
    b(match a {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    })
}
fn ip_link_local_unicast<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(link_local_unicast(
        &downcast::<Ip>(&args, 0, "isLinkLocalUnicast")?.0,
    ))
}
fn ip_global_unicast<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let a = downcast::<Ip>(&args, 0, "isGlobalUnicast")?.0;
    let broadcast = matches!(a, IpAddr::V4(v4) if v4.is_broadcast());
    b(!(a.is_unspecified()
        || a.is_loopback()
        || a.is_multicast()
        || link_local_unicast(&a)
        || broadcast))
}
fn ip_string<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    s(downcast::<Ip>(&args, 0, "string")?.0.to_string())
}

fn parse_cidr(raw: &str) -> Result<Cidr, String> {
    let bad = || {
        format!(
            "network address ({}) parse error during conversion from string",
            describe_str(raw)
        )
    };
    let (addr, prefix) = raw.split_once('/').ok_or_else(bad)?;
    let addr = parse_ip(addr).map_err(|_| bad())?;
    if prefix.is_empty() || prefix.len() > 3 || !prefix.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(bad());
    }
    Ok(Cidr { addr, prefix })
}

fn mask(addr: &IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => {
            let bits = u32::from(*v4);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            IpAddr::V4((bits & m).into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(*v6);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            IpAddr::V6((bits & m).into())
        }
    }
}

impl Cidr {
    fn contains(&self, ip: &IpAddr) -> bool {
        ip.is_ipv4() == self.addr.is_ipv4()
            && mask(ip, self.prefix) == mask(&self.addr, self.prefix)
    }
}

fn cidr_new<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let raw = arg_str(&args, 0, "cidr")?;
    Ok(CowVal::owned(parse_cidr(raw).map_err(|e| err("cidr", e))?))
}
fn is_cidr<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(parse_cidr(arg_str(&args, 0, "isCIDR")?).is_ok())
}
fn cidr_contains_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let c = downcast::<Cidr>(&args, 0, "containsIP")?;
    let ip = match args.get(1).and_then(|a| a.downcast_ref::<CelString>()) {
        Some(raw) => parse_ip(raw.inner()).map_err(|e| err("containsIP", e))?,
        None => downcast::<Ip>(&args, 1, "containsIP")?.0,
    };
    b(c.contains(&ip))
}
fn cidr_contains_cidr<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let c = downcast::<Cidr>(&args, 0, "containsCIDR")?;
    let other = match args.get(1).and_then(|a| a.downcast_ref::<CelString>()) {
        Some(raw) => parse_cidr(raw.inner()).map_err(|e| err("containsCIDR", e))?,
        None => downcast::<Cidr>(&args, 1, "containsCIDR")?.clone(),
    };
    b(other.prefix >= c.prefix && c.contains(&other.addr))
}
fn cidr_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    Ok(CowVal::owned(Ip(downcast::<Cidr>(&args, 0, "ip")?.addr)))
}
fn cidr_prefix<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    i(i64::from(
        downcast::<Cidr>(&args, 0, "prefixLength")?.prefix,
    ))
}
fn cidr_masked<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let c = downcast::<Cidr>(&args, 0, "masked")?;
    Ok(CowVal::owned(Cidr {
        addr: mask(&c.addr, c.prefix),
        prefix: c.prefix,
    }))
}
fn cidr_string<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let c = downcast::<Cidr>(&args, 0, "string")?;
    s(format!("{}/{}", c.addr, c.prefix))
}

// ---------- Semver ----------

fn parse_semver(raw: &str) -> Result<semver::Version, String> {
    semver::Version::parse(raw).map_err(|e| format!("invalid semver ({}): {e}", describe_str(raw)))
}
fn semver_new<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let raw = arg_str(&args, 0, "semver")?;
    Ok(CowVal::owned(Semver(
        parse_semver(raw).map_err(|e| err("semver", e))?,
    )))
}
fn is_semver<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(parse_semver(arg_str(&args, 0, "isSemver")?).is_ok())
}
fn semver_major<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    i(i64::try_from(downcast::<Semver>(&args, 0, "major")?.0.major).unwrap_or(i64::MAX))
}
fn semver_minor<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    i(i64::try_from(downcast::<Semver>(&args, 0, "minor")?.0.minor).unwrap_or(i64::MAX))
}
fn semver_patch<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    i(i64::try_from(downcast::<Semver>(&args, 0, "patch")?.0.patch).unwrap_or(i64::MAX))
}
fn semver_cmp(args: &[CowVal<'_, '_>], f: &str) -> Result<Ordering, ExecutionError> {
    let a = downcast::<Semver>(args, 0, f)?;
    let o = downcast::<Semver>(args, 1, f)?;
    Ok(a.0.cmp_precedence(&o.0))
}
fn semver_gt<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(semver_cmp(&args, "isGreaterThan")? == Ordering::Greater)
}
fn semver_lt<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(semver_cmp(&args, "isLessThan")? == Ordering::Less)
}
fn semver_compare<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    i(ordering_int(semver_cmp(&args, "compareTo")?))
}

fn ordering_int(o: Ordering) -> i64 {
    match o {
        Ordering::Less => -1,
        Ordering::Equal => 0,
        Ordering::Greater => 1,
    }
}

// ---------- Quantity ----------

fn parse_quantity(raw: &str) -> Result<Quantity, String> {
    let bad = || {
        format!(
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$', got {}",
            describe_str(raw)
        )
    };
    let num_end = raw
        .char_indices()
        .find(|(i, c)| !(c.is_ascii_digit() || *c == '.' || ((*c == '+' || *c == '-') && *i == 0)))
        .map_or(raw.len(), |(i, _)| i);
    let (number, suffix) = raw.split_at(num_end);
    let (neg, digits) = match number.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, number.strip_prefix('+').unwrap_or(number)),
    };
    if digits.is_empty() || digits == "." || digits.matches('.').count() > 1 {
        return Err(bad());
    }
    let (int_part, frac_part) = digits.split_once('.').unwrap_or((digits, ""));
    let all: String = format!("{int_part}{frac_part}");
    if all.len() > 30 {
        return Err(format!(
            "quantity ({}) has too many digits",
            describe_str(raw)
        ));
    }
    let mut mantissa: i128 = all.parse().map_err(|_| bad())?;
    let mut exp: i32 = -i32::try_from(frac_part.len()).map_err(|_| bad())?;
    if neg {
        mantissa = -mantissa;
    }
    let binary =
        |k: u32| -> Result<(), String> { Ok(()).and(if k > 6 { Err(bad()) } else { Ok(()) }) };
    let mul_checked = |m: i128, f: i128| {
        m.checked_mul(f)
            .ok_or_else(|| format!("quantity ({}) is too large", describe_str(raw)))
    };
    match suffix {
        "" => {}
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => {
            let k = "KMGTPE".find(&suffix[..1]).map_or(0, |p| p as u32 + 1);
            binary(k)?;
            mantissa = mul_checked(mantissa, 1024i128.pow(k))?;
        }
        "n" => exp -= 9,
        "u" => exp -= 6,
        "m" => exp -= 3,
        "k" => exp += 3,
        "M" => exp += 6,
        "G" => exp += 9,
        "T" => exp += 12,
        "P" => exp += 15,
        "E" => exp += 18,
        other => {
            let e = other
                .strip_prefix('e')
                .or_else(|| other.strip_prefix('E'))
                .ok_or_else(bad)?;
            let e: i32 = e.parse().map_err(|_| bad())?;
            if !(-1000..=1000).contains(&e) {
                return Err(bad());
            }
            exp += e;
        }
    }
    Ok(Quantity {
        raw: raw.to_owned(),
        mantissa,
        exp,
    })
}

fn quantity_arg(args: &[CowVal<'_, '_>], i: usize, f: &str) -> Result<Quantity, ExecutionError> {
    if let Some(n) = args.get(i).and_then(|a| a.downcast_ref::<CelInt>()) {
        return Ok(Quantity {
            raw: String::new(),
            mantissa: i128::from(*n.inner()),
            exp: 0,
        });
    }
    downcast::<Quantity>(args, i, f).cloned()
}

fn quantity_new<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let raw = arg_str(&args, 0, "quantity")?;
    Ok(CowVal::owned(
        parse_quantity(raw).map_err(|e| err("quantity", e))?,
    ))
}
fn is_quantity<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(parse_quantity(arg_str(&args, 0, "isQuantity")?).is_ok())
}
fn quantity_add<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let a = quantity_arg(&args, 0, "add")?;
    let o = quantity_arg(&args, 1, "add")?;
    Ok(CowVal::owned(
        a.combine(&o, false)
            .ok_or_else(|| err("add", "quantity overflow"))?,
    ))
}
fn quantity_sub<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let a = quantity_arg(&args, 0, "sub")?;
    let o = quantity_arg(&args, 1, "sub")?;
    Ok(CowVal::owned(
        a.combine(&o, true)
            .ok_or_else(|| err("sub", "quantity overflow"))?,
    ))
}
fn quantity_cmp(args: &[CowVal<'_, '_>], f: &str) -> Result<Ordering, ExecutionError> {
    Ok(quantity_arg(args, 0, f)?.cmp_value(&quantity_arg(args, 1, f)?))
}
fn quantity_lt<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(quantity_cmp(&args, "isLessThan")? == Ordering::Less)
}
fn quantity_gt<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    b(quantity_cmp(&args, "isGreaterThan")? == Ordering::Greater)
}
fn quantity_compare<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    i(ordering_int(quantity_cmp(&args, "compareTo")?))
}
fn quantity_as_integer<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let q = quantity_arg(&args, 0, "asInteger")?;
    let v = q
        .integer()
        .and_then(|v| i64::try_from(v).ok())
        .ok_or_else(|| err("asInteger", "cannot convert value to integer"))?;
    i(v)
}
fn quantity_as_float<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    Ok(CowVal::owned(CelDouble::from(
        quantity_arg(&args, 0, "asApproximateFloat")?.approx(),
    )))
}
fn quantity_is_integer<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    let q = quantity_arg(&args, 0, "isInteger")?;
    b(q.integer().is_some_and(|v| i64::try_from(v).is_ok()))
}
fn quantity_sign<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> R<'b, 'v> {
    i(ordering_int(
        quantity_arg(&args, 0, "sign")?.mantissa.cmp(&0),
    ))
}

/// The declarations of this library.
pub(crate) fn decls() -> Vec<Decl> {
    let mut out = url_decls();
    out.extend(ip_decls());
    out.extend(cidr_decls());
    out.extend(semver_decls());
    out.extend(quantity_decls());
    out
}

/// `url`, `isURL` and the `kubernetes.URL` accessors.
fn url_decls() -> Vec<Decl> {
    use types::STRING_TYPE;
    let url_type = || URL_TYPE.to_owned();
    vec![
        Decl::global(
            "url",
            "url(string) -> kubernetes.URL",
            vec![STRING_TYPE],
            url_new,
        ),
        Decl::global("isURL", "isURL(string) -> bool", vec![STRING_TYPE], is_url),
        Decl::member(
            "getScheme",
            "<kubernetes.URL>.getScheme() -> string",
            url_type(),
            vec![],
            url_scheme,
        ),
        Decl::member(
            "getHost",
            "<kubernetes.URL>.getHost() -> string",
            url_type(),
            vec![],
            url_host,
        ),
        Decl::member(
            "getHostname",
            "<kubernetes.URL>.getHostname() -> string",
            url_type(),
            vec![],
            url_hostname,
        ),
        Decl::member(
            "getPort",
            "<kubernetes.URL>.getPort() -> string",
            url_type(),
            vec![],
            url_port,
        ),
        Decl::member(
            "getEscapedPath",
            "<kubernetes.URL>.getEscapedPath() -> string",
            url_type(),
            vec![],
            url_path,
        ),
        Decl::member(
            "getQuery",
            "<kubernetes.URL>.getQuery() -> map(string, list(string))",
            url_type(),
            vec![],
            url_query,
        ),
    ]
}

/// `ip`, `isIP`, `ip.isCanonical` and the `net.IP` predicates.
fn ip_decls() -> Vec<Decl> {
    use types::STRING_TYPE;
    let ip_type = || IP_TYPE.to_owned();
    vec![
        Decl::global("ip", "ip(string) -> net.IP", vec![STRING_TYPE], ip_new),
        Decl::global("isIP", "isIP(string) -> bool", vec![STRING_TYPE], is_ip),
        Decl::global(
            "ip.isCanonical",
            "ip.isCanonical(string) -> bool",
            vec![STRING_TYPE],
            ip_is_canonical,
        ),
        Decl::member(
            "family",
            "<net.IP>.family() -> int",
            ip_type(),
            vec![],
            ip_family,
        ),
        Decl::member(
            "isUnspecified",
            "<net.IP>.isUnspecified() -> bool",
            ip_type(),
            vec![],
            ip_unspecified,
        ),
        Decl::member(
            "isLoopback",
            "<net.IP>.isLoopback() -> bool",
            ip_type(),
            vec![],
            ip_loopback,
        ),
        Decl::member(
            "isLinkLocalMulticast",
            "<net.IP>.isLinkLocalMulticast() -> bool",
            ip_type(),
            vec![],
            ip_link_local_multicast,
        ),
        Decl::member(
            "isLinkLocalUnicast",
            "<net.IP>.isLinkLocalUnicast() -> bool",
            ip_type(),
            vec![],
            ip_link_local_unicast,
        ),
        Decl::member(
            "isGlobalUnicast",
            "<net.IP>.isGlobalUnicast() -> bool",
            ip_type(),
            vec![],
            ip_global_unicast,
        ),
        Decl::global(
            "string",
            "string(net.IP) -> string",
            vec![ip_type()],
            ip_string,
        ),
    ]
}

/// `cidr`, `isCIDR` and the `net.CIDR` containment and accessors.
fn cidr_decls() -> Vec<Decl> {
    use types::STRING_TYPE;
    let cidr_type = || CIDR_TYPE.to_owned();
    let ip_type = || IP_TYPE.to_owned();
    vec![
        Decl::global(
            "cidr",
            "cidr(string) -> net.CIDR",
            vec![STRING_TYPE],
            cidr_new,
        ),
        Decl::global(
            "isCIDR",
            "isCIDR(string) -> bool",
            vec![STRING_TYPE],
            is_cidr,
        ),
        Decl::member(
            "containsIP",
            "<net.CIDR>.containsIP(string) -> bool",
            cidr_type(),
            vec![STRING_TYPE],
            cidr_contains_ip,
        ),
        Decl::member(
            "containsIP",
            "<net.CIDR>.containsIP(net.IP) -> bool",
            cidr_type(),
            vec![ip_type()],
            cidr_contains_ip,
        ),
        Decl::member(
            "containsCIDR",
            "<net.CIDR>.containsCIDR(string) -> bool",
            cidr_type(),
            vec![STRING_TYPE],
            cidr_contains_cidr,
        ),
        Decl::member(
            "containsCIDR",
            "<net.CIDR>.containsCIDR(net.CIDR) -> bool",
            cidr_type(),
            vec![cidr_type()],
            cidr_contains_cidr,
        ),
        Decl::member(
            "ip",
            "<net.CIDR>.ip() -> net.IP",
            cidr_type(),
            vec![],
            cidr_ip,
        ),
        Decl::member(
            "prefixLength",
            "<net.CIDR>.prefixLength() -> int",
            cidr_type(),
            vec![],
            cidr_prefix,
        ),
        Decl::member(
            "masked",
            "<net.CIDR>.masked() -> net.CIDR",
            cidr_type(),
            vec![],
            cidr_masked,
        ),
        Decl::global(
            "string",
            "string(net.CIDR) -> string",
            vec![cidr_type()],
            cidr_string,
        ),
    ]
}

/// `semver`, `isSemver` and the `kubernetes.Semver` accessors and comparisons.
fn semver_decls() -> Vec<Decl> {
    use types::STRING_TYPE;
    let semver_type = || SEMVER_TYPE.to_owned();
    vec![
        Decl::global(
            "semver",
            "semver(string) -> kubernetes.Semver",
            vec![STRING_TYPE],
            semver_new,
        ),
        Decl::global(
            "isSemver",
            "isSemver(string) -> bool",
            vec![STRING_TYPE],
            is_semver,
        ),
        Decl::member(
            "major",
            "<kubernetes.Semver>.major() -> int",
            semver_type(),
            vec![],
            semver_major,
        ),
        Decl::member(
            "minor",
            "<kubernetes.Semver>.minor() -> int",
            semver_type(),
            vec![],
            semver_minor,
        ),
        Decl::member(
            "patch",
            "<kubernetes.Semver>.patch() -> int",
            semver_type(),
            vec![],
            semver_patch,
        ),
        Decl::member(
            "isGreaterThan",
            "<kubernetes.Semver>.isGreaterThan(kubernetes.Semver) -> bool",
            semver_type(),
            vec![semver_type()],
            semver_gt,
        ),
        Decl::member(
            "isLessThan",
            "<kubernetes.Semver>.isLessThan(kubernetes.Semver) -> bool",
            semver_type(),
            vec![semver_type()],
            semver_lt,
        ),
        Decl::member(
            "compareTo",
            "<kubernetes.Semver>.compareTo(kubernetes.Semver) -> int",
            semver_type(),
            vec![semver_type()],
            semver_compare,
        ),
    ]
}

/// `quantity`, `isQuantity` and the `kubernetes.Quantity` arithmetic and comparisons.
fn quantity_decls() -> Vec<Decl> {
    use types::{INT_TYPE, STRING_TYPE};
    let quantity_type = || QUANTITY_TYPE.to_owned();
    vec![
        Decl::global(
            "quantity",
            "quantity(string) -> kubernetes.Quantity",
            vec![STRING_TYPE],
            quantity_new,
        ),
        Decl::global(
            "isQuantity",
            "isQuantity(string) -> bool",
            vec![STRING_TYPE],
            is_quantity,
        ),
        Decl::member(
            "add",
            "<kubernetes.Quantity>.add(kubernetes.Quantity) -> kubernetes.Quantity",
            quantity_type(),
            vec![quantity_type()],
            quantity_add,
        ),
        Decl::member(
            "add",
            "<kubernetes.Quantity>.add(int) -> kubernetes.Quantity",
            quantity_type(),
            vec![INT_TYPE],
            quantity_add,
        ),
        Decl::member(
            "sub",
            "<kubernetes.Quantity>.sub(kubernetes.Quantity) -> kubernetes.Quantity",
            quantity_type(),
            vec![quantity_type()],
            quantity_sub,
        ),
        Decl::member(
            "sub",
            "<kubernetes.Quantity>.sub(int) -> kubernetes.Quantity",
            quantity_type(),
            vec![INT_TYPE],
            quantity_sub,
        ),
        Decl::member(
            "isLessThan",
            "<kubernetes.Quantity>.isLessThan(kubernetes.Quantity) -> bool",
            quantity_type(),
            vec![quantity_type()],
            quantity_lt,
        ),
        Decl::member(
            "isGreaterThan",
            "<kubernetes.Quantity>.isGreaterThan(kubernetes.Quantity) -> bool",
            quantity_type(),
            vec![quantity_type()],
            quantity_gt,
        ),
        Decl::member(
            "compareTo",
            "<kubernetes.Quantity>.compareTo(kubernetes.Quantity) -> int",
            quantity_type(),
            vec![quantity_type()],
            quantity_compare,
        ),
        Decl::member(
            "asInteger",
            "<kubernetes.Quantity>.asInteger() -> int",
            quantity_type(),
            vec![],
            quantity_as_integer,
        ),
        Decl::member(
            "asApproximateFloat",
            "<kubernetes.Quantity>.asApproximateFloat() -> double",
            quantity_type(),
            vec![],
            quantity_as_float,
        ),
        Decl::member(
            "isInteger",
            "<kubernetes.Quantity>.isInteger() -> bool",
            quantity_type(),
            vec![],
            quantity_is_integer,
        ),
        Decl::global(
            "sign",
            "sign(kubernetes.Quantity) -> int",
            vec![quantity_type()],
            quantity_sign,
        ),
        Decl::member(
            "sign",
            "<kubernetes.Quantity>.sign() -> int",
            quantity_type(),
            vec![],
            quantity_sign,
        ),
    ]
}
