//! The admin HTTP endpoints: `/metrics` (Prometheus text), `/healthz` and `/readyz`.
//!
//! Served by hyper's HTTP/1.1 server, the HTTP stack kube's client already brings. [`bind`]
//! takes the addresses at startup, before any controller starts, so that a port already taken
//! stops `kro run` naming the flag and the address instead of leaving `/readyz` unanswered.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::options::{self, Options};

/// What the endpoints report.
#[derive(Debug, Clone)]
pub struct AdminState {
    /// Metrics to render.
    pub metrics: Arc<Metrics>,
    /// Set once the RGD watch has listed everything.
    pub ready: Arc<AtomicBool>,
}

const TEXT: &str = "text/plain";
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The response to a request for `path` (without its query) by `method`.
pub fn respond(state: &AdminState, method: &Method, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = if method != Method::GET {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            TEXT,
            "only GET\n".to_string(),
        )
    } else {
        match path {
            "/healthz" | "/livez" => (StatusCode::OK, TEXT, "ok\n".to_string()),
            "/readyz" if state.ready.load(Ordering::Relaxed) => {
                (StatusCode::OK, TEXT, "ok\n".to_string())
            }
            "/readyz" => (
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                "caches not synced\n".to_string(),
            ),
            "/metrics" => (StatusCode::OK, OPENMETRICS, state.metrics.render()),
            _ => (StatusCode::NOT_FOUND, TEXT, "not found\n".to_string()),
        }
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Binds the addresses of `--metrics-bind-address` and `--health-probe-bind-address` (one
/// listener when both name the same address, none for a disabled one). An address that cannot
/// be bound (taken, malformed) is an error naming the flag and the address.
pub async fn bind(opts: &Options) -> anyhow::Result<Vec<TcpListener>> {
    let metrics = options::bind_address(&opts.metrics_bind_address);
    let health = options::bind_address(&opts.health_probe_bind_address)
        .filter(|addr| Some(addr) != metrics.as_ref());
    let mut listeners = Vec::new();
    for (flag, addr) in [
        ("--metrics-bind-address", metrics),
        ("--health-probe-bind-address", health),
    ] {
        let Some(addr) = addr else { continue };
        let listener = TcpListener::bind(&addr)
            .await
            .with_context(|| format!("{flag} {addr}"))?;
        match listener.local_addr() {
            Ok(local) => tracing::info!(%local, flag, "admin endpoints listening"),
            Err(_) => tracing::info!(%addr, flag, "admin endpoints listening"),
        }
        listeners.push(listener);
    }
    Ok(listeners)
}

/// Serves the endpoints on `listener` until `stop` is cancelled.
pub async fn serve(listener: TcpListener, state: AdminState, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(connection(stream, state.clone(), stop.clone()));
            }
            Err(error) => {
                // Out of file descriptors, say: do not spin on it.
                tracing::debug!(%error, "admin endpoints: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One request per connection (the response says `Connection: close`), as a probe or a
/// scrape needs.
async fn connection(stream: TcpStream, state: AdminState, stop: CancellationToken) {
    let service = service_fn(move |request: Request<Incoming>| {
        let response = respond(&state, request.method(), request.uri().path());
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let served = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(false)
        .serve_connection(TokioIo::new(stream), service);
    let mut served = std::pin::pin!(served);
    let result = tokio::select! {
        result = served.as_mut() => result,
        () = stop.cancelled() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "admin endpoints: connection failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn state() -> AdminState {
        AdminState {
            metrics: Arc::new(Metrics::new()),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    #[test]
    fn endpoints() {
        let state = state();
        for (method, path, ready, want) in [
            (Method::GET, "/healthz", false, StatusCode::OK),
            (
                Method::GET,
                "/readyz",
                false,
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (Method::GET, "/readyz", true, StatusCode::OK),
            (Method::GET, "/metrics", false, StatusCode::OK),
            (Method::GET, "/nope", false, StatusCode::NOT_FOUND),
            (
                Method::POST,
                "/healthz",
                false,
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (Method::DELETE, "", false, StatusCode::METHOD_NOT_ALLOWED),
        ] {
            state.ready.store(ready, Ordering::Relaxed);
            let status = respond(&state, &method, path).status();
            assert_eq!(status, want, "{method} {path}");
        }
        let metrics = respond(&state, &Method::GET, "/metrics");
        assert_eq!(metrics.headers()[CONTENT_TYPE], OPENMETRICS);
        let body = futures::executor::block_on(metrics.into_body().collect()).unwrap();
        let body = String::from_utf8_lossy(&body.to_bytes()).into_owned();
        assert!(body.contains("dynamic_controller_gvr_count"), "{body}");
    }

    /// Sends `request` as raw bytes and reads the whole response (the server closes).
    async fn exchange(addr: std::net::SocketAddr, request: &str) -> String {
        let talk = async {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        };
        tokio::time::timeout(Duration::from_secs(30), talk)
            .await
            .expect("the admin server answers and closes")
    }

    #[tokio::test]
    async fn serves_http() {
        let state = state();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve(listener, state.clone(), stop.clone()));

        let readyz = "GET /readyz?verbose HTTP/1.1\r\nHost: kro\r\n\r\n";
        let response = exchange(addr, readyz).await;
        let lower = response.to_ascii_lowercase();
        assert!(
            response.starts_with("HTTP/1.1 503 Service Unavailable\r\n"),
            "{response}"
        );
        assert!(
            lower.contains("\r\ncontent-type: text/plain\r\n"),
            "{response}"
        );
        assert!(lower.contains("\r\nconnection: close\r\n"), "{response}");
        assert!(lower.contains("\r\ncontent-length: 18\r\n"), "{response}");
        assert!(
            response.ends_with("\r\n\r\ncaches not synced\n"),
            "{response}"
        );

        state.ready.store(true, Ordering::Relaxed);
        let response = exchange(addr, readyz).await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("\r\n\r\nok\n"), "{response}");

        let response = exchange(addr, "GET /metrics HTTP/1.1\r\nHost: kro\r\n\r\n").await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(
            response
                .to_ascii_lowercase()
                .contains(&format!("\r\ncontent-type: {OPENMETRICS}\r\n")),
            "{response}"
        );
        assert!(
            response.contains("dynamic_controller_gvr_count"),
            "{response}"
        );

        let response = exchange(addr, "PUT /healthz HTTP/1.1\r\nHost: kro\r\n\r\n").await;
        assert!(
            response.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{response}"
        );
        assert!(response.ends_with("\r\n\r\nonly GET\n"), "{response}");

        let response = exchange(addr, "not http at all\r\n\r\n").await;
        assert!(response.starts_with("HTTP/1.1 400 "), "{response}");

        stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), server)
            .await
            .expect("the server stops when told")
            .unwrap();
    }

    #[tokio::test]
    async fn a_taken_address_names_the_flag_and_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        for (metrics, health, flag) in [
            (addr.as_str(), "", "--metrics-bind-address"),
            ("", addr.as_str(), "--health-probe-bind-address"),
            ("", "127.0.0.1:notaport", "--health-probe-bind-address"),
        ] {
            let opts = Options {
                metrics_bind_address: metrics.to_string(),
                health_probe_bind_address: health.to_string(),
                ..Options::default()
            };
            let error = format!("{:#}", bind(&opts).await.unwrap_err());
            let addr = if metrics.is_empty() { health } else { metrics };
            assert!(error.starts_with(&format!("{flag} {addr}: ")), "{error}");
        }

        let opts = Options {
            metrics_bind_address: "127.0.0.1:0".into(),
            health_probe_bind_address: "0".into(),
            ..Options::default()
        };
        assert_eq!(bind(&opts).await.unwrap().len(), 1);
    }
}
