//! Stopping a kube `Controller` that may never have listed.
//!
//! kube's runner starts no reconcile before the controller's store has its first list, and it
//! keeps waiting for that list during a graceful shutdown as well. A controller whose list is
//! refused (RBAC), or whose kind is not served (yet), would therefore never finish, and the task
//! that runs it, its watch and its metrics would stay for the life of the process. [`abandon`]
//! is the bound: race it with the controller's stream.

use std::future::Future;
use std::hash::Hash;
use std::time::Duration;

use futures::FutureExt;
use kube::runtime::reflector::{Lookup, Store};

/// Resolves once a controller stopped by `stop` is not to be waited for any longer: at once
/// if its `store` never had its first list (nothing can be in flight then), else after `grace`
/// for the reconciles still running.
pub async fn abandon<K>(stop: impl Future<Output = ()>, store: Store<K>, grace: Duration)
where
    K: Lookup + Clone + 'static,
    K::DynamicType: Eq + Hash + Clone,
{
    stop.await;
    if store.wait_until_ready().now_or_never().is_none() {
        tracing::debug!("the controller's watch never listed: stopping it without draining");
        return;
    }
    tokio::time::sleep(grace).await;
    tracing::warn!(
        ?grace,
        "reconciles still running after the graceful shutdown timeout: abandoned"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::reflector;
    use kube::runtime::watcher::Event;

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn a_store_that_never_listed_is_abandoned_without_the_grace() {
        let (store, _writer) = reflector::store::<ConfigMap>();
        tokio::time::timeout(Duration::from_secs(30), abandon(async {}, store, HOUR))
            .await
            .expect("abandoned before the hour of grace");
    }

    #[tokio::test]
    async fn a_listed_store_gets_the_grace_and_no_more() {
        let (store, mut writer) = reflector::store::<ConfigMap>();
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitDone);
        let mut waiting = Box::pin(abandon(async {}, store.clone(), HOUR));
        assert!(
            futures::poll!(&mut waiting).is_pending(),
            "in-flight reconciles get their grace"
        );
        abandon(async {}, store, Duration::ZERO).await;
    }

    #[tokio::test]
    async fn nothing_is_abandoned_before_the_stop() {
        let (store, _writer) = reflector::store::<ConfigMap>();
        let mut waiting = Box::pin(abandon(std::future::pending(), store, Duration::ZERO));
        assert!(futures::poll!(&mut waiting).is_pending());
    }
}
