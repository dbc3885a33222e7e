//! Administration: init, organisations, agreements, tokens, audit.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use chrono::Utc;
use clap::{Args, Subcommand};

use super::{hub, open_store, org_named, Cli};
use crate::auth;
use crate::model::*;
use crate::store::Store;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Name of the hub organisation.
    #[arg(long, default_value = "hub")]
    pub hub_name: String,
}

/// Create the store and its hub; print an admin token once.
pub fn init(cli: &Cli, a: &InitArgs) -> Result<ExitCode> {
    let store = open_store(cli)?;
    if let Some(h) = store.hub()? {
        bail!(
            "{} already has a hub ({}); nothing to do",
            store.describe(),
            h.name
        );
    }
    let (hub, secret) = create_hub(&store, &a.hub_name, "initial admin token")?;
    println!("Initialised {} with hub {:?}.", store.describe(), hub.name);
    println!("Admin token (shown once, store it safely):\n  {secret}");
    Ok(ExitCode::SUCCESS)
}

/// Create the hub organisation and its first admin token (labelled `token_label`); returns
/// the hub and the token's secret, to be shown once. `init` and `quickstart` both start a
/// store this way.
pub(super) fn create_hub(store: &Store, name: &str, token_label: &str) -> Result<(Org, String)> {
    let hub = store.create_org(
        &NewOrg {
            name: name.to_string(),
            kind: OrgKind::Hub,
            country: None,
        },
        None,
    )?;
    let secret = auth::generate_secret();
    store.create_token(
        hub.id,
        TokenRole::Admin,
        token_label,
        &auth::hash_secret(&secret),
        Some(hub.id),
    )?;
    Ok((hub, secret))
}

#[derive(Subcommand, Debug)]
pub enum OrgCmd {
    /// Add an organisation.
    Add {
        name: String,
        #[arg(long, value_parser = parse_enum::<OrgKind>)]
        kind: OrgKind,
        /// ISO 3166-1 alpha-2 country code (required for members).
        #[arg(long)]
        country: Option<String>,
    },
    /// List organisations.
    List,
}

pub fn org(cli: &Cli, c: &OrgCmd) -> Result<ExitCode> {
    let store = open_store(cli)?;
    match c {
        OrgCmd::Add {
            name,
            kind,
            country,
        } => {
            if !valid_org_name(name) {
                bail!("{name:?} is not a usable organisation name: {ORG_NAME_RULE}");
            }
            let country = country.as_deref().map(normalise_country).transpose()?;
            if *kind == OrgKind::Member && country.is_none() {
                bail!("a member organisation needs --country CC (its ISO 3166-1 alpha-2 code, e.g. FR)");
            }
            let actor = store.hub()?.map(|h| h.id);
            let o = store.create_org(
                &NewOrg {
                    name: name.clone(),
                    kind: *kind,
                    country,
                },
                actor,
            )?;
            println!(
                "Added {} {:?} (#{}){}",
                o.kind,
                o.name,
                o.id,
                o.country.map(|c| format!(" in {c}")).unwrap_or_default()
            );
        }
        OrgCmd::List => {
            let now = Utc::now();
            let agreements = store.agreements(None)?;
            println!(
                "{:<4} {:<24} {:<8} {:<7} AGREEMENT IN FORCE",
                "ID", "NAME", "KIND", "COUNTRY"
            );
            for o in store.orgs()? {
                let live: Vec<String> = agreements
                    .iter()
                    .filter(|a| a.org_id == o.id && a.in_force_at(now))
                    .map(|a| {
                        format!(
                            "#{} {} until {}",
                            a.id,
                            a.role,
                            a.valid_until.format("%Y-%m-%d")
                        )
                    })
                    .collect();
                let live = if o.kind == OrgKind::Hub {
                    "(hub)".into()
                } else if live.is_empty() {
                    "none".into()
                } else {
                    live.join(", ")
                };
                println!(
                    "{:<4} {:<24} {:<8} {:<7} {}",
                    o.id,
                    o.name,
                    o.kind,
                    o.country.as_deref().unwrap_or("-"),
                    live
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Upper-case and check a country code against ISO 3166-1.
pub fn normalise_country(cc: &str) -> Result<String> {
    let up = cc.trim().to_ascii_uppercase();
    if !iprange::country::is_valid(&up) {
        bail!("{cc:?} is not an ISO 3166-1 alpha-2 country code (e.g. FR, DE, US)");
    }
    Ok(up)
}

pub fn parse_enum<T: std::str::FromStr<Err = ParseError>>(s: &str) -> Result<T, String> {
    s.parse::<T>().map_err(|e| e.0)
}

fn parse_date(s: &str) -> Result<Time, String> {
    parse_time(s).map_err(|e| e.0)
}

#[derive(Subcommand, Debug)]
pub enum AgreementCmd {
    /// Record a signed agreement between the hub and an organisation.
    Add(AgreementArgs),
    /// List agreements with days to expiry.
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Terminate an agreement early.
    End {
        id: i64,
        /// When termination takes effect (default: now).
        #[arg(long, value_parser = parse_date)]
        at: Option<Time>,
        #[arg(long, default_value = "terminated early")]
        reason: String,
    },
    /// Renew an agreement: a new agreement that records which one it renews.
    Renew {
        id: i64,
        #[arg(long, value_parser = parse_date)]
        signed_on: Time,
        #[arg(long, value_parser = parse_date)]
        valid_until: Time,
        /// Start of the renewed term (default: the old agreement's end).
        #[arg(long, value_parser = parse_date)]
        valid_from: Option<Time>,
    },
}

#[derive(Args, Debug)]
pub struct AgreementArgs {
    /// The organisation (partner or member) the hub signed with.
    #[arg(long)]
    pub org: String,
    /// provide (it submits data), receive (it reads data) or both.
    #[arg(long, value_parser = parse_enum::<AgreementRole>)]
    pub role: AgreementRole,
    /// Date of signature (YYYY-MM-DD or RFC 3339); may be after the start, not after the end.
    #[arg(long, value_parser = parse_date)]
    pub signed_on: Time,
    /// First instant the agreement is in force (YYYY-MM-DD or RFC 3339, UTC).
    #[arg(long, value_parser = parse_date)]
    pub valid_from: Time,
    /// End of the term, exclusive (YYYY-MM-DD or RFC 3339, UTC).
    #[arg(long, value_parser = parse_date)]
    pub valid_until: Time,
    /// Highest TLP the org may receive: clear, green, amber, amber+strict or red.
    #[arg(long, value_parser = |s: &str| parse_tlp(s).map_err(|e| e.0), default_value = "amber")]
    pub max_tlp: Tlp,
    /// Comma-separated STIX 2.1 types in scope, e.g. indicator,malware,ipv4-addr (custom
    /// types start with x-; default: every type).
    #[arg(long, value_delimiter = ',')]
    pub scope: Option<Vec<String>>,
    /// Days a source's data may be kept under this agreement (`threatgate retention`
    /// purges what is older; default: no limit).
    #[arg(long)]
    pub retention_days: Option<i64>,
    /// What the data may be used for, as the agreement states it.
    #[arg(long, default_value = "cooperation against cybercrime")]
    pub purpose: String,
}

pub fn agreement(cli: &Cli, c: &AgreementCmd) -> Result<ExitCode> {
    let store = open_store(cli)?;
    let actor = Some(hub(&store)?.id);
    match c {
        AgreementCmd::Add(a) => {
            let org = org_named(&store, &a.org)?;
            if org.kind == OrgKind::Hub {
                bail!("the hub does not need an agreement with itself");
            }
            if let Some(days) = a.retention_days {
                if days <= 0 {
                    bail!("--retention-days must be positive (got {days})");
                }
            }
            let scope = a.scope.as_ref().map(|s| {
                s.iter()
                    .map(|t| t.trim().to_ascii_lowercase())
                    .filter(|t| !t.is_empty())
                    .collect()
            });
            let ag = store.add_agreement(
                &NewAgreement {
                    org_id: org.id,
                    role: a.role,
                    signed_on: a.signed_on,
                    valid_from: a.valid_from,
                    valid_until: a.valid_until,
                    max_tlp: a.max_tlp,
                    scope,
                    purpose: a.purpose.clone(),
                    retention_days: a.retention_days,
                    renews: None,
                },
                actor,
            )?;
            println!(
                "Agreement #{} with {}: {} from {} until {} (max TLP {}){}",
                ag.id,
                org.name,
                ag.role,
                day(ag.valid_from),
                day(ag.valid_until),
                ag.max_tlp,
                if ag.in_force_at(Utc::now()) {
                    ", in force"
                } else {
                    ", NOT in force now"
                }
            );
            // Overlaps are legitimate (amendments, early renewals), but the operator should
            // know how they combine rather than discover it from what members can read.
            for other in store.agreements(Some(org.id))? {
                let overlaps = other.id != ag.id
                    && other.status != AgreementStatus::Terminated
                    && other.valid_from < ag.valid_until
                    && ag.valid_from < other.valid_until
                    && (other.role.receives() && ag.role.receives()
                        || other.role.provides() && ag.role.provides());
                if overlaps {
                    let effect = if other.role.receives() && ag.role.receives() {
                        "reads with the higher TLP ceiling and the union of their scopes"
                    } else {
                        "may submit what either of them covers"
                    };
                    println!(
                        "  note: overlaps agreement #{} ({}, {} until {}, max TLP {}); while both are in force {} {effect}",
                        other.id,
                        other.role,
                        day(other.valid_from),
                        day(other.valid_until),
                        other.max_tlp,
                        org.name
                    );
                }
            }
        }
        AgreementCmd::List { org } => {
            let filter = org.as_deref().map(|n| org_named(&store, n)).transpose()?;
            let orgs = store.orgs()?;
            let name = |id| {
                orgs.iter()
                    .find(|o| o.id == id)
                    .map(|o| o.name.clone())
                    .unwrap_or_default()
            };
            let now = Utc::now();
            println!(
                "{:<4} {:<20} {:<8} {:<11} {:<11} {:<11} {:<13} {:<11} DAYS LEFT",
                "ID", "ORG", "ROLE", "SIGNED", "FROM", "UNTIL", "MAX TLP", "STATUS"
            );
            for a in store.agreements(filter.map(|o| o.id))? {
                let status = if a.in_force_at(now) {
                    "in force".to_string()
                } else if now < a.valid_from {
                    "future".into()
                } else if a.status == AgreementStatus::Active {
                    "expired".into()
                } else {
                    a.status.to_string()
                };
                let left = if a.in_force_at(now) {
                    a.days_to_expiry(now).to_string()
                } else {
                    "-".into()
                };
                let renews = a
                    .renews
                    .map(|r| format!(" (renews #{r})"))
                    .unwrap_or_default();
                println!(
                    "{:<4} {:<20} {:<8} {:<11} {:<11} {:<11} {:<13} {:<11} {}{}",
                    a.id,
                    name(a.org_id),
                    a.role,
                    day(a.signed_on),
                    day(a.valid_from),
                    day(a.valid_until),
                    a.max_tlp,
                    status,
                    left,
                    renews
                );
            }
        }
        AgreementCmd::End { id, at, reason } => {
            let a = store.end_agreement(*id, at.unwrap_or_else(Utc::now), reason, actor)?;
            println!(
                "Agreement #{} terminated at {}",
                a.id,
                a.terminated_at.map(stix_time).unwrap_or_default()
            );
        }
        AgreementCmd::Renew {
            id,
            signed_on,
            valid_until,
            valid_from,
        } => {
            let old = store.agreement(*id)?;
            // Renewals form one chain (the UI and `agreement list` follow it); a second
            // renewal of the same agreement would fork it and double the term.
            if let Some(next) = store
                .agreements(Some(old.org_id))?
                .into_iter()
                .find(|a| a.renews == Some(old.id))
            {
                bail!(
                    "agreement #{} was already renewed by #{}; renew #{} instead",
                    old.id,
                    next.id,
                    next.id
                );
            }
            let from = valid_from.unwrap_or(old.valid_until);
            let ag = store.add_agreement(
                &NewAgreement {
                    org_id: old.org_id,
                    role: old.role,
                    signed_on: *signed_on,
                    valid_from: from,
                    valid_until: *valid_until,
                    max_tlp: old.max_tlp,
                    scope: old.scope.clone(),
                    purpose: old.purpose.clone(),
                    retention_days: old.retention_days,
                    renews: Some(old.id),
                },
                actor,
            )?;
            println!(
                "Agreement #{} renews #{}: valid {} until {}",
                ag.id,
                old.id,
                day(ag.valid_from),
                day(ag.valid_until)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn day(t: Time) -> String {
    t.format("%Y-%m-%d").to_string()
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create a token; the secret is shown once and only its hash is stored.
    Create {
        #[arg(long)]
        org: String,
        #[arg(long, value_parser = parse_enum::<TokenRole>)]
        role: TokenRole,
        /// A note on what the token is for (e.g. the sensor or script using it).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// List tokens (never their secrets).
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke a token by id.
    Revoke { id: i64 },
}

pub fn token(cli: &Cli, c: &TokenCmd) -> Result<ExitCode> {
    let store = open_store(cli)?;
    let actor = Some(hub(&store)?.id);
    match c {
        TokenCmd::Create { org, role, label } => {
            let o = org_named(&store, org)?;
            let secret = auth::generate_secret();
            let t = store.create_token(o.id, *role, label, &auth::hash_secret(&secret), actor)?;
            println!(
                "Token #{} for {} ({}), shown once:\n  {secret}",
                t.id, o.name, t.role
            );
        }
        TokenCmd::List { org } => {
            let filter = org.as_deref().map(|n| org_named(&store, n)).transpose()?;
            let names: std::collections::HashMap<OrgId, String> =
                store.orgs()?.into_iter().map(|o| (o.id, o.name)).collect();
            println!(
                "{:<4} {:<20} {:<8} {:<24} STATUS",
                "ID", "ORG", "ROLE", "CREATED"
            );
            for t in store.tokens(filter.map(|o| o.id))? {
                println!(
                    "{:<4} {:<20} {:<8} {:<24} {}",
                    t.id,
                    names.get(&t.org_id).cloned().unwrap_or_default(),
                    t.role,
                    stix_time(t.created_at),
                    t.revoked_at
                        .map(|r| format!("revoked {}", stix_time(r)))
                        .unwrap_or_else(|| "active".into())
                );
            }
        }
        TokenCmd::Revoke { id } => {
            store.revoke_token(*id, actor)?;
            println!("Token #{id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct AuditArgs {
    /// Verify the hash chain; exit 1 if any entry was edited, deleted or reordered.
    #[arg(long)]
    pub verify: bool,
    /// Show the last N entries.
    #[arg(long, default_value_t = 20)]
    pub tail: usize,
}

pub fn audit(cli: &Cli, a: &AuditArgs) -> Result<ExitCode> {
    let store = open_store(cli)?;
    if a.verify {
        return match store.verify_audit()? {
            Ok(n) => {
                println!("audit chain intact: {n} entries verified");
                Ok(ExitCode::SUCCESS)
            }
            Err(b) => {
                println!("audit chain BROKEN: {b}");
                Ok(ExitCode::from(1))
            }
        };
    }
    let (head, _) = store.audit_head()?;
    let entries = store
        .audit_entries((head - a.tail as i64).max(0), a.tail)
        .context("reading the audit log")?;
    for (e, _) in entries {
        println!(
            "{:>6} {} {:<5} {:<20} {:<20} {}",
            e.seq,
            stix_time(e.at),
            e.actor.map(|x| x.to_string()).unwrap_or_default(),
            e.action,
            e.subject,
            e.detail
        );
    }
    Ok(ExitCode::SUCCESS)
}
