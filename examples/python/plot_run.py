# %% [markdown]
# # A trained npde run in Python
#
# Open a run directory, evaluate the network u(x, t) on a grid at any time of
# the run (between the saved snapshots too, through the run's trajectory),
# and draw it with matplotlib. Run it as a script:
#
#     NPDE_PREFIX=build python3 examples/python/plot_run.py runs/demo-... [u.png]
#
# or cell by cell in a notebook (each `# %%` is a cell).

# %%
import sys

import matplotlib

if "ipykernel" not in sys.modules:
    matplotlib.use("Agg")  # a script writes a file; a notebook shows the figure
import matplotlib.pyplot as plt
import numpy as np

import npde

run_dir = sys.argv[1] if len(sys.argv) > 1 else "runs/demo"
out = sys.argv[2] if len(sys.argv) > 2 else "u.png"
run = npde.open(run_dir)
print("run:", run.dir, "| pde:", run.config["pde"]["type"], "| saved times:", run.times)
print("u is defined at any t in", run.time_range)

# %% The grid: the first two axes of the PDE's box (the others at 0)
lo = np.array(run.config["pde"].get("domain", {}).get("lo", [-1.0] * run.dim), dtype=float)
hi = np.array(run.config["pde"].get("domain", {}).get("hi", [1.0] * run.dim), dtype=float)
lo = np.broadcast_to(lo, (run.dim,))
hi = np.broadcast_to(hi, (run.dim,))
n = 101
g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], n), np.linspace(lo[1], hi[1], n), indexing="ij")
points = np.zeros((n * n, run.dim))
points[:, 0], points[:, 1] = g0.ravel(), g1.ravel()

# %% u at the start, between two saved times, and at the end
t0, t1 = run.time_range if run.time_range else (run.times[0], run.times[-1])
times = [t0, 0.5 * (t0 + t1) if run.time_range else run.times[len(run.times) // 2], t1]
fig, axes = plt.subplots(1, 3, figsize=(13, 4), constrained_layout=True)
for ax, t in zip(axes, times):
    u = run.u(points, t)[:, 0].reshape(n, n)
    im = ax.pcolormesh(g0, g1, u, shading="auto", cmap="viridis")
    ax.set_title("t = %.4g" % t)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_aspect("equal")
    fig.colorbar(im, ax=ax, label="u (network)")
fig.suptitle(run.config.get("name", run.dir))
fig.savefig(out, dpi=90)
print("wrote", out)
