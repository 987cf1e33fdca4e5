/* Writing NumPy .npy files, and .npz archives through libarchive (npde_io.h);
 * the .npy decoder is the kernel's (npy.c), fed here from zip members.
 *
 * .npy: "\x93NUMPY", major, minor, the header length (uint16 LE for 1.0,
 * uint32 LE for 2.0/3.0), then a Python dict literal
 *   {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
 * padded with spaces and ended by '\n' so that the data starts at a multiple
 * of 64 bytes, then the raw elements. We write 1.0 (2.0 only if the header
 * exceeded 65535 bytes, which 8 dimensions never do).
 *
 * .npz: a zip of "<name>.npy" members (numpy.savez). Members are stored
 * (not deflated), as numpy.savez does: the data is mostly floating-point
 * noise that deflate barely shrinks, and storing costs no CPU. Every member
 * carries the same fixed timestamp, so equal contents give equal bytes.
 * Reading uses libarchive's seekable zip reader (the central directory), so
 * it also reads what numpy.savez / savez_compressed write (zip64 extras,
 * deflate).
 * */
#include <archive.h>
#include <archive_entry.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_impl.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
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
  size_t esize = npde_npy_type_size(type);
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

/* ------------------------------------------------------------------ .npz */

/* The current member of a zip being read, as the kernel decoder's byte source. */
typedef struct member_source {
  struct archive *ar;
  const char *what;
} member_source;

static npde_status archive_reader(void *ctx, void *buf, size_t n, size_t *got) {
  const member_source *m = ctx;
  size_t want = n > ((size_t)1 << 24) ? ((size_t)1 << 24) : n;
  la_ssize_t r = archive_read_data(m->ar, buf, want);
  if (r < 0) return NPDE_ERROR(NPDE_ERR_IO, "cannot read %s: %s", m->what, archive_error_string(m->ar));
  *got = (size_t)r;
  return NPDE_OK;
}

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
/* The .npz at path open for reading (*out the caller's to archive_read_free). */
static npde_status zip_open(const char *path, struct archive **out) {
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
  *out = a;
  return NPDE_OK;
}

/* The next member's header and name; *e NULL past the last. */
static npde_status zip_next(struct archive *a, const char *path, struct archive_entry **e, const char **name) {
  const int r = archive_read_next_header(a, e);
  if (r == ARCHIVE_EOF) {
    *e = NULL;
    return NPDE_OK;
  }
  if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
    return NPDE_ERROR(NPDE_ERR_IO, "cannot read '%s' as an .npz (zip) file: %s", path, archive_error_string(a));
  *name = archive_entry_pathname_utf8(*e);
  if (!*name) *name = archive_entry_pathname(*e);
  if (!*name) *name = "";
  return NPDE_OK;
}

static npde_status npz_seek(const char *path, const char *member, struct archive **out, int64_t *size) {
  struct archive *a;
  NPDE_TRY(zip_open(path, &a));
  *out = NULL;
  char list[1024];
  size_t used = 0;
  size_t n = 0;
  bool cut = false;
  list[0] = '\0';
  for (;;) {
    struct archive_entry *e;
    const char *name = NULL;
    const npde_status st = zip_next(a, path, &e, &name);
    if (st != NPDE_OK) {
      archive_read_free(a);
      return st;
    }
    if (!e) break;
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

/* Read past the member's last byte: libarchive compares the zip CRC there, so a damaged member is refused by name
 * rather than read as numbers. */
static npde_status member_end(struct archive *a, const char *what) {
  char extra;
  la_ssize_t r = archive_read_data(a, &extra, 1);
  if (r < 0) return NPDE_ERROR(NPDE_ERR_IO, "%s is damaged: %s", what, archive_error_string(a));
  if (r > 0) return NPDE_ERROR(NPDE_ERR_IO, "%s is damaged: it holds more bytes than its header says", what);
  return NPDE_OK;
}

npde_status npde_npz_members(const char *path, npde_status (*fn)(const char *member, void *user), void *user) {
  struct archive *a;
  NPDE_TRY(zip_open(path, &a));
  npde_status st = NPDE_OK;
  for (struct archive_entry *e = NULL; st == NPDE_OK;) {
    const char *name = NULL;
    st = zip_next(a, path, &e, &name);
    if (st != NPDE_OK || !e) break;
    st = fn(name, user);
  }
  archive_read_free(a);
  return st;
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
    member_source m = {a, what};
    st = npde_npy_decode(what, archive_reader, &m, size, out);
    if (st == NPDE_OK) st = member_end(a, what);
    if (st != NPDE_OK) npde_npy_array_free(out);
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
  if (st == NPDE_OK && declared >= 0 && (uint64_t)used == (uint64_t)declared) {
    char what[1024];
    snprintf(what, sizeof what, "member '%s' of '%s'", member, path);
    st = member_end(a, what);
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
