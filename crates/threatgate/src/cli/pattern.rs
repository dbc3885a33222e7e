//! `threatgate pattern check PATTERN` and `threatgate pattern match PATTERN --observed FILE`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde_json::Value;

#[derive(Subcommand, Debug)]
pub enum PatternCmd {
    /// Exit 0 if PATTERN is a valid STIX 2.1 pattern; otherwise print where it is wrong and exit 1.
    Check { pattern: String },
    /// Print true or false: does PATTERN match the observed-data in FILE (a JSON array or a bundle)?
    Match {
        pattern: String,
        #[arg(long)]
        observed: PathBuf,
    },
}

pub fn run(c: &PatternCmd) -> Result<ExitCode> {
    match c {
        PatternCmd::Check { pattern } => match stix::pattern::parse(pattern) {
            Ok(p) => {
                println!("valid: {p}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                println!(
                    "invalid pattern at line {}, column {}: {}",
                    e.line,
                    e.column,
                    e.message()
                );
                println!(
                    "  {}",
                    pattern.lines().nth(e.line.saturating_sub(1)).unwrap_or("")
                );
                println!("  {}^", " ".repeat(e.column.saturating_sub(1)));
                Ok(ExitCode::from(1))
            }
        },
        PatternCmd::Match { pattern, observed } => {
            let p = match stix::pattern::parse(pattern) {
                Ok(p) => p,
                Err(e) => bail!(
                    "invalid pattern at line {}, column {}: {}",
                    e.line,
                    e.column,
                    e.message()
                ),
            };
            let text = std::fs::read_to_string(observed)
                .with_context(|| format!("reading {}", observed.display()))?;
            let v: Value = serde_json::from_str(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{}: line {}, column {}: not JSON: {e}",
                    observed.display(),
                    e.line(),
                    e.column()
                )
            })?;
            let objects = match v {
                Value::Array(a) => a,
                Value::Object(mut m) if m.get("type").and_then(Value::as_str) == Some("bundle") => {
                    match m.remove("objects") {
                        Some(Value::Array(a)) => a,
                        None => vec![],
                        Some(_) => bail!("{}: /objects must be an array", observed.display()),
                    }
                }
                Value::Object(m) => vec![Value::Object(m)],
                _ => bail!(
                    "{}: expected a JSON array of observed-data or a STIX bundle",
                    observed.display()
                ),
            };
            let matched = p
                .matches(&objects)
                .map_err(|e| anyhow::anyhow!("{}: {e}", observed.display()))?;
            println!("{matched}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
