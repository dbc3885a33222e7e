//! `threatgate sync pull|push`: federation with another TAXII 2.1 server.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use super::Cli;

#[derive(Subcommand, Debug)]
pub enum SyncCmd {}

pub fn run(_cli: &Cli, c: &SyncCmd) -> Result<ExitCode> {
    match *c {}
}
