//! [`KeepAliveProxy`]: an HTTP/1.1 proxy in front of an AWS emulator that
//! keeps client connections alive and counts them, and records the AWS
//! action of every request.
//!
//! moto answers every request with `Connection: close`, so whatever a client
//! does, each call reconnects — connection reuse cannot be seen against it
//! directly. The proxy holds the client side open (keep-alive, hyper's
//! server) and opens a fresh upstream connection per request, so the number
//! of TCP connections the *client* opened is exactly what it would cost
//! against AWS. Headers pass unchanged both ways (the SDK signs `Host`; moto's
//! `Server` header is how the code recognises moto's crash pages), except
//! the hop-by-hop ones.
//!
//! [`KeepAliveProxy::start_strict`] also gives moto AWS's DeleteUser rule:
//! moto deletes a user that still has access keys, a login profile, MFA
//! devices, SSH keys, signing certificates or group memberships, where AWS
//! answers `DeleteConflict`. The strict proxy looks (through an admin
//! client straight to moto) and answers `DeleteConflict` itself, so code
//! relying on that answer can be tested.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};

/// Headers that describe one connection, not the message.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// A running proxy; stops when dropped.
pub struct KeepAliveProxy {
    /// `http://127.0.0.1:PORT`: point the client's endpoint here.
    pub endpoint: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

/// One request that passed the proxy: its AWS action and every form or
/// query parameter (test data only: parameters may hold passwords).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    pub action: String,
    pub params: Vec<(String, String)>,
}

impl ProxiedRequest {
    /// The value of one parameter (`UserName`, `PolicyArns.member.1.arn`...).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    upstream: SocketAddr,
    connections: AtomicUsize,
    requests: Mutex<Vec<ProxiedRequest>>,
    /// Set for a strict proxy: an admin IAM client straight to the emulator.
    strict: Option<aws_sdk_iam::Client>,
}

impl KeepAliveProxy {
    /// A proxy forwarding to `upstream` (`http://127.0.0.1:PORT`).
    pub async fn start(upstream: &str) -> KeepAliveProxy {
        Self::spawn(upstream, None).await
    }

    /// A proxy that also answers DeleteUser with AWS's `DeleteConflict`
    /// while the user still has anything AWS requires to be gone;
    /// `admin_iam` must reach the emulator directly.
    pub async fn start_strict(upstream: &str, admin_iam: aws_sdk_iam::Client) -> KeepAliveProxy {
        Self::spawn(upstream, Some(admin_iam)).await
    }

    async fn spawn(upstream: &str, strict: Option<aws_sdk_iam::Client>) -> KeepAliveProxy {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .unwrap_or_else(|e| panic!("proxy upstream {upstream} is not http://IP:PORT: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot bind the proxy: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("cannot read the proxy's port: {e}"))
            .port();
        let state = Arc::new(State {
            upstream,
            connections: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            strict,
        });
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&state)));
        KeepAliveProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            state,
            task,
        }
    }

    /// TCP connections clients have opened to the proxy so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The `Action` of every request so far (`CreateUser`, `DeleteUser`, ...),
    /// in arrival order.
    pub fn actions(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.action).collect()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl Drop for KeepAliveProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(req, &state).await) }
            });
            // A client hanging up mid-request is its own business.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(req: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return plain(
                StatusCode::BAD_REQUEST,
                format!("proxy: bad request body: {e}"),
            )
        }
    };
    let params: Vec<(String, String)> = form_urlencoded::parse(&body)
        .chain(form_urlencoded::parse(
            parts.uri.query().unwrap_or_default().as_bytes(),
        ))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let action =
        param("Action").unwrap_or_else(|| format!("{} {}", parts.method, parts.uri.path()));
    let user_name = param("UserName");
    state
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(ProxiedRequest {
            action: action.clone(),
            params,
        });

    if let (Some(admin), "DeleteUser", Some(user)) = (&state.strict, action.as_str(), user_name) {
        if let Some(what) = blocks_delete_user(admin, &user).await {
            return delete_conflict(&what);
        }
    }

    let mut upstream = Request::builder().method(parts.method.clone()).uri(
        parts
            .uri
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/"),
    );
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            upstream = upstream.header(name, value);
        }
    }
    let upstream = match upstream.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return plain(StatusCode::BAD_GATEWAY, format!("proxy: {e}")),
    };
    match forward(state.upstream, upstream).await {
        Ok(resp) => resp,
        Err(e) => plain(
            StatusCode::BAD_GATEWAY,
            format!("proxy: upstream failed: {e}"),
        ),
    }
}

/// One request on a connection of its own (the emulator closes it anyway).
async fn forward(
    upstream: SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let resp = sender.send_request(req).await?;
    let (parts, body) = resp.into_parts();
    let body = body.collect().await?.to_bytes();
    let mut out = Response::builder().status(parts.status);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) && name.as_str() != "content-length" {
            out = out.header(name, value);
        }
    }
    Ok(out.body(Full::new(body))?)
}

/// What AWS would refuse DeleteUser for that moto does not check (it does
/// check attached and inline policies itself). `None`: nothing.
async fn blocks_delete_user(iam: &aws_sdk_iam::Client, user: &str) -> Option<String> {
    let keys = iam.list_access_keys().user_name(user).send().await.ok()?;
    if !keys.access_key_metadata().is_empty() {
        return Some("access keys".into());
    }
    if iam.get_login_profile().user_name(user).send().await.is_ok() {
        return Some("login profile".into());
    }
    let mfa = iam.list_mfa_devices().user_name(user).send().await.ok()?;
    if !mfa.mfa_devices().is_empty() {
        return Some("MFA devices".into());
    }
    let ssh = iam
        .list_ssh_public_keys()
        .user_name(user)
        .send()
        .await
        .ok()?;
    if !ssh.ssh_public_keys().is_empty() {
        return Some("SSH public keys".into());
    }
    let certs = iam
        .list_signing_certificates()
        .user_name(user)
        .send()
        .await
        .ok()?;
    if !certs.certificates().is_empty() {
        return Some("signing certificates".into());
    }
    let groups = iam
        .list_groups_for_user()
        .user_name(user)
        .send()
        .await
        .ok()?;
    if !groups.groups().is_empty() {
        return Some("group memberships".into());
    }
    None
}

/// AWS's answer, in its awsQuery error shape.
fn delete_conflict(what: &str) -> Response<Full<Bytes>> {
    let body = format!(
        "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type>\
         <Code>DeleteConflict</Code><Message>Cannot delete entity, must remove {what} first.</Message>\
         </Error><RequestId>dynsec-testkit-strict-proxy</RequestId></ErrorResponse>"
    );
    Response::builder()
        .status(StatusCode::CONFLICT)
        .header("content-type", "text/xml")
        .body(Full::new(Bytes::from(body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn plain(status: StatusCode, text: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(text)));
    *resp.status_mut() = status;
    resp
}
