"""The kinematic pianist (policy "ik"): annotator fingering + IK plays with no training."""

import textwrap

import numpy as np
import pytest

from fingering import keyboard
from fingering.notes import Note, NoteSequence
from handspec import load_hand
from pianoenv import piano
from pianoenv.env import PianoEnv
from pianoenv.episode import run_episode
from pianoenv.kinematic import KinematicPianist, TargetConfig
from pianoenv.kinematic.policy import FOREARM_ON_ITS_WAY
from pianoenv.policy import Policy, available_policies, make_policy
from pianoenv.songs import prepare
from training.cli import main

C5, D5, E5, F5, G5 = 72, 74, 76, 77, 79


def melody(pitches, hand="right", start=0.8, duration=0.32, gap=0.08) -> NoteSequence:
    """One note at a time; a leading rest (kept) lets the hand reach the first key."""
    notes, t = [], start
    for p in pitches:
        notes.append(Note(p, t, t + duration, hand=hand))
        t += duration + gap
    return NoteSequence.from_notes(notes, name="melody")


def env_for(seq: NoteSequence, hand="shadow_five") -> PianoEnv:
    spec = load_hand(hand) if isinstance(hand, str) else hand
    return PianoEnv(prepare(seq, trim_silence=False), spec)


def test_registered_as_a_policy():
    assert "ik" in available_policies()
    env = env_for(melody([C5]))
    policy = make_policy("ik", env)
    assert isinstance(policy, Policy) and isinstance(policy, KinematicPianist)


def test_melody_within_reach_presses_exactly_the_goal_keys():
    env = env_for(melody([C5, D5, E5, F5, G5, F5, E5, D5, C5]))
    result = run_episode(env, KinematicPianist(env), seed=0, record=True)
    f1 = np.array(env.metrics.f1)
    goal = env.song_goals.keys
    down = np.array([np.asarray(o["piano/keys"])[:88] >= piano.PRESSED_THRESHOLD
                     for o in result.record.observations[1:]])
    # never a key outside the goal, except a strike one step early (the next note's key)
    extra = down & ~goal[:len(down)]
    early = np.zeros_like(extra)
    early[:-1] = goal[1:len(down)]
    assert not (extra & ~early).any(), np.argwhere(extra & ~early)
    onsets = np.flatnonzero(env.song_goals.onsets.any(axis=1))
    late = np.flatnonzero(f1 < 1.0)
    # the only imperfect steps are within a step of a note's start: the strike itself
    assert all(((s - onsets >= -1) & (s - onsets < 3)).any() for s in late), late
    assert len(late) <= 0.1 * len(f1)
    assert result.metrics["f1"] >= 0.9
    assert result.contact_log and {c[1] for c in result.contact_log} == {"right"}


def test_fingertips_settle_on_their_targets_and_keys_come_back_up():
    """A held note: the pressing tip sits on its key within a few mm, the key is fully
    down, idle fingers stay clear of the keys, and after release the key comes back up
    (a key held still at its stop used to fall asleep there and stay down)."""
    seq = NoteSequence.from_notes([Note(C5, 0.8, 2.8, hand="right"),
                                   Note(G5, 3.6, 3.9, hand="right")], name="held")
    env = env_for(seq)
    pianist = KinematicPianist(env)
    cfg = pianist.targets.config
    ts = env.reset()
    pianist.reset(0)
    key = C5 - 21
    last = int(np.flatnonzero(env.song_goals.keys[:, key])[-1])
    checked = 0
    while not ts.last():
        t = env.step_index
        ts = env.step(pianist(ts))
        tips = ts.observation["fingertips"].reshape(-1, 3)
        state = ts.observation["piano/keys"][key]
        if 35 <= t <= last:              # settled: 15 steps after the strike
            target, _ = pianist.targets.targets(t)
            f = int(np.flatnonzero(pianist.plan.press[t] == key)[0])
            err = tips[f] - target[f]
            assert abs(err[1]) < 0.003 and abs(err[0]) < 0.006       # on the key
            # blocked by the key's stop: it is commanded press_extra below it
            assert 0.0 < err[2] < cfg.press_extra + 0.002
            assert state >= piano.PRESSED_THRESHOLD[key]
            idle = np.arange(len(tips)) != f
            bottoms = tips[idle, 2] - pianist.targets.tip_radius[idle]
            assert (bottoms > keyboard.WHITE_TOP + 0.01).all()       # lifted clear
            checked += 1
        if last + 3 <= t < last + 10:    # released two steps ago
            assert state < 0.1
    assert checked == last - 35 + 1


def test_actions_stay_inside_the_action_spec():
    env = PianoEnv(prepare(NoteSequence.from_notes(
        [Note(p, 0.0, 0.6, hand="right") for p in (C5, E5, G5)]
        + [Note(p, 0.0, 0.6, hand="left") for p in (48, 52, 55)]
        + [Note(p, 0.7, 1.3, hand="right") for p in (77, 81, 84)]
        + [Note(36, 0.7, 1.3, hand="left")], name="chords",
        sustain=((0.0, 1.2),))), load_hand("allegro_like"))
    result = run_episode(env, make_policy("ik", env), seed=0, record=True)
    spec = env.action_spec()
    actions = np.stack(result.record.actions)
    assert actions.dtype == np.float32 and actions.shape[1:] == spec.shape
    assert (actions >= spec.minimum).all() and (actions <= spec.maximum).all()
    # the pedal follows the goal's sustain
    sustain_goal = np.array([o["sustain_goal"][0] for o in result.record.observations[:-1]])
    np.testing.assert_array_equal(actions[:, -1], sustain_goal)
    assert result.metrics["f1"] > 0.5


USER_HAND = textwrap.dedent("""\
    name: claw_three
    joint_classes:
      finger: {kp: 4.0, damping: 0.1}
    forearm:
      mount: [0.24, 0.14, 0.08]
      slides:
        - {name: forearm_ty, axis: [0, 1, 0], range: [-0.45, 0.45]}
        - {name: forearm_tx, axis: [-1, 0, 0], range: [0.0, 0.06]}
    palm: {length: 0.08, width: 0.07, thickness: 0.025}
    fingers:
      - name: thumb
        base: [-0.07, -0.035, -0.005]
        links:
          - {length: 0.05, radius: 0.01, joints: [{name: t1, axis: [0, -1, 0], range: [-10, 90]}]}
          - {length: 0.04, radius: 0.009, joints: [{name: t2, axis: [0, -1, 0], range: [0, 90]}]}
      - name: index
        base: [-0.08, -0.01, 0]
        links:
          - {length: 0.06, radius: 0.009, joints: [{name: i1, axis: [0, -1, 0], range: [-10, 90]}]}
          - {length: 0.05, radius: 0.008, joints: [{name: i2, axis: [0, -1, 0], range: [0, 90]}]}
      - name: middle
        base: [-0.08, 0.015, 0]
        links:
          - {length: 0.06, radius: 0.009, joints: [{name: m1, axis: [0, -1, 0], range: [-10, 90],
                                                     couple_next: 0.8}]}
          - {length: 0.05, radius: 0.008, joints: [{name: m2, axis: [0, -1, 0], range: [0, 90]}]}
    """)


def test_works_for_a_yaml_hand_written_here(tmp_path):
    path = tmp_path / "claw_three.yaml"
    path.write_text(USER_HAND)
    spec = load_hand(path)
    notes, t = [], 0.8
    for p in (C5, D5, E5, D5, C5, 48, 50):
        notes.append(Note(p, t, t + 0.32, hand="right" if p > 60 else "left"))
        t += 0.4
    env = env_for(NoteSequence.from_notes(notes, name="user"), spec)
    pianist = KinematicPianist(env)
    assert [h.tip_radius.round(4).tolist() for h in pianist.hands] == [[0.009, 0.008, 0.008]] * 2
    result = run_episode(env, pianist, seed=0, record=True)
    random = run_episode(env, make_policy("random", env, seed=0), seed=0)
    assert result.metrics["f1"] >= 0.9 > random.metrics["f1"] + 0.5
    # every note is within the hand's reach; at most a step or two of a hand shift is
    # reported as the forearm still travelling its planned path
    assert [u for u in pianist.unreachable if u.reason != FOREARM_ON_ITS_WAY] == []
    assert len(pianist.unreachable) <= 2
    # the coupled joint (m2 = 0.8 m1) has no actuator; the IK kept the coupling
    qpos = env.data.qpos
    m = env.model
    m1, m2 = (m.joint(f"rh_claw_three/rh_{j}").qposadr[0] for j in ("m1", "m2"))
    assert qpos[m2] == pytest.approx(0.8 * qpos[m1], abs=0.02)


def test_unreachable_notes_are_reported_not_dropped():
    # six right-hand notes at once on a five-finger hand, and a right-hand A0 far outside
    # the forearm's slide range
    chord = [Note(p, 0.5, 1.0, hand="right") for p in (C5, D5, E5, F5, G5, 81)]
    seq = NoteSequence.from_notes(chord + [Note(21, 1.5, 2.0, hand="right")], name="hard")
    env = env_for(seq)
    pianist = KinematicPianist(env)
    planned = {(u.key, u.reason) for u in pianist.unreachable}
    assert any(r == "more simultaneous keys than fingers" for _, r in planned)
    run_episode(env, pianist, seed=0)
    a0 = [u for u in pianist.unreachable if u.key == 0]
    goal_steps = np.flatnonzero(env.song_goals.keys[:, 0])
    assert sorted(u.step for u in a0) == goal_steps.tolist()
    assert {u.reason for u in a0} == {"out of the forearm's slide range"}


def test_env_run_cli_reports_the_unreachable_count(capsys):
    assert main(["env", "run", "--song", "demo_short", "--policy", "ik"]) == 0
    out = capsys.readouterr().out
    assert "f1" in out and "unreachable: 0 goal key-steps" in out


def test_target_heights_follow_the_config():
    env = env_for(melody([C5, C5]))
    cfg = TargetConfig(hover=0.006)
    pianist = KinematicPianist(env, targets=cfg)
    plan = pianist.plan
    row = int(np.flatnonzero(plan.press.max(axis=0) >= 0)[0])
    gap = int(np.flatnonzero(plan.onset[:, row])[1]) - 1
    assert plan.press[gap, row] < 0                   # released right before the re-strike
    pos, cost = pianist.targets.targets(gap)
    r = pianist.targets.tip_radius[row]
    top = keyboard.key_press_points()[C5 - 21, 2]
    assert pos[row, 2] == pytest.approx(top + cfg.hover + r)
    assert (cost[row] == cfg.w_hover_next).all()


def test_a_policy_fed_another_song_says_so():
    env = env_for(melody([C5, D5, E5]))
    other = env_for(melody([G5, F5], start=0.0))
    pianist = KinematicPianist(env)
    pianist(env.reset())                  # fine: its own song
    with pytest.raises(RuntimeError, match="observed goal"):
        pianist(other.step(other.home_action()))
