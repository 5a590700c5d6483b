#!/usr/bin/env python3
"""The yardstick: every big workload of the suite through capjit, Wasmtime
(default settings, compile cache off) and Winch (Wasmtime's baseline compiler)
in one run, side by side, with the native build as a reference. Without a
Wasmtime it compares capjit with native only.

Per program and engine: end-to-end wall time of `run` (capjit translating
each function on its first call, its default, and everything up front with
`--eager`), compile time, run time (end to end minus compile; for capjit, of
the `--eager` run), peak resident memory (the process's maxrss) and
code size. Outputs are compared with the native run's: a different byte is
reported, never hidden. Writes `target/realworld.json` and prints a Markdown
table (what docs/performance.md quotes) with the load average.

  WASMTIME=path/to/wasmtime  (default: `wasmtime` on PATH, else no Wasmtime
                              and Winch columns; install it with
                              `cargo install --locked wasmtime-cli@48.0.8`,
                              about 10 minutes; never in CI)
  CAPJIT=path/to/capjit      (default: target/release/capjit, built if missing)
  ROUNDS=N                   (default 3; the median is reported)
  ./compare.py [FILTER]      (only workloads whose name contains FILTER)

How each figure is taken:
- end to end: `capjit run`, `wasmtime run -C cache=n` (Winch: plus
  `-C compiler=winch`), each a fresh process, wall clock, median of ROUNDS;
- compile: `capjit translate --threads 1 --emit stats` (verify + lower +
  Cranelift + link, as it reports them, on one thread); capjit's run time is
  `run --eager` end to end minus the wall clock of `capjit translate` on every
  core (as `run --eager` translates) and `wasmtime compile` (wall clock of the process, so it
  includes Wasmtime's start-up, a few ms);
- code size: capjit's machine code bytes (`--emit stats`); for Wasmtime and
  Winch the size of the `.text` section of the `.cwasm` file `wasmtime compile`
  writes (an ELF file);
- peak resident memory: `ru_maxrss` of the `run` process (os.wait4).
"""

import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def run_measured(argv, stdin_path, cwd, stdout_path):
    """Run argv; return (wall seconds, maxrss KiB, exit status)."""
    with open(stdin_path, "rb") as stdin, open(stdout_path, "wb") as stdout:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        err = proc.stderr.read().decode(errors="replace")
        proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss, code, err


def elf_text_size(path):
    """Size of the `.text` section of an ELF64 little-endian file."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    def section(i):
        return struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
    strtab = section(shstrndx)
    names_at = strtab[4]
    for i in range(shnum):
        name_off, _, _, _, _, size, *_ = section(i)
        end = data.index(b"\0", names_at + name_off)
        if data[names_at + name_off:end] == b".text":
            return size
    return None


def capjit_stats(capjit, wasm, threads):
    """`capjit translate --emit stats` on `threads` threads (0: one per core):
    (seconds, code bytes). On one thread, the sum of what it reports (verify,
    lower, Cranelift, link); on several, its wall clock."""
    argv = [capjit, "translate", "--emit", "stats", wasm]
    if threads:
        argv[2:2] = ["--threads", str(threads)]
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode != 0:
        return None, None
    fields = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    keys = ("verify", "lower", "Cranelift compile", "link") if threads == 1 else ("wall clock",)
    ms = sum(float(fields[k].split()[0]) for k in keys)
    return ms / 1e3, int(fields["code bytes"])


def wasmtime_compile(wasmtime, wasm, extra, work):
    out = os.path.join(work, "out.cwasm")
    start = time.perf_counter()
    done = subprocess.run([wasmtime, "compile", *extra, "-o", out, wasm], capture_output=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        return None, None
    return seconds, elf_text_size(out)


def main():
    filter_ = sys.argv[1] if len(sys.argv) > 1 else ""
    rounds = int(os.environ.get("ROUNDS", "3"))
    wasmtime = os.environ.get("WASMTIME") or shutil.which("wasmtime")
    if not wasmtime:
        print("compare.py: no wasmtime (set WASMTIME, or cargo install --locked wasmtime-cli@48.0.8): "
              "capjit against native only", file=sys.stderr)
    capjit = os.environ.get("CAPJIT", os.path.join(TARGET, "release", "capjit"))
    if not os.path.exists(capjit):
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "capjit"], cwd=ROOT, check=True)
    native = tempfile.mkdtemp(prefix="realworld-native-")
    subprocess.run([os.path.join(HERE, "build.sh"), "--native", native], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    work = tempfile.mkdtemp(prefix="realworld-work-")
    big = os.path.join(HERE, "src", "sqlite", "sqlite3.c")
    with open(big, "rb") as src, open(os.path.join(work, "big.gz"), "wb") as gz:
        subprocess.run([os.path.join(native, "minigzip")], stdin=src, stdout=gz, check=True)
    with open(big, "rb") as src, open(os.path.join(work, "big.bz2"), "wb") as bz:
        subprocess.run([os.path.join(native, "bzip2"), "-9"], stdin=src, stdout=bz, check=True)
    lua_dir = os.path.join(HERE, "inputs", "lua")
    for name in os.listdir(lua_dir):
        shutil.copy(os.path.join(lua_dir, name), work)

    with open(os.path.join(work, "hello.lua"), "w") as f:
        f.write('print("hello")\n')
    workloads = [
        ("lua-hello", os.devnull, "lua", ["hello.lua"]),
        ("lua-fib-32", os.devnull, "lua", ["fib.lua", "32"]),
        ("lua-nbody-500000", os.devnull, "lua", ["nbody.lua", "500000"]),
        ("lua-spectralnorm-500", os.devnull, "lua", ["spectralnorm.lua", "500"]),
        ("lua-binarytrees-15", os.devnull, "lua", ["binarytrees.lua", "15"]),
        ("lua-fannkuchredux-10", os.devnull, "lua", ["fannkuchredux.lua", "10"]),
        ("lua-strings-200000", os.devnull, "lua", ["strings.lua", "200000"]),
        ("sqlite-100000", os.devnull, "dbdriver", ["big.db", "100000"]),
        ("minigzip-9.5MB", big, "minigzip", []),
        ("minigzip-d-9.5MB", os.path.join(work, "big.gz"), "minigzip", ["-d"]),
        ("bzip2-9-9.5MB", big, "bzip2", ["-9"]),
        ("bzip2-d-9.5MB", os.path.join(work, "big.bz2"), "bzip2", ["-d"]),
    ]
    engines = {
        "native": lambda wasm, prog, args: [os.path.join(native, prog), *args],
        "capjit": lambda wasm, prog, args: [capjit, "run", "--dir", f"{work}::.", wasm, *args],
        "capjit-eager": lambda wasm, prog, args: [capjit, "run", "--eager", "--dir", f"{work}::.", wasm, *args],
    }
    if wasmtime:
        engines["wasmtime"] = lambda wasm, prog, args: [wasmtime, "run", "-C", "cache=n", "--dir", f"{work}::.",
                                                        wasm, *args]
        engines["winch"] = lambda wasm, prog, args: [wasmtime, "run", "-C", "cache=n", "-C", "compiler=winch",
                                                     "--dir", f"{work}::.", wasm, *args]
    compile_of = {}
    parallel_compile = {}
    results = []
    load = os.getloadavg()
    for name, stdin, prog, args in workloads:
        if filter_ not in name:
            continue
        wasm = os.path.join(HERE, "wasm", f"{prog}.wasm")
        if prog not in compile_of:
            # What `translate` reports is the eager translation: the run-time split
            # is taken from `run --eager` (lazily, translation is part of the run).
            compile_of[prog] = {"capjit-eager": capjit_stats(capjit, wasm, 1)}
            parallel_compile[prog] = capjit_stats(capjit, wasm, 0)[0]
            if wasmtime:
                compile_of[prog]["wasmtime"] = wasmtime_compile(wasmtime, wasm, [], work)
                compile_of[prog]["winch"] = wasmtime_compile(wasmtime, wasm, ["-C", "compiler=winch"], work)
        row = {"workload": name, "program": prog, "engines": {}}
        reference = None
        for engine, argv_of in engines.items():
            walls, rss, outputs, failure = [], [], set(), None
            for _ in range(rounds):
                # A database from the previous round would change what SQLite does.
                for leftover in ("big.db", "big.db-journal"):
                    path = os.path.join(work, leftover)
                    if os.path.exists(path):
                        os.remove(path)
                out_path = os.path.join(work, f"{engine}.out")
                wall, maxrss, code, err = run_measured(argv_of(wasm, prog, args), stdin, work, out_path)
                if code != 0:
                    failure = f"exit {code}: {err.strip()[:200]}"
                    break
                walls.append(wall)
                rss.append(maxrss)
                with open(out_path, "rb") as f:
                    outputs.add(f.read())
            entry = {"failed": failure} if failure else {
                "end_to_end_s": statistics.median(walls),
                "peak_rss_mib": max(rss) / 1024,
            }
            if not failure:
                output = outputs.pop() if len(outputs) == 1 else None
                if engine == "native":
                    reference = output
                entry["output_matches_native"] = output is not None and output == reference
                compile_s, code_bytes = compile_of[prog].get(engine, (None, None))
                if compile_s is not None:
                    entry["compile_s"] = compile_s
                    # `run --eager` translates on every core, like `wasmtime run`.
                    spent = parallel_compile[prog] if engine == "capjit-eager" else compile_s
                    entry["run_s"] = max(entry["end_to_end_s"] - (spent or 0.0), 0.0)
                    entry["code_bytes"] = code_bytes
            row["engines"][engine] = entry
        results.append(row)
        print(f"{name}: " + ", ".join(
            f"{e} {v.get('end_to_end_s', float('nan')):.2f}s" + ("" if v.get("output_matches_native", True) else " (DIFFERENT OUTPUT)")
            if "failed" not in v else f"{e} FAILED ({v['failed']})"
            for e, v in row["engines"].items()), file=sys.stderr)

    os.makedirs(TARGET, exist_ok=True)
    report = {"load_average": load, "rounds": rounds, "workloads": results,
              "compile": {p: {e: {"compile_s": c[0], "code_bytes": c[1]} for e, c in v.items()}
                          for p, v in compile_of.items()}}
    with open(os.path.join(TARGET, "realworld.json"), "w") as f:
        json.dump(report, f, indent=1)

    def cell(row, engine, key, fmt):
        v = row["engines"].get(engine, {})
        return "failed" if "failed" in v else (fmt.format(v[key]) if key in v else "-")

    print(f"\nload average at the start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; median of {rounds} rounds\n")
    print("| workload | native s | capjit s | capjit --eager s | Wasmtime s | Winch s | capjit / Wasmtime | capjit run s | Wasmtime run s | peak MiB capjit / Wasmtime / Winch | same output |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    ratios = []
    for row in results:
        e = row["engines"]
        ratio = "-"
        if all("end_to_end_s" in e.get(k, {}) for k in ("capjit", "wasmtime")):
            r = e["capjit"]["end_to_end_s"] / e["wasmtime"]["end_to_end_s"]
            ratios.append(r)
            ratio = f"{r:.2f}x"
        same = all(v.get("output_matches_native", False) for k, v in e.items() if k != "native")
        print(f"| {row['workload']} | {cell(row, 'native', 'end_to_end_s', '{:.2f}')} | {cell(row, 'capjit', 'end_to_end_s', '{:.2f}')} "
              f"| {cell(row, 'capjit-eager', 'end_to_end_s', '{:.2f}')} "
              f"| {cell(row, 'wasmtime', 'end_to_end_s', '{:.2f}')} | {cell(row, 'winch', 'end_to_end_s', '{:.2f}')} | {ratio} "
              f"| {cell(row, 'capjit-eager', 'run_s', '{:.2f}')} | {cell(row, 'wasmtime', 'run_s', '{:.2f}')} "
              f"| {cell(row, 'capjit', 'peak_rss_mib', '{:.0f}')} / {cell(row, 'wasmtime', 'peak_rss_mib', '{:.0f}')} / {cell(row, 'winch', 'peak_rss_mib', '{:.0f}')} "
              f"| {'yes' if same else 'NO'} |")
    if ratios:
        print(f"\ncapjit / Wasmtime end to end, geometric mean: {statistics.geometric_mean(ratios):.2f}x")
    print("\n| program | compile s capjit / Wasmtime / Winch | code KiB capjit / Wasmtime / Winch |")
    print("|---|---|---|")
    for prog, v in compile_of.items():
        def f(engine, i, scale, fmt):
            x = v.get(engine, (None, None))[i]
            return "-" if x is None else fmt.format(x / scale)
        print(f"| {prog} | {f('capjit-eager', 0, 1, '{:.3f}')} / {f('wasmtime', 0, 1, '{:.3f}')} / {f('winch', 0, 1, '{:.3f}')} "
              f"| {f('capjit-eager', 1, 1024, '{:.0f}')} / {f('wasmtime', 1, 1024, '{:.0f}')} / {f('winch', 1, 1024, '{:.0f}')} |")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(native, ignore_errors=True)


if __name__ == "__main__":
    main()
