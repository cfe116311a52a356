//! The admin HTTP endpoints: `/metrics` (Prometheus text), `/healthz` and `/readyz`.
//!
//! A deliberately tiny HTTP/1.1 responder (one request per connection) so the operator needs no
//! web framework for three GET endpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// What the endpoints report.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// Metrics to render.
    pub metrics: Arc<Metrics>,
    /// Set once the RGD watch has listed everything.
    pub ready: Arc<AtomicBool>,
}

/// The response to one request line: status line, content type, body.
pub fn respond(state: &AdminState, request_line: &str) -> (&'static str, &'static str, String) {
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("").split('?').next().unwrap_or("");
    if method != "GET" {
        return ("405 Method Not Allowed", "text/plain", "only GET\n".into());
    }
    match path {
        "/healthz" | "/livez" => ("200 OK", "text/plain", "ok\n".into()),
        "/readyz" => {
            if state.ready.load(Ordering::Relaxed) {
                ("200 OK", "text/plain", "ok\n".into())
            } else {
                (
                    "503 Service Unavailable",
                    "text/plain",
                    "caches not synced\n".into(),
                )
            }
        }
        "/metrics" => (
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            state.metrics.render(),
        ),
        _ => ("404 Not Found", "text/plain", "not found\n".into()),
    }
}

async fn handle(state: AdminState, mut stream: TcpStream) {
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    // Read until the end of the request line.
    while len < buf.len() {
        match stream.read(&mut buf[len..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
        if buf[..len].windows(2).any(|w| w == b"\r\n") {
            break;
        }
    }
    let text = String::from_utf8_lossy(&buf[..len]);
    let line = text.lines().next().unwrap_or("");
    let (status, ctype, body) = respond(&state, line);
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Serves the endpoints on `addr` until `stop` is cancelled.
pub async fn serve(
    addr: String,
    state: AdminState,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(&addr).await?;
    tracing::info!(%addr, "admin endpoints listening");
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(handle(state.clone(), stream));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let state = AdminState {
            metrics: Arc::new(Metrics::new()),
            ready: Arc::new(AtomicBool::new(false)),
        };
        for (line, ready, want) in [
            ("GET /healthz HTTP/1.1", false, "200 OK"),
            ("GET /readyz HTTP/1.1", false, "503 Service Unavailable"),
            ("GET /readyz HTTP/1.1", true, "200 OK"),
            ("GET /metrics HTTP/1.1", false, "200 OK"),
            ("GET /nope HTTP/1.1", false, "404 Not Found"),
            ("POST /healthz HTTP/1.1", false, "405 Method Not Allowed"),
            ("", false, "405 Method Not Allowed"),
        ] {
            state.ready.store(ready, Ordering::Relaxed);
            assert_eq!(respond(&state, line).0, want, "{line}");
        }
        assert!(
            respond(&state, "GET /metrics HTTP/1.1")
                .2
                .contains("dynamic_controller_gvr_count")
        );
    }
}
