"""The intrinsic resolver, dependency order, property stringification, response validation."""

import json

import pytest

from runner.custom import stringify, validate
from runner.intrinsics import NO_VALUE, Resolver, TemplateError, pseudo_parameters, references
from runner.template import Template

ATTRIBUTES = {("Fn", "Arn"): "arn:aws:lambda:us-east-1:123456789012:function:fn", ("Sg", "GroupId"): "sg-1"}


def resolver(conditions=None, parameters=None) -> Resolver:
    params = {**pseudo_parameters("Demo", "arn:aws:cloudformation:us-east-1:123456789012:stack/Demo/id"), **(parameters or {})}
    physical = {"Vpc": "vpc-1", "Fn": "fn"}
    return Resolver(
        params,
        conditions or {},
        ref=lambda name: physical[name],
        get_att=lambda name, attribute: ATTRIBUTES[(name, attribute)],
    )


def test_ref_pseudo_parameters_and_resources():
    r = resolver(parameters={"Size": 3})
    assert r.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert r.resolve({"Ref": "AWS::AccountId"}) == "123456789012"
    assert r.resolve({"Ref": "AWS::Partition"}) == "aws"
    assert r.resolve({"Ref": "AWS::URLSuffix"}) == "amazonaws.com"
    assert r.resolve({"Ref": "AWS::StackName"}) == "Demo"
    assert r.resolve({"Ref": "Vpc"}) == "vpc-1"
    assert r.resolve({"Ref": "Size"}) == 3


def test_get_att_both_forms():
    r = resolver()
    assert r.resolve({"Fn::GetAtt": ["Sg", "GroupId"]}) == "sg-1"
    assert r.resolve({"Fn::GetAtt": "Fn.Arn"}) == ATTRIBUTES[("Fn", "Arn")]


def test_join_sub_select_split_getazs():
    r = resolver()
    assert r.resolve({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/x"]]}) == "arn:aws:iam::aws:policy/x"
    assert r.resolve({"Fn::Sub": "cdk-${AWS::AccountId}-${AWS::Region}"}) == "cdk-123456789012-us-east-1"
    assert r.resolve({"Fn::Sub": "${Fn.Arn}/${Vpc} ${!Literal}"}) == f"{ATTRIBUTES[('Fn', 'Arn')]}/vpc-1 ${{Literal}}"
    assert r.resolve({"Fn::Sub": ["${A}-${Vpc}", {"A": {"Ref": "AWS::Region"}}]}) == "us-east-1-vpc-1"
    assert r.resolve({"Fn::Select": [1, {"Fn::GetAZs": ""}]}) == "us-east-1b"
    assert r.resolve({"Fn::Select": ["0", {"Fn::Split": [",", "a,b"]}]}) == "a"
    assert r.resolve({"Fn::GetAZs": {"Ref": "AWS::Region"}})[:3] == ["us-east-1a", "us-east-1b", "us-east-1c"]


def test_conditions_and_if_with_no_value():
    r = resolver(
        conditions={
            "InUsEast1": {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]},
            "Never": {"Fn::Not": [{"Condition": "InUsEast1"}]},
            "Either": {"Fn::Or": [{"Condition": "Never"}, {"Fn::Contains": [["a", "b"], "b"]}]},
        }
    )
    assert r.condition("InUsEast1") and not r.condition("Never") and r.condition("Either")
    value = {"A": {"Fn::If": ["Never", "x", {"Ref": "AWS::NoValue"}]}, "B": [{"Fn::If": ["InUsEast1", "y", "z"]}]}
    assert r.resolve(value) == {"B": ["y"]}
    assert r.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


def test_unsupported_and_unknown_fail_clearly():
    with pytest.raises(TemplateError, match="Fn::Cidr is not supported"):
        resolver().resolve({"Fn::Cidr": ["10.0.0.0/16", 2, 8]})
    with pytest.raises(TemplateError, match="condition 'Nope' is not defined"):
        resolver().condition("Nope")
    with pytest.raises(TemplateError, match="only, not eu-west-1"):
        resolver().resolve({"Fn::GetAZs": "eu-west-1"})


def test_references_cover_ref_getatt_and_sub():
    value = {"A": {"Ref": "X"}, "B": {"Fn::GetAtt": ["Y", "Arn"]}, "C": {"Fn::Sub": "${Z.Arn}-${AWS::Region}-${!Not}"}}
    assert references(value) == {"X", "Y", "Z", "AWS::Region"}


def test_creation_order_follows_refs_getatt_and_depends_on(tmp_path):
    path = tmp_path / "T.template.json"
    path.write_text(
        """{"Resources": {
            "C": {"Type": "Custom::C", "Properties": {"ServiceToken": {"Fn::GetAtt": ["B", "Arn"]}}},
            "B": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::Sub": "${A.Arn}"}}},
            "A": {"Type": "AWS::IAM::Role", "Properties": {}, "DependsOn": "D"},
            "D": {"Type": "AWS::EC2::VPC", "Properties": {}}
        }}"""
    )
    assert Template.load(path).creation_order() == ["D", "A", "B", "C"]


def test_circular_dependencies_are_refused(tmp_path):
    path = tmp_path / "T.template.json"
    path.write_text('{"Resources": {"A": {"Type": "X", "DependsOn": "B"}, "B": {"Type": "X", "DependsOn": "A"}}}')
    with pytest.raises(TemplateError, match="circular dependency"):
        Template.load(path).creation_order()


def test_stringify_turns_every_scalar_into_a_string():
    properties = {
        "ServiceToken": "arn",
        "HsmsPerSubnet": 1,
        "Ratio": 0.5,
        "Enabled": True,
        "Off": False,
        "SubnetIds": ["subnet-1", 2],
        "Pki": {"Kind": "EPHEMERAL_CA", "Days": 365, "Nested": [{"On": True}]},
    }
    assert stringify(properties) == {
        "ServiceToken": "arn",
        "HsmsPerSubnet": "1",
        "Ratio": "0.5",
        "Enabled": "true",
        "Off": "false",
        "SubnetIds": ["subnet-1", "2"],
        "Pki": {"Kind": "EPHEMERAL_CA", "Days": "365", "Nested": [{"On": "true"}]},
    }


REQUEST = {"RequestId": "r1", "LogicalResourceId": "Hsm", "StackId": "stack"}


def _body(**fields) -> bytes:
    return json.dumps({"PhysicalResourceId": "p", **REQUEST, **fields}).encode()


def test_responses_are_validated_like_cloudformation():
    ok = validate(_body(Status="SUCCESS", Data={"A": "1"}), REQUEST)
    assert (ok.status, ok.physical_id, ok.data) == ("SUCCESS", "p", {"A": "1"})
    failed = validate(_body(Status="FAILED", Reason="no quota"), REQUEST)
    assert (failed.status, failed.reason) == ("FAILED", "no quota")
    assert "needs a Reason" in validate(_body(Status="FAILED"), REQUEST).reason
    assert "does not echo" in validate(_body(Status="SUCCESS", RequestId="other"), REQUEST).reason
    assert "Status must be" in validate(_body(Status="DONE"), REQUEST).reason
    assert "not JSON" in validate(b"<xml/>", REQUEST).reason
    too_long = validate(_body(Status="SUCCESS", Data={"A": "x" * 4096}), REQUEST)
    assert too_long.status == "FAILED" and "too long" in too_long.reason
