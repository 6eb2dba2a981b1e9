"""Learned vs human fingering (RP1M Sec. 4.2, Fig. 3).

Train (or load) an agent with the OT fingering reward, play the piece with its final
policy, read the fingering off the finger->key contacts (``training.evaluate.learned_fingering``)
and compare it with *every* human annotator of that piece in PIG:

* match rates (general / highest / soft, Nakamura et al. 2020) per seed, mean and 95% CI
  (from three seeds), over the notes the robot pressed and with their count, the notes it
  did not press as their own row, next to the humans' own leave-one-out agreement;
* finger usage per hand with counts, robot vs humans (the paper's Fig. 3 bars), a piano
  roll coloured by finger, the finger confusion matrix with an "unplayed" column
  (``fingering.plots``);
* **reach**: which human choices the robot hand cannot copy. Two notes of one hand that
  sound together need their two fingers as far apart as the keys are; if even the nearest
  edges of the two keys are farther apart than the robot's widest span for that finger pair
  (``handspec.reach.finger_reach``, forearm held still, as it must be during a chord), the
  human fingering is infeasible for this robot (RP1M's "second timestep" example: index +
  ring cannot reach, the agent uses thumb + little). The robot's own two-finger chords
  (from the contact log: keys held at the same control step) must all be within its reach,
  a check of the reach estimate. A human finger the robot lacks (the
  little finger of a four-finger hand) is the other kind of infeasible choice.

Without PIG data (``--pig-dir`` absent) a built-in piece with its built-in fingering works as
a single "annotator", so the pipeline runs anywhere.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fingering import keyboard, plots
from fingering.annotate import suggest_fingering
from fingering.keyboard import key_name
from fingering.match import (CONFUSION_COLUMNS, HANDS, MatchRates, PieceMatch, align,
                            finger_counts, finger_usage, human_agreement, match_rates)
from fingering.notes import FINGER_NAMES, NoteSequence
from fingering.pig import piece_files
from handspec.errors import InputError
from handspec.reach import finger_reach
from pianoenv.songs import load_song, parse_song_spec
from training.experiments import common, stats
from training.experiments.budget import Budget
from training.rl.loop import default_env_factory
from training.runlog import new_figure, save_figure
from training.rl.config import TrainConfig

ARM = "ot"
KINDS = ("general", "highest", "soft")
_PIECE_RE = re.compile(r"^(?P<id>\d{1,3})(?::(?P<chunk>\d+))?$")
_FILE_RE = re.compile(r"^(\d+)-(\d+)_fingering\.txt$")
_OVERLAP_EPS = 1e-6


# ------------------------------------------------------------------------------ the song
@dataclass(frozen=True)
class HumanSource:
    """What the robot plays and whose fingerings it is compared with."""

    train_song: str              # song spec for the environment (PIG file[:chunk] or a name)
    piece: str                   # "008" or the built-in's name
    files: tuple[Path, ...]      # every annotator's PIG file (empty: the song's own fingering)
    chunk: int | None

    def specs(self) -> list[tuple[str, str]]:
        """(label, song spec) of each human fingering, in annotator order."""
        if not self.files:
            return [(f"{self.piece} (built-in)", self.train_song)]
        suffix = f":{self.chunk}" if self.chunk is not None else ""
        return [(_annotator_label(p), f"{p}{suffix}") for p in self.files]


def _annotator_label(path: Path) -> str:
    m = _FILE_RE.match(path.name)
    return f"annotator {int(m.group(2))}" if m else path.stem


def resolve_song(song: str, pig_dir: str | Path | None) -> HumanSource:
    """``008`` / ``008:0`` (with ``pig_dir``), a PIG file path ``[:chunk]``, or a built-in piece.

    A PIG piece without a chunk means chunk 0 (550 steps, RP1M's episode length). Annotators
    are every ``NNN-*_fingering.txt`` of the piece in ``pig_dir`` (or next to the file).
    File paths are made absolute, so the same piece is the same experiment from any folder.
    """
    song = song.strip()
    m = _PIECE_RE.match(song)
    if m:
        if pig_dir is None:
            raise InputError(f"piece {song!r} needs the PIG data folder", field="--pig-dir")
        files = [p.resolve() for p in piece_files(pig_dir, m["id"])]
        chunk = int(m["chunk"]) if m["chunk"] is not None else 0
        return HumanSource(f"{files[0]}:{chunk}", files[0].name[:3], tuple(files), chunk)
    name, chunk = parse_song_spec(song)
    path = Path(name).expanduser()
    if path.suffix.lower() == ".txt":
        if not path.is_file():
            raise InputError("no such file", file=path, field="--song")
        path = path.resolve()  # one piece, one name: whatever folder the command ran from
        fm = _FILE_RE.match(path.name)
        if fm is None:
            files: tuple[Path, ...] = (path,)
        else:
            folder = pig_dir if pig_dir is not None else path.parent
            try:
                files = tuple(p.resolve() for p in piece_files(folder, fm.group(1)))
            except InputError:
                files = (path,)
            if path not in files:
                files = (path,) + files
        chunk = 0 if chunk is None else chunk
        return HumanSource(f"{path}:{chunk}", fm.group(1) if fm else path.stem, files, chunk)
    seq = load_song(name)
    if not seq.has_fingering:
        raise InputError("this song has no human fingering to compare with; name a PIG piece "
                         "(e.g. 008 with --pig-dir) or a built-in piece with fingering",
                         file=name, field="--song")
    return HumanSource(song, name, (), chunk)


def human_fingerings(source: HumanSource, max_episode_steps: int | None,
                     reference: NoteSequence) -> tuple[list[str], list[NoteSequence]]:
    """Each annotator's fingering of exactly the notes the robot played.

    Every file goes through the same preparation as the environment's song (stretch, trim,
    chunk, cut), so notes match the robot's by pitch and onset; a file whose notes differ
    is an ``InputError`` naming it.
    """
    labels, seqs = [], []
    for label, spec in source.specs():
        notes = common.song_goals(spec, max_episode_steps).notes
        if len(notes) != len(reference) or (align(notes, reference) < 0).any():
            raise InputError("its notes differ from the piece the robot played (another "
                             "version of the piece?)", file=spec, field="notes")
        labels.append(label)
        seqs.append(in_order_of(NoteSequence(notes.notes, label, notes.sustain,
                                             dict(notes.metadata)), reference))
    return labels, seqs


def in_order_of(seq: NoteSequence, reference: NoteSequence) -> NoteSequence:
    """``seq``'s notes in ``reference``'s order (matched by pitch and onset), so that note i
    is the same note in every fingering: the reach analysis compares them index by index,
    and a PIG round trip may order simultaneous notes differently. A note of ``reference``
    missing from ``seq`` is an ``InputError``."""
    index = align(seq, reference)
    if (index < 0).any() or len(seq) != len(reference):
        raise InputError("its notes differ from the piece the robot played", file=seq.name,
                         field="notes")
    return NoteSequence(tuple(seq.notes[i] for i in index), seq.name, seq.sustain,
                        dict(seq.metadata))


# ------------------------------------------------------------------------------ reach
@dataclass(frozen=True)
class ReachConflict:
    """A human choice the robot hand cannot copy."""

    annotator: str
    kind: str                       # "beyond reach" | "missing finger"
    hand: str
    time_s: float                   # onset of the later note (seconds in the played song)
    step: int                       # control step of that onset
    keys: tuple[str, ...]
    human_fingers: tuple[str, ...]
    key_gap_m: float | None         # along-keyboard gap between the keys' nearest edges
    robot_max_span_m: float | None  # widest span of those two robot fingertips
    robot_fingers: tuple[str, ...]  # what the robot used on the same notes ("" = not pressed)
    robot_pressed_all: bool
    notes: tuple[int, ...] = ()     # indices of the notes involved

    def describe(self) -> str:
        robot = ", ".join(f or "-" for f in self.robot_fingers)
        if self.kind == "missing finger":
            return (f"{self.annotator}, {self.hand} hand, t={self.time_s:.2f} s (step {self.step}): "
                    f"{self.keys[0]} with the {self.human_fingers[0]}, which the robot hand "
                    f"lacks; the robot used: {robot}")
        return (f"{self.annotator}, {self.hand} hand, t={self.time_s:.2f} s (step {self.step}): "
                f"{self.keys[0]}+{self.keys[1]} with {self.human_fingers[0]}+{self.human_fingers[1]} "
                f"needs {100 * self.key_gap_m:.1f} cm, the robot's {self.human_fingers[0]}-"
                f"{self.human_fingers[1]} span is {100 * self.robot_max_span_m:.1f} cm; "
                f"the robot used {robot}")


def key_gap(key_a: int, key_b: int) -> float:
    """Along-keyboard distance between the nearest edges of two keys (m, >= 0)."""
    y = keyboard.key_press_points()[:, 1]
    black = keyboard.black_mask()
    width = np.where(black, keyboard.BLACK_WIDTH, keyboard.WHITE_WIDTH)
    return float(max(0.0, abs(y[key_a] - y[key_b]) - (width[key_a] + width[key_b]) / 2))


def simultaneous_pairs(seq: NoteSequence) -> list[tuple[int, int]]:
    """Index pairs (i < j) of notes of the same hand that sound at the same time."""
    pairs = []
    notes = seq.notes
    order = sorted(range(len(notes)), key=lambda i: notes[i].onset)
    for a, i in enumerate(order):
        for j in order[a + 1:]:
            if notes[j].onset >= notes[i].offset - _OVERLAP_EPS:
                break
            if notes[i].hand is not None and notes[i].hand == notes[j].hand:
                pairs.append((min(i, j), max(i, j)))
    return pairs


def reach_conflicts(human: NoteSequence, reach, learned: NoteSequence | None, label: str,
                    control_timestep: float = 0.05) -> tuple[list[ReachConflict], list[dict]]:
    """Human choices infeasible for the robot, and every simultaneous pair (for the plot).

    ``reach`` is a ``handspec.reach.FingerReach`` (its ``max_span`` is symmetric and the same
    for the mirrored left hand). ``learned`` must list the same notes in the same order.
    """
    index = {name: i for i, name in enumerate(reach.fingers)}
    notes = human.notes

    def robot(i: int) -> str:
        if learned is None or not learned.notes[i].fingers:
            return ""
        n = learned.notes[i]
        return f"{n.hand} {FINGER_NAMES[n.finger - 1]}"

    conflicts, pairs = [], []
    for i, n in enumerate(notes):
        if n.finger and FINGER_NAMES[n.finger - 1] not in index:
            conflicts.append(ReachConflict(
                label, "missing finger", n.hand or "?", round(n.onset, 4),
                round(n.onset / control_timestep), (key_name(n.key),),
                (FINGER_NAMES[n.finger - 1],), None, None, (robot(i),), bool(robot(i)), (i,)))
    for i, j in simultaneous_pairs(human):
        a, b = notes[i], notes[j]
        if not (a.finger and b.finger) or a.finger == b.finger:
            continue
        fa, fb = FINGER_NAMES[a.finger - 1], FINGER_NAMES[b.finger - 1]
        if fa not in index or fb not in index:
            continue
        gap = key_gap(a.key, b.key)
        span = float(reach.max_span[index[fa], index[fb]])
        pairs.append({"annotator": label, "hand": a.hand, "gap_m": gap, "span_m": span,
                      "feasible": gap <= span})
        if gap > span:
            later = b if b.onset >= a.onset else a
            conflicts.append(ReachConflict(
                label, "beyond reach", a.hand or "?", round(later.onset, 4),
                round(later.onset / control_timestep),
                (key_name(a.key), key_name(b.key)), (fa, fb), round(gap, 4), round(span, 4),
                (robot(i), robot(j)), bool(robot(i) and robot(j)), (i, j)))
    return conflicts, pairs


def robot_pairs(contacts: Sequence[tuple[int, str, str, int]], reach) -> list[dict]:
    """Pairs of keys one robot hand held with two fingers *at the same control step*.

    From the contact log, not the score: a policy may strike two notes the score holds
    together at different moments. Each (hand, fingers, keys) combination counts once
    however many steps it lasted. All must lie within the robot's own reach: a check of
    ``max_span``.
    """
    index = {name: i for i, name in enumerate(reach.fingers)}
    by_step: dict[tuple[int, str], set[tuple[str, int]]] = {}
    for step, hand, finger, key in contacts:
        if finger in index:
            by_step.setdefault((int(step), hand), set()).add((finger, int(key)))
    seen, out = set(), []
    for (_, hand), held in sorted(by_step.items()):
        for fa, ka in held:
            for fb, kb in held:
                if index[fa] >= index[fb] or ka == kb:
                    continue
                combo = (hand, fa, fb, min(ka, kb), max(ka, kb))
                if combo in seen:
                    continue
                seen.add(combo)
                gap = key_gap(ka, kb)
                span = float(reach.max_span[index[fa], index[fb]])
                out.append({"hand": hand, "fingers": [fa, fb], "keys": [key_name(ka), key_name(kb)],
                            "gap_m": gap, "span_m": span, "feasible": gap <= span})
    return out


def plot_reach(human_pairs: list[dict], robot: list[dict], path: Path, *, title: str) -> Path:
    """Key gap against the robot's span for each simultaneous same-hand finger pair.

    Points above the diagonal are human choices the robot cannot copy."""
    fig = new_figure(5.6, 4.4)
    ax = fig.subplots()
    everything = human_pairs + robot
    top = max([p["gap_m"] for p in everything] + [p["span_m"] for p in everything] + [0.05]) * 1.1
    ax.plot([0, top], [0, top], color="black", lw=1, ls="--", label="gap = robot span")
    for feasible, color, text in ((True, "#0072B2", "human pair, feasible"),
                                  (False, "#D55E00", "human pair, beyond robot reach")):
        sel = [p for p in human_pairs if p["feasible"] == feasible]
        if sel:
            ax.scatter([p["span_m"] for p in sel], [p["gap_m"] for p in sel], s=18, color=color, alpha=0.7, label=text)
    if robot:
        ax.scatter([p["span_m"] for p in robot], [p["gap_m"] for p in robot], marker="x", s=24,
                   color="#009E73", label="robot's own pairs")
    ax.set(xlim=(0, top), ylim=(0, top), xlabel="robot's widest span of the finger pair (m)",
           ylabel="gap between the two keys (m)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return save_figure(fig, path)


# ------------------------------------------------------------------------------ experiment
def run_fingering_experiment(song: str | None, *, pig_dir: str | Path | None = None,
                             hand: str = "shadow_five", run: str | Path | None = None,
                             **budget: Any) -> dict[str, Any]:
    """Train (``seeds`` x ``steps``, ``Budget``) or load (``run``) an OT agent and
    compare its fingering with the human annotators of ``song``; returns the summary
    written to summary.json."""
    started = time.perf_counter()
    budget = Budget(**budget)
    loaded = None
    if run is not None:
        loaded, song, hand = _loaded_run(Path(run), song, pig_dir, hand)
        # play what the run was trained on
        budget = budget.model_copy(update={"max_episode_steps": loaded.env_kwargs.get("max_steps")})
    if song is None:
        raise InputError("name the piece (e.g. 008 with --pig-dir, or a PIG file)", field="--song")
    source = resolve_song(song, pig_dir)
    if loaded is not None and common.song_goals(loaded.song).notes.notes != \
            common.song_goals(source.train_song).notes.notes:
        raise InputError(f"the run played {loaded.song!r}, not this piece", file=run, field="--song")
    spec = common.check_hand(hand, "--hand")
    played = common.song_goals(source.train_song if loaded is None else loaded.song,
                               budget.max_episode_steps)
    labels, humans = human_fingerings(source, budget.max_episode_steps, played.notes)

    base = loaded if loaded is not None else budget.base_config()
    identity = {"song": source.train_song, "annotator_files": [p.name for p in source.files],
                "hand": hand, "fingering": ARM,
                "loaded_run": str(Path(run).resolve()) if run is not None else None}
    out = budget.output(f"fingering_{common.song_slug(source.train_song)}")
    exp = common.open_experiment(budget, "fingering", out, identity, base,
                                 steps=loaded.steps if loaded is not None else None,
                                 seeds=[loaded.seed] if loaded is not None else None)
    factory = default_env_factory
    if loaded is not None:
        runs = [_evaluate_loaded(exp, Path(run), loaded, factory)]
    else:
        configs = budget.configs(base, {ARM: (source.train_song, hand, ARM)})
        runs = common.train_arms(budget, exp, configs, factory)[ARM]

    # seeds stopped early by --time-budget wait for their next session (as in the other studies)
    evaluated = [r for r in runs if (r.finished or r.status == "loaded")
                 and r.final.get("learned_fingering")]
    if evaluated:
        analysis = compare_with_humans(evaluated, labels, humans, finger_reach(spec), exp.root,
                                       title=f"{source.piece}", hand=hand)
    else:  # a time budget too short for even one evaluated run
        analysis = {"match": None, "reach": None, "plots": {},
                    "table_markdown": "no run has been evaluated yet: run the command again\n"}
    return common.finish(exp, {
        "experiment": "fingering", "song": source.train_song,
        "piece": source.piece, "annotators": labels,
        "annotator_files": [p.name for p in source.files], "hand": hand, "fingering": ARM,
        "seeds": [r.seed for r in runs], "steps_per_run": runs[0].config.steps,
        "notes": len(played.notes), "episode_steps": played.num_steps,
        "loaded_run": str(run) if run is not None else None,
        "final_f1": stats.mean_ci([r.final.get("f1", math.nan) for r in evaluated]).to_dict(),
        "evaluated_seeds": [r.seed for r in evaluated],
        "per_seed_final_f1": [r.final.get("f1") for r in evaluated],
        **analysis,
        **common.common_summary(budget, exp, base, {ARM: runs}, started),
    })


def compare_with_humans(runs: Sequence[common.SeedRun], labels: Sequence[str],
                        humans: Sequence[NoteSequence], reach, out: Path, *, title: str,
                        hand: str) -> dict[str, Any]:
    """Match rates (per seed, CI), human agreement, usage, plots and the reach analysis.

    The headline match rates are over the notes the robot pressed, next to how many those
    are; the notes it never pressed are their own category (an unpressed note says nothing
    about which finger the policy would choose). The rates over all notes, where an
    unpressed note is a miss (Nakamura et al.'s definition, as ``fingering compare``
    reports for annotators that finger every note), are kept as ``match_all_notes``.
    """
    learned = [common.read_learned_fingering(r) for r in runs]
    if any(seq is None for seq in learned):
        raise InputError("a run has no learned fingering (the environment has no notes)",
                         file=runs[0].path, field="final")
    learned = [in_order_of(seq, humans[0]) for seq in learned]
    rates = [match_rates(seq, list(humans), piece=title) for seq in learned]
    cis, pressed = _rates_over_seeds(rates)
    plan = _annotator_plan(learned, humans, reach, title)
    agreement = human_agreement(list(humans), piece=title)
    human_baseline = None if agreement is None else {
        **{k: getattr(agreement.overall, k) for k in KINDS},
        "per_hand": {h: {k: getattr(agreement.per_hand[h], k) for k in KINDS} for h in HANDS}}

    best = int(np.nanargmax([r.final.get("f1", math.nan) if r.final.get("f1") is not None
                             else -1.0 for r in runs]))
    shown, shown_rates = learned[best], rates[best]
    robot_label = f"robot ({hand}, OT, seed {runs[best].seed})"
    files = {
        "finger_usage": plots.plot_finger_usage(list(humans), shown, out / "finger_usage.png",
                                                title=f"{title}: finger usage",
                                                machine_label=robot_label),
        "piano_roll": plots.plot_piano_roll(humans[0], shown, out / "piano_roll.png",
                                            labels=(labels[0], robot_label),
                                            title=f"{title}: fingering by finger"),
        "confusion": plots.plot_confusion(shown_rates.confusion, out / "confusion.png",
                                          title=f"{title}: human finger vs {robot_label}",
                                          machine_label="robot", annotators=len(humans)),
    }
    reach_summary, files["reach"] = _reach_analysis(
        labels, humans, shown, reach, runs[best], out / "reach.png",
        title=f"{title}: human chords vs {hand}'s reach")
    usage = _usage_summary(learned, humans)
    table = _table(cis, pressed, human_baseline, len(humans), [run.seed for run in runs], plan)
    table += "\n" + _usage_table(usage, len(runs), len(humans))
    common.write_text(out / "table.md", table)
    return {
        **_ci_dicts(cis),
        "match_basis": "notes the robot pressed (see pressed_notes); match_all_notes counts "
                       "an unpressed note as a miss",
        "pressed_notes": pressed,
        "per_seed_match": [{k: getattr(r.played, k) for k in KINDS}
                           | {"seed": run.seed, "pressed_notes": r.fingered}
                           for r, run in zip(rates, runs)],
        "human_agreement": human_baseline, "finger_usage": usage,
        "annotator_plan": {k: v.to_dict() if isinstance(v, stats.ConfidenceInterval) else v
                           for k, v in plan.items()},
        "confusion_seed": runs[best].seed, "confusion_right_left": shown_rates.confusion.tolist(),
        "confusion_columns": list(CONFUSION_COLUMNS),
        "reach": reach_summary, "table_markdown": table,
        "plots": {k: str(v) for k, v in files.items()},
    }


def _annotator_plan(learned: Sequence[NoteSequence], humans: Sequence[NoteSequence], reach,
                    title: str) -> dict[str, Any]:
    """The offline annotator's fingering of the same notes for this hand (``fingering.
    annotate``, the plan the kinematic pianist plays, so the starting point of a residual
    policy): how it matches the humans, and how often the robot pressed a note with the
    plan's finger. A robot that learned on top of the pianist inherits its fingering where
    the two agree; the rows keep that apart from what the agent chose itself."""
    plan = in_order_of(suggest_fingering(humans[0], reach), humans[0])
    vs_humans = match_rates(plan, list(humans), piece=title).overall
    robot_vs_plan = [match_rates(seq, [plan], piece=title).played.general for seq in learned]
    return {"vs_humans": {k: getattr(vs_humans, k) for k in KINDS},
            "robot_same_finger_as_plan": stats.mean_ci(robot_vs_plan),
            "robot_same_finger_as_plan_per_seed": robot_vs_plan}


def _rates_over_seeds(rates: Sequence[PieceMatch]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each kind of match rate over seeds as a ``stats.ConfidenceInterval``: over the notes
    pressed (``match``, ``match_per_hand``) and over all notes (``match_all_notes...``),
    and how many notes each seed pressed, overall and per hand."""
    def over_seeds(per_seed: Sequence[MatchRates]) -> dict[str, stats.ConfidenceInterval]:
        return {k: stats.mean_ci([getattr(r, k) for r in per_seed]) for k in KINDS}

    cis = {"match": over_seeds([r.played for r in rates]),
           "match_per_hand": {h: over_seeds([r.played_per_hand[h] for r in rates]) for h in HANDS},
           "match_all_notes": over_seeds([r.overall for r in rates]),
           "match_all_notes_per_hand": {h: over_seeds([r.per_hand[h] for r in rates])
                                        for h in HANDS}}
    pressed = {"notes": rates[0].notes, "per_seed": [r.fingered for r in rates],
               "per_hand": {h: {"notes": rates[0].per_hand[h].notes,
                                "per_seed": [r.played_per_hand[h].notes for r in rates]}
                            for h in HANDS}}
    return cis, pressed


def _ci_dicts(tree: dict[str, Any]) -> dict[str, Any]:
    """The same nesting with every ``ConfidenceInterval`` as its summary.json dict."""
    return {k: v.to_dict() if isinstance(v, stats.ConfidenceInterval) else _ci_dicts(v)
            for k, v in tree.items()}


def _usage_summary(learned: Sequence[NoteSequence], humans: Sequence[NoteSequence]) -> dict[str, Any]:
    """Finger usage (rows right, left), robot pooled over seeds and humans over annotators:
    shares of the fingered notes and the counts behind them."""
    robot, robot_unplayed = finger_counts(learned)
    human, _ = finger_counts(list(humans))
    return {"rows": list(HANDS), "columns": list(FINGER_NAMES),
            "humans_pooled": finger_usage(list(humans)).round(4).tolist(),
            "humans_counts": human.tolist(),
            "robot_pooled_over_seeds": finger_usage(learned).round(4).tolist(),
            "robot_counts_pooled_over_seeds": robot.tolist(),
            "robot_not_played_pooled_over_seeds": robot_unplayed.tolist(),
            "robot_pressed_notes": int(robot.sum())}


def _reach_analysis(labels: Sequence[str], humans: Sequence[NoteSequence], shown: NoteSequence,
                    reach, run: common.SeedRun, path: Path, *,
                    title: str) -> tuple[dict[str, Any], Path]:
    """Which human choices the robot cannot reach, its own chords, and the reach plot."""
    conflicts, human_pairs = [], []
    for label, seq in zip(labels, humans):
        c, p = reach_conflicts(seq, reach, shown, label)
        conflicts += c
        human_pairs += p
    own = robot_pairs(common.read_contacts(run), reach)
    plot = plot_reach(human_pairs, own, path, title=title)
    example = next((c for c in conflicts if c.kind == "beyond reach" and c.robot_pressed_all),
                   next((c for c in conflicts if c.kind == "beyond reach"), None))
    differing = _differing_notes(shown, humans)
    explained = _explained_by_reach(differing, conflicts, list(labels))
    return {
        "robot_fingers": list(reach.fingers),
        "max_span_m": np.round(reach.max_span, 4).tolist(),
        "human_simultaneous_pairs": len(human_pairs),
        "human_pairs_beyond_reach": sum(1 for c in conflicts if c.kind == "beyond reach"),
        "human_notes_with_missing_finger": sum(1 for c in conflicts if c.kind == "missing finger"),
        "robot_pairs": len(own), "robot_pairs_beyond_own_reach": sum(not p["feasible"] for p in own),
        "robot_unpressed_notes": sum(1 for n in shown.notes if not n.finger),
        "differing_note_annotator_pairs": differing["count"],
        "differing_explained_by_reach": explained,
        "example": None if example is None else {**asdict(example), "text": example.describe()},
        "conflicts": [{**asdict(c), "text": c.describe()} for c in conflicts[:200]],
    }, plot


def _differing_notes(learned: NoteSequence, humans: Sequence[NoteSequence]) -> dict[str, Any]:
    """(note index, annotator index) where the robot pressed the note with another hand or
    finger than the human's (a note it never pressed is no choice of finger)."""
    pairs = []
    for a, seq in enumerate(humans):
        for i, (r, h) in enumerate(zip(learned.notes, seq.notes)):
            if h.finger and r.finger and (r.hand != h.hand or r.finger != h.finger):
                pairs.append((i, a))
    return {"count": len(pairs), "pairs": pairs}


def _explained_by_reach(differing: dict[str, Any], conflicts: Sequence[ReachConflict],
                        labels: Sequence[str]) -> int:
    """How many differing (note, annotator) pairs are part of an infeasible human choice."""
    flagged = {(i, labels.index(c.annotator)) for c in conflicts for i in c.notes}
    return sum(1 for pair in differing["pairs"] if tuple(pair) in flagged)


def _counts(per_seed: Sequence[int], total: int) -> str:
    """``3 of 14``, or ``3, 5 of 14`` (one count per seed) when the seeds differ."""
    if len(set(per_seed)) <= 1:
        return f"{per_seed[0] if per_seed else 0} of {total}"
    return f"{', '.join(str(v) for v in per_seed)} of {total}"


def _table(cis: dict[str, Any], pressed: dict[str, Any], human: dict | None, annotators: int,
           seeds: Sequence[int], plan: dict[str, Any] | None = None) -> str:
    """Match rates: over the notes the robot pressed, the notes it did not press, over all
    notes, and the humans among themselves. Rates over seeds are ``stats`` CIs (seed values
    below ``stats.MIN_SEEDS_FOR_CI`` seeds)."""
    def cell(ci: stats.ConfidenceInterval) -> str:
        return ci.format(1, percent=True)

    def hands(counts: dict[str, list[int]]) -> str:
        return "; ".join(f"{h} {_counts(counts[h], pressed['per_hand'][h]['notes'])}"
                         for h in HANDS)

    match, per_hand, match_all = cis["match"], cis["match_per_hand"], cis["match_all_notes"]
    total = pressed["notes"]
    unpressed = [total - k for k in pressed["per_seed"]]
    unpressed_hand = {h: [pressed["per_hand"][h]["notes"] - k for k in pressed["per_hand"][h]["per_seed"]]
                      for h in HANDS}
    robot = f"robot (OT, seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))})"
    rows = [[f"{robot} vs humans, over the notes it pressed",
             f"{_counts(pressed['per_seed'], total)} "
             f"({hands({h: pressed['per_hand'][h]['per_seed'] for h in HANDS})})",
             cell(match["general"]), cell(match["highest"]), cell(match["soft"]),
             cell(per_hand["right"]["general"]), cell(per_hand["left"]["general"])],
            [f"not played by the {robot}", f"{_counts(unpressed, total)} ({hands(unpressed_hand)})",
             "-", "-", "-", "-", "-"],
            [f"{robot} vs humans, all notes (not played = wrong finger)", f"{total}",
             cell(match_all["general"]), cell(match_all["highest"]), cell(match_all["soft"]),
             "", ""]]
    if plan is not None:
        rows.append([f"{robot}: same finger as the annotator's plan, over the notes it pressed",
                     _counts(pressed["per_seed"], total), cell(plan["robot_same_finger_as_plan"]),
                     "", "", "", ""])
        rows.append(["annotator's plan (fingering.annotate for this hand; what the kinematic "
                     "pianist plays) vs humans", f"{total}",
                     *(f"{100 * plan['vs_humans'][k]:.1f}%" for k in KINDS), "", ""])
    if human is not None:
        rows.append([f"humans vs each other (leave-one-out, {annotators} annotators)", f"{total}",
                     f"{100 * human['general']:.1f}%", f"{100 * human['highest']:.1f}%",
                     f"{100 * human['soft']:.1f}%", f"{100 * human['per_hand']['right']['general']:.1f}%",
                     f"{100 * human['per_hand']['left']['general']:.1f}%"])
    return common.markdown_table(["fingering", "notes", "general match", "highest", "soft",
                                  "right hand (general)", "left hand (general)"], rows)


def _usage_table(usage: dict[str, Any], seeds: int, annotators: int) -> str:
    """Notes per finger (and share of the hand's fingered notes), robot vs humans."""
    robot, human = usage["robot_counts_pooled_over_seeds"], usage["humans_counts"]
    robot_unplayed = usage["robot_not_played_pooled_over_seeds"]

    def row(hand: int, counts: list[int], unplayed: int | str, who: str) -> list[str]:
        total = sum(counts)
        return [HANDS[hand], who] + [f"{c} ({100 * c / total:.0f}%)" if total else "0"
                                     for c in counts] + [str(unplayed)]

    rows = []
    for k in range(len(HANDS)):
        rows.append(row(k, robot[k], int(robot_unplayed[k]),
                        f"robot, {seeds} seed{'s' if seeds != 1 else ''} pooled"))
        rows.append(row(k, human[k], "-", f"humans, {annotators} annotators pooled"))
    return common.markdown_table(["hand", "fingering"] + list(FINGER_NAMES) + ["not played"], rows)


def _loaded_run(run: Path, song: str | None, pig_dir, hand: str):
    """The saved config of a ``pianohands train`` run (its song and hand win)."""
    if not (run / "config.json").is_file():
        raise InputError("not a run directory (no config.json)", file=run, field="--run")
    config = TrainConfig.load(run / "config.json")
    return config, song if song is not None else config.song, config.hand


def _evaluate_loaded(exp: common.ExperimentDir, run: Path, config, factory) -> common.SeedRun:
    try:
        summary = json.loads((run / "summary.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        summary = {}
    seed_run = common.SeedRun("loaded", config.seed, run, "loaded", summary, config)
    final_dir = exp.run_dir("loaded", config.seed) / common.FINAL_DIR
    exp.log(f"evaluating the final policy of {run}")
    common.final_evaluation(seed_run, None, factory, out_dir=final_dir)
    return seed_run
