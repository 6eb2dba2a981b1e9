"""Mirror an MJCF model across the y = 0 plane (right hand -> left hand).

A reflection M = diag(1, -1, 1) maps points and true vectors (positions, slide axes) to
M v, but rotation axes are pseudovectors and map to -M a; a frame R maps to M R M, so a
quaternion (w, x, y, z) becomes (w, -x, y, -z). Working on the XML keeps one code path for
generated hands and for user-supplied MJCF files. Meshes cannot be mirrored this way:
such hands must provide a left-hand file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
from dm_control import mjcf

from handspec.errors import InputError

_NAME_ATTRS = ("name", "joint", "joint1", "joint2", "site", "body", "body1", "body2", "tendon",
               "class", "childclass", "geom", "geom1", "geom2", "target", "objname", "actuator",
               "model")
_POSITION_ELEMENTS = {"body", "geom", "site", "joint", "camera", "light", "frame", "inertial"}


def _floats(text: str) -> np.ndarray:
    return np.array([float(t) for t in text.split()])


def _fmt(values: np.ndarray) -> str:
    return " ".join(f"{v:.10g}" for v in values)


def _mirror_point(v: np.ndarray) -> np.ndarray:
    out = v.copy()
    out[1::3] *= -1
    return out


def _mirror_pseudo(v: np.ndarray) -> np.ndarray:
    return np.array([-v[0], v[1], -v[2]])


def _joint_types(tree: ET.Element) -> dict[str, str]:
    """Joint type each default class gives its joints (for axes declared without a type)."""
    types: dict[str, str] = {}

    def walk(node: ET.Element, inherited: str) -> None:
        for child in node.findall("default"):
            cls = child.get("class", "main")
            joint = child.find("joint")
            jtype = joint.get("type", inherited) if joint is not None else inherited
            types[cls] = jtype
            walk(child, jtype)

    for default in tree.findall("default"):
        walk(default, "hinge")
    return types


def _mirror_element(el: ET.Element, class_types: dict[str, str], active_class: str) -> None:
    tag = el.tag
    if "euler" in el.attrib:
        raise InputError(f"cannot mirror <{tag} name='{el.get('name', '')}'> with euler angles; "
                         "use quat/axisangle or give a left_file", field="mjcf")
    if tag == "geom" and (el.get("type") == "mesh" or "mesh" in el.attrib):
        raise InputError(f"cannot mirror mesh geom '{el.get('name', '')}'; give a left_file",
                         field="mjcf.left_file")
    if "pos" in el.attrib and tag in _POSITION_ELEMENTS:
        el.set("pos", _fmt(_mirror_point(_floats(el.get("pos")))))
    if "fromto" in el.attrib:
        el.set("fromto", _fmt(_mirror_point(_floats(el.get("fromto")))))
    if "quat" in el.attrib:
        w, x, y, z = _floats(el.get("quat"))
        el.set("quat", _fmt(np.array([w, -x, y, -z])))
    if "axisangle" in el.attrib:
        v = _floats(el.get("axisangle"))
        el.set("axisangle", _fmt(np.concatenate([_mirror_pseudo(v[:3]), v[3:]])))
    if "zaxis" in el.attrib:
        el.set("zaxis", _fmt(_mirror_point(_floats(el.get("zaxis")))))
    if "xyaxes" in el.attrib:
        v = _floats(el.get("xyaxes"))
        el.set("xyaxes", _fmt(np.concatenate([_mirror_point(v[:3]), -_mirror_point(v[3:])])))
    if tag == "joint" and "axis" in el.attrib:
        jtype = el.get("type") or class_types.get(el.get("class", active_class), "hinge")
        axis = _floats(el.get("axis"))
        el.set("axis", _fmt(_mirror_point(axis) if jtype == "slide" else _mirror_pseudo(axis)))


def _walk(el: ET.Element, class_types: dict[str, str], active_class: str) -> None:
    if el.tag == "default":
        return  # defaults hold no placed geometry; joint axes in defaults are handled below
    cls = el.get("childclass", active_class)
    for child in el:
        _mirror_element(child, class_types, child.get("class", cls))
        _walk(child, class_types, cls)


def _mirror_default_axes(tree: ET.Element, class_types: dict[str, str]) -> None:
    for default in tree.iter("default"):
        joint = default.find("joint")
        if joint is not None and "axis" in joint.attrib:
            jtype = class_types.get(default.get("class", "main"), "hinge")
            axis = _floats(joint.get("axis"))
            joint.set("axis", _fmt(_mirror_point(axis) if jtype == "slide" else _mirror_pseudo(axis)))


def _rename(tree: ET.Element, old: str, new: str) -> None:
    for el in tree.iter():
        for attr in _NAME_ATTRS:
            value = el.get(attr)
            if value and value.startswith(old):
                el.set(attr, new + value[len(old):])


def mirror_xml(xml: str, old_prefix: str = "rh_", new_prefix: str = "lh_") -> str:
    tree = ET.fromstring(xml)
    for outer in tree.findall("default"):  # PyMJCF nests the root class as class="/"
        for inner in [d for d in outer.findall("default") if d.get("class") == "/"]:
            outer.remove(inner)
            outer.extend(list(inner))
    for el in tree.iter():
        for attr in ("class", "childclass"):
            if el.get(attr) == "/":
                del el.attrib[attr]
        if el.get("name", "").startswith("//"):  # PyMJCF's placeholder for unnamed elements
            del el.attrib["name"]
    class_types = _joint_types(tree)
    for section in tree.findall("worldbody"):
        _walk(section, class_types, "main")
    _mirror_default_axes(tree, class_types)
    if old_prefix:
        _rename(tree, old_prefix, new_prefix)
    return ET.tostring(tree, encoding="unicode")


def mirror_model(root: mjcf.RootElement, old_prefix: str = "rh_",
                 new_prefix: str = "lh_") -> mjcf.RootElement:
    """A new PyMJCF model that is the mirror image of ``root`` (names re-prefixed)."""
    xml = root.to_xml_string(precision=10, zero_threshold=1e-12)
    mirrored = mirror_xml(xml, old_prefix, new_prefix)
    assets = root.get_assets()
    return mjcf.from_xml_string(mirrored, assets=assets or None)
