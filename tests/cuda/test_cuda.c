/* The CUDA backend without a GPU: which device a rank takes (the rule runs
 * on any machine), and, where no device is visible, a clear error when the
 * backend is selected, from the API and from the CLI. On a machine with a
 * GPU the same tests check that the backend comes up and says which device
 * it took; the backend conformance suite and tests/device_memory check its
 * ops and whole pipelines there. */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "npde/npde.h"
#include "test_backend_probe.h"
#include "test_files.h"
/* after npde.h: its npde_* calls become host-table calls from here on, as in plugin code */
#include "cuda_device.h"

/* cuda_device.c is compiled into this test: it reaches the core through the host table, as in the plugin. */
__attribute__((visibility("hidden"))) const npde_host_api *npde_host;

static void setup(void) { npde_host = npde_host_api_get(); }
TestSuite(cuda, .init = setup);

Test(cuda, test_ranks_spread_over_the_devices_of_their_node) {
  int dev = -1;
  /* one GPU: every rank on it */
  for (int r = 0; r < 3; ++r) {
    cr_assert_eq(cuda_pick_device(-1, r, 1, &dev), NPDE_OK);
    cr_expect_eq(dev, 0);
  }
  /* four GPUs: local ranks 0..3 one each, then around again */
  for (int r = 0; r < 8; ++r) {
    cr_assert_eq(cuda_pick_device(-1, r, 4, &dev), NPDE_OK);
    cr_expect_eq(dev, r % 4, "local rank %d took device %d", r, dev);
  }
  /* an explicit device wins over the local rank */
  cr_assert_eq(cuda_pick_device(2, 3, 4, &dev), NPDE_OK);
  cr_expect_eq(dev, 2);
}

Test(cuda, test_a_device_the_machine_lacks_is_refused_by_number) {
  int dev = -1;
  cr_assert_eq(cuda_pick_device(4, 0, 4, &dev), NPDE_ERR_DEVICE);
  cr_expect(strstr(npde_last_error(), "device 4 requested") && strstr(npde_last_error(), "4 CUDA devices (0 to 3)"),
            "%s", npde_last_error());
  cr_assert_eq(cuda_pick_device(-1, 0, 0, &dev), NPDE_ERR_DEVICE);
  cr_expect(strstr(npde_last_error(), "no CUDA device"), "%s", npde_last_error());
}

/* Whether this machine has a GPU the backend can use; the reason when not. */
static bool have_device(char *why, size_t size) {
  npde_status st = test_backend_probe("cuda", why, size);
  cr_assert(st == NPDE_OK || st == NPDE_ERR_DEVICE, "creating the cuda backend: %s", why);
  return st == NPDE_OK;
}

Test(cuda, test_selecting_cuda_says_whether_a_device_is_there) {
  char why[512];
  if (have_device(why, sizeof why)) {
    cr_log_info("cuda backend: %s", why);
    cr_expect(strstr(why, "cuda: device ") && strstr(why, "local rank 0 of 1"), "%s", why);
  } else {
    fprintf(stderr, "cuda: no device here, as expected on CPU machines: %s\n", why);
    cr_expect(strstr(why, "no CUDA device") && strstr(why, "backend: cpu"), "unclear error: %s", why);
  }
}

Test(cuda, test_the_cli_reports_a_missing_device_and_fails) {
  char why[512];
  if (have_device(why, sizeof why)) cr_skip_test("a CUDA device is present: nothing to refuse");
  char cmd[1024], out[] = "/tmp/npde-cuda-cli-XXXXXX";
  int fd = mkstemp(out);
  cr_assert_geq(fd, 0);
  close(fd);
  snprintf(cmd, sizeof cmd, "'%s/bin/npde' run '%s/configs/demo.yaml' backend=cuda --no-output > '%s' 2>&1",
           NPDE_BINARY_DIR, NPDE_SOURCE_DIR, out);
  int st = system(cmd);
  char *text = test_slurp(out, NULL);
  unlink(out);
  cr_expect(WIFEXITED(st) && WEXITSTATUS(st) != 0, "npde run with backend=cuda and no device must fail");
  cr_expect(text && strstr(text, "no CUDA device"), "the CLI did not say why:\n%s", text ? text : "");
  free(text);
}
