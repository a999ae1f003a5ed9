"""Build checks: BuildKit's Dockerfile lint rules, run before any step.

    run_checks(tree, CheckInput) -> CheckReport     run.py (walks the file, stage by stage)
    rules.py          the rules (name, description) and a Finding (line, detail)
    config.py         `# check=skip=...;error=true;experimental=...` / BUILDKIT_DOCKERFILE_CHECK
    from_rules.py     file-wide and FROM-line rules;  stage_rules.py: rules over a stage's steps
    words.py          undefined variables in a word, and 'did you mean' hints
    cache_rules.py    cairn's cache-aware rules (with a fix each); installs.py: what a RUN installs
    (bench/rule_misses.py charges a replayed history's misses to them: `cairn check --history N`)

`cairn build --check` prints the findings and runs nothing; a build prints them as warnings
and, with error=true, fails before its first step.
"""

from .rules import Finding, Rule
from .run import CheckInput, CheckReport, run_checks

__all__ = ["CheckInput", "CheckReport", "Finding", "Rule", "run_checks"]
