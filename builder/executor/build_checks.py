"""A build's checks: run before any step over the stages the target needs, each finding
shown as a warning (`Dockerfile:LINE: Rule: detail`); with `# check=error=true` a finding
fails the build before its first step, as BuildKit's lint violation does."""

from __future__ import annotations

from ..checks import CheckInput, run_checks
from ..checks.inputs import base_resolver, ignore_matcher


def run_build_checks(tree, options, context_dir: str, dockerfile_path, bases, target_platform, progress) -> tuple:
    """The findings (for --metadata-file); raises the violation error when error=true."""
    # (with --build-context a base may be a context, not an image: none is resolved here then)
    resolver = None if options.contexts else base_resolver(bases, target_platform, bool(options.platform))
    given = CheckInput(dict(options.build_args), options.target, False,
                       ignore_matcher(context_dir, dockerfile_path), resolver, target_platform)
    report = run_checks(tree, given)
    for finding in report.findings:
        progress.warn(finding.short(options.dockerfile_name))
    violation = report.violation()
    if violation is not None:
        raise violation
    return tuple(report.findings)
