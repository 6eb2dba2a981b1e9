"""Read and write PIG piano-fingering files (Nakamura et al. 2020) as ``NoteSequence``.

Format (one note per line, tab separated, after a ``//Version: ...`` line)::

    noteID  onset_s  offset_s  pitch  onset_vel  offset_vel  channel  finger

``channel`` 0 is the right hand, 1 the left; ``finger`` is 1..5 (right) or -1..-5 (left);
a substitution on a held note is ``4_1``. In a ``Note`` the hand comes from the channel and
the fingers are unsigned (1 = thumb .. 5 = little), every finger of a substitution kept in
order (the first one presses the key).

Quirks of the full dataset that are accepted: offset velocity ``-1``; a dangling ``4_``;
mixed-sign substitutions ``-2_1`` (signs dropped, hand from the channel); skipped note ids
(ids are not kept: notes are ordered by onset, pitch, offset, which is the same for every
annotator of a piece; ``read_pig(path, sort=False)`` keeps the file's order instead); a
UTF-8 BOM (files and ``List.csv``); CRLF line ends; extra ``//`` comment lines.
``0`` as finger means "no finger" (pianoplayer writes it) and reads as an empty
``fingers``. Anything else that is wrong raises ``InputError`` naming the file and the
line and field. ``rewrite_pig`` writes a file back with only its finger (and channel)
column changed.

The PIG data is licensed for non-profit academic use only: this module reads files from a
directory the user names and never ships or downloads any.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from pathlib import Path

from fingering.keyboard import key_name
from fingering.notes import HIGHEST_PITCH, LOWEST_PITCH, Note, NoteSequence
from handspec.errors import InputError
from handspec.atomic import write_text

PIG_VERSION_LINE = "//Version: PianoFingering_v170101"
FINGERING_DIR = "FingeringFiles"
_PITCH_RE = re.compile(r"^([A-Ga-g])([#b]*)(-?\d+)$")
_STEP = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_FILE_RE = re.compile(r"^(\d+)-(\d+)_fingering\.txt$")


def pitch_from_name(name: str) -> int:
    """MIDI number of a spelled pitch ("C4" = 60, "Eb5", "F#2"); ValueError if malformed."""
    m = _PITCH_RE.match(name.strip())
    if not m:
        raise ValueError(f"not a pitch name: {name!r} (expected e.g. C4, F#3, Bb2)")
    letter, accidentals, octave = m.groups()
    shift = accidentals.count("#") - accidentals.count("b")
    return 12 * (int(octave) + 1) + _STEP[letter.upper()] + shift


def _parse_fingers(text: str) -> tuple[int, ...]:
    parts = [p for p in text.strip().split("_") if p != ""]
    if not parts:
        raise ValueError(f"empty finger {text!r}")
    fingers = []
    for part in parts:
        value = abs(int(part))
        if value == 0 and len(parts) == 1:
            return ()
        if not 1 <= value <= 5:
            raise ValueError(f"finger must be 1..5 or -1..-5, got {part!r} in {text!r}")
        fingers.append(value)
    return tuple(fingers)


def _read_text(path: Path, what: str) -> str:
    if not path.exists():
        raise InputError(f"{what} not found", file=path)
    if not path.is_file():
        raise InputError(f"{what} is not a file", file=path)
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None
    except OSError as exc:
        raise InputError(f"cannot read {what}: {exc.strerror}", file=path) from None


def parse_pig_line(line: str) -> Note:
    """One PIG note line -> ``Note``. Raises ``ValueError("field: message")``."""
    fields = line.split("\t") if "\t" in line else line.split()
    fields = [f.strip() for f in fields]
    if len(fields) < 8:
        raise ValueError(f"fields: expected 8 tab-separated fields, got {len(fields)}")

    def number(index: int, name: str) -> float:
        try:
            value = float(fields[index])
        except ValueError:
            raise ValueError(f"{name}: not a number: {fields[index]!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"{name}: not finite: {fields[index]!r}")
        return value

    onset, offset = number(1, "onset"), number(2, "offset")
    if onset < 0:
        raise ValueError(f"onset: negative time {onset}")
    if offset < onset:
        raise ValueError(f"offset: {offset} is before the onset {onset}")
    try:
        pitch = pitch_from_name(fields[3])
    except ValueError as exc:
        raise ValueError(f"pitch: {exc}") from None
    if not LOWEST_PITCH <= pitch <= HIGHEST_PITCH:
        raise ValueError(f"pitch: {fields[3]} is outside the 88 keys (A0..C8)")
    try:
        velocity = int(float(fields[4]))
    except ValueError:
        raise ValueError(f"onset_vel: not a number: {fields[4]!r}") from None
    if not 1 <= velocity <= 127:  # PIG uses -1 for "unknown"
        velocity = 64
    channel = fields[6]
    if channel not in ("0", "1"):
        raise ValueError(f"channel: must be 0 (right hand) or 1 (left hand), got {channel!r}")
    try:
        fingers = _parse_fingers(fields[7])
    except ValueError as exc:
        raise ValueError(f"finger: {exc}") from None
    return Note(pitch, onset, offset, velocity, "right" if channel == "0" else "left", fingers)


def _note_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, line without its end) of every note line of a PIG text."""
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("//"):
            out.append((number, raw))
    return out


def read_pig(path: str | Path, *, sort: bool = True) -> NoteSequence:
    """Read a PIG fingering file; ``InputError`` names the file, line and field if bad.

    Notes come ordered by (onset, pitch, offset), the order shared by every annotator of a
    piece; ``sort=False`` keeps the file's line order (what ``rewrite_pig`` needs).
    """
    path = Path(path)
    text = _read_text(path, "PIG file")
    notes = []
    for number, raw in _note_lines(text):
        try:
            notes.append(parse_pig_line(raw.strip()))
        except ValueError as exc:
            field, _, message = str(exc).partition(": ")
            raise InputError(message, file=path, field=f"line {number}: {field}") from None
    if not notes:
        raise InputError("no notes (is this a PIG fingering file?)", file=path)
    m = _FILE_RE.match(path.name)
    meta = {"source": str(path), "format": "pig"}
    if m:
        meta.update(piece_id=m.group(1), annotator=m.group(2))
    name = path.name.removesuffix("_fingering.txt").removesuffix(".txt")
    if not sort:
        return NoteSequence(tuple(notes), name, (), meta)
    return NoteSequence.from_notes(notes, name=name, **meta)


def _finger_field(note: Note) -> str:
    if not note.fingers:
        return "0"
    sign = "-" if note.hand == "left" else ""
    return "_".join(f"{sign}{f}" for f in note.fingers)


def format_pig(seq: NoteSequence) -> str:
    """The PIG text of ``seq`` (ids renumbered 0..N-1; offset velocity written as 80)."""
    lines = [PIG_VERSION_LINE]
    for i, note in enumerate(seq.notes):
        if note.hand not in ("right", "left"):
            raise ValueError(f"note {i} (pitch {note.pitch}, onset {note.onset}) has no hand; "
                             "PIG needs one (assign hands first, e.g. suggest_fingering)")
        channel = 0 if note.hand == "right" else 1
        lines.append("\t".join([str(i), repr(float(note.onset)), repr(float(note.offset)),
                                key_name(note.key), str(int(note.velocity)), "80",
                                str(channel), _finger_field(note)]))
    return "\n".join(lines) + "\n"


def write_pig(seq: NoteSequence, path: str | Path) -> Path:
    """Write ``seq`` as a PIG fingering file, atomically. Every note needs a hand."""
    return write_text(path, format_pig(seq))


_TAB_FIELDS = re.compile(r"([ \f\v]*\t[ \f\v]*)")
_SPACE_FIELDS = re.compile(r"(\s+)")
_CHANNEL, _FINGER = 6, 7


def rewrite_pig(source: str | Path, fingered: NoteSequence, path: str | Path, *,
                hands: bool = False) -> Path:
    """Write ``source``'s text again with only the finger column from ``fingered``.

    ``fingered`` holds the notes of ``source`` in its line order (``read_pig(source,
    sort=False)`` then any fingering that keeps note order, e.g. ``suggest_fingering``).
    Every other byte is kept: comment lines, ids, times as written, velocities, separators,
    line ends, a BOM. With ``hands=True`` the channel column is rewritten too (hands were
    re-assigned); otherwise a note whose hand differs from its channel is an error. Atomic.
    """
    source = Path(source)
    _read_text(source, "PIG file")  # same errors as read_pig for a missing/binary file
    raw = source.read_bytes()
    bom = raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")  # bytes, not read_text: keep CRLF line ends as they are
    lines = text.splitlines(keepends=True)
    note_lines = _note_lines(text)
    if len(note_lines) != len(fingered.notes):
        raise ValueError(f"{source} has {len(note_lines)} notes, the fingering "
                         f"{len(fingered.notes)}")
    for (number, line), note in zip(note_lines, fingered.notes):
        original = parse_pig_line(line.strip())
        if (original.pitch, original.onset, original.offset) != (note.pitch, note.onset,
                                                                 note.offset):
            raise ValueError(f"{source} line {number}: the fingering's note (pitch "
                             f"{note.pitch}, onset {note.onset}) is not this line's")
        if note.hand not in ("right", "left"):
            raise ValueError(f"{source} line {number}: the fingering gives no hand")
        if not hands and note.hand != original.hand:
            raise ValueError(f"{source} line {number}: hand changed without hands=True")
        full = lines[number - 1]
        body = full.rstrip("\r\n")
        end = full[len(body):]
        lead = body[:len(body) - len(body.lstrip())]
        trail = body[len(body.rstrip()):]
        core = body.strip()
        parts = (_TAB_FIELDS if "\t" in core else _SPACE_FIELDS).split(core)
        parts[2 * _FINGER] = _finger_field(note)
        if hands:
            parts[2 * _CHANNEL] = "0" if note.hand == "right" else "1"
        lines[number - 1] = lead + "".join(parts) + trail + end
    return write_text(path, ("\ufeff" if bom else "") + "".join(lines))


# ------------------------------------------------------------------------ the dataset


@dataclass(frozen=True)
class PigPiece:
    """One row of PIG's ``List.csv``."""

    id: str
    composer: str
    title: str
    bars: int
    notes: int
    num_fingerings: int
    annotators: tuple[tuple[int, str], ...]  # (file number, annotator initials)


def read_pig_list(csv_path: str | Path) -> list[PigPiece]:
    """Parse ``List.csv`` (UTF-8 with BOM). ``InputError`` names the line and column."""
    path = Path(csv_path)
    text = _read_text(path, "PIG list")
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise InputError("empty file", file=path)
    header = [h.strip() for h in rows[0]]
    need = ("Id", "Composer", "Piece", "#Bars", "#Notes", "#Fingering")
    for column in need:
        if column not in header:
            raise InputError(f"missing column {column!r} (header: {','.join(header)})",
                             file=path, field="line 1")
    idx = {name: header.index(name) for name in need}
    first_annotator = idx["#Fingering"] + 1
    pieces = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(need):
            raise InputError(f"expected at least {len(need)} columns, got {len(row)}",
                             file=path, field=f"line {number}")
        values = {}
        for column in ("#Bars", "#Notes", "#Fingering"):
            try:
                values[column] = int(row[idx[column]])
            except ValueError:
                raise InputError(f"not an integer: {row[idx[column]]!r}", file=path,
                                 field=f"line {number}: {column}") from None
        annotators = tuple((i + 1, cell.strip()) for i, cell in enumerate(row[first_annotator:])
                           if cell.strip())
        pieces.append(PigPiece(row[idx["Id"]].strip().zfill(3), row[idx["Composer"]].strip(),
                               row[idx["Piece"]].strip(), values["#Bars"], values["#Notes"],
                               values["#Fingering"], annotators))
    return pieces


def normalize_piece_id(piece_id: str | int) -> str:
    """'8', 8, '008' -> '008' (PIG ids are zero-padded to three digits)."""
    text = str(piece_id).strip()
    if not text.isdigit():
        raise InputError(f"piece id must be a number like 008, got {text!r}", field="piece")
    return text.zfill(3)


def fingering_dir(pig_dir: str | Path) -> Path:
    """The folder holding ``NNN-A_fingering.txt`` files: ``pig_dir/FingeringFiles`` or
    ``pig_dir`` itself."""
    root = Path(pig_dir)
    if not root.is_dir():
        raise InputError("PIG directory not found", file=root, field="--pig-dir")
    sub = root / FINGERING_DIR
    return sub if sub.is_dir() else root


def list_pieces(pig_dir: str | Path) -> list[str]:
    """Piece ids that have at least one fingering file in ``pig_dir``."""
    folder = fingering_dir(pig_dir)
    ids = {m.group(1).zfill(3) for p in folder.iterdir() if (m := _FILE_RE.match(p.name))}
    if not ids:
        raise InputError("no PIG fingering files (NNN-A_fingering.txt) here", file=folder,
                         field="--pig-dir")
    return sorted(ids)


def piece_files(pig_dir: str | Path, piece_id: str | int) -> list[Path]:
    """Every annotator's file of one piece, ordered by annotator number."""
    pid = normalize_piece_id(piece_id)
    folder = fingering_dir(pig_dir)
    found = []
    for p in folder.iterdir():
        m = _FILE_RE.match(p.name)
        if m and m.group(1).zfill(3) == pid:
            found.append((int(m.group(2)), p))
    if not found:
        raise InputError(f"no fingering files for piece {pid}", file=folder, field="--piece")
    return [p for _, p in sorted(found)]
