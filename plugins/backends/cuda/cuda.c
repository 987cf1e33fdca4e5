/* The CUDA backend component: device choice, stream, memory pool, cuBLAS,
 * and its ops table. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cuda_impl.h"

npde_status cuda_fail(cudaError_t e, const char *what) {
  (void)cudaGetLastError(); /* handled here: later launches must not report it as theirs */
  return NPDE_ERROR(NPDE_ERR_DEVICE, "cuda backend: %s: %s (%s)", what, cudaGetErrorString(e), cudaGetErrorName(e));
}

npde_status cublas_fail(cublasStatus_t e, const char *what) {
  return NPDE_ERROR(NPDE_ERR_DEVICE, "cuda backend: %s: cuBLAS status %d", what, (int)e);
}

npde_status cuda_scratch(cuda_state *s, int64_t n) {
  if (n <= s->scratch_cap) return NPDE_OK;
  double *grown = NULL;
  CUDA_TRY(cudaMallocAsync((void **)&grown, (size_t)n * sizeof(double), s->stream), "allocating scratch");
  if (s->scratch && cudaFreeAsync(s->scratch, s->stream) != cudaSuccess) (void)cudaGetLastError();
  s->scratch = grown;
  s->scratch_cap = n;
  return NPDE_OK;
}

static npde_status load_cublas(cuda_blas *b) {
  char soname[64];
  snprintf(soname, sizeof soname, "libcublas.so.%d", CUBLAS_VER_MAJOR);
  b->lib = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!b->lib) b->lib = dlopen("libcublas.so", RTLD_NOW | RTLD_LOCAL);
  if (!b->lib)
    return NPDE_ERROR(NPDE_ERR_DEVICE, "cuda backend: cannot load cuBLAS (%s): %s; put the CUDA toolkit's lib64 "
                      "on LD_LIBRARY_PATH", soname, dlerror());
#define CUDA_BLAS_LOAD(f)                                                                         \
  *(void **)&b->f = dlsym(b->lib, #f);                                                            \
  if (!b->f) return NPDE_ERROR(NPDE_ERR_DEVICE, "cuda backend: %s lacks %s", soname, #f);
  CUDA_BLAS_FUNCS(CUDA_BLAS_LOAD)
#undef CUDA_BLAS_LOAD
  return NPDE_OK;
}

static npde_status cuda_create(npde_backend *be, const npde_config *cfg, npde_backend *unused) {
  (void)unused;
  cuda_state *s = npde_backend_state(be);
  int64_t requested = -1;
  if (cfg) NPDE_TRY(npde_config_get_int(cfg, "device", &requested));
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) (void)cudaGetLastError();
  if (e != cudaSuccess || count == 0)
    return NPDE_ERROR(NPDE_ERR_DEVICE, "cuda backend: no CUDA device (%s); use backend: cpu",
                      e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports none");
  NPDE_TRY(cuda_pick_device(requested, npde_comm_local_rank(), count, &s->device));
  CUDA_TRY(cudaSetDevice(s->device), "selecting the device");
  CUDA_TRY(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), "creating a stream");
  /* Keep freed blocks in the pool: alloc/free in a loop then costs no cudaMalloc. */
  cudaMemPool_t pool;
  CUDA_TRY(cudaDeviceGetDefaultMemPool(&pool, s->device), "getting the memory pool");
  uint64_t keep = UINT64_MAX;
  CUDA_TRY(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep), "configuring the memory pool");
  CUDA_TRY(cudaMallocHost((void **)&s->result, sizeof(double)), "allocating pinned memory");
  NPDE_TRY(cuda_scratch(s, CUK_SCRATCH_RESULT + 1));
  NPDE_TRY(load_cublas(&s->blas));
  CUBLAS_TRY(s->blas.cublasCreate_v2(&s->blas.handle), "cublasCreate");
  CUBLAS_TRY(s->blas.cublasSetStream_v2(s->blas.handle, s->stream), "cublasSetStream");
  int blas_version = 0;
  CUBLAS_TRY(s->blas.cublasGetVersion_v2(s->blas.handle, &blas_version), "cublasGetVersion");
  struct cudaDeviceProp prop;
  CUDA_TRY(cudaGetDeviceProperties(&prop, s->device), "reading device properties");
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  snprintf(s->description, sizeof s->description,
           "cuda: device %d of %d (%s, sm_%d%d, %.1f GiB), local rank %d of %d; runtime %d, driver %d, cuBLAS %d",
           s->device, count, prop.name, prop.major, prop.minor, (double)prop.totalGlobalMem / (1u << 30),
           npde_comm_local_rank(), npde_comm_local_size(), runtime, driver, blas_version);
  return NPDE_OK;
}

/* Also runs after a failed create, on whatever it set up. */
static void cuda_destroy(npde_backend *be) {
  cuda_state *s = npde_backend_state(be);
  if (s->stream) cudaStreamSynchronize(s->stream);
  if (s->blas.handle) s->blas.cublasDestroy_v2(s->blas.handle);
  if (s->scratch) cudaFree(s->scratch);
  if (s->result) cudaFreeHost(s->result);
  if (s->stream) cudaStreamDestroy(s->stream);
  /* the library stays loaded: cuBLAS may keep threads or atexit handlers */
  memset(s, 0, sizeof *s);
}

static const char *cuda_describe(const npde_backend *be) {
  const cuda_state *s = npde_backend_state(be);
  return s->description;
}

static npde_memtype cuda_memtype(const npde_backend *be) {
  (void)be;
  return NPDE_MEM_DEVICE;
}

static npde_status cuda_alloc(npde_backend *be, size_t bytes, void **ptr) {
  cuda_state *s = npde_backend_state(be);
  cudaError_t e = cudaMallocAsync(ptr, bytes ? bytes : 1, s->stream);
  if (e != cudaSuccess) {
    (void)cudaGetLastError(); /* a caller may recover (a smaller batch); the next launch must not see this */
    return NPDE_ERROR(NPDE_ERR_NOMEM, "cuda backend: cannot allocate %zu bytes on device %d: %s", bytes, s->device,
                      cudaGetErrorString(e));
  }
  return NPDE_OK;
}

static void cuda_free(npde_backend *be, void *ptr) {
  cuda_state *s = npde_backend_state(be);
  if (ptr && cudaFreeAsync(ptr, s->stream) != cudaSuccess) (void)cudaGetLastError();
}

/* A host <-> device copy, finished on return: the caller may reuse or read its buffer at once. */
static npde_status transfer(npde_backend *be, void *dst, const void *src, size_t bytes, enum cudaMemcpyKind kind,
                            const char *what) {
  cuda_state *s = npde_backend_state(be);
  if (!bytes) return NPDE_OK;
  CUDA_TRY(cudaMemcpyAsync(dst, src, bytes, kind, s->stream), what);
  CUDA_TRY(cudaStreamSynchronize(s->stream), what);
  return NPDE_OK;
}

static npde_status cuda_upload(npde_backend *be, void *dst, const void *src, size_t bytes) {
  return transfer(be, dst, src, bytes, cudaMemcpyHostToDevice, "upload");
}

static npde_status cuda_download(npde_backend *be, void *dst, const void *src, size_t bytes) {
  return transfer(be, dst, src, bytes, cudaMemcpyDeviceToHost, "download");
}

static const npde_backend_ops cuda_ops = {
    .struct_size = sizeof(npde_backend_ops),
    .create = cuda_create,
    .destroy = cuda_destroy,
    .memtype = cuda_memtype,
    .alloc = cuda_alloc,
    .free = cuda_free,
    .upload = cuda_upload,
    .download = cuda_download,
    .describe = cuda_describe,
    .copy = cuda_copy,
    .fill = cuda_fill,
    .convert = cuda_convert,
    .gemm = cuda_gemm,
    .gemm_batched = cuda_gemm_batched,
    .gemv = cuda_gemv,
    .axpy = cuda_axpy,
    .scal = cuda_scal,
    .dot = cuda_dot,
    .nrm2 = cuda_nrm2,
    .trsm = cuda_trsm,
    .activation = cuda_activation,
    .mul_blocks = cuda_mul_blocks,
    .jet2 = cuda_jet2,
    .sinusoidal = cuda_sinusoidal,
    .row_scale = cuda_row_scale,
    .col_sums = cuda_col_sums,
    .add_row = cuda_add_row,
    .rng_uniform = cuda_rng_uniform,
    .rng_normal = cuda_rng_normal,
    .transpose = cuda_transpose,
    .adam = cuda_adam,
    .csrmm = cuda_csrmm,
};

static const npde_param_spec cuda_params[] = {
    {.name = "device", .type = NPDE_PARAM_INT, .default_value = "-1",
     .doc = "CUDA device index; -1 takes the rank's local rank modulo the node's device count (one rank per GPU "
            "under mpirun)",
     .min = -1, .max = 1023, .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX},
    {0},
};

const npde_component_desc cuda_backend_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_BACKEND,
    .name = "cuda",
    .summary = "NVIDIA GPU: device memory (stream-ordered pool), cuBLAS (f64, f32), fused network kernels, Philox RNG",
    .ops = &cuda_ops,
    .state_size = sizeof(cuda_state),
    .params = cuda_params,
};
