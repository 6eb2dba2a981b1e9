"""``pianohands eval RUN``: play the song with the trained policy and look at what it learned.

Writes into ``RUN/eval`` (or ``--out``):

* ``metrics.json``           F1, precision, recall, return, mean reward terms, checkpoint used
* ``learned_fingering.txt``  the policy's fingering in PIG format: for every note of the
                             song, the finger that pressed its key (from the environment's
                             finger->key contact log); 0 for notes it never pressed
* ``finger_usage.png``, ``piano_roll.png``, ``confusion.png`` and ``match.json``
                             (``fingering.plots`` / ``fingering.match``) when a human
                             fingering is known: the song's own (built-in pieces, PIG songs) or
                             the ``--pig`` file
* ``video.mp4``              the episode (``--no-video`` to skip; needs offscreen GL)
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fingering.notes import FINGER_NAMES, Note, NoteSequence
from handspec.errors import InputError
from training import checkpoint as ckpt
from training.rl.agent import DroQ
from training.rl.config import TrainConfig, atomic_write_text

Contact = tuple[int, str, str, int]


def learned_fingering(notes: NoteSequence, note_steps: np.ndarray,
                      contacts: Sequence[Contact]) -> NoteSequence:
    """The fingering a policy used: each note gets the finger that pressed its key.

    ``note_steps[i] = [start, end)`` is the control-step span of ``notes[i]`` (as in
    ``SongGoals``); a contact ``(step, hand, finger, key)`` counts for the note on ``key``
    whose span holds ``step``. The earliest contact wins (the finger that struck the key);
    ties at that step go to the finger seen most often in the span. A note never pressed
    keeps its hand (or "right" when unknown, PIG needs one) and gets no finger (PIG "0").
    """
    by_key: dict[int, list[Contact]] = defaultdict(list)
    for contact in contacts:
        by_key[int(contact[3])].append(contact)
    out = []
    for note, (start, end) in zip(notes.notes, np.asarray(note_steps)):
        inside = [c for c in by_key.get(note.key, ()) if start <= c[0] < max(end, start + 1)]
        if not inside:
            out.append(replace(note, hand=note.hand or "right", fingers=()))
            continue
        first = min(c[0] for c in inside)
        counts = Counter((c[1], c[2]) for c in inside)
        hand, finger = max({(c[1], c[2]) for c in inside if c[0] == first},
                           key=lambda hf: (counts[hf], hf))
        out.append(replace(note, hand=hand, fingers=(FINGER_NAMES.index(finger) + 1,)))
    return NoteSequence(tuple(out), notes.name, notes.sustain, dict(notes.metadata))


def transfer_to(reference: NoteSequence, estimate: NoteSequence, file: str | Path) -> NoteSequence:
    """``estimate``'s hands/fingers on ``reference``'s notes, matched by pitch and order.

    Both are prepared the same way (stretch, trim, chunk), but the song the policy played
    may come from another file of the piece (a MIDI) with slightly different timing, so
    notes are paired by pitch and order, not by time: the k-th note of a pitch in one is
    the k-th note of that pitch in the other. Fewer than 90% paired is an InputError.
    """
    queues: dict[int, list[Note]] = defaultdict(list)
    for note in estimate.notes:
        queues[note.pitch].append(note)
    taken: dict[int, int] = defaultdict(int)
    out, matched = [], 0
    for note in reference.notes:
        i = taken[note.pitch]
        taken[note.pitch] += 1
        if i < len(queues[note.pitch]):
            src = queues[note.pitch][i]
            out.append(replace(note, hand=src.hand, fingers=src.fingers))
            matched += 1
        else:
            out.append(replace(note, fingers=()))
    if not reference.notes or matched < 0.9 * len(reference.notes) or \
            matched < 0.9 * len(estimate.notes):
        raise InputError(f"its notes do not match the song the policy played ({matched} of "
                         f"{len(reference.notes)} notes pair up by pitch)", file=file, field="--pig")
    return NoteSequence(tuple(out), reference.name, reference.sustain, dict(reference.metadata))


def _prepared_pig(pig: Path, song: str) -> NoteSequence:
    """The human fingering of ``pig`` prepared like the song the policy plays (stretched,
    trimmed, and cut to the same chunk when the song names one), so notes line up."""
    from pianoenv.songs import load_goals, parse_song_spec

    if not pig.is_file():
        raise InputError("no such file", file=pig, field="--pig")
    _, chunk = parse_song_spec(song)
    goals = load_goals(str(pig) if chunk is None else f"{pig}:{chunk}")
    return goals.notes


def load_agent(run: Path, checkpoint: Path | None = None):
    """(config, env, agent, state, checkpoint) for a run directory."""
    from training.rl.envwrap import make_env

    run = Path(run)
    config = TrainConfig.load(run / "config.json")
    if checkpoint is None:  # fail before building the environment and compiling
        if not ckpt.list_checkpoints(ckpt.checkpoint_dir(run)):
            raise InputError("no checkpoint yet (train first)", file=ckpt.checkpoint_dir(run),
                             field="checkpoint")
        ckpt.check_intact(ckpt.checkpoint_dir(run))
    elif not Path(checkpoint).is_file():
        raise InputError("no such file", file=checkpoint, field="--checkpoint")
    env = make_env(config.song, config.hand, config.fingering, np.random.default_rng(config.seed),
                   config.env_kwargs)
    agent = DroQ(config.agent, env.layout.dense_dim, env.layout.num_bits, env.action_dim)
    template = agent.init(config.seed)
    if checkpoint is not None:
        found = ckpt.read_checkpoint(Path(checkpoint), template)
    else:
        found = ckpt.load_latest(ckpt.checkpoint_dir(run), template)
    return config, env, agent, found.agent, found


def evaluate_run(run: str | Path, *, pig: Path | None = None, song: str | None = None,
                 out: Path | None = None, video: bool = True, size: tuple[int, int] = (640, 480),
                 checkpoint: Path | None = None) -> dict[str, Any]:
    import jax

    from training.rl.envwrap import make_env
    from training.rl.policy import agent_policy, run_episode

    run = Path(run)
    if not (run / "config.json").is_file():
        raise InputError("not a run directory (no config.json)", file=run, field="RUN")
    if pig is not None and not Path(pig).is_file():
        raise InputError("no such file", file=pig, field="--pig")
    config, env, agent, state, found = load_agent(run, checkpoint)
    if song is not None and song != config.song:
        env = make_env(song, config.hand, config.fingering, np.random.default_rng(config.seed),
                       config.env_kwargs)
        if (env.layout.dense_dim, env.layout.num_bits, env.action_dim) != \
                (agent.dense_dim, agent.num_bits, agent.action_dim):
            raise InputError("this song gives other observation/action sizes than the run's",
                             field="--song")
    human = None
    if pig is not None:
        human = _prepared_pig(Path(pig), song or config.song)
    out = Path(out) if out is not None else run / "eval"
    out.mkdir(parents=True, exist_ok=True)

    policy = agent_policy(agent, state, jax.random.PRNGKey(0), deterministic=True)
    result = run_episode(env, policy, render=size if video else None)
    goals = env.song_goals
    learned = learned_fingering(goals.notes, goals.note_steps, result.contact_log)
    files: dict[str, str] = {}
    from fingering.pig import write_pig

    files["learned_fingering"] = str(write_pig(learned, out / "learned_fingering.txt"))
    report: dict[str, Any] = {
        "run": str(run), "song": song or config.song, "checkpoint": str(found.path),
        "checkpoint_step": found.step, **{k: result.metrics.get(k) for k in ("f1", "precision", "recall")},
        "return": result.episode_return, "steps": result.length,
        "reward_terms": result.reward_terms,
        "notes": len(learned.notes), "notes_pressed": sum(1 for n in learned.notes if n.fingers),
    }
    reference, estimate, label = None, learned, "learned (DroQ)"
    if human is not None:
        reference, estimate = human, transfer_to(human, learned, pig)
    elif goals.notes.has_fingering:
        reference = goals.notes
    if reference is not None:
        files.update(_compare(reference, estimate, out, label, title=str(song or config.song)))
        match_path = out / "match.json"
        report["match"] = json.loads(match_path.read_text()) if match_path.is_file() else None
    if video and result.frames:
        from pianoenv.video import write_video  # imageio runs ffmpeg in a subprocess

        fps = round(1.0 / float(getattr(goals, "control_timestep", 0.05)))
        files["video"] = str(write_video(result.frames, out / "video.mp4", fps=fps))
    report["files"] = files
    report["out"] = str(out)
    atomic_write_text(out / "metrics.json", json.dumps(report, indent=2, default=float) + "\n")
    return report


def _compare(reference: NoteSequence, estimate: NoteSequence, out: Path, label: str,
             title: str) -> dict[str, str]:
    """Plots and match rates of the learned fingering against a human one."""
    from fingering import plots
    from fingering.match import match_rates

    files = {
        "finger_usage": str(plots.plot_finger_usage([reference], estimate, out / "finger_usage.png",
                                                    title=f"{title}: finger usage",
                                                    machine_label=label)),
        "piano_roll": str(plots.plot_piano_roll(reference, estimate, out / "piano_roll.png",
                                                labels=("human", label),
                                                title=f"{title}: fingering")),
    }
    try:
        match = match_rates(estimate, [reference], piece=title)
    except ValueError:
        return files
    files["confusion"] = str(plots.plot_confusion(match.confusion, out / "confusion.png",
                                                  title=f"{title}: finger confusion",
                                                  machine_label=label))
    overall = match.overall
    atomic_write_text(out / "match.json", json.dumps(
        {"general": overall.general, "highest": overall.highest, "soft": overall.soft,
         "per_hand": {h: {"general": r.general} for h, r in match.per_hand.items()}},
        indent=2, default=float) + "\n")
    files["match"] = str(out / "match.json")
    return files
