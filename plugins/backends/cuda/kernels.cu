/* CUDA backend: every kernel of the backend op set, one template over the
 * element type each, with the per-element formulas of npde_kernel_math.h
 * and npde_philox.h that the CPU backend compiles too. Reductions (dot,
 * nrm2, col_sums) partition their input by its shape alone and add the
 * partial sums in a fixed order, so results do not depend on timing;
 * csrmm gives each output element to one thread, summing in the CPU's order. */
#include <cub/device/device_radix_sort.cuh>

#include "cuda_kernels.h"
#include "npde/npde_kernel_math.h"
#include "npde/npde_philox.h"

namespace {

constexpr int kThreads = 256;

template <typename T> struct View {
  T *p;
  int64_t rows, cols, ld;
  __device__ T &at(int64_t i, int64_t j) const { return p[i * ld + j]; }
};

template <typename T> View<T> view(const npde_mat *m) {
  return View<T>{m ? static_cast<T *>(m->data) : nullptr, m ? m->rows : 0, m ? m->cols : 0, m ? m->ld : 0};
}

/* Element k of a vector view: one column (stride ld) or one row. */
template <typename T> struct Vec {
  T *p;
  int64_t inc;
  __device__ T &operator[](int64_t k) const { return p[k * inc]; }
};

template <typename T> Vec<T> vec(const npde_mat *m) { return Vec<T>{static_cast<T *>(m->data), m->cols == 1 ? m->ld : 1}; }

int grid_for(int64_t total) {
  int64_t b = (total + kThreads - 1) / kThreads;
  return (int)(b < 1 ? 1 : b > 8192 ? 8192 : b);
}

#define GRID_STRIDE(e, total) \
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < (total); e += (int64_t)gridDim.x * blockDim.x)

/* ---------------------------------------------------------------- element-wise */

template <typename T> __global__ void fill_k(View<T> d, T value) {
  GRID_STRIDE(e, d.rows * d.cols) d.at(e / d.cols, e % d.cols) = value;
}

template <typename S, typename D> __global__ void convert_k(View<S> s, View<D> d) {
  GRID_STRIDE(e, s.rows * s.cols) d.at(e / s.cols, e % s.cols) = (D)s.at(e / s.cols, e % s.cols);
}

/* 32 x 32 tiles through shared memory: both the reads of A and the writes of B are coalesced. */
constexpr int kTile = 32;
/* One block per tile on a 1-D grid (a 2-D grid's y extent stops at 65535 tiles, p = 2M rows). */
template <typename T> __global__ void transpose_k(View<T> A, View<T> B, int64_t tiles_across) {
  __shared__ T tile[kTile][kTile + 1];
  const int64_t i0 = (blockIdx.x / tiles_across) * kTile, j0 = (blockIdx.x % tiles_across) * kTile;
  for (int r = threadIdx.y; r < kTile; r += blockDim.y) {
    int64_t i = i0 + r, j = j0 + threadIdx.x;
    if (i < A.rows && j < A.cols) tile[r][threadIdx.x] = A.at(i, j);
  }
  __syncthreads();
  for (int r = threadIdx.y; r < kTile; r += blockDim.y) {
    int64_t j = j0 + r, i = i0 + threadIdx.x; /* B(j, i) = A(i, j) */
    if (i < A.rows && j < A.cols) B.at(j, i) = tile[threadIdx.x][r];
  }
}

template <typename T> __global__ void axpy_k(T alpha, View<T> x, View<T> y) {
  GRID_STRIDE(e, x.rows * x.cols) {
    int64_t i = e / x.cols, j = e % x.cols;
    y.at(i, j) += alpha * x.at(i, j);
  }
}

template <typename T> __global__ void scal_k(T alpha, View<T> x) {
  GRID_STRIDE(e, x.rows * x.cols) x.at(e / x.cols, e % x.cols) *= alpha;
}

template <typename T> __global__ void activation_k(npde_activation act, View<T> Z, View<T> S0, View<T> S1, View<T> S2) {
  GRID_STRIDE(e, Z.rows * Z.cols) {
    int64_t i = e / Z.cols, j = e % Z.cols;
    double a0, a1, a2;
    npde_activation_eval(act, (double)Z.at(i, j), &a0, &a1, &a2);
    if (S0.p) S0.at(i, j) = (T)a0;
    if (S1.p) S1.at(i, j) = (T)a1;
    if (S2.p) S2.at(i, j) = (T)a2;
  }
}

/* Stacks of m blocks of n rows: row r of the stack is row r % n of a block. */
template <typename T> __global__ void mul_blocks_k(View<T> S, View<T> X, View<T> Y, int64_t m) {
  const int64_t n = S.rows, w = S.cols;
  GRID_STRIDE(e, m * n * w) {
    int64_t r = e / w, j = e % w;
    Y.at(r, j) = S.at(r % n, j) * X.at(r, j);
  }
}

template <typename T>
__global__ void jet2_k(View<T> S1, View<T> S2, View<T> Xa, View<T> Xb, View<T> Xdd, View<T> Y, int64_t m) {
  const int64_t n = S1.rows, w = S1.cols;
  GRID_STRIDE(e, m * n * w) {
    int64_t r = e / w, j = e % w, i = r % n;
    Y.at(r, j) = S2.at(i, j) * Xa.at(r, j) * Xb.at(r, j) + S1.at(i, j) * Xdd.at(r, j);
  }
}

template <typename T>
__global__ void sinusoidal_k(View<T> X, int64_t nfreq, double alpha, double amp, int order, int64_t dir, View<T> Y) {
  const int64_t d = X.cols, half = nfreq * d;
  GRID_STRIDE(e, X.rows * half) {
    int64_t i = e / half, q = e % half, k = q / d, j = q % d;
    double w = npde_sinusoidal_frequency(k), c = npde_sinusoidal_scale(w, amp, order, alpha);
    double sn, cs, fs, fc;
    sincos(w * (double)X.at(i, j), &sn, &cs);
    npde_sincos_derivative(order, sn, cs, &fs, &fc);
    bool on = dir < 0 || dir == j;
    Y.at(i, k * d + j) = on ? (T)(c * fs) : (T)0;
    Y.at(i, half + k * d + j) = on ? (T)(c * fc) : (T)0;
  }
}

template <typename T> __global__ void row_scale_k(Vec<T> s, View<T> X, View<T> Y, int64_t n) {
  GRID_STRIDE(e, X.rows * X.cols) {
    int64_t r = e / X.cols, j = e % X.cols;
    Y.at(r, j) = s[r % n] * X.at(r, j);
  }
}

template <typename T> __global__ void add_row_k(T alpha, Vec<T> b, View<T> X) {
  GRID_STRIDE(e, X.rows * X.cols) {
    int64_t i = e / X.cols, j = e % X.cols;
    X.at(i, j) += alpha * b[j];
  }
}

template <typename T>
__global__ void adam_k(View<T> th, View<T> g, View<T> m, View<T> v, double lr, double b1, double b2, double eps,
                       double c1, double c2) {
  GRID_STRIDE(e, th.rows * th.cols) {
    int64_t i = e / th.cols, j = e % th.cols;
    double mj = (double)m.at(i, j), vj = (double)v.at(i, j), tj = (double)th.at(i, j);
    npde_adam_element((double)g.at(i, j), &mj, &vj, &tj, lr, b1, b2, eps, c1, c2);
    m.at(i, j) = (T)mj;
    v.at(i, j) = (T)vj;
    th.at(i, j) = (T)tj;
  }
}

/* ---------------------------------------------------------------- random numbers */

/* Pair b of the draw: elements 2b and 2b + 1 (npde_philox.h). The explicit
 * _rn operations keep nvcc from fusing into FMAs, so the values are the
 * CPU backend's bit for bit wherever libm and CUDA's math agree (all of
 * uniform; normal up to the last bits of log1p, sin and cos). */
template <typename T>
__global__ void rng_k(uint64_t seed, uint64_t stream_id, uint64_t counter, double a, double b_or_std, bool normal,
                      View<T> out) {
  const int64_t total = out.rows * out.cols;
  GRID_STRIDE(b, (total + 1) / 2) {
    uint32_t w[4];
    npde_philox_block(seed, stream_id, counter + (uint64_t)b, w);
    double v[2];
    if (!normal) {
      double span = __dadd_rn(b_or_std, -a);
      v[0] = __dadd_rn(a, __dmul_rn(span, npde_philox_u01(w[0], w[1])));
      v[1] = __dadd_rn(a, __dmul_rn(span, npde_philox_u01(w[2], w[3])));
    } else {
      double u1 = npde_philox_u01(w[0], w[1]), u2 = npde_philox_u01(w[2], w[3]);
      double r = sqrt(__dmul_rn(-2.0, log1p(-u1)));
      double angle = __dmul_rn(6.283185307179586, u2), sr = __dmul_rn(b_or_std, r);
      v[0] = __dadd_rn(a, __dmul_rn(sr, cos(angle)));
      v[1] = __dadd_rn(a, __dmul_rn(sr, sin(angle)));
    }
    for (int q = 0; q < 2; ++q) {
      int64_t idx = 2 * b + q;
      if (idx < total) out.at(idx / out.cols, idx % out.cols) = (T)v[q];
    }
  }
}

/* ---------------------------------------------------------------- reductions */

/* Sum over the block in a fixed tree order; every thread gets the result. */
__device__ double block_sum(double v) {
  __shared__ double sh[kThreads];
  sh[threadIdx.x] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
    __syncthreads();
  }
  double r = sh[0];
  __syncthreads();
  return r;
}

int reduce_blocks(int64_t total) {
  int64_t b = (total + kThreads - 1) / kThreads;
  return (int)(b < 1 ? 1 : b > CUK_REDUCE_BLOCKS ? CUK_REDUCE_BLOCKS : b);
}

template <typename T> __global__ void dot_k(View<T> x, View<T> y, double *partial) {
  double acc = 0.0;
  GRID_STRIDE(e, x.rows * x.cols) {
    int64_t i = e / x.cols, j = e % x.cols;
    acc += (double)x.at(i, j) * (double)y.at(i, j);
  }
  double s = block_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

__global__ void sum_partials_k(const double *partial, int n, double *result) {
  double acc = 0.0;
  for (int k = threadIdx.x; k < n; k += blockDim.x) acc += partial[k];
  double s = block_sum(acc);
  if (threadIdx.x == 0) *result = s;
}

/* (scale, ssq) stands for scale^2 ssq (LAPACK dlassq); scale 0 is empty. */
__device__ void lassq_merge(double *scale, double *ssq, double s2, double q2) {
  if (s2 == 0.0 || isinf(*scale)) return;
  if (isinf(s2)) { /* Inf / Inf below would give NaN; the norm is Inf */
    *scale = s2;
    *ssq = 1.0;
    return;
  }
  if (*scale == 0.0) {
    *scale = s2;
    *ssq = q2;
  } else if (*scale < s2) {
    *ssq = q2 + *ssq * (*scale / s2) * (*scale / s2);
    *scale = s2;
  } else {
    *ssq += q2 * (s2 / *scale) * (s2 / *scale);
  }
}

__device__ void block_lassq(double *scale, double *ssq) {
  __shared__ double sc[kThreads], sq[kThreads];
  sc[threadIdx.x] = *scale;
  sq[threadIdx.x] = *ssq;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) lassq_merge(&sc[threadIdx.x], &sq[threadIdx.x], sc[threadIdx.x + s], sq[threadIdx.x + s]);
    __syncthreads();
  }
  *scale = sc[0];
  *ssq = sq[0];
  __syncthreads();
}

template <typename T> __global__ void nrm2_k(View<T> x, double *partial) {
  double scale = 0.0, ssq = 0.0;
  GRID_STRIDE(e, x.rows * x.cols) lassq_merge(&scale, &ssq, fabs((double)x.at(e / x.cols, e % x.cols)), 1.0);
  block_lassq(&scale, &ssq);
  if (threadIdx.x == 0) {
    partial[2 * blockIdx.x] = scale;
    partial[2 * blockIdx.x + 1] = ssq;
  }
}

__global__ void nrm2_finish_k(const double *partial, int n, double *result) {
  double scale = 0.0, ssq = 0.0;
  for (int k = threadIdx.x; k < n; k += blockDim.x) lassq_merge(&scale, &ssq, partial[2 * k], partial[2 * k + 1]);
  block_lassq(&scale, &ssq);
  if (threadIdx.x == 0) *result = scale * sqrt(ssq);
}

/* col_sums: rows split into R chunks of `chunk` rows; a 32 x 8 block sums
 * 32 columns of one chunk (8 lanes, then the lanes in order), and a second
 * kernel adds the R chunk sums of each column in order. */
constexpr int kColTile = 32, kColLanes = 8;

void col_chunks(int64_t n, int64_t *R, int64_t *chunk) {
  int64_t r = (n + 255) / 256;
  if (r > 256) r = 256;
  *R = r;
  *chunk = r ? (n + r - 1) / r : 0;
}

template <typename T> __global__ void col_partial_k(View<T> X, int64_t chunk, double *partial) {
  __shared__ double sh[kColLanes][kColTile];
  const int64_t j = blockIdx.x * (int64_t)kColTile + threadIdx.x, r = blockIdx.y;
  const int64_t i0 = r * chunk, i1 = i0 + chunk < X.rows ? i0 + chunk : X.rows;
  double acc = 0.0;
  if (j < X.cols)
    for (int64_t i = i0 + threadIdx.y; i < i1; i += kColLanes) acc += (double)X.at(i, j);
  sh[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && j < X.cols) {
    double s = 0.0;
    for (int l = 0; l < kColLanes; ++l) s += sh[l][threadIdx.x];
    partial[r * X.cols + j] = s;
  }
}

template <typename T>
__global__ void col_finish_k(const double *partial, int64_t R, int64_t w, double alpha, double beta, Vec<T> y) {
  GRID_STRIDE(j, w) {
    double s = 0.0;
    for (int64_t r = 0; r < R; ++r) s += partial[r * w + j];
    y[j] = (T)(alpha * s + (beta == 0.0 ? 0.0 : beta * (double)y[j]));
  }
}

/* ---------------------------------------------------------------- sparse */

/* Each element's sum in k order with explicit _rn operations: the CPU
 * backend's result bit for bit (nvcc would otherwise fuse into FMAs). */
template <typename T>
__global__ void csrmm_k(const int64_t *rowptr, const int64_t *colind, const T *val, double alpha, View<T> X,
                        double beta, View<T> Y) {
  const int64_t w = Y.cols;
  GRID_STRIDE(e, Y.rows * w) {
    const int64_t i = e / w, c = e % w, k1 = rowptr[i + 1];
    double acc = 0.0;
    for (int64_t k = rowptr[i]; k < k1; ++k)
      acc = __dadd_rn(acc, __dmul_rn((double)val[k], (double)X.at(colind[k], c)));
    double r = __dmul_rn(alpha, acc);
    if (beta != 0.0) r = __dadd_rn(r, __dmul_rn(beta, (double)Y.at(i, c)));
    Y.at(i, c) = (T)r;
  }
}

__global__ void iota_k(int64_t *v, int64_t n) { GRID_STRIDE(k, n) v[k] = k; }

/* The row holding entry perm[p]: the last row starting at or before it
 * (an empty row starts where the next one does). */
__global__ void entry_rows_k(const int64_t *rowptr, int64_t rows, const int64_t *perm, int64_t nnz, int64_t *row) {
  GRID_STRIDE(p, nnz) {
    const int64_t k = perm[p];
    int64_t lo = 0, hi = rows; /* rowptr[lo] <= k < rowptr[hi] */
    while (hi - lo > 1) {
      int64_t mid = lo + (hi - lo) / 2;
      if (rowptr[mid] <= k) lo = mid;
      else hi = mid;
    }
    row[p] = lo;
  }
}

/* colptr[j] = the first sorted entry with column >= j, j = 0..cols. */
__global__ void col_ptr_k(const uint64_t *key, int64_t nnz, int64_t cols, int64_t *colptr) {
  GRID_STRIDE(j, cols + 1) {
    int64_t lo = 0, hi = nnz;
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (key[mid] < (uint64_t)j) lo = mid + 1;
      else hi = mid;
    }
    colptr[j] = lo;
  }
}

/* The running value is a T, rounded after every step, because the CPU
 * accumulates in Y itself; the column's entries come in increasing k,
 * the order in which the CPU's walk over the rows meets them. colptr null:
 * A has no entries. */
template <typename T>
__global__ void csrmm_trans_k(const int64_t *colptr, const int64_t *perm, const int64_t *row, const T *val,
                              double alpha, View<T> X, double beta, View<T> Y) {
  const int64_t w = Y.cols;
  GRID_STRIDE(e, Y.rows * w) {
    const int64_t j = e / w, c = e % w, p1 = colptr ? colptr[j + 1] : 0;
    T y = beta == 0.0 ? (T)0 : (T)__dmul_rn(beta, (double)Y.at(j, c));
    for (int64_t p = colptr ? colptr[j] : 0; p < p1; ++p)
      y = (T)__dadd_rn((double)y, __dmul_rn((double)val[perm[p]], __dmul_rn(alpha, (double)X.at(row[p], c))));
    Y.at(j, c) = y;
  }
}

/* ---------------------------------------------------------------- dispatch */

template <typename T> cudaError_t fill_t(cudaStream_t st, const npde_mat *d, double value) {
  if (d->rows * d->cols == 0) return cudaSuccess;
  fill_k<T><<<grid_for(d->rows * d->cols), kThreads, 0, st>>>(view<T>(d), (T)value);
  return cudaGetLastError();
}

template <typename T> cudaError_t transpose_t(cudaStream_t st, const npde_mat *A, const npde_mat *B) {
  if (A->rows * A->cols == 0) return cudaSuccess;
  const int64_t across = (A->cols + kTile - 1) / kTile, down = (A->rows + kTile - 1) / kTile;
  transpose_k<T><<<(unsigned)(across * down), dim3(kTile, 8), 0, st>>>(view<T>(A), view<T>(B), across);
  return cudaGetLastError();
}

template <typename T> cudaError_t axpy_t(cudaStream_t st, double alpha, const npde_mat *x, const npde_mat *y) {
  if (x->rows * x->cols == 0) return cudaSuccess;
  axpy_k<T><<<grid_for(x->rows * x->cols), kThreads, 0, st>>>((T)alpha, view<T>(x), view<T>(y));
  return cudaGetLastError();
}

template <typename T> cudaError_t scal_t(cudaStream_t st, double alpha, const npde_mat *x) {
  if (x->rows * x->cols == 0) return cudaSuccess;
  scal_k<T><<<grid_for(x->rows * x->cols), kThreads, 0, st>>>((T)alpha, view<T>(x));
  return cudaGetLastError();
}

template <typename T>
cudaError_t dot_t(cudaStream_t st, const npde_mat *x, const npde_mat *y, double *scratch, double *result) {
  const int nb = reduce_blocks(x->rows * x->cols);
  dot_k<T><<<nb, kThreads, 0, st>>>(view<T>(x), view<T>(y), scratch);
  sum_partials_k<<<1, kThreads, 0, st>>>(scratch, nb, result);
  return cudaGetLastError();
}

template <typename T> cudaError_t nrm2_t(cudaStream_t st, const npde_mat *x, double *scratch, double *result) {
  const int nb = reduce_blocks(x->rows * x->cols);
  nrm2_k<T><<<nb, kThreads, 0, st>>>(view<T>(x), scratch);
  nrm2_finish_k<<<1, kThreads, 0, st>>>(scratch, nb, result);
  return cudaGetLastError();
}

template <typename T>
cudaError_t activation_t(cudaStream_t st, npde_activation act, const npde_mat *Z, const npde_mat *S0,
                         const npde_mat *S1, const npde_mat *S2) {
  if (Z->rows * Z->cols == 0) return cudaSuccess;
  activation_k<T><<<grid_for(Z->rows * Z->cols), kThreads, 0, st>>>(act, view<T>(Z), view<T>(S0), view<T>(S1),
                                                                       view<T>(S2));
  return cudaGetLastError();
}

template <typename T>
cudaError_t mul_blocks_t(cudaStream_t st, const npde_mat *S, const npde_mat *X, const npde_mat *Y, int64_t m) {
  const int64_t total = m * S->rows * S->cols;
  if (total == 0) return cudaSuccess;
  mul_blocks_k<T><<<grid_for(total), kThreads, 0, st>>>(view<T>(S), view<T>(X), view<T>(Y), m);
  return cudaGetLastError();
}

template <typename T>
cudaError_t jet2_t(cudaStream_t st, const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa, const npde_mat *Xb,
                   const npde_mat *Xdd, const npde_mat *Y, int64_t m) {
  const int64_t total = m * S1->rows * S1->cols;
  if (total == 0) return cudaSuccess;
  jet2_k<T><<<grid_for(total), kThreads, 0, st>>>(view<T>(S1), view<T>(S2), view<T>(Xa), view<T>(Xb), view<T>(Xdd),
                                                   view<T>(Y), m);
  return cudaGetLastError();
}

template <typename T>
cudaError_t sinusoidal_t(cudaStream_t st, const npde_mat *X, int64_t nfreq, double alpha, double amp, int order,
                         int64_t dir, const npde_mat *Y) {
  const int64_t total = X->rows * nfreq * X->cols;
  if (total == 0) return cudaSuccess;
  sinusoidal_k<T><<<grid_for(total), kThreads, 0, st>>>(view<T>(X), nfreq, alpha, amp, order, dir, view<T>(Y));
  return cudaGetLastError();
}

template <typename T>
cudaError_t row_scale_t(cudaStream_t st, const npde_mat *s, const npde_mat *X, const npde_mat *Y, int64_t m) {
  if (X->rows * X->cols == 0 || m == 0) return cudaSuccess;
  row_scale_k<T><<<grid_for(X->rows * X->cols), kThreads, 0, st>>>(vec<T>(s), view<T>(X), view<T>(Y), X->rows / m);
  return cudaGetLastError();
}

template <typename T>
cudaError_t col_sums_t(cudaStream_t st, double alpha, const npde_mat *X, double beta, const npde_mat *y,
                       double *scratch) {
  const int64_t w = X->cols;
  if (w == 0) return cudaSuccess;
  int64_t R, chunk;
  col_chunks(X->rows, &R, &chunk);
  if (R > 0) {
    dim3 grid((unsigned)((w + kColTile - 1) / kColTile), (unsigned)R), block(kColTile, kColLanes);
    col_partial_k<T><<<grid, block, 0, st>>>(view<T>(X), chunk, scratch);
  }
  col_finish_k<T><<<grid_for(w), kThreads, 0, st>>>(scratch, R, w, alpha, beta, vec<T>(y));
  return cudaGetLastError();
}

template <typename T> cudaError_t add_row_t(cudaStream_t st, double alpha, const npde_mat *b, const npde_mat *X) {
  if (X->rows * X->cols == 0) return cudaSuccess;
  add_row_k<T><<<grid_for(X->rows * X->cols), kThreads, 0, st>>>((T)alpha, vec<T>(b), view<T>(X));
  return cudaGetLastError();
}

template <typename T>
cudaError_t adam_t(cudaStream_t st, const npde_mat *th, const npde_mat *g, const npde_mat *m, const npde_mat *v,
                   double lr, double b1, double b2, double eps, double c1, double c2) {
  if (th->rows * th->cols == 0) return cudaSuccess;
  adam_k<T><<<grid_for(th->rows * th->cols), kThreads, 0, st>>>(view<T>(th), view<T>(g), view<T>(m), view<T>(v), lr,
                                                                 b1, b2, eps, c1, c2);
  return cudaGetLastError();
}

template <typename T>
cudaError_t rng_t(cudaStream_t st, uint64_t seed, uint64_t sid, uint64_t counter, double a, double b, bool normal,
                  const npde_mat *out) {
  const int64_t pairs = (out->rows * out->cols + 1) / 2;
  if (pairs == 0) return cudaSuccess;
  rng_k<T><<<grid_for(pairs), kThreads, 0, st>>>(seed, sid, counter, a, b, normal, view<T>(out));
  return cudaGetLastError();
}

/* A's entries by column: perm (entry indices; the radix sort is stable,
 * so increasing k within a column), row (the row of each) and colptr, in
 * one stream-ordered allocation *buf that the caller frees. */
cudaError_t csr_by_column(cudaStream_t st, const npde_csr *A, char **buf, int64_t **perm, int64_t **row,
                          int64_t **colptr) {
  const int64_t nnz = A->nnz;
  const uint64_t *key = reinterpret_cast<const uint64_t *>(A->colind); /* in [0, cols): unsigned is the same order */
  int bits = 1; /* only the bits a column index can use: fewer radix passes */
  while (bits < 63 && ((int64_t)1 << bits) < A->cols) ++bits;
  size_t temp = 0;
  cudaError_t e = cub::DeviceRadixSort::SortPairs(nullptr, temp, key, static_cast<uint64_t *>(nullptr),
                                                  static_cast<const int64_t *>(nullptr),
                                                  static_cast<int64_t *>(nullptr), nnz, 0, bits, st);
  if (e != cudaSuccess) return e;
  auto up = [](size_t b) { return (b + 255) & ~(size_t)255; };
  const size_t ebytes = up((size_t)nnz * sizeof(int64_t)), cbytes = up((size_t)(A->cols + 1) * sizeof(int64_t));
  char *b = nullptr;
  e = cudaMallocAsync((void **)&b, 3 * ebytes + cbytes + temp, st);
  if (e != cudaSuccess) return e;
  *buf = b;
  uint64_t *sorted = reinterpret_cast<uint64_t *>(b);
  int64_t *seq = reinterpret_cast<int64_t *>(b + ebytes); /* the sort's input, then row: free once sorted */
  *perm = reinterpret_cast<int64_t *>(b + 2 * ebytes);
  *row = seq;
  *colptr = reinterpret_cast<int64_t *>(b + 3 * ebytes);
  iota_k<<<grid_for(nnz), kThreads, 0, st>>>(seq, nnz);
  e = cub::DeviceRadixSort::SortPairs(b + 3 * ebytes + cbytes, temp, key, sorted, seq, *perm, nnz, 0, bits, st);
  if (e != cudaSuccess) return e;
  entry_rows_k<<<grid_for(nnz), kThreads, 0, st>>>(A->rowptr, A->rows, *perm, nnz, *row);
  col_ptr_k<<<grid_for(A->cols + 1), kThreads, 0, st>>>(sorted, nnz, A->cols, *colptr);
  return cudaGetLastError();
}

template <typename T>
cudaError_t csrmm_t(cudaStream_t st, npde_trans ta, double alpha, const npde_csr *A, const npde_mat *X, double beta,
                    const npde_mat *Y) {
  const int64_t total = Y->rows * Y->cols;
  if (total == 0) return cudaSuccess;
  const T *val = static_cast<const T *>(A->values);
  if (ta == NPDE_NO_TRANS) {
    csrmm_k<T><<<grid_for(total), kThreads, 0, st>>>(A->rowptr, A->colind, val, alpha, view<T>(X), beta, view<T>(Y));
    return cudaGetLastError();
  }
  char *buf = nullptr;
  int64_t *perm = nullptr, *row = nullptr, *colptr = nullptr;
  cudaError_t e = A->nnz > 0 ? csr_by_column(st, A, &buf, &perm, &row, &colptr) : cudaSuccess;
  if (e == cudaSuccess) {
    csrmm_trans_k<T><<<grid_for(total), kThreads, 0, st>>>(colptr, perm, row, val, alpha, view<T>(X), beta, view<T>(Y));
    e = cudaGetLastError();
  }
  cudaError_t f = buf ? cudaFreeAsync(buf, st) : cudaSuccess;
  return e != cudaSuccess ? e : f;
}

bool f64(const npde_mat *m) { return m->dtype == NPDE_F64; }

} /* namespace */

extern "C" {

cudaError_t cuk_fill(cudaStream_t st, const npde_mat *d, double value) {
  return f64(d) ? fill_t<double>(st, d, value) : fill_t<float>(st, d, value);
}

cudaError_t cuk_convert(cudaStream_t st, const npde_mat *s, const npde_mat *d) {
  const int64_t total = s->rows * s->cols;
  if (total == 0) return cudaSuccess;
  if (f64(s) && !f64(d)) convert_k<double, float><<<grid_for(total), kThreads, 0, st>>>(view<double>(s), view<float>(d));
  else if (!f64(s) && f64(d)) convert_k<float, double><<<grid_for(total), kThreads, 0, st>>>(view<float>(s), view<double>(d));
  else if (f64(s)) convert_k<double, double><<<grid_for(total), kThreads, 0, st>>>(view<double>(s), view<double>(d));
  else convert_k<float, float><<<grid_for(total), kThreads, 0, st>>>(view<float>(s), view<float>(d));
  return cudaGetLastError();
}

cudaError_t cuk_transpose(cudaStream_t st, const npde_mat *A, const npde_mat *B) {
  return f64(A) ? transpose_t<double>(st, A, B) : transpose_t<float>(st, A, B);
}

cudaError_t cuk_axpy(cudaStream_t st, double alpha, const npde_mat *x, const npde_mat *y) {
  return f64(x) ? axpy_t<double>(st, alpha, x, y) : axpy_t<float>(st, alpha, x, y);
}

cudaError_t cuk_scal(cudaStream_t st, double alpha, const npde_mat *x) {
  return f64(x) ? scal_t<double>(st, alpha, x) : scal_t<float>(st, alpha, x);
}

cudaError_t cuk_dot(cudaStream_t st, const npde_mat *x, const npde_mat *y, double *scratch, double *result) {
  return f64(x) ? dot_t<double>(st, x, y, scratch, result) : dot_t<float>(st, x, y, scratch, result);
}

cudaError_t cuk_nrm2(cudaStream_t st, const npde_mat *x, double *scratch, double *result) {
  return f64(x) ? nrm2_t<double>(st, x, scratch, result) : nrm2_t<float>(st, x, scratch, result);
}

cudaError_t cuk_activation(cudaStream_t st, npde_activation act, const npde_mat *Z, const npde_mat *S0,
                           const npde_mat *S1, const npde_mat *S2) {
  return f64(Z) ? activation_t<double>(st, act, Z, S0, S1, S2) : activation_t<float>(st, act, Z, S0, S1, S2);
}

cudaError_t cuk_mul_blocks(cudaStream_t st, const npde_mat *S, const npde_mat *X, const npde_mat *Y, int64_t m) {
  return f64(S) ? mul_blocks_t<double>(st, S, X, Y, m) : mul_blocks_t<float>(st, S, X, Y, m);
}

cudaError_t cuk_jet2(cudaStream_t st, const npde_mat *S1, const npde_mat *S2, const npde_mat *Xa, const npde_mat *Xb,
                     const npde_mat *Xdd, const npde_mat *Y, int64_t m) {
  return f64(S1) ? jet2_t<double>(st, S1, S2, Xa, Xb, Xdd, Y, m) : jet2_t<float>(st, S1, S2, Xa, Xb, Xdd, Y, m);
}

cudaError_t cuk_sinusoidal(cudaStream_t st, const npde_mat *X, int64_t nfreq, double alpha, double amp, int order,
                           int64_t dir, const npde_mat *Y) {
  return f64(X) ? sinusoidal_t<double>(st, X, nfreq, alpha, amp, order, dir, Y)
                : sinusoidal_t<float>(st, X, nfreq, alpha, amp, order, dir, Y);
}

cudaError_t cuk_row_scale(cudaStream_t st, const npde_mat *s, const npde_mat *X, const npde_mat *Y, int64_t m) {
  return f64(X) ? row_scale_t<double>(st, s, X, Y, m) : row_scale_t<float>(st, s, X, Y, m);
}

int64_t cuk_col_sums_scratch(int64_t n, int64_t w) {
  int64_t R, chunk;
  col_chunks(n, &R, &chunk);
  return R * w;
}

cudaError_t cuk_col_sums(cudaStream_t st, double alpha, const npde_mat *X, double beta, const npde_mat *y,
                         double *scratch) {
  return f64(X) ? col_sums_t<double>(st, alpha, X, beta, y, scratch) : col_sums_t<float>(st, alpha, X, beta, y, scratch);
}

cudaError_t cuk_csrmm(cudaStream_t st, npde_trans ta, double alpha, const npde_csr *A, const npde_mat *X,
                      double beta, const npde_mat *Y) {
  return A->dtype == NPDE_F64 ? csrmm_t<double>(st, ta, alpha, A, X, beta, Y)
                              : csrmm_t<float>(st, ta, alpha, A, X, beta, Y);
}

cudaError_t cuk_add_row(cudaStream_t st, double alpha, const npde_mat *b, const npde_mat *X) {
  return f64(X) ? add_row_t<double>(st, alpha, b, X) : add_row_t<float>(st, alpha, b, X);
}

cudaError_t cuk_adam(cudaStream_t st, const npde_mat *th, const npde_mat *g, const npde_mat *m, const npde_mat *v,
                     double lr, double b1, double b2, double eps, double c1, double c2) {
  return f64(th) ? adam_t<double>(st, th, g, m, v, lr, b1, b2, eps, c1, c2)
                 : adam_t<float>(st, th, g, m, v, lr, b1, b2, eps, c1, c2);
}

cudaError_t cuk_rng_uniform(cudaStream_t st, uint64_t seed, uint64_t sid, uint64_t counter, double lo, double hi,
                            const npde_mat *out) {
  return f64(out) ? rng_t<double>(st, seed, sid, counter, lo, hi, false, out)
                  : rng_t<float>(st, seed, sid, counter, lo, hi, false, out);
}

cudaError_t cuk_rng_normal(cudaStream_t st, uint64_t seed, uint64_t sid, uint64_t counter, double mean, double std,
                           const npde_mat *out) {
  return f64(out) ? rng_t<double>(st, seed, sid, counter, mean, std, true, out)
                  : rng_t<float>(st, seed, sid, counter, mean, std, true, out);
}

} /* extern "C" */
