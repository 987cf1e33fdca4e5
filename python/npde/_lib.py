"""ctypes bindings to libnpde (the kernel, the run engine and the methods).

The library is found through NPDE_PREFIX (an install prefix, or a build
tree), else the system's library path. Loading libnpde_methods registers
Neural IVP and NBM, and brings libnpde_run and libnpde with it.
"""
import ctypes
import ctypes.util
import glob
import os
import platform

NAME = "libnpde_methods.so"


class NpdeError(Exception):
    """An npde failure: its status code and message; location is "file:line:column" when the message starts with
    one (a configuration error names where in the YAML)."""

    def __init__(self, status, message):
        self.status = status
        self.message = message
        head = message.split(": ", 1)[0]
        parts = head.rsplit(":", 2)
        self.location = head if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit() else None
        super().__init__(message)


class ConfigError(NpdeError):
    """A configuration npde refuses (status NPDE_ERR_CONFIG)."""


STATUS_CONFIG = -6
STATUS_INTERRUPTED = -11


def _candidates():
    prefix = os.environ.get("NPDE_PREFIX")
    if prefix:
        arch = platform.machine() + "-linux-gnu"
        for sub in ("lib", "lib64", os.path.join("lib", arch)):
            for name in (NAME, NAME + ".0"):
                path = os.path.join(prefix, sub, name)
                if os.path.exists(path):
                    yield path
        raise OSError("NPDE_PREFIX=%s holds no %s in lib/, lib64/ or lib/%s/ (an install prefix, or a build tree "
                      "such as build/)" % (prefix, NAME, arch))
    found = ctypes.util.find_library("npde_methods")
    if found:
        yield found
    yield NAME + ".0"


def _load():
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as e:
            errors.append(str(e))
    raise OSError("libnpde not found: set NPDE_PREFIX to an install prefix or build tree (%s)" % "; ".join(errors))


lib, path = _load()

c_double_p = ctypes.POINTER(ctypes.c_double)
_P = ctypes.c_void_p


def _sig(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_sig("npde_last_error", ctypes.c_char_p)
_sig("npde_run_file", ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p), ctypes.c_size_t,
     ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t)
_sig("npde_pipeline_request_stop", None)
_sig("npde_log_set_level", None, ctypes.c_int)
_sig("npde_model_load", ctypes.c_int, ctypes.c_char_p, _P, ctypes.POINTER(_P))
_sig("npde_model_free", None, ctypes.POINTER(_P))
_sig("npde_model_dim", ctypes.c_int64, _P)
_sig("npde_model_outputs", ctypes.c_int64, _P)
_sig("npde_model_time_range", ctypes.c_bool, _P, c_double_p, c_double_p)
_sig("npde_model_eval", ctypes.c_int, _P, ctypes.c_double, c_double_p, ctypes.c_int64, c_double_p, c_double_p)
_sig("npde_config_load_file", ctypes.c_int, ctypes.c_char_p, ctypes.POINTER(_P))
_sig("npde_config_destroy", None, ctypes.POINTER(_P))
_sig("npde_config_node_type", ctypes.c_int, _P)
_sig("npde_config_size", ctypes.c_size_t, _P)
_sig("npde_config_at", _P, _P, ctypes.c_size_t)
_sig("npde_config_key_at", ctypes.c_char_p, _P, ctypes.c_size_t)
_sig("npde_config_scalar", ctypes.c_char_p, _P)


def raise_for(status, message):
    """The exception of a failing npde status: KeyboardInterrupt for a run stopped on request."""
    if status == STATUS_INTERRUPTED:
        raise KeyboardInterrupt(message)
    raise (ConfigError if status == STATUS_CONFIG else NpdeError)(status, message)


def last_error():
    """npde's message of the last failure in this thread."""
    return (lib.npde_last_error() or b"").decode("utf-8", "replace")


def check(status):
    """Raise the exception for a failing npde status; return it otherwise."""
    if status < 0:
        raise_for(status, last_error())
    return status
