/* What the libraries read from the environment when they load, before main: the thread counts of mpirun's
 * ranks and OpenBLAS's kernel. When npde has to set either, it runs itself again, once. */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

/* Ranks that mpirun starts on one machine share its cores: unless the user chose thread counts, each rank
 * gets cores / ranks-on-this-machine threads (OpenBLAS and OpenMP read these when they load). */
static bool share_cores_between_ranks(void) {
  const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (!local || getenv("OMP_NUM_THREADS") || getenv("OPENBLAS_NUM_THREADS")) return false;
  long cores = sysconf(_SC_NPROCESSORS_ONLN), ranks = atol(local), per = ranks > 0 ? cores / ranks : cores;
  char v[32];
  snprintf(v, sizeof v, "%ld", per > 1 ? per : 1);
  setenv("OMP_NUM_THREADS", v, 1);
  setenv("OPENBLAS_NUM_THREADS", v, 1);
  return true;
}

/* OpenBLAS's runtime dispatch (DYNAMIC_ARCH) knows CPUs by family and model. A virtual machine that reports a
 * generic model ("Intel Xeon Processor") gets its SSE3 kernel, Prescott, whatever the CPU can do: dgemm ran
 * at 23 GFLOP/s there against 55 with the AVX-512 kernel. The kernels by the instructions they need, in
 * OpenBLAS's names; a kernel it chose that is not in this list (Zen, SapphireRapids, ...) is left alone. */
static const struct {
  const char *name;
  int level; /* 0 SSE only, 1 AVX, 2 AVX2 + FMA, 3 AVX-512 F/CD/BW/DQ/VL, 4 and AVX-512 BF16 */
} blas_kernels[] = {
    {"Prescott", 0}, {"Core2", 0},   {"Penryn", 0},     {"Dunnington", 0}, {"Nehalem", 0},   {"Atom", 0},
    {"Sandybridge", 1}, {"Haswell", 2}, {"SkylakeX", 3}, {"Cooperlake", 4},
};
enum { blas_kernel_count = sizeof blas_kernels / sizeof blas_kernels[0] };

static int cpu_level(void) {
  __builtin_cpu_init();
  /* __builtin_cpu_supports also checks that the operating system saves the vector registers */
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return __builtin_cpu_supports("avx512bf16") ? 4 : 3;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
  return __builtin_cpu_supports("avx") ? 1 : 0;
}

/* The kernel OpenBLAS should run instead of the one it chose, or NULL. Looked up at run time, so that npde
 * linked against another BLAS (the reference one, BLIS) is left as it is. */
static const char *better_blas_kernel(const char **chosen_out) {
  if (getenv("OPENBLAS_CORETYPE")) return NULL; /* the user's choice */
  char *(*corename)(void) = (char *(*)(void))dlsym(RTLD_DEFAULT, "openblas_get_corename");
  const char *chosen = corename ? corename() : NULL;
  if (!chosen) return NULL;
  *chosen_out = chosen;
  int chosen_level = -1, best = cpu_level();
  for (int i = 0; i < blas_kernel_count; ++i)
    if (!strcasecmp(chosen, blas_kernels[i].name)) chosen_level = blas_kernels[i].level;
  if (chosen_level < 0 || chosen_level >= best) return NULL;
  for (int i = blas_kernel_count - 1; i >= 0; --i)
    if (blas_kernels[i].level == best) return blas_kernels[i].name;
  return NULL;
}

void cli_prepare_environment(char **argv) {
  if (getenv("NPDE_NO_REEXEC")) return;
  const bool threads = share_cores_between_ranks();
  const char *chosen = NULL, *kernel = better_blas_kernel(&chosen);
  if (!threads && !kernel) return;
  if (kernel) {
    setenv("NPDE_OPENBLAS_DETECTED", chosen, 1);
    setenv("OPENBLAS_CORETYPE", kernel, 1);
  }
  setenv("NPDE_NO_REEXEC", "1", 1);
  execv("/proc/self/exe", argv); /* returns only on failure: then go on as we are */
}

void cli_report_environment(void) {
  const char *detected = getenv("NPDE_OPENBLAS_DETECTED"), *kernel = getenv("OPENBLAS_CORETYPE");
  if (detected && kernel)
    npde_log(NPDE_LOG_INFO, "OpenBLAS chose its %s kernel on a CPU that runs %s's: npde set OPENBLAS_CORETYPE=%s "
             "(set it yourself to choose another)", detected, kernel, kernel);
  unsetenv("NPDE_OPENBLAS_DETECTED"); /* a process this one starts reports nothing it did not do */
}
