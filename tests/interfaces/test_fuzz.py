"""A property-based fuzz of the REST API: ``schemathesis run`` against the live OpenAPI schema
of the API under uvicorn, on one daemon for the module.

Every response passes schemathesis's checks: no 5xx, and the status, content type, headers and
body are those the schema declares (errors as problem+json, `orchestration.interfaces.problems`).
Two checks are left out: ``allow_header_conformance`` (Starlette's 405 names only the methods of
the first route on a path) and ``positive_data_acceptance`` (the schema does not spell out every
rule the tree applies, such as name patterns, non-blank messages and known topologies; the tree
refuses those with a declared 422 problem).

Bounded and repeatable: deterministic generation, the coverage and fuzzing phases, at most
``MAX_EXAMPLES`` generated cases per operation. Creating agents is left out (each one is a
process; `test_rest` covers it), so the other operations meet agents and rooms that do not
exist, or malformed input. The CLI runs as a subprocess because its pytest plugin does not
support this pytest.
"""

from __future__ import annotations

import subprocess
import sys

from orchestration.interfaces.rest import create_app
from orchestration.runtime import Runtime
from tests.interfaces.conftest import serving

MAX_EXAMPLES = 20


def test_every_operation_answers_as_its_schema_says(shared_runtime: Runtime) -> None:
    settings = shared_runtime.settings.model_copy(update={"rate_limit_per_minute": 0})
    with serving(create_app(shared_runtime, settings, token=None)) as api:
        run = subprocess.run(
            [
                *(sys.executable, "-m", "schemathesis.cli", "run"),
                str(api.base_url.join("/openapi.json")),
                *("--checks", "all", "--max-examples", str(MAX_EXAMPLES)),
                "--generation-deterministic",
                *("--exclude-name", "POST /v1/agents"),
                *("--exclude-checks", "allow_header_conformance,positive_data_acceptance"),
                *("--phases", "coverage,fuzzing", "--request-timeout", "10", "--no-color"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert run.returncode == 0, run.stdout + run.stderr
