//! The steps every EC2 kind repeats, written once: reading one resource by id, the identifier
//! and `*Ref` fields of a generated-id kind, the route table associations of subnets and
//! gateways, and the end of an update (a fresh read when anything was called, the status).

use std::collections::BTreeSet;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{RouteTable, RouteTableAssociation};
use serde::Serialize;

use super::{aws, found, generated_identifier};
use crate::ack::error::HttpStatus;
use crate::ack::refs::{self, RefTarget};
use crate::ack::runtime::{AckStatus, Created, Deleted, SyncCx, SyncError, Synced};
use crate::ack::types::AwsResourceReferenceWrapper;

/// The one resource a Describe-by-id call answered (`first` picks it from the output); `None`
/// when AWS answered one of `not_found` or listed nothing.
pub(crate) fn described<O, T, E, R>(
    op: &'static str,
    res: Result<O, SdkError<E, R>>,
    not_found: &[&str],
    first: impl FnOnce(&O) -> Option<&T>,
) -> Result<Option<T>, SyncError>
where
    T: Clone,
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    Ok(found(op, res, not_found)?.as_ref().and_then(first).cloned())
}

/// A delete call's answer: done when AWS deleted the resource or answered one of `not_found`.
pub(crate) fn deleted<T, E, R>(
    op: &'static str,
    res: Result<T, SdkError<E, R>>,
    not_found: &[&str],
) -> Result<Deleted, SyncError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + HttpStatus + 'static,
{
    found(op, res, not_found)?;
    Ok(Deleted::Done)
}

/// What a create reports: the id AWS assigned (logged as `<what> created`).
pub(crate) fn created(what: &str, id: Option<&str>) -> Created {
    let id = id.map(str::to_owned);
    tracing::info!(id = ?id, "{what} created");
    Created {
        id,
        ..Default::default()
    }
}

/// The identifier of a generated-id kind: the ownership marker, else the status field `id`
/// picks.
pub(crate) fn status_identifier<S: AckStatus>(
    status: Option<&S>,
    id: impl FnOnce(&S) -> Option<&String>,
) -> String {
    generated_identifier(
        status.and_then(AckStatus::resource_metadata),
        status.and_then(id),
    )
}

/// The terminal error of a field given both directly and by reference.
pub(crate) fn both_set(id_field: &str, ref_field: &str) -> SyncError {
    SyncError::Terminal(format!(
        "{id_field} and {ref_field} are both set: keep only one"
    ))
}

/// Resolves `reference` (field `ref_field`) into `slot` (field `id_field`); both set is
/// terminal. No reference: `slot` stays as it is.
pub(crate) async fn resolve_id(
    cx: &SyncCx<'_>,
    slot: &mut Option<String>,
    id_field: &str,
    reference: Option<&AwsResourceReferenceWrapper>,
    ref_field: &str,
    target: RefTarget,
) -> Result<(), SyncError> {
    let Some(r) = reference else {
        return Ok(());
    };
    if slot.as_ref().is_some_and(|v| !v.is_empty()) {
        return Err(both_set(id_field, ref_field));
    }
    *slot = Some(refs::resolve(cx, ref_field, r, target).await?);
    Ok(())
}

/// Resolves a list of references (field `ref_field`, each `ref_field[i]`) into `slot` (field
/// `id_field`); both listed is terminal. No references: `slot` stays as it is.
pub(crate) async fn resolve_ids(
    cx: &SyncCx<'_>,
    slot: &mut Option<Vec<String>>,
    id_field: &str,
    references: Option<&[AwsResourceReferenceWrapper]>,
    ref_field: &str,
    target: RefTarget,
) -> Result<(), SyncError> {
    let Some(rs) = references.filter(|r| !r.is_empty()) else {
        return Ok(());
    };
    if slot.as_ref().is_some_and(|r| !r.is_empty()) {
        return Err(both_set(id_field, ref_field));
    }
    let mut ids = Vec::with_capacity(rs.len());
    for (i, r) in rs.iter().enumerate() {
        let field = format!("{ref_field}[{i}]");
        ids.push(refs::resolve(cx, &field, r, target).await?);
    }
    *slot = Some(ids);
    Ok(())
}

/// True when a list of references names at least one.
pub(crate) fn has_refs(references: Option<&[AwsResourceReferenceWrapper]>) -> bool {
    references.is_some_and(|r| !r.is_empty())
}

/// The associations among `tables` that `pick` selects: (route table id, association id).
pub(crate) fn associations(
    tables: &[RouteTable],
    pick: impl Fn(&RouteTableAssociation) -> bool,
) -> Vec<(String, String)> {
    tables
        .iter()
        .flat_map(RouteTable::associations)
        .filter(|&a| pick(a))
        .map(|a| {
            (
                a.route_table_id().unwrap_or_default().to_owned(),
                a.route_table_association_id()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect()
}

/// Route tables as a set: (route table ids to associate, association ids to disassociate).
/// Nothing changes when the spec does not list them (`want` absent).
pub(crate) fn association_delta(
    want: Option<&[String]>,
    have: &[(String, String)],
) -> (Vec<String>, Vec<String>) {
    let Some(want) = want else {
        return (Vec::new(), Vec::new());
    };
    let want: BTreeSet<&String> = want.iter().collect();
    let held: BTreeSet<&String> = have.iter().map(|(rt, _)| rt).collect();
    (
        want.iter()
            .filter(|rt| !held.contains(*rt))
            .map(|rt| rt.to_string())
            .collect(),
        have.iter()
            .filter(|(rt, _)| !want.contains(rt))
            .map(|(_, a)| a.clone())
            .collect(),
    )
}

/// What a route table is associated with.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Edge<'a> {
    /// A subnet (its id).
    Subnet(&'a str),
    /// An internet or virtual private gateway (edge association, its id).
    Gateway(&'a str),
}

/// DisassociateRouteTable for each association id of `disassociate` (first), then
/// AssociateRouteTable of each table of `associate` with `edge`. Records the calls in
/// `updated`.
pub(crate) async fn sync_associations(
    ec2: &Client,
    edge: Edge<'_>,
    associate: &[String],
    disassociate: &[String],
    updated: &mut Vec<String>,
) -> Result<(), SyncError> {
    for a in disassociate {
        ec2.disassociate_route_table()
            .association_id(a)
            .send()
            .await
            .map_err(aws("DisassociateRouteTable"))?;
        updated.push("DisassociateRouteTable".to_owned());
    }
    for rt in associate {
        let call = ec2.associate_route_table().route_table_id(rt);
        let call = match edge {
            Edge::Subnet(id) => call.subnet_id(id),
            Edge::Gateway(id) => call.gateway_id(id),
        };
        call.send().await.map_err(aws("AssociateRouteTable"))?;
        updated.push("AssociateRouteTable".to_owned());
    }
    Ok(())
}

/// DisassociateRouteTable of every association of `held` (route table id, association id),
/// before a delete; an association AWS answers one of `not_found` for is already gone.
pub(crate) async fn disassociate_all(
    ec2: &Client,
    held: &[(String, String)],
    not_found: &[&str],
) -> Result<(), SyncError> {
    for (_, a) in held {
        let res = ec2
            .disassociate_route_table()
            .association_id(a)
            .send()
            .await;
        found("DisassociateRouteTable", res, not_found)?;
    }
    Ok(())
}

/// `observed` as it is after the update: read again (`reread`) when `updated` lists a call,
/// as it was otherwise (also when the fresh read finds nothing).
pub(crate) async fn reread<O>(
    updated: &[String],
    observed: O,
    reread: impl Future<Output = Result<Option<O>, SyncError>>,
) -> Result<O, SyncError> {
    if updated.is_empty() {
        return Ok(observed);
    }
    Ok(reread.await?.unwrap_or(observed))
}

/// What an update reports: the calls made, the kind's status fields, and `waiting` while the
/// resource is not in its final state yet.
pub(crate) fn synced(
    updated: Vec<String>,
    status: &impl Serialize,
    waiting: Option<String>,
) -> Synced {
    Synced {
        waiting,
        updated,
        status: serde_json::to_value(status).unwrap_or_default(),
        ..Default::default()
    }
}

/// `<what> <id> is pending` while `state` is `pending`.
pub(crate) fn pending(what: &str, id: &str, state: Option<&str>) -> Option<String> {
    (state == Some("pending")).then(|| format!("{what} {id} is pending"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_tables_diff_as_a_set_only_when_listed() {
        let have = vec![
            ("rtb-a".to_owned(), "rtbassoc-a".to_owned()),
            ("rtb-b".to_owned(), "rtbassoc-b".to_owned()),
        ];
        assert_eq!(association_delta(None, &have), (vec![], vec![]));
        let want = ["rtb-b".to_owned(), "rtb-c".to_owned()];
        assert_eq!(
            association_delta(Some(&want), &have),
            (vec!["rtb-c".to_owned()], vec!["rtbassoc-a".to_owned()])
        );
        assert_eq!(
            association_delta(Some(&[]), &have),
            (
                vec![],
                vec!["rtbassoc-a".to_owned(), "rtbassoc-b".to_owned()]
            )
        );
    }

    #[test]
    fn only_pending_waits() {
        assert_eq!(
            pending("VPC", "vpc-1", Some("pending")).as_deref(),
            Some("VPC vpc-1 is pending")
        );
        assert_eq!(pending("VPC", "vpc-1", Some("available")), None);
        assert_eq!(pending("VPC", "vpc-1", None), None);
        assert_eq!(
            both_set("spec.vpcID", "spec.vpcRef").to_string(),
            "spec.vpcID and spec.vpcRef are both set: keep only one"
        );
    }
}
