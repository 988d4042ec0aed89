"""SSM Run Command that really runs `AWS-RunShellScript` in per-instance sandboxes, on top of moto's SSM."""
