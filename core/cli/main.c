/* The npde command. Exit codes: 0 success, 1 run failure, 2 usage or
 * configuration error. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <time.h>

#include "cli.h"

static const char usage[] =
    "usage: npde [-v|-q] COMMAND [ARGS]\n"
    "\n"
    "Neural-network PDE solvers composed from YAML pipelines and plugins.\n"
    "\n"
    "commands:\n"
    "  run CONFIG [key.path=value ...]    validate CONFIG and run its stages; the run directory is\n"
    "                                     `output:` or runs/NAME-DATE-TIME (--no-output: write no files)\n"
    "  run CONFIG -m key=a,b key2=c,d     a sweep: one run per combination of the lists, each in its own\n"
    "                                     directory under the sweep's, and sweep.csv with their figures\n"
    "  resume DIR [key.path=value ...]    continue a stopped run from DIR/checkpoint.npz\n"
    "  eval RUNDIR --points P.npy [--time T] [--out U.npy] [--grad]\n"
    "                                     evaluate a run's network at the points of P.npy (n x d), at\n"
    "                                     any time T of the run (default: the last)\n"
    "  check CONFIG [key.path=value ...]  validate CONFIG and load its plugins; run nothing\n"
    "                                     (--print: show the resolved configuration)\n"
    "  plot RUNDIR [--out DIR] [--snapshots 0,3,-1]\n"
    "                                     PNG figures of a run into RUNDIR/plots (PLplot)\n"
    "  plugins                            list the loaded components: kind, name, version, file\n"
    "  plugins show NAME                  parameters of a component (NAME or KIND/NAME) or a stage\n"
    "\n"
    "options:\n"
    "  -h, --help      this help\n"
    "  --version       version and ABI\n"
    "  -v, --verbose   debug messages, with error tracebacks\n"
    "  -q, --quiet     errors only\n"
    "\n"
    "Plugins come from the npde plugin directory, then NPDE_PLUGIN_PATH (colon-separated),\n"
    "then `plugin_path:` in the configuration.\n"
    "Exit status: 0 success, 1 the run failed, 2 usage or configuration error, 130 or 143 stopped by\n"
    "SIGINT (Ctrl-C) or SIGTERM after writing a checkpoint (`npde resume DIR` continues).\n";

int cli_fail(npde_status st, int code) {
  const char *why = npde_last_error()[0] ? npde_last_error() : npde_status_str(st);
  if (npde_comm_size() > 1) fprintf(stderr, "npde: rank %d of %d: error: %s\n", npde_comm_rank(), npde_comm_size(), why);
  else fprintf(stderr, "npde: error: %s\n", why);
  return code;
}

/* Configuration problems are the user's to fix (2); others are run failures (1). */
int cli_exit_code_for(npde_status st) {
  switch (st) {
    case NPDE_ERR_CONFIG:
    case NPDE_ERR_NOT_FOUND:
    case NPDE_ERR_PLUGIN:
    case NPDE_ERR_ABI:
    case NPDE_ERR_INVALID_ARG: return EXIT_USAGE;
    default: return EXIT_RUN_FAILURE;
  }
}

static npde_status load_registry(npde_registry **reg) {
  NPDE_TRY(npde_registry_create(reg));
  return npde_registry_load_defaults(*reg);
}

typedef enum mode { MODE_RUN, MODE_CHECK, MODE_RESUME } mode;

/* Load CONFIG (or DIR/config.yaml), apply overrides, choose the run directory, validate. */
static int prepare(int argc, char **argv, mode m, npde_registry **reg, npde_pipeline **pl, bool *print,
                   const char **dir_out) {
  const char *path = NULL;
  bool no_output = false;
  int first_override = argc;
  for (int i = 0; i < argc; ++i) {
    if (strcmp(argv[i], "--print") == 0 && m == MODE_CHECK) { *print = true; continue; }
    if (strcmp(argv[i], "--no-output") == 0 && m == MODE_RUN) { no_output = true; continue; }
    if (!path && !strchr(argv[i], '=')) { path = argv[i]; continue; }
    if (!strchr(argv[i], '=')) {
      fprintf(stderr, "npde: error: unexpected argument '%s' (overrides look like key.path=value)\n", argv[i]);
      return EXIT_USAGE;
    }
    if (first_override == argc) first_override = i;
  }
  if (!path) {
    fprintf(stderr, "npde: error: missing %s\n%s", m == MODE_RESUME ? "DIR" : "CONFIG", usage);
    return EXIT_USAGE;
  }
  char file[4096];
  snprintf(file, sizeof file, m == MODE_RESUME ? "%s/config.yaml" : "%s", path);
  npde_config *cfg = NULL;
  npde_status st = npde_config_load_file(file, &cfg);
  if (st != NPDE_OK) return cli_fail(st, st == NPDE_ERR_IO ? EXIT_USAGE : cli_exit_code_for(st));
  for (int i = first_override; i < argc; ++i) {
    if (!strchr(argv[i], '=')) continue;
    st = npde_config_apply_override(cfg, argv[i]);
    if (st != NPDE_OK) { npde_config_destroy(&cfg); return cli_fail(st, EXIT_USAGE); }
  }
  /* the run directory: resume continues DIR wherever it was moved to */
  static char out[4096 + 16];
  const npde_config *given = npde_config_get(cfg, "output");
  if (m == MODE_RESUME) snprintf(out, sizeof out, "output=%s", path);
  else if (m == MODE_RUN && !no_output && !(given && npde_config_scalar(given))) {
    char dir[4000];
    npde_run_default_dir(cfg, path, "", dir, sizeof dir);
    snprintf(out, sizeof out, "output=%s", dir);
  } else if (no_output && given) snprintf(out, sizeof out, "output=~");
  else out[0] = '\0';
  if (out[0]) st = npde_config_apply_override(cfg, out);
  if (st != NPDE_OK) { npde_config_destroy(&cfg); return cli_fail(st, EXIT_USAGE); }
  st = load_registry(reg);
  if (st == NPDE_OK && m == MODE_RESUME) st = npde_rundir_load_plugins(*reg, path); /* those the run recorded */
  if (st == NPDE_OK) st = npde_pipeline_create(*reg, cfg, pl);
  npde_config_destroy(&cfg);
  if (st != NPDE_OK) return cli_fail(st, cli_exit_code_for(st));
  if (dir_out) *dir_out = path;
  return 0;
}

int cli_prepare_run(int argc, char **argv, npde_registry **reg, npde_pipeline **pl) {
  return prepare(argc, argv, MODE_RUN, reg, pl, NULL, NULL);
}

/* mpirun stops the other ranks with SIGTERM when one fails or is killed: rank 0 says what is kept. */
static char stopped_note[4600];

static void on_stopped_by_mpirun(int sig) {
  ssize_t ignored = write(STDERR_FILENO, stopped_note, strlen(stopped_note));
  (void)ignored;
  signal(sig, SIG_DFL);
  raise(sig);
}

static void explain_stop_by_mpirun(const npde_pipeline *pl) {
  if (npde_comm_size() < 2 || npde_comm_rank() != 0) return;
  const char *dir = npde_config_scalar(npde_config_get(npde_pipeline_config(pl), "output"));
  if (!dir || !strcmp(dir, "~")) return;
  snprintf(stopped_note, sizeof stopped_note, "\nnpde: rank 0 of %d: stopped by mpirun, because another rank failed "
           "or was killed (mpirun names it). %s/checkpoint.npz holds the last checkpoint, intact: `mpirun -np %d npde "
           "resume %s` continues from it.\n", npde_comm_size(), dir, npde_comm_size(), dir);
  signal(SIGTERM, on_stopped_by_mpirun);
}

/* What a fatal signal's note says is kept (on_fatal_signal); set once a run knows its directory. */
static char checkpoint_note[4600];

/* Ctrl-C or SIGTERM: the first asks the run to checkpoint and stop (exit 130 / 143), a second stops at once. */
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
  if (stop_signal) _exit(128 + sig);
  stop_signal = sig;
  npde_pipeline_request_stop();
  static const char note[] = "\nnpde: stopping: the run writes its checkpoint after the current step (signal again "
                             "to stop at once, losing the step)\n";
  ssize_t ignored = write(STDERR_FILENO, note, sizeof note - 1);
  (void)ignored;
}

static void stop_on_signals(void) {
  if (npde_comm_size() > 1) return; /* mpirun turns Ctrl-C into SIGTERM then SIGKILL: explain_stop_by_mpirun */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static int cmd_run(int argc, char **argv, mode m) {
  for (int i = 0; m == MODE_RUN && i < argc; ++i)
    if (strcmp(argv[i], "-m") == 0 || strcmp(argv[i], "--multirun") == 0) {
      if (npde_comm_size() > 1) {
        fprintf(stderr, "npde: error: sweeps (-m) run one process per run: start them without mpirun, or run "
                        "each configuration under mpirun\n");
        return EXIT_USAGE;
      }
      return cli_cmd_sweep(argc, argv);
    }
  npde_registry *reg = NULL;
  npde_pipeline *pl = NULL;
  bool print = false;
  const char *dir = NULL;
  int code = prepare(argc, argv, m, &reg, &pl, &print, &dir);
  if (code == 0 && m == MODE_CHECK) {
    const npde_status st = npde_pipeline_check(pl); /* every component created and destroyed, as a run would */
    if (st != NPDE_OK) code = cli_fail(st, cli_exit_code_for(st));
  }
  if (code == 0 && m == MODE_CHECK) {
    const npde_config *cfg = npde_pipeline_config(pl);
    if (print) {
      char *text = NULL;
      if (npde_config_to_yaml(cfg, &text) == NPDE_OK) fputs(text, stdout);
      free(text);
    }
    npde_log(NPDE_LOG_INFO, "%s: configuration is valid (%zu stages, backend '%s')", argv[0],
             npde_config_size(npde_config_get(cfg, "stages")),
             npde_config_scalar(npde_config_find(cfg, "backend.type")));
  } else if (code == 0) {
    explain_stop_by_mpirun(pl);
    stop_on_signals();
    const char *out = m == MODE_RESUME ? dir : npde_config_scalar(npde_config_get(npde_pipeline_config(pl), "output"));
    if (out && strcmp(out, "~") != 0)
      snprintf(checkpoint_note, sizeof checkpoint_note, "npde: %s/checkpoint.npz holds the last checkpoint the run "
               "wrote, if any: `npde resume %s` continues from it\n", out, out);
    npde_status st = m == MODE_RESUME ? npde_pipeline_resume(pl, dir) : npde_pipeline_run(pl);
    if (st == NPDE_ERR_INTERRUPTED) code = cli_fail(st, 128 + (stop_signal ? stop_signal : SIGINT));
    else if (st != NPDE_OK) code = cli_fail(st, cli_exit_code_for(st) == EXIT_USAGE ? EXIT_USAGE : EXIT_RUN_FAILURE);
  }
  npde_pipeline_destroy(&pl);
  npde_registry_destroy(&reg);
  return code;
}

static void print_param(const npde_param_spec *p) {
  static const char *const type_names[] = {"real", "int", "bool", "string", "enum", "real list", "int list", "any"};
  const char *type = (unsigned)p->type < 8 ? type_names[p->type] : "?";
  char range[128] = "";
  if ((p->flags & NPDE_PARAM_HAS_MIN) && (p->flags & NPDE_PARAM_HAS_MAX))
    snprintf(range, sizeof range, " in [%g, %g]", p->min, p->max);
  else if (p->flags & NPDE_PARAM_HAS_MIN) snprintf(range, sizeof range, " >= %g", p->min);
  else if (p->flags & NPDE_PARAM_HAS_MAX) snprintf(range, sizeof range, " <= %g", p->max);
  const char *def = p->default_value ? p->default_value : (p->flags & NPDE_PARAM_OPTIONAL) ? "(optional)" : "(required)";
  printf("  %-14s %-9s default %-12s%s%s%s\n", p->name, type, def, range, p->choices ? " one of " : "",
         p->choices ? p->choices : "");
  if (p->doc) printf("  %-14s %s\n", "", p->doc);
}

static int cmd_plugins(int argc, char **argv) {
  npde_registry *reg = NULL;
  npde_status st = load_registry(&reg);
  if (st != NPDE_OK) {
    npde_registry_destroy(&reg);
    return cli_fail(st, EXIT_USAGE);
  }
  int code = 0;
  if (argc == 0) {
    printf("plugin directory: %s\n", npde_registry_default_dir());
    printf("%-11s %-16s %-9s %-12s %s\n", "KIND", "NAME", "VERSION", "PLUGIN", "FILE");
    for (size_t i = 0; i < npde_registry_count(reg); ++i) {
      const npde_component_info *c = npde_registry_at(reg, i);
      printf("%-11s %-16s %-9s %-12s %s\n", npde_kind_name(c->desc->kind), c->desc->name, c->plugin->version,
             c->plugin->name, c->file);
    }
    printf("stages (built in; `npde plugins show NAME` lists their keys): %s\n", npde_stage_names());
  } else if (argc == 2 && strcmp(argv[0], "show") == 0) {
    const char *name = argv[1];
    const char *slash = strchr(name, '/');
    const npde_component_info *c = NULL;
    if (slash) {
      for (int k = 0; k < NPDE_KIND_COUNT && !c; ++k)
        if (strncmp(name, npde_kind_name((npde_kind)k), (size_t)(slash - name)) == 0 &&
            strlen(npde_kind_name((npde_kind)k)) == (size_t)(slash - name))
          c = npde_registry_find(reg, (npde_kind)k, slash + 1);
    } else {
      c = npde_registry_find_any(reg, name);
    }
    const char *summary = NULL;
    const npde_param_spec *stage = c ? NULL : npde_stage_params(slash && !strncmp(name, "stage/", 6) ? slash + 1 : name,
                                                                  &summary);
    if (stage) {
      printf("stage '%s': %s\n(built in; a pipeline's `stages:` entry, e.g. `- %s: {...}`; override one key with "
             "stages.%s.KEY=VALUE)\nparameters:\n", slash ? slash + 1 : name, summary ? summary : "",
             slash ? slash + 1 : name, slash ? slash + 1 : name);
      for (const npde_param_spec *p = stage; p->name; ++p) print_param(p);
    } else if (!c) {
      fprintf(stderr, "npde: error: no component or stage named '%s'; `npde plugins` lists them (stages: %s)\n", name,
              npde_stage_names());
      code = EXIT_USAGE;
    } else {
      printf("%s '%s': %s\n", npde_kind_name(c->desc->kind), c->desc->name, c->desc->summary ? c->desc->summary : "");
      printf("plugin %s %s (%s), ABI %u.%u, %s\n  %s\n", c->plugin->name, c->plugin->version, c->plugin->license,
             c->plugin->abi_major, c->plugin->abi_minor, c->file, c->plugin->description);
      printf("parameters:\n");
      int n = 0;
      for (const npde_param_spec *p = c->desc->params; p && p->name; ++p, ++n) print_param(p);
      if (!n) printf("  (none)\n");
    }
  } else {
    fprintf(stderr, "npde: error: usage: npde plugins [show NAME]\n");
    code = EXIT_USAGE;
  }
  npde_registry_destroy(&reg);
  return code;
}

/* After a failure on one rank of several: stop them all (the others may wait in a reduction). A rank other
 * than 0 gives rank 0 a moment first: when the failure is everyone's (a diverging run), rank 0 is writing
 * the last good checkpoint and stops the run itself. */
static int finish(int code) {
  if (npde_comm_size() > 1 && code != 0) {
    if (npde_comm_rank() != 0) sleep(5);
    npde_comm_abort(code);
  }
  npde_comm_finalize();
  return code;
}

static int run_command(int argc, char **argv);

/* A fatal signal (a plugin that crashes, say): say where it happened and what is kept, then let the signal do what it
 * did before (the default, or a sanitizer's report). Only write() in here. */
static const int fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
static struct sigaction previous_action[sizeof fatal_signals / sizeof fatal_signals[0]];

static void say(const char *text) {
  ssize_t ignored = write(STDERR_FILENO, text, strlen(text));
  (void)ignored;
}

static void on_fatal_signal(int sig) {
  say(sig == SIGSEGV ? "\nnpde: fatal signal SIGSEGV (invalid memory access)\n"
      : sig == SIGBUS ? "\nnpde: fatal signal SIGBUS (bus error: a file mapped past its end?)\n"
      : sig == SIGFPE ? "\nnpde: fatal signal SIGFPE (arithmetic exception)\n"
      : sig == SIGILL ? "\nnpde: fatal signal SIGILL (an instruction this CPU lacks?)\n"
                      : "\nnpde: fatal signal SIGABRT (abort)\n");
  npde_write_current_operation(STDERR_FILENO);
  say(checkpoint_note);
  for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; ++i)
    if (fatal_signals[i] == sig) sigaction(sig, &previous_action[i], NULL);
  raise(sig);
}

static void explain_fatal_signals(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sa.sa_flags = SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof fatal_signals / sizeof fatal_signals[0]; ++i)
    sigaction(fatal_signals[i], &sa, &previous_action[i]);
}

int main(int argc, char **argv) {
  cli_prepare_environment(argv);
  explain_fatal_signals();
  if (npde_comm_init(&argc, &argv) != NPDE_OK) return cli_fail(NPDE_ERR_IO, EXIT_RUN_FAILURE);
  return finish(run_command(argc, argv));
}

static int run_command(int argc, char **argv) {
  int verbosity = NPDE_LOG_INFO;
  int i = 1;
  for (; i < argc && argv[i][0] == '-'; ++i) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage, stdout); return 0; }
    if (!strcmp(a, "--version")) {
      printf("npde %s (plugin ABI %d.%d)\n", NPDE_VERSION_STRING, NPDE_ABI_MAJOR, NPDE_ABI_MINOR);
      return 0;
    }
    if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) { ++verbosity; continue; }
    if (!strcmp(a, "-vv")) { verbosity += 2; continue; }
    if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { verbosity = NPDE_LOG_ERROR; continue; }
    fprintf(stderr, "npde: error: unknown option '%s'\n%s", a, usage);
    return EXIT_USAGE;
  }
  npde_log_set_level(verbosity > NPDE_LOG_DEBUG ? NPDE_LOG_DEBUG : (npde_log_level)verbosity);
  if (npde_comm_rank() != 0 && verbosity < NPDE_LOG_DEBUG) npde_log_set_level(NPDE_LOG_WARN); /* rank 0 reports */
  cli_report_environment();
  if (i >= argc) { fputs(usage, stderr); return EXIT_USAGE; }
  const char *cmd = argv[i++];
  if (npde_comm_size() > 1 && strcmp(cmd, "run") != 0 && strcmp(cmd, "resume") != 0) {
    if (npde_comm_rank() == 0)
      fprintf(stderr, "npde: error: '%s' runs on one process; only run and resume are data-parallel: start it "
              "without mpirun\n", cmd);
    return EXIT_USAGE;
  }
  if (!strcmp(cmd, "run")) return cmd_run(argc - i, argv + i, MODE_RUN);
  if (!strcmp(cmd, "check")) return cmd_run(argc - i, argv + i, MODE_CHECK);
  if (!strcmp(cmd, "resume")) return cmd_run(argc - i, argv + i, MODE_RESUME);
  if (!strcmp(cmd, "plugins")) return cmd_plugins(argc - i, argv + i);
  if (!strcmp(cmd, "plot")) return cli_cmd_plot(argc - i, argv + i);
  if (!strcmp(cmd, "eval")) return cli_cmd_eval(argc - i, argv + i);
  if (!strcmp(cmd, "help")) { fputs(usage, stdout); return 0; }
  fprintf(stderr, "npde: error: unknown command '%s'; commands: run, check, resume, eval, plot, plugins\n", cmd);
  return EXIT_USAGE;
}
