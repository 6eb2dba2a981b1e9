"""Forearm slides planned ahead (pianoenv.kinematic.slides): the smoother, the servo command,
and the pianist pinning its IK to the planned slides."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fingering.notes import Note, NoteSequence
from handspec import load_hand
from pianoenv.env import PianoEnv
from pianoenv.episode import run_episode
from pianoenv.kinematic import KinematicPianist
from pianoenv.kinematic.policy import OTHER_HAND_IN_THE_WAY
from pianoenv.kinematic.slides import (SlideConfig, keep_apart, servo_feedforward,
                                       smooth_trajectory)
from pianoenv.songs import prepare


def dense_smoother(q: np.ndarray, w: np.ndarray, s: float) -> np.ndarray:
    """The normal equations written out: (W + s D'D) r = W q, D the second difference."""
    D = np.diff(np.eye(len(q)), 2, axis=0)
    return np.linalg.solve(np.diag(w) + s * D.T @ D, w[:, None] * q)


@settings(max_examples=40, deadline=None)
@given(T=st.integers(3, 40), s=st.floats(0.01, 100.0), data=st.data())
def test_smoother_solves_its_normal_equations(T, s, data):
    q = data.draw(arrays(float, (T, 2), elements=st.floats(-0.5, 0.5)))
    w = data.draw(arrays(float, T, elements=st.floats(0.01, 1.0)))
    np.testing.assert_allclose(smooth_trajectory(q, w, s), dense_smoother(q, w, s), atol=1e-9)


def test_smoother_leaves_early_and_arrives_where_the_weight_is():
    """A hand shift between two held positions with a free gap before it: the trajectory
    moves during the gap and is (nearly) on target while the hand is busy."""
    q = np.r_[np.zeros(20), np.full(20, 0.1)][:, None]
    w = np.r_[np.ones(12), np.full(8, 0.01), np.ones(20)]
    r = smooth_trajectory(q, w, smoothness=30.0, start=np.zeros(1))[:, 0]
    assert abs(r[:10]).max() < 0.005 and abs(r[22:] - 0.1).max() < 0.005
    assert r[19] > 0.05          # already most of the way before the new position is needed
    assert np.all(np.diff(r) > -1e-3)  # no swinging back


def test_the_inverse_servo_command_removes_the_lag():
    """A slide servo (mass m, damping c, gain kp; the command held over each control step,
    simulated here with fine Euler sub-steps) tracking a smooth 15 cm shift lags by
    centimetres when commanded the position itself, and by under half a millimetre with
    the planned commands."""
    m, c, kp, dt, sub = 2.4, 40.0, 300.0, 0.05, 50
    t = np.arange(60)
    ref = (0.15 / (1 + np.exp(-(t - 20) / 2.0)))[:, None]
    planned = servo_feedforward(ref, np.zeros(1), dt, np.array([kp]), np.array([c]),
                                np.array([m]))

    def worst_error(commands: np.ndarray) -> float:
        q = v = worst = 0.0
        for step in t:
            for _ in range(sub):
                v += (kp * (commands[step] - q) - c * v) / m * dt / sub
                q += v * dt / sub
            worst = max(worst, abs(q - ref[step, 0]))
        return worst

    assert worst_error(ref[:, 0]) > 0.02
    assert worst_error(planned[:, 0]) < 5e-4
    assert np.isfinite(planned).all() and np.abs(np.diff(planned[:, 0])).max() < 0.05


def test_pianist_pins_its_ik_to_the_planned_slides():
    """Two notes an octave and a half apart in one hand, with a rest between: the planned
    slide leaves during the rest, every IK solution holds the slides where planned, and
    both notes are played."""
    seq = NoteSequence.from_notes([Note(60, 0.8, 1.3, hand="right"),
                                   Note(79, 1.8, 2.3, hand="right")], name="shift")
    env = PianoEnv(prepare(seq, trim_silence=False), load_hand("shadow_five"))
    pianist = KinematicPianist(env)
    right = 0 if env.hands[0].side == "right" else 1
    hik, ref = pianist.hands[right], pianist.slide_ref[right]
    assert ref.shape == (pianist.plan.num_steps, len(hik.slide_qadr))
    lo, hi = hik.slide_range.T
    assert (ref >= lo - 1e-12).all() and (ref <= hi + 1e-12).all()
    solved = {}
    original = pianist._solve

    def spy(step):
        solved[step] = original(step)
        return solved[step]

    pianist._solve = spy
    result = run_episode(env, pianist, seed=0)
    for step, qs in solved.items():
        if step < len(ref):
            np.testing.assert_allclose(qs[right][hik.slide_qadr], ref[step], atol=1e-9)
    second = int(env.song_goals.note_steps[1, 0])
    ty = ref[:, 0]
    # between the notes (rest) the slide is already moving toward the second note
    assert abs(ty[second - 3] - ty[second]) < abs(ty[second - 12] - ty[second])
    pressed = {c[3] for c in result.contact_log}
    assert {n.key for n in env.song_goals.notes.notes} <= pressed
    assert result.metrics["f1"] > 0.8


def test_disabled_slides_plan_nothing():
    seq = NoteSequence.from_notes([Note(60, 0.8, 1.3, hand="right")], name="one")
    env = PianoEnv(prepare(seq, trim_silence=False), load_hand("shadow_five"))
    pianist = KinematicPianist(env, slides=SlideConfig(enabled=False))
    assert pianist.slide_ref is None
    assert run_episode(env, pianist, seed=0).metrics["f1"] > 0.8


def test_load_offsets_hold_a_tip_against_the_key_force():
    """A fingertip pushed up with 2 N (a key's spring at full travel): commanding the plain
    configuration lets the compliant joints (wrist kp 10, fingers kp 3) give way by
    millimetres; with ``load_offsets`` added the tip stays where it was commanded."""
    import mujoco

    from pianoenv.kinematic.ik import HandIK

    env = PianoEnv(prepare(NoteSequence.from_notes([Note(60, 0.5, 1.0, hand="right")],
                                                   name="one"), trim_silence=False),
                   load_hand("shadow_five"))
    hik = HandIK(env.hands[0])
    m, q, tip, force = hik.model, hik.q_home.copy(), 2, 2.0
    want = hik.tip_positions(q)[tip]

    def settled_error(ctrl: np.ndarray) -> float:
        d = mujoco.MjData(m)
        d.qpos[:] = q
        d.ctrl[hik.act_ids] = ctrl
        body = m.site_bodyid[hik.site_ids[tip]]
        for _ in range(1500):
            mujoco.mj_forward(m, d)
            d.qfrc_applied[:] = 0
            mujoco.mj_applyFT(m, d, np.array([0.0, 0.0, force]), np.zeros(3),
                              d.site_xpos[hik.site_ids[tip]].copy(), body, d.qfrc_applied)
            mujoco.mj_step(m, d)
        mujoco.mj_forward(m, d)
        return float(np.linalg.norm(d.site_xpos[hik.site_ids[tip]] + hik.offset - want))

    plain = settled_error(hik.ctrl(q))
    held = settled_error(hik.ctrl(q) + hik.load_offsets(q, np.array([tip]), np.array([force])))
    assert plain > 0.004
    assert held < 0.25 * plain


@settings(max_examples=60, deadline=None)
@given(T=st.integers(1, 30), clearance=st.floats(0.0, 0.05), data=st.data())
def test_keep_apart_opens_exactly_the_missing_gap(T, clearance, data):
    top = data.draw(arrays(float, T, elements=st.floats(-0.3, 0.3)))
    bottom = data.draw(arrays(float, T, elements=st.floats(-0.3, 0.3)))
    share = data.draw(arrays(float, T, elements=st.floats(0.0, 1.0)))
    low, up = keep_apart(top, bottom, clearance, share)
    gap = (bottom + up) - (top + low)
    assert (gap >= clearance - 1e-12).all()
    wide = bottom - top >= clearance
    assert (low[wide] == 0).all() and (up[wide] == 0).all()   # nothing moves that need not
    assert (low <= 0).all() and (up >= 0).all()              # each hand gives way outward
    np.testing.assert_allclose(up, share * np.maximum(clearance - (bottom - top), 0))


def test_y_extent_moves_with_the_keyboard_slide():
    from pianoenv.kinematic.ik import HandIK

    env = PianoEnv(prepare(NoteSequence.from_notes([Note(60, 0.5, 1.0, hand="right")],
                                                   name="one"), trim_silence=False),
                   load_hand("shadow_five"))
    right, left = (HandIK(h) for h in sorted(env.hands, key=lambda h: h.side != "right"))
    r_lo, r_hi = right.y_extent(right.q_home)
    l_lo, l_hi = left.y_extent(left.q_home)
    assert l_lo < l_hi < r_lo < r_hi            # at home the left hand is wholly below
    assert r_hi - r_lo >= 0.088 - 1e-9           # at least the palm's width (shadow_five)
    s = int(np.argmax(np.abs(right.slide_y)))
    q = right.q_home.copy()
    q[right.slide_qadr[s]] += 0.05
    lo, hi = right.y_extent(q)
    np.testing.assert_allclose([lo - r_lo, hi - r_hi], 0.05 * right.slide_y[s], atol=1e-9)


def _hand_contacts(env, pianist) -> int:
    """Control steps on which the two hands' forearms or palms touch."""
    m = env.model
    hand_geoms = [{m.geom(g.full_identifier).id for g in h.collision_geoms} for h in env.hands]
    steps = 0

    def on_step(_):
        nonlocal steps
        d = env.data
        steps += any({c.geom1, c.geom2} & hand_geoms[0] and {c.geom1, c.geom2} & hand_geoms[1]
                     for c in d.contact[:d.ncon])

    run_episode(env, pianist, seed=0, on_step=on_step)
    return steps


def test_crossing_voices_do_not_drive_the_hands_into_each_other():
    """The left hand holds E4 while the right plays C4 and D4 below it (voices crossing,
    as a chorale's tenor above its alto): each hand's IK alone puts both hands in one
    place and the palms collide; with the slides kept apart they never touch."""
    seq = NoteSequence.from_notes([Note(64, 0.5, 2.5, hand="left"),
                                   Note(60, 0.5, 1.5, hand="right"),
                                   Note(62, 1.5, 2.5, hand="right")], name="crossing")
    env = PianoEnv(prepare(seq, trim_silence=False), load_hand("shadow_five"))
    crashed = _hand_contacts(env, KinematicPianist(env, slides=SlideConfig(clearance=None)))
    pianist = KinematicPianist(env)
    apart = _hand_contacts(env, pianist)
    assert crashed > 0
    assert apart == 0
    # what the hands cannot reach from where they are kept is reported as such
    reasons = {u.reason for u in pianist.unreachable}
    assert OTHER_HAND_IN_THE_WAY in reasons, reasons
