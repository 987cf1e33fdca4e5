/* The run directory: config.yaml (the resolved configuration), log.txt,
 * metrics.csv (one row per accepted step), results.npz (times, theta
 * snapshots, errors and evaluated fields) and checkpoint.npz (everything a
 * killed run needs to continue bit for bit). Every file but the two
 * append-only logs is written to a temporary name and renamed; the logs are
 * flushed line by line, and a resumed run cuts metrics.csv back to the
 * length its checkpoint recorded. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "config_impl.h"
#include "io_impl.h"
#include "log_impl.h"
#include "npde/npde_log.h"
#include "run_context.h"

static char *join(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *p = malloc(n);
  if (p) snprintf(p, n, "%s/%s", dir, name);
  return p;
}

static bool exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

/* The text of a configuration up to its top-level `output:` line: where the run lives is not one of its settings
 * (`npde resume DIR` names it as the caller's working directory sees it). */
static bool same_settings(const char *a, size_t la, const char *b) {
  const size_t lb = strlen(b);
  size_t i = 0, j = 0;
  for (;;) {
    /* skip an `output:` line at the start of a line */
    if ((i == 0 || a[i - 1] == '\n') && la - i >= 7 && memcmp(a + i, "output:", 7) == 0)
      while (i < la && a[i++] != '\n') {}
    if ((j == 0 || b[j - 1] == '\n') && lb - j >= 7 && memcmp(b + j, "output:", 7) == 0)
      while (j < lb && b[j++] != '\n') {}
    if (i == la || j == lb) return i == la && j == lb;
    if (a[i] != b[j]) return false;
    ++i, ++j;
  }
}

/* A resumed run whose settings differ from config.yaml's (key=value overrides given to `npde resume`): keep the
 * earlier file as config.N.yaml (the first free N) and name it in *kept; config.yaml then records this session's
 * settings. *kept stays empty when nothing changed. */
static npde_status keep_earlier_config(const char *dir, const char *cfg, const char *text, char *kept, size_t size) {
  kept[0] = '\0';
  char *old = NULL;
  size_t len = 0;
  NPDE_TRY(npde__read_file(cfg, &old, &len));
  npde_status st = NPDE_OK;
  if (!same_settings(old, len, text)) {
    for (int i = 1; kept[0] == '\0'; ++i) {
      snprintf(kept, size, "%s/config.%d.yaml", dir, i);
      if (exists(kept)) kept[0] = '\0';
    }
    st = npde_write_file_atomic(kept, old, len);
  }
  free(old);
  return st;
}

/* Temporary files ("NAME.tmp.PID", io_file.c) that a killed process left in dir: removed, unless their
 * process still runs (another run writing here now). Returns how many were removed. */
static int remove_stale_temporaries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int removed = 0;
  for (struct dirent *e; (e = readdir(d));) {
    const char *tag = strstr(e->d_name, ".tmp.");
    if (!tag) continue;
    char *end;
    const long pid = strtol(tag + 5, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    char *path = join(dir, e->d_name);
    if (path && unlink(path) == 0) ++removed;
    free(path);
  }
  closedir(d);
  return removed;
}

/* One process at a time per run directory: an flock on DIR/.lock, held until the run closes (the kernel drops it
 * when the process ends, however it ends), with the holder's pid in the file for the refusal to name. */
static npde_status lock_dir(npde_run_ctx *rs, const char *dir) {
  char *path = join(dir, ".lock");
  if (!path) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  const int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  npde_status st = fd >= 0 ? NPDE_OK : NPDE_ERROR(NPDE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
  if (st == NPDE_OK && flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[32] = "";
    const ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
    holder[n > 0 ? n : 0] = '\0';
    holder[strcspn(holder, "\n")] = '\0';
    st = NPDE_ERROR(NPDE_ERR_IO, "run directory '%s' is in use by process %s (another npde run or resume is writing "
                    "there): wait for it to end, or give another output=", dir, holder[0] ? holder : "(unknown)");
  }
  if (st == NPDE_OK) {
    char me[32];
    const int len = snprintf(me, sizeof me, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, me, (size_t)len, 0) != len)
      st = NPDE_ERROR(NPDE_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
  }
  if (st == NPDE_OK) {
    rs->lock_fd = fd;
    rs->locked = true;
  } else if (fd >= 0) {
    close(fd);
  }
  free(path);
  return st;
}

npde_status npde__rundir_open(npde_run_ctx *rs, const char *dir, bool resuming) {
  NPDE_TRY(npde_mkdir_p(dir));
  NPDE_TRY(lock_dir(rs, dir)); /* before anything is read or written there */
  rs->dir = strdup(dir);
  if (!rs->dir) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  char *cfg = join(dir, "config.yaml"), *log = join(dir, "log.txt");
  npde_status st = cfg && log ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK && !resuming && exists(cfg))
    st = NPDE_ERROR(NPDE_ERR_CONFIG, "'%s' already holds a run (config.yaml): choose another output directory, "
                    "remove it, or continue it with `npde resume %s`", dir, dir);
  char kept[4200] = "";
  if (st == NPDE_OK) {
    char *text = NULL;
    st = npde_config_to_yaml(rs->cfg, &text);
    if (st == NPDE_OK && resuming) st = keep_earlier_config(dir, cfg, text, kept, sizeof kept);
    if (st == NPDE_OK && (!resuming || kept[0])) st = npde_write_file_atomic(cfg, text, strlen(text));
    free(text);
  }
  if (st == NPDE_OK) {
    rs->log = fopen(log, "a");
    if (!rs->log) st = NPDE_ERROR(NPDE_ERR_IO, "cannot open '%s': %s", log, strerror(errno));
    else npde__log_tee(rs->log);
  }
  if (st == NPDE_OK && kept[0])
    npde_log(NPDE_LOG_INFO, "resume: the settings differ from the run's config.yaml; it now holds this session's, "
             "the earlier ones are kept in %s", kept);
  const int stale = st == NPDE_OK ? remove_stale_temporaries(dir) : 0;
  if (stale > 0)
    npde_log(NPDE_LOG_INFO, "run directory: removed %d temporary file%s an earlier, killed process left", stale,
             stale == 1 ? "" : "s");
  free(cfg);
  free(log);
  return st;
}

void npde__rundir_close(npde_run_ctx *rs) {
  if (rs->log) {
    npde__log_tee(NULL);
    fclose(rs->log);
  }
  if (rs->metrics) fclose(rs->metrics);
  if (rs->locked) close(rs->lock_fd); /* the lock goes with the descriptor */
  rs->locked = false;
  for (int i = 0; i < rs->n_results; ++i) free(rs->results[i].data);
  free(rs->snap_t);
  free(rs->snap_theta);
  free(rs->snap_error);
  free(rs->dir);
  rs->log = rs->metrics = NULL;
  rs->dir = NULL;
  rs->n_results = 0;
  rs->snap_t = rs->snap_theta = rs->snap_error = NULL;
  rs->n_snap = rs->snap_cap = 0;
}

static npde_status snap_reserve(npde_run_ctx *rs, int64_t n, int64_t p) {
  if (n <= rs->snap_cap) return NPDE_OK;
  int64_t cap = rs->snap_cap ? 2 * rs->snap_cap : 8;
  while (cap < n) cap *= 2;
  double *t = realloc(rs->snap_t, (size_t)cap * sizeof *t);
  if (t) rs->snap_t = t;
  double *e = realloc(rs->snap_error, (size_t)cap * sizeof *e);
  if (e) rs->snap_error = e;
  double *th = realloc(rs->snap_theta, (size_t)(cap * (p > 0 ? p : 1)) * sizeof *th);
  if (th) rs->snap_theta = th;
  if (!t || !e || !th) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory for %lld snapshots", (long long)cap);
  rs->snap_cap = cap;
  return NPDE_OK;
}

npde_status npde__snapshot_add(npde_run_ctx *rs, double t, const npde_mat *theta, double error) {
  int64_t p = theta->rows * theta->cols;
  NPDE_TRY(snap_reserve(rs, rs->n_snap + 1, p));
  npde_mat dense = *theta;
  NPDE_TRY(npde_backend_download(rs->backend, rs->snap_theta + rs->n_snap * p, dense.data,
                                 (size_t)p * sizeof(double)));
  rs->snap_t[rs->n_snap] = t;
  rs->snap_error[rs->n_snap] = error;
  rs->n_snap++;
  return NPDE_OK;
}

npde_status npde__result_put(npde_run_ctx *rs, const char *name, npde_npy_type type, const void *data, int ndim,
                             const int64_t *shape) {
  int i = 0;
  while (i < rs->n_results && strcmp(rs->results[i].name, name) != 0) ++i;
  if (i == NPDE__MAX_RESULTS)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "results.npz: more than %d arrays", NPDE__MAX_RESULTS);
  int64_t count = 1;
  for (int k = 0; k < ndim; ++k) count *= shape[k];
  size_t bytes = (size_t)count * 8; /* every npde_npy_type is 8 bytes but f32 */
  if (type == NPDE_NPY_F32) bytes = (size_t)count * 4;
  void *copy = malloc(bytes ? bytes : 1);
  if (!copy) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory for result '%s'", name);
  if (bytes) memcpy(copy, data, bytes);
  npde__result *r = &rs->results[i];
  if (i == rs->n_results) rs->n_results++;
  else free(r->data);
  snprintf(r->name, sizeof r->name, "%s", name);
  r->type = type;
  r->ndim = ndim;
  for (int k = 0; k < ndim; ++k) r->shape[k] = shape[k];
  r->data = copy;
  return NPDE_OK;
}

const npde__result *npde__result_get(const npde_run_ctx *rs, const char *name) {
  for (int i = 0; i < rs->n_results; ++i)
    if (!strcmp(rs->results[i].name, name)) return &rs->results[i];
  return NULL;
}

npde_status npde__snapshot_dot(npde_run_ctx *rs, double t, const double *dot) {
  const int64_t p = rs->net ? npde_network_n_params(rs->net) : 0, n = rs->n_snap;
  int64_t k = -1;
  for (int64_t i = 0; i < n; ++i)
    if (rs->snap_t[i] == t) k = i;
  if (k < 0 || p == 0) return NPDE_OK;
  const npde__result *old = npde__result_get(rs, "theta_dot");
  const int64_t kept = old && old->ndim == 2 && old->shape[1] == p ? old->shape[0] : 0;
  if (k < kept && !isnan(((const double *)old->data)[k * p])) return NPDE_OK; /* the first one stays */
  double *all = malloc((size_t)(n * p) * sizeof *all);
  if (!all) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  for (int64_t i = 0; i < n * p; ++i) all[i] = i < kept * p ? ((const double *)old->data)[i] : NAN;
  memcpy(all + k * p, dot, (size_t)p * sizeof *all);
  const int64_t shape[2] = {n, p};
  npde_status st = npde__result_put(rs, "theta_dot", NPDE_NPY_F64, all, 2, shape);
  free(all);
  return st;
}

/* The snapshot arrays and the put results into w, names prefixed. */
static npde_status add_results(const npde_run_ctx *rs, npde_npz_writer *w, const char *prefix) {
  int64_t p = rs->net ? npde_network_n_params(rs->net) : 0;
  int64_t n = rs->n_snap, shape2[2] = {n, p};
  char name[96];
  snprintf(name, sizeof name, "%st", prefix);
  NPDE_TRY(npde_npz_add(w, name, NPDE_NPY_F64, rs->snap_t, 1, &n));
  snprintf(name, sizeof name, "%stheta", prefix);
  NPDE_TRY(npde_npz_add(w, name, NPDE_NPY_F64, rs->snap_theta, 2, shape2));
  snprintf(name, sizeof name, "%srel_error", prefix);
  NPDE_TRY(npde_npz_add(w, name, NPDE_NPY_F64, rs->snap_error, 1, &n));
  for (int i = 0; i < rs->n_results; ++i) {
    const npde__result *r = &rs->results[i];
    snprintf(name, sizeof name, "%s%s", prefix, r->name);
    NPDE_TRY(npde_npz_add(w, name, r->type, r->data, r->ndim, r->shape));
  }
  return NPDE_OK;
}

npde_status npde__results_write(npde_run_ctx *rs) {
  if (!rs->dir) return NPDE_OK;
  char *path = join(rs->dir, "results.npz");
  if (!path) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  npde_npz_writer *w = NULL;
  npde_status st = npde_npz_create(path, &w);
  if (st == NPDE_OK) st = add_results(rs, w, "");
  if (st == NPDE_OK) st = npde_npz_commit(&w);
  else npde_npz_abort(&w);
  free(path);
  return st;
}

npde_status npde__metrics_row(npde_run_ctx *rs, const char *header, const char *fmt, ...) {
  if (!rs->dir) return NPDE_OK;
  if (!rs->metrics) {
    char *path = join(rs->dir, "metrics.csv");
    if (!path) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    /* a resumed run continues the file from the checkpoint's last row */
    bool cont = rs->metrics_bytes > 0 && truncate(path, (off_t)rs->metrics_bytes) == 0;
    rs->metrics = fopen(path, cont ? "a" : "w");
    npde_status st = rs->metrics ? NPDE_OK : NPDE_ERROR(NPDE_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    free(path);
    NPDE_TRY(st);
    if (!cont) rs->metrics_bytes = fprintf(rs->metrics, "%s\n", header);
  }
  va_list ap;
  va_start(ap, fmt);
  int n = vfprintf(rs->metrics, fmt, ap);
  va_end(ap);
  n += fprintf(rs->metrics, "\n");
  if (n <= 1 || fflush(rs->metrics) != 0)
    return NPDE_ERROR(NPDE_ERR_IO, "writing %s/metrics.csv: %s", rs->dir, strerror(errno));
  rs->metrics_bytes += n;
  return NPDE_OK;
}

npde_status npde__checkpoint_begin(npde_run_ctx *rs, size_t stage, npde_npz_writer **w) {
  *w = NULL;
  if (!rs->dir) return NPDE_OK;
  char *path = join(rs->dir, "checkpoint.npz");
  if (!path) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  npde_status st = npde_npz_create(path, w);
  free(path);
  NPDE_TRY(st);
  int64_t counters[3] = {(int64_t)stage, rs->n_fits, rs->metrics_bytes}, three = 3;
  st = npde_npz_add(*w, "pipeline_counters", NPDE_NPY_I64, counters, 1, &three);
  if (st == NPDE_OK && rs->theta) {
    int64_t p = npde_network_n_params(rs->net);
    double *h = malloc((size_t)p * sizeof *h);
    st = h ? npde_backend_download(rs->backend, h, rs->theta, (size_t)p * sizeof *h)
           : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    if (st == NPDE_OK) st = npde_npz_add(*w, "theta", NPDE_NPY_F64, h, 1, &p);
    free(h);
  }
  if (st == NPDE_OK) {
    /* figures as "name value" lines, values in hexadecimal floating point (exact) */
    size_t cap = (size_t)rs->n_metrics * 96 + 1, used = 0;
    char *text = malloc(cap);
    if (!text) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    for (int i = 0; text && i < rs->n_metrics; ++i)
      used += (size_t)snprintf(text + used, cap - used, "%s %a\n", rs->metric_names[i], rs->metric_values[i]);
    if (st == NPDE_OK) st = npde_npz_add_bytes(*w, "figures.txt", text, used);
    free(text);
  }
  if (st == NPDE_OK) st = add_results(rs, *w, "results.");
  if (st != NPDE_OK) npde_npz_abort(w);
  return st;
}

static npde_status read_array(const char *path, const char *name, npde_npy_type type, int64_t count,
                              npde_npy_array *a) {
  NPDE_TRY(npde_npz_read(path, name, a));
  if (a->type != type || (count >= 0 && a->count != count)) {
    int64_t got = a->count;
    npde_npy_array_free(a);
    return NPDE_ERROR(NPDE_ERR_IO, "checkpoint '%s': '%s' has %lld entries of another type or count than this "
                      "run's %lld (a checkpoint of a different configuration?)", path, name, (long long)got,
                      (long long)count);
  }
  return NPDE_OK;
}

typedef struct restore_ctx {
  npde_run_ctx *rs;
  const char *path;
} restore_ctx;

/* A checkpoint member "results.NAME.npy" (not the snapshots, restored apart) back into the run's results. */
static npde_status restore_result(const char *member, void *user) {
  const restore_ctx *c = user;
  static const char prefix[] = "results.", suffix[] = ".npy";
  const size_t n = strlen(member), lp = sizeof prefix - 1, ls = sizeof suffix - 1;
  if (n <= lp + ls || strncmp(member, prefix, lp) != 0 || strcmp(member + n - ls, suffix) != 0) return NPDE_OK;
  char name[96];
  snprintf(name, sizeof name, "%.*s", (int)(n - lp - ls), member + lp);
  if (!strcmp(name, "t") || !strcmp(name, "theta") || !strcmp(name, "rel_error")) return NPDE_OK;
  char key[128];
  snprintf(key, sizeof key, "results.%s", name);
  npde_npy_array a = {0};
  NPDE_TRY(npde_npz_read(c->path, key, &a));
  npde_status st = npde__result_put(c->rs, name, a.type, a.data, a.ndim, a.shape);
  npde_npy_array_free(&a);
  return st;
}

npde_status npde__checkpoint_load(npde_run_ctx *rs, const char *path, size_t *stage) {
  npde_npy_array a = {0};
  NPDE_TRY(read_array(path, "pipeline_counters", NPDE_NPY_I64, 3, &a));
  const int64_t *c = a.data;
  *stage = (size_t)c[0];
  rs->n_fits = c[1];
  rs->metrics_bytes = c[2];
  npde_npy_array_free(&a);
  int64_t p = rs->net ? npde_network_n_params(rs->net) : 0;
  if (rs->theta) {
    NPDE_TRY(read_array(path, "theta", NPDE_NPY_F64, p, &a));
    npde_status st = npde_backend_upload(rs->backend, rs->theta, a.data, (size_t)p * sizeof(double));
    npde_npy_array_free(&a);
    NPDE_TRY(st);
  }
  void *text = NULL;
  size_t size = 0;
  NPDE_TRY(npde_npz_read_bytes(path, "figures.txt", &text, &size));
  char *line = text;
  for (size_t used = 0; used < size;) {
    char *end = memchr(line, '\n', size - used);
    if (!end) break;
    *end = '\0';
    char name[48];
    double v;
    if (sscanf(line, "%47s %la", name, &v) == 2) npde__metric(rs, name, v);
    used += (size_t)(end - line) + 1;
    line = end + 1;
  }
  free(text);
  npde_npy_array t = {0}, th = {0}, e = {0};
  npde_status st = read_array(path, "results.t", NPDE_NPY_F64, -1, &t);
  if (st == NPDE_OK) st = read_array(path, "results.theta", NPDE_NPY_F64, t.count * p, &th);
  if (st == NPDE_OK) st = read_array(path, "results.rel_error", NPDE_NPY_F64, t.count, &e);
  if (st == NPDE_OK) st = snap_reserve(rs, t.count, p);
  if (st == NPDE_OK && t.count > 0) {
    memcpy(rs->snap_t, t.data, (size_t)t.count * sizeof(double));
    memcpy(rs->snap_error, e.data, (size_t)t.count * sizeof(double));
    memcpy(rs->snap_theta, th.data, (size_t)(t.count * p) * sizeof(double));
  }
  if (st == NPDE_OK) rs->n_snap = t.count;
  npde_npy_array_free(&t);
  npde_npy_array_free(&th);
  npde_npy_array_free(&e);
  /* every other array the run had put (fit_loss, fields, ...): a resume writes them back, not only what it makes */
  restore_ctx restore = {.rs = rs, .path = path};
  if (st == NPDE_OK) st = npde_npz_members(path, restore_result, &restore);
  rs->resume_from = path;
  return st;
}

/* ------------------------------------------------------- plugins.txt */

/* CRC-32 of the file at path (zlib), or 0 when it cannot be read. */
static unsigned long file_crc32(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned long crc = crc32(0L, Z_NULL, 0);
  unsigned char buf[1 << 16];
  for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) crc = crc32(crc, buf, (uInt)n);
  fclose(f);
  return crc;
}

npde_status npde__rundir_record_plugins(npde_run_ctx *rs) {
  if (!rs->dir || !rs->reg) return NPDE_OK;
  size_t cap = 4096, used = 0;
  char *text = malloc(cap);
  if (!text) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  used += (size_t)snprintf(text, cap, "# the plugins this run loaded: file, plugin, version, CRC-32 (npde resume and "
                           "npde eval load them again from here)\n");
  const char *last = NULL;
  for (size_t i = 0; i < npde_registry_count(rs->reg); ++i) {
    const npde_component_info *c = npde_registry_at(rs->reg, i);
    if (!c || !c->file || (last && strcmp(last, c->file) == 0)) continue; /* a plugin's components come together */
    last = c->file;
    const size_t need = strlen(c->file) + 256;
    if (used + need > cap) {
      char *bigger = realloc(text, cap = 2 * (used + need));
      if (!bigger) { free(text); return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); }
      text = bigger;
    }
    used += (size_t)snprintf(text + used, cap - used, "%s\t%s\t%s\t%08lx\n", c->file, c->plugin->name,
                             c->plugin->version ? c->plugin->version : "?", file_crc32(c->file));
  }
  char *path = join(rs->dir, "plugins.txt");
  npde_status st = path ? npde_write_file_atomic(path, text, used) : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  free(path), free(text);
  return st;
}

static bool has_plugin(const npde_registry *reg, const char *name) {
  for (size_t i = 0; i < npde_registry_count(reg); ++i) {
    const npde_component_info *c = npde_registry_at(reg, i);
    if (c && c->plugin && c->plugin->name && strcmp(c->plugin->name, name) == 0) return true;
  }
  return false;
}

npde_status npde_rundir_load_plugins(npde_registry *reg, const char *dir) {
  if (!reg || !dir) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_rundir_load_plugins: NULL argument");
  char *path = join(dir, "plugins.txt"), *text = NULL;
  if (!path) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  size_t len = 0;
  const bool recorded = exists(path) && npde__read_file(path, &text, &len) == NPDE_OK;
  npde_status st = NPDE_OK;
  for (char *line = text, *end; recorded && st == NPDE_OK && line < text + len; line = end + 1) {
    end = memchr(line, '\n', (size_t)(text + len - line));
    if (!end) break;
    *end = '\0';
    char file[4096], name[256], version[128];
    unsigned long crc = 0;
    if (line[0] == '#' || sscanf(line, "%4095[^\t]\t%255[^\t]\t%127[^\t]\t%lx", file, name, version, &crc) != 4)
      continue;
    if (has_plugin(reg, name)) continue; /* found on this machine's search path */
    if (!exists(file))
      st = NPDE_ERROR(NPDE_ERR_PLUGIN, "the run in '%s' used plugin '%s' %s from '%s', which is missing: reinstall it, "
                      "or name its directory in NPDE_PLUGIN_PATH", dir, name, version, file);
    else if (file_crc32(file) != crc)
      npde_log(NPDE_LOG_WARN, "plugin '%s': '%s' changed since the run (its CRC-32 was %08lx); loading it anyway", name,
               file, crc);
    if (st == NPDE_OK) st = npde_registry_load_path(reg, file);
  }
  free(path), free(text);
  return st;
}
