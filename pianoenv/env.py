"""The piano-playing environment (dm_env), for any hand spec and any song.

Layout follows dm_control (scene = model, this class = task + environment) but steps the
compiled model with the raw ``mujoco`` bindings: all index arrays are computed once in
``__init__`` and a step is a handful of numpy slices around ``mj_step``.

Timing of one ``step(action)`` at control step t (RoboPianist's convention):
the observation shows the goals of steps t..t+10; the action is applied for 0.05 s
(10 physics substeps); the reward and the metrics compare the keys *after* the substeps
with the goal of step t; then t advances. The episode ends (truncation, discount 1) after
the last step of the song or chunk.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Literal, NamedTuple

import dm_env
import mujoco
import numpy as np
from dm_env import specs

from fingering import keyboard
from fingering.annotate import suggest_fingering
from fingering.costs import cost_matrix
from fingering.notes import FINGER_NAMES, NUM_KEYS
from fingering.reward import reward_from_assignment
from fingering.solvers import available_solvers, solve
from handspec.reach import finger_reach
from handspec.errors import InputError
from handspec.model import HandModel, home_pose, site_body_chain
from handspec.spec import HandSpec
from pianoenv import piano, rewards
from pianoenv.interface import Contact
from pianoenv.metrics import EpisodeMetrics
from pianoenv.scene import PHYSICS_TIMESTEP, build_scene
from pianoenv.songs import CONTROL_TIMESTEP, LOOKAHEAD, SongGoals

Fingering = Literal["ot", "human", "annotator", "none"]


class _StepContext(NamedTuple):
    """What the reward terms of control step ``t`` read (computed once per step)."""

    t: int
    goal_keys: np.ndarray        # (88,) bool: keys that should be down now
    key_state: np.ndarray        # (88,) normalized key positions
    pressed: np.ndarray          # (88,) bool
    tips: np.ndarray             # (F, 3) fingertip positions
    contacts: list[tuple[int, int]]  # geom pairs in contact

FINGERING_MODES: tuple[str, ...] = ("ot", "human", "annotator", "none")
# Modes whose reward and observation use a finger label per note.
LABELLED_MODES: tuple[str, ...] = ("human", "annotator")
BINARY_OBSERVATIONS: tuple[str, ...] = ("goal", "sustain_goal", "fingering")
KEY_AWAKE_STATE = 0.05  # normalized key state above which a key is kept awake


# Bounds of the timing arguments: MuJoCo is unstable or pointlessly slow outside them, and
# a control step of 1e-9 s would turn a song into billions of steps.
PHYSICS_TIMESTEP_RANGE = (1e-4, 0.05)
CONTROL_TIMESTEP_RANGE = (1e-3, 1.0)
MAX_SUBSTEPS = 1000
MAX_LOOKAHEAD = 100
MAX_INITIAL_NOISE = 1.0  # rad / m: more than that is not "noise" around a pose


def _check_timing(physics_timestep: float, control_timestep: float, lookahead: int,
                  initial_noise: float) -> None:
    """``InputError`` unless every timing argument is a finite number inside its range."""
    def number(value, name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not np.isfinite(value):
            raise InputError(f"must be a finite number, got {value!r}", field=name)
        return float(value)

    for name, value, (lo, hi) in (("physics_timestep", physics_timestep, PHYSICS_TIMESTEP_RANGE),
                                  ("control_timestep", control_timestep, CONTROL_TIMESTEP_RANGE),
                                  ("initial_noise", initial_noise, (0.0, MAX_INITIAL_NOISE))):
        if not lo <= number(value, name) <= hi:
            raise InputError(f"must be in [{lo:g}, {hi:g}], got {value!r}", field=name)
    if control_timestep / physics_timestep > MAX_SUBSTEPS:
        raise InputError(f"more than {MAX_SUBSTEPS} physics steps per control step",
                         field="control_timestep")
    if isinstance(lookahead, bool) or not isinstance(lookahead, (int, np.integer)) \
            or not 0 <= lookahead <= MAX_LOOKAHEAD:
        raise InputError(f"must be an integer in [0, {MAX_LOOKAHEAD}], got {lookahead!r}",
                         field="lookahead")


class PianoEnv(dm_env.Environment):
    """Two hands of ``spec`` playing ``goals`` on the 88-key piano.

    Args:
      goals: prepared song (``pianoenv.songs.load_goals("twinkle")``), a whole song or a chunk.
      spec: the hand; the left hand is its mirror.
      fingering: "ot" (RP1M: OT reward, no fingering in the observation), "human"
        (RoboPianist-RL: reward and observation from the song's annotated fingering),
        "none" (neither): the three arms of RP1M's Fig. 2; "annotator": like "human" with
        the offline annotator's fingering for this hand's reach (``fingering.annotate``, the
        plan the kinematic pianist plays), for songs without human labels.
      ot_method / ot_variant: solver name from ``fingering.solvers`` and "total" (Eq. 2)
        or "per_key" (the public RP1M code).
      press_variant: how the press term charges wrong keys, "step" (RoboPianist, RP1M:
        half the term is lost if any key is wrong) or "per_key" (each wrong key costs what
        a missed goal key does; ``rewards.PRESS_VARIANTS`` says why).
      reward_weights: weights of the named terms (Eq. 3 by default).
      initial_noise: std (rad / m) of Gaussian noise on the initial joint positions, drawn
        from ``random_state``; 0 (default) starts every episode in the same pose.
      random_state: seed or ``np.random.Generator``; the only source of randomness.
    """

    def __init__(self, goals: SongGoals, spec: HandSpec, *, fingering: Fingering = "ot",
                 ot_method: str = "jv", ot_variant: str = "total",
                 press_variant: str = "step",
                 reward_weights: rewards.RewardWeights | None = None,
                 lookahead: int = LOOKAHEAD, control_timestep: float = CONTROL_TIMESTEP,
                 physics_timestep: float = PHYSICS_TIMESTEP, initial_noise: float = 0.0,
                 random_state: int | np.random.Generator | None = None):
        if fingering not in FINGERING_MODES:
            raise InputError(f"unknown fingering mode {fingering!r}; one of "
                             f"{', '.join(FINGERING_MODES)}", field="fingering")
        if ot_method not in available_solvers():
            raise InputError(f"unknown OT solver {ot_method!r}; one of "
                             f"{', '.join(available_solvers())}", field="ot_method")
        if ot_variant not in ("total", "per_key"):
            raise InputError(f"unknown OT reward variant {ot_variant!r}; one of total, per_key",
                             field="ot_variant")
        if press_variant not in rewards.PRESS_VARIANTS:
            raise InputError(f"unknown press reward variant {press_variant!r}; one of "
                             f"{', '.join(rewards.PRESS_VARIANTS)}", field="press_variant")
        if fingering == "human" and not goals.has_fingering:
            raise InputError("this song has no human fingering for every note; use a PIG file "
                             "or a built-in piece, or fingering='ot'", file=goals.name,
                             field="fingering")
        if fingering == "annotator":
            goals = goals.with_fingering(suggest_fingering(goals.notes, finger_reach(spec)))
        _check_timing(physics_timestep, control_timestep, lookahead, initial_noise)
        n_sub = control_timestep / physics_timestep
        if abs(n_sub - round(n_sub)) > 1e-9 or n_sub < 1:
            raise InputError("control_timestep must be a multiple of physics_timestep",
                             field="control_timestep")
        self.spec, self.song_goals, self.fingering = spec, goals, fingering
        self.ot_method, self.ot_variant = ot_method, ot_variant
        self.press_variant = press_variant
        self.weights = reward_weights or rewards.RewardWeights()
        self.lookahead, self.control_timestep = lookahead, control_timestep
        self.initial_noise = initial_noise
        self._n_sub = int(round(n_sub))
        self.set_random_state(random_state)

        scene = build_scene(spec, physics_timestep=physics_timestep)
        self.scene = scene
        self.hands: tuple[HandModel, HandModel] = scene.hands
        self.model = scene.compile()
        self.data = mujoco.MjData(self.model)
        self._index_model()
        self._index_song()
        self._reward = rewards.CompositeReward.from_table(
            rewards.TERMS[fingering], self._reward_functions(), self.weights)
        self._renderers: dict[tuple[int, int], mujoco.Renderer] = {}
        self.metrics = EpisodeMetrics()
        self.reward_terms: dict[str, float] = {}
        self.last_assignment = None
        self._t = 0
        self._sustain = 0.0
        self._reset_next_step = True

    # ----------------------------------------------------------------- set-up
    def _id(self, kind: mujoco.mjtObj, element) -> int:
        name = element.full_identifier
        idx = mujoco.mj_name2id(self.model, kind, name)
        if idx < 0:
            raise KeyError(f"{name} not in the compiled scene")
        return idx

    def _index_model(self) -> None:
        m = self.model
        J = mujoco.mjtObj
        self.finger_names = tuple((hand.side, f) for hand in self.hands for f in hand.fingers)
        self._tip_ids = np.array([self._id(J.mjOBJ_SITE, s) for h in self.hands for s in h.tip_sites])
        self._act_ids = np.array([self._id(J.mjOBJ_ACTUATOR, a) for h in self.hands for a in h.actuators])
        joint_ids = [self._id(J.mjOBJ_JOINT, j) for h in self.hands for j in h.joints]
        self._hand_joint_ids = np.array(joint_ids)
        self._hand_qadr = m.jnt_qposadr[joint_ids]
        self._hand_dofs = m.jnt_dofadr[joint_ids]
        key_ids = [mujoco.mj_name2id(m, J.mjOBJ_JOINT, f"piano/key_{k}") for k in range(NUM_KEYS)]
        self._key_qadr = m.jnt_qposadr[key_ids]
        self._key_dofs = m.jnt_dofadr[key_ids]
        # A key held still at its stop by a finger may fall asleep there the instant the
        # finger leaves, and a sleeping key stays down for good (nothing touches it to wake
        # it): a stuck note. So a key that is down at the end of a step may not sleep; one
        # back at rest gets the compiled policy back (see _update_key_sleep).
        self._key_trees = m.body_treeid[m.jnt_bodyid[key_ids]]
        self._key_sleep_policy = m.tree_sleep_policy[self._key_trees].copy()
        self._key_no_sleep = np.full(NUM_KEYS, int(mujoco.mjtSleepPolicy.mjSLEEP_NEVER),
                                     dtype=self._key_sleep_policy.dtype)
        self._press_points = np.asarray(keyboard.key_press_points(), dtype=np.float64)
        # geom -> key index / global finger index (-1 elsewhere), for the contact log
        geom_key = np.full(m.ngeom, -1, dtype=np.int64)
        for k in range(NUM_KEYS):
            geom_key[mujoco.mj_name2id(m, J.mjOBJ_GEOM, f"piano/key_{k}")] = k
        geom_finger = np.full(m.ngeom, -1, dtype=np.int64)
        paths = [site_body_chain(m, tip) for tip in self._tip_ids]
        for i, path in enumerate(paths):
            own = path - set().union(*(p for j, p in enumerate(paths) if j != i))
            for g in np.flatnonzero(np.isin(m.geom_bodyid, list(own))):
                geom_finger[g] = i
        collision_geom = np.zeros(m.ngeom, dtype=bool)
        for hand in self.hands:
            for g in hand.collision_geoms:
                collision_geom[self._id(J.mjOBJ_GEOM, g)] = True
        # Kept as Python lists: a step sees a handful of contacts, and reading them as ints
        # avoids numpy calls that cost ~10 us each right after the physics substeps.
        self._geom_key: list[int] = geom_key.tolist()
        self._geom_finger: list[int] = geom_finger.tolist()
        self._collision_geom: list[bool] = collision_geom.tolist()
        lo = m.actuator_ctrlrange[self._act_ids, 0]
        hi = m.actuator_ctrlrange[self._act_ids, 1]
        self._action_min = np.append(lo, 0.0).astype(np.float32)
        self._action_max = np.append(hi, 1.0).astype(np.float32)
        # canonical finger code (0..4 right, 5..9 left, as SongGoals.fingers) -> tip row
        self._code_to_tip = np.full(10, -1, dtype=np.int64)
        for row, (side, finger) in enumerate(self.finger_names):
            if finger in FINGER_NAMES:  # extra fingers have no human finger code
                self._code_to_tip[FINGER_NAMES.index(finger) + (0 if side == "right" else 5)] = row

    def _index_song(self) -> None:
        g, L = self.song_goals, self.lookahead + 1
        T = g.num_steps
        self._goal_pad = np.zeros((T + L, NUM_KEYS), dtype=np.float32)
        self._goal_pad[:T] = g.keys
        self._sustain_pad = np.zeros(T + L, dtype=np.float32)
        self._sustain_pad[:T] = g.sustain
        self._finger_pad = np.zeros((T + L, 10), dtype=np.float32)
        if self.uses_finger_labels:
            t_idx, k_idx = np.nonzero(g.keys & (g.fingers >= 0))
            self._finger_pad[t_idx, g.fingers[t_idx, k_idx]] = 1.0

    # ----------------------------------------------------------------- specs
    @property
    def uses_finger_labels(self) -> bool:
        """Whether a finger label per note is in the observation and the reward."""
        return self.fingering in LABELLED_MODES

    @property
    def num_steps(self) -> int:
        return self.song_goals.num_steps

    @property
    def binary_observation_keys(self) -> tuple[str, ...]:
        return tuple(k for k in BINARY_OBSERVATIONS if k in self.observation_spec())

    def observation_spec(self) -> "OrderedDict[str, specs.Array]":
        L = self.lookahead + 1
        dims = [("goal", L * NUM_KEYS), ("sustain_goal", L), ("piano/keys", NUM_KEYS),
                ("piano/sustain", 1), ("fingertips", 3 * len(self._tip_ids)),
                ("hands/joints", len(self._hand_qadr))]
        if self.uses_finger_labels:
            dims.append(("fingering", L * 10))
        return OrderedDict((k, specs.Array((n,), np.float32, name=k)) for k, n in dims)

    def action_spec(self) -> specs.BoundedArray:
        return specs.BoundedArray(self._action_min.shape, np.float32, self._action_min,
                                  self._action_max, name="actuators+sustain")

    def set_random_state(self, random_state: int | np.random.Generator | None) -> None:
        """Replace the generator that draws initial-state noise (gymnasium's reset(seed=))."""
        self._rng = random_state if isinstance(random_state, np.random.Generator) else \
            np.random.default_rng(random_state)

    # ----------------------------------------------------------------- episode
    def reset(self) -> dm_env.TimeStep:
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        m.tree_sleep_policy[self._key_trees] = self._key_sleep_policy
        home_pose(m, d)
        if self.initial_noise > 0:
            noise = self._rng.normal(0.0, self.initial_noise, len(self._hand_qadr))
            lo, hi = m.jnt_range[self._hand_joint_ids].T
            d.qpos[self._hand_qadr] = np.clip(d.qpos[self._hand_qadr] + noise, lo, hi)
            mujoco.mj_forward(m, d)
        self._t, self._sustain = 0, 0.0
        self._key_state = piano.normalize_key_state(d.qpos[self._key_qadr])
        self.metrics = EpisodeMetrics()
        self.reward_terms, self.last_assignment = {}, None
        self._reset_next_step = False
        return dm_env.restart(self._observation())

    def step(self, action) -> dm_env.TimeStep:
        if self._reset_next_step:
            return self.reset()
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != self._action_min.shape:
            raise ValueError(f"action has shape {action.shape}, expected {self._action_min.shape}")
        action = np.minimum(np.maximum(action, self._action_min), self._action_max)
        m, d = self.model, self.data
        d.ctrl[self._act_ids] = action[:-1]
        self._sustain = float(action[-1] >= 0.5)
        # The state is kept "after mj_step1" (positions, contacts, site_xpos current), so
        # n substeps are step2, (n-1) full steps in C, then step1: no stale observations.
        mujoco.mj_step2(m, d)
        if self._n_sub > 1:
            mujoco.mj_step(m, d, nstep=self._n_sub - 1)
        mujoco.mj_step1(m, d)
        reward = self._reward_and_metrics()
        self._t += 1
        obs = self._observation()
        if self._t >= self.num_steps:
            self._reset_next_step = True
            return dm_env.truncation(reward, obs)
        return dm_env.transition(reward, obs)

    def _observation(self) -> "OrderedDict[str, np.ndarray]":
        t, L, d = self._t, self.lookahead + 1, self.data
        obs = OrderedDict()
        obs["goal"] = self._goal_pad[t:t + L].reshape(-1).copy()
        obs["sustain_goal"] = self._sustain_pad[t:t + L].copy()
        obs["piano/keys"] = self._key_state.astype(np.float32)
        obs["piano/sustain"] = np.array([self._sustain], dtype=np.float32)
        obs["fingertips"] = d.site_xpos[self._tip_ids].astype(np.float32).reshape(-1)
        obs["hands/joints"] = d.qpos[self._hand_qadr].astype(np.float32)
        if self.uses_finger_labels:
            obs["fingering"] = self._finger_pad[t:t + L].reshape(-1).copy()
        return obs

    def _reward_and_metrics(self) -> float:
        d, t = self.data, self._t
        goal_keys = self.song_goals.keys[t]
        state = self._key_state = piano.normalize_key_state(d.qpos[self._key_qadr])
        pressed = state >= piano.PRESSED_THRESHOLD
        self._update_key_sleep(state)
        pairs = list(zip(d.contact.geom1.tolist(), d.contact.geom2.tolist())) if d.ncon else []
        ctx = _StepContext(t, goal_keys, state, pressed, d.site_xpos[self._tip_ids], pairs)
        total, self.reward_terms = self._reward.compute(ctx)
        self.metrics.add_step(goal_keys, pressed)
        if pairs:
            self._log_contacts(pairs, pressed)
        return total

    def _update_key_sleep(self, state: np.ndarray) -> None:
        """Keys away from rest may not sleep (a key asleep while down would stay down)."""
        self.model.tree_sleep_policy[self._key_trees] = np.where(
            state > KEY_AWAKE_STATE, self._key_no_sleep, self._key_sleep_policy)

    # ----------------------------------------------------------------- reward terms
    # One method per name in ``rewards.TERMS``; ``rewards`` documents each term.
    def _reward_functions(self) -> dict[str, Callable[[_StepContext], float]]:
        return {"ot": self._ot_term, "fingering": self._fingering_term, "press": self._press_term,
                "sustain": self._sustain_term, "collision": self._collision_term,
                "energy": self._energy_term}

    def _ot_term(self, ctx: _StepContext) -> float:
        cost = cost_matrix(ctx.tips, self._press_points[ctx.goal_keys])
        self.last_assignment = solve(cost, method=self.ot_method)
        return reward_from_assignment(self.last_assignment, cost, variant=self.ot_variant)

    def _fingering_term(self, ctx: _StepContext) -> float:
        fingers = self.song_goals.fingers[ctx.t]
        keys = np.flatnonzero(ctx.goal_keys)
        rows = self._code_to_tip[np.maximum(fingers[keys], 0)]
        ok = (fingers[keys] >= 0) & (rows >= 0)
        return rewards.human_fingering_reward(ctx.tips[rows[ok]], self._press_points[keys[ok]])

    def _press_term(self, ctx: _StepContext) -> float:
        return rewards.press_reward(ctx.goal_keys, ctx.key_state, ctx.pressed,
                                    self.press_variant)

    def _sustain_term(self, ctx: _StepContext) -> float:
        return rewards.sustain_reward(bool(self.song_goals.sustain[ctx.t]), self._sustain)

    def _collision_term(self, ctx: _StepContext) -> float:
        hand_hand = self._collision_geom
        return 0.0 if any(hand_hand[a] and hand_hand[b] for a, b in ctx.contacts) else 1.0

    def _energy_term(self, ctx: _StepContext) -> float:
        d = self.data
        return rewards.energy_penalty(d.qfrc_actuator[self._hand_dofs], d.qvel[self._hand_dofs])

    def _log_contacts(self, pairs: list[tuple[int, int]], pressed: np.ndarray) -> None:
        """Record (step, hand, finger, key) for each finger touching a key that is down."""
        geom_key, geom_finger, seen = self._geom_key, self._geom_finger, set()
        for a, b in pairs:
            k = geom_key[a] if geom_key[a] >= 0 else geom_key[b]
            f = geom_finger[a] if geom_finger[a] >= 0 else geom_finger[b]
            if k >= 0 and f >= 0 and (k, f) not in seen and pressed[k]:
                seen.add((k, f))
                side, name = self.finger_names[f]
                self.metrics.contacts.append((self._t, side, name, k))

    # ----------------------------------------------------------------- extras
    def home_action(self) -> np.ndarray:
        """The action that holds the home pose (``handspec.model.home_pose``), pedal up."""
        data = mujoco.MjData(self.model)
        home_pose(self.model, data)
        return np.append(data.ctrl[self._act_ids], 0.0).astype(np.float32)

    @property
    def actuator_names(self) -> tuple[str, ...]:
        """Names of the actuators in action order (the last action entry is the pedal)."""
        return tuple(self.model.actuator(int(i)).name for i in self._act_ids)

    def episode_metrics(self) -> dict[str, float]:
        return self.metrics.summary()

    @property
    def contact_log(self) -> list[Contact]:
        """(step, hand, finger, key) each step a finger touches a pressed key."""
        return list(self.metrics.contacts)

    @property
    def step_index(self) -> int:
        return self._t

    def render(self, width: int = 640, height: int = 480, camera: str | int = "player") -> np.ndarray:
        renderer = self._renderers.get((width, height))
        if renderer is None:
            renderer = self._renderers[(width, height)] = mujoco.Renderer(self.model, height, width)
        renderer.update_scene(self.data, camera=camera)
        return renderer.render()

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()
