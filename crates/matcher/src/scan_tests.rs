//! Scanner tests: every format end to end, gzip, stdin-style readers, ordering across
//! threads, and each bad-input policy.

use std::io::{Read, Write};
use std::path::PathBuf;

use observable::Kind;

use crate::*;

fn set() -> IndicatorSet {
    let mut b = IndicatorSetBuilder::new();
    b.add(1, Kind::Domain, "evil.example").unwrap();
    b.add(2, Kind::Ipv4, "192.0.2.0/24").unwrap();
    b.add(3, Kind::Ipv6, "2001:db8::/32").unwrap();
    b.add(4, Kind::Url, "http://bad.example/gate.php?id=1")
        .unwrap();
    b.add(5, Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e")
        .unwrap();
    b.add(6, Kind::Sha256, &"ab".repeat(32)).unwrap();
    b.add(7, Kind::Ipv4, "198.51.100.7").unwrap();
    b.add(8, Kind::Email, "phish@mail.example").unwrap();
    b.add(9, Kind::Sha1, &"cd".repeat(20)).unwrap();
    b.add(10, Kind::Sha512, &"ef".repeat(64)).unwrap();
    b.build().unwrap()
}

type Row = (u64, String, String, MatchRule, Vec<u32>);

fn scan_with(scanner: &Scanner, data: &[u8]) -> (Vec<Row>, Summary) {
    let s = set();
    let mut hits = Vec::new();
    let sum = scanner
        .scan_bytes(data, "mem", &s, &mut |h: &Hit| {
            hits.push((
                h.line,
                h.field.clone(),
                h.value.clone(),
                h.rule,
                h.handles.clone(),
            ))
        })
        .unwrap();
    (hits, sum)
}

fn scan(format: LogFormat, data: &str) -> (Vec<Row>, Summary) {
    scan_with(
        &Scanner::builder().format(format).threads(2).build(),
        data.as_bytes(),
    )
}

fn row(line: u64, field: &str, value: &str, rule: MatchRule, h: u32) -> Row {
    (line, field.into(), value.into(), rule, vec![h])
}

/// A file in a directory of its own, removed (with the directory) by [`rm_tmp`].
fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("matcher-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn rm_tmp(file: &std::path::Path) {
    if let Some(d) = file.parent() {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn json_lines_with_paths_and_escapes() {
    let data = concat!(
        "{\"ts\":\"2024-01-02T03:04:05Z\",\"dns\":{\"rrname\":\"a.b.evil.example\"},\"src\":\"10.0.0.1\"}\n",
        "{\"url\":\"http://BAD.example:80/gate.php?id=1\",\"n\":[1,2,{\"x\":\"192.0.2.9\"}]}\n",
        "{\"q\":\"notevil.example\",\"esc\":\"\\u0065vil.example\"}\n",
    );
    let (hits, sum) = scan(LogFormat::JsonLines, data);
    assert_eq!(
        hits,
        vec![
            row(1, "dns.rrname", "a.b.evil.example", MatchRule::Subdomain, 1),
            row(
                2,
                "url",
                "http://bad.example/gate.php?id=1",
                MatchRule::UrlExact,
                4
            ),
            row(2, "n.x", "192.0.2.9", MatchRule::IpInCidr, 2),
            row(3, "esc", "evil.example", MatchRule::DomainExact, 1),
        ]
    );
    assert_eq!(sum.lines, 3);
    let t = sum.sightings[&1].first_seen.unwrap();
    assert_eq!(t.to_rfc3339(), "2024-01-02T03:04:05+00:00");

    // Configured field paths: only dns.rrname is matched.
    let sc = Scanner::builder()
        .format(LogFormat::JsonLines)
        .fields(["dns.rrname"])
        .build();
    let (hits, _) = scan_with(&sc, data.as_bytes());
    assert_eq!(hits.len(), 1);
}

#[test]
fn zeek_conn_dns_http_ssl_files() {
    let conn = "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.resp_h\tid.resp_p\n#types\ttime\tstring\taddr\taddr\tport\n1700000000.5\tC1\t10.0.0.1\t192.0.2.5\t443\n1700000001.0\tC2\t10.0.0.1\t2001:db8::1\t53\n";
    let (hits, sum) = scan(LogFormat::Zeek, conn);
    assert_eq!(
        hits,
        vec![
            row(4, "id.resp_h", "192.0.2.5", MatchRule::IpInCidr, 2),
            row(5, "id.resp_h", "2001:db8::1", MatchRule::IpInCidr, 3),
        ]
    );
    assert_eq!(
        sum.sightings[&2].first_seen.unwrap().timestamp(),
        1700000000
    );

    let dns = "#fields\tts\tquery\tanswers\n1700000000\tx.evil.example\t1.2.3.4,198.51.100.7\n1700000000\tnotevil.example\t-\n";
    let (hits, _) = scan(LogFormat::Zeek, dns);
    assert_eq!(
        hits,
        vec![
            row(2, "query", "x.evil.example", MatchRule::Subdomain, 1),
            row(2, "answers", "198.51.100.7", MatchRule::IpExact, 7),
        ]
    );

    let http =
        "#fields\tts\thost\turi\tuser_agent\n1700000000\tbad.example\t/gate.php?id=1\tcurl\n";
    let (hits, _) = scan(LogFormat::Zeek, http);
    assert_eq!(
        hits,
        vec![row(
            2,
            "url",
            "http://bad.example/gate.php?id=1",
            MatchRule::UrlExact,
            4
        )]
    );

    let ssl = "#fields\tts\tserver_name\n1700000000\tcdn.evil.example\n";
    let (hits, _) = scan(LogFormat::Zeek, ssl);
    assert_eq!(
        hits,
        vec![row(
            2,
            "server_name",
            "cdn.evil.example",
            MatchRule::Subdomain,
            1
        )]
    );

    let files = format!(
        "#fields\tts\tmd5\tsha1\tsha256\n1700000000\tD41D8CD98F00B204E9800998ECF8427E\t{}\t{}\n",
        "cd".repeat(20),
        "ab".repeat(32)
    );
    let (hits, _) = scan(LogFormat::Zeek, &files);
    let rules: Vec<_> = hits.iter().map(|h| (h.1.as_str(), h.3)).collect();
    assert_eq!(
        rules,
        vec![
            ("md5", MatchRule::Hash),
            ("sha1", MatchRule::Hash),
            ("sha256", MatchRule::Hash)
        ]
    );

    // Wrong column count and data before a header are skipped with reasons.
    let (_, sum) = scan(LogFormat::Zeek, "1\t2\n#fields\ta\tb\n1\t2\t3\n");
    assert_eq!(sum.skipped_lines[&SkipReason::MissingHeader], 1);
    assert_eq!(sum.skipped_lines[&SkipReason::ZeekFieldCount], 1);
}

/// Zeek columns whose `#types` cannot hold an indicator (time, interval, double, count, int,
/// port, bool, enum) are not matched, with the prefilter and without; `string`, `addr`,
/// `set[...]` and unknown types still are, and every column is when `#types` is missing,
/// has the wrong count, or was written for an earlier `#fields`. Each row holds one
/// indicator-like value in one column, so a prefilter that skipped a matched column would
/// lose that row's hit.
#[test]
fn zeek_columns_typed_as_numbers_are_not_matched() {
    // (name, type, background value, indicator-like value, matched when typed)
    let cols: &[(&str, &str, &str, &str, bool)] = &[
        ("ts", "time", "1700000000.5", "1700000000.5", false),
        ("uid", "string", "C1", "evil.example", true),
        ("id.orig_h", "addr", "10.0.0.1", "192.0.2.5", true),
        ("duration", "interval", "1.5", "198.51.100.7", false),
        ("note", "string", "-", "saw 198.51.100.7", true),
        ("load", "double", "0.5", "192.0.2.9", false),
        ("n", "count", "3", "198.51.100.7", false),
        ("i", "int", "-3", "198.51.100.7", false),
        ("proto", "enum", "tcp", "evil.example", false),
        ("peers", "set[addr]", "10.0.0.1", "10.0.0.1,192.0.2.7", true),
        ("x", "pattern", "-", "evil.example", true),
        ("port", "port", "443", "192.0.2.10", false),
        ("ok", "bool", "T", "evil.example", false),
        ("nets", "vector[subnet]", "10.0.0.0/8", "192.0.2.0/25", true),
    ];
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let types: Vec<&str> = cols.iter().map(|c| c.1).collect();
    let header = format!("#separator \\x09\n#fields\t{}\n", names.join("\t"));
    let types = format!("#types\t{}\n", types.join("\t"));
    // Row k: the indicator-like value in column k, background values elsewhere.
    let rows: String = (0..cols.len())
        .map(|k| {
            let v: Vec<&str> = (0..cols.len())
                .map(|i| if i == k { cols[i].3 } else { cols[i].2 })
                .collect();
            format!("{}\n", v.join("\t"))
        })
        .collect();
    // The rows many times over, in small blocks: blocks after the first start with the
    // header in force, so the segment prefilter answers for their rows (in the first
    // block it does not know the header yet and the line pass answers).
    const TIMES: usize = 20;
    let rows = rows.repeat(TIMES);
    // (row within its group, column name) of each hit.
    let found = |hits: &[Row], first_row: u64| -> Vec<(usize, String)> {
        hits.iter()
            .map(|h| ((h.0 - first_row) as usize % cols.len(), h.1.clone()))
            .collect()
    };
    // Hits expected when the columns named by `matched` are matched (the time column never
    // is: it is the line's time).
    let want = |matched: &dyn Fn(usize) -> bool| -> Vec<(usize, String)> {
        let one: Vec<(usize, String)> = (1..cols.len())
            .filter(|&k| matched(k))
            .map(|k| (k, cols[k].0.to_string()))
            .collect();
        (0..TIMES).flat_map(|_| one.iter().cloned()).collect()
    };
    for prefilter in [true, false] {
        let sc = Scanner::builder()
            .format(LogFormat::Zeek)
            .threads(2)
            .block_size(512)
            .prefilter(prefilter)
            .build();
        // Typed: the string, addr, set, vector and unknown-type columns only.
        let data = format!("{header}{types}{rows}");
        let (hits, sum) = scan_with(&sc, data.as_bytes());
        assert_eq!(sum.lines, 3 + (TIMES * cols.len()) as u64);
        assert_eq!(
            found(&hits, 4),
            want(&|k| cols[k].4),
            "prefilter {prefilter}"
        );
        // No `#types`, a `#types` of the wrong length, or one followed by new `#fields`:
        // every column is matched.
        for head in [
            header.clone(),
            format!("{header}#types\ttime\tstring\n"),
            format!("{header}{types}{header}"),
        ] {
            let data = format!("{head}{rows}");
            let (hits, _) = scan_with(&sc, data.as_bytes());
            let first = head.lines().count() as u64 + 1;
            assert_eq!(
                found(&hits, first),
                want(&|_| true),
                "prefilter {prefilter}"
            );
        }
    }
}

/// Zeek http.log: URLs made of `host` + `uri` hit even when the host alone is no
/// candidate for the line pass (no dot, a numeric last label WHATWG reads as IPv4, a
/// trailing dot): the scanner's URL-host check must still run for such hosts, while it may
/// leave plain names to the pass. With and without the prefilter, in small blocks (the
/// segment pass answers for the rows after the first block).
#[test]
fn zeek_http_urls_hit_whatever_the_host_looks_like() {
    let mut b = IndicatorSetBuilder::new();
    b.add(1, Kind::Url, "http://intranet/gate.php").unwrap();
    b.add(2, Kind::Url, "http://bad.example/x").unwrap();
    b.add(3, Kind::Url, "http://1.2.0.3/y").unwrap();
    let set = b.build().unwrap();
    let mut data =
        String::from("#separator \\x09\n#fields\tts\thost\turi\n#types\ttime\tstring\tstring\n");
    let rows = [
        ("intranet", "/gate.php", true),
        ("bad.example", "/x", true),
        ("BAD.example.", "/x", true),
        ("1.2.3", "/y", true),
        ("bg1.test", "/x", false),
        ("intranet.test", "/gate.php", false),
    ];
    for _ in 0..20 {
        for (h, u, _) in rows {
            data.push_str(&format!("1700000000.5\t{h}\t{u}\n"));
        }
    }
    for prefilter in [true, false] {
        let sc = Scanner::builder()
            .format(LogFormat::Zeek)
            .threads(2)
            .block_size(256)
            .prefilter(prefilter)
            .build();
        let mut got = Vec::new();
        sc.scan_bytes(data.as_bytes(), "mem", &set, &mut |h: &Hit| {
            if h.field == "url" {
                got.push(h.line);
            }
        })
        .unwrap();
        let want: Vec<u64> = (0..20 * rows.len())
            .filter(|i| rows[i % rows.len()].2)
            .map(|i| i as u64 + 4)
            .collect();
        assert_eq!(got, want, "prefilter {prefilter}");
    }
}

#[test]
fn cef_and_key_value() {
    let cef = "<13>Jan  2 03:04:05 fw CEF:0|Vendor|FW|1.0|100|Blocked evil.example|5|rt=1700000000000 src=10.0.0.1 dst=192.0.2.7 request=http://bad.example/gate.php?id=1 msg=user said a\\=b phish@mail.example\n";
    let (hits, sum) = scan(LogFormat::Cef, cef);
    assert_eq!(
        hits,
        vec![
            row(1, "name", "evil.example", MatchRule::DomainExact, 1),
            row(1, "dst", "192.0.2.7", MatchRule::IpInCidr, 2),
            row(
                1,
                "request",
                "http://bad.example/gate.php?id=1",
                MatchRule::UrlExact,
                4
            ),
            row(1, "msg", "phish@mail.example", MatchRule::Email, 8),
        ]
    );
    assert_eq!(
        sum.sightings[&2].first_seen.unwrap().timestamp(),
        1700000000
    );
    let (_, sum) = scan(LogFormat::Cef, "CEF:0|only|three\n");
    assert_eq!(sum.skipped_lines[&SkipReason::MalformedCef], 1);

    let kv = "2024-01-02T03:04:05Z host app: action=block src=10.0.0.1 dst=\"198.51.100.7\" query=\"x y.evil.example\"\n";
    let (hits, sum) = scan(LogFormat::KeyValue, kv);
    assert_eq!(
        hits,
        vec![
            row(1, "dst", "198.51.100.7", MatchRule::IpExact, 7),
            row(1, "query", "y.evil.example", MatchRule::Subdomain, 1),
        ]
    );
    assert!(sum.sightings[&7].first_seen.is_some());
}

#[test]
fn csv_with_header() {
    let data = "time,client,\"query name\",note\n2024-01-02 03:04:05,10.0.0.1,a.evil.example,\"said \"\"hi\"\", from 192.0.2.1\"\n2024-01-02 03:04:06,10.0.0.1,\"unterminated\n1,2\n";
    let (hits, sum) = scan(LogFormat::Csv, data);
    assert_eq!(
        hits,
        vec![
            row(2, "query name", "a.evil.example", MatchRule::Subdomain, 1),
            row(2, "note", "192.0.2.1", MatchRule::IpInCidr, 2),
        ]
    );
    assert_eq!(sum.skipped_lines[&SkipReason::MalformedCsv], 2);
    assert_eq!(sum.lines, 4);
}

#[test]
fn plain_text_tokens_and_defanged() {
    let data = "2024-01-02T03:04:05Z c2 evil[.]example seen\nhash D41D8CD98F00B204E9800998ECF8427E and hxxp://bad[.]example/gate.php?id=1\nnotevil.example 192.0.2\nmail from phish[at]mail[.]example\n";
    let (hits, sum) = scan(LogFormat::Text, data);
    assert_eq!(
        hits,
        vec![
            row(1, "text", "evil.example", MatchRule::DomainExact, 1),
            row(
                2,
                "text",
                "d41d8cd98f00b204e9800998ecf8427e",
                MatchRule::Hash,
                5
            ),
            row(
                2,
                "text",
                "http://bad.example/gate.php?id=1",
                MatchRule::UrlExact,
                4
            ),
            row(4, "text", "phish@mail.example", MatchRule::Email, 8),
        ]
    );
    assert!(sum.sightings[&1].first_seen.is_some());
    let sha512 = format!("x {}\n", "EF".repeat(64));
    let (hits, _) = scan(LogFormat::Text, &sha512);
    assert_eq!(hits[0].3, MatchRule::Hash);
}

#[test]
fn gzip_file_and_stdin_reader() {
    let text = "a\nquery x.evil.example\nb\n".repeat(1000);
    let path = tmp("log.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(text.as_bytes()).unwrap();
    enc.finish().unwrap();
    let sc = Scanner::builder().threads(2).block_size(4096).build();
    let s = set();
    let mut lines = Vec::new();
    let sum = sc
        .scan_path(&path, &s, &mut |h: &Hit| lines.push(h.line))
        .unwrap();
    assert_eq!(sum.lines, 3000);
    assert_eq!(lines, (0..1000).map(|i| i * 3 + 2).collect::<Vec<_>>());
    assert_eq!(sum.format, Some(LogFormat::Text));

    // The same bytes as a stream (what stdin gives), plain and gzip.
    let mut n = 0;
    let sum2 = sc
        .scan_reader(
            std::io::Cursor::new(text.clone().into_bytes()),
            "-",
            &s,
            &mut |_: &Hit| n += 1,
        )
        .unwrap();
    assert_eq!((n, sum2.lines), (1000, 3000));
    let gz = std::fs::read(&path).unwrap();
    let mut n = 0;
    sc.scan_reader(std::io::Cursor::new(gz), "-", &s, &mut |_: &Hit| n += 1)
        .unwrap();
    assert_eq!(n, 1000);
    rm_tmp(&path);
}

#[test]
fn order_is_input_order_across_threads() {
    let mut data = String::new();
    for i in 0..20_000u32 {
        if i % 7 == 0 {
            data.push_str(&format!("{{\"n\":{i},\"q\":\"h{i}.evil.example\"}}\n"));
        } else {
            data.push_str(&format!("{{\"n\":{i},\"q\":\"h{i}.fine.example\"}}\n"));
        }
    }
    for threads in [1, 2, 4, 8] {
        let sc = Scanner::builder().threads(threads).block_size(1000).build();
        let (hits, sum) = scan_with(&sc, data.as_bytes());
        let lines: Vec<u64> = hits.iter().map(|h| h.0).collect();
        let want: Vec<u64> = (0..20_000u64)
            .filter(|i| i % 7 == 0)
            .map(|i| i + 1)
            .collect();
        assert_eq!(lines, want, "threads={threads}");
        assert_eq!(hits[1].2, "h7.evil.example");
        assert_eq!(sum.lines, 20_000);
        // Streamed too.
        let s = set();
        let mut l2 = Vec::new();
        sc.scan_reader(data.as_bytes(), "-", &s, &mut |h: &Hit| l2.push(h.line))
            .unwrap();
        assert_eq!(l2, want, "stream threads={threads}");
    }
}

#[test]
fn binary_file_is_skipped_with_reason() {
    let mut data = b"\x7fELF\x00\x00\x01evil.example\n".to_vec();
    data.extend_from_slice(b"evil.example\n");
    let sc = Scanner::builder().build();
    let (hits, sum) = scan_with(&sc, &data);
    assert!(hits.is_empty());
    assert_eq!(
        sum.skipped_files,
        vec![SkippedFile {
            file: "mem".into(),
            reason: SkipReason::Binary
        }]
    );
    // Policy Scan: matched anyway.
    let sc = Scanner::builder()
        .binary(BinaryPolicy::Scan)
        .format(LogFormat::Text)
        .build();
    let (hits, _) = scan_with(&sc, &data);
    assert_eq!(hits.len(), 2);
}

#[test]
fn malformed_json_line_is_counted_and_run_goes_on() {
    let data = "{\"q\":\"evil.example\"}\n{\"q\": oops}\n{\"q\":\"a\"} trailing\n{\"q\":\"x.evil.example\"}\n";
    let (hits, sum) = scan(LogFormat::JsonLines, data);
    assert_eq!(hits.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 4]);
    assert_eq!(sum.skipped_lines[&SkipReason::MalformedJson], 2);
    assert_eq!(sum.skipped(), 2);
    let deep = format!(
        "{}{}\n",
        "[".repeat(MAX_JSON_DEPTH + 5),
        "]".repeat(MAX_JSON_DEPTH + 5)
    );
    let (_, sum) = scan(LogFormat::JsonLines, &deep);
    assert_eq!(sum.skipped_lines[&SkipReason::MalformedJson], 1);
}

/// Lines over `max_line_len` inside a segment (JSON and text, prefilter on and off) are
/// skipped as too long, hit or not, valid or not; the lines around them are matched and
/// validated as usual.
#[test]
fn short_line_limit_inside_segments() {
    let pad = "p".repeat(60);
    let json = format!(
        "{{\"q\":\"evil.example\"}}\n{{\"q\":\"evil.example\",\"pad\":\"{pad}\"}}\n\
         {{\"q\":\"a.test\",\"pad\":\"{pad}\"}}\n{{\"q\": oops, \"pad\":\"{pad}\"}}\n\
         {{\"q\": oops}}\n{{\"q\":\"x.evil.example\"}}\n"
    );
    let text = format!(
        "GET http://evil.example/ 200\nGET http://evil.example/{pad}\nGET http://a.test/{pad}\n\
         GET http://x.evil.example/ 200\n"
    );
    for prefilter in [true, false] {
        for (format, data, want_hits, long, bad) in [
            (LogFormat::JsonLines, &json, vec![1, 6], 3, 1),
            (LogFormat::Text, &text, vec![1, 4], 2, 0),
        ] {
            let sc = Scanner::builder()
                .format(format)
                .max_line_len(50)
                .prefilter(prefilter)
                .build();
            let (hits, sum) = scan_with(&sc, data.as_bytes());
            let lines: Vec<u64> = hits.iter().map(|h| h.0).collect();
            assert_eq!(lines, want_hits, "{format:?} prefilter {prefilter}");
            assert_eq!(sum.skipped_lines[&SkipReason::LineTooLong], long);
            assert_eq!(
                sum.skipped_lines
                    .get(&SkipReason::MalformedJson)
                    .copied()
                    .unwrap_or(0),
                bad
            );
        }
    }
}

/// A reader producing `head`, then `n` bytes of 'a', then `tail`, without holding them.
struct Huge {
    head: Vec<u8>,
    n: usize,
    tail: Vec<u8>,
    pos: usize,
}

impl Read for Huge {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let total = self.head.len() + self.n + self.tail.len();
        let mut k = 0;
        while k < buf.len() && self.pos < total {
            let p = self.pos;
            buf[k] = if p < self.head.len() {
                self.head[p]
            } else if p < self.head.len() + self.n {
                b'a'
            } else {
                self.tail[p - self.head.len() - self.n]
            };
            k += 1;
            self.pos += 1;
        }
        Ok(k)
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

/// Set in the child process that [`alone_in_a_process`] starts.
const ALONE: &str = "MATCHER_TEST_ALONE";

/// Whether to run the calling test's body here: yes in a process of its own. Peak RSS is
/// the whole process's, and `cargo test` runs tests as threads of one process, so a test
/// that measures it runs itself again in a child process where nothing else runs, and
/// passes or fails with it (under nextest, which already gives each test a process, this
/// costs one more start).
fn alone_in_a_process(test: &str) -> bool {
    if std::env::var_os(ALONE).is_some() {
        return true;
    }
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            &format!("{module}::{test}"),
            "--test-threads",
            "1",
        ])
        .env(ALONE, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{test} in its own process failed:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A filter that matched nothing would also exit 0.
    assert!(stdout.contains("1 passed"), "{test} did not run:\n{stdout}");
    false
}

#[test]
fn hundred_megabyte_line_is_skipped_streamed_and_mapped() {
    if !alone_in_a_process("hundred_megabyte_line_is_skipped_streamed_and_mapped") {
        return;
    }
    const HUGE: usize = 100 << 20;
    let head = b"evil.example first\n".to_vec();
    let tail = b" still the long line evil.example\nx.evil.example after\n".to_vec();
    let sc = Scanner::builder()
        .format(LogFormat::Text)
        .threads(2)
        .build();
    let s = set();
    let mut lines = Vec::new();
    let before = rss_kib();
    let sum = sc
        .scan_reader(
            Huge {
                head: head.clone(),
                n: HUGE,
                tail: tail.clone(),
                pos: 0,
            },
            "-",
            &s,
            &mut |h: &Hit| lines.push(h.line),
        )
        .unwrap();
    let grown_mib = rss_kib().saturating_sub(before) / 1024;
    assert_eq!(lines, vec![1, 3]);
    assert_eq!(sum.lines, 3);
    assert_eq!(sum.skipped_lines[&SkipReason::LineTooLong], 1);
    assert_eq!(sum.bytes as usize, head.len() + HUGE + tail.len());
    // The peak may only grow by the in-flight buffers, never by the line.
    assert!(grown_mib < 60, "peak RSS grew by {grown_mib} MiB");

    // Memory-mapped file: the line is a slice of the map, skipped without copying.
    let path = tmp("huge.log");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        f.write_all(&head).unwrap();
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..100 {
            f.write_all(&chunk).unwrap();
        }
        f.write_all(&tail).unwrap();
    }
    let mut lines = Vec::new();
    let sum = sc
        .scan_path(&path, &s, &mut |h: &Hit| lines.push(h.line))
        .unwrap();
    assert_eq!(lines, vec![1, 3]);
    assert_eq!(sum.skipped_lines[&SkipReason::LineTooLong], 1);
    rm_tmp(&path);
}

#[test]
fn events_for_complex_pattern_indicators() {
    let mut b = IndicatorSetBuilder::new();
    b.add(1, Kind::Domain, "evil.example").unwrap();
    b.add(2, Kind::Ipv4, "192.0.2.1").unwrap();
    b.mark_complex(2);
    let s = b.build().unwrap();
    struct S(Vec<Hit>, Vec<Event>);
    impl Sink for S {
        fn hit(&mut self, h: &Hit) {
            self.0.push(h.clone());
        }
        fn event(&mut self, e: &Event) {
            self.1.push(e.clone());
        }
    }
    let mut sink = S(vec![], vec![]);
    let data = "{\"ts\":1700000000,\"q\":\"evil.example\",\"dst\":\"192.0.2.1\",\"other\":\"203.0.113.9\"}\n{\"q\":\"evil.example\"}\n";
    Scanner::builder()
        .events(EventMode::Complex)
        .build()
        .scan_bytes(data.as_bytes(), "m", &s, &mut sink)
        .unwrap();
    assert_eq!(sink.0.len(), 3);
    assert_eq!(sink.1.len(), 1);
    let e = &sink.1[0];
    assert_eq!((e.line, e.handles.clone()), (1, vec![1, 2]));
    let obs: Vec<String> = e.fields.iter().map(|(f, o)| format!("{f}={o}")).collect();
    assert_eq!(
        obs,
        vec![
            "q=domain-name:evil.example",
            "dst=ipv4-addr:192.0.2.1",
            "other=ipv4-addr:203.0.113.9"
        ]
    );
    assert_eq!(e.time.unwrap().timestamp(), 1700000000);
}

#[test]
fn auto_detects_format_per_input() {
    let (hits, sum) = scan_with(
        &Scanner::builder().build(),
        b"#fields\tts\tquery\n1\tevil.example\n",
    );
    assert_eq!(sum.format, Some(LogFormat::Zeek));
    assert_eq!(hits.len(), 1);
    let hit_json = {
        let s = set();
        let mut out = String::new();
        Scanner::builder()
            .build()
            .scan_bytes(b"{\"q\":\"evil.example\"}", "f\"1", &s, &mut |h: &Hit| {
                out = h.to_json()
            })
            .unwrap();
        out
    };
    assert_eq!(
        hit_json,
        r#"{"file":"f\"1","line":1,"field":"q","kind":"domain-name","value":"evil.example","rule":"domain-exact","indicator":"evil.example","handles":[1],"time":null}"#
    );
}

#[test]
fn random_bytes_never_panic_in_any_format() {
    // Stable-toolchain smoke test standing in for the fuzz targets in fuzz/.
    let s = set();
    let mut x: u64 = 0x2545f4914f6cdd1d;
    let alphabet = b"{}[]\":,\\ \t\n=|#.-_/:@abcdefxhp0123456789CEF<>\"'()\x00\xff";
    for round in 0..300 {
        let len = (round * 37) % 2000;
        let mut data = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push(if x % 3 == 0 {
                (x >> 8) as u8
            } else {
                alphabet[(x >> 16) as usize % alphabet.len()]
            });
        }
        for f in [
            LogFormat::JsonLines,
            LogFormat::Zeek,
            LogFormat::Cef,
            LogFormat::KeyValue,
            LogFormat::Csv,
            LogFormat::Text,
        ] {
            let sc = Scanner::builder()
                .format(f)
                .threads(1)
                .binary(BinaryPolicy::Scan)
                .block_size(128)
                .build();
            sc.scan_bytes(&data, "r", &s, &mut |_: &Hit| {}).unwrap();
        }
        let _ = LogFormat::detect(&data);
    }
}

#[test]
fn a_panicking_sink_does_not_hang_the_scan() {
    let data = "evil.example\n".repeat(50_000);
    let s = set();
    let sc = Scanner::builder()
        .format(LogFormat::Text)
        .threads(2)
        .block_size(256)
        .build();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        sc.scan_bytes(data.as_bytes(), "m", &s, &mut |_: &Hit| {
            panic!("sink failed")
        })
    }));
    assert!(r.is_err());
}

#[test]
fn compiled_set_and_scanner_are_shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<IndicatorSet>();
    send_sync::<Scanner>();
    let s = std::sync::Arc::new(set());
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let s = std::sync::Arc::clone(&s);
            std::thread::spawn(move || {
                let mut n = 0;
                let data = format!("h{i}.evil.example\n").repeat(100);
                Scanner::builder()
                    .threads(1)
                    .build()
                    .scan_bytes(data.as_bytes(), "t", &s, &mut |_: &Hit| n += 1)
                    .unwrap();
                n
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 100);
    }
}

/// Lines built from fragments near every edge of the tokeniser (case, trimming, defanging,
/// URL schemes and hosts, IPv6 shapes, e-mail, hashes), for the prefilter comparison.
const TRICKY: &[&str] = &[
    "evil.example",
    "EVIL.Example",
    "a.b.evil.example",
    "-evil.example-",
    "evil.example-",
    "-a.evil.example",
    "x@evil.example",
    "phish@mail.example",
    "phish@Mail.Example:25",
    "a@-evil.example:1",
    "192.0.2.5",
    "-192.0.2.5-",
    "198.51.100.7",
    "198.51.100.07",
    "1.2.3.4.5",
    "2001:db8::1",
    "[2001:db8::5]:53",
    "-2001:db8::1",
    "2001:db8::",
    "::ffff:192.0.2.1",
    "fd12:3456::9",
    "d41d8cd98f00b204e9800998ecf8427e",
    "D41D8CD98F00B204E9800998ECF8427E",
    "-d41d8cd98f00b204e9800998ecf8427e-",
    "md5:d41d8cd98f00b204e9800998ecf8427e",
    "x.d41d8cd98f00b204e9800998ecf8427e",
    "http://bad.example/gate.php?id=1",
    "HTTP://BAD.example:80/gate.php?id=1",
    "http://bad.example/other",
    "hxxp://bad[.]example/gate.php?id=1",
    "evil[.]example",
    "evil(dot)example",
    "phish[at]mail.example",
    "http://evil%2eexample/",
    "http://0xcb.0.113.9/p",
    "http://3405803785/p",
    "http://203.0.113.9/p",
    "http://user:pw@bad.example/",
    "https://w.evil.example/index",
    "http://[2001:db8::1]/",
    "x.evil.example://foo",
    "aaaaaaaaaaaaaaaaaaaaaaa.evil.examplebbbbbbbbbbbbbbbbbbbb://h/",
    "a:evil.example:ftp://x",
    "2001:db8::1:http://x/",
    "\u{e9}vil.example",
    "evil.example.",
    "evil.example..",
    "evil_x.example",
    "a+evil.example",
    "http://intranet/x",
    "'http://bad.example/gate.php?id=1'",
    "(http://x.evil.example/a)",
    "http://bad.example.",
    "http://BAD.EXAMPLE..:8/gate.php?id=1",
    "evil.example\\",
    "sub.evil.examplex",
    "notevil.example",
    "bg12.test",
    "10.1.2.3",
    "100.64.0.1",
    "GET",
    "1700000000.123",
    "Mozilla/5.0",
    "TCP_MISS/200",
    "-",
    "(empty)",
    "a:b:c",
    "2024-01-02T03:04:05Z",
    "http://203.0.113.9:8080/q",
    "mail.example",
    "ab:cd:ef:01:23:45",
];
const SEPS: &[&str] = &[
    " ", " ", ",", ";", "'", "(", ")", "[", "]", "<", ">", ":", "@", "/", "//", "=", "-", ".", "",
    "+", "{", "}",
];

struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
    fn frag(&mut self) -> &'static str {
        TRICKY[self.below(TRICKY.len())]
    }
    fn text(&mut self, max: usize) -> String {
        let mut s = String::new();
        for _ in 0..1 + self.below(max) {
            s.push_str(self.frag());
            s.push_str(SEPS[self.below(SEPS.len())]);
        }
        s
    }
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn compare_prefilter(set: &IndicatorSet, format: LogFormat, data: &str) -> usize {
    let run = |on: bool| {
        let scanner = Scanner::builder()
            .format(format)
            .threads(2)
            .block_size(4096)
            .prefilter(on)
            .build();
        let mut hits = Vec::new();
        let sum = scanner
            .scan_bytes(data.as_bytes(), "mem", set, &mut |h: &Hit| {
                hits.push(h.to_json())
            })
            .unwrap();
        (hits, sum.lines, sum.skipped_lines)
    };
    let (on, off) = (run(true), run(false));
    // Report the first difference, not two copies of every hit.
    if let Some(k) = (0..on.0.len().max(off.0.len())).find(|&k| on.0.get(k) != off.0.get(k)) {
        panic!(
            "{format:?}: hit {k} differs: with prefilter {:?}, without {:?}",
            on.0.get(k),
            off.0.get(k)
        );
    }
    assert_eq!((on.1, &on.2), (off.1, &off.2), "{format:?}");
    on.0.len()
}

fn prefilter_set() -> IndicatorSet {
    let mut b = IndicatorSetBuilder::new();
    for (h, (k, v)) in [
        (Kind::Domain, "evil.example"),
        (Kind::Domain, "evil_x.example"),
        (Kind::Domain, "xn--vil-bma.example"),
        (Kind::Ipv4, "192.0.2.0/24"),
        (Kind::Ipv4, "198.51.100.7"),
        (Kind::Ipv6, "2001:db8::/32"),
        (Kind::Ipv6, "fd00::/8"),
        (Kind::Url, "http://bad.example/gate.php?id=1"),
        (Kind::Url, "http://203.0.113.9/p"),
        (Kind::Url, "http://intranet/x"),
        (Kind::Md5, "d41d8cd98f00b204e9800998ecf8427e"),
        (Kind::Email, "phish@mail.example"),
    ]
    .into_iter()
    .enumerate()
    {
        b.add(h as u32, k, v).unwrap();
    }
    b.build().unwrap()
}

#[test]
fn prefilter_changes_no_result_in_any_format() {
    let set = prefilter_set();
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut total = 0;
    // Free text.
    let text: String = (0..4000).map(|_| rng.text(6) + "\n").collect();
    total += compare_prefilter(&set, LogFormat::Text, &text);
    // JSON lines, some malformed, some with escapes.
    let mut json = String::new();
    for i in 0..4000 {
        let line = match i % 10 {
            0 => format!("{{\"q\": {}}}", rng.frag()),
            1 => format!("{{\"q\":{}}} x", json_str(rng.frag())),
            2 => format!("{{\"e\":\"\\u0065{}\"}}", rng.frag().replace(['"', '\\'], "")),
            _ => format!(
                "{{\"ts\":\"2024-01-02T03:04:05Z\",\"q\":{},\"a\":[{},{}],\"n\":{},\"o\":{{\"k\":{}}}}}",
                json_str(&rng.text(3)),
                json_str(rng.frag()),
                json_str(&rng.text(2)),
                rng.below(1000),
                json_str(rng.frag())
            ),
        };
        json.push_str(&line);
        json.push('\n');
    }
    total += compare_prefilter(&set, LogFormat::JsonLines, &json);
    // Zeek http (host + uri make URLs), with a wrong column count now and then.
    let mut zeek = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#fields\tts\tuid\tid.orig_h\thost\turi\tuser_agent\n",
    );
    for i in 0..4000 {
        let host = rng.frag().replace(['\t', '\n'], "");
        let uri = ["/gate.php?id=1", "/x", "/p", "-", "x/y"][rng.below(5)];
        let ua = rng.text(3).replace(['\t', '\n'], " ");
        if i % 50 == 0 {
            zeek.push_str("1.5\tC1\n");
        }
        zeek.push_str(&format!(
            "1700000000.1\tCx\t{}\t{host}\t{uri}\t{ua}\n",
            rng.frag()
        ));
    }
    total += compare_prefilter(&set, LogFormat::Zeek, &zeek);
    assert!(
        total > 1000,
        "{total} hits: the corpus must exercise the matcher"
    );
}

#[test]
fn prefilter_passes_background_lines_and_stops_candidates() {
    let set = prefilter_set();
    let bg = b"{\"ts\":\"2024-01-02T03:04:05Z\",\"client\":\"10.1.2.3\",\"query\":\"abc.bg12.test\",\"answers\":[\"100.64.0.1\"]}";
    assert!(!set.prefilter_line(bg, b'\n', None).maybe);
    let proxy = b"1700000000.123 12 10.1.2.3 TCP_MISS/200 1234 GET http://abc.bg1.test/p/x - HIER_DIRECT/100.64.1.2 text/html";
    assert!(!set.prefilter_line(proxy, b'\n', None).maybe);
    for hit in [
        "q a.EVIL.example x",
        "ip 192.0.2.77",
        "v6 2001:db8::77",
        "get http://203.0.113.9/other",
        "D41D8CD98F00B204E9800998ECF8427E",
        "to: phish@mail.example",
        "c2 evil[.]example",
    ] {
        assert!(
            set.prefilter_line(hit.as_bytes(), b'\n', None).maybe,
            "{hit}"
        );
    }
}

#[test]
fn masked_prefilter_pass_agrees_with_word_pass() {
    use crate::byteclass::{avx2_classifier, classify_scalar};
    let set = prefilter_set();
    let mut rng = Xorshift(0x51_7cc1_b727_220a);
    let mut classifiers: Vec<crate::byteclass::Classifier> = vec![classify_scalar];
    classifiers.extend(avx2_classifier());
    let odd = [
        "\t", "\"", ":", "\":\"", ".", "..", "://", "\\", "[", "[.]", "(", "{", "\u{e9}", "-", "@",
        "+", " ",
    ];
    let (mut lines, mut passed) = (0, 0);
    for i in 0..20_000 {
        // Fragments and odd bytes, cut to lengths on both sides of 64-byte block ends.
        let mut line = rng.text(12);
        for _ in 0..rng.below(6) {
            let at = rng.below(line.len() + 1);
            if line.is_char_boundary(at) {
                line.insert_str(at, odd[rng.below(odd.len())]);
            }
        }
        let mut b = line.into_bytes();
        if i % 2 == 0 {
            let cut = [63, 64, 65, 127, 128, 129, 31, 32, 33][rng.below(9)];
            b.truncate(cut.min(b.len()));
        }
        for sep in [b'\n', b'\t'] {
            let words = set.line_may_hit_words(&b, sep);
            for classify in &classifiers {
                assert_eq!(
                    set.line_may_hit_masked(&b, sep, *classify),
                    words,
                    "{:?} sep {sep}",
                    String::from_utf8_lossy(&b)
                );
            }
            lines += 1;
            passed += usize::from(words.is_some());
        }
    }
    // Both answers must be exercised.
    assert!(
        passed > 1000 && lines - passed > 1000,
        "{passed} of {lines}"
    );
}

/// The segment pass (many lines classified at once, lines from newline bits, table lookups
/// batched) gives every line the answer of the line-by-line word pass: same lines, same `maybe`, same separator count
/// and column span, on buffers of random lines with `\r`, empty lines, lines cut around
/// 64-byte block ends and lines longer than a segment.
#[test]
fn segment_pass_agrees_with_line_pass() {
    use crate::byteclass::{avx2_classifier, classify_scalar};
    use crate::prefilter::{Segment, SEGMENT_LEN};
    let set = prefilter_set();
    let mut rng = Xorshift(0x3c6e_f372_fe94_f82b);
    let mut classifiers: Vec<crate::byteclass::Classifier> = vec![classify_scalar];
    classifiers.extend(avx2_classifier());
    let odd = [
        "\t", "\"", ":", "\":\"", ".", "..", "://", "\\", "[", "[.]", "(", "{", "\u{e9}", "-", "@",
        "+", " ", "\r",
    ];
    let mut seg = Segment::new();
    let (mut lines, mut passed) = (0usize, 0usize);
    for round in 0..60 {
        let mut data = Vec::new();
        while data.len() < 3 * SEGMENT_LEN {
            let mut line = match rng.below(40) {
                0 => String::new(),
                1 => rng.text(12).repeat(60), // longer than the masked pass takes
                2 => "d41d8cd98f00b204e9800998ecf8427e".repeat(rng.below(3) + 1),
                _ => rng.text(10),
            };
            for _ in 0..rng.below(5) {
                let at = rng.below(line.len() + 1);
                if line.is_char_boundary(at) {
                    line.insert_str(at, odd[rng.below(odd.len())]);
                }
            }
            let mut b = line.replace('\n', " ").into_bytes();
            if rng.below(2) == 0 {
                let cut = [63, 64, 65, 127, 128, 129, 31, 32, 33][rng.below(9)];
                b.truncate(cut.min(b.len()));
            }
            if rng.below(8) == 0 {
                b.push(b'\r');
            }
            data.extend_from_slice(&b);
            data.push(b'\n');
        }
        if round % 2 == 1 {
            data.pop(); // the last line without a newline
        }
        let expected: Vec<&[u8]> = data
            .strip_suffix(b"\n")
            .unwrap_or(&data)
            .split(|&b| b == b'\n')
            .collect();
        for sep in [b'\n', b'\t'] {
            let column = (sep == b'\t').then_some(2);
            let columns = crate::prefilter::Columns {
                host: column,
                skip: 0,
            };
            for classify in &classifiers {
                let mut got = 0;
                let mut start = 0;
                while start < data.len() {
                    let end = (start + SEGMENT_LEN).min(data.len());
                    let cut = seg.load(&data[start..end], sep, end == data.len(), *classify);
                    if cut == 0 {
                        // A line longer than a segment: the scanner takes it on its own.
                        let e = memchr::memchr(b'\n', &data[end..]).map_or(data.len(), |k| end + k);
                        assert_eq!(&data[start..e], expected[got]);
                        got += 1;
                        start = e + 1;
                        continue;
                    }
                    let bytes = &data[start..start + cut];
                    set.segment_scan_lines(&mut seg, bytes, columns);
                    for (i, (ls, le)) in seg.lines().enumerate() {
                        let line = &bytes[ls..le];
                        assert_eq!(line, expected[got], "line {got}");
                        got += 1;
                        let line = line.strip_suffix(b"\r").unwrap_or(line);
                        let want = set.prefilter_line(line, sep, column);
                        let words = set.line_may_hit_words(line, sep);
                        let have = set.segment_line_scan(&seg, bytes, ls, ls + line.len(), columns);
                        let show = String::from_utf8_lossy(line);
                        // The batched answer (lookups of all the segment's lines together).
                        let batched = seg.scan(i);
                        assert_eq!(batched.maybe, have.maybe, "{show:?} sep {sep}");
                        if !have.maybe {
                            assert_eq!((batched.seps, batched.column), (have.seps, have.column));
                        }
                        assert_eq!(have.maybe, words.is_none(), "{show:?} sep {sep}");
                        assert_eq!(have.maybe, want.maybe, "{show:?} sep {sep}");
                        if !have.maybe {
                            assert_eq!(have.seps, want.seps, "{show:?} sep {sep}");
                            assert_eq!(have.column, want.column, "{show:?} sep {sep}");
                        }
                        lines += 1;
                        passed += usize::from(!have.maybe);
                    }
                    start += cut;
                }
                assert_eq!(got, expected.len());
            }
        }
    }
    assert!(
        passed > 1000 && lines - passed > 1000,
        "{passed} of {lines}"
    );
}

/// The JSON validator on a segment's masks (`Segment::json_accepts`) accepts exactly the
/// lines the byte-walking one accepts, on lines of random JSON fragments (valid and broken:
/// unterminated strings, stray quotes, missing colons).
#[test]
fn json_validator_on_segment_masks_agrees_with_byte_scan() {
    use crate::formats::json::accepts;
    use crate::prefilter::{Segment, SEGMENT_LEN};
    let frags = [
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        " ",
        "\"k\"",
        "\"v w\"",
        "1",
        "-2.5e3",
        "true",
        "null",
        "x",
        "\"a\":\"b\"",
        "{\"q\":\"x.y\"}",
        "\"long string of more than sixteen bytes\"",
    ];
    let mut rng = Xorshift(0x0bad_5eed_1234_5678);
    let mut seg = Segment::new();
    let classify = crate::byteclass::classify_scalar;
    let (mut lines, mut valid) = (0, 0);
    for _ in 0..40 {
        let mut data = Vec::new();
        while data.len() < SEGMENT_LEN - 300 {
            let line: String = if rng.below(3) == 0 {
                format!(
                    "{{\"ts\":\"2024-01-02T03:04:05Z\",\"q\":\"{}\",\"a\":[\"1.2.3.4\",{}],\"n\":{}}}",
                    frags[rng.below(frags.len())].replace('"', ""),
                    frags[rng.below(frags.len())],
                    rng.below(100)
                )
            } else {
                (0..1 + rng.below(14))
                    .map(|_| frags[rng.below(frags.len())])
                    .collect()
            };
            data.extend_from_slice(line.as_bytes());
            data.push(b'\n');
        }
        let cut = seg.load(&data, b'\n', true, classify);
        assert_eq!(cut, data.len());
        seg.load_json(&data);
        for (ls, le) in seg.lines() {
            let line = &data[ls..le];
            let want = accepts(line);
            assert_eq!(
                Some(seg.json_accepts(line, ls)),
                want,
                "{}",
                String::from_utf8_lossy(line)
            );
            lines += 1;
            valid += usize::from(want == Some(true));
        }
    }
    assert!(valid > 200 && lines - valid > 200, "{valid} of {lines}");
}
