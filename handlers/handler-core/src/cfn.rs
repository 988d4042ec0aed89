//! CloudFormation custom resource requests and responses.
//!
//! See "Custom resource request objects" and "Custom resource response
//! objects" in the CloudFormation user guide: field names are PascalCase and
//! the whole response body may not exceed 4096 bytes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// CloudFormation rejects a response body larger than this.
pub const MAX_RESPONSE_BYTES: usize = 4096;

/// The three lifecycle requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestType {
    /// The resource is new in the stack.
    Create,
    /// Its properties changed.
    Update,
    /// It left the stack, or a create or update is rolled back.
    Delete,
}

impl RequestType {
    /// Every request type.
    pub const ALL: [Self; 3] = [Self::Create, Self::Update, Self::Delete];

    /// The name CloudFormation uses.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Create => "Create",
            Self::Update => "Update",
            Self::Delete => "Delete",
        }
    }
}

/// A request CloudFormation sends to a custom resource's service token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CfnRequest {
    /// Create, Update or Delete.
    pub request_type: RequestType,
    /// The pre-signed S3 URL that takes the response.
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    /// The stack's ARN.
    pub stack_id: String,
    /// Unique per request; echoed in the response.
    pub request_id: String,
    /// `Custom::...` as written in the template.
    pub resource_type: String,
    /// The resource's logical id in the template.
    pub logical_resource_id: String,
    /// Absent on Create; the id returned by the previous response otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_resource_id: Option<String>,
    /// The properties in the template (`ServiceToken` included).
    #[serde(default)]
    pub resource_properties: Map<String, Value>,
    /// The previous properties, on Update only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_resource_properties: Option<Map<String, Value>>,
    /// The Lambda function's ARN or SNS topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_token: Option<String>,
}

impl CfnRequest {
    /// How a person names this resource: `Custom::CloudHsmCluster Hsm`.
    #[must_use]
    pub fn display_name(&self) -> String {
        format!("{} {}", self.resource_type, self.logical_resource_id)
    }
}

/// SUCCESS or FAILED.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// The operation succeeded.
    Success,
    /// The operation failed; `Reason` says why.
    Failed,
}

/// The body PUT to the `ResponseURL`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CfnResponse {
    /// SUCCESS or FAILED.
    pub status: Status,
    /// Shown in the stack events; required when FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The resource's id; a changed id on Update makes CloudFormation delete
    /// the old one.
    pub physical_resource_id: String,
    /// Echoed from the request.
    pub stack_id: String,
    /// Echoed from the request.
    pub request_id: String,
    /// Echoed from the request.
    pub logical_resource_id: String,
    /// Hide `Data` from `describe` calls and the console.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_echo: bool,
    /// Attributes for `Fn::GetAtt`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, Value>,
}

const TRUNCATION_MARK: &str = " [...truncated, see the handler's log]";

impl CfnResponse {
    /// The JSON body, never larger than [`MAX_RESPONSE_BYTES`].
    ///
    /// A FAILED response's reason is shortened to fit. A SUCCESS whose data
    /// does not fit becomes FAILED with a reason that says so: CloudFormation
    /// would reject it anyway, and silently dropping attributes would break
    /// `Fn::GetAtt` later.
    #[must_use]
    pub fn into_body(mut self) -> String {
        let body = self.to_json();
        if body.len() <= MAX_RESPONSE_BYTES {
            return body;
        }
        if self.status == Status::Success {
            let size = body.len();
            self.status = Status::Failed;
            self.no_echo = false;
            self.data.clear();
            self.reason = Some(format!(
                "the attributes of this resource take {size} bytes, over CloudFormation's \
                 {MAX_RESPONSE_BYTES}-byte limit for a custom resource response. \
                 This is a bug in cdk-cloudhsm: please report it"
            ));
        }
        self.fit_reason();
        self.to_json()
    }

    fn to_json(&self) -> String {
        // Serialising plain strings, bools and JSON values cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Shortens the reason until the whole body fits, on a char boundary.
    fn fit_reason(&mut self) {
        let Some(reason) = self.reason.take() else {
            return;
        };
        self.reason = Some(String::new());
        let base = self.to_json().len();
        let room = MAX_RESPONSE_BYTES.saturating_sub(base);
        if json_len(&reason) <= room {
            self.reason = Some(reason);
            return;
        }
        let budget = room.saturating_sub(json_len(TRUNCATION_MARK));
        let mut kept = String::new();
        let mut used = 0;
        for ch in reason.chars() {
            let cost = json_len(ch.encode_utf8(&mut [0; 4]));
            if used + cost > budget {
                break;
            }
            used += cost;
            kept.push(ch);
        }
        kept.push_str(TRUNCATION_MARK);
        self.reason = Some(kept);
    }
}

/// Bytes a string takes inside a JSON string literal, quotes excluded.
fn json_len(s: &str) -> usize {
    serde_json::to_string(s).map_or(s.len(), |quoted| quoted.len() - 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: Status) -> CfnResponse {
        CfnResponse {
            status,
            reason: None,
            physical_resource_id: "cluster-abc".into(),
            stack_id: "arn:aws:cloudformation:us-east-1:123456789012:stack/s/1".into(),
            request_id: "r-1".into(),
            logical_resource_id: "Hsm".into(),
            no_echo: false,
            data: Map::new(),
        }
    }

    #[test]
    fn request_parses_cloudformation_field_names() {
        let request: CfnRequest = serde_json::from_value(serde_json::json!({
            "RequestType": "Update",
            "ResponseURL": "https://example.invalid/r",
            "StackId": "stack",
            "RequestId": "req",
            "ResourceType": "Custom::CloudHsmCluster",
            "LogicalResourceId": "Hsm",
            "PhysicalResourceId": "cluster-1",
            "ResourceProperties": {"ServiceToken": "arn", "HsmsPerSubnet": "2"},
            "OldResourceProperties": {"ServiceToken": "arn", "HsmsPerSubnet": "1"}
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(request.request_type, RequestType::Update);
        assert_eq!(request.physical_resource_id.as_deref(), Some("cluster-1"));
        assert_eq!(request.resource_properties["HsmsPerSubnet"], "2");
        assert_eq!(request.display_name(), "Custom::CloudHsmCluster Hsm");
    }

    #[test]
    fn small_response_is_sent_as_is() {
        let mut ok = response(Status::Success);
        ok.data.insert("ClusterId".into(), "cluster-abc".into());
        let body = ok.clone().into_body();
        let back: CfnResponse = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, ok);
        assert!(body.contains(r#""Status":"SUCCESS""#));
        assert!(!body.contains("NoEcho"), "NoEcho false is left out: {body}");
    }

    #[test]
    fn long_reason_is_truncated_to_fit() {
        let mut failed = response(Status::Failed);
        failed.reason = Some("é\"x".repeat(3000));
        let body = failed.into_body();
        assert!(body.len() <= MAX_RESPONSE_BYTES, "{} bytes", body.len());
        let back: CfnResponse = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}"));
        let reason = back.reason.unwrap_or_default();
        assert!(reason.starts_with("é\"xé\"x"));
        assert!(reason.ends_with(TRUNCATION_MARK));
        // Nothing was cut that would have fitted.
        assert!(body.len() > MAX_RESPONSE_BYTES - 8, "{} bytes", body.len());
    }

    #[test]
    fn oversized_success_becomes_a_failure_that_says_why() {
        let mut ok = response(Status::Success);
        ok.data.insert("Big".into(), "x".repeat(5000).into());
        let body = ok.into_body();
        assert!(body.len() <= MAX_RESPONSE_BYTES);
        let back: CfnResponse = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.status, Status::Failed);
        assert!(back.data.is_empty());
        let reason = back.reason.unwrap_or_default();
        assert!(
            reason.contains("over CloudFormation's 4096-byte limit"),
            "{reason}"
        );
    }
}
