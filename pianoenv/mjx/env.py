"""The piano environment in MuJoCo XLA: pure ``reset(rng)`` / ``step(state, action)``.

Same scene (``pianoenv.scene.build_scene``: any hand spec, the same piano), same
observation layout, action semantics, timing and reward terms as the CPU ``PianoEnv``, but
every function is pure JAX, so ``jax.jit(jax.vmap(env.step))`` steps thousands of pianos
at once on an accelerator (MuJoCo Playground / Brax style). The CPU environment is the
reference: ``tests/test_mjx_env.py`` steps both from the same state with the same actions.

Timing of ``step(state, action)`` at control step t (as ``PianoEnv``): the observation of
``state`` shows the goals of steps t..t+10; the action is applied for ``n_sub`` physics
substeps; reward and metrics compare the keys after the substeps with the goal of step t;
``done`` is set after the last step (a truncation: ``info["truncation"]``).

Physics settings (RP1M Appendix A.4; ``MjxConfig``):

* contacts: only finger-key (contype/conaffinity bits of the scene) and the explicit
  forearm/palm pairs between the two hands, as in the CPU scene; primitive geoms only
  (capsules, boxes, spheres: the generated hands have no meshes);
* finger geoms have condim 3; the hand-hand pairs keep the CPU scene's condim 1
  (frictionless: they only need to report a touch for the collision term);
* at most ``max_contact_points`` (20) contacts, chosen by MJX as the deepest; MJX has no
  broadphase, so ``max_geom_pairs`` (256) first keeps the finger-key pairs whose bounding
  spheres are closest (top-k); without it every substep runs all 30 x 88 = 2640
  capsule-box tests of shadow_five. The cut must not be tight: the ranking is by centre
  distance minus bounding radii, which favours the long white keys (radius 7.7 cm) over
  black keys (4.6 cm), and with 64 pairs a fingertip pressing a black key lost its contact
  (seen in ``tests/test_mjx_env.py``'s rollout: 3 of 8 contacts missing);
* Newton solver, 2 iterations, 6 line-search iterations (the CPU scene: 100 and 50).

What MJX does not support, and what changed because of it:

* **sleeping** (``<flag sleep="enable"/>`` of the CPU scene) does not exist in MJX: the
  flag is cleared and resting keys are simulated like any other body. Resting keys need no
  constraint rows in either engine (``pianoenv.piano``, "Speed"), so this costs arithmetic
  only, not solver work;
* **gravity compensation** (``gravcomp=1`` on keys and, for specs that ask, hand bodies) is
  supported by MJX and kept;
* **coupled joints** (``couple_next``: a joint equality with a linear polynomial) are
  supported by MJX (``EqType.JOINT``) and kept; tendon couplings of external MJCF hands are
  supported as fixed tendons only (MJX rejects others when the model is put on the device).

The CPU env keeps its state "after ``mj_step1``" (positions, sites and contacts current,
``qfrc_actuator`` from the last substep); here the substeps are ``mjx.step`` and then
kinematics and collision run once more, which leaves ``Data`` in that same state.
"""

from __future__ import annotations

import contextlib
import io
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import mujoco
import numpy as np

with contextlib.redirect_stdout(io.StringIO()):  # MJX 3.17 prints "Failed to import warp"
    from mujoco import mjx                       # when its optional Warp backend is absent

from fingering.notes import NUM_KEYS
from handspec.spec import HandSpec
from pianoenv import piano
from pianoenv.env import LABELLED_MODES, PianoEnv
from pianoenv.mjx import rewards as R
from pianoenv.scene import build_scene
from pianoenv.songs import SongGoals


@dataclass(frozen=True)
class MjxConfig:
    """MJX-specific physics settings; defaults are RP1M's (Appendix A.4)."""

    iterations: int = 2
    ls_iterations: int = 6
    max_contact_points: int = 20
    max_geom_pairs: int = 256

    def as_dict(self) -> dict[str, int]:
        return {"iterations": self.iterations, "ls_iterations": self.ls_iterations,
                "max_contact_points": self.max_contact_points,
                "max_geom_pairs": self.max_geom_pairs}


@flax.struct.dataclass
class State:
    """One environment (or a batch, after vmap). ``metrics`` holds this step's reward terms."""

    data: mjx.Data
    obs: jax.Array                  # flat float32 observation, CPU env spec order
    reward: jax.Array
    done: jax.Array                 # 1.0 after the last step of the song
    metrics: dict[str, jax.Array]   # reward terms of the last step, "total" included
    info: dict[str, jax.Array]      # step index, pedal, key state, contacts, episode sums


def apply_physics_settings(model: mujoco.MjModel, config: MjxConfig) -> None:
    """Set the solver options RP1M uses for MJX on a compiled model (in place); clear sleep."""
    model.opt.solver = mujoco.mjtSolver.mjSOL_NEWTON
    model.opt.iterations = config.iterations
    model.opt.ls_iterations = config.ls_iterations
    model.opt.enableflags &= ~int(mujoco.mjtEnableBit.mjENBL_SLEEP)


class MjxPianoEnv:
    """Two hands of ``spec`` playing ``goals``, as pure JAX functions.

    Args are those of ``PianoEnv`` (``fingering``, ``ot_variant``, ``press_variant``,
    ``reward_weights``, ``initial_noise``, timesteps); ``config`` sets MJX's solver and
    contact limits. The OT term always uses the exact JAX Hungarian (``ot_method`` of the
    CPU env is not a choice here: every exact solver gives the same assignment cost).

    The CPU ``PianoEnv`` built with the same arguments is kept as ``reference``: it supplies
    the index arrays (tips, actuators, joints, keys, contact geoms), the goal tables and the
    specs, so the two environments cannot disagree on layout.
    """

    def __init__(self, goals: SongGoals, spec: HandSpec, *, fingering: str = "ot",
                 ot_variant: str = "total", config: MjxConfig | None = None,
                 **cpu_kwargs: Any):
        self.config = config or MjxConfig()
        self.reference = ref = PianoEnv(goals, spec, fingering=fingering, ot_variant=ot_variant,
                                        **cpu_kwargs)
        # the reference's goals: with fingering='annotator' they carry the annotator's labels
        self.spec, self.song_goals, self.fingering = spec, ref.song_goals, fingering
        self.ot_variant, self.weights = ot_variant, ref.weights.as_dict()
        self.press_variant = ref.press_variant
        self.initial_noise = ref.initial_noise
        self.num_steps, self.lookahead = goals.num_steps, ref.lookahead
        self.n_sub = ref._n_sub
        self.model = self._compile(spec, ref.model.opt.timestep)
        self.mx = mjx.put_model(self.model)
        self._index(ref)

    # ----------------------------------------------------------------- set-up
    def _compile(self, spec: HandSpec, timestep: float) -> mujoco.MjModel:
        scene = build_scene(spec, physics_timestep=timestep)
        # MJX reads its contact limits from <custom><numeric> entries of the model
        scene.root.custom.add("numeric", name="max_contact_points",
                              data=[self.config.max_contact_points])
        scene.root.custom.add("numeric", name="max_geom_pairs", data=[self.config.max_geom_pairs])
        model = scene.compile()
        apply_physics_settings(model, self.config)
        return model

    def _index(self, ref: PianoEnv) -> None:
        f32 = np.float32
        self.finger_names = ref.finger_names
        self.num_fingers = len(ref.finger_names)
        self._tip_ids = jnp.asarray(ref._tip_ids)
        self._act_ids = jnp.asarray(ref._act_ids)
        self._hand_qadr = jnp.asarray(ref._hand_qadr)
        self._hand_dofs = jnp.asarray(ref._hand_dofs)
        self._hand_range = jnp.asarray(ref.model.jnt_range[ref._hand_joint_ids], f32)
        self._key_qadr = jnp.asarray(ref._key_qadr)
        self._press = jnp.asarray(ref._press_points, f32)
        self._travel = jnp.asarray(piano.KEY_TRAVEL, f32)
        self._threshold = jnp.asarray(piano.PRESSED_THRESHOLD, f32)
        self._geom_key = jnp.asarray(ref._geom_key, jnp.int32)
        self._geom_finger = jnp.asarray(ref._geom_finger, jnp.int32)
        self._collision_geom = jnp.asarray(ref._collision_geom, bool)
        self.action_min = ref._action_min.copy()
        self.action_max = ref._action_max.copy()
        self._amin, self._amax = jnp.asarray(self.action_min), jnp.asarray(self.action_max)
        self._goal_pad = jnp.asarray(ref._goal_pad)
        self._sustain_pad = jnp.asarray(ref._sustain_pad)
        self._finger_pad = jnp.asarray(ref._finger_pad)
        g = self.song_goals
        self._goal_keys = jnp.asarray(np.asarray(g.keys, bool))
        self._goal_sustain = jnp.asarray(np.asarray(g.sustain, f32))
        # keys to press at each step, padded to the most keys any step has (>= 1)
        width = max(1, int(np.asarray(g.keys).sum(axis=1).max(initial=0)))
        keys = np.zeros((g.num_steps, width), np.int32)
        valid = np.zeros((g.num_steps, width), bool)
        tip_row = np.zeros((g.num_steps, width), np.int32)
        tip_ok = np.zeros((g.num_steps, width), bool)
        for t in range(g.num_steps):
            idx = np.flatnonzero(g.keys[t])
            keys[t, :len(idx)], valid[t, :len(idx)] = idx, True
            if self.fingering in LABELLED_MODES:
                codes = g.fingers[t, idx]
                rows = ref._code_to_tip[np.maximum(codes, 0)]
                tip_row[t, :len(idx)] = np.maximum(rows, 0)
                tip_ok[t, :len(idx)] = (codes >= 0) & (rows >= 0)
        self._step_keys, self._step_valid = jnp.asarray(keys), jnp.asarray(valid)
        self._tip_row, self._tip_ok = jnp.asarray(tip_row), jnp.asarray(tip_ok)
        home = mujoco.MjData(self.model)
        from handspec.model import home_pose  # the CPU env's reset pose, on this model

        home_pose(self.model, home)
        self._home = mjx.put_data(self.model, home)
        self.observation_sizes = OrderedDict((k, int(s.shape[0]))
                                             for k, s in ref.observation_spec().items())
        self.binary_observation_keys = ref.binary_observation_keys
        self.obs_dim = sum(self.observation_sizes.values())
        self.action_dim = int(self.action_min.shape[0])

    # ----------------------------------------------------------------- specs
    def observation_spec(self):
        return self.reference.observation_spec()

    def action_spec(self):
        return self.reference.action_spec()

    def home_action(self) -> np.ndarray:
        return self.reference.home_action()

    # ----------------------------------------------------------------- episode
    def reset(self, rng: jax.Array) -> State:
        d = self._home
        rng, noise_key = jax.random.split(rng)
        if self.initial_noise > 0:
            qpos = d.qpos
            noise = self.initial_noise * jax.random.normal(noise_key, self._hand_qadr.shape)
            hand = jnp.clip(qpos[self._hand_qadr] + noise, self._hand_range[:, 0],
                            self._hand_range[:, 1])
            d = mjx.forward(self.mx, d.replace(qpos=qpos.at[self._hand_qadr].set(hand)))
        t = jnp.zeros((), jnp.int32)
        sustain = jnp.zeros(())
        key_state = self._key_state(d)
        zero = jnp.zeros(())
        info = {"t": t, "sustain": sustain, "key_state": key_state, "rng": rng,
                "pressed": jnp.zeros(NUM_KEYS, bool),
                "contacts": jnp.zeros((self.num_fingers, NUM_KEYS), bool),
                "precision": zero, "recall": zero, "f1": zero,
                "sum_precision": zero, "sum_recall": zero, "sum_f1": zero,
                "truncation": zero}
        metrics = {k: zero for k in self.term_names}
        return State(d, self._observation(d, t, sustain, key_state), zero, zero, metrics, info)

    @property
    def term_names(self) -> tuple[str, ...]:
        first = {"ot": ("ot",), "none": ()}.get(self.fingering, ("fingering",))
        return first + ("press", "sustain", "collision", "energy", "total")

    def step(self, state: State, action: jax.Array) -> State:
        action = jnp.clip(jnp.asarray(action, jnp.float32).reshape(-1), self._amin, self._amax)
        d = state.data
        d = d.replace(ctrl=d.ctrl.at[self._act_ids].set(action[:-1]))
        sustain = (action[-1] >= 0.5).astype(jnp.float32)
        d = jax.lax.fori_loop(0, self.n_sub, lambda _, x: mjx.step(self.mx, x), d)
        d = mjx.collision(self.mx, mjx.kinematics(self.mx, d))
        info = dict(state.info)
        t = info["t"]
        key_state = self._key_state(d)
        pressed = key_state >= self._threshold
        terms, contacts = self._terms(d, t, key_state, pressed, sustain)
        precision, recall, f1 = R.step_prf(self._goal_keys[t], pressed)
        t1 = t + 1
        done = (t1 >= self.num_steps).astype(jnp.float32)
        info.update(t=t1, sustain=sustain, key_state=key_state, pressed=pressed, contacts=contacts,
                    precision=precision, recall=recall, f1=f1,
                    sum_precision=info["sum_precision"] + precision,
                    sum_recall=info["sum_recall"] + recall, sum_f1=info["sum_f1"] + f1,
                    truncation=done)
        obs = self._observation(d, t1, sustain, key_state)
        return State(d, obs, terms["total"], done, terms, info)

    # ----------------------------------------------------------------- pieces
    def _key_state(self, d: mjx.Data) -> jax.Array:
        return jnp.clip(d.qpos[self._key_qadr] / self._travel, 0.0, 1.0)

    def _observation(self, d: mjx.Data, t: jax.Array, sustain: jax.Array,
                     key_state: jax.Array) -> jax.Array:
        L = self.lookahead + 1
        parts = [jax.lax.dynamic_slice_in_dim(self._goal_pad, t, L).reshape(-1),
                 jax.lax.dynamic_slice_in_dim(self._sustain_pad, t, L),
                 key_state, sustain[None],
                 d.site_xpos[self._tip_ids].reshape(-1),
                 d.qpos[self._hand_qadr]]
        if self.fingering in LABELLED_MODES:
            parts.append(jax.lax.dynamic_slice_in_dim(self._finger_pad, t, L).reshape(-1))
        return jnp.concatenate([p.astype(jnp.float32) for p in parts])

    def _terms(self, d: mjx.Data, t: jax.Array, key_state: jax.Array, pressed: jax.Array,
               sustain: jax.Array) -> tuple[dict[str, jax.Array], jax.Array]:
        t_goal = jnp.minimum(t, self.num_steps - 1)
        goal = self._goal_keys[t_goal]
        tips = d.site_xpos[self._tip_ids]
        terms: dict[str, jax.Array] = {}
        keys, valid = self._step_keys[t_goal], self._step_valid[t_goal]
        if self.fingering == "ot":
            terms["ot"] = R.ot_reward(tips, self._press[keys], valid, self.ot_variant)
        elif self.fingering in LABELLED_MODES:
            terms["fingering"] = R.human_fingering_reward(
                tips[self._tip_row[t_goal]], self._press[keys], valid & self._tip_ok[t_goal])
        terms["press"] = R.press_reward(goal, key_state, pressed, self.press_variant)
        terms["sustain"] = R.sustain_reward(self._goal_sustain[t_goal], sustain)
        touching, contacts = self._contacts(d, pressed)
        terms["collision"] = 1.0 - touching.astype(jnp.float32)
        terms["energy"] = R.energy_penalty(d.qfrc_actuator[self._hand_dofs],
                                           d.qvel[self._hand_dofs])
        terms = {k: jnp.asarray(v, jnp.float32) for k, v in terms.items()}
        terms["total"] = sum(self.weights[k] * v for k, v in terms.items())
        return terms, contacts

    def _contacts(self, d: mjx.Data, pressed: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(hands touch?, (F, 88) bool: finger f touches key k and k is down) from contacts."""
        contact = d._impl.contact  # MJX keeps the contact arrays on its JAX implementation
        g1, g2 = contact.geom[:, 0], contact.geom[:, 1]
        active = contact.dist < 0
        touching = jnp.any(active & self._collision_geom[g1] & self._collision_geom[g2])
        key = jnp.where(self._geom_key[g1] >= 0, self._geom_key[g1], self._geom_key[g2])
        finger = jnp.where(self._geom_finger[g1] >= 0, self._geom_finger[g1], self._geom_finger[g2])
        ok = active & (key >= 0) & (finger >= 0)
        grid = jnp.zeros((self.num_fingers + 1, NUM_KEYS + 1), bool)
        grid = grid.at[jnp.where(ok, finger, self.num_fingers),
                       jnp.where(ok, key, NUM_KEYS)].max(ok)
        return touching, grid[:-1, :-1] & pressed[None, :]

    # ----------------------------------------------------------------- host-side helpers
    def split_observation(self, obs: np.ndarray) -> "OrderedDict[str, np.ndarray]":
        """Flat observation(s) ``(..., obs_dim)`` -> the CPU env's ordered dict."""
        out, i = OrderedDict(), 0
        for key, n in self.observation_sizes.items():
            out[key] = np.asarray(obs)[..., i:i + n]
            i += n
        return out

    def episode_metrics(self, state: State) -> dict[str, float]:
        """Episode precision/recall/F1 (means over steps) of one unbatched state."""
        steps = int(state.info["t"])
        if steps == 0:
            return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "steps": 0}
        return {k: float(state.info[f"sum_{k}"]) / steps for k in ("precision", "recall", "f1")} \
            | {"steps": steps}

    def contact_log(self, step: int, contacts: np.ndarray) -> list[tuple[int, str, str, int]]:
        """The CPU env's ``contact_log`` entries for one step's (F, 88) contact grid."""
        fingers, keys = np.nonzero(np.asarray(contacts))
        return [(int(step), *self.finger_names[f], int(k)) for f, k in zip(fingers, keys)]
