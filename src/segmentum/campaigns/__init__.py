"""Campaigns: model, audience, policy gate, ledger, worker, templates and channels."""
