"""The piano environment on MuJoCo XLA (``mujoco-mjx``): batched, jitted, on any device.

``MjxPianoEnv`` mirrors ``pianoenv.env.PianoEnv`` (same scene, observation, action and
reward terms) as pure ``reset(rng)`` / ``step(state, action)`` functions. Importing this
package imports JAX and MJX; nothing else in ``pianoenv`` imports it.
"""

from pianoenv.mjx.env import MjxConfig, MjxPianoEnv, State, apply_physics_settings

__all__ = ["MjxConfig", "MjxPianoEnv", "State", "apply_physics_settings"]
