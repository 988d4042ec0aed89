"""AWS Private CA: moto's, with idempotency tokens, CA status, pending issuance and chains."""
