//! Writes down the protocol between the construct's state machines and the
//! handlers, which `cluster_tasks::contract` owns, for the other languages:
//! `handlers/contract.json` (read by the build scripts and the Python
//! tests) and `construct/src/private/contract.generated.ts` (imported by
//! the workflows). `cargo run -p contract-gen` rewrites both; the tests
//! fail while either is stale.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The generated files, relative to the repository root.
pub const JSON_FILE: &str = "handlers/contract.json";
/// The TypeScript module the workflows import.
pub const TS_FILE: &str = "construct/src/private/contract.generated.ts";

/// The repository root (this crate lives in `handlers/contract-gen`).
#[must_use]
pub fn repository_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The value with every object's keys in sorted order. `serde_json`'s map
/// keeps insertion order when another crate in the build enables its
/// `preserve_order` feature, so the files must not depend on it.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<_> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Every generated file with its expected content.
#[must_use]
pub fn render() -> Vec<(&'static str, String)> {
    let contract = sorted(&cluster_tasks::contract::describe());
    vec![
        (JSON_FILE, render_json(&contract)),
        (TS_FILE, render_ts(&contract)),
    ]
}

/// The files under `root` whose content is not what [`render`] gives.
#[must_use]
pub fn stale(root: &Path) -> Vec<&'static str> {
    render()
        .into_iter()
        .filter(|(file, content)| {
            std::fs::read_to_string(root.join(file)).ok().as_deref() != Some(content)
        })
        .map(|(file, _)| file)
        .collect()
}

fn render_json(contract: &Value) -> String {
    let mut text = serde_json::to_string_pretty(contract).unwrap_or_default();
    text.push('\n');
    text
}

/// A TypeScript string literal.
fn quote(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

/// A TypeScript object key: bare where it is an identifier.
fn key(name: &str) -> String {
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if identifier {
        name.to_owned()
    } else {
        quote(name)
    }
}

/// A JSON value as a TypeScript literal (`as const` makes it exact).
fn literal(value: &Value, indent: usize) -> String {
    let pad = "  ".repeat(indent + 1);
    let end = "  ".repeat(indent);
    match value {
        Value::String(s) => quote(s),
        Value::Array(items) => {
            let parts: Vec<_> = items.iter().map(|v| literal(v, indent + 1)).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let mut text = String::from("{\n");
            for (k, v) in map {
                let _ = writeln!(text, "{pad}{}: {},", key(k), literal(v, indent + 1));
            }
            text.push_str(&end);
            text.push('}');
            text
        }
        other => other.to_string(),
    }
}

/// The TypeScript type of a payload field of a JSON type.
fn field_type(kind: &str) -> &'static str {
    match kind {
        "string" => "Field<string>",
        "number" => "Field<number>",
        "boolean" => "Field<boolean>",
        "string[]" => "Field<readonly string[]>",
        _ => "Field<Readonly<Record<string, unknown>>>",
    }
}

/// An interface body from a `fields` description.
fn interface(fields: &Value, property: impl Fn(&str) -> String) -> String {
    let mut text = String::from("{\n");
    for (name, spec) in fields.as_object().into_iter().flatten() {
        let optional = spec["optional"].as_bool().unwrap_or(false);
        let kind = spec["type"].as_str().unwrap_or("object");
        let _ = writeln!(
            text,
            "  readonly {}{}: {};",
            key(name),
            if optional { "?" } else { "" },
            property(kind)
        );
    }
    text.push('}');
    text
}

/// The paths a state may read from an output type's example: every field,
/// nested ones included, each node carrying its own path as `$`. Only
/// PascalCase keys are fields; a map (such as AZ to subnet) is a leaf.
fn output_paths(example: &Value, prefix: &str) -> Value {
    let mut paths = Map::new();
    if !prefix.is_empty() {
        paths.insert("$".into(), Value::String(prefix.to_owned()));
    }
    if let Value::Object(fields) = example {
        for (name, value) in fields {
            let path = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}.{name}")
            };
            let nested = matches!(value, Value::Object(inner)
                if inner.keys().all(|k| k.starts_with(|c: char| c.is_ascii_uppercase())) && !inner.is_empty());
            let entry = if nested {
                output_paths(value, &path)
            } else {
                Value::String(path)
            };
            paths.insert(name.clone(), entry);
        }
    }
    Value::Object(paths)
}

/// The protocol's values as `as const` objects.
/// The protocol's values written as TypeScript constants: name, contract field, doc.
const CONSTANTS: &[(&str, &str, &str)] = &[
    ("HANDLERS", "handlers", "The handler binaries, by role."),
    (
        "ARCHITECTURES",
        "architectures",
        "The architectures the handlers are built for.",
    ),
    (
        "ASSETS",
        "assets",
        "Where the binaries and their manifest are in the package's assets folder.",
    ),
    (
        "NOT_CREATED_PREFIX",
        "notCreatedPrefix",
        "The physical id prefix of a resource whose create made nothing.",
    ),
    (
        "POLL_SECONDS_CONTEXT",
        "pollSecondsContext",
        "The context key that sets how often workflows poll, in seconds.",
    ),
    ("TAGS", "tags", "Tag keys the handlers put on resources."),
    (
        "RESOURCE_TYPES",
        "resourceTypes",
        "The custom resource types.",
    ),
    (
        "REQUEST_KEY",
        "requestKey",
        "The state machine input key of the CloudFormation request.",
    ),
    (
        "COMPLETION_KEY",
        "completionKey",
        "The entry function payload key of a workflow's completion.",
    ),
    (
        "STEP_KEY",
        "stepKey",
        "The step payload key that names the step.",
    ),
    (
        "DEADLINE_KEY",
        "deadlineKey",
        "The step payload key of the execution's deadline, which every step checks.",
    ),
    (
        "ANSWERED_KEY",
        "answeredKey",
        "The key of the entry function's answer to a completion: in a history, the sign of an answer.",
    ),
    (
        "REPORTED_FAILURE_ERROR",
        "reportedFailureError",
        "The error of the Fail state that ends an execution whose failure CloudFormation was told.",
    ),
    (
        "STATUS_CHANGE_DETAIL_TYPE",
        "statusChangeDetailType",
        "The detail-type of Step Functions' execution status change events.",
    ),
    (
        "REQUEST_FIELDS",
        "requestFields",
        "The fields of a CloudFormation request.",
    ),
    (
        "REQUEST_TYPES",
        "requestTypes",
        "CloudFormation's request types.",
    ),
    (
        "PKI_KINDS",
        "pkiKinds",
        "Who issues the cluster certificate, as the `Pki` property's `Kind` says.",
    ),
    (
        "CLUSTER_PROPERTY_FIELDS",
        "propertyFields.cluster",
        "The properties of a `Custom::CloudHsmCluster`, by name.",
    ),
    (
        "HSMS_PROPERTY_FIELDS",
        "propertyFields.hsms",
        "The properties of a `Custom::CloudHsmHsms`, by name.",
    ),
    (
        "KEY_STORE_PROPERTY_FIELDS",
        "propertyFields.keyStore",
        "The properties of a `Custom::CloudHsmKeyStore`, by name.",
    ),
    (
        "KEY_PROPERTY_FIELDS",
        "propertyFields.key",
        "The properties of a `Custom::CloudHsmKey`, by name.",
    ),
    (
        "ERRORS",
        "errors",
        "The Lambda error types the handlers raise.",
    ),
    (
        "EXPECT",
        "expect",
        "What an AwaitCluster step can wait for.",
    ),
    (
        "TASKS_ENV",
        "tasksEnv",
        "The tasks function's environment variables, by configuration field.",
    ),
];

fn constants(contract: &Value) -> String {
    let mut ts = String::new();
    for (name, field, doc) in CONSTANTS {
        let value = field.split('.').fold(contract, |value, part| &value[part]);
        let _ = writeln!(
            ts,
            "/** {doc} */\nexport const {name} = {} as const;\n",
            literal(value, 0)
        );
    }
    ts
}

fn render_ts(contract: &Value) -> String {
    let mut ts = String::from(
        "// Generated from handlers/cluster-tasks/src/contract.rs by `cargo run -p contract-gen`: do not edit.\n\
         // The protocol between the state machines and the Rust handlers, which Rust owns.\n\
         \n\
         /** A JSONPath that a state machine reads at run time, in place of a literal value. */\n\
         export class JsonPathRef {\n  constructor(public readonly path: string) {}\n}\n\n\
         /** A payload field: a literal value or a JSONPath. */\n\
         export type Field<T> = T | JsonPathRef;\n\n",
    );
    ts.push_str(&constants(contract));
    let steps = contract["steps"].as_object().cloned().unwrap_or_default();
    ts.push_str(
        "/** Each step's payload, without the step key. */\nexport interface StepInputs {\n",
    );
    for (name, spec) in &steps {
        let body = interface(&spec["input"], |kind| field_type(kind).to_owned());
        let _ = writeln!(ts, "  readonly {name}: {};", body.replace('\n', "\n  "));
    }
    ts.push_str("}\n\n/** A step's name. */\nexport type StepName = keyof StepInputs;\n\n");
    let step_outputs: Map<String, Value> = steps
        .iter()
        .map(|(name, spec)| (name.clone(), spec["output"].clone()))
        .collect();
    let _ = writeln!(
        ts,
        "/** The output type of each step. */\nexport const STEP_OUTPUTS = {} as const;\n",
        literal(&Value::Object(step_outputs), 0)
    );
    let paths: Map<String, Value> = contract["outputs"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, example)| (name.clone(), output_paths(example, "")))
        .collect();
    let _ = writeln!(
        ts,
        "/** Where each output type's fields are, relative to the state that holds the output. */\n\
         export const OUTPUTS = {} as const;\n",
        literal(&Value::Object(paths), 0)
    );
    let _ = writeln!(
        ts,
        "/** The deadline every step payload carries. */\nexport interface DeadlineInput {}\n",
        interface(&contract["deadline"], |kind| field_type(kind).to_owned())
    );
    let _ = writeln!(
        ts,
        "/** The completion a workflow sends the entry function. */\nexport interface CompletionInput {}\n",
        interface(&contract["completion"], |kind| field_type(kind).to_owned())
    );
    let cfn_type = |kind: &str| match kind {
        "string" => "string".to_owned(),
        "number" => "number".to_owned(),
        "boolean" => "boolean".to_owned(),
        "string[]" => "readonly string[]".to_owned(),
        _ => "Readonly<Record<string, unknown>>".to_owned(),
    };
    let _ = writeln!(
        ts,
        "/** The properties of a `Custom::CloudHsmCluster`. */\nexport interface ClusterResourceProperties {}\n",
        interface(&contract["properties"]["cluster"], cfn_type)
    );
    let _ = writeln!(
        ts,
        "/** The properties of a `Custom::CloudHsmHsms`. */\nexport interface HsmsResourceProperties {}\n",
        interface(&contract["properties"]["hsms"], cfn_type)
    );
    let _ = writeln!(
        ts,
        "/** The properties of a `Custom::CloudHsmKeyStore`. */\nexport interface KeyStoreResourceProperties {}\n",
        interface(&contract["properties"]["keyStore"], cfn_type)
    );
    let _ = write!(
        ts,
        "/** The properties of a `Custom::CloudHsmKey`. */\nexport interface KeyResourceProperties {}\n",
        interface(&contract["properties"]["key"], cfn_type)
    );
    ts
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_paths_descend_into_fields_but_not_maps() {
        let paths = output_paths(
            &json!({"Ready": true, "Cluster": {"SecurityGroupId": "sg-1", "SubnetMapping": {"us-east-1a": "subnet-1"}}}),
            "",
        );
        assert_eq!(
            paths,
            json!({"Ready": "Ready", "Cluster": {"$": "Cluster", "SecurityGroupId": "Cluster.SecurityGroupId",
                   "SubnetMapping": "Cluster.SubnetMapping"}})
        );
    }

    #[test]
    fn rendering_sorts_keys_whatever_the_map_order() {
        let mut map = Map::new();
        map.insert("b".into(), json!({"z": 1, "a": 2}));
        map.insert("a".into(), json!([{"y": 1, "x": 2}]));
        let text = serde_json::to_string(&sorted(&Value::Object(map))).unwrap();
        assert_eq!(text, r#"{"a":[{"x":2,"y":1}],"b":{"a":2,"z":1}}"#);
    }

    #[test]
    fn keys_are_quoted_only_when_needed() {
        assert_eq!(key("ClusterId"), "ClusterId");
        assert_eq!(key("us-east-1a"), "'us-east-1a'");
        assert_eq!(quote("it's"), "'it\\'s'");
    }
}
