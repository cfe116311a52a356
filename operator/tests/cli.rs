//! Runs the built `kro` binary on the examples and on broken RGDs, as a user would.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kro(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kro"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run kro")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn validate_accepts_every_example_with_warnings_for_unknown_kinds() {
    let mut args = vec!["validate"];
    let files = [
        "examples/webapp/rgd.yaml",
        "examples/collection/rgd.yaml",
        "examples/externalref/rgd.yaml",
        "examples/chained/rgd.yaml",
        "examples/s3-app/rgd.yaml",
        "examples/rds-app/rgd.yaml",
    ];
    args.extend(files);
    let o = kro(&args);
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("examples/webapp/rgd.yaml: webapp: valid (4 resources; order: config, deployment, service, ingress)"), "{out}");
    assert!(
        out.contains("warning: resource \"deployment\": no schema known for apps/v1 Deployment"),
        "{out}"
    );
    // The chained RGD's WebApp resource is type-checked against the webapp RGD's CRD.
    assert!(
        !out.contains("no schema known for kro.run/v1alpha1 WebApp"),
        "{out}"
    );
    assert_eq!(out.matches(": valid (").count(), files.len());
}

#[test]
fn validate_reports_every_error_of_every_file_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let bad1 = dir.path().join("bad1.yaml");
    std::fs::write(
        &bad1,
        r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: broken}
spec:
  schema: {apiVersion: v1alpha1, kind: Broken, spec: {name: string}}
  resources:
    - id: a
      template: {apiVersion: v1, kind: ConfigMap, metadata: {name: "${b.metadata.name}"}}
    - id: b
      template: {apiVersion: v1, kind: ConfigMap, metadata: {name: "${a.metadata.name}"}}
    - id: c
      template: {apiVersion: v1, kind: ConfigMap, metadata: {name: "${nope.x}"}}
"#,
    )
    .unwrap();
    let bad2 = dir.path().join("bad2.yaml");
    std::fs::write(&bad2, "spec: [unclosed\n").unwrap();
    let o = kro(&[
        "validate",
        bad1.to_str().unwrap(),
        bad2.to_str().unwrap(),
        "examples/webapp/rgd.yaml",
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "broken: error: failed to build dependency graph: graph contains a cycle: a -> b -> a"
        ),
        "{out}"
    );
    assert!(out.contains("broken: error: resource \"c\", metadata.name: failed to validate resource \"c\": failed to extract dependencies: expression \"nope.x\" at path \"metadata.name\" references unknown identifiers: [nope]"), "{out}");
    assert!(out.contains("broken: invalid (2 errors)"), "{out}");
    assert!(out.contains("bad2.yaml: error:"), "{out}");
    assert!(out.contains("webapp: valid"), "{out}");
}

#[test]
fn validate_with_schemas_type_checks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bucket-crd.yaml"),
        r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: buckets.s3.services.k8s.aws}
spec:
  group: s3.services.k8s.aws
  scope: Namespaced
  names: {kind: Bucket, plural: buckets}
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                name: {type: string}
                versioning: {type: object, properties: {status: {type: string}}}
"#,
    )
    .unwrap();
    let rgd = dir.path().join("rgd.yaml");
    std::fs::write(
        &rgd,
        r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: b}
spec:
  schema: {apiVersion: v1alpha1, kind: B, spec: {size: integer}}
  resources:
    - id: bucket
      template:
        apiVersion: s3.services.k8s.aws/v1alpha1
        kind: Bucket
        metadata: {name: x}
        spec:
          name: ${schema.spec.size}
          color: red
"#,
    )
    .unwrap();
    let o = kro(&[
        "validate",
        "--schemas",
        dir.path().to_str().unwrap(),
        rgd.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("schema not found for field color"), "{out}");
    assert!(
        out.contains("returns type \\\"int\\\" but expected \\\"string\\\"")
            || out.contains("returns type \"int\" but expected \"string\""),
        "{out}"
    );
    assert!(!out.contains("no schema known"), "{out}");
}

#[test]
fn render_prints_objects_in_apply_order_and_status() {
    let o = kro(&[
        "render",
        "examples/webapp/rgd.yaml",
        "examples/webapp/instance.yaml",
        "--observed",
        "examples/webapp/observed/cluster.yaml",
    ]);
    let out = stdout(&o);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let kinds: Vec<&str> = out.lines().filter(|l| l.starts_with("kind: ")).collect();
    assert_eq!(
        kinds,
        vec![
            "kind: ConfigMap",
            "kind: Deployment",
            "kind: Service",
            "kind: Ingress",
            "kind: WebApp"
        ]
    );
    assert!(out.contains("#   ingress: WAITING_FOR_READINESS"), "{out}");
    assert!(out.contains("state: IN_PROGRESS"), "{out}");
    assert!(
        out.contains("clusterIP: \"10.96.12.34\"") || out.contains("clusterIP: 10.96.12.34"),
        "{out}"
    );
    assert!(
        out.contains("applyset.kubernetes.io/contains-group-kinds: ConfigMap,Deployment.apps,Ingress.networking.k8s.io,Service"),
        "{out}"
    );
}

#[test]
fn graph_draws_mermaid_and_dot() {
    let o = kro(&["graph", "examples/webapp/rgd.yaml", "--format", "mermaid"]);
    let out = stdout(&o);
    assert!(o.status.success());
    assert!(out.starts_with("flowchart TD\n"));
    assert!(out.contains("  config --> deployment\n"));
    assert!(out.contains("ingress[\"ingress: Ingress [includeWhen]\"]"));
    let o = kro(&["graph", "examples/collection/rgd.yaml", "--format", "dot"]);
    let out = stdout(&o);
    assert!(out.starts_with("digraph \"RegionalConfig\" {"));
    assert!(out.contains("configs [shape=box, label=\"configs: ConfigMap (forEach)\"];"));
    assert!(out.contains("schema -> configs;"));
}

#[test]
fn crds_prints_kro_and_ack_crds() {
    let o = kro(&["crds"]);
    assert!(o.status.success());
    let out = stdout(&o);
    let names = [
        "name: resourcegraphdefinitions.kro.run",
        "name: graphrevisions.internal.kro.run",
        "name: buckets.s3.services.k8s.aws",
        "name: dbsubnetgroups.rds.services.k8s.aws",
        "name: dbparametergroups.rds.services.k8s.aws",
        "name: dbclusterparametergroups.rds.services.k8s.aws",
        "name: dbclusters.rds.services.k8s.aws",
        "name: dbinstances.rds.services.k8s.aws",
        "name: vpcs.ec2.services.k8s.aws",
        "name: subnets.ec2.services.k8s.aws",
        "name: securitygroups.ec2.services.k8s.aws",
        "name: internetgateways.ec2.services.k8s.aws",
        "name: routetables.ec2.services.k8s.aws",
        "name: elasticipaddresses.ec2.services.k8s.aws",
        "name: natgateways.ec2.services.k8s.aws",
        "name: policies.iam.services.k8s.aws",
        "name: roles.iam.services.k8s.aws",
    ];
    for name in names {
        assert!(out.contains(name), "kro crds should print {name}");
    }
    assert_eq!(
        out.matches("\n---\n").count(),
        names.len() - 1,
        "one YAML document per CRD"
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // `kro crds | head -1`: the reader goes away before kro writes (its end is closed right
    // after the spawn, while kro is still starting), so the write meets a closed pipe.
    let mut child = Command::new(env!("CARGO_BIN_EXE_kro"))
        .arg("crds")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kro");
    drop(child.stdout.take());
    let o = child.wait_with_output().expect("wait for kro");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "exit {:?}: {err}", o.status);
    assert!(err.is_empty(), "nothing on stderr, got: {err}");
}

#[test]
fn run_names_the_bad_flag_or_the_missing_cluster() {
    let o = kro(&["run", "--aws-controllers", "bucket,lambda"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--aws-controllers") && err.contains("\"lambda\""),
        "{err}"
    );

    let o = Command::new(env!("CARGO_BIN_EXE_kro"))
        .arg("run")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("no Kubernetes cluster"), "{err}");
}

#[test]
fn run_rejects_bad_aws_authority_flags_naming_them() {
    let o = kro(&["run", "--deletion-policy", "keep"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--deletion-policy") && err.contains("write delete or retain"),
        "{err}"
    );
    let o = kro(&["run", "--enable-resource-adoption=maybe"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--enable-resource-adoption"), "{err}");
}

#[test]
fn text_logs_into_a_pipe_have_no_colour_codes() {
    // A cluster that is not there: kro logs its start, then fails to install its CRD.
    let dir = std::env::temp_dir().join(format!("kro-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\n\
         clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: u, user: {token: x}}]\n\
         contexts: [{name: c, context: {cluster: c, user: u}}]\n\
         current-context: c\n",
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_kro"))
        .args(["run", "--log-format", "text"])
        .args(["--metrics-bind-address", "127.0.0.1:0"])
        .args(["--health-probe-bind-address", "127.0.0.1:0"])
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let log = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{log}");
    assert!(log.contains(" INFO "), "kro logged its start: {log}");
    assert!(!log.contains('\x1b'), "no ANSI escapes in {log:?}");
}

/// Waits for `child` to exit on its own (bounded by a generous deadline, then killed) and
/// returns its exit code and stderr.
fn exit_of(mut child: std::process::Child) -> (Option<i32>, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kro did not exit within 120s");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        std::io::Read::read_to_string(&mut stderr, &mut err).unwrap();
    }
    (status.code(), err)
}

#[test]
fn run_stops_at_once_when_an_admin_port_is_taken() {
    // No cluster is there either, but the ports are bound first: the error names the flag and
    // the address, not the missing cluster.
    let dir = std::env::temp_dir().join(format!("kro-cli-port-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\n\
         clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: u, user: {token: x}}]\n\
         contexts: [{name: c, context: {cluster: c, user: u}}]\n\
         current-context: c\n",
    )
    .unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for (flag, other) in [
        ("--metrics-bind-address", "--health-probe-bind-address"),
        ("--health-probe-bind-address", "--metrics-bind-address"),
    ] {
        let child = Command::new(env!("CARGO_BIN_EXE_kro"))
            .args(["run", "--aws-controllers", "none"])
            .args([flag, addr.as_str(), other, "127.0.0.1:0"])
            .env("KUBECONFIG", &kubeconfig)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (code, err) = exit_of(child);
        assert_eq!(code, Some(1), "{err}");
        assert!(
            err.contains(&format!("error: {flag} {addr}: ")) && err.contains("in use"),
            "{err}"
        );
    }
    drop(taken);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn validate_warns_where_the_instance_spec_picks_a_namespace_or_cluster_scoped_name() {
    let o = kro(&[
        "validate",
        "examples/saas-multi-tenant/rgd.yaml",
        "examples/saas-multi-tenant/rgd-confined.yaml",
    ]);
    let out = stdout(&o);
    assert!(o.status.success(), "warnings do not fail validation: {out}");
    assert!(
        out.contains("tenantenvironment: warning: resource \"tenantNamespace\": metadata.name depends on schema.spec.tenantId: whoever creates an instance chooses which cluster-scoped object it reaches"),
        "{out}"
    );
    assert!(
        out.contains("tenantenvironment: warning: resource \"app\": metadata.namespace depends on schema.spec.tenantId"),
        "{out}"
    );
    assert!(
        out.contains("tenantenvironment: valid (4 resources"),
        "{out}"
    );
    assert!(
        !out.contains("tenantworkspace: warning: resource \"app\": metadata.namespace"),
        "{out}"
    );
    assert!(out.contains("tenantworkspace: valid (3 resources"), "{out}");
}

/// Every example RGD file.
const EXAMPLE_RGDS: &[&str] = &[
    "examples/webapp/rgd.yaml",
    "examples/collection/rgd.yaml",
    "examples/externalref/rgd.yaml",
    "examples/chained/rgd.yaml",
    "examples/s3-app/rgd.yaml",
    "examples/rds-app/rgd.yaml",
    "examples/saas-multi-tenant/rgd.yaml",
    "examples/saas-multi-tenant/rgd-confined.yaml",
];

fn ok_stdout(args: &[&str]) -> String {
    let o = kro(args);
    assert!(
        o.status.success(),
        "kro {args:?}: {}\n{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o)
}

fn yaml(text: &str) -> serde_json::Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The CRD the RGD controller applies for `file`: the same compile, with `kro run`'s default
/// options.
fn crd_kro_run_installs(file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let rgd = yaml(&text);
    let options = kro_controller::Options::default().compile_options(kro_controller::kro_version());
    let graph = kro_graph::compile(&rgd, &kro_graph::SchemaStore::new(), &options)
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    serde_json::to_value(graph.crd.as_ref().unwrap()).unwrap()
}

#[test]
fn generate_crd_prints_the_crd_kro_run_installs_for_every_example() {
    for file in EXAMPLE_RGDS {
        let want = crd_kro_run_installs(file);
        let from_yaml = yaml(&ok_stdout(&["generate", "crd", "-f", file]));
        assert_eq!(from_yaml, want, "{file}: kro generate crd");
        let from_json: serde_json::Value =
            serde_json::from_str(&ok_stdout(&["generate", "crd", "-f", file, "-o", "json"]))
                .unwrap();
        assert_eq!(from_json, want, "{file}: kro generate crd -o json");
    }
    // What a user sees: the kind's CRD with kro's labels and kro-rs's version.
    let crd = yaml(&ok_stdout(&[
        "generate",
        "crd",
        "-f",
        "examples/webapp/rgd.yaml",
    ]));
    assert_eq!(crd["metadata"]["name"], "webapps.kro.run");
    assert_eq!(
        crd["metadata"]["labels"]["kro.run/resource-graph-definition-name"],
        "webapp"
    );
    assert_eq!(crd["metadata"]["labels"]["kro.run/owned"], "true");
    assert_eq!(
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["required"],
        serde_json::json!(["name"])
    );
}

#[test]
fn generate_takes_the_file_as_kro_does_or_as_an_argument() {
    let flag_first = ok_stdout(&["generate", "-f", "examples/webapp/rgd.yaml", "crd"]);
    let positional = ok_stdout(&["generate", "crd", "examples/webapp/rgd.yaml"]);
    let long = ok_stdout(&[
        "generate",
        "crd",
        "--file",
        "examples/webapp/rgd.yaml",
        "--format",
        "yaml",
    ]);
    assert_eq!(flag_first, positional);
    assert_eq!(flag_first, long);

    let o = kro(&["generate", "crd"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("kro generate crd -f"), "{err}");

    let o = kro(&[
        "generate",
        "instance",
        "-f",
        "examples/webapp/rgd.yaml",
        "-o",
        "xml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("xml"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: bad}\n\
         spec:\n  schema: {apiVersion: v1alpha1, kind: Bad, spec: {n: strin}}\n  resources: []\n",
    )
    .unwrap();
    let o = kro(&["generate", "crd", "-f", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad is not a valid RGD") && err.contains("strin"),
        "{err}"
    );
}

/// Checks `value` against a structural schema the way the API server's validation does for the
/// parts SimpleSchema produces: types, required fields, unknown fields, enum, bounds, lengths,
/// item counts and patterns.
fn schema_errors(schema: &serde_json::Value, value: &serde_json::Value, at: &str) -> Vec<String> {
    use serde_json::Value;
    let mut errors = Vec::new();
    let num = |key: &str| schema.get(key).and_then(Value::as_f64);
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} is not one of {allowed:?}"));
    }
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        if !(value.is_i64() || value.is_u64() || value.is_string()) {
            errors.push(format!("{at}: {value} is not an integer or a string"));
        }
        return errors;
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => match value.as_str() {
            Some(text) => {
                let len = text.chars().count() as f64;
                if num("minLength").is_some_and(|min| len < min)
                    || num("maxLength").is_some_and(|max| len > max)
                {
                    errors.push(format!("{at}: {text:?} has the wrong length"));
                }
                if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
                    && !regex::Regex::new(pattern).unwrap().is_match(text)
                {
                    errors.push(format!("{at}: {text:?} does not match {pattern:?}"));
                }
            }
            None => errors.push(format!("{at}: {value} is not a string")),
        },
        Some(kind @ ("integer" | "number")) => match value.as_f64() {
            Some(n) if kind == "number" || value.is_i64() || value.is_u64() => {
                if num("minimum").is_some_and(|min| n < min)
                    || num("maximum").is_some_and(|max| n > max)
                {
                    errors.push(format!("{at}: {n} is out of bounds"));
                }
            }
            _ => errors.push(format!("{at}: {value} is not an {kind}")),
        },
        Some("boolean") => {
            if !value.is_boolean() {
                errors.push(format!("{at}: {value} is not a boolean"));
            }
        }
        Some("array") => match value.as_array() {
            Some(items) => {
                let len = items.len() as f64;
                if num("minItems").is_some_and(|min| len < min)
                    || num("maxItems").is_some_and(|max| len > max)
                {
                    errors.push(format!("{at}: {len} items is out of bounds"));
                }
                let set =
                    schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("set");
                if set
                    && items
                        .iter()
                        .enumerate()
                        .any(|(i, item)| items[..i].contains(item))
                {
                    errors.push(format!("{at}: duplicate items in a set"));
                }
                let item_schema = schema.get("items").cloned().unwrap_or_default();
                for (i, item) in items.iter().enumerate() {
                    errors.extend(schema_errors(&item_schema, item, &format!("{at}[{i}]")));
                }
            }
            None => errors.push(format!("{at}: {value} is not an array")),
        },
        _ => match value.as_object() {
            Some(fields) => {
                for name in schema
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = name.as_str().unwrap();
                    if !fields.contains_key(name) {
                        errors.push(format!("{at}.{name}: required"));
                    }
                }
                let properties = schema.get("properties").and_then(Value::as_object);
                let extra = schema.get("additionalProperties").filter(|v| v.is_object());
                let open =
                    schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
                for (name, field) in fields {
                    let path = format!("{at}.{name}");
                    match (properties.and_then(|p| p.get(name)), extra) {
                        (Some(field_schema), _) | (None, Some(field_schema)) => {
                            errors.extend(schema_errors(field_schema, field, &path));
                        }
                        (None, None) if !open => errors.push(format!("{path}: unknown field")),
                        (None, None) => {}
                    }
                }
            }
            None => errors.push(format!("{at}: {value} is not an object")),
        },
    }
    errors
}

#[test]
fn generate_instance_validates_against_the_crd_and_renders_for_every_example() {
    let dir = tempfile::tempdir().unwrap();
    for file in EXAMPLE_RGDS {
        let crd = yaml(&ok_stdout(&["generate", "crd", "-f", file]));
        let text = ok_stdout(&["generate", "instance", "-f", file]);
        let instance = yaml(&text);
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap();
        assert_eq!(instance["kind"], kind, "{file}: {text}");
        assert_eq!(
            instance["apiVersion"],
            format!(
                "{}/{}",
                crd["spec"]["group"].as_str().unwrap(),
                crd["spec"]["versions"][0]["name"].as_str().unwrap()
            ),
            "{file}"
        );
        assert_eq!(
            instance["metadata"]["name"],
            format!("{}-sample", kind.to_lowercase())
        );
        let spec_schema =
            &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let errors = schema_errors(spec_schema, &instance["spec"], "spec");
        assert!(errors.is_empty(), "{file}: {errors:?}\n{text}");

        let path = dir.path().join(format!("{}.yaml", kind.to_lowercase()));
        std::fs::write(&path, &text).unwrap();
        let rendered = ok_stdout(&["render", file, path.to_str().unwrap()]);
        assert!(
            rendered.contains(&format!("kind: {kind}\n")),
            "{file}: the instance closes the render\n{rendered}"
        );
        assert!(!rendered.contains(": ERROR"), "{file}: {rendered}");
    }
}

#[test]
fn generate_instance_fills_required_fields_and_shows_defaults() {
    let webapp = yaml(&ok_stdout(&[
        "generate",
        "instance",
        "-f",
        "examples/webapp/rgd.yaml",
        "--name",
        "shop",
        "--namespace",
        "apps",
    ]));
    assert_eq!(
        webapp,
        serde_json::json!({
            "apiVersion": "kro.run/v1alpha1",
            "kind": "WebApp",
            "metadata": {"name": "shop", "namespace": "apps"},
            "spec": {
                "name": "string",
                "image": "nginx:1.27",
                "replicas": 2,
                "port": 8080,
                "message": "hello",
                "ingress": {"enabled": false, "host": "example.local"},
            },
        })
    );
    // A required list gets one item; the pattern of tenantId is met; enum and minimum defaults.
    let rds = yaml(&ok_stdout(&[
        "generate",
        "instance",
        "-f",
        "examples/rds-app/rgd.yaml",
    ]));
    assert_eq!(rds["spec"]["subnetIDs"], serde_json::json!(["string"]));
    assert_eq!(rds["spec"]["storageGB"], 20);
    let json: serde_json::Value = serde_json::from_str(&ok_stdout(&[
        "generate",
        "instance",
        "-f",
        "examples/saas-multi-tenant/rgd.yaml",
        "-o",
        "json",
    ]))
    .unwrap();
    assert_eq!(json["spec"]["tenantId"], "string");
    assert_eq!(json["spec"]["size"], "small");

    let dir = tempfile::tempdir().unwrap();
    let rgd = dir.path().join("rgd.yaml");
    std::fs::write(
        &rgd,
        r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: shapes}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Shapes
    spec:
      tier: string | required=true enum="gold,silver"
      count: integer | required=true minimum=3 maximum=9
      ratio: float | required=true minimum=0.5
      code: string | required=true pattern="^[A-Z]{3}$"
      id: string | required=true minLength=12
      tags: "[]string | required=true minItems=2 uniqueItems=true"
      labels: "map[string]string | required=true"
      enabled: boolean | required=true
      nested:
        leaf: string | required=true
      optional: string
      odd: string | required=true pattern="^zz[0-9]{4}$"
  resources: []
"#,
    )
    .unwrap();
    let o = kro(&["generate", "instance", "-f", rgd.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    let shapes = yaml(&stdout(&o));
    assert_eq!(
        shapes["spec"],
        serde_json::json!({
            "tier": "gold",
            "count": 3,
            "ratio": 0.5,
            "code": "ABC",
            "id": "stringxxxxxx",
            "tags": ["string", "string-1"],
            "labels": {"key": "string"},
            "enabled": false,
            "nested": {"leaf": "string"},
            "odd": "string",
        }),
        "{err}"
    );
    assert!(
        err.contains(r#"warning: spec.odd: no example value matches the pattern "^zz[0-9]{4}$""#),
        "{err}"
    );
}

#[test]
fn validate_rgd_dash_f_is_kros_spelling_of_validate() {
    let out = ok_stdout(&["validate", "rgd", "-f", "examples/webapp/rgd.yaml"]);
    assert!(
        out.contains("examples/webapp/rgd.yaml: webapp: valid ("),
        "{out}"
    );
    let out = ok_stdout(&[
        "validate",
        "-f",
        "examples/webapp/rgd.yaml",
        "examples/collection/rgd.yaml",
    ]);
    assert_eq!(out.matches(": valid (").count(), 2, "{out}");
    let o = kro(&["validate", "rgd"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    let o = kro(&["validate"]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
}

#[test]
fn validate_reports_an_unterminated_expression_with_resource_path_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let rgd = dir.path().join("rgd.yaml");
    std::fs::write(
        &rgd,
        r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: open}
spec:
  schema: {apiVersion: v1alpha1, kind: Open, spec: {name: string}}
  resources:
    - id: config
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: "${schema.spec.name}"}
        data:
          greeting: "hello ${schema.spec.name"
          literal: 'costs ${"${"}5'
"#,
    )
    .unwrap();
    let o = kro(&["validate", "rgd", "-f", rgd.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(r#"open: error: resource "config", data.greeting: resource "config": invalid expression at path "data.greeting": unterminated expression: the "${" at position 6 has no matching "}""#),
        "{out}"
    );
    assert!(out.contains("open: invalid (1 error)"), "{out}");
}

#[test]
fn cel_cost_limit_bounds_each_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let rgd = dir.path().join("rgd.yaml");
    std::fs::write(
        &rgd,
        r#"
apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {name: costly}
spec:
  schema: {apiVersion: v1alpha1, kind: Costly, spec: {items: "[]string"}}
  resources:
    - id: config
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: costly}
        data:
          joined: ${schema.spec.items.map(i, i + "-x").join(",")}
"#,
    )
    .unwrap();
    let instance = dir.path().join("instance.yaml");
    std::fs::write(
        &instance,
        "apiVersion: kro.run/v1alpha1\nkind: Costly\nmetadata: {name: c, namespace: default}\n\
         spec: {items: [a, b, c, d, e, f, g, h]}\n",
    )
    .unwrap();
    let (rgd, instance) = (rgd.to_str().unwrap(), instance.to_str().unwrap());
    let out = ok_stdout(&["render", rgd, instance]);
    assert!(
        out.contains("joined: a-x,b-x,c-x,d-x,e-x,f-x,g-x,h-x"),
        "{out}"
    );
    let out = ok_stdout(&["render", "--cel-cost-limit", "5", rgd, instance]);
    assert!(out.contains("exceeded its cost limit of 5"), "{out}");
    assert!(!out.contains("joined:"), "{out}");

    let o = kro(&["run", "--cel-cost-limit", "lots"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--cel-cost-limit"));
}

/// An RGD whose 16 custom types each use the next twice (a schema bomb: 131,071 schema nodes,
/// which took gigabytes before the budget): `validate` and `render` answer at once with the
/// budget error.
#[test]
fn validate_and_render_reject_a_schema_bomb_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut types = String::new();
    for i in 0..16 {
        let next = if i == 15 {
            "string".to_string()
        } else {
            format!("T{}", i + 1)
        };
        types.push_str(&format!("      T{i}: {{a: {next}, b: {next}}}\n"));
    }
    let rgd = dir.path().join("bomb.yaml");
    std::fs::write(
        &rgd,
        format!(
            r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata: {{name: bomb}}
spec:
  schema:
    apiVersion: v1alpha1
    kind: Bomb
    spec: {{root: T0}}
    types:
{types}  resources:
    - id: config
      template: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: bomb}}}}
"#
        ),
    )
    .unwrap();
    let instance = dir.path().join("instance.yaml");
    std::fs::write(
        &instance,
        "apiVersion: kro.run/v1alpha1\nkind: Bomb\nmetadata: {name: b, namespace: default}\nspec: {}\n",
    )
    .unwrap();
    let budget = "expanding type \"T1\" would create 131,053 schema nodes for this RGD, more than the budget of 100,000";
    let o = kro(&["validate", rgd.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains(budget), "{out}");
    assert!(out.contains("bomb: invalid (1 error"), "{out}");
    let o = kro(&["render", rgd.to_str().unwrap(), instance.to_str().unwrap()]);
    let all = format!("{}{}", stdout(&o), String::from_utf8_lossy(&o.stderr));
    assert!(!o.status.success(), "{all}");
    assert!(all.contains(budget), "{all}");
}
