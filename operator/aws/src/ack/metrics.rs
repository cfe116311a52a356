//! ACK's outbound-call metrics (`ack_outbound_api_requests_total`, `..._error_total`, see
//! [`kro_reconcile::ack_metrics`]): an interceptor on every SDK client counts each AWS API
//! call once it is answered or has failed, retries included in the one call as ACK counts it.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::FinalizerInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Counts the calls of one service's client (`s3`, `rds`, `ec2`, `iam`, `sts`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CountCalls(pub(crate) &'static str);

impl Intercept for CountCalls {
    fn name(&self) -> &'static str {
        "kro-rs ACK outbound-call metrics"
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op_id = cfg.load::<Metadata>().map_or("Unknown", Metadata::name);
        let failed = match context.output_or_error() {
            Some(Ok(_)) => None,
            Some(Err(_)) | None => Some(context.response().map(|r| r.status().as_u16())),
        };
        kro_reconcile::ack_metrics::outbound(self.0, op_id, failed);
        Ok(())
    }
}
