#!/usr/bin/env python3
"""Every IAM policy the Terraform renders, validated offline by parliament.

`terraform test -verbose` prints the state of each mocked apply, with every
JSON attribute as `jsonencode({...})`; this check reads those renderings for
the identity policies (`aws_iam_role_policy`'s `policy`) and the roles' trust
policies, turns them back into JSON and runs parliament (duo-labs, PyPI) on
each: unknown actions, actions a resource type does not take, malformed
conditions and ARNs, wildcards where a resource exists. Exits 1 naming the
module, resource and finding.

    python3 tests/iam_policies_check.py [--terraform DIR] [--only modules/NAME]
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = re.compile(r'\s*(?:(?P<str>"(?:\\.|[^"\\])*")|(?P<punct>[{}\[\]=,()])|(?P<word>[A-Za-z0-9_.:+-]+))')
# The resources whose `policy` is an identity policy.
IDENTITY_POLICY_TYPES = ("aws_iam_role_policy.", "aws_iam_policy.")
# Findings that are not errors of ours, each with its reason.
ACCEPTED = {
    # parliament does not know the resource types of these newer actions.
    "UNKNOWN_ACTION": set(),
}


def tokens(text: str):
    pos = 0
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip() == "":
                return
            raise ValueError(f"cannot read {text[pos:pos + 40]!r}")
        pos = m.end()
        if m.group("str") is not None:
            raw = m.group("str")
            value = json.loads(raw.replace("$${", "${").replace("%%{", "%{"))
            yield ("str", value)
        elif m.group("punct"):
            yield ("p", m.group("punct"))
        else:
            yield ("w", m.group("word"))


def parse(toks: list, i: int = 0):
    kind, value = toks[i]
    if (kind, value) == ("p", "{"):
        out, i = {}, i + 1
        while toks[i] != ("p", "}"):
            key = toks[i][1]
            assert toks[i + 1] == ("p", "="), toks[i : i + 3]
            out[key], i = parse(toks, i + 2)
        return out, i + 1
    if (kind, value) == ("p", "["):
        out, i = [], i + 1
        while toks[i] != ("p", "]"):
            item, i = parse(toks, i)
            out.append(item)
            if toks[i] == ("p", ","):
                i += 1
        return out, i + 1
    if kind == "str":
        return value, i + 1
    if value in ("true", "false"):
        return value == "true", i + 1
    if value == "null":
        return None, i + 1
    return (float(value) if "." in value else int(value)), i + 1


def documents(verbose: str, attributes: tuple[str, ...]):
    """(resource address, attribute, JSON document) of every rendering."""
    resource = None
    lines = verbose.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        header = re.match(r'^\s*(?:[+~-]\s*)?resource "([^"]+)" "([^"]+)"', line)
        if header:
            resource = f"{header.group(1)}.{header.group(2)}"
        m = re.match(r'^(\s*(?:[+~-] )?)(\w+)\s*=\s*jsonencode\($', line)
        if m and m.group(2) in attributes:
            indent, body, i = m.group(1), [], i + 1
            close = re.compile(r"^" + re.escape(" " * len(indent)) + r"\)$")
            while not close.match(lines[i]):
                # A plan marks each line (+ created, ~ changed): not the value's.
                body.append(re.sub(r"^(\s*)[+~-] ", r"\1", lines[i]))
                i += 1
            # A plan that changes a policy shows the change, the rest hidden
            # ("# (9 unchanged elements hidden)"): not a whole document; each
            # resource's whole one is read from an apply's state.
            if any(re.match(r"^\s*# \(\d+ unchanged", b) for b in body):
                i += 1
                continue
            toks = list(tokens("\n".join(body)))
            yield resource, m.group(2), parse(toks)[0]
        i += 1


def main() -> int:
    from parliament import analyze_policy_string

    args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
    terraform = Path(args.get("--terraform", ROOT / "terraform"))
    dirs = sorted({p.parent.parent for p in terraform.glob("*/*/tests/*.tftest.hcl")})
    if "--only" in args:
        dirs = [terraform / args["--only"]]
    failures, checked = [], 0
    plugin_dir = os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins")
    for d in dirs:
        # A directory the caller has not initialised is initialised here, and
        # left as it was found.
        fresh = not (d / ".terraform").exists()
        if fresh:
            init = ["terraform", "init", "-backend=false", f"-plugin-dir={plugin_dir}", "-input=false", "-no-color"]
            subprocess.run(init, cwd=d, capture_output=True, text=True)
        run = subprocess.run(["terraform", "test", "-verbose", "-no-color"], cwd=d, capture_output=True, text=True)
        if fresh:
            shutil.rmtree(d / ".terraform", ignore_errors=True)
            (d / ".terraform.lock.hcl").unlink(missing_ok=True)
        if run.returncode != 0:
            failures.append(f"{d.relative_to(terraform)}: terraform test failed, no policy read: {run.stderr.strip()[-300:]}")
            continue
        seen = set()
        # Identity policies: what parliament checks (trust policies have no
        # Resource by design and are asserted by each module's tests).
        for resource, attribute, doc in documents(run.stdout, ("policy",)):
            if resource not in IDENTITY_POLICY_TYPES and not (resource or "").startswith(IDENTITY_POLICY_TYPES):
                continue
            key = json.dumps(doc, sort_keys=True)
            if key in seen:
                continue
            seen.add(key)
            checked += 1
            for f in analyze_policy_string(key).findings:
                if f.issue in ACCEPTED and str(f.detail) in ACCEPTED[f.issue]:
                    continue
                failures.append(f"{d.relative_to(terraform)}: {resource}.{attribute}: {f.issue} {f.detail} {f.location}")
    if checked == 0 and "--only" not in args:
        failures.append("no identity policy found in any module: the renderings were not read")
    for f in failures:
        print(f"iam policies: {f}")
    print(f"iam policies: {checked} documents checked, {len(failures)} findings")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
