//! Evaluation off the async runtime: every evaluation of an instance runs on a blocking thread,
//! at most one per reconcile worker (`--dynamic-controller-concurrent-reconciles`), so however
//! slow its expressions are, the runtime threads that answer `/healthz`, `/readyz` and
//! `/metrics` and renew the leader Lease stay free. Each reconcile may spend
//! `--instance-evaluation-timeout` evaluating, over all its passes; the deadline is checked
//! inside CEL and between nodes and items, so an evaluation really stops (a blocking thread
//! cannot be cancelled from outside), and a slot is given back only when its evaluation has
//! ended, even if the reconcile that started it is gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kro_runtime::{EvaluationDeadline, Observed, Plan};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::{InstanceRun, KindContext};
use crate::error::Error;

/// CPU time spent evaluating on blocking threads, added to the reconcile's own
/// (`instance_reconcile_cpu_seconds`), in nanoseconds.
#[derive(Debug, Default)]
pub(super) struct EvaluationCpu(AtomicU64);

impl EvaluationCpu {
    fn add(&self, spent: Duration) {
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Everything added so far.
    pub(super) fn total(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }
}

/// What one evaluation takes and gives back (the inputs are moved to the blocking thread and
/// back, not copied).
pub(super) struct Evaluation {
    pub(super) instance: Value,
    pub(super) observed: Observed,
    pub(super) plan: Plan,
}

/// Runs one evaluation of `instance` on a blocking thread, once a slot of the pool is free,
/// with `options` (whose deadline it must keep). `who` names the instance in the logs.
pub(super) async fn evaluate_off_runtime(
    kind: Arc<KindContext>,
    instance: Value,
    observed: Observed,
    options: kro_runtime::Options,
    who: String,
    cpu: &EvaluationCpu,
) -> Result<Evaluation, Error> {
    let pool: Arc<Semaphore> = kind.shared.evaluations.clone();
    let slots = usize::from(
        kind.shared
            .opts
            .dynamic_controller_concurrent_reconciles
            .max(1),
    );
    let Ok(slot) = pool.clone().acquire_owned().await else {
        return Err(Error::Panic("the evaluation pool is closed".into()));
    };
    let work = tokio::task::spawn_blocking(move || {
        let in_flight = slots.saturating_sub(pool.available_permits());
        tracing::debug!(instance = %who, in_flight, "evaluation started");
        let before = cpu_time::ThreadTime::try_now().ok();
        let plan = kro_runtime::evaluate_with(&kind.graph, &instance, &observed, &options);
        let spent = before
            .and_then(|before| before.try_elapsed().ok())
            .unwrap_or_default();
        let in_flight = slots.saturating_sub(pool.available_permits());
        tracing::debug!(
            instance = %who,
            in_flight,
            cpu_seconds = spent.as_secs_f64(),
            stopped = plan.stopped.as_ref().map(|stopped| stopped.at.as_str()),
            "evaluation ended"
        );
        // The slot is free only once the evaluation has ended.
        drop(slot);
        (
            Evaluation {
                instance,
                observed,
                plan,
            },
            spent,
        )
    });
    match work.await {
        Ok((evaluation, spent)) => {
            cpu.add(spent);
            Ok(evaluation)
        }
        // A panic in the evaluation goes on in the reconcile, where the guard contains it
        // (metric, status, event) as any other.
        Err(joined) if joined.is_panic() => std::panic::resume_unwind(joined.into_panic()),
        Err(joined) => Err(Error::Panic(format!("evaluation task: {joined}"))),
    }
}

impl InstanceRun<'_> {
    /// Evaluates the graph against what is observed, on the evaluation pool, with what is left
    /// of this reconcile's `--instance-evaluation-timeout`.
    pub(super) async fn evaluate(&mut self) -> Result<Plan, Error> {
        self.passes += 1;
        let timeout = self.ctx.shared.opts.instance_evaluation_timeout;
        let mut options = self.options.clone();
        options.deadline = Some(EvaluationDeadline {
            at: Instant::now() + timeout.saturating_sub(self.evaluating),
            timeout,
        });
        let started = Instant::now();
        let evaluated = evaluate_off_runtime(
            self.kind.clone(),
            std::mem::take(&mut self.instance_value),
            std::mem::take(&mut self.observed),
            options,
            self.who(),
            &self.cpu,
        )
        .await;
        self.evaluating += started.elapsed();
        let evaluation = evaluated?;
        self.instance_value = evaluation.instance;
        self.observed = evaluation.observed;
        Ok(evaluation.plan)
    }

    /// `namespace/name` of the instance, for the logs.
    fn who(&self) -> String {
        let key = self.ctx.instance_key(&self.live);
        format!("{}/{}", key.namespace, key.name)
    }
}
