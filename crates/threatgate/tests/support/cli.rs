//! The real binary run as an operator types it, on a given `--data` directory (the
//! environment's store settings removed, so only the arguments decide).

use std::path::Path;
use std::process::{Command, Output};

pub fn cmd(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_threatgate"));
    c.arg("--data")
        .arg(data)
        .args(args)
        .env_remove("THREATGATE_DATABASE_URL")
        .env_remove("THREATGATE_DATA");
    c
}

pub fn tg(data: &Path, args: &[&str]) -> Output {
    cmd(data, args).output().expect("run threatgate")
}

/// Standard output of a command that must succeed.
pub fn ok(data: &Path, args: &[&str]) -> String {
    let o = tg(data, args);
    assert!(
        o.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}
