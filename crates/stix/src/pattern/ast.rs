//! The syntax tree of a pattern, and its canonical text form.
//!
//! `Display` prints a canonical pattern: keywords upper case, one space around operators,
//! `=`/`!=` for `==`/`<>`, parentheses only where precedence (or the duplicate-qualifier
//! rule) needs them, strings re-escaped, hex lower case, binary re-encoded as padded
//! base64. Printing is idempotent: printing the parse of a printed pattern gives the same
//! text, and that text is accepted by the parser.

use std::fmt::{self, Write};

use super::lexer::is_reserved_word;

/// A parsed pattern: one observation expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The whole pattern is one observation expression.
    pub root: ObservationExpr,
}

/// An observation expression (spec 9.5): what must be observed, across observations.
///
/// The n-ary variants hold two or more operands, flattened for left-associative chains so
/// that `[a] AND [b] AND [c]` is one node, not a deep tree.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationExpr {
    /// `[ comparison ]`: one observation satisfying the comparison expression.
    Observation(ComparisonExpr),
    /// `A AND B`: both, in different observations.
    And(Vec<ObservationExpr>),
    /// `A OR B`: either.
    Or(Vec<ObservationExpr>),
    /// `A FOLLOWEDBY B`: both, B's observations not before A's.
    FollowedBy(Vec<ObservationExpr>),
    /// An expression with a qualifier applied to it.
    Qualified(Box<ObservationExpr>, Qualifier),
    /// `( expr )` written around an expression. Kept because it changes which qualifier
    /// repetitions are allowed (`([a] WITHIN 1 SECONDS) WITHIN 2 SECONDS` is valid, without
    /// the parentheses it is not); it has no effect on evaluation.
    Group(Box<ObservationExpr>),
}

/// Observation expression qualifiers (spec 9.6).
#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS`: all observations bound to the expression fit in a window of n seconds.
    Within(Number),
    /// `REPEATS n TIMES`: the expression is satisfied n times by disjoint observations.
    Repeats(u64),
    /// `START t'…' STOP t'…'`: observations fall in `[start, stop)`.
    StartStop(Timestamp, Timestamp),
}

impl Qualifier {
    /// The qualifier's kind, for the "no two of the same kind on one observation" rule.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Qualifier::Within(_) => "WITHIN",
            Qualifier::Repeats(_) => "REPEATS",
            Qualifier::StartStop(..) => "START/STOP",
        }
    }
}

/// A non-negative number as written after `WITHIN`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// Written as an integer (`WITHIN 5 SECONDS`).
    Int(u64),
    /// Written with a decimal point (`WITHIN 2.5 SECONDS`).
    Float(f64),
}

impl Number {
    /// The value in seconds.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

/// A comparison expression (spec 9.4) inside `[ ]`: tests on one observation's objects.
#[derive(Debug, Clone, PartialEq)]
pub enum ComparisonExpr {
    /// Two or more tests that must hold for the same root object.
    And(Vec<ComparisonExpr>),
    /// Two or more alternatives.
    Or(Vec<ComparisonExpr>),
    /// One property test.
    Test(PropTest),
    /// `( expr )`, kept only so that error positions and round-trips stay faithful.
    Group(Box<ComparisonExpr>),
}

/// One property test: `path [NOT] op value`, or `[NOT] EXISTS path`.
#[derive(Debug, Clone, PartialEq)]
pub struct PropTest {
    /// The property the test reads.
    pub path: ObjectPath,
    /// `NOT` written before the operator: the test's result is inverted.
    pub negated: bool,
    /// The operator and its constant.
    pub op: Operator,
}

/// Comparison operators (spec 9.3) with their right-hand side.
#[derive(Debug, Clone, PartialEq)]
pub enum Operator {
    /// `=` (also written `==`).
    Eq(Literal),
    /// `!=` (also written `<>`).
    Neq(Literal),
    /// `<`
    Lt(Literal),
    /// `<=`
    Le(Literal),
    /// `>`
    Gt(Literal),
    /// `>=`
    Ge(Literal),
    /// `IN ( … )`: equal to one of the constants.
    In(Vec<Literal>),
    /// SQL `LIKE` with `%` and `_`.
    Like(String),
    /// A regular expression, searched (not anchored).
    Matches(String),
    /// The property (an IP or CIDR) is inside the given CIDR.
    IsSubset(String),
    /// The property (a CIDR) contains the given IP or CIDR.
    IsSuperset(String),
    /// The path selects something.
    Exists,
}

/// `type:prop.sub[0].'quoted-key'[*]`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectPath {
    /// The cyber-observable type, e.g. `file`.
    pub object_type: String,
    /// At least one step; the first is always a `Key`.
    pub steps: Vec<PathStep>,
}

/// One step of an object path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// A dictionary key (property name).
    Key(String),
    /// A list index, `[n]`.
    Index(u64),
    /// Every list element, `[*]`.
    AnyIndex,
}

/// A constant (spec 9.2).
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Integers; 128 bits so that any value that fits a JSON number compares exactly.
    Int(i128),
    /// Numbers written with a decimal point.
    Float(f64),
    /// `'…'`, unescaped.
    Str(String),
    /// `true` / `false`.
    Bool(bool),
    /// `b'…'` (base64), decoded.
    Binary(Vec<u8>),
    /// `h'…'`, decoded.
    Hex(Vec<u8>),
    /// `t'…'`.
    Timestamp(Timestamp),
}

/// A `t'…'` constant, kept as written: it is lexically valid but may still name an
/// impossible date (`2021-02-30`), which only matters, and is reported, at evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Timestamp(pub String);

// ---------------------------------------------------------------------------------------
// Canonical printing

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_obs(f, &self.root, 0)
    }
}

impl fmt::Display for ObservationExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_obs(f, self, 0)
    }
}

/// Binding strength of observation operators: FOLLOWEDBY < OR < AND < qualified/atoms.
fn obs_prec(e: &ObservationExpr) -> u8 {
    match e {
        ObservationExpr::FollowedBy(_) => 1,
        ObservationExpr::Or(_) => 2,
        ObservationExpr::And(_) => 3,
        ObservationExpr::Group(inner) => obs_prec(inner),
        _ => 4,
    }
}

fn write_obs(f: &mut fmt::Formatter<'_>, e: &ObservationExpr, min_prec: u8) -> fmt::Result {
    if obs_prec(e) < min_prec {
        f.write_char('(')?;
        write_obs(f, e, 0)?;
        return f.write_char(')');
    }
    let list = |f: &mut fmt::Formatter<'_>, items: &[ObservationExpr], op: &str, p: u8| {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                write!(f, " {op} ")?;
            }
            // Left-associative: a same-precedence right operand needs no parentheses since
            // chains are flattened, but a nested node of the same kind came from explicit
            // parentheses; printing them keeps the tree shape.
            write_obs(f, item, p + 1)?;
        }
        Ok(())
    };
    match e {
        ObservationExpr::Observation(c) => write!(f, "[{c}]"),
        ObservationExpr::And(items) => list(f, items, "AND", 3),
        ObservationExpr::Or(items) => list(f, items, "OR", 2),
        ObservationExpr::FollowedBy(items) => list(f, items, "FOLLOWEDBY", 1),
        ObservationExpr::Group(inner) => write_obs(f, inner, min_prec),
        ObservationExpr::Qualified(inner, q) => {
            let needs_parens = obs_prec(inner) < 4 || qualifier_chain_has(inner, q.kind_name());
            if needs_parens {
                f.write_char('(')?;
                write_obs(f, inner, 0)?;
                f.write_char(')')?;
            } else {
                write_obs(f, inner, 4)?;
            }
            write!(f, " {q}")
        }
    }
}

/// Does the unparenthesised qualifier chain ending at `e` already hold a `kind` qualifier?
fn qualifier_chain_has(e: &ObservationExpr, kind: &str) -> bool {
    match e {
        ObservationExpr::Qualified(inner, q) => {
            q.kind_name() == kind || qualifier_chain_has(inner, kind)
        }
        // Groups are not printed, so they do not end the chain as printed.
        ObservationExpr::Group(inner) => qualifier_chain_has(inner, kind),
        _ => false,
    }
}

impl fmt::Display for Qualifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Within(n) => write!(f, "WITHIN {n} SECONDS"),
            Qualifier::Repeats(n) => write!(f, "REPEATS {n} TIMES"),
            Qualifier::StartStop(a, b) => write!(f, "START {a} STOP {b}"),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write_float(f, *x),
        }
    }
}

fn write_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    // Rust prints floats without exponent; the grammar needs a '.' and a digit after it.
    let s = format!("{x}");
    if s.contains('.') {
        f.write_str(&s)
    } else {
        write!(f, "{s}.0")
    }
}

impl fmt::Display for ComparisonExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_cmp(f, self, 0)
    }
}

fn cmp_prec(e: &ComparisonExpr) -> u8 {
    match e {
        ComparisonExpr::Or(_) => 1,
        ComparisonExpr::And(_) => 2,
        ComparisonExpr::Group(inner) => cmp_prec(inner),
        ComparisonExpr::Test(_) => 3,
    }
}

fn write_cmp(f: &mut fmt::Formatter<'_>, e: &ComparisonExpr, min_prec: u8) -> fmt::Result {
    if cmp_prec(e) < min_prec {
        f.write_char('(')?;
        write_cmp(f, e, 0)?;
        return f.write_char(')');
    }
    let list = |f: &mut fmt::Formatter<'_>, items: &[ComparisonExpr], op: &str, p: u8| {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                write!(f, " {op} ")?;
            }
            write_cmp(f, item, p + 1)?;
        }
        Ok(())
    };
    match e {
        ComparisonExpr::Or(items) => list(f, items, "OR", 1),
        ComparisonExpr::And(items) => list(f, items, "AND", 2),
        ComparisonExpr::Group(inner) => write_cmp(f, inner, min_prec),
        ComparisonExpr::Test(t) => write!(f, "{t}"),
    }
}

impl fmt::Display for PropTest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "NOT " } else { "" };
        let p = &self.path;
        match &self.op {
            Operator::Exists => write!(f, "{not}EXISTS {p}"),
            Operator::Eq(v) => write!(f, "{p} {not}= {v}"),
            Operator::Neq(v) => write!(f, "{p} {not}!= {v}"),
            Operator::Lt(v) => write!(f, "{p} {not}< {v}"),
            Operator::Le(v) => write!(f, "{p} {not}<= {v}"),
            Operator::Gt(v) => write!(f, "{p} {not}> {v}"),
            Operator::Ge(v) => write!(f, "{p} {not}>= {v}"),
            Operator::In(items) => {
                write!(f, "{p} {not}IN (")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_char(')')
            }
            Operator::Like(s) => write!(f, "{p} {not}LIKE {}", Quoted(s)),
            Operator::Matches(s) => write!(f, "{p} {not}MATCHES {}", Quoted(s)),
            Operator::IsSubset(s) => write!(f, "{p} {not}ISSUBSET {}", Quoted(s)),
            Operator::IsSuperset(s) => write!(f, "{p} {not}ISSUPERSET {}", Quoted(s)),
        }
    }
}

/// A string constant, quoted and escaped.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('\'')?;
        for c in self.0.chars() {
            if c == '\'' || c == '\\' {
                f.write_char('\\')?;
            }
            f.write_char(c)?;
        }
        f.write_char('\'')
    }
}

/// Can `key` be written bare (as an identifier without hyphen) in a path?
fn is_bare_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !is_reserved_word(key)
}

impl fmt::Display for ObjectPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                PathStep::Key(k) => {
                    if i > 0 {
                        f.write_char('.')?;
                    }
                    if is_bare_key(k) {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{}", Quoted(k))?;
                    }
                }
                PathStep::Index(n) => write!(f, "[{n}]")?,
                PathStep::AnyIndex => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Int(i) => write!(f, "{i}"),
            Literal::Float(x) => write_float(f, *x),
            Literal::Str(s) => write!(f, "{}", Quoted(s)),
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Binary(bytes) => write!(f, "b'{}'", super::base64::encode(bytes)),
            Literal::Hex(bytes) => {
                f.write_str("h'")?;
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                f.write_char('\'')
            }
            Literal::Timestamp(t) => write!(f, "{t}"),
        }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t'{}'", self.0)
    }
}
