"""Eval harness: scenarios, scorers and reports for the plans the agent writes."""
