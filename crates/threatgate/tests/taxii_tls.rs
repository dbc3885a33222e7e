//! HTTPS through rustls when `--tls-cert/--tls-key` are given (a self-signed certificate
//! made with the `openssl` command line for 127.0.0.1).

#[path = "interop/harness.rs"]
mod harness;

use std::process::Command;

use harness::*;

#[test]
fn serves_taxii_over_tls() {
    let (dir, w) = sqlite_world();
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .args(["-addext", "extendedKeyUsage=serverAuth"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(o) if o.status.success() => {}
        other => {
            assert!(
                std::env::var_os("CI").is_none(),
                "openssl is needed for the TLS test: {other:?}"
            );
            eprintln!("skipping: no openssl");
            return;
        }
    }
    let s = Server::start(
        &["--data".into(), dir.path().display().to_string()],
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let pem = std::fs::read(&cert).unwrap();
    let client = reqwest::blocking::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{}/taxii2/", s.port);
    let r = client
        .get(&url)
        .bearer_auth(&w.tok_fr)
        .header("Accept", TAXII)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let d: serde_json::Value = r.json().unwrap();
    assert!(
        d["default"].as_str().unwrap().starts_with("https://"),
        "{d}"
    );
    // Plain HTTP to the TLS port does not get an answer.
    let plain = reqwest::blocking::Client::new()
        .get(format!("http://127.0.0.1:{}/taxii2/", s.port))
        .bearer_auth(&w.tok_fr)
        .send();
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true));
    // A bad key file is a clear startup error.
    let out = Command::new(BIN)
        .args([
            "--data",
            dir.path().to_str().unwrap(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .args([
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            cert.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("TLS"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
