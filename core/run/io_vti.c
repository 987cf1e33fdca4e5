/* VTK XML ImageData (.vti) and ParaView collections (.pvd) (npde_io.h).
 *
 * One .vti holds point data on a uniform grid:
 *
 *   <VTKFile type="ImageData" version="1.0" byte_order="LittleEndian" header_type="UInt64">
 *     <ImageData WholeExtent="0 nx-1 0 ny-1 0 nz-1" Origin=".." Spacing="..">
 *       <Piece Extent="0 nx-1 0 ny-1 0 nz-1">
 *         <PointData> <DataArray type="Float64" Name=".." NumberOfComponents="c"
 *                                format="appended" offset="o"/> ... </PointData>
 *   <AppendedData encoding="raw">
 *      _[uint64 nbytes][nbytes of doubles][uint64 nbytes][...]
 *
 * Each array's offset counts from the byte after '_' and includes the
 * preceding arrays' 8-byte headers. The arrays are written straight from the
 * caller's buffers (no copy), through the atomic file writer. Numbers in the
 * XML use the shortest of %.15g/%.17g that reads back exactly.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_impl.h"

/* A growable text buffer; a failed allocation sticks in `nomem`. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
  bool nomem;
} sbuf;

static void sb_reserve(sbuf *b, size_t extra) {
  if (b->nomem || b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 1024;
  while (cap < b->len + extra + 1) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->nomem = true;
    return;
  }
  b->p = p;
  b->cap = cap;
}

static void sb_printf(sbuf *b, const char *fmt, ...) NPDE_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->nomem = true;
    return;
  }
  sb_reserve(b, (size_t)n);
  if (b->nomem) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* Append s escaped for an XML attribute value. */
static void sb_escaped(sbuf *b, const char *s) {
  for (; *s; ++s) {
    switch (*s) {
    case '&': sb_printf(b, "&amp;"); break;
    case '<': sb_printf(b, "&lt;"); break;
    case '>': sb_printf(b, "&gt;"); break;
    case '"': sb_printf(b, "&quot;"); break;
    case '\'': sb_printf(b, "&apos;"); break;
    default: sb_printf(b, "%c", *s); break;
    }
  }
}

/* Shortest of %.15g / %.17g that parses back to v exactly. */
static void sb_double(sbuf *b, double v) {
  char s[32];
  snprintf(s, sizeof s, "%.15g", v);
  if (strtod(s, NULL) != v) snprintf(s, sizeof s, "%.17g", v);
  sb_printf(b, "%s", s);
}

static npde_status write_text(const char *path, sbuf *b, const char *what) {
  if (b->nomem) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot write '%s': out of memory building the %s", path, what);
  NPDE_TRY(npde_write_file_atomic(path, b->p, b->len));
  return NPDE_OK;
}

npde_status npde_vti_write(const char *path, const npde_vti_grid *g, const npde_vti_field *fields, int n_fields) {
  if (!path) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_vti_write: path is NULL");
  if (!g) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_vti_write('%s'): grid is NULL", path);
  if (n_fields < 0 || (n_fields > 0 && !fields))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_vti_write('%s'): n_fields=%d with fields %s", path, n_fields,
                      fields ? "given" : "NULL");
  NPDE_TRY(npde__check_little_endian(path));
  int64_t points = 1;
  for (int d = 0; d < 3; ++d) {
    if (g->dims[d] < 1)
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_vti_write('%s'): dims[%d]=%" PRId64 " must be >= 1", path, d,
                        g->dims[d]);
    if (points > INT64_MAX / g->dims[d])
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_vti_write('%s'): the number of points overflows", path);
    points *= g->dims[d];
    if (!isfinite(g->origin[d]) || !isfinite(g->spacing[d]) || !(g->spacing[d] > 0))
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG,
                        "npde_vti_write('%s'): origin[%d]=%g and spacing[%d]=%g must be finite, spacing > 0", path,
                        d, g->origin[d], d, g->spacing[d]);
  }
  uint64_t *nbytes = calloc(n_fields > 0 ? (size_t)n_fields : 1, sizeof *nbytes);
  if (!nbytes) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot write '%s': out of memory", path);
  npde_status st = NPDE_OK;
  int scalars = -1, vectors = -1;
  for (int f = 0; f < n_fields && st == NPDE_OK; ++f) {
    const npde_vti_field *fd = &fields[f];
    if (!fd->name || !*fd->name) {
      st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_vti_write('%s'): field %d has no name", path, f);
      break;
    }
    if (fd->components < 1) {
      st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_vti_write('%s'): field '%s' has components=%d (must be >= 1)", path,
                      fd->name, fd->components);
      break;
    }
    if (!fd->data) {
      st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_vti_write('%s'): field '%s' has no data", path, fd->name);
      break;
    }
    for (int e = 0; e < f; ++e)
      if (strcmp(fields[e].name, fd->name) == 0) {
        st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_vti_write('%s'): two fields are named '%s'", path, fd->name);
        break;
      }
    if (st != NPDE_OK) break;
    uint64_t values = (uint64_t)points;
    if (values > UINT64_MAX / 8 / (uint64_t)fd->components ||
        values * (uint64_t)fd->components * 8 > (uint64_t)SIZE_MAX) {
      st = NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_vti_write('%s'): field '%s' is too large", path, fd->name);
      break;
    }
    nbytes[f] = values * (uint64_t)fd->components * 8;
    if (fd->components == 1 && scalars < 0) scalars = f;
    if (fd->components == 3 && vectors < 0) vectors = f;
  }
  if (st != NPDE_OK) {
    free(nbytes);
    return st;
  }

  sbuf b = {0};
  char extent[96];
  snprintf(extent, sizeof extent, "0 %" PRId64 " 0 %" PRId64 " 0 %" PRId64, g->dims[0] - 1, g->dims[1] - 1,
           g->dims[2] - 1);
  sb_printf(&b, "<?xml version=\"1.0\"?>\n"
                "<VTKFile type=\"ImageData\" version=\"1.0\" byte_order=\"LittleEndian\" header_type=\"UInt64\">\n");
  sb_printf(&b, "  <ImageData WholeExtent=\"%s\" Origin=\"", extent);
  for (int d = 0; d < 3; ++d) {
    if (d) sb_printf(&b, " ");
    sb_double(&b, g->origin[d]);
  }
  sb_printf(&b, "\" Spacing=\"");
  for (int d = 0; d < 3; ++d) {
    if (d) sb_printf(&b, " ");
    sb_double(&b, g->spacing[d]);
  }
  sb_printf(&b, "\">\n    <Piece Extent=\"%s\">\n      <PointData", extent);
  if (scalars >= 0) {
    sb_printf(&b, " Scalars=\"");
    sb_escaped(&b, fields[scalars].name);
    sb_printf(&b, "\"");
  }
  if (vectors >= 0) {
    sb_printf(&b, " Vectors=\"");
    sb_escaped(&b, fields[vectors].name);
    sb_printf(&b, "\"");
  }
  sb_printf(&b, ">\n");
  uint64_t offset = 0;
  for (int f = 0; f < n_fields; ++f) {
    sb_printf(&b, "        <DataArray type=\"Float64\" Name=\"");
    sb_escaped(&b, fields[f].name);
    sb_printf(&b, "\" NumberOfComponents=\"%d\" format=\"appended\" offset=\"%" PRIu64 "\"/>\n", fields[f].components,
              offset);
    offset += 8 + nbytes[f];
  }
  sb_printf(&b, "      </PointData>\n      <CellData>\n      </CellData>\n    </Piece>\n  </ImageData>\n"
                "  <AppendedData encoding=\"raw\">\n   _");
  static const char tail[] = "\n  </AppendedData>\n</VTKFile>\n";
  if (b.nomem) {
    free(b.p);
    free(nbytes);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot write '%s': out of memory building the XML header", path);
  }

  npde__afile af;
  st = npde__afile_open(path, &af);
  if (st == NPDE_OK) {
    st = npde__afile_write(&af, b.p, b.len);
    for (int f = 0; f < n_fields && st == NPDE_OK; ++f) {
      uint64_t n = nbytes[f]; /* little-endian host (checked above) */
      st = npde__afile_write(&af, &n, sizeof n);
      if (st == NPDE_OK) st = npde__afile_write(&af, fields[f].data, (size_t)nbytes[f]);
    }
    if (st == NPDE_OK) st = npde__afile_write(&af, tail, sizeof tail - 1);
    if (st == NPDE_OK) st = npde__afile_commit(&af);
    else npde__afile_abort(&af);
  }
  free(b.p);
  free(nbytes);
  return st;
}

npde_status npde_pvd_write(const char *path, int64_t n, const double *times, const char *const *files) {
  if (!path) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pvd_write: path is NULL");
  if (n < 0 || (n > 0 && (!times || !files)))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pvd_write('%s'): n=%" PRId64 " with times %s and files %s", path, n,
                      times ? "given" : "NULL", files ? "given" : "NULL");
  for (int64_t i = 0; i < n; ++i) {
    if (!isfinite(times[i]))
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pvd_write('%s'): times[%" PRId64 "]=%g is not finite", path, i,
                        times[i]);
    if (!files[i] || !*files[i])
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pvd_write('%s'): files[%" PRId64 "] is empty", path, i);
  }
  sbuf b = {0};
  sb_printf(&b, "<?xml version=\"1.0\"?>\n"
                "<VTKFile type=\"Collection\" version=\"0.1\" byte_order=\"LittleEndian\">\n  <Collection>\n");
  for (int64_t i = 0; i < n; ++i) {
    sb_printf(&b, "    <DataSet timestep=\"");
    sb_double(&b, times[i]);
    sb_printf(&b, "\" group=\"\" part=\"0\" file=\"");
    sb_escaped(&b, files[i]);
    sb_printf(&b, "\"/>\n");
  }
  sb_printf(&b, "  </Collection>\n</VTKFile>\n");
  npde_status st = write_text(path, &b, "collection");
  free(b.p);
  return st;
}
