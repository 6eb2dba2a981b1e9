"""Issue 15, songs and the environment's arguments: values that used to allocate terabytes,
crash later or give garbage are refused up front; ``song info`` says how the song was
prepared; ``song plot`` draws a long piece as a few collections."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fingering.notes import Note, NoteSequence
from handspec import InputError, load_hand
from pianoenv.env import PianoEnv
from pianoenv.songs import load_goals, prepare
from pianoenv.songs.goals import MAX_STEPS
from pianoenv.songs.summary import summarize


def _seq(*times: tuple[float, float], sustain=()) -> NoteSequence:
    notes = tuple(Note(pitch=60 + i % 12, onset=on, offset=off, hand="right")
                  for i, (on, off) in enumerate(times))
    return NoteSequence(notes, "toy", tuple(sustain), {})


@pytest.fixture(autouse=True)
def no_big_allocation(monkeypatch):
    """Refusals must come before allocating: any (T, 88) array over MAX_STEPS fails."""
    real = np.zeros

    def guarded(shape, *args, **kwargs):
        if isinstance(shape, tuple) and shape and shape[0] > MAX_STEPS + 100:
            raise AssertionError(f"allocated {shape}")
        return real(shape, *args, **kwargs)

    monkeypatch.setattr(np, "zeros", guarded)


@pytest.mark.parametrize("times, field", [
    (((0.5, 1.0), (1e300, 1e301)), "duration"),     # a PIG onset of 1e300
    (((0.5, 1.0), (1e5, 1e5 + 1)), "duration"),     # a note at 1e5 s: 2 GB before
    (((0.5, 1.0), (2.0, math.inf)), "onset"),
    (((math.nan, 1.0),), "onset"),
])
def test_far_or_broken_times_are_refused(times, field):
    with pytest.raises(InputError) as err:
        prepare(_seq(*times))
    assert err.value.field == field


@pytest.mark.parametrize("kwargs, field", [
    ({"stretch": math.inf}, "stretch"), ({"stretch": 1e9}, "stretch"),
    ({"stretch": 0.0}, "stretch"), ({"stretch": math.nan}, "stretch"),
    ({"control_timestep": 1e-9}, "control_timestep"),
    ({"control_timestep": math.nan}, "control_timestep"),
    ({"control_timestep": 5.0}, "control_timestep"),
])
def test_stretch_and_timestep_ranges(kwargs, field):
    with pytest.raises(InputError) as err:
        load_goals("twinkle", **kwargs)
    assert err.value.field == field


def test_sustain_without_trimming_counts_toward_the_cap():
    seq = _seq((0.0, 1.0), sustain=[(0.0, 1e7)])
    with pytest.raises(InputError):
        prepare(seq, trim_silence=False)
    assert prepare(seq).num_steps == 25  # trimmed: pedal after the last note is dropped


def test_song_info_says_stretched_and_trimmed():
    goals = prepare(_seq((2.0, 3.0), (3.0, 4.0)))
    rows = dict(summarize(goals).rows())
    assert rows["duration"].startswith("2.50 s (50 steps)")
    assert rows["timing"] == ("stretched 1.25x (= 2.00 s as written); 2.00 s of leading "
                              "silence trimmed")
    chunk = dict(summarize(load_goals("twinkle:1")).rows())["timing"]
    assert "stretched 1.25x" in chunk and chunk.endswith("chunk 1 only")
    plain = dict(summarize(prepare(_seq((0.0, 1.0)), stretch=1.0)).rows())["timing"]
    assert plain == "stretched 1x; no leading silence trimmed"


def test_piano_roll_of_a_long_piece(tmp_path, monkeypatch):
    """A long piece (6000 notes, ~45 min) is drawn with a handful of artists."""
    from matplotlib.axes import Axes

    from pianoenv.songs.plot import plot_piano_roll

    rng = np.random.default_rng(0)
    on = np.sort(rng.uniform(0, 2000, 6000))
    seq = _seq(*zip(on, on + rng.uniform(0.1, 2, on.size)), sustain=[(10, 400), (900, 1500)])
    goals = prepare(seq)
    calls = {"collections": 0}
    real = Axes.add_collection

    def count(self, collection, *args, **kwargs):
        calls["collections"] += 1
        return real(self, collection, *args, **kwargs)

    monkeypatch.setattr(Axes, "add_collection", count)
    monkeypatch.setattr(Axes, "broken_barh", lambda *a, **k: pytest.fail("one artist per bar"))
    out = plot_piano_roll(goals, tmp_path / "roll.png")
    assert out.stat().st_size > 10_000
    assert calls["collections"] <= 5  # right, held-over keys, pedal (+ left/unknown if any)


@pytest.fixture(scope="module")
def small():
    return load_goals("demo_short"), load_hand("shadow_four")


@pytest.mark.parametrize("kwargs, field", [
    ({"physics_timestep": 0.0}, "physics_timestep"),
    ({"physics_timestep": math.nan}, "physics_timestep"),
    ({"physics_timestep": -0.005}, "physics_timestep"),
    ({"physics_timestep": "0.005"}, "physics_timestep"),
    ({"initial_noise": math.nan}, "initial_noise"),
    ({"initial_noise": -1.0}, "initial_noise"),
    ({"initial_noise": 1e9}, "initial_noise"),
    ({"lookahead": -1}, "lookahead"),
    ({"lookahead": 10**9}, "lookahead"),
    ({"lookahead": 2.5}, "lookahead"),
    ({"lookahead": True}, "lookahead"),
    ({"control_timestep": 1e-9}, "control_timestep"),
    ({"control_timestep": math.inf}, "control_timestep"),
    ({"control_timestep": 0.5, "physics_timestep": 0.0001}, "control_timestep"),  # 5000 substeps
])
def test_env_arguments_are_checked(small, kwargs, field):
    goals, spec = small
    with pytest.raises(InputError) as err:
        PianoEnv(goals, spec, **kwargs)
    assert err.value.field == field


def test_env_accepts_its_defaults_and_extremes_in_range(small):
    goals, spec = small
    env = PianoEnv(goals, spec, lookahead=0, initial_noise=0.01, control_timestep=0.01,
                   physics_timestep=0.005, random_state=0)
    assert env.reset().observation["goal"].shape == (88,)
