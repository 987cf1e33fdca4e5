#!/bin/sh
# The npde command as a user runs it: exit codes (0 ok, 1 run failure,
# 2 usage or configuration error) and what the messages say.
#   test_cli.sh NPDE SOURCE_DIR FIXTURE_DIR [sanitized|plain]
set -u
npde=$1; src=$2; fixtures=$3; build_kind=${4:-plain}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/npde-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1 # runs/ directories land here
failures=0

# outcome has|lacks CODE "substring" -- command...: the command exits CODE and its output has (or lacks) the substring
outcome() {
  mode=$1; code=$2; text=$3; shift 4
  out=$("$@" 2>&1); got=$?
  if [ "$got" -ne "$code" ]; then
    echo "FAIL: '$*' exited $got, expected $code; output:"; echo "$out"; failures=$((failures + 1)); return
  fi
  case $out in *"$text"*) found=has ;; *) found=lacks ;; esac
  if [ "$found" = "$mode" ]; then echo "ok: $*"
  else echo "FAIL: '$*' output $found '$text':"; echo "$out"; failures=$((failures + 1)); fi
}
expect() { outcome has "$@"; }
refuse() { outcome lacks "$@"; }

demo=$src/configs/probe.yaml
expect 0 "plugin ABI 1.5" -- "$npde" --version
# OpenBLAS's kernel: a user's OPENBLAS_CORETYPE is kept; without one, a CPU with AVX2 never runs a generic SSE
# kernel (OpenBLAS falls back to Prescott on CPU models it does not know, as virtual machines report them)
probe_run() { "$@" run "$demo" stages.0.probe.points=400 stages.0.probe.width=4 --no-output; }
expect 0 "kernel Prescott;" -- probe_run env OPENBLAS_CORETYPE=Prescott "$npde"
refuse 0 "npde set OPENBLAS_CORETYPE" -- probe_run env OPENBLAS_CORETYPE=Prescott "$npde"
if grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo; then
  kernel_line=$(probe_run env -u OPENBLAS_CORETYPE -u NPDE_NO_REEXEC "$npde" 2>&1 | grep "^backend: cpu")
  case $kernel_line in
    *"kernel "*) ;;
    *) echo "FAIL: no backend line with the OpenBLAS kernel: '$kernel_line'"; failures=$((failures + 1)) ;;
  esac
  case $kernel_line in
    *"kernel Prescott;"* | *"kernel Core2;"* | *"kernel Penryn;"* | *"kernel Dunnington;"* | *"kernel Nehalem;"* | \
      *"kernel Atom;"*) echo "FAIL: a generic SSE kernel on a CPU with AVX2: $kernel_line"; failures=$((failures + 1)) ;;
    *) echo "ok: no generic SSE kernel on a CPU with AVX2" ;;
  esac
else
  echo "skip: this CPU lacks AVX2 and FMA: OpenBLAS's generic kernel is the right one"
fi
# -q quiets the terminal only: log.txt keeps every info line
"$npde" -q run "$demo" stages.0.probe.points=4000 stages.0.probe.width=8 "output=$tmp/quiet" > "$tmp/quiet.out" 2>&1
if [ -s "$tmp/quiet.out" ]; then
  echo "FAIL: npde -q run printed:"; cat "$tmp/quiet.out"; failures=$((failures + 1))
elif ! grep -q "stage 1/1: probe" "$tmp/quiet/log.txt" || ! grep -q "backend: cpu" "$tmp/quiet/log.txt"; then
  echo "FAIL: log.txt of a quiet run lacks its info lines:"; cat "$tmp/quiet/log.txt"; failures=$((failures + 1))
else
  echo "ok: npde -q run: nothing on the terminal, every info line in log.txt"
fi
# a resume removes the temporary files a killed process left (not those of a live one)
touch "$tmp/quiet/checkpoint.npz.tmp.999999999" "$tmp/quiet/results.npz.tmp.$$"
expect 0 "removed 1 temporary file an earlier, killed process left" -- "$npde" resume "$tmp/quiet"
if [ -e "$tmp/quiet/checkpoint.npz.tmp.999999999" ] || [ ! -e "$tmp/quiet/results.npz.tmp.$$" ]; then
  echo "FAIL: the stale temporary file survived, or a live process's was removed"; failures=$((failures + 1))
else
  echo "ok: stale temporaries removed, a live process's kept"
fi
# every "exact" is checked before errors are reported against it
heat_sine=$src/configs/gallery/heat-sine.yaml
expect 0 "against the exact solution" -- "$npde" run "$heat_sine" --no-output 'stages=[{eval: {grid: [5, 5]}}]'
expect 0 "exact solution checked: max |u_t - rhs|" -- "$npde" run "$heat_sine" --no-output \
  'stages=[{eval: {grid: [5, 5]}}]'
# the decay rate of the 1D mode: not a solution of the 2D heat equation
expect 0 "the exact solution does not satisfy the PDE" -- "$npde" run "$heat_sine" --no-output \
  'stages=[{eval: {grid: [5, 5]}}]' 'pde.exact=[exp(-D*pi^2/4*t)*sin(pi*(x+1)/2)*sin(pi*(y+1)/2)]'
expect 0 "against the reference" -- "$npde" run "$heat_sine" --no-output \
  'stages=[{eval: {grid: [5, 5]}}]' 'pde.exact=[exp(-D*pi^2/4*t)*sin(pi*(x+1)/2)*sin(pi*(y+1)/2)]'
# the free-space Gaussian (s = 0.25) solves the heat equation but is not zero on the faces the network holds at zero
expect 0 "the exact solution does not meet the boundary condition (dirichlet u = 0 on axis 1" -- "$npde" run "$src/configs/demo.yaml" --no-output \
  'stages=[{eval: {grid: [5, 5]}}]' 'pde.exact=[exp(-(x^2+y^2)/(2*(0.0625+0.1*t)))/(2*pi*(0.0625+0.1*t))]'
expect 0 "exact solution checked" -- "$npde" run "$src/configs/demo.yaml" --no-output 'stages=[{eval: {grid: [5, 5]}}]'
# boundary: per axis and dirichlet: values: the check holds u = g on Dirichlet faces, u(lo) = u(hi) across periodic ones
periodic=$src/configs/gallery/advection-periodic.yaml lifted=$src/configs/gallery/heat-dirichlet.yaml
expect 0 "and the boundary condition" -- "$npde" run "$periodic" --no-output 'stages=[{eval: {grid: [5, 5]}}]'
expect 0 "and the boundary condition" -- "$npde" run "$lifted" --no-output 'stages=[{eval: {grid: [5, 5]}}]'
# a solution of the PDE with twice the period: not periodic on [0, 2 pi)
expect 0 "does not meet the boundary condition (periodic on axis 1, dirichlet u = 0 on axis 2)" -- "$npde" run \
  "$periodic" --no-output 'stages=[{eval: {grid: [5, 5]}}]' 'pde.exact=[sin((x - c*t)/2)*sin(pi*y)*exp(-D*pi^2*t)]'
# face values without their time dependence: the exact solution is not u = g on the faces
expect 0 "does not meet the boundary condition (dirichlet u = g on axis 1" -- "$npde" run "$lifted" --no-output \
  'stages=[{eval: {grid: [5, 5]}}]' 'pde.dirichlet=[cos(y) + x]'
# failures that say why and what to change: NaN from the PDE stops at once, naming the expression, how many points
# and t; a linear solve that keeps missing its tolerance stops after cg_retries attempts with the settings that help
expect 1 "is NaN or Inf at 2000 of 2000 points" -- "$npde" run "$src/configs/gallery/allen-cahn.yaml" --no-output \
  'stages=[{fit: {epochs: 50}}, {evolve: {t_end: 0.1}}]' "pde.rhs=['eps^2*lap_u + log(u - 2)']"
expect 1 "evolve stopped at t = 0, before its first accepted step" -- "$npde" run \
  "$src/configs/gallery/allen-cahn.yaml" --no-output 'stages=[{fit: {epochs: 50}}, {evolve: {t_end: 0.1}}]' \
  "pde.rhs=['eps^2*lap_u + log(u - 2)']"
expect 1 "missed its tolerance in 4 step attempts in a row" -- "$npde" run "$src/configs/demo.yaml" --no-output \
  'stages=[{fit: {epochs: 50}}, {evolve: {t_end: 0.1}}]' linsolver.max_iters=2
expect 1 "Settings that help: linsolver.max_iters (now 2), precond.rank (now 50)" -- "$npde" run \
  "$src/configs/demo.yaml" --no-output 'stages=[{fit: {epochs: 50}}, {evolve: {t_end: 0.1}}]' linsolver.max_iters=2
# NBM training that diverges stops (exit 1) keeping the last good epoch, and says what to change
expect 1 "the loss diverges at epoch 2" -- "$npde" run "$src/configs/nbm-sphere.yaml" --no-output \
  'stages=[{train: {n: 8, epochs: 200, lr: 1e8, clip: 0}}]'
expect 1 "Lower train.lr (now 1e+08), set train.clip (now 0" -- "$npde" run "$src/configs/nbm-sphere.yaml" \
  --no-output 'stages=[{train: {n: 8, epochs: 200, lr: 1e8, clip: 0}}]'
# the shipped Gauss-Newton configs: every CG solve of their first 20 epochs converges (without its preconditioner
# the star's stop at 300 iterations from epoch 9 on: 14 of them)
if [ "$build_kind" = sanitized ]; then echo "skip: the Gauss-Newton convergence runs (an accuracy check: plain build)"
else
  for gn in nbm-star gallery/nbm-helmholtz; do
    refuse 0 "not converged" -- "$npde" run "$src/configs/$gn.yaml" --no-output plots=false \
      'stages=[{train: {n: 16, epochs: 20, optimizer: gauss-newton}}]'
  done
fi
# a plugin that crashes in create: the command names the component, its file and the call before the signal ends it;
# one that fails without a message is reported with its name
printf 'linsolver: {type: fixture-crash, how: segv}\nstages: [{probe: {points: 100}}]\n' > "$tmp/crash.yaml"
for how in segv abort; do
  out=$(NPDE_PLUGIN_PATH="$fixtures/crash" "$npde" run "$tmp/crash.yaml" "output=$tmp/crashed" "linsolver.how=$how" 2>&1)
  got=$?
  case $out in
    *"it happened in linsolver 'fixture-crash' from "*"npde_fixture_crash.so, in create"*"$tmp/crashed/checkpoint.npz"*)
      if [ "$got" -ne 0 ]; then echo "ok: a crash in create ($how) is explained"
      else echo "FAIL: a crash in create ($how) exited 0"; failures=$((failures + 1)); fi ;;
    *) echo "FAIL: a crash in create ($how), exit $got, is not explained:"; echo "$out"; failures=$((failures + 1)) ;;
  esac
done
expect 1 "linsolver 'fixture-crash' (plugin " -- env NPDE_PLUGIN_PATH="$fixtures/crash" "$npde" run "$tmp/crash.yaml" \
  --no-output linsolver.how=silent
# resume through another relative path to the same directory: no spurious config.1.yaml (only settings count)
"$npde" -q run "$demo" stages.0.probe.points=1000 output=rel/p > /dev/null 2>&1
(cd rel && "$npde" -q resume p > /dev/null 2>&1)
if [ -e rel/p/config.1.yaml ]; then
  echo "FAIL: resuming rel/p as p kept a config.1.yaml"; failures=$((failures + 1))
else echo "ok: a resume by another relative path keeps no config.1.yaml"; fi
# npde check refuses what a run would: it creates every component (and destroys it), and numbers must be finite
expect 2 "'center' has 4 entries; it needs dim = 2" -- "$npde" check "$src/configs/demo.yaml" 'pde.center=[0,0,0,0]'
expect 2 "linsolver (linsolver 'cg'): 'tol' must be a finite number, found .inf" -- "$npde" check \
  "$src/configs/demo.yaml" linsolver.tol=.inf
expect 2 "'t_end' must be a finite number" -- "$npde" check "$src/configs/demo.yaml" 'stages.2.evolve.t_end=.inf'
# ... and what the run's stages would refuse only after the earlier ones ran: sizes the machine cannot hold, a stage
# without the components it needs, an eval grid on axes the pde lacks; a run refuses them before any file is written
expect 2 "samples.n=1e12'>:1:1: evolve: the samples, their jets and linearisation, and the solver's matrices need at \
least" -- "$npde" check "$src/configs/demo.yaml" samples.n=1e12
expect 2 "eval: the grid's points and fields need at least" -- "$npde" check "$src/configs/demo.yaml" \
  'stages.3.eval.grid=[100000,100000]'
expect 2 "evolve.solve_precision: mixed needs an iterative linsolver with a tol (cg); linsolver 'dense' has none" -- \
  "$npde" check "$src/configs/demo.yaml" 'linsolver={type: dense}' stages.evolve.solve_precision=mixed
expect 2 "evolve.sampling: 'type' must be one of uniform|adaptive, found importance" -- "$npde" check \
  "$src/configs/demo.yaml" 'stages.evolve.sampling={type: importance}'
expect 2 "eval: axis 5 is not an input axis (0..1)" -- "$npde" check "$src/configs/demo.yaml" 'stages.3.eval.axes=[5]'
expect 2 "train: the grid and the training points need at least" -- "$npde" check "$src/configs/nbm-sphere.yaml" \
  stages.0.train.n=2048
expect 2 "fit: a batch, the held-out points and the loss history need at least" -- "$npde" check \
  "$src/configs/demo.yaml" stages.1.fit.batch=1e10
test_write_yaml() { printf '%s\n' "$2" > "$tmp/$1.yaml"; }
test_write_yaml nonet 'stages: [{fit: {epochs: 3}}]'
expect 2 "nonet.yaml:1:16: fit: the pipeline has no 'pde:' (the stage needs a 'pde:' and a 'network:')" -- "$npde" check "$tmp/nonet.yaml"
expect 2 "evolve: the pipeline needs an 'integrator:'" -- "$npde" check "$src/configs/demo.yaml" 'integrator=~'
expect 2 "evolve: the samples" -- "$npde" run "$src/configs/demo.yaml" samples.n=1e12 output="$tmp/too-big"
if [ -e "$tmp/too-big" ]; then
  echo "FAIL: a run refused before its stages left $tmp/too-big"; failures=$((failures + 1))
else echo "ok: a run refused before its stages writes nothing"; fi
if "$npde" plugins 2>/dev/null | grep -q "backend.*cuda"; then # built where nvcc is: on a machine without a GPU, noted
  expect 0 "configuration is valid" -- "$npde" check "$src/configs/demo.yaml" backend=cuda
else echo "skip: no cuda backend in this build (nvcc absent)"; fi
# a third-party plugin: the run records it (plugins.txt), so resume and eval find it without NPDE_PLUGIN_PATH; once
# its file is gone, they say which file is missing
mkdir -p "$tmp/thirdparty"
cp "$fixtures/allen-cahn/npde_allen_cahn_in_tree.so" "$tmp/thirdparty/"
NPDE_PLUGIN_PATH="$tmp/thirdparty" "$npde" -q run "$src/examples/third-party-pde/allen-cahn.yaml" "output=$tmp/ac" \
  plots=false 'stages=[{fit: {epochs: 50}}, {evolve: {t_end: 0.005}}]' > /dev/null 2>&1
expect 0 "npde_allen_cahn_in_tree.so" -- cat "$tmp/ac/plugins.txt"
expect 0 "resume: '$tmp/ac' is complete" -- "$npde" resume "$tmp/ac"
/usr/bin/python3 -c "import numpy; numpy.save('$tmp/ac_points.npy', numpy.zeros((3, 2)))" 2>/dev/null
expect 0 "eval: 3 points" -- "$npde" eval "$tmp/ac" --points "$tmp/ac_points.npy" --out "$tmp/ac_u.npy"
rm "$tmp/thirdparty/npde_allen_cahn_in_tree.so"
expect 2 "used plugin 'allen-cahn' 0.1.0 from" -- "$npde" resume "$tmp/ac"
expect 2 "npde_allen_cahn_in_tree.so', which is missing" -- "$npde" eval "$tmp/ac" --points "$tmp/ac_points.npy"
expect 2 "evolve.restarts: unknown key 'bogus'; valid keys: policy, count" -- "$npde" check "$src/configs/demo.yaml" \
  'stages.2.evolve.restarts={policy: none, bogus: 1}'
expect 2 "valid: none, dirichlet, periodic" -- "$npde" check "$periodic" 'pde.boundary=[periodic, sideways]'
expect 2 "needs the sinusoidal embedding as the first layer" -- "$npde" check "$periodic" \
  'network.layers=[{type: mlp, width: 8, depth: 1}]'
# expressions compile at check time, with their place in the file
expect 2 "unknown name 'kapa' at position 1 of 'kapa*x'" -- "$npde" check "$src/configs/demo.yaml" \
  'pde.initial=[kapa*x]'
# stages are shown like components, and an override may name a stage instead of its index when the name is unique
expect 0 "trajectory_every" -- "$npde" plugins show evolve
expect 0 "stage 'fit': Adam on the initial condition" -- "$npde" plugins show stage/fit
expect 0 "stages (built in; \`npde plugins show NAME\` lists their keys): probe, fit, evolve" -- "$npde" plugins
expect 2 "no component or stage named 'bogus'" -- "$npde" plugins show bogus
expect 0 "t_end: 2" -- "$npde" check --print "$src/configs/demo.yaml" stages.evolve.t_end=2
test_write_yaml twice "include: $src/configs/base/defaults.yaml
pde: {type: heat, dim: 2}
stages: [probe, probe]"
test_write_yaml bare "include: $src/configs/base/defaults.yaml
stages: [probe]"
expect 0 "points: 1000" -- "$npde" check --print "$tmp/bare.yaml" 'stages.probe.points=1000'
expect 2 "'train' is not an index of the list at" -- "$npde" check "$src/configs/demo.yaml" stages.train.n=8
expect 2 "more than one entry of the list at" -- "$npde" check "$tmp/twice.yaml" stages.probe.points=100
expect 0 "run CONFIG [key.path=value ...]" -- "$npde" --help
expect 2 "usage: npde" -- "$npde"
expect 2 "unknown command 'bogus'" -- "$npde" bogus
expect 2 "unknown option '--bogus'" -- "$npde" --bogus
expect 0 "probe: gemm" -- "$npde" run "$demo" stages.0.probe.points=4000 stages.0.probe.width=8
expect 0 "configuration is valid" -- "$npde" check "$demo"
expect 0 "max_sigma: 6" -- "$npde" check "$demo" --print
expect 0 "points: 77" -- "$npde" check "$demo" --print stages.0.probe.points=77
expect 2 "cannot open 'missing.yaml'" -- "$npde" run missing.yaml
expect 2 "missing CONFIG" -- "$npde" run
# an override with a misspelt key names the override and the valid keys
expect 2 "<override 'backend.thread=2'>:1:1: backend (backend 'cpu'): unknown key 'thread'; valid keys: threads" \
  -- "$npde" check "$demo" backend.thread=2
expect 2 "override 'seed=': the value is empty" -- "$npde" check "$demo" seed=
expect 2 "'points' = 1 is out of range" -- "$npde" check "$demo" stages.0.probe.points=1
expect 2 "unknown backend type 'gpu'; valid types: cpu" -- "$npde" check "$demo" backend=gpu

printf 'include: %s\nstages:\n  - probe: {points: 1000}\n  - solve: {epochs: 1}\n' "$src/configs/base/defaults.yaml" \
  > "$tmp/bad-stage.yaml"
expect 2 "bad-stage.yaml:4:5: unknown stage 'solve'; valid stages: probe, fit, evolve, train, eval" -- "$npde" run "$tmp/bad-stage.yaml"
printf 'stages: [probe]\nsed: 1\n' > "$tmp/typo.yaml"
expect 2 "typo.yaml:2:1: pipeline: unknown key 'sed'; valid keys: name, seed, dtype" -- "$npde" check "$tmp/typo.yaml"
printf 'stages: [probe\n' > "$tmp/syntax.yaml"
expect 2 "syntax.yaml:2:1: YAML syntax error" -- "$npde" check "$tmp/syntax.yaml"

# a run that fails (the probe's moment check made impossible) exits 1
expect 1 "standard errors from its expectation (limit 1)" -- \
  "$npde" run "$demo" stages.0.probe.points=100000 stages.0.probe.max_sigma=1 seed=1

expect 0 "backend     cpu" -- "$npde" plugins
expect 0 "threads of OpenBLAS" -- "$npde" plugins show cpu
expect 0 "threads of OpenBLAS" -- "$npde" plugins show backend/cpu
expect 2 "no component or stage named 'nosuch'" -- "$npde" plugins show nosuch
expect 2 "plugin path '$tmp/nowhere'" -- env NPDE_PLUGIN_PATH="$tmp/nowhere" "$npde" plugins

# f32 runs through the same backend
expect 0 "in f32" -- "$npde" run "$demo" dtype=f32 stages.0.probe.points=4000 stages.0.probe.width=8

# run directories: runs/NAME-DATE-TIME by default, `output:` when given, none with --no-output
count_runs() { ls -d runs/probe-* 2>/dev/null | wc -l; }
before=$(count_runs)
expect 0 "run directory: runs/probe-" -- "$npde" run "$demo" stages.0.probe.points=4000 stages.0.probe.width=8
[ "$(count_runs)" -eq $((before + 1)) ] || { echo "FAIL: no new runs/probe-* directory"; failures=$((failures + 1)); }
expect 0 "run directory: $tmp/out" -- "$npde" run "$demo" stages.0.probe.points=4000 output="$tmp/out"
for f in config.yaml log.txt results.npz checkpoint.npz; do
  [ -s "$tmp/out/$f" ] || { echo "FAIL: run directory lacks $f"; failures=$((failures + 1)); }
done
# results.npz loads where users load it (numpy), when the system python has numpy
for py in python3 /usr/bin/python3; do
  if $py -c 'import numpy' 2>/dev/null; then
    expect 0 "loaded t (0,)" -- $py -c "import numpy as np; r = np.load('$tmp/out/results.npz'); print('loaded t', r['t'].shape)"
    break
  fi
done
expect 2 "already holds a run" -- "$npde" run "$demo" stages.0.probe.points=4000 output="$tmp/out"

# an NBM run: solution.vti with every field on one grid, results.npz fields for numpy
expect 0 "solution.vti: 7 fields" -- "$npde" run "$src/configs/nbm-sphere.yaml" output="$tmp/nbm" \
  stages.0.train.n=8 stages.0.train.epochs=20 plots=false
for field in u exact error phi reference reference_error u_minus_reference; do
  grep -q "Name=\"$field\"" "$tmp/nbm/solution.vti" || { echo "FAIL: solution.vti lacks $field"; failures=$((failures + 1)); }
done
for py in python3 /usr/bin/python3; do
  if $py -c 'import numpy' 2>/dev/null; then
    expect 0 "nbm fields (8, 8, 8) (8, 8, 8) (8,)" -- $py -c "import numpy as np; r = np.load('$tmp/nbm/results.npz'); \
print('nbm fields', r['field_u'].shape, r['field_phi'].shape, r['grid_x2'].shape); \
assert abs(r['field_error'] - (r['field_u'] - r['field_exact'])).max() < 1e-15"
    break
  fi
done
expect 0 "is complete" -- "$npde" resume "$tmp/out"
before=$(count_runs)
expect 0 "probe: gemm" -- "$npde" run "$demo" --no-output stages.0.probe.points=4000
[ "$(count_runs)" -eq "$before" ] || { echo "FAIL: --no-output wrote a run directory"; failures=$((failures + 1)); }
expect 0 "probe: gemm" -- "$npde" run "$demo" output="$tmp/none" --no-output stages.0.probe.points=4000
[ ! -e "$tmp/none" ] || { echo "FAIL: --no-output wrote $tmp/none"; failures=$((failures + 1)); }
expect 2 "missing DIR" -- "$npde" resume
expect 2 "cannot open '$tmp/nowhere/config.yaml'" -- "$npde" resume "$tmp/nowhere"
mkdir -p "$tmp/bare" && cp "$tmp/out/config.yaml" "$tmp/bare/"
expect 1 "has no checkpoint.npz" -- "$npde" resume "$tmp/bare"

# sweeps: the product of the lists, one run directory each, sweep.csv with a row per run
expect 0 "sweep: 4 of 4 runs finished" -- "$npde" run "$demo" -m stages.0.probe.points=1000,2000 \
  stages.0.probe.width=8,16 output="$tmp/sweep"
[ "$(ls -d "$tmp"/sweep/run-* | wc -l)" -eq 4 ] || { echo "FAIL: the sweep made no 4 run directories"; failures=$((failures + 1)); }
[ "$(wc -l < "$tmp/sweep/sweep.csv")" -eq 5 ] || { echo "FAIL: sweep.csv has no 4 rows"; failures=$((failures + 1)); }
grep -q "^run-003,ok,2000,16," "$tmp/sweep/sweep.csv" || { echo "FAIL: sweep.csv rows:"; cat "$tmp/sweep/sweep.csv"; failures=$((failures + 1)); }
# each member is named with its overrides (its figures' titles), and sweep.axes names the swept columns
expect 0 "stages.0.probe.points=2000, stages.0.probe.width=16)" -- cat "$tmp/sweep/run-003/config.yaml"
expect 0 "stages.0.probe.width" -- cat "$tmp/sweep/sweep.axes"
if "$npde" plot "$tmp/sweep" 2>&1 | grep -q "PLplot"; then echo "skip: no PLplot in this build: npde plot of a sweep"
else expect 0 "sweep.png" -- "$npde" plot "$tmp/sweep"; fi
# a failing member is recorded and the sweep goes on (exit 1)
expect 1 "sweep: 1 of 2 runs finished" -- "$npde" run "$demo" -m stages.0.probe.points=1,1000 output="$tmp/sweep2"
grep -q "^run-000,failed,1" "$tmp/sweep2/sweep.csv" || { echo "FAIL: the failed member is not in sweep.csv"; failures=$((failures + 1)); }
expect 2 "-m needs at least one key=v1,v2 list" -- "$npde" run "$demo" -m seed=1

# every shipped configuration validates (plugins and keys as the code has them now)
for cfg in "$src"/configs/*.yaml; do
  expect 0 "configuration is valid" -- "$npde" check "$cfg"
done

if [ "$failures" -ne 0 ]; then echo "test_cli: $failures failures"; exit 1; fi
echo "test_cli: all passed"
