/* ctest's view of the GPU tests: exit 77 (ctest: skipped), with the reason,
 * where the cuda backend cannot start, so a CPU machine's test summary shows
 * that the GPU checks did not run instead of counting them as passed. */
#include <stdio.h>

#include "npde/npde.h"

int main(void) {
  npde_registry *reg = NULL;
  if (npde_registry_create(&reg) != NPDE_OK || npde_registry_load_defaults(reg) != NPDE_OK) {
    fprintf(stderr, "cuda_device_present: %s\n", npde_last_error());
    return 1;
  }
  npde_backend *be = NULL;
  npde_status st = npde_backend_create(reg, "cuda", NULL, &be);
  if (st == NPDE_ERR_DEVICE) {
    printf("SKIPPED: the CUDA backend's GPU tests (conformance, pipelines against the CPU): %s\n", npde_last_error());
    npde_registry_destroy(&reg);
    return 77;
  }
  if (st != NPDE_OK) {
    fprintf(stderr, "cuda_device_present: %s\n", npde_last_error());
    npde_registry_destroy(&reg);
    return 1;
  }
  printf("%s\n", npde_backend_describe(be));
  npde_backend_destroy(&be);
  npde_registry_destroy(&reg);
  return 0;
}
