#!/usr/bin/python3
"""make lint, the structure part: the sizes and the layering the code keeps.

Over the C files git tracks in agent/, coordinator/, coordinator/ctl/, proto/ and common/:
  1. no file is longer than MAX_FILE lines;
  2. no function is longer than MAX_FUNC lines (the line with its opening brace to the one with
     its closing brace) unless the comment right above it has a line starting "Long:" that says
     why it stays one function;
  3. the calls between the files of one directory form layers: no file calls (or takes the
     address of) a function of another file of its directory that, directly or around a
     circle, calls back into it.

The definitions come from the source, as clang-format lays them out (the name at the start of a
line, the brace alone on the next); the uses are the names of another file's non-static
functions and variables in the code with comments stripped. Prints FILE:LINE: what is wrong, and a summary;
exits 1 when anything is wrong, 0 otherwise. Usage: tests/tools/structure.py [--graph]
(--graph also prints each directory's file graph, lowest layer first).
"""
import os
import re
import subprocess
import sys

MAX_FILE = 1000
MAX_FUNC = 100
DIRS = ["agent", "coordinator", "coordinator/ctl", "proto", "common"]
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def tracked(top):
    out = subprocess.run(["git", "ls-files", "*.c"], cwd=top, capture_output=True, text=True,
                         check=True).stdout.split()
    return [f for f in out if os.path.dirname(f) in DIRS]


def strip_comments(path):
    """The file with comments (and string contents) removed, line numbers kept."""
    text = open(path, encoding="utf-8").read()
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """(name, first line, last line, is static, has a Long: reason) of each definition."""
    lines = open(path, encoding="utf-8").read().split("\n")
    found = []
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            j = i - 1
            while j > 0 and not re.match(r"\**[A-Za-z_][A-Za-z0-9_]*\(", lines[j]):
                j -= 1
            m = re.match(r"\**([A-Za-z_][A-Za-z0-9_]*)\(", lines[j])
            k = i + 1
            while k < len(lines) and lines[k] != "}":
                k += 1
            if m:
                static = j > 0 and lines[j - 1].startswith("static")
                top = j - 1 if j > 0 and not lines[j - 1].endswith("*/") else j
                reason = False
                c = top - 1 if top != j else j - 1
                # The comment block right above the return type line (or the name line).
                while c >= 0 and (lines[c].startswith((" *", "/*")) or lines[c].endswith("*/")):
                    if re.match(r"\s*(/\*|\*)?\s*Long:", lines[c]):
                        reason = True
                    if lines[c].startswith("/*"):
                        break
                    c -= 1
                found.append((m.group(1), i + 1, k + 1, static, reason))
            i = k
        i += 1
    return found


DATA = re.compile(r"^(?!static|extern|typedef|return)(?:const )?(?:(?:struct|enum|unsigned) )?"
                  r"[A-Za-z_][A-Za-z0-9_]*(?: const)? \**([A-Za-z_][A-Za-z0-9_]*)(?:\[[^]]*\])* *(?:=|;)",
                  re.M)


def data(path):
    """The names of the file's non-static variables defined at file scope."""
    return DATA.findall(strip_comments(path))


def cycles(graph):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def layers(graph):
    """Files from the lowest layer up (a file after every file it calls)."""
    order, done = [], set()
    while len(done) < len(graph):
        step = sorted(v for v in graph if v not in done and graph[v] <= done)
        if not step:
            break
        order.append(step)
        done |= set(step)
    return order


def main():
    top = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    show = "--graph" in sys.argv[1:]
    files = tracked(top)
    os.chdir(top)
    problems = []
    defs = {}
    for f in files:
        n = open(f, encoding="utf-8").read().count("\n")
        if n > MAX_FILE:
            problems.append(f"{f}:{n}: file of {n} lines (at most {MAX_FILE}: split it by role)")
        for name, first, last, static, reason in functions(f):
            size = last - first + 1
            if size > MAX_FUNC and not reason:
                problems.append(f"{f}:{first}: {name} is {size} lines (at most {MAX_FUNC}, or a "
                                f"'Long:' line in the comment above it saying why)")
            if not static:
                defs.setdefault(os.path.dirname(f), {})[name] = f
        for name in data(f):
            defs.setdefault(os.path.dirname(f), {})[name] = f
    for d in DIRS:
        mine = [f for f in files if os.path.dirname(f) == d]
        names = defs.get(d, {})
        graph, why = {f: set() for f in mine}, {}
        for f in mine:
            for ident in sorted(set(IDENT.findall(strip_comments(f)))):
                g = names.get(ident)
                if g is not None and g != f:
                    graph[f].add(g)
                    why.setdefault((f, g), ident)
        for comp in cycles(graph):
            edges = ", ".join(f"{os.path.basename(a)} -> {os.path.basename(b)} ({why[(a, b)]})"
                              for a in comp for b in sorted(graph[a]) if b in comp)
            problems.append(f"{comp[0]}:1: files of {d}/ call each other around a circle: {edges}")
        if show:
            print(f"{d}/, lowest layer first:")
            for step in layers(graph):
                print("   " + " ".join(os.path.basename(f) for f in step))
    for p in problems:
        print(p)
    if problems:
        print(f"structure: {len(problems)} problems (files over {MAX_FILE} lines, functions over "
              f"{MAX_FUNC} without a reason, or calls in a circle)")
        return 1
    print(f"structure: {len(files)} files of {', '.join(DIRS)}: none over {MAX_FILE} lines, "
          f"no function over {MAX_FUNC} without a reason, the calls between files form layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
