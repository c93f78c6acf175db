#!/usr/bin/python3
"""sweep - a parameter sweep served through idictfs: the dictionary
operations (setdefault, update, pop, clear, copy, items) in the loop of
mmf.async.server.  The same computation as sweep.c.

For each diffusion number alpha = 0.1, 0.2, ..., 0.5 in turn, relaxes the
1-D heat equation u_t = u_xx from the same start until the largest change of
a step falls below params/tolerance, publishing the run in progress (sweep,
alpha, step, residual, u, message) and, for each finished run, the steps it
took as results/ALPHA.  Clients may change params/tolerance (> 0) and restart
the sweep (echo true > MNT/params/restart).  At the end a callback prints the
results, and the program the best run.

    PYTHONPATH=contrib/python python3 contrib/examples/sweep.py [--points N] MNT
"""
import argparse
import math
import sys
import time

import numpy as np

import idict

ALPHAS = [0.1, 0.2, 0.3, 0.4, 0.5]


def declare_params(d):
    """The parameters clients may write, at the start and after a restart
    (clear() takes writable flags and checks with the keys).  A tolerance
    already there is kept.  Returns: the tolerance."""
    tolerance = d.setdefault("params/tolerance", 1e-4)
    d.set_writable("params/tolerance")
    d.set_check("params/tolerance", lambda key, t: t > 0)
    d["params/restart"] = False
    d.set_writable("params/restart")
    return tolerance


def on_update(d, final):
    """A callback: after the final update, the results, from one moment."""
    if final:
        for key, steps in d.items():
            if key.startswith("results/"):
                print("sweep: alpha %s: %d steps" % (key[len("results/"):], steps))
        sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=32)
    parser.add_argument("--delay", type=float, default=1, help="ms after each step")
    parser.add_argument("--linger", type=float, default=10)
    parser.add_argument("mountpoint")
    args = parser.parse_args()

    d = idict.IDict()
    d.terminate_on_signals()
    tolerance = declare_params(d)
    d.add_callback(on_update)
    srv = d.serve(args.mountpoint)

    x = np.linspace(0, 1, args.points)
    best, best_steps, sweep, run = None, math.inf, 1, 0
    while not d.terminated and run < len(ALPHAS):
        alpha = ALPHAS[run]
        u = np.sin(np.pi * x) + 0.5 * np.sin(5 * np.pi * x)
        u[0] = u[-1] = 0
        # The run's first state, published in one moment: no reader sees
        # the new alpha with the last u.
        d.update(sweep=sweep, alpha=alpha, step=0, residual=math.inf, u=u, message="running")
        d.notify_update()

        step, residual, restart = 0, math.inf, False
        while residual >= tolerance and not restart:
            d.wait()                              # blocks while ctl/pause is 1
            if d.terminated:
                break
            tolerance = d["params/tolerance"]
            restart = d["params/restart"]
            change = alpha * (u[:-2] - 2 * u[1:-1] + u[2:])
            u[1:-1] += change
            residual = float(np.abs(change).max())
            step += 1
            with d.lock:                          # readers see all of these or none
                d["step"] = step
                d["residual"] = residual
                d["u"] = u
            d.notify_update()
            time.sleep(args.delay / 1000)
        if restart:
            # Start over: everything goes, in one moment with the parameters
            # declared again; the client's tolerance is carried over.
            with d.lock:
                kept = d.pop("params/tolerance")
                d.clear()
                d["params/tolerance"] = kept
                tolerance = declare_params(d)
            d.notify_update()
            best, best_steps, run = None, math.inf, 0
            sweep += 1
            continue
        if d.terminated:
            break
        d["results/%g" % alpha] = step
        if step < best_steps:
            best, best_steps = d.copy(), step     # arrays shared, not copied
        d.notify_update()
        run += 1
    d["message"] = "terminated" if d.terminated else "done"
    d.notify_update(final=True)                   # readers get "final", then EOF
    srv.wait_then_close(args.linger)
    if best is not None:
        print("sweep: best alpha %g in %d steps (sweep %d, %d keys kept)"
              % (best["alpha"], best_steps, sweep, len(best)))
    print("sweep: " + ("terminated" if d.terminated else "done"))


if __name__ == "__main__":
    main()
