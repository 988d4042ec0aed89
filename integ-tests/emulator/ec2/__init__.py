"""EC2: moto's, with the refusals of AWS that moto lacks (security_groups.py)."""
