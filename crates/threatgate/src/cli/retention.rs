//! `threatgate retention [--apply]`: purge source data past its agreement's retention.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::{hub, open_store, Cli};

#[derive(Args, Debug)]
pub struct RetentionArgs {
    /// Purge. Without it, only show what would be purged.
    #[arg(long)]
    pub apply: bool,
    #[arg(long)]
    pub json: bool,
}

pub fn run(cli: &Cli, a: &RetentionArgs) -> Result<ExitCode> {
    let store = open_store(cli)?;
    let hub = hub(&store)?;
    let counts = crate::retention::run_now(&store, a.apply, Some(hub.id))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&counts)?);
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if a.apply { "purged" } else { "would purge" };
    let orgs = store.orgs()?;
    let (mut r, mut o) = (0, 0);
    for c in &counts {
        let name = orgs
            .iter()
            .find(|x| x.id == c.org_id)
            .map(|x| x.name.as_str())
            .unwrap_or("?");
        println!(
            "agreement #{} ({name}, {} days, before {}): {verb} {} records, {} objects",
            c.agreement_id, c.retention_days, c.cutoff, c.records, c.objects
        );
        r += c.records;
        o += c.objects;
    }
    println!(
        "{verb} {r} records and {o} objects in all{}",
        if a.apply {
            ""
        } else {
            " (dry run: add --apply)"
        }
    );
    Ok(ExitCode::SUCCESS)
}
