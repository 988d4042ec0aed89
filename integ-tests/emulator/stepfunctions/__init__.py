"""Step Functions: moto's, with CreateStateMachine's name rule as AWS enforces it."""
