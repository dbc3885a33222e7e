//! `threatgate enrich --ip-country FILE --ip-asn FILE [--contacts FILE]`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::{open_store, Cli};
use crate::enrich::{self, TableFiles, Tables};

#[derive(Args, Debug)]
pub struct EnrichArgs {
    /// Country table(s): ip-location-db `start,end,CC` CSV (plain or gzip). Repeatable (IPv4 and IPv6).
    #[arg(long = "ip-country")]
    pub ip_country: Vec<PathBuf>,
    /// ASN table(s): ip-location-db `start,end,asn,org` CSV or iptoasn.com TSV. Repeatable.
    #[arg(long = "ip-asn")]
    pub ip_asn: Vec<PathBuf>,
    /// How to take range order: strict (default; unsorted or overlapping is an error),
    /// sort (sort, still refuse overlaps), narrowest (longest-prefix wins, for merged tables
    /// such as geo-whois-asn-country).
    #[arg(long, default_value = "strict")]
    pub order: String,
    /// Abuse contacts per network: CSV `asn,contact` (e.g. `16276,abuse@ovh.net`).
    #[arg(long)]
    pub contacts: Option<PathBuf>,
    /// Print the statistics as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, a: &EnrichArgs) -> Result<ExitCode> {
    let policy = match a.order.as_str() {
        "strict" => iprange::OrderPolicy::Strict,
        "sort" => iprange::OrderPolicy::SortThenCheck,
        "narrowest" => iprange::OrderPolicy::NarrowestWins,
        o => bail!("--order {o:?}: use strict, sort or narrowest"),
    };
    let files = TableFiles {
        country: a.ip_country.clone(),
        asn: a.ip_asn.clone(),
        policy,
    };
    let t0 = Instant::now();
    let tables = Tables::load(&files)?;
    let loaded = t0.elapsed();
    let store = open_store(cli)?;
    if let Some(p) = &a.contacts {
        let contacts = read_contacts(p)?;
        store.set_network_contacts(&contacts, &p.display().to_string())?;
        eprintln!("{} network abuse contacts loaded", contacts.len());
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {pos} observables enriched")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        b
    });
    let t1 = Instant::now();
    let stats = enrich::enrich_store(&store, &tables, &mut |n| {
        if let Some(b) = &bar {
            b.set_position(n as u64);
        }
    })?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&stats)?);
    } else {
        println!(
            "enriched {} observables in {:.2?} (tables loaded in {:.2?}): {} with country, {} with ASN, {} with registered domain, {} located through a resolution; {} changed",
            stats.observables, t1.elapsed(), loaded, stats.with_country, stats.with_asn, stats.with_registered_domain, stats.via_resolution, stats.changed
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn read_contacts(p: &PathBuf) -> Result<Vec<(u32, String)>> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let mut out = vec![];
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.is_empty()
            || l.starts_with('#')
            || (i == 0 && l.to_ascii_lowercase().starts_with("asn"))
        {
            continue;
        }
        let Some((asn, contact)) = l.split_once(',') else {
            bail!("{}:{}: expected `asn,contact`", p.display(), i + 1);
        };
        let asn: u32 = asn.trim().trim_start_matches("AS").parse().map_err(|_| {
            anyhow::anyhow!("{}:{}: {asn:?} is not an AS number", p.display(), i + 1)
        })?;
        out.push((asn, contact.trim().trim_matches('"').to_string()));
    }
    Ok(out)
}
