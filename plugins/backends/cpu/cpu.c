/* The CPU backend component: state, memory, and its ops table. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "cpu_impl.h"

/* OpenBLAS's SSE-era kernels, its fallback for CPU models it does not know, on a CPU that has AVX2 */
static bool generic_kernel_on_a_vector_cpu(const char *kernel) {
  static const char *const generic[] = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom"};
  __builtin_cpu_init();
  if (!kernel || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
  for (size_t i = 0; i < sizeof generic / sizeof generic[0]; ++i)
    if (!strcmp(kernel, generic[i])) return true;
  return false;
}

static npde_status cpu_create(npde_backend *be, const npde_config *cfg, npde_backend *unused) {
  (void)unused;
  cpu_state *s = npde_backend_state(be);
  int64_t threads = 0;
  if (cfg) NPDE_TRY(npde_config_get_int(cfg, "threads", &threads));
  s->threads = (int)threads;
  if (threads > 0) {
    openblas_set_num_threads((int)threads);
    omp_set_num_threads((int)threads);
  }
  /* One thread pool: OpenBLAS's OpenMP build runs its threads in the kernels' OpenMP team. Its pthreads build
   * keeps threads of its own, which the kernels' idle OpenMP threads starve by spinning (M v 5-10x slower)
   * unless OMP_WAIT_POLICY=PASSIVE was set before the process started. */
  const bool one_pool = openblas_get_parallel() == 2;
  snprintf(s->description, sizeof s->description, "cpu: %s; kernel %s; %d BLAS threads, %d kernel threads%s",
           openblas_get_config(), openblas_get_corename(), openblas_get_num_threads(), omp_get_max_threads(),
           one_pool ? " (one OpenMP pool)" : "");
  static bool warned_pool, warned_kernel; /* each once per process, independently */
  if (!one_pool && openblas_get_parallel() == 1 && !getenv("OMP_WAIT_POLICY") && !warned_pool) {
    warned_pool = true;
    npde_log(NPDE_LOG_WARN, "backend cpu: OpenBLAS is its pthreads build, whose threads the kernels' idle OpenMP "
             "threads starve (M v runs 5-10x slower): select its OpenMP build (Debian: libopenblas0-openmp; "
             "scripts/install-deps selects it), or set OMP_WAIT_POLICY=PASSIVE before the program starts");
  }
  if (!getenv("OPENBLAS_CORETYPE") && generic_kernel_on_a_vector_cpu(openblas_get_corename()) && !warned_kernel) {
    warned_kernel = true;
    npde_log(NPDE_LOG_WARN, "backend cpu: OpenBLAS runs its generic %s kernel on a CPU with AVX2 (it did not know "
             "the CPU's model, as on some virtual machines): gemm runs at under half its rate. Set "
             "OPENBLAS_CORETYPE (SkylakeX with AVX-512, else Haswell) before the program starts; the npde command "
             "does this itself",
             openblas_get_corename());
  }
  return NPDE_OK;
}

static void cpu_destroy(npde_backend *be) { (void)be; }

static const char *cpu_describe(const npde_backend *be) {
  const cpu_state *s = npde_backend_state(be);
  return s->description;
}

static npde_memtype cpu_memtype(const npde_backend *be) {
  (void)be;
  return NPDE_MEM_HOST;
}

static npde_status cpu_alloc(npde_backend *be, size_t bytes, void **ptr) {
  (void)be;
  /* 64-byte alignment for vector loads and OpenBLAS */
  size_t rounded = ((bytes ? bytes : 1) + 63) & ~(size_t)63;
  *ptr = aligned_alloc(64, rounded);
  if (!*ptr) return NPDE_ERROR(NPDE_ERR_NOMEM, "cpu backend: cannot allocate %zu bytes", bytes);
  return NPDE_OK;
}

static void cpu_free(npde_backend *be, void *ptr) {
  (void)be;
  free(ptr);
}

static npde_status cpu_upload(npde_backend *be, void *dst, const void *src, size_t bytes) {
  (void)be;
  memmove(dst, src, bytes);
  return NPDE_OK;
}

static npde_status cpu_download(npde_backend *be, void *dst, const void *src, size_t bytes) {
  (void)be;
  memmove(dst, src, bytes);
  return NPDE_OK;
}

static const npde_backend_ops cpu_ops = {
    .struct_size = sizeof(npde_backend_ops),
    .create = cpu_create,
    .destroy = cpu_destroy,
    .memtype = cpu_memtype,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_upload,
    .download = cpu_download,
    .describe = cpu_describe,
    .copy = cpu_copy,
    .fill = cpu_fill,
    .convert = cpu_convert,
    .gemm = cpu_gemm,
    .gemm_batched = cpu_gemm_batched,
    .gemv = cpu_gemv,
    .axpy = cpu_axpy,
    .scal = cpu_scal,
    .dot = cpu_dot,
    .nrm2 = cpu_nrm2,
    .trsm = cpu_trsm,
    .activation = cpu_activation,
    .mul_blocks = cpu_mul_blocks,
    .jet2 = cpu_jet2,
    .sinusoidal = cpu_sinusoidal,
    .row_scale = cpu_row_scale,
    .col_sums = cpu_col_sums,
    .add_row = cpu_add_row,
    .rng_uniform = cpu_rng_uniform,
    .rng_normal = cpu_rng_normal,
    .transpose = cpu_transpose,
    .adam = cpu_adam,
    .csrmm = cpu_csrmm,
};

static const npde_param_spec cpu_params[] = {
    {.name = "threads", .type = NPDE_PARAM_INT, .default_value = "0",
     .doc = "threads of OpenBLAS and of the fused kernels (OpenMP); 0 keeps their own defaults "
            "(OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, or all cores)",
     .min = 0, .max = 1024, .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX},
    {0},
};

const npde_component_desc cpu_backend_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_BACKEND,
    .name = "cpu",
    .summary = "host memory, OpenBLAS BLAS (f64, f32), fused network kernels, CSR products, Philox RNG",
    .ops = &cpu_ops,
    .state_size = sizeof(cpu_state),
    .params = cpu_params,
};
