/* Shared set-up of the layer tests: a registry with the build tree's
 * plugins, the cpu backend, and layers made from YAML text. */
#ifndef NPDE_TEST_LAYER_FIXTURE_H
#define NPDE_TEST_LAYER_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "conformance/layer_conformance.h"
#include "npde/npde_config.h"
#include "npde/npde_registry.h"

static npde_registry *g_reg;
static npde_backend *g_be;

static void lf_setup(void) {
  cr_assert_eq(npde_registry_create(&g_reg), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_registry_load_defaults(g_reg), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_backend_create(g_reg, "cpu", NULL, &g_be), NPDE_OK, "%s", npde_last_error());
}

static void lf_teardown(void) {
  npde_backend_destroy(&g_be);
  npde_registry_destroy(&g_reg);
}

/* npde_layer_create from YAML text ({type: NAME, ...}) for in_dim inputs; returns its status. */
static npde_status lf_try(const char *yaml, int64_t in_dim, npde_layer **out) {
  npde_config *cfg = NULL;
  npde_status st = npde_config_load_string(yaml, "<test>", &cfg);
  cr_assert_eq(st, NPDE_OK, "parsing %s: %s", yaml, npde_last_error());
  st = npde_layer_create(g_reg, NULL, cfg, g_be, in_dim, out);
  npde_config_destroy(&cfg);
  return st;
}

static npde_layer *lf_make(const char *yaml, int64_t in_dim) {
  npde_layer *l = NULL;
  npde_status st = lf_try(yaml, in_dim, &l);
  cr_assert_eq(st, NPDE_OK, "creating %s for %lld inputs: %s", yaml, (long long)in_dim, npde_last_error());
  return l;
}

/* Host array -> new backend buffer (f64) and back. */
static void *lf_upload(const double *h, size_t n) {
  void *p = NULL;
  cr_assert_eq(npde_backend_alloc(g_be, (n ? n : 1) * sizeof(double), &p), NPDE_OK, "%s", npde_last_error());
  if (n) cr_assert_eq(npde_backend_upload(g_be, p, h, n * sizeof(double)), NPDE_OK, "%s", npde_last_error());
  return p;
}

static void lf_download(double *h, const void *p, size_t n) {
  if (n) cr_assert_eq(npde_backend_download(g_be, h, p, n * sizeof(double)), NPDE_OK, "%s", npde_last_error());
}

/* Print a config's worst errors when NPDE_TEST_VERBOSE is set, and every test's summary line. */
static void lf_report(const char *what, const lc_report *r) {
  char buf[512];
  lc_report_str(r, buf, sizeof buf);
  cr_log_info("%s: worst errors (relative to each check's scale): %s", what, buf);
  if (getenv("NPDE_TEST_VERBOSE")) printf("%s: %s\n", what, buf);
}

#endif
