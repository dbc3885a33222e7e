//! Canonical forms of threat observables.
//!
//! Every path into threatgate (ingest, search, matching, enrichment) must agree on
//! what "the same observable" means, or merging and matching silently miss. This crate
//! is that single definition, with no I/O so that the matcher and the application share it:
//!
//! - IP addresses and CIDRs: host bits zeroed; a full-length prefix becomes a plain address.
//! - Domains: lower-case, IDNA punycode, trailing dot stripped, at least two labels.
//! - URLs: scheme and host lower-case, IDNA host, default port removed, trailing host dot
//!   stripped (via the WHATWG parser of the `url` crate).
//! - Hashes: lower-case hex; the length decides md5 / sha1 / sha256 / sha512.
//! - Email addresses: domain part canonical as a domain, local part kept.
//!
//! Defanged input (`hxxp`, `[.]`, `(.)`, `[:]`, `[at]`) is refanged first by [`refang`].

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Longest value accepted. URLs in the wild exceed 2 KiB, but anything near this bound
/// is an attack on the store, not an indicator.
pub const MAX_VALUE_LEN: usize = 8192;

/// The kinds of observable the exchange merges on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// IPv4 address or CIDR.
    Ipv4,
    /// IPv6 address or CIDR.
    Ipv6,
    Domain,
    Url,
    Md5,
    Sha1,
    Sha256,
    Sha512,
    Email,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Ipv4,
        Kind::Ipv6,
        Kind::Domain,
        Kind::Url,
        Kind::Md5,
        Kind::Sha1,
        Kind::Sha256,
        Kind::Sha512,
        Kind::Email,
    ];

    /// Stable name used in the store, the CLI and JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Ipv4 => "ipv4-addr",
            Kind::Ipv6 => "ipv6-addr",
            Kind::Domain => "domain-name",
            Kind::Url => "url",
            Kind::Md5 => "md5",
            Kind::Sha1 => "sha1",
            Kind::Sha256 => "sha256",
            Kind::Sha512 => "sha512",
            Kind::Email => "email-addr",
        }
    }

    /// The STIX cyber-observable type that carries this kind (hashes live on `file`).
    pub fn stix_type(self) -> &'static str {
        match self {
            Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Sha512 => "file",
            other => other.as_str(),
        }
    }

    /// The STIX object path used in a pattern for this kind.
    pub fn stix_path(self) -> &'static str {
        match self {
            Kind::Ipv4 => "ipv4-addr:value",
            Kind::Ipv6 => "ipv6-addr:value",
            Kind::Domain => "domain-name:value",
            Kind::Url => "url:value",
            Kind::Md5 => "file:hashes.MD5",
            Kind::Sha1 => "file:hashes.'SHA-1'",
            Kind::Sha256 => "file:hashes.'SHA-256'",
            Kind::Sha512 => "file:hashes.'SHA-512'",
            Kind::Email => "email-addr:value",
        }
    }

    pub fn is_hash(self) -> bool {
        matches!(self, Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Sha512)
    }

    /// The STIX hash algorithm name for a hash kind (`MD5`, `SHA-1`, ...); `None` otherwise.
    /// The inverse of [`Kind::from_hash_algorithm`].
    pub fn stix_hash_algorithm(self) -> Option<&'static str> {
        match self {
            Kind::Md5 => Some("MD5"),
            Kind::Sha1 => Some("SHA-1"),
            Kind::Sha256 => Some("SHA-256"),
            Kind::Sha512 => Some("SHA-512"),
            _ => None,
        }
    }

    /// The hash kind for a STIX hash algorithm name (`MD5`, `SHA-256`, `sha256`, ...).
    pub fn from_hash_algorithm(name: &str) -> Option<Kind> {
        let n: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        match n.as_str() {
            "md5" => Some(Kind::Md5),
            "sha1" => Some(Kind::Sha1),
            "sha256" => Some(Kind::Sha256),
            "sha512" => Some(Kind::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let l = s.trim().to_ascii_lowercase();
        Ok(match l.as_str() {
            "ipv4-addr" | "ipv4" | "ip" | "ip-dst" | "ip-src" | "ipv4_addr" | "ip:port" => {
                Kind::Ipv4
            }
            "ipv6-addr" | "ipv6" => Kind::Ipv6,
            "domain-name" | "domain" | "hostname" | "fqdn" | "host" => Kind::Domain,
            "url" | "uri" | "link" => Kind::Url,
            "md5" | "filehash-md5" | "file:md5" => Kind::Md5,
            "sha1" | "sha-1" | "filehash-sha1" | "file:sha1" => Kind::Sha1,
            "sha256" | "sha-256" | "filehash-sha256" | "file:sha256" => Kind::Sha256,
            "sha512" | "sha-512" | "filehash-sha512" | "file:sha512" => Kind::Sha512,
            "email-addr" | "email" | "email-src" | "email-dst" | "e-mail" => Kind::Email,
            _ => return Err(Error::UnknownKind(s.to_string())),
        })
    }
}

/// Why a value is not a valid observable. Messages are meant for the person who sent it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("empty value")]
    Empty,
    #[error("value is {0} bytes long; the limit is {MAX_VALUE_LEN}")]
    TooLong(usize),
    #[error("unknown observable type {0:?}")]
    UnknownKind(String),
    #[error("{value:?} is not a valid {kind}: {reason}")]
    Invalid {
        kind: Kind,
        value: String,
        reason: String,
    },
    #[error("cannot tell what kind of observable {0:?} is")]
    Unrecognised(String),
}

fn invalid(kind: Kind, value: &str, reason: impl Into<String>) -> Error {
    let mut v = value.to_string();
    if v.len() > 120 {
        let mut cut = 117;
        while !v.is_char_boundary(cut) {
            cut -= 1;
        }
        v.truncate(cut);
        v.push_str("...");
    }
    Error::Invalid {
        kind,
        value: v,
        reason: reason.into(),
    }
}

/// A canonical observable: the unit the exchange merges, matches and enriches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Observable {
    pub kind: Kind,
    pub value: String,
}

impl fmt::Display for Observable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

impl Observable {
    /// Canonicalise `raw` as `kind` (refanging first).
    pub fn parse(kind: Kind, raw: &str) -> Result<Observable, Error> {
        let raw = prepare(raw)?;
        let value = match kind {
            Kind::Ipv4 | Kind::Ipv6 => {
                let v = canonical_ip_or_cidr(&raw).ok_or_else(|| {
                    invalid(
                        kind,
                        &raw,
                        "not an IP address or CIDR (e.g. 192.0.2.1, 2001:db8::/32)",
                    )
                })?;
                let is_v4 = !v.contains(':');
                if is_v4 != (kind == Kind::Ipv4) {
                    return Err(invalid(
                        kind,
                        &raw,
                        if is_v4 {
                            "this is an IPv4 address"
                        } else {
                            "this is an IPv6 address"
                        },
                    ));
                }
                v
            }
            Kind::Domain => canonical_domain(&raw).map_err(|r| invalid(kind, &raw, r))?,
            Kind::Url => canonical_url(&raw).map_err(|r| invalid(kind, &raw, r))?,
            Kind::Email => canonical_email(&raw).map_err(|r| invalid(kind, &raw, r))?,
            Kind::Md5 | Kind::Sha1 | Kind::Sha256 | Kind::Sha512 => {
                let h = canonical_hash(&raw).map_err(|r| invalid(kind, &raw, r))?;
                if hash_kind(h.len()) != Some(kind) {
                    return Err(invalid(
                        kind,
                        &raw,
                        format!("{} hex digits; {} needs {}", h.len(), kind, hash_len(kind)),
                    ));
                }
                h
            }
        };
        Ok(Observable { kind, value })
    }

    /// Canonicalise a value of unknown kind, guessing the kind from its shape.
    pub fn detect(raw: &str) -> Result<Observable, Error> {
        detect_with_port(raw).map(|(o, _)| o)
    }

    /// The host part for URLs, the domain for emails, the value itself for domains.
    pub fn host(&self) -> Option<&str> {
        match self.kind {
            Kind::Domain => Some(&self.value),
            Kind::Email => self.value.rsplit_once('@').map(|(_, d)| d),
            Kind::Url => canonical_url_host(&self.value),
            _ => None,
        }
    }

    /// The IP this observable names directly (an address, or a URL with an IP-literal host).
    pub fn ip(&self) -> Option<IpAddr> {
        match self.kind {
            Kind::Ipv4 | Kind::Ipv6 => self.value.parse().ok(),
            Kind::Url => canonical_url_host(&self.value)
                .and_then(|h| h.trim_start_matches('[').trim_end_matches(']').parse().ok()),
            _ => None,
        }
    }

    /// The network, for CIDR values (`None` for a single address).
    pub fn network(&self) -> Option<IpNet> {
        match self.kind {
            Kind::Ipv4 | Kind::Ipv6 if self.value.contains('/') => self.value.parse().ok(),
            _ => None,
        }
    }
}

/// Like [`Observable::detect`], but keeps a port given as `IP:port` or `domain:port`
/// (maltrail trails carry `1.2.3.4:443`).
pub fn detect_with_port(raw: &str) -> Result<(Observable, Option<u16>), Error> {
    let s = prepare(raw)?;
    if let Some(v) = canonical_ip_or_cidr(&s) {
        let kind = if v.contains(':') {
            Kind::Ipv6
        } else {
            Kind::Ipv4
        };
        return Ok((Observable { kind, value: v }, None));
    }
    // IPv4:port or [IPv6]:port
    if let Some((host, port)) = split_host_port(&s) {
        if let Some(v) = canonical_ip_or_cidr(host) {
            let kind = if v.contains(':') {
                Kind::Ipv6
            } else {
                Kind::Ipv4
            };
            return Ok((Observable { kind, value: v }, Some(port)));
        }
        if looks_like_domain(host) {
            if let Ok(d) = canonical_domain(host) {
                return Ok((
                    Observable {
                        kind: Kind::Domain,
                        value: d,
                    },
                    Some(port),
                ));
            }
        }
    }
    if has_scheme(&s) {
        return Observable::parse(Kind::Url, &s).map(|o| (o, None));
    }
    if s.contains('@') && !s.contains('/') {
        return Observable::parse(Kind::Email, &s).map(|o| (o, None));
    }
    if s.bytes().all(|b| b.is_ascii_hexdigit()) {
        if let Some(kind) = hash_kind(s.len()) {
            return Ok((
                Observable {
                    kind,
                    value: s.to_ascii_lowercase(),
                },
                None,
            ));
        }
    }
    if looks_like_ipv4ish(&s) {
        // Dotted digits that failed to parse as an address: 999.1.1.1 is a bad IP, not a domain.
        return Err(invalid(Kind::Ipv4, &s, "octets must be 0-255"));
    }
    if s.contains('/') {
        // maltrail-style "host/path" without scheme.
        let host = s.split('/').next().unwrap_or("");
        if looks_like_domain(host)
            || canonical_ip_or_cidr(host.split(':').next().unwrap_or("")).is_some()
        {
            return Observable::parse(Kind::Url, &format!("http://{s}")).map(|o| (o, None));
        }
    }
    if looks_like_domain(&s) {
        return Observable::parse(Kind::Domain, &s).map(|o| (o, None));
    }
    Err(Error::Unrecognised(truncate_for_error(&s)))
}

fn truncate_for_error(s: &str) -> String {
    if s.len() <= 120 {
        return s.to_string();
    }
    let mut cut = 117;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &s[..cut])
}

fn prepare(raw: &str) -> Result<String, Error> {
    let t = raw.trim().trim_start_matches('\u{feff}');
    if t.is_empty() {
        return Err(Error::Empty);
    }
    if t.len() > MAX_VALUE_LEN {
        return Err(Error::TooLong(t.len()));
    }
    Ok(refang(t).into_owned())
}

/// Undo the common ways analysts "defang" indicators so they cannot be clicked.
///
/// Bracketed forms are matched in any case (`[DOT]`, `(At)`) and nested ones are undone
/// whole (`[[.]]` is a dot): the output never holds a defanged form, so refanging is
/// idempotent and canonical forms stay stable.
pub fn refang(s: &str) -> Cow<'_, str> {
    /// Every bracketed form ends in a closing bracket and no replacement does, so a form
    /// can only be completed by appending a closing bracket.
    const FORMS: [(&str, &str); 11] = [
        ("[://]", "://"),
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("[:]", ":"),
        ("[at]", "@"),
        ("(at)", "@"),
        ("[@]", "@"),
        ("[/]", "/"),
    ];
    let lower_start = s.get(..5).map(|p| p.to_ascii_lowercase());
    let scheme_defanged = matches!(lower_start.as_deref(), Some(p) if p.starts_with("hxxp") || p.starts_with("hxxps") || p.starts_with("fxp:") || p.starts_with("hxtp"));
    if !scheme_defanged && !s.bytes().any(|b| matches!(b, b']' | b')' | b'}')) {
        return Cow::Borrowed(s);
    }
    let mut rest = s;
    let mut out = String::with_capacity(s.len());
    if scheme_defanged {
        for (from, to) in [
            ("hxxps", "https"),
            ("hxxp", "http"),
            ("hxtp", "http"),
            ("fxp", "ftp"),
        ] {
            if lower_start.as_deref().is_some_and(|l| l.starts_with(from)) {
                out.push_str(to);
                rest = &s[from.len()..];
                break;
            }
        }
    }
    // One pass: after each closing bracket, a form that now ends the output is replaced.
    for c in rest.chars() {
        out.push(c);
        if matches!(c, ']' | ')' | '}') {
            let tail = out.as_bytes();
            if let Some((from, to)) = FORMS.iter().find(|(from, _)| {
                tail.len() >= from.len()
                    && tail[tail.len() - from.len()..].eq_ignore_ascii_case(from.as_bytes())
            }) {
                out.truncate(out.len() - from.len());
                out.push_str(to);
            }
        }
    }
    if out == s {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(out)
    }
}

fn has_scheme(s: &str) -> bool {
    match s.find("://") {
        Some(i) if i > 0 => s[..i]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.'),
        _ => false,
    }
}

fn split_host_port(s: &str) -> Option<(&str, u16)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (h, p) = rest.split_once("]:")?;
        return Some((h, p.parse().ok()?));
    }
    let (h, p) = s.rsplit_once(':')?;
    if h.contains(':') || p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((h, p.parse().ok()?))
}

fn looks_like_ipv4ish(s: &str) -> bool {
    let core = s.split('/').next().unwrap_or(s);
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn looks_like_domain(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    s.contains('.')
        && !s.starts_with('.')
        && !s.contains("..")
        && s.chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.' || c == '_' || !c.is_ascii())
}

/// Canonical text of an IP address or CIDR, or `None` if it is neither.
pub fn canonical_ip_or_cidr(s: &str) -> Option<String> {
    if let Some((addr, len)) = s.split_once('/') {
        let ip: IpAddr = addr.parse().ok()?;
        let len: u8 = len.parse().ok()?;
        let net = IpNet::new(ip, len).ok()?.trunc();
        if net.prefix_len() == net.max_prefix_len() {
            return Some(canonical_ip(net.addr()));
        }
        return Some(net.to_string());
    }
    let ip: IpAddr = s.parse().ok()?;
    Some(canonical_ip(ip))
}

fn canonical_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            // Keep mapped addresses as IPv6: they arrive as IPv6 on the wire.
            Some(_) => v6.to_string(),
            None => v6.to_string(),
        },
        IpAddr::V4(v4) => v4.to_string(),
    }
}

/// Canonical domain: IDNA punycode, lower-case, no trailing dot, two or more labels.
pub fn canonical_domain(s: &str) -> Result<String, String> {
    let s = s.strip_suffix('.').unwrap_or(s);
    if s.is_empty() {
        return Err("empty domain".into());
    }
    if s.parse::<IpAddr>().is_ok() {
        return Err("this is an IP address, not a domain".into());
    }
    // Underscores are illegal in hostnames but common in real malicious DNS names; allow them
    // by bypassing strict IDNA for pure-ASCII input.
    let ascii = if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(s)
            .map_err(|_| "not a valid internationalised domain name".to_string())?
    };
    if ascii.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("a domain needs at least two labels (e.g. example.com)".into());
    }
    for l in &labels {
        if l.is_empty() {
            return Err("empty label".into());
        }
        if l.len() > 63 {
            return Err("a label is longer than 63 characters".into());
        }
        if !l
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(format!(
                "label {l:?} has characters not allowed in a domain"
            ));
        }
    }
    let tld = labels[labels.len() - 1];
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the last label is numeric: this looks like a malformed IP address".into());
    }
    Ok(ascii)
}

/// Canonical URL per the WHATWG URL standard, default port removed, host dot stripped.
///
/// The URL parser itself can reveal a defanged form that refanging did not see: it drops
/// tabs and newlines (`[a\tt]`), lower-cases the host (`(dOt)` before refanging was
/// case-blind) and removes dot segments (`[/./]` becomes `[/]`). Such a result is
/// refanged and parsed again, so that canonicalising is idempotent (found by fuzzing).
pub fn canonical_url(s: &str) -> Result<String, String> {
    let mut input = Cow::Borrowed(s);
    // Each round shortens the value (every refang replacement is shorter), so few suffice.
    for _ in 0..4 {
        let out = canonical_url_once(&input)?;
        if out.len() > MAX_VALUE_LEN {
            return Err(format!(
                "the canonical URL is {} bytes long (percent-encoding grows it); the limit is {MAX_VALUE_LEN}",
                out.len()
            ));
        }
        match refang(&out) {
            Cow::Borrowed(_) => return Ok(out),
            Cow::Owned(again) => input = Cow::Owned(again),
        }
    }
    Err("the URL keeps changing when refanged and parsed again".into())
}

fn canonical_url_once(s: &str) -> Result<String, String> {
    let with_scheme;
    let s = if has_scheme(s) {
        s
    } else {
        with_scheme = format!("http://{s}");
        &with_scheme
    };
    let mut u = url::Url::parse(s).map_err(|e| e.to_string())?;
    let host = u.host_str().ok_or("the URL has no host")?.to_string();
    // All trailing dots, not one: canonicalising must be idempotent (found by fuzzing).
    let stripped = host.trim_end_matches('.');
    if stripped != host && !stripped.is_empty() {
        u.set_host(Some(stripped)).map_err(|e| e.to_string())?;
    }
    // `url` already drops the scheme's default port and lower-cases scheme and host.
    Ok(u.to_string())
}

/// Host of a canonical URL (as [`canonical_url`] writes it): lower-case already, IPv6
/// literals with their brackets, `Some("")` for a URL with an empty authority. Read from the
/// text without parsing again; the matcher takes its URL-host keys from here too, so the
/// host an indicator is stored under is the host [`Observable::host`] reports.
pub fn canonical_url_host(u: &str) -> Option<&str> {
    let rest = &u[u.find("://")? + 3..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    if host_port.starts_with('[') {
        let close = host_port.find(']')?;
        return Some(&host_port[..=close]);
    }
    Some(host_port.split(':').next().unwrap_or(host_port))
}

fn canonical_email(s: &str) -> Result<String, String> {
    let s = s.strip_prefix("mailto:").unwrap_or(s);
    let (local, domain) = s.rsplit_once('@').ok_or("no @ in the address")?;
    if local.is_empty() || local.len() > 64 {
        return Err("the local part must be 1-64 characters".into());
    }
    if local.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the local part has whitespace or control characters".into());
    }
    let d = canonical_domain(domain)?;
    Ok(format!("{local}@{d}"))
}

fn canonical_hash(s: &str) -> Result<String, String> {
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("a hash is hexadecimal digits only".into());
    }
    if hash_kind(s.len()).is_none() {
        return Err(format!(
            "{} hex digits; md5, sha1, sha256 and sha512 have 32, 40, 64 and 128",
            s.len()
        ));
    }
    Ok(s.to_ascii_lowercase())
}

fn hash_kind(len: usize) -> Option<Kind> {
    match len {
        32 => Some(Kind::Md5),
        40 => Some(Kind::Sha1),
        64 => Some(Kind::Sha256),
        128 => Some(Kind::Sha512),
        _ => None,
    }
}

fn hash_len(kind: Kind) -> usize {
    match kind {
        Kind::Md5 => 32,
        Kind::Sha1 => 40,
        Kind::Sha256 => 64,
        Kind::Sha512 => 128,
        _ => 0,
    }
}

/// Parse an IPv4 address strictly (no leading zeros ambiguity beyond std's rules).
pub fn parse_ipv4(s: &str) -> Option<Ipv4Addr> {
    s.parse().ok()
}

/// Parse an IPv6 address.
pub fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Observable {
        Observable::detect(s).unwrap()
    }

    #[test]
    fn url_canonical_form_is_stable_with_many_trailing_host_dots() {
        // Fuzzing found `dc....` losing one dot per pass.
        let once = Observable::parse(Kind::Url, "http://c@dc....../1025").unwrap();
        assert_eq!(once.value, "http://c@dc/1025");
        assert_eq!(Observable::parse(Kind::Url, &once.value).unwrap(), once);
    }

    #[test]
    fn refangs_common_forms() {
        assert_eq!(refang("hxxp://evil[.]example/a"), "http://evil.example/a");
        assert_eq!(refang("HXXPS://a(.)b[.]c"), "https://a.b.c");
        assert_eq!(refang("1.2.3[.]4"), "1.2.3.4");
        assert_eq!(refang("user[at]mail[.]example"), "user@mail.example");
        assert_eq!(refang("plain.example"), "plain.example");
    }

    /// Found by the fuzz pass: `(dOt)` was left alone, the URL parser lower-cased it to
    /// `(dot)`, and canonicalising again changed the value.
    #[test]
    fn refangs_any_case_and_nesting_once_and_for_all() {
        assert_eq!(refang("evil(DOT)example[At]x"), "evil.example@x");
        assert_eq!(refang("a[[.]]b"), "a.b");
        assert_eq!(refang("a[(.)]b"), "a.b");
        assert_eq!(refang("hXXp[://]a[.]b"), "http://a.b");
        assert_eq!(refang("http://[2001:db8::1]/x"), "http://[2001:db8::1]/x");
        for v in [
            "malware_do(dOt)wnload",
            "http://a(dOt)b/",
            "x[[dot]]y",
            "q(({.}))r",
        ] {
            let once = refang(v).into_owned();
            assert_eq!(refang(&once), once, "{v}");
        }
        let u = d("http://malware_do(dOt)wnload/");
        assert_eq!(d(&u.value), u);
    }

    /// Found by the fuzz pass: forms the URL parser reveals (tabs dropped, dot segments
    /// removed), and a URL whose percent-encoding outgrows the value limit.
    #[test]
    fn canonical_urls_are_fixed_points() {
        for raw in [
            "http://h/a[a\tt]b",
            "http://h/x[/./]y",
            "http://H(DOT)example/p",
            "http://46.6.8.ch/url/aidtead[a\nt]17.284.://99.121:52037/bin.sh",
        ] {
            let once = Observable::parse(Kind::Url, raw).unwrap();
            assert_eq!(
                Observable::parse(Kind::Url, &once.value).unwrap(),
                once,
                "{raw}"
            );
            assert!(
                !once.value.contains("[at]") && !once.value.contains("[/]"),
                "{once}"
            );
        }
        let grows = format!("http://h/{}", "\u{fffd}".repeat(1000));
        assert!(grows.len() < MAX_VALUE_LEN);
        let e = Observable::parse(Kind::Url, &grows)
            .unwrap_err()
            .to_string();
        assert!(e.contains("limit"), "{e}");
    }

    #[test]
    fn detects_and_canonicalises() {
        assert_eq!(
            d("1.2.3.4"),
            Observable {
                kind: Kind::Ipv4,
                value: "1.2.3.4".into()
            }
        );
        assert_eq!(d("10.1.2.3/8").value, "10.0.0.0/8");
        assert_eq!(d("10.1.2.3/32").value, "10.1.2.3");
        assert_eq!(d("2001:DB8::1").value, "2001:db8::1");
        assert_eq!(d("2001:db8::1/32").value, "2001:db8::/32");
        assert_eq!(d("Evil.Example.").value, "evil.example");
        assert_eq!(d("bücher.example").value, "xn--bcher-kva.example");
        assert_eq!(
            d("HTTP://Evil.Example:80/A?b").value,
            "http://evil.example/A?b"
        );
        assert_eq!(
            d("https://evil.example.:443/").value,
            "https://evil.example/"
        );
        assert_eq!(d("D41D8CD98F00B204E9800998ECF8427E").kind, Kind::Md5);
        assert_eq!(d("a@Mail.Example").value, "a@mail.example");
        assert_eq!(
            d("evil.example/gate.php").value,
            "http://evil.example/gate.php"
        );
    }

    #[test]
    fn keeps_ports() {
        let (o, p) = detect_with_port("66.210.228.178:443").unwrap();
        assert_eq!((o.value.as_str(), p), ("66.210.228.178", Some(443)));
        let (o, p) = detect_with_port("[2001:db8::1]:8080").unwrap();
        assert_eq!((o.kind, p), (Kind::Ipv6, Some(8080)));
    }

    #[test]
    fn rejects_bad_values() {
        assert!(matches!(
            Observable::detect("999.1.1.1"),
            Err(Error::Invalid {
                kind: Kind::Ipv4,
                ..
            })
        ));
        assert!(Observable::parse(Kind::Ipv4, "999.1.1.1").is_err());
        assert!(Observable::parse(Kind::Sha256, "abcd").is_err());
        assert!(Observable::parse(Kind::Md5, "zz1d8cd98f00b204e9800998ecf8427e").is_err());
        assert!(Observable::parse(Kind::Ipv4, "2001:db8::1").is_err());
        assert!(Observable::parse(Kind::Domain, "localhost").is_err());
        assert!(Observable::detect("").is_err());
        assert!(Observable::detect("not a thing at all").is_err());
    }

    #[test]
    fn hash_algorithm_names_round_trip() {
        for k in Kind::ALL {
            match k.stix_hash_algorithm() {
                Some(alg) => assert_eq!(Kind::from_hash_algorithm(alg), Some(k)),
                None => assert!(!k.is_hash()),
            }
        }
    }

    #[test]
    fn hosts_and_ips() {
        assert_eq!(
            d("http://user@evil.example:8080/x").host(),
            Some("evil.example")
        );
        assert_eq!(
            d("http://1.2.3.4:81/x").ip(),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(
            d("http://[2001:db8::1]/x").ip(),
            Some("2001:db8::1".parse().unwrap())
        );
        assert_eq!(d("1.2.3.0/24").network().unwrap().prefix_len(), 24);
    }
}
