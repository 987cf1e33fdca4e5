/* NumPy .npy encode/decode and .npz archives through libarchive (npde_io.h).
 *
 * .npy: "\x93NUMPY", major, minor, the header length (uint16 LE for 1.0,
 * uint32 LE for 2.0/3.0), then a Python dict literal
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and ended by '\n' so that the data starts at a multiple
 * of 64 bytes, then the raw elements. We write 1.0 (2.0 only if the header
 * exceeded 65535 bytes, which 8 dimensions never do) and read 1.0-3.0.
 *
 * .npz: a zip of "<name>.npy" members (numpy.savez). Members are stored
 * (not deflated), as numpy.savez does: the data is mostly floating-point
 * noise that deflate barely shrinks, and storing costs no CPU. Every member
 * carries the same fixed timestamp, so equal contents give equal bytes.
 * Reading uses libarchive's seekable zip reader (the central directory), so
 * it also reads what numpy.savez / savez_compressed write (zip64 extras,
 * deflate).
 *
 * The decoder reads from a small source abstraction (a FILE or a libarchive
 * entry) so that data goes straight into the array's buffer; the declared
 * size is checked against the bytes available before allocating, so a
 * corrupted header cannot make us allocate gigabytes.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_impl.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
/* Our own headers are < 300 bytes; numpy's reader refuses > 10000 by default.
 * Anything above this is a corrupted length field. */
#define NPY_MAX_HEADER ((size_t)1 << 20)
/* Fixed member timestamp: 1980-01-01, the zip (DOS) epoch. */
#define NPZ_MTIME ((time_t)315532800)

/* ---------------------------------------------------------------- helpers */

static const char *descr_of(npde_npy_type type) {
  switch (type) {
  case NPDE_NPY_F64: return "<f8";
  case NPDE_NPY_F32: return "<f4";
  case NPDE_NPY_I64: return "<i8";
  case NPDE_NPY_U64: return "<u8";
  }
  return NULL;
}

/* Check save arguments; *count and *bytes receive the element count and the
 * data size. `what` names the file or member for the message. */
static npde_status check_array(const char *what, npde_npy_type type, const void *data, int ndim,
                               const int64_t *shape, int64_t *count, size_t *bytes) {
  size_t esize = npde__npy_type_size(type);
  if (esize == 0) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: unknown npy type %d", what, (int)type);
  if (ndim < 0 || ndim > NPDE_NPY_MAX_DIMS)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: ndim=%d must be in [0, %d]", what, ndim, NPDE_NPY_MAX_DIMS);
  if (ndim > 0 && !shape) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: shape is NULL for ndim=%d", what, ndim);
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] < 0)
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: shape[%d]=%" PRId64 " is negative", what, i, shape[i]);
    if (shape[i] != 0 && n > INT64_MAX / shape[i])
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: the shape's element count overflows", what);
    n *= shape[i];
  }
  if ((uint64_t)n > SIZE_MAX / esize)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: %" PRId64 " elements do not fit in memory", what, n);
  if (n > 0 && !data) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: data is NULL for %" PRId64 " elements", what, n);
  *count = n;
  *bytes = (size_t)n * esize;
  return NPDE_OK;
}

/* The preamble and header of a .npy file, in buf (cap >= 1024 suffices for
 * NPDE_NPY_MAX_DIMS); *len is a multiple of 64. */
static void encode_header(npde_npy_type type, int ndim, const int64_t *shape, unsigned char *buf, size_t cap,
                          size_t *len) {
  char dict[512];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr_of(type));
  for (int i = 0; i < ndim; ++i)
    n += snprintf(dict + n, sizeof dict - (size_t)n, i ? ", %" PRId64 : "%" PRId64, shape[i]);
  n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", ndim == 1 ? "," : "");
  size_t dlen = (size_t)n;
  size_t pre = 10; /* magic 6 + version 2 + uint16 length */
  size_t total = (pre + dlen + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
  int major = 1;
  if (total - pre > 65535) {
    major = 2;
    pre = 12;
    total = (pre + dlen + 1 + NPY_ALIGN - 1) / NPY_ALIGN * NPY_ALIGN;
  }
  (void)cap; /* total <= 576 for 8 dims of 20 digits */
  size_t hlen = total - pre;
  memcpy(buf, NPY_MAGIC, NPY_MAGIC_LEN);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  if (major == 1) {
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
  } else {
    for (int i = 0; i < 4; ++i) buf[8 + i] = (unsigned char)((hlen >> (8 * i)) & 0xff);
  }
  memcpy(buf + pre, dict, dlen);
  memset(buf + pre + dlen, ' ', total - pre - dlen - 1);
  buf[total - 1] = '\n';
  *len = total;
}

/* ------------------------------------------------------------------ .npy */

npde_status npde_npy_save(const char *path, npde_npy_type type, const void *data, int ndim, const int64_t *shape) {
  if (!path) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npy_save: path is NULL");
  NPDE_TRY(npde__check_little_endian(path));
  int64_t count;
  size_t bytes;
  NPDE_TRY(check_array(path, type, data, ndim, shape, &count, &bytes));
  unsigned char header[1024];
  size_t hlen;
  encode_header(type, ndim, shape, header, sizeof header, &hlen);
  npde__afile f;
  NPDE_TRY(npde__afile_open(path, &f));
  npde_status st = npde__afile_write(&f, header, hlen);
  if (st == NPDE_OK && bytes) st = npde__afile_write(&f, data, bytes);
  if (st != NPDE_OK) {
    npde__afile_abort(&f);
    return st;
  }
  NPDE_TRY(npde__afile_commit(&f));
  return NPDE_OK;
}

/* A byte source for the decoder: a FILE or the current libarchive entry. */
typedef struct npy_src {
  const char *what; /* "'a.npy'" or "member 'x.npy' of 'a.npz'" */
  FILE *fp;
  struct archive *ar;
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
      size_t want = n - done > ((size_t)1 << 24) ? ((size_t)1 << 24) : n - done;
      la_ssize_t r = archive_read_data(s->ar, p + done, want);
      if (r < 0) return NPDE_ERROR(NPDE_ERR_IO, "cannot read %s: %s", s->what, archive_error_string(s->ar));
      if (r == 0) break;
      done += (size_t)r;
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
  return NPDE_ERROR(NPDE_ERR_IO,
                    "%s: unsupported dtype descr '%s' (npde reads '<f8', '<f4', '<i8' and '<u8'; "
                    "convert with numpy, e.g. a.astype('<f8'))",
                    what, descr);
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
        return NPDE_ERROR(NPDE_ERR_IO,
                          "%s: unsupported dtype descr (a structured or non-string descr); npde reads '<f8', "
                          "'<f4', '<i8' and '<u8'",
                          what);
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

  size_t esize = npde__npy_type_size(type);
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
    return NPDE_ERROR(NPDE_ERR_IO,
                      "%s is truncated: the shape needs %zu data bytes, only %" PRId64 " are present", s->what, bytes,
                      s->avail);
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
  npy_src s = {what, fp, NULL, -1};
  struct stat sb;
  if (fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode)) s.avail = (int64_t)sb.st_size;
  npde_status st = npy_decode(&s, out);
  fclose(fp);
  free(what);
  return st;
}

/* ------------------------------------------------------------------ .npz */

struct npde_npz_writer {
  npde__afile f;
  struct archive *a;
  bool failed;      /* an add failed: only abort (or a failing commit) remains */
  char **members;   /* names written so far, to refuse duplicates */
  size_t n_members, cap_members;
};

static void writer_free(npde_npz_writer *w) {
  for (size_t i = 0; i < w->n_members; ++i) free(w->members[i]);
  free(w->members);
  free(w);
}

npde_status npde_npz_create(const char *path, npde_npz_writer **out) {
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_create: out is NULL");
  *out = NULL;
  if (!path) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_create: path is NULL");
  NPDE_TRY(npde__check_little_endian(path));
  npde_npz_writer *w = calloc(1, sizeof *w);
  if (!w) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot write '%s': out of memory", path);
  npde_status st = npde__afile_open(path, &w->f);
  if (st != NPDE_OK) {
    free(w);
    return st;
  }
  w->a = archive_write_new();
  if (!w->a) {
    npde__afile_abort(&w->f);
    free(w);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot write '%s': out of memory", path);
  }
  if (archive_write_set_format_zip(w->a) != ARCHIVE_OK || archive_write_zip_set_compression_store(w->a) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
      archive_write_open_fd(w->a, w->f.fd) != ARCHIVE_OK) {
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s': libarchive: %s", path, archive_error_string(w->a));
    archive_write_free(w->a);
    npde__afile_abort(&w->f);
    free(w);
    return st;
  }
  *out = w;
  return NPDE_OK;
}

/* Write one member: `head` then `data`. Marks the writer failed on error. */
static npde_status npz_member(npde_npz_writer *w, const char *member, const void *head, size_t hlen,
                              const void *data, size_t dlen) {
  if (w->failed)
    return NPDE_ERROR(NPDE_ERR_IO, "cannot add '%s' to '%s': an earlier write to it failed", member, w->f.path);
  for (size_t i = 0; i < w->n_members; ++i)
    if (strcmp(w->members[i], member) == 0)
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "cannot add '%s' to '%s': the archive already has that member",
                        member, w->f.path);
  if (w->n_members == w->cap_members) {
    size_t cap = w->cap_members ? 2 * w->cap_members : 8;
    char **m = realloc(w->members, cap * sizeof *m);
    if (!m) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot add '%s' to '%s': out of memory", member, w->f.path);
    w->members = m;
    w->cap_members = cap;
  }
  size_t mlen = strlen(member) + 1;
  char *copy = malloc(mlen);
  if (!copy) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot add '%s' to '%s': out of memory", member, w->f.path);
  memcpy(copy, member, mlen);
  w->members[w->n_members++] = copy;

  struct archive_entry *e = archive_entry_new();
  if (!e) {
    w->failed = true;
    return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot add '%s' to '%s': out of memory", member, w->f.path);
  }
  archive_entry_set_pathname_utf8(e, member);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_mtime(e, NPZ_MTIME, 0);
  archive_entry_set_size(e, (la_int64_t)(hlen + dlen));
  npde_status st = NPDE_OK;
  if (archive_write_header(w->a, e) != ARCHIVE_OK) {
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot add '%s' to '%s': libarchive: %s", member, w->f.path,
                    archive_error_string(w->a));
  }
  archive_entry_free(e);
  const void *parts[2] = {head, data};
  size_t lens[2] = {hlen, dlen};
  for (int k = 0; k < 2 && st == NPDE_OK; ++k) {
    const unsigned char *p = parts[k];
    size_t left = lens[k];
    while (left > 0) {
      size_t chunk = left > ((size_t)1 << 24) ? ((size_t)1 << 24) : left;
      la_ssize_t r = archive_write_data(w->a, p, chunk);
      if (r <= 0) {
        st = NPDE_ERROR(NPDE_ERR_IO, "cannot add '%s' to '%s': libarchive: %s", member, w->f.path,
                        r < 0 ? archive_error_string(w->a) : "no progress");
        break;
      }
      p += r;
      left -= (size_t)r;
    }
  }
  if (st == NPDE_OK && archive_write_finish_entry(w->a) != ARCHIVE_OK)
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot add '%s' to '%s': libarchive: %s", member, w->f.path,
                    archive_error_string(w->a));
  if (st != NPDE_OK) w->failed = true;
  return st;
}

npde_status npde_npz_add(npde_npz_writer *w, const char *name, npde_npy_type type, const void *data, int ndim,
                         const int64_t *shape) {
  if (!w) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_add: writer is NULL");
  if (!name || !*name) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_add('%s'): empty member name", w->f.path);
  size_t mlen = strlen(name) + 5;
  char *member = malloc(mlen);
  if (!member) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot add '%s' to '%s': out of memory", name, w->f.path);
  snprintf(member, mlen, "%s.npy", name);
  int64_t count;
  size_t bytes;
  unsigned char header[1024];
  size_t hlen = 0;
  size_t wlen = mlen + strlen(w->f.path) + 32;
  char *what = malloc(wlen);
  npde_status st = what ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "cannot add '%s': out of memory", member);
  if (st == NPDE_OK) {
    snprintf(what, wlen, "member '%s' of '%s'", member, w->f.path);
    st = check_array(what, type, data, ndim, shape, &count, &bytes);
  }
  if (st == NPDE_OK) {
    encode_header(type, ndim, shape, header, sizeof header, &hlen);
    st = npz_member(w, member, header, hlen, data, bytes);
  }
  free(what);
  free(member);
  return st;
}

npde_status npde_npz_add_bytes(npde_npz_writer *w, const char *member, const void *data, size_t size) {
  if (!w) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_add_bytes: writer is NULL");
  if (!member || !*member)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_add_bytes('%s'): empty member name", w->f.path);
  if (!data && size > 0)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_add_bytes('%s', '%s'): data is NULL", w->f.path, member);
  return npz_member(w, member, NULL, 0, data, size);
}

npde_status npde_npz_commit(npde_npz_writer **pw) {
  if (!pw || !*pw) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_commit: writer is NULL");
  npde_npz_writer *w = *pw;
  *pw = NULL;
  npde_status st = NPDE_OK;
  if (w->failed) {
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s': an earlier write to it failed; nothing was written", w->f.path);
  } else if (archive_write_close(w->a) != ARCHIVE_OK) {
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s': finishing the zip archive failed: %s", w->f.path,
                    archive_error_string(w->a));
  }
  archive_write_free(w->a); /* after a failure this closes (into the temporary, unlinked below) */
  if (st == NPDE_OK) st = npde__afile_commit(&w->f);
  else npde__afile_abort(&w->f);
  writer_free(w);
  return st;
}

void npde_npz_abort(npde_npz_writer **pw) {
  if (!pw || !*pw) return;
  npde_npz_writer *w = *pw;
  *pw = NULL;
  /* archive_write_free closes the archive (writing the central directory
   * into the temporary, which is unlinked next). archive_write_fail would
   * skip that, but libarchive 3.6 then leaks the fd client's buffers. */
  archive_write_free(w->a);
  npde__afile_abort(&w->f);
  writer_free(w);
}

/* Open an .npz for reading and position it at `member`. On NOT_FOUND the
 * message lists the members present. */
static npde_status npz_seek(const char *path, const char *member, struct archive **out, int64_t *size) {
  *out = NULL;
  NPDE_TRY(npde__check_little_endian(path));
  struct archive *a = archive_read_new();
  if (!a) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot read '%s': out of memory", path);
  archive_read_support_format_zip(a);
  if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
    npde_status st = NPDE_ERROR(NPDE_ERR_IO, "cannot read '%s' as an .npz (zip) file: %s", path,
                                archive_error_string(a));
    archive_read_free(a);
    return st;
  }
  char list[1024];
  size_t used = 0;
  size_t n = 0;
  bool cut = false;
  list[0] = '\0';
  for (;;) {
    struct archive_entry *e;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      npde_status st = NPDE_ERROR(NPDE_ERR_IO, "cannot read '%s' as an .npz (zip) file: %s", path,
                                  archive_error_string(a));
      archive_read_free(a);
      return st;
    }
    const char *name = archive_entry_pathname_utf8(e);
    if (!name) name = archive_entry_pathname(e);
    if (!name) name = "";
    if (strcmp(name, member) == 0) {
      *size = archive_entry_size_is_set(e) ? (int64_t)archive_entry_size(e) : -1;
      *out = a;
      return NPDE_OK;
    }
    if (!cut) { /* keep room for ", ..." */
      int k = snprintf(list + used, sizeof list - used, "%s'%s'", n ? ", " : "", name);
      if (k < 0 || (size_t)k + 8 > sizeof list - used) {
        snprintf(list + used, sizeof list - used, "%s...", n ? ", " : "");
        cut = true;
      } else {
        used += (size_t)k;
      }
    }
    ++n;
  }
  archive_read_free(a);
  return NPDE_ERROR(NPDE_ERR_NOT_FOUND, "'%s' has no member '%s'; members present (%zu): %s", path, member, n,
                    n ? list : "none");
}

npde_status npde_npz_read(const char *path, const char *name, npde_npy_array *out) {
  if (!out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_read: out is NULL");
  memset(out, 0, sizeof *out);
  if (!path || !name) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_read: path or name is NULL");
  size_t mlen = strlen(name) + 5;
  size_t wlen = mlen + strlen(path) + 32;
  char *member = malloc(mlen), *what = malloc(wlen);
  if (!member || !what) {
    free(member);
    free(what);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot read '%s': out of memory", path);
  }
  snprintf(member, mlen, "%s.npy", name);
  snprintf(what, wlen, "member '%s' of '%s'", member, path);
  struct archive *a;
  int64_t size = -1;
  npde_status st = npz_seek(path, member, &a, &size);
  if (st == NPDE_OK) {
    npy_src s = {what, NULL, a, size};
    st = npy_decode(&s, out);
    archive_read_free(a);
  }
  free(member);
  free(what);
  return st;
}

npde_status npde_npz_read_bytes(const char *path, const char *member, void **data, size_t *size) {
  if (!data || !size) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_read_bytes: data or size is NULL");
  *data = NULL;
  *size = 0;
  if (!path || !member) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_npz_read_bytes: path or member is NULL");
  struct archive *a;
  int64_t declared = -1;
  NPDE_TRY(npz_seek(path, member, &a, &declared));
  size_t cap = declared >= 0 && (uint64_t)declared < SIZE_MAX ? (size_t)declared + 1 : 4096;
  size_t used = 0;
  unsigned char *buf = malloc(cap);
  npde_status st = buf ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "cannot read member '%s' of '%s': out of memory",
                                              member, path);
  while (st == NPDE_OK) {
    if (declared >= 0 && (uint64_t)used == (uint64_t)declared) break;
    if (used + 1 >= cap) {
      size_t ncap = cap * 2;
      unsigned char *nb = realloc(buf, ncap);
      if (!nb) {
        st = NPDE_ERROR(NPDE_ERR_NOMEM, "cannot read member '%s' of '%s': out of memory", member, path);
        break;
      }
      buf = nb;
      cap = ncap;
    }
    la_ssize_t r = archive_read_data(a, buf + used, cap - used - 1);
    if (r < 0) {
      st = NPDE_ERROR(NPDE_ERR_IO, "cannot read member '%s' of '%s': %s", member, path, archive_error_string(a));
      break;
    }
    if (r == 0) break;
    used += (size_t)r;
  }
  archive_read_free(a);
  if (st != NPDE_OK) {
    free(buf);
    return st;
  }
  if (declared >= 0 && (uint64_t)used != (uint64_t)declared) {
    free(buf);
    return NPDE_ERROR(NPDE_ERR_IO, "member '%s' of '%s' is truncated: %zu of %" PRId64 " bytes", member, path, used,
                      declared);
  }
  buf[used] = '\0';
  *data = buf;
  *size = used;
  return NPDE_OK;
}
