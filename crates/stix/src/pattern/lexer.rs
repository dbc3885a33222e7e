//! Tokenizer: turns pattern text into tokens that keep their position.
//!
//! The rules follow the lexer of the OASIS ANTLR grammar (`STIXPattern.g4`, STIX 2.1):
//! at each position the longest token wins, and on a tie the rule listed first wins
//! (literals, then keywords, then identifiers, then punctuation). That is why `ANDx` is an
//! identifier, `true` is always a boolean and never a property name, `00` is two integers,
//! and `b'YQ'` (unpadded base64) is the identifier `b` followed by a string. Keywords are
//! upper case only; `true`/`false` are lower case only.

use super::error::Pos;

/// A token kind, carrying the decoded payload where there is one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// `'+'? ('0' | [1-9][0-9]*)`; the text without sign.
    IntPos(String),
    /// `'-' ('0' | [1-9][0-9]*)`; the full text with sign.
    IntNeg(String),
    /// `'+'? [0-9]* '.' [0-9]+`
    FloatPos(String),
    /// `'-' [0-9]* '.' [0-9]+`
    FloatNeg(String),
    /// `h'…'`: the hex digits between the quotes.
    Hex(String),
    /// `b'…'`: the base64 text between the quotes.
    Binary(String),
    /// `'…'` with `\'` and `\\` already unescaped.
    Str(String),
    Bool(bool),
    /// `t'…'`: the timestamp text between the quotes.
    Timestamp(String),
    Keyword(Keyword),
    /// `[a-zA-Z_][a-zA-Z0-9_]*`
    Ident(String),
    /// `[a-zA-Z_][a-zA-Z0-9_-]*` containing at least one `-`.
    IdentHyphen(String),
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
    Quote,
    Colon,
    Dot,
    Comma,
    LParen,
    RParen,
    LBrack,
    RBrack,
    Plus,
    Minus,
    Caret,
    Slash,
    Star,
    /// Any character no rule accepts.
    Invalid(char),
    Eof,
}

/// Reserved words of the language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Keyword {
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
}

impl Keyword {
    pub(crate) const ALL: [(&'static str, Keyword); 17] = [
        ("AND", Keyword::And),
        ("OR", Keyword::Or),
        ("NOT", Keyword::Not),
        ("FOLLOWEDBY", Keyword::FollowedBy),
        ("LIKE", Keyword::Like),
        ("MATCHES", Keyword::Matches),
        ("ISSUPERSET", Keyword::IsSuperset),
        ("ISSUBSET", Keyword::IsSubset),
        ("EXISTS", Keyword::Exists),
        ("LAST", Keyword::Last),
        ("IN", Keyword::In),
        ("START", Keyword::Start),
        ("STOP", Keyword::Stop),
        ("SECONDS", Keyword::Seconds),
        ("WITHIN", Keyword::Within),
        ("REPEATS", Keyword::Repeats),
        ("TIMES", Keyword::Times),
    ];

    pub(crate) fn as_str(self) -> &'static str {
        Keyword::ALL
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(s, _)| *s)
            .unwrap_or("?")
    }
}

/// A token and where it starts.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: Pos,
    /// The token's text, for error messages.
    pub text: String,
}

/// Is `word` lexed as something other than a plain identifier (a keyword or a boolean)?
pub(crate) fn is_reserved_word(word: &str) -> bool {
    word == "true" || word == "false" || Keyword::ALL.iter().any(|(s, _)| *s == word)
}

/// Whitespace as the grammar's `WS` rule defines it (Unicode spaces included).
fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\r'
            | '\n'
            | '\u{000B}'
            | '\u{000C}'
            | '\u{0085}'
            | '\u{00a0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Splits the whole pattern into tokens (comments and whitespace dropped), ending with `Eof`.
/// Never fails: characters no rule accepts become `Tok::Invalid` and the parser reports them.
pub(crate) fn tokenize(src: &str) -> Vec<Token> {
    let mut lx = Lexer {
        src,
        bytes: src.as_bytes(),
        at: 0,
        line: 1,
        col: 1,
    };
    let mut out = Vec::new();
    loop {
        lx.skip_trivia();
        let pos = lx.pos();
        if lx.at >= lx.bytes.len() {
            out.push(Token {
                tok: Tok::Eof,
                pos,
                text: String::new(),
            });
            return out;
        }
        let (tok, len) = lx.next_token();
        let text = src[lx.at..lx.at + len].to_string();
        lx.advance(len);
        out.push(Token { tok, pos, text });
    }
}

struct Lexer<'a> {
    src: &'a str,
    bytes: &'a [u8],
    /// Byte offset of the next unread character; always on a char boundary.
    at: usize,
    line: usize,
    col: usize,
}

impl Lexer<'_> {
    fn pos(&self) -> Pos {
        Pos {
            offset: self.at,
            line: self.line,
            column: self.col,
        }
    }

    fn advance(&mut self, len: usize) {
        for c in self.src[self.at..self.at + len].chars() {
            if c == '\n' {
                self.line += 1;
                self.col = 1;
            } else {
                self.col += 1;
            }
        }
        self.at += len;
    }

    fn skip_trivia(&mut self) {
        loop {
            let rest = &self.src[self.at..];
            if let Some(c) = rest.chars().next() {
                if is_ws(c) {
                    let n = rest.find(|c: char| !is_ws(c)).unwrap_or(rest.len());
                    self.advance(n);
                    continue;
                }
            }
            if let Some(body) = rest.strip_prefix("/*") {
                // An unterminated comment is not a comment: `/` and `*` become tokens.
                if let Some(end) = body.find("*/") {
                    self.advance(end + 4);
                    continue;
                }
            }
            if rest.starts_with("//") {
                let n = rest.find(['\r', '\n']).unwrap_or(rest.len());
                self.advance(n);
                continue;
            }
            return;
        }
    }

    fn byte(&self, i: usize) -> Option<u8> {
        self.bytes.get(self.at + i).copied()
    }

    fn digits_from(&self, i: usize) -> usize {
        let mut n = 0;
        while self.byte(i + n).is_some_and(|b| b.is_ascii_digit()) {
            n += 1;
        }
        n
    }

    /// Length of `('0' | [1-9][0-9]*)` at relative offset `i`, or 0.
    fn int_body(&self, i: usize) -> usize {
        match self.byte(i) {
            Some(b'0') => 1,
            Some(b'1'..=b'9') => 1 + self.digits_from(i + 1),
            _ => 0,
        }
    }

    /// Length of `[0-9]* '.' [0-9]+` at relative offset `i`, or 0.
    fn float_body(&self, i: usize) -> usize {
        let lead = self.digits_from(i);
        if self.byte(i + lead) != Some(b'.') {
            return 0;
        }
        let frac = self.digits_from(i + lead + 1);
        if frac == 0 {
            0
        } else {
            lead + 1 + frac
        }
    }

    fn ident_len(&self, allow_hyphen: bool) -> usize {
        match self.byte(0) {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
            _ => return 0,
        }
        let mut n = 1;
        while let Some(b) = self.byte(n) {
            if b.is_ascii_alphanumeric() || b == b'_' || (allow_hyphen && b == b'-') {
                n += 1;
            } else {
                break;
            }
        }
        n
    }

    /// `'…'` with only `\'` and `\\` as escapes; returns (length, unescaped) if well formed.
    fn string_at(&self, i: usize) -> Option<(usize, String)> {
        if self.byte(i) != Some(b'\'') {
            return None;
        }
        let body = &self.src[self.at + i + 1..];
        let mut out = String::new();
        let mut chars = body.char_indices();
        while let Some((k, c)) = chars.next() {
            match c {
                '\'' => return Some((i + 1 + k + 1, out)),
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '\\'))) => out.push(e),
                    _ => return None,
                },
                c => out.push(c),
            }
        }
        None
    }

    fn hex_at(&self) -> Option<usize> {
        if self.byte(0) != Some(b'h') || self.byte(1) != Some(b'\'') {
            return None;
        }
        let mut n = 2;
        while self.byte(n).is_some_and(|b| b.is_ascii_hexdigit())
            && self.byte(n + 1).is_some_and(|b| b.is_ascii_hexdigit())
        {
            n += 2;
        }
        (self.byte(n) == Some(b'\'')).then_some(n + 1)
    }

    /// `b'` groups of four base64 characters, the last possibly padded with `=`/`==`, `'`;
    /// at least one group.
    fn binary_at(&self) -> Option<usize> {
        if self.byte(0) != Some(b'b') || self.byte(1) != Some(b'\'') {
            return None;
        }
        let mut n = 2;
        let mut groups = 0;
        loop {
            let g: Vec<Option<u8>> = (0..4).map(|k| self.byte(n + k)).collect();
            let ok = |o: Option<u8>| o.is_some_and(is_b64);
            if ok(g[0]) && ok(g[1]) && ok(g[2]) && ok(g[3]) {
                n += 4;
                groups += 1;
                continue;
            }
            if ok(g[0]) && ok(g[1]) && ok(g[2]) && g[3] == Some(b'=') {
                n += 4;
                groups += 1;
                break;
            }
            if ok(g[0]) && ok(g[1]) && g[2] == Some(b'=') && g[3] == Some(b'=') {
                n += 4;
                groups += 1;
                break;
            }
            break;
        }
        (groups > 0 && self.byte(n) == Some(b'\'')).then_some(n + 1)
    }

    /// `t'YYYY-MM-DDTHH:MM:SS(.f+)?Z'` with the field ranges the grammar enforces.
    fn timestamp_at(&self) -> Option<usize> {
        if self.byte(0) != Some(b't') || self.byte(1) != Some(b'\'') {
            return None;
        }
        let b = |i: usize| self.byte(2 + i).unwrap_or(0);
        let d = |i: usize| b(i).is_ascii_digit();
        let two = |i: usize| (b(i) - b'0') as u32 * 10 + (b(i + 1) - b'0') as u32;
        if !((0..4).all(d) && b(4) == b'-' && d(5) && d(6) && b(7) == b'-' && d(8) && d(9)) {
            return None;
        }
        if !(b(10) == b'T' && d(11) && d(12) && b(13) == b':' && d(14) && d(15)) {
            return None;
        }
        if !(b(16) == b':' && d(17) && d(18)) {
            return None;
        }
        let (month, day, hour, minute, second) = (two(5), two(8), two(11), two(14), two(17));
        if !(1..=12).contains(&month)
            || !(1..=31).contains(&day)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut n = 19;
        if b(n) == b'.' {
            let frac = (n + 1..).take_while(|&i| d(i)).count();
            if frac == 0 {
                return None;
            }
            n += 1 + frac;
        }
        (b(n) == b'Z' && b(n + 1) == b'\'').then_some(2 + n + 2)
    }

    fn next_token(&self) -> (Tok, usize) {
        let c = self.src[self.at..].chars().next().expect("not at end");
        let mut best: Option<(Tok, usize)> = None;
        // Candidates in rule order; a later one replaces an earlier only if strictly longer.
        let mut offer = |tok: Tok, len: usize| {
            let longer = match &best {
                Some((_, l)) => len > *l,
                None => true,
            };
            if len > 0 && longer {
                best = Some((tok, len));
            }
        };
        let text = |len: usize| self.src[self.at..self.at + len].to_string();
        match c {
            '-' => {
                let n = self.int_body(1);
                if n > 0 {
                    offer(Tok::IntNeg(text(n + 1)), n + 1);
                }
                let f = self.float_body(1);
                if f > 0 {
                    offer(Tok::FloatNeg(text(f + 1)), f + 1);
                }
                offer(Tok::Minus, 1);
            }
            '+' | '0'..='9' | '.' => {
                let sign = usize::from(c == '+');
                let n = self.int_body(sign);
                if n > 0 {
                    offer(
                        Tok::IntPos(self.src[self.at + sign..self.at + sign + n].into()),
                        sign + n,
                    );
                }
                let f = self.float_body(sign);
                if f > 0 {
                    offer(Tok::FloatPos(text(sign + f)), sign + f);
                }
                if c == '+' {
                    offer(Tok::Plus, 1);
                }
                if c == '.' {
                    offer(Tok::Dot, 1);
                }
            }
            _ => {}
        }
        if let Some(n) = self.hex_at() {
            offer(Tok::Hex(self.src[self.at + 2..self.at + n - 1].into()), n);
        }
        if let Some(n) = self.binary_at() {
            offer(
                Tok::Binary(self.src[self.at + 2..self.at + n - 1].into()),
                n,
            );
        }
        if let Some((n, s)) = self.string_at(0) {
            offer(Tok::Str(s), n);
        }
        let plain = self.ident_len(false);
        if plain > 0 {
            let word = &self.src[self.at..self.at + plain];
            match word {
                "true" => offer(Tok::Bool(true), 4),
                "false" => offer(Tok::Bool(false), 5),
                _ => {}
            }
        }
        if let Some(n) = self.timestamp_at() {
            offer(
                Tok::Timestamp(self.src[self.at + 2..self.at + n - 1].into()),
                n,
            );
        }
        if plain > 0 {
            let word = &self.src[self.at..self.at + plain];
            if let Some((_, k)) = Keyword::ALL.iter().find(|(s, _)| *s == word) {
                offer(Tok::Keyword(*k), plain);
            }
            offer(Tok::Ident(word.to_string()), plain);
            let hy = self.ident_len(true);
            offer(Tok::IdentHyphen(text(hy)), hy);
        }
        match c {
            '=' => offer(Tok::Eq, if self.byte(1) == Some(b'=') { 2 } else { 1 }),
            '!' if self.byte(1) == Some(b'=') => offer(Tok::Neq, 2),
            '<' => match self.byte(1) {
                Some(b'>') => offer(Tok::Neq, 2),
                Some(b'=') => offer(Tok::Le, 2),
                _ => offer(Tok::Lt, 1),
            },
            '>' => match self.byte(1) {
                Some(b'=') => offer(Tok::Ge, 2),
                _ => offer(Tok::Gt, 1),
            },
            '\'' => offer(Tok::Quote, 1),
            ':' => offer(Tok::Colon, 1),
            ',' => offer(Tok::Comma, 1),
            '(' => offer(Tok::LParen, 1),
            ')' => offer(Tok::RParen, 1),
            '[' => offer(Tok::LBrack, 1),
            ']' => offer(Tok::RBrack, 1),
            '^' => offer(Tok::Caret, 1),
            '/' => offer(Tok::Slash, 1),
            '*' => offer(Tok::Star, 1),
            _ => {}
        }
        best.unwrap_or((Tok::Invalid(c), c.len_utf8()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<Tok> {
        tokenize(s).into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn longest_match_and_rule_order() {
        assert_eq!(kinds("ANDx"), vec![Tok::Ident("ANDx".into()), Tok::Eof]);
        assert_eq!(kinds("AND"), vec![Tok::Keyword(Keyword::And), Tok::Eof]);
        assert_eq!(kinds("and"), vec![Tok::Ident("and".into()), Tok::Eof]);
        assert_eq!(kinds("true"), vec![Tok::Bool(true), Tok::Eof]);
        assert_eq!(
            kinds("00"),
            vec![Tok::IntPos("0".into()), Tok::IntPos("0".into()), Tok::Eof]
        );
        assert_eq!(kinds("-.5"), vec![Tok::FloatNeg("-.5".into()), Tok::Eof]);
        assert_eq!(kinds("a-b"), vec![Tok::IdentHyphen("a-b".into()), Tok::Eof]);
        assert_eq!(kinds("<>"), vec![Tok::Neq, Tok::Eof]);
        assert_eq!(kinds("=="), vec![Tok::Eq, Tok::Eof]);
    }

    #[test]
    fn prefixed_literals_fall_back_to_identifiers() {
        assert_eq!(kinds("b'YQ=='"), vec![Tok::Binary("YQ==".into()), Tok::Eof]);
        assert_eq!(
            kinds("b'YQ'"),
            vec![Tok::Ident("b".into()), Tok::Str("YQ".into()), Tok::Eof]
        );
        assert_eq!(kinds("h''"), vec![Tok::Hex("".into()), Tok::Eof]);
        assert_eq!(
            kinds("t'2020-01-01T00:00:00Z'"),
            vec![Tok::Timestamp("2020-01-01T00:00:00Z".into()), Tok::Eof]
        );
        assert_eq!(kinds("t'2020-13-01T00:00:00Z'")[0], Tok::Ident("t".into()));
    }

    #[test]
    fn strings_comments_and_positions() {
        assert_eq!(kinds(r"'a\'b\\'"), vec![Tok::Str(r"a'b\".into()), Tok::Eof]);
        assert_eq!(kinds(r"'a\n'")[0], Tok::Quote);
        assert_eq!(kinds("/* x */ ] // y"), vec![Tok::RBrack, Tok::Eof]);
        assert_eq!(
            kinds("/* x"),
            vec![Tok::Slash, Tok::Star, Tok::Ident("x".into()), Tok::Eof]
        );
        let t = tokenize("[\n  é ]");
        assert_eq!((t[1].pos.line, t[1].pos.column), (2, 3));
        assert_eq!((t[2].pos.line, t[2].pos.column), (2, 5));
    }
}
