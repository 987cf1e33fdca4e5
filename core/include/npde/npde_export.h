/** Symbol visibility for libnpde and plugins (everything else is hidden). */
#ifndef NPDE_EXPORT_H
#define NPDE_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define NPDE_EXPORT __attribute__((visibility("default")))
#else
#define NPDE_EXPORT
#endif

/* Functions of libnpde itself. Plugins never link libnpde: they call it
 * through the host table (plugin/npde_ext.h). */
#define NPDE_API NPDE_EXPORT

/* Header-only code that CUDA kernels compile too (npde_philox.h, npde_kernel_math.h). */
#ifdef __CUDACC__
#define NPDE_HOSTDEVICE __host__ __device__
#else
#define NPDE_HOSTDEVICE
#endif

#endif
