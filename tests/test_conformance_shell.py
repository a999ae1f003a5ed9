"""BuildKit's shell-expansion tables (../shared/conformance/buildkit-shell)."""

from __future__ import annotations

import pytest

from grammar import ShellWordError, expand_word, expand_words

from .conftest import CONFORMANCE

SHELL = CONFORMANCE / "buildkit-shell"
ENV_VAR_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _env_var_cases():
    cases = []
    for no, line in enumerate((SHELL / "envVarTest").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        platform, source, expected = (f.strip() for f in line.split("|"))
        if platform in ("A", "U"):
            cases.append(pytest.param(source, expected, id=f"L{no}"))
    assert len(cases) > 150
    return cases


def _words_cases():
    env: dict[str, str] = {}
    cases = []
    for no, line in enumerate((SHELL / "wordsTest").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("ENV "):
            key, value = line[3:].lstrip(" ").split("=", 1)
            env[key] = value
            continue
        source, expected = line.split("|")
        cases.append(pytest.param(source.strip(), expected.lstrip(" ").split(","), dict(env), id=f"L{no}"))
    assert len(cases) > 20
    return cases


@pytest.mark.parametrize("source,expected", _env_var_cases())
def test_env_var(source, expected):
    if expected == "error":
        with pytest.raises(ShellWordError):
            expand_word(source, ENV_VAR_ENV)
    else:
        assert expand_word(source, ENV_VAR_ENV) == expected


@pytest.mark.parametrize("source,expected,env", _words_cases())
def test_words(source, expected, env):
    if expected == ["error"]:
        with pytest.raises(ShellWordError):
            expand_words(source, env)
    else:
        assert expand_words(source, env) == expected
