/* Kernel-internal, exported for the run engine and methods: where log lines go besides stderr (a run's log file), and the
 * live progress line on a terminal. */
#ifndef NPDE_LOG_IMPL_H
#define NPDE_LOG_IMPL_H

#include <stdbool.h>
#include <stdio.h>

#include "npde/npde_log.h"

/* Also write every line that passes the threshold to f, time-stamped
 * (NULL: stop). The caller keeps f open while it is set. */
NPDE_API void npde__log_tee(FILE *f);

/* The rank that log lines name (0: none); the communicator sets it. */
NPDE_API void npde__log_set_rank(int rank);

/* True when stderr is a terminal that shows a live progress line (INFO
 * level, and NPDE_PROGRESS is not "0"). */
NPDE_API bool npde__log_live(void);

/* Replace the live progress line (terminals only; see npde__log_live). The
 * next ordinary line clears it first. */
NPDE_API void npde__log_progress(const char *fmt, ...) NPDE_PRINTF(1, 2);

/* Clear the live progress line, if one is shown. */
NPDE_API void npde__log_progress_end(void);

/* An INFO line for the log file only (what a terminal sees as the live line). */
NPDE_API void npde__log_file(const char *fmt, ...) NPDE_PRINTF(1, 2);

#endif
