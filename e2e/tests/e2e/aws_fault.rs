//! e2e fault test: moto (the AWS emulator) stops in the middle of reconciles; the objects show
//! `ACK.Recoverable`, and once a new (empty) moto answers at the same endpoint everything
//! converges without duplicates. Also: a controller restart after the ownership marker and the
//! finalizer were written and the bucket created (but before the rest of the status) keeps its
//! own bucket instead of failing or creating another.
//!
//! The controllers' endpoint is a small TCP forwarder owned by the test, so the restarted moto
//! answers at the same address: moto.sh cannot reuse the old port right away, because the killed
//! server leaves its port in TIME_WAIT and moto.sh's free-port check binds without SO_REUSEADDR.

#![allow(clippy::unwrap_used)]

use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use anyhow::{Context, Result};
use kro_aws::s3::bucket::Bucket;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::support::aws::*;
use crate::support::process::PrivateService;
use crate::support::{condition, condition_message, wait_condition};

/// A moto started for this test only, in its own state directory, and where it answers.
struct PrivateMoto {
    service: PrivateService,
    endpoint: String,
}

impl PrivateMoto {
    fn start(dir: &Path) -> Result<Self> {
        let service = PrivateService::start("moto.sh", dir)?;
        let endpoint = kro_e2e::moto_endpoint_in(service.dir())?;
        Ok(Self { service, endpoint })
    }

    fn port(&self) -> Result<u16> {
        self.endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("no port in {}", self.endpoint))
    }

    fn stop(&self) -> Result<()> {
        self.service.stop()
    }
}

/// A loopback TCP forwarder to whichever port `upstream` holds; returns its endpoint URL.
/// Connections made while nothing listens upstream are closed at once, like a dead server.
fn forwarder(upstream: Arc<AtomicU16>) -> Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for inbound in listener.incoming().flatten() {
            let up = upstream.load(Ordering::SeqCst);
            let Ok(outbound) = TcpStream::connect(("127.0.0.1", up)) else {
                let _ = inbound.shutdown(Shutdown::Both);
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Both);
                    let _ = from.shutdown(Shutdown::Both);
                });
            };
            if let (Ok(i2), Ok(o2)) = (inbound.try_clone(), outbound.try_clone()) {
                pipe(inbound, o2);
                pipe(outbound, i2);
            }
        }
    });
    Ok(format!("http://127.0.0.1:{port}"))
}

async fn bucket_names(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let mut names: Vec<String> = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    names.sort();
    names
}

fn bucket(name: &str, spec_name: &str, team: &str) -> serde_json::Value {
    json!({
        "apiVersion": "s3.services.k8s.aws/v1alpha1",
        "kind": "Bucket",
        "metadata": {"name": name},
        "spec": {"name": spec_name, "tagging": {"tagSet": [{"key": "team", "value": team}]}}
    })
}

#[tokio::test]
async fn moto_outage_is_recoverable_and_recovery_creates_no_duplicates() -> Result<()> {
    let client = kro_e2e::client().await?;
    install_crds(&client).await?;
    let ns = kro_e2e::namespace(&client, "aws-fault").await?;
    let state =
        std::env::temp_dir().join(format!("kro-e2e-fault-{}", kro_e2e::unique_name("moto")));
    let first_moto = PrivateMoto::start(&state.join("a"))?;
    let upstream = Arc::new(AtomicU16::new(first_moto.port()?));
    let endpoint = forwarder(upstream.clone())?;
    let controllers = start(&client, options(&ns, &endpoint));
    let api: Api<Bucket> = Api::namespaced(client.clone(), &ns);
    let n1 = bucket_name("kro-fault-a");
    let n2 = bucket_name("kro-fault-b");

    create(&api, bucket("first", &n1, "a")).await?;
    wait_condition(&api, "first", "ACK.ResourceSynced", "True").await?;

    // moto goes away: an update and a create both fail, recoverably.
    first_moto.stop()?;
    patch(
        &api,
        "first",
        json!({"spec": {"tagging": {"tagSet": [{"key": "team", "value": "b"}]}}}),
    )
    .await?;
    create(&api, bucket("second", &n2, "c")).await?;
    for name in ["first", "second"] {
        let obj = wait_condition(&api, name, "ACK.Recoverable", "True").await?;
        let msg = condition_message(&obj, "ACK.Recoverable");
        assert!(!msg.is_empty());
        assert_eq!(
            condition(&obj, "ACK.ResourceSynced").unwrap()["status"],
            "Unknown",
            "{name}"
        );
        assert_eq!(
            condition(&obj, "Ready").unwrap()["status"],
            "False",
            "{name}"
        );
        assert!(
            condition(&obj, "ACK.Terminal").is_none(),
            "{name}: an outage is never terminal"
        );
    }

    // A new moto at the same endpoint (it starts empty): both converge, each bucket exists once.
    let second_moto = PrivateMoto::start(&state.join("b"))?;
    upstream.store(second_moto.port()?, Ordering::SeqCst);
    let s3 = kro_e2e::s3_client_for(&second_moto.endpoint).await;
    for name in ["first", "second"] {
        let obj = wait_condition(&api, name, "ACK.ResourceSynced", "True").await?;
        assert!(condition(&obj, "ACK.Recoverable").is_none(), "{name}");
    }
    let mut want = vec![n1.clone(), n2.clone()];
    want.sort();
    assert_eq!(bucket_names(&s3).await, want);
    assert_eq!(
        s3_tags(&s3, &n1).await,
        vec![("team".to_string(), "b".to_string())]
    );
    assert_eq!(
        s3_tags(&s3, &n2).await,
        vec![("team".to_string(), "c".to_string())]
    );

    // Restart mid-create: the ownership marker (status) and the finalizer were written and the
    // bucket created, then the controller died before the rest of the status. The next
    // controller owns the bucket; nothing is created twice.
    controllers.stop().await;
    let n3 = bucket_name("kro-fault-c");
    kro_e2e::create_bucket(&s3, &n3).await?;
    let mut third = bucket("third", &n3, "d");
    third["metadata"]["finalizers"] = json!(["finalizers.s3.services.k8s.aws/Bucket"]);
    create(&api, third).await?;
    let marker = json!({"status": {"ackResourceMetadata": {
        "ownerAccountID": "123456789012", "region": "us-west-2", "identifier": n3
    }}});
    api.patch_status("third", &PatchParams::default(), &Patch::Merge(&marker))
        .await?;
    let controllers = start(&client, options(&ns, &endpoint));
    let obj = wait_condition(&api, "third", "ACK.ResourceSynced", "True").await?;
    assert!(condition(&obj, "ACK.Terminal").is_none());
    assert_eq!(
        s3_tags(&s3, &n3).await,
        vec![("team".to_string(), "d".to_string())]
    );
    assert_eq!(
        bucket_names(&s3).await.iter().filter(|n| **n == n3).count(),
        1
    );
    controllers.stop().await;
    drop(second_moto);
    drop(first_moto);
    Ok(())
}
