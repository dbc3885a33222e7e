//! What comparisons mean: the reference matcher's type rules for `=`, ordering and `IN`,
//! SQL `LIKE`, Python-flavoured `MATCHES`, and IPv4/IPv6 subnet tests.

use ipnet::IpNet;
use regex::Regex;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::observations::parse_timestamp;
use super::{EvalError, Lit, OrderOp, Pred, Test};

/// A value selected by an object path.
pub(super) enum Val<'a> {
    Json(&'a Value),
    /// Decoded from a `*_hex` or `*_bin` property.
    Bytes(Vec<u8>),
    /// The objects a `*_refs` list resolved to.
    Objects(Vec<&'a Value>),
}

/// A value as the comparison rules see it.
#[derive(Clone, Copy)]
pub(super) enum V<'a> {
    Int(i128),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    Bytes(&'a [u8]),
    Time(i64),
    /// null, lists, dictionaries: equal to nothing, ordered with nothing.
    Other,
}

pub(super) fn view<'a>(v: &'a Val<'_>) -> V<'a> {
    match v {
        Val::Bytes(b) => V::Bytes(b),
        Val::Objects(_) => V::Other,
        Val::Json(j) => match j {
            Value::Bool(b) => V::Bool(*b),
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    V::Int(i.into())
                } else if let Some(u) = n.as_u64() {
                    V::Int(u.into())
                } else {
                    V::Float(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => V::Str(s),
            _ => V::Other,
        },
    }
}

pub(super) fn lit_view(l: &Lit) -> V<'_> {
    match l {
        Lit::Int(i) => V::Int(*i),
        Lit::Float(f) => V::Float(*f),
        Lit::Str(s) => V::Str(s),
        Lit::Bool(b) => V::Bool(*b),
        Lit::Bytes(b) => V::Bytes(b),
        Lit::Time(t) => V::Time(*t),
    }
}

fn int_float_cmp(i: i128, f: f64) -> Option<std::cmp::Ordering> {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38 {
        Some(i.cmp(&(f as i128)))
    } else {
        (i as f64).partial_cmp(&f)
    }
}

/// Latin-1 bytes of a string whose characters are all below U+0100.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars()
        .map(|c| u8::try_from(c as u32).ok())
        .collect::<Option<Vec<u8>>>()
}

/// Equality by the reference matcher's table; pairs it has no entry for are unequal.
pub(super) fn py_eq(a: V, b: V) -> bool {
    match (a, b) {
        (V::Int(x), V::Int(y)) => x == y,
        (V::Int(i), V::Float(f)) | (V::Float(f), V::Int(i)) => {
            int_float_cmp(i, f) == Some(std::cmp::Ordering::Equal)
        }
        (V::Float(x), V::Float(y)) => x == y,
        (V::Str(x), V::Str(y)) => x == y,
        (V::Bytes(x), V::Bytes(y)) => x == y,
        (V::Bytes(x), V::Str(s)) | (V::Str(s), V::Bytes(x)) => latin1(s).is_some_and(|l| l == x),
        (V::Bool(x), V::Bool(y)) => x == y,
        (V::Time(x), V::Time(y)) => x == y,
        _ => false,
    }
}

/// Ordering by the reference matcher's table: `None` when the pair cannot be ordered,
/// `Some(None)` when it can in principle but not these values (a string with characters
/// above U+00FF against binary).
pub(super) fn py_cmp(a: V, b: V) -> Option<Option<std::cmp::Ordering>> {
    use std::cmp::Ordering;
    Some(match (a, b) {
        (V::Int(x), V::Int(y)) => Some(x.cmp(&y)),
        (V::Int(i), V::Float(f)) => int_float_cmp(i, f),
        (V::Float(f), V::Int(i)) => int_float_cmp(i, f).map(Ordering::reverse),
        (V::Float(x), V::Float(y)) => x.partial_cmp(&y),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Bytes(x), V::Bytes(y)) => Some(x.cmp(y)),
        (V::Bytes(x), V::Str(s)) => latin1(s).map(|l| x.cmp(&l[..])),
        (V::Str(s), V::Bytes(x)) => latin1(s).map(|l| l[..].cmp(x)),
        (V::Time(x), V::Time(y)) => Some(x.cmp(&y)),
        _ => return None,
    })
}

/// Python's `value in set` for the hashable values a path can select: numbers (and
/// booleans, which Python treats as 0 and 1) compare numerically, strings with strings,
/// binary with binary, timestamps with timestamps.
pub(super) fn py_member(v: V, l: V) -> bool {
    let num = |x: V| match x {
        V::Int(i) => Some(V::Int(i)),
        V::Float(f) => Some(V::Float(f)),
        V::Bool(b) => Some(V::Int(i128::from(b))),
        _ => None,
    };
    match (num(v), num(l)) {
        (Some(a), Some(b)) => py_eq(a, b),
        (None, None) => match (v, l) {
            (V::Bytes(_), V::Str(_)) | (V::Str(_), V::Bytes(_)) => false,
            _ => py_eq(v, l),
        },
        _ => false,
    }
}

pub(super) fn json_time(v: V, lit_is_time: bool) -> Result<Option<i64>, EvalError> {
    match v {
        V::Str(s) if lit_is_time => parse_timestamp(s)
            .map(Some)
            .ok_or_else(|| EvalError::new(format!("invalid timestamp in JSON: {s:?}"))),
        _ => Ok(None),
    }
}

impl Test {
    /// The test on one selected value. Errors where the reference matcher raises.
    pub(super) fn check(&self, val: &Val) -> Result<bool, EvalError> {
        let v = view(val);
        let not = self.negated;
        Ok(match &self.pred {
            Pred::Eq { lit, neq } => {
                let t = json_time(v, matches!(lit, Lit::Time(_)))?;
                let v = t.map_or(v, V::Time);
                py_eq(v, lit_view(lit)) ^ neq ^ not
            }
            Pred::Order { lit, op } => {
                let t = json_time(v, matches!(lit, Lit::Time(_)))?;
                let v = t.map_or(v, V::Time);
                match py_cmp(v, lit_view(lit)) {
                    None => false,
                    Some(None) => not,
                    Some(Some(o)) => {
                        let r = match op {
                            OrderOp::Lt => o.is_lt(),
                            OrderOp::Le => o.is_le(),
                            OrderOp::Gt => o.is_gt(),
                            OrderOp::Ge => o.is_ge(),
                        };
                        r ^ not
                    }
                }
            }
            Pred::In { set, timestamps } => {
                let t = json_time(v, *timestamps)?;
                let v = t.map_or(v, V::Time);
                set.iter().any(|l| py_member(v, lit_view(l))) ^ not
            }
            Pred::Like { re, bytes_ok } => {
                let s = match v {
                    V::Str(s) => Some(s.nfc().collect::<String>()),
                    V::Bytes(b) if *bytes_ok => Some(
                        std::str::from_utf8(b)
                            .map_err(|_| EvalError::new("binary value under LIKE is not UTF-8"))?
                            .nfc()
                            .collect(),
                    ),
                    _ => None,
                };
                s.is_some_and(|s| re.is_match(&s)) ^ not
            }
            Pred::Matches { re, bin } => {
                let r = match v {
                    V::Str(s) => re.is_match(&s.nfc().collect::<String>())?,
                    V::Bytes(b) => bin.as_ref().is_some_and(|r| r.is_match(b)),
                    _ => false,
                };
                r ^ not
            }
            Pred::IsSubset(net) => {
                (match v {
                    V::Str(s) => ip_in_subnet(s, net)?,
                    _ => false,
                }) ^ not
            }
            Pred::IsSuperset(ip) => {
                (match v {
                    V::Str(s) => ip_in_subnet(ip, s)?,
                    _ => false,
                }) ^ not
            }
            Pred::Exists => true,
        })
    }
}

/// IPv4 text as C's `inet_aton` reads it (what the reference matcher uses): one to four
/// dot-separated parts, each decimal, octal (`0…`) or hex (`0x…`); the last part fills the
/// remaining bytes.
pub(super) fn inet_aton(s: &str) -> Option<u32> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut nums = Vec::with_capacity(4);
    for p in &parts {
        let n = if let Some(h) = p.strip_prefix("0x").or_else(|| p.strip_prefix("0X")) {
            if h.is_empty() {
                0
            } else {
                u64::from_str_radix(h, 16).ok()?
            }
        } else if p.len() > 1 && p.starts_with('0') {
            u64::from_str_radix(&p[1..], 8).ok()?
        } else {
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()?
        };
        nums.push(n);
    }
    let last = nums.pop()?;
    let mut addr: u64 = 0;
    for (i, n) in nums.iter().enumerate() {
        if *n > 255 {
            return None;
        }
        addr |= n << (24 - 8 * i);
    }
    let rest_bits = 32 - 8 * nums.len() as u32;
    if last >= 1u64 << rest_bits {
        return None;
    }
    Some((addr | last) as u32)
}

fn invalid_ip(s: &str) -> EvalError {
    EvalError::new(format!("invalid IP address or CIDR subnet: {s:?}"))
}

/// Is the IP or CIDR `inner` inside the CIDR `outer`?
///
/// IPv4 follows the reference matcher exactly (including its errors for non-addresses,
/// for a containing side without a prefix, and for `/0`). IPv6, which the spec covers
/// but the reference matcher does not, uses the same rules via `ipnet`.
pub(super) fn ip_in_subnet(inner: &str, outer: &str) -> Result<bool, EvalError> {
    if inner.contains(':') || outer.contains(':') {
        let net_of = |s: &str| -> Result<IpNet, EvalError> {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| invalid_ip(s))
        };
        let a = net_of(inner)?;
        if !outer.contains('/') {
            return Err(invalid_ip(outer));
        }
        let b = net_of(outer)?;
        if b.prefix_len() == 0 {
            return Err(invalid_ip(outer));
        }
        return Ok(b.contains(&a));
    }
    let cidr = |s: &str| -> Result<(u32, u32), EvalError> {
        let (ip, prefix) = s.split_once('/').ok_or_else(|| invalid_ip(s))?;
        let ip = inet_aton(ip).ok_or_else(|| invalid_ip(s))?;
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid_ip(s));
        }
        let p: u32 = prefix.parse().map_err(|_| invalid_ip(s))?;
        if !(1..=32).contains(&p) {
            return Err(invalid_ip(s));
        }
        Ok((ip, p))
    };
    let (ip, plen) = if inner.contains('/') {
        cidr(inner)?
    } else {
        (inet_aton(inner).ok_or_else(|| invalid_ip(inner))?, 32)
    };
    let (net, nlen) = cidr(outer)?;
    if nlen > plen {
        return Ok(false);
    }
    let mask = if nlen == 32 {
        u32::MAX
    } else {
        !(u32::MAX >> nlen)
    };
    Ok(ip & mask == net & mask)
}

/// A `MATCHES` expression. Most compile to the linear-time `regex` engine; those using
/// look-around or backreferences (which Python's `re`, and so the reference matcher,
/// accept) fall back to `fancy-regex`, whose backtracking is bounded by its step limit.
#[derive(Debug)]
pub(super) enum PyRegex {
    Linear(Regex),
    Backtracking(fancy_regex::Regex),
}

impl PyRegex {
    pub(super) fn is_match(&self, s: &str) -> Result<bool, EvalError> {
        match self {
            PyRegex::Linear(re) => Ok(re.is_match(s)),
            PyRegex::Backtracking(re) => re
                .is_match(s)
                .map_err(|e| EvalError::new(format!("MATCHES gave up: {e}"))),
        }
    }
}

/// SQL LIKE to an anchored regex: `%` any run, `_` any one character; neither crosses a
/// newline, and a single trailing newline in the value is tolerated (Python `re`'s `$`,
/// which the reference matcher uses).
pub(super) fn like_to_regex(like: &str) -> String {
    let mut out = String::from(r"\A(?:");
    for c in like.chars() {
        match c {
            '%' => out.push_str(".*"),
            '_' => out.push('.'),
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out.push_str(r")\n?\z");
    out
}

/// Bridges the Python `re` dialect patterns are written in and the `regex` crate: `\Z`
/// is `\z`, and outside multi-line mode `$` also matches before a final newline. Constructs
/// `regex` lacks (backreferences, look-around) fail to compile and are reported.
pub(super) fn translate_python_regex(src: &str) -> String {
    let multiline = src.contains("(?m") || src.contains("(?sm") || src.contains("(?im");
    let mut out = String::with_capacity(src.len() + 8);
    let mut chars = src.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('Z') => out.push_str(r"\z"),
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str(r"\]");
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '$' if !in_class && !multiline => out.push_str(r"(?:\n?\z)"),
            c => out.push(c),
        }
    }
    out
}

/// `*_hex` and `*_bin` properties hold binary data; comparisons see the bytes.
pub(super) fn decode_suffixed<'a>(key: &str, v: &'a Value) -> Result<Val<'a>, EvalError> {
    if key.ends_with("_hex") {
        let s = v
            .as_str()
            .ok_or_else(|| EvalError::new(format!("{key} is not a hex string")))?;
        if s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(EvalError::new(format!("{key} is not valid hex")));
        }
        return Ok(Val::Bytes(
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
                .collect(),
        ));
    }
    if key.ends_with("_bin") {
        let s = v
            .as_str()
            .filter(|s| s.is_ascii())
            .ok_or_else(|| EvalError::new(format!("{key} is not a base64 string")))?;
        return crate::pattern::base64::decode(s)
            .map(Val::Bytes)
            .ok_or_else(|| EvalError::new(format!("{key} is not valid base64")));
    }
    Ok(Val::Json(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_like_inet_aton() {
        assert_eq!(inet_aton("1.2.3.4"), Some(0x01020304));
        assert_eq!(inet_aton("127.1"), Some(0x7f000001));
        assert_eq!(inet_aton("0x7f.1"), Some(0x7f000001));
        assert_eq!(inet_aton("256.1.1.1"), None);
        assert!(ip_in_subnet("10.1.2.3", "10.0.0.0/8").unwrap());
        assert!(!ip_in_subnet("10.0.0.0/7", "10.0.0.0/8").unwrap());
        assert!(ip_in_subnet("10.0.0.0/8", "10.0.0.0/0").is_err());
        assert!(ip_in_subnet("2001:db8::1", "2001:db8::/32").unwrap());
    }

    #[test]
    fn like_regex() {
        let re = Regex::new(&like_to_regex("a%b_.c")).unwrap();
        assert!(re.is_match("axxxbz.c"));
        assert!(re.is_match("ab_.c\n"));
        assert!(!re.is_match("ab_xc"));
    }
}
