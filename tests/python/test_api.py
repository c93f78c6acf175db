"""The Python binding without a mount, for tests/shell/test_python.sh.
Prints "ok - ..." / "not ok - ..." lines and "# ..." notes."""
import ctypes
import os
import sys
import tempfile
import time
import traceback

import numpy as np

import idict

failures = 0


def check(name, cond):
    global failures
    print(("ok - " if cond else "not ok - ") + name, flush=True)
    if not cond:
        failures += 1


def raises(exc, func, *args):
    try:
        func(*args)
    except exc:
        return True
    except Exception:  # noqa: BLE001
        traceback.print_exc()
    return False


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


d = idict.IDict()
check("python: a new dictionary is empty", len(d) == 0 and d.keys() == [])

d["x"] = 0.5
d["i"] = -(1 << 63)
d["b"] = True
d["s"] = "héllo wörld"
d["np/f"] = np.float32(0.25)
d["np/i"] = np.int64(7)
check("python: float, int, bool, str round trip",
      d["x"] == 0.5 and d["i"] == -(1 << 63) and d["b"] is True and d["s"] == "héllo wörld")
check("python: numpy scalars are stored as double / int",
      type(d["np/f"]) is float and d["np/f"] == 0.25 and type(d["np/i"]) is int)
check("python: keys() sorted, len, in", d.keys() == sorted(d.keys()) and len(d) == 6 and "np/f" in d
      and "np" not in d)

a = np.random.default_rng(1).standard_normal(1001)
a[0] = -0.0
d["u"] = a
check("python: a 1-D array reads back bit-exact", np.array_equal(bits(d["u"]), bits(a)))
check("python: the array read is a copy", d["u"] is not a and d["u"].flags.writeable)
d["u"] = a[::3]
check("python: a strided array is converted once", np.array_equal(d["u"], a[::3]))
d["u"] = np.arange(10, dtype=np.int32)
check("python: an int32 array is stored as doubles",
      d["u"].dtype == np.float64 and np.array_equal(d["u"], np.arange(10)))
mat = np.asfortranarray(np.arange(12.0).reshape(3, 4))
d["mat"] = mat
check("python: a Fortran-order matrix reads back in C order, shape kept",
      d["mat"].shape == (3, 4) and np.array_equal(d["mat"], mat))
d["empty"] = np.zeros(0)
check("python: an empty array", d["empty"].shape == (0,))
d["list"] = [1, 2.5, 3]
check("python: a list is stored as an array", np.array_equal(d["list"], [1, 2.5, 3]))

check("python: missing key: KeyError", raises(KeyError, lambda: d["nope"]))
check("python: del of a missing key: KeyError", raises(KeyError, d.__delitem__, "nope"))
del d["x"]
check("python: del removes", "x" not in d)
check("python: a bad name: idict.BadName (a ValueError)", raises(ValueError, d.__setitem__, "a b", 1))
check("python: a name conflict: idict.NameConflict", raises(idict.NameConflict, d.__setitem__, "s/t", 1))
check("python: a value it cannot store: TypeError", raises(TypeError, d.__setitem__, "o", object()))
check("python: a 3-D array: ValueError", raises(ValueError, d.__setitem__, "o", np.zeros((2, 2, 2))))
check("python: an int beyond 64 bits: OverflowError", raises(OverflowError, d.__setitem__, "o", 1 << 64))
check("python: set_writable of a missing key: KeyError",
      raises(KeyError, d.set_writable, "nope", True))
try:
    d.set_writable("nope")
    msg = ""
except idict.Error as e:
    msg = str(e)
    code = e.code
check("python: idict.Error carries the library's message and code",
      "nope" in msg and code == idict.IDICT_ERROR_NOT_FOUND)

with d.lock:
    with d.lock:  # recursive
        d["locked"] = 1
check("python: with d.lock: (recursive)", d["locked"] == 1)

calls = []
cid = d.add_callback(lambda dd, final: calls.append((dd is d, final)))
bad = d.add_callback(lambda dd, final: 1 / 0)
d.notify_update()
d.notify_update(final=True)
check("python: callbacks run with (d, final); one that raises does not stop the others",
      calls == [(True, False), (True, True)])
check("python: sequence counts updates", d.sequence == 2)
check("python: remove_callback", d.remove_callback(cid) and not d.remove_callback(cid)
      and d.remove_callback(bad))

d.pause()
t0 = time.monotonic()
r = d.wait(0.3)
check("python: paused: wait(0.3) times out with False", d.paused and r is False
      and time.monotonic() - t0 >= 0.25)
d.resume()
check("python: resumed: wait() returns True", d.wait() is True and not d.paused)
d.terminate()
check("python: terminate()", d.terminated and d.wait() is True)

with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "ckpt")
    d.save(path)
    e = idict.load(path)
    check("python: save / load", e.keys() == d.keys() and np.array_equal(e["mat"], d["mat"]))
    with open(path + "2", "w") as f:
        f.write("garbage")
    check("python: load of a foreign file: idict.Error", raises(idict.Error, idict.load, path + "2"))

# A 1e6-element array is handed to the library as it is: one call, one
# memcpy into the GVariant.  The C side's data equals the buffer byte for byte.
big = np.random.default_rng(2).random(1_000_000)
best_set = best_copy = 1e9
for _ in range(5):
    t0 = time.perf_counter()
    d["big"] = big
    t1 = time.perf_counter()
    c = big.copy()
    t2 = time.perf_counter()
    best_set, best_copy = min(best_set, t1 - t0), min(best_copy, t2 - t1)
print("# storing a 1e6-element array: %.2f ms through idict, %.2f ms a numpy copy (best of 5)"
      % (best_set * 1e3, best_copy * 1e3))
g = idict._glib
v = idict._lib.idict_get_value(d._ptr, b"big")
n = ctypes.c_size_t()
ptr = g.g_variant_get_fixed_array(v, ctypes.byref(n), 8)
same = n.value == big.size and ctypes.string_at(ptr, n.value * 8) == big.tobytes()
g.g_variant_unref(v)
check("python: the stored GVariant's data equals the numpy buffer", same)
t0 = time.perf_counter()
back = d["big"]
print("# reading it back: %.2f ms" % ((time.perf_counter() - t0) * 1e3))
check("python: ... and reads back equal", np.array_equal(back, big))

d.close()
sys.exit(1 if failures else 0)
