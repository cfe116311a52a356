//! The ACK controllers run in-process against moto for one namespace, the ACK CRDs they need,
//! and what their tests read back from S3.

use std::fmt::Debug;
use std::time::Duration;

use anyhow::Result;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{DEADLINE, condition_is, wait_for};

/// Installs the ACK CRDs through `kro_aws::apply_crds` (server-side apply, so re-applying from
/// every test is harmless) and waits until they are served.
pub(crate) async fn install_crds(client: &Client) -> Result<()> {
    let all = kro_aws::ControllerKind::ALL.into_iter().collect();
    kro_aws::apply_crds(client, &all).await?;
    Ok(())
}

/// Running controllers; dropping this stops them.
pub(crate) struct Controllers {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), kro_aws::Error>>>,
}

impl Controllers {
    /// Stops the controllers and waits (up to [`DEADLINE`]) for them to finish.
    pub(crate) async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(DEADLINE, t).await;
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
pub(crate) fn options(namespace: &str, endpoint: &str) -> kro_aws::AwsOptions {
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
pub(crate) fn start(client: &Client, opts: kro_aws::AwsOptions) -> Controllers {
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
pub(crate) async fn setup(prefix: &str) -> Result<(Client, String, Controllers)> {
    let client = kro_e2e::client().await?;
    install_crds(&client).await?;
    let ns = kro_e2e::namespace(&client, prefix).await?;
    let controllers = start(&client, options(&ns, kro_e2e::aws_endpoint()));
    Ok((client, ns, controllers))
}

/// [`setup`] with the controllers' options changed by `change` (a flag of `kro run`).
pub(crate) async fn setup_with(
    prefix: &str,
    change: impl FnOnce(&mut kro_aws::AwsOptions),
) -> Result<(Client, String, Controllers)> {
    let client = kro_e2e::client().await?;
    install_crds(&client).await?;
    let ns = kro_e2e::namespace(&client, prefix).await?;
    let mut opts = options(&ns, kro_e2e::aws_endpoint());
    change(&mut opts);
    let controllers = start(&client, opts);
    Ok((client, ns, controllers))
}

/// Creates an object from JSON.
pub(crate) async fn create<K>(api: &Api<K>, v: Value) -> Result<K>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    let obj: K = serde_json::from_value(v)?;
    Ok(api.create(&PostParams::default(), &obj).await?)
}

/// Merge-patches an object.
pub(crate) async fn patch<K>(api: &Api<K>, name: &str, v: Value) -> Result<K>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    Ok(api
        .patch(name, &PatchParams::default(), &Patch::Merge(&v))
        .await?)
}

/// Whether an ACK object reports `ACK.ResourceSynced=True`.
pub(crate) fn synced(obj: &Value) -> bool {
    condition_is(obj, "ACK.ResourceSynced", "True")
}

/// The bucket's tags in S3 as sorted `(key, value)` pairs; none when it has no tag set.
pub(crate) async fn s3_tags(s3: &aws_sdk_s3::Client, name: &str) -> Vec<(String, String)> {
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
pub(crate) fn bucket_name(prefix: &str) -> String {
    kro_e2e::unique_name(prefix).to_ascii_lowercase()
}

/// Replaces the bucket's tags in S3 with the one tag `key=value`, behind the controller's back.
pub(crate) async fn put_tag(
    s3: &aws_sdk_s3::Client,
    name: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    s3.put_bucket_tagging()
        .bucket(name)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .tag_set(
                    aws_sdk_s3::types::Tag::builder()
                        .key(key)
                        .value(value)
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await?;
    Ok(())
}

/// The user's tags of an EC2 resource as sorted pairs: ACK's own (`services.k8s.aws/*`, e.g.
/// the creation token of a created resource) left out.
pub(crate) fn tags_of(tags: &[kro_aws::ec2::sdk::types::Tag]) -> Vec<(String, String)> {
    user_tags(tags.iter().map(|t| (t.key(), t.value())))
}

/// EC2's tags of resource `id` (any kind: DescribeTags by resource id), as [`tags_of`].
pub(crate) async fn ec2_tags(
    ec2: &kro_aws::ec2::sdk::Client,
    id: &str,
) -> Result<Vec<(String, String)>> {
    let filter = kro_aws::ec2::sdk::types::Filter::builder()
        .name("resource-id")
        .values(id)
        .build();
    let out = ec2.describe_tags().filters(filter).send().await?;
    Ok(user_tags(out.tags().iter().map(|t| (t.key(), t.value()))))
}

fn user_tags<'a>(
    tags: impl Iterator<Item = (Option<&'a str>, Option<&'a str>)>,
) -> Vec<(String, String)> {
    let mut t: Vec<(String, String)> = tags
        .map(|(k, v)| (k.unwrap_or_default(), v.unwrap_or_default()))
        .filter(|(k, _)| !k.starts_with("services.k8s.aws/"))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    t.sort();
    t
}

/// A tag AWS itself puts on resources (CloudFormation's): never the user's, never touched.
const SYSTEM_TAG: (&str, &str) = ("aws:cloudformation:stack-name", "kro-e2e");

/// Tag updates of a live EC2 resource, as its user sees them: object `name`, whose
/// `spec.tags` are `start` and whose resource in EC2 is `id`, gets a tag added, that tag's
/// value changed, then the tag removed (`spec.tags` is `start` again). After each edit EC2's
/// tags are exactly the spec's plus an `aws:*` tag put on the resource beforehand (by hand
/// here, as CloudFormation would), which the controller never removes. That tag is taken off
/// again at the end, so later steps see only the spec's tags.
pub(crate) async fn ec2_tag_updates<K>(
    api: &Api<K>,
    name: &str,
    ec2: &kro_aws::ec2::sdk::Client,
    id: &str,
    start: &[(&str, &str)],
) -> Result<()>
where
    K: Resource + Clone + Debug + Serialize + DeserializeOwned,
{
    let system = || {
        kro_aws::ec2::sdk::types::Tag::builder()
            .key(SYSTEM_TAG.0)
            .value(SYSTEM_TAG.1)
            .build()
    };
    ec2.create_tags()
        .resources(id)
        .tags(system())
        .send()
        .await?;
    for (what, extra) in [
        ("added", Some(("cost-center", "a"))),
        ("changed", Some(("cost-center", "b"))),
        ("removed", None),
    ] {
        let spec: Vec<(&str, &str)> = start.iter().copied().chain(extra).collect();
        let tags: Vec<Value> = spec
            .iter()
            .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
            .collect();
        patch(api, name, serde_json::json!({"spec": {"tags": tags}})).await?;
        let mut want: Vec<(String, String)> = spec
            .iter()
            .chain([&SYSTEM_TAG])
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        want.sort();
        wait_for(
            &format!("a tag {what} on {name} in EC2: {want:?}"),
            || async { Ok((ec2_tags(ec2, id).await? == want).then_some(())) },
        )
        .await?;
    }
    ec2.delete_tags()
        .resources(id)
        .tags(system())
        .send()
        .await?;
    Ok(())
}
