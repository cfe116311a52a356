//! A loopback HTTP/1.1 proxy in front of the API server, owned by the test: it passes every
//! request on through the test's own client (which holds the credentials), records every write
//! (POST, PUT, PATCH, DELETE) it receives, and injects faults ([`Faults`]): it may throttle
//! (answer the first writes under some path prefixes with `429 Too Many Requests` and
//! `Retry-After: 1`, as API Priority and Fairness does) and expire watches (answer the first
//! watches under a prefix with one `ERROR` event of `410 Gone`, as etcd compaction does). An operator pointed at [`ApiProxy::url`] (in-process through a
//! `kube::Config`, as a process through [`ApiProxy::kubeconfig`]) talks to the real API server
//! with the test seeing and shaping its traffic.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Result;
use kube::Client;
use serde_json::json;

/// Writes under any of `scopes` (path prefixes) are answered 429, the first `budget` of them.
pub(crate) struct Throttle {
    pub(crate) scopes: Vec<String>,
    pub(crate) budget: usize,
}

/// The first `budget` watches under `scope` (a path prefix) get one `ERROR` event, `410 Gone`
/// ("too old resource version"), and end.
pub(crate) struct ExpireWatches {
    pub(crate) scope: String,
    pub(crate) budget: usize,
}

/// The faults a proxy injects; none by default.
#[derive(Default)]
pub(crate) struct Faults {
    pub(crate) throttle: Option<Throttle>,
    pub(crate) expire_watches: Option<ExpireWatches>,
}

/// One write request the proxy received.
#[derive(Debug, Clone)]
pub(crate) struct Write {
    /// When it arrived.
    pub(crate) at: Instant,
    pub(crate) method: String,
    /// The path and query.
    pub(crate) path: String,
}

/// The running proxy; stops when dropped.
pub(crate) struct ApiProxy {
    url: String,
    throttled: Arc<AtomicUsize>,
    expired: Arc<AtomicUsize>,
    writes: Arc<Mutex<Vec<Write>>>,
    task: tokio::task::JoinHandle<()>,
}

/// What every connection shares.
struct Shared {
    upstream: Client,
    faults: Faults,
    throttled: Arc<AtomicUsize>,
    expired: Arc<AtomicUsize>,
    writes: Arc<Mutex<Vec<Write>>>,
}

impl ApiProxy {
    /// Listens on a free loopback port and forwards to the API server `upstream` talks to.
    pub(crate) async fn start(upstream: Client, faults: Faults) -> Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let throttled = Arc::new(AtomicUsize::new(0));
        let expired = Arc::new(AtomicUsize::new(0));
        let writes = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::new(Shared {
            upstream,
            faults,
            throttled: throttled.clone(),
            expired: expired.clone(),
            writes: writes.clone(),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let _ = serve(stream, &shared).await;
                });
            }
        });
        Ok(Self {
            url,
            throttled,
            expired,
            writes,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// How many 429s were answered.
    pub(crate) fn throttled(&self) -> usize {
        self.throttled.load(Ordering::SeqCst)
    }

    /// How many watches were expired.
    pub(crate) fn expired(&self) -> usize {
        self.expired.load(Ordering::SeqCst)
    }

    /// Every write received so far, in order of arrival.
    pub(crate) fn writes(&self) -> Vec<Write> {
        self.writes.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// A kubeconfig file naming this proxy as the cluster (plain HTTP, no credentials: the
    /// proxy adds the test's), for an operator run as a process; named after `name`.
    pub(crate) fn kubeconfig(&self, name: &str) -> Result<PathBuf> {
        let path = std::env::temp_dir().join(format!("{name}.proxy.kubeconfig"));
        let config = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "proxy", "cluster": {"server": self.url}}],
            "users": [{"name": "proxy", "user": {}}],
            "contexts": [{"name": "proxy", "context": {"cluster": "proxy", "user": "proxy"}}],
            "current-context": "proxy",
        });
        std::fs::write(&path, serde_json::to_string_pretty(&config)?)?;
        Ok(path)
    }
}

impl Drop for ApiProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One request read off a connection.
struct Incoming {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Reads the next request of a connection; `None` when it closes.
async fn read_request(
    reader: &mut (impl tokio::io::AsyncBufRead + Unpin),
) -> Result<Option<Incoming>> {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or_default().to_string(),
        parts.next().unwrap_or_default().to_string(),
    );
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).await?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    Ok(Some(Incoming {
        method,
        path,
        headers,
        body,
    }))
}

/// Serves one connection until it closes.
async fn serve(stream: tokio::net::TcpStream, shared: &Shared) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let (read, mut write) = stream.into_split();
    let mut reader = tokio::io::BufReader::new(read);
    while let Some(request) = read_request(&mut reader).await? {
        let write_request = matches!(request.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE");
        if write_request && let Ok(mut writes) = shared.writes.lock() {
            writes.push(Write {
                at: Instant::now(),
                method: request.method.clone(),
                path: request.path.clone(),
            });
        }
        if expires(shared, &request) {
            let event = json!({"type": "ERROR", "object": {
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "too old resource version: 1 (2)", "reason": "Expired", "code": 410,
            }})
            .to_string()
                + "\n";
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            write.write_all(head.as_bytes()).await?;
            write
                .write_all(format!("{:x}\r\n{event}\r\n0\r\n\r\n", event.len()).as_bytes())
                .await?;
            continue;
        }
        let throttle = shared.faults.throttle.as_ref().filter(|throttle| {
            write_request
                && throttle
                    .scopes
                    .iter()
                    .any(|scope| request.path.starts_with(scope))
                && shared
                    .throttled
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                        (n < throttle.budget).then_some(n + 1)
                    })
                    .is_ok()
        });
        if throttle.is_some() {
            let status = json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Too many requests, please try again later.",
                "reason": "TooManyRequests", "details": {"retryAfterSeconds": 1}, "code": 429,
            })
            .to_string();
            let head = format!(
                "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 1\r\nContent-Length: {}\r\n\r\n",
                status.len()
            );
            write.write_all(head.as_bytes()).await?;
            write.write_all(status.as_bytes()).await?;
            continue;
        }
        forward(request, &shared.upstream, &mut write).await?;
    }
    Ok(())
}

/// Whether `request` is a watch to expire now (counting it).
fn expires(shared: &Shared, request: &Incoming) -> bool {
    let Some(expire) = &shared.faults.expire_watches else {
        return false;
    };
    request.method == "GET"
        && is_watch(&request.path)
        && request.path.starts_with(&expire.scope)
        && shared
            .expired
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < expire.budget).then_some(n + 1)
            })
            .is_ok()
}

fn is_watch(path: &str) -> bool {
    path.contains("watch=true") || path.contains("watch=1")
}

/// Passes one request to the API server and writes its answer back (a watch streamed in
/// chunks as it comes).
async fn forward(
    request: Incoming,
    upstream: &Client,
    write: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> Result<()> {
    use futures::AsyncReadExt;
    use tokio::io::AsyncWriteExt;
    let watch = is_watch(&request.path);
    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.path.as_str());
    for (name, value) in &request.headers {
        if matches!(name.as_str(), "accept" | "content-type") {
            builder = builder.header(name.as_str(), value.as_str());
        }
    }
    let outgoing = builder.body(request.body)?;
    let refused = |e: kube::Error| match e {
        kube::Error::Api(status) => {
            let body = serde_json::to_string(&*status).unwrap_or_default();
            (status.code, body)
        }
        other => (502, json!({"message": other.to_string()}).to_string()),
    };
    if watch {
        match upstream.request_stream(outgoing).await {
            Ok(mut body) => {
                write
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await?;
                let mut buf = vec![0; 64 * 1024];
                loop {
                    let n = body.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    write.write_all(format!("{n:x}\r\n").as_bytes()).await?;
                    write.write_all(&buf[..n]).await?;
                    write.write_all(b"\r\n").await?;
                    write.flush().await?;
                }
                write.write_all(b"0\r\n\r\n").await?;
                return Ok(());
            }
            Err(e) => return answer(write, refused(e)).await,
        }
    }
    match upstream.request_text(outgoing).await {
        Ok(text) => answer(write, (200, text)).await,
        Err(e) => answer(write, refused(e)).await,
    }
}

async fn answer(
    write: &mut (impl tokio::io::AsyncWrite + Unpin),
    (code, body): (u16, String),
) -> Result<()> {
    use tokio::io::AsyncWriteExt;
    let head = format!(
        "HTTP/1.1 {code} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    write.write_all(head.as_bytes()).await?;
    write.write_all(body.as_bytes()).await?;
    Ok(())
}
