//! Steps on the HSMs: the first one, resizing, deleting them all.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudhsmv2::types::Cluster;
use handler_core::HandlerError;
use handler_core::cfn::CfnRequest;
use handler_core::contract::Example;
use serde::{Deserialize, Serialize};

use super::cluster::ClusterStatus;
use super::{Ctx, Done, Step};
use crate::aws::{cloudhsm, kms};
use crate::contract::HSMS_RESOURCE_TYPE;
use crate::props::HsmsProps;
use crate::view::{self, ClusterView, Expect};

/// Creates the first HSM, in the zone of the first subnet, unless the
/// cluster has one.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct CreateFirstHsm {
    /// The cluster.
    pub cluster_id: String,
    /// The cluster's subnets, in the order of the properties.
    pub subnet_ids: Vec<String>,
}

impl Example for CreateFirstHsm {
    fn example() -> Self {
        Self {
            cluster_id: "cluster-abcdefghijk".into(),
            subnet_ids: vec!["subnet-0123456789abcdef0".into()],
        }
    }
}

impl Step for CreateFirstHsm {
    type Output = Done;
    const STARTS: Option<&'static str> = Some("creating the first HSM");

    async fn run(self, ctx: &Ctx) -> Result<Done, HandlerError> {
        let cluster_id = &self.cluster_id;
        let found = ClusterView::from(&cloudhsm::describe(&ctx.clients.hsm, cluster_id).await?);
        if !found.hsms.is_empty() {
            tracing::info!(cluster_id, "the cluster has its first HSM already");
            return Ok(Done {});
        }
        let subnet_id = self
            .subnet_ids
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        let zone = found.zone_of(subnet_id).ok_or_else(|| {
            HandlerError::Internal(format!(
                "subnet {subnet_id} is not one of cluster {cluster_id}'s"
            ))
        })?;
        let hsm = cloudhsm::create_hsm(&ctx.clients.hsm, cluster_id, zone).await?;
        tracing::info!(hsm_id = %hsm.hsm_id, zone, "first HSM requested");
        Ok(Done {})
    }
}

/// Creates and deletes HSMs until every subnet has `HsmsPerSubnet`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ResizeHsms {
    /// The `Custom::CloudHsmHsms` request.
    pub request: CfnRequest,
}

/// What a resize did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Resized {
    /// The cluster.
    pub cluster_id: String,
    /// HSMs requested.
    pub created: usize,
    /// HSMs being deleted.
    pub deleted: usize,
    /// Why no HSM was added although some are missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    /// The remembered IP addresses that new HSMs could not get again (taken
    /// meanwhile), joined by commas: those HSMs have new addresses.
    pub ip_addresses_not_kept: String,
}

impl Example for ResizeHsms {
    fn example() -> Self {
        Self {
            request: crate::props::example_request(HSMS_RESOURCE_TYPE),
        }
    }
}

impl Example for Resized {
    const OPTIONAL: &'static [&'static str] = &["Waiting"];

    fn example() -> Self {
        Self {
            cluster_id: "cluster-abcdefghijk".into(),
            created: 1,
            deleted: 0,
            waiting: Some("cluster initialization".into()),
            ip_addresses_not_kept: "10.0.1.25".into(),
        }
    }
}

impl Step for ResizeHsms {
    type Output = Resized;
    const STARTS: Option<&'static str> = Some("adding or removing HSMs");

    async fn run(self, ctx: &Ctx) -> Result<Resized, HandlerError> {
        let props = HsmsProps::parse(
            &self.request.resource_properties,
            &self.request.display_name(),
        )?;
        let cluster_id = props.cluster_id.clone();
        let raw = cloudhsm::describe(&ctx.clients.hsm, &cluster_id).await?;
        let found = ClusterView::from(&raw);
        let plan = plan_resize(&found, &props.subnet_ids, props.hsms_per_subnet)?;
        keep_key_stores_usable(ctx, &found, &plan).await?;
        let mut resized = Resized {
            cluster_id,
            created: plan.create_in.len(),
            deleted: plan.delete.len(),
            waiting: None,
            ip_addresses_not_kept: String::new(),
        };
        if !plan.create_in.is_empty() && found.state == "UNINITIALIZED" {
            // An external PKI has not answered yet: HSMs come once the
            // cluster is initialized and activated.
            tracing::info!(cluster_id = %resized.cluster_id, "the cluster is not initialized yet: no HSM is added");
            resized.created = 0;
            resized.waiting = Some("cluster initialization".into());
        } else {
            let not_kept = create_at_remembered_ips(ctx, &raw, &found, &plan.create_in).await?;
            resized.ip_addresses_not_kept = not_kept.join(",");
        }
        // Remembered before they go, so that growing again asks for the same addresses.
        let mut leaving: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for hsm in found
            .hsms
            .iter()
            .filter(|h| plan.delete.contains(&h.hsm_id))
        {
            if let Some(ip) = &hsm.eni_ip {
                leaving.entry(&hsm.subnet_id).or_default().push(ip.clone());
            }
        }
        for (subnet, ips) in &leaving {
            cloudhsm::remember_ips(&ctx.clients.hsm, &raw, subnet, ips).await?;
        }
        for hsm_id in &plan.delete {
            cloudhsm::delete_hsm(&ctx.clients.hsm, &resized.cluster_id, hsm_id).await?;
        }
        Ok(resized)
    }
}

/// The HSMs a resize leaves (those it does not delete and that are not
/// going already) and the Availability Zones they are in. HSMs the resize
/// creates do not count: they are not ACTIVE when the others go.
#[must_use]
pub fn remaining_after(cluster: &ClusterView, plan: &ResizePlan) -> (usize, BTreeSet<String>) {
    let staying: Vec<_> = cluster
        .hsms
        .iter()
        .filter(|h| {
            !plan.delete.contains(&h.hsm_id)
                && !matches!(h.state.as_str(), "DELETE_IN_PROGRESS" | "DELETED")
        })
        .collect();
    let zones = staying
        .iter()
        .map(|h| h.availability_zone.clone())
        .collect();
    (staying.len(), zones)
}

/// Refuses, before any HSM is deleted, a resize that would leave fewer
/// than two HSMs, or HSMs in fewer than two Availability Zones, while a KMS
/// key store on the cluster is CONNECTED or CONNECTING: KMS needs two
/// ACTIVE HSMs in different zones. The synth-time check covers key stores
/// of the same app; this one covers a key store of another stack (on an
/// imported cluster) or made outside CDK.
async fn keep_key_stores_usable(
    ctx: &Ctx,
    cluster: &ClusterView,
    plan: &ResizePlan,
) -> Result<(), HandlerError> {
    if plan.delete.is_empty() {
        return Ok(());
    }
    let (left, zones) = remaining_after(cluster, plan);
    if left >= 2 && zones.len() >= 2 {
        return Ok(());
    }
    let cluster_id = &cluster.cluster_id;
    let connected: Vec<_> = kms::stores_on_cluster(&ctx.clients.kms, cluster_id)
        .await?
        .into_iter()
        .filter(|store| matches!(store.state.as_str(), "CONNECTED" | "CONNECTING"))
        .collect();
    let Some(store) = connected.first() else {
        return Ok(());
    };
    Err(HandlerError::PreconditionFailed(format!(
        "the resize of cluster {cluster_id} would leave {left} HSM(s) in {} Availability Zone(s), but KMS key \
         store {} ({}) on it is {}: KMS needs at least two ACTIVE HSMs in different Availability Zones for a \
         connected key store. No HSM was deleted. Disconnect the key store (DisconnectCustomKeyStore) or delete it \
         first, then deploy again; or keep hsmsPerSubnet at 1 or more on subnets in two zones",
        zones.len(),
        store.id,
        store.name,
        store.state
    )))
}

/// Creates one HSM in each of `zones`, asking for an address its subnet
/// remembers (of an HSM a resize deleted) that no HSM has now. When
/// CloudHSM refuses that address (taken meanwhile), the HSM is created with
/// a new one; the addresses not kept are answered.
async fn create_at_remembered_ips(
    ctx: &Ctx,
    raw: &aws_sdk_cloudhsmv2::types::Cluster,
    found: &ClusterView,
    zones: &[String],
) -> Result<Vec<String>, HandlerError> {
    let cluster_id = &found.cluster_id;
    let mut remembered = cloudhsm::remembered_ips(raw);
    let in_use: Vec<&str> = found
        .hsms
        .iter()
        .filter_map(|h| h.eni_ip.as_deref())
        .collect();
    let mut not_kept = Vec::new();
    for zone in zones {
        let subnet = found.subnet_mapping.get(zone).cloned().unwrap_or_default();
        let wanted = remembered.get_mut(&subnet).and_then(|ips| {
            let free = ips.iter().position(|ip| !in_use.contains(&ip.as_str()))?;
            Some(ips.remove(free))
        });
        match cloudhsm::create_hsm_at(&ctx.clients.hsm, cluster_id, zone, wanted.as_deref()).await {
            Ok(hsm) => {
                tracing::info!(hsm_id = %hsm.hsm_id, zone, ip = ?wanted, "HSM requested");
            }
            Err((_, Some(reason))) if wanted.is_some() => {
                let ip = wanted.unwrap_or_default();
                tracing::warn!(
                    cluster_id,
                    subnet,
                    ip,
                    reason,
                    "the HSM cannot have its former IP address again: it is created with a new one; \
                     clients configured with the old address must be given the new one"
                );
                let hsm = cloudhsm::create_hsm(&ctx.clients.hsm, cluster_id, zone).await?;
                tracing::info!(hsm_id = %hsm.hsm_id, zone, "HSM requested");
                not_kept.push(ip);
            }
            Err((error, _)) => return Err(error),
        }
    }
    Ok(not_kept)
}

/// Deletes every HSM of the cluster a request is about (a cluster's own,
/// or a `Custom::CloudHsmHsms`'s), whatever its subnets; polled until none
/// is left. A cluster already gone has none.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct DeleteHsms {
    /// The Delete request.
    pub request: CfnRequest,
}

impl Example for DeleteHsms {
    fn example() -> Self {
        Self {
            request: crate::props::example_request(HSMS_RESOURCE_TYPE),
        }
    }
}

/// The prefix of every cluster id.
const CLUSTER_ID_PREFIX: &str = "cluster-";

impl DeleteHsms {
    /// The cluster whose HSMs go, if it exists. A cluster resource whose
    /// physical id is not a cluster id never recorded one (CloudFormation
    /// cancelled its create and made an id up): its cluster, if the create
    /// got that far, carries the stack's and the resource's tags.
    async fn cluster(&self, ctx: &Ctx) -> Result<Option<Cluster>, HandlerError> {
        let request = &self.request;
        let cluster_id = if request.resource_type == HSMS_RESOURCE_TYPE {
            HsmsProps::parse(&request.resource_properties, &request.display_name())?.cluster_id
        } else {
            request.physical_resource_id.clone().unwrap_or_default()
        };
        if cluster_id.starts_with(CLUSTER_ID_PREFIX) {
            return cloudhsm::find(&ctx.clients.hsm, &cluster_id).await;
        }
        let found = cloudhsm::owned_by(
            &ctx.clients.hsm,
            &request.stack_id,
            &request.logical_resource_id,
        )
        .await?;
        tracing::info!(
            physical_resource_id = cluster_id,
            cluster_id = found.as_ref().and_then(Cluster::cluster_id),
            "no cluster id recorded: looked the cluster up by its stack and resource tags"
        );
        Ok(found)
    }
}

impl Step for DeleteHsms {
    type Output = ClusterStatus;
    const STARTS: Option<&'static str> = None;

    async fn run(self, ctx: &Ctx) -> Result<ClusterStatus, HandlerError> {
        let Some(found) = self.cluster(ctx).await? else {
            if ctx.deadline_passed()? {
                return Err(ctx.deadline.reached_late("the cluster is gone"));
            }
            return Ok(ClusterStatus::gone());
        };
        let cluster = ClusterView::from(&found);
        let cluster_id = cluster.cluster_id.as_str();
        for hsm in &cluster.hsms {
            if !matches!(hsm.state.as_str(), "DELETE_IN_PROGRESS" | "DELETED") {
                cloudhsm::delete_hsm(&ctx.clients.hsm, cluster_id, &hsm.hsm_id).await?;
                tracing::info!(hsm_id = %hsm.hsm_id, cluster_id, "HSM deleted");
            }
        }
        let ready = view::reached(&cluster, Expect::NoHsms)?;
        if ctx.deadline_passed()? {
            return Err(if ready {
                ctx.deadline
                    .reached_late(&format!("every HSM of cluster {cluster_id} is deleted"))
            } else {
                view::timed_out(&cluster, Expect::NoHsms, &ctx.deadline)
            });
        }
        Ok(ClusterStatus::of(ready, cluster))
    }
}

/// What a resize does: zones to add an HSM in (one entry per HSM) and HSMs
/// to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResizePlan {
    /// One zone per HSM to create.
    pub create_in: Vec<String>,
    /// HSMs to delete, the last AWS lists in each zone first (the first
    /// HSM, which the client may point at, goes last).
    pub delete: Vec<String>,
}

/// Plans a resize: HSMs being deleted do not count.
pub fn plan_resize(
    cluster: &ClusterView,
    subnet_ids: &[String],
    per_subnet: u32,
) -> Result<ResizePlan, HandlerError> {
    let wanted = per_subnet as usize;
    let mut plan = ResizePlan {
        create_in: Vec::new(),
        delete: Vec::new(),
    };
    for subnet in subnet_ids {
        let zone = cluster.zone_of(subnet).ok_or_else(|| {
            HandlerError::PreconditionFailed(format!(
                "subnet {subnet} is not one of cluster {}'s subnets: a cluster's subnets cannot change; \
                 create a new cluster (from a backup) to move it",
                cluster.cluster_id
            ))
        })?;
        let live: Vec<_> = cluster
            .hsms
            .iter()
            .filter(|h| {
                h.availability_zone == zone
                    && !matches!(h.state.as_str(), "DELETE_IN_PROGRESS" | "DELETED")
            })
            .collect();
        plan.create_in.extend(std::iter::repeat_n(
            zone.to_owned(),
            wanted.saturating_sub(live.len()),
        ));
        plan.delete.extend(
            live.iter()
                .rev()
                .take(live.len().saturating_sub(wanted))
                .map(|h| h.hsm_id.clone()),
        );
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use aws_sdk_cloudhsmv2::Client;
    use aws_sdk_cloudhsmv2::operation::delete_hsm::DeleteHsmOutput;
    use aws_sdk_cloudhsmv2::operation::describe_clusters::DescribeClustersOutput;
    use aws_sdk_cloudhsmv2::types::{Cluster, ClusterState, Hsm, HsmState};
    use aws_smithy_mocks::mock;

    use super::*;
    use crate::steps::testing::ctx;
    use crate::view::HsmView;

    fn view(hsms: &[(&str, &str, &str)]) -> ClusterView {
        ClusterView {
            cluster_id: "cluster-abc".into(),
            state: "ACTIVE".into(),
            state_message: None,
            security_group_id: None,
            vpc_id: None,
            subnet_mapping: [("az-a", "subnet-a"), ("az-b", "subnet-b")]
                .iter()
                .map(|(a, s)| ((*a).to_owned(), (*s).to_owned()))
                .collect(),
            hsms: hsms
                .iter()
                .map(|(id, az, state)| HsmView {
                    hsm_id: (*id).into(),
                    availability_zone: (*az).into(),
                    subnet_id: String::new(),
                    eni_ip: None,
                    state: (*state).into(),
                    state_message: None,
                })
                .collect(),
            has_csr: true,
        }
    }

    fn subnets() -> Vec<String> {
        vec!["subnet-a".into(), "subnet-b".into()]
    }

    #[test]
    fn growing_fills_each_zone_counting_the_first_hsm() {
        let plan = plan_resize(&view(&[("hsm-1", "az-a", "ACTIVE")]), &subnets(), 2).unwrap();
        assert_eq!(plan.create_in, ["az-a", "az-b", "az-b"]);
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn shrinking_deletes_the_last_listed_and_ignores_hsms_already_going() {
        let v = view(&[
            ("hsm-1", "az-a", "ACTIVE"),
            ("hsm-2", "az-a", "ACTIVE"),
            ("hsm-3", "az-b", "ACTIVE"),
            ("hsm-4", "az-b", "DELETE_IN_PROGRESS"),
        ]);
        let plan = plan_resize(&v, &subnets(), 1).unwrap();
        assert!(plan.create_in.is_empty());
        assert_eq!(plan.delete, ["hsm-2"]);
        let to_zero = plan_resize(&v, &subnets(), 0).unwrap();
        assert_eq!(to_zero.delete, ["hsm-2", "hsm-1", "hsm-3"]);
    }

    #[test]
    fn a_subnet_outside_the_cluster_is_refused() {
        let err = plan_resize(&view(&[]), &["subnet-z".to_owned()], 1).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("subnet subnet-z is not one of cluster cluster-abc's subnets")
        );
    }

    fn hsm(id: &str, state: HsmState) -> Hsm {
        Hsm::builder()
            .hsm_id(id)
            .availability_zone("az-a")
            .state(state)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn deleting_every_hsm_skips_those_already_going() {
        let found = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(
                    Cluster::builder()
                        .cluster_id("cluster-abc")
                        .state(ClusterState::Active)
                        .hsms(hsm("hsm-1", HsmState::Active))
                        .hsms(hsm("hsm-2", HsmState::DeleteInProgress))
                        .build(),
                )
                .build()
        });
        let deleted = mock!(Client::delete_hsm)
            .match_requests(|r| r.hsm_id() == Some("hsm-1"))
            .then_output(|| DeleteHsmOutput::builder().hsm_id("hsm-1").build());
        let ctx = ctx(&[&found, &deleted], &[], &[]);
        let mut step = DeleteHsms::example();
        step.request.resource_properties = serde_json::json!({
            "ClusterId": "cluster-abc", "SubnetIds": ["subnet-a"], "HsmsPerSubnet": "1"
        })
        .as_object()
        .cloned()
        .unwrap();
        let status = step.run(&ctx).await.unwrap();
        assert!(!status.ready, "hsm-2 is still being deleted");
        assert_eq!(deleted.num_calls(), 1);
    }

    fn resize_request(per_subnet: &str) -> ResizeHsms {
        let mut step = ResizeHsms::example();
        step.request.resource_properties = serde_json::json!({
            "ClusterId": "cluster-abc", "SubnetIds": ["subnet-a", "subnet-b"], "HsmsPerSubnet": per_subnet
        })
        .as_object()
        .cloned()
        .unwrap();
        step
    }

    fn cluster_with(hsms: Vec<Hsm>, tags: &[(&str, &str)]) -> Cluster {
        let mut cluster = Cluster::builder()
            .cluster_id("cluster-abc")
            .state(ClusterState::Active)
            .subnet_mapping("az-a", "subnet-a")
            .subnet_mapping("az-b", "subnet-b")
            .set_hsms(Some(hsms));
        for (key, value) in tags {
            cluster = cluster.tag_list(
                aws_sdk_cloudhsmv2::types::Tag::builder()
                    .key(*key)
                    .value(*value)
                    .build()
                    .unwrap(),
            );
        }
        cluster.build()
    }

    #[tokio::test]
    async fn hsms_added_back_ask_for_their_remembered_addresses_and_are_made_anyway_when_taken() {
        use aws_sdk_cloudhsmv2::operation::create_hsm::{CreateHsmError, CreateHsmOutput};
        use aws_sdk_cloudhsmv2::types::error::CloudHsmInvalidRequestException;
        let found = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(cluster_with(
                    vec![],
                    &[
                        ("cdk-cloudhsm:hsm-ips:subnet-a", "10.0.1.5"),
                        ("cdk-cloudhsm:hsm-ips:subnet-b", "10.0.2.7"),
                    ],
                ))
                .build()
        });
        let kept = mock!(Client::create_hsm)
            .match_requests(|r| r.ip_address() == Some("10.0.1.5"))
            .then_output(|| {
                CreateHsmOutput::builder()
                    .hsm(hsm("hsm-a", HsmState::CreateInProgress))
                    .build()
            });
        let taken = mock!(Client::create_hsm)
            .match_requests(|r| r.ip_address() == Some("10.0.2.7"))
            .then_error(|| {
                CreateHsmError::CloudHsmInvalidRequestException(
                    CloudHsmInvalidRequestException::builder()
                        .message("IpAddress 10.0.2.7 is already in use")
                        .build(),
                )
            });
        let anywhere = mock!(Client::create_hsm)
            .match_requests(|r| r.ip_address().is_none())
            .then_output(|| {
                CreateHsmOutput::builder()
                    .hsm(hsm("hsm-b", HsmState::CreateInProgress))
                    .build()
            });
        let ctx = ctx(&[&found, &kept, &taken, &anywhere], &[], &[]);
        let resized = resize_request("1").run(&ctx).await.unwrap();
        assert_eq!(resized.created, 2);
        assert_eq!(
            (kept.num_calls(), taken.num_calls(), anywhere.num_calls()),
            (1, 1, 1)
        );
        assert_eq!(resized.ip_addresses_not_kept, "10.0.2.7");
    }

    #[tokio::test]
    async fn hsms_a_resize_deletes_are_remembered_by_subnet_first() {
        use aws_sdk_cloudhsmv2::operation::tag_resource::TagResourceOutput;
        let live = |id: &str, az: &str, subnet: &str, ip: &str| {
            Hsm::builder()
                .hsm_id(id)
                .availability_zone(az)
                .subnet_id(subnet)
                .eni_ip(ip)
                .state(HsmState::Active)
                .build()
                .unwrap()
        };
        let found = mock!(Client::describe_clusters).then_output(move || {
            DescribeClustersOutput::builder()
                .clusters(cluster_with(
                    vec![
                        live("hsm-a", "az-a", "subnet-a", "10.0.1.9"),
                        live("hsm-b", "az-b", "subnet-b", "10.0.2.8"),
                    ],
                    &[("cdk-cloudhsm:hsm-ips:subnet-a", "10.0.1.5")],
                ))
                .build()
        });
        let tagged = mock!(Client::tag_resource)
            .match_requests(|r| {
                let tags = r.tag_list();
                tags.len() == 1
                    && ((tags[0].key() == "cdk-cloudhsm:hsm-ips:subnet-a"
                        && tags[0].value() == "10.0.1.9 10.0.1.5")
                        || (tags[0].key() == "cdk-cloudhsm:hsm-ips:subnet-b"
                            && tags[0].value() == "10.0.2.8"))
            })
            .then_output(|| TagResourceOutput::builder().build());
        let deleted = mock!(Client::delete_hsm).then_output(|| DeleteHsmOutput::builder().build());
        let no_store = mock!(aws_sdk_kms::Client::describe_custom_key_stores)
            .then_output(|| stores_page(&[], None));
        let mut ctx = ctx(&[&found, &tagged, &deleted], &[], &[]);
        ctx.clients.kms = aws_smithy_mocks::mock_client!(
            aws_sdk_kms,
            aws_smithy_mocks::RuleMode::MatchAny,
            [&no_store]
        );
        let resized = resize_request("0").run(&ctx).await.unwrap();
        assert_eq!(resized.deleted, 2);
        assert_eq!((tagged.num_calls(), deleted.num_calls()), (2, 2));
    }

    fn two_zones_of_two() -> Cluster {
        let live = |id: &str, az: &str| {
            Hsm::builder()
                .hsm_id(id)
                .availability_zone(az)
                .state(HsmState::Active)
                .build()
                .unwrap()
        };
        cluster_with(vec![live("hsm-a", "az-a"), live("hsm-b", "az-b")], &[])
    }

    fn stores_page(
        stores: &[(&str, &str, aws_sdk_kms::types::ConnectionStateType)],
        next: Option<&str>,
    ) -> aws_sdk_kms::operation::describe_custom_key_stores::DescribeCustomKeyStoresOutput {
        let mut page =
            aws_sdk_kms::operation::describe_custom_key_stores::DescribeCustomKeyStoresOutput::builder()
                .truncated(next.is_some())
                .set_next_marker(next.map(str::to_owned));
        for (id, cluster, state) in stores {
            page = page.custom_key_stores(
                aws_sdk_kms::types::CustomKeyStoresListEntry::builder()
                    .custom_key_store_id(*id)
                    .custom_key_store_name(format!("{id}-name"))
                    .cloud_hsm_cluster_id(*cluster)
                    .connection_state(state.clone())
                    .build(),
            );
        }
        page.build()
    }

    #[tokio::test]
    async fn fails_to_shrink_below_two_zones_while_a_key_store_on_the_cluster_is_connected() {
        use aws_sdk_kms::types::ConnectionStateType as State;
        use aws_smithy_mocks::{RuleMode, mock_client};
        let found = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(two_zones_of_two())
                .build()
        });
        let deleted = mock!(Client::delete_hsm).then_output(|| DeleteHsmOutput::builder().build());
        let tagged = mock!(Client::tag_resource).then_output(|| {
            aws_sdk_cloudhsmv2::operation::tag_resource::TagResourceOutput::builder().build()
        });
        // Every page is read: the store on this cluster is on the second one.
        let first = mock!(aws_sdk_kms::Client::describe_custom_key_stores)
            .match_requests(|r| r.marker().is_none())
            .then_output(|| {
                stores_page(
                    &[("cks-other", "cluster-other", State::Connected)],
                    Some("page-2"),
                )
            });
        let second = mock!(aws_sdk_kms::Client::describe_custom_key_stores)
            .match_requests(|r| r.marker() == Some("page-2"))
            .then_output(|| stores_page(&[("cks-1", "cluster-abc", State::Connected)], None));
        let mut ctx = ctx(&[&found, &deleted, &tagged], &[], &[]);
        ctx.clients.kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&first, &second]);

        let err = resize_request("0").run(&ctx).await.unwrap_err();
        assert_eq!(
            (deleted.num_calls(), tagged.num_calls()),
            (0, 0),
            "no HSM deleted"
        );
        assert!(matches!(err, HandlerError::PreconditionFailed(_)));
        assert!(
            err.to_string().starts_with(
                "the resize of cluster cluster-abc would leave 0 HSM(s) in 0 Availability Zone(s), but KMS key \
                 store cks-1 (cks-1-name) on it is CONNECTED: KMS needs at least two ACTIVE HSMs in different \
                 Availability Zones for a connected key store. No HSM was deleted. Disconnect the key store"
            ),
            "{err}"
        );
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn shrinking_goes_on_when_the_cluster_s_key_store_is_disconnected() {
        use aws_sdk_kms::types::ConnectionStateType as State;
        use aws_smithy_mocks::{RuleMode, mock_client};
        let found = mock!(Client::describe_clusters).then_output(|| {
            DescribeClustersOutput::builder()
                .clusters(two_zones_of_two())
                .build()
        });
        let deleted = mock!(Client::delete_hsm).then_output(|| DeleteHsmOutput::builder().build());
        let stores = mock!(aws_sdk_kms::Client::describe_custom_key_stores).then_output(|| {
            stores_page(
                &[
                    ("cks-1", "cluster-abc", State::Disconnected),
                    ("cks-2", "cluster-other", State::Connected),
                ],
                None,
            )
        });
        let mut ctx = ctx(&[&found, &deleted], &[], &[]);
        ctx.clients.kms = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&stores]);
        let resized = resize_request("0").run(&ctx).await.unwrap();
        assert_eq!((resized.deleted, deleted.num_calls()), (2, 2));
    }

    #[test]
    fn what_a_resize_leaves_counts_neither_deleted_nor_going_hsms() {
        let v = view(&[
            ("hsm-1", "az-a", "ACTIVE"),
            ("hsm-2", "az-a", "ACTIVE"),
            ("hsm-3", "az-b", "ACTIVE"),
            ("hsm-4", "az-b", "DELETE_IN_PROGRESS"),
        ]);
        let plan = plan_resize(&v, &subnets(), 1).unwrap();
        let (left, zones) = remaining_after(&v, &plan);
        assert_eq!(
            (left, zones.len()),
            (2, 2),
            "a shrink that keeps the key store's rule needs no KMS call"
        );
        let (left, zones) = remaining_after(&v, &plan_resize(&v, &subnets(), 0).unwrap());
        assert_eq!((left, zones.len()), (0, 0));
    }
}
