//! Extracting the plain indicator values a log matcher can index.
//!
//! The log matcher cannot run every pattern on every log line. It indexes canonical
//! observables (hash sets, a CIDR prefix table, domain suffixes) and only looks at a
//! pattern when one of its values shows up. [`compile`] gives it, per top-level
//! alternative of the pattern, the values that must be seen for that alternative to
//! match, and whether seeing one of them is already a match ([`Compiled::is_simple`]).

use observable::{Kind, Observable};

use super::ast::*;

/// What the log matcher needs to know about one pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// One entry per top-level alternative (`OR` at observation level, or `OR` inside a
    /// single unqualified `[…]`). The pattern matches iff at least one alternative does.
    pub alternatives: Vec<Alternative>,
    /// True when the pattern is a pure OR of equalities on indexable values: a log event
    /// carrying any of [`Compiled::observables`] is a match, no evaluation needed.
    pub is_simple: bool,
}

/// One top-level alternative of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    /// Canonical observables of which at least one must be observed for this alternative
    /// to match. Empty when the alternative has no indexable anchor (for example
    /// `[file:size > 1000]`): such an alternative can only be decided by full evaluation.
    pub anchors: Vec<Observable>,
    /// Seeing any one anchor is a match of this alternative.
    pub exact: bool,
}

impl Compiled {
    /// Every anchor of every alternative, for building the index.
    pub fn observables(&self) -> impl Iterator<Item = &Observable> {
        self.alternatives.iter().flat_map(|a| a.anchors.iter())
    }

    /// Some alternative has no anchor: the index cannot rule this pattern out, so every
    /// event must be evaluated against it.
    pub fn needs_full_scan(&self) -> bool {
        self.alternatives.iter().any(|a| a.anchors.is_empty())
    }
}

/// Extracts the indexable values of `pattern`.
///
/// Recognised tests: `=` (or `IN`) on `ipv4-addr:value`, `ipv6-addr:value` (an address or
/// a CIDR), `domain-name:value`, `url:value`, `email-addr:value`, `file:hashes.<MD5 |
/// SHA-1 | SHA-256 | SHA-512>`, and `ISSUBSET '<cidr>'` on an IP `value`. Values are
/// canonicalised with [`Observable::parse`]; a value that does not canonicalise is not
/// indexable.
///
/// Two readings are deliberately wider than string equality, as indicator authors mean
/// them: `ipv4-addr:value = '10.0.0.0/8'` anchors the network (any address inside it
/// hits), and values compare in canonical form (`url:value = 'HTTP://Example.com/'` hits
/// `http://example.com/`). [`Matcher`](super::Matcher) keeps the spec's exact semantics for
/// full evaluation.
pub fn compile(pattern: &Pattern) -> Compiled {
    let mut alternatives = Vec::new();
    top_level(&pattern.root, &mut alternatives);
    let is_simple = !alternatives.is_empty()
        && alternatives
            .iter()
            .all(|a| a.exact && !a.anchors.is_empty());
    Compiled {
        alternatives,
        is_simple,
    }
}

fn top_level(e: &ObservationExpr, out: &mut Vec<Alternative>) {
    match e {
        ObservationExpr::Or(items) => items.iter().for_each(|i| top_level(i, out)),
        ObservationExpr::Group(inner) => top_level(inner, out),
        ObservationExpr::Observation(c) => comparison_alternatives(c, out),
        other => out.push(Alternative {
            anchors: required_anchors(other).unwrap_or_default(),
            exact: false,
        }),
    }
}

/// Splits a bracketed comparison on its top-level `OR`s.
fn comparison_alternatives(c: &ComparisonExpr, out: &mut Vec<Alternative>) {
    match c {
        ComparisonExpr::Or(items) => items.iter().for_each(|i| comparison_alternatives(i, out)),
        ComparisonExpr::Group(inner) => comparison_alternatives(inner, out),
        ComparisonExpr::Test(t) => match test_anchors(t) {
            Some(anchors) => out.push(Alternative {
                anchors,
                exact: true,
            }),
            None => out.push(Alternative {
                anchors: Vec::new(),
                exact: false,
            }),
        },
        ComparisonExpr::And(_) => out.push(Alternative {
            anchors: comparison_required(c).unwrap_or_default(),
            exact: false,
        }),
    }
}

/// Observables of which one must be present for an observation expression to match, if
/// they can be named.
fn required_anchors(e: &ObservationExpr) -> Option<Vec<Observable>> {
    match e {
        ObservationExpr::Observation(c) => comparison_required(c),
        ObservationExpr::Group(inner) => required_anchors(inner),
        ObservationExpr::Qualified(inner, _) => required_anchors(inner),
        // Every operand is needed: any one operand's anchors will do; take the smallest set.
        ObservationExpr::And(items) | ObservationExpr::FollowedBy(items) => items
            .iter()
            .filter_map(required_anchors)
            .min_by_key(Vec::len),
        // One operand suffices: all operands need anchors, and their union is required.
        ObservationExpr::Or(items) => union_all(items.iter().map(required_anchors)),
    }
}

fn comparison_required(c: &ComparisonExpr) -> Option<Vec<Observable>> {
    match c {
        ComparisonExpr::Test(t) => test_anchors(t),
        ComparisonExpr::Group(inner) => comparison_required(inner),
        ComparisonExpr::And(items) => items
            .iter()
            .filter_map(comparison_required)
            .min_by_key(Vec::len),
        ComparisonExpr::Or(items) => union_all(items.iter().map(comparison_required)),
    }
}

fn union_all(parts: impl Iterator<Item = Option<Vec<Observable>>>) -> Option<Vec<Observable>> {
    let mut all = Vec::new();
    for p in parts {
        all.extend(p?);
    }
    all.sort();
    all.dedup();
    Some(all)
}

/// The observables a single test is true for, when it is an equality-like test on an
/// indexable property; `None` otherwise.
fn test_anchors(t: &PropTest) -> Option<Vec<Observable>> {
    if t.negated {
        return None;
    }
    let kind = indexable_kind(&t.path)?;
    let strings: Vec<&str> = match &t.op {
        Operator::Eq(Literal::Str(s)) => vec![s],
        Operator::In(items) if !items.is_empty() => items
            .iter()
            .map(|l| match l {
                Literal::Str(s) => Some(s.as_str()),
                _ => None,
            })
            .collect::<Option<_>>()?,
        Operator::IsSubset(s) if matches!(kind, Kind::Ipv4 | Kind::Ipv6) && s.contains('/') => {
            vec![s]
        }
        _ => return None,
    };
    let mut out = Vec::new();
    for s in strings {
        out.push(Observable::parse(kind, s).ok()?);
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn indexable_kind(p: &ObjectPath) -> Option<Kind> {
    let key = |i: usize| match p.steps.get(i) {
        Some(PathStep::Key(k)) => Some(k.as_str()),
        _ => None,
    };
    match (p.object_type.as_str(), p.steps.len()) {
        ("ipv4-addr", 1) if key(0) == Some("value") => Some(Kind::Ipv4),
        ("ipv6-addr", 1) if key(0) == Some("value") => Some(Kind::Ipv6),
        ("domain-name", 1) if key(0) == Some("value") => Some(Kind::Domain),
        ("url", 1) if key(0) == Some("value") => Some(Kind::Url),
        ("email-addr", 1) if key(0) == Some("value") => Some(Kind::Email),
        ("file", 2) if key(0) == Some("hashes") => {
            Kind::from_hash_algorithm(key(1)?).filter(|k| k.is_hash())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::parse;

    fn c(p: &str) -> Compiled {
        compile(&parse(p).unwrap())
    }

    #[test]
    fn pure_or_of_equalities_is_simple() {
        let r = c("[ipv4-addr:value = '198.51.100.1' OR domain-name:value = 'Evil.Example.'] OR [file:hashes.'SHA-256' = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA']");
        assert!(r.is_simple);
        let vals: Vec<String> = r.observables().map(|o| o.to_string()).collect();
        assert_eq!(
            vals,
            [
                "ipv4-addr:198.51.100.1",
                "domain-name:evil.example",
                "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            ]
        );
    }

    #[test]
    fn cidr_forms() {
        let r = c("[ipv4-addr:value ISSUBSET '10.1.2.3/8']");
        assert!(r.is_simple);
        assert_eq!(r.alternatives[0].anchors[0].value, "10.0.0.0/8");
        let r = c("[ipv6-addr:value = '2001:db8::/32']");
        assert!(r.is_simple);
    }

    #[test]
    fn conjunctions_and_sequences_need_evaluation() {
        let r =
            c("[ipv4-addr:value = '198.51.100.1'] FOLLOWEDBY [url:value = 'http://x.example/a']");
        assert!(!r.is_simple);
        assert_eq!(r.alternatives.len(), 1);
        assert_eq!(r.alternatives[0].anchors.len(), 1);
        assert!(!r.needs_full_scan());

        let r = c("[file:size > 10 AND file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']");
        assert!(!r.is_simple);
        assert_eq!(r.alternatives[0].anchors[0].kind, Kind::Md5);

        let r = c("[file:size > 10] OR [domain-name:value = 'a.example']");
        assert!(!r.is_simple);
        assert!(r.needs_full_scan());

        let r = c("[domain-name:value != 'a.example']");
        assert!(!r.is_simple);
        let r = c("[domain-name:value = 'a.example'] REPEATS 2 TIMES");
        assert!(!r.is_simple);
        assert_eq!(r.alternatives[0].anchors.len(), 1);
    }

    #[test]
    fn in_sets_give_several_anchors() {
        let r = c("[email-addr:value IN ('a@x.example', 'b@y.example')]");
        assert!(r.is_simple);
        assert_eq!(r.alternatives[0].anchors.len(), 2);
    }
}
