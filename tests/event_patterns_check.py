#!/usr/bin/env python3
"""The EventBridge rules' patterns against events shaped as AWS sends them.

Terraform renders each rule's pattern from a template in its module
(`*.pattern.json.tftpl`); this check renders the same template and matches it
against the events in tests/data/events/ (ECS task state changes as ECS emits
them: a task that exits 3, one that never starts because its image cannot be
pulled, ...) with EventBridge's content-filtering rules, as AWS documents
them (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html):

- every field of the pattern must match (an object: all its fields; `$or`:
  any of its patterns), each leaf an array of filters of which one must match;
- an event's array matches when one of its elements does, and a path through
  an array of objects reaches every element's field (`containers.exitCode`);
- a field the event lacks matches only `{"exists": false}`: `anything-but`,
  `numeric` and the rest need the field to be there.

moto's matcher is not used: it does not reach into arrays of objects, so it
would call a pattern wrong that AWS runs right. Exits 1 naming each event
whose match is not the expected one.
"""

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "tests/data/events"
ABSENT = object()

# (template under terraform/, its variables, {event file: should the rule match it})
CASES = [
    (
        "modules/costjob-alarms/job-failed.pattern.json.tftpl",
        {
            "cluster_arn": "arn:aws:ecs:us-east-1:111122223333:cluster/deuna-prod",
            "task_family": "costjob-prod",
        },
        {
            "ecs-task-exit-3": True,
            "ecs-task-oom": True,
            "ecs-task-cannot-pull": True,
            "ecs-task-resource-init": True,
            "ecs-task-exit-0": False,
            "ecs-task-running": False,
            "ecs-task-other-family-exit-1": False,
        },
    ),
    (
        "modules/ecs-scaling-alerts/scaling-changes.pattern.json.tftpl",
        {
            "cluster_name": "deuna-prod",
            "cluster_arn": "arn:aws:ecs:us-east-1:111122223333:cluster/deuna-prod",
        },
        {
            "cloudtrail-register-scalable-target-pagos": True,
            "cloudtrail-create-service": True,
            "cloudtrail-create-service-by-arn": True,
            "cloudtrail-register-scalable-target-other-cluster": False,
            "cloudtrail-register-scalable-target-dynamodb": False,
            "cloudtrail-create-service-other-cluster": False,
            "cloudtrail-update-service": False,
            "ecs-task-exit-3": False,
        },
    ),
]


def render(template: str, variables: dict) -> dict:
    """Renders the `${jsonencode(...)}` of a Terraform template: a variable
    or a quoted string with `${variable}` interpolations."""

    def interpolate(text: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], text)

    def encode(match: re.Match) -> str:
        expr = match.group(1).strip()
        if expr.startswith('"'):
            return json.dumps(interpolate(expr[1:-1]))
        return json.dumps(variables[expr])

    text = re.sub(r"\$\{jsonencode\((.*?)\)\}(?=[\],\s])", encode, template)
    return json.loads(text)


def values_at(event, path: list[str]) -> list:
    """Every value at `path`, through arrays; [] when the event lacks it."""
    nodes = [event]
    for key in path:
        found = []
        for node in nodes:
            items = node if isinstance(node, list) else [node]
            for item in items:
                if isinstance(item, dict) and key in item:
                    found.append(item[key])
        nodes = found
    values = []
    for node in nodes:
        values.extend(node if isinstance(node, list) else [node])
    return values


def filter_matches(f, values: list) -> bool:
    if not isinstance(f, dict):
        return f in values
    (name, arg), = f.items()
    if name == "exists":
        return bool(values) == arg
    if not values:
        return False
    if name == "prefix":
        return any(isinstance(v, str) and v.startswith(arg) for v in values)
    if name == "suffix":
        return any(isinstance(v, str) and v.endswith(arg) for v in values)
    if name == "equals-ignore-case":
        return any(isinstance(v, str) and v.lower() == arg.lower() for v in values)
    if name == "wildcard":
        regex = "^" + ".*".join(re.escape(p) for p in arg.split("*")) + "$"
        return any(isinstance(v, str) and re.match(regex, v) for v in values)
    if name == "anything-but":
        if isinstance(arg, dict):
            return not any(filter_matches(arg, [v]) for v in values)
        excluded = arg if isinstance(arg, list) else [arg]
        return any(v not in excluded for v in values)
    if name == "numeric":
        ops = {"<": float.__lt__, "<=": float.__le__, "=": float.__eq__, ">": float.__gt__, ">=": float.__ge__}
        pairs = list(zip(arg[::2], arg[1::2]))
        return any(
            isinstance(v, (int, float)) and not isinstance(v, bool)
            and all(ops[op](float(v), float(bound)) for op, bound in pairs)
            for v in values
        )
    raise ValueError(f"filter {name!r} is not modelled")


def matches(pattern: dict, event, path: list[str] = []) -> bool:
    for key, sub in pattern.items():
        if key == "$or":
            if not any(matches(p, event, path) for p in sub):
                return False
        elif isinstance(sub, dict):
            if not matches(sub, event, path + [key]):
                return False
        elif not any(filter_matches(f, values_at(event, path + [key])) for f in sub):
            return False
    return True


def main() -> int:
    # --terraform DIR: check a copy of terraform/ (the mutants do).
    terraform = Path(sys.argv[2]) if sys.argv[1:2] == ["--terraform"] else ROOT / "terraform"
    failures, passed = [], 0
    for template, variables, expected in CASES:
        pattern = render((terraform / template).read_text(), variables)
        for name, should in expected.items():
            event = json.loads((EVENTS / f"{name}.json").read_text())
            if matches(pattern, event) == should:
                passed += 1
            else:
                failures.append(f"{template}: {name} {'not ' if should else ''}matched, expected the opposite")
    for f in failures:
        print(f"event patterns: {f}")
    print(f"event patterns: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
