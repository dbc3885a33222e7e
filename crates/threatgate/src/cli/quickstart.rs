//! `threatgate quickstart`: a working exchange on the bundled real samples, in one command.
//!
//! Re-runnable: organisations and agreements are created only when missing, and ingest
//! merges idempotently, so a second run changes nothing but the audit log.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::Args;

use super::ingest::{print_report, BarProgress};
use super::{open_store, Cli};
use crate::ingest::{ingest_paths, IngestError, IngestOptions, IngestReport};
use crate::lookup::scope_for;
use crate::model::*;
use crate::policy::Channel;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct QuickstartArgs {
    /// Directory holding the bundled samples (default: ./samples, or the one in the source tree).
    #[arg(long)]
    pub samples: Option<PathBuf>,
}

/// One source in the demo: who submits what, under which markings.
struct Feed {
    org: &'static str,
    paths: &'static [&'static str],
    tlp: Option<Tlp>,
    pap: Option<Pap>,
    labels: &'static [&'static str],
}

const FEEDS: &[Feed] = &[
    Feed {
        org: "acme-security",
        paths: &["maltrail"],
        tlp: Some(Tlp::Amber),
        pap: Some(Pap::Green),
        labels: &["c2"],
    },
    Feed {
        org: "abuse-ch",
        paths: &["urlhaus"],
        tlp: Some(Tlp::Clear),
        pap: Some(Pap::Clear),
        labels: &[],
    },
    Feed {
        org: "eset-research",
        paths: &["eset"],
        tlp: None,
        pap: None,
        labels: &[],
    },
    Feed {
        org: "circl",
        paths: &["circl-feed"],
        tlp: Some(Tlp::Clear),
        pap: None,
        labels: &[],
    },
    Feed {
        org: "oasis-examples",
        paths: &["oasis-stix"],
        tlp: None,
        pap: None,
        labels: &[],
    },
];

const MEMBERS: &[(&str, &str)] = &[
    ("cert-fr", "FR"),
    ("cert-de", "DE"),
    ("cert-nl", "NL"),
    ("cert-us", "US"),
    ("cert-gb", "GB"),
];

/// The partner whose agreement has run out: its submission is refused, to show it.
const EXPIRED_PARTNER: &str = "old-vendor";

fn samples_dir(a: &QuickstartArgs) -> Result<PathBuf> {
    let candidates = match &a.samples {
        Some(p) => vec![p.clone()],
        None => vec![
            PathBuf::from("samples"),
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../samples")),
        ],
    };
    for c in &candidates {
        if c.join("maltrail").is_dir() {
            // Reports name files under this directory: say it without `..` detours.
            return Ok(c.canonicalize().unwrap_or_else(|_| c.clone()));
        }
    }
    bail!(
        "bundled samples not found (looked in {}); run from the source tree or pass --samples DIR",
        candidates
            .iter()
            .map(|c| c.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn ensure_org(
    store: &Store,
    name: &str,
    kind: OrgKind,
    country: Option<&str>,
    hub: Option<OrgId>,
) -> Result<Org> {
    if let Some(o) = store.org_by_name(name)? {
        return Ok(o);
    }
    Ok(store.create_org(
        &NewOrg {
            name: name.into(),
            kind,
            country: country.map(str::to_string),
        },
        hub,
    )?)
}

/// The terms of one quickstart agreement; the dates as users type them.
struct Terms {
    role: AgreementRole,
    signed: &'static str,
    until: &'static str,
    max_tlp: Tlp,
    retention_days: Option<i64>,
}

/// Give `org` its agreement unless it already has one (a second quickstart run).
fn ensure_agreement(store: &Store, org: &Org, t: Terms, hub: OrgId) -> Result<()> {
    if !store.agreements(Some(org.id))?.is_empty() {
        return Ok(());
    }
    let signed_on = parse_time(t.signed)?;
    store.add_agreement(
        &NewAgreement {
            org_id: org.id,
            role: t.role,
            signed_on,
            valid_from: signed_on,
            valid_until: parse_time(t.until)?,
            max_tlp: t.max_tlp,
            scope: None,
            purpose: "cooperation against cybercrime".into(),
            retention_days: t.retention_days,
            renews: None,
        },
        Some(hub),
    )?;
    Ok(())
}

pub fn run(cli: &Cli, a: &QuickstartArgs) -> Result<ExitCode> {
    let samples = samples_dir(a)?;
    let store = open_store(cli)?;
    println!("threatgate quickstart: {}", store.describe());

    let hub = match store.hub()? {
        Some(h) => h,
        None => {
            let (h, secret) = super::admin::create_hub(&store, "hub", "quickstart admin")?;
            println!("Created the hub; its admin token (shown once): {secret}");
            h
        }
    };
    // Partners sign five-year agreements (e.g. from 3 July 2024); members receive up to AMBER.
    for f in FEEDS {
        let o = ensure_org(&store, f.org, OrgKind::Partner, None, Some(hub.id))?;
        ensure_agreement(
            &store,
            &o,
            Terms {
                role: AgreementRole::Provide,
                signed: "2024-07-03",
                until: "2029-07-03",
                max_tlp: Tlp::Amber,
                retention_days: Some(5 * 365),
            },
            hub.id,
        )?;
    }
    let old = ensure_org(
        &store,
        EXPIRED_PARTNER,
        OrgKind::Partner,
        None,
        Some(hub.id),
    )?;
    ensure_agreement(
        &store,
        &old,
        Terms {
            role: AgreementRole::Provide,
            signed: "2019-07-03",
            until: "2024-07-03",
            max_tlp: Tlp::Amber,
            retention_days: None,
        },
        hub.id,
    )?;
    for (name, cc) in MEMBERS {
        let o = ensure_org(&store, name, OrgKind::Member, Some(cc), Some(hub.id))?;
        ensure_agreement(
            &store,
            &o,
            Terms {
                role: AgreementRole::Receive,
                signed: "2025-01-15",
                until: "2030-01-15",
                max_tlp: Tlp::Amber,
                retention_days: None,
            },
            hub.id,
        )?;
    }

    let mut rejected: Vec<String> = vec![];
    let mut total = IngestReport::default();
    for f in FEEDS {
        let org = store.org_by_name(f.org)?.context("partner just created")?;
        let paths: Vec<PathBuf> = f.paths.iter().map(|p| samples.join(p)).collect();
        let opts = IngestOptions {
            tlp: f.tlp,
            pap: f.pap,
            labels: f.labels.iter().map(|s| s.to_string()).collect(),
            partial: true,
            ..Default::default()
        };
        let progress = BarProgress::new();
        let r = ingest_paths(&store, &org, &paths, &opts, &progress);
        progress.finish();
        let r = r.with_context(|| format!("loading {} as {}", f.paths.join(", "), f.org))?;
        print!("{:<16} ", f.org);
        print_report(&IngestReport {
            rejected: vec![],
            ..r.clone()
        });
        rejected.extend(
            r.rejected
                .iter()
                .map(|x| format!("{}: {}", f.org, x.reason)),
        );
        total.submissions.extend(r.submissions);
    }
    // An expired agreement refuses the submission whole.
    match ingest_paths(
        &store,
        &old,
        &[samples.join("maltrail").join("dridex.txt")],
        &IngestOptions::default(),
        &crate::ingest::NoProgress,
    ) {
        Err(e @ IngestError::Refused { .. }) => rejected.push(format!("{EXPIRED_PARTNER}: {e}")),
        Err(e) => return Err(e.into()),
        Ok(_) => bail!("the expired agreement of {EXPIRED_PARTNER} was not enforced"),
    }

    enrich(&store, &samples)?;
    summary(cli, &store, &hub, &rejected)?;
    Ok(ExitCode::SUCCESS)
}

/// Country and network for every IP, from the bundled ip-location-db tables.
fn enrich(store: &Store, samples: &Path) -> Result<()> {
    let db = samples.join("ip-location-db");
    let country = db.join("asn-country-ipv4.csv.gz");
    let asn = db.join("asn-ipv4.subset-for-samples.csv");
    let files = crate::enrich::TableFiles {
        country: vec![country],
        asn: vec![asn],
        ..Default::default()
    };
    let r = crate::enrich::enrich_store(store, &crate::enrich::Tables::load(&files)?, &mut |_| {})?;
    println!(
        "enriched {} observables: {} with a country, {} with a network (ASN), {} with a registered domain",
        r.observables, r.with_country, r.with_asn, r.with_registered_domain
    );
    Ok(())
}

fn summary(cli: &Cli, store: &Store, hub: &Org, rejected: &[String]) -> Result<()> {
    let scope = scope_for(store, hub, Utc::now(), Channel::Interactive)?;
    let s = store.stats(&scope)?;
    let orgs: BTreeMap<OrgId, String> = store.orgs()?.into_iter().map(|o| (o.id, o.name)).collect();
    println!(
        "\nThe exchange now holds {} source records (the hub's view):",
        s.records
    );
    let line = |m: &BTreeMap<String, i64>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!("  by type:   {}", line(&s.by_type));
    println!(
        "  by source: {}",
        s.by_source
            .iter()
            .map(|(k, v)| format!("{} {v}", orgs.get(k).cloned().unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("  by TLP:    {}", line(&s.by_tlp));
    println!("  STIX objects: {}", line(&s.objects_by_type));
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for r in rejected {
        *reasons.entry(r.clone()).or_default() += 1;
    }
    println!("\nRejected ({}):", rejected.len());
    let mut by_count: Vec<_> = reasons.into_iter().collect();
    by_count.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    for (reason, n) in by_count.iter().take(12) {
        println!("  {n:>5} × {reason}");
    }
    if by_count.len() > 12 {
        println!("  ... and {} other reasons", by_count.len() - 12);
    }
    // The commands must work as printed, so they name a data directory given with --data.
    let data = if cli.database_url.is_none() && cli.data != Path::new("./threatgate-data") {
        let d = cli.data.display().to_string();
        if d.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
        {
            format!(" --data {d}")
        } else {
            format!(" --data '{}'", d.replace('\'', "'\\''"))
        }
    } else {
        String::new()
    };
    println!("\nNext, try:");
    for (cmd, why) in [
        (
            "agreement list",
            "who may submit and receive, days to expiry",
        ),
        (
            "search 66.210.228.178 --as cert-fr",
            "an emotet C2 (TLP:AMBER): France's CERT is not told it exists",
        ),
        (
            "search 66.210.228.178 --as hub",
            "the same, as the hub sees it",
        ),
        ("export --as cert-de --format stix --out cert-de.json", ""),
        ("audit --verify", ""),
        (
            "serve --listen 127.0.0.1:8080",
            "TAXII 2.1, REST API and the web UI",
        ),
    ] {
        let line = format!("  threatgate{data} {cmd}");
        if why.is_empty() {
            println!("{line}");
        } else {
            println!("{line:<50} # {why}");
        }
    }
    Ok(())
}
