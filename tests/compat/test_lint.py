"""Build checks, ported from BuildKit's dockerfile_lint_test.go: each case's Dockerfile goes
through `cairn build --check` (BuildKit's lint subrequest: every stage, nothing run) and the
findings must be exactly BuildKit's (rule, line, detail, description); cases that BuildKit
also builds are built too where they need no network (the warnings of the stages the target
needs, on stderr and in --metadata-file). No container runs here: FROM scratch/busybox, COPY."""

from __future__ import annotations

import contextlib
import io
import json
import re

from builder.cli import main

from .helpers import build, needs_root, write

DESCRIPTIONS = {
    "StageNameCasing": "Stage names should be lowercase",
    "FromAsCasing": "The 'as' keyword should match the case of the 'from' keyword",
    "NoEmptyContinuation": "Empty continuation lines will become errors in a future release",
    "ConsistentInstructionCasing": "All commands within the Dockerfile should use the same casing (either upper or lower)",
    "DuplicateStageName": "Stage names should be unique",
    "ReservedStageName": "Reserved words should not be used as stage names",
    "JSONArgsRecommended": "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals",
    "MaintainerDeprecated": "The MAINTAINER instruction is deprecated, use a label instead to define an image author",
    "UndefinedArgInFrom": "FROM command must use declared ARGs",
    "WorkdirRelativePath": "Relative workdir without an absolute workdir declared within the build can have "
                           "unexpected results if the base image changes",
    "UndefinedVar": "Variables should be defined before their use",
    "MultipleInstructionsDisallowed": "Multiple instructions of the same type should not be used in the same stage",
    "LegacyKeyValueFormat": "Legacy key/value format with whitespace separator should not be used",
    "InvalidBaseImagePlatform": "Base image platform does not match expected target platform",
    "RedundantTargetPlatform": "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the "
                               "default behavior",
    "SecretsUsedInArgOrEnv": "Sensitive data should not be used in the ARG or ENV commands",
    "InvalidDefaultArgInFrom": "Default value for global ARG results in an empty or invalid base image name",
    "FromPlatformFlagConstDisallowed": "FROM --platform flag should not use a constant value",
    "CopyIgnoredFile": "Attempting to Copy file that is excluded by .dockerignore",
}
_FINDING = re.compile(r"^Dockerfile:(\d+): (\w+): (.*)$")


def run_check(root, ctx, *args: str) -> tuple[int, list[tuple[int, str, str]], str, str]:
    """`cairn build --check CTX` in this process: exit code, findings, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--root", str(root), "build", "--check", *args, str(ctx)])
    lines = out.getvalue().splitlines()
    found = []
    for i, line in enumerate(lines):
        m = _FINDING.match(line)
        if m:
            assert lines[i + 1] == "    " + DESCRIPTIONS[m.group(2)], lines[i:i + 2]  # no URL
            found.append((int(m.group(1)), m.group(2), m.group(3)))
    return code, found, out.getvalue(), err.getvalue()


def expect(root, tmp_path, dockerfile: str, warnings=(), *args, ignore: str | None = None, error: str = ""):
    """BuildKit's checkLinterWarnings, lint side: exactly `warnings` as (line, rule, detail),
    in line order; exit 0 with none, 1 with some; `error` is the error printed after them."""
    files = {"Dockerfile": dockerfile}
    if ignore is not None:
        files[".dockerignore"] = ignore
    ctx = write(tmp_path / f"c{len(list(tmp_path.iterdir()))}", files)
    code, found, out, err = run_check(root, ctx, *args)
    assert found == sorted(warnings), (out, err)
    if error:
        assert error in err and code != 0, err
    else:
        assert err == "", err
        assert code == (1 if warnings else 0), (code, out)
        if not warnings:
            assert out == "Check complete, no warnings found.\n"
    return ctx


def test_rule_check_option(root, tmp_path):
    df = "FROM scratch as base\ncopy Dockerfile .\n"
    expect(root, tmp_path, "#check=skip=all\n" + df)
    expect(root, tmp_path, "#check=skip=all;error=true\n" + df)
    expect(root, tmp_path, "#check=skip=ConsistentInstructionCasing,FromAsCasing\n" + df)
    expect(root, tmp_path, "#check=skip=ConsistentInstructionCasing,FromAsCasing;error=true\n" + df)
    as_casing = (2, "FromAsCasing", "'as' and 'FROM' keywords' casing do not match")
    expect(root, tmp_path, "#check=skip=ConsistentInstructionCasing\n" + df, [as_casing])
    expect(root, tmp_path, "#check=skip=ConsistentInstructionCasing;error=true\n" + df, [as_casing],
           error="Dockerfile:2: lint violation found for rules: FromAsCasing")
    # the build arg replaces the directive
    expect(root, tmp_path, "#check=skip=all\n" + df, [as_casing],
           "--build-arg", "BUILDKIT_DOCKERFILE_CHECK=skip=ConsistentInstructionCasing;error=true",
           error="Dockerfile:2: lint violation found for rules: FromAsCasing")
    expect(root, tmp_path, "#check=error=true\n" + df, (), "--build-arg", "BUILDKIT_DOCKERFILE_CHECK=skip=all")


def test_stage_name(root, tmp_path):
    expect(root, tmp_path, "\n# warning: stage name should be lowercase\n#\nFROM scratch AS BadStageName\n\n"
           "# warning: 'as' should match 'FROM' cmd casing.\n#\nFROM scratch as base2\n\nFROM scratch AS base3\n",
           [(4, "StageNameCasing", "Stage name 'BadStageName' should be lowercase"),
            (8, "FromAsCasing", "'as' and 'FROM' keywords' casing do not match")])
    expect(root, tmp_path, "\n# warning: 'AS' should match 'from' cmd casing.\n#\nfrom scratch AS base\n\n"
           "from scratch as base2\n",
           [(4, "FromAsCasing", "'AS' and 'from' keywords' casing do not match")])


def test_no_empty_continuation(root, tmp_path):
    expect(root, tmp_path, "\nFROM scratch\n# warning: empty continuation line\nCOPY Dockerfile \\\n\n.\n"
           "COPY Dockerfile \\\n.\n", [(6, "NoEmptyContinuation", "Empty continuation line")])


def _casing(line: int, word: str, case: str):
    return (line, "ConsistentInstructionCasing",
            f"Command '{word}' should match the case of the command majority ({case})")


def test_consistent_instruction_casing(root, tmp_path):
    expect(root, tmp_path, "\n# warning\n#\nFrom scratch as base\nFROM scratch AS base2\n",
           [_casing(4, "From", "uppercase")])
    expect(root, tmp_path, "\nFROM scratch\n# warning\ncopy Dockerfile /foo\nCOPY Dockerfile /bar\n",
           [_casing(4, "copy", "uppercase")])
    expect(root, tmp_path, "\n# warning\n#\nfrOM scratch as base\nfrom scratch as base2\n",
           [_casing(4, "frOM", "lowercase")])
    expect(root, tmp_path, "\nfrom scratch\n# warning\nCOPY Dockerfile /foo\ncopy Dockerfile /bar\n",
           [_casing(4, "COPY", "lowercase")])
    expect(root, tmp_path, "\n# warning\n#\nfrom scratch\nCOPY Dockerfile /foo\nCOPY Dockerfile /bar\n"
           "COPY Dockerfile /baz\n", [_casing(4, "from", "uppercase")])
    expect(root, tmp_path, "\n# warning\n#\nFROM scratch\ncopy Dockerfile /foo\ncopy Dockerfile /bar\n"
           "copy Dockerfile /baz\n", [_casing(4, "FROM", "lowercase")])
    expect(root, tmp_path, "\nfrom scratch\ncopy Dockerfile /foo\ncopy Dockerfile /bar\n")
    expect(root, tmp_path, "\nFROM scratch\nCOPY Dockerfile /foo\nCOPY Dockerfile /bar\n")
    expect(root, tmp_path, "\nFROM alpine\nRUN <<'EOT'\nenv\nEOT\n")


def test_duplicate_stage_name(root, tmp_path):
    # cairn refuses to build it (tests/golden/errors/duplicate-stage); --check reports both
    expect(root, tmp_path, "\nFROM scratch AS b\nFROM scratch AS b\n",
           [(3, "DuplicateStageName", 'Duplicate stage name "b", stage names should be unique')],
           error='Dockerfile:3: duplicate stage name "b"')
    expect(root, tmp_path, "\nFROM scratch AS b1\nFROM scratch AS b2\n")


def test_reserved_stage_name(root, tmp_path):
    expect(root, tmp_path, "\nFROM scratch AS scratch\nFROM scratch AS context\n",
           [(2, "ReservedStageName", 'Stage name should not use the same name as reserved stage "scratch"'),
            (3, "ReservedStageName", 'Stage name should not use the same name as reserved stage "context"')])
    expect(root, tmp_path, "\nFROM scratch\nFROM scratch AS a\n")


def test_json_args_recommended(root, tmp_path):
    for kw in ("CMD", "ENTRYPOINT"):
        expect(root, tmp_path, f"\nFROM scratch\n{kw} mycommand\n",
               [(3, "JSONArgsRecommended",
                 f"JSON arguments recommended for {kw} to prevent unintended behavior related to OS signals")])
        expect(root, tmp_path, f'\nFROM scratch\nSHELL ["/usr/bin/customshell"]\n{kw} mycommand\n')
        expect(root, tmp_path, f'\nFROM scratch AS base\nSHELL ["/usr/bin/customshell"]\n\nFROM base\n{kw} mycommand\n')


def test_maintainer_deprecated(root, tmp_path):
    expect(root, tmp_path, "\nFROM scratch\nMAINTAINER me@example.org\n",
           [(3, "MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label")])
    expect(root, tmp_path, '\nFROM scratch\nLABEL org.opencontainers.image.authors="me@example.org"\n')


def test_warnings_before_error(root, tmp_path):
    expect(root, tmp_path, "\nFROM scratch AS BadStageName\nMAINTAINER me@example.org\nBADCMD\n",
           [(2, "StageNameCasing", "Stage name 'BadStageName' should be lowercase"),
            (3, "MaintainerDeprecated", "Maintainer instruction is deprecated in favor of using label")],
           error="Dockerfile:4: unknown instruction: BADCMD")


def _undeclared(line: int, detail: str):
    return (line, "UndefinedArgInFrom", detail)


def test_undeclared_arg(root, tmp_path):
    expect(root, tmp_path, "\nARG base=scratch\nFROM $base\nCOPY Dockerfile .\n")
    expect(root, tmp_path, "\nARG BUILDPLATFORM=linux/amd64\nFROM --platform=$BUILDPLATFORM scratch\nCOPY Dockerfile .\n")
    expect(root, tmp_path, "\nFROM --platform=$BUILDPLATFORM scratch\nCOPY Dockerfile .\n")
    expect(root, tmp_path, "\nARG DEBUG\nFROM scratch${DEBUG}\nCOPY Dockerfile .\n")
    expect(root, tmp_path, "\nARG DEBUG\nFROM scra${DEBUG:-tch}\nCOPY Dockerfile .\n")
    expect(root, tmp_path, '\nARG DEBUG=""\nFROM scratch${DEBUG-@bogus}\nCOPY Dockerfile .\n')
    expect(root, tmp_path, "\nFROM --platform=$BULIDPLATFORM scratch\nCOPY Dockerfile .\n",
           [_undeclared(2, "FROM argument 'BULIDPLATFORM' is not declared (did you mean BUILDPLATFORM?)")])
    expect(root, tmp_path, "\nARG MY_OS=linux\nARG MY_ARCH=amd64\nFROM --platform=linux/${MYARCH} busybox\n"
           "COPY Dockerfile .\n\t",
           [_undeclared(4, "FROM argument 'MYARCH' is not declared (did you mean MY_ARCH?)")])
    expect(root, tmp_path, "\nARG tag=latest\nFROM busybox:${tag}${version} AS b\nCOPY Dockerfile .\n",
           [_undeclared(3, "FROM argument 'version' is not declared")])


@needs_root
def test_undeclared_arg_build_errors(root, tmp_path):
    """testUndeclaredArg, build side: the FROM whose --platform is an undeclared ARG fails,
    with the warning before the error."""
    err, _ = built(root, tmp_path, "\nFROM --platform=$BULIDPLATFORM scratch\nCOPY Dockerfile .\n", ok=False)
    assert "Dockerfile:2: empty platform value from expression $BULIDPLATFORM (did you mean BUILDPLATFORM?)" in err
    assert _warned(err) == [
        "Dockerfile:2: UndefinedArgInFrom: FROM argument 'BULIDPLATFORM' is not declared (did you mean BUILDPLATFORM?)"]
    err, _ = built(root, tmp_path, "\nARG MY_OS=linux\nARG MY_ARCH=amd64\nFROM --platform=linux/${MYARCH} busybox\n"
                   "COPY Dockerfile .\n", ok=False)
    assert "Dockerfile:4: invalid FROM --platform 'linux/'" in err
    err, _ = built(root, tmp_path, "\nARG tag=latest\nFROM busybox:${tag}${version} AS b\nCOPY Dockerfile .\n")
    assert _warned(err) == ["Dockerfile:3: UndefinedArgInFrom: FROM argument 'version' is not declared"]


def test_workdir_relative_path(root, tmp_path):
    expect(root, tmp_path, "\nFROM scratch\nWORKDIR app/\n",
           [(3, "WorkdirRelativePath", 'Relative workdir "app/" can have unexpected results if the base image changes')])
    expect(root, tmp_path, "\nFROM scratch AS a\nWORKDIR /app\n\nFROM a AS b\nWORKDIR subdir/\n")


def _undefined(line: int, detail: str):
    return (line, "UndefinedVar", detail)


def test_unmatched_vars(root, tmp_path):
    expect(root, tmp_path, "\nFROM scratch\nARG foo\nCOPY Dockerfile${foo} .\n")
    expect(root, tmp_path, "\nFROM alpine AS base\nARG foo=Dockerfile\n\nFROM base\nCOPY $foo .\n")
    expect(root, tmp_path, "\nFROM alpine\nRUN echo $PATH\n")
    expect(root, tmp_path, "\nFROM alpine\nCOPY $foo .\nARG foo=bar\nRUN echo $foo\n",
           [_undefined(3, "Usage of undefined variable '$foo'")])
    expect(root, tmp_path, "\nFROM alpine\nARG DIR_BINARIES=binaries/\nARG DIR_ASSETS=assets/\nARG DIR_CONFIG=config/\n"
           "COPY $DIR_ASSET .\n\t", [_undefined(6, "Usage of undefined variable '$DIR_ASSET' (did you mean $DIR_ASSETS?)")])
    expect(root, tmp_path, "\nFROM alpine\nENV PATH=$PAHT:/tmp/bin\n\t\t",
           [_undefined(3, "Usage of undefined variable '$PAHT' (did you mean $PATH?)")])


def _multiple(kw: str, line: int):
    return (line, "MultipleInstructionsDisallowed",
            f"Multiple {kw} instructions should not be used in the same stage because only the last one will be used")


def test_multiple_instructions_disallowed(root, tmp_path):
    expect(root, tmp_path, '\nFROM scratch\nENTRYPOINT ["/myapp"]\nENTRYPOINT ["/myotherapp"]\nCMD ["/myapp"]\n'
           'CMD ["/myotherapp"]\nHEALTHCHECK CMD ["/myapp"]\nHEALTHCHECK CMD ["/myotherapp"]\n',
           [_multiple("ENTRYPOINT", 3), _multiple("CMD", 5), _multiple("HEALTHCHECK", 7)])
    expect(root, tmp_path, '\nFROM scratch\nENTRYPOINT ["/myapp"]\nCMD ["/myapp"]\nHEALTHCHECK CMD ["/myapp"]\n'
           'COPY <<EOF /a.txt\nHello, World!\nEOF\nENTRYPOINT ["/myotherapp"]\nCMD ["/myotherapp"]\n'
           'HEALTHCHECK CMD ["/myotherapp"]\n',
           [_multiple("ENTRYPOINT", 3), _multiple("CMD", 4), _multiple("HEALTHCHECK", 5)])
    expect(root, tmp_path, '\nFROM scratch AS a\nENTRYPOINT ["/myapp"]\nCMD ["/myapp"]\nHEALTHCHECK CMD ["/myapp"]\n\n'
           'FROM a AS b\nENTRYPOINT ["/myotherapp"]\nCMD ["/myotherapp"]\nHEALTHCHECK CMD ["/myotherapp"]\n')


def _legacy(line: int, kw: str):
    return (line, "LegacyKeyValueFormat", f'"{kw} key=value" should be used instead of legacy "{kw} key value" format')


def test_legacy_key_value_format(root, tmp_path):
    expect(root, tmp_path, "\nFROM scratch\nENV testkey value\nLABEL key value\n", [_legacy(3, "ENV"), _legacy(4, "LABEL")])
    expect(root, tmp_path, '\nFROM scratch\nENV testkey=value\nLABEL key=value\n')
    # --check lints every stage, a build only those its target needs (see test_build_*)
    expect(root, tmp_path, "\nFROM scratch AS a\n\nFROM a AS b\nENV testkey value\nLABEL key value\n\nFROM a AS c\n",
           [_legacy(5, "ENV"), _legacy(6, "LABEL")])


def test_all_target_unmarshal(root, tmp_path):
    expect(root, tmp_path, "\nFROM scratch AS first\nCOPY $foo .\n\nFROM scratch AS second\nCOPY $bar .\n",
           [_undefined(3, "Usage of undefined variable '$foo'"), _undefined(6, "Usage of undefined variable '$bar'")])


def test_redundant_target_platform(root, tmp_path):
    for expr in ("$TARGETPLATFORM", "${TARGETPLATFORM}"):
        expect(root, tmp_path, f"\nFROM --platform={expr} scratch\n",
               [(2, "RedundantTargetPlatform",
                 f"Setting platform to predefined {expr} in FROM is redundant as this is the default behavior")])


def _secret(line: int, kind: str, name: str):
    return (line, "SecretsUsedInArgOrEnv", f'Do not use ARG or ENV instructions for sensitive data ({kind} "{name}")')


def test_secrets_used_in_arg_or_env(root, tmp_path):
    expect(root, tmp_path, "\nFROM scratch\nARG SECRET_PASSPHRASE\nENV SUPER_Secret=foo\nENV password=bar secret=baz\n"
           "ARG super_duper_secret_token=foo auth=bar\nENV apikey=bar sunflower=foo\nENV git_key=\nENV PUBLIC_KEY=\n"
           "ARG public_token\n",
           [_secret(3, "ARG", "SECRET_PASSPHRASE"), _secret(4, "ENV", "SUPER_Secret"), _secret(5, "ENV", "password"),
            _secret(5, "ENV", "secret"), _secret(6, "ARG", "auth"), _secret(6, "ARG", "super_duper_secret_token"),
            _secret(7, "ENV", "apikey"), _secret(8, "ENV", "git_key")])


def _invalid_default(base: str):
    return (3, "InvalidDefaultArgInFrom", f"Default value for ARG {base} results in empty or invalid base image name")


def test_invalid_default_arg_in_from(root, tmp_path):
    expect(root, tmp_path, "\nARG VERSION\nFROM busybox:$VERSION\n", [_invalid_default("busybox:$VERSION")],
           "--build-arg", "VERSION=latest")
    expect(root, tmp_path, "\nARG IMAGE\nFROM $IMAGE\n", [_invalid_default("$IMAGE")],
           "--build-arg", "IMAGE=busybox:latest")
    expect(root, tmp_path, '\nARG SFX="box:"\nFROM busy${SFX}\n', [_invalid_default("busy${SFX}")],
           "--build-arg", "SFX=box:latest")
    expect(root, tmp_path, '\nARG VERSION="latest"\nFROM busybox:${VERSION}\n', (), "--build-arg", "VERSION=latest")
    expect(root, tmp_path, '\nARG BUSYBOX_VARIANT=""\nFROM busybox:stable${BUSYBOX_VARIANT}\n', (),
           "--build-arg", "BUSYBOX_VARIANT=-musl")
    expect(root, tmp_path, "\n\tARG BUSYBOX_VARIANT\n\tFROM busybox:stable${BUSYBOX_VARIANT}\n\t", (),
           "--build-arg", "BUSYBOX_VARIANT=-musl")


def test_from_platform_flag_const_disallowed(root, tmp_path):
    expect(root, tmp_path, "\nFROM --platform=linux/amd64 scratch\n",
           [(2, "FromPlatformFlagConstDisallowed", 'FROM --platform flag should not use constant value "linux/amd64"')])
    expect(root, tmp_path, "\nFROM --platform=linux/amd64 scratch AS my_amd64_stage\n")
    expect(root, tmp_path, "\nFROM --platform=linux/amd64 scratch AS linux\n")


def _ignored(line: int, what: str):
    return (line, "CopyIgnoredFile", f'Attempting to {what} file "Dockerfile" that is excluded by .dockerignore')


def test_copy_ignored_files(root, tmp_path):
    df = "FROM scratch\nCOPY Dockerfile .\nADD Dockerfile /windy\n"
    expect(root, tmp_path, "\n" + df, ignore="\nDockerfile\n")  # experimental: off unless named
    both = [_ignored(3, "Copy"), _ignored(4, "Add")]
    expect(root, tmp_path, "# check=experimental=CopyIgnoredFile\n" + df, both, ignore="\nDockerfile\n")
    expect(root, tmp_path, "# check=skip=all;experimental=CopyIgnoredFile\n" + df, both, ignore="\nDockerfile\n")
    expect(root, tmp_path, "# check=experimental=CopyIgnoredFile\nFROM scratch AS base\nCOPY Dockerfile /foobar\n"
           "ADD Dockerfile /windy\n\nFROM base\nCOPY --from=base /foobar /Dockerfile\n", ignore="\nfoobar\n")


def built(root, tmp_path, dockerfile: str, *args: str, ok: bool = True) -> tuple[str, dict]:
    """BuildKit's checkLinterWarnings, build side: stderr and the --metadata-file document."""
    ctx = write(tmp_path / f"b{len(list(tmp_path.iterdir()))}", {"Dockerfile": dockerfile})
    meta = ctx.parent / (ctx.name + ".json")
    res = build(root, ctx, "--metadata-file", str(meta), *args)
    err = res.stderr.decode(errors="replace")
    assert (res.returncode == 0) == ok, err
    assert "Traceback" not in err
    return err, (json.loads(meta.read_text()) if ok else {})


def _warned(err: str) -> list[str]:
    return [line.removeprefix("[warning] ") for line in err.splitlines()
            if _FINDING.match(line.removeprefix("[warning] "))]


@needs_root
def test_build_prints_checks_and_builds(root, tmp_path):
    err, meta = built(root, tmp_path, "FROM scratch as base\nCOPY Dockerfile .\nCMD mycommand\n")
    assert _warned(err) == [
        "Dockerfile:1: FromAsCasing: 'as' and 'FROM' keywords' casing do not match",
        ("Dockerfile:3: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior "
         "related to OS signals")]
    assert [(c["line"], c["rule"]) for c in meta["checks"]] == [(1, "FromAsCasing"), (3, "JSONArgsRecommended")]
    assert meta["checks"][0]["description"] == DESCRIPTIONS["FromAsCasing"]
    err, meta = built(root, tmp_path, "FROM scratch AS base\nCOPY Dockerfile .\n")
    assert _warned(err) == [] and "checks" not in meta


@needs_root
def test_build_error_true_fails_before_any_step(root, tmp_path):
    err, _ = built(root, tmp_path, "#check=error=true\nFROM scratch as base\nCOPY Dockerfile .\n", ok=False)
    assert "Dockerfile:2: lint violation found for rules: FromAsCasing" in err
    assert "COPY Dockerfile" not in err  # no step ran
    err, _ = built(root, tmp_path, "#check=error=true\nFROM scratch as base\nCOPY Dockerfile .\n",
                   "--build-arg", "BUILDKIT_DOCKERFILE_CHECK=skip=FromAsCasing")
    assert _warned(err) == []


@needs_root
def test_build_checks_only_the_stages_it_builds(root, tmp_path):
    df = "\nFROM scratch AS a\n\nFROM a AS b\nENV testkey value\nLABEL key value\n\nFROM a AS c\n"
    err, _ = built(root, tmp_path, df)
    assert _warned(err) == []
    err, _ = built(root, tmp_path, df, "--target", "b")
    assert [w.split(":")[2].strip() for w in _warned(err)] == ["LegacyKeyValueFormat"] * 2
    err, _ = built(root, tmp_path, "\nFROM scratch AS first\nCOPY $foo .\n\nFROM scratch AS second\nCOPY $bar Dockerfile\n")
    assert _warned(err) == ["Dockerfile:6: UndefinedVar: Usage of undefined variable '$bar'"]


@needs_root
def test_base_image_platform_mismatch(root, tmp_path):
    from builder import platforms

    host = platforms.text(platforms.host())
    other = "linux/arm64" if host != "linux/arm64" else "linux/amd64"
    ref = "cairn.test/lint/other-platform:latest"
    built(root, tmp_path, "FROM scratch\nCOPY Dockerfile /a\n", "--platform", other, "-t", ref)
    detail = f'Base image {ref} was pulled with platform "{other}", expected "{host}" for current build'
    df = f"\nFROM {ref}\nENV FOO=bar\n"
    expect(root, tmp_path, df, [(2, "InvalidBaseImagePlatform", detail)])
    err, _ = built(root, tmp_path, df)
    assert f"Dockerfile:2: InvalidBaseImagePlatform: {detail}" in _warned(err)
    expect(root, tmp_path, df, (), "--platform", other)  # what it is for: no finding



@needs_root
def test_build_side_of_warnings_before_error_and_copy_ignored(root, tmp_path):
    """testWarningsBeforeError and testCopyIgnoredFiles, build side: the warnings come before
    the error; COPY of an ignored file fails at its line; COPY --from a stage is not checked."""
    err, _ = built(root, tmp_path, "\nFROM scratch AS BadStageName\nMAINTAINER me@example.org\nBADCMD\n", ok=False)
    assert [w.split(":")[2].strip() for w in _warned(err)] == ["StageNameCasing", "MaintainerDeprecated"]
    assert err.index("MaintainerDeprecated") < err.index("Dockerfile:4: unknown instruction: BADCMD")
    ctx = write(tmp_path / "ign", {"Dockerfile": "# check=experimental=CopyIgnoredFile\nFROM scratch\n"
                                                 "COPY Dockerfile .\nADD Dockerfile /windy\n",
                                   ".dockerignore": "\nDockerfile\n"})
    res = build(root, ctx)
    err = res.stderr.decode()
    assert res.returncode != 0 and "Dockerfile:3:" in err and "Traceback" not in err, err
    assert [w.split(":")[2].strip() for w in _warned(err)] == ["CopyIgnoredFile"] * 2
    ctx = write(tmp_path / "ign2", {"Dockerfile": "# check=experimental=CopyIgnoredFile\nFROM scratch AS base\n"
                                                  "COPY Dockerfile /foobar\nADD Dockerfile /windy\n\nFROM base\n"
                                                  "COPY --from=base /foobar /Dockerfile\n",
                                    ".dockerignore": "\nfoobar\n"})
    res = build(root, ctx)
    assert res.returncode == 0 and _warned(res.stderr.decode()) == [], res.stderr.decode()
