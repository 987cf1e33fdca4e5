/* Logging: one sink (stderr), an optional copy into the run's log file, and
 * a live progress line when stderr is a terminal. The level quiets the
 * terminal only: the log file always gets every line up to info (and debug
 * lines when the level lets them through), so a quiet run keeps its record. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log_impl.h"

#define LOG_CAP 4096

static npde_log_level threshold = NPDE_LOG_INFO;
static FILE *tee;
static bool progress_shown;
static int rank; /* set by the communicator (comm.c): lines of other ranks say whose they are */

void npde__log_set_rank(int r) { rank = r; }

void npde_log_set_level(npde_log_level lvl) { threshold = lvl; }
npde_log_level npde_log_get_level(void) { return threshold; }

void npde__log_tee(FILE *f) { tee = f; }

static void write_tee(const char *prefix, const char *line) {
  if (!tee) return;
  char stamp[32];
  time_t now = time(NULL);
  struct tm tm;
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", localtime_r(&now, &tm));
  fprintf(tee, "%s %s%s\n", stamp, prefix, line);
  fflush(tee); /* a killed run keeps its log up to the last line */
}

static void clear_progress(void) {
  if (!progress_shown) return;
  fputs("\r\033[K", stderr);
  progress_shown = false;
}

void npde_log(npde_log_level lvl, const char *fmt, ...) {
  const bool to_terminal = lvl <= threshold;
  const bool to_file = tee && (lvl <= NPDE_LOG_INFO || lvl <= threshold);
  if (!to_terminal && !to_file) return;
  static const char *const prefix[] = {"error: ", "warning: ", "", "debug: "};
  char buf[LOG_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (to_terminal) {
    clear_progress();
    if (rank != 0) fprintf(stderr, "rank %d: %s%s\n", rank, prefix[lvl], buf);
    else fprintf(stderr, "%s%s\n", prefix[lvl], buf);
  }
  if (to_file) write_tee(prefix[lvl], buf);
}

bool npde__log_live(void) {
  static int tty = -1;
  if (tty < 0) {
    const char *env = getenv("NPDE_PROGRESS");
    tty = isatty(STDERR_FILENO) && !(env && strcmp(env, "0") == 0);
  }
  return tty && threshold >= NPDE_LOG_INFO;
}

void npde__log_progress(const char *fmt, ...) {
  if (!npde__log_live()) return;
  char buf[LOG_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\r%s\033[K", buf);
  fflush(stderr);
  progress_shown = true;
}

void npde__log_progress_end(void) {
  clear_progress();
  fflush(stderr);
}

void npde__log_file(const char *fmt, ...) {
  if (!tee) return;
  char buf[LOG_CAP];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  write_tee("", buf);
}
