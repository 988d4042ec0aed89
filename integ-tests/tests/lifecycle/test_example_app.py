"""End to end: the example app's template, created in the emulator with the real entry function.

The entry function's WORKFLOWS is pinned to `{}` (what the app synthesizes until the
cluster workflow lands; afterwards the pin keeps this test on the no-workflow path):
the Create of Custom::CloudHsmCluster must fail with the Rust handler's own reason,
well under the timeout, and the rollback's Delete of `not-created-<RequestId>` must
succeed.
"""

import json
import time

import pytest

from runner.cli import main
from runner.contract import CONTRACT
from runner.stack import OperationFailed
from runner.template import Template

from .conftest import run_synth, stack_for, synth

REASON = "this function starts no workflow for Custom::CloudHsmCluster (it serves: none)"


@pytest.fixture(scope="module")
def example_template(tmp_path_factory) -> Template:
    """The example app synthesized now, into a temporary cdk.out (never an earlier synth)."""
    out = tmp_path_factory.mktemp("synth") / "cdk.out"
    path = synth(out).path
    body = json.loads(path.read_text())
    body["Resources"]["HsmEntryFunctionC837398F"]["Properties"]["Environment"]["Variables"]["WORKFLOWS"] = "{}"
    path.write_text(json.dumps(body))
    return Template.load(path)


def test_create_fails_with_the_handler_reason_and_rolls_back(emulator, example_template):
    stack, out = stack_for(example_template, emulator)
    started = time.monotonic()
    with pytest.raises(OperationFailed, match="create failed at Hsm2CBA3DD8") as failed:
        stack.create()
    assert time.monotonic() - started < 20
    assert REASON in str(failed.value)

    (create, _), (delete, _) = stack.progress.operations
    assert (create.request_type, create.logical_id, create.outcome.status) == ("Create", "Hsm2CBA3DD8", "FAILED")
    assert REASON in create.outcome.reason
    assert create.duration < 10
    assert create.outcome.physical_id == CONTRACT.not_created(create.request_id)
    assert (delete.request_type, delete.outcome.status) == ("Delete", "SUCCESS")
    assert delete.outcome.physical_id == CONTRACT.not_created(create.request_id)
    # The rollback left nothing but the retained log group, as CloudFormation would.
    assert stack.resources == {}
    assert emulator.state()["clusters"] == []
    text = out.getvalue()
    assert "ROLLBACK_IN_PROGRESS" in text and "DELETE_SKIPPED HsmEntryLogsBC80CEFC: DeletionPolicy Retain" in text
    assert '"message":"the request failed"' in text  # the function's log is shown on failure


def test_the_cli_reports_the_failure_and_exits_non_zero(emulator, example_template, capsys, tmp_path):
    status = main(
        [
            "create",
            "--template",
            str(example_template.path),
            "--endpoint",
            emulator.endpoint,
            "--state",
            str(tmp_path / "state.json"),
        ]
    )
    out = capsys.readouterr().out
    assert status == 1
    assert "== CREATE FAILED after" in out and REASON in out
    summary = out[out.index("Operation  ") :]
    assert "Create Hsm2CBA3DD8 (Custom::CloudHsmCluster)  FAILED" in summary
    assert "Delete Hsm2CBA3DD8 (Custom::CloudHsmCluster)  SUCCESS" in summary
    assert not (tmp_path / "state.json").exists()


def test_a_template_with_an_unsupported_type_names_it(emulator, example_template, tmp_path):
    body = dict(example_template.body, Resources={"Odd": {"Type": "AWS::Foo::Bar", "Properties": {}}})
    path = tmp_path / "Odd.template.json"
    path.write_text(json.dumps(body))
    stack, _ = stack_for(Template.load(path), emulator)
    with pytest.raises(OperationFailed, match="Odd: resource type AWS::Foo::Bar is not supported by the runner"):
        stack.create()


@pytest.mark.parametrize("architecture", ["arm64", "x86_64"])
def test_the_example_s_functions_run_on_the_architecture_the_context_names(tmp_path, architecture):
    template = synth(tmp_path / "out", handlerArchitecture=architecture)
    functions = [r for r in template.resources.values() if r["Type"] == "AWS::Lambda::Function"]
    assert functions
    assert {tuple(f["Properties"]["Architectures"]) for f in functions} == {(architecture,)}


def test_an_unknown_architecture_is_refused_naming_the_context_value(tmp_path):
    done = run_synth(tmp_path, handlerArchitecture="x86")
    assert done.returncode != 0
    assert "context handlerArchitecture must be arm64 or x86_64, got 'x86'" in done.stderr
