//! The STIX 2.1 patterning language (STIX 2.1 section 9): parse, evaluate, compile.
//!
//! - [`parse`] turns pattern text into a [`Pattern`] or a located [`ParseError`]; it accepts
//!   exactly what the OASIS validator (`stix2-patterns`, STIX 2.1 grammar) accepts.
//!   [`parse_lenient`] applies the grammar alone, as the reference matcher does.
//! - [`Pattern`]'s `Display` prints the canonical form.
//! - [`Matcher`] decides whether observed-data matches a pattern, with the semantics of the
//!   OASIS reference matcher (`stix2-matcher`); [`Observations`] reads events once for
//!   many patterns. `MATCHES` runs on the `regex` crate, falling back to `fancy-regex` for
//!   look-around and backreferences.
//! - [`compile`] extracts the plain indicator values (IPs, CIDRs, domains, URLs, hashes,
//!   e-mail addresses) the log matcher indexes, and says whether those values alone decide.
//!
//! Where the reference tools are knowingly not followed (IPv6 under `ISSUBSET`, `NOT
//! EXISTS`, `EXISTS` inside `AND`/`OR`, nesting past [`MAX_NESTING`]) the reasons are in
//! `crates/stix/tests/oracle/known_differences.json`, checked by the oracle tests.
//!
//! No I/O: everything takes strings and `serde_json::Value`s.
//!
//! # Grammar
//!
//! Rule by rule, as implemented by the functions in `parser.rs` (each repeats its rule).
//! Keywords are upper case; `true`/`false` lower case. Whitespace and `/* */`, `//`
//! comments separate tokens anywhere except before the first `[`/`(`.
//!
//! ```text
//! pattern                 ::= observationExpressions EOF
//! observationExpressions  ::= observationExpressionOr ( FOLLOWEDBY observationExpressionOr )*
//! observationExpressionOr ::= observationExpressionAnd ( OR observationExpressionAnd )*
//! observationExpressionAnd::= observationExpression ( AND observationExpression )*
//! observationExpression   ::= ( '[' comparisonExpression ']' | '(' observationExpressions ')' )
//!                             qualifier*
//! qualifier               ::= startStopQualifier | withinQualifier | repeatedQualifier
//! startStopQualifier      ::= START TimestampLiteral STOP TimestampLiteral
//! withinQualifier         ::= WITHIN ( IntPosLiteral | FloatPosLiteral ) SECONDS
//! repeatedQualifier       ::= REPEATS IntPosLiteral TIMES
//!
//! comparisonExpression    ::= comparisonExpressionAnd ( OR comparisonExpressionAnd )*
//! comparisonExpressionAnd ::= propTest ( AND propTest )*
//! propTest                ::= objectPath NOT? ( '=' | '==' | '!=' | '<>' ) primitiveLiteral
//!                           | objectPath NOT? ( '<' | '<=' | '>' | '>=' ) orderableLiteral
//!                           | objectPath NOT? IN setLiteral
//!                           | objectPath NOT? ( LIKE | MATCHES | ISSUBSET | ISSUPERSET ) StringLiteral
//!                           | NOT? EXISTS objectPath
//!                           | '(' comparisonExpression ')'
//!
//! objectPath              ::= objectType ':' firstPathComponent objectPathComponent*
//! objectType              ::= IdentifierWithoutHyphen | IdentifierWithHyphen
//! firstPathComponent      ::= IdentifierWithoutHyphen | StringLiteral
//! objectPathComponent     ::= '.' ( IdentifierWithoutHyphen | StringLiteral )
//!                           | '[' ( IntPosLiteral | '*' ) ']'
//!
//! setLiteral              ::= '(' ')' | '(' primitiveLiteral ( ',' primitiveLiteral )* ')'
//! primitiveLiteral        ::= orderableLiteral | BoolLiteral
//! orderableLiteral        ::= IntPosLiteral | IntNegLiteral | FloatPosLiteral | FloatNegLiteral
//!                           | StringLiteral | BinaryLiteral | HexLiteral | TimestampLiteral
//!
//! IntNegLiteral           ::= '-' ( '0' | [1-9] [0-9]* )
//! IntPosLiteral           ::= '+'? ( '0' | [1-9] [0-9]* )
//! FloatNegLiteral         ::= '-' [0-9]* '.' [0-9]+
//! FloatPosLiteral         ::= '+'? [0-9]* '.' [0-9]+
//! StringLiteral           ::= "'" ( [^'\\] | "\'" | "\\" )* "'"
//! BoolLiteral             ::= 'true' | 'false'
//! HexLiteral              ::= "h'" ( [0-9a-fA-F] [0-9a-fA-F] )* "'"
//! BinaryLiteral           ::= "b'" ( B B B B )* ( B B B B | B B B '=' | B B '==' ) "'"   B ::= [A-Za-z0-9+/]
//! TimestampLiteral        ::= "t'" YYYY '-' MM '-' DD 'T' hh ':' mm ':' ss ( '.' [0-9]+ )? 'Z' "'"
//!                             (MM 01-12, DD 01-31, hh 00-23, mm 00-59, ss 00-60)
//! IdentifierWithoutHyphen ::= [a-zA-Z_] [a-zA-Z0-9_]*
//! IdentifierWithHyphen    ::= [a-zA-Z_] [a-zA-Z0-9_-]*
//! ```
//!
//! Tokens are the longest match; on a tie, literals beat keywords beat identifiers. So a
//! property named like a keyword (`LAST`, `true`) must be quoted: `x:'true'`.
//!
//! # Errors reported on purpose
//!
//! Besides "expected X, found Y" at the first token the grammar cannot accept, the parser
//! refuses, as the reference validator does:
//! - the same qualifier kind twice directly on one `[…]` (`[a] WITHIN 1 SECONDS WITHIN 2 SECONDS`);
//! - a hash under a known algorithm that does not look like one (`file:hashes.MD5 = 'abc'`);
//! - a negative list index, or a list index as hash selector (`hashes[0]`);
//! - nesting deeper than [`MAX_NESTING`], or a pattern longer than [`MAX_PATTERN_BYTES`];
//! - a pattern that does not start with `[` after optional `(`s (a leading comment).
//!
//! Once a keyword has been read the parser commits to it: `[x:y NOT 5]` says a comparison
//! operator was expected after NOT, not that the whole test was unexpected.

#![warn(missing_docs)]

mod ast;
mod base64;
mod compile;
mod error;
mod eval;
mod lexer;
mod parser;

pub use ast::{
    ComparisonExpr, Literal, Number, ObjectPath, ObservationExpr, Operator, PathStep, Pattern,
    PropTest, Qualifier, Timestamp,
};
pub use compile::{compile, Alternative, Compiled};
pub use error::{EvalError, ParseError};
pub use eval::{Matcher, Observations, MAX_BINDINGS, MAX_SEARCH_STEPS};
pub use parser::{MAX_NESTING, MAX_PATTERN_BYTES};

/// Parses a STIX 2.1 pattern.
///
/// ```
/// let p = stix::pattern::parse("[ipv4-addr:value = '198.51.100.1'] WITHIN 60 SECONDS").unwrap();
/// assert_eq!(p.to_string(), "[ipv4-addr:value = '198.51.100.1'] WITHIN 60 SECONDS");
/// let e = stix::pattern::parse("[ipv4-addr:value = '1.2.3.4' and x:y = 1]").unwrap_err();
/// assert_eq!((e.line, e.column), (1, 30));
/// ```
pub fn parse(pattern: &str) -> Result<Pattern, ParseError> {
    parser::parse_pattern(pattern, true)
}

/// Parses by the grammar alone, without the validator's extra checks (hash value shapes,
/// repeated qualifiers on one observation, a leading comment). This is what the reference
/// matcher accepts; use it to evaluate indicators from sources whose patterns are
/// syntactically fine but would fail validation, e.g. a truncated hash value.
pub fn parse_lenient(pattern: &str) -> Result<Pattern, ParseError> {
    parser::parse_pattern(pattern, false)
}

impl std::str::FromStr for Pattern {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl Pattern {
    /// Does this pattern match the given observations? See [`Matcher::matches`] for the
    /// input shape. Prepares a [`Matcher`] each call; keep one for repeated use.
    pub fn matches(&self, observations: &[serde_json::Value]) -> Result<bool, EvalError> {
        Matcher::new(self)?.matches(observations)
    }
}

#[cfg(test)]
mod tests;
