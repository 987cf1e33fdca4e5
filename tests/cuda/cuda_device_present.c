/* ctest's view of the GPU tests: exit 77 (ctest: skipped), with the reason,
 * where the cuda backend cannot start, so a CPU machine's test summary shows
 * that the GPU checks did not run instead of counting them as passed. */
#include <stdio.h>

#include "test_backend_probe.h"

int main(void) {
  char why[512];
  npde_status st = test_backend_probe("cuda", why, sizeof why);
  if (st == NPDE_ERR_DEVICE) {
    printf("SKIPPED: the CUDA backend's GPU tests (conformance, pipelines against the CPU): %s\n", why);
    return 77;
  }
  if (st != NPDE_OK) {
    fprintf(stderr, "cuda_device_present: %s\n", why);
    return 1;
  }
  printf("%s\n", why);
  return 0;
}
