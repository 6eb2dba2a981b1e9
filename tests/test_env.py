"""The piano environment: dims from the spec, an oracle that plays perfectly, reward terms."""

import dm_env
import numpy as np
import pytest
from dm_env import test_utils

from fingering import keyboard
from fingering.reward import ot_reward
from handspec import InputError
from pianoenv import suite
from pianoenv.env import PianoEnv
from pianoenv.songs import load_goals


@pytest.fixture(scope="module")
def twinkle():
    return suite.load("twinkle", "shadow_five")


def _hold_action(env: PianoEnv) -> np.ndarray:
    """Keep the hands in their home pose, pedal up."""
    env.reset()
    return env.home_action()


def test_shadow_five_has_rp1m_dimensions(twinkle):
    spec = twinkle.observation_spec()
    assert sum(s.shape[0] for s in spec.values()) == 1144
    assert [k for k in spec] == ["goal", "sustain_goal", "piano/keys", "piano/sustain",
                                 "fingertips", "hands/joints"]
    assert spec["fingertips"].shape == (30,) and spec["hands/joints"].shape == (46,)
    assert twinkle.action_spec().shape == (39,)
    ts = twinkle.reset()
    for key, value in ts.observation.items():
        spec[key].validate(value)


def test_other_hand_dims_come_from_its_spec():
    env = suite.load("demo_short", "shadow_four")
    spec = env.observation_spec()
    assert spec["fingertips"].shape == (24,)          # 4 fingers x 3 x 2 hands
    assert spec["hands/joints"].shape == (38,)        # 19 joints x 2
    assert env.action_spec().shape == (2 * 16 + 1,)
    allegro = suite.load("demo_short", "allegro_like")
    assert allegro.action_spec().shape == (2 * 18 + 1,)


def _play_oracle(env: PianoEnv, wrong_key: int | None = None):
    """Push exactly the goal keys down with joint torques (no hands involved)."""
    action = _hold_action(env)
    ts = env.reset()
    f1, press = [], []
    while not ts.last():
        torque = np.where(env.song_goals.keys[env.step_index], 0.6, 0.0)
        if wrong_key is not None:
            torque[wrong_key] = 0.6
        env.data.qfrc_applied[env._key_dofs] = torque
        ts = env.step(action)
        f1.append(env.metrics.f1[-1])
        if env.song_goals.keys[env.step_index - 1].any():
            press.append(env.reward_terms["press"])
    return np.array(f1), np.array(press)


@pytest.mark.parametrize("physics_timestep", [0.005, 0.01])
def test_oracle_presses_give_f1_one_and_full_press_reward(physics_timestep):
    env = suite.load("demo_short", "shadow_five", physics_timestep=physics_timestep)
    f1, press = _play_oracle(env)
    assert np.mean(f1 == 1.0) >= 0.95, f"oracle F1 per step: {f1}"
    assert env.episode_metrics()["f1"] > 0.97
    assert press.mean() > 0.9


def test_hands_driven_into_each_other_lose_the_collision_term():
    env = suite.load("demo_short", "shadow_five")
    names = list(env.actuator_names)
    action = _hold_action(env)
    for side in ("rh_", "lh_"):  # both forearms to the same end of their slide
        action[next(i for i, n in enumerate(names) if side in n and "forearm_ty" in n)] = -0.47
    terms = []
    for _ in range(10):
        env.step(action)
        terms.append(env.reward_terms["collision"])
    assert terms[0] == 1.0 and terms[-1] == 0.0
    held = _hold_action(env)
    env.step(held)
    assert env.reward_terms["collision"] == 1.0


def test_max_steps_plays_the_opening_only():
    full = suite.load("twinkle", "shadow_five").num_steps
    env = suite.load("twinkle", "shadow_five", max_steps=40)
    assert env.num_steps == 40 and full > 40
    np.testing.assert_array_equal(env.song_goals.keys, suite.load("twinkle").song_goals.keys[:40])
    assert suite.load("twinkle", max_steps=10 * full).num_steps == full  # longer: all of it
    for bad in (0, -3, 2.5):
        with pytest.raises(InputError, match="max_steps"):
            suite.load("twinkle", max_steps=bad)


def test_resting_keys_sleep_and_fingers_wake_them():
    """MuJoCo sleeping skips resting keys; a finger touching one must still press it."""
    env = suite.load("twinkle", "shadow_five", seed=0)
    m, d = env.model, env.data
    key_trees = m.body_treeid[m.jnt_bodyid[env._key_qadr]]  # one tree per key
    hold = _hold_action(env)
    for _ in range(3):
        env.step(hold)
    assert d.tree_awake[key_trees].sum() == 0  # all 88 keys asleep, hands awake
    assert d.ntree_awake >= 2
    rng = np.random.default_rng(0)
    spec = env.action_spec()
    for _ in range(60):
        env.step(rng.uniform(spec.minimum, spec.maximum).astype(np.float32))
    assert len(env.contact_log) > 0  # fingers woke keys and pressed them down


def test_pressing_a_wrong_key_lowers_precision():
    env = suite.load("demo_short", "shadow_five")
    _play_oracle(env, wrong_key=0)  # A0 is never in the demo piece
    m = env.episode_metrics()
    assert m["precision"] < 0.8 and m["recall"] > 0.95 and m["f1"] < 0.9


def test_ot_term_equals_the_engine_value(twinkle):
    rng = np.random.default_rng(3)
    ts = twinkle.reset()
    spec = twinkle.action_spec()
    checked = 0
    while not ts.last() and checked < 40:
        t = twinkle.step_index
        ts = twinkle.step(rng.uniform(spec.minimum, spec.maximum).astype(np.float32))
        keys = keyboard.key_press_points()[twinkle.song_goals.keys[t]]
        tips = twinkle.data.site_xpos[twinkle._tip_ids]
        expected, _ = ot_reward(tips, keys, method="jv", variant="total")
        assert twinkle.reward_terms["ot"] == pytest.approx(expected, rel=1e-12, abs=1e-15)
        checked += len(keys) > 0
    assert checked == 40


def test_reward_terms_are_named_and_weighted(twinkle):
    ts = twinkle.reset()
    ts = twinkle.step(_hold_action(twinkle))
    terms = twinkle.reward_terms
    assert set(terms) == {"ot", "press", "sustain", "collision", "energy", "total"}
    w = twinkle.weights
    expected = terms["ot"] + terms["press"] + terms["sustain"] + w.collision * terms["collision"] \
        + w.energy * terms["energy"]
    assert ts.reward == pytest.approx(expected) == pytest.approx(terms["total"])
    assert terms["collision"] == 1.0 and terms["energy"] <= 0.0


def test_fingering_modes_change_reward_and_observation():
    none = suite.load("demo_short", fingering="none")
    human = suite.load("demo_short", fingering="human")
    none.reset(), human.reset()
    none.step(_hold_action(none)), human.step(_hold_action(human))
    assert "ot" not in none.reward_terms and "fingering" not in none.reward_terms
    assert "fingering" in human.reward_terms
    assert human.observation_spec()["fingering"].shape == (110,)
    assert "fingering" in human.binary_observation_keys


def test_human_fingering_needs_an_annotated_song(tmp_path):
    import pretty_midi

    midi = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(0)
    inst.notes.append(pretty_midi.Note(velocity=80, pitch=60, start=0.0, end=0.5))
    midi.instruments.append(inst)
    midi.write(str(tmp_path / "one.mid"))
    with pytest.raises(InputError, match="fingering"):
        suite.load(str(tmp_path / "one.mid"), fingering="human")
    with pytest.raises(InputError, match="ot_method"):
        suite.load("demo_short", ot_method="simplex")


def test_reset_is_deterministic_for_a_seed():
    def rollout(seed):
        env = suite.load("demo_short", seed=seed, initial_noise=0.05)
        obs = [env.reset().observation["hands/joints"]]
        action = env.home_action()
        for _ in range(5):
            obs.append(env.step(action).observation["fingertips"])
        return obs

    a, b, c = rollout(7), rollout(7), rollout(8)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])


def test_episode_ends_with_truncation_after_the_song():
    env = suite.load("demo_short")
    action = _hold_action(env)
    ts, steps = env.reset(), 0
    while not ts.last():
        ts = env.step(action)
        steps += 1
    assert steps == env.num_steps == load_goals("demo_short").num_steps
    assert ts.step_type == dm_env.StepType.LAST and ts.discount == 1.0
    assert env.step(action).first()  # stepping after the end starts a new episode


def test_contact_log_names_the_finger_that_pressed():
    env = suite.load("demo_short", "shadow_five")
    action = _hold_action(env)
    names = list(env.actuator_names)
    i = names.index("rh_shadow_five/rh_A_FFJ3")
    action[i] = env.action_spec().maximum[i]
    env.reset()
    for _ in range(8):
        env.step(action)
    log = env.contact_log
    assert log and {(h, f) for _, h, f, _ in log} == {("right", "index")}


class DmEnvConformance(test_utils.EnvironmentTestMixin):
    def make_object_under_test(self):
        return suite.load("demo_short", "shadow_four", seed=0)


import unittest  # noqa: E402


class TestDmEnvConformance(DmEnvConformance, unittest.TestCase):
    pass
