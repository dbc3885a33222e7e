//! Reading observed-data for evaluation: bundles flattened, `object_refs` resolved against
//! the SCOs supplied alongside (or a STIX 2.0-style `objects` dictionary), timestamps read
//! the way the reference matcher reads them.

use std::collections::HashMap;

use serde_json::Value;

use super::EvalError;

/// Observed-data read for evaluation: bundles flattened, `object_refs` resolved,
/// timestamps parsed. Borrows the JSON it was made from.
pub struct Observations<'a> {
    pub(super) obs: Vec<Obs<'a>>,
}

impl<'a> Observations<'a> {
    /// Reads observed-data from `values` (see the module docs for the accepted shapes).
    /// Errors for observed-data without `number_observed` (at least 1), `first_observed`,
    /// `last_observed`, or with neither `object_refs` nor an `objects` dictionary.
    pub fn new(values: &'a [Value]) -> Result<Self, EvalError> {
        Ok(Observations {
            obs: collect_observations(values)?,
        })
    }

    /// How many observed-data objects were found.
    pub fn len(&self) -> usize {
        self.obs.len()
    }

    /// No observed-data was found (nothing can match).
    pub fn is_empty(&self) -> bool {
        self.obs.is_empty()
    }
}

pub(super) struct Obs<'a> {
    pub(super) first: i64,
    pub(super) last: i64,
    pub(super) number: u64,
    /// (id or dictionary key, object, its `type`), read once so that tests need not
    /// look the type up again.
    pub(super) objects: Vec<(&'a str, &'a Value, Option<&'a str>)>,
}

pub(super) fn type_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

pub(super) fn collect_observations(input: &[Value]) -> Result<Vec<Obs<'_>>, EvalError> {
    // Each value with its type, read once.
    let mut flat: Vec<(&Value, Option<&str>)> = Vec::new();
    for v in input {
        let ty = type_of(v);
        if ty == Some("bundle") {
            if let Some(objs) = v.get("objects").and_then(Value::as_array) {
                flat.extend(objs.iter().map(|o| (o, type_of(o))));
            }
        } else {
            flat.push((v, ty));
        }
    }
    let mut scos: HashMap<&str, &Value> = HashMap::new();
    for (v, ty) in &flat {
        if *ty != Some("observed-data") {
            if let Some(id) = v.get("id").and_then(Value::as_str) {
                scos.insert(id, v);
            }
        }
    }
    let mut out = Vec::new();
    for (v, ty) in flat {
        if ty != Some("observed-data") {
            continue;
        }
        let field = |k: &str| {
            v.get(k).ok_or_else(|| {
                EvalError::new(format!(
                    "observed-data {} lacks {k} (needs number_observed, first_observed, last_observed)",
                    v.get("id").and_then(Value::as_str).unwrap_or("(no id)")
                ))
            })
        };
        let number = field("number_observed")?
            .as_u64()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                EvalError::new("observed-data with invalid number_observed (must be >= 1)")
            })?;
        let time = |k: &str| -> Result<i64, EvalError> {
            let s = field(k)?
                .as_str()
                .ok_or_else(|| EvalError::new(format!("{k} is not a string")))?;
            parse_timestamp(s).ok_or_else(|| EvalError::new(format!("invalid {k} timestamp {s:?}")))
        };
        let (first, last) = (time("first_observed")?, time("last_observed")?);
        let objects = if let Some(refs) = v.get("object_refs") {
            let refs = refs
                .as_array()
                .ok_or_else(|| EvalError::new("object_refs is not a list"))?;
            refs.iter()
                .filter_map(Value::as_str)
                .filter_map(|r| scos.get_key_value(r).map(|(k, v)| (*k, *v, type_of(v))))
                .collect()
        } else if let Some(map) = v.get("objects").and_then(Value::as_object) {
            map.iter()
                .map(|(k, o)| (k.as_str(), o, type_of(o)))
                .collect()
        } else {
            return Err(EvalError::new(
                "observed-data needs object_refs (STIX 2.1) or an objects dictionary (STIX 2.0)",
            ));
        };
        out.push(Obs {
            first,
            last,
            number,
            objects,
        });
    }
    Ok(out)
}

/// Reads `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` into microseconds since the epoch, as Python's
/// `strptime` does for the reference matcher: upper-case `T`/`Z` only, 1-2 digit fields
/// accepted, fractions beyond microseconds truncated, impossible dates and leap seconds
/// refused.
pub(super) fn parse_timestamp(s: &str) -> Option<i64> {
    if s.chars().any(char::is_lowercase) {
        return None;
    }
    let b = s.as_bytes();
    if b.len() < 4 || !b[..4].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let year: i64 = s[..4].parse().ok()?;
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    // Month, day, hour, minute, second: one or two digits each, after their separator.
    let mut fields = [0i64; 5];
    let mut pos = 4;
    for (k, sepc) in [b'-', b'-', b'T', b':', b':'].iter().enumerate() {
        if !sep(pos, *sepc) {
            return None;
        }
        pos += 1;
        let start = pos;
        while pos < b.len() && pos - start < 2 && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start {
            return None;
        }
        fields[k] = s[start..pos].parse().ok()?;
    }
    let [month, day, hour, minute, second] = fields;
    let mut micros = 0i64;
    if sep(pos, b'.') {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let digits = &s[start..pos];
        if digits.is_empty() {
            return None;
        }
        let kept = &digits[..digits.len().min(6)];
        micros = kept.parse::<i64>().ok()? * 10i64.pow(6 - kept.len() as u32);
    }
    if !(sep(pos, b'Z') && pos + 1 == b.len()) {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if year < 1 || day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000_000 + second * 1_000_000 + micros)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(super) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(
            parse_timestamp("1970-01-01T00:00:00.1234567Z"),
            Some(123_456)
        );
        assert_eq!(parse_timestamp("2020-02-30T00:00:00Z"), None);
        assert_eq!(parse_timestamp("2020-02-29T00:00:00z"), None);
        assert_eq!(parse_timestamp("2020-12-31T23:59:60Z"), None);
        assert!(parse_timestamp("2000-03-01T00:00:00Z") > parse_timestamp("2000-02-29T23:59:59Z"));
    }
}
