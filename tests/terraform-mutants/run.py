#!/usr/bin/env python3
"""Applies each breakage of mutants.txt, one at a time, to a copy of terraform/
and runs `terraform test` where the broken file lives (its module, or its env),
then the offline checks that read terraform/ (CHECKS: the EventBridge
patterns against real events); a breakage is caught when any of them fails.
A breakage no test notices "survived"; a breakage whose text is not in the file
exactly once is "stale" (the code moved on: update the list). Exit 0 only when
every breakage is caught.

    python3 tests/terraform-mutants/run.py [--jobs N] [--plugin-dir DIR] [--only SUBSTRING]
"""

import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Checks of terraform/ beside `terraform test`, each given the copy to read
# and the module (or env) under test; run only when `terraform test` passed.
CHECKS = ["tests/event_patterns_check.py", "tests/iam_policies_check.py"]


@dataclass
class Mutant:
    file: str  # under terraform/
    what: str
    old: str
    new: str

    @property
    def test_dir(self) -> str:
        parts = self.file.split("/")
        return "/".join(parts[:2])  # modules/<name> or envs/<name>


def parse(path: Path) -> list[Mutant]:
    mutants, current, field = [], None, None
    for line in path.read_text().splitlines():
        if line.startswith("#") and current is None:
            continue
        if line.startswith("== "):
            file, _, what = line[3:].partition(" :: ")
            current = Mutant(file.strip(), what.strip(), "", "")
            mutants.append(current)
            field = None
        elif line.startswith("<<< "):
            current.old, field = line[4:], "old"
        elif line.startswith(">>> "):
            current.new, field = line[4:], "new"
        elif line == "":
            field = None
        elif field is not None:  # continuation of a multi-line text
            setattr(current, field, getattr(current, field) + "\n" + line)
    return mutants


def terraform(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, TF_IN_AUTOMATION="1")
    return subprocess.run(["terraform", *args, "-no-color"], cwd=cwd, env=env, capture_output=True, text=True)


def checks_pass(tree: Path, test_dir: str) -> bool:
    return all(
        subprocess.run([sys.executable, str(ROOT / c), "--terraform", str(tree), "--only", test_dir],
                       capture_output=True).returncode == 0
        for c in CHECKS
    )


def run_group(test_dir: str, mutants: list[Mutant], plugin_dir: str) -> list[tuple[Mutant, str]]:
    """One private copy of terraform/ per group: init once, check the tests pass
    unbroken, then break, test and restore each file in turn."""
    with tempfile.TemporaryDirectory(prefix="tf-mutants-") as tmp:
        tree = Path(tmp) / "terraform"
        shutil.copytree(ROOT / "terraform", tree, symlinks=True,
                        ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl"))
        cwd = tree / test_dir
        init = terraform(cwd, "init", "-backend=false", f"-plugin-dir={plugin_dir}", "-input=false")
        if init.returncode != 0:
            return [(m, "init failed: " + init.stderr.strip()[-300:]) for m in mutants]
        baseline = terraform(cwd, "test")
        if baseline.returncode != 0 or not checks_pass(tree, test_dir):
            return [(m, "tests fail unbroken: " + baseline.stdout.strip()[-300:]) for m in mutants]
        results = []
        for m in mutants:
            target = tree / m.file
            original = target.read_text()
            count = original.count(m.old)
            if count != 1:
                results.append((m, f"stale: the text occurs {count} times"))
                continue
            target.write_text(original.replace(m.old, m.new))
            try:
                caught = terraform(cwd, "test").returncode != 0 or not checks_pass(tree, test_dir)
            finally:
                target.write_text(original)
            results.append((m, "caught" if caught else "survived"))
        return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--plugin-dir", default=os.environ.get("TF_PLUGIN_DIR", "/opt/tf-plugins"))
    parser.add_argument("--only", default="", help="run the mutants whose file or description contains this")
    args = parser.parse_args()

    mutants = [m for m in parse(Path(__file__).with_name("mutants.txt"))
               if args.only in m.file or args.only in m.what]
    groups: dict[str, list[Mutant]] = {}
    for m in mutants:
        groups.setdefault(m.test_dir, []).append(m)
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for group in pool.map(lambda g: run_group(g, groups[g], args.plugin_dir), sorted(groups)):
            results.extend(group)
    bad = [(m, r) for m, r in results if r != "caught"]
    for m, r in results:
        print(f"{r:>9}  {m.file}: {m.what}" if r in ("caught", "survived") else f"    ERROR  {m.file}: {m.what}: {r}")
    print(f"terraform mutants: {len(results) - len(bad)} of {len(results)} caught")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
