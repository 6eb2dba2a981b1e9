"""The kinematic pianist: any hand plays any song with no training.

``KinematicPianist(env)`` fingers the song with the offline annotator, turns the fingering
into fingertip targets over the lookahead window and those into position-servo commands
with inverse kinematics (``mink``) on each hand's compiled model, the forearm slides on a
trajectory planned ahead (``slides``). Importing this package
registers it as policy ``"ik"`` (``pianohands env run --policy ik``).
"""

from pianoenv.kinematic.ik import HandIK, IKConfig
from pianoenv.kinematic.plan import FingerPlan, Unreachable, plan_fingering
from pianoenv.kinematic.policy import KinematicPianist, ServoConfig
from pianoenv.kinematic.slides import SlideConfig
from pianoenv.kinematic.targets import TargetBuilder, TargetConfig
from pianoenv.policy import register_policy

__all__ = ["FingerPlan", "HandIK", "IKConfig", "KinematicPianist", "ServoConfig",
           "SlideConfig", "TargetBuilder", "TargetConfig", "Unreachable", "plan_fingering"]


def _make(env, seed: int = 0, **options) -> KinematicPianist:
    del seed  # deterministic
    return KinematicPianist(env, **options)


register_policy("ik", _make, "kinematic pianist: annotator fingering + inverse kinematics, "
                "no training")
