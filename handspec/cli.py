"""``pianohands hand ...``: list, validate, inspect, export and render hands."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from handspec.errors import InputError

app = typer.Typer(help="Hands declared as YAML: list, validate, info, export, render.",
                  no_args_is_help=True, add_completion=False)

HandArg = Annotated[str, typer.Argument(help="A shipped hand name (see 'hand list') or a YAML path.")]


def _console():
    from rich.console import Console

    return Console(width=max(120, shutil.get_terminal_size().columns))


def _checked_model(name_or_path: str):
    """Load, build both sides and compile: what 'valid' means for a hand."""
    from handspec.load import load_hand, resolve_hand_path
    from handspec.model import HandModel, compile_model

    spec = load_hand(name_or_path)
    path = resolve_hand_path(name_or_path)
    hands = []
    for side in ("right", "left"):
        hand = HandModel.build(spec, side)
        try:
            compile_model(hand.root)
        except ValueError as exc:
            raise InputError(f"MuJoCo cannot compile the {side} hand: "
                             f"{' '.join(str(exc).split())[:200]}", file=path) from None
        hands.append(hand)
    return spec, path, hands


@app.command("list")
def list_hands() -> None:
    """Every hand on the search path (shipped hands/ and $PIANOHANDS_HANDS_PATH)."""
    from rich.table import Table

    from handspec.load import available_hands, load_hand

    table = Table("name", "fingers", "actions/hand", "file", title="hands")
    for name, path in available_hands().items():
        try:
            spec = load_hand(path)
            _, _, (right, _) = _checked_model(str(path))
            table.add_row(name, " ".join(spec.finger_names), str(right.action_dim), str(path))
        except InputError as exc:
            table.add_row(name, "-", "-", f"invalid: {exc.one_line()}")
    _console().print(table)


@app.command()
def validate(files: Annotated[list[str], typer.Argument(help="Hand YAML files or names.")]) -> None:
    """Validate hand files: schema, derivation, MJCF generation and compilation."""
    failed = 0
    for item in files:
        try:
            spec, path, (right, _) = _checked_model(item)
            typer.echo(f"ok: {path} ({spec.name}: {len(spec.finger_names)} fingers, "
                       f"{right.action_dim} actions per hand)")
        except InputError as exc:
            failed += 1
            typer.echo(f"error: {exc.one_line()}", err=True)
    if failed:
        raise typer.Exit(code=2)


@app.command()
def info(hand: HandArg) -> None:
    """Fingers, joints, ranges, actuators, action dimension and fingertip spans of a hand."""
    from rich.table import Table

    from handspec.reach import finger_reach

    spec, path, (right, left) = _checked_model(hand)
    con = _console()
    con.print(f"[bold]{spec.name}[/bold]  ({path})  {spec.description}")
    joints = Table("part", "joint", "axis", "range", "class", "actuated", title="joints (right hand)")
    if spec.mjcf is None:
        for slide in spec.forearm.slides:
            joints.add_row("forearm", slide.name, _axis(slide.axis),
                           f"{slide.range[0]:+.3f}..{slide.range[1]:+.3f} m", "slide", "yes")
        parts = [("palm", spec.palm.joints)] + [(f.name, f.joints) for f in spec.ordered_fingers()]
        for part, chain in parts:
            for i, j in enumerate(chain):
                follows = i > 0 and chain[i - 1].couple_next is not None
                state = ("fixed at %g°" % j.fixed_at if not j.movable else
                         f"follows {chain[i - 1].name}" if follows else
                         "yes" if j.actuated else "passive")
                joints.add_row(part, j.name, _axis(j.axis),
                               f"{j.range[0]:g}..{j.range[1]:g}°", j.joint_class, state)
        con.print(joints)
    acts = Table("actuator", "joint", "ctrl range", title="actuators (right hand)")
    for act in right.actuators:
        target = act.joint if act.joint is not None else act.tendon
        target = getattr(target, "name", target)
        lo, hi = act.ctrlrange if act.ctrlrange is not None else (math.nan, math.nan)
        acts.add_row(act.name, target, f"{lo:+.3f}..{hi:+.3f}")
    con.print(acts)
    reach = finger_reach(spec)
    span = Table("finger", *reach.fingers, title="max fingertip span along the keyboard (cm)")
    for i, f in enumerate(reach.fingers):
        span.add_row(f, *[f"{100 * reach.max_span[i, j]:.1f}" for j in range(len(reach.fingers))])
    con.print(span)
    con.print(f"fingers per hand: {len(right.fingers)}  movable joints per hand: "
              f"{len(right.joints)}  actions: {right.action_dim} per hand, "
              f"{right.action_dim + left.action_dim + 1} for two hands + sustain")


def _axis(axis) -> str:
    return "[" + " ".join(f"{a:.3g}" for a in axis) + "]"


def _atomic_dir(out: Path):
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))


@app.command()
def export(hand: HandArg,
           out: Annotated[Path, typer.Option("--out", help="Output folder.")]) -> None:
    """Write the left hand, the right hand and a both-hands scene as MJCF XML."""
    from dm_control import mjcf

    from handspec.scene import hands_scene

    spec, _, (right, left) = _checked_model(hand)
    if out.exists() and not out.is_dir():
        raise InputError("exists and is not a folder", file=out, field="--out")
    tmp = _atomic_dir(out)
    try:
        arena, _ = hands_scene(spec)
        written = []
        for root, name in ((right.root, f"rh_{spec.name}.xml"), (left.root, f"lh_{spec.name}.xml"),
                           (arena, f"{spec.name}_scene.xml")):
            mjcf.export_with_assets(root, str(tmp), out_file_name=name)
            written.append(name)
        out.mkdir(parents=True, exist_ok=True)
        for name in os.listdir(tmp):
            os.replace(tmp / name, out / name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name in written:
        typer.echo(str(out / name))


@app.command()
def render(hand: HandArg,
           out: Annotated[Path, typer.Option("--out", help="PNG file to write.")] = Path("hand.png"),
           width: Annotated[int, typer.Option(min=64, max=1920)] = 960,
           height: Annotated[int, typer.Option(min=64, max=1080)] = 640) -> None:
    """Render both hands offscreen to a PNG (MUJOCO_GL=egl, or osmesa)."""
    from handspec.scene import hands_scene, render_png

    if out.suffix.lower() != ".png":
        raise InputError("must end in .png", file=out, field="--out")
    spec, _, _ = _checked_model(hand)
    arena, _ = hands_scene(spec)
    try:
        path = render_png(arena, out, camera="three_quarter", width=width, height=height)
    except Exception as exc:  # no GL context on this machine: say so in one line
        if "gl" in type(exc).__name__.lower() or "GL" in str(exc) or "EGL" in str(exc):
            raise InputError(f"offscreen rendering unavailable ({exc}); install libegl1 "
                             "libgl1-mesa-dri or set MUJOCO_GL=osmesa", field="MUJOCO_GL") from None
        raise
    typer.echo(str(path))
