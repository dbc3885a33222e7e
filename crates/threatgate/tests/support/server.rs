//! The real axum application served in-process on 127.0.0.1:0, and small HTTP helpers for
//! its three faces: TAXII 2.1, the REST API and the UI (logged in through its login form).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::blocking::Client;
use reqwest::header;
use serde_json::Value;
use threatgate::server::{router, AppState, ServerConfig};
use threatgate::store::Store;

pub const TAXII_MEDIA: &str = "application/taxii+json;version=2.1";

/// A server on its own runtime; dropping it stops the server.
pub struct InProcess {
    pub base: String,
    pub state: AppState,
    /// Follows no redirects, so that the UI's 303s and cookies can be seen.
    pub http: Client,
    _rt: tokio::runtime::Runtime,
}

impl InProcess {
    pub fn start(store: Arc<Store>) -> InProcess {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let state = AppState::new(store, ServerConfig::new(addr));
        let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        rt.spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        InProcess {
            base: format!("http://{addr}"),
            state,
            http: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _rt: rt,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET with a bearer token: (status, body text).
    pub fn get(&self, path: &str, token: &str, accept: &str) -> (u16, String) {
        let r = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .header(header::ACCEPT, accept)
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (r.status().as_u16(), r.text().unwrap())
    }

    /// GET a REST path: (status, JSON or Null).
    pub fn api(&self, path: &str, token: &str) -> (u16, Value) {
        let (st, body) = self.get(path, token, "application/json");
        (st, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    /// Every object of a TAXII collection, following `next` to the end; `None` when the
    /// collection answers other than 200 (with its status).
    pub fn taxii_all(
        &self,
        token: &str,
        collection: &str,
        endpoint: &str,
    ) -> Result<Vec<Value>, u16> {
        let mut out = vec![];
        let mut next: Option<String> = None;
        loop {
            let mut path = format!("/taxii2/api/collections/{collection}/{endpoint}/?limit=37");
            if let Some(n) = &next {
                path.push_str(&format!("&next={n}"));
            }
            let (st, body) = self.get(&path, token, TAXII_MEDIA);
            if st != 200 {
                return Err(st);
            }
            let v: Value = serde_json::from_str(&body).unwrap();
            out.extend(v["objects"].as_array().cloned().unwrap_or_default());
            if v["more"] != true {
                return Ok(out);
            }
            next = Some(v["next"].as_str().expect("more without next").to_string());
        }
    }

    /// Log in to the UI with an API token through the login form; returns the Cookie
    /// header value that carries the session.
    pub fn ui_login(&self, token: &str) -> String {
        let r = self.http.get(self.url("/login")).send().unwrap();
        assert_eq!(r.status(), 200, "login form");
        let nonce = set_cookie(&r, "tg_login").expect("login cookie");
        let r = self
            .http
            .post(self.url("/login"))
            .header(header::COOKIE, format!("tg_login={nonce}"))
            .form(&[("token", token), ("csrf", nonce.as_str())])
            .send()
            .unwrap();
        assert_eq!(r.status(), 303, "login with a valid token redirects");
        format!(
            "tg_session={}",
            set_cookie(&r, "tg_session").expect("session cookie")
        )
    }

    /// GET a UI page with a session cookie: (status, HTML).
    pub fn page(&self, path: &str, cookie: &str) -> (u16, String) {
        let r = self
            .http
            .get(self.url(path))
            .header(header::COOKIE, cookie)
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (r.status().as_u16(), r.text().unwrap())
    }
}

fn set_cookie(r: &reqwest::blocking::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let first = c.split(';').next()?;
            let (k, v) = first.split_once('=')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
}

/// Percent-encode a query value.
pub fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}
