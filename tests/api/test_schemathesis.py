"""schemathesis against the app's OpenAPI schema: every operation with at least 50 generated
examples, then stateful sequences that follow the schema's links (create a segment → read it →
its members; create a campaign → preview → dry run); no answer may be a server error.

Authentication is not what is fuzzed here: the caller is an admin (dependency override), so
every operation is reached; tests/api/test_rest_*.py cover 401/403 and CSRF."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import FlakyStrategyDefinition

from segmentum.api.access import current_principal
from segmentum.api.app import create_app
from segmentum.service.server import Server, ServerSettings
from segmentum.service.users import Principal
from tests.web.shop import IBIS_PANDAS_WARNING, build_shop

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402

EXAMPLES = 50
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings(IBIS_PANDAS_WARNING)]


@dataclass
class Fuzzed:
    schema: Any
    server: Server
    db: Path
    pristine: Path

    def reset(self) -> None:
        """Back to the workspace as built, so every stateful run starts from the same state."""
        self.server.close()
        shutil.copyfile(self.pristine, self.db)
        self.server.open()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    folder = Path(tmp_path_factory.mktemp("schemathesis"))
    db = build_shop(folder, webhook_secrets=True)
    pristine = folder / "pristine.duckdb"
    shutil.copyfile(db, pristine)
    chosen = ServerSettings(db=db, worker=False)
    app = create_app(chosen)
    server = Server(chosen).open()
    app.state.server = server
    app.dependency_overrides[current_principal] = lambda: Principal("fuzzer", "admin")
    try:
        yield Fuzzed(
            schemathesis.openapi.from_asgi("/openapi.json", app), server, Path(db), pristine
        )
    finally:
        server.close()


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


@pytest.mark.xfail(
    raises=FlakyStrategyDefinition,
    strict=False,
    reason="schemathesis 4.32's link state machine trips Hypothesis 6.170's replay check "
    "(FlakyStrategyDefinition while choosing a rule), even with the workspace reset per run",
)
def test_stateful_links_give_no_server_error(fuzzed: Fuzzed) -> None:
    base = fuzzed.schema.as_state_machine()
    assert base.bundles, "the schema has no links to follow"

    failures: list[str] = []

    class Workflow(base):  # type: ignore[misc, valid-type]
        # Failures are collected rather than raised: the workspace keeps the state a run
        # made, so Hypothesis could not replay a failing sequence to shrink it.
        def setup(self) -> None:
            fuzzed.reset()

        def call(self, case: Any, **kwargs: Any) -> Any:
            try:
                return case.call(**kwargs)
            except Exception as error:
                failures.append(f"{case.method} {case.formatted_path}: raised {error!r}"[:800])
                raise

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
