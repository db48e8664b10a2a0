"""The first Bayesian fit on a fresh machine: import + compile + sample in a new process with empty caches.

    python benchmarks/bench_cold_start.py              # 3 cold runs of each, medians (several minutes)
    python benchmarks/bench_cold_start.py --runs 5 --skip-bambi

ours:  `import bayesmixed`, sleepstudy `Reaction ~ Days + (Days | Subject)`, fit("bayes", seed=1) (4 x 1000 after 1000);
bambi: `import bambi`, `Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)` (bambi 0.17 has no correlated
       terms), fit(inference_method="nutpie") with the same draws.
Each run gets its own empty numba cache (NUMBA_CACHE_DIR: bayesmixed's kernels are njit(cache=True), whose
cache numba puts there instead of beside the sources) and PyTensor compile directory (PYTENSOR_FLAGS=compiledir),
so nothing compiled by an earlier run is reused; Python's own bytecode caches are kept, as after `pip install`.
The NUTS sampler ships compiled for a generic x86-64 CPU (engines/bayes/prebuilt.py, as nutpie ships its Rust
sampler), so a cold fit compiles the model's log density only; `ours_compiled_here` is a cold run that ignores
the shipped sampler (BAYESMIXED_NO_PREBUILT=1) and compiles it too.
After ours' cold runs, a warm run in the same cache folder shows what is left once the cache exists.

For ours, the child process also records numba's compile events (numba.core.event "numba:compile", which fire
only when a function is compiled, not when it is loaded from the cache) and prints, per function, the compile
time excluding nested compiles of the functions it calls, and the time spent holding LLVM's lock (code
generation and optimisation) against the total.
Timings on a shared machine are noisy: read the medians, and the min-max spread beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OURS = r'''
import json, sys, threading, time
started = time.perf_counter()
from numba.core import event

class CompileTimes(event.Listener):
    """Per thread, a stack of open compiles; exclusive seconds per function and LLVM lock seconds."""
    def __init__(self):
        self.stacks, self.exclusive, self.signatures, self.llvm = {}, {}, {}, 0.0
    def on_start(self, ev):
        stack = self.stacks.setdefault(threading.get_ident(), [])
        now = time.perf_counter()
        if ev.kind == "numba:llvm_lock":
            stack.append(["<llvm>", now, 0.0]); return
        d = ev.data["dispatcher"]
        stack.append([f"{d.py_func.__module__.rsplit('.', 1)[-1]}.{d.py_func.__qualname__}", now, 0.0])
    def on_end(self, ev):
        stack = self.stacks[threading.get_ident()]
        name, begun, children = stack.pop()
        spent = time.perf_counter() - begun
        if name == "<llvm>":
            self.llvm += spent; return   # inside a compile: counted in that function's time too
        self.exclusive[name] = self.exclusive.get(name, 0.0) + spent - children
        self.signatures[name] = self.signatures.get(name, 0) + 1
        if stack:
            for frame in reversed(stack):
                if frame[0] != "<llvm>":
                    frame[2] += spent; break

listener = CompileTimes()
event.register("numba:compile", listener)
event.register("numba:llvm_lock", listener)
import bayesmixed as bm
imported = time.perf_counter()
data = bm.datasets.load("sleepstudy")
fit = bm.Model("Reaction ~ Days + (Days | Subject)", data).fit("bayes", seed=1)
done = time.perf_counter()
print("RESULT " + json.dumps({
    "import_s": imported - started, "fit_s": done - imported, "inner_total_s": done - started,
    "fit_timings": {k: float(v) for k, v in fit.timings.items()}, "route": str(fit.route),
    "compile_s": sum(listener.exclusive.values()), "llvm_s": listener.llvm,
    "compile_by_function": dict(sorted(listener.exclusive.items(), key=lambda kv: -kv[1])),
    "signatures_by_function": listener.signatures,
    "pytensor_imported": "pytensor" in sys.modules, "pymc_imported": "pymc" in sys.modules,
    "min_ess_bulk": float(fit.parameters["ess_bulk"].min())}))
'''

BAMBI = r'''
import json, time, warnings
started = time.perf_counter()
import bambi as bmb
import bayesmixed as bm   # only for the bundled data set; its import is timed separately above
imported = time.perf_counter()
data = bm.datasets.load("sleepstudy")
model = bmb.Model("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", data)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    idata = model.fit(draws=1000, tune=1000, chains=4, random_seed=1, inference_method="nutpie", progressbar=False)
done = time.perf_counter()
print("RESULT " + json.dumps({"import_s": imported - started, "fit_s": done - imported, "inner_total_s": done - started,
                              "divergences": int(idata.sample_stats["diverging"].values.sum())}))
'''


def run_child(code: str, cache: Path, **extra_env: str) -> dict:
    """One fresh process with its caches in `cache`; wall time measured from outside, figures from inside."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache / "numba"),
               PYTENSOR_FLAGS=f"compiledir={cache / 'pytensor'}", PYTHONWARNINGS="ignore", **extra_env)
    started, cpu_before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    wall, cpu_after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        raise RuntimeError(f"child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return {"wall_s": wall, "cpu_s": cpu, **json.loads(lines[-1][len("RESULT "):])}


def spread(values: list[float]) -> str:
    return f"median {statistics.median(values):6.1f} s  (min {min(values):.1f}, max {max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-bambi", action="store_true")
    parser.add_argument("--skip-compiled-here", action="store_true",
                        help="skip the cold run that ignores the shipped sampler and compiles it here")
    parser.add_argument("--json", type=Path, help="also write every run's figures here")
    args = parser.parse_args()

    record: dict[str, list] = {"ours_cold": [], "ours_warm": [], "ours_compiled_here": [], "bambi_cold": []}
    for run in range(args.runs):  # alternate ours and bambi so a drift in the machine's load hits both
        with tempfile.TemporaryDirectory(prefix="cold-start-") as folder:
            record["ours_cold"].append(run_child(OURS, Path(folder)))
            record["ours_warm"].append(run_child(OURS, Path(folder)))
        if not args.skip_compiled_here:
            with tempfile.TemporaryDirectory(prefix="cold-start-") as folder:
                record["ours_compiled_here"].append(run_child(OURS, Path(folder), BAYESMIXED_NO_PREBUILT="1"))
        if not args.skip_bambi:
            with tempfile.TemporaryDirectory(prefix="cold-start-") as folder:
                record["bambi_cold"].append(run_child(BAMBI, Path(folder)))
        print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]['wall_s']:.1f} s" for k, v in record.items() if v), flush=True)

    print("\nwhole process, wall clock (machine shared and loaded: noisy)")
    for key, runs in record.items():
        if runs:
            print(f"  {key:<18} {spread([r['wall_s'] for r in runs])}   CPU {spread([r['cpu_s'] for r in runs])}   "
                  f"import {spread([r['import_s'] for r in runs])}")
    cold = record["ours_cold"]
    print("\nours, cold: where the time goes (medians)")
    print(f"  numba compile (all functions) {statistics.median(r['compile_s'] for r in cold):.1f} s, of which holding "
          f"LLVM's lock {statistics.median(r['llvm_s'] for r in cold):.1f} s; warm fit {statistics.median(r['fit_s'] for r in record['ours_warm']):.1f} s")
    print(f"  PyTensor imported: {cold[0]['pytensor_imported']}; route {cold[0]['route']}")
    names = sorted({name for r in cold for name in r["compile_by_function"]},
                   key=lambda n: -statistics.median(r["compile_by_function"].get(n, 0.0) for r in cold))
    for name in names[:20]:
        seconds = statistics.median(r["compile_by_function"].get(name, 0.0) for r in cold)
        print(f"  {seconds:6.2f} s  {name}  ({cold[0]['signatures_by_function'].get(name, 0)} signature(s))")
    if args.json:
        args.json.write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
