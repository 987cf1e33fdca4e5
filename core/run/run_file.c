/* A pipeline run from a YAML file in one call (npde_run_file): what `npde
 * run` does after parsing its arguments, for an embedding such as Python's
 * npde.run; and the default run directory both use. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "npde/npde_log.h"
#include "npde/npde_pipeline.h"

void npde_run_name(const npde_config *cfg, const char *path, char *out, size_t size) {
  const char *name = npde_config_scalar(npde_config_get(cfg, "name"));
  if (name) {
    snprintf(out, size, "%s", name);
    return;
  }
  const char *base = path ? strrchr(path, '/') : NULL;
  snprintf(out, size, "%s", base ? base + 1 : path ? path : "run");
  char *dot = strrchr(out, '.');
  if (dot && dot != out) *dot = '\0';
}

void npde_run_default_dir(const npde_config *cfg, const char *path, const char *suffix, char *out, size_t size) {
  char stem[128];
  npde_run_name(cfg, path, stem, sizeof stem);
  for (char *c = stem; *c; ++c)
    if (*c == '/' || *c == ' ') *c = '_';
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime_r(&now, &tm));
  struct stat sb;
  snprintf(out, size, "runs/%s%s-%s", stem, suffix ? suffix : "", stamp);
  for (int k = 2; stat(out, &sb) == 0 && k < 1000; ++k)
    snprintf(out, size, "runs/%s%s-%s-%d", stem, suffix ? suffix : "", stamp, k);
}

npde_status npde_run_file(const char *config, const char *const *overrides, size_t n_overrides, const char *output,
                          char *dir, size_t size) {
  if (!config || (n_overrides && !overrides))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_run_file: NULL argument");
  if (dir && size) dir[0] = '\0';
  npde_config *cfg = NULL;
  npde_registry *reg = NULL;
  npde_pipeline *pl = NULL;
  npde_status st = npde_config_load_file(config, &cfg);
  for (size_t i = 0; st == NPDE_OK && i < n_overrides; ++i) st = npde_config_apply_override(cfg, overrides[i]);
  char where[4200] = "", assign[4300];
  const npde_config *node = npde_config_get(cfg, "output");
  const char *given = npde_config_scalar(node);
  const bool none = node && (!given || !given[0] || !strcmp(given, "~") || !strcmp(given, "null"));
  if ((output && !output[0]) || (!output && none)) snprintf(assign, sizeof assign, "output=~"); /* no files */
  else if (output) snprintf(where, sizeof where, "%s", output);
  else if (given) snprintf(where, sizeof where, "%s", given);
  else npde_run_default_dir(cfg, config, "", where, sizeof where);
  if (where[0]) snprintf(assign, sizeof assign, "output=%s", where);
  if (st == NPDE_OK) st = npde_config_apply_override(cfg, assign);
  if (st == NPDE_OK) st = npde_registry_create(&reg);
  if (st == NPDE_OK) st = npde_registry_load_defaults(reg);
  if (st == NPDE_OK) st = npde_pipeline_create(reg, cfg, &pl);
  if (dir && size) snprintf(dir, size, "%s", where);
  if (st == NPDE_OK) st = npde_pipeline_run(pl);
  npde_pipeline_destroy(&pl);
  npde_registry_destroy(&reg);
  npde_config_destroy(&cfg);
  return st;
}
