//! e2e: an AWS resource whose calls keep failing is retried on the backoff schedule, not in a
//! hot loop: its condition message stays the same from one attempt to the next (no request id,
//! date or raw response), the controllers' own status writes do not wake it again, and the AWS
//! calls over 30 s stay within what 1 s doubling allows. Also: a DBInstance created with a
//! password Secret gets that password once, in CreateDBInstance, not again in a follow-up
//! ModifyDBInstance.
//!
//! The controllers' endpoint is a small HTTP/1.1 proxy owned by the test that records every
//! request before passing it to moto, so the count is what reached AWS.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kro_aws::rds::db_instance::DBInstance;
use kro_aws::s3::bucket::Bucket;
use kube::api::Api;
use kube::runtime::watcher;
use serde_json::json;

use crate::support::aws::*;
use crate::support::{condition_message, delete_and_wait, wait_condition};

/// One request the controllers sent.
#[derive(Clone, Debug)]
struct Seen {
    /// When the proxy read it.
    at: Instant,
    /// `GET /bucket?session`, `POST /`, ...
    request: String,
    /// The `Action` of a query-protocol call (RDS, STS), from the form body.
    action: Option<String>,
}

/// A loopback HTTP/1.1 proxy in front of moto that records every request it forwards.
struct CountingProxy {
    endpoint: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl CountingProxy {
    fn start(upstream: &str) -> Result<Self> {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for inbound in listener.incoming().flatten() {
                let Ok(outbound) = TcpStream::connect(&upstream) else {
                    let _ = inbound.shutdown(Shutdown::Both);
                    continue;
                };
                let (Ok(mut answers), Ok(mut back)) = (outbound.try_clone(), inbound.try_clone())
                else {
                    continue;
                };
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut answers, &mut back);
                    let _ = back.shutdown(Shutdown::Both);
                });
                let log = log.clone();
                std::thread::spawn(move || {
                    let _ = forward_requests(inbound, outbound, &log);
                });
            }
        });
        Ok(Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            seen,
        })
    }

    /// Every request so far.
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Copies the requests of one connection to `outbound`, recording each.
fn forward_requests(
    inbound: TcpStream,
    mut outbound: TcpStream,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(inbound);
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            if reader.read_until(b'\n', &mut line)? == 0 {
                let _ = outbound.shutdown(Shutdown::Both);
                return Ok(());
            }
            let end = line == b"\r\n" || line == b"\n";
            head.extend_from_slice(&line);
            if end {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.lines();
        let request_line = lines.next().unwrap_or_default().to_owned();
        if request_line.is_empty() {
            continue;
        }
        let header = |name: &str| {
            text.lines().skip(1).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
        };
        let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let at = Instant::now();
        outbound.write_all(&head)?;
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size_line = Vec::new();
                reader.read_until(b'\n', &mut size_line)?;
                outbound.write_all(&size_line)?;
                let size_text = String::from_utf8_lossy(&size_line);
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
                        .unwrap_or(0);
                if size == 0 {
                    // Trailers up to the empty line.
                    loop {
                        let mut t = Vec::new();
                        if reader.read_until(b'\n', &mut t)? == 0 {
                            break;
                        }
                        outbound.write_all(&t)?;
                        if t == b"\r\n" || t == b"\n" {
                            break;
                        }
                    }
                    break;
                }
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                outbound.write_all(&chunk)?;
                body.extend_from_slice(&chunk[..size]);
            }
        } else if length > 0 {
            let mut chunk = vec![0; length];
            reader.read_exact(&mut chunk)?;
            outbound.write_all(&chunk)?;
            body = chunk;
        }
        let form = String::from_utf8_lossy(&body);
        let action = form
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(str::to_owned);
        let request = request_line
            .rsplit_once(' ')
            .map_or(request_line.as_str(), |(r, _)| r)
            .to_owned();
        log.lock().unwrap().push(Seen {
            at,
            request,
            action,
        });
    }
}

/// Groups requests into attempts: requests less than 500 ms after the previous one belong to
/// the same reconcile (the SDK's own retries and the calls of one sync).
fn attempts(seen: &[Seen]) -> Vec<Vec<&Seen>> {
    let mut out: Vec<Vec<&Seen>> = Vec::new();
    for s in seen {
        match out.last_mut() {
            Some(last)
                if last
                    .last()
                    .is_some_and(|p| s.at.duration_since(p.at) < Duration::from_millis(500)) =>
            {
                last.push(s);
            }
            _ => out.push(vec![s]),
        }
    }
    out
}

/// The watch window of the backoff test.
const WINDOW: Duration = Duration::from_secs(30);

/// With 1 s doubling, attempts start at 0, 1, 3, 7, 15 and 31 s: 5 in 30 s. The bound leaves
/// room for one more plus a restart of the watch.
const MAX_ATTEMPTS: usize = 8;

/// What one attempt may send: the read, with the SDK's retries (3 attempts per call).
const MAX_REQUESTS_PER_ATTEMPT: usize = 6;

#[tokio::test]
async fn a_failing_create_backs_off_with_a_stable_message() -> Result<()> {
    let proxy = CountingProxy::start(kro_e2e::aws_endpoint())?;
    let endpoint = proxy.endpoint.clone();
    let (client, ns, controllers) = setup_with("aws-backoff", move |o| {
        o.endpoint_url = Some(endpoint);
        // The documented schedule: 1 s, doubling, up to 5 min.
        o.backoff_base = Duration::from_secs(1);
        o.backoff_max = Duration::from_secs(300);
    })
    .await?;
    let api: Api<Bucket> = Api::namespaced(client, &ns);
    // An S3 Express (directory bucket) name: the SDK must open a session, which moto cannot.
    let base = bucket_name("kro-bo");
    let name = format!("{base}--usw2-az1--x-s3");
    let created = create(
        &api,
        json!({
            "apiVersion": "s3.services.k8s.aws/v1alpha1",
            "kind": "Bucket",
            "metadata": {"name": "express"},
            "spec": {"name": name}
        }),
    )
    .await?;
    let deadline = tokio::time::Instant::now() + WINDOW;

    // Every version of the object until the deadline: each is one write.
    let mut versions = vec![
        created
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default(),
    ];
    let mut messages = Vec::new();
    let config = watcher::Config::default().fields("metadata.name=express");
    let mut stream = watcher::watcher(api.clone(), config).boxed();
    while let Ok(Some(event)) = tokio::time::timeout_at(deadline, stream.next()).await {
        let objects = match event {
            Ok(watcher::Event::Apply(b) | watcher::Event::InitApply(b)) => vec![b],
            _ => Vec::new(),
        };
        for b in objects {
            let rv = b.metadata.resource_version.clone().unwrap_or_default();
            if !versions.contains(&rv) {
                versions.push(rv);
            }
            let v = serde_json::to_value(&b)?;
            let msg = condition_message(&v, "ACK.Recoverable").to_owned();
            if !msg.is_empty() && !messages.contains(&msg) {
                messages.push(msg);
            }
        }
    }
    drop(stream);

    let seen: Vec<Seen> = proxy
        .seen()
        .into_iter()
        .filter(|s| s.request.contains(&base))
        .collect();
    let tries = attempts(&seen);
    let log: Vec<String> = seen.iter().map(|s| s.request.clone()).collect();
    assert!(!seen.is_empty(), "the bucket was never asked for");
    assert!(
        tries.len() <= MAX_ATTEMPTS,
        "{} attempts in {WINDOW:?}, want at most {MAX_ATTEMPTS}: {log:#?}",
        tries.len()
    );
    assert!(
        seen.len() <= MAX_ATTEMPTS * MAX_REQUESTS_PER_ATTEMPT,
        "{} AWS requests in {WINDOW:?}: {log:#?}",
        seen.len()
    );
    assert!(
        versions.len() <= MAX_ATTEMPTS,
        "{} versions of the object in {WINDOW:?} (each a write): {versions:?}",
        versions.len()
    );

    // Still failing, recoverably, with one message all along, free of per-request details.
    let obj = wait_condition(&api, "express", "ACK.Recoverable", "True").await?;
    let msg = condition_message(&obj, "ACK.Recoverable");
    assert_eq!(
        messages,
        vec![msg.to_owned()],
        "the message changed between attempts"
    );
    assert!(msg.contains("S3 Express session"), "{msg}");
    for detail in [
        "request-id",
        "RequestId",
        "x-amz",
        "GMT",
        "<?xml",
        "HttpResponse",
    ] {
        assert!(
            !msg.contains(detail),
            "{detail:?} in the condition message: {msg}"
        );
    }

    delete_and_wait(&api, "express").await?;
    controllers.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_new_db_instance_gets_its_password_once() -> Result<()> {
    let proxy = CountingProxy::start(kro_e2e::aws_endpoint())?;
    let endpoint = proxy.endpoint.clone();
    let (client, ns, controllers) = setup_with("aws-backoff-pw", move |o| {
        o.endpoint_url = Some(endpoint);
    })
    .await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let api: Api<DBInstance> = Api::namespaced(client, &ns);
    create(
        &secrets,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-password"}, "type": "Opaque", "stringData": {"password": "s3cret-pass"}}),
    )
    .await?;
    let id = bucket_name("kro-pw");
    create(
        &api,
        json!({
            "apiVersion": "rds.services.k8s.aws/v1alpha1",
            "kind": "DBInstance",
            "metadata": {"name": "db"},
            "spec": {
                "dbInstanceIdentifier": id,
                "dbInstanceClass": "db.t3.micro",
                "engine": "postgres",
                "engineVersion": "16",
                "allocatedStorage": 20,
                "masterUsername": "app",
                "masterUserPassword": {"name": "db-password", "key": "password"}
            }
        }),
    )
    .await?;
    // The create and the update that follows it run in one reconcile, before the status
    // says synced.
    wait_condition(&api, "db", "ACK.ResourceSynced", "True").await?;
    let actions: Vec<String> = proxy.seen().into_iter().filter_map(|s| s.action).collect();
    let count = |name: &str| actions.iter().filter(|a| *a == name).count();
    assert_eq!(count("CreateDBInstance"), 1, "{actions:?}");
    assert_eq!(
        count("ModifyDBInstance"),
        0,
        "the password went in CreateDBInstance; nothing else changed: {actions:?}"
    );

    delete_and_wait(&api, "db").await?;
    controllers.stop().await;
    Ok(())
}
