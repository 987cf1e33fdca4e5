/* npde run CONFIG -m key=a,b,c key2=x,y ...: a sweep over the product of
 * the lists. Each member is an ordinary run in SWEEP/run-NNN (SWEEP is
 * `output=` or runs/NAME-sweep-DATE-TIME); SWEEP/sweep.csv holds one row per
 * member: its overrides, whether it finished, and the figures it reported.
 * A failing member is recorded and the sweep goes on; the exit status is 1
 * when any member failed. Commas inside [...] (a list value) do not split. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_AXES 16
#define MAX_VALUES 64
#define MAX_FIGURES 64

typedef struct axis {
  char key[256];
  char *values[MAX_VALUES];
  int n;
} axis;

typedef struct member_row {
  bool ok;
  char *values[MAX_AXES];
  double figures[MAX_FIGURES];
  bool has[MAX_FIGURES];
} member_row;

/* Split "key=a,b,[c,d]" into the axis; false (with a message) on a bad entry. */
static bool parse_axis(const char *arg, axis *a) {
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof a->key) return false;
  snprintf(a->key, sizeof a->key, "%.*s", (int)(eq - arg), arg);
  const char *p = eq + 1, *start = p;
  int depth = 0;
  for (;; ++p) {
    if (*p == '[' || *p == '{') depth++;
    if (*p == ']' || *p == '}') depth--;
    if ((*p == ',' && depth == 0) || *p == '\0') {
      if (a->n == MAX_VALUES || p == start) return false;
      a->values[a->n] = strndup(start, (size_t)(p - start));
      if (!a->values[a->n]) return false;
      a->n++;
      if (*p == '\0') break;
      start = p + 1;
    }
  }
  return true;
}

static void csv_field(FILE *f, const char *s) {
  bool quote = strpbrk(s, ",\"\n") != NULL;
  if (!quote) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; ++s) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* Rewrite SWEEP/sweep.csv atomically with the rows so far. */
static void write_csv(const char *dir, const axis *axes, int n_axes, char figure_names[][48], int n_fig,
                      const member_row *rows, int n_rows) {
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  if (!f) return;
  fputs("run,status", f);
  for (int a = 0; a < n_axes; ++a) {
    fputc(',', f);
    csv_field(f, axes[a].key);
  }
  for (int k = 0; k < n_fig; ++k) fprintf(f, ",%s", figure_names[k]);
  fputc('\n', f);
  for (int r = 0; r < n_rows; ++r) {
    fprintf(f, "run-%03d,%s", r, rows[r].ok ? "ok" : "failed");
    for (int a = 0; a < n_axes; ++a) {
      fputc(',', f);
      csv_field(f, rows[r].values[a]);
    }
    for (int k = 0; k < n_fig; ++k) {
      if (rows[r].has[k]) fprintf(f, ",%.9g", rows[r].figures[k]);
      else fputc(',', f);
    }
    fputc('\n', f);
  }
  fclose(f);
  char path[4200];
  snprintf(path, sizeof path, "%s/sweep.csv", dir);
  if (npde_write_file_atomic(path, text, size) != NPDE_OK) fprintf(stderr, "npde: warning: %s\n", npde_last_error());
  free(text);
  /* which columns are the swept keys (the others after status are figures), for `npde plot SWEEP` */
  text = NULL;
  f = open_memstream(&text, &size);
  if (!f) return;
  for (int a = 0; a < n_axes; ++a) fprintf(f, "%s\n", axes[a].key);
  fclose(f);
  snprintf(path, sizeof path, "%s/sweep.axes", dir);
  if (npde_write_file_atomic(path, text, size) != NPDE_OK) fprintf(stderr, "npde: warning: %s\n", npde_last_error());
  free(text);
}

/* s inside a YAML double-quoted string. */
static void put_escaped(FILE *f, const char *s) {
  for (; *s; ++s) fprintf(f, "%s%c", *s == '"' || *s == '\\' ? "\\" : "", *s);
}

/* name="BASE (key=value, ...)": the member's figures carry its overrides in their titles. */
static char *member_name(const char *base, char *const *assign, int n) {
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  if (!f) return NULL;
  fputs("name=\"", f);
  put_escaped(f, base);
  fputs(" (", f);
  for (int a = 0; a < n; ++a) {
    if (a) fputs(", ", f);
    put_escaped(f, assign[a]);
  }
  fputs(")\"", f);
  fclose(f);
  return text;
}

int cli_cmd_sweep(int argc, char **argv) {
  const char *config = NULL, *output = NULL;
  char **fixed = calloc((size_t)argc + 1, sizeof *fixed);
  axis *axes = calloc(MAX_AXES, sizeof *axes);
  int n_fixed = 0, n_axes = 0, code = 0;
  if (!fixed || !axes) {
    free(fixed);
    free(axes);
    return cli_fail(NPDE_ERR_NOMEM, EXIT_RUN_FAILURE);
  }
  for (int i = 0; i < argc && code == 0; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "-m") || !strcmp(a, "--multirun")) continue;
    if (!strcmp(a, "--no-output")) {
      fprintf(stderr, "npde: error: a sweep writes its runs' directories; --no-output does not apply\n");
      code = EXIT_USAGE;
    } else if (!strchr(a, '=')) {
      if (config) {
        fprintf(stderr, "npde: error: unexpected argument '%s' (overrides look like key.path=value)\n", a);
        code = EXIT_USAGE;
      }
      config = a;
    } else if (!strncmp(a, "output=", 7)) {
      output = a + 7;
    } else {
      axis ax = {0};
      if (!parse_axis(a, &ax)) {
        fprintf(stderr, "npde: error: bad sweep entry '%s' (expected key.path=v1,v2,...)\n", a);
        code = EXIT_USAGE;
      } else if (ax.n == 1) {
        fixed[n_fixed++] = (char *)a;
        free(ax.values[0]);
      } else if (n_axes == MAX_AXES) {
        fprintf(stderr, "npde: error: a sweep takes at most %d lists\n", MAX_AXES);
        code = EXIT_USAGE;
      } else {
        axes[n_axes++] = ax;
      }
    }
  }
  if (code == 0 && !config) {
    fprintf(stderr, "npde: error: missing CONFIG\n");
    code = EXIT_USAGE;
  }
  if (code == 0 && n_axes == 0) {
    fprintf(stderr, "npde: error: -m needs at least one key=v1,v2 list\n");
    code = EXIT_USAGE;
  }
  int total = 1;
  for (int a = 0; code == 0 && a < n_axes; ++a) total *= axes[a].n;
  char sweep_dir[4096] = "", base[256] = "";
  if (code == 0) {
    npde_config *cfg = NULL;
    npde_status st = npde_config_load_file(config, &cfg);
    if (st != NPDE_OK) code = cli_fail(st, EXIT_USAGE);
    else if (output) snprintf(sweep_dir, sizeof sweep_dir, "%s", output);
    else npde_run_default_dir(cfg, config, "-sweep", sweep_dir, sizeof sweep_dir);
    npde_run_name(cfg, config, base, sizeof base);
    npde_config_destroy(&cfg);
  }
  if (code == 0) {
    npde_status st = npde_mkdir_p(sweep_dir);
    if (st != NPDE_OK) code = cli_fail(st, EXIT_RUN_FAILURE);
  }
  member_row *rows = code == 0 ? calloc((size_t)total, sizeof *rows) : NULL;
  char(*names)[48] = code == 0 ? calloc(MAX_FIGURES, sizeof *names) : NULL;
  int n_fig = 0, failed = 0;
  if (code == 0 && (!rows || !names)) code = cli_fail(NPDE_ERR_NOMEM, EXIT_RUN_FAILURE);
  if (code == 0)
    npde_log(NPDE_LOG_INFO, "sweep: %d runs into %s", total, sweep_dir);
  for (int r = 0; code == 0 && r < total; ++r) {
    /* the member's arguments: CONFIG, fixed overrides, one value per axis, its output */
    char **args = calloc((size_t)(n_fixed + n_axes + 4), sizeof *args);
    char member_out[4200];
    int n = 0, rest = r;
    args[n++] = (char *)config;
    for (int k = 0; k < n_fixed; ++k) args[n++] = fixed[k];
    for (int a = n_axes - 1; a >= 0; --a) { /* the last list varies fastest */
      rows[r].values[a] = axes[a].values[rest % axes[a].n];
      rest /= axes[a].n;
    }
    char *assign[MAX_AXES];
    for (int a = 0; a < n_axes; ++a) {
      size_t len = strlen(axes[a].key) + strlen(rows[r].values[a]) + 2;
      assign[a] = malloc(len);
      snprintf(assign[a], len, "%s=%s", axes[a].key, rows[r].values[a]);
      args[n++] = assign[a];
    }
    snprintf(member_out, sizeof member_out, "output=%s/run-%03d", sweep_dir, r);
    args[n++] = member_out;
    char *titled = member_name(base, assign, n_axes);
    if (titled) args[n++] = titled;
    char line[1024];
    size_t used = (size_t)snprintf(line, sizeof line, "sweep: run %d/%d:", r + 1, total);
    for (int a = 0; a < n_axes && used < sizeof line; ++a)
      used += (size_t)snprintf(line + used, sizeof line - used, " %s", assign[a]);
    npde_log(NPDE_LOG_INFO, "%s", line);
    npde_registry *reg = NULL;
    npde_pipeline *pl = NULL;
    int rc = cli_prepare_run(n, args, &reg, &pl);
    npde_status st = rc == 0 ? npde_pipeline_run(pl) : NPDE_ERR_CONFIG;
    if (rc == 0 && st != NPDE_OK) npde_log(NPDE_LOG_ERROR, "sweep: run-%03d failed: %s", r, npde_last_error());
    rows[r].ok = rc == 0 && st == NPDE_OK;
    failed += !rows[r].ok;
    const char *name;
    double value;
    for (int i = 0; pl && npde_pipeline_metric_at(pl, i, &name, &value) == NPDE_OK; ++i) {
      int k = 0;
      while (k < n_fig && strcmp(names[k], name) != 0) ++k;
      if (k == n_fig && n_fig < MAX_FIGURES) snprintf(names[n_fig++], sizeof names[0], "%s", name);
      if (k < n_fig) {
        rows[r].figures[k] = value;
        rows[r].has[k] = true;
      }
    }
    npde_pipeline_destroy(&pl);
    npde_registry_destroy(&reg);
    for (int a = 0; a < n_axes; ++a) free(assign[a]);
    free(titled);
    free(args);
    write_csv(sweep_dir, axes, n_axes, names, n_fig, rows, r + 1);
  }
  if (code == 0) {
    npde_log(NPDE_LOG_INFO, "sweep: %d of %d runs finished; %s/sweep.csv", total - failed, total, sweep_dir);
    if (failed) code = EXIT_RUN_FAILURE;
  }
  for (int a = 0; a < n_axes; ++a)
    for (int v = 0; v < axes[a].n; ++v) free(axes[a].values[v]);
  free(rows);
  free(names);
  free(axes);
  free(fixed);
  return code;
}
