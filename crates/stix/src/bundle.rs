//! Streaming STIX bundles: read objects one at a time from a reader of any size, and
//! write them out the same way.
//!
//! # Why a scanner and not `serde_json::from_reader`
//!
//! A partner bundle can hold millions of indicators. Deserialising it whole would hold
//! every object (several times its size as `Value`s) at once. [`BundleReader`] instead
//! scans the top-level object itself, and for each element of `objects` copies exactly
//! that element's bytes into one reused buffer and hands them to `serde_json`. Memory is
//! bounded by the largest single object, not by the bundle.
//!
//! The scanner tracks only what framing needs: strings (so brackets inside them are
//! ignored), a stack of open brackets (so mismatches are reported where they happen)
//! and line starts (so every error has a line and column). Full JSON validity of each
//! element is `serde_json`'s job, and its positions are translated back into the file's.
//!
//! # Named limits and policies
//!
//! - Nesting deeper than [`Limits::max_depth`] (default [`MAX_DEPTH`], counted from the
//!   bundle itself) is refused with [`BundleError::TooDeep`]: no recursion happens while
//!   scanning, so a 100,000-deep input cannot overflow the stack.
//! - An element larger than [`Limits::max_object_bytes`] is refused with
//!   [`BundleError::ObjectTooLarge`], and one holding more than
//!   [`Limits::max_object_values`] JSON values with [`BundleError::TooManyValues`] (the
//!   scanner counts them before any tree is built).
//! - Errors that break the framing (malformed JSON, limits, I/O, not a bundle) end the
//!   iteration: no later object can be trusted. An element that is well-formed JSON but
//!   not an object is reported ([`BundleError::NotAnObject`]) and reading continues.
//! - A UTF-8 byte order mark at the start is skipped.
//! - Top-level properties other than `objects` are kept (see [`BundleReader::header`]);
//!   a `type` other than `bundle` is an error as soon as it is seen, or at the end if it
//!   comes after `objects`.

use std::io::{self, Read, Write};

use serde_json::{Map, Value};

use crate::common::{Pointer, MAX_DEPTH, MAX_OBJECT_BYTES, MAX_OBJECT_VALUES};
use crate::object::{json_kind, StixObject};

/// Bounds the reader enforces. See the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of arrays/objects, counting the bundle object as depth 1.
    pub max_depth: usize,
    /// Largest element of `objects`, in bytes of JSON text.
    pub max_object_bytes: usize,
    /// Most JSON values in one element of `objects` (every `[`, `{` and `,` counts).
    pub max_object_values: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: MAX_DEPTH,
            max_object_bytes: MAX_OBJECT_BYTES,
            max_object_values: MAX_OBJECT_VALUES,
        }
    }
}

/// A location in the input: 1-based line, 1-based byte column, and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// Line number, starting at 1.
    pub line: u64,
    /// Byte column within the line, starting at 1.
    pub column: u64,
    /// Byte offset from the start of the input.
    pub offset: u64,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// What went wrong reading a bundle. Every variant says where.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The input is not well-formed JSON.
    #[error("malformed JSON at {location}{}: {message}", in_pointer(pointer))]
    Syntax {
        /// Where the problem was detected.
        location: Location,
        /// The object being read, if inside `objects`.
        pointer: Option<Pointer>,
        /// What was wrong.
        message: String,
    },
    /// Nesting deeper than the limit.
    #[error("JSON nested deeper than {limit} levels at {location}{}; STIX objects are shallow, so this input is refused", in_pointer(pointer))]
    TooDeep {
        /// Where the limit was crossed.
        location: Location,
        /// The object being read, if inside `objects`.
        pointer: Option<Pointer>,
        /// The limit in force.
        limit: usize,
    },
    /// One element of `objects` is larger than the limit.
    #[error("object {pointer} starting at {location} is larger than {limit} bytes")]
    ObjectTooLarge {
        /// Where the object starts.
        location: Location,
        /// `/objects/N`.
        pointer: Pointer,
        /// The limit in force.
        limit: usize,
    },
    /// One element of `objects` holds more JSON values than the limit.
    #[error("object {pointer} starting at {location} holds more than {limit} JSON values (counted up to {at})")]
    TooManyValues {
        /// Where the object starts.
        location: Location,
        /// `/objects/N`.
        pointer: Pointer,
        /// Where the limit was crossed.
        at: Location,
        /// The limit in force.
        limit: usize,
    },
    /// The document is JSON but not a STIX bundle (wrong top-level shape or `type`).
    #[error("not a STIX bundle at {location}: {message}")]
    NotABundle {
        /// Where it was detected.
        location: Location,
        /// Why.
        message: String,
    },
    /// An element of `objects` is valid JSON but not a JSON object. Reading continues.
    #[error(
        "{pointer} at {location} is {found}, but every element of `objects` must be a JSON object"
    )]
    NotAnObject {
        /// Where the element starts.
        location: Location,
        /// `/objects/N`.
        pointer: Pointer,
        /// The JSON kind found.
        found: &'static str,
    },
    /// The reader failed.
    #[error("reading the bundle failed at {location}: {source}")]
    Io {
        /// How far reading got.
        location: Location,
        /// The underlying error.
        source: io::Error,
    },
}

fn in_pointer(p: &Option<Pointer>) -> String {
    match p {
        Some(p) => format!(" (in {p})"),
        None => String::new(),
    }
}

impl BundleError {
    /// Where in the input the error was detected.
    pub fn location(&self) -> Location {
        match self {
            BundleError::Syntax { location, .. }
            | BundleError::TooDeep { location, .. }
            | BundleError::ObjectTooLarge { location, .. }
            | BundleError::TooManyValues { location, .. }
            | BundleError::NotABundle { location, .. }
            | BundleError::NotAnObject { location, .. }
            | BundleError::Io { location, .. } => *location,
        }
    }

    /// The JSON pointer of the object concerned, when the error is inside `objects`.
    pub fn pointer(&self) -> Option<&Pointer> {
        match self {
            BundleError::Syntax { pointer, .. } | BundleError::TooDeep { pointer, .. } => {
                pointer.as_ref()
            }
            BundleError::ObjectTooLarge { pointer, .. }
            | BundleError::TooManyValues { pointer, .. }
            | BundleError::NotAnObject { pointer, .. } => Some(pointer),
            _ => None,
        }
    }

    /// Whether the reader can go on after this error (only for [`BundleError::NotAnObject`]).
    pub fn is_recoverable(&self) -> bool {
        matches!(self, BundleError::NotAnObject { .. })
    }
}

/// One object read from a bundle, with where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Position in the `objects` array, from 0. `/objects/{index}` names it.
    pub index: usize,
    /// Where the object's text starts in the input.
    pub location: Location,
    /// The object.
    pub object: StixObject,
}

impl Entry {
    /// The JSON pointer of this object, `/objects/N`.
    pub fn pointer(&self) -> Pointer {
        Pointer::object(self.index)
    }
}

/// Buffered input that knows its line and column.
struct Input<R> {
    reader: R,
    /// Bytes read but not consumed are `buf[pos..end]`; `pos <= end <= buf.len()`.
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// Current line (1-based) and the absolute offset where it starts.
    line: u64,
    line_start: u64,
}

const BUF_SIZE: usize = 256 * 1024;

/// Largest element buffer kept between objects; a bigger one (after an unusually large
/// object) is released rather than reused.
const SCRATCH_KEEP_BYTES: usize = 1024 * 1024;

impl<R: Read> Input<R> {
    fn new(reader: R) -> Self {
        Input {
            reader,
            buf: vec![0; BUF_SIZE].into_boxed_slice(),
            pos: 0,
            end: 0,
            base: 0,
            line: 1,
            line_start: 0,
        }
    }

    fn location(&self) -> Location {
        let offset = self.base + self.pos as u64;
        Location {
            line: self.line,
            column: offset - self.line_start + 1,
            offset,
        }
    }

    /// Make at least one byte available; `Ok(false)` at end of input.
    fn fill(&mut self) -> Result<bool, BundleError> {
        if self.pos < self.end {
            return Ok(true);
        }
        self.base += self.end as u64;
        self.pos = 0;
        self.end = 0;
        loop {
            match self.reader.read(&mut self.buf) {
                Ok(n) => {
                    self.end = n;
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(BundleError::Io {
                        location: self.location(),
                        source,
                    })
                }
            }
        }
    }

    fn peek(&mut self) -> Result<Option<u8>, BundleError> {
        Ok(if self.fill()? {
            Some(self.buf[self.pos])
        } else {
            None
        })
    }

    /// Consume the byte last peeked.
    fn bump(&mut self) {
        if self.buf[self.pos] == b'\n' {
            self.line += 1;
            self.line_start = self.base + self.pos as u64 + 1;
        }
        self.pos += 1;
    }

    fn skip_ws(&mut self) -> Result<Option<u8>, BundleError> {
        while let Some(c) = self.peek()? {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.bump();
            } else {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

/// Where the reader is in the bundle's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the opening `{`.
    Start,
    /// Between top-level members (after `{` or after a value).
    TopLevel { first: bool },
    /// Inside `objects`, before the next element or `]`.
    Objects { first: bool },
    /// Finished (successfully or after a fatal error).
    Done,
}

/// Reads a STIX bundle from any [`Read`], yielding its objects one by one.
///
/// ```
/// let text = br#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
///   "objects":[{"type":"ipv4-addr","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.1"}]}"#;
/// let mut n = 0;
/// for entry in stix::bundle::BundleReader::new(&text[..]) {
///     let entry = entry.unwrap();
///     assert_eq!(entry.pointer().as_str(), "/objects/0");
///     n += 1;
/// }
/// assert_eq!(n, 1);
/// ```
pub struct BundleReader<R> {
    input: Input<R>,
    limits: Limits,
    state: State,
    /// Index the next element of `objects` gets.
    next_index: usize,
    /// Top-level members other than `objects`, in input order.
    header: Map<String, Value>,
    seen_objects: bool,
    /// Reused buffer holding the current element's bytes; never longer than the limit.
    scratch: Vec<u8>,
}

impl<R: Read> BundleReader<R> {
    /// A reader with the default [`Limits`]. Wrapping `reader` in a `BufReader` is not
    /// needed: this reads in large blocks itself.
    pub fn new(reader: R) -> Self {
        Self::with_limits(reader, Limits::default())
    }

    /// A reader with explicit limits.
    pub fn with_limits(reader: R, limits: Limits) -> Self {
        BundleReader {
            input: Input::new(reader),
            limits,
            state: State::Start,
            next_index: 0,
            header: Map::new(),
            seen_objects: false,
            scratch: Vec::new(),
        }
    }

    /// Top-level properties seen so far other than `objects` (`type`, `id`, custom ones).
    /// Complete once the iterator has returned `None`.
    pub fn header(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The bundle's `id`, if seen so far.
    pub fn bundle_id(&self) -> Option<&str> {
        self.header.get("id").and_then(Value::as_str)
    }

    /// Bytes consumed so far (for progress bars).
    pub fn bytes_read(&self) -> u64 {
        self.input.base + self.input.pos as u64
    }

    fn syntax(&self, message: impl Into<String>) -> BundleError {
        BundleError::Syntax {
            location: self.input.location(),
            pointer: self.current_pointer(),
            message: message.into(),
        }
    }

    fn current_pointer(&self) -> Option<Pointer> {
        match self.state {
            State::Objects { .. } => Some(Pointer::object(self.next_index)),
            _ => None,
        }
    }

    fn expect_byte(&mut self, want: u8, what: &str) -> Result<(), BundleError> {
        match self.input.skip_ws()? {
            Some(c) if c == want => {
                self.input.bump();
                Ok(())
            }
            Some(c) => Err(self.syntax(format!("expected {what}, found `{}`", c as char))),
            None => Err(self.syntax(format!("unexpected end of input, expected {what}"))),
        }
    }

    /// Copy one complete JSON value (starting at the next non-space byte) into
    /// `self.scratch`, enforcing the limits. `depth` is the nesting depth of the
    /// container the value is in.
    fn scan_value(
        &mut self,
        depth: usize,
        pointer: Option<&Pointer>,
        start: Location,
    ) -> Result<(), BundleError> {
        self.scratch.clear();
        let limit_bytes = self.limits.max_object_bytes;
        let max_depth = self.limits.max_depth;
        let max_values = self.limits.max_object_values;
        let mut values = 0usize;
        let first = match self.input.skip_ws()? {
            Some(c) => c,
            None => return Err(self.syntax("unexpected end of input, expected a value")),
        };
        if !matches!(first, b'{' | b'[' | b'"') {
            // A scalar: copy up to the next delimiter; serde_json judges it.
            while let Some(c) = self.input.peek()? {
                if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') {
                    break;
                }
                self.scratch.push(c);
                self.input.bump();
                if self.scratch.len() > 4096 {
                    return Err(self.syntax("a number or literal longer than 4096 bytes"));
                }
            }
            return Ok(());
        }
        // Expected closers of the open containers; its length is the nesting inside the value.
        let mut stack: Vec<u8> = Vec::new();
        let mut in_str = false;
        let mut esc = false;
        loop {
            if !self.input.fill()? {
                return Err(self.syntax(if in_str {
                    "unexpected end of input inside a string"
                } else {
                    "unexpected end of input inside an object or array"
                }));
            }
            let inp = &mut self.input;
            let chunk_start = inp.pos;
            let mut i = inp.pos;
            let mut done = false;
            let mut fail: Option<Result<(), String>> = None;
            while i < inp.end {
                let c = inp.buf[i];
                if in_str && !esc && c != b'"' && c != b'\\' {
                    // Most bytes of a STIX object are inside strings: jump to the next quote
                    // or backslash. (A raw newline inside a string is invalid JSON that
                    // serde_json reports with its own position, so lines need no count here.)
                    match memchr::memchr2(b'"', b'\\', &inp.buf[i..inp.end]) {
                        Some(k) => i += k,
                        None => i = inp.end,
                    }
                    continue;
                }
                if in_str {
                    if esc {
                        esc = false;
                    } else if c == b'\\' {
                        esc = true;
                    } else if c == b'"' {
                        in_str = false;
                        if stack.is_empty() {
                            done = true;
                        }
                    }
                } else {
                    match c {
                        b'"' => in_str = true,
                        b',' => values += 1,
                        b'{' | b'[' => {
                            if depth + stack.len() + 1 > max_depth {
                                fail = Some(Ok(()));
                                break;
                            }
                            values += 1;
                            stack.push(if c == b'{' { b'}' } else { b']' });
                        }
                        b'}' | b']' => {
                            if stack.pop() != Some(c) {
                                fail = Some(Err(format!("unexpected `{}`", c as char)));
                                break;
                            }
                            if stack.is_empty() {
                                done = true;
                            }
                        }
                        _ => {}
                    }
                }
                if c == b'\n' {
                    inp.line += 1;
                    inp.line_start = inp.base + i as u64 + 1;
                }
                i += 1;
                if done {
                    break;
                }
            }
            self.scratch.extend_from_slice(&inp.buf[chunk_start..i]);
            inp.pos = i;
            if values > max_values {
                return Err(match pointer {
                    Some(p) => BundleError::TooManyValues {
                        location: start,
                        pointer: p.clone(),
                        at: self.input.location(),
                        limit: max_values,
                    },
                    None => self.syntax(format!(
                        "a top-level value holding more than {max_values} JSON values"
                    )),
                });
            }
            match fail {
                Some(Ok(())) => {
                    return Err(BundleError::TooDeep {
                        location: self.input.location(),
                        pointer: pointer.cloned(),
                        limit: max_depth,
                    })
                }
                Some(Err(m)) => return Err(self.syntax(m)),
                None => {}
            }
            if self.scratch.len() > limit_bytes {
                return Err(match pointer {
                    Some(p) => BundleError::ObjectTooLarge {
                        location: start,
                        pointer: p.clone(),
                        limit: limit_bytes,
                    },
                    None => {
                        self.syntax(format!("a top-level value larger than {limit_bytes} bytes"))
                    }
                });
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Parse `self.scratch` as JSON, mapping serde_json's positions (relative to the
    /// value) back to the input's.
    fn parse_scratch(
        &self,
        start: Location,
        pointer: Option<&Pointer>,
    ) -> Result<Value, BundleError> {
        serde_json::from_slice(&self.scratch).map_err(|e| {
            let (line, column) = if e.line() <= 1 {
                (
                    start.line,
                    start.column + e.column().saturating_sub(1) as u64,
                )
            } else {
                (start.line + e.line() as u64 - 1, (e.column() as u64).max(1))
            };
            let mut message = e.to_string();
            if let Some(cut) = message.find(" at line ") {
                message.truncate(cut);
            }
            BundleError::Syntax {
                location: Location {
                    line,
                    column,
                    offset: start.offset,
                },
                pointer: pointer.cloned(),
                message,
            }
        })
    }

    /// Advance through top-level members until `objects` begins or the bundle ends.
    /// Returns `Ok(true)` when positioned inside `objects`.
    fn top_level(&mut self, mut first: bool) -> Result<bool, BundleError> {
        loop {
            match self.input.skip_ws()? {
                Some(b'}') => {
                    self.input.bump();
                    if let Some(c) = self.input.skip_ws()? {
                        return Err(self.syntax(format!(
                            "unexpected `{}` after the end of the bundle",
                            c as char
                        )));
                    }
                    self.check_type(true)?;
                    return Ok(false);
                }
                Some(b',') if !first => self.input.bump(),
                Some(b'"') if first => {}
                Some(c) => {
                    return Err(self.syntax(if first {
                        format!("expected a property name or `}}`, found `{}`", c as char)
                    } else {
                        format!(
                            "expected `,` or `}}` after a property, found `{}`",
                            c as char
                        )
                    }))
                }
                None => return Err(self.syntax("unexpected end of input inside the bundle")),
            }
            first = false;
            if self.input.skip_ws()? != Some(b'"') {
                return Err(self.syntax("expected a property name"));
            }
            let start = self.input.location();
            self.scan_value(1, None, start)?;
            let key: String = match self.parse_scratch(start, None)? {
                Value::String(s) => s,
                _ => return Err(self.syntax("expected a property name")),
            };
            self.expect_byte(b':', "`:`")?;
            if key == "objects" {
                if self.seen_objects {
                    return Err(self.syntax("`objects` appears twice in the bundle"));
                }
                self.seen_objects = true;
                self.check_type(false)?;
                match self.input.skip_ws()? {
                    Some(b'[') => {
                        self.input.bump();
                        return Ok(true);
                    }
                    Some(_) => {
                        let loc = self.input.location();
                        return Err(BundleError::NotABundle {
                            location: loc,
                            message: "`objects` must be an array".into(),
                        });
                    }
                    None => return Err(self.syntax("unexpected end of input, expected `[`")),
                }
            }
            self.input.skip_ws()?;
            let start = self.input.location();
            self.scan_value(1, None, start)?;
            let value = self.parse_scratch(start, None)?;
            self.header.insert(key, value);
        }
    }

    /// Refuse a document whose `type` is known and is not `bundle`; at the end, also
    /// one with no `type` at all.
    fn check_type(&self, at_end: bool) -> Result<(), BundleError> {
        match self.header.get("type") {
            Some(Value::String(t)) if t == "bundle" => Ok(()),
            Some(other) => Err(BundleError::NotABundle {
                location: self.input.location(),
                message: format!("`type` is {other}, expected \"bundle\""),
            }),
            None if at_end => Err(BundleError::NotABundle {
                location: self.input.location(),
                message: "the top-level object has no `type`; expected \"bundle\"".into(),
            }),
            None => Ok(()),
        }
    }

    /// Read the next element of `objects`, or `Ok(None)` at its closing `]`.
    fn next_element(&mut self, first: bool) -> Result<Option<Entry>, BundleError> {
        match self.input.skip_ws()? {
            Some(b']') => {
                self.input.bump();
                return Ok(None);
            }
            Some(b',') if !first => {
                self.input.bump();
                self.input.skip_ws()?;
            }
            Some(_) if first => {}
            Some(c) => {
                return Err(self.syntax(format!(
                    "expected `,` or `]` after an object, found `{}`",
                    c as char
                )))
            }
            None => return Err(self.syntax("unexpected end of input inside `objects`")),
        }
        let index = self.next_index;
        let pointer = Pointer::object(index);
        let start = self.input.location();
        self.scan_value(2, Some(&pointer), start)?;
        let value = self.parse_scratch(start, Some(&pointer))?;
        // One huge object must not pin its buffer for the rest of the bundle.
        if self.scratch.capacity() > SCRATCH_KEEP_BYTES {
            self.scratch = Vec::new();
        }
        self.next_index += 1;
        match value {
            Value::Object(map) => Ok(Some(Entry {
                index,
                location: start,
                object: StixObject::from_map(map),
            })),
            other => Err(BundleError::NotAnObject {
                location: start,
                pointer,
                found: json_kind(&other),
            }),
        }
    }

    fn step(&mut self) -> Result<Option<Entry>, BundleError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Start => {
                    // Skip a UTF-8 byte order mark.
                    if self.input.fill()?
                        && self.input.buf[self.input.pos..self.input.end]
                            .starts_with(b"\xEF\xBB\xBF")
                    {
                        self.input.pos += 3;
                    }
                    match self.input.skip_ws()? {
                        Some(b'{') => {
                            self.input.bump();
                            self.state = State::TopLevel { first: true };
                        }
                        Some(c) => {
                            return Err(BundleError::NotABundle {
                                location: self.input.location(),
                                message: format!(
                                    "a bundle is a JSON object starting with `{{`, found `{}`{}",
                                    c as char,
                                    if c == b'[' {
                                        " (a bare array of objects is not a bundle)"
                                    } else {
                                        ""
                                    }
                                ),
                            })
                        }
                        None => return Err(self.syntax("empty input, expected a STIX bundle")),
                    }
                }
                State::TopLevel { first } => {
                    if self.top_level(first)? {
                        self.state = State::Objects { first: true };
                    } else {
                        self.state = State::Done;
                        return Ok(None);
                    }
                }
                State::Objects { first } => match self.next_element(first) {
                    Ok(Some(e)) => {
                        self.state = State::Objects { first: false };
                        return Ok(Some(e));
                    }
                    Ok(None) => self.state = State::TopLevel { first: false },
                    Err(e) if e.is_recoverable() => {
                        self.state = State::Objects { first: false };
                        return Err(e);
                    }
                    Err(e) => return Err(e),
                },
            }
        }
    }
}

impl<R: Read> Iterator for BundleReader<R> {
    type Item = Result<Entry, BundleError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.step() {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => None,
            Err(e) => {
                if !e.is_recoverable() {
                    self.state = State::Done;
                }
                Some(Err(e))
            }
        }
    }
}

/// Read a whole bundle held in memory: its top-level properties and its objects.
/// Stops at the first error. For large inputs prefer iterating a [`BundleReader`].
pub fn read_bundle(bytes: &[u8]) -> Result<(Map<String, Value>, Vec<StixObject>), BundleError> {
    let mut reader = BundleReader::new(bytes);
    let mut objects = Vec::new();
    for entry in reader.by_ref() {
        objects.push(entry?.object);
    }
    Ok((reader.header().clone(), objects))
}

/// Writes a bundle object by object, never holding more than one in memory.
///
/// Call [`BundleWriter::finish`] to close the JSON; dropping the writer without it
/// leaves truncated output (deliberately: a half-written export must not look complete).
pub struct BundleWriter<W: Write> {
    out: W,
    count: usize,
}

impl<W: Write> BundleWriter<W> {
    /// Start a bundle with the given id (e.g. from [`crate::id::random_id`]`("bundle")`).
    pub fn new(mut out: W, bundle_id: &str) -> io::Result<Self> {
        out.write_all(b"{\"type\":\"bundle\",\"id\":")?;
        serde_json::to_writer(&mut out, bundle_id)?;
        out.write_all(b",\"objects\":[")?;
        Ok(BundleWriter { out, count: 0 })
    }

    /// Append one object.
    pub fn write(&mut self, object: &StixObject) -> io::Result<()> {
        self.append(object)
    }

    /// Append a JSON value that is already a STIX object.
    pub fn write_value(&mut self, object: &Value) -> io::Result<()> {
        self.append(object)
    }

    /// One array element, a line of its own: both `write` and `write_value` end here, so
    /// the separators are the same whichever form an object comes in.
    fn append(&mut self, object: &impl serde::Serialize) -> io::Result<()> {
        if self.count > 0 {
            self.out.write_all(b",")?;
        }
        self.out.write_all(b"\n")?;
        serde_json::to_writer(&mut self.out, object)?;
        self.count += 1;
        Ok(())
    }

    /// Objects written so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Close the bundle and return the writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(b"\n]}\n")?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Vec<Result<Entry, BundleError>> {
        BundleReader::new(text.as_bytes()).collect()
    }

    #[test]
    fn reads_objects_with_indices_and_header() {
        let text = "\u{feff}{\"id\":\"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\",\"type\":\"bundle\",\n\"objects\":[\n {\"type\":\"a-b\",\"s\":\"]}[{\\\"\"},\n {\"type\":\"c\"} ],\"x_extra\":[1]}";
        let mut r = BundleReader::new(text.as_bytes());
        let v: Vec<_> = r.by_ref().map(Result::unwrap).collect();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].index, 1);
        assert_eq!(v[1].location.line, 4);
        assert_eq!(v[0].object.get_str("s"), Some("]}[{\""));
        assert_eq!(r.header().get("x_extra"), Some(&serde_json::json!([1])));
        assert_eq!(
            r.bundle_id(),
            Some("bundle--5d0092c5-5f74-4287-9642-33f4c354e56d")
        );
    }

    #[test]
    fn syntax_errors_have_line_and_column() {
        let text = "{\"type\":\"bundle\",\"objects\":[\n{\"type\":\"x\"},\n{\"type\": tru}\n]}";
        let v = all(text);
        assert!(v[0].is_ok());
        let e = v[1].as_ref().unwrap_err();
        assert_eq!(e.pointer().map(Pointer::as_str), Some("/objects/1"));
        let loc = e.location();
        assert_eq!((loc.line, loc.column), (3, 13), "{e}");
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn raw_newline_in_a_string_is_located_on_a_real_column() {
        // serde_json reports column 0 right after a newline; we never do.
        let v = all("{\"type\":\"bundle\",\"objects\":[\n{\"type\":\"a\nb\"}]}");
        let e = v[0].as_ref().unwrap_err();
        assert_eq!((e.location().line, e.location().column), (3, 1), "{e}");
    }

    #[test]
    fn mismatched_bracket_is_located() {
        let v = all("{\"type\":\"bundle\",\"objects\":[{\"a\":[1}]}");
        let e = v[0].as_ref().unwrap_err();
        assert!(matches!(e, BundleError::Syntax { .. }), "{e}");
        assert_eq!(e.location().column, 36);
    }

    #[test]
    fn not_a_bundle() {
        assert!(matches!(all("[1]")[0], Err(BundleError::NotABundle { .. })));
        assert!(matches!(
            all("{\"type\":\"indicator\",\"objects\":[]}")[0],
            Err(BundleError::NotABundle { .. })
        ));
        assert!(matches!(
            all("{\"objects\":[],\"type\":\"x\"}")[0],
            Err(BundleError::NotABundle { .. })
        ));
        assert!(all(
            "{\"type\":\"bundle\",\"id\":\"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\"}"
        )
        .is_empty());
        assert!(matches!(all("")[0], Err(BundleError::Syntax { .. })));
        assert!(matches!(
            all("{\"type\":\"bundle\"} x")[0],
            Err(BundleError::Syntax { .. })
        ));
    }

    #[test]
    fn non_object_elements_are_reported_and_skipped() {
        let v = all("{\"type\":\"bundle\",\"objects\":[1,\"s\",{\"type\":\"x\"}]}");
        assert_eq!(v.len(), 3);
        assert!(matches!(v[0], Err(BundleError::NotAnObject { .. })));
        assert_eq!(v[2].as_ref().unwrap().index, 2);
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let deep = format!(
            "{{\"type\":\"bundle\",\"objects\":[{{\"a\":{}{}}}]}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let v = all(&deep);
        assert!(
            matches!(v[0], Err(BundleError::TooDeep { limit: 128, .. })),
            "{:?}",
            v[0]
        );
        // Exactly at the limit is fine: bundle(1) objects(2) object(3) + 125 arrays = 128.
        let ok = format!(
            "{{\"type\":\"bundle\",\"objects\":[{{\"a\":{}{}}}]}}",
            "[".repeat(125),
            "]".repeat(125)
        );
        assert!(all(&ok)[0].is_ok());
        let over = format!(
            "{{\"type\":\"bundle\",\"objects\":[{{\"a\":{}{}}}]}}",
            "[".repeat(126),
            "]".repeat(126)
        );
        assert!(all(&over)[0].is_err());
    }

    #[test]
    fn object_size_limit() {
        let text = format!(
            "{{\"type\":\"bundle\",\"objects\":[{{\"a\":\"{}\"}}]}}",
            "x".repeat(1000)
        );
        let r = BundleReader::with_limits(
            text.as_bytes(),
            Limits {
                max_object_bytes: 100,
                ..Limits::default()
            },
        );
        let v: Vec<_> = r.collect();
        assert!(matches!(v[0], Err(BundleError::ObjectTooLarge { .. })));
    }

    #[test]
    fn value_count_limit_names_the_object_and_where_it_was_crossed() {
        let list = |n: usize| vec!["0"; n].join(",");
        let text = format!(
            "{{\"type\":\"bundle\",\"objects\":[{{\"a\":[{}]}},\n{{\"b\":[{}],\"s\":\"{}\"}}]}}",
            list(7),
            list(9),
            ",".repeat(50)
        );
        let limits = Limits {
            max_object_values: 8,
            ..Limits::default()
        };
        let v: Vec<_> = BundleReader::with_limits(text.as_bytes(), limits).collect();
        // 7 numbers: 6 commas + 2 containers = 8 counted, at the limit; commas in strings never count.
        assert!(v[0].is_ok(), "{:?}", v[0]);
        match &v[1] {
            Err(
                e @ BundleError::TooManyValues {
                    pointer,
                    location,
                    limit,
                    ..
                },
            ) => {
                assert_eq!(pointer.to_string(), "/objects/1");
                assert_eq!((location.line, *limit), (2, 8));
                assert!(e.to_string().contains("/objects/1"), "{e}");
            }
            other => panic!("expected TooManyValues, got {other:?}"),
        }
    }

    #[test]
    fn writer_output_reads_back() {
        let mut w =
            BundleWriter::new(Vec::new(), "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d").unwrap();
        let o = StixObject::from_json(
            r#"{"type":"x-y","id":"x-y--5d0092c5-5f74-4287-9642-33f4c354e56d","k":[1,{"z":null}]}"#,
        )
        .unwrap();
        w.write(&o).unwrap();
        w.write(&o).unwrap();
        let bytes = w.finish().unwrap();
        let (header, objects) = read_bundle(&bytes).unwrap();
        assert_eq!(header.get("type").unwrap(), "bundle");
        assert_eq!(objects, vec![o.clone(), o]);
    }
}
