/* Private to the CUDA backend: which GPU a rank takes (cuda_device.c). */
#ifndef NPDE_CUDA_DEVICE_H
#define NPDE_CUDA_DEVICE_H

#include "npde/plugin/npde_ext.h"

/* The device a rank uses among `count`: `requested` if >= 0, else
 * local_rank mod count, so the ranks of one node spread over its GPUs
 * (one rank per GPU when the node runs as many ranks as it has GPUs). */
npde_status cuda_pick_device(int64_t requested, int local_rank, int count, int *device);

#endif
