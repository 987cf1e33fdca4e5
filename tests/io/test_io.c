/* File output (core/src/io_file.c, io_npy.c, io_vti.c; npde/npde_io.h):
 * .npy/.npz round trips and format details, atomic replacement, error
 * messages, VTK .vti/.pvd text and binary layout.
 *
 * Every test works in its own fresh directory (mkdtemp), removed afterwards.
 * Where python3 has numpy (or vtk), check_numpy.py loads what we wrote (and
 * numpy writes fixtures for us to read); without them those tests are skipped
 * visibly.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <float.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "npde/npde.h"
#include "npde/npde_io.h"

#ifndef NPDE_IO_SCRIPT
#error "NPDE_IO_SCRIPT must name tests/io/check_numpy.py"
#endif

/* ------------------------------------------------------------------ helpers */

static char tmpdir[512];

static void setup(void) {
  const char *base = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/npde-io-XXXXXX", base && *base ? base : "/tmp");
  cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp(%s) failed", tmpdir);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

static void teardown(void) {
  if (tmpdir[0]) nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#define IO_TEST(suite, name) Test(suite, name, .init = setup, .fini = teardown)

/* A path inside the test's directory (rotating static buffers). */
static const char *tpath(const char *name) {
  static char bufs[8][1024];
  static int next;
  char *b = bufs[next++ % 8];
  snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
  return b;
}

static void assert_msg(const char *part) {
  const char *msg = npde_last_error();
  cr_assert(strstr(msg, part) != NULL, "expected \"%s\" in the error message, got:\n%s", part, msg);
}

#define OK(call)                                                                                                   \
  do {                                                                                                             \
    npde_status st_ = (call);                                                                                      \
    cr_assert_eq(st_, NPDE_OK, "%s failed (%d): %s", #call, st_, npde_last_error());                            \
  } while (0)

#define FAILS(call, code)                                                                                          \
  do {                                                                                                             \
    npde_status st_ = (call);                                                                                      \
    cr_assert_eq(st_, (code), "%s: expected status %d, got %d; message: %s", #call, (code), st_,                \
                 npde_last_error());                                                                               \
  } while (0)

static unsigned char *read_all(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  cr_assert_not_null(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc((size_t)n + 1);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  buf[n] = '\0';
  *size = (size_t)n;
  return buf;
}

static void write_raw(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert_not_null(f, "cannot create %s", path);
  cr_assert_eq(fwrite(data, 1, n, f), n);
  cr_assert_eq(fclose(f), 0);
}

/* A hand-made .npy: preamble of `major`, the dict, padding to 64 (or none),
 * then the data. */
static void make_npy(const char *path, int major, const char *dict, bool pad, const void *data, size_t n) {
  size_t pre = major == 1 ? 10 : 12, dlen = strlen(dict);
  size_t total = pad ? (pre + dlen + 1 + 63) / 64 * 64 : pre + dlen + 1;
  size_t hlen = total - pre;
  unsigned char *buf = malloc(total + n + 1);
  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  for (size_t i = 0; i < pre - 8; ++i) buf[8 + i] = (unsigned char)(hlen >> (8 * i));
  memcpy(buf + pre, dict, dlen);
  memset(buf + pre + dlen, ' ', total - pre - dlen - 1);
  buf[total - 1] = '\n';
  if (n) memcpy(buf + total, data, n);
  write_raw(path, buf, total + n);
  free(buf);
}

/* Names of the entries of a directory, sorted, joined with '|'. */
static char *dir_listing(const char *dir) {
  struct dirent **list;
  int n = scandir(dir, &list, NULL, alphasort);
  cr_assert(n >= 0, "scandir(%s) failed", dir);
  char *out = calloc(1, 4096);
  for (int i = 0; i < n; ++i) {
    if (strcmp(list[i]->d_name, ".") && strcmp(list[i]->d_name, "..")) {
      if (*out) strcat(out, "|");
      strncat(out, list[i]->d_name, 4096 - strlen(out) - 2);
    }
    free(list[i]);
  }
  free(list);
  return out;
}

static void fill(npde_npy_type t, void *data, int64_t n) {
  for (int64_t i = 0; i < n; ++i) switch (t) {
    case NPDE_NPY_F64: ((double *)data)[i] = 0.25 * (double)i - 3.0; break;
    case NPDE_NPY_F32: ((float *)data)[i] = 0.5f * (float)i - 1.25f; break;
    case NPDE_NPY_I64: ((int64_t *)data)[i] = -1000003 * i + 7; break;
    case NPDE_NPY_U64: ((uint64_t *)data)[i] = UINT64_MAX - (uint64_t)i; break;
    }
}

static size_t esize(npde_npy_type t) { return t == NPDE_NPY_F32 ? 4 : 8; }

static void assert_array(const npde_npy_array *a, npde_npy_type t, int ndim, const int64_t *shape,
                         const void *data) {
  cr_assert_eq(a->type, t);
  cr_assert_eq(a->ndim, ndim);
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) {
    cr_assert_eq(a->shape[i], shape[i], "shape[%d] = %" PRId64 ", expected %" PRId64, i, a->shape[i], shape[i]);
    n *= shape[i];
  }
  cr_assert_eq(a->count, n);
  cr_assert_not_null(a->data);
  cr_assert(memcmp(a->data, data, (size_t)n * esize(t)) == 0, "data differs");
}

/* The python3 that users load results with: the first on PATH, or the
 * system's (Debian's python3-numpy) when a PATH one (pyenv, venv) lacks it. */
static const char *python = "python3";

static bool python_has(const char *module) {
  static const char *const candidates[] = {"python3", "/usr/bin/python3"};
  for (int i = 0; i < 2; ++i) {
    char cmd[160];
    snprintf(cmd, sizeof cmd, "%s -c 'import %s' >/dev/null 2>&1", candidates[i], module);
    if (system(cmd) == 0) {
      python = candidates[i];
      return true;
    }
  }
  return false;
}

static void fhex(FILE *f, const void *p, size_t n) {
  const unsigned char *b = p;
  if (n == 0) fputs("-", f);
  for (size_t i = 0; i < n; ++i) fprintf(f, "%02x", b[i]);
}

static void fshape(FILE *f, int ndim, const int64_t *shape) {
  if (ndim == 0) fputs("-", f);
  for (int i = 0; i < ndim; ++i) fprintf(f, i ? ",%" PRId64 : "%" PRId64, shape[i]);
}

/* Run check_numpy.py; assert it exits 0, showing its output otherwise. */
static void run_script(const char *args) {
  const char *log = tpath("python.log");
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "%s '%s' %s > '%s' 2>&1", python, NPDE_IO_SCRIPT, args, log);
  int rc = system(cmd);
  size_t n;
  unsigned char *out = read_all(log, &n);
  cr_assert_eq(rc, 0, "%s\nexited with %d:\n%s", cmd, rc, out);
  cr_log_info("check_numpy.py %s: %s", args, out);
  free(out);
}

static const char *const type_descr[] = {"<f8", "<f4", "<i8", "<u8"};

/* ------------------------------------------------------------------- .npy */

IO_TEST(npy, roundtrip_every_type_and_rank) {
  static const int64_t shapes[4][3] = {{0}, {5}, {3, 4}, {2, 3, 4}};
  static const char *const shape_text[4] = {"()", "(5,)", "(3, 4)", "(2, 3, 4)"};
  for (int t = 0; t < 4; ++t)
    for (int nd = 0; nd <= 3; ++nd) {
      npde_npy_type type = (npde_npy_type)t;
      int64_t n = 1;
      for (int i = 0; i < nd; ++i) n *= shapes[nd][i];
      void *data = malloc((size_t)n * 8);
      fill(type, data, n);
      char name[64];
      snprintf(name, sizeof name, "a_%d_%d.npy", t, nd);
      const char *path = tpath(name);
      OK(npde_npy_save(path, type, data, nd, shapes[nd]));

      /* The bytes on disk: magic, version 1.0, the exact dict, 64-byte alignment. */
      size_t size;
      unsigned char *raw = read_all(path, &size);
      cr_assert(memcmp(raw, "\x93NUMPY\x01\x00", 8) == 0, "%s: bad preamble", name);
      size_t hlen = (size_t)raw[8] | (size_t)raw[9] << 8;
      cr_assert_eq((10 + hlen) % 64, 0, "%s: data starts at %zu, not a multiple of 64", name, 10 + hlen);
      cr_assert_eq(size, 10 + hlen + (size_t)n * esize(type), "%s: file size %zu does not match header %zu + data",
                   name, size, hlen);
      cr_assert_eq(raw[10 + hlen - 1], '\n');
      char dict[128];
      snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", type_descr[t],
               shape_text[nd]);
      cr_assert(memcmp(raw + 10, dict, strlen(dict)) == 0, "%s: header is\n%.*s\nexpected\n%s", name, (int)hlen,
                raw + 10, dict);
      for (size_t i = 10 + strlen(dict); i < 10 + hlen - 1; ++i) cr_assert_eq(raw[i], ' ', "%s: padding", name);
      cr_assert(memcmp(raw + 10 + hlen, data, (size_t)n * esize(type)) == 0, "%s: data bytes", name);
      free(raw);

      npde_npy_array a;
      OK(npde_npy_load(path, &a));
      assert_array(&a, type, nd, shapes[nd], data);
      npde_npy_array_free(&a);
      cr_assert_null(a.data);
      cr_assert_eq(a.count, 0);
      free(data);
    }
}

IO_TEST(npy, header_is_numpys_128_bytes) {
  /* numpy.save(np.zeros((3, 4))) writes exactly this preamble and header. */
  static const char expect[] = "\x93NUMPY\x01\x00\x76\x00"
                               "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }";
  double d[12] = {0};
  const int64_t shape[2] = {3, 4};
  OK(npde_npy_save(tpath("z.npy"), NPDE_NPY_F64, d, 2, shape));
  size_t size;
  unsigned char *raw = read_all(tpath("z.npy"), &size);
  cr_assert_eq(size, 128 + 96);
  cr_assert(memcmp(raw, expect, sizeof expect - 1) == 0, "header differs from numpy's");
  cr_assert_eq(raw[127], '\n');
  free(raw);
}

IO_TEST(npy, empty_arrays) {
  const int64_t s1[1] = {0}, s3[3] = {2, 0, 3};
  OK(npde_npy_save(tpath("e1.npy"), NPDE_NPY_F64, NULL, 1, s1));
  OK(npde_npy_save(tpath("e3.npy"), NPDE_NPY_I64, NULL, 3, s3));
  size_t size;
  unsigned char *raw = read_all(tpath("e1.npy"), &size);
  cr_assert_eq(size, 128);
  cr_assert(strstr((char *)raw + 10, "'shape': (0,), }") != NULL);
  free(raw);
  npde_npy_array a;
  OK(npde_npy_load(tpath("e1.npy"), &a));
  assert_array(&a, NPDE_NPY_F64, 1, s1, "");
  npde_npy_array_free(&a);
  OK(npde_npy_load(tpath("e3.npy"), &a));
  assert_array(&a, NPDE_NPY_I64, 3, s3, "");
  npde_npy_array_free(&a);
}

IO_TEST(npy, fortran_order_is_transposed) {
  /* c[i][j][k] = 100 i + 10 j + k, stored with i fastest. */
  enum { I = 2, J = 3, K = 4 };
  double c[I][J][K], f[I * J * K];
  int64_t fi[I * J];
  int64_t c2[I][J];
  size_t e = 0;
  for (int k = 0; k < K; ++k)
    for (int j = 0; j < J; ++j)
      for (int i = 0; i < I; ++i) f[e++] = c[i][j][k] = 100.0 * i + 10.0 * j + k;
  e = 0;
  for (int j = 0; j < J; ++j)
    for (int i = 0; i < I; ++i) fi[e++] = c2[i][j] = -(10 * i + j) - 1;
  make_npy(tpath("f3.npy"), 1, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3, 4), }", true, f, sizeof f);
  make_npy(tpath("f2.npy"), 1, "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 3), }", true, fi, sizeof fi);
  npde_npy_array a;
  OK(npde_npy_load(tpath("f3.npy"), &a));
  assert_array(&a, NPDE_NPY_F64, 3, (const int64_t[]){I, J, K}, c);
  npde_npy_array_free(&a);
  OK(npde_npy_load(tpath("f2.npy"), &a));
  assert_array(&a, NPDE_NPY_I64, 2, (const int64_t[]){I, J}, c2);
  npde_npy_array_free(&a);
}

IO_TEST(npy, header_variants_are_accepted) {
  const double d[3] = {1.5, -2.0, 0.125};
  const uint64_t u[2] = {1, UINT64_MAX};
  const int64_t s3[1] = {3}, s2[1] = {2};
  struct {
    int major;
    const char *dict;
    bool pad;
    bool f64;
  } cases[] = {
      {2, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", true, true},
      {3, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", true, true},
      {1, "{'descr': '|f8', 'fortran_order': False, 'shape': (3,), }", true, true},
      {1, "{\"shape\": (3L,), \"descr\": \"=f8\", \"fortran_order\": False}", false, true},
      {1, "{'fortran_order':False,'shape':(2,),'descr':'=u8'}", false, false},
      {1, "{ 'descr' : '<u8' , 'fortran_order' : True , 'shape' : ( 2 , ) , }", true, false},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
    make_npy(tpath("v.npy"), cases[c].major, cases[c].dict, cases[c].pad, cases[c].f64 ? (const void *)d : u,
             cases[c].f64 ? sizeof d : sizeof u);
    npde_npy_array a;
    npde_status st = npde_npy_load(tpath("v.npy"), &a);
    cr_assert_eq(st, NPDE_OK, "case %zu (%s) failed: %s", c, cases[c].dict, npde_last_error());
    if (cases[c].f64) assert_array(&a, NPDE_NPY_F64, 1, s3, d);
    else assert_array(&a, NPDE_NPY_U64, 1, s2, u);
    npde_npy_array_free(&a);
  }
}

IO_TEST(npy, wrong_magic_and_empty_file) {
  const char text[] = "hello, this is not numpy data at all........";
  write_raw(tpath("text.npy"), text, sizeof text);
  npde_npy_array a;
  FAILS(npde_npy_load(tpath("text.npy"), &a), NPDE_ERR_IO);
  assert_msg("is not a .npy file");
  assert_msg(tpath("text.npy"));
  cr_assert_null(a.data);
  write_raw(tpath("empty.npy"), "", 0);
  FAILS(npde_npy_load(tpath("empty.npy"), &a), NPDE_ERR_IO);
  assert_msg("(it is empty)");
  FAILS(npde_npy_load(tpath("missing.npy"), &a), NPDE_ERR_IO);
  assert_msg("cannot open");
  assert_msg(tpath("missing.npy"));
  assert_msg("No such file or directory");
}

IO_TEST(npy, truncated_files) {
  double d[12];
  fill(NPDE_NPY_F64, d, 12);
  const int64_t shape[2] = {3, 4};
  const char *path = tpath("t.npy");
  OK(npde_npy_save(path, NPDE_NPY_F64, d, 2, shape));
  size_t size;
  unsigned char *raw = read_all(path, &size);
  /* Data cut by one element. */
  write_raw(path, raw, size - 8);
  npde_npy_array a;
  FAILS(npde_npy_load(path, &a), NPDE_ERR_IO);
  assert_msg("is truncated");
  assert_msg("needs 96 data bytes, only 88 are present");
  assert_msg(path);
  /* Cut inside the header. */
  write_raw(path, raw, 40);
  FAILS(npde_npy_load(path, &a), NPDE_ERR_IO);
  assert_msg("is truncated");
  assert_msg("header length field says 118 bytes, only 30 follow");
  /* Cut inside the preamble. */
  write_raw(path, raw, 7);
  FAILS(npde_npy_load(path, &a), NPDE_ERR_IO);
  assert_msg("ends inside the .npy preamble");
  free(raw);
}

IO_TEST(npy, header_length_checks) {
  /* A 2.0 header length of 16 MiB is a corrupted field, not a reason to allocate. */
  unsigned char big[64] = "\x93NUMPY\x02\x00";
  big[8] = 0, big[9] = 0, big[10] = 0, big[11] = 1;
  memset(big + 12, ' ', sizeof big - 12);
  write_raw(tpath("big.npy"), big, sizeof big);
  npde_npy_array a;
  FAILS(npde_npy_load(tpath("big.npy"), &a), NPDE_ERR_IO);
  assert_msg("implausible .npy header length 16777216");
  /* A shape far larger than the file. */
  make_npy(tpath("huge.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000), }", true,
           "abcdefgh", 8);
  FAILS(npde_npy_load(tpath("huge.npy"), &a), NPDE_ERR_IO);
  assert_msg("the shape needs 8000000000000 data bytes, only 8 are present");
  /* Unknown version. */
  make_npy(tpath("v4.npy"), 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", true, "abcdefgh", 8);
  unsigned char *raw;
  size_t size;
  raw = read_all(tpath("v4.npy"), &size);
  raw[6] = 4;
  write_raw(tpath("v4.npy"), raw, size);
  free(raw);
  FAILS(npde_npy_load(tpath("v4.npy"), &a), NPDE_ERR_IO);
  assert_msg("unsupported .npy format version 4.0");
}

IO_TEST(npy, unsupported_descr_is_named) {
  static const char *const bad[] = {"'<f2'", "'>f8'", "'<c16'", "'<i4'", "'|u1'"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    char dict[128];
    snprintf(dict, sizeof dict, "{'descr': %s, 'fortran_order': False, 'shape': (1,), }", bad[i]);
    make_npy(tpath("d.npy"), 1, dict, true, "0123456789abcdef", 16);
    npde_npy_array a;
    FAILS(npde_npy_load(tpath("d.npy"), &a), NPDE_ERR_IO);
    assert_msg("unsupported dtype descr");
    assert_msg(bad[i]);
    assert_msg(tpath("d.npy"));
  }
  make_npy(tpath("s.npy"), 1, "{'descr': [('x', '<f8')], 'fortran_order': False, 'shape': (1,), }", true,
           "01234567", 8);
  npde_npy_array a;
  FAILS(npde_npy_load(tpath("s.npy"), &a), NPDE_ERR_IO);
  assert_msg("structured");
}

IO_TEST(npy, corrupted_headers) {
  static const struct {
    const char *dict, *msg;
  } cases[] = {
      {"{'descr': '<f8', 'fortran_order': False, 'shaqe': (1,), }", "unexpected or repeated key 'shaqe'"},
      {"{'descr': '<f8', 'fortran_order': False}", "missing key 'shape'"},
      {"{'descr': '<f8', 'fortran_order': Maybe, 'shape': (1,)}", "True or False for fortran_order"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1, -2), }", "non-negative integer in the shape"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,), } trailing", "only padding after the header dict"},
      {"['descr', '<f8']", "'{' opening the header dict"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", "more than 8 dimensions"},
      {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (1,), }", "repeated key 'descr'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    make_npy(tpath("c.npy"), 1, cases[i].dict, true, "01234567", 8);
    npde_npy_array a;
    npde_status st = npde_npy_load(tpath("c.npy"), &a);
    cr_assert_eq(st, NPDE_ERR_IO, "case %zu accepted: %s", i, cases[i].dict);
    assert_msg(cases[i].msg);
    assert_msg(tpath("c.npy"));
  }
}

IO_TEST(npy, save_argument_errors) {
  double d[4] = {0};
  int64_t shape[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  FAILS(npde_npy_save(tpath("x.npy"), NPDE_NPY_F64, d, 9, shape), NPDE_ERR_INVALID_ARG);
  assert_msg("ndim=9");
  shape[0] = -1;
  FAILS(npde_npy_save(tpath("x.npy"), NPDE_NPY_F64, d, 1, shape), NPDE_ERR_INVALID_ARG);
  assert_msg("negative");
  shape[0] = 4;
  FAILS(npde_npy_save(tpath("x.npy"), NPDE_NPY_F64, NULL, 1, shape), NPDE_ERR_INVALID_ARG);
  assert_msg("data is NULL");
  FAILS(npde_npy_save(tpath("x.npy"), (npde_npy_type)7, d, 1, shape), NPDE_ERR_INVALID_ARG);
  char *ls = dir_listing(tmpdir);
  cr_assert_str_eq(ls, "", "failed saves left files: %s", ls);
  free(ls);
  const char *nodir = tpath("no/such/dir/x.npy");
  FAILS(npde_npy_save(nodir, NPDE_NPY_F64, d, 1, shape), NPDE_ERR_IO);
  assert_msg(nodir);
  assert_msg("No such file or directory");
}

/* ------------------------------------------------------------------- .npz */

static double specials[] = {0.0, -0.0, 1.0 / 3.0, DBL_MIN, DBL_MAX, -DBL_MAX, 0, 0, 0, 0, 0, 0};

static void init_specials(void) {
  uint64_t bits[6] = {0x7ff8000000000000u, 0xfff8000000000001u, 0x7ff0000000000000u, 0xfff0000000000000u,
                      0x0000000000000001u, 0x800fffffffffffffu}; /* NaN, -NaN with payload, +-Inf, denormals */
  memcpy(specials + 6, bits, sizeof bits);
}

typedef struct member {
  const char *name;
  npde_npy_type type;
  int ndim;
  int64_t shape[3];
  const void *data;
} member;

static void write_sample(const char *path, member *m, size_t *n_members) {
  init_specials();
  static float f32[6];
  static int64_t i64 = INT64_MIN;
  static uint64_t u64[3] = {0, 1, UINT64_MAX};
  static double cube[24];
  uint32_t fb[3] = {0x7fc00001u, 0x00000001u, 0x80000000u}; /* NaN payload, denormal, -0 */
  fill(NPDE_NPY_F32, f32, 6);
  memcpy(f32, fb, sizeof fb);
  fill(NPDE_NPY_F64, cube, 24);
  member ms[] = {
      {"specials", NPDE_NPY_F64, 1, {12}, specials}, {"f32", NPDE_NPY_F32, 2, {2, 3}, f32},
      {"scalar", NPDE_NPY_I64, 0, {0}, &i64},        {"u64", NPDE_NPY_U64, 1, {3}, u64},
      {"empty", NPDE_NPY_F64, 1, {0}, NULL},         {"results.cube", NPDE_NPY_F64, 3, {2, 3, 4}, cube},
  };
  memcpy(m, ms, sizeof ms);
  *n_members = sizeof ms / sizeof ms[0];
  npde_npz_writer *w = NULL;
  OK(npde_npz_create(path, &w));
  cr_assert_not_null(w);
  for (size_t i = 0; i < *n_members; ++i) OK(npde_npz_add(w, m[i].name, m[i].type, m[i].data, m[i].ndim, m[i].shape));
  OK(npde_npz_add_bytes(w, "config.yaml", "name: demo\nseed: 3\n", 19));
  OK(npde_npz_commit(&w));
  cr_assert_null(w);
}

IO_TEST(npz, members_round_trip_bit_exactly) {
  member m[8];
  size_t n;
  const char *path = tpath("run.npz");
  write_sample(path, m, &n);
  for (size_t i = 0; i < n; ++i) {
    npde_npy_array a;
    npde_status st = npde_npz_read(path, m[i].name, &a);
    cr_assert_eq(st, NPDE_OK, "reading %s: %s", m[i].name, npde_last_error());
    assert_array(&a, m[i].type, m[i].ndim, m[i].shape, m[i].data ? m[i].data : "");
    npde_npy_array_free(&a);
  }
  void *bytes;
  size_t size;
  OK(npde_npz_read_bytes(path, "config.yaml", &bytes, &size));
  cr_assert_eq(size, 19);
  cr_assert_str_eq(bytes, "name: demo\nseed: 3\n");
  free(bytes);
  /* The .npy member is a complete .npy file. */
  OK(npde_npz_read_bytes(path, "specials.npy", &bytes, &size));
  cr_assert_eq(size, 128 + sizeof specials);
  cr_assert(memcmp(bytes, "\x93NUMPY\x01\x00", 8) == 0);
  cr_assert(memcmp((char *)bytes + 128, specials, sizeof specials) == 0);
  free(bytes);
  char *ls = dir_listing(tmpdir);
  cr_assert_str_eq(ls, "run.npz");
  free(ls);
}

IO_TEST(npz, same_contents_give_same_bytes) {
  member m[8];
  size_t n;
  write_sample(tpath("a.npz"), m, &n);
  sleep(1); /* a timestamp taken from the clock would now differ */
  write_sample(tpath("b.npz"), m, &n);
  size_t na, nb;
  unsigned char *a = read_all(tpath("a.npz"), &na), *b = read_all(tpath("b.npz"), &nb);
  cr_assert_eq(na, nb);
  cr_assert(memcmp(a, b, na) == 0, "two writes of the same arrays differ");
  free(a);
  free(b);
}

IO_TEST(npz, missing_member_lists_members) {
  member m[8];
  size_t n;
  const char *path = tpath("run.npz");
  write_sample(path, m, &n);
  npde_npy_array a;
  FAILS(npde_npz_read(path, "nope", &a), NPDE_ERR_NOT_FOUND);
  assert_msg("has no member 'nope.npy'");
  assert_msg(path);
  assert_msg("members present (7): 'specials.npy', 'f32.npy', 'scalar.npy', 'u64.npy', 'empty.npy', "
             "'results.cube.npy', 'config.yaml'");
  void *bytes = (void *)1;
  size_t size = 5;
  FAILS(npde_npz_read_bytes(path, "nope.txt", &bytes, &size), NPDE_ERR_NOT_FOUND);
  assert_msg("has no member 'nope.txt'");
  cr_assert_null(bytes);
  cr_assert_eq(size, 0);
}

IO_TEST(npz, bad_members_and_files) {
  npde_npz_writer *w = NULL;
  const char *path = tpath("bad.npz");
  OK(npde_npz_create(path, &w));
  OK(npde_npz_add_bytes(w, "junk.npy", "garbage!", 8));
  OK(npde_npz_add_bytes(w, "empty.txt", NULL, 0));
  double x = 1;
  OK(npde_npz_add(w, "x", NPDE_NPY_F64, &x, 0, NULL));
  FAILS(npde_npz_add(w, "x", NPDE_NPY_F64, &x, 0, NULL), NPDE_ERR_INVALID_ARG);
  assert_msg("already has that member");
  FAILS(npde_npz_add(w, "", NPDE_NPY_F64, &x, 0, NULL), NPDE_ERR_INVALID_ARG);
  OK(npde_npz_commit(&w)); /* argument errors do not spoil the archive */
  npde_npy_array a;
  FAILS(npde_npz_read(path, "junk", &a), NPDE_ERR_IO);
  assert_msg("member 'junk.npy' of '");
  assert_msg("is not a .npy file");
  OK(npde_npz_read(path, "x", &a));
  cr_assert_eq(a.ndim, 0);
  cr_assert_eq(((double *)a.data)[0], 1.0);
  npde_npy_array_free(&a);
  void *bytes;
  size_t size = 9;
  OK(npde_npz_read_bytes(path, "empty.txt", &bytes, &size));
  cr_assert_eq(size, 0);
  cr_assert_str_eq(bytes, "");
  free(bytes);
  /* Not a zip at all. */
  OK(npde_write_file_atomic(tpath("text.npz"), "just text\n", 10));
  FAILS(npde_npz_read(tpath("text.npz"), "x", &a), NPDE_ERR_IO);
  assert_msg(tpath("text.npz"));
  assert_msg("as an .npz (zip) file");
  FAILS(npde_npz_read(tpath("absent.npz"), "x", &a), NPDE_ERR_IO);
  assert_msg(tpath("absent.npz"));
}

IO_TEST(npz, abort_leaves_nothing) {
  npde_npz_writer *w = NULL;
  OK(npde_npz_create(tpath("x.npz"), &w));
  double d[3] = {1, 2, 3};
  OK(npde_npz_add(w, "d", NPDE_NPY_F64, d, 1, (const int64_t[]){3}));
  char *ls = dir_listing(tmpdir);
  char expect[64];
  snprintf(expect, sizeof expect, "x.npz.tmp.%ld", (long)getpid());
  cr_assert_str_eq(ls, expect, "while writing, only the temporary exists: %s", ls);
  free(ls);
  npde_npz_abort(&w);
  cr_assert_null(w);
  ls = dir_listing(tmpdir);
  cr_assert_str_eq(ls, "", "abort left: %s", ls);
  free(ls);
  npde_npz_abort(&w);  /* *w NULL */
  npde_npz_abort(NULL);
  FAILS(npde_npz_commit(&w), NPDE_ERR_INVALID_ARG);
}

IO_TEST(npz, commit_replaces_existing_file_atomically) {
  const char *path = tpath("state.npz");
  OK(npde_write_file_atomic(path, "old contents", 12));
  struct stat before, after;
  cr_assert_eq(stat(path, &before), 0);
  npde_npz_writer *w = NULL;
  OK(npde_npz_create(path, &w));
  double d[2] = {4, 5};
  OK(npde_npz_add(w, "d", NPDE_NPY_F64, d, 1, (const int64_t[]){2}));
  /* Until commit, readers still see the complete old file. */
  size_t size;
  unsigned char *raw = read_all(path, &size);
  cr_assert_eq(size, 12);
  cr_assert(memcmp(raw, "old contents", 12) == 0);
  free(raw);
  OK(npde_npz_commit(&w));
  cr_assert_eq(stat(path, &after), 0);
  cr_assert_neq(before.st_ino, after.st_ino, "the file was rewritten in place, not renamed over");
  npde_npy_array a;
  OK(npde_npz_read(path, "d", &a));
  assert_array(&a, NPDE_NPY_F64, 1, (const int64_t[]){2}, d);
  npde_npy_array_free(&a);
  char *ls = dir_listing(tmpdir);
  cr_assert_str_eq(ls, "state.npz");
  free(ls);
}

IO_TEST(npz, missing_directory_is_named) {
  const char *path = tpath("no/such/dir/run.npz");
  npde_npz_writer *w = (npde_npz_writer *)&w;
  FAILS(npde_npz_create(path, &w), NPDE_ERR_IO);
  cr_assert_null(w);
  assert_msg(path);
  assert_msg("No such file or directory");
}

/* -------------------------------------------------------- plain files, dirs */

IO_TEST(files, write_file_atomic) {
  const char *path = tpath("f.txt");
  OK(npde_write_file_atomic(path, "first", 5));
  OK(npde_write_file_atomic(path, "second!", 7));
  size_t size;
  unsigned char *raw = read_all(path, &size);
  cr_assert_eq(size, 7);
  cr_assert(memcmp(raw, "second!", 7) == 0);
  free(raw);
  OK(npde_write_file_atomic(tpath("empty"), NULL, 0));
  char *ls = dir_listing(tmpdir);
  cr_assert_str_eq(ls, "empty|f.txt");
  free(ls);
  const char *bad = tpath("missing/f.txt");
  FAILS(npde_write_file_atomic(bad, "x", 1), NPDE_ERR_IO);
  assert_msg(bad);
  assert_msg("No such file or directory");
  FAILS(npde_write_file_atomic(path, NULL, 3), NPDE_ERR_INVALID_ARG);
  /* A directory in the way of the rename: the temporary is removed. */
  cr_assert_eq(mkdir(tpath("adir"), 0777), 0);
  FAILS(npde_write_file_atomic(tpath("adir"), "x", 1), NPDE_ERR_IO);
  assert_msg(tpath("adir"));
  assert_msg("renaming");
  ls = dir_listing(tmpdir);
  cr_assert_str_eq(ls, "adir|empty|f.txt", "left behind: %s", ls);
  free(ls);
}

IO_TEST(files, mkdir_p) {
  OK(npde_mkdir_p(tpath("a/b/c/")));
  struct stat sb;
  cr_assert_eq(stat(tpath("a/b/c"), &sb), 0);
  cr_assert(S_ISDIR(sb.st_mode));
  OK(npde_mkdir_p(tpath("a/b/c"))); /* exists: fine */
  OK(npde_mkdir_p(tpath("a//b/d")));
  cr_assert_eq(stat(tpath("a/b/d"), &sb), 0);
  OK(npde_write_file_atomic(tpath("a/file"), "x", 1));
  FAILS(npde_mkdir_p(tpath("a/file/sub")), NPDE_ERR_IO);
  assert_msg(tpath("a/file/sub"));
  assert_msg("is not a directory");
  FAILS(npde_mkdir_p(tpath("a/file")), NPDE_ERR_IO);
  assert_msg("exists and is not a directory");
  FAILS(npde_mkdir_p(""), NPDE_ERR_INVALID_ARG);
}

/* ------------------------------------------------------------- numpy checks */

IO_TEST(numpy, numpy_loads_what_we_write) {
  if (!python_has("numpy")) {
    teardown(); /* a skipped test does not run .fini */
    cr_skip_test("numpy not installed: python3 -c 'import numpy' failed; load check skipped");
  }
  member m[8];
  size_t n;
  const char *npz = tpath("run.npz");
  write_sample(npz, m, &n);
  FILE *spec = fopen(tpath("spec.txt"), "w");
  fprintf(spec, "npz %s\nfiles ", npz);
  for (size_t i = 0; i < n; ++i) {
    char name[64];
    snprintf(name, sizeof name, "%s.npy", m[i].name);
    fhex(spec, name, strlen(name));
    fputc(',', spec);
  }
  fhex(spec, "config.yaml", 11);
  fputc('\n', spec);
  for (size_t i = 0; i < n; ++i) {
    int64_t count = 1;
    for (int k = 0; k < m[i].ndim; ++k) count *= m[i].shape[k];
    fputs("array ", spec);
    fhex(spec, m[i].name, strlen(m[i].name));
    fprintf(spec, " %s ", type_descr[m[i].type]);
    fshape(spec, m[i].ndim, m[i].shape);
    fputc(' ', spec);
    fhex(spec, m[i].data, (size_t)count * esize(m[i].type));
    fputc('\n', spec);
  }
  fputs("bytes ", spec);
  fhex(spec, "config.yaml", 11);
  fputc(' ', spec);
  fhex(spec, "name: demo\nseed: 3\n", 19);
  fputc('\n', spec);
  /* Plain .npy files of every type and rank 0..3. */
  static const int64_t shapes[4][3] = {{0}, {5}, {3, 4}, {2, 3, 4}};
  for (int t = 0; t < 4; ++t)
    for (int nd = 0; nd <= 3; ++nd) {
      int64_t count = 1;
      for (int k = 0; k < nd; ++k) count *= shapes[nd][k];
      void *data = malloc((size_t)count * 8);
      fill((npde_npy_type)t, data, count);
      char name[32];
      snprintf(name, sizeof name, "p_%d_%d.npy", t, nd);
      OK(npde_npy_save(tpath(name), (npde_npy_type)t, data, nd, shapes[nd]));
      fprintf(spec, "npy %s %s ", tpath(name), type_descr[t]);
      fshape(spec, nd, shapes[nd]);
      fputc(' ', spec);
      fhex(spec, data, (size_t)count * esize((npde_npy_type)t));
      fputc('\n', spec);
      free(data);
    }
  OK(npde_npy_save(tpath("e.npy"), NPDE_NPY_U64, NULL, 2, (const int64_t[]){0, 3}));
  fprintf(spec, "npy %s <u8 0,3 -\n", tpath("e.npy"));
  fclose(spec);
  char args[1024];
  snprintf(args, sizeof args, "check '%s'", tpath("spec.txt"));
  run_script(args);
}

IO_TEST(numpy, we_load_what_numpy_writes) {
  if (!python_has("numpy")) {
    teardown(); /* a skipped test does not run .fini */
    cr_skip_test("numpy not installed: python3 -c 'import numpy' failed; load check skipped");
  }
  char args[1024];
  snprintf(args, sizeof args, "write '%s'", tmpdir);
  run_script(args);
  double a[6];
  for (int i = 0; i < 6; ++i) a[i] = 0.5 * i;
  const int64_t b = -7;
  const uint64_t c[2] = {0, UINT64_MAX};
  float e[24];
  double f[24];
  for (int i = 0; i < 24; ++i) e[i] = (float)i, f[i] = i;
  static const char *const files[] = {"savez.npz", "compressed.npz"};
  for (int k = 0; k < 2; ++k) {
    const char *path = tpath(files[k]);
    npde_npy_array x;
    OK(npde_npz_read(path, "a", &x));
    assert_array(&x, NPDE_NPY_F64, 2, (const int64_t[]){2, 3}, a);
    npde_npy_array_free(&x);
    OK(npde_npz_read(path, "b", &x));
    assert_array(&x, NPDE_NPY_I64, 0, NULL, &b);
    npde_npy_array_free(&x);
    OK(npde_npz_read(path, "c", &x));
    assert_array(&x, NPDE_NPY_U64, 1, (const int64_t[]){2}, c);
    npde_npy_array_free(&x);
    OK(npde_npz_read(path, "e", &x));
    assert_array(&x, NPDE_NPY_F32, 3, (const int64_t[]){2, 3, 4}, e);
    npde_npy_array_free(&x);
    FAILS(npde_npz_read(path, "zz", &x), NPDE_ERR_NOT_FOUND);
    assert_msg("'a.npy', 'b.npy', 'c.npy', 'e.npy'");
  }
  npde_npy_array x;
  OK(npde_npy_load(tpath("fortran.npy"), &x));
  assert_array(&x, NPDE_NPY_F64, 3, (const int64_t[]){2, 3, 4}, f);
  npde_npy_array_free(&x);
  OK(npde_npy_load(tpath("v2.npy"), &x));
  assert_array(&x, NPDE_NPY_F64, 2, (const int64_t[]){2, 3}, a);
  npde_npy_array_free(&x);
  OK(npde_npy_load(tpath("v3.npy"), &x));
  assert_array(&x, NPDE_NPY_F64, 2, (const int64_t[]){2, 3}, a);
  npde_npy_array_free(&x);
  FAILS(npde_npy_load(tpath("bigendian.npy"), &x), NPDE_ERR_IO);
  assert_msg("'>f8'");
  FAILS(npde_npy_load(tpath("complex.npy"), &x), NPDE_ERR_IO);
  assert_msg("'<c16'");
  FAILS(npde_npy_load(tpath("structured.npy"), &x), NPDE_ERR_IO);
  assert_msg("structured");
}

/* -------------------------------------------------------------------- .vti */

typedef struct vti_sample {
  npde_vti_grid g;
  double u[24], v[72];
  npde_vti_field f[2];
} vti_sample;

static void make_vti_sample(vti_sample *s) {
  s->g = (npde_vti_grid){{4, 3, 2}, {0.5, -1.0, 0.1}, {0.25, 0.1, 2.0}};
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 3; ++j)
      for (int i = 0; i < 4; ++i) {
        size_t p = (size_t)(k * 3 + j) * 4 + (size_t)i;
        s->u[p] = 100.0 * k + 10.0 * j + i + 0.125;
        for (int c = 0; c < 3; ++c) s->v[p * 3 + (size_t)c] = -(double)p - 0.5 * c;
      }
  s->u[5] = NAN;
  s->u[6] = -0.0;
  s->u[7] = 5e-324;
  s->f[0] = (npde_vti_field){"u", 1, s->u};
  s->f[1] = (npde_vti_field){"velocity", 3, s->v};
}

static const char *find(const char *hay, const char *needle) {
  const char *p = strstr(hay, needle);
  cr_assert_not_null(p, "expected to find\n%s\nin\n%s", needle, hay);
  return p;
}

IO_TEST(vti, header_and_appended_block) {
  vti_sample s;
  make_vti_sample(&s);
  const char *path = tpath("f.vti");
  OK(npde_vti_write(path, &s.g, s.f, 2));
  size_t size;
  unsigned char *raw = read_all(path, &size);
  const char *app = find((char *)raw, "<AppendedData encoding=\"raw\">");
  size_t xml_len = (size_t)(app - (char *)raw);
  char *xml = strndup((char *)raw, xml_len);
  find(xml, "<?xml version=\"1.0\"?>\n");
  find(xml, "<VTKFile type=\"ImageData\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">");
  find(xml, "<ImageData WholeExtent=\"0 3 0 2 0 1\" Origin=\"0.5 -1 0.1\" Spacing=\"0.25 0.1 2\">");
  find(xml, "<Piece Extent=\"0 3 0 2 0 1\">");
  find(xml, "<PointData Scalars=\"u\" Vectors=\"velocity\">");
  find(xml, "<DataArray type=\"Float64\" Name=\"u\" NumberOfComponents=\"1\" format=\"appended\" offset=\"0\"/>");
  /* 8-byte count + 24 doubles before it. */
  find(xml,
       "<DataArray type=\"Float64\" Name=\"velocity\" NumberOfComponents=\"3\" format=\"appended\" offset=\"200\"/>");
  free(xml);
  const unsigned char *p = (const unsigned char *)app + strlen("<AppendedData encoding=\"raw\">");
  while (*p == ' ' || *p == '\n') ++p;
  cr_assert_eq(*p, '_', "appended data must start with '_'");
  const unsigned char *base = ++p;
  uint64_t n;
  memcpy(&n, base, 8);
  cr_assert_eq(n, sizeof s.u, "first block count %" PRIu64, n);
  cr_assert(memcmp(base + 8, s.u, sizeof s.u) == 0, "u differs");
  memcpy(&n, base + 200, 8);
  cr_assert_eq(n, sizeof s.v, "second block count %" PRIu64, n);
  cr_assert(memcmp(base + 208, s.v, sizeof s.v) == 0, "velocity differs");
  const char *tail = (const char *)base + 208 + sizeof s.v;
  static const char expect_tail[] = "\n  </AppendedData>\n</VTKFile>\n";
  cr_assert_eq((size_t)((const char *)raw + size - tail), sizeof expect_tail - 1, "trailing bytes");
  cr_assert(memcmp(tail, expect_tail, sizeof expect_tail - 1) == 0);
  free(raw);
  char *ls = dir_listing(tmpdir);
  cr_assert_str_eq(ls, "f.vti");
  free(ls);
}

IO_TEST(vti, two_d_grid_and_escaping) {
  double u[40] = {0};
  npde_vti_grid g = {{5, 4, 1}, {0, 0, 0}, {0.1, 0.1, 1}};
  npde_vti_field f[2] = {{"a<b&\"c'", 2, u}, {"w", 1, u}};
  OK(npde_vti_write(tpath("g.vti"), &g, f, 1));
  size_t size;
  char *raw = (char *)read_all(tpath("g.vti"), &size);
  find(raw, "WholeExtent=\"0 4 0 3 0 0\"");
  find(raw, "Name=\"a&lt;b&amp;&quot;c&apos;\" NumberOfComponents=\"2\"");
  find(raw, "<PointData>"); /* no 1- or 3-component field */
  free(raw);
  OK(npde_vti_write(tpath("none.vti"), &g, NULL, 0));
}

IO_TEST(vti, argument_errors) {
  vti_sample s;
  make_vti_sample(&s);
  npde_vti_grid g = s.g;
  g.dims[1] = 0;
  FAILS(npde_vti_write(tpath("x.vti"), &g, s.f, 2), NPDE_ERR_INVALID_ARG);
  assert_msg("dims[1]=0");
  g = s.g;
  g.spacing[2] = 0;
  FAILS(npde_vti_write(tpath("x.vti"), &g, s.f, 2), NPDE_ERR_INVALID_ARG);
  assert_msg("spacing");
  npde_vti_field f[2] = {s.f[0], s.f[0]};
  FAILS(npde_vti_write(tpath("x.vti"), &s.g, f, 2), NPDE_ERR_INVALID_ARG);
  assert_msg("two fields are named 'u'");
  f[1].name = "w";
  f[1].components = 0;
  FAILS(npde_vti_write(tpath("x.vti"), &s.g, f, 2), NPDE_ERR_INVALID_ARG);
  assert_msg("components=0");
  char *ls = dir_listing(tmpdir);
  cr_assert_str_eq(ls, "");
  free(ls);
  const char *nodir = tpath("nodir/x.vti");
  FAILS(npde_vti_write(nodir, &s.g, s.f, 2), NPDE_ERR_IO);
  assert_msg(nodir);
}

IO_TEST(vti, vtk_reads_it) {
  if (!python_has("vtk")) {
    teardown(); /* a skipped test does not run .fini */
    cr_skip_test("vtk not installed: python3 -c 'import vtk' failed; VTK reader check skipped");
  }
  vti_sample s;
  make_vti_sample(&s);
  s.u[5] = 1e300; /* keep NaN out: the comparison goes through Python floats */
  OK(npde_vti_write(tpath("f.vti"), &s.g, s.f, 2));
  FILE *spec = fopen(tpath("vti.txt"), "w");
  fprintf(spec, "dims 4 3 2\norigin ");
  fhex(spec, s.g.origin, sizeof s.g.origin);
  fprintf(spec, "\nspacing ");
  fhex(spec, s.g.spacing, sizeof s.g.spacing);
  fprintf(spec, "\nfield ");
  fhex(spec, "u", 1);
  fprintf(spec, " 1 ");
  fhex(spec, s.u, sizeof s.u);
  fprintf(spec, "\nfield ");
  fhex(spec, "velocity", 8);
  fprintf(spec, " 3 ");
  fhex(spec, s.v, sizeof s.v);
  fputc('\n', spec);
  fclose(spec);
  char args[1024];
  snprintf(args, sizeof args, "vti '%s' '%s'", tpath("f.vti"), tpath("vti.txt"));
  run_script(args);
}

IO_TEST(vti, pvd_collection) {
  const double t[3] = {0.0, 0.1, 2.5};
  const char *const files[3] = {"f_0.vti", "sub/f_1.vti", "a&b.vti"};
  const char *path = tpath("run.pvd");
  OK(npde_pvd_write(path, 3, t, files));
  size_t size;
  char *raw = (char *)read_all(path, &size);
  cr_assert_str_eq(raw, "<?xml version=\"1.0\"?>\n"
                        "<VTKFile type=\"Collection\" version=\"0.1\" byte_order=\"LittleEndian\">\n"
                        "  <Collection>\n"
                        "    <DataSet timestep=\"0\" group=\"\" part=\"0\" file=\"f_0.vti\"/>\n"
                        "    <DataSet timestep=\"0.1\" group=\"\" part=\"0\" file=\"sub/f_1.vti\"/>\n"
                        "    <DataSet timestep=\"2.5\" group=\"\" part=\"0\" file=\"a&amp;b.vti\"/>\n"
                        "  </Collection>\n"
                        "</VTKFile>\n");
  free(raw);
  OK(npde_pvd_write(tpath("empty.pvd"), 0, NULL, NULL));
  raw = (char *)read_all(tpath("empty.pvd"), &size);
  find(raw, "<Collection>\n  </Collection>");
  free(raw);
  const double bad[1] = {INFINITY};
  FAILS(npde_pvd_write(tpath("bad.pvd"), 1, bad, files), NPDE_ERR_INVALID_ARG);
  assert_msg("not finite");
  FAILS(npde_pvd_write(tpath("nodir/x.pvd"), 3, t, files), NPDE_ERR_IO);
  assert_msg(tpath("nodir/x.pvd"));
}
