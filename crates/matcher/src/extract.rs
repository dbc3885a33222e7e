//! From field values to probes: the plain-text tokeniser and the per-line match context.
//!
//! Every log format reduces a line to `(field name, value bytes)` pairs and hands them to
//! [`LineCtx::field`]. A value that is a whole URL is matched as one URL (structured logs
//! keep URLs exact); anything else goes through the tokeniser, which finds URLs (also
//! defanged: `hxxp`, `[:]//`, `[://]`) and then maximal runs of token bytes, each classified
//! by shape as IPv4, IPv6, hash, email or domain. The tokeniser is a hand-written byte scanner
//! over a 256-entry class table: for this job (short tokens, most of them misses) it beats a
//! multi-pattern automaton because the only patterns worth finding are "://" and defang
//! brackets, which `memchr` and one table lookup handle.
//!
//! Canonical forms must agree with ingest: the fast paths here produce exactly what
//! `observable` produces for ASCII input (lower-case, no trailing dot, std IP parsing, WHATWG
//! URLs through `observable::canonical_url`), and non-ASCII input takes the `observable` path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use observable::{Kind, Observable};

use crate::set::{Found, HRange, IndicatorRef, IndicatorSet, MatchRule};

/// Shortest token worth classifying: `a.io` is the shortest plausible domain.
const MIN_TOKEN_LEN: usize = 4;
/// Longest token classified; longer runs are noise (base64 blobs) and skipped cheaply.
const MAX_TOKEN_LEN: usize = 2048;
/// How far back from "://" a scheme may start (`view-source+https` is 17 bytes).
const MAX_SCHEME_LEN: usize = 20;

const T_TOKEN: u16 = 1; // part of a non-URL token
const T_HEX: u16 = 2;
const T_DIGIT: u16 = 4;
const T_URL_STOP: u16 = 8; // ends a URL in free text
const T_SCHEME: u16 = 16;
const T_DOT: u16 = 32;
const T_COLON: u16 = 64;
const T_AT: u16 = 128;
const T_DIGIT_DOT: u16 = 256;
const T_OPEN: u16 = 512; // opens a defang marker: `[`, `(`, `{`
/// Bytes without which a short value holds no indicator (see [`LineCtx::field`]).
const T_NEEDED: u16 = T_DOT | T_COLON | T_AT | T_OPEN;
/// Shortest hash (MD5, 32 hex digits): below it, a value needs a [`T_NEEDED`] byte to match.
const MIN_HASH_LEN: usize = 32;

static CLASS: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut c = 0;
        if b.is_ascii_alphanumeric()
            || b == b'.'
            || b == b'-'
            || b == b'_'
            || b == b':'
            || b == b'@'
            || b == b'+'
            || b >= 0x80
        {
            c |= T_TOKEN;
        }
        if b.is_ascii_hexdigit() {
            c |= T_HEX;
        }
        if b.is_ascii_digit() {
            c |= T_DIGIT;
        }
        if b <= b' '
            || b == b'"'
            || b == b'<'
            || b == b'>'
            || b == b'`'
            || b == b'{'
            || b == b'}'
            || b == b'\\'
            || b == 0x7f
        {
            c |= T_URL_STOP;
        }
        if b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.' {
            c |= T_SCHEME;
        }
        if b == b'.' {
            c |= T_DOT | T_DIGIT_DOT;
        }
        if b == b':' {
            c |= T_COLON;
        }
        if b == b'@' {
            c |= T_AT;
        }
        if b == b'[' || b == b'(' || b == b'{' {
            c |= T_OPEN;
        }
        if b.is_ascii_digit() {
            c |= T_DIGIT_DOT;
        }
        t[i] = c;
        i += 1;
    }
    t
};

#[inline(always)]
fn class(b: u8) -> u16 {
    CLASS[b as usize]
}

/// One hit found on the current line, before file and absolute line number are known.
#[derive(Debug, Clone)]
pub(crate) struct LineHit {
    pub field: String,
    pub kind: Kind,
    pub value: String,
    pub rule: MatchRule,
    pub indicator: IndicatorRef,
    pub handles: HRange,
}

/// Per-thread, per-line matching state. Reused across lines: no allocation unless a line hits.
pub(crate) struct LineCtx<'s> {
    pub set: &'s IndicatorSet,
    /// Field-name filter (`None`: every field).
    filter: Option<&'s [String]>,
    time_fields: &'s [String],
    /// Lower-cased copy of the token being probed.
    scratch: Vec<u8>,
    /// Canonical host being probed.
    host: Vec<u8>,
    pub hits: Vec<LineHit>,
    /// When `Some`, every recognised observation is collected (event mode, second pass).
    pub observations: Option<Vec<(String, Observable)>>,
    /// Raw time value of the current line, parsed only if the line hits.
    pub time_raw: Vec<u8>,
    pub time_set: bool,
    misses: MissCache,
    /// Two-label suffixes under which no URL indicator host lives.
    url_misses: MissCache,
}

/// Slots in the per-thread [`MissCache`] (a power of two): 16,384 × 32 bytes = 512 KiB,
/// room for the few thousand registered domains a busy resolver repeats (4,096 slots
/// thrashed on the benchmark's 5,000 and sent a third of the lookups to the shared table).
const MISS_CACHE_SLOTS: usize = 16384;
/// Longest two-label suffix the miss cache stores.
const MISS_CACHE_KEY_LEN: usize = 31;

/// Per-thread, direct-mapped cache of two-label suffixes known to be absent from the domain
/// index. Logs repeat a few registered domains endlessly (DNS especially); a miss remembered
/// here costs an L1/L2 read instead of a probe into the shared multi-megabyte table. Exact
/// (whole suffix stored, compared byte for byte) and always valid: the set is immutable.
struct MissCache {
    keys: Vec<[u8; MISS_CACHE_KEY_LEN + 1]>,
}

impl MissCache {
    fn new() -> Self {
        MissCache {
            keys: vec![[0u8; MISS_CACHE_KEY_LEN + 1]; MISS_CACHE_SLOTS],
        }
    }

    /// The two-label suffix of a canonical domain.
    #[inline]
    fn two_labels(name: &[u8]) -> &[u8] {
        match memchr::memrchr(b'.', name) {
            Some(d) => match memchr::memrchr(b'.', &name[..d]) {
                Some(d2) => &name[d2 + 1..],
                None => name,
            },
            None => name,
        }
    }

    /// `(slot, known miss)` for `name`, or `None` if its suffix is too long to cache.
    #[inline]
    fn slot(&self, name: &[u8]) -> Option<(usize, bool)> {
        let k = Self::two_labels(name);
        if k.len() > MISS_CACHE_KEY_LEN {
            return None;
        }
        let mut h: u64 = 0xcbf29ce484222325;
        for &b in k {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        let i = (h as usize) & (MISS_CACHE_SLOTS - 1);
        let e = &self.keys[i];
        Some((i, e[0] as usize == k.len() && &e[1..=k.len()] == k))
    }

    #[inline]
    fn remember(&mut self, i: usize, name: &[u8]) {
        let k = Self::two_labels(name);
        let e = &mut self.keys[i];
        e[0] = k.len() as u8;
        e[1..=k.len()].copy_from_slice(k);
    }
}

/// Longest name in [`DEFAULT_TIME_FIELDS`].
const MAX_DEFAULT_TIME_FIELD_LEN: usize = 10;

/// Timestamp field names tried when none are configured, compared case-insensitively.
pub const DEFAULT_TIME_FIELDS: &[&str] = &[
    "ts",
    "timestamp",
    "@timestamp",
    "time",
    "datetime",
    "date",
    "eventtime",
    "event_time",
    "rt",
];

impl<'s> LineCtx<'s> {
    pub fn new(
        set: &'s IndicatorSet,
        filter: Option<&'s [String]>,
        time_fields: &'s [String],
    ) -> Self {
        LineCtx {
            set,
            filter,
            time_fields,
            scratch: Vec::with_capacity(256),
            host: Vec::with_capacity(256),
            hits: Vec::new(),
            observations: None,
            time_raw: Vec::with_capacity(64),
            time_set: false,
            misses: MissCache::new(),
            url_misses: MissCache::new(),
        }
    }

    pub fn reset(&mut self) {
        self.hits.clear();
        self.time_set = false;
        self.time_raw.clear();
    }

    #[inline]
    fn is_time_field(&self, name: &str) -> bool {
        // Called for every field of every line: reject by length before comparing names.
        if self.time_fields.is_empty() {
            if name.len() > MAX_DEFAULT_TIME_FIELD_LEN || name.len() < 2 {
                return false;
            }
            // The default names start with one of these (checked by a test).
            if !matches!(
                name.as_bytes()[0].to_ascii_lowercase(),
                b't' | b'@' | b'd' | b'e' | b'r'
            ) {
                return false;
            }
            DEFAULT_TIME_FIELDS
                .iter()
                .any(|t| t.eq_ignore_ascii_case(name))
        } else {
            self.time_fields
                .iter()
                .any(|t| t.eq_ignore_ascii_case(name))
        }
    }

    fn wanted(&self, name: &str) -> bool {
        match self.filter {
            None => true,
            Some(f) => f.iter().any(|x| x == name),
        }
    }

    /// Remember `value` as the line's timestamp if `name` is a time field. Returns true if so.
    pub fn maybe_time(&mut self, name: &str, value: &[u8]) -> bool {
        if self.is_time_field(name) {
            if !self.time_set {
                self.time_set = true;
                self.time_raw.clear();
                self.time_raw
                    .extend_from_slice(&value[..value.len().min(64)]);
            }
            return true;
        }
        false
    }

    /// Set the time source explicitly (formats whose time has a fixed place).
    pub fn set_time(&mut self, value: &[u8]) {
        if !self.time_set {
            self.time_set = true;
            self.time_raw.clear();
            self.time_raw
                .extend_from_slice(&value[..value.len().min(64)]);
        }
    }

    /// A structured field: a whole-URL value is one URL, anything else is tokenised.
    pub fn field(&mut self, name: &str, value: &[u8]) {
        if value.is_empty() || self.maybe_time(name, value) || !self.wanted(name) {
            return;
        }
        let v = trim_ascii(value);
        // Ports, counters, ids: a value shorter than a hash with no '.', ':', '@' or defang
        // bracket cannot hold an IP, domain, URL or e-mail (the tokeniser would reject every
        // token of it), so it is decided in one pass over its bytes.
        if v.len() < MIN_HASH_LEN && v.iter().all(|&b| class(b) & T_NEEDED == 0) {
            return;
        }
        if whole_url(v).is_some() {
            self.url(name, v, true);
        } else {
            self.text(name, v);
        }
    }

    /// A synthesised URL (Zeek http host+uri): URL indicators only; the host field itself
    /// already carries the host's domain/IP matches.
    pub fn url_only(&mut self, name: &str, value: &[u8]) {
        if self.wanted(name) {
            self.url(name, value, false);
        }
    }

    /// Free text: find URLs, then tokens between them.
    pub fn text(&mut self, name: &str, s: &[u8]) {
        let mut pos = 0;
        let mut search = 0;
        // "//" found with memchr on '/' (a memmem searcher costs more to build per field than
        // the search itself).
        while let Some(off) = memchr::memchr(b'/', &s[search..]) {
            let i = search + off;
            search = i + 1;
            if s.get(i + 1) != Some(&b'/') {
                continue;
            }
            search = i + 2;
            // Scheme separator: "://", "[:]//", "[://]".
            let sep_start = if i >= 1 && s[i - 1] == b':' {
                if i >= 2 && s[i - 2] == b'[' {
                    i - 2
                } else {
                    i - 1
                }
            } else if i >= 3 && &s[i - 3..i] == b"[:]" {
                i - 3
            } else {
                continue;
            };
            let mut start = sep_start;
            while start > 0
                && sep_start - start < MAX_SCHEME_LEN
                && class(s[start - 1]) & T_SCHEME != 0
            {
                start -= 1;
            }
            if start == sep_start || start < pos {
                continue;
            }
            let quote = if start > 0 && s[start - 1] == b'\'' {
                Some(b'\'')
            } else {
                None
            };
            let mut end = i + 2;
            while end < s.len() && class(s[end]) & T_URL_STOP == 0 && Some(s[end]) != quote {
                end += 1;
            }
            end = trim_url_end(&s[start..end]) + start;
            self.tokens(name, &s[pos..start]);
            if end > i + 2 {
                self.url(name, &s[start..end], true);
            }
            pos = end.max(i + 2);
            search = pos;
        }
        self.tokens(name, &s[pos..]);
    }

    /// Maximal runs of token bytes (defang brackets included) between separators.
    fn tokens(&mut self, name: &str, s: &[u8]) {
        let n = s.len();
        let mut i = 0;
        while i < n {
            while i < n && class(s[i]) & T_TOKEN == 0 && defang_len(s, i) == 0 {
                i += 1;
            }
            let start = i;
            let mut defanged = false;
            // Class bits of the run, OR-ed and AND-ed, so `token` needs no second pass.
            let (mut any, mut all) = (0u16, u16::MAX);
            while i < n {
                let c = class(s[i]);
                if c & T_TOKEN != 0 {
                    any |= c;
                    all &= c;
                    i += 1;
                } else {
                    let l = defang_len(s, i);
                    if l == 0 {
                        break;
                    }
                    defanged = true;
                    i += l;
                }
            }
            if i > start {
                if defanged {
                    self.token(name, &s[start..i], true);
                } else {
                    self.token_with(name, &s[start..i], any, all);
                }
            }
        }
    }

    fn token(&mut self, name: &str, t: &[u8], defanged: bool) {
        if defanged {
            let Ok(st) = std::str::from_utf8(t) else {
                return;
            };
            let r = observable::refang(st).into_owned();
            // The refanged text may still hold separators ("[/]"); tokenise it again.
            let bytes = r.into_bytes();
            if bytes.iter().any(|&b| class(b) & T_TOKEN == 0) {
                self.tokens(name, &bytes);
            } else {
                self.token(name, &bytes, false);
            }
            return;
        }
        let (any, all) = class_bits(t);
        self.token_with(name, t, any, all);
    }

    /// Classify a run of token bytes by shape. `any` / `all`: OR and AND of its class bits.
    #[inline]
    fn token_with(&mut self, name: &str, t: &[u8], mut any: u16, mut all: u16) {
        // Words with no dot, colon or '@' that are not hash-long cannot be indicators: the
        // common case, decided without touching the bytes again.
        if any & (T_DOT | T_COLON | T_AT) == 0
            && !matches!(t.len(), 32 | 40 | 64 | 128)
            && !matches!(t.first(), Some(b'-' | b'+'))
            && !matches!(t.last(), Some(b'-' | b'+'))
        {
            return;
        }
        let trimmed = trim_token(t);
        if trimmed.len() != t.len() {
            (any, all) = class_bits(trimmed);
        }
        let t = trimmed;
        if t.len() < MIN_TOKEN_LEN || t.len() > MAX_TOKEN_LEN {
            return;
        }
        if any & T_AT != 0 {
            self.email(name, t);
        } else if any & T_COLON != 0 {
            let mut colons = memchr::memchr_iter(b':', t);
            let first = colons.next().unwrap_or(0);
            if colons.next().is_some() {
                self.ipv6_token(name, t);
            } else {
                self.token(name, &t[..first], false);
                self.token(name, &t[first + 1..], false);
            }
        } else if all & T_HEX != 0 && matches!(t.len(), 32 | 40 | 64 | 128) {
            self.hash(name, t);
        } else if all & T_DIGIT_DOT != 0 {
            if t.len() <= 15 {
                if let Some(a) = parse_ipv4(t) {
                    self.ip(name, IpAddr::V4(a));
                }
            }
        } else if any & T_DOT != 0 {
            self.domain(name, t, true);
        }
    }

    fn ipv6_token(&mut self, name: &str, t: &[u8]) {
        let Ok(st) = std::str::from_utf8(t) else {
            return;
        };
        if let Ok(a) = st.parse::<Ipv6Addr>() {
            self.ip(name, IpAddr::V6(a));
        }
    }

    fn ip(&mut self, name: &str, ip: IpAddr) {
        let set = self.set;
        let mut found: [Option<Found>; 8] = [None; 8];
        let mut n = 0;
        let mut extra: Vec<Found> = Vec::new();
        set.probe_ip(ip, &mut |f| {
            if n < found.len() {
                found[n] = Some(f);
                n += 1;
            } else {
                extra.push(f);
            }
        });
        let kind = if ip.is_ipv4() { Kind::Ipv4 } else { Kind::Ipv6 };
        if n > 0 || self.observations.is_some() {
            let value = ip.to_string();
            for f in found[..n].iter().flatten().chain(extra.iter()) {
                self.push(name, kind, &value, *f);
            }
            self.observe(name, kind, value);
        }
    }

    fn hash(&mut self, name: &str, t: &[u8]) {
        self.scratch.clear();
        self.scratch
            .extend(t.iter().map(|b| b.to_ascii_lowercase()));
        let found = self.set.probe_hash(&self.scratch);
        if found.is_some() || self.observations.is_some() {
            let kind = match t.len() {
                32 => Kind::Md5,
                40 => Kind::Sha1,
                64 => Kind::Sha256,
                _ => Kind::Sha512,
            };
            let value = String::from_utf8_lossy(&self.scratch).into_owned();
            if let Some(f) = found {
                self.push(name, kind, &value, f);
            }
            self.observe(name, kind, value);
        }
    }

    /// Canonicalise a domain into `self.host`. ASCII takes the fast path; anything else goes
    /// through `observable::canonical_domain` (IDNA).
    fn canon_domain(&mut self, t: &[u8]) -> bool {
        let t = t.strip_suffix(b".").unwrap_or(t);
        self.host.clear();
        if t.is_ascii() {
            let mut label_len = 0usize;
            let mut labels = 1;
            let mut last_label_digits = true;
            for &b in t {
                let l = b.to_ascii_lowercase();
                if l == b'.' {
                    if label_len == 0 {
                        return false;
                    }
                    labels += 1;
                    label_len = 0;
                    last_label_digits = true;
                } else if l.is_ascii_alphanumeric() || l == b'-' || l == b'_' {
                    label_len += 1;
                    if label_len > 63 {
                        return false;
                    }
                    last_label_digits &= l.is_ascii_digit();
                } else {
                    return false;
                }
                self.host.push(l);
            }
            label_len > 0 && labels >= 2 && !last_label_digits && t.len() <= 253
        } else {
            let Ok(st) = std::str::from_utf8(t) else {
                return false;
            };
            match observable::canonical_domain(st) {
                Ok(d) => {
                    self.host.extend_from_slice(d.as_bytes());
                    true
                }
                Err(_) => false,
            }
        }
    }

    fn domain(&mut self, name: &str, t: &[u8], observe: bool) {
        if !self.canon_domain(t) {
            return;
        }
        self.probe_host_domain(name, observe);
    }

    /// Probe `self.host` (a canonical domain) against the domain index.
    fn probe_host_domain(&mut self, name: &str, observe: bool) {
        let set = self.set;
        let mut found: [Option<Found>; 4] = [None; 4];
        let mut n = 0;
        let mut extra = Vec::new();
        let slot = self.misses.slot(&self.host);
        if !matches!(slot, Some((_, true))) {
            let present = set.probe_domain(&self.host, &mut |f| {
                if n < found.len() {
                    found[n] = Some(f);
                    n += 1;
                } else {
                    extra.push(f);
                }
            });
            if let (Some((i, _)), false) = (slot, present) {
                self.misses.remember(i, &self.host);
            }
        }
        if n > 0 || (observe && self.observations.is_some()) {
            let value = String::from_utf8_lossy(&self.host).into_owned();
            for f in found[..n].iter().flatten().chain(extra.iter()) {
                self.push(name, Kind::Domain, &value, *f);
            }
            if observe {
                self.observe(name, Kind::Domain, value);
            }
        }
    }

    fn email(&mut self, name: &str, t: &[u8]) {
        let at = memchr::memrchr(b'@', t).unwrap_or(0);
        let local_all = &t[..at];
        let mut ls = local_all.len();
        while ls > 0 && {
            let b = local_all[ls - 1];
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
        } {
            ls -= 1;
        }
        let local = &local_all[ls..];
        let mut dom = &t[at + 1..];
        if let Some(c) = memchr::memchr(b':', dom) {
            dom = &dom[..c];
        }
        if local.is_empty() || local.len() > 64 || !self.canon_domain(dom) {
            // Not an address; the domain part may still be a domain.
            if !dom.is_empty() {
                self.domain(name, dom, true);
            }
            return;
        }
        let mut addr = Vec::with_capacity(local.len() + 1 + self.host.len());
        addr.extend_from_slice(local);
        addr.push(b'@');
        addr.extend_from_slice(&self.host);
        let found = self.set.probe_email(&addr);
        if found.is_some() || self.observations.is_some() {
            let value = String::from_utf8_lossy(&addr).into_owned();
            if let Some(f) = found {
                self.push(name, Kind::Email, &value, f);
            }
            self.observe(name, Kind::Email, value);
        }
        // The address's domain is a sighting of that domain too.
        self.probe_host_domain(name, true);
    }

    /// A URL candidate (scheme included). `host_probe`: also match its host as domain / IP.
    fn url(&mut self, name: &str, raw: &[u8], host_probe: bool) {
        let refanged;
        let raw: &[u8] = if needs_refang_url(raw) {
            let Ok(st) = std::str::from_utf8(raw) else {
                return;
            };
            refanged = observable::refang(st).into_owned();
            refanged.as_bytes()
        } else {
            raw
        };
        let Some(sep) = raw.windows(3).position(|w| w == b"://") else {
            return;
        };
        let rest = &raw[sep + 3..];
        let auth_end = rest
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#' | b'\\'))
            .unwrap_or(rest.len());
        let authority = &rest[..auth_end];
        let host_port = match memchr::memrchr(b'@', authority) {
            Some(k) => &authority[k + 1..],
            None => authority,
        };
        // Canonical host into self.host; `ip` set for IP literals.
        let mut ip: Option<IpAddr> = None;
        if let Some(inner) = host_port.strip_prefix(b"[") {
            let Some(close) = memchr::memchr(b']', inner) else {
                return;
            };
            let Ok(a) = std::str::from_utf8(&inner[..close])
                .unwrap_or("")
                .parse::<Ipv6Addr>()
            else {
                return;
            };
            ip = Some(IpAddr::V6(a));
            self.host.clear();
            self.host.extend_from_slice(format!("[{a}]").as_bytes());
        } else {
            let h = match memchr::memchr(b':', host_port) {
                Some(k) => &host_port[..k],
                None => host_port,
            };
            if h.is_empty() {
                return;
            }
            if h.iter().all(|&b| b.is_ascii_digit() || b == b'.') {
                match parse_ipv4(h) {
                    Some(a) => {
                        ip = Some(IpAddr::V4(a));
                        self.host.clear();
                        self.host.extend_from_slice(h);
                    }
                    // WHATWG accepts odd IPv4 spellings; leave them to the slow path below.
                    None => self.host.clear(),
                }
            } else if !self.canon_domain(h) {
                self.host.clear();
            }
        }
        if host_probe {
            match ip {
                Some(a) => self.ip(name, a),
                None if !self.host.is_empty() => self.probe_host_domain(name, true),
                None => {}
            }
        }
        let collect = self.observations.is_some();
        if !self.set.has_urls() && !collect {
            return;
        }
        // Prefilter: no URL indicator has this host, so no exact match is possible. For a
        // domain host, its two-label suffix (cached per thread when absent) decides first.
        let host_hit = if self.host.is_empty() || (ip.is_none() && !self.url_suffix_may_match()) {
            None
        } else {
            self.set.probe_url_host(&self.host)
        };
        if host_hit.is_none() && !self.host.is_empty() && !collect {
            return;
        }
        let Ok(st) = std::str::from_utf8(raw) else {
            return;
        };
        let Ok(canonical) = observable::canonical_url(st) else {
            return;
        };
        let host_hit = match host_hit {
            Some(h) => Some(h),
            None if self.host.is_empty() => crate::set::url_host_of_canonical(&canonical)
                .and_then(|h| self.set.probe_url_host(h.as_bytes())),
            None => None,
        };
        if let Some(hh) = host_hit {
            match self.set.probe_url(canonical.as_bytes()) {
                Some(f) => self.push(name, Kind::Url, &canonical, f),
                None => self.push(name, Kind::Url, &canonical, hh),
            }
        }
        self.observe(name, Kind::Url, canonical);
    }

    /// Is the two-label suffix of `self.host` (a domain) under some URL indicator's host?
    fn url_suffix_may_match(&mut self) -> bool {
        let slot = self.url_misses.slot(&self.host);
        if let Some((_, true)) = slot {
            return false;
        }
        let present = self
            .set
            .url_host_suffix_present(MissCache::two_labels(&self.host));
        if let (Some((i, _)), false) = (slot, present) {
            self.url_misses.remember(i, &self.host);
        }
        present
    }

    fn push(&mut self, name: &str, kind: Kind, value: &str, f: Found) {
        if self
            .hits
            .iter()
            .any(|h| h.indicator == f.indicator && h.field == name && h.value == value)
        {
            return;
        }
        self.hits.push(LineHit {
            field: name.to_string(),
            kind,
            value: value.to_string(),
            rule: f.rule,
            indicator: f.indicator,
            handles: f.handles,
        });
    }

    fn observe(&mut self, name: &str, kind: Kind, value: String) {
        if let Some(obs) = &mut self.observations {
            let o = Observable { kind, value };
            if !obs.iter().any(|(n, x)| n == name && *x == o) {
                obs.push((name.to_string(), o));
            }
        }
    }
}

/// OR and AND of the class bits of `t`.
#[inline]
fn class_bits(t: &[u8]) -> (u16, u16) {
    t.iter().fold((0, u16::MAX), |(any, all), &b| {
        let c = class(b);
        (any | c, all & c)
    })
}

/// A value that is one URL and nothing else: `scheme://...` with no whitespace.
fn whole_url(v: &[u8]) -> Option<usize> {
    let sep = memchr::memchr(b':', &v[..v.len().min(MAX_SCHEME_LEN + 1)])?;
    if !v[sep..].starts_with(b"://") {
        return None;
    }
    if sep == 0 || sep > MAX_SCHEME_LEN || !v[..sep].iter().all(|&b| class(b) & T_SCHEME != 0) {
        return None;
    }
    if !v[0].is_ascii_alphabetic() || v.iter().any(|&b| b <= b' ') {
        return None;
    }
    Some(sep)
}

fn needs_refang_url(raw: &[u8]) -> bool {
    let p = &raw[..raw.len().min(5)];
    let lower = |b: &u8| b.to_ascii_lowercase();
    let starts = |pre: &[u8]| {
        p.len() >= pre.len() && p.iter().map(lower).take(pre.len()).eq(pre.iter().copied())
    };
    starts(b"hxxp")
        || starts(b"hxtp")
        || starts(b"fxp")
        || memchr::memchr3(b'[', b'(', b'{', raw).is_some()
}

/// Bytes of a defang marker starting at `i` (`[.]`, `(.)`, `[dot]`, `[at]`, ...), or 0.
#[inline]
fn defang_len(s: &[u8], i: usize) -> usize {
    let b = s[i];
    if b != b'[' && b != b'(' && b != b'{' {
        return 0;
    }
    const NEEDLES: [&[u8]; 9] = [
        b"[.]", b"(.)", b"{.}", b"[dot]", b"(dot)", b"[:]", b"[at]", b"(at)", b"[@]",
    ];
    for n in NEEDLES {
        if s[i..].starts_with(n) {
            return n.len();
        }
    }
    0
}

/// Strip punctuation a sentence may glue to a token ("see evil.example." / "1.2.3.4:").
fn trim_token(mut t: &[u8]) -> &[u8] {
    while let [b'.' | b'-' | b':' | b'@' | b'+', rest @ ..] = t {
        t = rest;
    }
    while let [rest @ .., b'.' | b'-' | b':' | b'@' | b'+'] = t {
        t = rest;
    }
    t
}

/// End of a URL found in free text: drop trailing sentence punctuation and unbalanced closers.
fn trim_url_end(u: &[u8]) -> usize {
    let mut end = u.len();
    loop {
        let Some(&b) = u[..end].last() else {
            return end;
        };
        let drop = match b {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\'' => true,
            b')' => memchr::memchr(b'(', &u[..end]).is_none(),
            b']' => memchr::memchr(b'[', &u[..end]).is_none(),
            _ => false,
        };
        if !drop {
            return end;
        }
        end -= 1;
    }
}

fn trim_ascii(v: &[u8]) -> &[u8] {
    let s = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let e = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(s, |e| e + 1);
    &v[s..e]
}

/// Dotted-quad IPv4 with std's rules (no leading zeros, each octet ≤ 255), without UTF-8
/// validation or allocation.
#[inline]
pub(crate) fn parse_ipv4(t: &[u8]) -> Option<Ipv4Addr> {
    // The address is shifted together in a register: four byte stores read back as one u32
    // stall on store forwarding, and this runs for every dotted quad of every line.
    let mut addr: u32 = 0;
    let mut k = 0;
    let mut val: u32 = 0;
    let mut digits = 0;
    let mut lead_zero = false;
    for &b in t {
        if b == b'.' {
            if digits == 0 || k == 3 {
                return None;
            }
            addr = addr << 8 | val;
            k += 1;
            val = 0;
            digits = 0;
            lead_zero = false;
        } else if b.is_ascii_digit() {
            if lead_zero {
                return None;
            }
            if digits == 0 && b == b'0' {
                lead_zero = true;
            }
            val = val * 10 + (b - b'0') as u32;
            digits += 1;
            if val > 255 || digits > 3 {
                return None;
            }
        } else {
            return None;
        }
    }
    if k != 3 || digits == 0 {
        return None;
    }
    Some(Ipv4Addr::from(addr << 8 | val))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::IndicatorSetBuilder;

    fn set() -> IndicatorSet {
        let mut b = IndicatorSetBuilder::new();
        b.add(1, Kind::Domain, "evil.example").unwrap();
        b.add(2, Kind::Ipv4, "192.0.2.0/24").unwrap();
        b.add(3, Kind::Ipv6, "2001:db8::/32").unwrap();
        b.add(4, Kind::Url, "http://bad.example/gate.php?id=1")
            .unwrap();
        b.add(5, Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e")
            .unwrap();
        b.add(6, Kind::Email, "phish@mail.example").unwrap();
        b.add(7, Kind::Ipv4, "198.51.100.7").unwrap();
        b.build().unwrap()
    }

    fn run(s: &IndicatorSet, text: &str) -> Vec<(MatchRule, String)> {
        let tf: Vec<String> = Vec::new();
        let mut c = LineCtx::new(s, None, &tf);
        c.text("text", text.as_bytes());
        c.hits.iter().map(|h| (h.rule, h.value.clone())).collect()
    }

    #[test]
    fn tokenises_plain_text() {
        let s = set();
        assert_eq!(
            run(&s, "query a.b.EVIL.example. from 10.0.0.1"),
            vec![(MatchRule::Subdomain, "a.b.evil.example".into())]
        );
        assert!(run(&s, "query notevil.example").is_empty());
        assert_eq!(
            run(&s, "dst=192.0.2.55:443"),
            vec![(MatchRule::IpInCidr, "192.0.2.55".into())]
        );
        assert_eq!(
            run(&s, "[2001:db8::5]:53"),
            vec![(MatchRule::IpInCidr, "2001:db8::5".into())]
        );
        assert_eq!(
            run(&s, "md5=D41D8CD98F00B204E9800998ECF8427E,"),
            vec![(MatchRule::Hash, "d41d8cd98f00b204e9800998ecf8427e".into())]
        );
        assert_eq!(
            run(&s, "from: <phish@Mail.Example>"),
            vec![(MatchRule::Email, "phish@mail.example".into())]
        );
        assert_eq!(
            run(&s, "198.51.100.07 1.2.3.4.5 198.51.100.7"),
            vec![(MatchRule::IpExact, "198.51.100.7".into())]
        );
    }

    #[test]
    fn tokenises_defanged_forms() {
        let s = set();
        assert_eq!(
            run(&s, "c2 at evil[.]example"),
            vec![(MatchRule::DomainExact, "evil.example".into())]
        );
        assert_eq!(
            run(&s, "ip 198[.]51[.]100[.]7"),
            vec![(MatchRule::IpExact, "198.51.100.7".into())]
        );
        let r = run(&s, "see hxxp://bad[.]example/gate.php?id=1.");
        assert_eq!(
            r,
            vec![(
                MatchRule::UrlExact,
                "http://bad.example/gate.php?id=1".into()
            )]
        );
        let r = run(&s, "see hxxp[:]//bad[.]example/gate.php?id=1");
        assert_eq!(
            r,
            vec![(
                MatchRule::UrlExact,
                "http://bad.example/gate.php?id=1".into()
            )]
        );
        assert_eq!(
            run(&s, "phish[at]mail[.]example"),
            vec![(MatchRule::Email, "phish@mail.example".into())]
        );
    }

    #[test]
    fn urls_in_text() {
        let s = set();
        let r = run(&s, "GET HTTP://BAD.example:80/gate.php?id=1 200");
        assert_eq!(
            r,
            vec![(
                MatchRule::UrlExact,
                "http://bad.example/gate.php?id=1".into()
            )]
        );
        let r = run(&s, "GET http://bad.example/other 200");
        assert_eq!(
            r,
            vec![(MatchRule::UrlHost, "http://bad.example/other".into())]
        );
        let r = run(&s, "(http://x.evil.example/a)");
        assert_eq!(r, vec![(MatchRule::Subdomain, "x.evil.example".into())]);
        let r = run(&s, "url='http://[2001:db8::1]/x'");
        assert_eq!(r, vec![(MatchRule::IpInCidr, "2001:db8::1".into())]);
    }

    #[test]
    fn default_time_fields_pass_the_first_byte_filter() {
        let s = set();
        let tf: Vec<String> = Vec::new();
        let c = LineCtx::new(&s, None, &tf);
        for name in DEFAULT_TIME_FIELDS {
            assert!(c.is_time_field(name), "{name}");
            assert!(c.is_time_field(&name.to_ascii_uppercase()), "{name}");
        }
        assert!(!c.is_time_field("query"));
    }

    #[test]
    fn short_values_without_needed_bytes_are_skipped_exactly() {
        // Values the one-pass check skips, and neighbours it must not skip.
        let s = set();
        let tf: Vec<String> = Vec::new();
        let mut c = LineCtx::new(&s, None, &tf);
        for v in ["443", "C1a2b3c4d5e6f7g8h9", "-12345", "SF", "evil-example"] {
            c.field("f", v.as_bytes());
            assert!(c.hits.is_empty(), "{v}");
        }
        for v in [
            "evil.example",
            "evil[.]example",
            "198[.]51.100.7",
            "phish(at)mail.example",
        ] {
            c.hits.clear();
            c.field("f", v.as_bytes());
            assert_eq!(c.hits.len(), 1, "{v}");
        }
    }

    #[test]
    fn ipv4_parser_agrees_with_std() {
        for s in [
            "1.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1..2.3",
            "1.2.3.4.",
            "1.2.3.04",
        ] {
            assert_eq!(parse_ipv4(s.as_bytes()), s.parse().ok(), "{s}");
        }
        // Random strings of digits and dots (and a stray letter), 0 to 17 bytes.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let alphabet = b"0123456789....0019255a";
        let mut valid = 0;
        for _ in 0..300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 18) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((x >> (3 * i + 5)) % alphabet.len() as u64) as usize] as char)
                .collect();
            let want: Option<std::net::Ipv4Addr> = s.parse().ok();
            valid += usize::from(want.is_some());
            assert_eq!(parse_ipv4(s.as_bytes()), want, "{s}");
        }
        assert!(valid > 100, "{valid}");
    }

    #[test]
    fn hash_glued_to_dashes_is_still_a_hash() {
        let s = set();
        assert_eq!(
            run(&s, "x -d41d8cd98f00b204e9800998ecf8427e- y"),
            vec![(MatchRule::Hash, "d41d8cd98f00b204e9800998ecf8427e".into())]
        );
        assert!(run(&s, "plainword anotherword ABCDEF").is_empty());
    }
}
