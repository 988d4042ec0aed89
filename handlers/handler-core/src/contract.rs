//! What the workflows and the handlers agree on, described so that a tool
//! can write it down for the other languages.
//!
//! Every type that crosses the boundary between a state machine and a
//! handler implements [`Example`]: a value with every field filled, from
//! which the field names, their JSON types and the paths a state machine
//! may read are derived. Tests check the examples against serde, so the
//! description cannot drift from the types.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A type that crosses the workflow boundary.
pub trait Example: Serialize + DeserializeOwned {
    /// A value with every field present, optional ones included.
    fn example() -> Self;

    /// The fields a payload may leave out.
    const OPTIONAL: &'static [&'static str] = &[];

    /// The example as JSON.
    #[must_use]
    fn example_json() -> Value {
        serde_json::to_value(Self::example()).unwrap_or(Value::Null)
    }
}

/// Checks that `T`'s example has every field set and that [`Example::OPTIONAL`]
/// names exactly the fields serde lets a payload leave out. Returns the
/// problems found; used by the tests of every contract type.
#[must_use]
pub fn example_problems<T: Example>() -> Vec<String> {
    let name = std::any::type_name::<T>();
    let Value::Object(fields) = T::example_json() else {
        return vec![format!("{name}: the example is not a JSON object")];
    };
    let mut problems = Vec::new();
    for optional in T::OPTIONAL {
        if !fields.contains_key(*optional) {
            problems.push(format!(
                "{name}: the example lacks the optional field {optional}"
            ));
        }
    }
    for key in fields.keys() {
        let mut without: Map<String, Value> = fields.clone();
        without.remove(key);
        let accepted = serde_json::from_value::<T>(Value::Object(without)).is_ok();
        let listed = T::OPTIONAL.contains(&key.as_str());
        if accepted && !listed {
            problems.push(format!(
                "{name}: {key} may be left out but is not in OPTIONAL"
            ));
        }
        if !accepted && listed {
            problems.push(format!(
                "{name}: {key} is in OPTIONAL but serde requires it"
            ));
        }
    }
    if serde_json::from_value::<T>(Value::Object(fields)).is_err() {
        problems.push(format!("{name}: the example does not read back"));
    }
    problems
}
