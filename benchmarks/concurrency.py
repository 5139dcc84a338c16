"""Output sets under concurrency and kills: two writers on one output, and runs killed mid-write.

    python benchmarks/concurrency.py [--rounds 200] [--no-force-rounds 50] [--kill-rounds 50]

Race rounds: two ``fixture make --force`` start together on one output with
different seeds; afterwards the set must be one run's: the sidecar's SHA-256
is the NPZ's, its content digests are the NPZ's arrays', the notes are the ones
the sidecar renders, and nothing else is left beside them. No-force rounds:
two ``fixture make`` without ``--force`` race for a fresh output; one must win
with a complete set and the other fail without touching it. Kill rounds: a
``fixture make`` of a larger cut is killed (SIGKILL or SIGTERM) at a random
moment while it writes its temporary files, then run again; afterwards only the source and the three outputs may
be in the folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from ptyevidence.fixture.sidecar import content_digest, fixture_notes_markdown

EXPECTED = {"source.npz", "out.npz", "out.json", "out.md"}


def _source(folder: str, n: int, side: int) -> str:
    rng = np.random.default_rng(0)
    gy, gx = np.divmod(np.arange(n), int(np.ceil(np.sqrt(n))))
    path = os.path.join(folder, "source.npz")
    np.savez(
        path,
        diffraction=rng.random((n, side, side), dtype=np.float32),
        probeGuess=np.ones((side, side), np.complex64),
        objectGuess=np.ones((2 * side, 2 * side), np.complex64),
        xcoords=10.0 + 3.0 * gx + rng.uniform(-0.5, 0.5, n),
        ycoords=10.0 + 3.0 * gy + rng.uniform(-0.5, 0.5, n),
        xcoords_start=10.0 + 3.0 * gx,
        ycoords_start=10.0 + 3.0 * gy,
    )
    return path


def _make(source: str, out: str, seed: int, size: int, force: bool) -> subprocess.Popen:
    argv = [
        sys.executable,
        "-m",
        "ptyevidence",
        "fixture",
        "make",
        "--source",
        source,
        "--output",
        out,
        "--subset-size",
        str(size),
        "--strategy",
        "farthest-point",
        "--seed",
        str(seed),
    ]
    return subprocess.Popen(
        argv + (["--force"] if force else []), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _set_problems(folder: str) -> list[str]:
    """What makes the output set in ``folder`` not one run's complete set."""
    out, sidecar, notes = (os.path.join(folder, f"out{ext}") for ext in (".npz", ".json", ".md"))
    problems = [f"leftover {name}" for name in sorted(set(os.listdir(folder)) - EXPECTED)]
    missing = [p for p in (out, sidecar, notes) if not os.path.exists(p)]
    if missing:
        return problems + [f"missing {os.path.basename(p)}" for p in missing]
    with open(sidecar, encoding="utf-8") as fh:
        record = json.load(fh)
    with open(out, "rb") as fh:
        if hashlib.sha256(fh.read()).hexdigest() != record["sha256_checksum"]:
            problems.append("NPZ is not the sidecar's")
    with np.load(out, allow_pickle=False) as fixture:
        if any(content_digest(fixture[k]) != v for k, v in record["content_digests"].items()):
            problems.append("content digests differ")
    with open(notes, encoding="utf-8") as fh:
        if fh.read() != fixture_notes_markdown(record):
            problems.append("notes are not the sidecar's")
    return problems


def race_rounds(folder: str, source: str, rounds: int, size: int) -> tuple[int, list[str]]:
    out = os.path.join(folder, "out.npz")
    mixed, notes = 0, []
    for k in range(rounds):
        procs = [_make(source, out, 2 * k + i, size, force=True) for i in (1, 2)]
        codes = [p.wait() for p in procs]
        problems = _set_problems(folder)
        if problems or codes != [0, 0]:
            mixed += 1
            notes.append(f"round {k}: exits {codes}, {problems}")
    return mixed, notes


def no_force_rounds(folder: str, source: str, rounds: int, size: int) -> tuple[int, list[str]]:
    out = os.path.join(folder, "out.npz")
    bad, notes = 0, []
    for k in range(rounds):
        for ext in (".npz", ".json", ".md"):
            if os.path.exists(out[:-4] + ext):
                os.unlink(out[:-4] + ext)
        procs = [_make(source, out, 2 * k + i, size, force=False) for i in (1, 2)]
        codes = sorted(p.wait() for p in procs)
        problems = _set_problems(folder)
        if codes != [0, 2] or problems:
            bad += 1
            notes.append(f"round {k}: exits {codes}, {problems}")
    return bad, notes


def _temporaries(folder: str) -> list[str]:
    return [n for n in os.listdir(folder) if n.endswith((".part", ".lock"))]


def kill_rounds(folder: str, source: str, rounds: int, size: int, rng: random.Random) -> dict:
    out = os.path.join(folder, "out.npz")
    alone = time.perf_counter()
    _make(source, out, 0, size, force=True).wait()
    duration = time.perf_counter() - alone
    leftovers, during_write, notes = 0, 0, []
    for k in range(rounds):
        proc = _make(source, out, k + 1, size, force=True)
        # Wait until the run writes its temporaries, then kill it somewhere inside the write.
        while proc.poll() is None and not _temporaries(folder):
            time.sleep(0.002)
        time.sleep(rng.uniform(0.0, 0.1) * duration)
        temps = _temporaries(folder)
        proc.send_signal(signal.SIGKILL if k % 2 == 0 else signal.SIGTERM)
        proc.wait()
        during_write += bool(temps)
        rerun = _make(source, out, k + 1, size, force=True)
        code = rerun.wait()
        problems = _set_problems(folder)
        if problems or code != 0:
            leftovers += 1
            notes.append(f"round {k}: rerun exit {code}, {problems}")
    return {
        "seconds_per_run": duration,
        "leftover_rounds": leftovers,
        "killed_while_temporaries_existed": during_write,
        "notes": notes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--no-force-rounds", type=int, default=50)
    parser.add_argument("--kill-rounds", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="ptyevidence-concurrency-") as root:
        race = os.path.join(root, "race")
        os.mkdir(race)
        source = _source(race, 200, 32)
        start = time.perf_counter()
        mixed, notes = race_rounds(race, source, args.rounds, 64)
        print(
            f"race: {args.rounds} rounds of two concurrent 'fixture make --force' on one output: "
            f"{mixed} mixed or broken sets ({time.perf_counter() - start:.0f} s)"
        )
        for line in notes[:10]:
            print("  " + line)
        for name in os.listdir(race):
            if name != "source.npz":
                os.unlink(os.path.join(race, name))
        bad, notes = no_force_rounds(race, source, args.no_force_rounds, 64)
        print(
            f"no-force: {args.no_force_rounds} rounds of two concurrent 'fixture make' on a fresh "
            f"output: {bad} rounds without exactly one winner and its complete set"
        )
        for line in notes[:10]:
            print("  " + line)
        killed = os.path.join(root, "kill")
        os.mkdir(killed)
        source = _source(killed, 600, 128)
        result = kill_rounds(killed, source, args.kill_rounds, 500, rng)
        print(
            f"kill: {args.kill_rounds} rounds of a run killed (SIGKILL/SIGTERM alternating) at a random "
            f"moment of its write (a run takes {result['seconds_per_run']:.1f} s), then rerun: "
            f"{result['leftover_rounds']} rounds with leftover or broken files; temporaries existed at the kill in "
            f"{result['killed_while_temporaries_existed']} rounds"
        )
        for line in result["notes"][:10]:
            print("  " + line)


if __name__ == "__main__":
    main()
