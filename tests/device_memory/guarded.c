/* Test fixture: the "guarded" backend, the CPU backend's ops on memory the
 * host cannot touch. It says its memory is device memory, and every buffer
 * lives in one arena that is PROT_NONE except while one of its own ops runs.
 * A core, stage or plugin that reads or writes backend memory on the host
 * instead of going through upload/download then crashes with SIGSEGV, as it
 * would on a GPU, but on a machine without one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cpu_impl.h"

#define ARENA_BYTES ((size_t)8 << 30) /* reserved address space, not memory */
#define PAGE ((size_t)4096)

typedef struct block {
  size_t off, size;
  int used;
} block;

typedef struct guarded_state {
  cpu_state cpu; /* first: the CPU ops read their state through this */
  char *arena;
  size_t top; /* bytes handed out so far (page multiple) */
  block *blocks;
  size_t n_blocks, cap_blocks;
} guarded_state;

static guarded_state *gs(const npde_backend *be) { return npde_backend_state(be); }

static void open_arena(const npde_backend *be) {
  guarded_state *s = gs(be);
  if (s->top && mprotect(s->arena, s->top, PROT_READ | PROT_WRITE) != 0) perror("guarded: mprotect");
}

static void close_arena(const npde_backend *be) {
  guarded_state *s = gs(be);
  if (s->top && mprotect(s->arena, s->top, PROT_NONE) != 0) perror("guarded: mprotect");
}

static npde_status guarded_create(npde_backend *be, const npde_config *cfg, npde_backend *unused) {
  (void)cfg, (void)unused;
  guarded_state *s = gs(be);
  void *a = mmap(NULL, ARENA_BYTES, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (a == MAP_FAILED) return NPDE_ERROR(NPDE_ERR_NOMEM, "guarded backend: cannot reserve the arena");
  s->arena = a;
  snprintf(s->cpu.description, sizeof s->cpu.description, "guarded: CPU ops on host-inaccessible memory");
  return NPDE_OK;
}

static void guarded_destroy(npde_backend *be) {
  guarded_state *s = gs(be);
  if (s->arena) munmap(s->arena, ARENA_BYTES);
  npde_free(s->blocks);
  memset(s, 0, sizeof *s);
}

static const char *guarded_describe(const npde_backend *be) { return gs(be)->cpu.description; }

static npde_memtype guarded_memtype(const npde_backend *be) {
  (void)be;
  return NPDE_MEM_DEVICE;
}

/* A freed block of the same rounded size is reused; otherwise the arena grows. */
static npde_status guarded_alloc(npde_backend *be, size_t bytes, void **ptr) {
  guarded_state *s = gs(be);
  size_t size = ((bytes ? bytes : 1) + PAGE - 1) & ~(PAGE - 1);
  for (size_t i = 0; i < s->n_blocks; ++i)
    if (!s->blocks[i].used && s->blocks[i].size == size) {
      s->blocks[i].used = 1;
      *ptr = s->arena + s->blocks[i].off;
      return NPDE_OK;
    }
  if (s->top + size > ARENA_BYTES) return NPDE_ERROR(NPDE_ERR_NOMEM, "guarded backend: arena full");
  if (s->n_blocks == s->cap_blocks) {
    size_t cap = s->cap_blocks ? 2 * s->cap_blocks : 64;
    block *b = npde_alloc(cap * sizeof *b);
    if (!b) return NPDE_ERROR(NPDE_ERR_NOMEM, "guarded backend: out of memory");
    if (s->n_blocks) memcpy(b, s->blocks, s->n_blocks * sizeof *b);
    npde_free(s->blocks);
    s->blocks = b;
    s->cap_blocks = cap;
  }
  s->blocks[s->n_blocks++] = (block){.off = s->top, .size = size, .used = 1};
  *ptr = s->arena + s->top;
  s->top += size;
  return NPDE_OK;
}

static void guarded_free(npde_backend *be, void *ptr) {
  guarded_state *s = gs(be);
  if (!ptr) return;
  for (size_t i = 0; i < s->n_blocks; ++i)
    if (s->arena + s->blocks[i].off == (char *)ptr) {
      s->blocks[i].used = 0;
      return;
    }
  fprintf(stderr, "guarded backend: free of %p, which it did not allocate\n", ptr);
  abort();
}

/* upload and download alike: the only host access to the arena besides the ops */
static npde_status guarded_transfer(npde_backend *be, void *dst, const void *src, size_t bytes) {
  open_arena(be);
  memmove(dst, src, bytes);
  close_arena(be);
  return NPDE_OK;
}

/* Each op: open the arena, run the CPU backend's op, close it again. */
#define GUARDED_OP(name, params, args)    \
  static npde_status guarded_##name params { \
    open_arena(be);                       \
    npde_status st = cpu_##name args;     \
    close_arena(be);                      \
    return st;                            \
  }

GUARDED_OP(copy, (npde_backend * be, const npde_mat *src, npde_mat *dst), (be, src, dst))
GUARDED_OP(fill, (npde_backend * be, npde_mat *dst, double value), (be, dst, value))
GUARDED_OP(convert, (npde_backend * be, const npde_mat *src, npde_mat *dst), (be, src, dst))
GUARDED_OP(gemm, (npde_backend * be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                  const npde_mat *B, double beta, npde_mat *C), (be, ta, tb, alpha, A, B, beta, C))
GUARDED_OP(gemm_batched, (npde_backend * be, npde_trans ta, npde_trans tb, double alpha, const npde_mat *A,
                          int64_t sa, const npde_mat *B, int64_t sb, double beta, npde_mat *C, int64_t sc,
                          int64_t batch), (be, ta, tb, alpha, A, sa, B, sb, beta, C, sc, batch))
GUARDED_OP(gemv, (npde_backend * be, npde_trans ta, double alpha, const npde_mat *A, const npde_mat *x, double beta,
                  npde_mat *y), (be, ta, alpha, A, x, beta, y))
GUARDED_OP(axpy, (npde_backend * be, double alpha, const npde_mat *x, npde_mat *y), (be, alpha, x, y))
GUARDED_OP(scal, (npde_backend * be, double alpha, npde_mat *x), (be, alpha, x))
GUARDED_OP(dot, (npde_backend * be, const npde_mat *x, const npde_mat *y, double *out), (be, x, y, out))
GUARDED_OP(nrm2, (npde_backend * be, const npde_mat *x, double *out), (be, x, out))
GUARDED_OP(trsm, (npde_backend * be, npde_side side, npde_uplo uplo, npde_trans ta, npde_diag diag, double alpha,
                  const npde_mat *A, npde_mat *B), (be, side, uplo, ta, diag, alpha, A, B))
GUARDED_OP(transpose, (npde_backend * be, const npde_mat *A, npde_mat *B), (be, A, B))
GUARDED_OP(activation, (npde_backend * be, npde_activation act, const npde_mat *Z, npde_mat *S0, npde_mat *S1,
                        npde_mat *S2), (be, act, Z, S0, S1, S2))
GUARDED_OP(mul_blocks, (npde_backend * be, const npde_mat *S, const npde_mat *X, npde_mat *Y, int64_t m),
           (be, S, X, Y, m))
GUARDED_OP(jet2, (npde_backend * be, const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa, const npde_mat *Xb,
                  const npde_mat *Xdd, npde_mat *Y, int64_t m), (be, S1, S2, Xa, Xb, Xdd, Y, m))
GUARDED_OP(sinusoidal, (npde_backend * be, const npde_mat *X, int64_t nfreq, double alpha, double amp, int order,
                        int64_t dir, npde_mat *Y), (be, X, nfreq, alpha, amp, order, dir, Y))
GUARDED_OP(row_scale, (npde_backend * be, const npde_mat *s, const npde_mat *X, npde_mat *Y, int64_t m),
           (be, s, X, Y, m))
GUARDED_OP(col_sums, (npde_backend * be, double alpha, const npde_mat *X, double beta, npde_mat *y),
           (be, alpha, X, beta, y))
GUARDED_OP(add_row, (npde_backend * be, double alpha, const npde_mat *b, npde_mat *X), (be, alpha, b, X))
GUARDED_OP(adam, (npde_backend * be, npde_mat *theta, const npde_mat *g, npde_mat *m, npde_mat *v, double lr,
                  double b1, double b2, double eps, int64_t step), (be, theta, g, m, v, lr, b1, b2, eps, step))
GUARDED_OP(csrmm, (npde_backend * be, npde_trans ta, double alpha, const npde_csr *A, const npde_mat *X,
                   double beta, npde_mat *Y), (be, ta, alpha, A, X, beta, Y))
GUARDED_OP(rng_uniform, (npde_backend * be, uint64_t seed, uint64_t stream, uint64_t counter, double lo, double hi,
                         npde_mat *out), (be, seed, stream, counter, lo, hi, out))
GUARDED_OP(rng_normal, (npde_backend * be, uint64_t seed, uint64_t stream, uint64_t counter, double mean, double std,
                        npde_mat *out), (be, seed, stream, counter, mean, std, out))

static const npde_backend_ops guarded_ops = {
    .struct_size = sizeof(npde_backend_ops),
    .create = guarded_create,
    .destroy = guarded_destroy,
    .memtype = guarded_memtype,
    .alloc = guarded_alloc,
    .free = guarded_free,
    .upload = guarded_transfer,
    .download = guarded_transfer,
    .describe = guarded_describe,
    .copy = guarded_copy,
    .fill = guarded_fill,
    .convert = guarded_convert,
    .gemm = guarded_gemm,
    .gemm_batched = guarded_gemm_batched,
    .gemv = guarded_gemv,
    .axpy = guarded_axpy,
    .scal = guarded_scal,
    .dot = guarded_dot,
    .nrm2 = guarded_nrm2,
    .trsm = guarded_trsm,
    .activation = guarded_activation,
    .mul_blocks = guarded_mul_blocks,
    .jet2 = guarded_jet2,
    .sinusoidal = guarded_sinusoidal,
    .row_scale = guarded_row_scale,
    .col_sums = guarded_col_sums,
    .add_row = guarded_add_row,
    .rng_uniform = guarded_rng_uniform,
    .rng_normal = guarded_rng_normal,
    .transpose = guarded_transpose,
    .adam = guarded_adam,
    .csrmm = guarded_csrmm,
};

static const npde_param_spec guarded_params[] = {{0}};

static const npde_component_desc guarded_component = {
    .struct_size = sizeof(npde_component_desc),
    .kind = NPDE_KIND_BACKEND,
    .name = "guarded",
    .summary = "test fixture: CPU ops on memory the host cannot read outside backend ops",
    .ops = &guarded_ops,
    .state_size = sizeof(guarded_state),
    .params = guarded_params,
};

static const npde_component_desc *const components[] = {&guarded_component};

NPDE_PLUGIN_DEFINE(.name = "guarded", .version = "1.0.0", .license = "MIT",
                   .description = "test fixture: a device-memory backend without a device",
                   .n_components = 1, .components = components)
