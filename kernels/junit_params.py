"""Pytest plugin: records each test's parameters as JUnit properties (dtype, k, n, ...).

Loaded by vllm-kernel-ci with `-p junit_params -o junit_family=xunit1`, so the RunResult gets dtype,
K and N from the report itself rather than from test ids such as `dtype0`. A case's
`@pytest.mark.call_form(weight="[K]")` says what it passes the op; it is recorded as `call_form.weight`, so
vllm-kernel-ci can tell a case that no call site of the tree makes (advisory) from one inside the contract.
"""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "call_form(**shapes): what the case passes the op, per parameter")


@pytest.fixture(autouse=True)
def _record_parameters(request: pytest.FixtureRequest, record_property) -> None:
    for marker in request.node.iter_markers("call_form"):
        for param, shape in marker.kwargs.items():
            record_property(f"call_form.{param}", str(shape))
    spec = getattr(request.node, "callspec", None)
    if spec is None:
        return
    for name, value in spec.params.items():
        record_property(name, str(value).removeprefix("torch."))
