/* Networks composed from layer plugins: evaluation, x-jets with the
 * envelope's product rule, and the linearisation (J v, J^T w, M v). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npde/npde_layer.h"
#include "npde/npde_log.h"
#include "npde/npde_network.h"
#include "npde/npde_philox.h"
#include "network_impl.h"
#include "registry_impl.h"

/* Elements a tangent block may occupy in one scratch buffer; bounds memory
 * for M V with many columns (the Nystrom sketch). */
#define TANGENT_BUDGET_ELEMS ((int64_t)1 << 23)

static const npde_param_spec network_params[] = {
    {.name = "envelope", .type = NPDE_PARAM_ENUM, .default_value = "none", .choices = "none|dirichlet",
     .doc = "multiply each output by prod(1 - x_i^2) (dirichlet) or not"},
    {.name = "outputs", .type = NPDE_PARAM_INT, .default_value = "0", .min = 0, .max = 64,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX,
     .doc = "number of outputs, one branch of layers each; 0: the PDE's number of components (1 without a PDE)"},
    {.name = "sides", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "NBM: names of the networks, one per side of the interface"},
    {.name = "layers", .type = NPDE_PARAM_ANY, .doc = "list of {type: LAYER, ...}, applied in order"},
    {.name = "chunk", .type = NPDE_PARAM_INT, .default_value = "1024", .min = 1, .max = 1 << 24,
     .flags = NPDE_PARAM_HAS_MIN | NPDE_PARAM_HAS_MAX, .doc = "points per chunk (memory only; results do not depend on it "
     "beyond rounding)"},
    {0},
};

const npde_param_spec *npde__network_params(void) { return network_params; }

typedef struct branch {
  npde_layer **layers;
  int64_t n_layers;
  int64_t *off, *width; /* per layer: parameter offset in theta, output width */
  int64_t k, off_w, off_b, start, count;
} branch;

typedef struct dbuf {
  void *ptr;
  size_t bytes;
} dbuf;

struct npde_network {
  npde_backend *be;
  npde_dtype dtype;
  int64_t d, K, p, chunk, max_width;
  bool envelope;  /* some axis is Dirichlet */
  bool periodic;  /* some axis is periodic: the layers see X scale (scale_dev, d x d diagonal) */
  uint8_t kind[64]; /* npde_boundary_kind per axis */
  double scale[64];
  bool borrowed;  /* a branch view: the layers belong to the parent network */
  branch *br;
  /* scratch, grown on demand, reused across calls */
  dbuf acts[2], tan[2], cot[2], work, head, ones, bdev, vt, gt, jets[6], xhost, bhost, envhost, scale_dev, xin;
  int64_t mb; /* tangent block size for the chunk */
};

struct npde_linearization {
  npde_network *net;
  const npde_mat *theta_view;
  npde_mat theta, X;
  int64_t n, n_chunks;
  dbuf store;         /* per chunk, per branch, per layer: A_l then cache_l; then B per chunk */
  size_t *slot;       /* byte offsets into store: [(c * K + o) * L + l] for A_l; caches follow A_l */
  size_t *b_slot;     /* per chunk: envelope values (times the row scales, when scaled) */
  bool scaled;
  dbuf xs;            /* periodic networks: the points the layers see (lin->X views it) */
};

/* ---------------------------------------------------------------- helpers */

static npde_status reserve(npde_backend *be, dbuf *b, size_t bytes) {
  if (b->bytes >= bytes) return NPDE_OK;
  npde_backend_free(be, b->ptr);
  b->ptr = NULL;
  b->bytes = 0;
  NPDE_TRY(npde_backend_alloc(be, bytes ? bytes : 1, &b->ptr));
  b->bytes = bytes;
  return NPDE_OK;
}

static npde_status reserve_host(dbuf *b, size_t bytes) {
  if (b->bytes >= bytes) return NPDE_OK;
  free(b->ptr);
  b->ptr = malloc(bytes ? bytes : 1);
  b->bytes = b->ptr ? bytes : 0;
  return b->ptr ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "network: out of host memory (%zu bytes)", bytes);
}

static npde_mat view(void *ptr, npde_dtype t, int64_t rows, int64_t cols) { return npde_mat_view(ptr, t, rows, cols); }

/* theta slice as a 1 x count row */
static npde_mat param_row(const npde_mat *theta, int64_t off, int64_t count) {
  return view((char *)theta->data + (size_t)off * npde_dtype_size(theta->dtype), theta->dtype, 1, count);
}

static npde_status check_theta(const npde_network *net, const npde_mat *theta, const char *call) {
  if (!theta || theta->rows * theta->cols != net->p || (theta->cols != 1 && theta->rows != 1) ||
      (theta->cols == 1 && theta->ld != 1 && theta->rows > 1) || theta->dtype != net->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: theta must be a contiguous vector of %lld parameters", call,
                      (long long)net->p);
  return NPDE_OK;
}

static npde_status check_points(const npde_network *net, const npde_mat *X, const char *call) {
  if (!X || X->cols != net->d || X->dtype != net->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "%s: X must be n x %lld in the network's dtype", call, (long long)net->d);
  return NPDE_OK;
}

/* Envelope of nc points (host x, row-major nc x d) into b. */
static void envelope_values(const npde_network *net, const double *x, int64_t nc, double *b) {
  for (int64_t i = 0; i < nc; ++i) {
    double v = 1.0;
    for (int64_t j = 0; net->envelope && j < net->d; ++j)
      if (net->kind[j] == NPDE_BOUNDARY_DIRICHLET) v *= 1.0 - x[i * net->d + j] * x[i * net->d + j];
    b[i] = v;
  }
}

/* Download a chunk of X to the host as doubles. */
static npde_status points_to_host(npde_network *net, const npde_mat *Xc, double **out) {
  int64_t nc = Xc->rows, d = net->d;
  size_t es = npde_dtype_size(net->dtype);
  NPDE_TRY(reserve_host(&net->xhost, (size_t)(nc * d) * (sizeof(double) + es)));
  double *x = net->xhost.ptr;
  char *raw = (char *)net->xhost.ptr + (size_t)(nc * d) * sizeof(double);
  if (Xc->ld == d) /* contiguous rows: one transfer (each download synchronises) */
    NPDE_TRY(npde_backend_download(net->be, raw, Xc->data, (size_t)(nc * d) * es));
  else
    for (int64_t i = 0; i < nc; ++i)
      NPDE_TRY(npde_backend_download(net->be, raw + (size_t)(i * d) * es,
                                     (char *)Xc->data + (size_t)(i * Xc->ld) * es, (size_t)d * es));
  for (int64_t e = 0; e < nc * d; ++e) x[e] = net->dtype == NPDE_F64 ? ((double *)raw)[e] : (double)((float *)raw)[e];
  *out = x;
  return NPDE_OK;
}

/* Upload nc host doubles into backend memory as the network dtype. */
static npde_status upload_values(npde_network *net, void *dst, const double *src, int64_t nc) {
  if (net->dtype == NPDE_F64) return npde_backend_upload(net->be, dst, src, (size_t)nc * sizeof(double));
  NPDE_TRY(reserve_host(&net->bhost, (size_t)nc * sizeof(float)));
  float *f = net->bhost.ptr;
  for (int64_t i = 0; i < nc; ++i) f[i] = (float)src[i];
  return npde_backend_upload(net->be, dst, f, (size_t)nc * sizeof(float));
}

/* B(X_c) into dst (backend, nc entries). */
static npde_status envelope_device(npde_network *net, const npde_mat *Xc, void *dst) {
  int64_t nc = Xc->rows;
  double *x;
  NPDE_TRY(points_to_host(net, Xc, &x));
  NPDE_TRY(reserve_host(&net->envhost, (size_t)(nc ? nc : 1) * sizeof(double)));
  envelope_values(net, x, nc, net->envhost.ptr);
  return upload_values(net, dst, net->envhost.ptr, nc);
}

/* The points the layers see: Xc itself, or (periodic axes) Xc diag(scale) in buf, exact (a product by 2 plus
 * zeros). Envelopes read only the Dirichlet axes, which it leaves alone. */
static npde_status layer_points(npde_network *net, const npde_mat *Xc, dbuf *buf, npde_mat *out) {
  if (!net->periodic) {
    *out = *Xc;
    return NPDE_OK;
  }
  NPDE_TRY(reserve(net->be, buf, (size_t)(Xc->rows * net->d) * npde_dtype_size(net->dtype)));
  *out = view(buf->ptr, net->dtype, Xc->rows, net->d);
  npde_mat S = view(net->scale_dev.ptr, net->dtype, net->d, net->d);
  return npde_backend_gemm(net->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, Xc, &S, 0.0, out);
}

/* Scratch for chunks of nc points and tangent blocks of m. */
static npde_status prepare(npde_network *net, int64_t nc, int64_t m, npde_jet_order order) {
  size_t es = npde_dtype_size(net->dtype);
  int64_t w = net->max_width > net->d ? net->max_width : net->d;
  int64_t work = 0;
  for (int64_t o = 0; o < net->K; ++o)
    for (int64_t l = 0; l < net->br[o].n_layers; ++l) {
      int64_t e;
      NPDE_TRY(npde_layer_work_size(net->br[o].layers[l], nc, m, order, net->d, &e));
      if (e > work) work = e;
    }
  for (int i = 0; i < 2; ++i) {
    NPDE_TRY(reserve(net->be, &net->acts[i], (size_t)(nc * w) * es));
    NPDE_TRY(reserve(net->be, &net->tan[i], (size_t)(m * nc * w) * es));
    NPDE_TRY(reserve(net->be, &net->cot[i], (size_t)(m * nc * w) * es));
  }
  NPDE_TRY(reserve(net->be, &net->work, (size_t)(work ? work : 1) * es));
  NPDE_TRY(reserve(net->be, &net->head, (size_t)(2 * m * nc) * es));
  NPDE_TRY(reserve(net->be, &net->bdev, (size_t)nc * es));
  if (net->ones.bytes < (size_t)nc * es) {
    NPDE_TRY(reserve(net->be, &net->ones, (size_t)nc * es));
    npde_mat o = view(net->ones.ptr, net->dtype, nc, 1);
    NPDE_TRY(npde_backend_fill(net->be, &o, 1.0));
  }
  return NPDE_OK;
}

/* ------------------------------------------------------------ creation */

static void branch_free(branch *b, bool borrowed) {
  for (int64_t l = 0; !borrowed && b->layers && l < b->n_layers; ++l) npde_layer_destroy(&b->layers[l]);
  if (!borrowed) free(b->layers);
  free(b->off);
  free(b->width);
}

void npde_network_destroy(npde_network **netp) {
  if (!netp || !*netp) return;
  npde_network *net = *netp;
  for (int64_t o = 0; net->br && o < net->K; ++o) branch_free(&net->br[o], net->borrowed);
  free(net->br);
  dbuf *dev[] = {&net->acts[0], &net->acts[1], &net->tan[0], &net->tan[1], &net->cot[0], &net->cot[1], &net->work,
                 &net->head, &net->ones, &net->bdev, &net->vt, &net->gt, &net->jets[0], &net->jets[1], &net->jets[2],
                 &net->jets[3], &net->jets[4], &net->jets[5], &net->scale_dev, &net->xin};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; ++i) npde_backend_free(net->be, dev[i]->ptr);
  free(net->xhost.ptr);
  free(net->bhost.ptr);
  free(net->envhost.ptr);
  free(net);
  *netp = NULL;
}

npde_status npde_network_create(const npde_registry *reg, const npde_config *node, npde_backend *be, int64_t dim,
                                npde_network **out) {
  if (!reg || !node || !be || !out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_create: NULL argument");
  *out = NULL;
  if (dim < 1) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_create: dimension %lld < 1", (long long)dim);
  npde_config *cfg = NULL;
  NPDE_TRY(npde_params_validate(network_params, "network", node, NULL, &cfg));
  npde_network *net = calloc(1, sizeof *net);
  npde_status st = net ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  const char *env = NULL;
  int64_t outputs = 1;
  if (st == NPDE_OK) {
    net->be = be;
    net->dtype = NPDE_F64;
    net->d = dim;
    st = npde_config_get_string(cfg, "envelope", &env);
  }
  if (st == NPDE_OK) st = npde_config_get_int(cfg, "outputs", &outputs);
  if (outputs == 0) outputs = 1; /* pipelines set the PDE's count before this */
  if (st == NPDE_OK) st = npde_config_get_int(cfg, "chunk", &net->chunk);
  const npde_config *layers = npde_config_get(cfg, "layers");
  if (st == NPDE_OK && (npde_config_node_type(layers) != NPDE_CONFIG_SEQUENCE || npde_config_size(layers) == 0))
    st = npde_config_error(layers ? layers : cfg, "network: 'layers' must be a non-empty list of {type: LAYER, ...}");
  if (st == NPDE_OK) {
    net->envelope = strcmp(env, "dirichlet") == 0;
    for (int64_t j = 0; j < dim && j < 64; ++j)
      net->kind[j] = net->envelope ? NPDE_BOUNDARY_DIRICHLET : NPDE_BOUNDARY_NONE;
    net->K = outputs;
    net->br = calloc((size_t)outputs, sizeof *net->br);
    if (!net->br) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  }
  int64_t L = st == NPDE_OK ? (int64_t)npde_config_size(layers) : 0;
  for (int64_t o = 0; st == NPDE_OK && o < net->K; ++o) {
    branch *b = &net->br[o];
    b->layers = calloc((size_t)L, sizeof *b->layers);
    b->off = calloc((size_t)L, sizeof *b->off);
    b->width = calloc((size_t)L, sizeof *b->width);
    if (!b->layers || !b->off || !b->width) { st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); break; }
    b->start = net->p;
    int64_t in = dim;
    for (int64_t l = 0; st == NPDE_OK && l < L; ++l) {
      st = npde_layer_create(reg, NULL, npde_config_at(layers, (size_t)l), be, in, &b->layers[l]);
      if (st != NPDE_OK) break;
      b->n_layers = l + 1;
      b->off[l] = net->p;
      b->width[l] = npde_layer_out_dim(b->layers[l]);
      net->p += npde_layer_n_params(b->layers[l]);
      if (b->width[l] > net->max_width) net->max_width = b->width[l];
      in = b->width[l];
    }
    if (st != NPDE_OK) break;
    b->k = in;
    b->off_w = net->p;
    b->off_b = net->p + b->k;
    net->p += b->k + 1;
    b->count = net->p - b->start;
  }
  npde_config_destroy(&cfg);
  if (st != NPDE_OK) {
    npde_network_destroy(&net);
    return st;
  }
  *out = net;
  return NPDE_OK;
}

/* diag(scale) (d x d) into backend memory. */
static npde_status upload_scale(npde_network *net) {
  const int64_t d = net->d;
  double *S = calloc((size_t)(d * d), sizeof *S);
  if (!S) return NPDE_ERROR(NPDE_ERR_NOMEM, "network: out of memory");
  for (int64_t j = 0; j < d; ++j) S[j * d + j] = net->scale[j];
  npde_status st = reserve(net->be, &net->scale_dev, (size_t)(d * d) * npde_dtype_size(net->dtype));
  if (st == NPDE_OK) st = upload_values(net, net->scale_dev.ptr, S, d * d);
  free(S);
  return st;
}

npde_status npde_network_set_boundary(npde_network *net, const npde_boundary_kind *kinds) {
  if (!net || !kinds) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_set_boundary: NULL argument");
  if (net->d > 64) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_set_boundary: at most 64 dimensions");
  bool envelope = false, periodic = false;
  for (int64_t j = 0; j < net->d; ++j) {
    if ((unsigned)kinds[j] > NPDE_BOUNDARY_PERIODIC)
      return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_set_boundary: axis %lld has kind %d", (long long)j + 1,
                        (int)kinds[j]);
    envelope = envelope || kinds[j] == NPDE_BOUNDARY_DIRICHLET;
    periodic = periodic || kinds[j] == NPDE_BOUNDARY_PERIODIC;
  }
  for (int64_t o = 0; periodic && o < net->K; ++o) {
    const char *first = npde_layer_type(net->br[o].layers[0]);
    if (!first || strcmp(first, "sinusoidal") != 0)
      return NPDE_ERROR(NPDE_ERR_CONFIG, "network: a periodic axis needs the sinusoidal embedding as the first layer "
                        "(its features are then exactly periodic); the first layer is '%s'", first ? first : "?");
  }
  for (int64_t j = 0; j < net->d; ++j) {
    net->kind[j] = (uint8_t)kinds[j];
    net->scale[j] = kinds[j] == NPDE_BOUNDARY_PERIODIC ? 2.0 : 1.0;
  }
  net->envelope = envelope;
  net->periodic = periodic;
  return periodic ? upload_scale(net) : NPDE_OK;
}

npde_status npde_network_branch(const npde_network *net, int64_t k, npde_network **out) {
  return npde_network_view(net, k, 1, net ? net->dtype : NPDE_F64, out);
}

npde_status npde_network_view(const npde_network *net, int64_t k, int64_t count, npde_dtype dtype, npde_network **out) {
  if (!net || !out || k < 0 || count < 1 || k + count > net->K)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_view: no outputs %lld to %lld", (long long)k,
                      (long long)(k + count - 1));
  *out = NULL;
  npde_network *v = calloc(1, sizeof *v);
  branch *bs = v ? calloc((size_t)count, sizeof *bs) : NULL;
  npde_status st = bs ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (v) *v = (npde_network){.be = net->be, .dtype = dtype, .d = net->d, .K = count, .chunk = net->chunk,
                             .max_width = net->max_width, .envelope = net->envelope, .periodic = net->periodic,
                             .borrowed = true, .br = bs};
  if (v) memcpy(v->kind, net->kind, sizeof v->kind), memcpy(v->scale, net->scale, sizeof v->scale);
  const int64_t base = net->br[k].start; /* the view's theta starts at its first branch */
  for (int64_t o = 0; st == NPDE_OK && o < count; ++o) {
    const branch *src = &net->br[k + o];
    branch *b = &bs[o];
    *b = *src;
    b->off = malloc((size_t)src->n_layers * sizeof *b->off);
    b->width = malloc((size_t)src->n_layers * sizeof *b->width);
    if (!b->off || !b->width) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    for (int64_t l = 0; st == NPDE_OK && l < src->n_layers; ++l) b->off[l] = src->off[l] - base;
    if (st == NPDE_OK) memcpy(b->width, src->width, (size_t)src->n_layers * sizeof *b->width);
    b->off_w -= base, b->off_b -= base, b->start -= base;
    v->p += b->count;
  }
  if (st == NPDE_OK && net->periodic) st = upload_scale(v);
  if (st != NPDE_OK) {
    npde_network_destroy(&v);
    return st;
  }
  *out = v;
  return NPDE_OK;
}

int64_t npde_network_n_params(const npde_network *net) { return net ? net->p : 0; }
int64_t npde_network_outputs(const npde_network *net) { return net ? net->K : 0; }
int64_t npde_network_dim(const npde_network *net) { return net ? net->d : 0; }
npde_backend *npde_network_backend(const npde_network *net) { return net ? net->be : NULL; }
int64_t npde_network_point_bytes(const npde_network *net) {
  if (!net) return 0;
  int64_t elems = 1, cache = 0;
  for (int64_t o = 0; o < net->K; ++o)
    for (int64_t l = 0; l < net->br[o].n_layers; ++l)
      if (npde_layer_cache_size(net->br[o].layers[l], net->chunk, &cache) == NPDE_OK)
        elems += net->br[o].width[l] + (cache + net->chunk - 1) / net->chunk;
  return elems * (int64_t)npde_dtype_size(net->dtype);
}
int64_t npde_network_feature_dim(const npde_network *net, int64_t k) {
  return net && k >= 0 && k < net->K ? net->br[k].k : 0;
}
int64_t npde_network_head_offset(const npde_network *net, int64_t k) {
  return net && k >= 0 && k < net->K ? net->br[k].off_w : -1;
}
void npde_network_branch_range(const npde_network *net, int64_t k, int64_t *offset, int64_t *count) {
  *offset = net && k >= 0 && k < net->K ? net->br[k].start : 0;
  *count = net && k >= 0 && k < net->K ? net->br[k].count : 0;
}

npde_status npde_network_init(npde_network *net, npde_mat *theta, uint64_t seed) {
  if (!net) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_init: NULL network");
  NPDE_TRY(check_theta(net, theta, "npde_network_init"));
  for (int64_t o = 0; o < net->K; ++o) {
    branch *b = &net->br[o];
    for (int64_t l = 0; l < b->n_layers; ++l) {
      int64_t np = npde_layer_n_params(b->layers[l]);
      if (!np) continue;
      npde_mat t = param_row(theta, b->off[l], np);
      NPDE_TRY(npde_layer_init(b->layers[l], &t, seed, (uint64_t)(o << 16 | l)));
    }
    /* head: truncated normal / sqrt(k), bias 0 (docs/methods/neural-ivp.md §2.3) */
    double *h = malloc((size_t)(b->k + 1) * sizeof *h);
    if (!h) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < b->k; ++i)
      h[i] = npde_philox_trunc_normal_at(seed, (uint64_t)(o << 16 | 0xffff), (uint64_t)i) / sqrt((double)b->k);
    h[b->k] = 0.0;
    npde_status st = upload_values(net, (char *)theta->data + (size_t)b->off_w * npde_dtype_size(net->dtype), h,
                                   b->k + 1);
    free(h);
    NPDE_TRY(st);
  }
  return NPDE_OK;
}

/* --------------------------------------------------------- forward pass */

/* Run branch o's layers on X_c; the features end in *phi (a view into
 * net->acts or, with caches, into the linearisation store). */
static npde_status branch_forward(npde_network *net, int64_t o, const npde_mat *theta, const npde_mat *Xc,
                                  npde_mat *A_store, void **cache_store, npde_mat *phi) {
  branch *b = &net->br[o];
  int64_t nc = Xc->rows;
  npde_mat in = *Xc;
  for (int64_t l = 0; l < b->n_layers; ++l) {
    npde_mat outm = A_store ? A_store[l] : view(net->acts[l % 2].ptr, net->dtype, nc, b->width[l]);
    npde_mat t = param_row(theta, b->off[l], npde_layer_n_params(b->layers[l]));
    NPDE_TRY(npde_layer_forward(b->layers[l], &t, &in, &outm, cache_store ? cache_store[l] : NULL, net->work.ptr));
    in = outm;
  }
  *phi = in;
  return NPDE_OK;
}

/* g = Phi w + b into the column view g (nc x 1). */
static npde_status head_values(npde_network *net, int64_t o, const npde_mat *theta, const npde_mat *phi, npde_mat *g) {
  branch *b = &net->br[o];
  int64_t nc = phi->rows;
  npde_mat w = view((char *)theta->data + (size_t)b->off_w * npde_dtype_size(net->dtype), net->dtype, b->k, 1);
  npde_mat bias = view((char *)theta->data + (size_t)b->off_b * npde_dtype_size(net->dtype), net->dtype, 1, 1);
  npde_mat ones = view(net->ones.ptr, net->dtype, nc, 1);
  NPDE_TRY(npde_backend_gemv(net->be, NPDE_NO_TRANS, 1.0, phi, &w, 0.0, g));
  return npde_backend_gemm(net->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &ones, &bias, 1.0, g);
}

npde_status npde_network_eval(npde_network *net, const npde_mat *theta, const npde_mat *X, npde_mat *U) {
  if (!net) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_eval: NULL network");
  NPDE_TRY(check_theta(net, theta, "npde_network_eval"));
  NPDE_TRY(check_points(net, X, "npde_network_eval"));
  if (!U || U->rows != X->rows || U->cols != net->K || U->dtype != net->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_eval: U must be %lld x %lld", (long long)X->rows,
                      (long long)net->K);
  int64_t nchunk = net->chunk < X->rows ? net->chunk : X->rows;
  if (nchunk == 0) return NPDE_OK;
  NPDE_TRY(prepare(net, nchunk, 1, NPDE_JET_VALUE));
  for (int64_t r0 = 0; r0 < X->rows; r0 += net->chunk) {
    int64_t nc = X->rows - r0 < net->chunk ? X->rows - r0 : net->chunk;
    npde_mat Xc = npde_mat_sub(*X, r0, 0, nc, net->d), Xl;
    npde_mat B = view(net->bdev.ptr, net->dtype, nc, 1);
    if (net->envelope) NPDE_TRY(envelope_device(net, &Xc, net->bdev.ptr));
    NPDE_TRY(layer_points(net, &Xc, &net->xin, &Xl));
    for (int64_t o = 0; o < net->K; ++o) {
      npde_mat phi, g = npde_mat_sub(*U, r0, o, nc, 1);
      NPDE_TRY(branch_forward(net, o, theta, &Xl, NULL, NULL, &phi));
      NPDE_TRY(head_values(net, o, theta, &phi, &g));
      if (net->envelope) NPDE_TRY(npde_backend_row_scale(net->be, &B, &g, &g, 1));
    }
  }
  return NPDE_OK;
}

npde_status npde_network_features(npde_network *net, const npde_mat *theta, const npde_mat *X, int64_t k,
                                  npde_mat *Phi) {
  if (!net || k < 0 || k >= net->K) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_features: bad output");
  NPDE_TRY(check_theta(net, theta, "npde_network_features"));
  NPDE_TRY(check_points(net, X, "npde_network_features"));
  if (!Phi || Phi->rows != X->rows || Phi->cols != net->br[k].k)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_features: Phi must be %lld x %lld", (long long)X->rows,
                      (long long)net->br[k].k);
  int64_t nchunk = net->chunk < X->rows ? net->chunk : X->rows;
  if (nchunk == 0) return NPDE_OK;
  NPDE_TRY(prepare(net, nchunk, 1, NPDE_JET_VALUE));
  for (int64_t r0 = 0; r0 < X->rows; r0 += net->chunk) {
    int64_t nc = X->rows - r0 < net->chunk ? X->rows - r0 : net->chunk;
    npde_mat Xc = npde_mat_sub(*X, r0, 0, nc, net->d), Xl, phi, dst = npde_mat_sub(*Phi, r0, 0, nc, net->br[k].k);
    NPDE_TRY(layer_points(net, &Xc, &net->xin, &Xl));
    NPDE_TRY(branch_forward(net, k, theta, &Xl, NULL, NULL, &phi));
    NPDE_TRY(npde_backend_copy(net->be, &phi, &dst));
  }
  return NPDE_OK;
}

npde_status npde_network_envelope(npde_network *net, const npde_mat *X, double *B) {
  if (!net || !B) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_envelope: NULL argument");
  NPDE_TRY(check_points(net, X, "npde_network_envelope"));
  for (int64_t r0 = 0; r0 < X->rows; r0 += net->chunk) {
    int64_t nc = X->rows - r0 < net->chunk ? X->rows - r0 : net->chunk;
    npde_mat Xc = npde_mat_sub(*X, r0, 0, nc, net->d);
    double *x;
    NPDE_TRY(points_to_host(net, &Xc, &x));
    envelope_values(net, x, nc, B + r0);
  }
  return NPDE_OK;
}

/* ---------------------------------------------------------------- jets */

/* Download n values of a contiguous backend vector as doubles. */
static npde_status download_doubles(npde_network *net, const void *src, int64_t n, double *dst) {
  if (net->dtype == NPDE_F64) return npde_backend_download(net->be, dst, src, (size_t)n * sizeof(double));
  NPDE_TRY(reserve_host(&net->bhost, (size_t)n * sizeof(float)));
  float *f = net->bhost.ptr;
  NPDE_TRY(npde_backend_download(net->be, f, src, (size_t)n * sizeof(float)));
  for (int64_t i = 0; i < n; ++i) dst[i] = f[i];
  return NPDE_OK;
}

/* Envelope B and its derivatives at one point (docs/methods/neural-ivp.md §1.2), without division:
 * products over all factors but one (or two) come from loops. */
static void envelope_jet(const npde_network *net, const double *x, npde_jet_order order, double *B, double *dB,
                         double *d2B) {
  int64_t d = net->d;
  if (!net->envelope) {
    *B = 1.0;
    for (int64_t j = 0; dB && j < d; ++j) dB[j] = 0.0;
    for (int64_t j = 0; d2B && j < d * d; ++j) d2B[j] = 0.0;
    return;
  }
  /* factors 1 - x_j^2 on the Dirichlet axes, 1 on the others (multiplying by 1 is exact) */
  double f[64], df[64], d2f[64];
  for (int64_t j = 0; j < d; ++j) {
    const bool on = net->kind[j] == NPDE_BOUNDARY_DIRICHLET;
    f[j] = on ? 1.0 - x[j] * x[j] : 1.0;
    df[j] = on ? -2.0 * x[j] : 0.0;
    d2f[j] = on ? -2.0 : 0.0;
  }
  double all = 1.0;
  for (int64_t j = 0; j < d; ++j) all *= f[j];
  *B = all;
  if (order < NPDE_JET_GRAD) return;
  for (int64_t j = 0; j < d; ++j) {
    double others = 1.0; /* prod_{l != j} f_l */
    for (int64_t l = 0; l < d; ++l) others *= l != j ? f[l] : 1.0;
    dB[j] = df[j] * others;
    if (order >= NPDE_JET_LAPLACIAN) d2B[j * d + j] = d2f[j] * others;
  }
  if (order == NPDE_JET_HESSIAN)
    for (int64_t j = 0; j < d; ++j)
      for (int64_t k = 0; k < d; ++k) {
        if (j == k) continue;
        double rest = 1.0;
        for (int64_t l = 0; l < d; ++l) rest *= l != j && l != k ? f[l] : 1.0;
        d2B[j * d + k] = df[j] * df[k] * rest;
      }
}

/* d/dx_j = scale_j d/dx'_j on the head's jets (gradient blocks gg, second blocks gs, nc points each). */
static void scale_jets(const npde_network *net, npde_jet_order order, int64_t nc, double *gg, double *gs) {
  const int64_t d = net->d;
  for (int64_t j = 0; order >= NPDE_JET_GRAD && j < d; ++j)
    for (int64_t i = 0; i < nc; ++i) gg[j * nc + i] *= net->scale[j];
  for (int64_t j = 0; order == NPDE_JET_LAPLACIAN && j < d; ++j)
    for (int64_t i = 0; i < nc; ++i) gs[j * nc + i] *= net->scale[j] * net->scale[j];
  for (int64_t j = 0; order == NPDE_JET_HESSIAN && j < d; ++j)
    for (int64_t k = j; k < d; ++k)
      for (int64_t i = 0; i < nc; ++i) gs[npde_jet_hessian_index(j, k, d) * nc + i] *= net->scale[j] * net->scale[k];
}

npde_status npde_network_jet(npde_network *net, const npde_mat *theta, const npde_mat *X, npde_jet_order order,
                             double *value, double *grad, double *second) {
  if (!net || !value) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_jet: NULL network or value");
  NPDE_TRY(check_theta(net, theta, "npde_network_jet"));
  NPDE_TRY(check_points(net, X, "npde_network_jet"));
  if ((order >= NPDE_JET_GRAD && !grad) || (order >= NPDE_JET_LAPLACIAN && !second))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_jet: this order needs grad%s", order >= 2 ? " and second" : "");
  if (net->d > 64) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_network_jet: at most 64 dimensions");
  int64_t d = net->d, K = net->K, s = npde_jet_second_blocks(order, d);
  int64_t nchunk = net->chunk < X->rows ? net->chunk : X->rows;
  if (nchunk == 0) return NPDE_OK;
  NPDE_TRY(prepare(net, nchunk, 1, order));
  size_t es = npde_dtype_size(net->dtype);
  int64_t w = net->max_width > d ? net->max_width : d;
  for (int set = 0; set < 2; ++set) {
    NPDE_TRY(reserve(net->be, &net->jets[3 * set], (size_t)(nchunk * w) * es));
    NPDE_TRY(reserve(net->be, &net->jets[3 * set + 1], (size_t)(d * nchunk * w) * es));
    NPDE_TRY(reserve(net->be, &net->jets[3 * set + 2], (size_t)((s ? s : 1) * nchunk * w) * es));
  }
  double *gv = malloc((size_t)nchunk * (size_t)(1 + d + s) * sizeof *gv), *ident = NULL;
  double dB[64], d2B[64 * 64];
  if (!gv) return NPDE_ERROR(NPDE_ERR_NOMEM, "network: out of memory");
  npde_status st = NPDE_OK;
  if (order >= NPDE_JET_GRAD) {
    ident = calloc((size_t)(d * nchunk * d), sizeof *ident);
    if (!ident) st = NPDE_ERROR(NPDE_ERR_NOMEM, "network: out of memory");
    for (int64_t j = 0; ident && j < d; ++j)
      for (int64_t i = 0; i < nchunk; ++i) ident[(j * nchunk + i) * d + j] = 1.0;
  }
  for (int64_t r0 = 0; st == NPDE_OK && r0 < X->rows; r0 += net->chunk) {
    int64_t nc = X->rows - r0 < net->chunk ? X->rows - r0 : net->chunk;
    npde_mat Xc = npde_mat_sub(*X, r0, 0, nc, d), Xl = Xc;
    double *x = NULL;
    st = points_to_host(net, &Xc, &x);
    if (st == NPDE_OK) st = layer_points(net, &Xc, &net->xin, &Xl);
    /* keep the points: points_to_host's buffer is reused below */
    double *xs = st == NPDE_OK ? malloc((size_t)(nc * d) * sizeof *xs) : NULL;
    if (st == NPDE_OK && !xs) st = NPDE_ERROR(NPDE_ERR_NOMEM, "network: out of memory");
    if (xs) memcpy(xs, x, (size_t)(nc * d) * sizeof *xs);
    for (int64_t o = 0; st == NPDE_OK && o < K; ++o) {
      branch *b = &net->br[o];
      npde_jet in = {.n = nc, .d = d, .order = order, .identity = true};
      in.value = Xl; /* the layers' jets are in their own coordinates x' = scale x; rescaled below */
      if (order >= NPDE_JET_GRAD) {
        /* identity blocks: block j of nc rows has ones in column j */
        in.grad = view(net->jets[1].ptr, net->dtype, d * nc, d);
        for (int64_t j = 0; st == NPDE_OK && j < d; ++j)
          st = upload_values(net, (char *)net->jets[1].ptr + (size_t)(j * nc * d) * es, ident + j * nchunk * d, nc * d);
      }
      if (s) {
        in.second = view(net->jets[2].ptr, net->dtype, s * nc, d);
        if (st == NPDE_OK) st = npde_backend_fill(net->be, &in.second, 0.0);
      }
      int cur = 1;
      for (int64_t l = 0; st == NPDE_OK && l < b->n_layers; ++l) {
        npde_jet out = {.n = nc, .d = d, .order = order};
        out.value = view(net->jets[3 * cur].ptr, net->dtype, nc, b->width[l]);
        if (order >= NPDE_JET_GRAD) out.grad = view(net->jets[3 * cur + 1].ptr, net->dtype, d * nc, b->width[l]);
        if (s) out.second = view(net->jets[3 * cur + 2].ptr, net->dtype, s * nc, b->width[l]);
        npde_mat t = param_row(theta, b->off[l], npde_layer_n_params(b->layers[l]));
        st = npde_layer_jet(b->layers[l], &t, &in, &out, net->work.ptr);
        in = out;
        cur = 1 - cur;
      }
      if (st != NPDE_OK) break;
      /* head on every jet block, into the free set */
      npde_mat wv = view((char *)theta->data + (size_t)b->off_w * es, net->dtype, b->k, 1);
      npde_mat g0 = view(net->jets[3 * cur].ptr, net->dtype, nc, 1);
      st = head_values(net, o, theta, &in.value, &g0);
      if (st == NPDE_OK) st = download_doubles(net, g0.data, nc, gv);
      if (st == NPDE_OK && order >= NPDE_JET_GRAD) {
        npde_mat g1 = view(net->jets[3 * cur + 1].ptr, net->dtype, d * nc, 1);
        st = npde_backend_gemv(net->be, NPDE_NO_TRANS, 1.0, &in.grad, &wv, 0.0, &g1);
        if (st == NPDE_OK) st = download_doubles(net, g1.data, d * nc, gv + nc);
      }
      if (st == NPDE_OK && s) {
        npde_mat g2 = view(net->jets[3 * cur + 2].ptr, net->dtype, s * nc, 1);
        st = npde_backend_gemv(net->be, NPDE_NO_TRANS, 1.0, &in.second, &wv, 0.0, &g2);
        if (st == NPDE_OK) st = download_doubles(net, g2.data, s * nc, gv + nc + d * nc);
      }
      if (st != NPDE_OK) break;
      double *gg = gv + nc, *gs = gv + nc + d * nc;
      if (net->periodic) scale_jets(net, order, nc, gg, gs);
      /* N = B g and the product rule, per point */
      for (int64_t i = 0; i < nc; ++i) {
        double B, g = gv[i];
        envelope_jet(net, xs + i * d, order, &B, dB, d2B);
        int64_t row = (r0 + i) * K + o;
        value[row] = B * g;
        if (order < NPDE_JET_GRAD) continue;
        for (int64_t j = 0; j < d; ++j) grad[row * d + j] = B * gg[j * nc + i] + g * dB[j];
        if (order == NPDE_JET_LAPLACIAN)
          for (int64_t j = 0; j < d; ++j)
            second[row * d + j] = B * gs[j * nc + i] + 2.0 * dB[j] * gg[j * nc + i] + g * d2B[j * d + j];
        if (order == NPDE_JET_HESSIAN) /* one sum per pair, mirrored: the Hessian is symmetric bit for bit */
          for (int64_t j = 0; j < d; ++j)
            for (int64_t k = j; k < d; ++k)
              second[(row * d + j) * d + k] = second[(row * d + k) * d + j] =
                  B * gs[npde_jet_hessian_index(j, k, d) * nc + i] + dB[j] * gg[k * nc + i] + gg[j * nc + i] * dB[k] +
                  g * d2B[j * d + k];
      }
    }
    free(xs);
  }
  free(ident);
  free(gv);
  return st;
}

/* ------------------------------------------------------- linearisation */

static size_t align64(size_t b) { return (b + 63) & ~(size_t)63; }

/* Slots of chunk c, branch o, layer l: A_l then its cache. */
static size_t *lin_slot(npde_linearization *lin, int64_t c, int64_t o, int64_t l) {
  const npde_network *net = lin->net;
  int64_t L = net->br[0].n_layers;
  return &lin->slot[(size_t)(((c * net->K + o) * L + l) * 2)];
}

static int64_t chunk_rows(const npde_linearization *lin, int64_t c) {
  int64_t r0 = c * lin->net->chunk;
  return lin->n - r0 < lin->net->chunk ? lin->n - r0 : lin->net->chunk;
}

static npde_status lin_forward(npde_linearization *lin) {
  npde_network *net = lin->net;
  char *base = lin->store.ptr;
  lin->scaled = false;
  for (int64_t c = 0; c < lin->n_chunks; ++c) {
    int64_t nc = chunk_rows(lin, c);
    npde_mat Xc = npde_mat_sub(lin->X, c * net->chunk, 0, nc, net->d);
    if (net->envelope) NPDE_TRY(envelope_device(net, &Xc, base + lin->b_slot[c]));
    else {
      npde_mat B = view(base + lin->b_slot[c], net->dtype, 1, nc);
      NPDE_TRY(npde_backend_fill(net->be, &B, 1.0));
    }
    for (int64_t o = 0; o < net->K; ++o) {
      branch *b = &net->br[o];
      npde_mat A[64];
      void *caches[64];
      for (int64_t l = 0; l < b->n_layers; ++l) {
        size_t *s = lin_slot(lin, c, o, l);
        A[l] = view(base + s[0], net->dtype, nc, b->width[l]);
        caches[l] = base + s[1];
      }
      npde_mat phi;
      NPDE_TRY(branch_forward(net, o, &lin->theta, &Xc, A, caches, &phi));
    }
  }
  return NPDE_OK;
}

npde_status npde_linearization_create(npde_network *net, const npde_mat *theta, const npde_mat *X,
                                      npde_linearization **out) {
  if (!net || !out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_create: NULL argument");
  *out = NULL;
  NPDE_TRY(check_theta(net, theta, "npde_linearization_create"));
  NPDE_TRY(check_points(net, X, "npde_linearization_create"));
  if (X->rows < 1) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_create: no points");
  if (net->br[0].n_layers > 64) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "network: at most 64 layers per branch");
  npde_linearization *lin = calloc(1, sizeof *lin);
  if (!lin) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  lin->net = net;
  lin->n = X->rows;
  lin->n_chunks = (X->rows + net->chunk - 1) / net->chunk;
  int64_t L = net->br[0].n_layers;
  lin->slot = calloc((size_t)(lin->n_chunks * net->K * L * 2), sizeof *lin->slot);
  lin->b_slot = calloc((size_t)lin->n_chunks, sizeof *lin->b_slot);
  npde_status st = lin->slot && lin->b_slot ? NPDE_OK : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  size_t es = npde_dtype_size(net->dtype), total = 0;
  for (int64_t c = 0; st == NPDE_OK && c < lin->n_chunks; ++c) {
    int64_t nc = chunk_rows(lin, c);
    for (int64_t o = 0; st == NPDE_OK && o < net->K; ++o)
      for (int64_t l = 0; st == NPDE_OK && l < L; ++l) {
        int64_t ce = 0;
        st = npde_layer_cache_size(net->br[o].layers[l], nc, &ce);
        size_t *s = lin_slot(lin, c, o, l);
        s[0] = total;
        total += align64((size_t)(nc * net->br[o].width[l]) * es);
        s[1] = total;
        total += align64((size_t)ce * es);
      }
    lin->b_slot[c] = total;
    total += align64((size_t)nc * es);
  }
  if (st == NPDE_OK) st = reserve(net->be, &lin->store, total);
  if (st == NPDE_OK) {
    npde_log(NPDE_LOG_DEBUG, "linearisation: %lld points, %lld chunks, %.1f MiB of cached activations",
             (long long)lin->n, (long long)lin->n_chunks, (double)total / 1048576.0);
    st = npde_linearization_update(lin, theta, X);
  }
  if (st != NPDE_OK) {
    npde_linearization_destroy(&lin);
    return st;
  }
  *out = lin;
  return NPDE_OK;
}

npde_status npde_linearization_update(npde_linearization *lin, const npde_mat *theta, const npde_mat *X) {
  if (!lin) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_update: NULL linearisation");
  NPDE_TRY(check_theta(lin->net, theta, "npde_linearization_update"));
  NPDE_TRY(check_points(lin->net, X, "npde_linearization_update"));
  if (X->rows != lin->n)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_update: %lld points, the linearisation holds %lld",
                      (long long)X->rows, (long long)lin->n);
  lin->theta = *theta;
  lin->X = *X;
  if (lin->net->periodic) NPDE_TRY(layer_points(lin->net, X, &lin->xs, &lin->X));
  int64_t nchunk = lin->net->chunk < lin->n ? lin->net->chunk : lin->n;
  NPDE_TRY(prepare(lin->net, nchunk, 1, NPDE_JET_VALUE));
  return lin_forward(lin);
}

void npde_linearization_destroy(npde_linearization **linp) {
  if (!linp || !*linp) return;
  npde_linearization *lin = *linp;
  if (lin->net) npde_backend_free(lin->net->be, lin->store.ptr), npde_backend_free(lin->net->be, lin->xs.ptr);
  free(lin->slot);
  free(lin->b_slot);
  free(lin);
  *linp = NULL;
}

/* J V for branch o on chunk c: m tangents (Vt, m x p rows) into dG (m x nc). */
static npde_status chunk_jvp(npde_linearization *lin, int64_t c, int64_t o, const npde_mat *Vt, int64_t m,
                             npde_mat *dG) {
  npde_network *net = lin->net;
  branch *b = &net->br[o];
  size_t es = npde_dtype_size(net->dtype);
  char *base = lin->store.ptr;
  int64_t nc = chunk_rows(lin, c);
  npde_mat Xc = npde_mat_sub(lin->X, c * net->chunk, 0, nc, net->d), prev_out = Xc;
  npde_mat dprev = {0};
  bool have_dprev = false;
  for (int64_t l = 0; l < b->n_layers; ++l) {
    size_t *s = lin_slot(lin, c, o, l);
    int64_t np = npde_layer_n_params(b->layers[l]);
    if (!np && !have_dprev) { /* no parameters and no input tangent: the tangent stays zero */
      prev_out = view(base + s[0], net->dtype, nc, b->width[l]);
      continue;
    }
    npde_mat t = param_row(&lin->theta, b->off[l], np);
    npde_mat dth = npde_mat_sub(*Vt, 0, b->off[l], m, np);
    npde_mat dY = view(net->tan[l % 2].ptr, net->dtype, m * nc, b->width[l]);
    NPDE_TRY(npde_layer_jvp(b->layers[l], &t, &prev_out, base + s[1], np ? &dth : NULL, have_dprev ? &dprev : NULL,
                            &dY, m, net->work.ptr));
    dprev = dY;
    have_dprev = true;
    prev_out = view(base + s[0], net->dtype, nc, b->width[l]);
  }
  /* dg = dPhi w + Wdot Phi^T + bdot 1^T, then times B */
  npde_mat w = view((char *)lin->theta.data + (size_t)b->off_w * es, net->dtype, b->k, 1);
  npde_mat dgcol = view(dG->data, net->dtype, m * nc, 1);
  if (have_dprev) NPDE_TRY(npde_backend_gemv(net->be, NPDE_NO_TRANS, 1.0, &dprev, &w, 0.0, &dgcol));
  else NPDE_TRY(npde_backend_fill(net->be, &dgcol, 0.0)); /* no layer has parameters */
  npde_mat wdot = npde_mat_sub(*Vt, 0, b->off_w, m, b->k), bdot = npde_mat_sub(*Vt, 0, b->off_b, m, 1);
  NPDE_TRY(npde_backend_gemm(net->be, NPDE_NO_TRANS, NPDE_TRANS, 1.0, &wdot, &prev_out, 1.0, dG));
  npde_mat ones = view(net->ones.ptr, net->dtype, 1, nc);
  NPDE_TRY(npde_backend_gemm(net->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &bdot, &ones, 1.0, dG));
  if (net->envelope || lin->scaled) {
    npde_mat B = view(base + lin->b_slot[c], net->dtype, 1, nc);
    NPDE_TRY(npde_backend_mul_blocks(net->be, &B, dG, dG, m));
  }
  return NPDE_OK;
}

/* Gt (m x p rows) += J^T for branch o on chunk c, cotangents W (m x nc; overwritten). */
static npde_status chunk_vjp(npde_linearization *lin, int64_t c, int64_t o, npde_mat *W, int64_t m, npde_mat *Gt) {
  npde_network *net = lin->net;
  branch *b = &net->br[o];
  size_t es = npde_dtype_size(net->dtype);
  char *base = lin->store.ptr;
  int64_t nc = chunk_rows(lin, c), L = b->n_layers;
  if (net->envelope || lin->scaled) {
    npde_mat B = view(base + lin->b_slot[c], net->dtype, 1, nc);
    NPDE_TRY(npde_backend_mul_blocks(net->be, &B, W, W, m));
  }
  npde_mat phi = view(base + lin_slot(lin, c, o, L - 1)[0], net->dtype, nc, b->k);
  npde_mat gw = npde_mat_sub(*Gt, 0, b->off_w, m, b->k), gb = npde_mat_sub(*Gt, 0, b->off_b, m, 1);
  NPDE_TRY(npde_backend_gemm(net->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, W, &phi, 1.0, &gw));
  npde_mat ones = view(net->ones.ptr, net->dtype, nc, 1);
  NPDE_TRY(npde_backend_gemv(net->be, NPDE_NO_TRANS, 1.0, W, &ones, 1.0, &gb));
  /* dPhi cotangent: block k = W_k^T w^T (outer product), one gemm */
  npde_mat wcol = view(W->data, net->dtype, m * nc, 1);
  npde_mat wrow = view((char *)lin->theta.data + (size_t)b->off_w * es, net->dtype, 1, b->k);
  npde_mat G = view(net->cot[(L - 1) % 2].ptr, net->dtype, m * nc, b->k);
  NPDE_TRY(npde_backend_gemm(net->be, NPDE_NO_TRANS, NPDE_NO_TRANS, 1.0, &wcol, &wrow, 0.0, &G));
  int64_t first = 0; /* layers below the first with parameters need no cotangent */
  while (first < L - 1 && npde_layer_n_params(b->layers[first]) == 0) ++first;
  for (int64_t l = L - 1; l >= first; --l) {
    size_t *s = lin_slot(lin, c, o, l);
    int64_t np = npde_layer_n_params(b->layers[l]);
    npde_mat t = param_row(&lin->theta, b->off[l], np);
    npde_mat in = l > 0 ? view(base + lin_slot(lin, c, o, l - 1)[0], net->dtype, nc, b->width[l - 1])
                        : npde_mat_sub(lin->X, c * net->chunk, 0, nc, net->d);
    npde_mat gX = l > first ? view(net->cot[(l - 1) % 2].ptr, net->dtype, m * nc, b->width[l - 1]) : (npde_mat){0};
    npde_mat gth = npde_mat_sub(*Gt, 0, b->off[l], m, np);
    NPDE_TRY(npde_layer_vjp(b->layers[l], &t, &in, base + s[1], &G, l > first ? &gX : NULL, np ? &gth : NULL, m,
                            net->work.ptr));
    G = gX;
  }
  return NPDE_OK;
}

/* Tangent block size for the scratch budget. */
static int64_t block_size(const npde_linearization *lin, int64_t m) {
  const npde_network *net = lin->net;
  int64_t nc = net->chunk < lin->n ? net->chunk : lin->n;
  int64_t w = net->max_width > net->d ? net->max_width : net->d;
  int64_t mb = TANGENT_BUDGET_ELEMS / (nc * w > 0 ? nc * w : 1);
  if (mb < 1) mb = 1;
  return mb < m ? mb : m;
}

npde_status npde_linearization_mv(npde_linearization *lin, const npde_mat *V, npde_mat *Y) {
  if (!lin || !V || !Y) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_mv: NULL argument");
  npde_network *net = lin->net;
  int64_t p = net->p, m = V->cols;
  if (V->rows != p || Y->rows != p || Y->cols != m || V->dtype != net->dtype || Y->dtype != net->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_mv: V and Y must be %lld x m", (long long)p);
  if (m == 0) return NPDE_OK;
  size_t es = npde_dtype_size(net->dtype);
  int64_t mb = block_size(lin, m), nchunk = net->chunk < lin->n ? net->chunk : lin->n;
  NPDE_TRY(prepare(net, nchunk, mb, NPDE_JET_VALUE));
  NPDE_TRY(reserve(net->be, &net->vt, (size_t)(mb * p) * es));
  NPDE_TRY(reserve(net->be, &net->gt, (size_t)(mb * p) * es));
  for (int64_t j0 = 0; j0 < m; j0 += mb) {
    int64_t mj = m - j0 < mb ? m - j0 : mb;
    npde_mat Vj = npde_mat_sub(*V, 0, j0, p, mj), Yj = npde_mat_sub(*Y, 0, j0, p, mj);
    npde_mat Vt = view(net->vt.ptr, net->dtype, mj, p), Gt = view(net->gt.ptr, net->dtype, mj, p);
    NPDE_TRY(npde_backend_transpose(net->be, &Vj, &Vt));
    NPDE_TRY(npde_backend_fill(net->be, &Gt, 0.0));
    for (int64_t c = 0; c < lin->n_chunks; ++c) {
      int64_t nc = chunk_rows(lin, c);
      npde_mat dG = view(net->head.ptr, net->dtype, mj, nc);
      for (int64_t o = 0; o < net->K; ++o) {
        NPDE_TRY(chunk_jvp(lin, c, o, &Vt, mj, &dG));
        NPDE_TRY(chunk_vjp(lin, c, o, &dG, mj, &Gt));
      }
    }
    NPDE_TRY(npde_backend_scal(net->be, 1.0 / (double)lin->n, &Gt));
    NPDE_TRY(npde_backend_transpose(net->be, &Gt, &Yj));
  }
  return NPDE_OK;
}

npde_status npde_linearization_scale_rows(npde_linearization *lin, const npde_mat *s) {
  if (!lin || !s || s->rows * s->cols != lin->n || s->dtype != lin->net->dtype || (s->cols != 1 && s->rows != 1))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_scale_rows: s must be a vector of %lld entries in the "
                      "network's dtype", lin ? (long long)lin->n : 0LL);
  for (int64_t c = 0; c < lin->n_chunks; ++c) { /* B_c *= s_c: every product of the linearisation sees it */
    npde_mat B = view((char *)lin->store.ptr + lin->b_slot[c], lin->net->dtype, 1, chunk_rows(lin, c));
    npde_mat S = view((char *)s->data + (size_t)(c * lin->net->chunk) * npde_dtype_size(s->dtype), s->dtype, 1, B.cols);
    NPDE_TRY(npde_backend_mul_blocks(lin->net->be, &S, &B, &B, 1));
  }
  lin->scaled = true;
  return NPDE_OK;
}

npde_status npde_linearization_values(npde_linearization *lin, npde_mat *U) {
  if (!lin || !U) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_values: NULL argument");
  npde_network *net = lin->net;
  if (U->rows != lin->n || U->cols != net->K || U->dtype != net->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_values: U must be %lld x %lld", (long long)lin->n,
                      (long long)net->K);
  NPDE_TRY(prepare(net, net->chunk < lin->n ? net->chunk : lin->n, 1, NPDE_JET_VALUE));
  char *base = lin->store.ptr;
  for (int64_t c = 0; c < lin->n_chunks; ++c) {
    int64_t nc = chunk_rows(lin, c);
    npde_mat B = view(base + lin->b_slot[c], net->dtype, nc, 1);
    for (int64_t o = 0; o < net->K; ++o) {
      branch *b = &net->br[o];
      npde_mat phi = view(base + lin_slot(lin, c, o, b->n_layers - 1)[0], net->dtype, nc, b->k);
      npde_mat g = npde_mat_sub(*U, c * net->chunk, o, nc, 1);
      NPDE_TRY(head_values(net, o, &lin->theta, &phi, &g));
      NPDE_TRY(npde_backend_row_scale(net->be, &B, &g, &g, 1));
    }
  }
  return NPDE_OK;
}

npde_status npde_linearization_jvp(npde_linearization *lin, const npde_mat *v, npde_mat *dU) {
  if (!lin || !v || !dU) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_jvp: NULL argument");
  npde_network *net = lin->net;
  int64_t p = net->p;
  if (v->rows * v->cols != p || (v->cols != 1 && v->rows != 1) || dU->rows != lin->n || dU->cols != net->K)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_jvp: v must have %lld entries, dU be %lld x %lld",
                      (long long)p, (long long)lin->n, (long long)net->K);
  size_t es = npde_dtype_size(net->dtype);
  NPDE_TRY(prepare(net, net->chunk < lin->n ? net->chunk : lin->n, 1, NPDE_JET_VALUE));
  NPDE_TRY(reserve(net->be, &net->vt, (size_t)p * es));
  npde_mat Vt = view(net->vt.ptr, net->dtype, 1, p);
  npde_mat vcol = v->rows == 1 && v->cols != 1 ? view(v->data, v->dtype, p, 1) : *v;
  NPDE_TRY(npde_backend_transpose(net->be, &vcol, &Vt));
  for (int64_t c = 0; c < lin->n_chunks; ++c) {
    int64_t nc = chunk_rows(lin, c);
    npde_mat dG = view(net->head.ptr, net->dtype, 1, nc);
    for (int64_t o = 0; o < net->K; ++o) {
      NPDE_TRY(chunk_jvp(lin, c, o, &Vt, 1, &dG));
      npde_mat dst = npde_mat_sub(*dU, c * net->chunk, o, nc, 1);
      NPDE_TRY(npde_backend_transpose(net->be, &dG, &dst));
    }
  }
  return NPDE_OK;
}

npde_status npde_linearization_vjp(npde_linearization *lin, const npde_mat *W, double alpha, double beta, npde_mat *g) {
  if (!lin || !W || !g) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_vjp: NULL argument");
  npde_network *net = lin->net;
  int64_t p = net->p;
  if (W->rows != lin->n || W->cols != net->K || g->rows * g->cols != p || (g->cols != 1 && g->rows != 1))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_vjp: W must be %lld x %lld, g have %lld entries",
                      (long long)lin->n, (long long)net->K, (long long)p);
  size_t es = npde_dtype_size(net->dtype);
  NPDE_TRY(prepare(net, net->chunk < lin->n ? net->chunk : lin->n, 1, NPDE_JET_VALUE));
  NPDE_TRY(reserve(net->be, &net->gt, (size_t)p * es));
  npde_mat Gt = view(net->gt.ptr, net->dtype, 1, p);
  NPDE_TRY(npde_backend_fill(net->be, &Gt, 0.0));
  for (int64_t c = 0; c < lin->n_chunks; ++c) {
    int64_t nc = chunk_rows(lin, c);
    npde_mat cw = view(net->head.ptr, net->dtype, 1, nc);
    for (int64_t o = 0; o < net->K; ++o) {
      npde_mat src = npde_mat_sub(*W, c * net->chunk, o, nc, 1);
      NPDE_TRY(npde_backend_transpose(net->be, &src, &cw));
      NPDE_TRY(chunk_vjp(lin, c, o, &cw, 1, &Gt));
    }
  }
  npde_mat gcol = g->rows == 1 ? view(g->data, g->dtype, 1, p) : *g;
  npde_mat gsrc = g->rows == 1 ? Gt : view(net->gt.ptr, net->dtype, p, 1);
  if (beta == 0.0) NPDE_TRY(npde_backend_fill(net->be, &gcol, 0.0));
  else if (beta != 1.0) NPDE_TRY(npde_backend_scal(net->be, beta, &gcol));
  return npde_backend_axpy(net->be, alpha, &gsrc, &gcol);
}

/* M = J^T J / n from per-point gradients (m one-hot cotangents per vjp, which costs m x nc x the branch's work: the
 * chunk size sets it, not p), M_o += G_o^T G_o / n per branch block: output o depends on branch o's alone. */
npde_status npde_linearization_gram(npde_linearization *lin, npde_mat *M) {
  if (!lin || !M || M->rows != lin->net->p || M->cols != lin->net->p || M->dtype != lin->net->dtype)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_linearization_gram: M must be p x p in the network's dtype");
  npde_network *net = lin->net;
  const int64_t p = net->p, nchunk = net->chunk < lin->n ? net->chunk : lin->n, mb = block_size(lin, nchunk);
  NPDE_TRY(prepare(net, nchunk, mb, NPDE_JET_VALUE));
  NPDE_TRY(reserve(net->be, &net->gt, (size_t)(mb * p) * npde_dtype_size(net->dtype)));
  NPDE_TRY(npde_backend_fill(net->be, M, 0.0));
  for (int64_t c = 0; c < lin->n_chunks; ++c)
    for (int64_t i0 = 0, nc = chunk_rows(lin, c); i0 < nc; i0 += mb) {
      const int64_t m = nc - i0 < mb ? nc - i0 : mb;
      npde_mat W = view(net->head.ptr, net->dtype, m, nc), Gt = view(net->gt.ptr, net->dtype, m, p);
      npde_mat ones = npde_mat_sub(W, 0, i0, m, 1); /* with stride nc + 1: W[j][i0 + j], point i0 + j alone */
      ones.ld = nc + 1;
      NPDE_TRY(npde_backend_fill(net->be, &W, 0.0)); /* a vjp scales W by the envelope: its zeros stay zero */
      for (int64_t o = 0; o < net->K; ++o) {
        const int64_t start = net->br[o].start, count = net->br[o].count; /* branch o's parameters */
        npde_mat Go = npde_mat_sub(Gt, 0, start, m, count), Mo = npde_mat_sub(*M, start, start, count, count);
        NPDE_TRY(npde_backend_fill(net->be, &ones, 1.0));
        NPDE_TRY(npde_backend_fill(net->be, &Go, 0.0));
        NPDE_TRY(chunk_vjp(lin, c, o, &W, m, &Gt));
        NPDE_TRY(npde_backend_gemm(net->be, NPDE_TRANS, NPDE_NO_TRANS, 1.0 / (double)lin->n, &Go, &Go, 1.0, &Mo));
      }
    }
  return NPDE_OK;
}

static npde_status lin_form(void *ctx, npde_mat *M) { return npde_linearization_gram(ctx, M); }
static npde_status lin_matvec(void *ctx, const npde_mat *x, npde_mat *y) { return npde_linearization_mv(ctx, x, y); }

npde_linop npde_linearization_operator(npde_linearization *lin) {
  npde_linop op = {.n = lin ? lin->net->p : 0, .dtype = lin ? lin->net->dtype : NPDE_F64, .matvec = lin_matvec,
                   .matmat = lin_matvec, .ctx = lin, .form = lin_form};
  return op;
}
