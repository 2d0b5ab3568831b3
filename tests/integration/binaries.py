"""Where the binaries under test are (imported by the tests as `binaries`; a
module named conftest would clash with tests/emulator's), and the emulators
(tests/emulator/harness.py) on the import path."""

import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "emulator"))

BUILD = os.path.join(ROOT, os.environ.get("DEVCLOUD_BUILD", "build"))


def bootstrap_path(function, flavour="static"):
    """build/<fn>/bootstrap, or the ASan/UBSan build (flavour "asan")."""
    if flavour == "asan":
        return os.path.join(BUILD, "asan", function, "bootstrap")
    return os.path.join(BUILD, function, "bootstrap")


def require(path):
    """Fails (not skips) when a binary `make test` should have built is missing."""
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: run `make test` (it builds everything first)")
    return path


def assert_init_error(run, aws, needle):
    """The function's init failed as Runtime.InitError with a message naming
    `needle`, no invocation ran, and nothing was asked of AWS."""
    assert run.init_error is not None, run
    assert run.init_error["error_type"] == "Runtime.InitError"
    assert needle in run.init_error["body_json"]["errorMessage"]
    assert run.results[0] is None
    assert aws.calls() == []


def assert_no_credentials_logged(logs):
    """Neither the emulator's credentials nor any signature in the logs."""
    from harness import DEFAULT_SECRET_KEY, DEFAULT_SESSION_TOKEN
    for secret in (DEFAULT_SECRET_KEY, DEFAULT_SESSION_TOKEN, "Signature=", "Authorization"):
        assert secret not in logs
