//! The synthesized state machines against the Rust step types, in seconds
//! and without AWS: every path through every definition is walked with
//! example values, every JSONPath a state reads must have been written by
//! the request or by an earlier step's output type, and every payload must
//! read as the step or completion it is sent to. The definitions come from
//! `construct/test/__snapshots__/workflows.json`, which the construct's
//! snapshot test keeps equal to what the construct synthesizes.

use std::collections::HashSet;

use cluster_tasks::config::{Config, ENV};
use cluster_tasks::contract::{STEP_KEY, StepInvocation};
use cluster_tasks::props::stringified;
use cluster_tasks::steps::EXAMPLE_TIME;
use handler_core::cfn::{CfnRequest, RequestType};
use handler_core::contract::Example;
use handler_core::workflow::{COMPLETION_KEY, Completion, REQUEST_KEY, WorkflowError};
use serde_json::{Map, Value, json};

const SNAPSHOT: &str = "construct/test/__snapshots__/workflows.json";

fn snapshot() -> Value {
    let path = contract_gen::repository_root().join(SNAPSHOT);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{SNAPSHOT}: {e}"))
}

/// Reads a JSONPath (`$.A.B`, `$$.Execution.Id`) or a `States.Format`
/// intrinsic against the state, as Step Functions would.
fn read(path: &str, doc: &Value) -> Result<Value, String> {
    if let Some(arguments) = path.strip_prefix("States.Format(") {
        let arguments = arguments.trim_end_matches(')');
        let (template, rest) = arguments
            .strip_prefix('\'')
            .and_then(|a| a.split_once('\''))
            .ok_or_else(|| format!("cannot read the intrinsic {path}"))?;
        for argument in rest.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            read(argument, doc)?;
        }
        return Ok(Value::String(template.replace("{}", "x")));
    }
    let (root, rest) = if let Some(rest) = path.strip_prefix("$$") {
        let context = json!({
            "Execution": {
                "Id": "arn:aws:states:us-east-1:123456789012:execution:flow:run",
                "StartTime": EXAMPLE_TIME,
            },
        });
        (context, rest)
    } else if let Some(rest) = path.strip_prefix('$') {
        (doc.clone(), rest)
    } else {
        return Err(format!("{path} is not a JSONPath"));
    };
    let mut value = root;
    for part in rest.split('.').filter(|p| !p.is_empty()) {
        value = value
            .get(part)
            .cloned()
            .ok_or_else(|| format!("reads {path}, which nothing before it writes"))?;
    }
    Ok(value)
}

/// Parameters with every `Key.$` replaced by what it reads.
fn resolve(parameters: &Value, doc: &Value) -> Result<Value, String> {
    match parameters {
        Value::Object(fields) => {
            let mut resolved = Map::new();
            for (key, value) in fields {
                if let Some(name) = key.strip_suffix(".$") {
                    let path = value
                        .as_str()
                        .ok_or_else(|| format!("{key} is not a path"))?;
                    resolved.insert(name.to_owned(), read(path, doc)?);
                } else {
                    resolved.insert(key.clone(), resolve(value, doc)?);
                }
            }
            Ok(Value::Object(resolved))
        }
        Value::Array(items) => items
            .iter()
            .map(|i| resolve(i, doc))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// The state after a result is put at `result_path` (absent: replaces it,
/// null: discarded).
fn put(doc: &Value, result_path: Option<&Value>, result: Value) -> Value {
    match result_path {
        None => result,
        Some(Value::Null) => doc.clone(),
        Some(path) => {
            let mut doc = doc.clone();
            let parts: Vec<_> = path.as_str().unwrap_or("$").split('.').skip(1).collect();
            let mut target = &mut doc;
            for (i, part) in parts.iter().enumerate() {
                if i + 1 == parts.len() {
                    target[*part] = result.clone();
                } else {
                    target = &mut target[*part];
                }
            }
            doc
        }
    }
}

/// The fields an output may lack: at the top of an output (whatever its
/// type), and inside the nested types, by the field that holds them.
struct Optional {
    top: HashSet<&'static str>,
    nested: Vec<(&'static str, &'static [&'static str])>,
}

fn optional_fields() -> Optional {
    use cluster_tasks::props::{ClusterProps, Pki};
    use cluster_tasks::steps::certificate::CaCarried;
    use cluster_tasks::steps::cluster::ClusterStatus;
    use cluster_tasks::steps::hsms::Resized;
    use cluster_tasks::view::{ClusterView, HsmView};
    Optional {
        top: [
            ClusterStatus::OPTIONAL,
            Resized::OPTIONAL,
            CaCarried::OPTIONAL,
        ]
        .concat()
        .into_iter()
        .collect(),
        nested: vec![
            ("Cluster", ClusterView::OPTIONAL),
            ("Hsms", HsmView::OPTIONAL),
            ("Props", ClusterProps::OPTIONAL),
            ("Pki", Pki::OPTIONAL),
        ],
    }
}

/// An output as it may come: without any field that may be absent.
fn minimal(value: &Value, optional: &Optional) -> Value {
    fn strip(value: &Value, absent: &[&str], optional: &Optional) -> Value {
        match value {
            Value::Object(fields) => Value::Object(
                fields
                    .iter()
                    .filter(|(k, _)| !absent.contains(&k.as_str()))
                    .map(|(k, v)| {
                        let inner = optional
                            .nested
                            .iter()
                            .find(|(name, _)| name == k)
                            .map_or(&[][..], |(_, fields)| *fields);
                        (k.clone(), strip(v, inner, optional))
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|i| strip(i, absent, optional)).collect())
            }
            other => other.clone(),
        }
    }
    let top: Vec<&str> = optional.top.iter().copied().collect();
    strip(value, &top, optional)
}

struct Walk<'a> {
    machine: &'a str,
    /// Outputs without their optional fields, and `IsPresent` choices
    /// evaluated: a read of a field that may be absent (an uncatchable
    /// `States.Runtime` in Step Functions) is found.
    minimal: Option<Optional>,
    states: &'a Map<String, Value>,
    seen: HashSet<(String, String)>,
    problems: Vec<String>,
    steps: HashSet<String>,
}

impl Walk<'_> {
    fn fail(&mut self, state: &str, problem: impl std::fmt::Display) {
        self.problems
            .push(format!("{}: state \"{state}\": {problem}", self.machine));
    }

    fn visit(&mut self, name: &str, doc: &Value) {
        if !self.seen.insert((name.to_owned(), doc.to_string())) {
            return;
        }
        let Some(state) = self.states.get(name) else {
            self.fail(name, "is not in the definition");
            return;
        };
        let next = state.get("Next").and_then(Value::as_str).map(str::to_owned);
        match state["Type"].as_str().unwrap_or_default() {
            "Task" => self.task(name, state, doc, next.as_deref()),
            "Pass" => {
                let result = match (state.get("Parameters"), state.get("Result")) {
                    (Some(parameters), _) => resolve(parameters, doc),
                    (None, Some(result)) => Ok(result.clone()),
                    (None, None) => Ok(doc.clone()),
                };
                match result {
                    Ok(result) => {
                        let doc = put(doc, state.get("ResultPath"), result);
                        if let Some(next) = next {
                            self.visit(&next, &doc);
                        }
                    }
                    Err(problem) => self.fail(name, problem),
                }
            }
            "Choice" => {
                for rule in state["Choices"].as_array().into_iter().flatten() {
                    let variable = rule["Variable"].as_str().unwrap_or_default();
                    if let Some(wanted) = rule.get("IsPresent").and_then(Value::as_bool)
                        && self.minimal.is_some()
                    {
                        if read(variable, doc).is_ok() == wanted {
                            if let Some(target) = rule["Next"].as_str() {
                                self.visit(target, doc);
                            }
                            return;
                        }
                        continue;
                    }
                    if rule.get("IsPresent").is_none()
                        && let Err(problem) = read(variable, doc)
                    {
                        self.fail(name, problem);
                    }
                    if let Some(target) = rule["Next"].as_str() {
                        self.visit(target, doc);
                    }
                }
                if let Some(default) = state["Default"].as_str() {
                    self.visit(default, doc);
                }
            }
            "Wait" => {
                if let Some(next) = next {
                    self.visit(&next, doc);
                }
            }
            "Succeed" | "Fail" => {}
            other => self.fail(
                name,
                format!("has a state type this test does not know: {other}"),
            ),
        }
    }

    fn task(&mut self, name: &str, state: &Value, doc: &Value, next: Option<&str>) {
        let parameters = match resolve(state.get("Parameters").unwrap_or(&json!({})), doc) {
            Ok(parameters) => parameters,
            Err(problem) => return self.fail(name, problem),
        };
        let output = if parameters.get(STEP_KEY).is_some() {
            match serde_json::from_value::<StepInvocation>(parameters.clone()) {
                Ok(invocation) => {
                    self.steps
                        .insert(parameters[STEP_KEY].as_str().unwrap_or_default().to_owned());
                    let output = invocation.step.example_output();
                    match &self.minimal {
                        Some(optional) => minimal(&output, optional),
                        None => output,
                    }
                }
                Err(e) => {
                    return self.fail(
                        name,
                        format!("its payload is not a step the tasks function reads: {e}"),
                    );
                }
            }
        } else if let Some(completion) = parameters.get(COMPLETION_KEY) {
            if let Err(e) = serde_json::from_value::<Completion>(completion.clone()) {
                return self.fail(
                    name,
                    format!("its completion is not what the entry function reads: {e}"),
                );
            }
            json!({})
        } else {
            json!({})
        };
        for catch in state
            .get("Catch")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let caught = put(doc, catch.get("ResultPath"), WorkflowError::example_json());
            if let Some(target) = catch["Next"].as_str() {
                self.visit(target, &caught);
            }
        }
        let doc = put(doc, state.get("ResultPath"), output);
        if let Some(next) = next {
            self.visit(next, &doc);
        }
    }
}

/// The request a workflow starts with, carrying the properties the
/// construct synthesized for its resource type.
fn request(resource_type: &str, properties: &Value) -> Value {
    let Value::Object(properties) = stringified(properties.clone()) else {
        panic!("the {resource_type} properties are not an object")
    };
    let request = CfnRequest {
        request_type: RequestType::Update,
        resource_type: resource_type.to_owned(),
        resource_properties: properties.clone(),
        old_resource_properties: Some(properties),
        ..CfnRequest::example()
    };
    json!({ REQUEST_KEY: request })
}

#[test]
fn every_path_through_every_workflow_speaks_the_step_contract() {
    let snapshot = snapshot();
    let functions = snapshot["functions"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    // Every entry function's routes: the cluster's, and the key store's.
    let mut routes = Map::new();
    for env in functions.values() {
        if let Some(table) = env["Variables"]["WORKFLOWS"].as_str() {
            let table: Map<String, Value> = serde_json::from_str(table).expect("WORKFLOWS is JSON");
            routes.extend(table);
        }
    }
    assert!(
        routes.len() >= 4,
        "the snapshot routes every resource type: {routes:?}"
    );
    let mut problems = Vec::new();
    let mut steps_sent = HashSet::new();
    for (resource_type, arn) in &routes {
        let machine_name = arn
            .as_str()
            .unwrap_or_default()
            .rsplit(':')
            .next()
            .unwrap_or_default();
        let definition = &snapshot["stateMachines"][machine_name];
        let states = definition["States"]
            .as_object()
            .unwrap_or_else(|| panic!("no definition for {machine_name}"));
        let properties = &snapshot["properties"][resource_type];
        let mut walk = Walk {
            machine: machine_name,
            minimal: None,
            states,
            seen: HashSet::new(),
            problems: Vec::new(),
            steps: HashSet::new(),
        };
        walk.visit(
            definition["StartAt"].as_str().unwrap_or_default(),
            &request(resource_type, properties),
        );
        let mut lean = Walk {
            machine: machine_name,
            minimal: Some(optional_fields()),
            states,
            seen: HashSet::new(),
            problems: Vec::new(),
            steps: HashSet::new(),
        };
        lean.visit(
            definition["StartAt"].as_str().unwrap_or_default(),
            &request(resource_type, properties),
        );
        problems.extend(lean.problems);
        let unreached: Vec<_> = states
            .keys()
            .filter(|s| !walk.seen.iter().any(|(n, _)| n == *s))
            .collect();
        problems.extend(walk.problems);
        if !unreached.is_empty() {
            problems.push(format!(
                "{machine_name}: states never reached: {unreached:?}"
            ));
        }
        steps_sent.extend(walk.steps);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let every_step: HashSet<String> = cluster_tasks::contract::steps()
        .iter()
        .map(|s| s.name.to_owned())
        .collect();
    let unused: Vec<_> = every_step.difference(&steps_sent).collect();
    assert!(unused.is_empty(), "steps no workflow sends: {unused:?}");
}

#[test]
fn the_tasks_function_has_every_variable_the_steps_read() {
    let snapshot = snapshot();
    let environments: Vec<&Map<String, Value>> = snapshot["functions"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, env)| env["Variables"].as_object())
        .filter(|vars| vars.contains_key(ENV[0].1))
        .collect();
    // The cluster's tasks function, and the key store's (the same binary).
    assert_eq!(
        environments.len(),
        2,
        "a tasks function each for the cluster and the key store"
    );
    for vars in environments {
        let config =
            Config::from_vars(|name| vars.get(name).and_then(Value::as_str).map(str::to_owned));
        assert!(config.is_ok(), "{config:?}");
    }
}

#[test]
fn a_payload_read_before_it_is_written_is_found() {
    let states = json!({
        "Read": { "Type": "Task", "Resource": "fn", "Parameters": { "Step": "PublishCsr", "ClusterId.$": "$.Created.ClusterId", "Deadline": { "Start.$": "$$.Execution.StartTime", "Minutes": 40 } }, "End": true }
    });
    let mut walk = Walk {
        machine: "m",
        minimal: None,
        states: states.as_object().unwrap(),
        seen: HashSet::new(),
        problems: Vec::new(),
        steps: HashSet::new(),
    };
    walk.visit("Read", &json!({}));
    assert_eq!(
        walk.problems,
        ["m: state \"Read\": reads $.Created.ClusterId, which nothing before it writes"]
    );
}

#[test]
fn a_read_of_a_field_that_may_be_absent_is_found() {
    let states = json!({
        "Wait": { "Type": "Task", "Resource": "fn", "ResultPath": "$.Done",
                  "Parameters": { "Step": "DeleteHsms", "Request.$": "$.Request",
                                  "Deadline": { "Start.$": "$$.Execution.StartTime", "Minutes": 40 } },
                  "Next": "Read" },
        "Read": { "Type": "Pass", "Parameters": { "Group.$": "$.Done.Cluster.SecurityGroupId" }, "End": true }
    });
    let mut walk = Walk {
        machine: "m",
        minimal: Some(optional_fields()),
        states: states.as_object().unwrap(),
        seen: HashSet::new(),
        problems: Vec::new(),
        steps: HashSet::new(),
    };
    walk.visit("Wait", &request("Custom::CloudHsmCluster", &json!({})));
    assert_eq!(
        walk.problems,
        ["m: state \"Read\": reads $.Done.Cluster.SecurityGroupId, which nothing before it writes"]
    );
}
