//! The Kubernetes client kro-rs talks through: kube's default client with one more layer that
//! counts every request by method and response code, exported as controller-runtime's
//! `rest_client_requests_total` (so a load test or a dashboard sees what the operator costs the
//! API server, from the operator's side, discovery and watches included).

use std::sync::LazyLock;
use std::task::{Context, Poll};

use futures::FutureExt;
use futures::future::BoxFuture;
use http::{Request, Response};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use tower_layer::Layer;
use tower_service::Service;

use crate::metrics::RequestLabels;

/// `rest_client_requests_total{method,code}` of the whole process (every client built by
/// [`client`] adds to it); registered by [`crate::metrics::Metrics::new`].
pub static REQUESTS: LazyLock<Family<RequestLabels, Counter>> = LazyLock::new(Family::default);

/// A client for the cluster `KUBECONFIG` or the pod's service account points at, counting its
/// requests into [`REQUESTS`].
pub async fn client() -> Result<kube::Client, kube::Error> {
    let config = kube::Config::infer()
        .await
        .map_err(kube::Error::InferConfig)?;
    with_config(config)
}

/// A client for `config`, counting its requests into [`REQUESTS`].
pub fn with_config(config: kube::Config) -> Result<kube::Client, kube::Error> {
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(builder.with_layer(&CountRequests).build())
}

/// Wraps a service so that each request it sends is counted.
#[derive(Debug, Clone, Copy)]
pub struct CountRequests;

impl<S> Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted { inner }
    }
}

/// The service [`CountRequests`] makes.
#[derive(Debug, Clone)]
pub struct Counted<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Counted<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
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
        let sent = self.inner.call(req);
        async move {
            let result = sent.await;
            let code = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "<error>".to_string(),
            };
            REQUESTS
                .get_or_create(&RequestLabels { method, code })
                .inc();
            result
        }
        .boxed()
    }
}
