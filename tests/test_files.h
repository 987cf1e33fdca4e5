/* Whole-file helpers the tests share (include after <criterion/criterion.h>). */
#ifndef NPDE_TEST_FILES_H
#define NPDE_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>

#include "npde/npde_log.h"
#include "npde/npde_registry.h"

/* The file's bytes, NUL-terminated (malloc'ed; *size: their count), or NULL if it cannot be opened. */
static inline char *test_slurp(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = '\0';
  fclose(f);
  if (size) *size = got;
  return buf;
}

/* Write text to path (the test fails if it cannot). */
static inline void test_write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

/* A suite's fixture: the default registry and a fresh directory /tmp/npde-NAME-XXXXXX (removed again by
 * test_run_fixture_end). */
static inline void test_run_fixture_begin(npde_registry **reg, char *tmp, size_t size, const char *name) {
  npde_log_set_level(NPDE_LOG_WARN);
  cr_assert_eq(npde_registry_create(reg), NPDE_OK);
  cr_assert_eq(npde_registry_load_defaults(*reg), NPDE_OK, "%s", npde_last_error());
  snprintf(tmp, size, "/tmp/npde-%s-XXXXXX", name);
  cr_assert_not_null(mkdtemp(tmp));
}

static inline void test_run_fixture_end(npde_registry **reg, const char *tmp) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  cr_expect_eq(system(cmd), 0);
  npde_registry_destroy(reg);
}

#endif
