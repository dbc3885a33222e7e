//! `cargo run -p iprange --example iplookup -- [--narrowest] TABLE[,TABLE2...] IP...`
//! Load one or more tables into one IpTable and print what each IP maps to.
//! `--narrowest` loads with `OrderPolicy::NarrowestWins` (needed for geo-whois-asn-country).
use iprange::{OrderPolicy, TableBuilder};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    let policy = if args.peek().map(String::as_str) == Some("--narrowest") {
        args.next();
        OrderPolicy::NarrowestWins
    } else {
        OrderPolicy::Strict
    };
    let tables = args
        .next()
        .ok_or("usage: iplookup TABLE[,TABLE...] IP...")?;
    let t0 = Instant::now();
    let mut b = TableBuilder::new().order_policy(policy);
    for path in tables.split(',') {
        b.add_path(path, None)?;
    }
    let table = b.build()?;
    eprintln!(
        "loaded in {:?}: {} v4 rows, {} v6 rows, {} entries, {} KiB, {:?}",
        t0.elapsed(),
        table.v4_rows(),
        table.v6_rows(),
        table.entries().len(),
        table.heap_bytes() / 1024,
        table.stats()
    );
    for a in args {
        let ip: std::net::IpAddr = a.parse()?;
        match table.lookup(ip) {
            Some(e) => println!(
                "{ip}\t{}\t{}\t{}",
                e.country().map(|c| c.to_string()).unwrap_or_default(),
                e.asn().map(|a| a.to_string()).unwrap_or_default(),
                e.org().unwrap_or("")
            ),
            None => println!("{ip}\t-"),
        }
    }
    Ok(())
}
