"""Geometry of the 88-key keyboard, as plain numbers.

One source of truth for where each key is: the piano model (``pianoenv.piano``) builds its
geoms from it, and the fingering engine computes costs against it, so both always agree.
Dimensions are RoboPianist's (Steinway model D).

Frame of the piano: y runs along the keyboard (A0 at low y, C8 at high y), x points toward
the player (key fronts at +x), z is up with the white-key tops at ``WHITE_TOP``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from fingering.notes import LOWEST_PITCH, NUM_KEYS

WHITE_LENGTH, WHITE_WIDTH, WHITE_HEIGHT, WHITE_MASS = 0.15, 0.0225, 0.0225, 0.04
BLACK_LENGTH, BLACK_WIDTH, BLACK_HEIGHT, BLACK_MASS = 0.09, 0.01, 0.018, 0.02
KEY_GAP = 0.001
NUM_WHITE = 52
WHITE_TOP = WHITE_HEIGHT
BLACK_RAISE = 0.012                      # black-key top above the white-key top
BLACK_CENTER_X = -WHITE_LENGTH / 2 + BLACK_LENGTH / 2   # black keys sit at the back
WHITE_PRESS_X = WHITE_LENGTH / 2 - 0.03  # where a finger presses a white key (in front of the blacks)
_BLACK_PITCH_CLASSES = {1, 3, 6, 8, 10}
PITCH_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")


def is_black(key: int) -> bool:
    """True for the black keys (key index 0..87, A0 = 0)."""
    return (key + LOWEST_PITCH) % 12 in _BLACK_PITCH_CLASSES


def key_name(key: int) -> str:
    pitch = key + LOWEST_PITCH
    return f"{PITCH_NAMES[pitch % 12]}{pitch // 12 - 1}"


@lru_cache(maxsize=1)
def _layout() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    black = np.array([is_black(k) for k in range(NUM_KEYS)])
    white_pitch = WHITE_WIDTH + KEY_GAP
    y = np.zeros(NUM_KEYS)
    white_index = -1
    for k in range(NUM_KEYS):
        if not black[k]:
            white_index += 1
            y[k] = white_index * white_pitch
        else:  # a black key straddles the boundary between its two white neighbours
            y[k] = (white_index + 0.5) * white_pitch
    y -= (NUM_WHITE - 1) * white_pitch / 2  # centre the keyboard on y = 0
    centers = np.zeros((NUM_KEYS, 3))
    centers[:, 1] = y
    centers[~black, 0] = 0.0
    centers[~black, 2] = WHITE_HEIGHT / 2
    centers[black, 0] = BLACK_CENTER_X
    centers[black, 2] = WHITE_TOP + BLACK_RAISE - BLACK_HEIGHT / 2
    press = centers.copy()
    press[~black, 0] = WHITE_PRESS_X
    press[~black, 2] = WHITE_TOP
    press[black, 2] = WHITE_TOP + BLACK_RAISE
    for a in (black, centers, press):
        a.setflags(write=False)
    return black, centers, press


def black_mask() -> np.ndarray:
    """(88,) bool, True where the key is black."""
    return _layout()[0]


def key_centers() -> np.ndarray:
    """(88, 3) geometric centre of each key body, piano frame (read-only)."""
    return _layout()[1]


def key_press_points() -> np.ndarray:
    """(88, 3) the point on each key's top surface a fingertip aims for (read-only).

    This is what the OT cost is measured to: white keys are pressed in front of the black
    keys, black keys at their centre.
    """
    return _layout()[2]


def keyboard_width() -> float:
    return NUM_WHITE * (WHITE_WIDTH + KEY_GAP) - KEY_GAP
