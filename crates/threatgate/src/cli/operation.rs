//! `threatgate operation ...`: create, pick targets, report, disseminate, track takedowns,
//! probe, import status data, record counts, summarise. The engine is [`crate::ops`]; this
//! module only parses arguments and prints.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use chrono::Utc;
use clap::Subcommand;

use super::{hub, open_store, org_named, Cli};
use crate::model::{parse_time, stix_time};
use crate::ops::{self, probe, report, status, summary, takedown, targets};

#[derive(Subcommand, Debug)]
pub enum OperationCmd {
    /// Create an operation: a name, a window and a filter.
    Create {
        name: String,
        /// FROM..TO, each YYYY-MM-DD or RFC 3339 (a date-only TO includes that whole day).
        #[arg(long)]
        window: String,
        /// e.g. "label = c2 AND malware = emotet AND country IN (FR, DE) AND confidence >= 60".
        #[arg(long, default_value = "")]
        filter: String,
    },
    /// List operations.
    List,
    /// Pick (or refresh) the targets, then list them.
    Targets {
        name: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// List the stored targets without picking again.
        #[arg(long)]
        no_refresh: bool,
    },
    /// Write one report per country (HTML, CSV, STIX) and optionally send them.
    Report {
        name: String,
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Only this country.
        #[arg(long)]
        country: Option<String>,
        /// Also send each report to its country's member (see `disseminate`).
        #[arg(long)]
        send: bool,
    },
    /// Send a country's report to that country's member org (a recorded, audited share).
    Disseminate {
        name: String,
        #[arg(long)]
        country: String,
    },
    /// Move a target through the takedown states.
    TargetState {
        name: String,
        /// The target's id (as listed by `targets`) or its value.
        target: String,
        /// reported, acknowledged, taken-down, sinkholed, cleaned, actioned, rejected, false-positive.
        #[arg(long)]
        to: String,
        /// The acting organisation (default: the hub).
        #[arg(long = "as")]
        as_org: Option<String>,
        /// What shows the move happened (a ticket, a provider's reply, a probe result).
        #[arg(long)]
        evidence: String,
        /// Backdate the move (hub only).
        #[arg(long)]
        at: Option<String>,
    },
    /// Show a target's history (moves and observations).
    History { name: String, target: String },
    /// Check whether targets are alive (TCP connect, HTTP status) and record it.
    Probe {
        name: String,
        #[arg(long, default_value_t = probe::DEFAULT_CONCURRENCY)]
        concurrency: usize,
        /// Per-probe timeout in milliseconds.
        #[arg(long, default_value_t = probe::DEFAULT_TIMEOUT_MS)]
        timeout: u64,
    },
    /// Import liveness observations from URLhaus or the C2 tracker's first/last-seen table.
    ImportStatus {
        name: String,
        file: PathBuf,
        #[arg(long)]
        format: status::StatusFormat,
        /// When the file was taken (URLhaus offline rows); default now.
        #[arg(long)]
        observed_at: Option<String>,
        /// The C2 tracker's snapshot list (all_snapshots.csv), for exact offline times.
        #[arg(long)]
        snapshots: Option<PathBuf>,
    },
    /// Record the operation's seizures and arrests (the latest record counts).
    Record {
        name: String,
        #[arg(long)]
        seizures: i64,
        #[arg(long)]
        arrests: i64,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// What the hub would announce: overall, per country, per network.
    Summary {
        name: String,
        #[arg(long, default_value = "text")]
        format: String,
    },
}

pub fn run(cli: &Cli, c: &OperationCmd) -> Result<ExitCode> {
    let store = open_store(cli)?;
    let hub = hub(&store)?;
    match c {
        OperationCmd::Create {
            name,
            window,
            filter,
        } => {
            let w = ops::operation::parse_window(window)?;
            let op = ops::operation::create(&store, &hub, name, w, filter)?;
            println!(
                "Created operation {:?} (#{}), window {} .. {}, filter: {}",
                op.name,
                op.id,
                stix_time(op.window_from),
                stix_time(op.window_to),
                if op.filter.is_empty() {
                    "(everything)"
                } else {
                    &op.filter
                }
            );
        }
        OperationCmd::List => {
            for op in store.operations()? {
                let n = store.targets(op.id)?.len();
                println!(
                    "{:<4} {:<24} {} .. {}  {:>6} targets  {}",
                    op.id,
                    op.name,
                    &stix_time(op.window_from)[..10],
                    &stix_time(op.window_to)[..10],
                    n,
                    op.filter
                );
            }
        }
        OperationCmd::Targets {
            name,
            json,
            no_refresh,
        } => {
            let op = ops::operation::get(&store, name)?;
            if !no_refresh {
                let p = targets::pick_now(&store, &op, &hub)?;
                eprintln!(
                    "{} candidates, {} targets ({} new, {} refreshed), {} need source consent",
                    p.candidates, p.matched, p.added, p.refreshed, p.needs_consent
                );
            }
            let ts = store.targets(op.id)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&ts)?);
            } else {
                println!(
                    "{:<6} {:<20} {:<48} {:<4} {:<10} {:<14} CONSENT",
                    "ID", "CATEGORY", "VALUE", "CC", "ASN", "STATE"
                );
                for t in &ts {
                    println!(
                        "{:<6} {:<20} {:<48} {:<4} {:<10} {:<14} {}",
                        t.id,
                        t.category.as_str(),
                        t.value.chars().take(48).collect::<String>(),
                        t.country.as_deref().unwrap_or("-"),
                        t.asn
                            .map(|a| format!("AS{a}"))
                            .unwrap_or_else(|| "-".into()),
                        t.state.as_str(),
                        if t.needs_consent {
                            "needs source consent"
                        } else {
                            "ok"
                        }
                    );
                }
            }
        }
        OperationCmd::Report {
            name,
            out,
            country,
            send,
        } => {
            let op = ops::operation::get(&store, name)?;
            let reports = report::build(&store, &op, &hub, country.as_deref())?;
            if reports.is_empty() {
                bail!("operation {name:?} has no targets with a known country; run `threatgate operation targets {name}` (after `threatgate enrich`)");
            }
            let files = report::write(&reports, out)?;
            println!(
                "Wrote {} reports ({} files) to {}",
                reports.len(),
                files.len(),
                out.display()
            );
            if *send {
                for r in &reports {
                    print_sent(&report::disseminate(&store, &op, &hub, &r.country)?);
                }
            }
        }
        OperationCmd::Disseminate { name, country } => {
            let op = ops::operation::get(&store, name)?;
            print_sent(&report::disseminate(&store, &op, &hub, country)?);
        }
        OperationCmd::TargetState {
            name,
            target,
            to,
            as_org,
            evidence,
            at,
        } => {
            let op = ops::operation::get(&store, name)?;
            let actor = match as_org {
                Some(n) => org_named(&store, n)?,
                None => hub.clone(),
            };
            let at = at
                .as_deref()
                .map(parse_time)
                .transpose()
                .map_err(|e| anyhow::anyhow!("--at: {}", e.0))?;
            let t = takedown::find_target(&store, &op, target)?;
            let ev = takedown::move_target(&store, &t, to, &actor, evidence, at)?;
            println!(
                "target #{} {}: {} -> {} at {} by {}",
                t.id,
                t.value,
                ev.from,
                ev.to,
                stix_time(ev.at),
                actor.name
            );
        }
        OperationCmd::History { name, target } => {
            let op = ops::operation::get(&store, name)?;
            let t = takedown::find_target(&store, &op, target)?;
            let orgs = store.orgs()?;
            println!(
                "target #{} {} ({}), now {}",
                t.id,
                t.value,
                t.category.as_str(),
                t.state
            );
            for e in store
                .target_events(op.id)?
                .into_iter()
                .filter(|e| e.target_id == t.id)
            {
                let who = orgs
                    .iter()
                    .find(|o| o.id == e.actor)
                    .map(|o| o.name.as_str())
                    .unwrap_or("?");
                println!(
                    "  {} {} -> {} by {}: {}",
                    stix_time(e.at),
                    e.from,
                    e.to,
                    who,
                    e.evidence
                );
            }
            for o in store
                .observations(op.id)?
                .into_iter()
                .filter(|o| o.target_id == t.id)
            {
                println!(
                    "  {} {} ({}: {})",
                    stix_time(o.at),
                    if o.online { "online" } else { "offline" },
                    o.method,
                    o.detail
                );
            }
        }
        OperationCmd::Probe {
            name,
            concurrency,
            timeout,
        } => {
            let op = ops::operation::get(&store, name)?;
            let opts = probe::ProbeOptions::new(*concurrency, *timeout)?;
            let r = probe::probe_operation(&store, &op, opts, Some(hub.id))?;
            println!(
                "probed {} targets: {} online, {} offline",
                r.probed, r.online, r.offline
            );
        }
        OperationCmd::ImportStatus {
            name,
            file,
            format,
            observed_at,
            snapshots,
        } => {
            let op = ops::operation::get(&store, name)?;
            let at = match observed_at {
                Some(s) => parse_time(s).map_err(|e| anyhow::anyhow!("--observed-at: {}", e.0))?,
                None => Utc::now(),
            };
            let r = status::import(
                &store,
                &op,
                file,
                *format,
                at,
                snapshots.as_deref(),
                Some(hub.id),
            )?;
            println!(
                "{} rows, {} about targets ({} skipped); {} observations, {} new",
                r.rows, r.matched_targets, r.skipped, r.observations, r.new_observations
            );
        }
        OperationCmd::Record {
            name,
            seizures,
            arrests,
            note,
        } => {
            let op = ops::operation::get(&store, name)?;
            if *seizures < 0 || *arrests < 0 {
                bail!("--seizures and --arrests are counts: 0 or more");
            }
            store.record_counts(op.id, *seizures, *arrests, note, hub.id)?;
            println!("operation {name}: {seizures} seizures, {arrests} arrests recorded");
        }
        OperationCmd::Summary { name, format } => {
            let op = ops::operation::get(&store, name)?;
            let s = summary::summarise(&store, &op)?;
            match format.as_str() {
                "json" => println!("{}", serde_json::to_string_pretty(&s)?),
                "text" => print!("{}", summary::to_text(&s)),
                other => bail!("--format {other:?}: use text or json"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_sent(s: &report::Sent) {
    println!(
        "{}: sent to {} — {} targets, {} records, {} objects shared at TLP:{}; {} newly reported",
        s.country,
        s.recipients.join(", "),
        s.targets,
        s.records,
        s.objects,
        s.tlp.as_str().to_ascii_uppercase(),
        s.newly_reported
    );
    for (who, n) in &s.readable_by_recipient {
        if *n < s.records {
            println!("  note: {who} can read {n} of {} records (its agreement's TLP ceiling or scope is lower)", s.records);
        }
    }
}
