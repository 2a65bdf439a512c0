//! End-to-end HTTPS: the gateway binary serving TLS with a certificate from a
//! throw-away CA (made with the `openssl` CLI), reached by reqwest, by a raw
//! rustls client (keep-alive), and by the `dynsec` CLI with and without
//! `--ca-file`; plain HTTP to the TLS port and bad certificate flags fail.
//! SIGHUP reloads the certificate (a bad one is refused, the old one kept);
//! a `CA:TRUE` server certificate gets a hint naming the problem.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::bin;
use dynsec_testkit::{Gateway, TempDir, ADMIN_ACCESS_ID, ADMIN_ACCESS_KEY};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio_rustls::rustls;

/// A CA and a server certificate for 127.0.0.1 signed by it.
struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// A key that does not belong to `cert`.
    other_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl (needed by the TLS tests): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_pki(dir: &Path) -> Pki {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=dynsec test CA"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=127.0.0.1"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "4242",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-out",
            "other.key",
        ],
    );
    Pki {
        ca: dir.join("ca.pem"),
        cert: dir.join("server.pem"),
        key: dir.join("server.key"),
        other_key: dir.join("other.key"),
    }
}

/// A second server certificate for 127.0.0.1 from the same CA, with a key
/// of its own: (certificate, key).
fn reissue(dir: &Path, serial: &str) -> (PathBuf, PathBuf) {
    let key = format!("server-{serial}.key");
    let csr = format!("server-{serial}.csr");
    let cert = format!("server-{serial}.pem");
    openssl(
        dir,
        &[
            "req",
            "-subj",
            "/CN=127.0.0.1",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            serial,
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            &cert,
        ],
    );
    (dir.join(cert), dir.join(key))
}

fn first_der(pem_file: &Path) -> Vec<u8> {
    use rustls::pki_types::pem::PemObject;
    let pem = std::fs::read(pem_file).unwrap();
    rustls::pki_types::CertificateDer::pem_slice_iter(&pem)
        .next()
        .unwrap()
        .unwrap()
        .as_ref()
        .to_vec()
}

/// The certificate a new TLS connection to `url` is served.
async fn served_certificate(pki: &Pki, url: &str) -> Vec<u8> {
    let conn = raw_tls(pki, url).await;
    let (_, session) = conn.get_ref().get_ref();
    session.peer_certificates().unwrap()[0].as_ref().to_vec()
}

fn send_signal(gw: &Gateway, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &gw.pid().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until the gateway's log says `needle` `count` times.
async fn wait_for_log(gw: &Gateway, needle: &str, count: usize) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while gw.log().matches(needle).count() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway never logged '{needle}' ×{count}:\n{}",
            gw.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sighup_reloads_the_certificate_and_keeps_the_old_one_when_the_new_is_bad() {
    let dir = TempDir::new("dynsec-tls-reload");
    let pki = make_pki(dir.path());
    // The gateway reads these paths; the test replaces their contents.
    let live_cert = dir.path().join("live.pem");
    let live_key = dir.path().join("live.key");
    std::fs::copy(&pki.cert, &live_cert).unwrap();
    std::fs::copy(&pki.key, &live_key).unwrap();
    let live = Pki {
        ca: pki.ca.clone(),
        cert: live_cert.clone(),
        key: live_key.clone(),
        other_key: pki.other_key.clone(),
    };
    let gw = start_tls(&dir, &live, &[]).await;
    assert_eq!(
        served_certificate(&pki, &gw.url).await,
        first_der(&pki.cert)
    );
    // A connection opened before the reload keeps working on the old one.
    let mut before = raw_tls(&pki, &gw.url).await;

    let (new_cert, new_key) = reissue(dir.path(), "4343");
    std::fs::copy(&new_cert, &live_cert).unwrap();
    std::fs::copy(&new_key, &live_key).unwrap();
    send_signal(&gw, "-HUP");
    wait_for_log(&gw, "reloaded the TLS certificate", 1).await;
    assert_eq!(
        served_certificate(&pki, &gw.url).await,
        first_der(&new_cert),
        "new connections get the reloaded certificate"
    );
    let creds = json!({"access-id": ADMIN_ACCESS_ID, "access-key": ADMIN_ACCESS_KEY}).to_string();
    let (status, body) = exchange(&mut before, &creds).await;
    assert_eq!(status, 200, "{body}");

    // A certificate that does not match the key: refused, the last good one stays.
    std::fs::copy(&pki.cert, &live_cert).unwrap();
    send_signal(&gw, "-HUP");
    wait_for_log(&gw, "cannot reload the TLS certificate", 1).await;
    assert_eq!(
        served_certificate(&pki, &gw.url).await,
        first_der(&new_cert)
    );
    // And a file that is no certificate at all.
    std::fs::write(&live_cert, "not a certificate").unwrap();
    send_signal(&gw, "-HUP");
    wait_for_log(&gw, "cannot reload the TLS certificate", 2).await;
    let client = https_client(&pki);
    let (status, body) = post(
        &client,
        &gw.url,
        "auth",
        &json!({"access-id": ADMIN_ACCESS_ID, "access-key": ADMIN_ACCESS_KEY}),
    )
    .await;
    assert_eq!(status, 200, "still serving: {body}");
    assert!(!gw.log().contains("BEGIN"), "no PEM content in the log");
    assert!(gw.stop().await, "the gateway stops cleanly after reloads");
}

#[tokio::test]
async fn a_ca_certificate_as_the_server_certificate_gets_a_hint_naming_it() {
    let dir = TempDir::new("dynsec-tls-ca-leaf");
    // What `openssl req -x509` makes by default: a self-signed CA:TRUE certificate.
    openssl(
        dir.path(),
        &[
            "req",
            "-x509",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "self.key",
            "-out",
            "self.pem",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
    );
    let cert = dir.path().join("self.pem");
    let key = dir.path().join("self.key");
    let gw = Gateway::start_with_args(
        &bin(),
        &dir.path().join("data"),
        &[],
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        gw.log()
            .contains("is a CA certificate (basicConstraints CA:TRUE"),
        "the gateway names the problem at start:\n{}",
        gw.log()
    );
    let home = TempDir::new("dynsec-tls-ca-leaf-cli");
    let (ok, stdout, stderr) =
        cli(&gw.url, home.path(), &["--ca-file", cert.to_str().unwrap()]).await;
    assert!(
        !ok,
        "webpki refuses a CA certificate as the server's: {stdout}"
    );
    assert!(
        stderr.contains("CA:TRUE") && stderr.contains("CA:FALSE"),
        "the CLI names the real problem, not just 'not trusted': {stderr}"
    );

    // A proper leaf (CA:FALSE) gets no such warning.
    let pki = make_pki(dir.path());
    let leaf = Gateway::start_with_args(
        &bin(),
        &dir.path().join("data2"),
        &[],
        &[
            "--tls-cert",
            pki.cert.to_str().unwrap(),
            "--tls-key",
            pki.key.to_str().unwrap(),
        ],
    )
    .await;
    assert!(!leaf.log().contains("CA:TRUE"), "{}", leaf.log());
}

async fn start_tls(dir: &TempDir, pki: &Pki, extra: &[&str]) -> Gateway {
    let mut args = vec![
        "--tls-cert",
        pki.cert.to_str().unwrap(),
        "--tls-key",
        pki.key.to_str().unwrap(),
    ];
    args.extend(extra);
    Gateway::start_with_args(&bin(), &dir.path().join("data"), &[], &args).await
}

/// reqwest trusting exactly the test CA.
fn https_client(pki: &Pki) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(&pki.ca).unwrap()).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap()
}

async fn post(client: &reqwest::Client, url: &str, op: &str, body: &Value) -> (u16, Value) {
    let response = client
        .post(format!("{url}/api/v2/{op}"))
        .json(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{op} over HTTPS failed: {e:?}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// One HTTP/1.1 exchange on an open connection; returns status and body.
async fn exchange<S>(stream: &mut BufReader<S>, body: &str) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let request = format!(
        "POST /api/v2/auth HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .unwrap();
    stream.get_mut().flush().await.unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).await.unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
        }
    }
    let mut answer = vec![0; length];
    stream.read_exact(&mut answer).await.unwrap();
    (status, String::from_utf8(answer).unwrap())
}

/// A raw rustls client connection to `url` trusting the test CA.
async fn raw_tls(
    pki: &Pki,
    url: &str,
) -> BufReader<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&pki.ca).unwrap();
    use rustls::pki_types::pem::PemObject;
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let addr = url.strip_prefix("https://").unwrap();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    BufReader::new(tls)
}

/// Runs the `dynsec` CLI against `url` as the preset admin.
async fn cli(url: &str, home: &Path, extra: &[&str]) -> (bool, String, String) {
    let mut command = tokio::process::Command::new(bin());
    command
        .arg("list-items")
        .args(extra)
        .env("DYNSEC_HOME", home)
        .env("DYNSEC_GATEWAY_URL", url)
        .env("DYNSEC_ACCESS_ID", ADMIN_ACCESS_ID)
        .env("DYNSEC_ACCESS_KEY", ADMIN_ACCESS_KEY)
        .env_remove("DYNSEC_CA_FILE")
        .env_remove("DYNSEC_PROFILE")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the CLI finished")
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn https_round_trip_keep_alive_cli_and_graceful_stop() {
    let dir = TempDir::new("dynsec-tls");
    let pki = make_pki(dir.path());
    let audit_log = dir.path().join("custom-audit.jsonl");
    let gw = start_tls(&dir, &pki, &["--audit-log", audit_log.to_str().unwrap()]).await;
    assert!(gw.url.starts_with("https://127.0.0.1:"), "{}", gw.url);

    // reqwest trusting the CA: auth, then an operation with the token.
    let client = https_client(&pki);
    let (status, auth) = post(
        &client,
        &gw.url,
        "auth",
        &json!({"access-id": ADMIN_ACCESS_ID, "access-key": ADMIN_ACCESS_KEY}),
    )
    .await;
    assert_eq!(status, 200, "{auth}");
    let token = auth["token"].as_str().unwrap();
    let (status, items) = post(&client, &gw.url, "list-items", &json!({"token": token})).await;
    assert_eq!(status, 200, "{items}");

    // Keep-alive: two requests on one TLS connection.
    let mut conn = raw_tls(&pki, &gw.url).await;
    let creds = json!({"access-id": ADMIN_ACCESS_ID, "access-key": ADMIN_ACCESS_KEY}).to_string();
    for _ in 0..2 {
        let (status, body) = exchange(&mut conn, &creds).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("\"token\""), "{body}");
    }
    assert_eq!(
        conn.get_ref().get_ref().1.alpn_protocol(),
        Some(&b"http/1.1"[..]),
        "offered h2 and http/1.1, the gateway picks the one it speaks"
    );

    // The CLI: trusted with --ca-file, refused with a hint without it.
    let home = TempDir::new("dynsec-tls-cli");
    let (ok, stdout, stderr) = cli(
        &gw.url,
        home.path(),
        &["--ca-file", pki.ca.to_str().unwrap()],
    )
    .await;
    assert!(ok, "CLI with --ca-file failed:\n{stdout}\n{stderr}");
    serde_json::from_str::<Value>(&stdout).expect("the CLI prints JSON");
    let (ok, stdout, stderr) = cli(&gw.url, home.path(), &[]).await;
    assert!(!ok, "CLI without --ca-file must fail:\n{stdout}");
    assert!(
        stderr.contains("--ca-file") && stderr.contains("not trusted"),
        "the failure must say what to do: {stderr}"
    );

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = gw.url.replacen("https://", "http://", 1);
    let result = reqwest::Client::new()
        .post(format!("{plain}/api/v2/auth"))
        .json(&json!({}))
        .timeout(Duration::from_secs(10))
        .send()
        .await;
    assert!(result.is_err(), "plain HTTP must fail: {result:?}");
    // ... and the gateway is unharmed.
    let (status, _) = post(&client, &gw.url, "list-items", &json!({"token": token})).await;
    assert_eq!(status, 200);

    // Graceful stop with an idle keep-alive connection still open.
    let stopped = gw.stop().await;
    assert!(stopped, "the TLS gateway must stop cleanly on SIGTERM");
    drop(conn);

    // The audit log went where --audit-log said, one line per HTTPS request:
    // auth, list-items, auth ×2 (keep-alive), the CLI's auth + list-items
    // (with --ca-file; without it no request got through), list-items.
    let text = std::fs::read_to_string(&audit_log).unwrap();
    let ops: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["operation"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        ops,
        [
            "auth",
            "list-items",
            "auth",
            "auth",
            "auth",
            "list-items",
            "list-items"
        ],
        "{text}"
    );
    assert!(!text.contains(ADMIN_ACCESS_KEY) && !text.contains(token));
    assert!(!dir.path().join("data").join("audit.log").exists());
}

#[tokio::test]
async fn bad_tls_flags_stop_the_start_with_the_flag_named() {
    let dir = TempDir::new("dynsec-tls-bad");
    let pki = make_pki(dir.path());
    let missing = dir.path().join("missing.pem");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let cert = pki.cert.to_str().unwrap();
    let key = pki.key.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--tls-cert", missing.to_str().unwrap(), "--tls-key", key],
            "--tls-cert",
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", missing.to_str().unwrap()],
            "--tls-key",
        ),
        (
            vec!["--tls-cert", not_pem.to_str().unwrap(), "--tls-key", key],
            "--tls-cert",
        ),
        (
            vec!["--tls-cert", cert, "--tls-key", not_pem.to_str().unwrap()],
            "--tls-key",
        ),
        (
            vec![
                "--tls-cert",
                cert,
                "--tls-key",
                pki.other_key.to_str().unwrap(),
            ],
            "--tls-cert/--tls-key",
        ),
        (vec!["--tls-cert", cert], "needs --tls-key"),
    ];
    for (args, expected) in cases {
        let out = tokio::process::Command::new(bin())
            .arg("gateway")
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(&args)
            .env_remove("DYNSEC_TLS_CERT")
            .env_remove("DYNSEC_TLS_KEY")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(Duration::from_secs(60), out)
            .await
            .expect("the gateway gave up")
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} must not start");
        assert!(
            stderr.contains(expected) && !stderr.contains("listening on"),
            "{args:?}: expected '{expected}' in:\n{stderr}"
        );
        assert!(
            !stderr.contains("BEGIN"),
            "no PEM content in errors: {stderr}"
        );
    }
}
