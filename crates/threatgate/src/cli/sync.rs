//! `threatgate sync pull|push`: federation with another TAXII 2.1 server.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::{hub, open_store, org_named, Cli};
use crate::sync::{self, Remote, RunLimits, SyncReport};

#[derive(Args, Debug)]
pub struct LinkArgs {
    /// The remote server: its discovery URL (…/taxii2/) or an API root (…/taxii2/api/).
    #[arg(long)]
    pub url: String,
    /// The remote collection: its id, alias or title.
    #[arg(long)]
    pub collection: String,
    /// The token the remote server issued to us (sent as a Bearer token, never printed).
    #[arg(long, env = "THREATGATE_REMOTE_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The local organisation: for pull, the partner the data is ingested as (its
    /// agreement is enforced); for push, whose federation view is sent. Default: the hub.
    #[arg(long = "as")]
    pub as_org: Option<String>,
    /// Objects per page (pull) or per envelope (push); default 1000 for pull, 500 for push.
    #[arg(long)]
    pub page_size: Option<usize>,
    /// Stop after this many pages; the next run continues where this one stopped.
    #[arg(long)]
    pub max_pages: Option<usize>,
}

#[derive(Subcommand, Debug)]
pub enum SyncCmd {
    /// Pull a remote collection incrementally (resumes from the last stored page).
    Pull(LinkArgs),
    /// Push what the policy lets an organisation federate to a remote collection.
    Push(LinkArgs),
}

fn summary(verb: &str, r: &SyncReport) {
    let line = format!(
        "{verb}: {} page(s), {} object(s), {} stored, {} failed{}",
        r.pages,
        r.objects,
        r.stored,
        r.failed,
        r.cursor
            .as_deref()
            .map(|c| format!(", cursor {c}"))
            .unwrap_or_default()
    );
    println!("{line}");
    for why in &r.reasons {
        println!("  failed: {why}");
    }
}

pub fn run(cli: &Cli, c: &SyncCmd) -> Result<ExitCode> {
    let (a, pulling) = match c {
        SyncCmd::Pull(a) => (a, true),
        SyncCmd::Push(a) => (a, false),
    };
    let store = open_store(cli)?;
    let org = match &a.as_org {
        Some(n) => org_named(&store, n)?,
        None => hub(&store)?,
    };
    let remote = Remote::connect(&a.url, &a.collection, Some(&a.token))
        .with_context(|| format!("connecting to collection {:?} at {}", a.collection, a.url))?;
    let quiet = |_: &SyncReport| {};
    let mut limits = if pulling {
        RunLimits::pull()
    } else {
        RunLimits::push()
    };
    if let Some(n) = a.page_size {
        limits.page_size = n.clamp(1, crate::server::limits::MAX_PAGE_SIZE);
    }
    limits.max_pages = a.max_pages;
    let report = if pulling {
        sync::pull(&store, &remote, &org, &limits, &quiet)
    } else {
        sync::push(&store, &remote, &org, &limits, &quiet)
    }
    .with_context(|| {
        format!(
            "{} {} as {}",
            if pulling { "pulling" } else { "pushing to" },
            remote.url,
            org.name
        )
    })?;
    summary(if pulling { "pulled" } else { "pushed" }, &report);
    Ok(if report.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
