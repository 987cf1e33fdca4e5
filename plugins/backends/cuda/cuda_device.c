/* CUDA backend: which GPU a rank takes. Plain C (no CUDA calls), so the
 * rule is tested without a GPU (tests/backends/test_cuda.c). */
#include "cuda_device.h"

npde_status cuda_pick_device(int64_t requested, int local_rank, int count, int *device) {
  if (count < 1) return NPDE_ERROR(NPDE_ERR_DEVICE, "cuda backend: no CUDA device");
  if (requested >= count)
    return NPDE_ERROR(NPDE_ERR_DEVICE, "cuda backend: device %lld requested, but this machine has %d CUDA device%s "
                      "(0 to %d)", (long long)requested, count, count == 1 ? "" : "s", count - 1);
  *device = requested >= 0 ? (int)requested : (local_rank < 0 ? 0 : local_rank % count);
  return NPDE_OK;
}
