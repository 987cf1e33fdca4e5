/* Status strings and the thread-local error message (logging: log.c). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "npde/npde_error.h"
#include "npde/npde_log.h"

#define NPDE__MSG_CAP 4096

static _Thread_local char last_message[NPDE__MSG_CAP];

const char *npde_status_str(npde_status st) {
  switch (st) {
#define NPDE__STATUS_CASE(name, value, text) case name: return text;
    NPDE_STATUS_LIST(NPDE__STATUS_CASE)
#undef NPDE__STATUS_CASE
  }
  return "unknown status";
}

const char *npde_last_error(void) { return last_message; }

void npde_clear_error(void) { last_message[0] = '\0'; }

npde_status npde_set_error(npde_status st, const char *file, int line, const char *fmt, ...) {
  (void)file; (void)line; /* the location goes into the traceback, not the message */
  char buf[NPDE__MSG_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  memcpy(last_message, buf, sizeof buf);
  return st;
}

npde_status npde_trace_error(npde_status st, const char *func, const char *file, int line) {
  if (npde_log_get_level() >= NPDE_LOG_DEBUG) {
    size_t used = strlen(last_message);
    const char *base = strrchr(file, '/');
    snprintf(last_message + used, sizeof last_message - used, "\n  <- %s (%s:%d)", func, base ? base + 1 : file, line);
  }
  return st;
}
