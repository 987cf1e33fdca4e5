/* Whether a backend can start on this machine (tests of device backends). */
#ifndef NPDE_TEST_BACKEND_PROBE_H
#define NPDE_TEST_BACKEND_PROBE_H

#include <stdio.h>

#include "npde/npde.h"

/* Creates backend `name` from the default plugins and destroys it again. Returns NPDE_OK (why: its
 * description), NPDE_ERR_NOT_FOUND (no such plugin was built), or create's error, e.g. NPDE_ERR_DEVICE when
 * no GPU is visible (why: the message). */
static inline npde_status test_backend_probe(const char *name, char *why, size_t size) {
  npde_registry *reg = NULL;
  npde_status st = npde_registry_create(&reg);
  if (st == NPDE_OK) st = npde_registry_load_defaults(reg);
  if (st == NPDE_OK && !npde_registry_find(reg, NPDE_KIND_BACKEND, name)) {
    snprintf(why, size, "the %s backend is not built (for cuda: no CUDA compiler when cmake ran)", name);
    npde_registry_destroy(&reg);
    return NPDE_ERR_NOT_FOUND;
  }
  npde_backend *be = NULL;
  if (st == NPDE_OK) st = npde_backend_create(reg, name, NULL, &be);
  snprintf(why, size, "%s", st == NPDE_OK ? npde_backend_describe(be) : npde_last_error());
  npde_backend_destroy(&be);
  npde_registry_destroy(&reg);
  return st;
}

#endif
