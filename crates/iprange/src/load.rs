//! Loaders for the range-table formats the feeds publish.
//!
//! | [`Format`] | line | source |
//! |---|---|---|
//! | `CountryCsv` | `start,end,CC` | ip-location-db `*-country-ipv4.csv` / `-ipv6.csv` |
//! | `AsnCsv` | `start,end,asn,org` (org quoted when it holds a comma, `""` escapes `"`) | ip-location-db `asn-ipv4.csv` / `-ipv6.csv` |
//! | `Ip2AsnTsv` | `start<TAB>end<TAB>asn<TAB>CC<TAB>description` | iptoasn.com `ip2asn-v4.tsv` / `-v6.tsv` / `ip2asn-combined.tsv` |
//! | `HexDelta` | `#hexdelta1:4` or `:6` header, then `delta_hex,CC` | maltrail `data/ip2cc.csv.gz`, `ip2cc6.csv.gz` |
//!
//! Rules shared by all formats:
//! - `start` and `end` are inclusive IP addresses in text form, same family (IPv4 or IPv6).
//! - Blank lines and lines starting with `#` are skipped (except a hex-delta header).
//! - A first line whose first field is `start`, `ip_start`, `range_start` or `first` is a
//!   header and skipped.
//! - Country codes are validated with [`crate::country::parse`] (case-insensitive). `ZZ`,
//!   an empty code, and iptoasn's `None` mean "no country". In a country-only format such a
//!   row carries no data and is skipped (counted in [`LoadStats::no_data`]).
//! - ASN 0 is "not routed / reserved" (iptoasn writes `0  None  Not routed`): the row is
//!   skipped as no data, so a lookup there answers `None` rather than "AS0".
//! - Hex-delta rows give only a start: each range runs to the next row's start minus one,
//!   the last to the end of the address space; an empty code is an explicit gap. IPv6 deltas
//!   are in units of /64 (the start is shifted left 64 bits), as maltrail writes them.
//! - Lines are limited to [`MAX_LINE_LEN`] bytes and must be UTF-8.
//!
//! Gzip input is recognised by its magic bytes (`1f 8b`) and decompressed on the fly, so
//! callers hand over `.csv` or `.csv.gz` alike.

use crate::country::{self, Country};
use crate::error::{LineError, LoadError, Location};
#[allow(unused_imports)] // for doc links
use crate::table::LoadStats;
use crate::table::{Entry, IpTable, OrderPolicy, TableBuilder};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::Path;

/// Longest accepted line. Real lines are under 300 bytes; the limit stops a binary or
/// wrong file from being buffered whole.
pub const MAX_LINE_LEN: usize = 64 * 1024;

/// The input layouts. See the module documentation for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `start,end,CC`
    CountryCsv,
    /// `start,end,asn,org`
    AsnCsv,
    /// `start\tend\tasn\tCC\tdescription`
    Ip2AsnTsv,
    /// maltrail `#hexdelta1:4|6` then `delta_hex,CC`
    HexDelta,
}

impl Format {
    /// Guess the format from the first line of the input.
    ///
    /// A `#hexdelta1` header is a hex-delta table; a tab means iptoasn; otherwise the number
    /// of CSV fields decides (3 country, 4 ASN). `None` when nothing fits.
    pub fn detect(first_line: &str) -> Option<Format> {
        let line = first_line.trim_end_matches(['\r', '\n']);
        if line.starts_with("#hexdelta1:") {
            return Some(Format::HexDelta);
        }
        if line.contains('\t') {
            return Some(Format::Ip2AsnTsv);
        }
        match split_csv(line).ok()?.len() {
            3 => Some(Format::CountryCsv),
            4 => Some(Format::AsnCsv),
            _ => None,
        }
    }
}

/// Wrap a reader so gzip input is decompressed: the first two bytes are sniffed for the gzip
/// magic. Multi-member gzip files (as `cat a.gz b.gz` makes) are read whole.
pub fn decompress<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn BufRead + 'a>> {
    let mut buf = BufReader::with_capacity(64 * 1024, reader);
    let head = buf.fill_buf()?;
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        Ok(Box::new(BufReader::with_capacity(
            64 * 1024,
            flate2::bufread::MultiGzDecoder::new(buf),
        )))
    } else {
        Ok(Box::new(buf))
    }
}

impl IpTable {
    /// Load one file (plain or gzip, format auto-detected) with the strict order policy.
    /// For several files (say an IPv4 and an IPv6 table) or other options use
    /// [`TableBuilder`].
    pub fn from_path(path: impl AsRef<Path>) -> Result<IpTable, LoadError> {
        let mut b = TableBuilder::new();
        b.add_path(path, None)?;
        b.build()
    }

    /// Load one file with a chosen [`OrderPolicy`]; use `NarrowestWins` for merged tables
    /// such as ip-location-db `geo-whois-asn-country`, which contain nested ranges.
    pub fn from_path_with(
        path: impl AsRef<Path>,
        policy: OrderPolicy,
    ) -> Result<IpTable, LoadError> {
        let mut b = TableBuilder::new().order_policy(policy);
        b.add_path(path, None)?;
        b.build()
    }

    /// Load from a reader (plain or gzip, format auto-detected). `name` is used in errors.
    pub fn from_reader(reader: impl Read, name: &str) -> Result<IpTable, LoadError> {
        let mut b = TableBuilder::new();
        b.add_reader(reader, name, None)?;
        b.build()
    }
}

impl TableBuilder {
    /// Add every range of a file (plain or gzip). `format: None` auto-detects from the
    /// first line. Errors name the path and line.
    pub fn add_path(
        &mut self,
        path: impl AsRef<Path>,
        format: Option<Format>,
    ) -> Result<&mut TableBuilder, LoadError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let file = File::open(path).map_err(|error| LoadError::Io {
            file: name.clone(),
            error,
        })?;
        self.add_reader(file, &name, format)
    }

    /// Add every range from a reader (plain or gzip). `name` is used in error locations.
    pub fn add_reader(
        &mut self,
        reader: impl Read,
        name: &str,
        format: Option<Format>,
    ) -> Result<&mut TableBuilder, LoadError> {
        let io_err = |error| LoadError::Io {
            file: name.to_string(),
            error,
        };
        let mut input = decompress(reader).map_err(io_err)?;
        let file = self.file_id(name);
        let at = |line: u64| Location {
            file: name.to_string(),
            line,
        };
        let mut state = Parser {
            format,
            hex: None,
            file,
        };
        let mut raw = Vec::with_capacity(256);
        let mut line_no = 0u64;
        loop {
            raw.clear();
            let n = (&mut input)
                .take(MAX_LINE_LEN as u64 + 1)
                .read_until(b'\n', &mut raw)
                .map_err(io_err)?;
            if n == 0 {
                break;
            }
            line_no += 1;
            self.stats.lines += 1;
            let fail = |error| LoadError::Line {
                at: at(line_no),
                error,
            };
            if raw.len() > MAX_LINE_LEN {
                return Err(fail(LineError::LineTooLong(MAX_LINE_LEN)));
            }
            let text = std::str::from_utf8(&raw).map_err(|_| fail(LineError::NotUtf8))?;
            let text = text.trim_end_matches(['\n', '\r']);
            state.line(self, line_no, text).map_err(fail)?;
        }
        state
            .finish(self)
            .map_err(|(line, error)| LoadError::Line {
                at: at(line),
                error,
            })?;
        Ok(self)
    }
}

/// Hex-delta state: the family shift, the running start, and the row waiting for its end.
#[derive(Debug)]
struct HexState {
    v6: bool,
    acc: u128,
    seen_row: bool,
    /// (start, country or gap, line) of the row whose end is the next row's start - 1.
    pending: Option<(u128, Option<Country>, u64)>,
}

#[derive(Debug)]
struct Parser {
    format: Option<Format>,
    hex: Option<HexState>,
    file: u32,
}

const HEADER_WORDS: &[&str] = &["start", "ip_start", "range_start", "first"];

impl Parser {
    fn line(&mut self, b: &mut TableBuilder, line_no: u64, text: &str) -> Result<(), LineError> {
        if line_no == 1 && text.starts_with("#hexdelta1:") {
            let v6 = match text.trim_end() {
                "#hexdelta1:4" => false,
                "#hexdelta1:6" => true,
                other => {
                    return Err(LineError::Malformed(format!(
                        "unknown hex-delta header {other:?}, expected #hexdelta1:4 or #hexdelta1:6"
                    )))
                }
            };
            match self.format {
                None | Some(Format::HexDelta) => self.format = Some(Format::HexDelta),
                Some(f) => {
                    return Err(LineError::Malformed(format!(
                        "hex-delta header in a file loaded as {f:?}"
                    )))
                }
            }
            self.hex = Some(HexState {
                v6,
                acc: 0,
                seen_row: false,
                pending: None,
            });
            return Ok(());
        }
        if text.trim().is_empty() || text.starts_with('#') {
            return Ok(());
        }
        let format = match self.format {
            Some(f) => f,
            None => {
                let f =
                    Format::detect(text).ok_or_else(|| LineError::UnknownFormat(truncate(text)))?;
                self.format = Some(f);
                f
            }
        };
        if line_no == 1 {
            let first = text.split([',', '\t']).next().unwrap_or("").trim();
            if HEADER_WORDS.iter().any(|w| first.eq_ignore_ascii_case(w)) {
                return Ok(());
            }
        }
        match format {
            Format::CountryCsv => {
                let f = split_csv(text).map_err(LineError::Malformed)?;
                expect_fields(&f, 3, "start,end,country_code")?;
                let (s, e) = (parse_ip("start", &f[0])?, parse_ip("end", &f[1])?);
                match parse_country(&f[2])? {
                    Some(c) => b.push(self.file, line_no, s, e, Entry::with_country(c)),
                    None => no_data(b, s, e),
                }
            }
            Format::AsnCsv => {
                let f = split_csv(text).map_err(LineError::Malformed)?;
                expect_fields(&f, 4, "start,end,asn,org")?;
                let (s, e) = (parse_ip("start", &f[0])?, parse_ip("end", &f[1])?);
                match parse_asn(&f[2])? {
                    0 => no_data(b, s, e),
                    asn => {
                        let org = f[3].trim();
                        b.push(
                            self.file,
                            line_no,
                            s,
                            e,
                            Entry::new(None, Some(asn), Some(org)),
                        )
                    }
                }
            }
            Format::Ip2AsnTsv => {
                let f: Vec<&str> = text.split('\t').collect();
                expect_fields(&f, 5, "start<TAB>end<TAB>asn<TAB>country<TAB>description")?;
                let (s, e) = (parse_ip("start", f[0])?, parse_ip("end", f[1])?);
                let asn = parse_asn(f[2])?;
                let cc = if f[3].trim() == "None" {
                    None
                } else {
                    parse_country(f[3])?
                };
                if asn == 0 {
                    return no_data(b, s, e);
                }
                let org = f[4].trim();
                b.push(
                    self.file,
                    line_no,
                    s,
                    e,
                    Entry::new(cc, Some(asn), Some(org)),
                )
            }
            Format::HexDelta => self.hex_row(b, line_no, text),
        }
    }

    fn hex_row(&mut self, b: &mut TableBuilder, line_no: u64, text: &str) -> Result<(), LineError> {
        let file = self.file;
        let h = self.hex.as_mut().ok_or_else(|| {
            LineError::Malformed("hex-delta rows without a #hexdelta1:4|6 header on line 1".into())
        })?;
        let (delta, cc) = text
            .split_once(',')
            .ok_or_else(|| LineError::Malformed("expected delta_hex,country_code".into()))?;
        let delta = delta.trim();
        if delta.is_empty() || delta.len() > 32 || !delta.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(LineError::Malformed(format!(
                "{delta:?} is not a hex delta"
            )));
        }
        let delta = u128::from_str_radix(delta, 16).expect("checked hex");
        if h.seen_row && delta == 0 {
            return Err(LineError::Malformed(
                "delta 0 repeats the previous start: an empty range".into(),
            ));
        }
        let family = if h.v6 { "IPv6 (/64 units)" } else { "IPv4" };
        let limit: u128 = if h.v6 {
            u64::MAX as u128
        } else {
            u32::MAX as u128
        };
        let acc = h
            .acc
            .checked_add(delta)
            .filter(|a| *a <= limit)
            .ok_or(LineError::Overflow(family))?;
        h.acc = acc;
        h.seen_row = true;
        let start = if h.v6 { acc << 64 } else { acc };
        let cc = parse_country(cc)?;
        let prev = h.pending.replace((start, cc, line_no));
        let v6 = h.v6;
        if let Some((ps, Some(pc), pl)) = prev {
            let (s, e) = (to_ip(ps, v6), to_ip(start - 1, v6));
            // An error here belongs to the earlier row.
            b.push(file, pl, s, e, Entry::with_country(pc))?;
        } else if prev.is_some() {
            b.stats.no_data += 1;
        }
        Ok(())
    }

    /// Flush the last hex-delta row (it runs to the end of the address space).
    fn finish(&mut self, b: &mut TableBuilder) -> Result<(), (u64, LineError)> {
        if let Some(h) = self.hex.as_mut() {
            match h.pending.take() {
                Some((s, Some(c), line)) => {
                    let max = if h.v6 { u128::MAX } else { u32::MAX as u128 };
                    b.push(
                        self.file,
                        line,
                        to_ip(s, h.v6),
                        to_ip(max, h.v6),
                        Entry::with_country(c),
                    )
                    .map_err(|e| (line, e))?;
                }
                Some((_, None, _)) => b.stats.no_data += 1,
                None => {}
            }
        }
        Ok(())
    }
}

fn to_ip(a: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(std::net::Ipv6Addr::from(a))
    } else {
        IpAddr::V4(std::net::Ipv4Addr::from(a as u32))
    }
}

fn no_data(b: &mut TableBuilder, s: IpAddr, e: IpAddr) -> Result<(), LineError> {
    // A skipped row is still checked for shape, so a broken file fails even where it says
    // "no data".
    if s.is_ipv4() != e.is_ipv4() {
        return Err(LineError::MixedFamilies {
            start: s.to_string(),
            end: e.to_string(),
        });
    }
    if s > e {
        return Err(LineError::StartAfterEnd {
            start: s.to_string(),
            end: e.to_string(),
        });
    }
    b.stats.no_data += 1;
    Ok(())
}

fn truncate(s: &str) -> String {
    s.chars().take(80).collect()
}

fn expect_fields<T>(f: &[T], n: usize, layout: &str) -> Result<(), LineError> {
    if f.len() == n {
        Ok(())
    } else {
        Err(LineError::Malformed(format!(
            "expected {n} fields ({layout}), found {}",
            f.len()
        )))
    }
}

fn parse_ip(field: &'static str, text: &str) -> Result<IpAddr, LineError> {
    text.trim().parse().map_err(|_| LineError::BadIp {
        field,
        text: truncate(text),
    })
}

/// `Ok(None)` for the "no country" spellings (`""`, `ZZ`), an error for anything else
/// that is not a valid code.
fn parse_country(text: &str) -> Result<Option<Country>, LineError> {
    let t = text.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("ZZ") {
        return Ok(None);
    }
    country::parse(t)
        .map(Some)
        .ok_or_else(|| LineError::BadCountry(truncate(t)))
}

fn parse_asn(text: &str) -> Result<u32, LineError> {
    let t = text.trim();
    let t = t
        .strip_prefix("AS")
        .or_else(|| t.strip_prefix("as"))
        .unwrap_or(t);
    if t.is_empty() || !t.bytes().all(|c| c.is_ascii_digit()) {
        return Err(LineError::BadAsn(truncate(text)));
    }
    t.parse().map_err(|_| LineError::BadAsn(truncate(text)))
}

/// Split one CSV line (RFC 4180 quoting: a field in `"` may hold commas, `""` is a quote).
/// Fields spanning lines are not supported: no range table has them.
pub(crate) fn split_csv(line: &str) -> Result<Vec<Cow<'_, str>>, String> {
    let mut out = Vec::with_capacity(4);
    let mut rest = line;
    loop {
        if let Some(q) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let after;
            loop {
                match chars.next() {
                    Some((i, '"')) => {
                        if q[i + 1..].starts_with('"') {
                            value.push('"');
                            chars.next();
                        } else {
                            after = &q[i + 1..];
                            break;
                        }
                    }
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated quoted field".into()),
                }
            }
            out.push(Cow::Owned(value));
            if after.is_empty() {
                return Ok(out);
            }
            rest = after
                .strip_prefix(',')
                .ok_or_else(|| "text after a closing quote".to_string())?;
        } else {
            match rest.find(',') {
                Some(i) => {
                    out.push(Cow::Borrowed(&rest[..i]));
                    rest = &rest[i + 1..];
                }
                None => {
                    out.push(Cow::Borrowed(rest));
                    return Ok(out);
                }
            }
        }
    }
}

/// Load a hex-delta or any other table from a reader into a fresh builder with `policy`.
/// A shorthand for the app: `load_with(reader, name, None, OrderPolicy::SortThenCheck)`.
pub fn load_with(
    reader: impl Read,
    name: &str,
    format: Option<Format>,
    policy: OrderPolicy,
) -> Result<IpTable, LoadError> {
    let mut b = TableBuilder::new().order_policy(policy);
    b.add_reader(reader, name, format)?;
    b.build()
}
