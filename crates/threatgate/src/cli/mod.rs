//! The command line. Each subcommand lives in its own module; this file only wires them.
//!
//! Local access to the data directory or database is administrative access: commands run
//! as the hub unless `--as ORG` names another organisation, whose view the policy applies.

mod admin;
mod enrich;
mod export;
mod ingest;
mod matching;
mod operation;
mod pattern;
mod quickstart;
mod retention;
mod search;
mod serve;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use crate::model::Org;
use crate::store::Store;

#[derive(Parser, Debug)]
#[command(
    name = "threatgate",
    version,
    about = "A threat-intelligence exchange for public-private cooperation against cybercrime"
)]
pub struct Cli {
    /// Data directory of the embedded SQLite store.
    #[arg(
        long,
        global = true,
        env = "THREATGATE_DATA",
        default_value = "./threatgate-data"
    )]
    pub data: PathBuf,
    /// Use a PostgreSQL store instead (postgres://user@host/db).
    #[arg(long, global = true, env = "THREATGATE_DATABASE_URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Set up a working exchange on the bundled real samples and show what it holds.
    Quickstart(quickstart::QuickstartArgs),
    /// Create the data directory and the hub, and print an admin token once.
    Init(admin::InitArgs),
    /// Manage organisations.
    #[command(subcommand)]
    Org(admin::OrgCmd),
    /// Manage agreements between the hub and organisations.
    #[command(subcommand)]
    Agreement(admin::AgreementCmd),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(admin::TokenCmd),
    /// Ingest partner data (STIX, MISP event or feed, CSV, URLhaus, plain lists).
    Ingest(ingest::IngestArgs),
    /// Show an observable as an organisation may see it.
    Search(search::SearchArgs),
    /// Export what an organisation may see (STIX bundle, CSV or Zeek intel).
    Export(export::ExportArgs),
    /// Check STIX patterns and evaluate them against observed data.
    #[command(subcommand)]
    Pattern(pattern::PatternCmd),
    /// Match logs against the indicators an organisation may use; report sightings.
    Match(matching::MatchArgs),
    /// Verify or list the tamper-evident audit log.
    Audit(admin::AuditArgs),
    /// Add country, network and registered domain to every observable.
    Enrich(enrich::EnrichArgs),
    /// Takedown operations: targets, reports, dissemination, tracking, statistics.
    #[command(subcommand)]
    Operation(operation::OperationCmd),
    /// Purge source data past its agreement's retention (dry run without --apply).
    Retention(retention::RetentionArgs),
    /// Serve TAXII 2.1, the REST API and /metrics.
    Serve(serve::ServeArgs),
    /// Pull from or push to another TAXII 2.1 server.
    #[command(subcommand)]
    Sync(sync::SyncCmd),
}

/// Open the store named by the global options.
pub fn open_store(cli: &Cli) -> Result<Store> {
    match &cli.database_url {
        Some(url) => Store::open_postgres(url, None)
            .with_context(|| format!("opening {}", crate::store::postgres::redact(url))),
        None => {
            // Only `init` and `quickstart` make a store: elsewhere a mistyped --data would
            // create an empty one and answer from it ("audit chain intact: 0 entries").
            let db = cli.data.join(crate::store::SQLITE_FILE);
            if !matches!(cli.command, Command::Init(_) | Command::Quickstart(_)) && !db.exists() {
                bail!(
                    "no threatgate store at {}: check --data (or THREATGATE_DATA), or create one with `threatgate init --data {}`",
                    db.display(),
                    cli.data.display()
                );
            }
            Store::open_dir(&cli.data).with_context(|| format!("opening {}", cli.data.display()))
        }
    }
}

/// The org named on the command line, with a helpful error listing the known ones.
pub fn org_named(store: &Store, name: &str) -> Result<Org> {
    if let Some(o) = store.org_by_name(name)? {
        return Ok(o);
    }
    let known: Vec<String> = store.orgs()?.into_iter().map(|o| o.name).collect();
    if known.is_empty() {
        bail!(
            "no organisation named {name:?}: the store has none yet; run `threatgate init` first"
        );
    }
    bail!(
        "no organisation named {name:?}; known: {}",
        known.join(", ")
    )
}

/// The hub, or an error telling the user to run `init`.
pub fn hub(store: &Store) -> Result<Org> {
    store
        .hub()?
        .context("this store has no hub yet: run `threatgate init` first")
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Piped into `head`, a command should end quietly when the reader goes away, as Unix
    // tools do, not panic in `println!`. `serve` keeps Rust's default (SIGPIPE ignored).
    #[cfg(unix)]
    if !matches!(cli.command, Command::Serve(_)) {
        // SAFETY: called before any other thread exists; restores the OS default.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    init_tracing();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each said once: many errors already quote their source in
/// their own message ("{file}: {source}"), which `{:#}` would then repeat.
fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let c = cause.to_string();
        if text.contains(&c) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&c);
    }
    text
}

fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("THREATGATE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn run(cli: Cli) -> Result<ExitCode> {
    match &cli.command {
        Command::Quickstart(a) => quickstart::run(&cli, a),
        Command::Init(a) => admin::init(&cli, a),
        Command::Org(c) => admin::org(&cli, c),
        Command::Agreement(c) => admin::agreement(&cli, c),
        Command::Token(c) => admin::token(&cli, c),
        Command::Search(a) => search::run(&cli, a),
        Command::Audit(a) => admin::audit(&cli, a),
        Command::Enrich(a) => enrich::run(&cli, a),
        Command::Operation(c) => operation::run(&cli, c),
        Command::Retention(a) => retention::run(&cli, a),
        Command::Serve(a) => serve::run(&cli, a),
        Command::Sync(c) => sync::run(&cli, c),
        Command::Export(a) => export::run(&cli, a),
        Command::Ingest(a) => ingest::run(&cli, a),
        Command::Pattern(c) => pattern::run(c),
        Command::Match(a) => matching::run(&cli, a),
    }
}
