"""Benchmark ptyevidence on large sources against a naive full-load baseline.

Creates synthetic DATA-001 sources in a temporary directory (streamed to disk
by ``_inputs.py``, so the generator stays small), then runs every measured
command as its own child process and reads that child's wall time and peak
RSS (``os.wait4``, the kernel's per-child resource usage). Files are read
once with ``cat`` before each timed command, so every figure is page-cache
warm. Prints Markdown tables: the measurements, then each target's
criterion with PASS or FAIL.

Targets (issue "Scale: multi-GB sources at O(subset) cost")::

    1  canonical (N, H, W) uncompressed: fixture make --subset-size 64 is
       >= 50x faster than the baseline and uses <= 1/20 of its peak RSS
    2  legacy (H, W, N) uncompressed: <= 3x the time of `cat` (one read of
       the file from page cache), peak RSS < 300 MB
    3  compressed: one streaming decompression of the needed prefix,
       peak RSS < 300 MB
    4  validate >= 1 GB/s on page-cached uncompressed data, peak RSS < 300 MB,
       progress bar on a terminal for passes over ~1 s
    5  coverage metrics + grid strategy on 10^6 positions < 2 s;
       farthest-point on 10^5 positions < 10 s

Usage::

    .venv/bin/python benchmarks/run.py                   # CI size, ~0.25 GB sources
    .venv/bin/python benchmarks/run.py --size-gb 2.15    # the >= 2 GB run
    .venv/bin/python benchmarks/run.py --only 4 5 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
MB = 1e6
GB = 1e9
FRAME = 64
SUBSET = 64
RSS_LIMIT_MB = 300.0
TARGETS = ("1", "2", "3", "4", "5")

# One full streaming decompression of a member, as a bare Python does it:
# the reference time for target 3.
DECOMPRESS_ONCE = (
    "import sys, zipfile\n"
    "with zipfile.ZipFile(sys.argv[1]) as z, z.open('diffraction.npy') as f:\n"
    "    while f.read(1 << 20):\n"
    "        pass\n"
)


@dataclass
class Run:
    """One child process: what ran and what it cost."""

    label: str
    cmd: list[str]
    wall_s: float = 0.0
    rss_mb: float = 0.0
    returncode: int = 0
    output: str = ""
    walls: list[float] = field(default_factory=list)
    busy_before: float | None = None  # share of all CPUs others used just before the run


def cpu_busy(seconds: float = 0.5) -> float:
    """Share of all CPUs busy over ``seconds`` (from /proc/stat; 0 where unavailable).

    The benchmark itself sleeps meanwhile, so this is other processes' load.
    """

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return 0.0
    total = total1 - total0
    return 0.0 if total <= 0 else 1.0 - (idle1 - idle0) / total


def wait_for_idle(max_wait: float, threshold: float = 0.1) -> float:
    """Wait (up to ``max_wait`` s) until other processes use < ``threshold`` of the CPUs."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy()
    while busy >= threshold and time.monotonic() < deadline:
        busy = cpu_busy(2.0)
    return busy


def run_child(label: str, cmd: list[str], capture: bool = True) -> Run:
    """Run ``cmd`` once; wall time from spawn to reap, peak RSS from ``wait4``."""
    with tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out if capture else subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    # Linux reports ru_maxrss in KiB.
    return Run(label, cmd, wall, usage.ru_maxrss * 1024 / MB, proc.returncode, text, [wall])


#: Seconds to wait for other processes to go quiet before each run (--wait-idle).
IDLE_WAIT = 0.0


def measure(label: str, cmd: list[str], repeat: int, before=None, capture: bool = True) -> Run:
    """Best (lowest) wall time of ``repeat`` runs; the largest peak RSS seen."""
    best: Run | None = None
    walls, rss = [], 0.0
    for _ in range(repeat):
        if before is not None:
            before()
        busy = wait_for_idle(IDLE_WAIT) if IDLE_WAIT > 0 else cpu_busy(0.2)
        run = run_child(label, cmd, capture)
        run.busy_before = busy
        if run.returncode != 0:
            print(f"\n{label} failed (exit {run.returncode}): {shlex.join(cmd)}\n{run.output}")
            return run
        walls.append(run.wall_s)
        rss = max(rss, run.rss_mb)
        if best is None or run.wall_s < best.wall_s:
            best = run
    best.walls, best.rss_mb = walls, rss
    return best


def hash_note(fixture: str) -> str:
    """What the fixture's sidecar says about the source hash."""
    with open(os.path.splitext(fixture)[0] + ".json", encoding="utf-8") as fh:
        side = json.load(fh)
    if side.get("source_sha256"):
        return f"source_hash {side.get('source_hash')}: source hashed in full"
    return f"source_hash {side.get('source_hash')}: fingerprint only"


def remove_outputs(path: str):
    """Return a callable deleting a fixture and its sidecars (fixture make refuses to overwrite)."""

    def remove() -> None:
        stem, _ = os.path.splitext(path)
        for p in (path, stem + ".json", stem + ".md"):
            if os.path.exists(p):
                os.remove(p)

    return remove


class Bench:
    """Holds the sources, the measurements and the verdicts of one benchmark run."""

    def __init__(self, args: argparse.Namespace, workdir: str) -> None:
        self.args = args
        self.workdir = workdir
        self.frame_bytes = FRAME * FRAME * 4
        self.n = args.frames or max(1024, round(args.size_gb * GB / self.frame_bytes))
        self.runs: list[tuple[str, Run, str]] = []
        self.verdicts: list[tuple[str, str, str, str, bool]] = []
        self.sources: dict[str, str] = {}
        self._floors: dict[str, Run] = {}

    # -- plumbing --------------------------------------------------------------
    def path(self, name: str) -> str:
        return os.path.join(self.workdir, name)

    def record(self, target: str, run: Run, note: str = "") -> Run:
        self.runs.append((target, run, note))
        return run

    def verdict(self, target: str, what: str, figure: str, criterion: str, ok: bool) -> None:
        self.verdicts.append((target, what, figure, criterion, ok))

    def warm(self, path: str) -> Run:
        """Read ``path`` with cat twice; the second (page-cache) read is the reference."""
        run_child("cat (warm-up)", ["cat", path], capture=False)
        return measure(f"cat {os.path.basename(path)}", ["cat", path], self.args.repeat, capture=False)

    def timed(self, target: str, label: str, cmd: list[str], note: str = "", before=None) -> Run:
        run = measure(label, cmd, self.args.repeat, before)
        if run.returncode != 0:
            self.verdict(target, label, f"exit {run.returncode}", "runs", False)
        return self.record(target, run, note)

    def floor(self, which: str) -> Run:
        """Start-up cost of a child: interpreter plus imports (measured once)."""
        if which not in self._floors:
            cmds = {
                "ptyevidence": [PY, "-m", "ptyevidence", "--version"],
                "numpy": [PY, "-c", "import numpy"],
            }
            label = {
                "ptyevidence": "start-up floor: ptyevidence --version",
                "numpy": "start-up floor: python -c 'import numpy'",
            }[which]
            self._floors[which] = self.record("-", measure(label, cmds[which], max(3, self.args.repeat)))
        return self._floors[which]

    def source(self, kind: str) -> str:
        """Write (once) the source of ``kind``: canonical, legacy or compressed."""
        if kind in self.sources:
            return self.sources[kind]
        path = self.path(f"{kind}.npz")
        cmd = [
            PY,
            os.path.join(HERE, "_inputs.py"),
            path,
            "--frames",
            str(self.n),
            "--frame",
            str(FRAME),
            "--dtype",
            self.args.dtype,
        ]
        if kind == "legacy":
            cmd += ["--layout", "legacy"]
        if kind == "compressed":
            cmd += ["--compressed"]
        run = run_child(f"write {kind} source", cmd)
        if run.returncode != 0:
            msg = f"could not write the {kind} source:\n{run.output}"
            raise SystemExit(msg)
        size = os.path.getsize(path)
        self.record("-", run, f"{size / GB:.2f} GB written, streamed")
        self.sources[kind] = path
        return path

    def fixture_cmd(self, source: str, out: str, mode: str) -> list[str]:
        cmd = [
            PY,
            "-m",
            "ptyevidence",
            "fixture",
            "make",
            "--source",
            source,
            "--output",
            out,
            "--subset-size",
            str(SUBSET),
        ]
        return cmd if mode == "auto" else cmd + ["--source-hash", mode]

    def ours(self, target: str, source: str, tag: str) -> tuple[Run, Run]:
        """fixture make as a user runs it (--source-hash auto), then with a full source hash."""
        runs = []
        for mode in ("auto", "full"):
            out = self.path(f"fixture-{tag}-{mode}.npz")
            label = "fixture make" + ("" if mode == "auto" else f" --source-hash {mode}")
            run = self.timed(target, label, self.fixture_cmd(source, out, mode), before=remove_outputs(out))
            run_note = hash_note(out) if run.returncode == 0 else ""
            self.runs[-1] = (target, run, run_note)
            runs.append(run)
        return runs[0], runs[1]

    def baseline(self, target: str, source: str, tag: str, legacy: bool = False) -> Run:
        out = self.path(f"baseline-{tag}.npz")
        cmd = [PY, os.path.join(HERE, "_baseline.py"), source, out, str(SUBSET)]
        return self.timed(
            target, "baseline (np.load, full array)", cmd + (["legacy"] if legacy else []), before=remove_outputs(out)
        )

    def same_frames(self, tag: str) -> bool:
        """True when our fixture and the baseline hold identical diffraction rows."""
        import numpy as np

        ours = self.path(f"fixture-{tag}-auto.npz")
        base = self.path(f"baseline-{tag}.npz")
        if not (os.path.exists(ours) and os.path.exists(base)):
            return False
        with np.load(ours) as a, np.load(base) as b:
            return bool(np.array_equal(a["diffraction"], b["diffraction"]))

    # -- targets ---------------------------------------------------------------
    def target_1(self) -> None:
        src = self.source("canonical")
        self.warm(src)
        floor_ours, floor_np = self.floor("ptyevidence"), self.floor("numpy")
        plain, hashed = self.ours("1", src, "canonical")
        base = self.baseline("1", src, "canonical")
        same = self.same_frames("canonical")
        self.verdict("1", "frames equal baseline's", "yes" if same else "NO", "identical rows", same)
        ratio = base.wall_s / plain.wall_s
        self.verdict("1", "time: baseline / fixture make", f"{ratio:.1f}x", ">= 50x", ratio >= 50)
        net_base = base.wall_s - floor_np.wall_s
        net_ours = max(plain.wall_s - floor_ours.wall_s, 1e-3)
        ratio = net_base / net_ours
        self.verdict("1", "time net of start-up floors", f"{ratio:.1f}x", ">= 50x", ratio >= 50)
        for run in (plain, hashed):
            ratio = base.rss_mb / run.rss_mb
            self.verdict("1", f"peak RSS: baseline / {run.label}", f"{ratio:.1f}x", ">= 20x", ratio >= 20)

    def target_2(self) -> None:
        src = self.source("legacy")
        cat = self.record("2", self.warm(src), "reference: one read from page cache")
        plain, hashed = self.ours("2", src, "legacy")
        self.baseline("2", src, "legacy", legacy=True)
        same = self.same_frames("legacy")
        self.verdict("2", "frames equal baseline's", "yes" if same else "NO", "identical rows", same)
        ratio = plain.wall_s / cat.wall_s
        self.verdict("2", "time: fixture make / cat", f"{ratio:.2f}x", "<= 3x", ratio <= 3)
        for run in (plain, hashed):
            self.verdict(
                "2",
                f"peak RSS: {run.label}",
                f"{run.rss_mb:.0f} MB",
                f"< {RSS_LIMIT_MB:.0f} MB",
                run.rss_mb < RSS_LIMIT_MB,
            )

    def target_3(self) -> None:
        src = self.source("compressed")
        self.warm(src)
        floor_ours = self.floor("ptyevidence")
        once = self.timed(
            "3",
            "one decompression pass (zipfile)",
            [PY, "-c", DECOMPRESS_ONCE, src],
            "reference: inflate the whole member once",
        )
        plain, hashed = self.ours("3", src, "compressed")
        self.baseline("3", src, "compressed")
        ratio = (plain.wall_s - floor_ours.wall_s) / once.wall_s
        self.verdict(
            "3", "time net of start-up / one decompression", f"{ratio:.2f}x", "<= 1.5x (one pass)", ratio <= 1.5
        )
        for run in (hashed, plain):
            self.verdict(
                "3",
                f"peak RSS: {run.label}",
                f"{run.rss_mb:.0f} MB",
                f"< {RSS_LIMIT_MB:.0f} MB",
                run.rss_mb < RSS_LIMIT_MB,
            )

    def target_4(self) -> None:
        src = self.source("canonical")
        size = os.path.getsize(src)
        self.warm(src)
        floor_ours = self.floor("ptyevidence")
        run = self.timed("4", "validate", [PY, "-m", "ptyevidence", "validate", src])
        rate = size / run.wall_s / GB
        net = size / max(run.wall_s - floor_ours.wall_s, 1e-3) / GB
        self.verdict("4", "validate rate, end to end", f"{rate:.2f} GB/s", ">= 1 GB/s", rate >= 1)
        self.verdict("4", "validate rate, net of start-up", f"{net:.2f} GB/s", ">= 1 GB/s", net >= 1)
        self.verdict(
            "4", "peak RSS: validate", f"{run.rss_mb:.0f} MB", f"< {RSS_LIMIT_MB:.0f} MB", run.rss_mb < RSS_LIMIT_MB
        )
        shown, seconds = self.progress_on_terminal(src)
        # The bar is drawn once a pass has run for 1 s; the diffraction pass
        # is the run minus the start-up floor (and a little for small members).
        stack_pass = seconds - floor_ours.wall_s
        figure = "shown" if shown else "not shown"
        if stack_pass > 1.5:
            self.verdict(
                "4", "progress bar under a pseudo-terminal", figure, f"shown (pass ~{stack_pass:.1f} s)", shown
            )
        elif stack_pass < 0.8:
            self.verdict(
                "4",
                "progress bar under a pseudo-terminal",
                figure,
                f"not shown (pass ~{stack_pass:.1f} s < 1 s)",
                not shown,
            )
        else:
            self.verdict(
                "4",
                "progress bar under a pseudo-terminal",
                figure,
                f"either (pass ~{stack_pass:.1f} s, near 1 s)",
                True,
            )

    def progress_on_terminal(self, src: str) -> tuple[bool, float]:
        """Run validate under ``script`` (a pseudo-terminal); did a bar appear?"""
        if shutil.which("script") is None:
            return False, 0.0
        # script's pseudo-terminal reports 0 x 0; the bar must appear anyway.
        cmd = shlex.join([PY, "-m", "ptyevidence", "validate", src])
        start = time.perf_counter()
        done = subprocess.run(
            ["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, errors="replace", check=False
        )
        seconds = time.perf_counter() - start
        return "validate diffraction" in done.stdout and "%|" in done.stdout, seconds

    def target_5(self) -> None:
        cmd = [PY, os.path.join(HERE, "_coverage_child.py"), "1000000", "100000", str(SUBSET), "10000"]
        run = self.timed("5", "coverage child (10^6 grid, 10^5 farthest)", cmd)
        if run.returncode != 0:
            return
        data = json.loads(run.output.strip().splitlines()[-1])
        self.coverage = data
        for item in data["runs"]:
            limit = 2.0 if item["case"] == "grid+metrics" else 10.0
            what = f"{item['case']}: {item['subset']} of {item['positions']:.0e} positions"
            self.verdict("5", what, f"{item['total_s']:.2f} s", f"< {limit:g} s", item["total_s"] < limit)

    # -- report ------------------------------------------------------------------
    def machine(self) -> list[str]:
        import numpy
        import scipy

        import ptyevidence

        mem = ""
        try:
            with open("/proc/meminfo") as fh:
                kib = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
            mem = f"{kib / 2**20:.1f} GiB"
        except (OSError, StopIteration):
            pass
        cpu = platform.processor() or platform.machine()
        try:
            with open("/proc/cpuinfo") as fh:
                cpu = next(line for line in fh if line.startswith("model name")).split(":", 1)[1].strip()
        except (OSError, StopIteration):
            pass
        software = (
            f"software: Python {platform.python_version()}, numpy {numpy.__version__}, "
            f"scipy {scipy.__version__}, ptyevidence {ptyevidence.__version__}"
        )
        sources = (
            f"sources: {self.n} frames of {FRAME}x{FRAME} {self.args.dtype} "
            f"({self.n * self.frame_bytes / GB:.2f} GB of diffraction), Fermat-spiral "
            f"positions, subset {SUBSET}, best of {self.args.repeat} run(s), page cache warm"
        )
        machine = f"machine: {os.cpu_count()} CPUs ({cpu}), {mem} memory, {platform.system()} {platform.release()}"
        return [machine, software, sources]

    def report(self, load_before: tuple[float, ...]) -> bool:
        lines = self.machine()
        load_after = os.getloadavg()
        lines.append(f"load average (1 min) before/after: {load_before[0]:.2f} / {load_after[0]:.2f}")
        print("\n" + "\n".join(f"- {line}" for line in lines))
        print("\n| target | command | wall s | peak RSS MB | other CPU load | note |")
        print("|---|---|---:|---:|---:|---|")
        for target, run, note in self.runs:
            walls = "" if len(run.walls) < 2 else f" (runs: {', '.join(f'{w:.2f}' for w in run.walls)})"
            print(
                f"| {target} | {run.label} | {run.wall_s:.3f} | {run.rss_mb:.0f} | "
                f"{'' if run.busy_before is None else f'{run.busy_before:.0%}'} | {note}{walls} |"
            )
        print("\n| target | measure | figure | criterion | result |")
        print("|---|---|---:|---|---|")
        for target, what, figure, criterion, ok in self.verdicts:
            print(f"| {target} | {what} | {figure} | {criterion} | {'PASS' if ok else 'FAIL'} |")
        return all(v[-1] for v in self.verdicts)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark ptyevidence (fixture make, validate, coverage) on large "
        "synthetic sources against a naive full-load baseline; prints Markdown tables."
    )
    parser.add_argument(
        "--size-gb",
        type=float,
        default=0.25,
        help="diffraction payload of each source in GB (default 0.25; 2.15 matches the reference measurement)",
    )
    parser.add_argument("--frames", type=int, default=None, help="number of 64x64 frames (overrides --size-gb)")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="stored dtype of the diffraction stack (default float32)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=TARGETS,
        default=list(TARGETS),
        metavar="TARGET",
        help="targets to run (1-5; default all)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per measurement; the fastest is reported (default 1)"
    )
    parser.add_argument(
        "--workdir", default=None, help="parent folder of the temporary directory (default: system temp)"
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each run, wait up to SECONDS for other processes to use "
        "< 10%% of the CPUs (a shared machine); the load seen is reported",
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    parser.add_argument("--strict", action="store_true", help="exit 1 when any criterion fails (default: report only)")
    return parser.parse_args(argv)


def check_room(args: argparse.Namespace, workdir: str, n: int) -> None:
    """Refuse to start when the sources would not fit on the disk."""
    stack = n * FRAME * FRAME * (4 if args.dtype == "float32" else 8)
    canonical = any(t in args.only for t in ("1", "4"))
    # The compressed source is smaller than its stack; count it whole to be safe.
    need = stack * (canonical + ("2" in args.only) + ("3" in args.only)) * 1.05
    free = shutil.disk_usage(workdir).free
    if need > free:
        msg = (
            f"{workdir} has {free / GB:.1f} GB free; these sources need about "
            f"{need / GB:.1f} GB. Pass a smaller --size-gb or another --workdir."
        )
        raise SystemExit(msg)


def compile_bytecode() -> None:
    """Write ptyevidence's .pyc files, as an installed package has them.

    Where PYTHONDONTWRITEBYTECODE is set, every child would otherwise
    recompile the package's sources (~0.09 s here) on each start.
    """
    import compileall

    import ptyevidence

    compileall.compile_dir(os.path.dirname(ptyevidence.__file__), quiet=1)


def main(argv: list[str] | None = None) -> int:
    global IDLE_WAIT
    args = parse_args(argv)
    IDLE_WAIT = args.wait_idle
    load_before = os.getloadavg()
    workdir = tempfile.mkdtemp(prefix="ptyevidence-bench-", dir=args.workdir)
    bench = Bench(args, workdir)
    bench.frame_bytes = FRAME * FRAME * (4 if args.dtype == "float32" else 8)
    if not args.frames:
        bench.n = max(1024, round(args.size_gb * GB / bench.frame_bytes))
    try:
        check_room(args, workdir, bench.n)
        compile_bytecode()
        print(f"working in {workdir}", flush=True)
        for target in TARGETS:
            if target in args.only:
                print(f"target {target} ...", flush=True)
                getattr(bench, f"target_{target}")()
        ok = bench.report(load_before)
    finally:
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    failed_commands = any(run.returncode != 0 for _, run, _ in bench.runs)
    if failed_commands:
        return 2
    return 1 if (args.strict and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
