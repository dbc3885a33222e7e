//! Liveness probes: is a target still up?
//!
//! - IP targets: a TCP connect to each port its sources named (or [`DEFAULT_PORTS`]);
//!   online when any port accepts.
//! - Domain targets: the same on the domain's name.
//! - URL targets: an HTTP GET; online when the server answers with a status below 400
//!   (a cleaned site answers 404 or 410; a server that does not answer is offline).
//!   Certificates are not verified: the question is whether the content is still served,
//!   not whether the site is trustworthy.
//!
//! At most `concurrency` probes run at once and each has its own timeout, so one dead
//! network cannot stall the run. Targets in a final state other than actioned
//! (rejected, false-positive) are not probed.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::{Observation, Operation, OpsError, Result, Target, TargetState};
use crate::model::{Kind, OrgId};
use crate::store::Store;

/// Ports tried on an IP or domain target whose sources named none.
pub const DEFAULT_PORTS: &[u16] = &[443, 80];
/// Default and largest number of probes in flight.
pub const DEFAULT_CONCURRENCY: usize = 32;
pub const MAX_CONCURRENCY: usize = 512;
/// Default and largest per-probe timeout, in milliseconds.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
pub const MAX_TIMEOUT_MS: u64 = 60_000;
/// Redirects followed by an HTTP probe.
pub const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone, Copy)]
pub struct ProbeOptions {
    pub concurrency: usize,
    pub timeout: Duration,
}

impl ProbeOptions {
    pub fn new(concurrency: usize, timeout_ms: u64) -> Result<ProbeOptions> {
        if concurrency == 0 || concurrency > MAX_CONCURRENCY {
            return Err(OpsError::Invalid(format!(
                "--concurrency must be between 1 and {MAX_CONCURRENCY}"
            )));
        }
        if timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_MS {
            return Err(OpsError::Invalid(format!(
                "--timeout must be between 1 and {MAX_TIMEOUT_MS} ms"
            )));
        }
        Ok(ProbeOptions {
            concurrency,
            timeout: Duration::from_millis(timeout_ms),
        })
    }
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            concurrency: DEFAULT_CONCURRENCY,
            timeout: Duration::from_millis(DEFAULT_TIMEOUT_MS),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ProbeRun {
    pub probed: usize,
    pub online: usize,
    pub offline: usize,
}

/// Probe every target of `op` worth probing and record what was seen.
pub fn probe_operation(
    store: &Store,
    op: &Operation,
    opts: ProbeOptions,
    actor: Option<OrgId>,
) -> Result<ProbeRun> {
    let targets: Vec<Target> = store
        .targets(op.id)?
        .into_iter()
        .filter(|t| !matches!(t.state, TargetState::Rejected | TargetState::FalsePositive))
        .collect();
    let obs = probe_targets(&targets, opts)?;
    let online = obs.iter().filter(|o| o.online).count();
    store.add_observations(op.id, &obs, actor, "probe")?;
    Ok(ProbeRun {
        probed: obs.len(),
        online,
        offline: obs.len() - online,
    })
}

/// Probe targets (no store access), one observation each, in the targets' order.
pub fn probe_targets(targets: &[Target], opts: ProbeOptions) -> Result<Vec<Observation>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| OpsError::Invalid(format!("cannot start the probe runtime: {e}")))?;
    let client = reqwest::Client::builder()
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .build()
        .map_err(|e| OpsError::Invalid(format!("cannot build the HTTP client: {e}")))?;
    rt.block_on(async {
        let sem = Arc::new(Semaphore::new(opts.concurrency));
        let mut set = tokio::task::JoinSet::new();
        for (i, t) in targets.iter().enumerate() {
            let sem = sem.clone();
            let client = client.clone();
            let t = t.clone();
            set.spawn(async move {
                let _permit = sem
                    .acquire_owned()
                    .await
                    .expect("semaphore is never closed");
                let (online, method, detail) = probe_one(&client, &t, opts.timeout).await;
                (
                    i,
                    Observation {
                        target_id: t.id,
                        at: Utc::now(),
                        online,
                        method: method.into(),
                        detail,
                    },
                )
            });
        }
        let mut out: Vec<Option<Observation>> = vec![None; targets.len()];
        while let Some(r) = set.join_next().await {
            let (i, o) = r.map_err(|e| OpsError::Invalid(format!("a probe task failed: {e}")))?;
            out[i] = Some(o);
        }
        Ok(out.into_iter().flatten().collect())
    })
}

async fn probe_one(
    client: &reqwest::Client,
    t: &Target,
    timeout: Duration,
) -> (bool, &'static str, String) {
    match t.kind {
        Kind::Url => match client.get(&t.value).send().await {
            Ok(r) => {
                let s = r.status().as_u16();
                (s < 400, "http", format!("HTTP {s}"))
            }
            Err(e) => (false, "http", format!("no answer: {}", short_error(&e))),
        },
        _ => {
            let host = t.value.split('/').next().unwrap_or(&t.value).to_string();
            let ports: Vec<u16> = if t.snapshot.ports.is_empty() {
                DEFAULT_PORTS.to_vec()
            } else {
                t.snapshot.ports.clone()
            };
            let mut tried = vec![];
            for p in ports {
                let addr = if host.contains(':') {
                    format!("[{host}]:{p}")
                } else {
                    format!("{host}:{p}")
                };
                match tokio::time::timeout(timeout, TcpStream::connect(&addr)).await {
                    Ok(Ok(_)) => return (true, "tcp", format!("port {p} accepts connections")),
                    Ok(Err(e)) => tried.push(format!("{p}: {}", e.kind())),
                    Err(_) => tried.push(format!("{p}: timed out")),
                }
            }
            (
                false,
                "tcp",
                format!("no port accepts ({})", tried.join(", ")),
            )
        }
    }
}

fn short_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection refused or unreachable".into()
    } else {
        e.to_string().chars().take(200).collect()
    }
}
