"""Checks that the public headers document every public symbol, for
tests/shell/test_api.sh: prints "ok - ..." / "not ok - ..." lines.

    api_docs.py HEADER MAN [HEADER MAN]...

(include/idict.h with idict(3), include/idict-mpi.h with idict-mpi(3).)
Each public function (IDICT_API, IDICT_MPI_API), type (typedef) and macro
(#define IDICT_*, less the include guard and the *_API macros) has a
gtk-doc comment of its own ("/**" then " * NAME:") that names every
parameter ("@param:") and, for an enum, every member ("@MEMBER:"); a
function's comment also says "Returns:" unless it returns void, and states
its thread-safety ("Thread-safe" or "Not thread-safe").  Every public
function is in the man page.
"""
import os
import re
import sys

# The fewest public functions each header is known to have: finding fewer
# means the patterns below no longer match the header.
MIN_FUNCTIONS = {"idict.h": 40, "idict-mpi.h": 6}
failures = 0


def report(ok, name, why=""):
    global failures
    print(("ok - " if ok else "not ok - ") + name)
    if not ok:
        failures += 1
        print("#   " + why)


def check(header_path, man_path):
    header = open(header_path, encoding="utf-8").read()
    man = open(man_path, encoding="utf-8").read()
    base = os.path.basename(header_path)
    man_name = os.path.basename(man_path).replace(".", "(", 1) + ")"

    # Doc comments by symbol name.
    docs = {}
    for m in re.finditer(r"/\*\*\n \* ([A-Za-z_][A-Za-z0-9_]*):.*?\*/", header, re.S):
        docs[m.group(1)] = m.group(0)

    symbols = []  # (name, kind, params, returns_void)
    for m in re.finditer(r"IDICT(?:_MPI)?_API\s+([^;(]*?)\b(idict_\w+)\s*\(([^)]*)\)", header):
        ret, name, params = m.group(1).strip(), m.group(2), m.group(3)
        names = [re.sub(r"[\[\]]", "", p.split()[-1]).lstrip("*") for p in params.split(",")
                 if p.strip() and p.strip() != "void"]
        symbols.append((name, "function", names, ret == "void"))
    for m in re.finditer(r"typedef\s+[^;]*?\(\*(\w+)\)\s*\(([^)]*)\)", header):
        names = [p.split()[-1].lstrip("*") for p in m.group(2).split(",") if p.strip()]
        symbols.append((m.group(1), "callback", names, True))
    for m in re.finditer(r"typedef\s+struct\s+\w+\s+(\w+);", header):
        symbols.append((m.group(1), "type", [], True))
    for m in re.finditer(r"typedef\s+enum\s*\{([^}]*)\}\s+(\w+);", header):
        body = re.sub(r"/\*.*?\*/", "", m.group(1), flags=re.S)
        members = [v.split("=")[0].strip() for v in body.split(",") if v.strip()]
        symbols.append((m.group(2), "enum", members, True))
    for m in re.finditer(r"^#define\s+(IDICT_[A-Z_]+)(\(([^)]*)\))?", header, re.M):
        if m.group(1).endswith("_H") or m.group(1).endswith("_API"):
            continue
        names = [p.strip() for p in m.group(3).split(",")] if m.group(3) else []
        symbols.append((m.group(1), "macro", names, True))

    for name, kind, params, void in symbols:
        doc = docs.get(name)
        if doc is None:
            report(False, "%s documents %s %s" % (base, kind, name),
                   "no /** %s: ... */ comment" % name)
            continue
        missing = [p for p in params if "@%s:" % p not in doc]
        why = []
        if missing:
            why.append("%s without @name: %s" % ("members" if kind == "enum" else "parameters",
                                                ", ".join(missing)))
        if kind == "function" and not void and "Returns:" not in doc:
            why.append("no Returns:")
        if kind == "function" and not re.search(r"(Not t|T)hread-safe", doc):
            why.append("no thread-safety (Thread-safe / Not thread-safe)")
        report(not why, "%s documents %s %s" % (base, kind, name), "; ".join(why))

    functions = [name for name, kind, _, _ in symbols if kind == "function"]
    absent = [f for f in functions if not re.search(r"\b%s\b" % f.replace("_", r"\\?_"), man)]
    report(not absent, "%s has every public function of %s (%d)" % (man_name, base, len(functions)),
           "missing: " + ", ".join(absent))
    least = MIN_FUNCTIONS.get(base, 1)
    report(len(functions) >= least,
           "%s: the functions were found (%d, at least %d)" % (base, len(functions), least))


if len(sys.argv) < 3 or len(sys.argv) % 2 != 1:
    sys.exit("usage: api_docs.py HEADER MAN [HEADER MAN]...")
for i in range(1, len(sys.argv), 2):
    check(sys.argv[i], sys.argv[i + 1])
sys.exit(1 if failures else 0)
