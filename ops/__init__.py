"""Operator commands for a deployed stack: `python -m ops send / strava / dlq`.

They work against AWS (outputs from `pulumi stack output`) and the local cloud (`--local`, outputs
from `.local/<stack>/`), so the runbook you rehearse locally is the one you run in production.
"""
