/**
 * Pipelines: a YAML file naming a backend, components and a list of stages,
 * run in order on one shared state.
 */
#ifndef NPDE_PIPELINE_H
#define NPDE_PIPELINE_H

#include "npde_config.h"
#include "npde_error.h"
#include "npde_registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct npde_pipeline npde_pipeline;

/**
 * Validate a configuration tree: top-level keys, every component against its
 * plugin's schema (loading `plugin_path:` first), every stage's keys. Creates
 * nothing. The pipeline keeps a resolved copy (defaults filled).
 * Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_pipeline_create(npde_registry *reg, const npde_config *cfg,
                                                         npde_pipeline **out);
NPDE_API void npde_pipeline_destroy(npde_pipeline **pl);
/** The validated configuration, defaults filled in. Borrowed. */
NPDE_API const npde_config *npde_pipeline_config(const npde_pipeline *pl);
/**
 * Instantiate the backend and components, then run the stages in order.
 * With `output: DIR` in the configuration the run writes DIR/config.yaml,
 * log.txt, metrics.csv, results.npz and checkpoint.npz (refusing a DIR that
 * already holds a run).
 */
NPDE_API NPDE_NODISCARD npde_status npde_pipeline_run(npde_pipeline *pl);
/**
 * Continue the run in dir from dir/checkpoint.npz: the stages before the
 * checkpoint's are skipped, the checkpointed one continues where it was, and
 * on the CPU backend the results are bitwise those of an uninterrupted run.
 * pl is normally made from dir/config.yaml. Since: ABI 1.0
 */
NPDE_API NPDE_NODISCARD npde_status npde_pipeline_resume(npde_pipeline *pl, const char *dir);

/**
 * A figure the last run reported, by name ("fit.rel_error",
 * "fit.rel_error_before_head", "fit.loss", "probe.worst_sigma", ...).
 * NPDE_ERR_NOT_FOUND when the run did not report it.
 */
NPDE_API NPDE_NODISCARD npde_status npde_pipeline_metric(const npde_pipeline *pl, const char *name, double *value);

/** The i-th figure of the last run (in the order first reported); NPDE_ERR_NOT_FOUND past the last. Since: ABI 1.0 */
NPDE_API NPDE_NODISCARD npde_status npde_pipeline_metric_at(const npde_pipeline *pl, int i, const char **name,
                                                            double *value);

/**
 * Load into reg the plugins the run in dir recorded in dir/plugins.txt (the
 * file, plugin, version and CRC-32 of each it loaded), so that `npde resume`
 * and `npde eval` find a third-party plugin without NPDE_PLUGIN_PATH. A
 * plugin reg already has (by name) is kept; a recorded file that is missing
 * is an error naming it; one whose checksum changed is loaded with a
 * warning. A run without the file (older runs) loads nothing. Since: ABI 1.3
 */
NPDE_API NPDE_NODISCARD npde_status npde_rundir_load_plugins(npde_registry *reg, const char *dir);

/**
 * What `npde check` does after validating: create every component of the
 * pipeline (backend, PDE, network with its initial parameters, solvers,
 * integrator) and destroy them, without running a stage, so that what a run
 * would refuse at its start is refused here. A backend this machine cannot
 * create (cuda without a device) is logged as not created here, not an
 * error; the components that need it are then not created. Since: ABI 1.3
 */
NPDE_API NPDE_NODISCARD npde_status npde_pipeline_check(npde_pipeline *pl);

/**
 * Ask the run in progress in this process to stop: the stage in progress
 * ends its step (evolve: at the next accepted step) or epoch (train, fit),
 * writes its checkpoint, and npde_pipeline_run/_resume returns
 * NPDE_ERR_INTERRUPTED; `npde resume DIR` continues from the checkpoint
 * (fit, which keeps none of its own, starts again). Async-signal-safe: the
 * npde command's SIGINT/SIGTERM handler and an embedding's (Python's
 * KeyboardInterrupt) call it; the library installs no handler. The request
 * is cleared when the run returns. Since: ABI 1.3
 */
NPDE_API void npde_pipeline_request_stop(void);

/**
 * Run the pipeline of the YAML file `config` in this process, as `npde run`
 * does: the n_overrides key.path=value overrides applied in order, the run
 * directory `output` (NULL: the config's `output:`, else
 * runs/NAME-DATE-TIME; "": no files), whose path is copied into dir (size
 * bytes; may be NULL) before the run starts, so that a failed or stopped run
 * can be found. npde_pipeline_request_stop stops it. Since: ABI 1.3
 */
NPDE_API NPDE_NODISCARD npde_status npde_run_file(const char *config, const char *const *overrides,
                                                  size_t n_overrides, const char *output, char *dir, size_t size);
/** A run's name: the config's `name:`, else the file name of path without its extension. Since: ABI 1.3 */
NPDE_API void npde_run_name(const npde_config *cfg, const char *path, char *out, size_t size);
/** runs/STEM[suffix]-YYYYmmdd-HHMMSS (made unique with -2, -3, ...): STEM is npde_run_name's, '/' and ' ' made
 * '_'. Since: ABI 1.3 */
NPDE_API void npde_run_default_dir(const npde_config *cfg, const char *path, const char *suffix, char *out,
                                   size_t size);

/** Names of the stages the core knows, comma-separated; static string. */
NPDE_API const char *npde_stage_names(void);
/** The keys of the stage `name` (types, defaults, docs) and its one-line summary (NULL: not wanted), or NULL when
 * no stage has that name: what `npde plugins show evolve` prints. Since: ABI 1.3 */
NPDE_API const npde_param_spec *npde_stage_params(const char *name, const char **summary);

#ifdef __cplusplus
}
#endif
#endif
