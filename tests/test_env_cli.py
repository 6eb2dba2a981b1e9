"""``pianohands env run|render``: real output, and one-line errors with exit code 2."""

import pytest

from training.cli import main


def test_env_run_prints_f1_and_reward_terms(capsys):
    assert main(["env", "run", "--song", "demo_short", "--hand", "shadow_four",
                 "--policy", "random"]) == 0
    out = capsys.readouterr().out
    for word in ("f1", "precision", "recall", "reward/ot", "reward/press", "reward/energy"):
        assert word in out


@pytest.mark.parametrize("argv, field", [
    (["env", "run", "--song", "no_such_song"], "no_such_song"),
    (["env", "run", "--policy", "clever"], "--policy"),
    (["env", "run", "--fingering", "psychic"], "fingering"),
    (["env", "run", "--song", "demo_short:7"], "chunk"),
    (["env", "run", "--hand", "octopus"], "octopus"),
    (["env", "render", "--out", "video.gif"], "--out"),
    (["env", "run", "--episodes", "0"], "episodes"),
])
def test_env_cli_errors_are_one_line(argv, field, capsys):
    assert main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and err[0].startswith("error:") and field in err[0]


def test_env_render_writes_a_watchable_video(tmp_path, needs_gl, capsys):
    import imageio.v3 as iio

    out = tmp_path / "demo.mp4"
    assert main(["env", "render", "--song", "demo_short", "--policy", "random", "--out", str(out),
                 "--width", "160", "--height", "120"]) == 0
    frames = iio.imread(out)
    assert frames.shape[0] == 101 and frames.shape[1:] == (120, 160, 3)
    assert frames.std() > 5


def test_env_render_to_an_unwritable_place_fails_before_rendering(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["env", "render", "--song", "demo_short", "--out",
                 str(blocker / "video.mp4")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1 and "--out" in err[0]
