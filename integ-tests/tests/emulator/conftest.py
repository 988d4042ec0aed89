"""Fixtures: the session's emulator (tests/conftest.py) reset before each test, boto3 clients.

Helpers drive the CloudHSM lifecycle the way a customer does: create the cluster and
let the client instance into its security group, create its first HSM, sign the CSR
with our own CA (cryptography), InitializeCluster, put the CA certificate in the
client's customerCA.crt, and activate through SSM + the stand-in cloudhsm-cli on an
EC2 instance.
"""

import datetime
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TIME_SCALE = 10000  # the time scale the session's emulator starts with (tests/conftest.py)
REGION = "us-east-1"
ZONES = ("us-east-1a", "us-east-1b", "us-east-1c")
ADMIN_PASSWORD = "admin-pass-1"
HSM_PORTS = {"IpProtocol": "tcp", "FromPort": 2223, "ToPort": 2225}
# A role's trust policy that lets Step Functions assume it.
STATES_TRUST = json.dumps(
    {"Statement": [{"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
)


@pytest.fixture(autouse=True)
def fresh(emulator):
    emulator.reset()
    yield


@pytest.fixture
def client(emulator) -> Callable[[str], Any]:
    def make(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=emulator.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            # One attempt, no retry: botocore's legacy `max_attempts: 1` still retries once.
            config=Config(retries={"total_max_attempts": 1}),
        )

    return make


@pytest.fixture
def executing(emulator):
    """Step Functions runs the definitions (as the runner has it), not moto's stand-in."""
    body = json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode()
    request = urllib.request.Request(f"{emulator.endpoint}/moto-api/config", data=body, method="POST")
    urllib.request.urlopen(request).close()


@pytest.fixture
def states_role(client) -> str:
    """The ARN of `machine`, a role Step Functions may assume, with no policy yet."""
    return client("iam").create_role(RoleName="machine", AssumeRolePolicyDocument=STATES_TRUST)["Role"]["Arn"]


@pytest.fixture
def hsm(client):
    return client("cloudhsmv2")


@pytest.fixture
def ec2(client):
    return client("ec2")


@pytest.fixture
def ssm(client):
    return client("ssm")


@pytest.fixture
def kms(client):
    return client("kms")


def wait_for(probe: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll `probe` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class CustomerCa:
    """The customer's own CA: a self-signed root that signs cluster CSRs."""

    def __init__(self, name: str = "Customer Root CA", basic_constraints: bool = True):
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
        )
        if basic_constraints:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        else:
            builder = builder.add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
        self.cert = builder.sign(self.key, hashes.SHA256())

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    def sign(self, csr_pem: str) -> str:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.cert.subject)
            .public_key(csr.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.PEM).decode()


class IntermediateCa(CustomerCa):
    """A CA whose certificate a root signed: not a trust anchor CloudHSM takes."""

    def __init__(self, root: CustomerCa, name: str = "Customer Intermediate CA"):
        super().__init__(name)
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.cert.subject)
            .issuer_name(root.cert.subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(root.key, hashes.SHA256())
        )


CLI_RPM = "https://s3.amazonaws.com/cloudhsmv2-software/CloudHsmClient/Amzn2023/cloudhsm-cli-latest.amzn2023.x86_64.rpm"
CLI_USER_DATA = f"#!/bin/bash\nset -euo pipefail\ndnf install -y {CLI_RPM}\n"


class Lab:
    """A VPC with one subnet per zone, a client instance, and lifecycle helpers."""

    def __init__(self, hsm: Any, ec2: Any, ssm: Any, iam: Any):
        self.hsm, self.ec2, self.ssm = hsm, ec2, ssm
        self.vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        self.subnets = [
            ec2.create_subnet(VpcId=self.vpc_id, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
            for i, zone in enumerate(ZONES)
        ]
        # The client's instance profile: commands' AWS CLI calls sign as this role.
        ec2_trust = {
            "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
        }
        iam.create_role(RoleName="lab-client", AssumeRolePolicyDocument=json.dumps(ec2_trust))
        iam.put_role_policy(
            RoleName="lab-client",
            PolicyName="read-secrets",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}],
                }
            ),
        )
        # What the SSM Agent needs to register: the core permissions, and a way out (a NAT route).
        iam.attach_role_policy(
            RoleName="lab-client", PolicyArn="arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
        )
        self.nat_route()
        iam.create_instance_profile(InstanceProfileName="lab-client")
        iam.add_role_to_instance_profile(InstanceProfileName="lab-client", RoleName="lab-client")
        # The VPC's default group, as AWS gives an instance launched without one: all egress.
        self.client_group = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [self.vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
        )["SecurityGroups"][0]["GroupId"]
        self.instance_id = ec2.run_instances(
            ImageId="ami-12c6146b",
            MinCount=1,
            MaxCount=1,
            SubnetId=self.subnets[0],
            SecurityGroupIds=[self.client_group],
            IamInstanceProfile={"Name": "lab-client"},
            UserData=CLI_USER_DATA,
        )["Instances"][0]["InstanceId"]
        self.ca = CustomerCa()
        # The first boot installs the CLI (its user data runs in the sandbox).
        wait_for(lambda: self.first_boot() == "Success", what="the first boot to install cloudhsm-cli")

    def first_boot(self) -> str | None:
        """How the client's user data run stands (InProgress, Success, Failed), from the emulator's state."""
        with urllib.request.urlopen(self.ec2.meta.endpoint_url + "/_emulator/state") as answer:
            state = json.loads(answer.read())
        found = [i["UserData"] for i in state["instances"] if i["InstanceId"] == self.instance_id]
        return found[0]["Status"] if found and found[0] else None

    def nat_route(self, vpc_id: str | None = None, public_cidr: str = "10.0.200.0/24") -> str:
        """A NAT gateway (in a public subnet of its own) and the route 0.0.0.0/0 to it in the main table
        of the lab's VPC, or of `vpc_id`."""
        ec2 = self.ec2
        vpc_id = vpc_id or self.vpc_id
        public = ec2.create_subnet(VpcId=vpc_id, CidrBlock=public_cidr, AvailabilityZone=ZONES[0])
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=public["Subnet"]["SubnetId"], AllocationId=allocation)["NatGateway"]
        [main] = ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "association.main", "Values": ["true"]}]
        )["RouteTables"]
        ec2.create_route(
            RouteTableId=main["RouteTableId"], DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat["NatGatewayId"]
        )
        return str(main["RouteTableId"])

    def cluster(self, cluster_id: str) -> dict[str, Any]:
        return self.hsm.describe_clusters(Filters={"clusterIds": [cluster_id]})["Clusters"][0]

    def wait_cluster(self, cluster_id: str, state: str) -> dict[str, Any]:
        return wait_for(lambda: (c := self.cluster(cluster_id))["State"] == state and c, what=f"cluster {state}")

    def wait_hsms_active(self, cluster_id: str, count: int) -> dict[str, Any]:
        def probe() -> Any:
            cluster = self.cluster(cluster_id)
            return len([h for h in cluster["Hsms"] if h["State"] == "ACTIVE"]) == count and cluster

        return wait_for(probe, what=f"{count} ACTIVE HSMs")

    def create_cluster(self, zones: int = 3) -> str:
        """An UNINITIALIZED cluster whose security group lets the client instance in."""
        cluster = self.hsm.create_cluster(HsmType="hsm2m.medium", SubnetIds=self.subnets[:zones])["Cluster"]
        self.let_in(cluster["ClusterId"])
        self.wait_cluster(cluster["ClusterId"], "UNINITIALIZED")
        return cluster["ClusterId"]

    def let_in(self, cluster_id: str) -> None:
        """Let the client instance's groups in to the cluster's group on the HSM ports, as a customer does."""
        self.ec2.authorize_security_group_ingress(
            GroupId=self.cluster(cluster_id)["SecurityGroup"],
            IpPermissions=[
                {**HSM_PORTS, "UserIdGroupPairs": [{"GroupId": self.client_group}]}
            ],
        )

    def trust(self, pem: str) -> None:
        """Write `pem` to the client's /opt/cloudhsm/etc/customerCA.crt."""
        result = self.run("mkdir -p /opt/cloudhsm/etc", f"cat > /opt/cloudhsm/etc/customerCA.crt <<'PEM'\n{pem}PEM")
        assert result["Status"] == "Success", result["StandardErrorContent"]

    def csr(self, cluster_id: str) -> str:
        return wait_for(lambda: self.cluster(cluster_id)["Certificates"].get("ClusterCsr"), what="cluster CSR")

    def initialized_cluster(self) -> tuple[str, str]:
        """An INITIALIZED cluster with one ACTIVE HSM; returns (cluster id, HSM IP)."""
        cluster_id = self.create_cluster()
        self.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=ZONES[0])
        signed = self.ca.sign(self.csr(cluster_id))
        self.hsm.initialize_cluster(ClusterId=cluster_id, SignedCert=signed, TrustAnchor=self.ca.pem)
        self.trust(self.ca.pem)
        cluster = self.wait_cluster(cluster_id, "INITIALIZED")
        return cluster_id, cluster["Hsms"][0]["EniIp"]

    def run(self, *commands: str) -> dict[str, Any]:
        """Run shell lines on the client instance through SSM; return the finished invocation."""
        command_id = self.ssm.send_command(
            InstanceIds=[self.instance_id], DocumentName="AWS-RunShellScript", Parameters={"commands": list(commands)}
        )["Command"]["CommandId"]

        def finished() -> Any:
            invocation = self.ssm.get_command_invocation(CommandId=command_id, InstanceId=self.instance_id)
            return invocation["Status"] in ("Success", "Failed", "TimedOut") and invocation

        return wait_for(finished, what="SSM command")

    def active_cluster(self, hsms: int = 2) -> tuple[str, str]:
        """An activated ACTIVE cluster with `hsms` ACTIVE HSMs in distinct zones."""
        cluster_id, ip = self.initialized_cluster()
        result = self.run(
            f"sudo /opt/cloudhsm/bin/configure-cli -a {ip}", f"cloudhsm-cli cluster activate --password {ADMIN_PASSWORD}"
        )
        assert result["Status"] == "Success", result["StandardErrorContent"] + result["StandardOutputContent"]
        self.wait_cluster(cluster_id, "ACTIVE")
        for zone in ZONES[1:hsms]:
            self.hsm.create_hsm(ClusterId=cluster_id, AvailabilityZone=zone)
        self.wait_hsms_active(cluster_id, hsms)
        return cluster_id, ip

    def as_admin(self, ip: str, *cli_lines: str) -> dict[str, Any]:
        """Run cloudhsm-cli lines with the admin's credentials in the environment."""
        return self.run(
            f"/opt/cloudhsm/bin/configure-cli -a {ip}",
            "export CLOUDHSM_ROLE=admin",
            f"export CLOUDHSM_PIN=admin:{ADMIN_PASSWORD}",
            *cli_lines,
        )


@pytest.fixture
def lab(hsm, ec2, ssm, client) -> Lab:
    return Lab(hsm, ec2, ssm, client("iam"))
