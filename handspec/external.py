""""Bring your own hand": load a user's MJCF file and check it against the spec's names."""

from __future__ import annotations

from pathlib import Path

from dm_control import mjcf

from handspec.errors import InputError
from handspec.spec import HandSpec


def _read(path: str) -> mjcf.RootElement:
    try:
        return mjcf.from_path(path)
    except FileNotFoundError:
        raise InputError("MJCF file not found", file=path, field="mjcf.file") from None
    except Exception as exc:  # PyMJCF raises many types for a bad file; all are user errors
        raise InputError(f"not a valid MJCF model: {' '.join(str(exc).split())[:200]}",
                         file=path, field="mjcf.file") from None


def load_external(spec: HandSpec, side: str) -> mjcf.RootElement:
    from handspec.build import side_prefix
    from handspec.mirror import mirror_model

    ext = spec.mjcf
    assert ext is not None
    prefix = side_prefix(side)
    if side == "left" and ext.left_file:
        root = _read(ext.left_file)
    else:
        root = _read(ext.file)
        _check_names(root, spec, ext.file)
        if side == "left":
            try:
                root = mirror_model(root, "", "")
            except InputError as exc:
                raise InputError(exc.message, file=ext.file, field=exc.field) from None
    root.model = f"{prefix}{spec.name}"
    if spec.gravity_compensation:
        for body in root.find_all("body"):
            body.gravcomp = 1
    return root


def _check_names(root: mjcf.RootElement, spec: HandSpec, file: str) -> None:
    ext = spec.mjcf
    for finger, site in ext.tip_sites.items():
        if root.find("site", site) is None:
            raise InputError(f"no site named '{site}' in {Path(file).name}", file=file,
                             field=f"mjcf.tip_sites.{finger}")
    for name in ext.actuators or []:
        if root.find("actuator", name) is None:
            raise InputError(f"no actuator named '{name}' in {Path(file).name}", file=file,
                             field="mjcf.actuators")
    if not root.find_all("actuator"):
        raise InputError("the model has no actuators", file=file, field="mjcf.actuators")
