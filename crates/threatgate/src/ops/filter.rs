//! The operation filter language: which observables an operation targets.
//!
//! ```text
//! filter     ::= or_expr EOF
//! or_expr    ::= and_expr ( "OR" and_expr )*
//! and_expr   ::= not_expr ( "AND" not_expr )*
//! not_expr   ::= "NOT" not_expr | primary
//! primary    ::= "(" or_expr ")" | condition
//! condition  ::= field compare value
//!              | field "IN" "(" value ( "," value )* ")"
//!              | field ( "~" | "CONTAINS" ) value
//! compare    ::= "=" | "!=" | "<" | "<=" | ">" | ">="
//! field      ::= "type" | "label" | "malware" | "source" | "country" | "asn" | "network"
//!              | "category" | "confidence" | "first_seen" | "last_seen"
//! value      ::= word | '"' any character but '"' '"' | "'" any character but "'" "'"
//! word       ::= ( letter | digit | "_" | "-" | "." | ":" | "+" | "/" )+
//! ```
//!
//! Keywords (`AND`, `OR`, `NOT`, `IN`, `CONTAINS`) and field names are case-insensitive;
//! string comparisons are too. Example:
//! `label = c2 AND malware = emotet AND country IN (FR, DE) AND confidence >= 60`.
//!
//! What a condition means on a candidate target:
//! - `label`, `malware`, `source` hold several values (one per source statement): `=`, `IN`
//!   and `~` hold when *any* value matches, `!=` when *none* does.
//! - `confidence` is the highest confidence any visible source gave; `first_seen` the
//!   earliest, `last_seen` the latest (dates as `YYYY-MM-DD` or RFC 3339).
//! - `type` accepts the store's names (`ipv4-addr`, `domain-name`, `url`) and short forms
//!   (`ipv4`, `ipv6`, `ip`, `domain`).
//! - A candidate without the value (no country, no confidence) matches no condition on it;
//!   `NOT (country = FR)` does include it.
//! - `<`, `<=`, `>`, `>=` apply to `confidence`, `asn`, `first_seen` and `last_seen` only.
//!
//! Errors the parser reports on purpose, each with the column (1-based, in characters) and
//! what it expected there: an unknown field, a missing or misplaced operator, a missing
//! value, an unclosed parenthesis or string, an `IN` without its list, an ordering operator
//! on a text field, an invalid country code, confidence outside 0–100, a bad date, nesting
//! deeper than [`MAX_DEPTH`], input longer than [`MAX_FILTER_LEN`], an `IN` list longer than
//! [`MAX_IN_VALUES`]. Once a field and operator are read the parser is committed: it names
//! what was expected instead of backtracking into a vague error.

use std::fmt;

use crate::model::{parse_time, Kind, Time};

/// Deepest nesting of parentheses and `NOT`s accepted: bounds recursion on hostile input.
pub const MAX_DEPTH: usize = 32;
/// Longest filter text accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 4096;
/// Most values in one `IN (...)` list.
pub const MAX_IN_VALUES: usize = 1000;

/// A parse error: where, what was expected, what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// 1-based column, counted in characters.
    pub column: usize,
    pub expected: String,
    pub found: String,
    input: String,
}

impl std::error::Error for FilterError {}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "filter error at column {}: expected {}, found {}",
            self.column, self.expected, self.found
        )?;
        writeln!(f, "  {}", self.input)?;
        write!(f, "  {}^", " ".repeat(self.column.saturating_sub(1)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Type,
    Label,
    Malware,
    Source,
    Country,
    Asn,
    Network,
    Category,
    Confidence,
    FirstSeen,
    LastSeen,
}

const FIELDS: &[(&str, Field)] = &[
    ("type", Field::Type),
    ("label", Field::Label),
    ("malware", Field::Malware),
    ("source", Field::Source),
    ("country", Field::Country),
    ("asn", Field::Asn),
    ("network", Field::Network),
    ("category", Field::Category),
    ("confidence", Field::Confidence),
    ("first_seen", Field::FirstSeen),
    ("last_seen", Field::LastSeen),
];

impl Field {
    fn ordered(self) -> bool {
        matches!(
            self,
            Field::Confidence | Field::Asn | Field::FirstSeen | Field::LastSeen
        )
    }
    fn name(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, f)| *f == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
}

/// A typed value, checked against its field when parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Number(i64),
    Time(Time),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cond(Field, Cmp, Value),
    In(Field, Vec<Value>),
}

/// What a filter is evaluated against: one candidate target, as the viewer sees it.
#[derive(Debug, Clone, Default)]
pub struct Candidate {
    pub kind: Option<Kind>,
    pub labels: Vec<String>,
    pub malware: Vec<String>,
    pub sources: Vec<String>,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub network: Option<String>,
    pub category: Option<String>,
    pub confidence: Option<u8>,
    pub first_seen: Option<Time>,
    pub last_seen: Option<Time>,
}

/// A parsed filter. The empty filter matches everything.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub expr: Option<Expr>,
}

impl Filter {
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        parse(input)
    }

    pub fn matches(&self, c: &Candidate) -> bool {
        self.expr.as_ref().is_none_or(|e| eval(e, c))
    }
}

// ----- lexer -----

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    LParen,
    RParen,
    Comma,
    Op(Cmp),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// 1-based column of the first character.
    col: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Word(w) => format!("`{w}`"),
        Tok::Quoted(q) => format!("\"{q}\""),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Op(c) => format!("`{}`", op_text(*c)),
        Tok::End => "end of input".into(),
    }
}

fn op_text(c: Cmp) -> &'static str {
    match c {
        Cmp::Eq => "=",
        Cmp::Ne => "!=",
        Cmp::Lt => "<",
        Cmp::Le => "<=",
        Cmp::Gt => ">",
        Cmp::Ge => ">=",
        Cmp::Contains => "~",
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '+' | '/' | '@' | '*')
}

fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let chars: Vec<char> = input.chars().collect();
    let err = |col: usize, expected: &str, found: String| FilterError {
        column: col,
        expected: expected.into(),
        found,
        input: input.to_string(),
    };
    let mut out = vec![];
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let (tok, len) = match c {
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            ',' => (Tok::Comma, 1),
            '~' => (Tok::Op(Cmp::Contains), 1),
            '=' => (Tok::Op(Cmp::Eq), if chars.get(i + 1) == Some(&'=') { 2 } else { 1 }),
            '!' if chars.get(i + 1) == Some(&'=') => (Tok::Op(Cmp::Ne), 2),
            '<' if chars.get(i + 1) == Some(&'=') => (Tok::Op(Cmp::Le), 2),
            '<' if chars.get(i + 1) == Some(&'>') => (Tok::Op(Cmp::Ne), 2),
            '<' => (Tok::Op(Cmp::Lt), 1),
            '>' if chars.get(i + 1) == Some(&'=') => (Tok::Op(Cmp::Ge), 2),
            '>' => (Tok::Op(Cmp::Gt), 1),
            '"' | '\'' => {
                let end = chars[i + 1..].iter().position(|&d| d == c).ok_or_else(|| {
                    err(col, &format!("a closing {c} for the string that starts here"), "end of input".into())
                })?;
                let s: String = chars[i + 1..i + 1 + end].iter().collect();
                (Tok::Quoted(s), end + 2)
            }
            c if is_word_char(c) => {
                let n = chars[i..].iter().take_while(|&&d| is_word_char(d)).count();
                (Tok::Word(chars[i..i + n].iter().collect()), n)
            }
            other => {
                return Err(err(
                    col,
                    "a field, a value, an operator (= != < <= > >= ~ IN), AND, OR, NOT or a parenthesis",
                    format!("`{other}`"),
                ))
            }
        };
        out.push(Token { tok, col });
        i += len;
    }
    out.push(Token {
        tok: Tok::End,
        col: chars.len() + 1,
    });
    Ok(out)
}

// ----- parser -----

struct Parser<'a> {
    toks: Vec<Token>,
    pos: usize,
    input: &'a str,
}

/// Parse a whole filter (`filter ::= or_expr EOF`; empty input is the match-all filter).
pub fn parse(input: &str) -> Result<Filter, FilterError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(FilterError {
            column: MAX_FILTER_LEN + 1,
            expected: format!("at most {MAX_FILTER_LEN} bytes of filter"),
            found: format!("{} bytes", input.len()),
            input: input.chars().take(80).collect(),
        });
    }
    let toks = lex(input)?;
    let mut p = Parser {
        toks,
        pos: 0,
        input,
    };
    if p.peek().tok == Tok::End {
        return Ok(Filter { expr: None });
    }
    let e = p.or_expr(0)?;
    let t = p.peek().clone();
    if t.tok != Tok::End {
        let expected = if t.tok == Tok::RParen {
            "AND, OR or end of input (this `)` has no matching `(`)"
        } else {
            "AND, OR or end of input"
        };
        return Err(p.error(&t, expected));
    }
    Ok(Filter { expr: Some(e) })
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.toks[self.pos]
    }
    fn next(&mut self) -> Token {
        let t = self.toks[self.pos].clone();
        if t.tok != Tok::End {
            self.pos += 1;
        }
        t
    }
    fn error(&self, at: &Token, expected: &str) -> FilterError {
        FilterError {
            column: at.col,
            expected: expected.into(),
            found: describe(&at.tok),
            input: self.input.to_string(),
        }
    }
    fn keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }
    fn depth_check(&self, depth: usize) -> Result<(), FilterError> {
        if depth > MAX_DEPTH {
            let t = self.peek().clone();
            return Err(self.error(
                &t,
                &format!("at most {MAX_DEPTH} levels of parentheses and NOT (simplify the filter)"),
            ));
        }
        Ok(())
    }

    /// `or_expr ::= and_expr ( "OR" and_expr )*`
    fn or_expr(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut e = self.and_expr(depth)?;
        while self.keyword("OR") {
            self.next();
            let r = self.and_expr(depth)?;
            e = Expr::Or(Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    /// `and_expr ::= not_expr ( "AND" not_expr )*`
    fn and_expr(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut e = self.not_expr(depth)?;
        while self.keyword("AND") {
            self.next();
            let r = self.not_expr(depth)?;
            e = Expr::And(Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    /// `not_expr ::= "NOT" not_expr | primary`
    fn not_expr(&mut self, depth: usize) -> Result<Expr, FilterError> {
        if self.keyword("NOT") {
            self.depth_check(depth + 1)?;
            self.next();
            return Ok(Expr::Not(Box::new(self.not_expr(depth + 1)?)));
        }
        self.primary(depth)
    }

    /// `primary ::= "(" or_expr ")" | condition`
    fn primary(&mut self, depth: usize) -> Result<Expr, FilterError> {
        if self.peek().tok == Tok::LParen {
            self.depth_check(depth + 1)?;
            let open = self.next();
            let e = self.or_expr(depth + 1)?;
            let t = self.next();
            if t.tok != Tok::RParen {
                return Err(self.error(
                    &t,
                    &format!("`)` to close the `(` at column {}, or AND / OR", open.col),
                ));
            }
            return Ok(e);
        }
        self.condition()
    }

    /// `condition ::= field compare value | field "IN" "(" value ("," value)* ")" | field ("~" | "CONTAINS") value`
    fn condition(&mut self) -> Result<Expr, FilterError> {
        let t = self.next();
        let names = FIELDS
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ");
        let field = match &t.tok {
            Tok::Word(w) => FIELDS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(w))
                .map(|(_, f)| *f)
                .ok_or_else(|| self.error(&t, &format!("a field name ({names})")))?,
            _ => {
                return Err(self.error(
                    &t,
                    &format!("a condition such as `label = c2` (fields: {names})"),
                ))
            }
        };
        let op = self.next();
        let cmp = match &op.tok {
            Tok::Op(c) => *c,
            Tok::Word(w) if w.eq_ignore_ascii_case("IN") => return self.in_list(field),
            Tok::Word(w) if w.eq_ignore_ascii_case("CONTAINS") => Cmp::Contains,
            _ => {
                return Err(self.error(
                    &op,
                    &format!(
                        "an operator after `{}`: = != < <= > >= IN ~ CONTAINS",
                        field.name()
                    ),
                ))
            }
        };
        if matches!(cmp, Cmp::Lt | Cmp::Le | Cmp::Gt | Cmp::Ge) && !field.ordered() {
            return Err(self.error(
                &op,
                &format!(
                    "= != IN or ~ (`{}` is text; < <= > >= work on confidence, asn, first_seen and last_seen)",
                    field.name()
                ),
            ));
        }
        if cmp == Cmp::Contains && field.ordered() {
            return Err(self.error(
                &op,
                &format!("= != < <= > >= or IN (`{}` is not text)", field.name()),
            ));
        }
        let v = self.value(field, op_text(cmp))?;
        Ok(Expr::Cond(field, cmp, v))
    }

    /// `"IN" "(" value ( "," value )* ")"`, after `IN` (committed).
    fn in_list(&mut self, field: Field) -> Result<Expr, FilterError> {
        let t = self.next();
        if t.tok != Tok::LParen {
            return Err(self.error(&t, "`(` to start the IN list, as in `country IN (FR, DE)`"));
        }
        let mut vals = vec![self.value(field, "(")?];
        loop {
            let t = self.next();
            match t.tok {
                Tok::Comma => {
                    if vals.len() >= MAX_IN_VALUES {
                        return Err(self.error(
                            &t,
                            &format!("`)`: an IN list holds at most {MAX_IN_VALUES} values"),
                        ));
                    }
                    vals.push(self.value(field, ",")?)
                }
                Tok::RParen => break,
                _ => {
                    return Err(self.error(&t, "`,` and another value, or `)` to close the IN list"))
                }
            }
        }
        Ok(Expr::In(field, vals))
    }

    /// `value ::= word | quoted`, checked against the field.
    fn value(&mut self, field: Field, after: &str) -> Result<Value, FilterError> {
        let t = self.next();
        let text = match &t.tok {
            Tok::Word(w) => w.clone(),
            Tok::Quoted(q) => q.clone(),
            _ => {
                return Err(self.error(
                    &t,
                    &format!("a value for `{}` after `{after}`", field.name()),
                ))
            }
        };
        match field {
            Field::Confidence => match text.parse::<i64>() {
                Ok(n) if (0..=100).contains(&n) => Ok(Value::Number(n)),
                _ => Err(self.error(&t, "a confidence between 0 and 100")),
            },
            Field::Asn => {
                let digits = text.trim_start_matches(['A', 'S', 'a', 's']);
                digits
                    .parse::<u32>()
                    .map(|n| Value::Number(n.into()))
                    .map_err(|_| self.error(&t, "an AS number such as 13335 or AS13335"))
            }
            Field::FirstSeen | Field::LastSeen => parse_time(&text)
                .map(Value::Time)
                .map_err(|_| self.error(&t, "a date: YYYY-MM-DD or an RFC 3339 timestamp")),
            Field::Country => {
                let up = text.to_ascii_uppercase();
                if crate::ops::valid_country(&up) {
                    Ok(Value::Text(up))
                } else {
                    Err(self.error(&t, "an ISO 3166-1 alpha-2 country code such as FR, DE, US"))
                }
            }
            Field::Type => {
                if type_kinds(&text).is_empty() {
                    Err(self.error(&t, "a type: ipv4-addr, ipv6-addr, domain-name, url (or ipv4, ipv6, ip, domain)"))
                } else {
                    Ok(Value::Text(text.to_ascii_lowercase()))
                }
            }
            Field::Category => match text.parse::<crate::ops::Category>() {
                Ok(c) => Ok(Value::Text(c.as_str().into())),
                Err(_) => Err(self.error(&t, "a category: c2 or compromised-website")),
            },
            _ => Ok(Value::Text(text)),
        }
    }
}

fn type_kinds(name: &str) -> Vec<Kind> {
    match name.to_ascii_lowercase().as_str() {
        "ip" => vec![Kind::Ipv4, Kind::Ipv6],
        "ipv4" | "ipv4-addr" => vec![Kind::Ipv4],
        "ipv6" | "ipv6-addr" => vec![Kind::Ipv6],
        "domain" | "domain-name" => vec![Kind::Domain],
        "url" => vec![Kind::Url],
        _ => vec![],
    }
}

// ----- evaluation -----

fn eval(e: &Expr, c: &Candidate) -> bool {
    match e {
        Expr::And(a, b) => eval(a, c) && eval(b, c),
        Expr::Or(a, b) => eval(a, c) || eval(b, c),
        Expr::Not(a) => !eval(a, c),
        Expr::In(f, vals) => vals.iter().any(|v| cond(*f, Cmp::Eq, v, c)),
        Expr::Cond(f, op, v) => cond(*f, *op, v, c),
    }
}

fn text_match(have: &str, op: Cmp, want: &str) -> bool {
    match op {
        Cmp::Eq => have.eq_ignore_ascii_case(want),
        Cmp::Ne => !have.eq_ignore_ascii_case(want),
        Cmp::Contains => have.to_lowercase().contains(&want.to_lowercase()),
        _ => false,
    }
}

fn ordered<T: PartialOrd>(have: Option<T>, op: Cmp, want: T) -> bool {
    let Some(h) = have else { return false };
    match op {
        Cmp::Eq => h == want,
        Cmp::Ne => h != want,
        Cmp::Lt => h < want,
        Cmp::Le => h <= want,
        Cmp::Gt => h > want,
        Cmp::Ge => h >= want,
        Cmp::Contains => false,
    }
}

fn cond(f: Field, op: Cmp, v: &Value, c: &Candidate) -> bool {
    let many = |vals: &[String], want: &str| match op {
        Cmp::Ne => !vals.iter().any(|h| h.eq_ignore_ascii_case(want)),
        _ => vals.iter().any(|h| text_match(h, op, want)),
    };
    let one = |have: &Option<String>, want: &str| {
        have.as_deref().is_some_and(|h| text_match(h, op, want))
    };
    match (f, v) {
        (Field::Label, Value::Text(w)) => many(&c.labels, w),
        (Field::Malware, Value::Text(w)) => many(&c.malware, w),
        (Field::Source, Value::Text(w)) => many(&c.sources, w),
        (Field::Country, Value::Text(w)) => one(&c.country, w),
        (Field::Network, Value::Text(w)) => one(&c.network, w),
        (Field::Category, Value::Text(w)) => one(&c.category, w),
        (Field::Type, Value::Text(w)) => c.kind.is_some_and(|k| {
            let is = type_kinds(w).contains(&k);
            if op == Cmp::Ne {
                !is
            } else {
                is || (op == Cmp::Contains && k.as_str().contains(w.as_str()))
            }
        }),
        (Field::Confidence, Value::Number(n)) => ordered(c.confidence.map(i64::from), op, *n),
        (Field::Asn, Value::Number(n)) => ordered(c.asn.map(i64::from), op, *n),
        (Field::FirstSeen, Value::Time(t)) => ordered(c.first_seen, op, *t),
        (Field::LastSeen, Value::Time(t)) => ordered(c.last_seen, op, *t),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand() -> Candidate {
        Candidate {
            kind: Some(Kind::Ipv4),
            labels: vec!["c2".into(), "botnet".into()],
            malware: vec!["Emotet".into()],
            sources: vec!["vendor".into()],
            country: Some("FR".into()),
            asn: Some(16276),
            network: Some("OVH SAS".into()),
            category: Some("c2".into()),
            confidence: Some(80),
            first_seen: Some(parse_time("2024-01-01").unwrap()),
            last_seen: Some(parse_time("2024-03-01").unwrap()),
        }
    }

    fn m(f: &str) -> bool {
        Filter::parse(f)
            .unwrap_or_else(|e| panic!("{e}"))
            .matches(&cand())
    }

    #[test]
    fn the_issue_example_matches() {
        assert!(m(
            "label = c2 AND malware = emotet AND country IN (FR, DE) AND confidence >= 60"
        ));
        assert!(!m(
            "label = c2 AND malware = emotet AND country IN (US) AND confidence >= 60"
        ));
        assert!(!m("confidence > 80"));
    }

    #[test]
    fn precedence_not_and_or() {
        // AND binds tighter than OR.
        assert!(m("label = phishing AND country = DE OR asn = AS16276"));
        assert!(!m("label = phishing AND (country = DE OR asn = 16276)"));
        assert!(m("NOT label = phishing"));
        assert!(m("NOT NOT label = c2"));
        assert!(m("label != phishing AND malware != qakbot"));
        assert!(!m("label != c2"));
        assert!(m("network ~ ovh AND network CONTAINS 'sas'"));
        assert!(m("type = ip AND type != url AND category = c2"));
        assert!(m("first_seen >= 2023-12-31 AND last_seen < \"2024-03-02\""));
        assert!(m(""));
    }

    #[test]
    fn missing_values_match_no_condition() {
        let c = Candidate::default();
        let f = Filter::parse("country = FR").unwrap();
        assert!(!f.matches(&c));
        assert!(!Filter::parse("country != FR").unwrap().matches(&c));
        assert!(Filter::parse("NOT (country = FR)").unwrap().matches(&c));
    }

    fn err(f: &str) -> FilterError {
        Filter::parse(f).expect_err(f)
    }

    #[test]
    fn errors_say_where_and_what() {
        let e = err("label = c2 AND");
        assert_eq!(e.column, 15);
        assert!(e.expected.contains("condition"), "{e}");
        let e = err("labl = c2");
        assert_eq!(e.column, 1);
        assert!(e.expected.contains("field name"), "{e}");
        let e = err("country IN FR");
        assert_eq!((e.column, e.found.as_str()), (12, "`FR`"));
        let e = err("country IN (FR, ZZ)");
        assert_eq!(e.column, 17);
        assert!(e.expected.contains("country code"), "{e}");
        let e = err("(label = c2");
        assert!(
            e.expected.contains("`)` to close the `(` at column 1"),
            "{e}"
        );
        let e = err("label = c2)");
        assert!(e.expected.contains("no matching"), "{e}");
        let e = err("label > c2");
        assert!(e.expected.contains("text"), "{e}");
        let e = err("confidence >= 101");
        assert!(e.expected.contains("0 and 100"), "{e}");
        let e = err("label = 'c2");
        assert!(e.expected.contains("closing"), "{e}");
        let e = err("first_seen > yesterday");
        assert!(e.expected.contains("date"), "{e}");
        let e = err("label c2");
        assert!(e.expected.contains("operator"), "{e}");
        let shown = err("label = c2 AND").to_string();
        assert!(
            shown.contains("column 15") && shown.ends_with('^'),
            "{shown}"
        );
    }

    #[test]
    fn depth_and_size_are_bounded() {
        let deep = format!(
            "{}label = c2{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(err(&deep).expected.contains("levels"));
        let ok = format!(
            "{}label = c2{}",
            "(".repeat(MAX_DEPTH),
            ")".repeat(MAX_DEPTH)
        );
        assert!(m(&ok));
        let nots = format!("{}label = c2", "NOT ".repeat(MAX_DEPTH + 1));
        assert!(err(&nots).expected.contains("levels"));
        let long = format!("label = {}", "a".repeat(MAX_FILTER_LEN));
        assert!(err(&long).expected.contains("bytes"));
        let many = format!(
            "asn IN ({})",
            (0..=MAX_IN_VALUES)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(",")
        );
        assert!(err(&many).expected.contains("at most"));
    }
}
