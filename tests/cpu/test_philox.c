/* Philox4x32-10: known-answer vectors for npde_philox.h, and the CPU
 * backend's rng_uniform / rng_normal against a host computation from the
 * same header (bit for bit: same machine, same libm). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "npde/npde.h"

/* ------------------------------------------------------------ KAT file */

typedef struct kat {
  uint32_t ctr[4], key[2], out[4];
  int line;
} kat;

/* Read tests/data/philox4x32-10-kat.txt: '#' comments, blank lines, and
 * rows "ctr0 ctr1 ctr2 ctr3  key0 key1  out0 out1 out2 out3" in hex. */
static size_t load_kat(kat *v, size_t cap) {
  const char *path = NPDE_TEST_DATA_DIR "/philox4x32-10-kat.txt";
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "cannot open %s", path);
  char line[512];
  size_t n = 0;
  int lineno = 0;
  while (fgets(line, sizeof line, f)) {
    ++lineno;
    const char *p = line;
    while (*p == ' ' || *p == '\t') ++p;
    if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0') continue;
    cr_assert(n < cap, "%s: more than %zu vectors", path, cap);
    kat *k = &v[n];
    char tail[8];
    int got = sscanf(p, "%" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32 " %" SCNx32
                        " %" SCNx32 " %" SCNx32 " %" SCNx32 " %7s",
                     &k->ctr[0], &k->ctr[1], &k->ctr[2], &k->ctr[3], &k->key[0], &k->key[1], &k->out[0], &k->out[1],
                     &k->out[2], &k->out[3], tail);
    cr_assert_eq(got, 10, "%s:%d: expected 10 hexadecimal words, parsed %d: %s", path, lineno, got, line);
    k->line = lineno;
    ++n;
  }
  fclose(f);
  return n;
}

Test(philox, test_philox_kat_vectors) {
  kat v[64];
  size_t n = load_kat(v, 64);
  cr_assert_geq(n, 3, "expected at least the 3 Random123 vectors, found %zu", n);
  for (size_t i = 0; i < n; ++i) {
    uint32_t out[4] = {0, 0, 0, 0};
    npde_philox4x32_10(v[i].ctr, v[i].key, out);
    for (int w = 0; w < 4; ++w)
      cr_assert_eq(out[w], v[i].out[w], "KAT line %d word %d: got %08" PRIx32 ", expected %08" PRIx32, v[i].line, w,
                   out[w], v[i].out[w]);
  }
}

Test(philox, test_philox_kat_inputs_not_modified) {
  kat v[64];
  size_t n = load_kat(v, 64);
  for (size_t i = 0; i < n; ++i) {
    kat before = v[i];
    uint32_t out[4];
    npde_philox4x32_10(v[i].ctr, v[i].key, out);
    cr_assert(memcmp(&before, &v[i], sizeof before) == 0, "KAT line %d: inputs modified", v[i].line);
  }
}

/* ---------------------------------------------------- keying and words */

static const uint64_t SEEDS[] = {0, 1, 0x0123456789ABCDEFull, 0xFFFFFFFFFFFFFFFFull};
static const uint64_t STREAMS[] = {0, 5, 0xFEDCBA9876543210ull};
static const uint64_t COUNTERS[] = {0, 1, 0xFFFFFFFFull, 0x100000000ull, 0xFFFFFFFFFFFFFFFEull};

Test(philox, test_philox_block_keying) {
  for (size_t a = 0; a < sizeof SEEDS / sizeof SEEDS[0]; ++a)
    for (size_t b = 0; b < sizeof STREAMS / sizeof STREAMS[0]; ++b)
      for (size_t c = 0; c < sizeof COUNTERS / sizeof COUNTERS[0]; ++c) {
        uint64_t seed = SEEDS[a], stream = STREAMS[b], block = COUNTERS[c];
        uint32_t ctr[4] = {(uint32_t)(block & 0xFFFFFFFFu), (uint32_t)(block >> 32),
                           (uint32_t)(stream & 0xFFFFFFFFu), (uint32_t)(stream >> 32)};
        uint32_t key[2] = {(uint32_t)(seed & 0xFFFFFFFFu), (uint32_t)(seed >> 32)};
        uint32_t want[4], got[4];
        npde_philox4x32_10(ctr, key, want);
        npde_philox_block(seed, stream, block, got);
        cr_assert(memcmp(want, got, sizeof want) == 0,
                  "npde_philox_block(%" PRIx64 ", %" PRIx64 ", %" PRIx64 ") does not follow the documented keying",
                  seed, stream, block);
      }
}

Test(philox, test_philox_u01_conversion) {
  cr_assert_eq(npde_philox_u01(0, 0), 0.0);
  cr_assert_eq(npde_philox_u01(0x80000000u, 0), 0.5);
  cr_assert_eq(npde_philox_u01(0, 0x800u), 0x1.0p-53); /* lowest of the 53 bits */
  cr_assert_eq(npde_philox_u01(0, 0x7FFu), 0.0);       /* the 11 dropped bits */
  cr_assert_eq(npde_philox_u01(0xFFFFFFFFu, 0xFFFFFFFFu), 1.0 - 0x1.0p-53);
  cr_assert_eq(npde_philox_u01(0x40000000u, 0x00000000u), 0.25);
  cr_assert_eq(npde_philox_blocks(0), 0u);
  cr_assert_eq(npde_philox_blocks(1), 1u);
  cr_assert_eq(npde_philox_blocks(2), 1u);
  cr_assert_eq(npde_philox_blocks(3), 2u);
  cr_assert_eq(npde_philox_blocks(1000001), 500001u);
}

Test(philox, test_philox_uniform_at_words) {
  for (size_t a = 0; a < sizeof SEEDS / sizeof SEEDS[0]; ++a)
    for (size_t b = 0; b < sizeof STREAMS / sizeof STREAMS[0]; ++b)
      for (size_t c = 0; c < sizeof COUNTERS / sizeof COUNTERS[0]; ++c)
        for (uint64_t e = 0; e < 9; ++e) {
          uint64_t seed = SEEDS[a], stream = STREAMS[b], counter = COUNTERS[c];
          uint32_t w[4];
          npde_philox_block(seed, stream, counter + e / 2, w);
          double want = (e & 1) ? npde_philox_u01(w[2], w[3]) : npde_philox_u01(w[0], w[1]);
          double got = npde_philox_uniform_at(seed, stream, counter, e);
          cr_assert(got == want, "uniform_at(seed %" PRIx64 ", stream %" PRIx64 ", counter %" PRIx64 ", e %" PRIu64
                    ") = %.17g, expected %.17g", seed, stream, counter, e, got, want);
          cr_assert(got >= 0.0 && got < 1.0, "uniform_at out of [0, 1): %.17g", got);
        }
  /* the word pair is (hi, lo) = (w0, w1) / (w2, w3), not the other way round */
  uint32_t w[4];
  npde_philox_block(7, 0, 0, w);
  if (w[0] != w[1])
    cr_assert_neq(npde_philox_uniform_at(7, 0, 0, 0), npde_philox_u01(w[1], w[0]));
  /* streams, seeds and counters change the output */
  cr_assert_neq(npde_philox_uniform_at(1, 0, 0, 0), npde_philox_uniform_at(1, 1, 0, 0));
  cr_assert_neq(npde_philox_uniform_at(1, 0, 0, 0), npde_philox_uniform_at(2, 0, 0, 0));
  cr_assert_neq(npde_philox_uniform_at(1, 0, 0, 0), npde_philox_uniform_at(1, 0, 1, 0));
}

/* ------------------------------------------------ CPU backend streams */

typedef struct cpu_fixture {
  npde_registry *reg;
  npde_backend *be;
} cpu_fixture;

static cpu_fixture cpu_open(void) {
  cpu_fixture f = {NULL, NULL};
  cr_assert_eq(npde_registry_create(&f.reg), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_registry_load_defaults(f.reg), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_backend_create(f.reg, "cpu", NULL, &f.be), NPDE_OK, "cpu backend: %s", npde_last_error());
  return f;
}

static void cpu_close(cpu_fixture *f) {
  npde_backend_destroy(&f->be);
  npde_registry_destroy(&f->reg);
}

#define SENTINEL (-777.25)

/* Host reference value of element e: uniform lo + (hi - lo) u_e, or a
 * standard normal by Box-Muller, exactly as npde_philox.h documents. */
static double host_uniform(uint64_t seed, uint64_t stream, uint64_t counter, uint64_t e, double lo, double hi) {
  return lo + (hi - lo) * npde_philox_uniform_at(seed, stream, counter, e);
}

static double host_normal(uint64_t seed, uint64_t stream, uint64_t counter, uint64_t e) {
  uint32_t w[4];
  npde_philox_block(seed, stream, counter + e / 2, w);
  double u1 = npde_philox_u01(w[0], w[1]), u2 = npde_philox_u01(w[2], w[3]);
  double r = sqrt(-2.0 * log1p(-u1));
  return (e & 1) ? r * sin(2.0 * M_PI * u2) : r * cos(2.0 * M_PI * u2);
}

typedef enum draw_kind { DRAW_UNIFORM, DRAW_NORMAL } draw_kind;

/*
 * Draw into a rows x cols view with leading dimension ld, placed one
 * guard row into a buffer of (rows + 2) x ld elements filled with
 * SENTINEL; return the whole buffer as doubles (caller frees).
 */
static double *draw(cpu_fixture *f, draw_kind kind, npde_dtype dt, int64_t rows, int64_t cols, int64_t ld,
                    uint64_t seed, uint64_t stream, uint64_t counter, double a, double b) {
  size_t n = (size_t)((rows + 2) * ld), es = npde_dtype_size(dt);
  void *host = malloc(n * es), *dev = NULL;
  double *out = malloc(n * sizeof *out);
  cr_assert(host && out);
  for (size_t k = 0; k < n; ++k) {
    if (dt == NPDE_F32) ((float *)host)[k] = (float)SENTINEL;
    else ((double *)host)[k] = SENTINEL;
  }
  cr_assert_eq(npde_backend_alloc(f->be, n * es, &dev), NPDE_OK, "%s", npde_last_error());
  cr_assert_eq(npde_backend_upload(f->be, dev, host, n * es), NPDE_OK, "%s", npde_last_error());
  npde_mat v = {.data = (char *)dev + (size_t)ld * es, .rows = rows, .cols = cols, .ld = ld, .dtype = dt};
  npde_status st = kind == DRAW_UNIFORM ? npde_backend_rng_uniform(f->be, seed, stream, counter, a, b, &v)
                                        : npde_backend_rng_normal(f->be, seed, stream, counter, a, b, &v);
  cr_assert_eq(st, NPDE_OK, "rng draw %lld x %lld: %s", (long long)rows, (long long)cols, npde_last_error());
  cr_assert_eq(npde_backend_download(f->be, host, dev, n * es), NPDE_OK, "%s", npde_last_error());
  for (size_t k = 0; k < n; ++k) out[k] = dt == NPDE_F32 ? (double)((float *)host)[k] : ((double *)host)[k];
  npde_backend_free(f->be, dev);
  free(host);
  return out;
}

/* Compare a drawn buffer with the host values bit for bit (after rounding
 * to the dtype), and the padding/guards with the sentinel. */
static void check_draw(const double *buf, draw_kind kind, npde_dtype dt, int64_t rows, int64_t cols, int64_t ld,
                       uint64_t seed, uint64_t stream, uint64_t counter, double a, double b) {
  for (int64_t r = -1; r <= rows; ++r)
    for (int64_t j = 0; j < ld; ++j) {
      double got = buf[(size_t)((r + 1) * ld + j)];
      if (r < 0 || r == rows || j >= cols) {
        cr_assert(got == SENTINEL, "%s %s %lld x %lld ld %lld: padding/guard (%lld, %lld) overwritten with %.17g",
                  kind == DRAW_UNIFORM ? "uniform" : "normal", dt == NPDE_F32 ? "f32" : "f64", (long long)rows,
                  (long long)cols, (long long)ld, (long long)r, (long long)j, got);
        continue;
      }
      uint64_t e = (uint64_t)(r * cols + j); /* row-major over the view, not over the buffer */
      double want = kind == DRAW_UNIFORM ? host_uniform(seed, stream, counter, e, a, b)
                                         : a + b * host_normal(seed, stream, counter, e);
      if (dt == NPDE_F32) want = (double)(float)want;
      bool ok;
      if (kind == DRAW_NORMAL && !(a == 0.0 && b == 1.0))
        ok = fabs(got - want) <= 4 * (dt == NPDE_F32 ? 0x1.0p-24 : 0x1.0p-53) * fmax(fabs(want), 1.0);
      else
        ok = memcmp(&got, &want, sizeof got) == 0;
      cr_assert(ok, "%s %s %lld x %lld ld %lld seed %" PRIx64 " stream %" PRIx64 " counter %" PRIx64
                " element (%lld, %lld) = e %" PRIu64 ": got %a (%.17g), expected %a (%.17g)",
                kind == DRAW_UNIFORM ? "uniform" : "normal", dt == NPDE_F32 ? "f32" : "f64", (long long)rows,
                (long long)cols, (long long)ld, seed, stream, counter, (long long)r, (long long)j, e, got, got, want,
                want);
    }
}

/* rows, cols, ld: odd counts, one row / column, padded views */
static const int64_t SHAPES[][3] = {{1, 1, 1}, {1, 7, 7}, {7, 1, 1}, {7, 1, 3}, {3, 5, 5}, {3, 5, 8},
                                    {5, 3, 4}, {17, 33, 35}, {2, 2, 5}, {0, 3, 3}, {3, 0, 2}, {1, 65, 70}};
#define N_SHAPES (sizeof SHAPES / sizeof SHAPES[0])

static void run_draws(draw_kind kind, double a, double b) {
  cpu_fixture f = cpu_open();
  for (int d = 0; d < 2; ++d) {
    npde_dtype dt = d ? NPDE_F32 : NPDE_F64;
    for (size_t s = 0; s < N_SHAPES; ++s)
      for (size_t k = 0; k < 3; ++k) {
        uint64_t seed = SEEDS[k + 1], stream = STREAMS[k], counter = COUNTERS[(s + k) % 5];
        double *buf = draw(&f, kind, dt, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], seed, stream, counter, a, b);
        check_draw(buf, kind, dt, SHAPES[s][0], SHAPES[s][1], SHAPES[s][2], seed, stream, counter, a, b);
        free(buf);
      }
  }
  cpu_close(&f);
}

Test(philox, test_philox_cpu_uniform_bit_exact) {
  run_draws(DRAW_UNIFORM, 0.0, 1.0);
  run_draws(DRAW_UNIFORM, -2.0, 3.0);
  run_draws(DRAW_UNIFORM, 10.0, 10.5);
}

Test(philox, test_philox_cpu_normal_bit_exact) { run_draws(DRAW_NORMAL, 0.0, 1.0); }

Test(philox, test_philox_cpu_normal_mean_std) {
  run_draws(DRAW_NORMAL, 2.5, 0.75);
  run_draws(DRAW_NORMAL, -1.0, 3.0);
}

/* A draw of N elements consumes (N + 1) / 2 counter values: the next draw
 * starting there continues a longer draw at element 2 * blocks(N). */
Test(philox, test_philox_cpu_counter_continuation) {
  cpu_fixture f = cpu_open();
  const uint64_t seed = 99, stream = 4, c0 = 0xFFFFFFF0ull;
  for (int64_t n1 = 1; n1 <= 9; ++n1) {
    int64_t total = 40;
    double *all = draw(&f, DRAW_NORMAL, NPDE_F64, 1, total, total, seed, stream, c0, 0.0, 1.0);
    uint64_t c1 = c0 + npde_philox_blocks((uint64_t)n1);
    double *first = draw(&f, DRAW_NORMAL, NPDE_F64, 1, n1, n1, seed, stream, c0, 0.0, 1.0);
    double *next = draw(&f, DRAW_NORMAL, NPDE_F64, 1, 10, 10, seed, stream, c1, 0.0, 1.0);
    for (int64_t j = 0; j < n1; ++j)
      cr_assert(first[n1 + j] == all[total + j], "prefix of length %lld differs at %lld", (long long)n1,
                (long long)j);
    int64_t skip = 2 * (int64_t)npde_philox_blocks((uint64_t)n1);
    for (int64_t j = 0; j < 10; ++j)
      cr_assert(next[10 + j] == all[total + skip + j], "draw after %lld elements does not continue at %lld",
                (long long)n1, (long long)skip);
    free(all);
    free(first);
    free(next);
  }
  cpu_close(&f);
}

/* Same elements whatever the shape: a 1 x N and an r x c (r c = N) view. */
Test(philox, test_philox_cpu_shape_independent) {
  cpu_fixture f = cpu_open();
  double *flat = draw(&f, DRAW_UNIFORM, NPDE_F64, 1, 35, 35, 5, 6, 7, 0.0, 1.0);
  double *mat = draw(&f, DRAW_UNIFORM, NPDE_F64, 5, 7, 11, 5, 6, 7, 0.0, 1.0);
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 7; ++j)
      cr_assert(mat[(i + 1) * 11 + j] == flat[35 + i * 7 + j], "element (%lld, %lld) depends on the view shape",
                (long long)i, (long long)j);
  free(flat);
  free(mat);
  cpu_close(&f);
}

/* Moments of 1e5 draws within 5 standard errors. */
Test(philox, test_philox_cpu_statistics) {
  cpu_fixture f = cpu_open();
  const int64_t rows = 250, cols = 400;
  const double N = (double)(rows * cols);
  for (int d = 0; d < 2; ++d) {
    npde_dtype dt = d ? NPDE_F32 : NPDE_F64;
    double *z = draw(&f, DRAW_NORMAL, dt, rows, cols, cols, 2024, 1, 0, 0.0, 1.0);
    double *u = draw(&f, DRAW_UNIFORM, dt, rows, cols, cols, 2024, 2, 0, 0.0, 1.0);
    double mz = 0, vz = 0, mu = 0, vu = 0;
    for (int64_t k = 0; k < rows * cols; ++k) {
      mz += z[cols + k];
      mu += u[cols + k];
    }
    mz /= N;
    mu /= N;
    for (int64_t k = 0; k < rows * cols; ++k) {
      vz += (z[cols + k] - mz) * (z[cols + k] - mz);
      vu += (u[cols + k] - mu) * (u[cols + k] - mu);
    }
    vz /= N - 1;
    vu /= N - 1;
    /* normal: se(mean) = 1/sqrt(N), se(var) = sqrt(2/N); uniform: sqrt(1/12N), sqrt(1/180N) */
    cr_assert(fabs(mz) <= 5 / sqrt(N), "normal mean %.6g", mz);
    cr_assert(fabs(vz - 1.0) <= 5 * sqrt(2 / N), "normal variance %.6g", vz);
    cr_assert(fabs(mu - 0.5) <= 5 * sqrt(1 / (12 * N)), "uniform mean %.6g", mu);
    cr_assert(fabs(vu - 1.0 / 12) <= 5 * sqrt(1 / (180 * N)), "uniform variance %.6g", vu);
    /* even and odd elements (cos and sin halves) are each standard normal */
    for (int par = 0; par < 2; ++par) {
      double m = 0, v = 0, cnt = N / 2;
      for (int64_t k = par; k < rows * cols; k += 2) m += z[cols + k];
      m /= cnt;
      for (int64_t k = par; k < rows * cols; k += 2) v += (z[cols + k] - m) * (z[cols + k] - m);
      v /= cnt - 1;
      cr_assert(fabs(m) <= 5 / sqrt(cnt) && fabs(v - 1) <= 5 * sqrt(2 / cnt), "%s half: mean %.6g variance %.6g",
                par ? "sin" : "cos", m, v);
    }
    free(z);
    free(u);
  }
  cpu_close(&f);
}
