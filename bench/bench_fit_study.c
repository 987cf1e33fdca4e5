/* The wave-packet fitting study of the Neural IVP paper (docs/methods/neural-ivp.md §7.2, Fig. 2):
 * relative L2 error of the fitted initial condition for frequencies
 * f in {1, 2, 4, 8}, for the EDNN network (tanh 4 x 30 on raw x), the same
 * with the sinusoidal embedding, with head tuning added, and for three widths
 * of the paper network. Every run is a whole pipeline (pde wave 3D, initial
 * packet; network; fit stage), so the figures are what `npde run` gives.
 *
 *   bench_fit_study [--epochs E] [--batch B] [--freqs 1,2,4,8]
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "npde/npde.h"

typedef struct variant {
  const char *label;
  const char *layers;
  bool head;
} variant;

static double run_fit(npde_registry *reg, const char *layers, bool head, int f, int epochs, int batch, double *secs) {
  char yaml[2048];
  snprintf(yaml, sizeof yaml,
           "seed: 0\n"
           "pde: {type: wave, dim: 3, initial: packet, frequency: %d}\n"
           "network: {envelope: dirichlet, outputs: 2, layers: %s}\n"
           "stages:\n"
           "  - fit: {epochs: %d, lr: 3e-3, batch: %d, decay: cosine, head_tuning: %s, head_points: 50000, "
           "eval_points: 10000, log_every: 1e9}\n",
           f, layers, epochs, batch, head ? "true" : "false");
  npde_config *cfg = NULL;
  npde_pipeline *pl = NULL;
  double err = -1;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (npde_config_load_string(yaml, "fit-study.yaml", &cfg) != NPDE_OK || npde_pipeline_create(reg, cfg, &pl) != NPDE_OK ||
      npde_pipeline_run(pl) != NPDE_OK || npde_pipeline_metric(pl, "fit.rel_error", &err) != NPDE_OK) {
    fprintf(stderr, "bench_fit_study: %s\n", npde_last_error());
    err = -1;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  *secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
  npde_pipeline_destroy(&pl);
  npde_config_destroy(&cfg);
  return err;
}

int main(int argc, char **argv) {
  int epochs = 2000, batch = 1000, freqs[8] = {1, 2, 4, 8}, nf = 4;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--epochs") && i + 1 < argc) epochs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--freqs") && i + 1 < argc) {
      nf = 0;
      for (char *t = strtok(argv[++i], ","); t && nf < 8; t = strtok(NULL, ",")) freqs[nf++] = atoi(t);
    } else {
      fprintf(stderr, "usage: bench_fit_study [--epochs E] [--batch B] [--freqs 1,2,4,8]\n");
      return 2;
    }
  }
  npde_log_set_level(NPDE_LOG_WARN);
  npde_registry *reg;
  if (npde_registry_create(&reg) != NPDE_OK || npde_registry_load_defaults(reg) != NPDE_OK) {
    fprintf(stderr, "bench_fit_study: %s\n", npde_last_error());
    return 1;
  }
  static const variant variants[] = {
      {"EDNN (tanh 4x30, raw x)", "[{type: mlp, width: 30, depth: 4, activation: tanh}]", false},
      {"+ embedding (L=5, swish 4x30)", "[{type: sinusoidal, frequencies: 5}, {type: mlp, width: 30, depth: 4}]",
       false},
      {"+ head tuning", "[{type: sinusoidal, frequencies: 5}, {type: mlp, width: 30, depth: 4}]", true},
      {"paper net, width 50", "[{type: sinusoidal, frequencies: 5}, {type: mlp, width: 50, depth: 3}]", true},
      {"paper net, width 100", "[{type: sinusoidal, frequencies: 5}, {type: mlp, width: 100, depth: 3}]", true},
      {"paper net, width 200", "[{type: sinusoidal, frequencies: 5}, {type: mlp, width: 200, depth: 3}]", true},
  };
  printf("bench_fit_study: 3D wave packet (docs/methods/neural-ivp.md §7.2, s1 = 0.15, s2 = 0.25), relative L2 "
         "error of the fitted IC on "
         "10 000 held-out points\n");
  printf("Adam %d epochs, batch %d, lr 3e-3 cosine; head tuning on 50 000 points; %s; OpenBLAS %s\n\n", epochs, batch,
         "2 outputs (phi, phi_t = 0)", openblas_get_config());
  printf("| network | p |");
  for (int k = 0; k < nf; ++k) printf(" f = %d |", freqs[k]);
  printf(" s/run |\n|---|---|");
  for (int k = 0; k < nf; ++k) printf("---|");
  printf("---|\n");
  for (size_t v = 0; v < sizeof variants / sizeof variants[0]; ++v) {
    char yaml[512];
    snprintf(yaml, sizeof yaml, "{envelope: dirichlet, outputs: 2, layers: %s}", variants[v].layers);
    npde_config *nc = NULL;
    npde_backend *be = NULL;
    npde_network *net = NULL;
    long long p = 0;
    if (npde_config_load_string(yaml, "net", &nc) == NPDE_OK && npde_backend_create(reg, "cpu", NULL, &be) == NPDE_OK &&
        npde_network_create(reg, nc, be, 3, &net) == NPDE_OK)
      p = (long long)npde_network_n_params(net);
    npde_network_destroy(&net);
    npde_backend_destroy(&be);
    npde_config_destroy(&nc);
    printf("| %s | %lld |", variants[v].label, p);
    fflush(stdout);
    double total = 0;
    for (int k = 0; k < nf; ++k) {
      double secs;
      double err = run_fit(reg, variants[v].layers, variants[v].head, freqs[k], epochs, batch, &secs);
      total += secs;
      printf(" %.2e |", err);
      fflush(stdout);
    }
    printf(" %.0f |\n", total / nf);
  }
  npde_registry_destroy(&reg);
  return 0;
}
