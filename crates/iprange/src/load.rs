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
//! - Org names and descriptions are trimmed of surrounding whitespace (some ip-location-db
//!   rows end in a space inside the quotes); an empty one is "no org".
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
    if !line.contains('"') {
        return Ok(line.split(',').map(Cow::Borrowed).collect());
    }
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

/// Load one table from a reader (plain or gzip) with an explicit format (`None`: detect)
/// and order policy. A shorthand for a one-input [`TableBuilder`].
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::LineError as E;

    fn load(text: &str) -> Result<IpTable, LoadError> {
        IpTable::from_reader(text.as_bytes(), "t.csv")
    }
    fn cc(t: &IpTable, ip: &str) -> Option<String> {
        t.lookup(ip.parse().unwrap())
            .and_then(|e| e.country())
            .map(|c| c.to_string())
    }
    /// The error's line number and kind.
    fn err(text: &str) -> (u64, LineError) {
        match load(text) {
            Err(LoadError::Line { at, error }) => {
                assert_eq!(at.file, "t.csv");
                (at.line, error)
            }
            other => panic!("expected a line error, got {other:?}"),
        }
    }

    #[test]
    fn country_csv_v4_v6() {
        let t = load(
            "# comment\n\
             1.0.0.0,1.0.0.255,AU\r\n\
             \n\
             1.0.1.0,1.0.3.255,cn\n\
             1.0.4.0,1.0.4.255,ZZ\n\
             1.0.5.0,1.0.5.255,\n\
             2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP\n\
             2001:208::,2001:208:ffff:ffff:ffff:ffff:ffff:ffff,SG\n",
        )
        .unwrap();
        assert_eq!(cc(&t, "1.0.0.0").as_deref(), Some("AU"));
        assert_eq!(cc(&t, "1.0.0.255").as_deref(), Some("AU"));
        assert_eq!(cc(&t, "1.0.2.1").as_deref(), Some("CN"));
        assert_eq!(cc(&t, "1.0.4.1"), None, "ZZ is no data");
        assert_eq!(cc(&t, "1.0.5.1"), None, "empty is no data");
        assert_eq!(cc(&t, "2001:200::1").as_deref(), Some("JP"));
        assert_eq!(cc(&t, "2001:201::"), None);
        assert_eq!(
            cc(&t, "2001:208:ffff:ffff:ffff:ffff:ffff:ffff").as_deref(),
            Some("SG")
        );
        assert_eq!(t.stats().no_data, 2);
        assert_eq!(t.stats().ranges, 4);
        assert_eq!(t.stats().lines, 8);
    }

    #[test]
    fn header_line_is_skipped() {
        let t = load("start,end,country\n1.0.0.0,1.0.0.255,AU\n").unwrap();
        assert_eq!(cc(&t, "1.0.0.1").as_deref(), Some("AU"));
        // ... but only on line 1.
        let (line, e) = err("1.0.0.0,1.0.0.255,AU\nstart,end,country\n");
        assert_eq!(line, 2);
        assert!(matches!(e, E::BadIp { field: "start", .. }));
    }

    #[test]
    fn asn_csv_quoted_org() {
        let t = load(
            "1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\"\n\
             1.0.1.0,1.0.1.255,0,\n\
             1.0.2.0,1.0.2.255,64500,\"The \"\"Quoted\"\" Net, Ltd.\"\n\
             1.0.3.0,1.0.3.255,AS2519,ARTERIA Networks Corporation\n\
             1.0.4.0,1.0.4.255,64501,\n",
        )
        .unwrap();
        let e = t.lookup("1.0.0.9".parse().unwrap()).unwrap();
        assert_eq!((e.asn(), e.org()), (Some(13335), Some("Cloudflare, Inc.")));
        assert_eq!(e.country(), None);
        assert!(t.lookup("1.0.1.9".parse().unwrap()).is_none(), "AS0");
        let e = t.lookup("1.0.2.9".parse().unwrap()).unwrap();
        assert_eq!(e.org(), Some("The \"Quoted\" Net, Ltd."));
        let e = t.lookup("1.0.3.9".parse().unwrap()).unwrap();
        assert_eq!(e.asn(), Some(2519));
        let e = t.lookup("1.0.4.9".parse().unwrap()).unwrap();
        assert_eq!((e.asn(), e.org()), (Some(64501), None));
        assert_eq!(t.stats().no_data, 1);
    }

    #[test]
    fn ip2asn_tsv() {
        let t = load(
            "0.0.0.0\t0.255.255.255\t0\tNone\tNot routed\n\
             1.1.1.0\t1.1.1.0\t13335\tUS\tCLOUDFLARENET - Cloudflare, Inc.\n\
             1.1.1.1\t1.1.1.1\t7497\tCN\tCSTNET-AS-AP Computer Network Information Center\n\
             1.1.1.2\t1.1.1.255\t13335\tUS\tCLOUDFLARENET - Cloudflare, Inc.\n\
             2.0.0.0\t2.0.0.255\t64500\tNone\tSomewhere\n\
             2001:4860::\t2001:4860:ffff:ffff:ffff:ffff:ffff:ffff\t15169\tUS\tGOOGLE\n",
        )
        .unwrap();
        assert!(t.lookup("0.1.2.3".parse().unwrap()).is_none());
        let e = t.lookup("1.1.1.1".parse().unwrap()).unwrap();
        assert_eq!(e.asn(), Some(7497));
        assert_eq!(e.country().unwrap().as_str(), "CN");
        let e = t.lookup("1.1.1.2".parse().unwrap()).unwrap();
        assert_eq!(e.org(), Some("CLOUDFLARENET - Cloudflare, Inc."));
        let e = t.lookup("2.0.0.1".parse().unwrap()).unwrap();
        assert_eq!((e.asn(), e.country()), (Some(64500), None));
        let e = t.lookup("2001:4860:4860::8888".parse().unwrap()).unwrap();
        assert_eq!(e.asn(), Some(15169));
        assert_eq!(t.stats().no_data, 1);
        // 1.1.1.0 and 1.1.1.2-255 share one interned entry.
        assert_eq!(t.entries().len(), 4);
    }

    #[test]
    fn hex_delta_v4_and_v6() {
        // 0.0.0.0 gap, 1.0.0.0 AU, 1.0.1.0 CN, 1.0.4.0 gap, 1.0.8.0 JP to the end.
        let t = load("#hexdelta1:4\n0,\n1000000,AU\n100,CN\n300,\n400,JP\n").unwrap();
        assert_eq!(cc(&t, "0.255.255.255"), None);
        assert_eq!(cc(&t, "1.0.0.0").as_deref(), Some("AU"));
        assert_eq!(cc(&t, "1.0.0.255").as_deref(), Some("AU"));
        assert_eq!(cc(&t, "1.0.1.0").as_deref(), Some("CN"));
        assert_eq!(cc(&t, "1.0.3.255").as_deref(), Some("CN"));
        assert_eq!(cc(&t, "1.0.4.0"), None);
        assert_eq!(cc(&t, "1.0.8.0").as_deref(), Some("JP"));
        assert_eq!(cc(&t, "255.255.255.255").as_deref(), Some("JP"));
        assert_eq!(t.stats().no_data, 2);

        // v6 deltas are in /64 units.
        let t = load("#hexdelta1:6\n0,\n2001000401120000,US\n10000,\n").unwrap();
        assert_eq!(cc(&t, "2001:4:112::").as_deref(), Some("US"));
        assert_eq!(
            cc(&t, "2001:4:112:ffff:ffff:ffff:ffff:ffff").as_deref(),
            Some("US")
        );
        assert_eq!(cc(&t, "2001:4:113::"), None);
        assert_eq!(cc(&t, "2001:4:111:ffff::"), None);
    }

    #[test]
    fn hex_delta_errors() {
        assert_eq!(err("#hexdelta1:5\n0,\n").0, 1);
        let (l, e) = err("#hexdelta1:4\n0,\n1000000,AU\n0,CN\n");
        assert_eq!(l, 4);
        assert!(matches!(e, E::Malformed(m) if m.contains("delta 0")));
        let (l, e) = err("#hexdelta1:4\n0,\nffffffff,AU\n1,CN\n");
        assert_eq!(l, 4);
        assert!(matches!(e, E::Overflow(_)));
        let (l, e) = err("#hexdelta1:4\n0,\nxyz,AU\n");
        assert_eq!(l, 3);
        assert!(matches!(e, E::Malformed(_)));
        let (l, e) = err("#hexdelta1:4\n0,\n100,QQ\n");
        assert_eq!(l, 3);
        assert_eq!(e, E::BadCountry("QQ".into()));
    }

    #[test]
    fn validation_errors_name_the_line() {
        let ok = "1.0.0.0,1.0.0.255,AU\n";
        type Case = (String, u64, fn(&LineError) -> bool);
        let cases: Vec<Case> = vec![
            (
                format!("{ok}1.0.1.0,1.0.1.255\n"),
                2,
                |e| matches!(e, E::Malformed(m) if m.contains("expected 3 fields")),
            ),
            (
                format!("{ok}{ok}"),
                2,
                |e| matches!(e, E::Overlap { other } if other.line == 1),
            ),
            (format!("{ok}1.0.0.128,1.0.1.255,AU\n"), 2, |e| {
                matches!(e, E::Overlap { .. })
            }),
            (
                format!("1.0.1.0,1.0.1.255,CN\n{ok}"),
                2,
                |e| matches!(e, E::Unsorted { previous } if previous.line == 1),
            ),
            (format!("{ok}1.0.2.0,1.0.1.255,CN\n"), 2, |e| {
                matches!(e, E::StartAfterEnd { .. })
            }),
            (format!("{ok}1.0.2.0,::1,CN\n"), 2, |e| {
                matches!(e, E::MixedFamilies { .. })
            }),
            (
                format!("{ok}1.0.2.256,1.0.2.255,CN\n"),
                2,
                |e| matches!(e, E::BadIp { field: "start", text } if text == "1.0.2.256"),
            ),
            (format!("{ok}1.0.2.0,1.0.2.x,CN\n"), 2, |e| {
                matches!(e, E::BadIp { field: "end", .. })
            }),
            (format!("{ok}\n\n1.0.2.0,1.0.2.255,XX\n"), 4, |e| {
                *e == E::BadCountry("XX".into())
            }),
            (format!("{ok}1.0.2.0,1.0.2.255,UK\n"), 2, |e| {
                *e == E::BadCountry("UK".into())
            }),
            (
                format!("{ok}1.0.2.0,1.0.2.255,\"AU\n"),
                2,
                |e| matches!(e, E::Malformed(m) if m.contains("unterminated")),
            ),
            (format!("{ok}1.0.2.0,1.0.2.255,\"AU\"x\n"), 2, |e| {
                matches!(e, E::Malformed(_))
            }),
            (
                format!("{ok}1.0.2.0,1.0.2.255,{}\n", "A".repeat(MAX_LINE_LEN)),
                2,
                |e| matches!(e, E::LineTooLong(_)),
            ),
            ("1.0.0.0;1.0.0.255;AU\n".to_string(), 1, |e| {
                matches!(e, E::UnknownFormat(_))
            }),
            (
                "1.0.0.0,1.0.0.255,64500,Org\n1.0.1.0,1.0.1.255,4294967296,Org\n".to_string(),
                2,
                |e| matches!(e, E::BadAsn(_)),
            ),
            (
                "1.0.0.0,1.0.0.255,64500,Org\n1.0.1.0,1.0.1.255,-1,Org\n".to_string(),
                2,
                |e| matches!(e, E::BadAsn(_)),
            ),
            (
                "1.0.0.0\t1.0.0.255\t1\tUS\tX\n1.0.1.0\t1.0.1.255\t1\tUS\n".to_string(),
                2,
                |e| matches!(e, E::Malformed(m) if m.contains("expected 5 fields")),
            ),
            ("1.0.0.0\t1.0.0.255\t1\tUSA\tX\n".to_string(), 1, |e| {
                *e == E::BadCountry("USA".into())
            }),
            // "no data" rows are still checked for shape
            (
                "1.0.0.0\t0.255.255.255\t0\tNone\tNot routed\n".to_string(),
                1,
                |e| matches!(e, E::StartAfterEnd { .. }),
            ),
        ];
        for (text, line, check) in cases {
            let (l, e) = err(&text);
            assert_eq!(
                l,
                line,
                "line for {e:?} in {:?}",
                &text[..text.len().min(80)]
            );
            assert!(
                check(&e),
                "unexpected {e:?} for {:?}",
                &text[..text.len().min(80)]
            );
        }
        // Not UTF-8.
        let bytes = b"1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.1.255,\xff\xfe\n".to_vec();
        match IpTable::from_reader(&bytes[..], "t.csv") {
            Err(LoadError::Line {
                at,
                error: E::NotUtf8,
            }) => assert_eq!(at.line, 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn error_messages_say_where_and_what_to_do() {
        let e = load("1.0.1.0,1.0.1.255,CN\n1.0.0.0,1.0.0.255,AU\n").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("t.csv:2: range starts before the range at t.csv:1"),
            "{msg}"
        );
        assert!(msg.contains("OrderPolicy::SortThenCheck"), "{msg}");
        let e = IpTable::from_path("/nonexistent/x.csv").unwrap_err();
        assert!(
            e.to_string().starts_with("/nonexistent/x.csv: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn policies_via_loader() {
        let text = "1.0.1.0,1.0.1.255,CN\n1.0.0.0,1.0.0.255,AU\n1.0.1.0,1.0.1.255,CN\n";
        let t = load_with(text.as_bytes(), "t", None, OrderPolicy::SortThenCheck).unwrap();
        assert_eq!(cc(&t, "1.0.0.1").as_deref(), Some("AU"));
        assert_eq!((t.stats().unsorted, t.stats().duplicates), (1, 1));
        let text = "1.0.0.0,1.0.1.255,CN\n1.0.1.0,1.0.1.0,AU\n";
        let e = load_with(text.as_bytes(), "t", None, OrderPolicy::SortThenCheck).unwrap_err();
        assert_eq!(e.location().unwrap().line, 2);
        let t = load_with(text.as_bytes(), "t", None, OrderPolicy::NarrowestWins).unwrap();
        assert_eq!(cc(&t, "1.0.1.0").as_deref(), Some("AU"));
        assert_eq!(cc(&t, "1.0.1.1").as_deref(), Some("CN"));
    }

    #[test]
    fn gzip_is_sniffed_and_format_can_be_forced() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"1.0.0.0,1.0.0.255,AU\n").unwrap();
        let bytes = gz.finish().unwrap();
        let t = IpTable::from_reader(&bytes[..], "t.csv.gz").unwrap();
        assert_eq!(cc(&t, "1.0.0.1").as_deref(), Some("AU"));
        // Forcing the ASN format on a 3-field file reports the mismatch on line 1.
        let mut b = TableBuilder::new();
        let e = b
            .add_reader(&bytes[..], "t.csv.gz", Some(Format::AsnCsv))
            .unwrap_err();
        assert_eq!(e.location().unwrap().line, 1);
    }

    /// Garbage in any format and policy gives errors, never a panic.
    #[test]
    fn garbage_never_panics() {
        let alphabet = b"0123456789.:,abcdefAUZ\t\"# -\n\xff";
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let prefixes = [
            "",
            "#hexdelta1:4\n",
            "#hexdelta1:6\n",
            "1.0.0.0,1.0.0.255,AU\n",
        ];
        for i in 0..3000 {
            let mut text = prefixes[i % prefixes.len()].as_bytes().to_vec();
            for _ in 0..(i % 120) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.push(alphabet[(x % alphabet.len() as u64) as usize]);
            }
            for policy in [
                OrderPolicy::Strict,
                OrderPolicy::SortThenCheck,
                OrderPolicy::NarrowestWins,
            ] {
                for format in [None, Some(Format::CountryCsv), Some(Format::HexDelta)] {
                    let _ = load_with(&text[..], "g", format, policy);
                }
            }
        }
    }

    #[test]
    fn detect() {
        assert_eq!(
            Format::detect("1.0.0.0,1.0.0.255,AU"),
            Some(Format::CountryCsv)
        );
        assert_eq!(
            Format::detect("1.0.0.0,1.0.0.255,13335,\"Cloudflare, Inc.\""),
            Some(Format::AsnCsv)
        );
        assert_eq!(
            Format::detect("1.0.0.0\t1.0.0.255\t1\tUS\tx"),
            Some(Format::Ip2AsnTsv)
        );
        assert_eq!(Format::detect("#hexdelta1:6"), Some(Format::HexDelta));
        assert_eq!(Format::detect("hello"), None);
    }

    #[test]
    fn split_csv_cases() {
        assert_eq!(split_csv("a,b,,c").unwrap(), vec!["a", "b", "", "c"]);
        assert_eq!(split_csv("\"a,b\",c").unwrap(), vec!["a,b", "c"]);
        assert_eq!(split_csv("a,\"\"").unwrap(), vec!["a", ""]);
        assert_eq!(split_csv("a,").unwrap(), vec!["a", ""]);
        assert!(split_csv("\"a").is_err());
    }
}
