//! Timestamps found in log lines, parsed only for lines that hit (sightings need first/last
//! seen; unmatched lines never pay for date parsing).
//!
//! Accepted: epoch seconds with optional fraction (Zeek, squid), epoch milliseconds (13
//! digits, CEF `rt`), micro/nanoseconds (16/19 digits), RFC 3339, `YYYY-MM-DD HH:MM:SS[.f]`
//! (taken as UTC), CEF's `MMM dd yyyy HH:mm:ss`, and an RFC 5424 syslog prefix `<pri>1 `.
//! Anything else gives `None`: a timestamp is optional.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// Parse a timestamp value (one field).
pub fn parse_time(raw: &[u8]) -> Option<DateTime<Utc>> {
    let s = std::str::from_utf8(raw).ok()?.trim().trim_matches('"');
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_epoch(s);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for f in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%b %d %Y %H:%M:%S%.f",
        "%d/%b/%Y:%H:%M:%S",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    // "10/Oct/2000:13:55:36 -0700" (common log format)
    if let Ok(t) = DateTime::parse_from_str(s, "%d/%b/%Y:%H:%M:%S %z") {
        return Some(t.with_timezone(&Utc));
    }
    None
}

fn parse_epoch(s: &str) -> Option<DateTime<Utc>> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    // "2024.0.2.7" is digits and dots but no epoch (found by the `kv` fuzz target: the
    // second dot underflowed the fraction's digit arithmetic).
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = int.parse().ok()?;
    let (secs, nanos) = match int.len() {
        1..=11 => {
            let mut f = frac
                .as_bytes()
                .iter()
                .take(9)
                .fold(0u32, |a, b| a * 10 + (b - b'0') as u32);
            for _ in frac.len().min(9)..9 {
                f *= 10;
            }
            (n, f)
        }
        13 => (n / 1000, (n % 1000) as u32 * 1_000_000),
        16 => (n / 1_000_000, (n % 1_000_000) as u32 * 1000),
        19 => (n / 1_000_000_000, (n % 1_000_000_000) as u32),
        _ => return None,
    };
    Utc.timestamp_opt(secs, nanos).single()
}

/// The timestamp at the start of a free-text line: `2024-01-02T03:04:05Z ...`,
/// `2024-01-02 03:04:05 ...`, `<34>1 2024-...` (RFC 5424), or `1700000000.123 ...` (squid).
pub fn parse_line_prefix_time(line: &[u8]) -> Option<DateTime<Utc>> {
    let mut s = line;
    if s.first() == Some(&b'<') {
        let close = memchr::memchr(b'>', &s[..s.len().min(6)])?;
        s = &s[close + 1..];
        if s.starts_with(b"1 ") {
            s = &s[2..];
        }
    }
    let first_end = s
        .iter()
        .position(|&b| b == b' ' || b == b'\t')
        .unwrap_or(s.len());
    if let Some(t) = parse_time(&s[..first_end]) {
        return Some(t);
    }
    // Date and time as two tokens.
    if first_end == 10 && s.len() > 11 {
        let rest = &s[11..];
        let second_end = rest
            .iter()
            .position(|&b| b == b' ' || b == b'\t')
            .unwrap_or(rest.len());
        return parse_time(&s[..11 + second_end]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let want = Utc.with_ymd_and_hms(2023, 11, 14, 22, 13, 20).unwrap();
        assert_eq!(parse_time(b"1700000000"), Some(want));
        assert_eq!(parse_time(b"1700000000.000000"), Some(want));
        assert_eq!(parse_time(b"1700000000000"), Some(want));
        assert_eq!(parse_time(b"2023-11-14T22:13:20Z"), Some(want));
        assert_eq!(parse_time(b"2023-11-14T23:13:20+01:00"), Some(want));
        assert_eq!(parse_time(b"2023-11-14 22:13:20"), Some(want));
        assert_eq!(parse_time(b"Nov 14 2023 22:13:20"), Some(want));
        assert_eq!(parse_time(b"nonsense"), None);
        assert_eq!(parse_time(b"2024.0.2.7"), None);
        assert_eq!(parse_time(b"1700000000.5.1"), None);
        assert_eq!(
            parse_line_prefix_time(b"2023-11-14 22:13:20 GET x"),
            Some(want)
        );
        assert_eq!(
            parse_line_prefix_time(b"<34>1 2023-11-14T22:13:20Z host app - x"),
            Some(want)
        );
        assert_eq!(
            parse_line_prefix_time(b"1700000000.000 123 10.0.0.1"),
            Some(want)
        );
    }
}
