//! `threatgate serve`: TAXII 2.1 ([`taxii`]), the REST management API ([`api`]) with its
//! OpenAPI document, `/metrics` ([`metrics`]), and a hook for the web UI.
//!
//! The server keeps no state between requests beyond counters and the authentication
//! failure limiter: everything else is in the store, so any number of nodes can share one
//! PostgreSQL store behind a load balancer (a write on one is read on the others).
//! The store API is synchronous; handlers call it on the blocking pool.
//!
//! Architecture invariant: handlers never decide access. They authenticate ([`auth`]),
//! check the token's role with [`crate::policy::role_allows`], and read through
//! [`crate::lookup::scope_for`] and the store's scoped reads.

pub mod api;
pub mod auth;
pub mod collections;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod taxii;
pub mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;

use crate::store::Store;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// PEM certificate chain and private key; both given means HTTPS (rustls).
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Title of the TAXII server (discovery).
    pub title: String,
    /// Whether clients reach us over TLS (for URLs we hand out).
    pub tls: bool,
    /// Failed authentications a client IP may make in a burst.
    pub auth_failure_burst: f64,
    /// Bytes of rendered TAXII object pages kept ([`taxii::cache`]; 0: none).
    pub page_cache_bytes: usize,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr) -> ServerConfig {
        ServerConfig {
            listen,
            tls_cert: None,
            tls_key: None,
            title: "threatgate".into(),
            tls: false,
            auth_failure_burst: limits::AUTH_FAILURE_BURST,
            page_cache_bytes: limits::PAGE_CACHE_BYTES,
        }
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub metrics: Arc<metrics::Metrics>,
    pub limiter: Arc<auth::AuthLimiter>,
    pub config: Arc<ServerConfig>,
    /// Rendered TAXII object pages.
    pub pages: Arc<taxii::cache::PageCache>,
}

impl AppState {
    pub fn new(store: Arc<Store>, config: ServerConfig) -> AppState {
        AppState {
            store,
            metrics: Arc::new(metrics::Metrics::new()),
            limiter: Arc::new(auth::AuthLimiter::new(config.auth_failure_burst)),
            pages: Arc::new(taxii::cache::PageCache::new(config.page_cache_bytes)),
            config: Arc::new(config),
        }
    }
}

/// Routes the web UI adds (`server/ui/`): pages at `/`, with their own session state.
fn ui_routes(state: &AppState) -> Router<AppState> {
    ui::router_with(
        ui::Ui::new(state.store.clone(), state.config.tls).with_limiter(state.limiter.clone()),
    )
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(taxii::router())
        .merge(api::router())
        .merge(ui_routes(&state))
        .route("/metrics", get(metrics::handler))
        // Bodies past the limit are refused before they are read into memory; handlers
        // still check the length so their message names the limit.
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES + 1))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// Run the server until Ctrl-C or SIGTERM.
pub async fn serve(store: Arc<Store>, config: ServerConfig) -> anyhow::Result<()> {
    use anyhow::Context;
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => Some((c.clone(), k.clone())),
        (None, None) => None,
        _ => anyhow::bail!(
            "give both --tls-cert and --tls-key (PEM files) for HTTPS, or neither for HTTP"
        ),
    };
    let mut config = config;
    config.tls = tls.is_some();
    let listen = config.listen;
    let state = AppState::new(store, config);
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let h2 = handle.clone();
    let h3 = handle.clone();
    tokio::spawn(async move {
        // Tests and scripts read this line to learn the port (`--listen 127.0.0.1:0`).
        if let Some(addr) = h3.listening().await {
            println!("threatgate listening on {addr}");
        }
    });
    tokio::spawn(async move {
        shutdown_signal().await;
        h2.graceful_shutdown(Some(std::time::Duration::from_secs(10)));
    });
    match tls {
        Some((cert, key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let rc = axum_server::tls_rustls::RustlsConfig::from_pem_file(&cert, &key)
                .await
                .with_context(|| {
                    format!(
                        "loading TLS certificate {} and key {} (PEM)",
                        cert.display(),
                        key.display()
                    )
                })?;
            tracing::info!(%listen, "serving HTTPS");
            axum_server::bind_rustls(listen, rc)
                .handle(handle)
                .serve(app)
                .await
                .with_context(|| format!("serving on {listen}"))?;
        }
        None => {
            tracing::info!(%listen, "serving HTTP");
            axum_server::bind(listen)
                .handle(handle)
                .serve(app)
                .await
                .with_context(|| format!("serving on {listen}"))?;
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
