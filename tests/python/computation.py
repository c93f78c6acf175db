"""A small Python computation served through idictfs, for tests/shell/test_python.sh.

The loop of mmf.async.server: check terminated, wait while paused, update
under the lock, notify; the final update at the end, then wait-then-close.
Usage: computation.py MOUNTPOINT OUTDIR [--signals]
"""
import sys
import time

import numpy as np

import idict

mnt, out = sys.argv[1], sys.argv[2]
d = idict.IDict()
if "--signals" in sys.argv:
    d.terminate_on_signals()

# Data for the round trip through the files: numpy.loadtxt(MNT/data) must
# give these doubles bit for bit.
rng = np.random.default_rng(6)
data = rng.standard_normal(1000) * 10.0 ** rng.integers(-300, 300, 1000)
data[:8] = [0.0, -0.0, 5e-324, 1.7976931348623157e308, 0.1, 1 / 3, -2.5e-310, 1e16]
np.save(out + "/data.npy", data)
m = np.asfortranarray(rng.standard_normal((4, 3)))  # not C-contiguous: converted once
np.save(out + "/m.npy", m)
d["data"] = data
d["m"] = m

d["params/alpha"] = 0.25
d.set_writable("params/alpha")
d.set_check("params/alpha", lambda key, a: 0 < a <= 0.5)
d["params/w"] = np.ones(3)
d.set_writable("params/w")
d.set_check("params/w", lambda key, w: bool((w >= 0).all()))


def check_name(key, value):
    if value == "boom":
        raise RuntimeError("a check that fails")
    return True


d["params/name"] = "x"
d.set_writable("params/name")
d.set_check("params/name", check_name)

calls = 0


def on_update(dd, final):
    global calls
    calls += 1
    dd["calls"] = calls


d.add_callback(on_update)
d.set_refusal_callback(lambda key, uid, value, reason:
                       print("refused %s = %s from uid %d: %s" % (key, value, uid, reason), flush=True))

srv = d.serve(mnt)
u = np.sin(np.pi * np.linspace(0, 1, 64)) + 0.5 * np.sin(5 * np.pi * np.linspace(0, 1, 64))
step = 0
while not d.terminated:
    d.wait()
    if d.terminated:
        break
    alpha = d["params/alpha"]
    change = alpha * (u[:-2] - 2 * u[1:-1] + u[2:])
    u[1:-1] += change
    step += 1
    with d.lock:
        d["step"] = step
        d["residual"] = float(np.abs(change).max())
        d["u"] = u
        d["seen/alpha"] = alpha
        d["seen/w"] = float(d["params/w"].sum())
        d["seen/name"] = d["params/name"]
        d["message"] = "running"
    d.notify_update()
    time.sleep(0.02)
d["message"] = "terminated"
d.notify_update(final=True)
srv.wait_then_close(10)
print("computation: done after %d steps, %d callbacks" % (step, calls), flush=True)
