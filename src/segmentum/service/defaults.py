"""Defaults of use cases that the interfaces also show (CLI `--help`), in a module that
imports nothing: the CLI reads them here without loading the use cases and their engines."""

from __future__ import annotations

#: CLV models (``service.clv``): time unit, prediction horizon, annual discount rate.
DEFAULT_PERIOD = "D"
DEFAULT_HORIZON_DAYS = 365
DEFAULT_DISCOUNT_RATE = 0.10
#: Newest timeline entries of a customer's profile (``service.customers``).
DEFAULT_TIMELINE_LIMIT = 50
#: The demo shop (``service.demo``): customers generated and the random seed.
DEFAULT_CUSTOMERS = 50_000
DEFAULT_SEED = 42
