"""Checks that include/idict.h documents every public symbol, for
tests/shell/test_api.sh: prints "ok - ..." / "not ok - ..." lines.

Each public function (IDICT_API), type (typedef) and macro (#define IDICT_*)
has a gtk-doc comment of its own ("/**" then " * NAME:") that names every
parameter ("@param:"); a function's comment also says "Returns:" unless it
returns void, and states its thread-safety ("Thread-safe" or "Not
thread-safe").  Every public function is in idict(3).
"""
import re
import sys

header = open(sys.argv[1], encoding="utf-8").read()
man = open(sys.argv[2], encoding="utf-8").read()
failures = 0


def report(ok, name, why=""):
    global failures
    print(("ok - " if ok else "not ok - ") + name)
    if not ok:
        failures += 1
        print("#   " + why)


# Doc comments by symbol name.
docs = {}
for m in re.finditer(r"/\*\*\n \* ([A-Za-z_][A-Za-z0-9_]*):.*?\*/", header, re.S):
    docs[m.group(1)] = m.group(0)

symbols = []  # (name, kind, params, returns_void)
for m in re.finditer(r"IDICT_API\s+([^;(]*?)\b(idict_\w+)\s*\(([^)]*)\)", header):
    ret, name, params = m.group(1).strip(), m.group(2), m.group(3)
    names = [re.sub(r"[\[\]]", "", p.split()[-1]).lstrip("*") for p in params.split(",")
             if p.strip() and p.strip() != "void"]
    symbols.append((name, "function", names, ret == "void"))
for m in re.finditer(r"typedef\s+[^;]*?\(\*(\w+)\)\s*\(([^)]*)\)", header):
    names = [p.split()[-1].lstrip("*") for p in m.group(2).split(",") if p.strip()]
    symbols.append((m.group(1), "callback", names, True))
for m in re.finditer(r"typedef\s+(?:struct\s+\w+|enum\s*\{[^}]*\})\s+(\w+);", header):
    symbols.append((m.group(1), "type", [], True))
for m in re.finditer(r"^#define\s+(IDICT_[A-Z_]+)(\(([^)]*)\))?", header, re.M):
    if m.group(1) in ("IDICT_H", "IDICT_API"):
        continue
    names = [p.strip() for p in m.group(3).split(",")] if m.group(3) else []
    symbols.append((m.group(1), "macro", names, True))

for name, kind, params, void in symbols:
    doc = docs.get(name)
    if doc is None:
        report(False, "idict.h documents %s %s" % (kind, name), "no /** %s: ... */ comment" % name)
        continue
    missing = [p for p in params if "@%s:" % p not in doc]
    why = []
    if missing:
        why.append("parameters without @name: %s" % ", ".join(missing))
    if kind == "function" and not void and "Returns:" not in doc:
        why.append("no Returns:")
    if kind == "function" and not re.search(r"(Not t|T)hread-safe", doc):
        why.append("no thread-safety (Thread-safe / Not thread-safe)")
    report(not why, "idict.h documents %s %s" % (kind, name), "; ".join(why))

functions = [name for name, kind, _, _ in symbols if kind == "function"]
absent = [f for f in functions if not re.search(r"\b%s\b" % f.replace("_", r"\\?_"), man)]
report(not absent, "idict(3) has every public function (%d)" % len(functions),
       "missing: " + ", ".join(absent))
report(len(functions) >= 40, "idict.h: the functions were found (%d)" % len(functions))
sys.exit(1 if failures else 0)
