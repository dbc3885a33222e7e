//! `threatgate ingest FILE|DIR... --as ORG`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::{open_store, org_named, Cli};
use crate::ingest::{ingest_paths, Format, IngestOptions, IngestReport, Progress};
use crate::model::{parse_pap, parse_tlp, Pap, Tlp};

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// Files or directories (a directory with a manifest.json is a MISP feed).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The submitting organisation; its agreement in force decides what is accepted.
    #[arg(long = "as")]
    pub as_org: String,
    /// auto, stix, misp, misp-feed, csv, urlhaus or lines.
    #[arg(long, default_value = "auto")]
    pub format: String,
    /// TLP for items whose data states none (default: the source default, TLP:AMBER).
    #[arg(long, value_parser = |s: &str| parse_tlp(s).map_err(|e| e.0))]
    pub tlp: Option<Tlp>,
    /// PAP for items whose data states none.
    #[arg(long, value_parser = |s: &str| parse_pap(s).map_err(|e| e.0))]
    pub pap: Option<Pap>,
    /// Labels added to every item (repeatable).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Malware family added to every item (repeatable).
    #[arg(long)]
    pub malware: Vec<String>,
    /// Keep the valid items of bad input and list the rejected ones.
    #[arg(long)]
    pub partial: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A progress bar on a terminal; nothing otherwise (the summary line follows).
pub struct BarProgress(Option<ProgressBar>);

impl BarProgress {
    pub fn new() -> Self {
        if !std::io::stderr().is_terminal() {
            return BarProgress(None);
        }
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {msg:40!} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        BarProgress(Some(bar))
    }

    pub fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

impl Default for BarProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress for BarProgress {
    fn on_file(&self, name: &str, total_bytes: u64) {
        if let Some(b) = &self.0 {
            b.set_position(0);
            b.set_length(total_bytes);
            b.set_message(name.rsplit('/').next().unwrap_or(name).to_string());
        }
    }
    fn on_bytes(&self, n: u64) {
        if let Some(b) = &self.0 {
            b.inc(n);
        }
    }
}

pub fn options(a: &IngestArgs) -> Result<IngestOptions> {
    let format = match a.format.as_str() {
        "auto" => None,
        f => Some(f.parse::<Format>().map_err(anyhow::Error::msg)?),
    };
    Ok(IngestOptions {
        format,
        tlp: a.tlp,
        pap: a.pap,
        labels: a.labels.clone(),
        malware: a.malware.clone(),
        partial: a.partial,
        now: None,
    })
}

pub fn run(cli: &Cli, a: &IngestArgs) -> Result<ExitCode> {
    let store = open_store(cli)?;
    let org = org_named(&store, &a.as_org)?;
    let opts = options(a)?;
    let progress = BarProgress::new();
    let result = ingest_paths(&store, &org, &a.paths, &opts, &progress);
    progress.finish();
    let report = result?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    // --partial keeps what it can; when that is nothing at all, the run failed.
    if report.submissions.is_empty() && !report.rejected.is_empty() {
        eprintln!("error: nothing was stored: every file was refused or rejected (listed above)");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_report(r: &IngestReport) {
    println!("{}", r.summary());
    for rej in &r.rejected {
        println!("  rejected: {rej}");
    }
}
