//! `threatgate export --as ORG --format stix|csv|zeek --out FILE`.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::{open_store, org_named, Cli};
use crate::export::{export, Format};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The organisation whose view to export.
    #[arg(long = "as")]
    pub as_org: String,
    #[arg(long, value_enum, default_value = "stix")]
    pub format: Format,
    /// Output file (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(cli: &Cli, a: &ExportArgs) -> Result<ExitCode> {
    let store = open_store(cli)?;
    let viewer = org_named(&store, &a.as_org)?;
    let summary = match &a.out {
        Some(p) => {
            // Write beside the target and rename, so a failed export never leaves half a file.
            let tmp = p.with_extension("partial");
            let f = std::fs::File::create(&tmp)
                .with_context(|| format!("writing {} (via {})", p.display(), tmp.display()))?;
            let mut w = BufWriter::new(f);
            let s = export(&store, &viewer, a.format, &mut w)?;
            w.flush()?;
            std::fs::rename(&tmp, p).with_context(|| format!("writing {}", p.display()))?;
            s
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = BufWriter::new(stdout.lock());
            let s = export(&store, &viewer, a.format, &mut w)?;
            w.flush()?;
            s
        }
    };
    let parts: Vec<String> = summary
        .by_type
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    if parts.is_empty() {
        eprintln!("exported {} objects for {}", summary.objects, viewer.name);
    } else {
        eprintln!(
            "exported {} objects for {}: {}",
            summary.objects,
            viewer.name,
            parts.join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
