"""Pytest plugin: records each test's parameters as JUnit properties (dtype, k, n, ...).

Loaded by vllm-kernel-ci with `-p junit_params -o junit_family=xunit1`, so the RunResult gets dtype,
K and N from the report itself rather than from test ids such as `dtype0`.
"""

import pytest


@pytest.fixture(autouse=True)
def _record_parameters(request: pytest.FixtureRequest, record_property) -> None:
    spec = getattr(request.node, "callspec", None)
    if spec is None:
        return
    for name, value in spec.params.items():
        record_property(name, str(value).removeprefix("torch."))
