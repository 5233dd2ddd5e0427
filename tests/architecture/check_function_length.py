#!/usr/bin/env python3
"""Checks that no production function is longer than a limit (100 lines by default).

Production code is every .cc and .h under the source root except tests/ and bench/. A
function's length runs from the line of its opening brace to the line of its closing brace;
lambdas and local classes count toward the function that holds them. Comments, string and
raw-string literals are blanked first so their braces do not count. Exit 0 when every
function is within the limit, 1 otherwise (each one over it is printed, longest first).

  python3 check_function_length.py SOURCE_ROOT [--limit N] [--known FILE]

--known FILE lists functions already over the limit, one per line: "path name lines". Such a
function may stay as long as it is, never grow; any other function over the limit fails, and
so does a listed one that has grown. A listed one that is now within the limit is reported so
the line can be removed.
  python3 check_function_length.py --self-test
"""
import os
import re
import sys
import tempfile

SKIPPED_DIRS = {"tests", "bench", "build", ".git"}
CONTROL = re.compile(r"\b(if|for|while|switch|catch)\s*\($")
AFTER_PARAMS = re.compile(
    r"\)\s*(?:const|noexcept|override|final|mutable|&|&&|\s)*(?:->\s*[\w:<>,\s\*&]+)?$")


def blank(text):
    return re.sub(r"[^\n]", " ", text)


def strip_comments_and_literals(src):
    out = []
    i = 0
    n = len(src)
    while i < n:
        if src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif src.startswith('R"', i) and (i == 0 or not (src[i - 1].isalnum() or src[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', src[i:])
            if not m:
                out.append(src[i])
                i += 1
                continue
            end = src.find(")" + m.group(1) + '"', i)
            j = n if end < 0 else end + len(m.group(1)) + 2
        elif src[i] in "\"'":
            # A digit separator (1'000) is not a character literal.
            if src[i] == "'" and i > 0 and src[i - 1].isalnum() and i + 1 < n and src[i + 1].isalnum():
                out.append(src[i])
                i += 1
                continue
            quote = src[i]
            j = i + 1
            while j < n and src[j] != quote and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            j += 1
        else:
            out.append(src[i])
            i += 1
            continue
        out.append(blank(src[i:j]))
        i = j
    return "".join(out)


def function_name(before):
    """The name in front of the parameter list that ends `before`."""
    depth = 0
    for k in range(len(before) - 1, -1, -1):
        c = before[k]
        if c == ")":
            depth += 1
        elif c == "(":
            depth -= 1
            if depth == 0:
                m = re.search(r"([\w:~<>\[\]]+)\s*$", before[:k])
                return m.group(1) if m else "?"
    return "?"


def long_functions(path, limit):
    with open(path, encoding="utf-8", errors="replace") as f:
        src = strip_comments_and_literals(f.read())
    found = []
    stack = []  # (is_function, offset)
    for m in re.finditer(r"[{}]", src):
        if m.group() == "{":
            before = re.sub(r"\s+", " ", src[max(0, m.start() - 400):m.start()]).rstrip()
            is_function = bool(AFTER_PARAMS.search(before))
            if is_function:
                head = before[:before.rfind(")") + 1]
                name = function_name(head)
                if CONTROL.search(head[:len(head) - len(head.lstrip())] + name + "("):
                    is_function = False
                if name in ("if", "for", "while", "switch", "catch"):
                    is_function = False
            stack.append((is_function, m.start(), function_name(before) if is_function else ""))
            continue
        if not stack:
            continue
        is_function, start, name = stack.pop()
        if not is_function or any(outer[0] for outer in stack):
            continue
        first = src.count("\n", 0, start) + 1
        last = src.count("\n", 0, m.start()) + 1
        if last - first + 1 > limit:
            found.append((last - first + 1, path, first, name))
    return found


def production_files(root):
    for dirpath, dirs, files in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith("build"))
        else:
            dirs.sort()
        for name in sorted(files):
            if name.endswith((".cc", ".h")):
                yield os.path.join(dirpath, name)


def read_known(path):
    known = {}
    if not path:
        return known
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if len(line) == 3:
                known[(line[0], line[1])] = int(line[2])
    return known


def check(root, limit, known=None):
    known = known or {}
    found = []
    for path in production_files(root):
        found.extend(long_functions(path, limit))
    found.sort(key=lambda f: (-f[0], f[1], f[2]))
    failed = False
    seen = set()
    for length, path, line, name in found:
        rel = os.path.relpath(path, root)
        allowed = known.get((rel, name))
        seen.add((rel, name))
        if allowed is not None and length <= allowed:
            print(f"{rel}:{line}: {name} is {length} lines (known, at most {allowed})")
            continue
        failed = True
        print(f"{rel}:{line}: {name} is {length} lines (limit {limit})")
    for rel, name in sorted(set(known) - seen):
        print(f"{rel}: {name} is now within {limit} lines: remove it from the known list")
    return 1 if failed else 0


def self_test():
    body = "\n".join(f"  x += {i};" for i in range(8))
    sample = (
        "// a comment with { braces\n"
        "namespace n {\n"
        "struct S {\n"
        "  int f() const {\n" + body + "\n    return 1;\n  }\n"
        "};\n"
        "int g(int a) {\n"
        "  auto h = [](int b) { return b; };\n"
        "  if (a) {\n" + body + "\n  }\n"
        '  const char* s = "}}}";\n'
        "  return h(a);\n"
        "}\n"
        "int short_one() { return 2; }\n"
        "}  // namespace n\n")
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "mod"))
        os.makedirs(os.path.join(root, "tests"))
        with open(os.path.join(root, "mod", "a.cc"), "w") as f:
            f.write(sample)
        with open(os.path.join(root, "tests", "t.cc"), "w") as f:
            f.write("void long_test() {\n" + body * 20 + "\n}\n")
        got = sorted((n, length) for length, _, _, n in
                     [x for p in production_files(root) for x in long_functions(p, 5)])
        want = [("f", 11), ("g", 15)]
        if got != want:
            print(f"self-test failed: found {got}, expected {want}")
            return 1
        if check(root, 100) != 0:
            print("self-test failed: nothing is over 100 lines, yet the check failed")
            return 1
        if check(root, 5) != 1:
            print("self-test failed: two functions are over 5 lines, yet the check passed")
            return 1
        if check(root, 5, {("mod/a.cc", "f"): 11, ("mod/a.cc", "g"): 15}) != 0:
            print("self-test failed: known functions at their recorded length were refused")
            return 1
        if check(root, 5, {("mod/a.cc", "f"): 11, ("mod/a.cc", "g"): 14}) != 1:
            print("self-test failed: a known function that grew was accepted")
            return 1
    print("self-test passed")
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) < 2:
        print(__doc__)
        return 2
    limit = 100
    if "--limit" in argv:
        limit = int(argv[argv.index("--limit") + 1])
    known = argv[argv.index("--known") + 1] if "--known" in argv else None
    return check(argv[1], limit, read_known(known))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
