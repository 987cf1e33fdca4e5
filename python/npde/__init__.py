"""npde from Python: run a pipeline in this process, open a run directory,
evaluate the trained solution u(x, t) at any points and any time of the run.

    import npde
    run = npde.run("configs/demo.yaml", overrides={"stages.fit.epochs": 500}, output="runs/demo-py")
    run = npde.open("runs/demo-py")
    run.times                   # the saved (snapshot) times
    run.time_range              # u is defined at any t in it (the run's trajectory)
    u = run.u(points, t=0.25)   # points: n x d; u: n x K
    u, g = run.u(points, t=0.25, grad=True)
    run.metrics["residual_true"], run.results["field_u"], run.config["pde"]["type"]

Errors raise npde.NpdeError (npde.ConfigError for configuration errors)
carrying npde's message and its file:line:column location. The library is
found through NPDE_PREFIX (an install prefix or a build tree), else the
system's library path.
"""
import builtins
import csv
import math
import os as _os
import threading

import numpy as np

from ._lib import ConfigError, NpdeError, check, last_error, lib, raise_for, path as library_path
import ctypes

__all__ = ["run", "open", "Run", "NpdeError", "ConfigError", "library_path", "set_log_level"]

_LEVELS = {"error": 0, "warn": 1, "info": 2, "debug": 3}


def set_log_level(level):
    """Terminal log level: "error", "warn", "info" (the default) or "debug"; a run's log.txt keeps every line."""
    lib.npde_log_set_level(_LEVELS[level])


def _yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "~"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%s: %s" % (k, _yaml_value(x)) for k, x in v.items()) + "}"
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else (".nan" if v != v else (".inf" if v > 0 else "-.inf"))
    return str(v)


def _assignments(overrides):
    if overrides is None:
        return []
    if isinstance(overrides, dict):
        return ["%s=%s" % (k, _yaml_value(v)) for k, v in overrides.items()]
    return [str(o) for o in overrides]


def run(config, overrides=None, output=None):
    """Run the pipeline of the YAML file `config` in this process, as `npde run` does, and return the Run.

    overrides: {"key.path": value} or ["key.path=value", ...], applied in order.
    output: the run directory (None: the config's `output:`, else runs/NAME-DATE-TIME; "": write no files, and
    return None). Ctrl-C stops the run at its next step: it writes its checkpoint (`npde resume DIR` continues it)
    and KeyboardInterrupt is raised.
    """
    args = [a.encode() for a in _assignments(overrides)]
    arr = (ctypes.c_char_p * max(len(args), 1))(*args)
    where = ctypes.create_string_buffer(4200)
    result = {}

    def work():
        result["status"] = lib.npde_run_file(_os.fsencode(config), arr, len(args),
                                             None if output is None else _os.fsencode(output), where, len(where))
        if result["status"] < 0:  # the message is per thread: take it here
            result["error"] = last_error()

    worker = threading.Thread(target=work, name="npde-run")
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.1)
    except KeyboardInterrupt:
        lib.npde_pipeline_request_stop()
        worker.join()
        raise KeyboardInterrupt("npde: the run stopped at its next step; `npde resume %s` continues it"
                                % where.value.decode())
    if result["status"] < 0:
        raise_for(result["status"], result["error"])
    directory = where.value.decode()
    return open(directory) if directory else None


def _scalar(text):
    if text is None:
        return None
    t = text.strip()
    if t in ("~", "null", "Null", "NULL", ""):
        return None
    if t in ("true", "True", "TRUE"):
        return True
    if t in ("false", "False", "FALSE"):
        return False
    for conv in (int, float):
        try:
            return conv(t)
        except ValueError:
            pass
    special = {".inf": math.inf, "+.inf": math.inf, "-.inf": -math.inf, ".nan": math.nan}
    return special.get(t.lower(), text)


def _tree(node):
    kind = lib.npde_config_node_type(node)
    if kind == 2:
        return {lib.npde_config_key_at(node, i).decode(): _tree(lib.npde_config_at(node, i))
                for i in range(lib.npde_config_size(node))}
    if kind == 1:
        return [_tree(lib.npde_config_at(node, i)) for i in range(lib.npde_config_size(node))]
    s = lib.npde_config_scalar(node)
    return _scalar(s.decode() if s is not None else None)


def _read_metrics(path):
    if not _os.path.exists(path):
        return {}
    with builtins.open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return {}
    header, body = rows[0], rows[1:]
    cols = {}
    for j, name in enumerate(header):
        values = [r[j] if j < len(r) else "" for r in body]
        try:
            cols[name] = np.array([float(v) for v in values])
        except ValueError:
            cols[name] = np.array(values)
    try:
        import pandas
        return pandas.DataFrame(cols)
    except ImportError:
        return cols



class Run:
    """A run directory: its configuration, metrics, results and the trained solution u(x, t)."""

    def __init__(self, directory):
        self.dir = _os.fspath(directory)
        if not _os.path.isdir(self.dir):
            raise NpdeError(-7, "'%s' is not a run directory (no such directory)" % self.dir)
        self._model = None
        self._results = None

    def __repr__(self):
        return "npde.Run(%r)" % self.dir

    @property
    def config(self):
        """config.yaml as nested dicts and lists (numbers and booleans converted)."""
        cfg = ctypes.c_void_p()
        check(lib.npde_config_load_file(_os.fsencode(_os.path.join(self.dir, "config.yaml")), ctypes.byref(cfg)))
        try:
            return _tree(cfg)
        finally:
            lib.npde_config_destroy(ctypes.byref(cfg))

    @property
    def metrics(self):
        """metrics.csv: a pandas DataFrame when pandas is present, else a dict of numpy arrays (one per column)."""
        return _read_metrics(_os.path.join(self.dir, "metrics.csv"))

    @property
    def results(self):
        """results.npz as a dict of numpy arrays (t, theta, rel_error, theta_final, field_u, ...)."""
        if self._results is None:
            with np.load(_os.path.join(self.dir, "results.npz")) as z:
                self._results = {k: z[k] for k in z.files}
        return self._results

    @property
    def times(self):
        """The saved (snapshot) times, where theta is stored exactly."""
        return np.asarray(self.results.get("t", np.zeros(0)))

    def _loaded(self):
        if self._model is None:
            m = ctypes.c_void_p()
            check(lib.npde_model_load(_os.fsencode(self.dir), None, ctypes.byref(m)))
            self._model = m
        return self._model

    @property
    def time_range(self):
        """(t_first, t_last) when u can be evaluated at any t between (the run kept its trajectory), else None."""
        a, b = ctypes.c_double(), ctypes.c_double()
        return (a.value, b.value) if lib.npde_model_time_range(self._loaded(), ctypes.byref(a), ctypes.byref(b)) \
            else None

    @property
    def dim(self):
        return lib.npde_model_dim(self._loaded())

    @property
    def outputs(self):
        return lib.npde_model_outputs(self._loaded())

    def u(self, points, t=None, grad=False):
        """u (n x K) at points (n x d, or d for one point) and time t (None: the last saved time); with grad=True
        also du/dx (n x K x d). Points outside the PDE's box are refused (npde.NpdeError)."""
        m = self._loaded()
        d, K = lib.npde_model_dim(m), lib.npde_model_outputs(m)
        x = np.ascontiguousarray(points, dtype=np.float64)
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != d:
            raise ValueError("points must be n x %d, got shape %s" % (d, np.shape(points)))
        n = x.shape[0]
        u = np.empty((n, K))
        g = np.empty((n, K, d)) if grad else None
        ptr = lambda a: a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))  # noqa: E731
        check(lib.npde_model_eval(m, math.nan if t is None else float(t), ptr(x), n, ptr(u),
                                  ptr(g) if grad else None))
        return (u, g) if grad else u

    def close(self):
        if self._model is not None:
            lib.npde_model_free(ctypes.byref(self._model))
            self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def open(directory):  # noqa: A001 (the name users expect: npde.open(run_dir))
    """Open the run directory `directory` (what `npde run` or npde.run wrote)."""
    return Run(directory)
