/** Logging: one sink owned by the core, levels filtered there. */
#ifndef NPDE_LOG_H
#define NPDE_LOG_H

#include "npde_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum npde_log_level {
  NPDE_LOG_ERROR = 0,
  NPDE_LOG_WARN = 1,
  NPDE_LOG_INFO = 2,
  NPDE_LOG_DEBUG = 3
} npde_log_level;

/** Print a line (a newline is added) if lvl passes the current threshold. Since: ABI 1.0 */
NPDE_API void npde_log(npde_log_level lvl, const char *fmt, ...) NPDE_PRINTF(2, 3);

/** Messages above lvl are not printed to the terminal (stderr). Default NPDE_LOG_INFO. A run's log.txt still
 * gets every message up to info (and debug ones when lvl lets them through). Since: ABI 1.0 */
NPDE_API void npde_log_set_level(npde_log_level lvl);
NPDE_API npde_log_level npde_log_get_level(void);

#ifdef __cplusplus
}
#endif
#endif
