//! The emulator answers the Rust SDK clients the way AWS does, rule by rule.
//!
//! Each test expects a fresh emulator at `EMULATOR_ENDPOINT` with a VPC whose
//! subnets (`CONFORMANCE_SUBNETS`, in the zones `CONFORMANCE_ZONES`) and a
//! client instance (`CONFORMANCE_INSTANCE`) exist: the pytest wrapper
//! prepares them and runs the tests one by one.
// Test code: a failed unwrap or expect is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::missing_panics_doc)]
// A rule story reads best as one test, step by step.
#![allow(clippy::too_many_lines)]

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_cloudhsmv2::types::{Cluster, ClusterMode};
use aws_sdk_kms::types::{ConnectionErrorCodeType, ConnectionStateType, OriginType};
use aws_sdk_ssm::types::CommandInvocationStatus;
use cluster_tasks::pki;
use rcgen::{CertificateParams, DnType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ADMIN_PASSWORD: &str = "admin-pass-1";
const KMSUSER_PASSWORD: &str = "kms-pass-1";

struct Lab {
    hsm: aws_sdk_cloudhsmv2::Client,
    kms: aws_sdk_kms::Client,
    ssm: aws_sdk_ssm::Client,
    subnets: Vec<String>,
    zones: Vec<String>,
    instance: String,
    /// The client instance's security group.
    client_group: String,
    endpoint: String,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run these tests through test_rust_sdk_conformance.py")
    })
}

fn list(name: &str) -> Vec<String> {
    env(name).split(',').map(str::to_owned).collect()
}

/// The AWS error code of a failed call.
fn code<E, R>(result: Result<impl Sized, aws_sdk_cloudhsmv2::error::SdkError<E, R>>) -> String
where
    E: aws_sdk_cloudhsmv2::error::ProvideErrorMetadata,
{
    let Err(err) = result else {
        panic!("the call was expected to fail")
    };
    err.as_service_error()
        .and_then(|e| e.code())
        .unwrap_or("not a service error")
        .to_owned()
}

/// Polls `probe` until it gives a value, for at most 20 s.
async fn wait<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Lab {
    async fn new() -> Self {
        // The handlers' own configuration: the same environment, the same HTTP client.
        let config = handler_core::aws::load_config().await;
        Self {
            hsm: aws_sdk_cloudhsmv2::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            subnets: list("CONFORMANCE_SUBNETS"),
            zones: list("CONFORMANCE_ZONES"),
            instance: env("CONFORMANCE_INSTANCE"),
            client_group: env("CONFORMANCE_CLIENT_GROUP"),
            endpoint: env("EMULATOR_ENDPOINT"),
        }
    }

    /// POSTs JSON to an emulator knob.
    async fn knob(&self, path: &str, body: &str) {
        let address = self.endpoint.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
            "{answer}"
        );
    }

    async fn cluster(&self, id: &str) -> Cluster {
        let out = self
            .hsm
            .describe_clusters()
            .filters("clusterIds", vec![id.to_owned()])
            .send()
            .await
            .unwrap();
        out.clusters()[0].clone()
    }

    async fn wait_state(&self, id: &str, state: &str) -> Cluster {
        wait(state, || async {
            let cluster = self.cluster(id).await;
            (cluster
                .state()
                .map(aws_sdk_cloudhsmv2::types::ClusterState::as_str)
                == Some(state))
            .then_some(cluster)
        })
        .await
    }

    async fn wait_active_hsms(&self, id: &str, count: usize) -> Cluster {
        wait("ACTIVE HSMs", || async {
            let cluster = self.cluster(id).await;
            let active = cluster
                .hsms()
                .iter()
                .filter(|h| {
                    h.state().map(aws_sdk_cloudhsmv2::types::HsmState::as_str) == Some("ACTIVE")
                })
                .count();
            (active == count).then_some(cluster)
        })
        .await
    }

    async fn create_cluster(&self) -> String {
        let out = self
            .hsm
            .create_cluster()
            .hsm_type("hsm2m.medium")
            .set_subnet_ids(Some(self.subnets.clone()))
            .send()
            .await
            .unwrap();
        let id = out.cluster().unwrap().cluster_id().unwrap().to_owned();
        self.wait_state(&id, "UNINITIALIZED").await;
        id
    }

    /// `CreateHsm` in a zone of the lab.
    async fn create_hsm(
        &self,
        id: &str,
        zone: &str,
    ) -> Result<
        aws_sdk_cloudhsmv2::operation::create_hsm::CreateHsmOutput,
        aws_sdk_cloudhsmv2::error::SdkError<
            aws_sdk_cloudhsmv2::operation::create_hsm::CreateHsmError,
        >,
    > {
        self.hsm
            .create_hsm()
            .cluster_id(id)
            .availability_zone(zone)
            .send()
            .await
    }

    async fn csr(&self, id: &str) -> String {
        wait("CSR", || async {
            self.cluster(id)
                .await
                .certificates()
                .and_then(|c| c.cluster_csr())
                .map(str::to_owned)
        })
        .await
    }

    /// An INITIALIZED cluster with one HSM; returns its id, the HSM's IP and the trust anchor.
    async fn initialized(&self) -> (String, String, String) {
        let id = self.create_cluster().await;
        self.create_hsm(&id, &self.zones[0]).await.unwrap();
        let issued = pki::sign_with_ephemeral_ca(&id, &self.csr(&id).await).unwrap();
        self.hsm
            .initialize_cluster()
            .cluster_id(&id)
            .signed_cert(&issued.cluster_certificate)
            .trust_anchor(&issued.ca_certificate)
            .send()
            .await
            .unwrap();
        let cluster = self.wait_state(&id, "INITIALIZED").await;
        let ip = cluster.hsms()[0].eni_ip().unwrap().to_owned();
        (id, ip, issued.ca_certificate)
    }

    /// Runs shell lines on the client instance; returns (status, stdout, stderr).
    async fn run(&self, lines: &[String]) -> (CommandInvocationStatus, String, String) {
        let sent = self
            .ssm
            .send_command()
            .instance_ids(&self.instance)
            .document_name("AWS-RunShellScript")
            .parameters("commands", lines.to_vec())
            .send()
            .await
            .unwrap();
        let command_id = sent.command().unwrap().command_id().unwrap().to_owned();
        wait("SSM command", || async {
            let out = self
                .ssm
                .get_command_invocation()
                .command_id(&command_id)
                .instance_id(&self.instance)
                .send()
                .await
                .ok()?;
            match out.status()? {
                CommandInvocationStatus::Pending | CommandInvocationStatus::InProgress => None,
                status => Some((
                    status.clone(),
                    out.standard_output_content().unwrap_or_default().to_owned(),
                    out.standard_error_content().unwrap_or_default().to_owned(),
                )),
            }
        })
        .await
    }

    /// Lets the client's security group in to `cluster_group` on TCP 2223-2225,
    /// with the AWS CLI (this crate has no EC2 client of its own).
    fn let_client_in(&self, cluster_group: &str) {
        let permissions = format!(
            r#"[{{"IpProtocol":"tcp","FromPort":2223,"ToPort":2225,"UserIdGroupPairs":[{{"GroupId":"{}"}}]}}]"#,
            self.client_group
        );
        let done = std::process::Command::new("aws")
            .args([
                "ec2",
                "authorize-security-group-ingress",
                "--group-id",
                cluster_group,
            ])
            .args([
                "--ip-permissions",
                &permissions,
                "--endpoint-url",
                &self.endpoint,
                "--region",
                "us-east-1",
            ])
            .output()
            .expect("the AWS CLI runs");
        assert!(
            done.status.success(),
            "authorize-security-group-ingress: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    }

    /// An activated ACTIVE cluster with `hsms` HSMs in distinct zones.
    async fn active(&self, hsms: usize) -> (String, String, String) {
        let (id, ip, anchor) = self.initialized().await;
        // What a customer does before the CLI can reach an HSM: let the
        // client's group in to the cluster's on the HSM ports (the client's
        // group already allows all egress), and give the client the trust anchor.
        let cluster = self.wait_state(&id, "INITIALIZED").await;
        self.let_client_in(cluster.security_group().unwrap());
        let (status, _, stderr) = self
            .run(&[
                format!(
                    "printf '%s' '{anchor}' | sudo tee /opt/cloudhsm/etc/customerCA.crt > /dev/null"
                ),
                format!("sudo /opt/cloudhsm/bin/configure-cli -a {ip}"),
                format!(
                    "/opt/cloudhsm/bin/cloudhsm-cli cluster activate --password {ADMIN_PASSWORD}"
                ),
            ])
            .await;
        assert_eq!(status, CommandInvocationStatus::Success, "{stderr}");
        self.wait_state(&id, "ACTIVE").await;
        for zone in &self.zones[1..hsms] {
            self.create_hsm(&id, zone).await.unwrap();
        }
        self.wait_active_hsms(&id, hsms).await;
        (id, ip, anchor)
    }
}

#[tokio::test]
async fn create_cluster_refuses_retired_types_and_bad_modes() {
    let lab = Lab::new().await;
    let create = || {
        lab.hsm
            .create_cluster()
            .set_subnet_ids(Some(lab.subnets.clone()))
    };
    assert_eq!(
        code(create().hsm_type("hsm1.medium").send().await),
        "CloudHsmInvalidRequestException"
    );
    assert_eq!(
        code(
            create()
                .hsm_type("hsm1.medium")
                .mode(ClusterMode::NonFips)
                .send()
                .await
        ),
        "CloudHsmInvalidRequestException"
    );
    assert_eq!(
        code(
            create()
                .hsm_type("hsm2m.medium")
                .source_backup_id("backup-aaaaaaaaaaa")
                .send()
                .await
        ),
        "CloudHsmResourceNotFoundException"
    );
}

#[tokio::test]
async fn clusters_have_real_ids_epoch_timestamps_and_their_security_group() {
    let lab = Lab::new().await;
    let id = lab.create_cluster().await;
    let cluster = lab.cluster(&id).await;
    assert!(id.starts_with("cluster-"));
    assert!(
        cluster.create_timestamp().unwrap().secs() > 1_600_000_000,
        "parsed as epoch seconds"
    );
    assert!(cluster.security_group().unwrap().starts_with("sg-"));
    assert_eq!(cluster.subnet_mapping().unwrap().len(), lab.subnets.len());
}

#[tokio::test]
async fn the_first_hsm_brings_the_csr_and_a_second_one_must_wait_for_activation() {
    let lab = Lab::new().await;
    let id = lab.create_cluster().await;
    let hsm = lab.create_hsm(&id, &lab.zones[0]).await.unwrap();
    assert!(hsm.hsm().unwrap().hsm_id().starts_with("hsm-"));
    assert_eq!(
        code(lab.create_hsm(&id, &lab.zones[1]).await),
        "CloudHsmInvalidRequestException"
    );
    assert!(
        lab.csr(&id)
            .await
            .starts_with("-----BEGIN CERTIFICATE REQUEST-----")
    );
    let cluster = lab.wait_active_hsms(&id, 1).await;
    assert!(
        cluster.hsms()[0]
            .eni_ip()
            .is_some_and(|ip| ip.contains('.'))
    );
}

#[tokio::test]
async fn initialize_accepts_only_a_certificate_for_the_csr_signed_by_the_trust_anchor() {
    let lab = Lab::new().await;
    let id = lab.create_cluster().await;
    lab.create_hsm(&id, &lab.zones[0]).await.unwrap();
    let csr = lab.csr(&id).await;
    let initialize = |cert: String, anchor: String| {
        lab.hsm
            .initialize_cluster()
            .cluster_id(&id)
            .signed_cert(cert)
            .trust_anchor(anchor)
            .send()
    };

    // A certificate for another key.
    let key = pki::rsa_key().unwrap();
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, "someone else");
    let other_csr = params.serialize_request(&key).unwrap().pem().unwrap();
    let other = pki::sign_with_ephemeral_ca(&id, &other_csr).unwrap();
    assert_eq!(
        code(initialize(other.cluster_certificate, other.ca_certificate).await),
        "CloudHsmInvalidRequestException"
    );

    // The right key, but another CA as trust anchor.
    let a = pki::sign_with_ephemeral_ca(&id, &csr).unwrap();
    let b = pki::sign_with_ephemeral_ca(&id, &csr).unwrap();
    assert_eq!(
        code(initialize(a.cluster_certificate.clone(), b.ca_certificate).await),
        "CloudHsmInvalidRequestException"
    );

    initialize(a.cluster_certificate, a.ca_certificate)
        .await
        .unwrap();
    lab.wait_state(&id, "INITIALIZED").await;
}

#[tokio::test]
async fn activation_through_the_cli_over_ssm_makes_the_cluster_active() {
    let lab = Lab::new().await;
    let (id, _, _) = lab.active(1).await;
    assert_eq!(lab.cluster(&id).await.state().unwrap().as_str(), "ACTIVE");
    let (status, _, stderr) = lab.run(&["exit 3".to_owned()]).await;
    assert_eq!(status, CommandInvocationStatus::Failed, "{stderr}");
}

#[tokio::test]
async fn the_hsm_quota_is_enforced() {
    let lab = Lab::new().await;
    let (id, _, _) = lab.active(1).await;
    lab.knob("/_emulator/config", r#"{"faults": {"hsm_quota": 1}}"#)
        .await;
    assert_eq!(
        code(lab.create_hsm(&id, &lab.zones[1]).await),
        "CloudHsmResourceLimitExceededException"
    );
}

#[tokio::test]
async fn a_cluster_with_hsms_cannot_be_deleted_and_the_last_hsm_leaves_a_backup() {
    let lab = Lab::new().await;
    let (id, _, _) = lab.active(1).await;
    assert_eq!(
        code(lab.hsm.delete_cluster().cluster_id(&id).send().await),
        "CloudHsmInvalidRequestException"
    );
    let hsm_id = lab.cluster(&id).await.hsms()[0].hsm_id().to_owned();
    lab.hsm
        .delete_hsm()
        .cluster_id(&id)
        .hsm_id(hsm_id)
        .send()
        .await
        .unwrap();
    wait("no HSM", || async {
        lab.cluster(&id).await.hsms().is_empty().then_some(())
    })
    .await;
    let backups = lab
        .hsm
        .describe_backups()
        .filters("clusterIds", vec![id.clone()])
        .send()
        .await
        .unwrap();
    assert_eq!(backups.backups().len(), 1);
    lab.hsm
        .delete_cluster()
        .cluster_id(&id)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn key_stores_check_the_cluster_and_report_connection_errors() {
    let lab = Lab::new().await;
    let (id, ip, anchor) = lab.active(1).await;
    let kms_code = |result: Result<_, aws_sdk_kms::error::SdkError<_, _>>| {
        let err: aws_sdk_kms::error::SdkError<
            aws_sdk_kms::operation::create_custom_key_store::CreateCustomKeyStoreError,
            _,
        > = result
            .map(
                |_: aws_sdk_kms::operation::create_custom_key_store::CreateCustomKeyStoreOutput| (),
            )
            .unwrap_err();
        aws_sdk_kms::error::ProvideErrorMetadata::code(&err)
            .unwrap_or_default()
            .to_owned()
    };
    let create = |anchor: &str| {
        lab.kms
            .create_custom_key_store()
            .custom_key_store_name("store")
            .cloud_hsm_cluster_id(&id)
            .trust_anchor_certificate(anchor)
            .key_store_password(KMSUSER_PASSWORD)
            .send()
    };
    assert_eq!(
        kms_code(create(&anchor).await),
        "CloudHsmClusterInvalidConfigurationException",
        "one HSM is not enough"
    );
    lab.create_hsm(&id, &lab.zones[1]).await.unwrap();
    lab.wait_active_hsms(&id, 2).await;
    let other = pki::sign_with_ephemeral_ca(&id, &lab.csr(&id).await)
        .unwrap()
        .ca_certificate;
    assert_eq!(
        kms_code(create(&other).await),
        "IncorrectTrustAnchorException"
    );
    let store = create(&anchor)
        .await
        .unwrap()
        .custom_key_store_id()
        .unwrap()
        .to_owned();

    let describe = || async {
        let out = lab
            .kms
            .describe_custom_key_stores()
            .custom_key_store_id(&store)
            .send()
            .await
            .unwrap();
        out.custom_key_stores()[0].clone()
    };
    let connect = || async {
        lab.kms
            .connect_custom_key_store()
            .custom_key_store_id(&store)
            .send()
            .await
            .unwrap();
        wait("connection", || async {
            let entry = describe().await;
            match entry.connection_state()? {
                ConnectionStateType::Connected | ConnectionStateType::Failed => Some(entry),
                _ => None,
            }
        })
        .await
    };
    let disconnect = || async {
        lab.kms
            .disconnect_custom_key_store()
            .custom_key_store_id(&store)
            .send()
            .await
            .unwrap();
        wait("disconnection", || async {
            (describe().await.connection_state() == Some(&ConnectionStateType::Disconnected))
                .then_some(())
        })
        .await;
    };

    let failed = connect().await;
    assert_eq!(
        failed.connection_error_code(),
        Some(&ConnectionErrorCodeType::UserNotFound)
    );
    disconnect().await;
    let (status, out, _) = lab
        .run(&[
            format!("/opt/cloudhsm/bin/configure-cli -a {ip}"),
            "export CLOUDHSM_ROLE=admin".to_owned(),
            format!("export CLOUDHSM_PIN=admin:{ADMIN_PASSWORD}"),
            format!("cloudhsm-cli user create --username kmsuser --role crypto-user --password {KMSUSER_PASSWORD}"),
        ])
        .await;
    assert_eq!(status, CommandInvocationStatus::Success, "{out}");
    lab.kms
        .update_custom_key_store()
        .custom_key_store_id(&store)
        .key_store_password("wrong-pass")
        .send()
        .await
        .unwrap();
    assert_eq!(
        connect().await.connection_error_code(),
        Some(&ConnectionErrorCodeType::InvalidCredentials)
    );
    disconnect().await;
    lab.kms
        .update_custom_key_store()
        .custom_key_store_id(&store)
        .key_store_password(KMSUSER_PASSWORD)
        .send()
        .await
        .unwrap();
    assert_eq!(
        connect().await.connection_state(),
        Some(&ConnectionStateType::Connected)
    );

    let key = lab
        .kms
        .create_key()
        .custom_key_store_id(&store)
        .origin(OriginType::AwsCloudhsm)
        .send()
        .await
        .unwrap();
    assert_eq!(
        key.key_metadata().unwrap().custom_key_store_id(),
        Some(store.as_str())
    );
    disconnect().await;
    let refused = lab
        .kms
        .delete_custom_key_store()
        .custom_key_store_id(&store)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_kms::error::ProvideErrorMetadata::code(&refused),
        Some("CustomKeyStoreHasCMKsException")
    );
}

#[tokio::test]
async fn the_cluster_quota_is_four() {
    let lab = Lab::new().await;
    for _ in 0..4 {
        lab.create_cluster().await;
    }
    let refused = lab
        .hsm
        .create_cluster()
        .hsm_type("hsm2m.medium")
        .set_subnet_ids(Some(lab.subnets.clone()))
        .send()
        .await;
    assert_eq!(code(refused), "CloudHsmResourceLimitExceededException");
}

#[tokio::test]
async fn a_cluster_restored_from_a_backup_comes_back_active_with_tags() {
    let lab = Lab::new().await;
    let (id, _, _) = lab.active(1).await;
    let hsm_id = lab.cluster(&id).await.hsms()[0].hsm_id().to_owned();
    lab.hsm
        .delete_hsm()
        .cluster_id(&id)
        .hsm_id(hsm_id)
        .send()
        .await
        .unwrap();
    let backup = wait("a READY backup", || async {
        let out = lab
            .hsm
            .describe_backups()
            .filters("clusterIds", vec![id.clone()])
            .send()
            .await
            .unwrap();
        out.backups()
            .iter()
            .find(|b| {
                b.backup_state()
                    .map(aws_sdk_cloudhsmv2::types::BackupState::as_str)
                    == Some("READY")
            })
            .map(|b| b.backup_id().to_owned())
    })
    .await;
    let tag = aws_sdk_cloudhsmv2::types::Tag::builder()
        .key("owner")
        .value("tests")
        .build()
        .unwrap();
    let restored = lab
        .hsm
        .create_cluster()
        .hsm_type("hsm2m.medium")
        .set_subnet_ids(Some(lab.subnets.clone()))
        .source_backup_id(&backup)
        .tag_list(tag)
        .send()
        .await
        .unwrap();
    let restored_id = restored.cluster().unwrap().cluster_id().unwrap().to_owned();
    let cluster = lab.wait_state(&restored_id, "ACTIVE").await;
    assert_eq!(cluster.source_backup_id(), Some(backup.as_str()));
    let tags = lab
        .hsm
        .list_tags()
        .resource_id(&restored_id)
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_list()[0].key(), "owner");
}

#[tokio::test]
async fn throttling_is_a_transient_error_for_the_handlers() {
    let lab = Lab::new().await;
    lab.knob(
        "/_emulator/config",
        r#"{"faults": {"throttle": {"cloudhsmv2": 1.0}}}"#,
    )
    .await;
    let err = lab.hsm.describe_clusters().send().await.unwrap_err();
    let error = handler_core::HandlerError::from_sdk(
        "DescribeClusters",
        "the account's clusters",
        "retry",
        &err,
    );
    assert_eq!(error.kind(), handler_core::ErrorKind::Transient, "{error}");
    assert!(error.to_string().contains("ThrottlingException"), "{error}");
}
