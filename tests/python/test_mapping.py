"""IDict as a collections.abc.MutableMapping, without a mount, for
tests/shell/test_python.sh: len, in, iteration, keys/values/items, update,
pop, popitem, setdefault, clear, copy, ==.  Prints "ok - ..." / "not ok - ..."
lines."""
import collections.abc
import sys
import threading
import traceback

import numpy as np

import idict

failures = 0


def check(name, cond):
    global failures
    print(("ok - " if cond else "not ok - ") + "python mapping: " + name, flush=True)
    if not cond:
        failures += 1


def raises(exc, func, *args, **kwds):
    try:
        func(*args, **kwds)
    except exc:
        return True
    except Exception:  # noqa: BLE001
        traceback.print_exc()
    return False


def filled():
    d = idict.IDict()
    d["x"] = 0.5
    d["n"] = 3
    d["ok"] = True
    d["msg"] = "hi"
    d["u"] = np.arange(4.0)
    d["params/alpha"] = 0.25
    return d


d = filled()
check("an IDict is a MutableMapping", isinstance(d, collections.abc.MutableMapping))
check("len, in, iteration in sorted order",
      len(d) == 6 and "params/alpha" in d and "params" not in d
      and list(d) == ["msg", "n", "ok", "params/alpha", "u", "x"])
items = d.items()
check("items(): sorted (key, value) pairs",
      [k for k, _ in items] == d.keys() and items[0] == ("msg", "hi")
      and np.array_equal(dict(items)["u"], np.arange(4.0)))
check("values() in the order of keys()",
      d.values()[:4] == ["hi", 3, True, 0.25] and d.values()[5] == 0.5)
check("dict(d) and {**d} work through the mapping protocol",
      dict(d).keys() == {**d}.keys() == set(d.keys()))

# -- update --
d.update({"x": 1.5, "new/a": 1}, kw=2)
d.update([("pairs", "yes")])
check("update() from a dict, keyword arguments and pairs",
      d["x"] == 1.5 and d["new/a"] == 1 and d["kw"] == 2 and d["pairs"] == "yes")
before = d.keys()
check("update() with a name conflict raises NameConflict",
      raises(idict.NameConflict, d.update, {"aaa": 1, "x/y": 2}))
check("... and changes nothing", d.keys() == before and d["x"] == 1.5)
check("update() with a bad name raises BadName, changes nothing",
      raises(idict.BadName, d.update, {"aaa": 1, "a b": 2}) and d.keys() == before)
check("update() with a value it cannot store raises TypeError, changes nothing",
      raises(TypeError, d.update, {"aaa": 1, "o": object()}) and d.keys() == before)
check("update() whose own keys conflict raises NameConflict, changes nothing",
      raises(idict.NameConflict, d.update, {"zz": 1, "zz/y": 2}) and d.keys() == before)
other = idict.IDict()
other["from/other"] = np.ones((2, 3))
d.update(other)
check("update() from another IDict shares its values",
      d["from/other"].shape == (2, 3) and other.keys() == ["from/other"])
d.update(d)
check("update() from itself changes nothing", d.keys() == sorted(before + ["from/other"]))

# -- pop, popitem, setdefault --
check("pop() returns the value and removes the key",
      np.array_equal(d.pop("u"), np.arange(4.0)) and "u" not in d)
check("pop() of a missing key: KeyError", raises(KeyError, d.pop, "u"))
check("pop() of a missing key with a default returns it", d.pop("u", None) is None)
first = d.keys()[0]
key, value = d.popitem()
check("popitem() removes the first key in sorted order, returns its value",
      key == first == "from/other" and value.shape == (2, 3) and first not in d)
e = idict.IDict()
e["b"] = 2
e["a"] = 1
check("popitem() on a small dictionary", e.popitem() == ("a", 1) and e.popitem() == ("b", 2))
check("popitem() of an empty dictionary: KeyError", raises(KeyError, e.popitem))
check("setdefault() of an existing key returns its value (whatever its type)",
      d.setdefault("n", "other") == 3 and d["n"] == 3)
check("setdefault() of a missing key stores the default",
      d.setdefault("fresh", 0.75) == 0.75 and d["fresh"] == 0.75)
check("setdefault() with None (no value to store): TypeError",
      raises(TypeError, d.setdefault, "none") and "none" not in d)

# -- copy, ==, clear --
c = d.copy()
check("copy() is a new IDict, equal", isinstance(c, idict.IDict) and c is not d and c == d)
c["x"] = -1.0
del c["msg"]
check("... and independent", d["x"] == 1.5 and "msg" in d and c != d)
f1, f2 = filled(), filled()
check("== compares arrays element by element", f1 == f2)
f2["u"] = np.arange(4.0) + 1
check("... and sees a different array", f1 != f2)
check("== against a plain dict",
      idict.IDict() == {} and e == {} and not (f1 == {"x": 0.5}))

calls = []
d.add_callback(lambda dd, final: calls.append(final))
d.pause()
d.clear()
check("clear() removes every key", len(d) == 0 and d.keys() == [] and d.items() == [])
d.notify_update()
check("clear() keeps callbacks and the control state", calls == [False] and d.paused)
d.resume()
d["x"] = 1
check("the dictionary is usable after clear()", d["x"] == 1)

# -- one moment --
# A writer thread sets a and b together under the lock; items() and copy()
# always see them equal.
w = idict.IDict()
w["a"] = 0
w["b"] = 0
stop = threading.Event()


def writer():
    i = 0
    while not stop.is_set():
        i += 1
        with w.lock:
            w["a"] = i
            w["b"] = i


t = threading.Thread(target=writer)
t.start()
torn = 0
for _ in range(1000):
    seen = dict(w.items())
    torn += seen["a"] != seen["b"]
    cc = w.copy()
    torn += cc["a"] != cc["b"]
    cc.close()
stop.set()
t.join()
check("items() and copy() are each one moment (a writer thread)", torn == 0)

d.close()
sys.exit(1 if failures else 0)
