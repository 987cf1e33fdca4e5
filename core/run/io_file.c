/* Atomic whole-file writes and mkdir -p (npde_io.h).
 *
 * A file is written as "<path>.tmp.<pid>" in the same directory, fsynced,
 * then renamed over <path>: rename(2) within one file system is atomic, so a
 * reader sees the old file or the complete new one. The directory is fsynced
 * afterwards so that the rename itself survives a crash (best effort: some
 * file systems refuse fsync on a directory). The temporary is truncated if a
 * stale one exists (a crashed process with a reused pid), not refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_impl.h"

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static void afile_release(npde__afile *f) {
  free(f->path);
  free(f->tmp);
  f->path = f->tmp = NULL;
  f->fd = -1;
}

npde_status npde__afile_open(const char *path, npde__afile *f) {
  f->fd = -1;
  f->path = f->tmp = NULL;
  if (!path || !*path) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "atomic write: empty path");
  size_t n = strlen(path) + 48;
  f->path = dup_str(path);
  f->tmp = malloc(n);
  if (!f->path || !f->tmp) {
    afile_release(f);
    return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot write '%s': out of memory", path);
  }
  snprintf(f->tmp, n, "%s.tmp.%ld", path, (long)getpid());
  int fd;
  do fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    int e = errno;
    npde_status st = NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s': cannot create temporary '%s': %s", path, f->tmp,
                                strerror(e));
    afile_release(f);
    return st;
  }
  f->fd = fd;
  return NPDE_OK;
}

npde_status npde__afile_write(npde__afile *f, const void *data, size_t n) {
  const unsigned char *p = data;
  while (n > 0) {
    size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
    ssize_t w = write(f->fd, p, chunk);
    if (w < 0) {
      if (errno == EINTR) continue;
      return NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s' (temporary '%s'): %s", f->path, f->tmp, strerror(errno));
    }
    if (w == 0) return NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s' (temporary '%s'): write returned 0", f->path, f->tmp);
    p += w;
    n -= (size_t)w;
  }
  return NPDE_OK;
}

void npde__afile_abort(npde__afile *f) {
  if (!f) return;
  if (f->fd >= 0) close(f->fd);
  if (f->tmp) unlink(f->tmp);
  afile_release(f);
}

/* fsync the directory holding `path` so that a rename is durable. */
static void sync_parent(const char *path) {
  const char *slash = strrchr(path, '/');
  char *dir;
  if (!slash) dir = dup_str(".");
  else if (slash == path) dir = dup_str("/");
  else {
    size_t n = (size_t)(slash - path);
    dir = malloc(n + 1);
    if (dir) {
      memcpy(dir, path, n);
      dir[n] = '\0';
    }
  }
  if (!dir) return;
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    (void)fsync(fd); /* EINVAL on some file systems: the rename is done anyway */
    close(fd);
  }
  free(dir);
}

npde_status npde__afile_commit(npde__afile *f) {
  npde_status st = NPDE_OK;
  if (fsync(f->fd) != 0)
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s': fsync of temporary '%s' failed: %s", f->path, f->tmp,
                    strerror(errno));
  int rc = close(f->fd);
  f->fd = -1;
  if (st == NPDE_OK && rc != 0)
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s': closing temporary '%s' failed: %s", f->path, f->tmp,
                    strerror(errno));
  if (st == NPDE_OK && rename(f->tmp, f->path) != 0)
    st = NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s': renaming '%s' over it failed: %s", f->path, f->tmp,
                    strerror(errno));
  if (st != NPDE_OK) {
    unlink(f->tmp);
  } else {
    sync_parent(f->path);
  }
  afile_release(f);
  return st;
}

npde_status npde_write_file_atomic(const char *path, const void *data, size_t size) {
  if (!path) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_write_file_atomic: path is NULL");
  if (!data && size > 0)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_write_file_atomic('%s'): data is NULL but size is %zu", path,
                      size);
  npde__afile f;
  NPDE_TRY(npde__afile_open(path, &f));
  npde_status st = npde__afile_write(&f, data, size);
  if (st != NPDE_OK) {
    npde__afile_abort(&f);
    return st;
  }
  NPDE_TRY(npde__afile_commit(&f));
  return NPDE_OK;
}

/* mkdir one component; an existing directory is fine. */
static npde_status mkdir_one(const char *full, const char *part) {
  if (mkdir(part, 0777) == 0) return NPDE_OK;
  int e = errno;
  struct stat sb;
  if (stat(part, &sb) == 0) {
    if (S_ISDIR(sb.st_mode)) return NPDE_OK;
    if (strcmp(full, part) == 0)
      return NPDE_ERROR(NPDE_ERR_IO, "cannot create directory '%s': it exists and is not a directory", full);
    return NPDE_ERROR(NPDE_ERR_IO, "cannot create directory '%s': '%s' exists and is not a directory", full, part);
  }
  if (strcmp(full, part) == 0) return NPDE_ERROR(NPDE_ERR_IO, "cannot create directory '%s': %s", full, strerror(e));
  return NPDE_ERROR(NPDE_ERR_IO, "cannot create directory '%s': creating '%s' failed: %s", full, part, strerror(e));
}

npde_status npde_mkdir_p(const char *path) {
  if (!path || !*path) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_mkdir_p: empty path");
  char *buf = dup_str(path);
  if (!buf) return NPDE_ERROR(NPDE_ERR_NOMEM, "cannot create directory '%s': out of memory", path);
  /* Drop trailing slashes (but keep "/"). */
  size_t len = strlen(buf);
  while (len > 1 && buf[len - 1] == '/') buf[--len] = '\0';
  npde_status st = NPDE_OK;
  for (char *p = buf + 1; *p && st == NPDE_OK; ++p) {
    if (*p != '/' || p[-1] == '/') continue;
    *p = '\0';
    st = mkdir_one(path, buf);
    *p = '/';
  }
  if (st == NPDE_OK) st = mkdir_one(path, buf);
  free(buf);
  return st;
}
