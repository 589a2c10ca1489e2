#!/usr/bin/env python3
"""The house's layout rules, checked over src/: no import circle between
modules (each file a module; an import of `crate::a::b::Item` or
`super::b` is an edge to the deepest module file it names), no file over
1,000 lines and no function over 100 lines. Unit tests (`mod tests` after
`#[cfg(test)]`, and `tests.rs` files) are left out: they may import freely.

Usage: python3 tests/lint/layout.py [SRC]   (exit 1 on a breach)
"""
import os
import re
import sys


def modules(root):
    found = {}
    for directory, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(directory, name)
            parts = os.path.relpath(path, root)[:-3].split("/")
            if parts[-1] in ("mod", "lib"):
                parts = parts[:-1]
            if parts in (["main"],) or parts[-1:] == ["tests"]:
                continue
            found["::".join(parts)] = path
    return found


def imports(module, path, mods):
    source = open(path, encoding="utf-8").read()
    source = re.split(r"\n#\[cfg\(test\)\]\s*\nmod tests", source)[0]
    here = module.split("::") if module else []
    # `super` in a mod.rs is the parent of the module it defines; in a file
    # it is the parent of the file's module: the same rule.
    for used in re.findall(r"\b((?:crate|super)(?:::\w+)+)", source):
        parts = used.split("::")
        if parts[0] == "crate":
            full = parts[1:]
        else:
            base = here[:]
            while parts and parts[0] == "super":
                parts, base = parts[1:], base[:-1]
            full = base + parts
        for k in range(len(full), 0, -1):
            target = "::".join(full[:k])
            if target in mods:
                if target != module and not module.startswith(target + "::"):
                    yield target
                break


def circles(edges):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            visit(v)
    return found


def long_functions(path, limit=100):
    """Functions whose body spans more than `limit` lines (brace matching)."""
    lines = open(path, encoding="utf-8").read().split("\n")
    start = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")
    for i, line in enumerate(lines):
        m = start.match(line)
        if not m:
            continue
        depth, opened = 0, False
        for j in range(i, len(lines)):
            text = re.sub(r'"(\\.|[^"\\])*"|b?\'(\\.|[^\'\\])\'|//.*', "", lines[j])
            depth += text.count("{") - text.count("}")
            opened = opened or "{" in text
            if opened and depth <= 0:
                break
            if not opened and text.rstrip().endswith(";"):
                break  # a declaration without a body
        if opened and j - i + 1 > limit:
            yield m.group(6), i + 1, j - i + 1


def main(root="src"):
    mods = modules(root)
    edges = {m: sorted(set(imports(m, p, mods))) for m, p in mods.items()}
    breaches = []
    for component in circles(edges):
        breaches.append("import circle: " + " <-> ".join(component))
    for directory, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(directory, name)
            count = sum(1 for _ in open(path, encoding="utf-8"))
            if count > 1000:
                breaches.append(f"{path}: {count} lines (over 1,000)")
            for fn, line, length in long_functions(path):
                breaches.append(f"{path}:{line}: fn {fn} is {length} lines (over 100)")
    for breach in breaches:
        print(breach)
    print(f"layout: {len(mods)} modules, {sum(map(len, edges.values()))} imports, "
          f"{len(breaches)} breaches")
    return 1 if breaches else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
