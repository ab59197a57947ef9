"""`python -m fanout.local.cfn_lint`: cfn-lint on the template `cdk synth` produces (cdk.json's context).

Zero errors or the check fails; every warning is printed, and each one kept is explained in
docs/deploy.md (KNOWN_WARNINGS lists their rule ids: a new kind of warning fails too, until it is
explained there). The template comes from the local runtime's synth cache, so an unchanged app is not
synthesized again.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from fanout.local.synth import synthesize

STACK_NAME = "Fanout"  # app.py's default
# Kept on purpose, each with its reason in docs/deploy.md ("cfn-lint").
KNOWN_WARNINGS = frozenset({"W3005"})


def lint(template: dict[str, object]) -> tuple[list[str], list[str]]:
    """(errors, warnings) as cfn-lint's parseable lines."""
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / f"{STACK_NAME}.template.json"
        path.write_text(json.dumps(template), encoding="utf-8")
        done = subprocess.run(  # noqa: S603 - cfn-lint from this environment
            [str(Path(sys.executable).with_name("cfn-lint")), "--format", "parseable", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
    findings = [line for line in done.stdout.splitlines() if line.strip()]
    errors = [line for line in findings if ":E" in line]
    warnings = [line for line in findings if ":W" in line]
    if done.returncode not in (0, 2, 4, 6, 8, 10, 12, 14):
        errors.append(f"cfn-lint failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return errors, warnings


def rule_of(line: str) -> str:
    """`path:line:col:line:col:W3005:message` -> W3005."""
    return next((part for part in line.split(":") if part[:1] in {"E", "W", "I"} and part[1:].isdigit()), "")


def main() -> int:
    synthesized = synthesize({}, stack_name=STACK_NAME)
    errors, warnings = lint(synthesized.template)
    unexplained = [w for w in warnings if rule_of(w) not in KNOWN_WARNINGS]
    for line in warnings:
        print(f"cfn-lint warning (see docs/deploy.md): {line.split(':', 5)[-1]}")
    for line in errors + unexplained:
        print(f"cfn-lint: {line}", file=sys.stderr)
    print(f"cfn-lint: {len(errors)} errors, {len(warnings)} warnings ({len(unexplained)} unexplained)")
    return 1 if errors or unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
