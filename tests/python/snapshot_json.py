"""snapshot.json read back by strict JSON parsers (issue 12).

Usage: snapshot_json.py MOUNTPOINT WORKDIR

Serves a dictionary of random doubles of every class (normal, subnormal,
+-0, +-inf, NaN, powers of ten, d x 10^k, the extremes), as an array, a
matrix and scalar keys, plus strings with every character JSON must escape;
reads MOUNTPOINT/snapshot.json through the mount and checks that
  - Python's json, refusing NaN and Infinity (parse_constant), reads it, and
    every number reads back to the same double, bit for bit (NaN and the
    infinities as the strings "nan", "inf", "-inf"); every string is exact;
  - jq reads it, and each number jq prints reads back to the same double;
  - the doubles are written as in the key files (0.1, not
    0.10000000000000001).
Prints "ok - ..." / "not ok - ..." lines.
"""
import json
import math
import os
import random
import struct
import subprocess
import sys

import numpy

import idict

mnt, work = sys.argv[1], sys.argv[2]
rng = random.Random(12)


def from_bits(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


values = [0.0, -0.0, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 2.2250738585072014e-308,
          2.225073858507201e-308, 1.7976931348623157e308, -1.7976931348623157e308, 0.1, 1e-8,
          1e22, 1e16, 1e-5, 1e-4, 123456789012345680.0, 9007199254740993.0]
values += [float("1e%d" % k) for k in range(-323, 309)]
values += [float("%de%d" % (d, k)) for d in range(1, 10) for k in range(-30, 31)]
values += [from_bits(rng.getrandbits(64)) for _ in range(4000)]           # every class
values += [from_bits(rng.getrandbits(52) | (rng.getrandbits(1) << 63)) for _ in range(500)]  # subnormal
values += [rng.uniform(-1, 1) * 10.0 ** rng.randint(-320, 300) for _ in range(1000)]
values += [float(numpy.float32(rng.random())) for _ in range(200)]
cols = 7
rows = len(values) // cols
strings = {
    "s/controls": "".join(chr(c) for c in range(1, 32)) + "\x7f",  # C strings: no NUL
    "s/quotes": 'say "hi" \\ back/slash \' ',
    "s/unicode": "h\u00e9llo \u2028 \u2029 \U0001f600 \ufeff end",
    "s/empty": "",
}

d = idict.IDict()
d["doubles/array"] = numpy.array(values)
d["doubles/matrix"] = numpy.array(values[: rows * cols]).reshape(rows, cols)
scalars = values[:: max(1, len(values) // 300)]
for i, v in enumerate(scalars):
    d["doubles/scalar/%d" % i] = v
for k, s in strings.items():
    d[k] = s
d["ints/min"] = -(2 ** 63)
d["ints/max"] = 2 ** 63 - 1
d.notify_update()
server = d.serve(mnt)

failed = 0


def check(name, ok, detail=""):
    global failed
    print(("ok - " if ok else "not ok - ") + name)
    if not ok:
        failed += 1
        if detail:
            print("# " + detail)


def same(expected, got):
    """Whether @got (from a parser) stands for the double @expected."""
    if math.isnan(expected):
        return got == "nan"
    if math.isinf(expected):
        return got == ("inf" if expected > 0 else "-inf")
    return isinstance(got, (int, float)) and not isinstance(got, bool) and \
        bits(float(got)) == bits(expected)


def first_mismatch(expected, got):
    if len(expected) != len(got):
        return "%d values, not %d" % (len(got), len(expected))
    for e, g in zip(expected, got):
        if not same(e, g):
            return "%r (bits %016x) came back as %r" % (e, bits(e), g)
    return None


try:
    with open(os.path.join(mnt, "snapshot.json"), "rb") as f:
        raw = f.read()
    with open(os.path.join(work, "snapshot.json"), "wb") as f:
        f.write(raw)

    def refuse(name):
        raise ValueError("non-standard JSON constant " + name)

    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=refuse)
    except ValueError as e:
        doc = None
        check("python json reads snapshot.json strictly", False, str(e)[:200])
    if doc is not None:
        check("python json reads snapshot.json strictly", True)
        vals = doc["values"]
        why = first_mismatch(values, vals["doubles/array"])
        check("python json: %d array doubles read back bit for bit" % len(values), why is None,
              why or "")
        flat = [x for row in vals["doubles/matrix"] for x in row]
        why = first_mismatch(values[: rows * cols], flat)
        check("python json: matrix doubles read back bit for bit", why is None, why or "")
        got = [vals["doubles/scalar/%d" % i] for i in range(len(scalars))]
        why = first_mismatch(scalars, got)
        check("python json: scalar doubles read back bit for bit", why is None, why or "")
        bad = [k for k, s in strings.items() if vals[k] != s]
        check("python json: strings with every escape read back exactly", not bad, repr(bad))
        check("python json: int64 extremes exact",
              vals["ints/min"] == -(2 ** 63) and vals["ints/max"] == 2 ** 63 - 1)

    text = raw.decode("utf-8", "replace")
    check("doubles are written as in the key files (0.1, 1e-08)",
          ",0.1," in text and ",1e-08," in text and ".0," not in text.replace("0.0,", ""),
          text[:200])

    jq = subprocess.run(["jq", "-r", '.values["doubles/array"][] | tostring',
                         os.path.join(work, "snapshot.json")],
                        capture_output=True, text=True)
    check("jq reads snapshot.json", jq.returncode == 0, jq.stderr[:200])
    if jq.returncode == 0:
        got = []
        for line in jq.stdout.split("\n")[:-1]:
            got.append(line if line in ("nan", "inf", "-inf") else float(line))
        why = first_mismatch(values, got)
        check("jq: every double reads back bit for bit", why is None, why or "")
finally:
    d.notify_update(final=True)
    server.wait_then_close(5)
    d.close()
sys.exit(1 if failed else 0)
