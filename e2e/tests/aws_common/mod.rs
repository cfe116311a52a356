//! Shared helpers of the AWS controller e2e tests: install the ACK CRDs, run the controllers
//! in-process against moto for one namespace, and wait for conditions.

#![allow(dead_code, clippy::unwrap_used)]

use std::fmt::Debug;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::NamespaceResourceScope;
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Installs the ACK CRDs through `kro_aws::apply_crds` (server-side apply, so re-applying from
/// every test is harmless) and waits until they are served.
pub async fn install_crds(client: &Client) -> Result<()> {
    let all = kro_aws::ControllerKind::ALL.into_iter().collect();
    kro_aws::apply_crds(client, &all).await?;
    Ok(())
}

/// Running controllers; dropping this stops them.
pub struct Controllers {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), kro_aws::Error>>>,
}

impl Controllers {
    /// Stops the controllers and waits for them to finish.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Options for tests: moto, a fixed region, static credentials, quick resync and retries.
pub fn options(namespace: &str, endpoint: &str) -> kro_aws::AwsOptions {
    kro_aws::AwsOptions {
        endpoint_url: Some(endpoint.to_owned()),
        region: Some("us-west-2".into()),
        force_path_style: true,
        resync_period: Duration::from_secs(3),
        requeue_not_synced: Duration::from_secs(1),
        backoff_base: Duration::from_millis(500),
        backoff_max: Duration::from_secs(3),
        credentials: Some(aws_sdk_s3::config::Credentials::new(
            "testing", "testing", None, None, "kro-e2e",
        )),
        watch_namespace: Some(namespace.to_owned()),
        ..Default::default()
    }
}

/// Starts the controllers in-process with `opts`.
pub fn start(client: &Client, opts: kro_aws::AwsOptions) -> Controllers {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(kro_aws::run(client.clone(), opts, async move {
        let _ = rx.await;
    }));
    Controllers {
        stop: Some(tx),
        task: Some(task),
    }
}

/// Client, CRDs, a fresh namespace and controllers on the shared moto.
pub async fn setup(prefix: &str) -> Result<(Client, String, Controllers)> {
    let client = kro_e2e::client().await?;
    install_crds(&client).await?;
    let ns = kro_e2e::namespace(&client, prefix).await?;
    let controllers = start(&client, options(&ns, kro_e2e::aws_endpoint()));
    Ok((client, ns, controllers))
}

/// Creates an object from JSON.
pub async fn create<K>(api: &Api<K>, v: Value) -> Result<K>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    let obj: K = serde_json::from_value(v)?;
    Ok(api.create(&PostParams::default(), &obj).await?)
}

/// Merge-patches an object.
pub async fn patch<K>(api: &Api<K>, name: &str, v: Value) -> Result<K>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    Ok(api
        .patch(name, &PatchParams::default(), &Patch::Merge(&v))
        .await?)
}

/// Polls until `check` returns `Some`, failing with the last object after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, what: &str, mut check: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last_err = String::new();
    loop {
        match check().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last_err = format!("{e:#}"),
        }
        if Instant::now() > deadline {
            bail!("timed out after {secs}s waiting for {what} {last_err}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The object as JSON.
pub async fn get_json<K>(api: &Api<K>, name: &str) -> Result<Value>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    Ok(serde_json::to_value(api.get(name).await?)?)
}

/// `(status, message)` of condition `type_` in a JSON object.
pub fn condition(obj: &Value, type_: &str) -> Option<(String, String)> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default().to_owned(),
                c["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
}

/// Waits until condition `type_` has `status`, returning the object.
pub async fn wait_condition<K>(
    api: &Api<K>,
    name: &str,
    type_: &str,
    status: &str,
    secs: u64,
) -> Result<Value>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
{
    wait_json(api, name, secs, &format!("{type_}={status}"), |v| {
        condition(v, type_).is_some_and(|(s, _)| s == status)
    })
    .await
}

/// Waits until `pred` holds for the object's JSON, returning it; the error shows its status.
pub async fn wait_json<K>(
    api: &Api<K>,
    name: &str,
    secs: u64,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last;
    loop {
        match api.get_opt(name).await {
            Ok(Some(o)) => {
                let v = serde_json::to_value(o)?;
                if pred(&v) {
                    return Ok(v);
                }
                last = v;
            }
            Ok(None) => last = Value::String("<not found>".into()),
            Err(e) => last = Value::String(format!("<error {e}>")),
        }
        if Instant::now() > deadline {
            bail!(
                "timed out after {secs}s waiting for {what} on {name}; last object:\n{}",
                serde_json::to_string_pretty(&last).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the object is gone.
pub async fn wait_gone<K>(api: &Api<K>, name: &str, secs: u64) -> Result<()>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
{
    eventually(secs, &format!("{name} to be deleted"), || {
        let api = api.clone();
        async move { Ok(api.get_opt(name).await?.is_none().then_some(())) }
    })
    .await
}

/// Deletes the object and waits until it is gone (its finalizer done).
pub async fn delete_and_wait<K>(api: &Api<K>, name: &str, secs: u64) -> Result<()>
where
    K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
{
    api.delete(name, &DeleteParams::default()).await?;
    wait_gone(api, name, secs).await
}

/// The bucket's tags in S3 as sorted `(key, value)` pairs; none when it has no tag set.
pub async fn s3_tags(s3: &aws_sdk_s3::Client, name: &str) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = match s3.get_bucket_tagging().bucket(name).send().await {
        Ok(o) => o
            .tag_set()
            .iter()
            .map(|t| (t.key().to_owned(), t.value().to_owned()))
            .collect(),
        Err(_) => Vec::new(),
    };
    tags.sort();
    tags
}

/// A bucket name unique to this run (S3 names are lower case).
pub fn bucket_name(prefix: &str) -> String {
    kro_e2e::unique_name(prefix).to_ascii_lowercase()
}

/// One Kubernetes event about an object, as `kubectl get events` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeenEvent {
    /// `Normal` or `Warning`.
    pub type_: String,
    pub reason: String,
    pub message: String,
    /// The controller that reported it (`kro-rs-ack-s3`, `kro-rs-ack-rds`).
    pub reporter: String,
    /// How many times it happened (a repeated event is one event with a count).
    pub count: i32,
}

/// The core/v1 Events whose involvedObject is `kind`/`name` in `ns`, oldest first (what
/// `kubectl get events --field-selector involvedObject.kind=KIND,involvedObject.name=NAME`
/// lists).
pub async fn events_of(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
) -> Result<Vec<SeenEvent>> {
    use k8s_openapi::api::core::v1::Event;
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let lp = kube::api::ListParams::default().fields(&format!(
        "involvedObject.kind={kind},involvedObject.name={name}"
    ));
    let mut items = api.list(&lp).await?.items;
    items.sort_by_key(|e| {
        e.event_time
            .as_ref()
            .map(|t| t.0.to_string())
            .or_else(|| e.first_timestamp.as_ref().map(|t| t.0.to_string()))
            .unwrap_or_default()
    });
    Ok(items
        .into_iter()
        .map(|e| SeenEvent {
            type_: e.type_.unwrap_or_default(),
            reason: e.reason.unwrap_or_default(),
            message: e.message.unwrap_or_default(),
            reporter: e.reporting_component.unwrap_or_default(),
            count: e
                .series
                .as_ref()
                .and_then(|s| s.count)
                .or(e.count)
                .unwrap_or(1),
        })
        .collect())
}

/// Waits until an event with `reason` whose message contains `text` is listed for the object.
pub async fn wait_event(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
    reason: &str,
    text: &str,
    secs: u64,
) -> Result<SeenEvent> {
    eventually(
        secs,
        &format!("event {reason} on {kind} {name}"),
        || async {
            Ok(events_of(client, ns, kind, name)
                .await?
                .into_iter()
                .find(|e| e.reason == reason && e.message.contains(text)))
        },
    )
    .await
}

/// The reasons of the events listed for the object, oldest first.
pub async fn event_reasons(
    client: &Client,
    ns: &str,
    kind: &str,
    name: &str,
) -> Result<Vec<String>> {
    Ok(events_of(client, ns, kind, name)
        .await?
        .into_iter()
        .map(|e| e.reason)
        .collect())
}
