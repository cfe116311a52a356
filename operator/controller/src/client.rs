//! The Kubernetes client kro-rs talks through: kube's default client with two more layers. One
//! counts every request by method, response code and host, exported as controller-runtime's
//! `rest_client_requests_total`, with kro's latency and size histograms (so a load test or a
//! dashboard sees what the operator costs the API server, from the operator's side, discovery
//! and watches included); the other is client-go's client-side throttle, a token bucket of
//! `--client-qps`/`--client-burst`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::FutureExt;
use futures::future::BoxFuture;
use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::Options;

/// A client for the cluster `KUBECONFIG` or the pod's service account points at, counting its
/// requests into [`crate::metrics::CLIENT`] and throttled as `opts` say ([`throttled`]).
pub async fn client(opts: &Options) -> Result<kube::Client, kube::Error> {
    let config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    throttled(config, opts)
}

/// A client for `config`, counting its requests into [`crate::metrics::CLIENT`] (not
/// throttled).
pub fn with_config(config: kube::Config) -> Result<kube::Client, kube::Error> {
    let count = CountRequests::for_cluster(&config.cluster_url);
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(builder.with_layer(&count).build())
}

/// [`with_config`], each request first waiting for a token of `--client-qps`/`--client-burst`
/// ([`throttle`]), as `kro run`'s client does.
pub fn throttled(config: kube::Config, opts: &Options) -> Result<kube::Client, kube::Error> {
    let count = CountRequests::for_cluster(&config.cluster_url);
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(builder
        .with_layer(&count)
        .with_layer(&throttle(opts.client_qps, opts.client_burst))
        .build())
}

/// Wraps a service so that each request it sends is counted and timed.
#[derive(Debug, Clone)]
pub struct CountRequests {
    /// The `host` label: the API server's `host:port`.
    host: Arc<str>,
}

impl CountRequests {
    /// Counting requests to the API server at `url` (its `host:port` is the `host` label).
    pub fn for_cluster(url: &http::Uri) -> Self {
        let host = url.authority().map(|a| a.as_str()).unwrap_or_default();
        Self { host: host.into() }
    }
}

impl<S> Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted {
            inner,
            host: self.host.clone(),
        }
    }
}

/// The service [`CountRequests`] makes.
#[derive(Debug, Clone)]
pub struct Counted<S> {
    inner: S,
    host: Arc<str>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Counted<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ReqBody: hyper::body::Body,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let method = req.method().as_str().to_string();
        tracing::trace!(target: "kro::requests", %method, uri = %req.uri(), "request");
        let request_bytes = req.body().size_hint().exact();
        let host = self.host.clone();
        let started = std::time::Instant::now();
        let sent = self.inner.call(req);
        async move {
            let result = sent.await;
            let (code, response_bytes) = match &result {
                Ok(response) => (
                    response.status().as_u16().to_string(),
                    response
                        .headers()
                        .get(http::header::CONTENT_LENGTH)
                        .and_then(|length| length.to_str().ok()?.parse().ok()),
                ),
                Err(_) => ("<error>".to_string(), None),
            };
            crate::metrics::client_request(
                &method,
                &host,
                &code,
                started.elapsed(),
                request_bytes,
                response_bytes,
            );
            result
        }
        .boxed()
    }
}

/// The client-side throttle of `--client-qps`/`--client-burst`, as client-go's: a token bucket
/// every request takes a token from before it is sent. A watch, like any request, takes one
/// token when it starts; the stream it opens is never throttled. `qps` 0 means client-go's
/// default (5, burst 10); a negative `qps` turns the throttle off.
pub fn throttle(qps: f32, burst: u32) -> Throttle {
    let (qps, burst) = if qps.abs() < f32::EPSILON {
        (5.0, if burst == 0 { 10 } else { burst })
    } else {
        (qps, burst)
    };
    Throttle {
        bucket: Arc::new(kro_reconcile::TokenBucket::new(f64::from(qps), burst)),
    }
}

/// Waits for a token of a shared bucket before each request ([`throttle`]).
#[derive(Debug, Clone)]
pub struct Throttle {
    bucket: Arc<kro_reconcile::TokenBucket>,
}

impl<S> Layer<S> for Throttle {
    type Service = Throttled<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttled {
            inner,
            bucket: self.bucket.clone(),
            wait: None,
            admitted: false,
        }
    }
}

/// The service [`Throttle`] makes: not ready until the next request has its token.
pub struct Throttled<S> {
    inner: S,
    bucket: Arc<kro_reconcile::TokenBucket>,
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
    admitted: bool,
}

impl<S: std::fmt::Debug> std::fmt::Debug for Throttled<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttled")
            .field("inner", &self.inner)
            .field("admitted", &self.admitted)
            .finish_non_exhaustive()
    }
}

impl<S, R> Service<R> for Throttled<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if !self.admitted {
            if self.wait.is_none() {
                let delay = self.bucket.reserve();
                if delay.is_zero() {
                    self.admitted = true;
                } else {
                    self.wait = Some(Box::pin(tokio::time::sleep(delay)));
                }
            }
            if let Some(wait) = self.wait.as_mut() {
                std::task::ready!(wait.as_mut().poll(cx));
                self.wait = None;
                self.admitted = true;
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        self.admitted = false;
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every request at once, counting them.
    #[derive(Debug, Default)]
    struct Answer {
        calls: usize,
    }

    impl Service<()> for Answer {
        type Response = usize;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<usize, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, (): ()) -> Self::Future {
            self.calls += 1;
            std::future::ready(Ok(self.calls))
        }
    }

    /// Whether the service takes a request right now.
    fn ready_now(service: &mut Throttled<Answer>) -> bool {
        let mut cx = Context::from_waker(futures::task::noop_waker_ref());
        service.poll_ready(&mut cx).is_ready()
    }

    #[tokio::test]
    async fn requests_past_the_burst_wait_for_a_token() {
        let mut service = throttle(1.0, 2).layer(Answer::default());
        for _ in 0..2 {
            assert!(ready_now(&mut service), "the burst goes at once");
            let _ = service.call(()).await;
        }
        assert!(
            !ready_now(&mut service),
            "the third waits for the next token"
        );
        assert!(
            !ready_now(&mut service),
            "and keeps waiting for the same one"
        );
    }

    #[tokio::test]
    async fn a_negative_qps_throttles_nothing() {
        let mut service = throttle(-1.0, 0).layer(Answer::default());
        for n in 1..=1000 {
            assert!(ready_now(&mut service));
            assert_eq!(service.call(()).await.unwrap(), n);
        }
    }
}
