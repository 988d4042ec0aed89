"""KMS custom key stores of type AWS_CLOUDHSM (moto has none), on top of moto's KMS."""
