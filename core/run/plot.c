/* Figures of a run directory (npde_plot.h), drawn with PLplot's cairo PNG
 * driver ("pngcairo") into DIR/plots (or the caller's directory).
 *
 * What is drawn, and why:
 *  - metrics.png (from metrics.csv, one row per accepted step of `evolve`):
 *    four panels against t that say whether an evolution can be trusted.
 *    The relative PDE residual R_true (docs/methods/neural-ivp.md §3.4; log scale) shows how well
 *    the network follows the PDE; the CG iterations of each step (all solves,
 *    and the largest one) show the cost and the conditioning that restarts
 *    are meant to reset; the step size h (log scale) shows the integrator's
 *    view of stiffness; the relative L2 error against the exact solution at
 *    the snapshots (results.npz `rel_error`, and `eval_rel_error` on the eval
 *    grid; log scale) is the ground truth when the PDE has one. Restarts
 *    (where the `restarts` column increments) are dashed vertical lines in
 *    every panel, so their effect on residual and CG work is visible.
 *  - fit_loss.png: the loss of every Adam epoch of the initial fit (log
 *    scale), with the refit of the last restart overlaid: whether the fit
 *    converged, and how much cheaper a refit is than the first fit.
 *  - fields_NNNN.png (from results.npz field_u, field_exact, grid_x<axis>):
 *    for snapshot NNNN, a filled-contour colour map of component 0 of the
 *    network's field; beside it the exact solution on the same colour scale
 *    and the error u - exact on a symmetric diverging scale, when the PDE has
 *    an exact solution. A 3D grid is cut at the middle of its last axis; a
 *    1D grid is drawn as curves.
 *
 * A train run (NBM; metrics.csv has 'epoch', not 't'; results.npz has one
 * field_u[i, j, k] and no field_t) gets instead:
 *  - metrics.png: against epoch, the training loss (one curve per level of
 *    a multilevel run, as a cycle alternates them every epoch), RMSE and
 *    L-infinity against the exact solution where measured, and for
 *    Gauss-Newton the damping lambda and the CG iterations per epoch; level
 *    changes of sequential levels are dashed vertical lines.
 *  - fields.png: the slice z = middle of u, of the exact solution (else the
 *    grid reference) and of their difference, with the interface (zero
 *    contour of field_phi) over each map.
 *
 * PLplot keeps global state: every figure gets its own stream (plmkstrm,
 * then plend1, then the caller's stream is made current again), and a mutex
 * serialises the drawing. PLplot calls exit() when it cannot open its output
 * file, so the temporary file is created here first (npde__afile_open) and
 * PLplot only rewrites it; the file is then checked to be a complete PNG of
 * the requested size before it is renamed into place. Text given to PLplot
 * goes through pltext_escape, since '#' starts a PLplot escape sequence. */
#include "npde/npde_plot.h"

#if NPDE_HAVE_PLPLOT

#include <errno.h>
#include <math.h>
#include <plplot.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config_impl.h"
#include "io_impl.h"
#include "npde/npde_config.h"
#include "npde/npde_io.h"
#include "npde/npde_log.h"

/* Figure sizes in pixels (npde_plot.h documents them). */
enum {
  METRICS_W = 1400, METRICS_H = 1000,
  LOSS_W = 1000, LOSS_H = 700,
  FIELDS_W = 2000, FIELDS_W2 = 1380, FIELDS_W1 = 820, FIELDS_H = 660, /* three maps / two / one */
  CURVES_W = 1400, CURVES_H = 640                    /* a 1D grid */
};

/* cmap0: background, axes, then the series colours. */
enum { C_WHITE, C_BLACK, C_BLUE, C_RED, C_ORANGE, C_MARK, C_GRID, C_GREEN, C_COUNT };
static const PLINT cmap0_r[C_COUNT] = {255, 0, 31, 214, 255, 110, 222, 44};
static const PLINT cmap0_g[C_COUNT] = {255, 0, 119, 39, 127, 110, 222, 160};
static const PLINT cmap0_b[C_COUNT] = {255, 0, 180, 40, 14, 110, 222, 44};

#define N_LEVELS 40                /* colour bands of a map */
#define DOT "\xe2\x97\x8f"          /* U+25CF, a filled circle */
#define RING "\xe2\x97\x8b"         /* U+25CB, a circle: visible around a dot at the same point */

/* Character height of the current figure relative to PLplot's default
 * (which grows with the page); set by figure_begin, under plot_lock. */
static double text_base = 0.6;

/* Character height `scale` times the figure's base size. */
static void text_size(double scale) { plschr(0.0, text_base * scale); }

static pthread_mutex_t plot_lock = PTHREAD_MUTEX_INITIALIZER;

/* --------------------------------------------------------------- helpers */

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

/* PLplot text: '#' starts an escape sequence, so user text doubles it. */
static void pltext_escape(const char *in, char *out, size_t size) {
  size_t k = 0;
  for (; *in && k + 2 < size; ++in) {
    if (*in == '#') out[k++] = '#';
    out[k++] = *in;
  }
  out[k] = '\0';
}

static bool pngcairo_present(void) {
  const char *menu_buf[128], *name_buf[128], **menu = menu_buf, **names = name_buf;
  int n = 128;
  plgFileDevs(&menu, &names, &n);
  for (int i = 0; i < n; ++i)
    if (names[i] && strcmp(names[i], "pngcairo") == 0) return true;
  return false;
}

/* ------------------------------------------------------- the run's data */

/* The metrics.csv columns the figures use: an evolve run's (one row per
 * step, a column t) or a train run's (one row per epoch, a column epoch). */
enum { M_T, M_H, M_CG, M_CG_MAX, M_RES, M_RESTARTS, M_RES_RMS, M_F_RMS, M_COUNT };
static const char *const metric_names[M_COUNT] = {"t", "h", "cg_iterations", "cg_max", "residual_true", "restarts",
                                                  "residual_rms", "f_rms"};
/* Columns an evolve run's figures can do without (runs written before they existed). */
static const bool metric_optional[M_COUNT] = {[M_RES_RMS] = true, [M_F_RMS] = true};
enum { E_EPOCH, E_LEVEL, E_H, E_LOSS, E_RMSE, E_LINF, E_LAMBDA, E_CG, E_COUNT };
static const char *const train_names[E_COUNT] = {"epoch", "level", "h", "loss", "rmse", "linf", "lambda",
                                                 "cg_iterations"};
/* Columns a train run's figures can do without (read as NaN). */
static const bool train_optional[E_COUNT] = {[E_LEVEL] = true, [E_H] = true, [E_LAMBDA] = true, [E_CG] = true};
enum { MAX_METRICS = 8 };
_Static_assert((int)M_COUNT <= (int)MAX_METRICS && (int)E_COUNT <= (int)MAX_METRICS, "MAX_METRICS");

typedef struct metrics {
  bool train; /* the columns are train_names (E_*), else metric_names (M_*) */
  int64_t n;
  double *col[MAX_METRICS];
} metrics;

/* Everything the figures read; arrays converted to f64, absent ones empty. */
typedef struct run {
  const char *dir;
  char title[256];     /* the run's name, escaped for PLplot */
  bool have_metrics, have_results;
  metrics m;
  npde_npy_array t, rel, fit_loss, refit_loss, field_t, eval_rel, field_u, field_exact;
  npde_npy_array field_res; /* the PDE residual N_t - F at the snapshots (runs without an exact solution) */
  /* volume: field_u is one [i, j, k] grid without snapshots or components
   * (a train run's eval), with the level set and maybe the grid reference */
  bool volume;
  npde_npy_array field_phi, field_ref;
  int n_axes, axes[3];
  npde_npy_array grid[3];
  int snapshots[16], n_snapshots; /* config.yaml's plot_snapshots */
} run;

static void run_free(run *r) {
  for (int c = 0; c < MAX_METRICS; ++c) free(r->m.col[c]);
  npde_npy_array *a[] = {&r->t, &r->rel, &r->fit_loss, &r->refit_loss, &r->field_t, &r->eval_rel, &r->field_u,
                         &r->field_exact, &r->field_phi, &r->field_ref, &r->grid[0], &r->grid[1], &r->grid[2],
                         &r->field_res};
  for (size_t i = 0; i < sizeof a / sizeof *a; ++i) npde_npy_array_free(a[i]);
}

/* Read member `name` of results.npz as f64; a missing member leaves *a empty. */
static npde_status read_member(const char *path, const char *name, npde_npy_array *a) {
  npde_status st = npde_npz_read(path, name, a);
  if (st == NPDE_ERR_NOT_FOUND) return NPDE_OK;
  NPDE_TRY(st);
  if (a->type == NPDE_NPY_F64) return NPDE_OK;
  double *d = malloc((size_t)(a->count > 0 ? a->count : 1) * sizeof *d);
  if (!d) {
    npde_npy_array_free(a);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory reading '%s' of %s", name, path);
  }
  for (int64_t i = 0; i < a->count; ++i) {
    switch (a->type) {
      case NPDE_NPY_F32: d[i] = ((const float *)a->data)[i]; break;
      case NPDE_NPY_I64: d[i] = (double)((const int64_t *)a->data)[i]; break;
      default: d[i] = (double)((const uint64_t *)a->data)[i]; break;
    }
  }
  free(a->data);
  a->data = d;
  a->type = NPDE_NPY_F64;
  return NPDE_OK;
}

/* Split a CSV line in place at commas outside quotes ("" unescaped); returns the number of fields (at
 * most max are stored). metrics.csv and sweep.csv both. */
static int split_quoted(char *line, char **fields, int max) {
  int n = 0;
  char *w = line;
  for (char *p = line;;) {
    if (n < max) fields[n] = w;
    ++n;
    bool quoted = *p == '"';
    if (quoted) ++p;
    for (; *p && (quoted || *p != ','); ++p) {
      if (quoted && *p == '"') {
        if (p[1] != '"') {
          quoted = false;
          continue;
        }
        ++p;
      }
      *w++ = *p;
    }
    bool more = *p == ',';
    *w++ = '\0';
    if (!more) break;
    ++p;
  }
  return n;
}


/* metrics.csv by column name (columns may be added or reordered); a header
 * with 'epoch' and no 't' is a train run's. A missing or empty file leaves
 * *found false; a malformed one is an error naming the line. A last line
 * without its newline (a run writing it) is ignored. */
static npde_status read_metrics(const char *path, metrics *m, bool *found) {
  *found = false;
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (errno == ENOENT) return NPDE_OK;
    return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: cannot read '%s': %s", path, strerror(errno));
  }
  char *text = NULL;
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1)) != NULL) {
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
      free(text);
      text = NULL;
    } else text[size] = '\0';
  }
  int err = errno;
  fclose(f);
  if (!text) return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: cannot read '%s': %s", path, strerror(err));

  if (size == 0) { /* created, nothing written yet */
    free(text);
    return NPDE_OK;
  }
  npde_status st = NPDE_OK;
  enum { MAX_COLS = 64 };
  char *fields[MAX_COLS];
  int where[MAX_METRICS], n_cols = 0, n_names = M_COUNT;
  const char *const *names = metric_names;
  char *line = text, *nl = strchr(line, '\n');
  if (!nl) st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot: '%s' has no header line", path);
  else {
    *nl = '\0';
    if (nl > line && nl[-1] == '\r') nl[-1] = '\0';
    n_cols = split_quoted(line, fields, MAX_COLS);
    if (n_cols > MAX_COLS) st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot: '%s' has %d columns (at most %d)", path, n_cols, MAX_COLS);
    bool has_t = false, has_epoch = false;
    for (int k = 0; st == NPDE_OK && k < n_cols; ++k) {
      has_t = has_t || strcmp(fields[k], "t") == 0;
      has_epoch = has_epoch || strcmp(fields[k], "epoch") == 0;
    }
    if (st == NPDE_OK && !has_t && !has_epoch)
      st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot: '%s' has no column 't' (an evolve run) or 'epoch' (a train run) in "
                      "its header line", path);
    if (has_epoch && !has_t) {
      m->train = true;
      names = train_names;
      n_names = E_COUNT;
    }
    for (int c = 0; st == NPDE_OK && c < n_names; ++c) {
      where[c] = -1;
      for (int k = 0; k < n_cols; ++k)
        if (strcmp(fields[k], names[c]) == 0) where[c] = k;
      if (where[c] < 0 && !(m->train ? train_optional[c] : metric_optional[c]))
        st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot: '%s' has no column '%s' in its header line", path, names[c]);
    }
  }
  int64_t cap = 0, lineno = 1;
  for (line = nl ? nl + 1 : NULL; st == NPDE_OK && line && *line; line = nl ? nl + 1 : NULL) {
    ++lineno;
    nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    int n = split_quoted(line, fields, MAX_COLS);
    if (n != n_cols) {
      if (!nl) break; /* a row being written */
      st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot: '%s' line %lld has %d fields, the header %d", path,
                      (long long)lineno, n, n_cols);
      break;
    }
    if (m->n == cap) {
      cap = cap ? 2 * cap : 256;
      for (int c = 0; c < n_names && st == NPDE_OK; ++c) {
        double *p = realloc(m->col[c], (size_t)cap * sizeof *p);
        if (!p) st = NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory reading '%s'", path);
        else m->col[c] = p;
      }
      if (st != NPDE_OK) break;
    }
    for (int c = 0; c < n_names; ++c) {
      if (where[c] < 0) {
        m->col[c][m->n] = NAN;
        continue;
      }
      char *end;
      const char *s = fields[where[c]];
      m->col[c][m->n] = strtod(s, &end);
      if (end == s || (*end && *end != '\r')) {
        st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot: '%s' line %lld: column '%s' is '%s', not a number", path,
                        (long long)lineno, names[c], s);
        break;
      }
    }
    ++m->n;
  }
  free(text);
  if (st == NPDE_OK) *found = true;
  return st;
}

/* The grid axes of the fields: the last eval stage's `axes` in config.yaml
 * (their order is the order of field_u's axes), else the grid_x<axis>
 * members in increasing axis order (the eval stage's default). */
static npde_status read_grid(const char *results, const npde_config *cfg, run *r) {
  r->n_axes = r->field_u.ndim - 2;
  if (r->n_axes < 1 || r->n_axes > 3)
    return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: field_u of '%s' has %d dimensions; expected 3 to 5 (snapshot, "
                      "1 to 3 grid axes, component)", results, r->field_u.ndim);
  const npde_config *stages = cfg ? npde_config_get(cfg, "stages") : NULL, *axes = NULL;
  for (size_t i = 0; stages && i < npde_config_size(stages); ++i) {
    const npde_config *eval = npde_config_get(npde_config_at(stages, i), "eval");
    if (eval && npde_config_get(eval, "axes")) axes = npde_config_get(eval, "axes");
  }
  int found = 0;
  if (axes && (int)npde_config_size(axes) == r->n_axes) {
    for (int i = 0; i < r->n_axes; ++i) {
      int64_t a = -1;
      if (npde_config_as_int(npde_config_at(axes, (size_t)i), &a) != NPDE_OK || a < 0 || a > 9999) break;
      r->axes[found++] = (int)a;
    }
  }
  char name[32];
  if (found == r->n_axes) {
    for (int i = 0; i < r->n_axes; ++i) {
      snprintf(name, sizeof name, "grid_x%d", r->axes[i]);
      NPDE_TRY(read_member(results, name, &r->grid[i]));
    }
  } else {
    found = 0;
    for (int a = 0; a < 1024 && found < r->n_axes; ++a) {
      snprintf(name, sizeof name, "grid_x%d", a);
      NPDE_TRY(read_member(results, name, &r->grid[found]));
      if (r->grid[found].data) r->axes[found++] = a;
    }
  }
  for (int i = 0; i < r->n_axes; ++i) {
    if (!r->grid[i].data)
      return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: '%s' has field_u but not the coordinates of its grid axis %d "
                        "(grid_x<axis>)", results, i);
    if (r->grid[i].ndim != 1 || r->grid[i].count != r->field_u.shape[i + 1] || r->grid[i].count < 2)
      return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: grid_x%d of '%s' has %lld points, field_u %lld along that axis "
                        "(at least 2 are needed)", r->axes[i], results, (long long)r->grid[i].count,
                        (long long)r->field_u.shape[i + 1]);
  }
  return NPDE_OK;
}

/* A train run's eval: field_u[i, j, k] ('ij' order, the last axis fastest),
 * field_exact, field_phi and field_reference alike, over grid_x0..2. */
static npde_status read_volume(const char *path, run *r) {
  r->volume = true;
  r->n_axes = 3;
  NPDE_TRY(read_member(path, "field_phi", &r->field_phi));
  NPDE_TRY(read_member(path, "field_reference", &r->field_ref));
  const struct {
    const char *name;
    const npde_npy_array *a;
  } same[] = {{"field_exact", &r->field_exact}, {"field_phi", &r->field_phi}, {"field_reference", &r->field_ref}};
  for (size_t f = 0; f < sizeof same / sizeof *same; ++f)
    if (same[f].a->data &&
        (same[f].a->ndim != 3 || memcmp(same[f].a->shape, r->field_u.shape, 3 * sizeof *r->field_u.shape) != 0))
      return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: %s of '%s' does not have the shape of field_u", same[f].name, path);
  for (int i = 0; i < 3; ++i) {
    char name[16];
    snprintf(name, sizeof name, "grid_x%d", i);
    r->axes[i] = i;
    NPDE_TRY(read_member(path, name, &r->grid[i]));
    if (!r->grid[i].data)
      return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: '%s' has field_u but not the coordinates of its grid axis %d "
                        "(grid_x%d)", path, i, i);
    if (r->grid[i].ndim != 1 || r->grid[i].count != r->field_u.shape[i] || r->grid[i].count < 2)
      return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: grid_x%d of '%s' has %lld points, field_u %lld along that axis "
                        "(at least 2 are needed)", i, path, (long long)r->grid[i].count,
                        (long long)r->field_u.shape[i]);
  }
  return NPDE_OK;
}

static npde_status read_results(const char *path, const npde_config *cfg, run *r) {
  NPDE_TRY(read_member(path, "t", &r->t));
  NPDE_TRY(read_member(path, "rel_error", &r->rel));
  NPDE_TRY(read_member(path, "fit_loss", &r->fit_loss));
  NPDE_TRY(read_member(path, "refit_loss", &r->refit_loss));
  if (r->rel.data && r->rel.count != r->t.count)
    return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: '%s' has %lld times t but %lld rel_error values", path,
                      (long long)r->t.count, (long long)r->rel.count);
  NPDE_TRY(read_member(path, "field_u", &r->field_u));
  if (!r->field_u.data) return NPDE_OK;
  NPDE_TRY(read_member(path, "field_exact", &r->field_exact));
  NPDE_TRY(read_member(path, "field_t", &r->field_t));
  if (!r->field_t.data && r->field_u.ndim == 3) return read_volume(path, r); /* snapshots would have times */
  NPDE_TRY(read_member(path, "eval_rel_error", &r->eval_rel));
  if (r->field_exact.data && (r->field_exact.ndim != r->field_u.ndim ||
                              memcmp(r->field_exact.shape, r->field_u.shape, sizeof r->field_u.shape) != 0))
    return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: field_exact of '%s' does not have the shape of field_u", path);
  if (r->field_t.count != r->field_u.shape[0])
    return NPDE_ERROR(NPDE_ERR_IO, "cannot plot: '%s' has %lld field snapshots but %lld times field_t", path,
                      (long long)r->field_u.shape[0], (long long)r->field_t.count);
  if (r->eval_rel.data && r->eval_rel.count != r->field_t.count) npde_npy_array_free(&r->eval_rel);
  NPDE_TRY(read_member(path, "field_residual", &r->field_res));
  if (r->field_res.data && (r->field_res.ndim != r->field_u.ndim ||
                            memcmp(r->field_res.shape, r->field_u.shape, sizeof r->field_u.shape) != 0))
    npde_npy_array_free(&r->field_res);
  return read_grid(path, cfg, r);
}

/* Everything in dir that the figures use. */
static npde_status read_run(const char *dir, run *r) {
  r->dir = dir;
  char *csv = join(dir, "metrics.csv"), *npz = join(dir, "results.npz"), *yaml = join(dir, "config.yaml");
  npde_config *cfg = NULL;
  npde_status st = NPDE_OK;
  struct stat sb;
  if (!csv || !npz || !yaml) st = NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot '%s': out of memory", dir);
  if (st == NPDE_OK && stat(yaml, &sb) == 0 && npde_config_load_file(yaml, &cfg) != NPDE_OK) cfg = NULL;
  const char *name = NULL;
  if (cfg && npde_config_get_string(cfg, "name", &name) != NPDE_OK) name = NULL;
  if (!name) {
    const char *slash = strrchr(dir, '/');
    name = slash && slash[1] ? slash + 1 : dir;
  }
  pltext_escape(name, r->title, sizeof r->title);
  const npde_config *snaps = cfg ? npde_config_get(cfg, "plot_snapshots") : NULL;
  for (size_t k = 0; k < npde_config_size(snaps) && k < 16; ++k) {
    int64_t v = 0;
    if (npde_config_as_int(npde_config_at(snaps, k), &v) == NPDE_OK) r->snapshots[r->n_snapshots++] = (int)v;
  }
  if (st == NPDE_OK) st = read_metrics(csv, &r->m, &r->have_metrics);
  if (st == NPDE_OK && stat(npz, &sb) == 0) {
    r->have_results = true;
    st = read_results(npz, cfg, r);
  }
  if (st == NPDE_OK && !r->have_metrics && !r->have_results)
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot '%s': it has neither metrics.csv nor results.npz (is it a run "
                    "directory? a run writes results.npz after its first stage)", dir);
  npde_config_destroy(&cfg);
  free(csv);
  free(npz);
  free(yaml);
  return st;
}

/* ------------------------------------------------------------- figures */

/* One PNG being drawn on its own PLplot stream into a temporary file. */
typedef struct figure {
  npde__afile file;
  PLINT prev, strm;
  int w, h;
} figure;

/* The file must be a complete PNG of w x h pixels: signature, IHDR, IEND. */
static npde_status check_png(const figure *fig) {
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
  unsigned char head[24], tail[12];
  FILE *f = fopen(fig->file.tmp, "rb");
  bool ok = f && fread(head, 1, 24, f) == 24 && fseek(f, -12, SEEK_END) == 0 && fread(tail, 1, 12, f) == 12;
  if (f) fclose(f);
  ok = ok && memcmp(head, sig, 8) == 0 && memcmp(head + 12, "IHDR", 4) == 0 && memcmp(tail, iend, 12) == 0;
  uint32_t w = ok ? (uint32_t)head[16] << 24 | (uint32_t)head[17] << 16 | (uint32_t)head[18] << 8 | head[19] : 0;
  uint32_t h = ok ? (uint32_t)head[20] << 24 | (uint32_t)head[21] << 16 | (uint32_t)head[22] << 8 | head[23] : 0;
  if (!ok || w != (uint32_t)fig->w || h != (uint32_t)fig->h)
    return NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s': PLplot's pngcairo driver did not write a complete %dx%d PNG "
                      "to '%s' (disk full?)", fig->file.path, fig->w, fig->h, fig->file.tmp);
  return NPDE_OK;
}

static npde_status figure_begin(figure *fig, const char *out_dir, const char *name, int w, int h, double text) {
  char *path = join(out_dir, name);
  if (!path) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  npde_status st = npde__afile_open(path, &fig->file); /* PLplot exits if it cannot open its file */
  free(path);
  NPDE_TRY(st);
  fig->w = w;
  fig->h = h;
  plgstrm(&fig->prev);
  plmkstrm(&fig->strm);
  if (fig->strm < 0) {
    plsstrm(fig->prev);
    npde__afile_abort(&fig->file);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: PLplot has no free stream");
  }
  plsdev("pngcairo");
  plsfnam(fig->file.tmp);
  plspage(0.0, 0.0, w, h, 0, 0);
  plscmap0(cmap0_r, cmap0_g, cmap0_b, C_COUNT);
  plinit();
  pladv(0);
  text_base = text;
  text_size(1.0);
  return NPDE_OK;
}

/* Finish the page, close the stream, check the PNG and rename it into place. */
static npde_status figure_end(figure *fig) {
  plend1();
  plsstrm(fig->prev);
  npde_status st = check_png(fig);
  if (st != NPDE_OK) {
    npde__afile_abort(&fig->file);
    return st;
  }
  return npde__afile_commit(&fig->file);
}

/* A title over the whole page. */
static void page_title(const char *text) {
  plvpor(0.0, 1.0, 0.0, 1.0);
  plwind(0.0, 1.0, 0.0, 1.0);
  plcol0(C_BLACK);
  text_size(1.35);
  plmtex("t", -1.5, 0.5, 0.5, text);
  text_size(1.0);
}

/* ------------------------------------------------------- curve panels */

typedef struct series {
  const double *x, *y;
  int64_t n;
  int color;         /* cmap0 index */
  const char *symbol; /* also this marker at every point (sparse series); NULL: none */
  const char *label; /* legend text; NULL: no legend entry */
} series;

typedef struct panel {
  double vp[4]; /* viewport in normalised page coordinates: xmin xmax ymin ymax */
  const char *title, *xlabel, *ylabel;
  bool logy, from_zero;
  double xr[2]; /* x range when xr[1] > xr[0]; else that of the data */
  const series *s;
  int n_series;
  const double *marks; /* x of dashed vertical lines (restarts) */
  int64_t n_marks;
  const char *mark_label; /* legend text of the lines; NULL: "restart" */
  const char *empty; /* the text of a panel without data */
} panel;

enum { MAX_SERIES = 4 };

static bool point_ok(const series *s, int64_t i, bool logy) {
  return isfinite(s->x[i]) && isfinite(s->y[i]) && (!logy || s->y[i] > 0);
}

/* The corner of the window (world coordinates, y as drawn) where the fewest
 * points lie, for the legend: top right, top left, bottom right, bottom left. */
static PLINT legend_corner(const panel *p, const double win[4]) {
  static const PLINT corners[4] = {PL_POSITION_TOP | PL_POSITION_RIGHT, PL_POSITION_TOP | PL_POSITION_LEFT,
                                   PL_POSITION_BOTTOM | PL_POSITION_RIGHT, PL_POSITION_BOTTOM | PL_POSITION_LEFT};
  int64_t count[4] = {0};
  for (int k = 0; k < p->n_series; ++k)
    for (int64_t i = 0; i < p->s[k].n; ++i) {
      if (!point_ok(&p->s[k], i, p->logy)) continue;
      double fx = (p->s[k].x[i] - win[0]) / (win[1] - win[0]);
      double y = p->logy ? log10(p->s[k].y[i]) : p->s[k].y[i], fy = (y - win[2]) / (win[3] - win[2]);
      bool right = fx > 0.5, left = fx < 0.5, top = fy > 0.65, bottom = fy < 0.35;
      count[0] += top && right;
      count[1] += top && left;
      count[2] += bottom && right;
      count[3] += bottom && left;
    }
  int best = 0;
  for (int c = 1; c < 4; ++c)
    if (count[c] < count[best]) best = c;
  return corners[best];
}

static void draw_legend(const panel *p, PLINT corner) {
  PLINT opt[MAX_SERIES + 1], text_colors[MAX_SERIES + 1], line_colors[MAX_SERIES + 1], styles[MAX_SERIES + 1];
  PLINT sym_colors[MAX_SERIES + 1], sym_numbers[MAX_SERIES + 1];
  PLFLT widths[MAX_SERIES + 1], sym_scales[MAX_SERIES + 1];
  const char *text[MAX_SERIES + 1], *symbols[MAX_SERIES + 1];
  int n = 0;
  for (int k = 0; k <= p->n_series; ++k) {
    bool mark = k == p->n_series;
    if (mark ? p->n_marks == 0 : !p->s[k].label) continue;
    opt[n] = PL_LEGEND_LINE | (!mark && p->s[k].symbol ? PL_LEGEND_SYMBOL : 0);
    text[n] = mark ? (p->mark_label ? p->mark_label : "restart") : p->s[k].label;
    text_colors[n] = C_BLACK;
    line_colors[n] = sym_colors[n] = mark ? C_MARK : p->s[k].color;
    styles[n] = mark ? 2 : 1;
    widths[n] = 2.0;
    sym_scales[n] = text_base * 1.2; /* pllegend's scales are relative to PLplot's default height */
    sym_numbers[n] = 1;
    symbols[n] = mark || !p->s[k].symbol ? DOT : p->s[k].symbol;
    ++n;
  }
  if (n < 2 && !(n == 1 && p->n_marks > 0)) return; /* one curve needs no legend */
  PLFLT lw, lh;
  pllegend(&lw, &lh, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, corner | PL_POSITION_INSIDE, 0.02, 0.03, 0.06,
           C_WHITE, C_BLACK, 1, 0, 0, n, opt, 1.0, text_base * 0.95, 2.0, 0.0, text_colors, text, NULL, NULL, NULL, NULL,
           line_colors, styles, widths, sym_colors, sym_scales, sym_numbers, symbols);
}

/* Curves in one viewport: log or linear y, restart lines, a legend. */
static npde_status draw_panel(const panel *p) {
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  int64_t nmax = 0;
  for (int k = 0; k < p->n_series; ++k) {
    const series *s = &p->s[k];
    nmax = s->n > nmax ? s->n : nmax;
    for (int64_t i = 0; i < s->n; ++i) {
      if (!point_ok(s, i, p->logy)) continue;
      xlo = fmin(xlo, s->x[i]);
      xhi = fmax(xhi, s->x[i]);
      ylo = fmin(ylo, s->y[i]);
      yhi = fmax(yhi, s->y[i]);
    }
  }
  plvpor(p->vp[0], p->vp[1], p->vp[2], p->vp[3]);
  plcol0(C_BLACK);
  plwidth(1.0);
  if (!(xlo <= xhi)) { /* nothing to draw */
    plwind(0.0, 1.0, 0.0, 1.0);
    plbox("bc", 0.0, 0, "bc", 0.0, 0);
    pllab(p->xlabel, p->ylabel, p->title);
    plptex(0.5, 0.5, 1.0, 0.0, 0.5, p->empty ? p->empty : "no data");
    return NPDE_OK;
  }
  double *ty = malloc((size_t)nmax * sizeof *ty);
  if (!ty) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  int n_legend = p->n_marks > 0;
  for (int k = 0; k < p->n_series; ++k) n_legend += p->s[k].label != NULL;
  if (p->xr[1] > p->xr[0]) {
    xlo = p->xr[0];
    xhi = p->xr[1];
  } else if (xhi == xlo) {
    double d = fmax(fabs(xlo) * 0.05, 0.5);
    xlo -= d;
    xhi += d;
  }
  if (p->logy) { /* whole decades, so that the axis has labelled ticks at both ends */
    ylo = floor(log10(ylo));
    yhi = ceil(log10(yhi));
    if (yhi <= ylo) yhi = ylo + 1.0;
  } else {
    if (p->from_zero) ylo = fmin(ylo, 0.0);
    double d = yhi > ylo ? 0.05 * (yhi - ylo) : fmax(fabs(ylo) * 0.1, 0.5);
    ylo -= p->from_zero && ylo == 0.0 ? 0.0 : d;
    yhi += n_legend > 1 ? 6 * d : d; /* room for the legend above the curves */
  }
  plwind(xlo, xhi, ylo, yhi);
  plcol0(C_GRID);
  plbox("g", 0.0, 0, p->logy ? "gl" : "g", 0.0, 0);
  plcol0(C_BLACK);
  plbox("bcnst", 0.0, 0, p->logy ? "bcnstlv" : "bcnstv", 0.0, 0);
  pllab(p->xlabel, p->ylabel, p->title);
  plcol0(C_MARK);
  pllsty(2);
  plwidth(1.5);
  for (int64_t i = 0; i < p->n_marks; ++i)
    if (p->marks[i] >= xlo && p->marks[i] <= xhi) pljoin(p->marks[i], ylo, p->marks[i], yhi);
  pllsty(1);
  plwidth(2.5);
  for (int k = 0; k < p->n_series; ++k) {
    const series *s = &p->s[k];
    plcol0(s->color);
    for (int64_t i = 0; i < s->n; ++i) ty[i] = p->logy && s->y[i] > 0 ? log10(s->y[i]) : s->y[i];
    for (int64_t i = 0; i < s->n;) { /* runs of drawable points; gaps at NaN */
      while (i < s->n && !point_ok(s, i, p->logy)) ++i;
      int64_t start = i;
      while (i < s->n && point_ok(s, i, p->logy)) ++i;
      if (i - start > 1) plline((PLINT)(i - start), s->x + start, ty + start);
      if (i > start && (s->symbol || i - start == 1))
        plstring((PLINT)(i - start), s->x + start, ty + start, s->symbol ? s->symbol : DOT);
    }
  }
  plwidth(1.0);
  free(ty);
  const double win[4] = {xlo, xhi, ylo, yhi};
  draw_legend(p, legend_corner(p, win));
  return NPDE_OK;
}

/* Viewport of panel (row, col) of a rows x cols grid below a page title. */
static void grid_viewport(double vp[4], int rows, int cols, int row, int col) {
  const double left = 0.08, right = 0.03, top = 0.10, bottom = 0.08, gap_x = 0.09, gap_y = 0.11;
  double w = (1.0 - left - right - (cols - 1) * gap_x) / cols, h = (1.0 - top - bottom - (rows - 1) * gap_y) / rows;
  vp[0] = left + col * (w + gap_x);
  vp[1] = vp[0] + w;
  vp[3] = 1.0 - top - row * (h + gap_y);
  vp[2] = vp[3] - h;
}

/* metrics.png: residual, CG iterations, step size and error against t. */
static npde_status plot_metrics(const run *r, const char *out_dir) {
  const metrics *m = &r->m;
  double *marks = malloc((size_t)(m->n > 0 ? m->n : 1) * sizeof *marks);
  if (!marks) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  int64_t n_marks = 0;
  for (int64_t i = 1; i < m->n; ++i) /* the row of step i is written before the restart after step i */
    if (m->col[M_RESTARTS][i] > m->col[M_RESTARTS][i - 1]) marks[n_marks++] = m->col[M_T][i - 1];
  const double *t = m->col[M_T];
  const series res[3] = {{t, m->col[M_RES], m->n, C_BLUE, NULL, "R#dtrue#u (relative to ||f||)"},
                         {t, m->col[M_RES_RMS], m->n, C_RED, NULL, "absolute: RMS of J d#gh/dt - f"},
                         {t, m->col[M_F_RMS], m->n, C_GREEN, NULL, "RMS of f (the scale)"}};
  const series cg[2] = {{t, m->col[M_CG], m->n, C_BLUE, NULL, "all solves of the step"},
                        {t, m->col[M_CG_MAX], m->n, C_RED, NULL, "largest solve"}};
  const series h = {t, m->col[M_H], m->n, C_BLUE, NULL, NULL};
  const series err[2] = {
      {r->t.data, r->rel.data, r->rel.data ? r->t.count : 0, C_BLUE, DOT, "snapshots (held-out points)"},
      {r->field_t.data, r->eval_rel.data, r->eval_rel.data ? r->eval_rel.count : 0, C_ORANGE, RING, "eval grid"}};
  panel panels[4] = {
      {.title = "PDE residual, relative and absolute", .xlabel = "t", .ylabel = "residual", .logy = true,
       .s = res, .n_series = isfinite(m->col[M_RES_RMS][m->n - 1]) ? 3 : 1},
      {.title = "CG iterations per step", .xlabel = "t", .ylabel = "iterations", .from_zero = true, .s = cg,
       .n_series = 2},
      {.title = "Step size", .xlabel = "t", .ylabel = "h", .logy = true, .s = &h, .n_series = 1},
      {.title = "Relative L#d2#u error against the exact solution", .xlabel = "t", .ylabel = "relative error",
       .logy = true, .s = err, .n_series = 2,
       .empty = r->have_results ? "no exact solution for this PDE" : "no results.npz"}};
  figure fig;
  npde_status st = figure_begin(&fig, out_dir, "metrics.png", METRICS_W, METRICS_H, 0.6);
  if (st == NPDE_OK) {
    char title[512];
    snprintf(title, sizeof title, "%s: %lld accepted steps to t = %.4g, %lld restart%s", r->title, (long long)m->n,
             t[m->n - 1], (long long)n_marks, n_marks == 1 ? "" : "s");
    page_title(title);
    double t0 = fmin(0.0, t[0]), t1 = t[m->n - 1]; /* one time axis for all panels */
    for (int64_t i = 0; i < r->t.count; ++i) t1 = fmax(t1, ((const double *)r->t.data)[i]);
    for (int k = 0; k < 4 && st == NPDE_OK; ++k) {
      grid_viewport(panels[k].vp, 2, 2, k / 2, k % 2);
      panels[k].xr[0] = t0;
      panels[k].xr[1] = t1;
      panels[k].marks = marks;
      panels[k].n_marks = n_marks;
      st = draw_panel(&panels[k]);
    }
    npde_status end = figure_end(&fig);
    st = st != NPDE_OK ? st : end;
  }
  free(marks);
  return st;
}

/* Copy the rows i of (x, y) where y[i] is finite and keep(i) into (ox, oy);
 * returns how many. Sparse measurements become one connected curve. */
static int64_t compact(const double *x, const double *y, int64_t n, const double *level, double want, double *ox,
                       double *oy) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i)
    if (isfinite(x[i]) && isfinite(y[i]) && (!level || level[i] == want)) {
      ox[k] = x[i];
      oy[k++] = y[i];
    }
  return k;
}

/* Last finite value of y (NaN if none). */
static double last_finite(const double *y, int64_t n) {
  for (int64_t i = n - 1; i >= 0; --i)
    if (isfinite(y[i])) return y[i];
  return NAN;
}

/* metrics.png of a train run: loss, errors against the exact solution and,
 * for Gauss-Newton, lambda and CG iterations, against epoch. */
static npde_status plot_train_metrics(const run *r, const char *out_dir) {
  enum { MAX_LEVELS = 4, MAX_LEVEL_MARKS = 20 }; /* one colour per level; more lines than that are a cycle */
  const metrics *m = &r->m;
  const int64_t n = m->n;
  const double *ep = m->col[E_EPOCH], *lv = m->col[E_LEVEL];
  double *buf = malloc((size_t)n * 9 * sizeof *buf);
  if (!buf) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  double *lx = buf, *ly = buf + n, *rx = buf + 2 * n, *ry = buf + 3 * n, *ix = buf + 4 * n, *iy = buf + 5 * n,
         *gx = buf + 6 * n, *gy = buf + 7 * n, *marks = buf + 8 * n;

  /* the loss of each resolution level as its own curve: a cycle alternates levels every epoch */
  int n_levels = 1;
  bool gn = false;
  int64_t n_changes = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (isfinite(lv[i]) && lv[i] >= 0 && lv[i] < 64 && (int)lv[i] + 1 > n_levels) n_levels = (int)lv[i] + 1;
    gn = gn || isfinite(m->col[E_LAMBDA][i]);
    if (i > 0 && lv[i] != lv[i - 1] && isfinite(lv[i]) && isfinite(lv[i - 1])) n_changes++;
  }
  bool per_level = n_levels > 1 && n_levels <= MAX_LEVELS;
  series loss[MAX_LEVELS];
  char labels[MAX_LEVELS][48];
  static const int level_colors[MAX_LEVELS] = {C_BLUE, C_RED, C_ORANGE, C_GREEN};
  int64_t used = 0;
  for (int l = 0; l < (per_level ? n_levels : 1); ++l) {
    int64_t k = compact(ep, m->col[E_LOSS], n, per_level ? lv : NULL, l, lx + used, ly + used);
    double h = NAN;
    for (int64_t i = 0; i < n && !isfinite(h); ++i)
      if (lv[i] == l) h = m->col[E_H][i];
    if (isfinite(h)) snprintf(labels[l], sizeof labels[l], "level %d (h = %.3g)", l, h);
    else snprintf(labels[l], sizeof labels[l], "level %d", l);
    loss[l] = (series){lx + used, ly + used, k, level_colors[l], NULL, per_level ? labels[l] : NULL};
    used += k;
  }
  int64_t n_marks = 0;
  if (n_changes <= MAX_LEVEL_MARKS)
    for (int64_t i = 1; i < n; ++i)
      if (lv[i] != lv[i - 1] && isfinite(lv[i]) && isfinite(lv[i - 1])) marks[n_marks++] = 0.5 * (ep[i - 1] + ep[i]);

  int64_t n_rmse = compact(ep, m->col[E_RMSE], n, NULL, 0, rx, ry);
  int64_t n_linf = compact(ep, m->col[E_LINF], n, NULL, 0, ix, iy);
  int64_t n_lambda = compact(ep, m->col[E_LAMBDA], n, NULL, 0, gx, gy);
  const bool dots = n_rmse + n_linf <= 120; /* markers while they stay apart */
  const series err[2] = {{rx, ry, n_rmse, C_BLUE, dots ? DOT : NULL, "RMSE"},
                         {ix, iy, n_linf, C_RED, dots ? RING : NULL, "L\xe2\x88\x9e"}};
  const series lambda = {gx, gy, n_lambda, C_BLUE, NULL, NULL};
  const series cg = {ep, m->col[E_CG], n, C_BLUE, NULL, NULL};
  panel panels[4] = {
      {.title = "Training loss: mean of r#u2#d/2 over the collocation points", .xlabel = "epoch",
       .ylabel = "loss", .logy = true, .s = loss, .n_series = per_level ? n_levels : 1},
      {.title = "Error against the exact solution at the grid nodes", .xlabel = "epoch", .ylabel = "error",
       .logy = true, .s = err, .n_series = 2, .empty = "no exact solution for this PDE"},
      {.title = "Levenberg-Marquardt damping #gl", .xlabel = "epoch", .ylabel = "#gl", .logy = true, .s = &lambda,
       .n_series = 1},
      {.title = "CG iterations per epoch", .xlabel = "epoch", .ylabel = "iterations", .from_zero = true, .s = &cg,
       .n_series = 1}};
  figure fig;
  npde_status st = figure_begin(&fig, out_dir, "metrics.png", METRICS_W, METRICS_H, 0.6);
  if (st == NPDE_OK) {
    char title[512], errs[128] = "", levels[32] = "";
    double rmse = last_finite(m->col[E_RMSE], n), linf = last_finite(m->col[E_LINF], n);
    if (isfinite(rmse) || isfinite(linf))
      snprintf(errs, sizeof errs, ", RMSE %.3e, L\xe2\x88\x9e %.3e", rmse, linf);
    if (n_levels > 1) snprintf(levels, sizeof levels, ", %d levels", n_levels);
    snprintf(title, sizeof title, "%s: %lld epochs (%s%s): loss %.3e%s", r->title, (long long)n,
             gn ? "Gauss-Newton" : "Adam", levels, last_finite(m->col[E_LOSS], n), errs);
    page_title(title);
    double x0 = fmin(0.0, ep[0]), x1 = ep[n - 1]; /* one epoch axis for all panels */
    const int n_panels = gn ? 4 : 2;
    for (int k = 0; k < n_panels && st == NPDE_OK; ++k) {
      if (gn) grid_viewport(panels[k].vp, 2, 2, k / 2, k % 2);
      else grid_viewport(panels[k].vp, 2, 1, k, 0);
      panels[k].xr[0] = x0;
      panels[k].xr[1] = x1;
      panels[k].marks = marks;
      panels[k].n_marks = n_marks;
      panels[k].mark_label = "level change";
      st = draw_panel(&panels[k]);
    }
    npde_status end = figure_end(&fig);
    st = st != NPDE_OK ? st : end;
  }
  free(buf);
  return st;
}

/* fit_loss.png: the loss of every epoch of the initial fit and of the refit. */
static npde_status plot_fit_loss(const run *r, const char *out_dir) {
  int64_t n = r->fit_loss.count > r->refit_loss.count ? r->fit_loss.count : r->refit_loss.count;
  double *epoch = malloc((size_t)(n > 0 ? n : 1) * sizeof *epoch);
  if (!epoch) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  for (int64_t i = 0; i < n; ++i) epoch[i] = (double)(i + 1);
  const series s[2] = {{epoch, r->fit_loss.data, r->fit_loss.count, C_BLUE, NULL, "initial fit"},
                       {epoch, r->refit_loss.data, r->refit_loss.count, C_RED, NULL, "refit of the last restart"}};
  panel p = {.vp = {0.10, 0.96, 0.12, 0.84}, .title = "Fit: mean squared error per Adam epoch", .xlabel = "epoch",
             .ylabel = "loss", .logy = true, .s = s, .n_series = r->refit_loss.data ? 2 : 1};
  figure fig;
  npde_status st = figure_begin(&fig, out_dir, "fit_loss.png", LOSS_W, LOSS_H, 0.75);
  if (st == NPDE_OK) {
    page_title(r->title);
    st = draw_panel(&p);
    npde_status end = figure_end(&fig);
    st = st != NPDE_OK ? st : end;
  }
  free(epoch);
  return st;
}

/* --------------------------------------------------------- field maps */

typedef struct map {
  double box[4];      /* area for the map (not its colour bar), normalised page coordinates */
  const double *z;    /* nx x ny values, z[i * ny + j] at (x[i], y[j]) */
  const double *x, *y;
  int64_t nx, ny;
  double lo, hi;      /* colour range */
  bool diverging;     /* blue-white-red (an error) instead of sequential */
  const double *zero; /* nx x ny values whose zero contour is drawn over the map (an interface); NULL: none */
  const char *title, *xlabel, *ylabel;
  const char *label; /* the colour bar's: the field ("u", "u - exact") */
} map;

/* cmap1: a viridis-like sequential map, or blue-white-red centred at 0.5. */
static void set_cmap1(bool diverging) {
  static const PLFLT pos[5] = {0.0, 0.25, 0.5, 0.75, 1.0};
  static const PLFLT seq[3][5] = {{0.267, 0.229, 0.128, 0.369, 0.993},
                                  {0.005, 0.322, 0.567, 0.789, 0.906},
                                  {0.329, 0.546, 0.551, 0.383, 0.144}};
  static const PLFLT div[3][5] = {{0.019, 0.263, 0.969, 0.839, 0.404},
                                  {0.188, 0.576, 0.969, 0.376, 0.000},
                                  {0.380, 0.765, 0.969, 0.302, 0.122}};
  const PLFLT(*c)[5] = diverging ? div : seq;
  plscmap1n(256);
  plscmap1l(1, 5, pos, c[0], c[1], c[2], NULL);
}

static npde_status draw_map(const map *m) {
  const double **rows = malloc((size_t)m->nx * sizeof *rows);
  if (!rows) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  for (int64_t i = 0; i < m->nx; ++i) rows[i] = m->z + i * m->ny;
  double x0 = m->x[0], x1 = m->x[m->nx - 1], y0 = m->y[0], y1 = m->y[m->ny - 1];
  double lo = m->lo, hi = m->hi;
  if (!(hi > lo)) { /* a constant field */
    double d = fmax(fabs(lo) * 0.01, 1e-12);
    lo -= d;
    hi += d;
  }
  PLFLT levels[N_LEVELS + 1];
  for (int k = 0; k <= N_LEVELS; ++k) levels[k] = lo + (hi - lo) * k / N_LEVELS;
  plvpas(m->box[0], m->box[1], m->box[2], m->box[3], fabs((y1 - y0) / (x1 - x0)));
  plwind(x0, x1, y0, y1);
  set_cmap1(m->diverging);
  plpsty(0);
  PLcGrid grid = {.xg = (PLFLT *)m->x, .yg = (PLFLT *)m->y, .nx = (PLINT)m->nx, .ny = (PLINT)m->ny};
  plshades(rows, (PLINT)m->nx, (PLINT)m->ny, NULL, x0, x1, y0, y1, levels, N_LEVELS + 1, 1.0, 0, 0.0, plfill, 1,
           pltr1, &grid);
  if (m->zero) { /* black on a white halo: visible on either colour map, at either end */
    const double **zrows = malloc((size_t)m->nx * sizeof *zrows);
    if (!zrows) {
      free(rows);
      return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
    }
    for (int64_t i = 0; i < m->nx; ++i) zrows[i] = m->zero + i * m->ny;
    const PLFLT zero_level = 0.0;
    for (int pass = 0; pass < 2; ++pass) {
      plcol0(pass ? C_BLACK : C_WHITE);
      plwidth(pass ? 1.8 : 5.0);
      plcont(zrows, (PLINT)m->nx, (PLINT)m->ny, 1, (PLINT)m->nx, 1, (PLINT)m->ny, &zero_level, 1, pltr1, &grid);
    }
    plwidth(1.0);
    free(zrows);
  }
  plcol0(C_BLACK);
  plbox("bcnst", 0.0, 0, "bcnstv", 0.0, 0);
  pllab(m->xlabel, m->ylabel, m->title);
  PLFLT bw, bh;
  PLINT n_values = N_LEVELS + 1, label_opt = PL_COLORBAR_LABEL_TOP, sub_ticks = 0;
  PLFLT ticks = 0.0;
  const PLFLT *values = levels;
  const char *axis = "bcvtm", *label = m->label ? m->label : "";
  text_size(0.9);
  plcolorbar(&bw, &bh, PL_COLORBAR_SHADE, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE | PL_POSITION_VIEWPORT, 0.04, 0.0,
             0.06, 1.0, C_WHITE, C_BLACK, 1, 0.0, 0.0, 0, 0.0, 1, &label_opt, &label, 1, &axis, &ticks, &sub_ticks,
             &n_values, &values);
  text_size(1.0);
  free(rows);
  return NPDE_OK;
}

/* Finite minimum and maximum of z (lo > hi when none is finite). */
static void finite_range(const double *z, int64_t n, double *lo, double *hi) {
  for (int64_t i = 0; i < n; ++i)
    if (isfinite(z[i])) {
      *lo = fmin(*lo, z[i]);
      *hi = fmax(*hi, z[i]);
    }
}

/* The shared colour range of u and e (e may be NULL) and the symmetric range of the error. */
static void map_ranges(const double *u, const double *e, const double *err, int64_t n, double *lo, double *hi,
                       double *emax) {
  double elo = INFINITY, ehi = -INFINITY;
  *lo = INFINITY, *hi = -INFINITY;
  finite_range(u, n, lo, hi);
  if (e) finite_range(e, n, lo, hi);
  if (err) finite_range(err, n, &elo, &ehi);
  *emax = fmax(fabs(elo), fabs(ehi));
  if (!(*lo <= *hi)) *lo = *hi = 0.0;
  if (!(*emax > 0)) *emax = 1e-12;
}

/* The 2D slice of component 0 of snapshot s (3D: the middle of the last
 * axis) into out[i * ny + j]; non-finite values become NaN for curves and
 * are counted. */
static int64_t extract_slice(const npde_npy_array *f, int64_t s, int n_axes, double *out) {
  const double *d = f->data;
  int64_t nx = f->shape[1], ny = n_axes >= 2 ? f->shape[2] : 1, nz = n_axes == 3 ? f->shape[3] : 1;
  int64_t K = f->shape[f->ndim - 1], kz = nz / 2, bad = 0;
  for (int64_t i = 0; i < nx; ++i)
    for (int64_t j = 0; j < ny; ++j) {
      double v = d[(((s * nx + i) * ny + j) * nz + kz) * K];
      bad += !isfinite(v);
      out[i * ny + j] = v;
    }
  return bad;
}

/* fields_NNNN.png for snapshot s. */
static npde_status plot_fields(const run *r, const char *out_dir, int64_t s, const char *name) {
  const npde_npy_array *fu = &r->field_u;
  bool exact = r->field_exact.data != NULL, resid = false;
  int64_t nx = fu->shape[1], ny = r->n_axes >= 2 ? fu->shape[2] : 1, n = nx * ny, K = fu->shape[fu->ndim - 1];
  double *u = malloc((size_t)n * 3 * sizeof *u);
  if (!u) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  double *e = u + n, *err = u + 2 * n;
  int64_t bad = extract_slice(fu, s, r->n_axes, u);
  if (exact) {
    bad += extract_slice(&r->field_exact, s, r->n_axes, e);
    for (int64_t i = 0; i < n; ++i) err[i] = u[i] - e[i];
  } else if (r->field_res.data) { /* no exact solution: the PDE residual there, when the run knew theta_dot */
    extract_slice(&r->field_res, s, r->n_axes, err);
    for (int64_t i = 0; i < n && !resid; ++i) resid = isfinite(err[i]);
  }
  double lo, hi, emax;
  map_ranges(u, exact ? e : NULL, exact || resid ? err : NULL, n, &lo, &hi, &emax);

  char title[768], comp[64] = "", slice[96] = "", rel[64] = "", extra[64] = "";
  if (K > 1) snprintf(comp, sizeof comp, ", component 0 of %lld", (long long)K);
  if (r->n_axes == 3)
    snprintf(slice, sizeof slice, ", slice x#d%d#u = %.3g", r->axes[2], ((const double *)r->grid[2].data)[fu->shape[3] / 2]);
  if (r->eval_rel.data && isfinite(((const double *)r->eval_rel.data)[s]))
    snprintf(rel, sizeof rel, ", relative L#d2#u error %.3e", ((const double *)r->eval_rel.data)[s]);
  if (bad) snprintf(extra, sizeof extra, " (not finite: %lld values)", (long long)bad);
  snprintf(title, sizeof title, "%s: t = %.4g (snapshot %lld of %lld)%s%s%s%s", r->title,
           ((const double *)r->field_t.data)[s], (long long)s, (long long)fu->shape[0], comp, slice, rel, extra);
  char xlabel[32], ylabel[32] = "u", u_label[32] = "u", exact_label[40], err_label[48];
  if (K > 1) snprintf(u_label, sizeof u_label, "u#d0#u");
  snprintf(exact_label, sizeof exact_label, "exact %s", u_label);
  snprintf(err_label, sizeof err_label, "%s - exact", u_label);
  snprintf(xlabel, sizeof xlabel, "x#d%d#u", r->axes[0]);
  if (r->n_axes >= 2) snprintf(ylabel, sizeof ylabel, "x#d%d#u", r->axes[1]);

  int w = r->n_axes == 1 ? CURVES_W : exact ? FIELDS_W : resid ? FIELDS_W2 : FIELDS_W1,
      h = r->n_axes == 1 ? CURVES_H : FIELDS_H;
  figure fig;
  npde_status st = figure_begin(&fig, out_dir, name, w, h, w == FIELDS_W1 ? 0.8 : 0.6);
  if (st != NPDE_OK) {
    free(u);
    return st;
  }
  page_title(title);
  const double *x = r->grid[0].data;
  if (r->n_axes == 1) { /* curves: u with the exact solution, and the error */
    const series both[2] = {{x, u, nx, C_BLUE, NULL, "network u"}, {x, e, exact ? nx : 0, C_BLACK, NULL, "exact"}};
    const series diff = {x, err, exact || resid ? nx : 0, C_RED, NULL, NULL};
    panel p[2] = {{.title = exact ? "network u and the exact solution" : "network u", .xlabel = xlabel, .ylabel = "u", .s = both,
                   .n_series = exact ? 2 : 1},
                  {.title = resid ? "PDE residual N#dt#u - F (no exact solution)" : "error u - exact",
                   .xlabel = xlabel, .ylabel = resid ? "N#dt#u - F" : "u - exact", .s = &diff, .n_series = 1,
                   .empty = "no exact solution for this PDE"}};
    for (int k = 0; k < 2 && st == NPDE_OK; ++k) {
      grid_viewport(p[k].vp, 1, 2, 0, k);
      p[k].vp[2] += 0.04;
      p[k].vp[3] -= 0.07;
      st = draw_panel(&p[k]);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) { /* plshades needs finite values; the title counts the others */
      if (!isfinite(u[i])) u[i] = lo;
      if (exact && !isfinite(e[i])) e[i] = lo;
      if (exact && !isfinite(err[i])) err[i] = 0.0;
    }
    const double *y = r->grid[1].data;
    map maps[3] = {
        {.z = u, .x = x, .y = y, .nx = nx, .ny = ny, .lo = lo, .hi = hi, .title = "network u", .label = u_label},
        {.z = e, .x = x, .y = y, .nx = nx, .ny = ny, .lo = lo, .hi = hi, .title = "exact solution",
         .label = exact_label},
        {.z = err, .x = x, .y = y, .nx = nx, .ny = ny, .lo = -emax, .hi = emax, .diverging = true,
         .title = "error u - exact", .label = err_label}};
    if (resid) /* the second map: the PDE residual, where an exact solution would show the error */
      maps[1] = (map){.z = err, .x = x, .y = y, .nx = nx, .ny = ny, .lo = -emax, .hi = emax, .diverging = true,
                      .title = "PDE residual N#dt#u - F (no exact solution)", .label = "N#dt#u - F"};
    int n_maps = exact ? 3 : resid ? 2 : 1;
    for (int k = 0; k < n_maps && st == NPDE_OK; ++k) { /* pixel margins: axis labels, colour bar, titles */
      double width = 1.0 / n_maps;
      maps[k].box[0] = k * width + 90.0 / w;
      maps[k].box[1] = (k + 1) * width - 150.0 / w;
      maps[k].box[2] = 70.0 / h;
      maps[k].box[3] = 1.0 - 110.0 / h;
      maps[k].xlabel = xlabel;
      maps[k].ylabel = ylabel;
      st = draw_map(&maps[k]);
    }
  }
  npde_status end = figure_end(&fig);
  free(u);
  return st != NPDE_OK ? st : end;
}

/* fields.png of a train run: the slice k = nz / 2 of the last axis (z) of
 * u, of the exact solution (or, without one, the grid reference) and of the
 * difference, with the interface (zero contour of phi) over each map. */
static npde_status plot_volume(const run *r, const char *out_dir, const char *name) {
  const npde_npy_array *fu = &r->field_u;
  const npde_npy_array *other = r->field_exact.data ? &r->field_exact : r->field_ref.data ? &r->field_ref : NULL;
  const bool exact = other == &r->field_exact, have_phi = r->field_phi.data != NULL;
  const int64_t nx = fu->shape[0], ny = fu->shape[1], nz = fu->shape[2], kz = nz / 2, n = nx * ny;
  double *u = malloc((size_t)n * 4 * sizeof *u);
  if (!u) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  double *e = u + n, *err = u + 2 * n, *phi = u + 3 * n;
  const double *fd = fu->data, *od = other ? other->data : NULL, *pd = r->field_phi.data;
  int64_t bad = 0;
  for (int64_t p = 0; p < n; ++p) { /* p = i * ny + j of the slice, so (i, j, kz) is p * nz + kz */
    const int64_t at = p * nz + kz;
    u[p] = fd[at];
    bad += !isfinite(u[p]);
    if (od) {
      e[p] = od[at];
      bad += !isfinite(e[p]);
      err[p] = u[p] - e[p];
    }
    if (have_phi) phi[p] = isfinite(pd[at]) ? pd[at] : 0.0;
  }
  /* the norms of the whole volume, as the train and eval stages report them */
  double sum = 0.0, linf = 0.0;
  int64_t n_all = nx * ny * nz, n_finite = 0;
  for (int64_t i = 0; od && i < n_all; ++i) {
    double d = fd[i] - od[i];
    if (!isfinite(d)) continue;
    sum += d * d;
    linf = fmax(linf, fabs(d));
    ++n_finite;
  }
  double lo, hi, emax;
  map_ranges(u, od ? e : NULL, od ? err : NULL, n, &lo, &hi, &emax);
  for (int64_t i = 0; i < n; ++i) { /* plshades needs finite values; the title counts the others */
    if (!isfinite(u[i])) u[i] = lo;
    if (od && !isfinite(e[i])) e[i] = lo;
    if (od && !isfinite(err[i])) err[i] = 0.0;
  }

  char title[768], norms[128] = "", extra[64] = "";
  if (n_finite > 0)
    snprintf(norms, sizeof norms, "; u - %s on the grid: RMSE %.3e, L\xe2\x88\x9e %.3e", exact ? "exact" : "reference",
             sqrt(sum / (double)n_finite), linf);
  if (bad) snprintf(extra, sizeof extra, " (not finite: %lld values)", (long long)bad);
  const double z = ((const double *)r->grid[2].data)[kz];
  snprintf(title, sizeof title, "%s: slice z = %.4g (node %lld) of the %lldx%lldx%lld grid%s%s", r->title, z,
           (long long)kz, (long long)nx, (long long)ny, (long long)nz, norms, extra);
  char t_u[64];
  snprintf(t_u, sizeof t_u, "network u%s", have_phi ? " (line: the interface #gf = 0)" : "");
  const char *t_o = exact ? "exact solution" : "grid reference solution";
  const char *t_err = exact ? "error u - exact" : "u - reference";

  int w = od ? FIELDS_W : FIELDS_W1, h = FIELDS_H;
  figure fig;
  npde_status st = figure_begin(&fig, out_dir, name, w, h, w == FIELDS_W1 ? 0.8 : 0.6);
  if (st != NPDE_OK) {
    free(u);
    return st;
  }
  page_title(title);
  const double *x = r->grid[0].data, *y = r->grid[1].data, *zero = have_phi ? phi : NULL;
  map maps[3] = {
      {.z = u, .x = x, .y = y, .nx = nx, .ny = ny, .lo = lo, .hi = hi, .zero = zero, .title = t_u, .label = "u"},
      {.z = e, .x = x, .y = y, .nx = nx, .ny = ny, .lo = lo, .hi = hi, .zero = zero, .title = t_o,
       .label = exact ? "exact u" : "reference u"},
      {.z = err, .x = x, .y = y, .nx = nx, .ny = ny, .lo = -emax, .hi = emax, .diverging = true, .zero = zero,
       .title = t_err, .label = exact ? "u - exact" : "u - reference"}};
  int n_maps = od ? 3 : 1;
  for (int k = 0; k < n_maps && st == NPDE_OK; ++k) { /* the margins of plot_fields */
    double width = 1.0 / n_maps;
    maps[k].box[0] = k * width + 90.0 / w;
    maps[k].box[1] = (k + 1) * width - 150.0 / w;
    maps[k].box[2] = 70.0 / h;
    maps[k].box[3] = 1.0 - 110.0 / h;
    maps[k].xlabel = "x";
    maps[k].ylabel = "y";
    st = draw_map(&maps[k]);
  }
  npde_status end = figure_end(&fig);
  free(u);
  return st != NPDE_OK ? st : end;
}

/* ------------------------------------------------------------ the entry */

/* Append " name" to the list of figures written (for the log line). */
static void note_done(char *done, size_t size, const char *name, int *n_done) {
  size_t k = strlen(done);
  if (k + strlen(name) + 5 < size) snprintf(done + k, size - k, " %s", name);
  else if (k + 5 < size && (k < 4 || strcmp(done + k - 4, " ...") != 0)) snprintf(done + k, size - k, " ...");
  ++*n_done;
}

/* ------------------------------------------------------------- sweeps */

enum { SWEEP_MAX_COLS = 96, SWEEP_MAX_PANELS = 12, SWEEP_GROUPS = 4 };

/* The whole file at path, NUL-terminated (malloc'ed), or NULL. */
static char *slurp(const char *path) {
  char *text = NULL;
  size_t len = 0;
  if (npde__read_file(path, &text, &len) != NPDE_OK) {
    npde_clear_error();
    return NULL;
  }
  char *t = realloc(text, len + 1);
  if (!t) {
    free(text);
    return NULL;
  }
  t[len] = '\0';
  return t;
}

/* sweep.png of a sweep directory: each figure of sweep.csv against the first swept key's values, one line per value
 * of the other keys (sweep.axes names the swept columns), finished members only. */
static npde_status plot_sweep(const char *dir, const char *out_dir) {
  char *csv_path = join(dir, "sweep.csv"), *axes_path = join(dir, "sweep.axes");
  char *csv = csv_path ? slurp(csv_path) : NULL, *axes = axes_path ? slurp(axes_path) : NULL;
  npde_status st = NPDE_OK;
  if (!csv) st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot the sweep '%s': cannot read its sweep.csv", dir);
  else if (!axes)
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot the sweep '%s': it has no sweep.axes (the swept keys; sweeps write it "
                    "since npde plots them)", dir);
  char *keys[SWEEP_MAX_COLS], *head[SWEEP_MAX_COLS], **rows = NULL;
  int n_keys = 0, n_head = 0, n_rows = 0, axis_col[SWEEP_MAX_COLS], fig_col[SWEEP_MAX_COLS], n_fig = 0, n_all = 0;
  for (char *k = axes, *e; st == NPDE_OK && k && *k && n_keys < SWEEP_MAX_COLS; k = e + 1) {
    if (!(e = strchr(k, '\n'))) break;
    *e = '\0';
    keys[n_keys++] = k;
  }
  char *nl = csv ? strchr(csv, '\n') : NULL;
  if (st == NPDE_OK && (!nl || n_keys == 0))
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot the sweep '%s': sweep.csv has no rows, or sweep.axes no keys", dir);
  if (st == NPDE_OK) {
    *nl = '\0';
    n_head = split_quoted(csv, head, SWEEP_MAX_COLS);
    if (n_head > SWEEP_MAX_COLS) st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot the sweep '%s': too many columns", dir);
  }
  for (int a = 0; st == NPDE_OK && a < n_keys; ++a) {
    axis_col[a] = -1;
    for (int c = 2; c < n_head; ++c)
      if (!strcmp(head[c], keys[a])) axis_col[a] = c;
    if (axis_col[a] < 0)
      st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot the sweep '%s': sweep.csv has no column '%s'", dir, keys[a]);
  }
  int n_lines = 0;
  for (char *p = nl ? nl + 1 : NULL; st == NPDE_OK && p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
    ++n_lines;
  rows = st == NPDE_OK ? calloc((size_t)(n_lines + 1) * SWEEP_MAX_COLS, sizeof *rows) : NULL;
  if (st == NPDE_OK && !rows) st = NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  for (char *p = nl ? nl + 1 : NULL; st == NPDE_OK && p && *p;) { /* the finished members' fields */
    char *end = strchr(p, '\n');
    if (end) *end = '\0';
    char **f = rows + (size_t)n_rows * SWEEP_MAX_COLS;
    ++n_all;
    if (split_quoted(p, f, SWEEP_MAX_COLS) == n_head && !strcmp(f[1], "ok")) ++n_rows;
    p = end ? end + 1 : NULL;
  }
#define CELL(i, c) rows[(size_t)(i) * SWEEP_MAX_COLS + (size_t)(c)]
  int n_constant = 0; /* figures that take one value in every finished run say nothing against the keys */
  for (int c = 2; st == NPDE_OK && c < n_head; ++c) {
    bool swept = false, varies = false;
    for (int a = 0; a < n_keys; ++a) swept = swept || axis_col[a] == c;
    for (int i = 1; !swept && i < n_rows && !varies; ++i) varies = strcmp(CELL(i, c), CELL(0, c)) != 0;
    if (!swept && !varies) ++n_constant;
    else if (!swept && n_fig < SWEEP_MAX_PANELS) fig_col[n_fig++] = c;
  }
  /* x: the first key's values, numbers when all are, else their order of first appearance */
  double *x = st == NPDE_OK ? calloc((size_t)(3 * n_rows + 1), sizeof *x) : NULL, *y = x ? x + n_rows : NULL;
  int *group = x ? calloc((size_t)n_rows + 1, sizeof *group) : NULL;
  if (st == NPDE_OK && (!x || !group)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  bool numeric = true;
  for (int i = 0; st == NPDE_OK && i < n_rows; ++i) {
    char *e;
    x[i] = strtod(CELL(i, axis_col[0]), &e);
    numeric = numeric && e != CELL(i, axis_col[0]) && *e == '\0';
  }
  for (int i = 0, distinct = 0; st == NPDE_OK && !numeric && i < n_rows; ++i) {
    x[i] = distinct;
    for (int j = 0; j < i; ++j)
      if (!strcmp(CELL(i, axis_col[0]), CELL(j, axis_col[0]))) x[i] = x[j];
    distinct += x[i] == distinct;
  }
  /* the lines: one per combination of the other keys' values */
  char labels[SWEEP_GROUPS][160];
  int n_groups = 0, dropped = 0;
  for (int i = 0; st == NPDE_OK && i < n_rows; ++i) {
    char label[160] = "";
    size_t used = 0;
    for (int a = 1; a < n_keys && used < sizeof label; ++a)
      used += (size_t)snprintf(label + used, sizeof label - used, "%s%s=%s", a > 1 ? ", " : "", keys[a],
                               CELL(i, axis_col[a]));
    group[i] = -1;
    for (int g = 0; g < n_groups; ++g)
      if (!strcmp(labels[g], label)) group[i] = g;
    if (group[i] < 0 && n_groups < SWEEP_GROUPS) {
      snprintf(labels[n_groups], sizeof labels[0], "%s", label);
      group[i] = n_groups++;
    }
    dropped += group[i] < 0;
  }
  if (st == NPDE_OK && n_fig == 0)
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot plot the sweep '%s': sweep.csv has no figure columns", dir);
  const int cols = n_fig < 3 ? (n_fig > 0 ? n_fig : 1) : 3, prow = (n_fig + cols - 1) / cols;
  figure fig;
  if (st == NPDE_OK) st = figure_begin(&fig, out_dir, "sweep.png", 620 * cols, 100 + 470 * prow, 0.6);
  if (st == NPDE_OK) {
    char title[768], escaped[256];
    const char *slash = strrchr(dir, '/');
    pltext_escape(slash && slash[1] ? slash + 1 : dir, escaped, sizeof escaped);
    snprintf(title, sizeof title, "sweep %s, %d of %d runs: x %s%s%s; %d constant figures not drawn%s", escaped, n_rows,
             n_all, keys[0], numeric ? "" : " (its values in order)", n_keys > 1 ? ", lines: the others" : "",
             n_constant, dropped ? "; some lines left out" : "");
    page_title(title);
    static const int colors[SWEEP_GROUPS] = {C_BLUE, C_RED, C_ORANGE, C_GREEN};
    double *gx = y + n_rows;
    for (int k = 0; k < n_fig && st == NPDE_OK; ++k) {
      series s[SWEEP_GROUPS];
      int offset = 0;
      bool positive = true;
      double lo = INFINITY, hi = -INFINITY;
      for (int g = 0; g < n_groups; ++g) {
        int m = 0;
        for (int i = 0; i < n_rows; ++i) {
          if (group[i] != g) continue;
          char *e;
          double v = strtod(CELL(i, fig_col[k]), &e);
          if (e == CELL(i, fig_col[k])) v = NAN;
          int at = m++; /* kept in x order */
          for (; at > 0 && gx[offset + at - 1] > x[i]; --at) gx[offset + at] = gx[offset + at - 1], y[offset + at] = y[offset + at - 1];
          gx[offset + at] = x[i], y[offset + at] = v;
          if (isfinite(v)) positive = positive && v > 0, lo = fmin(lo, v), hi = fmax(hi, v);
        }
        s[g] = (series){gx + offset, y + offset, m, colors[g], DOT, n_keys > 1 ? labels[g] : NULL};
        offset += m;
      }
      panel p = {.title = head[fig_col[k]], .xlabel = keys[0], .ylabel = head[fig_col[k]], .s = s,
                 .n_series = n_groups, .logy = positive && hi > 50 * lo, .empty = "no finished run reported it"};
      grid_viewport(p.vp, prow, cols, k / cols, k % cols);
      st = draw_panel(&p);
    }
    npde_status end = figure_end(&fig);
    st = st != NPDE_OK ? st : end;
  }
#undef CELL
  free(x), free(group), free(rows), free(csv), free(axes), free(csv_path), free(axes_path);
  return st;
}

bool npde_plot_available(void) {
  pthread_mutex_lock(&plot_lock);
  bool ok = pngcairo_present();
  pthread_mutex_unlock(&plot_lock);
  return ok;
}

/* The snapshots to draw: the caller's, else the run's plot_snapshots (negative counts from the end), or the
 * first, middle and last. */
static npde_status pick_snapshots(const run *r, const npde_plot_options *opt, int64_t *pick, int *n_pick) {
  *n_pick = 0;
  int64_t n = !r->field_u.data ? 0 : r->volume ? 1 : r->field_u.shape[0]; /* a volume: one "snapshot" */
  const int *want = opt && opt->snapshots ? opt->snapshots : r->n_snapshots ? r->snapshots : NULL;
  const int n_want = opt && opt->snapshots ? opt->n_snapshots : r->n_snapshots;
  const char *from = opt && opt->snapshots ? "" : " (config.yaml's plot_snapshots)";
  if (want) {
    if (n == 0)
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "cannot plot snapshots of '%s'%s: results.npz has no field_u (the "
                        "pipeline has no eval stage)", r->dir, from);
    for (int k = 0; k < n_want; ++k) {
      int64_t s = want[k] < 0 ? n + want[k] : want[k];
      if ((s < 0 || s >= n) && r->volume)
        return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "cannot plot snapshot %d of '%s'%s: its fields are one 3D grid (a "
                          "train run), not snapshots; 0 or -1 draws it", want[k], r->dir, from);
      if (s < 0 || s >= n)
        return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "cannot plot snapshot %d of '%s'%s: its fields have %lld snapshots "
                          "(0..%lld, or -1 for the last)", want[k], r->dir, from, (long long)n, (long long)(n - 1));
      pick[(*n_pick)++] = s;
    }
    return NPDE_OK;
  }
  const int64_t dflt[3] = {0, (n - 1) / 2, n - 1};
  for (int k = 0; k < 3 && n > 0; ++k)
    if (*n_pick == 0 || pick[*n_pick - 1] != dflt[k]) pick[(*n_pick)++] = dflt[k];
  return NPDE_OK;
}

npde_status npde_plot_run(const char *dir, const npde_plot_options *opt) {
  if (!dir || !*dir) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_plot_run: no run directory");
  if (opt && opt->struct_size < sizeof(npde_plot_options))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_plot_run: options.struct_size is %u; set it to "
                      "sizeof(npde_plot_options)", opt->struct_size);
  if (opt && (opt->n_snapshots < 0 || (opt->n_snapshots > 0 && !opt->snapshots)))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_plot_run: %d snapshots but no array", opt->n_snapshots);
  struct stat sb;
  if (stat(dir, &sb) != 0)
    return NPDE_ERROR(NPDE_ERR_IO, "cannot plot '%s': %s", dir, strerror(errno));
  if (!S_ISDIR(sb.st_mode)) return NPDE_ERROR(NPDE_ERR_IO, "cannot plot '%s': not a directory", dir);

  run r = {0};
  int64_t *pick = NULL;
  char *out = opt && opt->out_dir ? NULL : join(dir, "plots");
  const char *out_dir = opt && opt->out_dir ? opt->out_dir : out;
  char done[1024] = "";
  int n_pick = 0, n_done = 0;
  pthread_mutex_lock(&plot_lock);
  npde_status st = out_dir ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  if (st == NPDE_OK && !pngcairo_present())
    st = NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "cannot plot '%s': PLplot has no 'pngcairo' driver; install "
                    "plplot-driver-cairo (the cairo drivers of libplplot-dev)", dir);
  char *sweep = join(dir, "sweep.csv");
  const bool is_sweep = sweep && stat(sweep, &sb) == 0;
  free(sweep);
  if (st == NPDE_OK && is_sweep) { /* a sweep directory: its figures against the swept values */
    st = npde_mkdir_p(out_dir);
    if (st == NPDE_OK) st = plot_sweep(dir, out_dir);
    pthread_mutex_unlock(&plot_lock);
    if (st == NPDE_OK) npde_log(NPDE_LOG_INFO, "plot: the sweep's figures in %s/sweep.png", out_dir);
    free(out);
    return st;
  }
  if (st == NPDE_OK) st = read_run(dir, &r);
  if (st == NPDE_OK) {
    pick = malloc(((opt && opt->snapshots ? (size_t)opt->n_snapshots : 0) + 16 + 3) * sizeof *pick);
    st = pick ? pick_snapshots(&r, opt, pick, &n_pick) : NPDE_ERROR(NPDE_ERR_NOMEM, "cannot plot: out of memory");
  }
  if (st == NPDE_OK) st = npde_mkdir_p(out_dir);
  if (st == NPDE_OK && r.have_metrics && r.m.n > 0) {
    st = r.m.train ? plot_train_metrics(&r, out_dir) : plot_metrics(&r, out_dir);
    if (st == NPDE_OK) note_done(done, sizeof done, "metrics.png", &n_done);
  } else if (st == NPDE_OK)
    npde_log(NPDE_LOG_DEBUG, "plot: %s has no metrics (no evolve or train stage): no metrics.png", dir);
  if (st == NPDE_OK && r.fit_loss.count + r.refit_loss.count > 0) {
    st = plot_fit_loss(&r, out_dir);
    if (st == NPDE_OK) note_done(done, sizeof done, "fit_loss.png", &n_done);
  }
  for (int k = 0; k < n_pick && st == NPDE_OK; ++k) {
    char name[32];
    if (r.volume) snprintf(name, sizeof name, "fields.png");
    else snprintf(name, sizeof name, "fields_%04lld.png", (long long)pick[k]);
    st = r.volume ? plot_volume(&r, out_dir, name) : plot_fields(&r, out_dir, pick[k], name);
    if (st == NPDE_OK) note_done(done, sizeof done, name, &n_done);
  }
  pthread_mutex_unlock(&plot_lock);
  if (st == NPDE_OK)
    npde_log(NPDE_LOG_INFO, "plot: %d figure%s in %s:%s", n_done, n_done == 1 ? "" : "s", out_dir, done);
  run_free(&r);
  free(pick);
  free(out);
  return st;
}

#else /* no PLplot: the figures need it */

bool npde_plot_available(void) { return false; }

npde_status npde_plot_run(const char *dir, const npde_plot_options *opt) {
  (void)opt;
  return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "cannot plot '%s': npde was built without PLplot; install "
                    "libplplot-dev and plplot-driver-cairo (scripts/install-deps does) and rebuild", dir ? dir : "");
}

#endif
