"""idict - a Python computation's interactive dictionary, served as files.

ctypes bindings over libidict (see idict(3) and idictfs(7)); the same API as
the C one, in Python's idiom::

    import numpy, idict

    d = idict.IDict()
    d["params/alpha"] = 0.25
    d.set_writable("params/alpha")                  # clients may write it
    d.set_check("params/alpha", lambda key, a: 0 < a <= 0.5)
    srv = d.serve("mnt")
    u = numpy.zeros(64)
    step = 0
    while not d.terminated:                         # echo 1 > mnt/ctl/terminate
        d.wait()                                    # blocks while paused (ctl/pause)
        if d.terminated:
            break
        alpha = d["params/alpha"]
        ...                                         # one step of the computation
        step += 1
        with d.lock:                                # readers see all or none
            d["step"] = step
            d["u"] = u                              # the buffer, stored in one call
        d.notify_update()
    d.notify_update(final=True)
    srv.wait_then_close(10)

IDict is a collections.abc.MutableMapping; clear(), copy(), update() and
pop() are the library's idict_clear(), idict_copy(), idict_update() and
idict_pop(), each one moment for readers of the mount, and items() and
values() come from one moment (idict_foreach()).

Values: float, int (64-bit), bool, str, and numpy arrays of one dimension
(an array of doubles) or two (a matrix, row by row).  numpy is imported at
the first array: a computation of scalars and strings runs without it.  Arrays are passed to
libidict as they are, in one call, without an element-by-element copy; other
dtypes, or arrays that are not C-contiguous, are converted once with
numpy.ascontiguousarray(..., dtype=float64).  Reading a key gives a Python
float, int, bool or str, or a new numpy array; keys of other GVariant types
(set by C code) read as their GVariant text.

Errors of the library become exceptions: idict.Error (with .code, one of the
IDICT_ERROR_* values), subclassed as KeyNotFound (also a KeyError),
WrongType (also a TypeError), BadName / NameConflict / InvalidValue (also
ValueError) and MountError.

libidict.so is found through the environment variable IDICT_LIBRARY (a
path), else as build/libidict.so of the source tree this file lies in
(contrib/python/../../build) or, once installed, in the LIBDIR of `make
install`, else with ctypes.util.find_library("idict").  In a source tree,
run `make` first; importing the module without the library fails with an
ImportError that says so.

Threads: every method may be called from any thread; ctypes releases the GIL
during each call into the library.  Checks run in a filesystem thread and
callbacks in the thread that called notify_update(); both take the GIL.  An
exception raised in one is printed to stderr: a check then refuses the
value, a callback is skipped.  Close every server (wait_then_close()) before
the program ends; one still open at exit is closed without waiting.

Clients in Python: write a key's file with `with`, so that a refused value
raises::

    with open("mnt/params/alpha", "w") as f:
        f.write("0.9")          # OSError: [Errno 22] Invalid argument, at the with's end

Python buffers the text and writes it at close(); without `with`,
open(p, "w").write("0.9") closes the file when the object is collected,
where an error is silently dropped: the script goes on, the value is
refused, and the reason is only in MNT/ctl/errors.
"""

import atexit
import collections.abc
import ctypes
import ctypes.util
import itertools
import os
import sys
import threading
import time
import traceback
import weakref

numpy = None  # imported at first use: _numpy()

__all__ = ["IDict", "Server", "load", "Error", "KeyNotFound", "WrongType", "BadName",
           "NameConflict", "InvalidValue", "MountError", "library_path"]

# IDictError, in the order of include/idict.h.
IDICT_ERROR_BAD_NAME = 0
IDICT_ERROR_NAME_CONFLICT = 1
IDICT_ERROR_NOT_FOUND = 2
IDICT_ERROR_WRONG_TYPE = 3
IDICT_ERROR_INVALID_VALUE = 4
IDICT_ERROR_MOUNT = 5
IDICT_ERROR_FAILED = 6

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


# ---- loading the libraries ----

# `make install-contrib` writes the LIBDIR it installed libidict.so into here.
_INSTALLED_LIBDIR = None


def _find_library():
    path = os.environ.get("IDICT_LIBRARY")
    if path:
        return path
    if _INSTALLED_LIBDIR is None:
        here = os.path.dirname(os.path.abspath(__file__))
        tree = os.path.join(here, os.pardir, os.pardir, "build", "libidict.so")
        if os.path.exists(tree):
            return os.path.normpath(tree)
    else:
        installed = os.path.join(_INSTALLED_LIBDIR, "libidict.so.0")
        if os.path.exists(installed):
            return installed
    found = ctypes.util.find_library("idict")
    if found:
        return found
    return "libidict.so.0"  # installed but not in ld.so.cache: the loader's search path


library_path = _find_library()
try:
    _lib = ctypes.CDLL(library_path)
except OSError as _e:
    if os.environ.get("IDICT_LIBRARY"):
        _hint = "IDICT_LIBRARY is %r" % os.environ["IDICT_LIBRARY"]
    else:
        _hint = ("in the source tree, run `make` first (it builds build/libidict.so); "
                 "else install it (`make install`) or set IDICT_LIBRARY to its path")
    raise ImportError("idict: cannot load libidict (%s): %s" % (_hint, _e)) from _e
_glib = ctypes.CDLL("libglib-2.0.so.0")


class _GError(ctypes.Structure):
    _fields_ = [("domain", ctypes.c_uint32), ("code", ctypes.c_int),
                ("message", ctypes.c_char_p)]


_c_bool = ctypes.c_int  # gboolean
_p = ctypes.c_void_p
_str = ctypes.c_char_p
_err = ctypes.POINTER(ctypes.POINTER(_GError))
_dbl_p = ctypes.POINTER(ctypes.c_double)
_size_p = ctypes.POINTER(ctypes.c_size_t)

_UPDATE_FUNC = ctypes.CFUNCTYPE(None, _p, _c_bool, _p)
_CHECK_FUNC = ctypes.CFUNCTYPE(_c_bool, _p, _str, _p, _p, _err)
_REFUSAL_FUNC = ctypes.CFUNCTYPE(None, _p, _str, ctypes.c_uint, _str, _str, _p)
_DESTROY_FUNC = ctypes.CFUNCTYPE(None, _p)
_FOREACH_FUNC = ctypes.CFUNCTYPE(None, _p, _str, _p, _p)


def _proto(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


for _name, _res, _args in [
        ("idict_error_quark", ctypes.c_uint32, ()),
        ("idict_new", _p, ()),
        ("idict_free", None, (_p,)),
        ("idict_check_key_name", _c_bool, (_str, _err)),
        ("idict_set_double", _c_bool, (_p, _str, ctypes.c_double, _err)),
        ("idict_set_int", _c_bool, (_p, _str, ctypes.c_int64, _err)),
        ("idict_set_bool", _c_bool, (_p, _str, _c_bool, _err)),
        ("idict_set_string", _c_bool, (_p, _str, _str, _err)),
        ("idict_set_array", _c_bool, (_p, _str, _p, ctypes.c_size_t, _err)),
        ("idict_set_matrix", _c_bool, (_p, _str, _p, ctypes.c_size_t, ctypes.c_size_t, _err)),
        ("idict_dup_array", _p, (_p, _str, _size_p, _err)),
        ("idict_dup_matrix", _p, (_p, _str, _size_p, _size_p, _err)),
        ("idict_get_value", _p, (_p, _str)),
        ("idict_contains", _c_bool, (_p, _str)),
        ("idict_remove", _c_bool, (_p, _str)),
        ("idict_keys", ctypes.POINTER(_p), (_p,)),
        ("idict_size", ctypes.c_uint, (_p,)),
        ("idict_clear", None, (_p,)),
        ("idict_copy", _p, (_p,)),
        ("idict_foreach", ctypes.c_uint, (_p, _FOREACH_FUNC, _p)),
        ("idict_update", _c_bool, (_p, _p, _err)),
        ("idict_pop", _p, (_p, _str)),
        ("idict_lock", None, (_p,)),
        ("idict_unlock", None, (_p,)),
        ("idict_set_writable", _c_bool, (_p, _str, _c_bool, _err)),
        ("idict_set_check", _c_bool, (_p, _str, _CHECK_FUNC, _p, _DESTROY_FUNC, _err)),
        ("idict_set_refusal_callback", None, (_p, _REFUSAL_FUNC, _p, _DESTROY_FUNC)),
        ("idict_save", _c_bool, (_p, _str, _err)),
        ("idict_load", _p, (_str, _err)),
        ("idict_terminate", None, (_p,)),
        ("idict_terminated", _c_bool, (_p,)),
        ("idict_pause", None, (_p,)),
        ("idict_resume", None, (_p,)),
        ("idict_paused", _c_bool, (_p,)),
        ("idict_wait", _c_bool, (_p, ctypes.c_double)),
        ("idict_notify_update", None, (_p, _c_bool)),
        ("idict_sequence", ctypes.c_uint64, (_p,)),
        ("idict_add_callback", ctypes.c_uint, (_p, _UPDATE_FUNC, _p, _DESTROY_FUNC)),
        ("idict_remove_callback", _c_bool, (_p, ctypes.c_uint)),
        ("idict_terminate_on_signals", _c_bool, (_p, _err)),
        ("idict_serve", _p, (_p, _str, _str, _err)),
        ("idict_server_wait_then_close", None, (_p, ctypes.c_double)),
        ("idict_server_mountpoint", _str, (_p,))]:
    _proto(_lib, _name, _res, *_args)

for _name, _res, _args in [
        ("g_free", None, (_p,)),
        ("g_strfreev", None, (_p,)),
        ("g_error_free", None, (ctypes.POINTER(_GError),)),
        ("g_set_error_literal", None, (_err, ctypes.c_uint32, ctypes.c_int, _str)),
        ("g_variant_unref", None, (_p,)),
        ("g_variant_get_type_string", _str, (_p,)),
        ("g_variant_get_double", ctypes.c_double, (_p,)),
        ("g_variant_get_int64", ctypes.c_int64, (_p,)),
        ("g_variant_get_boolean", _c_bool, (_p,)),
        ("g_variant_get_string", _str, (_p, _size_p)),
        ("g_variant_get_fixed_array", _p, (_p, _size_p, ctypes.c_size_t)),
        ("g_variant_n_children", ctypes.c_size_t, (_p,)),
        ("g_variant_get_child_value", _p, (_p, ctypes.c_size_t)),
        ("g_variant_print", _p, (_p, _c_bool))]:
    _proto(_glib, _name, _res, *_args)

_IDICT_ERROR = _lib.idict_error_quark()


# ---- errors ----

class Error(Exception):
    """An error of libidict: .code is one of the IDICT_ERROR_* values."""

    def __init__(self, message, code=IDICT_ERROR_FAILED):
        super().__init__(message)
        self.message = message
        self.code = code

    def __str__(self):
        return self.message


class BadName(Error, ValueError):
    """A key name that breaks the rules (idict_check_key_name())."""


class NameConflict(Error, ValueError):
    """"a" and "a/b" cannot both be keys."""


class KeyNotFound(Error, KeyError):
    """No such key."""


class WrongType(Error, TypeError):
    """The key holds a value of another type."""


class InvalidValue(Error, ValueError):
    """Text that does not parse, or a value a check refused."""


class MountError(Error):
    """The filesystem could not be mounted."""


_ERROR_CLASSES = {IDICT_ERROR_BAD_NAME: BadName, IDICT_ERROR_NAME_CONFLICT: NameConflict,
                  IDICT_ERROR_NOT_FOUND: KeyNotFound, IDICT_ERROR_WRONG_TYPE: WrongType,
                  IDICT_ERROR_INVALID_VALUE: InvalidValue, IDICT_ERROR_MOUNT: MountError}


def _raise(err):
    """Raises the exception for a GError set by a call, and frees it."""
    message = err.contents.message.decode("utf-8", "replace")
    domain, code = err.contents.domain, err.contents.code
    _glib.g_error_free(err)
    cls = _ERROR_CLASSES.get(code, Error) if domain == _IDICT_ERROR else Error
    raise cls(message, code)


def _call(func, *args):
    """Calls a libidict function whose last argument is GError **; raises on failure."""
    err = ctypes.POINTER(_GError)()
    result = func(*args, ctypes.byref(err))
    if err:
        _raise(err)
    return result


def _key(key):
    if isinstance(key, bytes):
        return key
    if not isinstance(key, str):
        raise TypeError("idict keys are str, not %s" % type(key).__name__)
    return key.encode("utf-8", "surrogateescape")


# ---- values ----

def _numpy():
    """numpy, imported at the first array."""
    global numpy
    if numpy is None:
        try:
            import numpy as np
        except ImportError as e:
            raise ImportError("idict: arrays and matrices need numpy "
                              "(Debian: apt-get install python3-numpy)") from e
        numpy = np
    return numpy


def _numpy_if_imported():
    """numpy if anyone imported it already, else None: a value can only be a
    numpy object if numpy is loaded."""
    return numpy or sys.modules.get("numpy")


def _variant_to_python(v):
    """The Python value of a GVariant (borrowed; not unreffed here)."""
    t = _glib.g_variant_get_type_string(v)
    if t == b"d":
        return _glib.g_variant_get_double(v)
    if t == b"x":
        return _glib.g_variant_get_int64(v)
    if t == b"b":
        return bool(_glib.g_variant_get_boolean(v))
    if t == b"s":
        return _glib.g_variant_get_string(v, None).decode("utf-8")
    if t == b"ad":
        return _fixed_array(v)
    if t == b"aad":
        rows = [_fixed_array(r) for r in _children(v)]
        np = _numpy()
        if not rows:
            return np.zeros((0, 0))
        return np.array(rows, dtype=np.float64).reshape(len(rows), -1)
    text = _glib.g_variant_print(v, False)
    try:
        return ctypes.string_at(text).decode("utf-8")
    finally:
        _glib.g_free(text)


def _children(v):
    for i in range(_glib.g_variant_n_children(v)):
        child = _glib.g_variant_get_child_value(v, i)
        try:
            yield child
        finally:
            _glib.g_variant_unref(child)


def _fixed_array(v):
    n = ctypes.c_size_t()
    data = _glib.g_variant_get_fixed_array(v, ctypes.byref(n), 8)
    np = _numpy()
    if n.value == 0:
        return np.zeros(0)
    return np.ctypeslib.as_array(ctypes.cast(data, _dbl_p), (n.value,)).copy()


def _owned_array(data, shape):
    """A numpy array over @data, memory from g_malloc() that it now owns: it
    is g_free()d when the last array or view of it is gone (no second copy)."""
    try:
        np = _numpy()
    except ImportError:
        _glib.g_free(data)
        raise
    n = 1
    for s in shape:
        n *= s
    if n == 0:
        _glib.g_free(data)
        return np.zeros(shape)
    buf = (ctypes.c_double * n).from_address(data)
    weakref.finalize(buf, _glib.g_free, data).atexit = False
    return np.frombuffer(buf, dtype=np.float64).reshape(shape)


def _as_doubles(value):
    """A C-contiguous float64 array of @value: the same object when it is one already."""
    np = _numpy()
    a = np.asarray(value)
    if a.dtype.kind not in "biuf":
        raise TypeError("idict stores arrays of real numbers, not of %s" % a.dtype)
    return np.ascontiguousarray(a, dtype=np.float64)


# ---- callbacks ----
#
# One ctypes thunk per kind, alive as long as the module: the library gets a
# token as user_data, and the destroy notify (which libidict calls once no
# call is under way any more) drops the token's entry.

_registry = {}
_registry_lock = threading.Lock()
_tokens = itertools.count(1)


def _register(entry):
    with _registry_lock:
        token = next(_tokens)
        _registry[token] = entry
    return token


def _lookup(token):
    with _registry_lock:
        return _registry.get(token)


def _report(what):
    try:
        sys.stderr.write("idict: exception in %s (ignored):\n" % what)
        traceback.print_exc()
        sys.stderr.flush()
    except Exception:  # noqa: BLE001 - nothing more can be done
        pass


def _on_destroy(token):
    try:
        with _registry_lock:
            _registry.pop(token, None)
    except Exception:  # noqa: BLE001 - at interpreter exit the module may be half gone
        pass


def _on_update(dict_ptr, final, token):
    try:
        entry = _lookup(token)
        if entry is None:
            return
        ref, func = entry
        d = ref()
        if d is not None:
            func(d, bool(final))
    except BaseException:  # noqa: BLE001 - must not unwind into C
        _report("an update callback")


def _on_check(dict_ptr, key, value, token, error):
    try:
        entry = _lookup(token)
        if entry is None:
            return 1
        func = entry
        ok = func(key.decode("utf-8", "surrogateescape"), _variant_to_python(value))
        if not ok:
            _glib.g_set_error_literal(error, _IDICT_ERROR, IDICT_ERROR_INVALID_VALUE,
                                      b"refused by the check")
        return 1 if ok else 0
    except (Error, ValueError) as e:
        # A check may refuse with a message by raising ValueError.
        try:
            _glib.g_set_error_literal(error, _IDICT_ERROR, IDICT_ERROR_INVALID_VALUE,
                                      str(e).encode("utf-8", "replace") or b"refused")
        except BaseException:  # noqa: BLE001
            pass
        return 0
    except BaseException:  # noqa: BLE001 - must not unwind into C
        _report("a check of %r" % key)
        return 0


def _on_refusal(dict_ptr, key, uid, value, reason, token):
    try:
        func = _lookup(token)
        if func is not None:
            func(key.decode("utf-8", "surrogateescape"), uid, value.decode("utf-8", "replace"),
                 reason.decode("utf-8", "replace"))
    except BaseException:  # noqa: BLE001 - must not unwind into C
        _report("the refusal callback")


_update_thunk = _UPDATE_FUNC(_on_update)
_refusal_thunk = _REFUSAL_FUNC(_on_refusal)
_check_thunk = _CHECK_FUNC(_on_check)
_destroy_thunk = _DESTROY_FUNC(_on_destroy)


# ---- the dictionary ----

class _Lock:
    """`with d.lock:` holds the dictionary's (recursive) lock."""

    def __init__(self, d):
        self._d = d

    def __enter__(self):
        _lib.idict_lock(self._d._ptr)
        return self._d

    def __exit__(self, *exc):
        _lib.idict_unlock(self._d._ptr)
        return False

    def acquire(self):
        _lib.idict_lock(self._d._ptr)

    def release(self):
        _lib.idict_unlock(self._d._ptr)


_MISSING = object()


class IDict(collections.abc.MutableMapping):
    """An interactive dictionary (IDict *), a MutableMapping: d[k], d[k] = v,
    del d[k], k in d, len(d), iter(d), get, keys, values, items, update, pop,
    popitem, setdefault, clear, copy, ==.  keys(), values() and items() are
    lists taken at one moment (keys in sorted order), not live views: the
    dictionary changes under other threads and clients.  clear(), update(),
    pop() and copy() are each one moment for readers of the mount."""

    def __init__(self, _ptr=None):
        self._ptr = _ptr if _ptr is not None else _lib.idict_new()
        self._server = None

    @property
    def lock(self):
        """`with d.lock:` holds the dictionary's recursive lock: clients see
        the changes made inside all together or none of them."""
        return _Lock(self)

    # -- lifecycle --

    def close(self):
        """Frees the dictionary now (else when it is garbage-collected).  Its
        server must have been closed."""
        if self._server is not None:
            raise Error("close the server (wait_then_close()) before the dictionary")
        ptr, self._ptr = self._ptr, None
        if ptr:
            _lib.idict_free(ptr)

    def __del__(self):
        try:
            if self._server is None and self._ptr:
                self.close()
        except Exception:  # noqa: BLE001 - at interpreter exit
            pass

    def _p(self):
        if not self._ptr:
            raise Error("the dictionary was closed")
        return self._ptr

    # -- values --

    def __setitem__(self, key, value):
        k = _key(key)
        p = self._p()
        np = _numpy_if_imported()
        if np is not None and isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool):
            _call(_lib.idict_set_bool, p, k, 1 if value else 0)
        elif isinstance(value, int):
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise OverflowError("%d does not fit in 64 bits" % value)
            _call(_lib.idict_set_int, p, k, value)
        elif isinstance(value, float):
            _call(_lib.idict_set_double, p, k, value)
        elif isinstance(value, str):
            _call(_lib.idict_set_string, p, k, value.encode("utf-8", "surrogatepass"))
        elif isinstance(value, (list, tuple)) or (np is not None and isinstance(value, np.ndarray)):
            a = _as_doubles(value)
            if a.ndim == 0:
                _call(_lib.idict_set_double, p, k, float(a))
            elif a.ndim == 1:
                _call(_lib.idict_set_array, p, k, a.ctypes.data, a.shape[0])
            elif a.ndim == 2:
                _call(_lib.idict_set_matrix, p, k, a.ctypes.data, a.shape[0], a.shape[1])
            else:
                raise ValueError("idict stores arrays of 1 or 2 dimensions, not %d" % a.ndim)
        else:
            raise TypeError("idict cannot store a %s" % type(value).__name__)

    def __getitem__(self, key):
        k = _key(key)
        p = self._p()
        v = _lib.idict_get_value(p, k)
        if not v:
            raise KeyNotFound(repr(key), IDICT_ERROR_NOT_FOUND)
        try:
            t = _glib.g_variant_get_type_string(v)
            if t not in (b"ad", b"aad"):
                return _variant_to_python(v)
        finally:
            _glib.g_variant_unref(v)
        # Arrays: the library's copy becomes the numpy array's memory.
        rows, cols = ctypes.c_size_t(), ctypes.c_size_t()
        try:
            if t == b"ad":
                data = _call(_lib.idict_dup_array, p, k, ctypes.byref(rows))
                shape = (rows.value,)
            else:
                data = _call(_lib.idict_dup_matrix, p, k, ctypes.byref(rows), ctypes.byref(cols))
                shape = (rows.value, cols.value)
        except WrongType:
            return self[key]  # changed type meanwhile: read it anew
        return _owned_array(data, shape)

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __delitem__(self, key):
        if not _lib.idict_remove(self._p(), _key(key)):
            raise KeyNotFound(repr(key), IDICT_ERROR_NOT_FOUND)

    def __contains__(self, key):
        return bool(_lib.idict_contains(self._p(), _key(key)))

    def __len__(self):
        return _lib.idict_size(self._p())

    def keys(self):
        """The keys, sorted (strcmp() order)."""
        arr = _lib.idict_keys(self._p())
        try:
            out = []
            for i in itertools.count():
                if not arr[i]:
                    break
                out.append(ctypes.string_at(arr[i]).decode("utf-8", "surrogateescape"))
            return out
        finally:
            _glib.g_strfreev(ctypes.cast(arr, _p))

    def __iter__(self):
        return iter(self.keys())

    def _foreach(self, convert):
        """[convert(key, value)] for every key, in sorted order, from one
        moment (idict_foreach(): the lock is not held while converting)."""
        out, failed = [], []

        def visit(_dict, key, value, _data):
            if failed:
                return
            try:
                out.append(convert(key.decode("utf-8", "surrogateescape"), value))
            except BaseException as e:  # noqa: BLE001 - raised again below, not into C
                failed.append(e)

        _lib.idict_foreach(self._p(), _FOREACH_FUNC(visit), None)
        if failed:
            raise failed[0]
        return out

    def items(self):
        """[(key, value)] for every key, sorted, from one moment."""
        return self._foreach(lambda k, v: (k, _variant_to_python(v)))

    def values(self):
        """[value] for every key, in the order of keys(), from one moment."""
        return self._foreach(lambda k, v: _variant_to_python(v))

    # -- whole-dictionary operations, each one moment for readers --

    def clear(self):
        """Removes every key (idict_clear()): with its writable flag, check and
        history.  Callbacks, the control state and the progress target stay."""
        _lib.idict_clear(self._p())

    def copy(self):
        """Returns: a new, unserved IDict with the keys, values and writable
        flags of this one at one moment (idict_copy()); arrays are shared,
        not copied.  Checks, histories and callbacks are not copied."""
        return IDict(_lib.idict_copy(self._p()))

    def update(self, other=(), /, **kwds):
        """Sets every key of @other (a mapping, an IDict, or (key, value)
        pairs) and of @kwds, all or nothing (idict_update()): every value is
        converted and every name checked first; a bad one raises and changes
        nothing.  New keys are read-only; existing ones keep their writable
        flag and check."""
        if isinstance(other, IDict) and not kwds:
            _call(_lib.idict_update, self._p(), other._p())
            return
        staged = IDict()
        try:
            if isinstance(other, IDict):
                _call(_lib.idict_update, staged._p(), other._p())
            elif isinstance(other, collections.abc.Mapping) or hasattr(other, "keys"):
                for key in other.keys():
                    staged[key] = other[key]
            else:
                for key, value in other:
                    staged[key] = value
            for key, value in kwds.items():
                staged[key] = value
            _call(_lib.idict_update, self._p(), staged._p())
        finally:
            staged.close()

    def pop(self, key, default=_MISSING):
        """Removes @key and returns its value (idict_pop()); if it is missing,
        returns @default, or raises KeyNotFound (a KeyError) without one."""
        v = _lib.idict_pop(self._p(), _key(key))
        if not v:
            if default is _MISSING:
                raise KeyNotFound(repr(key), IDICT_ERROR_NOT_FOUND)
            return default
        try:
            return _variant_to_python(v)
        finally:
            _glib.g_variant_unref(v)

    def popitem(self):
        """Removes the first key in sorted order and returns (key, value);
        KeyNotFound (a KeyError) if the dictionary is empty."""
        with self.lock:
            for key in self.keys():
                return key, self.pop(key)
        raise KeyNotFound("popitem(): the dictionary is empty", IDICT_ERROR_NOT_FOUND)

    def __eq__(self, other):
        """Same keys and equal values, arrays compared element by element
        (numpy.array_equal), against any mapping."""
        if not isinstance(other, collections.abc.Mapping):
            return NotImplemented
        mine = dict(self.items())
        theirs = dict(other.items())
        if mine.keys() != theirs.keys():
            return False
        for key, value in mine.items():
            if isinstance(value, numpy.ndarray) or isinstance(theirs[key], numpy.ndarray):
                if not numpy.array_equal(value, theirs[key]):
                    return False
            elif value != theirs[key]:
                return False
        return True

    __hash__ = None  # a mutable mapping, like dict

    def setdefault(self, key, default=None):
        """Returns d[key] if @key is a key, whatever its type; else stores
        @default and returns it.  Both under the lock, in one moment."""
        with self.lock:
            try:
                return self[key]
            except KeyNotFound:
                pass
            self[key] = default
            return default

    # -- writable keys --

    def set_writable(self, key, writable=True):
        """Lets clients write @key (which must exist), or makes it read-only again."""
        _call(_lib.idict_set_writable, self._p(), _key(key), 1 if writable else 0)

    def set_check(self, key, func):
        """Attaches func(key, value) -> bool to @key: called in a filesystem
        thread with a client's new value (already parsed to the key's type);
        False (or raising ValueError, whose message is kept) refuses it and the
        client's write fails with EINVAL.  Any other exception is printed and
        refuses.  func None removes the check."""
        if func is None:
            _call(_lib.idict_set_check, self._p(), _key(key), _CHECK_FUNC(), None,
                  _DESTROY_FUNC())
            return
        if not callable(func):
            raise TypeError("the check must be callable")
        token = _register(func)
        try:
            _call(_lib.idict_set_check, self._p(), _key(key), _check_thunk, token,
                  _destroy_thunk)
        except BaseException:
            _on_destroy(token)
            raise

    def set_refusal_callback(self, func):
        """Calls func(key, uid, value, reason) for each client's write refused
        for its value, as listed in MNT/ctl/errors (value: in double quotes,
        cut, escaped).  Called in a filesystem thread.  None removes it."""
        if func is None:
            _lib.idict_set_refusal_callback(self._p(), _REFUSAL_FUNC(), None, _DESTROY_FUNC())
            return
        if not callable(func):
            raise TypeError("the refusal callback must be callable")
        token = _register(func)
        _lib.idict_set_refusal_callback(self._p(), _refusal_thunk, token, _destroy_thunk)

    # -- callbacks --

    def add_callback(self, func):
        """Calls func(d, final) after each update, in the thread that called
        notify_update(), without the lock held.  Returns: an id for
        remove_callback()."""
        if not callable(func):
            raise TypeError("the callback must be callable")
        token = _register((weakref.ref(self), func))
        return _lib.idict_add_callback(self._p(), _update_thunk, token, _destroy_thunk)

    def remove_callback(self, callback_id):
        """Returns: True if @callback_id was registered."""
        return bool(_lib.idict_remove_callback(self._p(), callback_id))

    # -- control --

    @property
    def terminated(self):
        return bool(_lib.idict_terminated(self._p()))

    def terminate(self):
        """Asks the loop to stop (as `echo 1 > ctl/terminate`)."""
        _lib.idict_terminate(self._p())

    @property
    def paused(self):
        return bool(_lib.idict_paused(self._p()))

    def pause(self):
        _lib.idict_pause(self._p())

    def resume(self):
        _lib.idict_resume(self._p())

    def wait(self, timeout=None):
        """Blocks while paused, at most @timeout seconds (None: no limit);
        returns at once when terminated.  Waits in slices of 0.25 s so that
        Ctrl-C (KeyboardInterrupt) gets through.  Returns: True if the loop
        may go on, False if the timeout passed while still paused."""
        p = self._p()
        if timeout is not None and timeout <= 0:
            return bool(_lib.idict_wait(p, 0))
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = 0.25 if deadline is None else min(0.25, max(0.0, deadline - time.monotonic()))
            if _lib.idict_wait(p, left):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    def notify_update(self, final=False):
        """Publishes an update (final: the last one), then runs the callbacks.
        Do not call it inside `with d.lock:`."""
        _lib.idict_notify_update(self._p(), 1 if final else 0)

    @property
    def sequence(self):
        """The number of the last update (0 before the first)."""
        return _lib.idict_sequence(self._p())

    def terminate_on_signals(self):
        """Opt-in: the first SIGINT, SIGTERM or SIGHUP terminates the loop
        cleanly (signals within 1 s of the first are the same request); one
        more than 1 s later ends the process.  Call it early, before threads
        are started.  Once per process."""
        _call(_lib.idict_terminate_on_signals, self._p())

    # -- checkpoints --

    def save(self, path):
        """Writes every key to @path atomically (idict_save())."""
        _call(_lib.idict_save, self._p(), os.fsencode(path))

    # -- serving --

    def serve(self, mountpoint, options=None):
        """Mounts the dictionary at @mountpoint (its last component created
        if missing).
        @options: comma-separated mount options ("allow_other",
        "write_mode=0664", ...).  Returns: a Server; end it with
        wait_then_close()."""
        if self._server is not None:
            raise Error("the dictionary is already served", IDICT_ERROR_MOUNT)
        ptr = _call(_lib.idict_serve, self._p(), os.fsencode(mountpoint),
                    options.encode() if options else None)
        self._server = Server(self, ptr)
        with _registry_lock:
            _open_servers.add(self._server)
        return self._server


def load(path):
    """Returns: a new IDict read from a checkpoint written by IDict.save()."""
    return IDict(_call(_lib.idict_load, os.fsencode(path)))


class Server:
    """A mounted dictionary (IDictServer *), from IDict.serve()."""

    def __init__(self, d, ptr):
        self._d = d
        self._ptr = ptr
        self.mountpoint = _lib.idict_server_mountpoint(ptr).decode("utf-8", "surrogateescape")

    def wait_then_close(self, timeout=None):
        """Keeps serving until no client has a file open or @timeout seconds
        (None: no limit) have passed, then unmounts.  Call it after the final
        update."""
        ptr, self._ptr = self._ptr, None
        if not ptr:
            return
        _lib.idict_server_wait_then_close(ptr, -1.0 if timeout is None else float(timeout))
        self._d._server = None
        with _registry_lock:
            _open_servers.discard(self)

    close = wait_then_close


_open_servers = set()


@atexit.register
def _close_servers():
    # Before the interpreter goes away: no check may call into Python after.
    for srv in list(_open_servers):
        try:
            srv.wait_then_close(0)
        except Exception:  # noqa: BLE001
            pass
