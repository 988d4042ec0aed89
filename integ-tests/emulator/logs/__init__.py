"""CloudWatch Logs: moto's, with KMS key policies enforced for encrypted log groups."""
