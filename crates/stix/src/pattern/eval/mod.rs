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
use std::collections::HashSet;

use regex::Regex;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use super::ast::*;
use super::error::EvalError;

mod observations;
mod values;

pub use observations::Observations;
use observations::{parse_timestamp, Obs};
use values::{decode_suffixed, like_to_regex, translate_python_regex, PyRegex, Val};

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
        let mut out = Results::new(need);
        let mut expanded: HashSet<(usize, Binding)> = HashSet::new();
        let mut stack: Vec<(usize, Binding)> =
            parts[0].iter().rev().map(|b| (1, b.clone())).collect();
        while let Some((k, acc)) = stack.pop() {
            self.tick()?;
            if k == parts.len() {
                if out.add(acc)? {
                    break;
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
        Ok(out.found)
    }

    /// Sums of `times` bindings from `base` (repetition allowed: a binding stands for
    /// interchangeable sightings) that fit the observations' multiplicities and the
    /// filters. Depth-first over non-decreasing indexes into `base`, pruned when the
    /// sightings left could not make up the missing repetitions.
    fn repeat(&self, base: &[Binding], times: u64, need: &Need) -> Result<Vec<Binding>, EvalError> {
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
        let mut out = Results::new(need);
        let mut stack: Vec<(usize, u64, Binding)> = (0..base.len())
            .rev()
            .map(|i| (i, 1, base[i].clone()))
            .collect();
        while let Some((i, count, acc)) = stack.pop() {
            self.tick()?;
            if count == times {
                if out.add(acc)? {
                    break;
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
        Ok(out.found)
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

/// The complete bindings a depth-first search ([`Ctx::combine`],
/// [`Ctx::repeat`]) has found: each kept once, the search told to stop once the
/// parent's limit is reached, and refused past [`MAX_BINDINGS`]. Shared so every search
/// counts and caps its results the same way.
struct Results {
    found: Vec<Binding>,
    seen: HashSet<Binding>,
    limit: usize,
}

impl Results {
    fn new(need: &Need) -> Self {
        Results {
            found: Vec::new(),
            seen: HashSet::new(),
            limit: need.limit.unwrap_or(usize::MAX),
        }
    }

    /// Keep `b` unless found before; `Ok(true)` once the limit is reached (stop searching).
    fn add(&mut self, b: Binding) -> Result<bool, EvalError> {
        if self.seen.insert(b.clone()) {
            self.found.push(b);
            if self.found.len() >= self.limit {
                return Ok(true);
            }
            if self.found.len() > MAX_BINDINGS {
                return Err(too_costly());
            }
        }
        Ok(false)
    }
}

fn too_costly() -> EvalError {
    EvalError::new(format!(
        "pattern too costly to evaluate on this data (more than {MAX_BINDINGS} candidate bindings or {MAX_SEARCH_STEPS} search steps)"
    ))
}
