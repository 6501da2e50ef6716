"""schemathesis against the app's OpenAPI schema: every operation with at least 50 generated
examples, then stateful sequences that follow the schema's links (create a segment → read it →
its members; create a campaign → preview → dry run; create an automation → read it → its runs);
no answer may be a server error.

Authentication is not what is fuzzed here: the caller is an admin (dependency override), so
every operation is reached; tests/api/test_rest_*.py cover 401/403 and CSRF."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings

from segmentum.api.access import current_principal
from segmentum.api.app import create_app
from segmentum.service.server import Server, ServerSettings
from segmentum.service.users import Principal
from tests.web.shop import IBIS_PANDAS_WARNING, build_shop

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.python.asgi import shutdown_lifespans  # noqa: E402

EXAMPLES = 50
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(IBIS_PANDAS_WARNING)]


@dataclass
class Fuzzed:
    schema: Any
    app: FastAPI
    db: Path
    pristine: Path

    def reset(self) -> None:
        """Back to the workspace as built, so every stateful run starts from the same state.

        The server to reset is the one the app's lifespan opened: schemathesis starts the
        lifespan with a request (loading the schema is one) and its pytest plugin stops it
        after each test, so between tests there is none and the next request opens a new
        one on the copied file. A second server of our own on the same file would share
        DuckDB's in-process database instance, which outlives closing it and ignores the
        copied file: a replayed sequence then met the state an earlier one left (a 409 where
        there had been a 201, an empty link bundle) and Hypothesis raised
        FlakyStrategyDefinition."""
        server: Server | None = getattr(self.app.state, "server", None)
        if server is not None:
            server.close()
        # a write-ahead log left beside the file would be replayed onto the pristine copy
        self.db.with_name(self.db.name + ".wal").unlink(missing_ok=True)
        shutil.copyfile(self.pristine, self.db)
        if server is not None:
            server.open()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    folder = Path(tmp_path_factory.mktemp("schemathesis"))
    db = build_shop(folder, webhook_secrets=True)
    pristine = folder / "pristine.duckdb"
    shutil.copyfile(db, pristine)
    app = create_app(ServerSettings(db=db, worker=False))
    app.dependency_overrides[current_principal] = lambda: Principal("fuzzer", "admin")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        yield Fuzzed(schema, app, Path(db), pristine)
    finally:
        shutdown_lifespans()


@pytest.fixture(scope="module")
def api_schema(fuzzed: Fuzzed) -> Any:
    return fuzzed.schema


def test_every_operation_answers_no_server_error(api_schema: Any) -> None:
    """Each operation in turn (the schemathesis pytest plugin does not run on this pytest)."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 60
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Any) -> None:
            case.call_and_validate(checks=[not_a_server_error])

        try:
            check()
        except KeyboardInterrupt:
            raise
        except BaseException as error:
            failures.append(f"{operation.label}: {type(error).__name__}: {error}"[:2000])
    assert not failures, "\n\n".join(failures)


def test_stateful_links_give_no_server_error(fuzzed: Fuzzed) -> None:
    """Sequences that follow the links; each starts from the pristine workspace (``setup``),
    so a sequence replayed by Hypothesis meets the same answers and chooses the same rules."""
    base = fuzzed.schema.as_state_machine()
    assert base.bundles, "the schema has no links to follow"

    failures: list[str] = []
    followed: list[str] = []

    class Workflow(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            fuzzed.reset()

        def step(self, chosen: Any) -> Any:
            if chosen.transition is not None:  # a link from an earlier answer, not a new start
                followed.append(chosen.case.operation.label)
            return super().step(chosen)

        def call(self, case: Any, **kwargs: Any) -> Any:
            try:
                return case.call(**kwargs)
            except Exception as error:
                failures.append(f"{case.method} {case.formatted_path}: raised {error!r}"[:800])
                raise

        # Collected, not raised: the report then lists every server error, not the first.
        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path}: {response.status_code} "
                    f"{response.text[:500]}"
                )

    Workflow.run(
        settings=settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            stateful_step_count=6,
            suppress_health_check=list(HealthCheck),
        )
    )
    assert not failures, "\n".join(failures)
    assert followed, "no sequence followed a link"
