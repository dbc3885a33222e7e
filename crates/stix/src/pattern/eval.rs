//! Evaluating a pattern against observed-data, with the OASIS reference matcher's semantics.
//!
//! # Model
//!
//! Each observed-data is an *observation* with a time interval `[first_observed,
//! last_observed]` and a multiplicity `number_observed`: it stands for that many
//! interchangeable sightings. A comparison expression (`[…]`) selects observations that
//! hold a *root* object satisfying it; `AND` inside brackets needs one root object to pass
//! every test. Observation operators then look for a *binding*: an assignment of sightings
//! to every bracketed expression such that
//! - `A AND B`: A's and B's sightings are disjoint;
//! - `A OR B`: either side's binding;
//! - `A FOLLOWEDBY B`: disjoint, and the latest `first_observed` of A is not after the
//!   earliest `last_observed` of B;
//! - `REPEATS n TIMES`: n pairwise disjoint bindings of the operand;
//! - `WITHIN d SECONDS`: some window of d seconds touches every bound interval;
//! - `START s STOP e`: every bound interval meets `[s, e)`.
//!
//! The reference matcher enumerates sightings one by one. Because sightings of one
//! observation are interchangeable, a binding here is "how many sightings of each
//! observation", which answers the same question with far fewer candidates. The search is
//! depth-first and goal-directed: the root only needs one binding, so `AND`, `FOLLOWEDBY`
//! and `REPEATS` stop at the first one found; `WITHIN` and `START/STOP` are monotone (a
//! combination that violates them cannot be repaired by adding observations), so they prune
//! partial combinations; `REPEATS` gives up on a branch when the sightings left cannot make
//! up the missing repetitions. Every comparison is still evaluated on every observation
//! first, so data errors surface exactly as in the reference matcher. What remains
//! exponential is bounded by [`MAX_BINDINGS`] and [`MAX_SEARCH_STEPS`]: a hostile pattern
//! fails with an error instead of running forever.
//!
//! # Input shape
//!
//! [`Matcher::matches`] takes a slice of JSON values mixing any of: STIX 2.1 bundles
//! (flattened), observed-data with `object_refs` (resolved against the SCOs in the same
//! slice), observed-data with a STIX 2.0-style `objects` dictionary (references resolve
//! to the dictionary's keys), and the SCOs themselves.
//!
//! # Values
//!
//! Property values compare by the reference matcher's type rules: numbers with numbers,
//! strings with strings (by code point), binary (`*_hex`/`*_bin` properties, `h'…'`/`b'…'`
//! constants) with binary or with strings whose characters are all below U+0100,
//! timestamps with timestamps (a JSON string compared with `t'…'` is read as a timestamp),
//! booleans only for equality. Other pairings are "not equal" and "not ordered". `NOT`
//! inverts a test's result for each value; a root object whose path selects nothing never
//! passes a test (except `NOT EXISTS`).

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use ipnet::IpNet;
use regex::Regex;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::ast::*;
use super::error::EvalError;

/// Most candidate bindings one sub-expression may produce before evaluation gives up with
/// an error. Ordinary patterns over ordinary data produce a handful.
pub const MAX_BINDINGS: usize = 100_000;

/// Most combination steps one evaluation may take (joining, repeating) before it gives up
/// with an error. The search stops at the first binding when only existence matters, so
/// this is reached only by patterns that are expensive on the data at hand.
pub const MAX_SEARCH_STEPS: usize = 2_000_000;

/// STIX 2.1 domain object types: never cyber-observables, so a path on them never selects
/// anything (as in the reference matcher).
const SDO_TYPES: [&str; 25] = [
    "attack-pattern",
    "bundle",
    "campaign",
    "course-of-action",
    "extension-definition",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "language-content",
    "location",
    "malware",
    "malware-analysis",
    "marking-definition",
    "note",
    "observed-data",
    "opinion",
    "relationship",
    "report",
    "threat-actor",
    "tool",
    "sighting",
    "vulnerability",
];

/// A pattern prepared for evaluation: regular expressions compiled, timestamps and sets
/// checked. Cheap to share; `matches` does not mutate it.
#[derive(Debug)]
pub struct Matcher {
    root: ObsNode,
    /// The bracketed comparison expressions, in pattern order; `ObsNode::Leaf` indexes here.
    leaves: Vec<CmpNode>,
}

#[derive(Debug)]
enum ObsNode {
    Leaf(usize),
    And(Vec<ObsNode>),
    Or(Vec<ObsNode>),
    FollowedBy(Vec<ObsNode>),
    Within(Box<ObsNode>, i64),
    Repeats(Box<ObsNode>, u64),
    StartStop(Box<ObsNode>, i64, i64),
}

#[derive(Debug)]
enum CmpNode {
    And(Vec<CmpNode>),
    Or(Vec<CmpNode>),
    Test(Test),
}

#[derive(Debug)]
struct Test {
    object_type: String,
    steps: Vec<PathStep>,
    negated: bool,
    pred: Pred,
    /// The type is a STIX domain object type: the test never selects anything.
    sdo_type: bool,
    /// The path is one plain property (no `_ref`/`_refs`/`_hex`/`_bin` suffix): the
    /// common case, read without the general path walk.
    plain_key: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum OrderOp {
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug)]
enum Pred {
    Eq {
        lit: Lit,
        neq: bool,
    },
    Order {
        lit: Lit,
        op: OrderOp,
    },
    In {
        set: Vec<Lit>,
        timestamps: bool,
    },
    Like {
        re: Regex,
        bytes_ok: bool,
    },
    Matches {
        re: PyRegex,
        bin: Option<regex::bytes::Regex>,
    },
    IsSubset(String),
    IsSuperset(String),
    Exists,
}

/// A `MATCHES` expression. Most compile to the linear-time `regex` engine; those using
/// look-around or backreferences (which Python's `re`, and so the reference matcher,
/// accept) fall back to `fancy-regex`, whose backtracking is bounded by its step limit.
#[derive(Debug)]
enum PyRegex {
    Linear(Regex),
    Backtracking(fancy_regex::Regex),
}

impl PyRegex {
    fn is_match(&self, s: &str) -> Result<bool, EvalError> {
        match self {
            PyRegex::Linear(re) => Ok(re.is_match(s)),
            PyRegex::Backtracking(re) => re
                .is_match(s)
                .map_err(|e| EvalError::new(format!("MATCHES gave up: {e}"))),
        }
    }
}

/// A constant from the pattern, in the form comparisons use.
#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Int(i128),
    Float(f64),
    Str(String),
    Bool(bool),
    Bytes(Vec<u8>),
    /// Microseconds since the Unix epoch.
    Time(i64),
}

impl Matcher {
    /// Prepares `pattern`. Fails for constants that are well formed but meaningless:
    /// impossible timestamps, `REPEATS 0 TIMES`, `WITHIN 0 SECONDS`, mixed-type `IN` sets,
    /// and `MATCHES` expressions that are not valid regular expressions.
    pub fn new(pattern: &Pattern) -> Result<Matcher, EvalError> {
        let mut leaves = Vec::new();
        let root = prepare_obs(&pattern.root, &mut leaves)?;
        Ok(Matcher { root, leaves })
    }

    /// Does the pattern match these observations? Errors where the data cannot be read the
    /// way the pattern asks (see [`EvalError`]).
    pub fn matches(&self, observations: &[Value]) -> Result<bool, EvalError> {
        self.matches_observations(&Observations::new(observations)?)
    }

    /// Like [`Matcher::matches`] on observations read once with [`Observations::new`]:
    /// the way to test many patterns against the same events.
    pub fn matches_observations(&self, observations: &Observations<'_>) -> Result<bool, EvalError> {
        let ctx = Ctx {
            obs: &observations.obs,
            steps: Cell::new(0),
        };
        // Every comparison is evaluated, needed or not, so that data errors surface the
        // same way whatever the observation operators make of the results.
        if let ObsNode::Leaf(i) = self.root {
            // A single bracketed expression: any observation with a passing root object.
            return Ok(ctx.eval_cmp(&self.leaves[i])?.iter().any(|r| !r.is_empty()));
        }
        let mut leaves = Vec::with_capacity(self.leaves.len());
        for leaf in &self.leaves {
            leaves.push(
                ctx.eval_cmp(leaf)?
                    .iter()
                    .enumerate()
                    .filter(|(_, roots)| !roots.is_empty())
                    .map(|(o, _)| vec![(o as u32, 1)])
                    .collect::<Vec<Binding>>(),
            );
        }
        let need = Need {
            limit: Some(1),
            filters: Vec::new(),
        };
        Ok(!ctx.eval_obs(&self.root, &need, &leaves)?.is_empty())
    }
}

/// Observed-data read for evaluation: bundles flattened, `object_refs` resolved,
/// timestamps parsed. Borrows the JSON it was made from.
pub struct Observations<'a> {
    obs: Vec<Obs<'a>>,
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

// ---------------------------------------------------------------------------------------
// Preparation

fn prepare_obs(e: &ObservationExpr, leaves: &mut Vec<CmpNode>) -> Result<ObsNode, EvalError> {
    let mut all = |v: &[ObservationExpr]| {
        v.iter()
            .map(|x| prepare_obs(x, leaves))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match e {
        ObservationExpr::Observation(c) => {
            leaves.push(prepare_cmp(c)?);
            ObsNode::Leaf(leaves.len() - 1)
        }
        ObservationExpr::And(v) => ObsNode::And(all(v)?),
        ObservationExpr::Or(v) => ObsNode::Or(all(v)?),
        ObservationExpr::FollowedBy(v) => ObsNode::FollowedBy(all(v)?),
        ObservationExpr::Group(inner) => prepare_obs(inner, leaves)?,
        ObservationExpr::Qualified(inner, q) => {
            let inner = Box::new(prepare_obs(inner, leaves)?);
            match q {
                Qualifier::Within(n) => {
                    let secs = n.as_f64();
                    if secs <= 0.0 {
                        return Err(EvalError::new(format!(
                            "invalid WITHIN value (must be positive): {n}"
                        )));
                    }
                    let micros = (secs * 1e6).round();
                    if micros > i64::MAX as f64 / 2.0 {
                        return Err(EvalError::new(format!(
                            "WITHIN {n} SECONDS is out of range"
                        )));
                    }
                    ObsNode::Within(inner, micros as i64)
                }
                Qualifier::Repeats(0) => {
                    return Err(EvalError::new("invalid repetition count: 0"));
                }
                Qualifier::Repeats(n) => ObsNode::Repeats(inner, *n),
                Qualifier::StartStop(a, b) => {
                    ObsNode::StartStop(inner, literal_time(a)?, literal_time(b)?)
                }
            }
        }
    })
}

fn literal_time(t: &Timestamp) -> Result<i64, EvalError> {
    parse_timestamp(&t.0).ok_or_else(|| EvalError::new(format!("invalid timestamp {t}")))
}

fn prepare_cmp(c: &ComparisonExpr) -> Result<CmpNode, EvalError> {
    let all = |v: &[ComparisonExpr]| v.iter().map(prepare_cmp).collect::<Result<Vec<_>, _>>();
    Ok(match c {
        ComparisonExpr::And(v) => CmpNode::And(all(v)?),
        ComparisonExpr::Or(v) => CmpNode::Or(all(v)?),
        ComparisonExpr::Group(inner) => prepare_cmp(inner)?,
        ComparisonExpr::Test(t) => CmpNode::Test(prepare_test(t)?),
    })
}

fn to_lit(l: &Literal) -> Result<Lit, EvalError> {
    Ok(match l {
        Literal::Int(i) => Lit::Int(*i),
        Literal::Float(f) => Lit::Float(*f),
        Literal::Str(s) => Lit::Str(s.clone()),
        Literal::Bool(b) => Lit::Bool(*b),
        Literal::Binary(b) | Literal::Hex(b) => Lit::Bytes(b.clone()),
        Literal::Timestamp(t) => Lit::Time(literal_time(t)?),
    })
}

fn prepare_test(t: &PropTest) -> Result<Test, EvalError> {
    let pred = match &t.op {
        Operator::Eq(l) => Pred::Eq {
            lit: to_lit(l)?,
            neq: false,
        },
        Operator::Neq(l) => Pred::Eq {
            lit: to_lit(l)?,
            neq: true,
        },
        Operator::Lt(l) => Pred::Order {
            lit: to_lit(l)?,
            op: OrderOp::Lt,
        },
        Operator::Le(l) => Pred::Order {
            lit: to_lit(l)?,
            op: OrderOp::Le,
        },
        Operator::Gt(l) => Pred::Order {
            lit: to_lit(l)?,
            op: OrderOp::Gt,
        },
        Operator::Ge(l) => Pred::Order {
            lit: to_lit(l)?,
            op: OrderOp::Ge,
        },
        Operator::In(items) => {
            let set = items.iter().map(to_lit).collect::<Result<Vec<_>, _>>()?;
            let numeric = |l: &Lit| matches!(l, Lit::Int(_) | Lit::Float(_));
            let same_kind = set
                .windows(2)
                .all(|w| std::mem::discriminant(&w[0]) == std::mem::discriminant(&w[1]));
            if !(same_kind || set.iter().all(numeric)) {
                return Err(EvalError::new(format!(
                    "IN set mixes constant types: {}",
                    PropTest::clone(t)
                )));
            }
            let timestamps = matches!(set.first(), Some(Lit::Time(_)));
            Pred::In { set, timestamps }
        }
        Operator::Like(s) => {
            let re_src = like_to_regex(&s.nfc().collect::<String>());
            let bytes_ok = re_src.chars().all(|c| (c as u32) < 256);
            Pred::Like {
                re: Regex::new(&re_src)
                    .map_err(|e| EvalError::new(format!("LIKE pattern {s:?}: {e}")))?,
                bytes_ok,
            }
        }
        Operator::Matches(s) => {
            let src: String = s.nfc().collect();
            let translated = translate_python_regex(&src);
            let re = match Regex::new(&translated) {
                Ok(re) => PyRegex::Linear(re),
                // Look-around and backreferences need a backtracking engine.
                Err(_) => {
                    PyRegex::Backtracking(fancy_regex::Regex::new(&translated).map_err(|e| {
                        EvalError::new(format!(
                            "MATCHES regular expression {s:?} is not supported: {e}"
                        ))
                    })?)
                }
            };
            let bin = if src.chars().all(|c| (c as u32) < 256) {
                let latin1: String = translated
                    .chars()
                    .map(|c| {
                        if (c as u32) >= 0x80 {
                            format!("\\x{{{:02x}}}", c as u32)
                        } else {
                            c.to_string()
                        }
                    })
                    .collect();
                regex::bytes::Regex::new(&format!("(?-u:{latin1})")).ok()
            } else {
                None
            };
            Pred::Matches { re, bin }
        }
        Operator::IsSubset(s) => Pred::IsSubset(s.clone()),
        Operator::IsSuperset(s) => Pred::IsSuperset(s.clone()),
        Operator::Exists => Pred::Exists,
    };
    let plain_key = match t.path.steps.as_slice() {
        [PathStep::Key(k)]
            if !["_ref", "_refs", "_hex", "_bin"]
                .iter()
                .any(|suffix| k.ends_with(suffix)) =>
        {
            Some(k.clone())
        }
        _ => None,
    };
    Ok(Test {
        object_type: t.path.object_type.clone(),
        steps: t.path.steps.clone(),
        negated: t.negated,
        pred,
        sdo_type: SDO_TYPES.contains(&t.path.object_type.as_str()),
        plain_key,
    })
}

/// SQL LIKE to an anchored regex: `%` any run, `_` any one character; neither crosses a
/// newline, and a single trailing newline in the value is tolerated (Python `re`'s `$`,
/// which the reference matcher uses).
fn like_to_regex(like: &str) -> String {
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
fn translate_python_regex(src: &str) -> String {
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

// ---------------------------------------------------------------------------------------
// Observations

struct Obs<'a> {
    first: i64,
    last: i64,
    number: u64,
    /// (id or dictionary key, object, its `type`), read once so that tests need not
    /// look the type up again.
    objects: Vec<(&'a str, &'a Value, Option<&'a str>)>,
}

fn type_of(v: &Value) -> Option<&str> {
    v.get("type").and_then(Value::as_str)
}

fn collect_observations(input: &[Value]) -> Result<Vec<Obs<'_>>, EvalError> {
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
pub(crate) fn parse_timestamp(s: &str) -> Option<i64> {
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
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

// ---------------------------------------------------------------------------------------
// Comparison expressions

/// A value selected by an object path.
enum Val<'a> {
    Json(&'a Value),
    /// Decoded from a `*_hex` or `*_bin` property.
    Bytes(Vec<u8>),
    /// The objects a `*_refs` list resolved to.
    Objects(Vec<&'a Value>),
}

/// A value as the comparison rules see it.
#[derive(Clone, Copy)]
enum V<'a> {
    Int(i128),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    Bytes(&'a [u8]),
    Time(i64),
    /// null, lists, dictionaries: equal to nothing, ordered with nothing.
    Other,
}

fn view<'a>(v: &'a Val<'_>) -> V<'a> {
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

fn lit_view(l: &Lit) -> V<'_> {
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
fn py_eq(a: V, b: V) -> bool {
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
fn py_cmp(a: V, b: V) -> Option<Option<std::cmp::Ordering>> {
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
fn py_member(v: V, l: V) -> bool {
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

fn json_time(v: V, lit_is_time: bool) -> Result<Option<i64>, EvalError> {
    match v {
        V::Str(s) if lit_is_time => parse_timestamp(s)
            .map(Some)
            .ok_or_else(|| EvalError::new(format!("invalid timestamp in JSON: {s:?}"))),
        _ => Ok(None),
    }
}

impl Test {
    /// The test on one selected value. Errors where the reference matcher raises.
    fn check(&self, val: &Val) -> Result<bool, EvalError> {
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
fn inet_aton(s: &str) -> Option<u32> {
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
fn ip_in_subnet(inner: &str, outer: &str) -> Result<bool, EvalError> {
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

struct Ctx<'a, 'o> {
    obs: &'a [Obs<'o>],
    /// Search steps taken so far in this evaluation; bounded by `MAX_SEARCH_STEPS`.
    steps: Cell<usize>,
}

/// Per observation, the indexes (into its objects) of the root objects that passed.
type Roots = Vec<Vec<u32>>;

/// A binding: how many sightings of each observation (sorted by observation index).
type Binding = Vec<(u32, u64)>;

impl<'o> Ctx<'_, 'o> {
    fn select(
        &self,
        obs: &Obs<'o>,
        root: &'o Value,
        steps: &[PathStep],
    ) -> Result<Vec<Val<'o>>, EvalError> {
        let mut vals: Vec<Val<'o>> = vec![Val::Json(root)];
        for step in steps {
            let mut next = Vec::new();
            match step {
                PathStep::Key(k) => {
                    for v in &vals {
                        if let Val::Json(Value::Object(m)) = v {
                            if let Some(x) = m.get(k) {
                                next.push(decode_suffixed(k, x)?);
                            }
                        }
                    }
                    if k.ends_with("_ref") {
                        next = self.deref_one(obs, k, next)?;
                    } else if k.ends_with("_refs") {
                        next = self.deref_list(obs, k, next)?;
                    }
                }
                PathStep::Index(i) => {
                    let i = *i as usize;
                    for v in &vals {
                        match v {
                            Val::Json(Value::Array(a)) => {
                                if let Some(x) = a.get(i) {
                                    next.push(Val::Json(x));
                                }
                            }
                            Val::Objects(o) => {
                                if let Some(x) = o.get(i) {
                                    next.push(Val::Json(x));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                PathStep::AnyIndex => {
                    for v in &vals {
                        match v {
                            Val::Json(Value::Array(a)) => next.extend(a.iter().map(Val::Json)),
                            Val::Objects(o) => next.extend(o.iter().map(|x| Val::Json(x))),
                            _ => {}
                        }
                    }
                }
            }
            vals = next;
            if vals.is_empty() {
                break;
            }
        }
        Ok(vals)
    }

    fn resolve(&self, obs: &Obs<'o>, id: &str, out: &mut Vec<&'o Value>) {
        out.extend(
            obs.objects
                .iter()
                .filter(|(k, ..)| *k == id)
                .map(|(_, o, _)| *o),
        );
    }

    fn deref_one(
        &self,
        obs: &Obs<'o>,
        prop: &str,
        vals: Vec<Val<'o>>,
    ) -> Result<Vec<Val<'o>>, EvalError> {
        let mut out = Vec::new();
        for v in vals {
            match v {
                Val::Json(Value::String(id)) => {
                    let mut found = Vec::new();
                    self.resolve(obs, id, &mut found);
                    out.extend(found.into_iter().map(Val::Json));
                }
                _ => {
                    return Err(EvalError::new(format!(
                        "the value of reference property '{prop}' is not a string"
                    )))
                }
            }
        }
        Ok(out)
    }

    fn deref_list(
        &self,
        obs: &Obs<'o>,
        prop: &str,
        vals: Vec<Val<'o>>,
    ) -> Result<Vec<Val<'o>>, EvalError> {
        let mut out = Vec::new();
        for v in vals {
            let Val::Json(Value::Array(items)) = v else {
                return Err(EvalError::new(format!(
                    "the value of reference list property '{prop}' is not a list"
                )));
            };
            let mut found = Vec::new();
            for item in items {
                let id = item.as_str().ok_or_else(|| {
                    EvalError::new(format!(
                        "a value of reference property '{prop}' is not a string"
                    ))
                })?;
                self.resolve(obs, id, &mut found);
            }
            if !found.is_empty() {
                out.push(Val::Objects(found));
            }
        }
        Ok(out)
    }

    fn eval_test(&self, t: &Test) -> Result<Roots, EvalError> {
        let mut roots = Vec::with_capacity(self.obs.len());
        for obs in self.obs {
            let mut passed = Vec::new();
            if !t.sdo_type {
                for (j, (_, obj, ty)) in obs.objects.iter().enumerate() {
                    if *ty != Some(t.object_type.as_str()) {
                        continue;
                    }
                    if let Some(k) = &t.plain_key {
                        let ok = match obj.get(k) {
                            None => matches!(t.pred, Pred::Exists) && t.negated,
                            Some(_) if matches!(t.pred, Pred::Exists) => !t.negated,
                            Some(v) => t.check(&Val::Json(v))?,
                        };
                        if ok {
                            passed.push(j as u32);
                        }
                        continue;
                    }
                    let vals = self.select(obs, obj, &t.steps)?;
                    let ok = if let Pred::Exists = t.pred {
                        !vals.is_empty() ^ t.negated
                    } else {
                        let mut any = false;
                        for v in &vals {
                            if t.check(v)? {
                                any = true;
                                break;
                            }
                        }
                        any
                    };
                    if ok {
                        passed.push(j as u32);
                    }
                }
            }
            roots.push(passed);
        }
        Ok(roots)
    }

    fn eval_cmp(&self, c: &CmpNode) -> Result<Roots, EvalError> {
        match c {
            CmpNode::Test(t) => self.eval_test(t),
            CmpNode::And(items) => {
                let mut acc = self.eval_cmp(&items[0])?;
                for item in &items[1..] {
                    let r = self.eval_cmp(item)?;
                    for (a, b) in acc.iter_mut().zip(r) {
                        a.retain(|x| b.binary_search(x).is_ok());
                    }
                }
                Ok(acc)
            }
            CmpNode::Or(items) => {
                let mut acc = self.eval_cmp(&items[0])?;
                for item in &items[1..] {
                    let r = self.eval_cmp(item)?;
                    for (a, b) in acc.iter_mut().zip(r) {
                        if b.is_empty() {
                            continue;
                        }
                        if a.is_empty() {
                            *a = b;
                            continue;
                        }
                        a.extend(b);
                        a.sort_unstable();
                        a.dedup();
                    }
                }
                Ok(acc)
            }
        }
    }

    fn fits(&self, b: &Binding) -> bool {
        b.iter().all(|(o, c)| *c <= self.obs[*o as usize].number)
    }

    fn merge(a: &Binding, b: &Binding) -> Binding {
        let mut out = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            let (x, y) = (a[i], b[j]);
            match x.0.cmp(&y.0) {
                std::cmp::Ordering::Equal => {
                    out.push((x.0, x.1 + y.1));
                    i += 1;
                    j += 1;
                }
                std::cmp::Ordering::Less => {
                    out.push(x);
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    out.push(y);
                    j += 1;
                }
            }
        }
        out.extend_from_slice(&a[i..]);
        out.extend_from_slice(&b[j..]);
        out
    }

    fn checked_interval(&self, o: u32) -> Result<(i64, i64), EvalError> {
        let ob = &self.obs[o as usize];
        if ob.first > ob.last {
            return Err(EvalError::new(
                "observed-data has first_observed after last_observed",
            ));
        }
        Ok((ob.first, ob.last))
    }

    fn latest_first(&self, b: &Binding) -> i64 {
        b.iter()
            .map(|(o, _)| self.obs[*o as usize].first)
            .max()
            .unwrap_or(i64::MIN)
    }

    fn earliest_last(&self, b: &Binding) -> i64 {
        b.iter()
            .map(|(o, _)| self.obs[*o as usize].last)
            .min()
            .unwrap_or(i64::MAX)
    }

    fn tick(&self) -> Result<(), EvalError> {
        let n = self.steps.get() + 1;
        self.steps.set(n);
        if n > MAX_SEARCH_STEPS {
            return Err(too_costly());
        }
        Ok(())
    }

    /// Does `b` satisfy every filter? Filters are monotone, so this also prunes partial
    /// combinations.
    fn passes(&self, b: &Binding, filters: &[Filter]) -> Result<bool, EvalError> {
        for f in filters {
            match *f {
                Filter::Within(d) => {
                    // Some window of d touches every interval iff the latest start is not
                    // more than d after the earliest end.
                    let mut max_first = i64::MIN;
                    let mut min_last = i64::MAX;
                    for (o, _) in b {
                        let (first, last) = self.checked_interval(*o)?;
                        max_first = max_first.max(first);
                        min_last = min_last.min(last);
                    }
                    if max_first > min_last.saturating_add(d) {
                        return Ok(false);
                    }
                }
                Filter::StartStop(start, stop) => {
                    for (o, _) in b {
                        let (first, last) = self.checked_interval(*o)?;
                        if !(first < stop && last >= start) {
                            return Ok(false);
                        }
                    }
                }
            }
        }
        Ok(true)
    }

    /// The bindings of `n` that satisfy `need.filters`; at most `need.limit` of them.
    fn eval_obs(
        &self,
        n: &ObsNode,
        need: &Need,
        leaves: &[Vec<Binding>],
    ) -> Result<Vec<Binding>, EvalError> {
        let limit = need.limit.unwrap_or(usize::MAX);
        let all_of = Need {
            limit: None,
            filters: need.filters.clone(),
        };
        match n {
            ObsNode::Leaf(i) => {
                let mut out = Vec::new();
                for b in &leaves[*i] {
                    if out.len() >= limit {
                        break;
                    }
                    if self.passes(b, &need.filters)? {
                        out.push(b.clone());
                    }
                }
                Ok(out)
            }
            ObsNode::Or(items) => {
                let mut seen = HashSet::new();
                let mut out = Vec::new();
                for item in items {
                    for b in self.eval_obs(item, need, leaves)? {
                        if out.len() >= limit {
                            return Ok(out);
                        }
                        if seen.insert(b.clone()) {
                            out.push(b);
                        }
                    }
                }
                Ok(out)
            }
            ObsNode::And(items) | ObsNode::FollowedBy(items) => {
                let mut parts = Vec::with_capacity(items.len());
                for item in items {
                    let part = self.eval_obs(item, &all_of, leaves)?;
                    if part.is_empty() {
                        return Ok(Vec::new());
                    }
                    parts.push(part);
                }
                self.combine(&parts, matches!(n, ObsNode::FollowedBy(_)), need)
            }
            ObsNode::Within(inner, d) => {
                let mut inner_need = need.clone();
                inner_need.filters.push(Filter::Within(*d));
                self.eval_obs(inner, &inner_need, leaves)
            }
            ObsNode::StartStop(inner, start, stop) => {
                if start >= stop {
                    return Ok(Vec::new());
                }
                let mut inner_need = need.clone();
                inner_need.filters.push(Filter::StartStop(*start, *stop));
                self.eval_obs(inner, &inner_need, leaves)
            }
            ObsNode::Repeats(inner, times) => {
                if *times == 1 {
                    return self.eval_obs(inner, need, leaves);
                }
                let base = self.eval_obs(inner, &all_of, leaves)?;
                self.repeat(&base, *times, need)
            }
        }
    }

    /// One binding from each part, pairwise disjoint (`AND`), and for `FOLLOWEDBY` each
    /// part not starting after the next one ends. Depth-first, so that when only a few
    /// results are needed the first ones end the search.
    fn combine(
        &self,
        parts: &[Vec<Binding>],
        followed_by: bool,
        need: &Need,
    ) -> Result<Vec<Binding>, EvalError> {
        let limit = need.limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut expanded: HashSet<(usize, Binding)> = HashSet::new();
        let mut stack: Vec<(usize, Binding)> =
            parts[0].iter().rev().map(|b| (1, b.clone())).collect();
        while let Some((k, acc)) = stack.pop() {
            self.tick()?;
            if k == parts.len() {
                if seen.insert(acc.clone()) {
                    out.push(acc);
                    if out.len() >= limit {
                        break;
                    }
                    if out.len() > MAX_BINDINGS {
                        return Err(too_costly());
                    }
                }
                continue;
            }
            if !expanded.insert((k, acc.clone())) {
                continue;
            }
            let latest_first = self.latest_first(&acc);
            for r in parts[k].iter().rev() {
                if followed_by && latest_first > self.earliest_last(r) {
                    continue;
                }
                let m = Self::merge(&acc, r);
                if self.fits(&m) && self.passes(&m, &need.filters)? {
                    stack.push((k + 1, m));
                }
            }
        }
        Ok(out)
    }

    /// Sums of `times` bindings from `base` (repetition allowed: a binding stands for
    /// interchangeable sightings) that fit the observations' multiplicities and the
    /// filters. Depth-first over non-decreasing indexes into `base`, pruned when the
    /// sightings left could not make up the missing repetitions.
    fn repeat(&self, base: &[Binding], times: u64, need: &Need) -> Result<Vec<Binding>, EvalError> {
        let limit = need.limit.unwrap_or(usize::MAX);
        // For each i: the observations used by base[i..], and the smallest binding size.
        let mut suffix_obs: Vec<Vec<u32>> = vec![Vec::new(); base.len() + 1];
        let mut suffix_min: Vec<u64> = vec![u64::MAX; base.len() + 1];
        for i in (0..base.len()).rev() {
            let mut o: Vec<u32> = suffix_obs[i + 1].clone();
            o.extend(base[i].iter().map(|(x, _)| *x));
            o.sort_unstable();
            o.dedup();
            suffix_obs[i] = o;
            let size: u64 = base[i].iter().map(|(_, c)| c).sum();
            suffix_min[i] = suffix_min[i + 1].min(size.max(1));
        }
        let room = |i: usize, acc: &Binding| -> u64 {
            let spare: u64 = suffix_obs[i]
                .iter()
                .map(|o| {
                    let used = acc
                        .binary_search_by_key(o, |(x, _)| *x)
                        .map_or(0, |k| acc[k].1);
                    self.obs[*o as usize].number.saturating_sub(used)
                })
                .sum();
            spare / suffix_min[i]
        };
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut stack: Vec<(usize, u64, Binding)> = (0..base.len())
            .rev()
            .map(|i| (i, 1, base[i].clone()))
            .collect();
        while let Some((i, count, acc)) = stack.pop() {
            self.tick()?;
            if count == times {
                if seen.insert(acc.clone()) {
                    out.push(acc);
                    if out.len() >= limit {
                        break;
                    }
                    if out.len() > MAX_BINDINGS {
                        return Err(too_costly());
                    }
                }
                continue;
            }
            if count + room(i, &acc) < times {
                continue;
            }
            for k in (i..base.len()).rev() {
                let m = Self::merge(&acc, &base[k]);
                if self.fits(&m) && self.passes(&m, &need.filters)? {
                    stack.push((k, count + 1, m));
                }
            }
        }
        Ok(out)
    }
}

/// A constraint on bindings that, once violated, stays violated as observations are
/// added, so it can be checked on partial combinations.
#[derive(Debug, Clone, Copy)]
enum Filter {
    /// `WITHIN` this many microseconds.
    Within(i64),
    /// `START`/`STOP`, microseconds since the epoch.
    StartStop(i64, i64),
}

/// What a parent expression needs from a child: bindings satisfying `filters`, and only
/// `limit` of them (`None`: all, for parents that combine them further).
#[derive(Debug, Clone)]
struct Need {
    limit: Option<usize>,
    filters: Vec<Filter>,
}

fn too_costly() -> EvalError {
    EvalError::new(format!(
        "pattern too costly to evaluate on this data (more than {MAX_BINDINGS} candidate bindings or {MAX_SEARCH_STEPS} search steps)"
    ))
}

/// `*_hex` and `*_bin` properties hold binary data; comparisons see the bytes.
fn decode_suffixed<'a>(key: &str, v: &'a Value) -> Result<Val<'a>, EvalError> {
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
        return super::base64::decode(s)
            .map(Val::Bytes)
            .ok_or_else(|| EvalError::new(format!("{key} is not valid base64")));
    }
    Ok(Val::Json(v))
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
