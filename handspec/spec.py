"""Pydantic models of a robot hand: what a ``hands/*.yaml`` file may say.

A hand is declared as its *right* hand in a hand frame with the origin at the wrist,
x pointing back toward the player (fingers extend along -x, toward the keys), y along the
keyboard (the right thumb is on the -y side, toward lower keys) and z up (palm faces -z).
The left hand is generated as the mirror image (y -> -y), never declared.

Every model is strict: an unknown key is an error, so a typo in a YAML file is reported
instead of silently ignored. Angles are in degrees in the YAML (people read them), lengths
in metres. Every number must be finite and inside a range plausible for a hand over a
piano (``LIMITS``): a value such as ``kp: 1e308`` or ``mount: [1e308, 0, 0]`` would be
accepted by MuJoCo and then give NaN physics or a hand kilometres away from the keys.

Fingers are named. The five canonical names (thumb .. little) come first, in that order,
and get the human numbers 1..5; any other name is an *extra* finger (a sixth finger, a
gripper's "jaw"), placed after them in the order declared, numbered 6, 7, ...
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

CANONICAL_FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "little")

# Plausible physical bounds (SI units, angles in degrees). Generous for any robot hand that
# fits over a piano, tight enough that a typo (an extra zero, 1e308) is caught here.
LIMITS = {
    "position": 2.0,        # |coordinate| of a mount point over the keyboard (m)
    "offset": 0.5,          # |coordinate| of a finger base / palm offset in the hand (m)
    "length": 0.5,          # a finger link, palm dimension (m)
    "radius": 0.1,          # a capsule radius (m)
    "forearm_length": 1.5,  # m
    "mass": 50.0,           # kg
    "angle": 360.0,         # joint ranges, fixed_at, ref, rotation angle (deg)
    "slide": 2.0,           # |slide range| (m)
    "gain": 1e5,            # position-actuator kp (N/m or Nm/rad)
    "damping": 1e4,         # joint damping
    "armature": 10.0,
    "frictionloss": 1e3,
    "force": 1e5,           # |forcerange| (N or Nm)
    "coupling": 10.0,       # |couple_next| ratio
    "friction": 10.0,       # contact friction coefficients
    "solref": 10.0,         # contact solref entries
}
MAX_FINGERS = 10
MAX_LINKS = 8
MAX_JOINTS_PER_LINK = 6
MAX_SLIDES = 6


def _number(value):
    """Reject booleans (YAML ``true`` is not a length) and snap numbers to 1e-9
    (sub-nanometre): MJCF text cannot carry subnormal floats."""
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, (int, float)) and math.isfinite(value):
        return round(float(value), 9)
    return value


_Snap = BeforeValidator(_number)


def _bounded(lo: float | None = None, hi: float | None = None, *, gt: float | None = None):
    return Annotated[float, _Snap, Field(ge=lo, le=hi, gt=gt, allow_inf_nan=False)]


def _sym(limit: str):
    return _bounded(-LIMITS[limit], LIMITS[limit])


Finite = Annotated[float, _Snap, Field(allow_inf_nan=False)]
Angle = _sym("angle")
Offset = _sym("offset")
Length = _bounded(hi=LIMITS["length"], gt=0)
Radius = _bounded(hi=LIMITS["radius"], gt=0)
Vec3 = tuple[Finite, Finite, Finite]
OffsetVec = tuple[Offset, Offset, Offset]
Position = _sym("position")
PositionVec = tuple[Position, Position, Position]
Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=40)]
FingerName = Name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)


def _check_axis(axis: tuple[float, float, float]) -> tuple[float, float, float]:
    norm = math.sqrt(sum(a * a for a in axis))
    if norm < 1e-9:
        raise ValueError("axis must be a non-zero vector")
    # rounded like every other number, so validating a dumped spec gives it back exactly
    return tuple(round(a / norm, 9) for a in axis)  # type: ignore[return-value]


def _check_range(rng: tuple[float, float]) -> tuple[float, float]:
    lo, hi = rng
    if lo > hi:
        raise ValueError(f"min {lo} is greater than max {hi}")
    return rng


Axis = Annotated[Vec3, AfterValidator(_check_axis)]
AngleRange = Annotated[tuple[Angle, Angle], AfterValidator(_check_range)]
SlideRange = Annotated[tuple[_sym("slide"), _sym("slide")], AfterValidator(_check_range)]
ForceRange = Annotated[tuple[_sym("force"), _sym("force")], AfterValidator(_check_range)]


class Rotation(_Strict):
    """A rotation as an axis and an angle in degrees (mirrors cleanly, unlike Euler angles)."""

    axis: Axis
    angle: Angle


class JointClass(_Strict):
    """Shared joint + actuator settings: becomes one MJCF default class (Menagerie style)."""

    damping: _bounded(0, LIMITS["damping"]) = 0.1
    armature: _bounded(0, LIMITS["armature"]) = 0.001
    frictionloss: _bounded(0, LIMITS["frictionloss"]) = 0.0
    kp: _bounded(hi=LIMITS["gain"], gt=0) = 3.0
    forcerange: ForceRange | None = None


class Joint(_Strict):
    """A hinge at the base of a link.

    ``fixed_at`` removes the DoF from the model (the link is rigidly set at that angle):
    RP1M drops the Shadow hand's THJ5, THJ1 and LFJ5 this way. ``couple_next`` makes the next
    joint of the same finger follow this one (q_next = ratio * q_this) with no actuator of its
    own, like the Shadow hand's tendon-coupled J1/J2.
    """

    name: Name
    axis: Axis
    range: AngleRange
    joint_class: Name = Field("finger", alias="class")
    actuated: bool = True
    fixed_at: Angle | None = None
    couple_next: _sym("coupling") | None = None
    ref: Angle = 0.0

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

    length: Length
    radius: Radius
    joints: list[Joint] = Field(default_factory=list, max_length=MAX_JOINTS_PER_LINK)


class Finger(_Strict):
    """A chain of links from ``base`` (in the palm frame). ``name`` is a canonical finger
    (thumb, index, middle, ring, little) or any other name for an extra finger."""

    name: FingerName
    base: OffsetVec
    rotation: Rotation | None = None
    links: list[Link] = Field(min_length=1, max_length=MAX_LINKS)

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
    range: SlideRange
    kp: _bounded(hi=LIMITS["gain"], gt=0) = 300.0
    damping: _bounded(0, LIMITS["damping"]) = 30.0
    forcerange: ForceRange | None = None


class Forearm(_Strict):
    """The arm the hand hangs from. ``mount`` is where the right wrist sits over the keyboard
    (piano frame; the left hand is mounted at the mirror point)."""

    length: _bounded(hi=LIMITS["forearm_length"], gt=0) = 0.25
    radius: Radius = 0.035
    mass: _bounded(hi=LIMITS["mass"], gt=0) | None = None
    mount: PositionVec
    slides: list[Slide] = Field(default_factory=list, max_length=MAX_SLIDES)


class Palm(_Strict):
    """A box behind the knuckles; ``joints`` are the wrist (between forearm and palm)."""

    length: Length
    width: Length
    thickness: Length
    offset: OffsetVec = (0.0, 0.0, 0.0)
    joints: list[Joint] = Field(default_factory=list, max_length=MAX_JOINTS_PER_LINK)


class Contacts(_Strict):
    """What touches what. Keys only ever touch finger geoms; forearms and palms of the two
    hands collide with each other (that is the collision penalty of the reward)."""

    fingers: Literal["all", "tips"] = "all"
    friction: tuple[_bounded(hi=LIMITS["friction"], gt=0), _bounded(0, LIMITS["friction"]),
                    _bounded(0, LIMITS["friction"])] = (1.0, 0.005, 0.0001)
    solref: tuple[_bounded(hi=LIMITS["solref"], gt=0),
                  _bounded(hi=LIMITS["solref"], gt=0)] = (0.01, 1.0)


class ExternalModel(_Strict):
    """"Bring your own hand": an existing MJCF file of the right hand.

    Names refer to elements inside that file. The left hand is the mirror of it (primitive
    geoms mirror exactly; give ``left_file`` when the model uses meshes).
    """

    file: str
    left_file: str | None = None
    tip_sites: dict[FingerName, str] = Field(min_length=1, max_length=MAX_FINGERS)
    actuators: list[str] | None = None  # None: every actuator in the file
    mount: PositionVec = (0.4, 0.15, 0.13)


class HandSpec(_Strict):
    """A whole hand. ``extends`` / ``remove_fingers`` are resolved by the loader before this
    model sees the data, so a validated HandSpec is always complete."""

    name: Name
    description: str = ""
    gravity_compensation: bool = True
    joint_classes: dict[Name, JointClass] = Field(default_factory=lambda: {"finger": JointClass()})
    forearm: Forearm | None = None
    palm: Palm | None = None
    fingers: list[Finger] = Field(default_factory=list, max_length=MAX_FINGERS)
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
        """Present fingers: canonical ones in canonical order (thumb first), then extra
        fingers in the order declared."""
        declared = list(self.mjcf.tip_sites) if self.mjcf is not None else \
            [f.name for f in self.fingers]
        return finger_order(declared)

    def ordered_fingers(self) -> list[Finger]:
        by_name = {f.name: f for f in self.fingers}
        return [by_name[n] for n in self.finger_names]


def finger_order(names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Canonical fingers first (thumb..little), then the others in the given order."""
    canonical = [n for n in CANONICAL_FINGERS if n in names]
    return tuple(canonical + [n for n in names if n not in CANONICAL_FINGERS])


def finger_number(name: str, names: tuple[str, ...]) -> int:
    """The finger's number in fingering output: 1..5 for thumb..little (the human
    convention, whatever fingers the hand lacks), 6, 7, ... for extra fingers in order."""
    if name in CANONICAL_FINGERS:
        return CANONICAL_FINGERS.index(name) + 1
    extras = [n for n in names if n not in CANONICAL_FINGERS]
    return len(CANONICAL_FINGERS) + 1 + extras.index(name)
