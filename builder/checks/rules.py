"""The build-check rules BuildKit's Dockerfile frontend has: name, description, and the
finding a rule reports (a line and a detail message)."""

from __future__ import annotations

from runtime.record import Record, record

from ..errors import located


@record
class Rule(Record):
    name: str
    description: str
    experimental: bool = False  # runs only when `experimental=` names it
    level: str = "warning"  # `cairn check` exits 1 for an "error" finding (and for any with error=true)


@record
class Finding(Record):
    """One check that failed: `Dockerfile:LINE: Rule: detail`."""

    rule: Rule
    line: int
    detail: str
    fix: str = ""  # what to write instead (cairn's cache rules; "" when the description says it)

    def short(self, filename: str = "Dockerfile") -> str:
        return located(filename, self.line, f"{self.rule.name}: {self.detail}")

    def as_json(self) -> dict:
        return {"rule": self.rule.name, "line": self.line, "detail": self.detail,
                "description": self.rule.description}


def _rule(name: str, description: str, experimental: bool = False, level: str = "warning") -> Rule:
    return Rule(name, description, experimental, level)


STAGE_NAME_CASING = _rule("StageNameCasing", "Stage names should be lowercase")
FROM_AS_CASING = _rule("FromAsCasing", "The 'as' keyword should match the case of the 'from' keyword")
NO_EMPTY_CONTINUATION = _rule("NoEmptyContinuation", "Empty continuation lines will become errors in a future release")
CONSISTENT_INSTRUCTION_CASING = _rule(
    "ConsistentInstructionCasing",
    "All commands within the Dockerfile should use the same casing (either upper or lower)")
DUPLICATE_STAGE_NAME = _rule("DuplicateStageName", "Stage names should be unique")
RESERVED_STAGE_NAME = _rule("ReservedStageName", "Reserved words should not be used as stage names")
JSON_ARGS_RECOMMENDED = _rule(
    "JSONArgsRecommended",
    "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals")
MAINTAINER_DEPRECATED = _rule(
    "MaintainerDeprecated",
    "The MAINTAINER instruction is deprecated, use a label instead to define an image author")
UNDEFINED_ARG_IN_FROM = _rule("UndefinedArgInFrom", "FROM command must use declared ARGs")
WORKDIR_RELATIVE_PATH = _rule(
    "WorkdirRelativePath",
    "Relative workdir without an absolute workdir declared within the build can have unexpected results "
    "if the base image changes")
UNDEFINED_VAR = _rule("UndefinedVar", "Variables should be defined before their use")
MULTIPLE_INSTRUCTIONS_DISALLOWED = _rule(
    "MultipleInstructionsDisallowed", "Multiple instructions of the same type should not be used in the same stage")
LEGACY_KEY_VALUE_FORMAT = _rule(
    "LegacyKeyValueFormat", "Legacy key/value format with whitespace separator should not be used")
INVALID_BASE_IMAGE_PLATFORM = _rule(
    "InvalidBaseImagePlatform", "Base image platform does not match expected target platform")
REDUNDANT_TARGET_PLATFORM = _rule(
    "RedundantTargetPlatform",
    "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior")
SECRETS_USED_IN_ARG_OR_ENV = _rule(
    "SecretsUsedInArgOrEnv", "Sensitive data should not be used in the ARG or ENV commands", level="error")
INVALID_DEFAULT_ARG_IN_FROM = _rule(
    "InvalidDefaultArgInFrom", "Default value for global ARG results in an empty or invalid base image name")
FROM_PLATFORM_FLAG_CONST_DISALLOWED = _rule(
    "FromPlatformFlagConstDisallowed", "FROM --platform flag should not use a constant value")
COPY_IGNORED_FILE = _rule(
    "CopyIgnoredFile", "Attempting to Copy file that is excluded by .dockerignore", experimental=True)
INVALID_DEFINITION_DESCRIPTION = _rule(
    "InvalidDefinitionDescription",
    "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this "
    "is not intended to be a description comment, add an empty line or comment between the instruction and the "
    "comment.", experimental=True)

ALL = (STAGE_NAME_CASING, FROM_AS_CASING, NO_EMPTY_CONTINUATION, CONSISTENT_INSTRUCTION_CASING,
       DUPLICATE_STAGE_NAME, RESERVED_STAGE_NAME, JSON_ARGS_RECOMMENDED, MAINTAINER_DEPRECATED,
       UNDEFINED_ARG_IN_FROM, WORKDIR_RELATIVE_PATH, UNDEFINED_VAR, MULTIPLE_INSTRUCTIONS_DISALLOWED,
       LEGACY_KEY_VALUE_FORMAT, INVALID_BASE_IMAGE_PLATFORM, REDUNDANT_TARGET_PLATFORM,
       SECRETS_USED_IN_ARG_OR_ENV, INVALID_DEFAULT_ARG_IN_FROM, FROM_PLATFORM_FLAG_CONST_DISALLOWED,
       COPY_IGNORED_FILE, INVALID_DEFINITION_DESCRIPTION)
BY_NAME = {r.name: r for r in ALL}
