//! `threatgate serve`: run the TAXII 2.1 server, the REST API and `/metrics`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;

use super::{open_store, Cli};
use crate::server::{self, ServerConfig};

/// Worker threads of the async runtime when not given: the store work runs on the
/// blocking pool, so a few I/O threads suffice.
const DEFAULT_WORKERS: usize = 4;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Title announced by TAXII discovery.
    #[arg(long, default_value = "threatgate")]
    pub title: String,
    /// Failed authentications one client IP may make in a burst before it must wait.
    #[arg(long, default_value_t = crate::server::limits::AUTH_FAILURE_BURST)]
    pub auth_failure_burst: f64,
    /// Async worker threads.
    #[arg(long, default_value_t = DEFAULT_WORKERS)]
    pub workers: usize,
    /// MiB of rendered TAXII object pages kept for readers of the same pages, counted
    /// compressed (0: none). Any write of data retires them all.
    #[arg(long, default_value_t = crate::server::limits::PAGE_CACHE_BYTES / (1024 * 1024))]
    pub page_cache_mb: usize,
}

pub fn run(cli: &Cli, a: &ServeArgs) -> Result<ExitCode> {
    bound_allocator_memory();
    let store = Arc::new(open_store(cli)?);
    let mut config = ServerConfig::new(a.listen);
    config.tls_cert = a.tls_cert.clone();
    config.tls_key = a.tls_key.clone();
    config.title = a.title.clone();
    config.auth_failure_burst = a.auth_failure_burst;
    config.page_cache_bytes = a.page_cache_mb * 1024 * 1024;
    eprintln!("serving {} on {}", store.describe(), a.listen);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.workers.max(1))
        .max_blocking_threads(crate::server::limits::STORE_THREADS)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(server::serve(store, config))?;
    Ok(ExitCode::SUCCESS)
}

/// glibc gives each thread that allocates its own arena (up to 8 per core) and keeps what
/// each arena ever held: with the server's store threads rendering ~500 KB pages, RSS
/// settled near 1.2 GB whatever the page cache's size (bench/TAXII_RESULTS.md). Two arenas,
/// and buffers past 256 KB mapped on their own (so freeing one gives it back), keep RSS
/// close to what is in use. Set before the runtime's threads start. The binary's batch
/// commands (ingest, match) run on mimalloc (`crate::alloc`); the server switches back to
/// glibc's first, so that this bound is the one measured.
fn bound_allocator_memory() {
    crate::alloc::use_system_allocator();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tunables and takes glibc's own locks.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}
