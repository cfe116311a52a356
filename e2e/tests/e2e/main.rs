//! The e2e suite of kro-rs, one test binary: a real kube-apiserver + etcd and moto (one of each
//! per test process, or the ones `KUBECONFIG` and `AWS_ENDPOINT_URL` name, as `make test` does),
//! with one module per area. Every test works in a fresh namespace and its own kinds, so they
//! run in parallel; `support` holds the one set of waits and helpers they share.
//!
//! Run one area with a filter: `cargo test -p kro-e2e --test e2e operator_core::`.

mod support;

mod argocd_health;
mod argocd_live;
mod aws_backoff;
mod aws_bucket;
mod aws_bucket_settings;
mod aws_composed;
mod aws_ec2;
mod aws_fault;
mod aws_iam;
mod aws_nat;
mod aws_rds;
mod aws_rds_cluster;
mod aws_rds_fields;
mod aws_rds_parameters;
mod aws_stack;
mod chart;
mod control_plane_faults;
mod crds;
mod external_fields;
mod graph_revisions;
mod kill_points;
mod kro_chart_flags;
mod kro_metrics;
mod kubectl_experience;
mod operator_apiserver_restart;
mod operator_core;
mod operator_examples;
mod operator_graph;
mod operator_process;
mod operator_rgd;
mod poison_objects;
mod runtime_starvation;
mod scripts;
mod smoke;
mod tenancy_aws;
mod tenancy_confinement;
mod tenancy_ownership;
mod tenancy_secrets;
