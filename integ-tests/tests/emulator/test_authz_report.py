"""The least-privilege report matches usage to the template's statements by role kind."""

from emulator.authz.report import build, render, role_kind

TEMPLATE = {
    "Resources": {
        "HsmTasksFunctionServiceRole1A2B3C4D": {"Type": "AWS::IAM::Role", "Properties": {}},
        "HsmTasksFunctionServiceRoleDefaultPolicy99": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "Roles": [{"Ref": "HsmTasksFunctionServiceRole1A2B3C4D"}],
                "PolicyDocument": {
                    "Statement": [
                        {"Sid": "ReadClusters", "Effect": "Allow", "Action": ["cloudhsm:DescribeClusters"], "Resource": "*"},
                        {"Effect": "Allow", "Action": ["secretsmanager:PutSecretValue"], "Resource": "arn:secret"},
                    ]
                },
            },
        },
    }
}


def test_role_kinds_survive_generated_and_shortened_names():
    assert role_kind("CloudHsmExample-HsmTasksFunctionServiceRole1A2B3C4D-ABCDEFGHIJKL") == "TasksFunctionServiceRole"
    assert role_kind("CloudHsmExample-SecondHsmClusterWorkflowStateMachi-ABCDEFGHIJKL") == "ClusterWorkflowStateMachineRole"
    assert role_kind("worker") is None


def test_a_statement_no_request_used_is_reported_unused():
    usage = {
        "Allowed": [
            {
                "Role": "Other-SecondTasksFunctionServiceRoleFFFF-ABCDEFGHIJKL",
                "Policy": "inline:P",
                "Index": 0,
                "Sid": "ReadClusters",
                "Actions": ["cloudhsm:DescribeClusters"],
                "Requests": ["cloudhsm:DescribeClusters *"],
            }
        ]
    }
    report = build(usage, TEMPLATE)
    rows = report["TasksFunctionServiceRole"]["Statements"]
    assert [(r["Statement"], r["Requests"]) for r in rows] == [
        ("ReadClusters", ["cloudhsm:DescribeClusters *"]),
        ("secretsmanager:PutSecretValue", []),
    ]
    text = render(report, [])
    assert "TasksFunctionServiceRole: 2 statements, 1 on Resource *" in text
    assert "secretsmanager:PutSecretValue [scoped]: UNUSED" in text
