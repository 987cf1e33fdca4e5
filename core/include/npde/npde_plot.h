/**
 * Figures of a run directory: PNG files drawn with PLplot (its cairo PNG
 * driver, "pngcairo") when npde was built with it (`npde plot RUNDIR`; a
 * pipeline with `plots: true` draws them at the end of its run).
 *
 * Figures, each written atomically (a temporary name, then a rename):
 *  - metrics.png (1400 x 1000 pixels), when metrics.csv has rows: against t,
 *    the PDE residual (log): R_true relative to ||f||, and the absolute
 *    residual_rms with the scale f_rms, the CG iterations of each step and its
 *    largest solve, the step size h (log) and the relative error against the
 *    exact solution at the snapshots (log; results.npz rel_error and
 *    eval_rel_error), restarts as dashed vertical lines.
 *  - fit_loss.png (1000 x 700), when results.npz has fit_loss or refit_loss:
 *    the loss of every Adam epoch (log), the last restart's refit overlaid.
 *  - fields_NNNN.png for field snapshot NNNN (results.npz field_u), when the
 *    pipeline has an eval stage: colour maps of component 0 of the network's
 *    field, and, when the PDE has an exact solution, of the exact field (same
 *    colour scale) and of the error u - exact (2000 x 660; without an exact
 *    solution, u and the PDE residual N_t - F the eval stage wrote from the
 *    snapshot's theta_dot, 1380 x 660, or u alone, 820 x 660), each colour bar
 *    labelled with its field. A 3D grid is cut at the middle of its last
 *    axis; a 1D grid is drawn as curves (1400 x 640). Which snapshots: the
 *    options', else config.yaml's plot_snapshots, else first, middle, last.
 *  - sweep.png for a sweep directory (one with sweep.csv and sweep.axes,
 *    what `npde run CONFIG -m ...` writes): each figure of sweep.csv that
 *    varies, against the first swept key's values, one line per value of the
 *    other keys. A sweep member's figures carry its overrides in their
 *    titles (the sweep names each member "NAME (key=value, ...)").
 *
 * Threads: calls are serialised by a lock inside (PLplot has global state);
 * the caller's current PLplot stream, if any, is current again on return.
 */
#ifndef NPDE_PLOT_H
#define NPDE_PLOT_H

#include <stdbool.h>

#include "npde_error.h"
#include "npde_export.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Options of npde_plot_run; NULL means the defaults. The caller sets
 * struct_size = sizeof(npde_plot_options) and zeroes what it does not set.
 * Since: ABI 1.0
 */
typedef struct npde_plot_options {
  unsigned struct_size;
  /** where the PNGs go (created if missing); NULL: RUNDIR/plots. Borrowed. */
  const char *out_dir;
  /** indices of the field snapshots to draw (0 is the first, a negative index
   *  counts from the end: -1 is the last); NULL: the first, middle and last.
   *  An index out of range is NPDE_ERR_INVALID_ARG. Borrowed. */
  const int *snapshots;
  /** entries of `snapshots` (0 with a non-NULL array: no field figures) */
  int n_snapshots;
} npde_plot_options;

/**
 * True when npde_plot_run can draw: this build has PLplot and PLplot finds
 * its pngcairo driver (package plplot-driver-cairo). Since: ABI 1.0
 */
NPDE_API bool npde_plot_available(void);

/**
 * Draw the figures of the run in dir (metrics.csv, results.npz, config.yaml
 * for the run's name and the eval axes) into opt->out_dir or dir/plots.
 * Absent inputs skip their figures (no metrics.csv: no metrics.png); one INFO
 * log line lists the files written.
 *
 * @param dir  a run directory (borrowed)
 * @param opt  NULL, or options (borrowed)
 * @return NPDE_OK; NPDE_ERR_IO naming the path for a missing directory, a
 *         directory with neither metrics.csv nor results.npz, an unreadable or
 *         malformed file, or a figure that cannot be written;
 *         NPDE_ERR_INVALID_ARG for bad options or a snapshot out of range;
 *         NPDE_ERR_NOT_IMPLEMENTED, saying which package to install, when the
 *         build has no PLplot or PLplot has no pngcairo driver.
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_plot_run(const char *dir, const npde_plot_options *opt);

#ifdef __cplusplus
}
#endif
#endif
