#!/usr/bin/env python3
"""Checks that every module includes only what docs/architecture.md allows.

The allowed includes are the ```dependencies block of docs/architecture.md: one line per
module, "module: other-module other/header.h ...". A module may always include its own
headers. Exit 0 when every #include "module/..." of every module's sources is allowed, 1
otherwise (each offending line is printed), 2 when the block cannot be read.

  python3 check_dependencies.py SOURCE_ROOT
  python3 check_dependencies.py --self-test
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"')


def allowed_map(architecture_text):
    m = re.search(r"```dependencies\n(.*?)```", architecture_text, re.S)
    if not m:
        return None
    allowed = {}
    for line in m.group(1).splitlines():
        if not line.strip():
            continue
        module, _, rest = line.partition(":")
        allowed[module.strip()] = rest.split()
    return allowed


def violations(root, allowed):
    out = []
    for module in sorted(allowed):
        base = os.path.join(root, module)
        for dirpath, _, files in os.walk(base):
            for name in sorted(files):
                if not name.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m or m.group(1) == module or m.group(1) not in allowed:
                            continue
                        header = m.group(1) + "/" + m.group(2)
                        if m.group(1) in allowed[module] or header in allowed[module]:
                            continue
                        rel = os.path.relpath(path, root)
                        out.append(f"{rel}:{number}: {module} may not include {header}")
    return out


def self_test():
    with tempfile.TemporaryDirectory() as root:
        for module, text in {
            "low": '#include "low/own.h"\n',
            "high": '#include "low/a.h"\n#include "mid/b.h"\n',
            "mid": '#include "high/up.h"\n',
        }.items():
            os.makedirs(os.path.join(root, module))
            with open(os.path.join(root, module, "x.cc"), "w") as f:
                f.write(text)
        allowed = allowed_map("```dependencies\nlow:\nmid: low\nhigh: low mid/b.h\n```")
        found = violations(root, allowed)
        return found == ["mid/x.cc:1: mid may not include high/up.h"], found


def main():
    if sys.argv[1:] == ["--self-test"]:
        ok, found = self_test()
        print("self-test " + ("passed" if ok else f"FAILED: {found}"))
        return 0 if ok else 1
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = sys.argv[1]
    with open(os.path.join(root, "docs", "architecture.md"), encoding="utf-8") as f:
        allowed = allowed_map(f.read())
    if not allowed:
        print("docs/architecture.md has no ```dependencies block")
        return 2
    ok, found = self_test()
    if not ok:
        print(f"the check itself is broken: {found}")
        return 1
    problems = violations(root, allowed)
    for p in problems:
        print(p)
    counted = sum(1 for m in allowed if os.path.isdir(os.path.join(root, m)))
    if counted != len(allowed):
        print("a module named in docs/architecture.md has no directory")
        return 1
    print(f"{len(allowed)} modules checked, {len(problems)} includes against the dependency direction")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
