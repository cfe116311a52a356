//! EC2 behaviour that moto does not have, against recorded AWS answers: a replay plugged into
//! the SDK's HTTP client interface stands in for EC2, and the kinds' own read, update and
//! delete code runs unchanged over the real client (request serialization, EC2's XML and error
//! documents). moto lets a group that another group's rule names be deleted, where AWS answers
//! DependencyViolation; moto keeps the host bits of a rule's CIDR block, where AWS stores the
//! block canonically; moto reports a deleted NAT gateway `deleted` at once, where AWS keeps it
//! `deleting` for a while.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use aws_sdk_ec2::config::http::{HttpRequest, HttpResponse};
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

use super::nat_gateway::{NATGateway, NATGatewaySpec};
use super::security_group::{
    Grant, GrantDelta, Grants, IPPermission, IPRange, ObservedGroup, SecurityGroup,
    SecurityGroupSpec, Target,
};
use crate::AwsOptions;
use crate::ack::error::{ErrorClass, classify};
use crate::ack::runtime::{AckKind, AwsClients, Ctx, Deleted, SyncCx, SyncError};

/// EC2 as a recording: each request the SDK sends gets the next recorded answer, and its body
/// is kept; a request past the last answer fails (the code called more than AWS was asked).
#[derive(Clone, Debug, Default)]
struct Replay {
    answers: Arc<Mutex<VecDeque<(u16, String)>>>,
    sent: Arc<Mutex<Vec<String>>>,
}

impl Replay {
    fn new(answers: Vec<(u16, String)>) -> Self {
        Replay {
            answers: Arc::new(Mutex::new(answers.into())),
            sent: Arc::default(),
        }
    }

    /// The form-encoded body of each request sent.
    fn sent(&self) -> Vec<String> {
        self.sent.lock().unwrap().clone()
    }

    /// The `Action` of each request sent.
    fn actions(&self) -> Vec<String> {
        self.sent()
            .iter()
            .map(|body| {
                body.split('&')
                    .find_map(|kv| kv.strip_prefix("Action="))
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    }
}

impl HttpConnector for Replay {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let body = request.body().bytes().unwrap_or_default();
        let action = String::from_utf8_lossy(body).into_owned();
        self.sent.lock().unwrap().push(action.clone());
        let answer = self.answers.lock().unwrap().pop_front();
        HttpConnectorFuture::ready(match answer {
            Some((status, body)) => Ok(HttpResponse::new(
                StatusCode::try_from(status).unwrap(),
                SdkBody::from(body),
            )),
            None => Err(ConnectorError::other(
                format!("no recorded answer left for {action}").into(),
                None,
            )),
        })
    }
}

impl HttpClient for Replay {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// A recorded answer: HTTP status and EC2's XML body.
type Answer = (u16, String);

/// An EC2 error answer as AWS writes it (HTTP 400, EC2's `Response/Errors/Error` document).
fn error(code: &str, message: &str) -> Answer {
    (
        400,
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}\
             </Code><Message>{message}</Message></Error></Errors><RequestID>req-1</RequestID>\
             </Response>"
        ),
    )
}

/// A call that answers `<return>true</return>` (revoke, authorize, delete).
fn ok(action: &str) -> Answer {
    (
        200,
        format!(
            "<{action}Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>\
             req-1</requestId><return>true</return></{action}Response>"
        ),
    )
}

/// DescribeSecurityGroups of group `sg-db` with its rules (EC2's `ipPermissions` items).
fn described_group(ingress: &str, egress: &str) -> Answer {
    (
        200,
        format!(
            "<DescribeSecurityGroupsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
             <requestId>req-1</requestId><securityGroupInfo><item><ownerId>123456789012\
             </ownerId><groupId>sg-db</groupId><groupName>db</groupName><groupDescription>the \
             database</groupDescription><vpcId>vpc-1</vpcId><ipPermissions>{ingress}\
             </ipPermissions><ipPermissionsEgress>{egress}</ipPermissionsEgress></item>\
             </securityGroupInfo></DescribeSecurityGroupsResponse>"
        ),
    )
}

/// DescribeSecurityGroupRules with no rules (the status list; not what the diff reads).
fn described_rules() -> Answer {
    (
        200,
        "<DescribeSecurityGroupRulesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
         <requestId>req-1</requestId><securityGroupRuleSet/></DescribeSecurityGroupRulesResponse>"
            .to_owned(),
    )
}

/// One `ipPermissions` item: tcp `port` from IPv4 block `cidr`.
fn tcp_from_block(port: u16, cidr: &str) -> String {
    format!(
        "<item><ipProtocol>tcp</ipProtocol><fromPort>{port}</fromPort><toPort>{port}</toPort>\
         <groups/><ipRanges><item><cidrIp>{cidr}</cidrIp></item></ipRanges><ipv6Ranges/>\
         <prefixListIds/></item>"
    )
}

/// EC2's allow-all egress rule of a new group.
const ALLOW_ALL_EGRESS: &str = "<item><ipProtocol>-1</ipProtocol><groups/><ipRanges><item>\
     <cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><ipv6Ranges/><prefixListIds/></item>";

/// The controllers' state with an EC2 client that answers `answers`, in order, and the replay
/// (which keeps what was sent).
async fn replaying(answers: Vec<Answer>) -> (Replay, Ctx, Arc<AwsClients>) {
    let http = Replay::new(answers);
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .retry_config(RetryConfig::disabled())
        .http_client(http.clone())
        .load()
        .await;
    let clients = Arc::new(AwsClients {
        s3: aws_sdk_s3::Client::new(&base),
        rds: aws_sdk_rds::Client::new(&base),
        sts: aws_sdk_sts::Client::new(&base),
        ec2: aws_sdk_ec2::Client::new(&base),
        #[cfg(feature = "iam")]
        iam: aws_sdk_iam::Client::new(&base),
    });
    // No API server: these code paths never call one (an address nothing listens on).
    let kube = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
    let kube = kube::Client::try_from(kube).unwrap();
    let ctx = Ctx::new(kube, AwsOptions::default(), base, "us-east-1".into());
    (http, ctx, clients)
}

fn cx(ctx: &Ctx, aws: Arc<AwsClients>) -> SyncCx<'_> {
    SyncCx {
        ctx,
        aws,
        region: "us-east-1".into(),
        namespace: "default".into(),
        annotations: BTreeMap::new(),
    }
}

fn group(ingress: Vec<IPPermission>) -> SecurityGroup {
    SecurityGroup::new(
        "db",
        SecurityGroupSpec {
            name: "db".into(),
            description: "the database".into(),
            vpc_id: Some("vpc-1".into()),
            ingress_rules: Some(ingress),
            ..Default::default()
        },
    )
}

/// Group `sg-db` as read: one ingress rule naming group `sg-app` (the app's).
fn observed_with_rule() -> ObservedGroup {
    let grant = Grant {
        protocol: "tcp".into(),
        from: Some(5432),
        to: Some(5432),
        target: Target::Group {
            id: "sg-app".into(),
            user: None,
        },
    };
    ObservedGroup {
        name: "db".into(),
        vpc_id: Some("vpc-1".into()),
        ingress: Grants::from([(grant, None)]),
        ..Default::default()
    }
}

fn aws_error(err: &SyncError) -> (&'static str, Option<&str>, ErrorClass) {
    match err {
        SyncError::Aws { op, err } => (
            *op,
            err.code.as_deref(),
            classify(err, SecurityGroup::TERMINAL_CODES),
        ),
        other => panic!("want an AWS error, got {other:?}"),
    }
}

/// AWS refuses to delete a group another group's rule still names (moto deletes it): the
/// group's own rules are revoked first, the delete is recoverable (retried, not terminal),
/// and the retry deletes the group once nothing names it.
#[tokio::test]
async fn deleting_a_group_another_names_is_recoverable_after_revoking_its_own_rules() {
    let (http, ctx, aws) = replaying(vec![
        ok("RevokeSecurityGroupIngress"),
        error(
            "DependencyViolation",
            "resource sg-db has a dependent object",
        ),
    ])
    .await;
    let res = group(vec![])
        .delete(&cx(&ctx, aws), "sg-db", observed_with_rule())
        .await;
    let err = res.expect_err("AWS refused the delete");
    assert_eq!(
        aws_error(&err),
        (
            "DeleteSecurityGroup",
            Some("DependencyViolation"),
            ErrorClass::Recoverable
        )
    );
    assert_eq!(
        http.actions(),
        ["RevokeSecurityGroupIngress", "DeleteSecurityGroup"]
    );
    let revoke = &http.sent()[0];
    assert!(
        revoke.contains("GroupId=sg-db") && revoke.contains("sg-app"),
        "the revoke names this group and the one its rule grants: {revoke}"
    );

    // The retry: the rules are gone (read again), the other group let go of this one.
    let (http, ctx, aws) = replaying(vec![ok("DeleteSecurityGroup")]).await;
    let observed = ObservedGroup {
        ingress: Grants::new(),
        ..observed_with_rule()
    };
    let done = group(vec![])
        .delete(&cx(&ctx, aws), "sg-db", observed)
        .await
        .unwrap();
    assert!(matches!(done, Deleted::Done), "{done:?}");
    assert_eq!(http.actions(), ["DeleteSecurityGroup"]);
}

/// A revoke that fails for good (the group the rule names is gone) does not keep the group:
/// the delete goes on. When the delete fails as well, the error says what failed first.
#[tokio::test]
async fn a_failed_revoke_does_not_block_the_delete() {
    let gone = || {
        error(
            "InvalidGroup.NotFound",
            "The security group 'sg-app' does not exist",
        )
    };
    let (http, ctx, aws) = replaying(vec![gone(), ok("DeleteSecurityGroup")]).await;
    let done = group(vec![])
        .delete(&cx(&ctx, aws), "sg-db", observed_with_rule())
        .await
        .unwrap();
    assert!(matches!(done, Deleted::Done), "{done:?}");
    assert_eq!(
        http.actions(),
        ["RevokeSecurityGroupIngress", "DeleteSecurityGroup"]
    );

    let (_, ctx, aws) = replaying(vec![
        gone(),
        error(
            "DependencyViolation",
            "resource sg-db has a dependent object",
        ),
    ])
    .await;
    let err = group(vec![])
        .delete(&cx(&ctx, aws), "sg-db", observed_with_rule())
        .await
        .expect_err("both failed");
    let (op, code, _) = aws_error(&err);
    assert_eq!(
        (op, code),
        ("RevokeSecurityGroupIngress", Some("InvalidGroup.NotFound"))
    );
}

/// A rule written with host bits (`10.1.2.3/16`) is authorized as the block AWS stores
/// (`10.1.0.0/16`), and AWS's answer then matches the spec: the next sync calls nothing.
#[tokio::test]
async fn a_block_with_host_bits_is_sent_canonically_and_never_differs_again() {
    let rule = IPPermission {
        ip_protocol: Some("tcp".into()),
        from_port: Some(5432),
        to_port: Some(5432),
        ip_ranges: Some(vec![IPRange {
            cidr_ip: Some("10.1.2.3/16".into()),
            description: None,
        }]),
        ..Default::default()
    };
    let stored = tcp_from_block(5432, "10.1.0.0/16");
    let obj = group(vec![rule]);

    // First sync of a new group: EC2's allow-all egress rule goes, the spec's rule comes.
    let (http, ctx, aws) = replaying(vec![
        described_group("", ALLOW_ALL_EGRESS),
        described_rules(),
        ok("AuthorizeSecurityGroupIngress"),
        ok("RevokeSecurityGroupEgress"),
        described_group(&stored, ""),
        described_rules(),
    ])
    .await;
    let cx1 = cx(&ctx, aws);
    let observed = obj.read(&cx1, "sg-db").await.unwrap().expect("the group");
    let synced = obj.update(&cx1, "sg-db", observed).await.unwrap();
    assert_eq!(
        synced.updated,
        ["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupEgress"]
    );
    let authorize = &http.sent()[2];
    assert!(
        authorize.contains("CidrIp=10.1.0.0%2F16"),
        "the block AWS stores: {authorize}"
    );

    // Resync: AWS reports the canonical block; nothing differs, nothing is called.
    let (http, ctx, aws) = replaying(vec![described_group(&stored, ""), described_rules()]).await;
    let cx2 = cx(&ctx, aws);
    let observed = obj.read(&cx2, "sg-db").await.unwrap().expect("the group");
    assert_eq!(
        super::security_group::grant_delta(
            &super::security_group::desired_rules(
                &obj.spec,
                "sg-db",
                observed.owner.as_deref(),
                &mut Default::default()
            )
            .unwrap()
            .0,
            &observed.ingress
        ),
        GrantDelta::default()
    );
    let synced = obj.update(&cx2, "sg-db", observed).await.unwrap();
    assert!(synced.updated.is_empty(), "{:?}", synced.updated);
    assert_eq!(
        http.actions(),
        ["DescribeSecurityGroups", "DescribeSecurityGroupRules"]
    );
    assert!(synced.waiting.is_none());
}

/// DescribeNatGateways of gateway `nat-1` in `state`.
fn described_nat(state: &str) -> Answer {
    (
        200,
        format!(
            "<DescribeNatGatewaysResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
             <requestId>req-1</requestId><natGatewaySet><item><natGatewayId>nat-1\
             </natGatewayId><subnetId>subnet-1</subnetId><vpcId>vpc-1</vpcId><state>{state}\
             </state><connectivityType>public</connectivityType><natGatewayAddressSet><item>\
             <allocationId>eipalloc-1</allocationId><networkInterfaceId>eni-1\
             </networkInterfaceId><privateIp>10.0.0.9</privateIp><publicIp>198.51.100.7\
             </publicIp></item></natGatewayAddressSet><tagSet/></item></natGatewaySet>\
             </DescribeNatGatewaysResponse>"
        ),
    )
}

/// NAT gateway `nat-1` as read in `state`.
fn nat_in(state: aws_sdk_ec2::types::NatGatewayState) -> super::nat_gateway::ObservedGateway {
    let g = aws_sdk_ec2::types::NatGateway::builder()
        .nat_gateway_id("nat-1")
        .subnet_id("subnet-1")
        .state(state)
        .build();
    super::nat_gateway::observed("nat-1", &g)
}

/// AWS keeps a deleted NAT gateway `deleting` for a while (moto reports it `deleted` at once):
/// DeleteNatGateway is sent once, the object waits (its finalizer stays, it still holds its
/// address) while EC2 reports `deleting`, with no second DeleteNatGateway, and is done once EC2
/// reports it `deleted`.
#[tokio::test]
async fn nat_gateway_delete_waits_while_ec2_reports_deleting() {
    use aws_sdk_ec2::types::NatGatewayState;
    let gateway = NATGateway::new(
        "nat",
        NATGatewaySpec {
            subnet_id: Some("subnet-1".into()),
            ..Default::default()
        },
    );
    let pending = |d: Deleted| match d {
        Deleted::Pending(msg) => msg,
        Deleted::Done => panic!("done while EC2 reports the gateway deleting"),
    };

    // The first delete: sent, then read back `deleting`.
    let deleted_answer = (
        200,
        "<DeleteNatGatewayResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">\
         <requestId>req-1</requestId><natGatewayId>nat-1</natGatewayId>\
         </DeleteNatGatewayResponse>"
            .to_owned(),
    );
    let (http, ctx, aws) = replaying(vec![deleted_answer, described_nat("deleting")]).await;
    let first = gateway
        .delete(&cx(&ctx, aws), "nat-1", nat_in(NatGatewayState::Available))
        .await
        .unwrap();
    assert_eq!(
        pending(first),
        "NAT gateway nat-1 is deleting: waiting until EC2 reports it deleted"
    );
    assert_eq!(http.actions(), ["DeleteNatGateway", "DescribeNatGateways"]);
    assert!(
        http.sent()[0].contains("NatGatewayId=nat-1"),
        "{:?}",
        http.sent()
    );

    // Requeued while still `deleting`: no second DeleteNatGateway, still waiting.
    let (http, ctx, aws) = replaying(vec![described_nat("deleting")]).await;
    let again = gateway
        .delete(&cx(&ctx, aws), "nat-1", nat_in(NatGatewayState::Deleting))
        .await
        .unwrap();
    assert!(pending(again).starts_with("NAT gateway nat-1 is deleting"));
    assert_eq!(http.actions(), ["DescribeNatGateways"]);

    // EC2 reports it `deleted`: done, the finalizer can go.
    let (http, ctx, aws) = replaying(vec![described_nat("deleted")]).await;
    let done = gateway
        .delete(&cx(&ctx, aws), "nat-1", nat_in(NatGatewayState::Deleting))
        .await
        .unwrap();
    assert!(matches!(done, Deleted::Done), "{done:?}");
    assert_eq!(http.actions(), ["DescribeNatGateways"]);
}
