"""Fault scenarios (issue 13): break the infrastructure under load, check nothing acknowledged is lost."""
