//! The error a pattern is refused with.

use std::fmt;

/// Why a pattern was refused, and where.
///
/// `line` and `column` are 1-based and count characters (not bytes), so they can be shown
/// to the person who wrote the pattern; `offset` is the byte offset for tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line of the offending token.
    pub line: usize,
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
    /// Byte offset of the offending token in the pattern.
    pub offset: usize,
    /// What the parser would have accepted here, e.g. `"']'"`; empty for checks that are
    /// not about the next token (duplicate qualifiers, malformed hashes).
    pub expected: String,
    /// What it found instead, e.g. `"'and'"` or `"end of pattern"`.
    pub found: String,
    /// A complete sentence for checks that are not "expected X, found Y".
    pub detail: Option<String>,
}

impl ParseError {
    pub(crate) fn expected(
        pos: Pos,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Self {
        ParseError {
            line: pos.line,
            column: pos.column,
            offset: pos.offset,
            expected: expected.into(),
            found: found.into(),
            detail: None,
        }
    }

    pub(crate) fn detail(pos: Pos, detail: impl Into<String>) -> Self {
        ParseError {
            line: pos.line,
            column: pos.column,
            offset: pos.offset,
            expected: String::new(),
            found: String::new(),
            detail: Some(detail.into()),
        }
    }
}

impl ParseError {
    /// The message without its position, for callers that show the position their own
    /// way (a caret under the pattern, a JSON pointer). `Display` gives
    /// `line L, column C: <message>`.
    pub fn message(&self) -> String {
        match &self.detail {
            Some(d) => d.clone(),
            None => format!("expected {}, found {}", self.expected, self.found),
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line,
            self.column,
            self.message()
        )
    }
}

impl std::error::Error for ParseError {}

/// A position in the pattern text: byte offset plus 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub offset: usize,
    pub line: usize,
    pub column: usize,
}

/// Why evaluating a pattern against observations failed (as opposed to "did not match").
///
/// These mirror the cases where the OASIS reference matcher raises instead of answering:
/// malformed observed-data, values that cannot be interpreted the way the pattern asks
/// (a non-timestamp string compared with a `t'...'` literal, an invalid IPv4 address under
/// `ISSUBSET`), and patterns whose constants are lexically valid but meaningless
/// (`t'2020-02-31T00:00:00Z'`, `REPEATS 0 TIMES`, a mixed-type `IN` set).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// What went wrong, for a log line or the person who wrote the pattern.
    pub message: String,
}

impl EvalError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        EvalError {
            message: message.into(),
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EvalError {}
