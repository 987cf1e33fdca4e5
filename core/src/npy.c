/* Reading NumPy .npy data (npde_npy.h): the format's preamble, its header
 * dict and the elements, from a file or from a caller's byte reader (the run
 * engine's .npz members). Plugins read their input arrays through this.
 *
 * .npy: "\x93NUMPY", major, minor, the header length (uint16 LE for 1.0,
 * uint32 LE for 2.0/3.0), then a Python dict literal
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and ended by '\n', then the raw elements. Versions
 * 1.0-3.0 are read. The declared size is checked against the bytes available
 * before allocating, so a corrupted header cannot make us allocate gigabytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "npy_impl.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* Our own headers are < 300 bytes; numpy's reader refuses > 10000 by default.
 * Anything above this is a corrupted length field. */
#define NPY_MAX_HEADER ((size_t)1 << 20)

size_t npde_npy_type_size(npde_npy_type type) {
  switch (type) {
  case NPDE_NPY_F64: return 8;
  case NPDE_NPY_F32: return 4;
  case NPDE_NPY_I64: return 8;
  case NPDE_NPY_U64: return 8;
  }
  return 0;
}

void npde_npy_array_free(npde_npy_array *a) {
  if (!a) return;
  free(a->data);
  memset(a, 0, sizeof *a);
}

npde_status npde__check_little_endian(const char *what) {
  const uint16_t probe = 1;
  unsigned char first;
  memcpy(&first, &probe, 1);
  if (first == 1) return NPDE_OK;
  return NPDE_ERROR(NPDE_ERR_NOT_IMPLEMENTED, "%s: big-endian hosts are not supported by npde's .npy/.npz/.vti I/O "
                    "(files are little-endian and no byte swapping is implemented)", what);
}

/* A byte source for the decoder: a FILE, or the caller's reader (an .npz member). */
typedef struct npy_src {
  const char *what; /* "'a.npy'" or "member 'x.npy' of 'a.npz'" */
  FILE *fp;
  npde_npy_reader read;
  void *ctx;
  int64_t avail; /* bytes left, -1 if unknown */
} npy_src;

/* Read up to n bytes; *got < n only at the end of the source. */
static npde_status src_read(npy_src *s, void *buf, size_t n, size_t *got) {
  unsigned char *p = buf;
  size_t done = 0;
  while (done < n) {
    if (s->fp) {
      size_t r = fread(p + done, 1, n - done, s->fp);
      done += r;
      if (r == 0) {
        if (ferror(s->fp)) return NPDE_ERROR(NPDE_ERR_IO, "cannot read %s: %s", s->what, strerror(errno));
        break;
      }
    } else {
      size_t r = 0;
      NPDE_TRY(s->read(s->ctx, p + done, n - done, &r));
      if (r == 0) break;
      done += r;
    }
  }
  if (s->avail >= 0) s->avail = (int64_t)done > s->avail ? 0 : s->avail - (int64_t)done;
  *got = done;
  return NPDE_OK;
}

static npde_status src_read_exact(npy_src *s, void *buf, size_t n, const char *part) {
  size_t got;
  NPDE_TRY(src_read(s, buf, n, &got));
  if (got < n)
    return NPDE_ERROR(NPDE_ERR_IO, "%s is truncated: %s needs %zu bytes, only %zu are present", s->what, part, n, got);
  return NPDE_OK;
}

/* Header dict parsing: a tiny scanner over a NUL-terminated copy. */
typedef struct scan {
  const char *p;
  const char *what;
} scan;

static void skip_ws(scan *s) {
  while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r') ++s->p;
}

static npde_status bad_header(scan *s, const char *expected) {
  char near[24];
  size_t i = 0;
  for (; i + 1 < sizeof near && s->p[i]; ++i) near[i] = (s->p[i] >= 32 && s->p[i] < 127) ? s->p[i] : '?';
  near[i] = '\0';
  return NPDE_ERROR(NPDE_ERR_IO, "%s: malformed .npy header: expected %s at \"%s\"", s->what, expected, near);
}

static npde_status expect_char(scan *s, char c, const char *name) {
  skip_ws(s);
  if (*s->p != c) return bad_header(s, name);
  ++s->p;
  return NPDE_OK;
}

/* A quoted Python string without escapes into out[cap]. */
static npde_status scan_string(scan *s, char *out, size_t cap, const char *name) {
  skip_ws(s);
  char q = *s->p;
  if (q != '\'' && q != '"') return bad_header(s, name);
  const char *start = ++s->p;
  while (*s->p && *s->p != q) ++s->p;
  if (!*s->p) return bad_header(s, "a closing quote");
  size_t n = (size_t)(s->p - start);
  if (n >= cap) n = cap - 1; /* long strings are cut; they are refused by the caller anyway */
  memcpy(out, start, n);
  out[n] = '\0';
  ++s->p;
  return NPDE_OK;
}

static npde_status scan_shape(scan *s, int *ndim, int64_t *shape) {
  NPDE_TRY(expect_char(s, '(', "'(' starting the shape tuple"));
  int n = 0;
  for (;;) {
    skip_ws(s);
    if (*s->p == ')') {
      ++s->p;
      break;
    }
    if (*s->p < '0' || *s->p > '9') return bad_header(s, "a non-negative integer in the shape");
    int64_t v = 0;
    while (*s->p >= '0' && *s->p <= '9') {
      int d = *s->p - '0';
      if (v > (INT64_MAX - d) / 10) return NPDE_ERROR(NPDE_ERR_IO, "%s: a shape entry overflows int64", s->what);
      v = v * 10 + d;
      ++s->p;
    }
    if (*s->p == 'L') ++s->p; /* Python 2 longs */
    if (n == NPDE_NPY_MAX_DIMS)
      return NPDE_ERROR(NPDE_ERR_IO, "%s: more than %d dimensions are not supported", s->what, NPDE_NPY_MAX_DIMS);
    shape[n++] = v;
    skip_ws(s);
    if (*s->p == ',') ++s->p;
    else if (*s->p != ')') return bad_header(s, "',' or ')' in the shape");
  }
  *ndim = n;
  return NPDE_OK;
}

static npde_status parse_descr(const char *what, const char *descr, npde_npy_type *type) {
  static const struct {
    const char *code;
    npde_npy_type type;
  } known[] = {{"f8", NPDE_NPY_F64}, {"f4", NPDE_NPY_F32}, {"i8", NPDE_NPY_I64}, {"u8", NPDE_NPY_U64}};
  if (strlen(descr) == 3 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=')) {
    for (size_t i = 0; i < sizeof known / sizeof known[0]; ++i)
      if (strcmp(descr + 1, known[i].code) == 0) {
        *type = known[i].type;
        return NPDE_OK;
      }
  }
  return NPDE_ERROR(NPDE_ERR_IO, "%s: unsupported dtype descr '%s' (npde reads '<f8', '<f4', '<i8' and '<u8'; convert "
                    "with numpy, e.g. a.astype('<f8'))", what, descr);
}

static npde_status parse_header(const char *what, const char *text, npde_npy_type *type, bool *fortran, int *ndim,
                                int64_t *shape) {
  scan s = {text, what};
  bool have_descr = false, have_fortran = false, have_shape = false;
  NPDE_TRY(expect_char(&s, '{', "'{' opening the header dict"));
  for (;;) {
    skip_ws(&s);
    if (*s.p == '}') {
      ++s.p;
      break;
    }
    char key[32];
    NPDE_TRY(scan_string(&s, key, sizeof key, "a quoted key"));
    NPDE_TRY(expect_char(&s, ':', "':' after a key"));
    skip_ws(&s);
    if (strcmp(key, "descr") == 0 && !have_descr) {
      char descr[64];
      if (*s.p != '\'' && *s.p != '"')
        return NPDE_ERROR(NPDE_ERR_IO, "%s: unsupported dtype descr (a structured or non-string descr); npde reads "
                          "'<f8', '<f4', '<i8' and '<u8'", what);
      NPDE_TRY(scan_string(&s, descr, sizeof descr, "the descr string"));
      NPDE_TRY(parse_descr(what, descr, type));
      have_descr = true;
    } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
      if (strncmp(s.p, "True", 4) == 0) *fortran = true, s.p += 4;
      else if (strncmp(s.p, "False", 5) == 0) *fortran = false, s.p += 5;
      else return bad_header(&s, "True or False for fortran_order");
      have_fortran = true;
    } else if (strcmp(key, "shape") == 0 && !have_shape) {
      NPDE_TRY(scan_shape(&s, ndim, shape));
      have_shape = true;
    } else {
      return NPDE_ERROR(NPDE_ERR_IO, "%s: malformed .npy header: unexpected or repeated key '%s'", what, key);
    }
    skip_ws(&s);
    if (*s.p == ',') ++s.p;
    else if (*s.p != '}') return bad_header(&s, "',' or '}' after a value");
  }
  skip_ws(&s);
  if (*s.p) return bad_header(&s, "only padding after the header dict");
  if (!have_descr || !have_fortran || !have_shape)
    return NPDE_ERROR(NPDE_ERR_IO, "%s: malformed .npy header: missing key '%s'", what,
                      !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
  return NPDE_OK;
}

/* Fortran-order src -> C-order dst. */
static void transpose_fortran(const unsigned char *src, unsigned char *dst, int ndim, const int64_t *shape,
                              int64_t count, size_t esize) {
  int64_t fstride[NPDE_NPY_MAX_DIMS], idx[NPDE_NPY_MAX_DIMS] = {0};
  int64_t st = 1;
  for (int k = 0; k < ndim; ++k) {
    fstride[k] = st;
    st *= shape[k];
  }
  int64_t off = 0;
  for (int64_t e = 0; e < count; ++e) {
    memcpy(dst + (size_t)e * esize, src + (size_t)off * esize, esize);
    for (int k = ndim - 1; k >= 0; --k) { /* C order: last index fastest */
      if (++idx[k] < shape[k]) {
        off += fstride[k];
        break;
      }
      off -= fstride[k] * (shape[k] - 1);
      idx[k] = 0;
    }
  }
}

/* Decode one .npy stream into out (zeroed first, complete on success). */
static npde_status npy_decode(npy_src *s, npde_npy_array *out) {
  memset(out, 0, sizeof *out);
  NPDE_TRY(npde__check_little_endian(s->what));
  unsigned char pre[12];
  size_t got;
  NPDE_TRY(src_read(s, pre, 8, &got));
  if (got < NPY_MAGIC_LEN || memcmp(pre, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
    return NPDE_ERROR(NPDE_ERR_IO, "%s is not a .npy file: it does not start with the magic \"\\x93NUMPY\"%s",
                      s->what, got == 0 ? " (it is empty)" : "");
  if (got < 8) return NPDE_ERROR(NPDE_ERR_IO, "%s is truncated: it ends inside the .npy preamble", s->what);
  int major = pre[6], minor = pre[7];
  size_t hlen;
  if (major == 1 && minor == 0) {
    NPDE_TRY(src_read_exact(s, pre + 8, 2, "the header length"));
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
  } else if ((major == 2 || major == 3) && minor == 0) {
    NPDE_TRY(src_read_exact(s, pre + 8, 4, "the header length"));
    hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  } else {
    return NPDE_ERROR(NPDE_ERR_IO, "%s: unsupported .npy format version %d.%d (npde reads 1.0, 2.0 and 3.0)", s->what,
                      major, minor);
  }
  if (hlen > NPY_MAX_HEADER)
    return NPDE_ERROR(NPDE_ERR_IO, "%s: implausible .npy header length %zu (more than %zu bytes): corrupted file",
                      s->what, hlen, NPY_MAX_HEADER);
  if (s->avail >= 0 && (uint64_t)hlen > (uint64_t)s->avail)
    return NPDE_ERROR(NPDE_ERR_IO, "%s is truncated: the header length field says %zu bytes, only %" PRId64 " follow",
                      s->what, hlen, s->avail);
  char *text = malloc(hlen + 1);
  if (!text) return NPDE_ERROR(NPDE_ERR_NOMEM, "%s: out of memory for the header", s->what);
  npde_status st = src_read_exact(s, text, hlen, "the header");
  if (st != NPDE_OK) {
    free(text);
    return st;
  }
  text[hlen] = '\0';
  if (memchr(text, '\0', hlen)) {
    free(text);
    return NPDE_ERROR(NPDE_ERR_IO, "%s: malformed .npy header: it contains a NUL byte", s->what);
  }
  npde_npy_type type = NPDE_NPY_F64;
  bool fortran = false;
  int ndim = 0;
  int64_t shape[NPDE_NPY_MAX_DIMS] = {0};
  st = parse_header(s->what, text, &type, &fortran, &ndim, shape);
  free(text);
  if (st != NPDE_OK) return st;

  size_t esize = npde_npy_type_size(type);
  int64_t count = 1;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] != 0 && count > INT64_MAX / shape[i])
      return NPDE_ERROR(NPDE_ERR_IO, "%s: the shape's element count overflows", s->what);
    count *= shape[i];
  }
  if ((uint64_t)count > SIZE_MAX / esize)
    return NPDE_ERROR(NPDE_ERR_IO, "%s: %" PRId64 " elements do not fit in memory", s->what, count);
  size_t bytes = (size_t)count * esize;
  if (s->avail >= 0 && (uint64_t)bytes > (uint64_t)s->avail)
    return NPDE_ERROR(NPDE_ERR_IO, "%s is truncated: the shape needs %zu data bytes, only %" PRId64 " are present",
                      s->what, bytes, s->avail);
  unsigned char *data = malloc(bytes ? bytes : 1);
  if (!data) return NPDE_ERROR(NPDE_ERR_NOMEM, "%s: out of memory for %zu data bytes", s->what, bytes);
  st = src_read_exact(s, data, bytes, "the data");
  if (st != NPDE_OK) {
    free(data);
    return st;
  }
  if (fortran && ndim > 1 && count > 1) {
    unsigned char *c = malloc(bytes);
    if (!c) {
      free(data);
      return NPDE_ERROR(NPDE_ERR_NOMEM, "%s: out of memory transposing a Fortran-order array", s->what);
    }
    transpose_fortran(data, c, ndim, shape, count, esize);
    free(data);
    data = c;
  }
  out->type = type;
  out->ndim = ndim;
  memcpy(out->shape, shape, sizeof shape);
  out->count = count;
  out->data = data;
  return NPDE_OK;
}

npde_status npde_npy_load(const char *path, npde_npy_array *out) {
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npy_load: out is NULL");
  memset(out, 0, sizeof *out);
  if (!path) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npy_load: path is NULL");
  FILE *fp = fopen(path, "rb");
  if (!fp) return NPDE_ERROR(NPDE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  size_t wlen = strlen(path) + 3;
  char *what = malloc(wlen);
  if (!what) {
    fclose(fp);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot read '%s': out of memory", path);
  }
  snprintf(what, wlen, "'%s'", path);
  npy_src s = {what, fp, NULL, NULL, -1};
  struct stat sb;
  if (fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode)) s.avail = (int64_t)sb.st_size;
  npde_status st = npy_decode(&s, out);
  fclose(fp);
  free(what);
  return st;
}

npde_status npde_npy_decode(const char *what, npde_npy_reader read, void *ctx, int64_t avail, npde_npy_array *out) {
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npy_decode: out is NULL");
  memset(out, 0, sizeof *out);
  if (!what || !read) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npy_decode: NULL argument");
  npy_src s = {what, NULL, read, ctx, avail};
  return npy_decode(&s, out);
}
