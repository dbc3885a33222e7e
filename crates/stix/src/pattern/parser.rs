//! Recursive-descent parser over the token stream. Each function's doc repeats its rule.
//!
//! Left-recursive rules of the ANTLR grammar (`a : a OP a | b`) become loops, which also
//! keeps long chains like `[a] AND [b] AND …` off the stack. Only parentheses and brackets
//! recurse, and [`MAX_NESTING`] bounds them.

use super::ast::*;
use super::error::{ParseError, Pos};
use super::lexer::{tokenize, Keyword, Tok, Token};

/// Deepest nesting of `(`/`[` accepted. Real patterns nest a handful of levels; the limit
/// turns hostile input into an error instead of a stack overflow.
pub const MAX_NESTING: usize = 100;

/// Longest pattern accepted, in bytes. Real indicators are well under a kilobyte; the
/// limit bounds the memory one hostile pattern can make the tokenizer allocate.
pub const MAX_PATTERN_BYTES: usize = 1 << 20;

/// Parses a whole pattern; `strict` adds the reference validator's checks beyond the
/// grammar (hash shapes, repeated qualifiers, leading comments).
///
/// `pattern ::= observationExpressions EOF`
pub(crate) fn parse_pattern(src: &str, strict: bool) -> Result<Pattern, ParseError> {
    if src.len() > MAX_PATTERN_BYTES {
        return Err(ParseError::detail(
            Pos {
                offset: 0,
                line: 1,
                column: 1,
            },
            format!(
                "pattern is {} bytes long; the limit is {MAX_PATTERN_BYTES}",
                src.len()
            ),
        ));
    }
    let tokens = tokenize(src);
    let mut p = Parser {
        tokens,
        at: 0,
        depth: 0,
        strict,
    };
    let root = p.observation_expressions()?;
    let t = p.peek();
    if t.tok != Tok::Eof {
        return Err(p.unexpected(
            "an observation operator (AND, OR, FOLLOWEDBY), a qualifier or the end of the pattern",
        ));
    }
    if strict {
        check_starts_with_bracket(src)?;
    }
    Ok(Pattern { root })
}

struct Parser {
    tokens: Vec<Token>,
    /// Index of the next unread token; the last token is always `Eof`, never consumed past.
    at: usize,
    /// Current `(`/`[` nesting; never above `MAX_NESTING`.
    depth: usize,
    /// Apply the checks beyond the grammar.
    strict: bool,
}

fn describe(t: &Token) -> String {
    match &t.tok {
        Tok::Eof => "end of pattern".to_string(),
        Tok::Quote => {
            "a quote that starts no valid string (unterminated, or an escape other than \\' and \\\\)"
                .to_string()
        }
        Tok::Invalid(c) => format!("the character {c:?}"),
        Tok::Str(_) | Tok::Hex(_) | Tok::Binary(_) | Tok::Timestamp(_) => {
            format!("the constant {}", clip(&t.text))
        }
        Tok::Ident(w) | Tok::IdentHyphen(w)
            if Keyword::ALL
                .iter()
                .any(|(k, _)| *k == w.to_ascii_uppercase()) =>
        {
            format!("'{}' (keywords are upper case: {})", clip(w), w.to_ascii_uppercase())
        }
        _ => format!("'{}'", clip(&t.text)),
    }
}

/// At most 40 characters of `text`, for messages.
fn clip(text: &str) -> String {
    let mut s: String = text.chars().take(40).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.at]
    }

    fn bump(&mut self) -> Token {
        let t = self.tokens[self.at].clone();
        if t.tok != Tok::Eof {
            self.at += 1;
        }
        t
    }

    fn is_quote_next(&self) -> bool {
        matches!(
            self.tokens.get(self.at + 1).map(|t| &t.tok),
            Some(Tok::Str(_) | Tok::Quote)
        )
    }

    fn is_kw(&self, k: Keyword) -> bool {
        self.peek().tok == Tok::Keyword(k)
    }

    fn unexpected(&self, expected: &str) -> ParseError {
        let t = self.peek();
        ParseError::expected(t.pos, expected, describe(t))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<Token, ParseError> {
        if self.peek().tok == tok {
            Ok(self.bump())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn expect_kw(&mut self, k: Keyword) -> Result<Token, ParseError> {
        self.expect(Tok::Keyword(k), k.as_str())
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        if self.depth >= MAX_NESTING {
            let t = self.peek();
            return Err(ParseError::detail(
                t.pos,
                format!("nesting deeper than {MAX_NESTING} levels of brackets and parentheses"),
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// `observationExpressions ::= observationExpressionOr ( FOLLOWEDBY observationExpressionOr )*`
    fn observation_expressions(&mut self) -> Result<ObservationExpr, ParseError> {
        let mut items = vec![self.observation_or()?];
        while self.is_kw(Keyword::FollowedBy) {
            self.bump();
            items.push(self.observation_or()?);
        }
        Ok(one_or(items, ObservationExpr::FollowedBy))
    }

    /// `observationExpressionOr ::= observationExpressionAnd ( OR observationExpressionAnd )*`
    fn observation_or(&mut self) -> Result<ObservationExpr, ParseError> {
        let mut items = vec![self.observation_and()?];
        while self.is_kw(Keyword::Or) {
            self.bump();
            items.push(self.observation_and()?);
        }
        Ok(one_or(items, ObservationExpr::Or))
    }

    /// `observationExpressionAnd ::= observationExpression ( AND observationExpression )*`
    fn observation_and(&mut self) -> Result<ObservationExpr, ParseError> {
        let mut items = vec![self.observation_expression()?];
        while self.is_kw(Keyword::And) {
            self.bump();
            items.push(self.observation_expression()?);
        }
        Ok(one_or(items, ObservationExpr::And))
    }

    /// ```text
    /// observationExpression ::= ( '[' comparisonExpression ']'
    ///                           | '(' observationExpressions ')' ) qualifier*
    /// qualifier ::= startStopQualifier | withinQualifier | repeatedQualifier
    /// ```
    fn observation_expression(&mut self) -> Result<ObservationExpr, ParseError> {
        let bracketed = self.peek().tok == Tok::LBrack;
        let mut expr = match self.peek().tok {
            Tok::LBrack => {
                self.enter()?;
                self.bump();
                let c = self.comparison_expression()?;
                self.expect(Tok::RBrack, "']' or a comparison operator (AND, OR)")?;
                self.leave();
                ObservationExpr::Observation(c)
            }
            Tok::LParen => {
                self.enter()?;
                self.bump();
                let inner = self.observation_expressions()?;
                self.expect(
                    Tok::RParen,
                    "')' or an observation operator (AND, OR, FOLLOWEDBY)",
                )?;
                self.leave();
                ObservationExpr::Group(Box::new(inner))
            }
            _ => return Err(self.unexpected("'[' or '(' to start an observation expression")),
        };
        // The same qualifier kind twice directly on one `[…]` is almost certainly a
        // mistake and the reference validator refuses it; parentheses make it explicit.
        let mut kinds_seen: Vec<&'static str> = Vec::new();
        loop {
            let at = self.peek().pos;
            let q = match self.peek().tok {
                Tok::Keyword(Keyword::Start) => self.start_stop_qualifier()?,
                Tok::Keyword(Keyword::Within) => self.within_qualifier()?,
                Tok::Keyword(Keyword::Repeats) => self.repeated_qualifier()?,
                _ => return Ok(expr),
            };
            if self.strict && bracketed {
                if kinds_seen.contains(&q.kind_name()) {
                    return Err(ParseError::detail(
                        at,
                        format!(
                            "duplicate {} qualifier on one observation; put parentheses around the inner one if both are meant",
                            q.kind_name()
                        ),
                    ));
                }
                kinds_seen.push(q.kind_name());
            }
            expr = ObservationExpr::Qualified(Box::new(expr), q);
        }
    }

    /// `startStopQualifier ::= START TimestampLiteral STOP TimestampLiteral`
    fn start_stop_qualifier(&mut self) -> Result<Qualifier, ParseError> {
        self.expect_kw(Keyword::Start)?;
        let start = self.timestamp("a timestamp t'YYYY-MM-DDTHH:MM:SSZ' after START")?;
        self.expect_kw(Keyword::Stop)?;
        let stop = self.timestamp("a timestamp t'YYYY-MM-DDTHH:MM:SSZ' after STOP")?;
        Ok(Qualifier::StartStop(start, stop))
    }

    fn timestamp(&mut self, what: &str) -> Result<Timestamp, ParseError> {
        match &self.peek().tok {
            Tok::Timestamp(t) => {
                let t = Timestamp(t.clone());
                self.bump();
                Ok(t)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// `withinQualifier ::= WITHIN ( IntPosLiteral | FloatPosLiteral ) SECONDS`
    fn within_qualifier(&mut self) -> Result<Qualifier, ParseError> {
        self.expect_kw(Keyword::Within)?;
        let n = match &self.peek().tok {
            Tok::IntPos(s) => Number::Int(s.parse().map_err(|_| {
                ParseError::detail(self.peek().pos, "WITHIN duration is too large")
            })?),
            Tok::FloatPos(s) => Number::Float(s.trim_start_matches('+').parse().unwrap_or(0.0)),
            _ => return Err(self.unexpected("a non-negative number of seconds after WITHIN")),
        };
        self.bump();
        self.expect_kw(Keyword::Seconds)?;
        Ok(Qualifier::Within(n))
    }

    /// `repeatedQualifier ::= REPEATS IntPosLiteral TIMES`
    fn repeated_qualifier(&mut self) -> Result<Qualifier, ParseError> {
        self.expect_kw(Keyword::Repeats)?;
        let n = match &self.peek().tok {
            Tok::IntPos(s) => s
                .parse()
                .map_err(|_| ParseError::detail(self.peek().pos, "REPEATS count is too large"))?,
            _ => return Err(self.unexpected("a non-negative integer after REPEATS")),
        };
        self.bump();
        self.expect_kw(Keyword::Times)?;
        Ok(Qualifier::Repeats(n))
    }

    /// `comparisonExpression ::= comparisonExpressionAnd ( OR comparisonExpressionAnd )*`
    fn comparison_expression(&mut self) -> Result<ComparisonExpr, ParseError> {
        let mut items = vec![self.comparison_and()?];
        while self.is_kw(Keyword::Or) {
            self.bump();
            items.push(self.comparison_and()?);
        }
        Ok(one_or(items, ComparisonExpr::Or))
    }

    /// `comparisonExpressionAnd ::= propTest ( AND propTest )*`
    fn comparison_and(&mut self) -> Result<ComparisonExpr, ParseError> {
        let mut items = vec![self.prop_test()?];
        while self.is_kw(Keyword::And) {
            self.bump();
            items.push(self.prop_test()?);
        }
        Ok(one_or(items, ComparisonExpr::And))
    }

    /// ```text
    /// propTest ::= objectPath NOT? ( '=' | '!=' ) primitiveLiteral
    ///            | objectPath NOT? ( '>' | '<' | '>=' | '<=' ) orderableLiteral
    ///            | objectPath NOT? IN setLiteral
    ///            | objectPath NOT? ( LIKE | MATCHES | ISSUBSET | ISSUPERSET ) StringLiteral
    ///            | NOT? EXISTS objectPath
    ///            | '(' comparisonExpression ')'
    /// ```
    fn prop_test(&mut self) -> Result<ComparisonExpr, ParseError> {
        if self.peek().tok == Tok::LParen {
            self.enter()?;
            self.bump();
            let inner = self.comparison_expression()?;
            self.expect(Tok::RParen, "')' or a comparison operator (AND, OR)")?;
            self.leave();
            return Ok(ComparisonExpr::Group(Box::new(inner)));
        }
        if !matches!(
            self.peek().tok,
            Tok::Ident(_) | Tok::IdentHyphen(_) | Tok::Keyword(Keyword::Not | Keyword::Exists)
        ) {
            return Err(self.unexpected(
                "a comparison: an object path such as file:name, '(', or [NOT] EXISTS",
            ));
        }
        if self.is_kw(Keyword::Not) || self.is_kw(Keyword::Exists) {
            let negated = self.is_kw(Keyword::Not);
            if negated {
                self.bump();
            }
            // Committed: after NOT at the start of a test only EXISTS can follow.
            self.expect_kw(Keyword::Exists)?;
            let path = self.object_path()?;
            return Ok(ComparisonExpr::Test(PropTest {
                path,
                negated,
                op: Operator::Exists,
            }));
        }
        let path_start = self.peek().pos;
        let path = self.object_path()?;
        let negated = self.is_kw(Keyword::Not);
        if negated {
            self.bump();
        }
        let op_tok = self.peek().clone();
        let value_start = self.at + 1;
        let op = match &op_tok.tok {
            Tok::Eq | Tok::Neq => {
                self.bump();
                let v = self.literal(true)?;
                if op_tok.tok == Tok::Eq {
                    Operator::Eq(v)
                } else {
                    Operator::Neq(v)
                }
            }
            Tok::Lt | Tok::Le | Tok::Gt | Tok::Ge => {
                self.bump();
                let v = self.literal(false)?;
                match op_tok.tok {
                    Tok::Lt => Operator::Lt(v),
                    Tok::Le => Operator::Le(v),
                    Tok::Gt => Operator::Gt(v),
                    _ => Operator::Ge(v),
                }
            }
            Tok::Keyword(Keyword::In) => {
                self.bump();
                Operator::In(self.set_literal()?)
            }
            Tok::Keyword(k @ (Keyword::Like | Keyword::Matches | Keyword::IsSubset | Keyword::IsSuperset)) => {
                let k = *k;
                self.bump();
                let s = match &self.peek().tok {
                    Tok::Str(s) => s.clone(),
                    _ => {
                        return Err(self.unexpected(&format!("a quoted string after {}", k.as_str())))
                    }
                };
                self.bump();
                match k {
                    Keyword::Like => Operator::Like(s),
                    Keyword::Matches => Operator::Matches(s),
                    Keyword::IsSubset => Operator::IsSubset(s),
                    _ => Operator::IsSuperset(s),
                }
            }
            _ => {
                return Err(self.unexpected(if negated {
                    "a comparison operator after NOT (=, !=, <, >, <=, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET)"
                } else {
                    "a comparison operator (=, !=, <, >, <=, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET, NOT) or a path step ('.', '[')"
                }))
            }
        };
        let value_text: String = self.tokens[value_start..self.at]
            .iter()
            .map(|t| t.text.as_str())
            .collect();
        if self.strict {
            check_hash_value(&path, &value_text, path_start)?;
        }
        Ok(ComparisonExpr::Test(PropTest { path, negated, op }))
    }

    /// ```text
    /// objectPath ::= objectType ':' firstPathComponent objectPathComponent*
    /// objectType ::= IdentifierWithoutHyphen | IdentifierWithHyphen
    /// firstPathComponent ::= IdentifierWithoutHyphen | StringLiteral
    /// objectPathComponent ::= '.' ( IdentifierWithoutHyphen | StringLiteral )
    ///                       | '[' ( IntPosLiteral | IntNegLiteral | '*' ) ']'
    /// ```
    /// Negative indexes are in the grammar but have no meaning (the reference validator
    /// fails on them), so they are refused here.
    fn object_path(&mut self) -> Result<ObjectPath, ParseError> {
        let object_type = match &self.peek().tok {
            Tok::Ident(s) | Tok::IdentHyphen(s) => s.clone(),
            _ => return Err(self.unexpected("an object type such as 'file' or 'ipv4-addr'")),
        };
        self.bump();
        self.expect(Tok::Colon, "':' after the object type")?;
        let mut steps = vec![match &self.peek().tok {
            Tok::Ident(s) | Tok::Str(s) => PathStep::Key(s.clone()),
            _ => {
                return Err(self
                    .unexpected("a property name (letters, digits, '_'; quote others: 'SHA-256')"))
            }
        }];
        self.bump();
        loop {
            match self.peek().tok {
                Tok::Dot => {
                    self.bump();
                    match &self.peek().tok {
                        Tok::Ident(s) | Tok::Str(s) => steps.push(PathStep::Key(s.clone())),
                        _ => {
                            return Err(self.unexpected(
                                "a property name after '.' (quote names with '-': 'SHA-256')",
                            ))
                        }
                    }
                    self.bump();
                }
                Tok::LBrack => {
                    self.bump();
                    let t = self.peek().clone();
                    match &t.tok {
                        Tok::IntPos(s) => {
                            steps.push(PathStep::Index(s.parse().map_err(|_| {
                                ParseError::detail(t.pos, "list index is too large")
                            })?))
                        }
                        Tok::Star => steps.push(PathStep::AnyIndex),
                        Tok::IntNeg(_) => {
                            return Err(ParseError::detail(
                                t.pos,
                                "a list index must be a non-negative integer or '*'",
                            ))
                        }
                        _ => return Err(self.unexpected("a list index (0, 1, …) or '*'")),
                    }
                    self.bump();
                    self.expect(Tok::RBrack, "']' after the list index")?;
                }
                _ => return Ok(ObjectPath { object_type, steps }),
            }
        }
    }

    /// ```text
    /// primitiveLiteral ::= orderableLiteral | BoolLiteral
    /// orderableLiteral ::= IntPosLiteral | IntNegLiteral | FloatPosLiteral | FloatNegLiteral
    ///                    | StringLiteral | BinaryLiteral | HexLiteral | TimestampLiteral
    /// ```
    fn literal(&mut self, allow_bool: bool) -> Result<Literal, ParseError> {
        let t = self.peek().clone();
        let too_big = || ParseError::detail(t.pos, "integer constant out of range");
        let v = match &t.tok {
            Tok::IntPos(s) => Literal::Int(s.parse().map_err(|_| too_big())?),
            Tok::IntNeg(s) => Literal::Int(s.parse().map_err(|_| too_big())?),
            Tok::FloatPos(s) | Tok::FloatNeg(s) => {
                Literal::Float(s.trim_start_matches('+').parse().unwrap_or(0.0))
            }
            Tok::Str(s) => Literal::Str(s.clone()),
            Tok::Bool(b) if allow_bool => Literal::Bool(*b),
            Tok::Binary(s) => Literal::Binary(
                super::base64::decode(s).ok_or_else(|| ParseError::detail(t.pos, "invalid base64"))?,
            ),
            Tok::Hex(s) => Literal::Hex(
                (0..s.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0))
                    .collect(),
            ),
            Tok::Timestamp(s) => Literal::Timestamp(Timestamp(s.clone())),
            Tok::Ident(p) if matches!(p.as_str(), "b" | "h" | "t") && self.is_quote_next() => {
                let what = match p.as_str() {
                    "b" => "malformed binary constant: b'…' needs padded base64 (groups of 4 characters, '=' padding)",
                    "h" => "malformed hex constant: h'…' needs an even number of hex digits",
                    _ => "malformed timestamp: t'YYYY-MM-DDTHH:MM:SS[.fraction]Z' (month 01-12, day 01-31, hour 00-23)",
                };
                return Err(ParseError::detail(t.pos, what));
            }
            Tok::Bool(_) => {
                return Err(self.unexpected(
                    "an orderable constant (number, string, binary, hex or timestamp); booleans cannot be ordered",
                ))
            }
            _ => {
                return Err(self.unexpected(
                    "a constant: 'string', number, true/false, t'timestamp', h'hex' or b'base64'",
                ))
            }
        };
        self.bump();
        Ok(v)
    }

    /// `setLiteral ::= '(' ')' | '(' primitiveLiteral ( ',' primitiveLiteral )* ')'`
    fn set_literal(&mut self) -> Result<Vec<Literal>, ParseError> {
        self.expect(Tok::LParen, "'(' to start the set after IN")?;
        let mut items = Vec::new();
        if self.peek().tok == Tok::RParen {
            self.bump();
            return Ok(items);
        }
        loop {
            items.push(self.literal(true)?);
            match self.peek().tok {
                Tok::Comma => {
                    self.bump();
                }
                Tok::RParen => {
                    self.bump();
                    return Ok(items);
                }
                _ => return Err(self.unexpected("',' or ')' in the set")),
            }
        }
    }
}

fn one_or<T>(mut items: Vec<T>, many: impl FnOnce(Vec<T>) -> T) -> T {
    if items.len() == 1 {
        items.pop().expect("one item")
    } else {
        many(items)
    }
}

/// A pattern must open with `[`, possibly after `(`s and whitespace. The grammar would also
/// allow a leading comment; the reference validator does not, and neither do we.
fn check_starts_with_bracket(src: &str) -> Result<(), ParseError> {
    let mut pos = Pos {
        offset: 0,
        line: 1,
        column: 1,
    };
    for c in src.chars() {
        if c == '[' {
            return Ok(());
        }
        if c != '(' && !c.is_whitespace() {
            break;
        }
        pos.offset += c.len_utf8();
        if c == '\n' {
            pos.line += 1;
            pos.column = 1;
        } else {
            pos.column += 1;
        }
    }
    Err(ParseError::detail(
        pos,
        "a pattern must start with '[' (after any '('); comments cannot come first",
    ))
}

/// Hash values under a known algorithm must look like that algorithm's digest
/// (`file:hashes.MD5 = '…'` with 32 hex digits), as the reference validator requires.
/// `value_text` is the constant as written (quotes included; a whole `( … )` set for IN).
fn check_hash_value(path: &ObjectPath, value_text: &str, pos: Pos) -> Result<(), ParseError> {
    if !path
        .steps
        .iter()
        .any(|s| *s == PathStep::Key("hashes".into()))
    {
        return Ok(());
    }
    let selector = match path.steps.last() {
        Some(PathStep::Key(k)) => k,
        Some(PathStep::AnyIndex) | None => return Ok(()),
        Some(PathStep::Index(_)) => {
            return Err(ParseError::detail(
                pos,
                "a hash is selected by algorithm name (hashes.MD5), not by list index",
            ))
        }
    };
    let algo: String = selector.to_uppercase().replace(['-', '\''], "");
    let value: String = value_text.replace('\'', "");
    let ok = match algo.as_str() {
        "MD5" => hex_exact(&value, 32),
        "MD6" => {
            hex_prefix(&value, 32)
                || value
                    .strip_prefix("\n    ")
                    .is_some_and(|v| hex_prefix(v, 64))
        }
        "RIPEMD160" | "SHA1" => hex_exact(&value, 40),
        "SHA224" | "SHA3224" => hex_exact(&value, 56),
        "SHA256" | "SHA3256" => hex_exact(&value, 64),
        "SHA384" | "SHA3384" => hex_exact(&value, 96),
        "SHA512" | "SHA3512" | "WHIRLPOOL" => hex_exact(&value, 128),
        "SSDEEP" => {
            let v = value.strip_suffix('\n').unwrap_or(&value);
            (1..=128).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b':' | b'.'))
        }
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(ParseError::detail(
            pos,
            format!("'{value}' is not a valid {selector} hash"),
        ))
    }
}

/// Exactly `n` hex digits (a trailing newline tolerated, as Python's `$` does).
fn hex_exact(v: &str, n: usize) -> bool {
    let v = v.strip_suffix('\n').unwrap_or(v);
    v.len() == n && v.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hex_prefix(v: &str, n: usize) -> bool {
    v.len() >= n && v.as_bytes()[..n].iter().all(|b| b.is_ascii_hexdigit())
}
