//! Syntax of SCO values the spec constrains by reference to RFCs.
//!
//! STIX 2.1 says a `domain-name` value MUST conform to RFC 1034 with each label valid under
//! IDNA2008 (RFC 5890), and a `url` value MUST be a valid RFC 3986 URL. Threat data breaks
//! both all the time: typo-squats encoded as punycode of punctuation (`xn--stay-p96a` is
//! `‘stay`), labels with underscores, URLs with raw `[`, `|` or spaces in the path. The OASIS
//! validator rejects such SCOs, so we check them on the way in and repair or leave out the
//! SCO on the way out, keeping the raw value in the indicator's pattern, where any string
//! is allowed.
//!
//! The IDNA2008 code-point test is an approximation of the RFC 5892 tables that errs on the
//! strict side: a U-label may hold lower-case or caseless letters, combining marks, decimal
//! digits and hyphens, which is what PVALID covers in practice; everything else (punctuation,
//! symbols, spaces, upper case) is refused.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Why a domain name does not conform, or `Ok`.
pub fn check_domain_name(value: &str) -> Result<(), String> {
    let name = value.strip_suffix('.').unwrap_or(value);
    if name.is_empty() {
        return Err("empty domain name".into());
    }
    let mut ascii_len = 0;
    for label in name.split('.') {
        ascii_len += check_label(label)? + 1;
    }
    if ascii_len - 1 > 253 {
        return Err(format!("{} octets long; at most 253", ascii_len - 1));
    }
    Ok(())
}

/// Checks one label and returns its length in ASCII (A-label) form.
fn check_label(label: &str) -> Result<usize, String> {
    if label.is_empty() {
        return Err("empty label".into());
    }
    let lower = label.to_lowercase();
    let (unicode, ascii_len) = if lower.is_ascii() {
        match lower.strip_prefix("xn--") {
            Some(encoded) => {
                let decoded = idna::punycode::decode_to_string(encoded)
                    .ok_or_else(|| format!("label `{label}`: invalid punycode"))?;
                if decoded.is_ascii() {
                    return Err(format!("label `{label}`: punycode of plain ASCII"));
                }
                (decoded, lower.len())
            }
            None => (lower.clone(), lower.len()),
        }
    } else {
        let encoded = idna::punycode::encode_str(&lower)
            .ok_or_else(|| format!("label `{label}`: cannot be punycode-encoded"))?;
        (lower.clone(), encoded.len() + 4)
    };
    if ascii_len > 63 {
        return Err(format!("label `{label}` is {ascii_len} octets; at most 63"));
    }
    check_u_label(label, &unicode)?;
    Ok(ascii_len)
}

fn check_u_label(label: &str, u: &str) -> Result<(), String> {
    if u.nfc().ne(u.chars()) {
        return Err(format!("label `{label}` is not in Unicode NFC"));
    }
    if u.starts_with('-') || u.ends_with('-') {
        return Err(format!("label `{label}` starts or ends with a hyphen"));
    }
    if u.get(2..4) == Some("--") && !u.is_ascii() {
        return Err(format!(
            "label `{label}` has hyphens in the 3rd and 4th place"
        ));
    }
    if u.chars().next().is_some_and(is_combining_mark) {
        return Err(format!("label `{label}` starts with a combining mark"));
    }
    for c in u.chars() {
        let allowed = if c.is_ascii() {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        } else {
            ((c.is_alphabetic() && !c.is_uppercase()) || c.is_numeric() || is_combining_mark(c))
                && !c.is_whitespace()
        };
        if !allowed {
            return Err(format!(
                "label `{label}` holds U+{:04X} `{c}`, not allowed in a domain name",
                c as u32
            ));
        }
    }
    Ok(())
}

/// Why a string is not an RFC 3986 URI, or `Ok`.
pub fn check_uri(value: &str) -> Result<(), String> {
    let (scheme, rest) = value
        .split_once(':')
        .ok_or_else(|| "no scheme (`scheme:`)".to_string())?;
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return Err(format!("scheme `{scheme}` is not a valid URI scheme"));
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    let (hier, query) = match rest.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (rest, None),
    };
    let path = match hier.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            check_authority(&after[..end])?;
            &after[end..]
        }
        None => hier,
    };
    check_chars(path, "path", "/:@")?;
    if let Some(q) = query {
        check_chars(q, "query", "/:@?")?;
    }
    if let Some(f) = fragment {
        check_chars(f, "fragment", "/:@?")?;
    }
    Ok(())
}

fn check_authority(authority: &str) -> Result<(), String> {
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    if let Some(u) = userinfo {
        check_chars(u, "user info", ":")?;
    }
    let (host, port) = if let Some(literal) = hostport.strip_prefix('[') {
        let (inside, after) = literal
            .split_once(']')
            .ok_or_else(|| "unterminated `[` in host".to_string())?;
        if inside.parse::<std::net::Ipv6Addr>().is_err() && !inside.starts_with(['v', 'V']) {
            return Err(format!("`[{inside}]` is not an IP literal"));
        }
        (None, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(hostport), None),
        }
    };
    if let Some(h) = host {
        check_chars(h, "host", "")?;
    }
    if let Some(p) = port {
        if !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("port `{p}` is not a number"));
        }
    }
    Ok(())
}

/// Unreserved, sub-delims and `%XX` are allowed everywhere; `extra` adds the component's own.
fn check_chars(s: &str, component: &str, extra: &str) -> Result<(), String> {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Err(format!("{component}: `%` not followed by two hex digits"));
            }
            i += 3;
            continue;
        }
        if !(is_unreserved_or_sub_delim(b) || extra.as_bytes().contains(&b)) {
            let c = s[i..].chars().next().unwrap_or('?');
            return Err(format!("{component}: `{c}` must be percent-encoded"));
        }
        i += 1;
    }
    Ok(())
}

fn is_unreserved_or_sub_delim(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=".contains(&b)
}

/// The RFC 3986 form of a URL whose path, query or fragment holds characters that must be
/// percent-encoded (`[`, `|`, spaces, non-ASCII, a second `#`). The scheme and authority are
/// left alone; `None` when they are what does not conform.
pub fn escape_uri(value: &str) -> Option<String> {
    if check_uri(value).is_ok() {
        return Some(value.to_string());
    }
    let (scheme, rest) = value.split_once(':')?;
    let (authority, tail) = match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find(['/', '?', '#']).unwrap_or(after.len());
            (Some(&after[..end]), &after[end..])
        }
        None => (None, rest),
    };
    let mut out = String::with_capacity(value.len() + 16);
    out.push_str(scheme);
    out.push(':');
    if let Some(a) = authority {
        out.push_str("//");
        out.push_str(a);
    }
    let mut seen_fragment = false;
    let bytes = tail.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let keep = match b {
            b'#' if !seen_fragment => {
                seen_fragment = true;
                true
            }
            b'%' => bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
            b'/' | b':' | b'@' | b'?' => true,
            _ => is_unreserved_or_sub_delim(b),
        };
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    check_uri(&out).ok().map(|_| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names() {
        for ok in [
            "example.com",
            "example.com.",
            "bücher.de",
            "xn--bcher-kva.de",
            "a-b.c0",
        ] {
            assert!(
                check_domain_name(ok).is_ok(),
                "{ok}: {:?}",
                check_domain_name(ok)
            );
        }
        for bad in [
            "xn--stay-p96a.decentralappps.com",
            "a_b.example.com",
            "a..b",
            "-a.com",
            "a-.com",
            "",
            "xn--zz.com",
            &format!("{}.com", "a".repeat(64)),
            "‘stay.com",
            "a b.com",
        ] {
            assert!(check_domain_name(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn uris() {
        for ok in [
            "http://example.com/",
            "http://[::1]:8080/x?y=1#z",
            "https://u:p@h.example/a%20b",
            "mailto:a@b.c",
            "http://h/a?b=/c:d@e?f",
        ] {
            assert!(check_uri(ok).is_ok(), "{ok}: {:?}", check_uri(ok));
        }
        for bad in [
            "http://cs.go.kg/pages/[UPG]CSS.exe",
            "http://x.com/a b",
            "http://x.com/a|b",
            "http://x.com/é",
            "http://x.com/%zz",
            "no-scheme",
            "1http://x",
            "http://x.com:80a/",
            "http://x.com/#a#b",
        ] {
            assert!(check_uri(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn escaping_repairs_paths_but_not_hosts() {
        assert_eq!(
            escape_uri("http://cs.go.kg/pages/[UPG]CSS.exe").as_deref(),
            Some("http://cs.go.kg/pages/%5BUPG%5DCSS.exe")
        );
        assert_eq!(
            escape_uri("http://x.com/é?q=a b#f#g").as_deref(),
            Some("http://x.com/%C3%A9?q=a%20b#f%23g")
        );
        assert_eq!(
            escape_uri("http://x.com/a%41").as_deref(),
            Some("http://x.com/a%41")
        );
        assert_eq!(escape_uri("http://bad host/x"), None);
    }
}
