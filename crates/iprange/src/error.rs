//! Load errors. Every error that comes from a line names the file and the 1-based line, says
//! what was wrong, and where there is one, what to do about it.

use std::fmt;

/// Where in the input something happened: the source name given to the loader (usually the
/// path) and the 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file path or the name the caller gave the reader.
    pub file: String,
    /// 1-based line number.
    pub line: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// What was wrong with one line. `#[non_exhaustive]` so new checks are not a breaking change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// Wrong number of fields, an unterminated quote, an empty required field.
    #[error("malformed line: {0}")]
    Malformed(String),
    /// A field that should be an IP address is not one.
    #[error("{field} {text:?} is not an IP address")]
    BadIp { field: &'static str, text: String },
    /// Start is IPv4 and end IPv6, or the reverse.
    #[error("start {start} and end {end} are not the same address family")]
    MixedFamilies { start: String, end: String },
    /// The range is empty because start comes after end.
    #[error("start {start} is after end {end}")]
    StartAfterEnd { start: String, end: String },
    /// A country code that is not a valid ISO 3166-1 alpha-2 code (see `country`).
    #[error("{0:?} is not an ISO 3166-1 alpha-2 country code (see iprange::country)")]
    BadCountry(String),
    /// The ASN field is not a 32-bit unsigned number.
    #[error("ASN {0:?} is not a number between 0 and 4294967295")]
    BadAsn(String),
    /// The range starts before the previous range of the same family (strict order policy).
    #[error(
        "range starts before the range at {previous} does: the input is not sorted; \
         sort it by start address or load with OrderPolicy::SortThenCheck"
    )]
    Unsorted { previous: Location },
    /// The range overlaps another range.
    #[error(
        "range overlaps the range at {other}: a table maps each address to one value; fix or \
         drop one of them, or load with OrderPolicy::NarrowestWins if the table nests specific \
         ranges inside broader ones (ip-location-db geo-whois-asn-country does)"
    )]
    Overlap { other: Location },
    /// A hex-delta row moves past the end of the address space.
    #[error("address overflows the {0} address space")]
    Overflow(&'static str),
    /// A line longer than [`crate::load::MAX_LINE_LEN`].
    #[error("line longer than {0} bytes: this is not a range table")]
    LineTooLong(usize),
    /// The line is not UTF-8.
    #[error("line is not UTF-8")]
    NotUtf8,
    /// The first line matches none of the formats (auto-detection).
    #[error("cannot tell the format from the first line {0:?}; pass a Format explicitly")]
    UnknownFormat(String),
}

/// Everything that can go wrong building a table.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The file could not be opened or read.
    #[error("{file}: cannot read: {error}")]
    Io {
        file: String,
        #[source]
        error: std::io::Error,
    },
    /// A line was rejected.
    #[error("{at}: {error}")]
    Line {
        at: Location,
        #[source]
        error: LineError,
    },
}

impl LoadError {
    /// The location, for errors that come from a line.
    pub fn location(&self) -> Option<&Location> {
        match self {
            LoadError::Line { at, .. } => Some(at),
            LoadError::Io { .. } => None,
        }
    }

    /// The line error, for errors that come from a line.
    pub fn line_error(&self) -> Option<&LineError> {
        match self {
            LoadError::Line { error, .. } => Some(error),
            LoadError::Io { .. } => None,
        }
    }
}
