//! Counters the benchmark reads: the apiserver's `apiserver_request_total`, the operator's own
//! `/metrics`, and the operator process's memory and CPU from /proc.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use kube::Client;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `apiserver_request_total` summed per (verb, resource), resource requests only.
#[derive(Debug, Clone, Default)]
pub(crate) struct ApiCounts(BTreeMap<(String, String), f64>);

const WRITE_VERBS: [&str; 6] = [
    "POST",
    "PUT",
    "PATCH",
    "APPLY",
    "DELETE",
    "DELETECOLLECTION",
];

impl ApiCounts {
    pub(crate) async fn scrape(client: &Client) -> Result<Self> {
        let req = http::Request::get("/metrics")
            .body(Vec::new())
            .context("building GET /metrics")?;
        let text = client
            .request_text(req)
            .await
            .context("reading the apiserver's /metrics")?;
        Ok(Self::parse(&text))
    }

    fn parse(text: &str) -> Self {
        let mut out = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.rsplit_once('}') else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let labels = parse_labels(labels);
            let resource = labels.get("resource").cloned().unwrap_or_default();
            if resource.is_empty() {
                continue;
            }
            let sub = labels.get("subresource").cloned().unwrap_or_default();
            let resource = if sub.is_empty() {
                resource
            } else {
                format!("{resource}/{sub}")
            };
            let verb = labels.get("verb").cloned().unwrap_or_default();
            *out.entry((verb, resource)).or_insert(0.0) += value;
        }
        Self(out)
    }

    pub(crate) fn diff(&self, before: &Self) -> Self {
        let mut out = BTreeMap::new();
        for (k, v) in &self.0 {
            let d = v - before.0.get(k).copied().unwrap_or(0.0);
            if d > 0.0 {
                out.insert(k.clone(), d);
            }
        }
        Self(out)
    }

    fn sum(&self, f: impl Fn(&str, &str) -> bool) -> u64 {
        self.0
            .iter()
            .filter(|((v, r), _)| f(v, r))
            .map(|(_, n)| *n)
            .sum::<f64>()
            .round() as u64
    }

    pub(crate) fn total(&self) -> u64 {
        self.sum(|_, r| !is_lease(r))
    }

    pub(crate) fn reads(&self) -> u64 {
        self.sum(|v, r| !WRITE_VERBS.contains(&v) && !is_lease(r))
    }

    pub(crate) fn writes_excluding_leases(&self) -> u64 {
        self.sum(|v, r| WRITE_VERBS.contains(&v) && !is_lease(r))
    }

    pub(crate) fn lease_writes(&self) -> u64 {
        self.sum(|v, r| WRITE_VERBS.contains(&v) && is_lease(r))
    }

    pub(crate) fn by_verb_resource(&self) -> Value {
        let m: BTreeMap<String, u64> = self
            .0
            .iter()
            .map(|((v, r), n)| (format!("{v} {r}"), n.round() as u64))
            .collect();
        json!(m)
    }
}

/// The apiserver renews its own identity Lease every 10 s; the operator holds none without
/// `--leader-elect`, so leases are kept out of every operator figure.
fn is_lease(resource: &str) -> bool {
    resource == "leases"
}

fn parse_labels(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut rest = s;
    while let Some((key, after)) = rest.split_once("=\"") {
        let Some(end) = after.find('"') else { break };
        out.insert(
            key.trim_start_matches(',').trim().to_string(),
            after[..end].to_string(),
        );
        rest = &after[end + 1..];
    }
    out
}

/// Sum of every series of one metric on the operator's /metrics (plain HTTP on loopback).
pub(crate) async fn operator_metric_sum(url: &str, name: &str) -> Option<f64> {
    let body = operator_metrics(url).await?;
    // A family with no series yet (no instance reconciled) sums to 0; one the operator does
    // not export at all (kro's controller has no instance_reconcile_cpu_seconds) is unknown.
    let declared = body.lines().any(|line| {
        line.strip_prefix("# TYPE ")
            .and_then(|rest| rest.split(' ').next())
            .is_some_and(|family| name.starts_with(family))
    });
    let mut total = 0.0;
    let mut found = declared;
    for line in body.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with('{') || rest.starts_with(' ')) {
            continue;
        }
        if let Some(value) = rest.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) {
            total += value;
            found = true;
        }
    }
    found.then_some(total)
}

/// The operator's /metrics text (plain HTTP on loopback); None if it does not answer.
pub(crate) async fn operator_metrics(url: &str) -> Option<String> {
    let addr = url.strip_prefix("http://")?.split('/').next()?.to_string();
    // HTTP/1.0: the server closes the connection after the response and sends it unchunked
    // (Go's server keeps an HTTP/1.1 connection open and chunks the body, which would split
    // lines). Bounded, so an operator that stops answering cannot stall the bench.
    let scrape = async {
        let mut s = tokio::net::TcpStream::connect(&addr).await.ok()?;
        s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut body = Vec::new();
        s.read_to_end(&mut body).await.ok()?;
        Some(String::from_utf8_lossy(&body).into_owned())
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), scrape)
        .await
        .ok()
        .flatten()
}

/// The operator's own count of the requests it sent (`rest_client_requests_total{method,code}`
/// on its /metrics), summed by method: every request, discovery and watches included.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientCounts(BTreeMap<String, f64>);

impl ClientCounts {
    /// Scrapes the operator; empty when it does not answer.
    pub(crate) async fn scrape(url: &str) -> Self {
        operator_metrics(url)
            .await
            .map(|t| Self::parse(&t))
            .unwrap_or_default()
    }

    fn parse(text: &str) -> Self {
        let mut out = BTreeMap::new();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("rest_client_requests_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.rsplit_once("} ") else {
                continue;
            };
            let Ok(value) = value.trim().parse::<f64>() else {
                continue;
            };
            let method = parse_labels(labels)
                .remove("method")
                .unwrap_or_else(|| "?".into());
            *out.entry(method).or_insert(0.0) += value;
        }
        Self(out)
    }

    /// `self - before`, method by method.
    pub(crate) fn diff(&self, before: &Self) -> Self {
        Self(
            self.0
                .iter()
                .map(|(m, v)| (m.clone(), v - before.0.get(m).copied().unwrap_or(0.0)))
                .collect(),
        )
    }

    /// Every request.
    pub(crate) fn total(&self) -> f64 {
        self.0.values().sum()
    }

    /// Requests that write (every method but GET and HEAD).
    pub(crate) fn writes(&self) -> f64 {
        self.0
            .iter()
            .filter(|(m, _)| !matches!(m.as_str(), "GET" | "HEAD"))
            .map(|(_, v)| v)
            .sum()
    }

    /// `{"GET": n, "PATCH": n, ...}`.
    pub(crate) fn by_method(&self) -> Value {
        json!(self.0)
    }
}

/// One sample of the operator process.
#[derive(Debug, Clone)]
pub(crate) struct ProcSample {
    /// Seconds since the bench started.
    pub(crate) t: f64,
    /// Resident memory now (VmRSS).
    pub(crate) rss_kib: u64,
    /// Peak resident memory so far (VmHWM).
    pub(crate) hwm_kib: u64,
    /// utime + stime.
    pub(crate) cpu_seconds: f64,
}

/// Reads /proc/PID/status (VmRSS, VmHWM) and /proc/PID/stat (utime, stime); None once it is gone.
pub(crate) fn read_proc(pid: u32, t: f64) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    let rss_kib = field("VmRSS:")?;
    let hwm_kib = field("VmHWM:")?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3 of the line, utime 14, stime 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(ProcSample {
        t,
        rss_kib,
        hwm_kib,
        cpu_seconds: (utime + stime) as f64 / clock_ticks(),
    })
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The machine the figures come from.
pub(crate) fn machine() -> Value {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let cpu = read("/proc/cpuinfo")
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_default();
    let nproc = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = read("/proc/meminfo")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    json!({
        "nproc": nproc,
        "cpu": cpu,
        "memory": mem,
        "loadavg_at_end": read("/proc/loadavg").trim(),
        "kernel": read("/proc/sys/kernel/osrelease").trim(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_resource_requests_by_verb_and_resource() {
        let text = r#"# HELP x
apiserver_request_total{code="201",component="apiserver",dry_run="",group="",resource="configmaps",scope="resource",subresource="",verb="POST",version="v1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="",group="kro.run",resource="webapps",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="",scope="",subresource="/metrics",verb="GET",version=""} 9
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="configmaps",scope="namespace",subresource="",verb="LIST",version="v1"} 4
"#;
        let c = ApiCounts::parse(text);
        assert_eq!(c.total(), 9);
        assert_eq!(c.writes_excluding_leases(), 5);
        assert_eq!(c.lease_writes(), 7);
        assert_eq!(c.reads(), 4);
        let before = ApiCounts::parse(&text.replace("} 3", "} 1"));
        assert_eq!(c.diff(&before).total(), 2);
    }

    #[test]
    fn client_counts_sum_the_operators_requests_by_method() {
        let text = "# TYPE rest_client_requests counter\n\
            rest_client_requests_total{method=\"GET\",code=\"200\"} 10\n\
            rest_client_requests_total{method=\"GET\",code=\"404\"} 2\n\
            rest_client_requests_total{method=\"PATCH\",code=\"200\"} 5\n\
            rest_client_requests_total{method=\"POST\",code=\"<error>\"} 1\n\
            instance_reconcile_total{gvk=\"x\"} 99\n";
        let after = ClientCounts::parse(text);
        assert_eq!(after.total(), 18.0);
        assert_eq!(after.writes(), 6.0);
        let before = ClientCounts::parse(&text.replace("} 10", "} 4"));
        assert_eq!(after.diff(&before).total(), 6.0);
        assert_eq!(after.diff(&before).writes(), 0.0);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let c = ApiCounts::parse(
            "apiserver_request_total{verb=\"POST\nnot a metric\napiserver_request_total{resource=\"x\",verb=\"PUT\"} nope\n",
        );
        assert_eq!(c.total(), 0);
    }
}
