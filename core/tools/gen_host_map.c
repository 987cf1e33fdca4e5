/* Writes npde/plugin/npde_host_map.h: one `#define npde_<entry> npde_host-><entry>`
 * per entry of NPDE_HOST_API_LIST, in ABI order. The list in npde_plugin.h
 * is the single source of the host table's fields, the core's initialiser
 * (object.c) and these mappings; the preprocessor cannot define macros, so
 * this program, built with the same header, writes them at build time. */
#include <stdio.h>

#include "npde/plugin/npde_plugin.h"

static const char *const entries[] = {
#define NPDE__HOST_NAME(ret, name, args) #name,
    NPDE_HOST_API_LIST(NPDE__HOST_NAME)
#undef NPDE__HOST_NAME
};

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s OUTPUT\n", argv[0]);
    return 2;
  }
  FILE *f = fopen(argv[1], "w");
  if (!f) {
    perror(argv[1]);
    return 1;
  }
  fprintf(f, "/* Generated from NPDE_HOST_API_LIST (npde/plugin/npde_plugin.h) by gen_host_map; do not edit.\n"
             " * Included by npde_ext.h: maps every host entry's npde_ name to the plugin's host table. */\n"
             "#ifndef NPDE_HOST_MAP_H\n#define NPDE_HOST_MAP_H\n\n");
  for (size_t i = 0; i < sizeof entries / sizeof *entries; ++i)
    fprintf(f, "#define npde_%s npde_host->%s\n", entries[i], entries[i]);
  fprintf(f, "\n#endif\n");
  return fclose(f) == 0 ? 0 : 1;
}
