/* Private to the npde command: one file per command family. */
#ifndef NPDE_CLI_H
#define NPDE_CLI_H

#include "npde/npde.h"

enum { EXIT_RUN_FAILURE = 1, EXIT_USAGE = 2 };

/* Print "npde: error: <last error>" and return code. */
int cli_fail(npde_status st, int code);
/* The exit code of a failed status: configuration problems 2, others 1. */
int cli_exit_code_for(npde_status st);

/* Before anything else (environment.c): set what the libraries read when they load (mpirun's thread counts,
 * OpenBLAS's kernel where it fell back to a generic one) and run the program again if anything was set. */
void cli_prepare_environment(char **argv);
/* Say, once logging is set up, what cli_prepare_environment set. */
void cli_report_environment(void);

/* runs/STEM<suffix>-DATE-TIME for the config at path (name: or the file's stem), unique. */
/* `npde run` argument handling (CONFIG, overrides, --no-output) up to a created pipeline; 0 or an exit code. */
int cli_prepare_run(int argc, char **argv, npde_registry **reg, npde_pipeline **pl);

/* npde run CONFIG -m ... (cmd_sweep.c) */
int cli_cmd_sweep(int argc, char **argv);
/* npde eval RUNDIR ... (cmd_eval.c) */
int cli_cmd_eval(int argc, char **argv);
/* npde plot RUNDIR [options] (cmd_plot.c) */
int cli_cmd_plot(int argc, char **argv);

#endif
