//! `threatgate search VALUE --as ORG`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::{open_store, org_named, Cli};
use crate::lookup::lookup;
use crate::model::stix_time;
use crate::policy::Channel;

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// An IP, CIDR, domain, URL, hash or email address (defanged forms accepted).
    pub value: String,
    /// The organisation whose view to show.
    #[arg(long = "as")]
    pub as_org: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, a: &SearchArgs) -> Result<ExitCode> {
    let store = open_store(cli)?;
    let viewer = org_named(&store, &a.as_org)?;
    let Some(view) = lookup(&store, &viewer, &a.value, Channel::Interactive)? else {
        if a.json {
            println!("null");
        } else {
            println!("not found: {}", a.value);
        }
        return Ok(ExitCode::from(1));
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(ExitCode::SUCCESS);
    }
    let o = &view.observable;
    println!("{} {}", o.kind, o.value);
    let e = &o.enrichment;
    if e.country.is_some() || e.asn.is_some() || e.registered_domain.is_some() {
        let network = match (e.asn, e.network.as_deref()) {
            (Some(a), Some(n)) => format!("AS{a} {n}"),
            (Some(a), None) => format!("AS{a}"),
            (None, _) => "-".into(),
        };
        println!(
            "  country {}  network {}  registered domain {}",
            e.country.as_deref().unwrap_or("-"),
            network,
            e.registered_domain.as_deref().unwrap_or("-")
        );
    }
    for r in &view.records {
        let c = &r.record.claim;
        println!(
            "  source {}: TLP:{} PAP:{} confidence {}",
            r.source,
            c.tlp_or_default().as_str().to_uppercase(),
            c.pap
                .map(|p| p.as_str().to_uppercase())
                .unwrap_or_else(|| "-".into()),
            c.confidence
                .map(|v| v.to_string())
                .unwrap_or_else(|| "-".into())
        );
        if !c.labels.is_empty() {
            println!("    labels: {}", c.labels.join(", "));
        }
        if !c.malware.is_empty() {
            println!("    malware: {}", c.malware.join(", "));
        }
        if !c.ports.is_empty() {
            println!(
                "    ports: {}",
                c.ports
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        // A plain list states no dates: say so rather than print an empty range.
        if c.first_seen.is_some() || c.last_seen.is_some() {
            println!(
                "    seen: {} .. {}",
                c.first_seen.map(stix_time).unwrap_or_else(|| "?".into()),
                c.last_seen.map(stix_time).unwrap_or_else(|| "?".into())
            );
        } else {
            println!("    seen: no dates given by the source");
        }
        for reference in &c.references {
            println!("    reference: {reference}");
        }
    }
    for s in &view.sightings {
        println!(
            "  sighted {} times by org #{} ({} .. {}) at {}",
            s.count,
            s.org_id,
            stix_time(s.first_seen),
            stix_time(s.last_seen),
            s.where_sighted
        );
    }
    if !view.objects.is_empty() {
        println!("  {} STIX object(s)", view.objects.len());
    }
    Ok(ExitCode::SUCCESS)
}
