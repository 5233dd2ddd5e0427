#!/usr/bin/env python3
"""Checks that every module includes and links only what docs/architecture.md allows.

The allowed includes are the ```dependencies block of docs/architecture.md: one line per
module, "module: other-module other/header.h ...". A module may always include its own
headers. Three checks, over every module's sources and CMakeLists.txt:

  includes  every #include "module/..." of a module's sources is allowed by the block (a
            library directory inside a module, fhir/client, is allowed only where the block
            names it: "module" covers the module's own library);
  declared  a library directory (a module, or a subdirectory with its own CMakeLists.txt such
            as fhir/client) that includes another's header links one of that directory's
            libraries itself (target_link_libraries in its CMakeLists.txt), not only through
            another library;
  used      every library of another module it links is one whose headers it includes and
            the block allows (no link against the dependency direction, none left unused).

The build enforces the rest: a target reaches only the public headers of the libraries it
links (cmake/CryoHeaders.cmake). Exit 0 when all hold, 1 otherwise (each offence printed),
2 when the block cannot be read.

  python3 check_dependencies.py SOURCE_ROOT
  python3 check_dependencies.py --self-test
"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"')
ADD_LIBRARY = re.compile(r"\badd_library\s*\(\s*([A-Za-z0-9_.+-]+)")
LINK = re.compile(r"\btarget_link_libraries\s*\(([^)]*)\)", re.S)
LIBRARY_NAME = re.compile(r"^cryo_[A-Za-z0-9_]+$")


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


def sources(root, module):
    for dirpath, dirs, files in os.walk(os.path.join(root, module)):
        dirs.sort()
        for name in sorted(files):
            if name.endswith((".h", ".cc")):
                yield os.path.join(dirpath, name)


def includes(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = INCLUDE.match(line)
            if m:
                yield number, m.group(1), m.group(1) + "/" + m.group(2)


def may_include(allowed, module, own, header, dirs):
    """A library directory inside a module (fhir/client) is named in the block on its own."""
    other = header.split("/")[0]
    unit = owner(dirs, header) or other
    if unit == own or (other == module and "/" not in unit):
        return True
    if "/" in unit:
        return unit in allowed[module] or header in allowed[module]
    return other in allowed[module] or header in allowed[module]


def may_link(allowed, module, own, unit):
    """Whether own (of module) may link a library of the library directory unit."""
    entries = allowed[module]
    if "/" in unit:
        return unit == own or any(e == unit or e.startswith(unit + "/") for e in entries)
    return unit == module or any(e == unit or e.startswith(unit + "/") for e in entries)


def violations(root, allowed):
    dirs = library_dirs(root, allowed)
    out = []
    for module in sorted(allowed):
        for path in sources(root, module):
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            own = owner(dirs, rel) or module
            for number, other, header in includes(path):
                if other not in allowed or may_include(allowed, module, own, header, dirs):
                    continue
                out.append(f"{rel}:{number}: {module} may not include {header}")
    return out


def cmake_text(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return "\n".join(line.split("#", 1)[0] for line in f)


def library_dirs(root, allowed):
    """Every directory of a module with a CMakeLists.txt: its libraries and what it links."""
    dirs = {}
    for module in sorted(allowed):
        for dirpath, subdirs, files in os.walk(os.path.join(root, module)):
            subdirs.sort()
            if "CMakeLists.txt" not in files:
                continue
            text = cmake_text(os.path.join(dirpath, "CMakeLists.txt"))
            linked = set()
            for m in LINK.finditer(text):
                linked.update(t for t in m.group(1).split()[1:] if LIBRARY_NAME.match(t))
            rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
            dirs[rel] = {"libraries": ADD_LIBRARY.findall(text), "links": linked}
    return dirs


def owner(dirs, path):
    """The deepest library directory holding path (relative, '/'-separated), or None."""
    parts = path.split("/")[:-1]
    while parts:
        candidate = "/".join(parts)
        if candidate in dirs:
            return candidate
        parts.pop()
    return None


def link_violations(root, allowed):
    dirs = library_dirs(root, allowed)
    library_dir = {lib: d for d, info in dirs.items() for lib in info["libraries"]}
    included = {d: set() for d in dirs}
    out = []
    for module in sorted(allowed):
        for path in sources(root, module):
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            own = owner(dirs, rel)
            if own is None:
                continue
            for number, other, header in includes(path):
                target = owner(dirs, header) if other in allowed else None
                if target is None or target == own:
                    continue
                included[own].add(target)
                linked = dirs[own]["links"]
                if not any(library_dir.get(lib) == target for lib in linked):
                    names = " ".join(dirs[target]["libraries"])
                    out.append(f"{rel}:{number}: {own} includes {header} but {own}/CMakeLists.txt "
                               f"links no library of {target}/ ({names})")
    for own, info in sorted(dirs.items()):
        module = own.split("/")[0]
        for lib in sorted(info["links"]):
            target = library_dir.get(lib)
            if target is None or target == own:
                continue
            if not may_link(allowed, module, own, target):
                out.append(f"{own}/CMakeLists.txt: {own} links {lib} of {target}/, which "
                           f"{module} may not include")
            elif target not in included[own]:
                out.append(f"{own}/CMakeLists.txt: {own} links {lib} but includes no header "
                           f"of {target}/")
    return sorted(out)


SELF_TEST_TREE = {
    "low/CMakeLists.txt": "add_library(cryo_low own.cc)\n",
    "low/own.cc": '#include "low/own.h"\n',
    # mid includes upward, links upward, and links low without using it.
    "mid/CMakeLists.txt": "add_library(cryo_mid x.cc)\n"
                          "target_link_libraries(cryo_mid PUBLIC cryo_low # a comment )\n"
                          "  cryo_high)\n",
    "mid/x.cc": '#include "high/up.h"\n',
    # high includes mid without linking it (mid would come only through another library).
    "high/CMakeLists.txt": "add_library(cryo_high x.cc)\n"
                           "target_link_libraries(cryo_high PRIVATE cryo_low cryo_low_sub\n"
                           "                      Threads::Threads)\n",
    "high/x.cc": '#include "low/a.h"\n#include "mid/b.h"\n#include "low/sub/s.h"\n',
    # A library directory inside a module: its own links, and its module's links its own.
    "high/part/CMakeLists.txt": "add_library(cryo_high_part p.cc)\n"
                                "target_link_libraries(cryo_high_part PUBLIC cryo_low)\n",
    "high/part/p.cc": '#include "high/x.h"\n#include "low/a.h"\n',
    # A library directory inside low: high may include and link low, not low/sub, which the
    # block does not name.
    "low/sub/CMakeLists.txt": "add_library(cryo_low_sub s.cc)\n",
}
SELF_TEST_EXPECTED = (
    ["high/x.cc:3: high may not include low/sub/s.h",
     "mid/x.cc:1: mid may not include high/up.h"],
    ["high/CMakeLists.txt: high links cryo_low_sub of low/sub/, which high may not include",
     "high/part/p.cc:1: high/part includes high/x.h but high/part/CMakeLists.txt links no "
     "library of high/ (cryo_high)",
     "high/x.cc:2: high includes mid/b.h but high/CMakeLists.txt links no library of mid/ "
     "(cryo_mid)",
     "mid/CMakeLists.txt: mid links cryo_high of high/, which mid may not include",
     "mid/CMakeLists.txt: mid links cryo_low but includes no header of low/"],
)


def self_test():
    with tempfile.TemporaryDirectory() as root:
        for rel, text in SELF_TEST_TREE.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as f:
                f.write(text)
        allowed = allowed_map("```dependencies\nlow:\nmid: low\nhigh: low mid/b.h\n```")
        found = (violations(root, allowed), link_violations(root, allowed))
        return found == SELF_TEST_EXPECTED, found


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
    counted = sum(1 for m in allowed if os.path.isdir(os.path.join(root, m)))
    if counted != len(allowed):
        print("a module named in docs/architecture.md has no directory")
        return 1
    problems = violations(root, allowed)
    link_problems = link_violations(root, allowed)
    for p in problems + link_problems:
        print(p)
    print(f"{len(allowed)} modules checked, {len(problems)} includes against the dependency "
          f"direction, {len(link_problems)} links missing, unused or against it")
    return 1 if problems or link_problems else 0


if __name__ == "__main__":
    sys.exit(main())
