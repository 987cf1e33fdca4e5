/**
 * Status codes and the thread-local error message.
 *
 * Every fallible npde call returns an npde_status: 0 on success, a positive
 * value for a recoverable outcome, a negative value for a fatal one. The
 * detail of the last failure on this thread is read with npde_last_error().
 */
#ifndef NPDE_ERROR_H
#define NPDE_ERROR_H

#include "npde_export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NPDE_STATUS_LIST(X)                                                     \
  X(NPDE_OK, 0, "success")                                                      \
  X(NPDE_NOT_CONVERGED, 1, "iteration did not converge (recoverable)")          \
  X(NPDE_STEP_REJECTED, 2, "step rejected; retry with smaller dt")              \
  X(NPDE_ERR_NOMEM, -1, "out of memory")                                        \
  X(NPDE_ERR_INVALID_ARG, -2, "invalid argument")                               \
  X(NPDE_ERR_NOT_IMPLEMENTED, -3, "operation not provided by this component")   \
  X(NPDE_ERR_ABI, -4, "plugin ABI mismatch")                                    \
  X(NPDE_ERR_DEVICE, -5, "compute device error")                                \
  X(NPDE_ERR_CONFIG, -6, "invalid pipeline configuration")                      \
  X(NPDE_ERR_IO, -7, "file input/output error")                                 \
  X(NPDE_ERR_PLUGIN, -8, "plugin could not be loaded")                          \
  X(NPDE_ERR_NOT_FOUND, -9, "no such component")                                \
  X(NPDE_ERR_NUMERIC, -10, "numerical failure (NaN, divergence, breakdown)")   \
  X(NPDE_ERR_INTERRUPTED, -11, "stopped on request (a checkpoint was written)")  \
  X(NPDE_ERR_NO_RETRY, -12, "numerical failure that a retry or a smaller step cannot cure")

typedef enum npde_status {
#define NPDE__STATUS_ENUM(name, value, text) name = value,
  NPDE_STATUS_LIST(NPDE__STATUS_ENUM)
#undef NPDE__STATUS_ENUM
} npde_status;

#if defined(__GNUC__) || defined(__clang__)
#define NPDE_NODISCARD __attribute__((warn_unused_result))
#define NPDE_PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define NPDE_NODISCARD
#define NPDE_PRINTF(fmt_index, first_arg)
#endif

/** Static description of a status code; never NULL. Since: ABI 1.0 */
NPDE_API const char *npde_status_str(npde_status st);

/**
 * The message of the last error raised on this thread. Borrowed: valid until
 * the next npde call on the same thread. Empty string when none.
 * Since: ABI 1.0
 */
NPDE_API const char *npde_last_error(void);

/** Forget the last error of this thread. Since: ABI 1.0 */
NPDE_API void npde_clear_error(void);

/**
 * Record an error message for this thread and return st, so that callers
 * write `return NPDE_ERROR(NPDE_ERR_INVALID_ARG, "rtol=%g must be > 0", r);`.
 * Plugins reach it through the host table (npde_ext.h). Since: ABI 1.0
 */
NPDE_API npde_status npde_set_error(npde_status st, const char *file, int line,
                                    const char *fmt, ...) NPDE_PRINTF(4, 5);

/** Append " <- func (file:line)" to the current message; returns st. Since: ABI 1.0 */
NPDE_API npde_status npde_trace_error(npde_status st, const char *func,
                                      const char *file, int line);

#define NPDE_ERROR(st, ...) npde_set_error((st), __FILE__, __LINE__, __VA_ARGS__)

/** Propagate a fatal status (< 0) from a call, adding a traceback line. */
#define NPDE_TRY(call)                                                          \
  do {                                                                          \
    npde_status npde__st = (call);                                              \
    if (npde__st < 0)                                                           \
      return npde_trace_error(npde__st, __func__, __FILE__, __LINE__);          \
  } while (0)

#ifdef __cplusplus
}
#endif
#endif
