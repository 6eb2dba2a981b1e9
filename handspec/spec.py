"""Pydantic models of a robot hand: what a ``hands/*.yaml`` file may say.

A hand is declared as its *right* hand in a hand frame with the origin at the wrist,
x pointing back toward the player (fingers extend along -x, toward the keys), y along the
keyboard (the right thumb is on the -y side, toward lower keys) and z up (palm faces -z).
The left hand is generated as the mirror image (y -> -y), never declared.

Every model is strict: an unknown key is an error, so a typo in a YAML file is reported
instead of silently ignored. Angles are in degrees in the YAML (people read them), lengths
in metres.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

FingerName = Literal["thumb", "index", "middle", "ring", "little"]
CANONICAL_FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "little")



def _round(value):
    """Snap numbers to 1e-9 (sub-nanometre): MJCF text cannot carry subnormal floats."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return round(float(value), 9)
    return value


_Snap = BeforeValidator(_round)
PositiveFloat = Annotated[float, _Snap, Field(gt=0, allow_inf_nan=False)]
NonNegativeFloat = Annotated[float, _Snap, Field(ge=0, allow_inf_nan=False)]
Finite = Annotated[float, _Snap, Field(allow_inf_nan=False)]
Vec3 = tuple[Finite, Finite, Finite]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=40)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


def _check_axis(axis: tuple[float, float, float]) -> tuple[float, float, float]:
    norm = math.sqrt(sum(a * a for a in axis))
    if norm < 1e-9:
        raise ValueError("axis must be a non-zero vector")
    return tuple(a / norm for a in axis)  # type: ignore[return-value]


def _check_range(rng: tuple[float, float]) -> tuple[float, float]:
    lo, hi = rng
    if lo > hi:
        raise ValueError(f"min {lo} is greater than max {hi}")
    return rng


Axis = Annotated[Vec3, AfterValidator(_check_axis)]
Range = Annotated[tuple[Finite, Finite], AfterValidator(_check_range)]


class Rotation(_Strict):
    """A rotation as an axis and an angle in degrees (mirrors cleanly, unlike Euler angles)."""

    axis: Axis
    angle: Finite



class JointClass(_Strict):
    """Shared joint + actuator settings: becomes one MJCF default class (Menagerie style)."""

    damping: NonNegativeFloat = 0.1
    armature: NonNegativeFloat = 0.001
    frictionloss: NonNegativeFloat = 0.0
    kp: PositiveFloat = 3.0
    forcerange: Range | None = None



class Joint(_Strict):
    """A hinge at the base of a link.

    ``fixed_at`` removes the DoF from the model (the link is rigidly set at that angle):
    RP1M drops the Shadow hand's THJ5, THJ1 and LFJ5 this way. ``couple_next`` makes the next
    joint of the same finger follow this one (q_next = ratio * q_this) with no actuator of its
    own, like the Shadow hand's tendon-coupled J1/J2.
    """

    name: Name
    axis: Axis
    range: Range
    joint_class: Name = Field("finger", alias="class")
    actuated: bool = True
    fixed_at: Finite | None = None
    couple_next: Finite | None = None
    ref: Finite = 0.0


    @model_validator(mode="after")
    def _consistent(self) -> "Joint":
        if self.fixed_at is not None and not (self.range[0] <= self.fixed_at <= self.range[1]):
            raise ValueError(f"fixed_at {self.fixed_at} is outside range {list(self.range)}")
        if self.fixed_at is not None and self.couple_next is not None:
            raise ValueError("a fixed joint cannot drive a coupled joint")
        return self

    @property
    def movable(self) -> bool:
        return self.fixed_at is None


class Link(_Strict):
    """A capsule segment of a finger; its joints sit at its base, applied in order."""

    length: PositiveFloat
    radius: PositiveFloat
    joints: list[Joint] = Field(default_factory=list)


class Finger(_Strict):
    name: FingerName
    base: Vec3
    rotation: Rotation | None = None
    links: list[Link] = Field(min_length=1)

    @property
    def joints(self) -> list[Joint]:
        return [j for link in self.links for j in link.joints]

    @model_validator(mode="after")
    def _coupling_targets(self) -> "Finger":
        joints = self.joints
        for i, joint in enumerate(joints):
            if joint.couple_next is None:
                continue
            if i + 1 >= len(joints):
                raise ValueError(f"joint {joint.name}: couple_next but it is the last joint")
            nxt = joints[i + 1]
            if not nxt.movable:
                raise ValueError(f"joint {joint.name}: couple_next targets fixed joint {nxt.name}")
        return self


class Slide(_Strict):
    """A prismatic forearm DoF (metres), position-actuated."""

    name: Name
    axis: Axis
    range: Range
    kp: PositiveFloat = 300.0
    damping: NonNegativeFloat = 30.0
    forcerange: Range | None = None



class Forearm(_Strict):
    """The arm the hand hangs from. ``mount`` is where the right wrist sits over the keyboard
    (piano frame; the left hand is mounted at the mirror point)."""

    length: PositiveFloat = 0.25
    radius: PositiveFloat = 0.035
    mass: PositiveFloat | None = None
    mount: Vec3
    slides: list[Slide] = Field(default_factory=list)


class Palm(_Strict):
    """A box behind the knuckles; ``joints`` are the wrist (between forearm and palm)."""

    length: PositiveFloat
    width: PositiveFloat
    thickness: PositiveFloat
    offset: Vec3 = (0.0, 0.0, 0.0)
    joints: list[Joint] = Field(default_factory=list)


class Contacts(_Strict):
    """What touches what. Keys only ever touch finger geoms; forearms and palms of the two
    hands collide with each other (that is the collision penalty of the reward)."""

    fingers: Literal["all", "tips"] = "all"
    friction: tuple[PositiveFloat, NonNegativeFloat, NonNegativeFloat] = (1.0, 0.005, 0.0001)
    solref: tuple[PositiveFloat, PositiveFloat] = (0.01, 1.0)


class ExternalModel(_Strict):
    """"Bring your own hand": an existing MJCF file of the right hand.

    Names refer to elements inside that file. The left hand is the mirror of it (primitive
    geoms mirror exactly; give ``left_file`` when the model uses meshes).
    """

    file: str
    left_file: str | None = None
    tip_sites: dict[FingerName, str] = Field(min_length=1)
    actuators: list[str] | None = None  # None: every actuator in the file
    mount: Vec3 = (0.4, 0.15, 0.13)


class HandSpec(_Strict):
    """A whole hand. ``extends`` / ``remove_fingers`` are resolved by the loader before this
    model sees the data, so a validated HandSpec is always complete."""

    name: Name
    description: str = ""
    gravity_compensation: bool = True
    joint_classes: dict[Name, JointClass] = Field(default_factory=lambda: {"finger": JointClass()})
    forearm: Forearm | None = None
    palm: Palm | None = None
    fingers: list[Finger] = Field(default_factory=list)
    contacts: Contacts = Contacts()
    mjcf: ExternalModel | None = None

    @model_validator(mode="after")
    def _complete(self) -> "HandSpec":
        if self.mjcf is not None:
            if self.fingers or self.palm is not None or self.forearm is not None:
                raise ValueError("a hand is either generated (forearm/palm/fingers) or "
                                 "loaded from mjcf, not both")
            return self
        missing = [k for k in ("forearm", "palm") if getattr(self, k) is None]
        if missing:
            raise ValueError(f"missing {', '.join(missing)} (or give mjcf: to load a file)")
        if not self.fingers:
            raise ValueError("a generated hand needs at least one finger")
        names = [f.name for f in self.fingers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate finger names: {', '.join(dupes)}")
        joint_names = [j.name for j in self.all_joints()] + [s.name for s in self.forearm.slides]
        dupes = sorted({n for n in joint_names if joint_names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate joint names: {', '.join(dupes)}")
        unknown = sorted({j.joint_class for j in self.all_joints()} - set(self.joint_classes))
        if unknown:
            raise ValueError(f"joint class(es) {', '.join(unknown)} not in joint_classes "
                             f"({', '.join(sorted(self.joint_classes))})")
        return self

    def all_joints(self) -> list[Joint]:
        palm = self.palm.joints if self.palm else []
        return list(palm) + [j for f in self.fingers for j in f.joints]

    @property
    def finger_names(self) -> tuple[str, ...]:
        """Present fingers in canonical order (thumb first)."""
        if self.mjcf is not None:
            present = set(self.mjcf.tip_sites)
        else:
            present = {f.name for f in self.fingers}
        return tuple(n for n in CANONICAL_FINGERS if n in present)

    def ordered_fingers(self) -> list[Finger]:
        order = {n: i for i, n in enumerate(CANONICAL_FINGERS)}
        return sorted(self.fingers, key=lambda f: order[f.name])
