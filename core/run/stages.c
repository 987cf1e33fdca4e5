/* The stages pipelines may name and the methods that claim PDEs: filled as
 * the method libraries load (run_context.h), read-only afterwards. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "npde/npde_comm.h"
#include "run_context.h"

#define MAX_STAGES 32
#define MAX_METHODS 8

/* The engine's own stages: a pipeline probes first and evaluates last; the
 * methods' stages come between them, in the order they registered. */
extern const npde_stage npde__stage_probe, npde__stage_eval;
static const npde_stage *stages[MAX_STAGES] = {&npde__stage_probe, &npde__stage_eval};
static size_t n_stages = 2;
static const npde_run_method *methods[MAX_METHODS];
static size_t n_methods;

npde_status npde_run_register_stage(const npde_stage *stage) {
  if (!stage || !stage->name || !stage->params || !stage->run)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_run_register_stage: a stage needs a name, a schema and a run");
  if (npde_run_find_stage(stage->name))
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "a stage named '%s' is already registered", stage->name);
  if (n_stages == MAX_STAGES)
    return NPDE_ERROR(NPDE_ERR_NOMEM, "stage '%s': more than %d stages", stage->name, MAX_STAGES);
  stages[n_stages] = stages[n_stages - 1]; /* eval stays last */
  stages[n_stages++ - 1] = stage;
  return NPDE_OK;
}

const npde_stage *npde_run_find_stage(const char *name) {
  for (size_t i = 0; name && i < n_stages; ++i)
    if (strcmp(stages[i]->name, name) == 0) return stages[i];
  return NULL;
}

const char *npde_stage_names(void) {
  static char names[512];
  size_t used = 0;
  names[0] = '\0';
  for (size_t i = 0; i < n_stages && used < sizeof names; ++i)
    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", i ? ", " : "", stages[i]->name);
  return names;
}

const npde_param_spec *npde_stage_params(const char *name, const char **summary) {
  const npde_stage *stage = name ? npde_run_find_stage(name) : NULL;
  if (summary) *summary = stage ? stage->summary : NULL;
  return stage ? stage->params : NULL;
}

const npde_config *npde_run_stage_params(const npde_run_ctx *rs, const npde_stage *stage) {
  const npde_config *list = npde_config_get(rs->cfg, "stages");
  for (size_t i = 0; stage && i < npde_config_size(list); ++i) {
    const npde_config *e = npde_config_at(list, i);
    if (strcmp(npde_config_key_at(e, 0), stage->name) == 0) return npde_config_at(e, 0);
  }
  return NULL;
}

npde_status npde_run_register_method(const npde_run_method *method) {
  if (!method || !method->name || !method->claims)
    return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "npde_run_register_method: a method needs a name and claims");
  if (n_methods == MAX_METHODS)
    return NPDE_ERROR(NPDE_ERR_NOMEM, "method '%s': more than %d methods", method->name, MAX_METHODS);
  methods[n_methods++] = method;
  return NPDE_OK;
}

const npde_run_method *npde_run_method_for(const npde_pde *pde) {
  if (!pde) return NULL;
  const npde_pde_info info = npde_pde_get_info(pde);
  for (size_t i = 0; i < n_methods; ++i)
    if (methods[i]->claims(&info)) return methods[i];
  return NULL;
}

npde_status npde__stage_needs(const npde_run_ctx *rs, const npde_config *params, const char *stage, unsigned needs) {
  if ((needs & NPDE__NEEDS_NETWORK) && (!rs->pde || !rs->net))
    return npde_config_error(params, "%s: the pipeline has no '%s' (the stage needs a 'pde:' and a 'network:')", stage,
                             rs->pde ? "network:" : "pde:");
  if ((needs & NPDE__NEEDS_SOLVER) && !rs->linsolver)
    return npde_config_error(params, "%s: the pipeline needs a 'linsolver:' (e.g. {type: cg})", stage);
  if ((needs & NPDE__NEEDS_INTEGRATOR) && !rs->integrator)
    return npde_config_error(params, "%s: the pipeline needs an 'integrator:' (e.g. {type: rk23})", stage);
  return NPDE_OK;
}

npde_status npde__memory_fits(const npde_config *where, const char *what, double bytes) {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return NPDE_OK; /* unknown: the allocation itself will say */
  const double machine = (double)pages * (double)page;
  const double here = bytes * (double)npde_comm_local_size() / (double)npde_comm_size();
  if (here <= machine) return NPDE_OK;
  return npde_config_error(where, "%s need at least %.3g GB, more than this machine's %.3g GB of memory", what,
                           1e-9 * here, 1e-9 * machine);
}

npde_status npde__stages_preflight(const npde_run_ctx *rs) {
  const npde_config *list = npde_config_get(rs->cfg, "stages");
  for (size_t i = 0; i < npde_config_size(list); ++i) {
    const npde_config *entry = npde_config_at(list, i);
    const npde_stage *stage = npde_run_find_stage(npde_config_key_at(entry, 0));
    if (stage && stage->preflight) NPDE_TRY(stage->preflight(rs, npde_config_at(entry, 0)));
  }
  return NPDE_OK;
}
