//! `key=value` syslog lines and ArcSight CEF.
//!
//! key=value: pairs `key=value` or `key="quoted value"` (`\"` escapes) separated by spaces;
//! text before the first pair (the syslog header and message) is the field [`MESSAGE_FIELD`],
//! tokenised. An unterminated quote takes the rest of the line (lenient: firewalls truncate).
//!
//! CEF: `[syslog header] CEF:Version|Vendor|Product|DeviceVersion|SignatureID|Name|Severity|Extension`
//! with `\|` and `\\` escaped in the header and `\=`, `\\`, `\n` in the extension, whose
//! values run up to the next ` key=`. The `Name` header field is tokenised as `name`, the
//! syslog header as [`MESSAGE_FIELD`]. A CEF line with fewer than seven `|`-separated header
//! fields is skipped as [`SkipReason::MalformedCef`].

use super::ParserScratch;
use crate::extract::LineCtx;
use crate::SkipReason;

/// Field name for the free text of a key=value / CEF line (syslog header, message).
pub const MESSAGE_FIELD: &str = "message";

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'[' | b']' | b'@' | b'/')
}

/// Start of the key that ends just before `eq` (an '='), if it is a key preceded by a space
/// or the start of `s`.
fn key_start(s: &[u8], eq: usize) -> Option<usize> {
    let mut k = eq;
    while k > 0 && is_key_byte(s[k - 1]) {
        k -= 1;
    }
    if k == eq || (k > 0 && !s[k - 1].is_ascii_whitespace()) {
        return None;
    }
    Some(k)
}

pub(crate) fn parse_kv_line(
    line: &[u8],
    sc: &mut ParserScratch,
    ctx: &mut LineCtx<'_>,
) -> Result<(), SkipReason> {
    let mut i = 0;
    let mut first_key: Option<usize> = None;
    let mut search = 0;
    while let Some(off) = memchr::memchr(b'=', &line[search..]) {
        let eq = search + off;
        search = eq + 1;
        if eq < i {
            continue;
        }
        let Some(ks) = key_start(line, eq) else {
            continue;
        };
        if ks < i {
            continue;
        }
        if first_key.is_none() {
            first_key = Some(ks);
            ctx.text(MESSAGE_FIELD, &line[..ks]);
        }
        let key = String::from_utf8_lossy(&line[ks..eq]);
        sc.kv_key.clear();
        sc.kv_key.push_str(&key);
        let vs = eq + 1;
        let (val_end, next): (usize, usize);
        if line.get(vs) == Some(&b'"') {
            // quoted value with \" escapes
            let mut j = vs + 1;
            let mut escaped = false;
            loop {
                match memchr::memchr2(b'"', b'\\', &line[j.min(line.len())..]) {
                    Some(k) if line[j + k] == b'\\' => {
                        escaped = true;
                        j += k + 2;
                    }
                    Some(k) => {
                        j += k;
                        break;
                    }
                    None => {
                        j = line.len();
                        break;
                    }
                }
            }
            let j = j.min(line.len());
            let raw = &line[vs + 1..j];
            if escaped {
                sc.buf.clear();
                let mut k = 0;
                while k < raw.len() {
                    if raw[k] == b'\\' && k + 1 < raw.len() {
                        sc.buf.push(raw[k + 1]);
                        k += 2;
                    } else {
                        sc.buf.push(raw[k]);
                        k += 1;
                    }
                }
                let v = std::mem::take(&mut sc.buf);
                ctx.field(&sc.kv_key, &v);
                sc.buf = v;
            } else {
                ctx.field(&sc.kv_key, raw);
            }
            val_end = j;
            next = j + 1;
        } else {
            let e = line[vs..]
                .iter()
                .position(|b| b.is_ascii_whitespace())
                .map_or(line.len(), |k| vs + k);
            ctx.field(&sc.kv_key, &line[vs..e]);
            val_end = e;
            next = e;
        }
        let _ = val_end;
        i = next;
        search = next.min(line.len());
    }
    if first_key.is_none() {
        ctx.text(MESSAGE_FIELD, line);
    }
    Ok(())
}

pub(crate) fn parse_cef_line(
    line: &[u8],
    sc: &mut ParserScratch,
    ctx: &mut LineCtx<'_>,
) -> Result<(), SkipReason> {
    static CEF: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"CEF:"));
    let Some(start) = CEF.find(line) else {
        // Not CEF at all: treat as key=value syslog, which also tokenises plain text.
        return parse_kv_line(line, sc, ctx);
    };
    ctx.text(MESSAGE_FIELD, &line[..start]);
    // Seven header fields separated by unescaped '|'.
    let mut i = start + 4;
    let mut fields: [(usize, usize); 7] = [(0, 0); 7];
    for (n, f) in fields.iter_mut().enumerate() {
        let s = i;
        loop {
            match memchr::memchr2(b'|', b'\\', &line[i..]) {
                Some(k) if line[i + k] == b'\\' => i += k + 2,
                Some(k) => {
                    i += k;
                    break;
                }
                None => return Err(SkipReason::MalformedCef),
            }
            if i > line.len() {
                return Err(SkipReason::MalformedCef);
            }
        }
        *f = (s, i);
        i += 1;
        let _ = n;
    }
    let (ns, ne) = fields[5];
    ctx.field("name", &line[ns..ne]);
    let ext = &line[i.min(line.len())..];
    // Extension: find every unescaped '=' that ends a key; a value runs to the next key.
    let mut keys: Vec<(usize, usize)> = Vec::new(); // (key start, '=' position)
    let mut j = 0;
    while let Some(k) = memchr::memchr(b'=', &ext[j..]) {
        let eq = j + k;
        j = eq + 1;
        if eq > 0 && ext[eq - 1] == b'\\' {
            continue;
        }
        if let Some(ks) = key_start(ext, eq) {
            keys.push((ks, eq));
        }
    }
    for (n, &(ks, eq)) in keys.iter().enumerate() {
        let end = keys.get(n + 1).map_or(ext.len(), |&(next_ks, _)| next_ks);
        let mut v = &ext[eq + 1..end];
        while let [rest @ .., b' ' | b'\t'] = v {
            v = rest;
        }
        sc.kv_key.clear();
        sc.kv_key.push_str(&String::from_utf8_lossy(&ext[ks..eq]));
        if memchr::memchr(b'\\', v).is_some() {
            sc.buf.clear();
            let mut k = 0;
            while k < v.len() {
                if v[k] == b'\\' && k + 1 < v.len() {
                    sc.buf.push(match v[k + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        o => o,
                    });
                    k += 2;
                } else {
                    sc.buf.push(v[k]);
                    k += 1;
                }
            }
            let b = std::mem::take(&mut sc.buf);
            ctx.field(&sc.kv_key, &b);
            sc.buf = b;
        } else {
            ctx.field(&sc.kv_key, v);
        }
    }
    Ok(())
}
