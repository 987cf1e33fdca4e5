"""The Python package over the C API: a pipeline run in process, a run directory opened, u(x, t) at any t,
errors as exceptions with their location, Ctrl-C, the offline install and the notebook-style example."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import npde

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
SMALL = """seed: 2
plots: false
pde: {type: heat, dim: 2, s: 0.25, scale: 1}
network:
  envelope: dirichlet
  layers: [{type: sinusoidal, frequencies: 2}, {type: mlp, width: 12, depth: 2}]
samples: {n: 400}
linsolver: {type: cg, tol: 1e-8, max_iters: 1000}
precond: {type: nystrom, rank: 30, mu: 1e-8}
integrator: {type: rk23, rtol: 1e-3}
stages:
  - fit: {epochs: 300, lr: 1e-2, batch: 400, head_points: 4000, eval_points: 1000}
  - evolve: {t_end: 0.1, snapshots: [0.05], eval_points: 1000, residual_points: 400}
  - eval: {grid: [9, 7], points: 1000}
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory):
    path = tmp_path_factory.mktemp("cfg") / "small.yaml"
    path.write_text(SMALL)
    return str(path)


@pytest.fixture(scope="module")
def small_run(config, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("runs") / "small")
    return npde.run(config, overrides={"stages.fit.epochs": 250}, output=out)


def test_run_returns_the_run_with_config_metrics_and_results(small_run):
    assert os.path.isfile(os.path.join(small_run.dir, "results.npz"))
    assert small_run.config["stages"][0]["fit"]["epochs"] == 250  # the override reached the run
    assert small_run.config["pde"]["type"] == "heat"
    np.testing.assert_array_equal(small_run.times, [0.0, 0.05, 0.1])
    m = small_run.metrics
    assert len(np.asarray(m["t"])) >= 1 and np.all(np.asarray(m["residual_true"]) > 0)
    assert "field_u" in small_run.results and "theta_final" in small_run.results


def test_u_at_saved_times_matches_the_fields_the_run_wrote(small_run):
    r = small_run.results
    g0, g1 = np.meshgrid(r["grid_x0"], r["grid_x1"], indexing="ij")
    pts = np.column_stack([g0.ravel(), g1.ravel()])
    for k, t in enumerate(small_run.times):
        u = small_run.u(pts, t)
        np.testing.assert_allclose(u[:, 0], r["field_u"][k].reshape(-1), rtol=0, atol=1e-12)


def test_u_at_any_time_between_steps_with_gradients(small_run):
    t0, t1 = small_run.time_range
    assert (t0, t1) == (0.0, 0.1)
    x = np.array([[0.1, -0.2], [0.5, 0.3]])
    u, g = small_run.u(x, 0.0731, grad=True)
    assert u.shape == (2, 1) and g.shape == (2, 1, 2)
    h = 1e-5  # the gradient against central differences
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        fd = (small_run.u(x + e, 0.0731) - small_run.u(x - e, 0.0731))[:, 0] / (2 * h)
        np.testing.assert_allclose(g[:, 0, j], fd, rtol=1e-5, atol=1e-7)
    # between two saved times, u lies near both (the heat decays smoothly)
    mid = small_run.u(x, 0.075)
    a, b = small_run.u(x, 0.05), small_run.u(x, 0.1)
    assert np.all(mid <= np.maximum(a, b) + 1e-3) and np.all(mid >= np.minimum(a, b) - 1e-3)


def test_errors_are_exceptions_with_npde_message_and_location(config, small_run):
    with pytest.raises(npde.ConfigError) as e:
        npde.run(config, overrides=["linsolver.tolx=1e-3"], output="")
    assert "unknown key 'tolx'" in str(e.value) and e.value.location == "<override 'linsolver.tolx=1e-3'>:1:1"
    with pytest.raises(npde.NpdeError, match=r"outside the run's \[0, 0.1\]"):
        small_run.u(np.zeros((1, 2)), 0.5)
    with pytest.raises(npde.NpdeError, match="outside the PDE's box"):
        small_run.u(np.array([[3.0, 0.0]]), 0.05)
    with pytest.raises(ValueError):
        small_run.u(np.zeros((4, 3)), 0.05)
    with pytest.raises(npde.NpdeError, match="not a run directory"):
        npde.open("/nonexistent/run")


def test_no_output_writes_nothing_and_returns_none(config, tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert npde.run(config, overrides={"stages": [{"fit": {"epochs": 5, "head_points": 100}}]}, output="") is None
        assert not os.path.exists(tmp_path / "runs")
        # the config's own `output: ~` is kept when the call names no directory
        assert npde.run(config, overrides={"output": None, "stages": [{"fit": {"epochs": 5, "head_points": 100}}]}) \
            is None
        assert not os.path.exists(tmp_path / "runs")
    finally:
        os.chdir(cwd)


def test_ctrl_c_checkpoints_and_raises_keyboard_interrupt(config, tmp_path):
    out = tmp_path / "stopped"
    code = ("import npde\n"
            "npde.run(%r, overrides={'stages.evolve.t_end': 5, 'integrator.rtol': 1e-6}, output=%r)\n"
            % (config, str(out)))
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            env=os.environ.copy())
    metrics = out / "metrics.csv"
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:  # wait for evolve's second step, however slow the machine
        if metrics.exists() and metrics.read_text().count("\n") >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be stopped"
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=600)[1].decode()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err and "npde resume %s" % out in err, err
    assert (out / "checkpoint.npz").exists()


def test_offline_install_into_a_venv(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    # a copy of the package: a build writes build/ and *.egg-info beside its sources, never into the checkout
    package = tmp_path / "python"
    shutil.copytree(os.path.join(SOURCE, "python"), package,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index", "--no-deps",
                          "-q", str(package)], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    probe = subprocess.run([str(venv / "bin" / "python"), "-c", "import npde, sys; print(npde.__file__)"],
                           capture_output=True, text=True, cwd=str(tmp_path),
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert probe.returncode == 0, probe.stderr
    assert str(venv) in probe.stdout


def test_notebook_style_example_plots_a_run(small_run, tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (Debian: python3-matplotlib)")
    png = tmp_path / "u.png"
    script = os.path.join(SOURCE, "examples", "python", "plot_run.py")
    done = subprocess.run([sys.executable, script, small_run.dir, str(png)], capture_output=True, text=True,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    assert done.returncode == 0, done.stderr
    assert png.stat().st_size > 10000
    assert "u is defined at any t in (0.0, 0.1)" in done.stdout
