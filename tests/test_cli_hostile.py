"""Every ``pianohands`` subcommand against hostile inputs: one ``error:`` line and exit 2,
never a traceback (issue 15). Runs ``training.cli.main`` in-process (fast); the subprocess
tests cover what only a real process shows: a closed stdout, SIGTERM and Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from training import cli

ROOT = Path(__file__).resolve().parents[1]
PIANOHANDS = [sys.executable, "-c", "from training.cli import entry; entry()"]

# Every leaf command of the app; a test checks this list is complete.
COMMANDS = {
    "train", "eval", "demo", "collect", "rp1m", "hand list", "hand validate", "hand info",
    "hand export", "hand render", "song list", "song info", "song plot", "song export",
    "fingering suggest", "fingering compare", "fingering solvers", "fingering fit", "env run",
    "env render",
    "dataset info", "dataset verify", "dataset stats", "experiment fingering",
    "experiment cross-embodiment", "experiment fig2",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """Files an attacker (or an unlucky user) hands to the CLI."""
    d = tmp_path_factory.mktemp("hostile")
    f = {}
    f["file"] = d / "plain_file"
    f["file"].write_text("not a folder\n")
    f["under_file"] = f["file"] / "below"
    f["proc"] = Path("/proc/pianohands_cannot_write_here")
    f["big_int"] = d / "big_int.yaml"
    f["big_int"].write_text("name: x\nforearm: {mount: [" + "9" * 5000 + ", 0, 0]}\n")
    f["deep"] = d / "deep.yaml"
    f["deep"].write_text("name: " + "[" * 100_000 + "\n")
    f["dupe"] = d / "dupe.yaml"
    f["dupe"].write_text("extends: shadow_five\nname: a\nname: b\n")
    f["huge"] = d / "huge.yaml"
    f["huge"].write_text("name: x\n" + "#" * (2 << 20) + "\n")
    f["junk"] = d / "junk.h5"
    f["junk"].write_bytes(np.random.default_rng(0).bytes(4096))
    f["empty_dir"] = d / "empty_dir"
    f["empty_dir"].mkdir()
    f["pig_far"] = d / "far_fingering.txt"
    f["pig_far"].write_text("//Version: PianoFingering_v170101\n0\t0.5\t1.0\tC4\t60\t80\t0\t1\n"
                            "1\t1e300\t1e301\tD4\t62\t80\t0\t2\n")
    f["run_file"] = d / "run_is_a_file"
    f["run_file"].write_text("{}")
    return f


def _cases(h: dict[str, Path]) -> list[list[str]]:
    s = lambda key: str(h[key])  # noqa: E731
    quick = ["--steps", "5", "--no-progress", "--no-tensorboard"]
    return [
        ["train", "--song", "demo_short", "--out", s("proc") + "/run", *quick],
        ["train", "--song", "demo_short", "--out", s("under_file"), *quick],
        ["train", "--song", s("pig_far"), "--out", s("empty_dir") + "/r1", *quick],
        ["train", "--song", "demo_short", "--stretch-is-not-an-option"],
        ["train", "--song", "demo_short", "--hand", s("big_int"), "--out",
         s("empty_dir") + "/r2", *quick],
        ["train", "--song", "demo_short", "--env-arg", "physics_timestep=0", "--out",
         s("empty_dir") + "/r3", *quick],
        ["train", "--song", "demo_short", "--env-arg", "initial_noise=NaN", "--out",
         s("empty_dir") + "/r4", *quick],
        ["train", "--song", "demo_short", "--env-arg", "lookahead=-1", "--out",
         s("empty_dir") + "/r5", *quick],
        ["train", "--song", "demo_short", "--env-arg", "control_timestep=1e-9", "--out",
         s("empty_dir") + "/r6", *quick],
        ["train", "--song", "demo_short", "--out", s("run_file"), *quick],
        ["train", "--resume", "--out", s("empty_dir")],
        ["eval", s("empty_dir")],
        ["eval", s("proc")],
        ["demo", "--out", s("under_file"), "--steps", "5", "--no-progress"],
        ["collect", "baseline:random", "--song", "demo_short", "--out", s("file")],
        ["collect", "baseline:random", "--song", "demo_short", "--out", s("junk"),
         "--episodes", "1"],
        ["collect", s("empty_dir"), "--out", s("empty_dir") + "/x.h5"],
        ["rp1m", "--songs", "@" + s("proc"), "--out", s("empty_dir") + "/p"],
        ["rp1m", "--songs", s("pig_far"), "--out", s("empty_dir") + "/p2",
         "--specialist", "random"],
        ["hand", "validate", s("big_int")],
        ["hand", "validate", s("deep")],
        ["hand", "validate", s("dupe")],
        ["hand", "validate", s("huge")],
        ["hand", "validate", s("junk")],
        ["hand", "info", s("deep")],
        ["hand", "info", s("empty_dir")],
        ["hand", "export", "shadow_four", "--out", s("proc")],
        ["hand", "export", "shadow_four", "--out", s("under_file")],
        ["hand", "render", "shadow_four", "--out", s("under_file") + "/x.png"],
        ["song", "list", "--library", "nowhere"],
        ["song", "info", s("pig_far")],
        ["song", "info", "twinkle", "--stretch", "inf"],
        ["song", "info", "twinkle", "--stretch", "1e9"],
        ["song", "info", "twinkle", "--control-timestep", "1e-9"],
        ["song", "info", "twinkle", "--transpose", "9" * 30],
        ["song", "plot", "twinkle", "--out", s("proc") + ".png"],
        ["song", "plot", "twinkle", "--out", s("under_file") + "/x.png"],
        ["song", "export", "twinkle", "--out", s("under_file") + "/x.mid"],
        ["song", "export", "twinkle", "--out", s("proc") + ".mid"],
        ["fingering", "suggest", "twinkle", "--out", s("under_file") + "/f.txt"],
        ["fingering", "suggest", "twinkle", "--hand", s("deep"), "--out",
         s("empty_dir") + "/f.txt"],
        ["fingering", "compare", "--pig-dir", s("empty_dir")],
        ["fingering", "solvers", "--bogus"],
        ["fingering", "fit", "--pig-dir", s("empty_dir"), "--out", s("under_file") + "/w.json"],
        ["fingering", "fit", "--pig-dir", s("empty_dir"), "--folds", "-3"],
        ["env", "run", "--song", "demo_short", "--hand", s("dupe")],
        ["env", "run", "--song", s("pig_far")],
        ["env", "render", "--song", "demo_short", "--hand", s("huge"), "--out",
         s("empty_dir") + "/v.mp4"],
        ["dataset", "info", s("junk")],
        ["dataset", "verify", s("junk")],
        ["dataset", "stats", s("empty_dir")],
        ["dataset", "stats", s("proc")],
        ["experiment", "fingering", "--bogus"],
        ["experiment", "cross-embodiment", "--song", s("pig_far")],
        ["experiment", "fig2", "--song", s("pig_far")],
    ]


def test_cases_cover_every_command():
    import typer

    cli._register()
    found = set()

    def walk(cmd, path):
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                walk(sub, path + [name])
        else:
            found.add(" ".join(path))

    walk(typer.main.get_command(cli.app), [])
    assert found == COMMANDS
    covered = set()
    for argv in _cases({k: Path("/x") for k in ("file", "under_file", "proc", "big_int", "deep",
                                                 "dupe", "huge", "junk", "empty_dir", "pig_far",
                                                 "run_file")}):
        covered.add(" ".join(argv[:2]) if " ".join(argv[:2]) in COMMANDS else argv[0])
    assert covered == COMMANDS - {"hand list"}  # hand list: test_hand_list_survives_bad_files


def test_every_command_gives_one_line_and_exit_2(hostile, capfd):
    failures = []
    for argv in _cases(hostile):
        code = cli.main(argv)
        out, err = capfd.readouterr()
        lines = [line for line in err.splitlines() if line.strip()]
        # dataset verify reports each bad file on its line, then a count: all "error:" lines
        one = len(lines) == 1 or argv[:2] == ["dataset", "verify"]
        if code != 2 or not one or not all(x.startswith("error: ") for x in lines) \
                or "Traceback" in err + out:
            failures.append((argv, code, err[-300:]))
    assert not failures, "\n".join(map(str, failures))
    for leftover in ("r1", "r2", "r3", "r4", "r5", "r6"):  # failed checks write no run
        assert not (hostile["empty_dir"] / leftover).exists()


def test_hand_list_survives_bad_files(hostile, monkeypatch, capfd, tmp_path):
    for key in ("big_int", "dupe", "deep"):
        (tmp_path / hostile[key].name).write_bytes(hostile[key].read_bytes())
    monkeypatch.setenv("PIANOHANDS_HANDS_PATH", str(tmp_path))
    assert cli.main(["hand", "list"]) == 0
    out, err = capfd.readouterr()
    assert "Traceback" not in err and out.count("invalid") == 3, out


def _interactive_signals() -> None:
    """In the child: SIGINT as in a terminal, even when the test runner itself was started
    in the background (where a shell leaves SIGINT ignored, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _spawn(argv: list[str], **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), MUJOCO_GL="egl")
    return subprocess.Popen(PIANOHANDS + argv, cwd=ROOT, env=env, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_interactive_signals, **kwargs)


@pytest.mark.parametrize("argv", [["hand", "info", "shadow_five"], ["song", "list"],
                                  ["fingering", "solvers"], ["--help"]])
def test_stdout_closed_early_is_silent(argv):
    proc = _spawn(argv, stdout=subprocess.PIPE)
    proc.stdout.read(1)  # like `| head -c 1`
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in err and "Error" not in err, err


def _wait_for(proc: subprocess.Popen, marker: Path, timeout: float = 120.0) -> None:
    start = time.monotonic()
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() - start < timeout
        time.sleep(0.2)


@pytest.mark.parametrize("sig, code, line", [(signal.SIGTERM, 143, "error: terminated"),
                                             (signal.SIGINT, 130, "error: interrupted")])
def test_signals_exit_with_shell_codes(tmp_path, sig, code, line):
    """A collection killed mid-run: 143 for SIGTERM, 130 for Ctrl-C, one line, no traceback,
    and the file holds the episodes committed before the signal."""
    out = tmp_path / "d.h5"
    proc = _spawn(["collect", "baseline:random", "--song", "demo_short", "--out", str(out),
                   "--episodes", "500", "--commit-every", "1", "--no-progress"],
                  stdout=subprocess.DEVNULL)
    _wait_for(proc, out)
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == code
    err = proc.stderr.read()
    assert "Traceback" not in err and err.strip().splitlines()[-1] == line, err
    from training.data import verify_file

    assert verify_file(out).ok
