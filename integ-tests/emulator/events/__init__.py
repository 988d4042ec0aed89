"""EventBridge: moto's rules, plus the Step Functions execution status change events AWS emits."""
