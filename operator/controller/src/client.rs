//! The Kubernetes client kro-rs talks through: kube's default client with two more layers. One
//! counts every request by method, response code and host, exported as controller-runtime's
//! `rest_client_requests_total`, with kro's latency and size histograms (so a load test or a
//! dashboard sees what the operator costs the API server, from the operator's side, discovery
//! and watches included); the other is client-go's client-side throttle, a token bucket of
//! `--client-qps`/`--client-burst`, with `--client-side-throttle` only (kro's client has
//! none). `kro run`'s client has a third, outermost: with leader election, the leader's write
//! fence ([`FenceWrites`]).

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

/// The boxed error of a tower service, as kube's client takes it.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
/// when `--client-side-throttle` asks for it ([`client_throttle`]).
pub fn throttled(config: kube::Config, opts: &Options) -> Result<kube::Client, kube::Error> {
    fenced(config, opts, None)
}

/// `kro run`'s client: [`throttled`], and with a fence (leader election), every write but the
/// leader Lease's own refused unsent while the Lease's hold is not certain ([`FenceWrites`]).
pub fn fenced(
    config: kube::Config,
    opts: &Options,
    fence: Option<kro_reconcile::LeaderFence>,
) -> Result<kube::Client, kube::Error> {
    let count = CountRequests::for_cluster(&config.cluster_url);
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(builder
        .with_layer(&count)
        .with_layer(&client_throttle(opts))
        .with_layer(&FenceWrites::new(fence))
        .build())
}

/// The leader's write fence as a client layer ([`kro_reconcile::LeaderFence`]): a write (any
/// method but GET, HEAD, OPTIONS) that is not the leader Lease's own is refused, never sent,
/// while the fence is closed; an accepted write of the Lease renews the hold from the moment it
/// was sent. Without a fence everything passes.
#[derive(Debug, Clone)]
pub struct FenceWrites {
    fence: Option<kro_reconcile::LeaderFence>,
    /// The path the leader Lease ends with, `/leases/<name>`.
    lease: Arc<str>,
}

impl FenceWrites {
    /// A layer fencing writes with `fence` (none: nothing is fenced).
    pub fn new(fence: Option<kro_reconcile::LeaderFence>) -> Self {
        FenceWrites {
            fence,
            lease: format!("/leases/{}", crate::LEASE_NAME).into(),
        }
    }
}

impl<S> Layer<S> for FenceWrites {
    type Service = Fenced<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Fenced {
            inner,
            layer: self.clone(),
        }
    }
}

/// What a request is to the fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fencing {
    /// A read: never fenced.
    Read,
    /// A write of the leader Lease: never fenced; when accepted, it renews the hold.
    Lease,
    /// Any other write: fenced.
    Write,
}

impl FenceWrites {
    fn classify(&self, method: &http::Method, path: &str) -> Fencing {
        if matches!(
            *method,
            http::Method::GET | http::Method::HEAD | http::Method::OPTIONS
        ) {
            Fencing::Read
        } else if path.starts_with("/apis/coordination.k8s.io/") && path.ends_with(&*self.lease) {
            Fencing::Lease
        } else {
            Fencing::Write
        }
    }
}

/// The service [`FenceWrites`] makes.
#[derive(Debug, Clone)]
pub struct Fenced<S> {
    inner: S,
    layer: FenceWrites,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Fenced<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<S::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let Some(fence) = self.layer.fence.clone() else {
            return self.inner.call(req).map(|r| r.map_err(Into::into)).boxed();
        };
        match self.layer.classify(req.method(), req.uri().path()) {
            Fencing::Read => self.inner.call(req).map(|r| r.map_err(Into::into)).boxed(),
            Fencing::Lease => {
                let sent = std::time::Instant::now();
                let answer = self.inner.call(req);
                async move {
                    let response = answer.await.map_err(Into::into)?;
                    if response.status().is_success() {
                        fence.renewed(sent);
                    }
                    Ok(response)
                }
                .boxed()
            }
            Fencing::Write => match fence.check() {
                Ok(()) => self.inner.call(req).map(|r| r.map_err(Into::into)).boxed(),
                Err(refused) => {
                    tracing::warn!(
                        method = %req.method(),
                        path = %req.uri().path(),
                        error = %refused,
                        "write refused by the leader fence"
                    );
                    futures::future::ready(Err(refused.into())).boxed()
                }
            },
        }
    }
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

/// The throttle `opts` ask for: [`throttle`] of `--client-qps`/`--client-burst` with
/// `--client-side-throttle`, none without it (kro's behaviour: its client config has
/// client-side rate limiting turned off, whatever those two flags say).
pub fn client_throttle(opts: &Options) -> Throttle {
    if opts.client_side_throttle {
        throttle(opts.client_qps, opts.client_burst)
    } else {
        throttle(-1.0, 0)
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

    /// Answers 200 to every request, counting them.
    #[derive(Debug, Clone, Default)]
    struct Ok200 {
        calls: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Service<Request<()>> for Ok200 {
        type Response = Response<()>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Response<()>, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::future::ready(Ok(Response::new(())))
        }
    }

    fn request(method: http::Method, path: &str) -> Request<()> {
        Request::builder()
            .method(method)
            .uri(path)
            .body(())
            .unwrap()
    }

    const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/kro/leases/controller.kro.run";
    const CONFIG_MAPS: &str = "/api/v1/namespaces/team/configmaps";

    #[tokio::test]
    async fn a_closed_fence_refuses_writes_unsent_but_not_reads_or_the_lease() {
        // A deadline of zero: closed as soon as the Lease is renewed once.
        let fence = kro_reconcile::LeaderFence::new(std::time::Duration::ZERO);
        let inner = Ok200::default();
        let mut service = FenceWrites::new(Some(fence.clone())).layer(inner.clone());
        let sent = || inner.calls.load(std::sync::atomic::Ordering::SeqCst);

        // Before the election nothing is fenced.
        assert!(
            service
                .call(request(http::Method::POST, CONFIG_MAPS))
                .await
                .is_ok()
        );
        assert!(
            service
                .call(request(http::Method::PATCH, LEASE))
                .await
                .is_ok()
        );
        assert_eq!(sent(), 2);
        let refused = service
            .call(request(http::Method::POST, CONFIG_MAPS))
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("write refused"), "{refused}");
        assert_eq!(sent(), 2, "a refused write is not sent");
        assert!(
            service
                .call(request(http::Method::GET, CONFIG_MAPS))
                .await
                .is_ok()
        );
        assert!(
            service
                .call(request(http::Method::PUT, LEASE))
                .await
                .is_ok()
        );
        assert!(
            service
                .call(request(
                    http::Method::DELETE,
                    "/apis/coordination.k8s.io/v1/namespaces/kro/leases/other"
                ))
                .await
                .is_err(),
            "only the leader Lease's own writes pass"
        );
        assert_eq!(sent(), 4);
    }

    #[tokio::test]
    async fn an_open_fence_and_no_fence_pass_every_write() {
        let fence = kro_reconcile::LeaderFence::new(std::time::Duration::from_secs(3600));
        let inner = Ok200::default();
        let mut fenced = FenceWrites::new(Some(fence)).layer(inner.clone());
        assert!(
            fenced
                .call(request(http::Method::PATCH, LEASE))
                .await
                .is_ok()
        );
        assert!(
            fenced
                .call(request(http::Method::DELETE, CONFIG_MAPS))
                .await
                .is_ok()
        );
        let mut open = FenceWrites::new(None).layer(inner.clone());
        assert!(
            open.call(request(http::Method::POST, CONFIG_MAPS))
                .await
                .is_ok()
        );
        assert_eq!(inner.calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

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
    async fn kro_run_throttles_only_with_client_side_throttle() {
        let opts = Options {
            client_qps: 1.0,
            client_burst: 2,
            ..Options::default()
        };
        let mut service = client_throttle(&opts).layer(Answer::default());
        for _ in 0..1000 {
            assert!(
                ready_now(&mut service),
                "kro's default: no client-side limit"
            );
            let _ = service.call(()).await;
        }
        let opts = Options {
            client_side_throttle: true,
            ..opts
        };
        let mut service = client_throttle(&opts).layer(Answer::default());
        for _ in 0..2 {
            assert!(ready_now(&mut service));
            let _ = service.call(()).await;
        }
        assert!(!ready_now(&mut service), "--client-qps 1 --client-burst 2");
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
