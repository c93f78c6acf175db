"""Runs the code blocks of README.md, so that they cannot rot.

Run by tests/shell/test_readme.sh (which `make check` runs); prints
"ok - ..." / "not ok - ..." lines.

A fenced block is run when the line before its opening fence is a marker:

    <!-- test: KIND OPTION... -->

KIND and its options (values with spaces in double quotes):

  c        file=NAME     the block is a whole C file, written to NAME in the
                         work directory for the blocks after it (and
                         compiled here once with -Wall -Werror)
  sh       demo="ARGS"   runs the block with bash in the work directory,
                         with build/idict-demo ARGS serving ./mnt (default
                         "--delay 10"); demo=none: no demo
           updates=N     starts the block once the demo has published N
                         updates (default: as soon as it is mounted)
           env="K=V..."  more environment variables for the block
           timeout=S     it must end within S seconds (default 60)
           runs-forever  it never ends by itself: stopped after timeout=S
           output="RE"   its output must match the regular expression RE
                         (Python re, multi-line)
           stderr-ok     it may write to stderr (else that is a failure)
  python   serves=MNT    the block is a computation serving MNT: it is
                         started, read, told to terminate, and must end
                         with status 0
  skip     REASON...     not run (say why)

Every ```sh, ```c and ```python block needs a marker, so that a new recipe
is either tested or says why not.  The blocks share one work directory, in
order: a C file written by one is built and run by the next.  Each demo is
stopped afterwards (ctl/terminate) and must exit 0 and unmount.

The work directory stands in for the source tree and for the user's home:
build/ is the build under test, HOME is the work directory (so `make install
PREFIX=$HOME/.local` installs into it), `cc` adds the build's sanitizer
flags, and `make` runs in the source tree on the build under test.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(sys.argv[1])
BUILD = os.path.abspath(sys.argv[2])
SAN_FLAGS = sys.argv[3] if len(sys.argv) > 3 else ""
DEMO = os.path.join(BUILD, "idict-demo")
README = os.path.join(ROOT, "README.md")
RUN_KINDS = ("sh", "c", "python")
MARKER = re.compile(r"^<!-- test: (\w[\w-]*)(.*?)\s*-->\s*$")
FENCE = re.compile(r"^```(\w*)\s*$")

failures = 0


def report(ok, name, why=""):
    global failures
    print(("ok - " if ok else "not ok - ") + name, flush=True)
    if not ok:
        failures += 1
        for line in why.rstrip().splitlines():
            print("#   " + line, flush=True)


def blocks():
    """(line number, kind, options, language, text) of each fenced block."""
    lines = open(README, encoding="utf-8").read().split("\n")
    marker = None
    i = 0
    while i < len(lines):
        m = MARKER.match(lines[i])
        if m:
            marker = (i + 1, m.group(1), m.group(2))
            i += 1
            continue
        f = FENCE.match(lines[i])
        if f and lines[i].startswith("```"):
            start = i + 1
            j = i + 1
            while j < len(lines) and lines[j].rstrip() != "```":
                j += 1
            text = "\n".join(lines[i + 1:j]) + "\n"
            if marker and marker[0] == i:
                yield start, marker[1], marker[2], f.group(1), text
            else:
                yield start, None, "", f.group(1), text
            marker = None
            i = j + 1
            continue
        if lines[i].strip():
            marker = None
        i += 1


def options(text):
    opts = {}
    for word in shlex.split(text):
        key, _, value = word.partition("=")
        opts[key] = value if _ else True
    return opts


def mounted(path):
    with open("/proc/mounts") as f:
        return any(line.split()[1] == path for line in f)


def wait_for(cond, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class Work:
    """The work directory: ./mnt, ./build (the build tree), .bin/cc, .bin/make."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="idict-readme-", dir=os.environ.get("TMPDIR"))
        self.mnt = os.path.join(self.dir, "mnt")
        os.symlink(BUILD, os.path.join(self.dir, "build"))
        bindir = os.path.join(self.dir, ".bin")
        os.mkdir(bindir)
        # The README's `cc ...` line, built like the library under test
        # (an ASan build's libidict.a needs -fsanitize at link).
        cc = os.path.join(bindir, "cc")
        with open(cc, "w") as f:
            f.write("#!/bin/sh\nexec /usr/bin/cc %s \"$@\"\n" % SAN_FLAGS)
        os.chmod(cc, 0o755)
        # The README's `make ...` lines, run in the source tree on the build
        # under test (the same BUILD and SANITIZE: nothing is rebuilt).
        make = os.path.join(bindir, "make")
        with open(make, "w") as f:
            f.write("#!/bin/sh\nexec /usr/bin/make -C %s --no-print-directory BUILD=%s SANITIZE=%s "
                    "\"$@\"\n" % (shlex.quote(ROOT), shlex.quote(os.path.relpath(BUILD, ROOT)),
                                  shlex.quote(os.environ.get("SANITIZE", ""))))
        os.chmod(make, 0o755)
        self.env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"], TERM="dumb",
                        LC_ALL="C.UTF-8", HOME=self.dir)
        for name in ("LD_LIBRARY_PATH", "PKG_CONFIG_PATH", "PYTHONPATH"):
            self.env.pop(name, None)
        self.procs = []

    def start(self, argv, **kw):
        p = subprocess.Popen(argv, cwd=self.dir, env=kw.pop("env", self.env),
                             start_new_session=True, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
        self.procs.append(p)
        return p

    def clean(self):
        for p in self.procs:
            if p.poll() is None:
                kill_group(p)
        if mounted(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", self.mnt], stderr=subprocess.DEVNULL)
        shutil.rmtree(self.dir, ignore_errors=True)


def start_demo(work, args):
    demo = work.start([DEMO] + shlex.split(args) + ["mnt"])
    if not wait_for(lambda: os.path.exists(os.path.join(work.mnt, "ctl/status")) or
                    demo.poll() is not None, 30):
        return demo, "did not mount in 30 s"
    if demo.poll() is not None:
        return demo, "exited %d: %s" % (demo.returncode, demo.stderr.read().decode())
    return demo, None


def stop_demo(work, demo):
    """Stops the demo if still running.  Returns: why it failed, or None."""
    if demo.poll() is None:
        try:
            with open(os.path.join(work.mnt, "ctl/terminate"), "w") as f:
                f.write("1\n")
        except OSError:
            pass
        try:
            demo.wait(60)
        except subprocess.TimeoutExpired:
            kill_group(demo)
            return "the demo did not end after ctl/terminate"
    out = demo.stdout.read().decode(errors="replace")
    err = demo.stderr.read().decode(errors="replace")
    if demo.returncode != 0:
        return "the demo exited %d\n%s%s" % (demo.returncode, out, err)
    if not wait_for(lambda: not mounted(work.mnt), 10):
        return "the demo left its mount behind"
    return None


def run_sh(work, line, opts, text):
    name = "README line %d (sh): %s" % (line, text.strip().splitlines()[0][:60])
    demo_args = opts.get("demo", "--delay 10")
    timeout = float(opts.get("timeout", 60))
    demo = None
    if demo_args != "none":
        demo, why = start_demo(work, demo_args)
        if not why and "updates" in opts:
            n = int(opts["updates"])
            seq = os.path.join(work.mnt, "ctl/sequence")
            if not wait_for(lambda: int(open(seq).read()) >= n, 30):
                why = "did not publish %d updates in 30 s" % n
        if why:
            report(False, name, "the demo " + why)
            if demo is not None:
                stop_demo(work, demo)
            return
    env = dict(work.env)
    for word in shlex.split(opts.get("env", "")):
        key, _, value = word.partition("=")
        env[key] = value
    proc = work.start(["bash", "-c", text], env=env)
    forever = bool(opts.get("runs-forever"))
    why = []
    try:
        out, err = proc.communicate(timeout=timeout)
        if forever:
            why.append("it ended (status %d) although marked runs-forever" % proc.returncode)
        elif proc.returncode != 0:
            why.append("exit status %d" % proc.returncode)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        if not forever:
            why.append("still running after %g s" % timeout)
    out = out.decode(errors="replace")
    err = err.decode(errors="replace")
    if "output" in opts and not re.search(opts["output"], out, re.M):
        why.append("output does not match %r" % opts["output"])
    if err and not opts.get("stderr-ok"):
        why.append("it wrote to stderr")
    if demo is not None:
        stopped = stop_demo(work, demo)
        if stopped:
            why.append(stopped)
    if why:
        why.append("stdout:\n" + out[-2000:] + "stderr:\n" + err[-2000:])
    report(not why, name, "\n".join(why))


def run_c(work, line, opts, text):
    name = "README line %d (c): %s" % (line, opts.get("file", "?"))
    if "file" not in opts:
        report(False, name, "a c block needs file=NAME")
        return
    path = os.path.join(work.dir, opts["file"])
    with open(path, "w") as f:
        f.write(text)
    cflags = subprocess.run(["pkg-config", "--cflags", "--libs", "idict"], capture_output=True,
                            text=True, env=dict(work.env, PKG_CONFIG_PATH=BUILD)).stdout.split()
    res = subprocess.run(["cc", "-Wall", "-Werror", "-o", path + ".wall", path] + cflags,
                         capture_output=True, text=True, env=work.env, cwd=work.dir)
    report(res.returncode == 0, name + " compiles with -Wall -Werror", res.stderr)


def run_python(work, line, opts, text):
    name = "README line %d (python): a computation serving %s" % (line, opts.get("serves", "?"))
    mnt = os.path.join(work.dir, opts.get("serves", "mnt"))
    path = os.path.join(work.dir, "readme-%d.py" % line)
    with open(path, "w") as f:
        f.write(text)
    # The plain build's library: an ASan build cannot be loaded into python3
    # (see tests/shell/test_python.sh).
    env = dict(work.env, PYTHONPATH=os.path.join(ROOT, "contrib/python"),
               IDICT_LIBRARY=os.path.join(ROOT, "build/libidict.so"), PYTHONDONTWRITEBYTECODE="1")
    env.pop("LD_PRELOAD", None)
    proc = work.start(["/usr/bin/python3", path], env=env)
    why = []
    step = os.path.join(mnt, "step")
    if not wait_for(lambda: os.path.exists(step) or proc.poll() is not None, 30):
        why.append("%s/step did not appear in 30 s" % mnt)
    elif proc.poll() is None:
        first = open(step).read()
        if not wait_for(lambda: open(step).read() != first, 30):
            why.append("step does not advance")
        with open(os.path.join(mnt, "ctl/terminate"), "w") as f:
            f.write("1\n")
    try:
        out, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            why.append("exit status %d" % proc.returncode)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        why.append("did not end after ctl/terminate")
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    if err:
        why.append("it wrote to stderr")
    if not wait_for(lambda: not mounted(mnt), 10):
        why.append("it left its mount behind")
    if why:
        why.append("stdout:\n" + out[-2000:] + "stderr:\n" + err[-2000:])
    report(not why, name, "\n".join(why))


def main():
    work = Work()
    n_run = 0
    try:
        for line, kind, opts, lang, text in blocks():
            if kind is None:
                if lang in RUN_KINDS:
                    report(False, "README line %d: a ```%s block without a test marker" % (line, lang),
                           "add <!-- test: %s ... --> or <!-- test: skip REASON --> before it "
                           "(see tests/readme_test.py)" % lang)
                continue
            if kind == "skip":
                continue
            o = options(opts)
            if kind == "sh":
                run_sh(work, line, o, text)
            elif kind == "c":
                run_c(work, line, o, text)
            elif kind == "python":
                run_python(work, line, o, text)
            else:
                report(False, "README line %d: a known test kind" % line, "unknown kind %r" % kind)
                continue
            n_run += 1
    finally:
        work.clean()
    report(n_run >= 10, "README: its code blocks ran (%d)" % n_run)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
