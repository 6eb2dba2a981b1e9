"""Find, read, derive and validate hand YAML files.

A hand is named (``shadow_five``: looked up in the shipped ``hands/`` folder and in every
folder of ``$PIANOHANDS_HANDS_PATH``) or given as a path. ``extends:`` derives one hand from
another: the child's mapping is deep-merged onto the parent's, fingers are merged by name,
then ``remove_fingers`` drops fingers and ``scale`` resizes the hand. A finger override
merges per link: link ``i`` of the child merges onto link ``i`` of the parent (and its
joints by name), so an override that gives only lengths keeps the parent's joints.

Files are read defensively: at most ``MAX_FILE_BYTES``, duplicate keys, integers longer
than ``MAX_INT_DIGITS`` digits and nesting deeper than ``MAX_DEPTH`` are errors (before any
large allocation or deep recursion). Every failure becomes one ``InputError`` naming the
file and the field.

A resolved spec can be frozen (``freeze_spec``: canonical JSON with its hash, plus the
hashes of any external MJCF files) and loaded back (``load_frozen``, or ``load_hand`` on a
``.json`` file): a training run stores its hand that way, so later commands use the exact
hand it trained with, from any directory, whatever happened to the YAML since.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from handspec.atomic import write_text
from handspec.errors import InputError
from handspec.spec import CANONICAL_FINGERS, HandSpec

SHIPPED_HANDS = Path(__file__).resolve().parent.parent / "hands"
_MAX_EXTENDS_DEPTH = 8
MAX_FILE_BYTES = 1 << 20      # a hand file is a few kB; shadow_five.yaml is ~6 kB
MAX_INT_DIGITS = 30
MAX_DEPTH = 40                # YAML nesting levels (a hand needs about 8)
SCALE_RANGE = (0.2, 5.0)
FROZEN_FORMAT = "pianohands-hand"
FROZEN_VERSION = 1


class _HandLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys, huge integers and deep nesting."""

    def compose_node(self, parent, index):  # noqa: D102
        self._depth = getattr(self, "_depth", 0) + 1
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels",
                    self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):  # noqa: D102
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the base class reports it
                duplicate = False
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


def _construct_int(loader: _HandLoader, node):
    digits = sum(ch.isdigit() for ch in str(node.value))
    if digits > MAX_INT_DIGITS:
        raise yaml.constructor.ConstructorError(
            None, None, f"integer with {digits} digits (at most {MAX_INT_DIGITS})",
            node.start_mark)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


_HandLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("PIANOHANDS_HANDS_PATH", "").split(os.pathsep) if p]
    return extra + [SHIPPED_HANDS]


def available_hands() -> dict[str, Path]:
    """Every named hand on the search path (first folder wins on a name clash)."""
    found: dict[str, Path] = {}
    for folder in reversed(search_path()):
        for path in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
            found[path.stem] = path
    return dict(sorted(found.items()))


def resolve_hand_path(name_or_path: str | Path, relative_to: Path | None = None) -> Path:
    text = str(name_or_path)
    candidate = Path(text)
    if relative_to is not None and not candidate.is_absolute():
        local = relative_to / candidate
        if local.suffix in (".yaml", ".yml") and local.exists():
            return local
        sibling = relative_to / f"{text}.yaml"
        if sibling.exists():
            return sibling
    if candidate.suffix in (".yaml", ".yml") or os.sep in text:
        if not candidate.exists():
            raise InputError("no such file", file=candidate)
        return candidate
    hands = available_hands()
    if text not in hands:
        known = ", ".join(hands) or "none"
        raise InputError(f"unknown hand '{text}' (known: {known}; or give a path to a .yaml)")
    return hands[text]


def _read_text(path: Path) -> str:
    """The file's text, refusing anything over ``MAX_FILE_BYTES`` before reading it."""
    try:
        if not path.is_file():
            raise InputError("not a regular file", file=path)
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"file is {size / 1e6:.1f} MB; a hand file may be at most "
                             f"{MAX_FILE_BYTES // 1024} kB", file=path)
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:  # grew while we looked, or a pipe
            raise InputError(f"more than {MAX_FILE_BYTES // 1024} kB", file=path)
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {' '.join(str(exc).split())}", file=path) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    text = _read_text(path)
    try:
        data = yaml.load(text, Loader=_HandLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"malformed YAML: {problem}", file=path, field=where) from None
    except (ValueError, RecursionError) as exc:  # the last guards behind the loader's
        raise InputError(f"malformed YAML: {' '.join(str(exc).split())[:200]}",
                         file=path) from None
    if not isinstance(data, dict):
        raise InputError("a hand file must be a YAML mapping (key: value)", file=path)
    return data


def _merge(base: Any, child: Any) -> Any:
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for key, value in child.items():
            out[key] = _merge(base[key], value) if key in base else value
        return out
    return child


def _merge_named(base: list, child: list) -> list:
    """Merge lists of named mappings by name (new names are appended)."""
    by_name = {item["name"]: item for item in base}
    order = [item["name"] for item in base]
    for item in child:
        name = item["name"]
        by_name[name] = _merge(by_name[name], item) if name in by_name else item
        if name not in order:
            order.append(name)
    return [by_name[n] for n in order]


def _named(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(i, dict) and isinstance(i.get("name"), str)
                                           for i in items)


def _merge_links(base: list, child: list, path: Path, finger: str) -> list:
    """Link i of the override onto link i of the parent; joints merged by name."""
    if len(child) != len(base):
        raise InputError(f"the override gives {len(child)} links, the parent's finger has "
                         f"{len(base)}; give one entry per link (each merges onto the parent's "
                         "link), or remove_fingers it in a hand that redefines it",
                         file=path, field=f"fingers[{finger}].links")
    out = []
    for i, (old, new) in enumerate(zip(base, child)):
        if not isinstance(new, dict) or not isinstance(old, dict):
            raise InputError("each link must be a mapping", file=path,
                             field=f"fingers[{finger}].links[{i}]")
        merged = _merge({k: v for k, v in old.items() if k != "joints"},
                        {k: v for k, v in new.items() if k != "joints"})
        joints_old, joints_new = old.get("joints", []), new.get("joints")
        if joints_new is None:
            merged["joints"] = joints_old
        elif _named(joints_old) and _named(joints_new):
            merged["joints"] = _merge_named(joints_old, joints_new)
        else:
            raise InputError("joint overrides need a name each", file=path,
                             field=f"fingers[{finger}].links[{i}].joints")
        out.append(merged)
    return out


def _merge_fingers(base: list, child: list, path: Path) -> list:
    for finger in child:
        if not isinstance(finger, dict) or not isinstance(finger.get("name"), str):
            raise InputError("each finger override needs a name", file=path, field="fingers")
    parents = {f.get("name"): f for f in base if isinstance(f, dict)}
    resolved = []
    for finger in child:
        parent = parents.get(finger["name"])
        if parent is not None and "links" in finger:
            if not isinstance(finger["links"], list):
                raise InputError("must be a list of links", file=path,
                                 field=f"fingers[{finger['name']}].links")
            finger = dict(finger, links=_merge_links(parent.get("links", []), finger["links"],
                                                     path, finger["name"]))
        resolved.append(finger)
    return _merge_named([f for f in base if isinstance(f, dict) and "name" in f], resolved)


def _factor(value: Any, path: Path, field: str) -> float:
    lo, hi = SCALE_RANGE
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or not lo <= value <= hi:
        raise InputError(f"must be a number in [{lo}, {hi}], got {value!r}", file=path,
                         field=field)
    return float(value)


def _scale_links(finger: dict, factor: float, *, radius: bool) -> dict:
    links = [dict(link, length=link["length"] * factor,
                  **({"radius": link["radius"] * factor} if radius and "radius" in link else {}))
             if isinstance(link, dict) and isinstance(link.get("length"), (int, float)) else link
             for link in finger.get("links", [])]
    return dict(finger, links=links)


def _apply_scale(data: dict, scale: Any, path: Path) -> dict:
    """``scale: {hand: f, finger_length: f, fingers: {name: f}}`` (or ``scale: f`` for
    ``hand``): ``hand`` multiplies every length of the hand (palm, finger bases, links and
    radii; not the mount or the forearm slides), ``finger_length`` the link lengths of all
    fingers, ``fingers`` the link lengths of the named ones."""
    if isinstance(scale, (int, float)) and not isinstance(scale, bool):
        scale = {"hand": scale}
    if not isinstance(scale, dict) or set(scale) - {"hand", "finger_length", "fingers"}:
        raise InputError("must be a number or a mapping with hand, finger_length, fingers",
                         file=path, field="scale")
    if "fingers" not in data or "palm" not in data:
        raise InputError("scale applies to generated hands (palm and fingers)", file=path,
                         field="scale")
    data = dict(data)
    fingers = [f for f in data["fingers"] if isinstance(f, dict)]
    if "hand" in scale:
        k = _factor(scale["hand"], path, "scale.hand")
        palm = dict(data["palm"])
        for key in ("length", "width", "thickness"):
            if isinstance(palm.get(key), (int, float)):
                palm[key] = palm[key] * k
        if isinstance(palm.get("offset"), list):
            palm["offset"] = [v * k if isinstance(v, (int, float)) else v for v in palm["offset"]]
        data["palm"] = palm
        fingers = [_scale_links(dict(f, base=[v * k if isinstance(v, (int, float)) else v
                                                for v in f.get("base", [])]), k, radius=True)
                   for f in fingers]
    if "finger_length" in scale:
        k = _factor(scale["finger_length"], path, "scale.finger_length")
        fingers = [_scale_links(f, k, radius=False) for f in fingers]
    per_finger = scale.get("fingers", {})
    if not isinstance(per_finger, dict):
        raise InputError("must map finger names to factors", file=path, field="scale.fingers")
    names = [f.get("name") for f in fingers]
    for name, value in per_finger.items():
        if name not in names:
            raise InputError(f"finger '{name}' does not exist in this hand "
                             f"(has: {', '.join(map(str, names))})", file=path,
                             field="scale.fingers")
        k = _factor(value, path, f"scale.fingers.{name}")
        fingers = [_scale_links(f, k, radius=False) if f.get("name") == name else f
                   for f in fingers]
    data["fingers"] = fingers
    return data


def _resolve(path: Path, depth: int = 0) -> dict[str, Any]:
    data = _read_yaml(path)
    parent_name = data.pop("extends", None)
    removals = data.pop("remove_fingers", None)
    scale = data.pop("scale", None)
    if parent_name is not None:
        if depth >= _MAX_EXTENDS_DEPTH:
            raise InputError("extends chain too deep (a cycle?)", file=path, field="extends")
        if not isinstance(parent_name, str):
            raise InputError("must be a hand name or a path", file=path, field="extends")
        try:
            parent_path = resolve_hand_path(parent_name, relative_to=path.parent)
        except InputError as exc:
            raise InputError(exc.message, file=path, field="extends") from None
        parent = _resolve(parent_path, depth + 1)
        child_fingers = data.pop("fingers", None)
        merged = _merge(parent, data)
        if child_fingers is not None:
            if not isinstance(child_fingers, list):
                raise InputError("must be a list of fingers", file=path, field="fingers")
            merged["fingers"] = _merge_fingers(parent.get("fingers", []), child_fingers, path)
        data = merged
    elif removals is not None and "fingers" not in data:
        raise InputError("remove_fingers needs fingers (or extends)", file=path,
                         field="remove_fingers")
    if removals is not None:
        if not isinstance(removals, list) or not all(isinstance(r, str) for r in removals):
            raise InputError("must be a list of finger names", file=path, field="remove_fingers")
        present = [f.get("name") for f in data.get("fingers", []) if isinstance(f, dict)]
        for name in removals:
            if name not in present:
                hint = "" if name in CANONICAL_FINGERS else \
                    f" (finger names: {', '.join(CANONICAL_FINGERS)})"
                raise InputError(f"finger '{name}' does not exist in this hand "
                                 f"(has: {', '.join(map(str, present))}){hint}",
                                 file=path, field="remove_fingers")
        data["fingers"] = [f for f in data["fingers"] if f.get("name") not in removals]
    if scale is not None:
        data = _apply_scale(data, scale, path)
    mj = data.get("mjcf")
    if isinstance(mj, dict):  # external model files are relative to the YAML that names them
        for key in ("file", "left_file"):
            if isinstance(mj.get(key), str) and not Path(mj[key]).is_absolute():
                mj[key] = str((path.parent / mj[key]).resolve())
    return data


def _field_path(loc: tuple, data: dict) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = str(item)
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict) \
                    and isinstance(node[item].get("name"), str):
                label = node[item]["name"]
            parts[-1:] = [f"{parts[-1]}[{label}]" if parts else f"[{label}]"]
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            if item in ("function-after", "tagged-union") or "[" in str(item):
                continue
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def validate_hand_data(data: dict[str, Any], path: Path | str = "<memory>") -> HandSpec:
    """Validate an already-merged mapping; the first problem becomes an InputError."""
    try:
        return HandSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise InputError(message, file=path, field=_field_path(err["loc"], data)) from None


def load_hand(name_or_path: str | Path) -> HandSpec:
    """Load a hand by name or path, resolving ``extends``, ``remove_fingers`` and
    ``scale``; a ``.json`` path is a frozen spec (``load_frozen``)."""
    if str(name_or_path).endswith(".json"):
        return load_frozen(name_or_path)
    path = resolve_hand_path(name_or_path)
    spec = validate_hand_data(_resolve(path), path)
    if spec.mjcf is not None:
        for key in ("file", "left_file"):
            value = getattr(spec.mjcf, key)
            if value is not None and not Path(value).exists():
                raise InputError(f"MJCF file not found: {value}", file=path, field=f"mjcf.{key}")
    return spec


def canonical_json(spec: HandSpec) -> str:
    """The resolved spec as JSON: every field, defaults filled in, in the models' field
    order (what ``spec_hash`` hashes and what datasets store as ``hand_spec``)."""
    return spec.model_dump_json(by_alias=True)


def spec_hash(spec: HandSpec) -> str:
    """Content hash of a resolved spec: identifies the exact hand behind a run or dataset."""
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:16]


def _file_sha256(path: str) -> str:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=path, field="mjcf") from None


def freeze_spec(spec: HandSpec) -> str:
    """A resolved spec as a self-checking JSON document: the spec, its hash and, for a
    hand loaded from MJCF files, their SHA-256 (a frozen spec stands for exactly one hand)."""
    files = {}
    if spec.mjcf is not None:
        files = {f: _file_sha256(f) for f in (spec.mjcf.file, spec.mjcf.left_file) if f}
    text = canonical_json(spec)
    doc = {"format": FROZEN_FORMAT, "version": FROZEN_VERSION, "name": spec.name,
           "hash": spec_hash(spec), "spec_json": text, "mjcf_sha256": files}
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def write_frozen(spec: HandSpec, path: str | Path) -> Path:
    """``freeze_spec`` written atomically to ``path``."""
    return write_text(path, freeze_spec(spec))


def load_frozen(path: str | Path) -> HandSpec:
    """The spec of a ``freeze_spec`` document; ``InputError`` if the file was altered (the
    hash does not match) or an MJCF file it names changed."""
    path = Path(path)
    text = _read_text(path)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise InputError(f"not valid JSON ({exc})", file=path, field="hand") from None
    if not isinstance(doc, dict) or doc.get("format") != FROZEN_FORMAT:
        raise InputError(f"not a frozen hand spec (format {FROZEN_FORMAT!r})", file=path,
                         field="format")
    if doc.get("version") != FROZEN_VERSION:
        raise InputError(f"version {doc.get('version')!r} is not supported", file=path,
                         field="version")
    text = doc.get("spec_json")
    if not isinstance(text, str):
        raise InputError("missing spec_json", file=path, field="spec_json")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    if digest != doc.get("hash"):
        raise InputError(f"hash {doc.get('hash')!r} does not match the stored spec "
                         f"({digest}): the file was edited", file=path, field="hash")
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(f"spec_json is not valid JSON ({exc})", file=path,
                         field="spec_json") from None
    if not isinstance(data, dict):
        raise InputError("spec_json must hold a mapping", file=path, field="spec_json")
    spec = validate_hand_data(data, path)
    for file, digest in (doc.get("mjcf_sha256") or {}).items():
        if _file_sha256(file) != digest:
            raise InputError("the MJCF file changed since this hand was frozen", file=file,
                             field="mjcf")
    return spec
