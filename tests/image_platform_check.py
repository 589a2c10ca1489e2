#!/usr/bin/env python3
"""The image is built for the platform the task runs on (issue 37, finding 7).

The ECS task's CPU architecture is the `cpu_architecture` default of
terraform/modules/costjob-task (its `image_platform` output maps it to a
Docker platform); every `docker build` command the repository tells a person
to run (README.md, the Dockerfile's header) must pass that `--platform`: an
image built for the builder's own platform (x86 on a laptop) does not start
on Graviton (exec format error). Exits 1 naming each command that does not.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = {"ARM64": "linux/arm64", "X86_64": "linux/amd64"}


def task_platform() -> str:
    variables = (ROOT / "terraform/modules/costjob-task/variables.tf").read_text()
    block = re.search(r'variable "cpu_architecture" \{(.*?)\n\}', variables, re.S)
    if block is None:
        sys.exit("image platform: terraform/modules/costjob-task has no cpu_architecture variable")
    default = re.search(r'default\s*=\s*"([A-Z0-9_]+)"', block.group(1))
    return PLATFORMS[default.group(1)]


def main() -> int:
    platform = task_platform()
    wrong, commands = [], 0
    for name in ["README.md", "Dockerfile"]:
        for number, line in enumerate((ROOT / name).read_text().splitlines(), 1):
            if re.search(r"\bdocker (buildx )?build\b", line):
                commands += 1
                if f"--platform {platform}" not in line:
                    wrong.append(f"{name}:{number}: {line.strip()}")
    if commands == 0:
        print("image platform: no docker build command found in README.md or the Dockerfile")
        return 1
    for w in wrong:
        print(f"image platform: not built for the task's {platform}: {w}")
    if wrong:
        return 1
    print(f"image platform: {commands} build commands target the task's {platform}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
