/* npde plot RUNDIR [--out DIR] [--snapshots I,J,K]: PNG figures of a run
 * (npde_plot.h). Exit 0 success, 1 failure, 2 usage error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define PLOT_SYNOPSIS "usage: npde plot RUNDIR [--out DIR] [--snapshots I,J,...]\n"

static const char plot_usage[] =
    PLOT_SYNOPSIS
    "\n"
    "Draw the figures of a run directory as PNG files (PLplot): metrics.png (residual, CG\n"
    "iterations, step size and error against t), fit_loss.png (loss per epoch) and\n"
    "fields_NNNN.png (colour maps of the field, the exact solution and the error).\n"
    "\n"
    "options:\n"
    "  --out DIR            write the PNGs into DIR (default RUNDIR/plots)\n"
    "  --snapshots I,J,...  field snapshots to draw, 0-based; negative counts from the end\n"
    "                       (-1: the last); default the first, middle and last\n"
    "  -h, --help           this help\n";

static int usage_error(const char *fmt, const char *arg) {
  fprintf(stderr, "npde: error: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n" PLOT_SYNOPSIS "(npde plot --help explains the options)\n");
  return EXIT_USAGE;
}

/* "0,3,-1" into a malloc'd array; false on anything else. */
static bool parse_indices(const char *text, int **out, int *n) {
  *n = 0;
  *out = malloc((strlen(text) / 2 + 1) * sizeof **out);
  if (!*out) return false;
  const char *p = text;
  for (;;) {
    char *end;
    errno = 0;
    long v = strtol(p, &end, 10);
    if (end == p || errno || v < -1000000000L || v > 1000000000L) return false;
    (*out)[(*n)++] = (int)v;
    if (*end == '\0') return true;
    if (*end != ',') return false;
    p = end + 1;
  }
}

/* The value of --name VALUE or --name=VALUE at argv[*i]; NULL if absent. */
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *matched) {
  size_t n = strlen(name);
  *matched = false;
  if (strncmp(argv[*i], name, n) != 0) return NULL;
  if (argv[*i][n] == '=') {
    *matched = true;
    return argv[*i] + n + 1;
  }
  if (argv[*i][n] != '\0') return NULL;
  *matched = true;
  return *i + 1 < argc ? argv[++*i] : NULL;
}

int cli_cmd_plot(int argc, char **argv) {
  const char *dir = NULL, *out = NULL, *snaps = NULL;
  for (int i = 0; i < argc; ++i) {
    bool matched;
    const char *v;
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(plot_usage, stdout);
      return 0;
    }
    if ((v = option_value(argc, argv, &i, "--out", &matched)) || matched) {
      if (!v || !*v) return usage_error("%s needs a directory", "--out");
      out = v;
    } else if ((v = option_value(argc, argv, &i, "--snapshots", &matched)) || matched) {
      if (!v || !*v) return usage_error("%s needs a list of indices such as 0,3,-1", "--snapshots");
      snaps = v;
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      return usage_error("unknown option '%s' for npde plot", argv[i]);
    } else if (dir) {
      return usage_error("npde plot takes one run directory; '%s' is a second", argv[i]);
    } else dir = argv[i];
  }
  if (!dir) return usage_error("%s", "npde plot needs a run directory");
  npde_plot_options opt = {.struct_size = sizeof opt, .out_dir = out};
  int *indices = NULL;
  if (snaps && !parse_indices(snaps, &indices, &opt.n_snapshots)) {
    free(indices);
    return usage_error("--snapshots '%s' is not a comma-separated list of integers such as 0,3,-1", snaps);
  }
  opt.snapshots = indices;
  npde_status st = npde_plot_run(dir, &opt);
  free(indices);
  return st == NPDE_OK ? 0 : cli_fail(st, cli_exit_code_for(st));
}
