"""The least-privilege report: per role of the construct, each statement and what it allowed.

    python -m emulator.authz.report USAGE.json TEMPLATE.json [--markdown]

USAGE.json is what the emulator recorded (GET /_emulator/iam/usage) across the
lifecycle suites; the tests write it to integ-tests/.reports/iam-usage.json.
TEMPLATE.json is a synthesized template (the example app's). Roles are matched by
what they are in the construct (the entry function's, the tasks function's, each
workflow's, the management client's), statements by their Sid or their actions, so
usage from every app the suites deploy counts. A statement of the template that
allowed nothing is listed as UNUSED; AWS managed policies are not ours to trim.
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from .policy import as_list

# What each role is, by the part of its logical id the construct gives it.
ROLE_KINDS = (
    "EntryFunctionServiceRole",
    "TasksFunctionServiceRole",
    "ClusterWorkflowStateMachineRole",
    "HsmsWorkflowStateMachineRole",
    "ClientRole",
)


def role_kind(name: str) -> str | None:
    for kind in ROLE_KINDS:
        if kind in name:
            return kind
    # Generated physical names may cut the logical id short: match what is left of it.
    middle = name.split("-", 1)[-1].rsplit("-", 1)[0]
    matches = [k for k in ROLE_KINDS if len(middle) > 8 and any(middle.endswith(k[:n]) for n in range(8, len(k)))]
    return matches[0] if len(matches) == 1 else None


def statement_key(sid: str, actions: list[str]) -> str:
    return sid or ",".join(sorted(actions))


def template_statements(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per role kind, the statements of its inline policies in the template."""
    resources = template.get("Resources", {})
    kinds = {logical_id: role_kind(logical_id) for logical_id, r in resources.items() if r.get("Type") == "AWS::IAM::Role"}
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for resource in resources.values():
        if resource.get("Type") != "AWS::IAM::Policy":
            continue
        for ref in resource["Properties"].get("Roles", []):
            kind = kinds.get(ref.get("Ref", "")) if isinstance(ref, dict) else None
            if kind:
                found[kind].extend(as_list(resource["Properties"]["PolicyDocument"]["Statement"]))
    return found


def build(usage: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    used: dict[tuple[str, str], set[str]] = defaultdict(set)
    for entry in usage.get("Allowed", []):
        kind = role_kind(entry["Role"])
        if kind is None:
            continue
        if entry["Policy"].startswith("arn:aws:iam::aws:policy/"):
            key = f"{entry['Policy']}#{entry['Index']}"
        else:
            key = statement_key(entry.get("Sid", ""), entry.get("Actions", []))
        used[(kind, key)].update(entry["Requests"])
    report: dict[str, Any] = {}
    for kind, statements in sorted(template_statements(template).items()):
        rows = []
        for statement in statements:
            actions = [str(a) for a in as_list(statement.get("Action", []))]
            key = statement_key(str(statement.get("Sid", "")), actions)
            requests = sorted(used.get((kind, key), set()))
            rows.append(
                {
                    "Statement": key,
                    "Wildcard": statement.get("Resource") == "*",
                    "Condition": bool(statement.get("Condition")),
                    "Requests": requests,
                }
            )
        managed = sorted({k for (role, k) in used if role == kind and k.startswith("arn:aws:iam::aws:policy/")})
        report[kind] = {"Statements": rows, "ManagedPolicyStatementsUsed": managed}
    return report


def render(report: dict[str, Any], denied: list[dict[str, str]]) -> str:
    lines = ["IAM least-privilege report (statements of the example app's roles, and what allowed what)", ""]
    unused = 0
    for kind, entry in report.items():
        rows = entry["Statements"]
        wildcards = [r for r in rows if r["Wildcard"]]
        lines.append(f"{kind}: {len(rows)} statements, {len(wildcards)} on Resource *")
        for row in rows:
            flags = ("*" if row["Wildcard"] else "") + (" if" if row["Condition"] else "")
            status = f"{len(row['Requests'])} distinct requests" if row["Requests"] else "UNUSED"
            unused += not row["Requests"]
            lines.append(f"  - {row['Statement']} [{flags.strip() or 'scoped'}]: {status}")
            for request in row["Requests"][:3]:
                lines.append(f"      {request}")
        for managed in entry["ManagedPolicyStatementsUsed"]:
            lines.append(f"  - (AWS managed) {managed}: used")
    lines += ["", f"{unused} statement(s) allowed nothing in these suites; {len(denied)} request(s) were refused."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("usage", type=Path)
    parser.add_argument("template", type=Path)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if not args.usage.exists():
        print(f"no usage recorded at {args.usage}: run the lifecycle tests first", file=sys.stderr)
        return 1
    usage = json.loads(args.usage.read_text())
    report = build(usage, json.loads(args.template.read_text()))
    print(json.dumps(report, indent=2) if args.json else render(report, usage.get("Denied", [])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
