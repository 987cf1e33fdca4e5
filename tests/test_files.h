/* Whole-file helpers the tests share (include after <criterion/criterion.h>). */
#ifndef NPDE_TEST_FILES_H
#define NPDE_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>

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

#endif
