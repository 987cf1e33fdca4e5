/* Pipelines: validation of a whole configuration and running its stages. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_impl.h"
#include "network_impl.h"
#include "pde_impl.h"
#include "npde/npde_log.h"
#include "npde/npde_pipeline.h"
#include "npde/npde_comm.h"
#include "npde/npde_plot.h"
#include "run_context.h"

struct npde_pipeline {
  npde_registry *reg; /* borrowed */
  npde_config *cfg;   /* resolved copy */
  npde_run_ctx last; /* metrics of the last run (handles cleared) */
};

void npde__metric(npde_run_ctx *rs, const char *name, double value) {
  int i = 0;
  while (i < rs->n_metrics && strcmp(rs->metric_names[i], name) != 0) ++i;
  if (i == NPDE__MAX_METRICS) return;
  if (i == rs->n_metrics) {
    snprintf(rs->metric_names[i], sizeof rs->metric_names[i], "%s", name);
    rs->n_metrics++;
  }
  rs->metric_values[i] = value;
}

bool npde__metric_get(const npde_run_ctx *rs, const char *name, double *value) {
  for (int i = 0; i < rs->n_metrics; ++i)
    if (strcmp(rs->metric_names[i], name) == 0) {
      *value = rs->metric_values[i];
      return true;
    }
  return false;
}

npde_status npde_pipeline_metric(const npde_pipeline *pl, const char *name, double *value) {
  if (!pl || !name || !value) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pipeline_metric: NULL argument");
  if (npde__metric_get(&pl->last, name, value)) return NPDE_OK;
  return NPDE_ERROR(NPDE_ERR_NOT_FOUND, "the last run reported no figure '%s'", name);
}

npde_status npde_pipeline_metric_at(const npde_pipeline *pl, int i, const char **name, double *value) {
  if (!pl || !name || !value) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pipeline_metric_at: NULL argument");
  if (i < 0 || i >= pl->last.n_metrics) return NPDE_ERR_NOT_FOUND;
  *name = pl->last.metric_names[i];
  *value = pl->last.metric_values[i];
  return NPDE_OK;
}

/* The top-level keys of a pipeline file. Component keys name the kind whose
 * plugin `type:` selects. */
static const struct component_key {
  const char *key;
  npde_kind kind;
} component_keys[] = {
    {"pde", NPDE_KIND_PDE},
    {"linsolver", NPDE_KIND_LINSOLVER},
    {"precond", NPDE_KIND_PRECOND},
    {"integrator", NPDE_KIND_INTEGRATOR},
};

static const npde_param_spec pipeline_params[] = {
    {.name = "name", .type = NPDE_PARAM_STRING, .flags = NPDE_PARAM_OPTIONAL, .doc = "a name for the run"},
    {.name = "seed", .type = NPDE_PARAM_INT, .default_value = "0", .doc = "seed of every random draw (Philox key)",
     .min = 0, .flags = NPDE_PARAM_HAS_MIN},
    {.name = "dtype", .type = NPDE_PARAM_ENUM, .default_value = "f64", .choices = "f64|f32",
     .doc = "floating-point type of every array"},
    {.name = "backend", .type = NPDE_PARAM_ANY, .default_value = "cpu",
     .doc = "compute backend: a name (cpu, cuda) or {type: NAME, ...parameters}"},
    {.name = "plugin_path", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "extra plugin files or directories (relative to this file), searched after NPDE_PLUGIN_PATH"},
    {.name = "pde", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL, .doc = "{type: NAME, ...}: the PDE"},
    {.name = "network", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "the network: envelope, outputs/sides and a list of layers"},
    {.name = "samples", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL, .doc = "collocation samples"},
    {.name = "linsolver", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL, .doc = "{type: NAME, ...}"},
    {.name = "precond", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL, .doc = "{type: NAME, ...}"},
    {.name = "integrator", .type = NPDE_PARAM_ANY, .flags = NPDE_PARAM_OPTIONAL, .doc = "{type: NAME, ...}"},
    {.name = "stages", .type = NPDE_PARAM_ANY, .doc = "the list of stages to run in order"},
    {.name = "output", .type = NPDE_PARAM_STRING, .flags = NPDE_PARAM_OPTIONAL,
     .doc = "run directory: config.yaml, log.txt, metrics.csv, results.npz, checkpoint.npz (none: no files; `npde "
            "run` picks runs/NAME-TIME)"},
    {.name = "plots", .type = NPDE_PARAM_BOOL, .default_value = "true",
     .doc = "draw the run's figures into DIR/plots at its end (`npde plot DIR`; needs PLplot)"},
    {.name = "plot_snapshots", .type = NPDE_PARAM_INT_LIST, .default_value = "[]",
     .doc = "the field snapshots the figures draw (0 the first, -1 the last; []: the first, middle and last; "
            "`npde plot --snapshots` overrides it)"},
    {.name = "checkpoint_every", .type = NPDE_PARAM_REAL, .default_value = "300", .min = 0,
     .flags = NPDE_PARAM_HAS_MIN, .doc = "seconds of wall time between checkpoints of a long stage (0: every step)"},
    {0},
};

static const npde_param_spec samples_params[] = {
    {.name = "n", .type = NPDE_PARAM_INT, .default_value = "10000", .min = 1, .flags = NPDE_PARAM_HAS_MIN,
     .doc = "evolve: uniform random points in the box per step attempt (docs/methods/neural-ivp.md §1.3)"},
    {0},
};

static npde_status bad_type(const npde_registry *reg, npde_kind kind, const char *key, const npde_config *node,
                            const char *name) {
  char names[1024];
  npde_registry_names(reg, kind, names, sizeof names);
  if (!name) return npde_config_error(node, "'%s' needs a 'type:' naming a %s plugin; valid types: %s", key,
                                      npde_kind_name(kind), names);
  return npde_config_error(node, "%s: unknown %s type '%s'; valid types: %s (see `npde plugins`)", key,
                           npde_kind_name(kind), name, names);
}

/* Validate `{type: NAME, ...}` (or a bare NAME when allow_scalar) against the
 * named plugin's schema and store the resolved node under key in out. */
static npde_status validate_component(const npde_registry *reg, npde_kind kind, const char *what,
                                      const npde_config *node, bool allow_scalar, npde_config **resolved) {
  npde_config *shorthand = NULL;
  if (allow_scalar && node->type == NPDE_CONFIG_SCALAR && !npde__config_is_null(node)) {
    shorthand = npde__config_new(NPDE_CONFIG_MAP, node->file, node->line, node->column);
    npde_config *t = npde__config_new_scalar(node->scalar, node->file, node->line, node->column);
    if (!shorthand || !t || !npde__config_append(shorthand, "type", t)) {
      npde__config_free(shorthand);
      npde__config_free(t);
      return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    }
    node = shorthand;
  }
  npde_status st;
  if (node->type != NPDE_CONFIG_MAP) {
    st = npde_config_error(node, "'%s' must be a mapping {type: NAME, ...}", what);
  } else {
    const npde_config *t = npde_config_get(node, "type");
    const char *name = t && t->type == NPDE_CONFIG_SCALAR && !npde__config_is_null(t) ? t->scalar : NULL;
    const npde_component_info *info = npde_registry_find(reg, kind, name);
    if (!info) st = bad_type(reg, kind, what, t ? t : node, name);
    else {
      char label[256];
      snprintf(label, sizeof label, "%s (%s '%s')", what, npde_kind_name(kind), name);
      npde_config *plugin_part = NULL; /* a pde's node without the keys the engine reads (initial:, exact:, params:) */
      st = kind == NPDE_KIND_PDE ? npde__pde_plugin_node(node, info->desc->params, &plugin_part) : NPDE_OK;
      if (st == NPDE_OK) st = npde_params_validate(info->desc->params, label, plugin_part ? plugin_part : node, NULL,
                                                   resolved);
      for (size_t i = 0; st == NPDE_OK && plugin_part && i < node->n; ++i) {
        /* the engine's keys back in; initial: as a list replaces the preset the plugin's schema defaulted to */
        if (!npde__pde_engine_key(node->keys[i], node->items[i]) ||
            (npde_config_get(*resolved, node->keys[i]) && strcmp(node->keys[i], "initial") != 0))
          continue;
        npde_config *copy = NULL;
        st = npde_config_clone(node->items[i], &copy);
        if (st == NPDE_OK && !npde__config_set(*resolved, node->keys[i], copy)) {
          npde__config_free(copy);
          st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
        }
      }
      npde__config_free(plugin_part);
    }
  }
  npde__config_free(shorthand);
  return st;
}

static bool replace(npde_config *map, const char *key, npde_config *value) {
  if (npde__config_set(map, key, value)) return true;
  npde__config_free(value);
  return false;
}

static npde_status load_plugin_path(npde_registry *reg, const npde_config *root, const npde_config *pp) {
  size_t n = pp->type == NPDE_CONFIG_SEQUENCE ? pp->n : 1;
  for (size_t i = 0; i < n; ++i) {
    const npde_config *item = pp->type == NPDE_CONFIG_SEQUENCE ? pp->items[i] : pp;
    if (item->type != NPDE_CONFIG_SCALAR || npde__config_is_null(item))
      return npde_config_error(item, "'plugin_path' takes a path or a list of paths");
    char full[PATH_MAX];
    const char *slash = strrchr(root->file, '/');
    if (item->scalar[0] == '/' || !slash) snprintf(full, sizeof full, "%s", item->scalar);
    else snprintf(full, sizeof full, "%.*s/%s", (int)(slash - root->file), root->file, item->scalar);
    npde_status st = npde_registry_load_path(reg, full);
    if (st != NPDE_OK) {
      char why[4096];
      snprintf(why, sizeof why, "%s", npde_last_error());
      return npde_config_error(item, "plugin_path: %s", why);
    }
  }
  return NPDE_OK;
}

static npde_status validate_network(const npde_registry *reg, npde_config *net_in, npde_config **out) {
  static const char *const none[] = {NULL};
  npde_config *net;
  NPDE_TRY(npde_params_validate(npde__network_params(), "network", net_in, none, &net));
  npde_config *layers = (npde_config *)npde_config_get(net, "layers");
  npde_status st = NPDE_OK;
  if (layers->type != NPDE_CONFIG_SEQUENCE || layers->n == 0)
    st = npde_config_error(layers, "network: 'layers' must be a non-empty list of {type: LAYER, ...}");
  for (size_t i = 0; st == NPDE_OK && i < layers->n; ++i) {
    char what[64];
    snprintf(what, sizeof what, "network.layers[%zu]", i);
    npde_config *r;
    st = validate_component(reg, NPDE_KIND_LAYER, what, layers->items[i], false, &r);
    if (st == NPDE_OK) { npde__config_free(layers->items[i]); layers->items[i] = r; }
  }
  if (st != NPDE_OK) { npde__config_free(net); return st; }
  *out = net;
  return NPDE_OK;
}

/* What npde_network_set_boundary will refuse, refused at check time with its place in the file. */
static npde_status periodic_needs_embedding(const npde_pde *pde, const npde_config *net) {
  const npde_pde_info info = npde_pde_get_info(pde);
  npde_boundary_kind kinds[64];
  if (info.dim > 64 || !net || !npde_pde_boundary(pde, kinds)) return NPDE_OK;
  bool periodic = false;
  for (int64_t j = 0; j < info.dim; ++j) periodic = periodic || kinds[j] == NPDE_BOUNDARY_PERIODIC;
  const npde_config *first = npde_config_at(npde_config_get(net, "layers"), 0);
  const char *type = npde_config_scalar(npde_config_get(first, "type"));
  if (!periodic || !first || (type && !strcmp(type, "sinusoidal"))) return NPDE_OK;
  return npde_config_error(first, "network: pde.boundary has a periodic axis, which needs the sinusoidal embedding as "
                           "the first layer (its features are then exactly periodic); found '%s'", type ? type : "?");
}

static npde_status validate_stages(npde_config *list) {
  if (list->type != NPDE_CONFIG_SEQUENCE || list->n == 0)
    return npde_config_error(list, "'stages' must be a non-empty list such as [{probe: {...}}]");
  for (size_t i = 0; i < list->n; ++i) {
    npde_config *entry = list->items[i];
    if (entry->type == NPDE_CONFIG_SCALAR && !npde__config_is_null(entry)) {
      /* "- probe" is short for "- probe: {}" */
      npde_config *map = npde__config_new(NPDE_CONFIG_MAP, entry->file, entry->line, entry->column);
      npde_config *empty = npde__config_new(NPDE_CONFIG_MAP, entry->file, entry->line, entry->column);
      if (!map || !empty || !npde__config_append(map, entry->scalar, empty)) {
        npde__config_free(map);
        npde__config_free(empty);
        return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
      }
      npde__config_free(entry);
      list->items[i] = entry = map;
    }
    if (entry->type != NPDE_CONFIG_MAP || entry->n != 1)
      return npde_config_error(entry, "each stage is a mapping with one key, the stage name (one of: %s)",
                               npde_stage_names());
    const npde_stage *stage = npde_run_find_stage(entry->keys[0]);
    if (!stage)
      return npde_config_error(entry, "unknown stage '%s'; valid stages: %s", entry->keys[0], npde_stage_names());
    npde_config *params = entry->items[0];
    if (npde__config_is_null(params)) {
      npde_config *empty = npde__config_new(NPDE_CONFIG_MAP, params->file, params->line, params->column);
      if (!empty) return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
      npde__config_free(params);
      entry->items[0] = params = empty;
    }
    char what[64];
    snprintf(what, sizeof what, "stage '%s'", stage->name);
    npde_config *resolved;
    NPDE_TRY(npde_params_validate(stage->params, what, params, NULL, &resolved));
    npde__config_free(entry->items[0]);
    entry->items[0] = resolved;
    if (stage->check) NPDE_TRY(stage->check(resolved));
  }
  return NPDE_OK;
}

npde_status npde_pipeline_create(npde_registry *reg, const npde_config *cfg_in, npde_pipeline **out) {
  if (!reg || !cfg_in || !out) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pipeline_create: NULL argument");
  *out = NULL;
  npde_config *cfg = NULL;
  npde_status st = npde_params_validate(pipeline_params, "pipeline", cfg_in, NULL, &cfg);
  if (st != NPDE_OK) return st;

  const npde_config *pp = npde_config_get(cfg, "plugin_path");
  if (pp && !npde__config_is_null(pp)) st = load_plugin_path(reg, cfg_in, pp);

  if (st == NPDE_OK) {
    npde_config *r = NULL;
    st = validate_component(reg, NPDE_KIND_BACKEND, "backend", npde_config_get(cfg, "backend"), true, &r);
    if (st == NPDE_OK && !replace(cfg, "backend", r)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; st == NPDE_OK && i < sizeof component_keys / sizeof component_keys[0]; ++i) {
    const npde_config *node = npde_config_get(cfg, component_keys[i].key);
    if (!node || npde__config_is_null(node)) continue;
    npde_config *r = NULL;
    st = validate_component(reg, component_keys[i].kind, component_keys[i].key, node, false, &r);
    if (st == NPDE_OK && !replace(cfg, component_keys[i].key, r)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  }
  const npde_config *net = npde_config_get(cfg, "network");
  if (st == NPDE_OK && net && !npde__config_is_null(net)) {
    npde_config *r = NULL;
    st = validate_network(reg, (npde_config *)net, &r);
    if (st == NPDE_OK && !replace(cfg, "network", r)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  }
  const npde_config *samples = npde_config_get(cfg, "samples");
  if (st == NPDE_OK && samples && !npde__config_is_null(samples)) {
    npde_config *r = NULL;
    st = npde_params_validate(samples_params, "samples", samples, NULL, &r);
    if (st == NPDE_OK && !replace(cfg, "samples", r)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  }
  if (st == NPDE_OK) st = validate_stages((npde_config *)npde_config_get(cfg, "stages"));
  /* expressions and domain: are read against the pde's dimension and outputs: create it once when it has any,
   * so `npde check` refuses them too */
  const npde_config *pde = npde_config_get(cfg, "pde");
  bool engine_keys = false;
  for (size_t i = 0; st == NPDE_OK && pde && pde->type == NPDE_CONFIG_MAP && i < pde->n; ++i)
    engine_keys = engine_keys || npde__pde_engine_key(pde->keys[i], pde->items[i]);
  if (st == NPDE_OK && engine_keys) {
    npde_pde *probe = NULL;
    st = npde_pde_create(reg, NULL, pde, &probe);
    if (st == NPDE_OK) st = periodic_needs_embedding(probe, npde_config_get(cfg, "network"));
    npde_pde_destroy(&probe);
  }
  if (st != NPDE_OK) { npde__config_free(cfg); return st; }

  npde_pipeline *pl = calloc(1, sizeof *pl);
  if (!pl) { npde__config_free(cfg); return NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory"); }
  pl->reg = reg;
  pl->cfg = cfg;
  *out = pl;
  return NPDE_OK;
}

void npde_pipeline_destroy(npde_pipeline **plp) {
  if (!plp || !*plp) return;
  npde__config_free((*plp)->cfg);
  free(*plp);
  *plp = NULL;
}

const npde_config *npde_pipeline_config(const npde_pipeline *pl) { return pl ? pl->cfg : NULL; }

/* pde.boundary: decides the network's envelope (and its periodic axes) when it is stated. */
static npde_status boundary_to_network(npde_run_ctx *rs, const npde_config *pde, const npde_config *net) {
  npde_pde_info info = npde_pde_get_info(rs->pde);
  npde_boundary_kind kinds[64];
  if (info.sides != 0 || info.dim > 64 || !npde_pde_boundary(rs->pde, kinds)) return NPDE_OK;
  const npde_config *where = npde_config_get(pde, "boundary"), *env = npde_config_get(net, "envelope");
  if (npde_network_set_boundary(rs->net, kinds) != NPDE_OK)
    return npde_config_error(where, "%s", npde_last_error());
  bool all = true, none = true;
  for (int64_t j = 0; j < info.dim; ++j)
    all = all && kinds[j] == NPDE_BOUNDARY_DIRICHLET, none = none && kinds[j] == NPDE_BOUNDARY_NONE;
  const char *stated = npde_config_scalar(env);
  if (stated && !((all && !strcmp(stated, "dirichlet")) || (none && !strcmp(stated, "none"))))
    npde_log(NPDE_LOG_WARN, "network.envelope: %s (%s:%d) is not used: pde.boundary (%s:%d) sets the envelope", stated,
             env->file ? env->file : "?", env->line, where->file ? where->file : "?", where->line);
  return NPDE_OK;
}

/* The pde, the network and its initial parameters, when the config names them. */
static npde_status create_components(npde_pipeline *pl, npde_run_ctx *rs) {
  const npde_config *pde = npde_config_get(pl->cfg, "pde"), *net = npde_config_get(pl->cfg, "network");
  const npde_config *ls = npde_config_get(pl->cfg, "linsolver"), *pc = npde_config_get(pl->cfg, "precond"),
                    *in = npde_config_get(pl->cfg, "integrator");
  if (ls && !npde__config_is_null(ls)) NPDE_TRY(npde_linsolver_create(pl->reg, NULL, ls, rs->backend, &rs->linsolver));
  if (pc && !npde__config_is_null(pc)) NPDE_TRY(npde_precond_create(pl->reg, NULL, pc, rs->backend, &rs->precond));
  if (in && !npde__config_is_null(in)) NPDE_TRY(npde_integrator_create(pl->reg, NULL, in, rs->backend, &rs->integrator));
  if (pde && !npde__config_is_null(pde)) NPDE_TRY(npde_pde_create(pl->reg, NULL, pde, &rs->pde));
  if (!net || npde__config_is_null(net)) return NPDE_OK;
  if (!rs->pde)
    return npde_config_error(net, "a network needs a 'pde:' to know the dimension of its inputs");
  if (rs->dtype != NPDE_F64) return npde_config_error(net, "networks run in f64 for now (dtype: f64)");
  npde_pde_info info = npde_pde_get_info(rs->pde);
  int64_t outputs = 0;
  if (npde_config_get(net, "outputs")) NPDE_TRY(npde_config_get_int(net, "outputs", &outputs));
  /* one output per component, unless the method that claims the PDE says otherwise */
  const npde_run_method *method = npde_run_method_for(rs->pde);
  const int64_t want = method && method->network_outputs ? method->network_outputs(&info) : info.outputs;
  if (outputs == 0) {
    char k[32];
    snprintf(k, sizeof k, "%lld", (long long)want);
    npde_config *copy = NULL, *value = npde__config_new_scalar(k, net->file, net->line, net->column);
    npde_status st = value ? npde_config_clone(net, &copy) : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    if (st == NPDE_OK && !npde__config_set(copy, "outputs", value)) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    else if (st == NPDE_OK) value = NULL;
    if (st == NPDE_OK) st = npde_network_create(pl->reg, copy, rs->backend, info.dim, &rs->net);
    npde__config_free(value);
    npde__config_free(copy);
    NPDE_TRY(st);
  } else {
    NPDE_TRY(npde_network_create(pl->reg, net, rs->backend, info.dim, &rs->net));
  }
  if (npde_network_outputs(rs->net) != want)
    return npde_config_error(net, "the network has %lld outputs, the pde %lld %s: set network.outputs: %lld",
                             (long long)npde_network_outputs(rs->net), (long long)want,
                             method && method->outputs_noun ? method->outputs_noun : "components", (long long)want);
  NPDE_TRY(boundary_to_network(rs, pde, net));
  int64_t p = npde_network_n_params(rs->net);
  NPDE_TRY(npde_backend_alloc(rs->backend, (size_t)p * sizeof(double), &rs->theta));
  npde_mat t = npde_mat_view(rs->theta, NPDE_F64, p, 1);
  NPDE_TRY(npde_network_init(rs->net, &t, rs->seed));
  npde_log(NPDE_LOG_INFO, "network: %lld parameters, %lld outputs, %lld inputs", (long long)p, (long long)want,
           (long long)info.dim);
  return NPDE_OK;
}

static void destroy_components(npde_run_ctx *rs) {
  npde_backend_free(rs->backend, rs->theta);
  rs->theta = NULL;
  npde_network_destroy(&rs->net);
  npde_pde_destroy(&rs->pde);
  npde_integrator_destroy(&rs->integrator);
  npde_precond_destroy(&rs->precond);
  npde_linsolver_destroy(&rs->linsolver);
  npde_backend_destroy(&rs->backend);
}

/* After stage `next - 1`: a checkpoint to continue from stage `next`, and results.npz. */
static npde_status stage_boundary(npde_run_ctx *rs, size_t next) {
  npde_npz_writer *w = NULL;
  NPDE_TRY(npde__checkpoint_begin(rs, next, &w));
  if (w) NPDE_TRY(npde_npz_commit(&w));
  return npde__results_write(rs);
}

static npde_status final_results(npde_run_ctx *rs) {
  if (!rs->dir || !rs->theta) return npde__results_write(rs);
  int64_t p = npde_network_n_params(rs->net);
  double *h = malloc((size_t)p * sizeof *h);
  npde_status st = h ? npde_backend_download(rs->backend, h, rs->theta, (size_t)p * sizeof *h)
                     : NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
  if (st == NPDE_OK) st = npde__result_put(rs, "theta_final", NPDE_NPY_F64, h, 1, &p);
  free(h);
  if (st == NPDE_OK) st = npde__results_write(rs);
  return st;
}

npde_status npde__pipeline_instantiate(npde_pipeline *pl, npde_run_ctx *rs) {
  memset(rs, 0, sizeof *rs);
  rs->cfg = pl->cfg;
  rs->reg = pl->reg;
  int64_t seed;
  NPDE_TRY(npde_config_get_int(pl->cfg, "seed", &seed));
  rs->seed = (uint64_t)seed;
  const char *dtype;
  NPDE_TRY(npde_config_get_string(pl->cfg, "dtype", &dtype));
  rs->dtype = strcmp(dtype, "f32") == 0 ? NPDE_F32 : NPDE_F64;
  NPDE_TRY(npde_config_get_real(pl->cfg, "checkpoint_every", &rs->checkpoint_every));
  NPDE_TRY(npde_backend_create(pl->reg, NULL, npde_config_get(pl->cfg, "backend"), &rs->backend));
  return create_components(pl, rs);
}

void npde__pipeline_release(npde_run_ctx *rs) { destroy_components(rs); }

npde_status npde_pipeline_check(npde_pipeline *pl) {
  if (!pl) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pipeline_check: NULL pipeline");
  npde_run_ctx rs;
  npde_status st = npde__pipeline_instantiate(pl, &rs);
  if (st == NPDE_ERR_DEVICE) {
    npde_log(NPDE_LOG_INFO, "check: the backend could not be created on this machine (%s); the components that need "
             "it were not created here", npde_last_error());
    st = NPDE_OK;
  } else if (st == NPDE_OK) {
    st = npde__stages_preflight(&rs);
  }
  destroy_components(&rs);
  return st;
}

/* Set from a signal handler (npde_pipeline_request_stop); read between steps. */
static volatile sig_atomic_t stop_flag;

void npde_pipeline_request_stop(void) { stop_flag = 1; }

bool npde__stop_requested(void) {
  double any = stop_flag ? 1.0 : 0.0;
  if (npde_comm_size() > 1 && npde_comm_allreduce(&any, 1, NPDE_COMM_MAX) != NPDE_OK) return false;
  return any > 0.0;
}

static npde_status run_impl(npde_pipeline *pl, const char *resume_dir) {
  npde_run_ctx *rs = &pl->last;
  const char *dir = resume_dir;
  const npde_config *output = npde_config_get(pl->cfg, "output"); /* `output: ~` (--no-output): no files */
  if (!dir && output && !npde__config_is_null(output)) NPDE_TRY(npde_config_get_string(pl->cfg, "output", &dir));
  npde_status st = npde__pipeline_instantiate(pl, rs);
  if (st == NPDE_OK) st = npde__stages_preflight(rs); /* what `npde check` refuses, before any file is written */
  char *ckpt = NULL;
  size_t first = 0;
  const npde_config *list = npde_config_get(pl->cfg, "stages");
  /* on several ranks only rank 0 writes (the run directory, its log, metrics and checkpoints) */
  if (st == NPDE_OK && dir && npde_comm_rank() == 0) {
    st = npde__rundir_open(rs, dir, resume_dir != NULL);
    if (st == NPDE_OK) st = npde__rundir_record_plugins(rs);
    if (st == NPDE_OK) npde_log(NPDE_LOG_INFO, "run directory: %s", dir);
  }
  if (st == NPDE_OK && npde_comm_size() > 1)
    npde_log(NPDE_LOG_INFO, "data-parallel: %d ranks (%d on this machine), each on its slice of the samples",
             npde_comm_size(), npde_comm_local_size());
  /* after the run directory opens, so that log.txt says what ran it */
  if (st == NPDE_OK) npde_log(NPDE_LOG_INFO, "backend: %s", npde_backend_describe(rs->backend));
  if (st == NPDE_OK) st = npde__exact_check(rs);
  if (st == NPDE_OK && resume_dir) {
    size_t n = strlen(resume_dir) + sizeof "/checkpoint.npz";
    ckpt = malloc(n);
    if (!ckpt) st = NPDE_ERROR(NPDE_ERR_NOMEM, "out of memory");
    else snprintf(ckpt, n, "%s/checkpoint.npz", resume_dir);
    if (st == NPDE_OK && access(ckpt, R_OK) != 0)
      st = NPDE_ERROR(NPDE_ERR_IO, "'%s' has no checkpoint.npz (the run stopped before its first checkpoint): "
                      "start it again with `npde run %s/config.yaml output=...`", resume_dir, resume_dir);
    if (st == NPDE_OK) st = npde__checkpoint_load(rs, ckpt, &first);
    if (st == NPDE_OK && first >= list->n)
      npde_log(NPDE_LOG_INFO, "resume: '%s' is complete (all %zu stages ran); nothing to do", resume_dir, list->n);
    else if (st == NPDE_OK)
      npde_log(NPDE_LOG_INFO, "resume: continuing '%s' in stage %zu/%zu (%s)", resume_dir, first + 1, list->n,
               list->items[first]->keys[0]);
  }
  for (size_t i = first; i < list->n && st == NPDE_OK; ++i) {
    const npde_config *entry = list->items[i];
    const npde_stage *stage = npde_run_find_stage(entry->keys[0]);
    npde_log(NPDE_LOG_INFO, "stage %zu/%zu: %s", i + 1, list->n, stage->name);
    rs->stage_index = i;
    if (stage->rank0_only && npde_comm_rank() != 0) continue;
    st = stage->run(rs, entry->items[0]);
    rs->resume_from = NULL; /* only the first stage continues from the checkpoint */
    if (st == NPDE_OK) st = stage_boundary(rs, i + 1);
  }
  if (st == NPDE_OK) st = final_results(rs);
  if (st == NPDE_OK && rs->dir) npde_log(NPDE_LOG_INFO, "results: %s/results.npz", rs->dir);
  if (st == NPDE_OK && npde_comm_size() > 1) {
    int64_t calls, doubles;
    npde_comm_stats(&calls, &doubles);
    npde_log(NPDE_LOG_INFO, "data-parallel: %lld reductions, %.3g MB contributed by this rank", (long long)calls,
             8e-6 * (double)doubles);
  }
  bool plots = false;
  if (st == NPDE_OK && rs->dir && npde_config_get_bool(pl->cfg, "plots", &plots) == NPDE_OK && plots) {
    if (!npde_plot_available())
      npde_log(NPDE_LOG_INFO, "plots: this build has no PLplot (install libplplot-dev and plplot-driver-cairo, "
               "rebuild, then `npde plot %s`)", rs->dir);
    else if (npde_plot_run(rs->dir, NULL) != NPDE_OK) /* figures never fail a finished run */
      npde_log(NPDE_LOG_WARN, "plots: %s", npde_last_error());
  }
  if (st == NPDE_ERR_INTERRUPTED && rs->dir) {
    char why[4096];
    snprintf(why, sizeof why, "%s: %s/checkpoint.npz holds the run so far; `npde resume %s` continues from it",
             npde_last_error(), rs->dir, rs->dir);
    npde_log(NPDE_LOG_WARN, "%s", why);
    st = npde_set_error(st, __FILE__, __LINE__, "%s", why);
  } else if (st != NPDE_OK && rs->dir) {
    char why[4096];
    snprintf(why, sizeof why, "%s", npde_last_error());
    npde_log(NPDE_LOG_ERROR, "%s", why); /* into log.txt too */
    st = npde_set_error(st, __FILE__, __LINE__, "%s", why);
  }
  stop_flag = 0; /* a request ends with the run it stopped */
  free(ckpt);
  npde__rundir_close(rs);
  destroy_components(rs);
  return st;
}

npde_status npde_pipeline_run(npde_pipeline *pl) {
  if (!pl) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pipeline_run: NULL pipeline");
  return run_impl(pl, NULL);
}

npde_status npde_pipeline_resume(npde_pipeline *pl, const char *dir) {
  if (!pl || !dir) return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_pipeline_resume: NULL argument");
  return run_impl(pl, dir);
}
