"""``pianohands eval``: play a song with a policy and look at what it played.

``eval RUN`` plays one deterministic episode of a trained run's policy (``evaluate_run``);
``eval --policy NAME --song S --hand H`` plays any registered policy (``pianoenv.policy``)
for ``--episodes`` seeded episodes (``evaluate_policy``). Writes into ``RUN/eval`` (or
``--out``; ``runs/eval_<NAME>`` for a registered policy):

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
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fingering import plots
from fingering.match import match_rates
from fingering.notes import FINGER_NAMES, Note, NoteSequence
from fingering.pig import write_pig
from handspec.atomic import write_text
from handspec.errors import InputError
from pianoenv.episode import EpisodeResult, run_episode
from pianoenv.interface import Contact, PianoEnvironment
from pianoenv.policy import make_policy
from pianoenv.songs import load_goals, parse_song_spec
from pianoenv.video import write_video
from training.rl.envwrap import make_env
from training.rl.policy import check_run_dir, load_run, run_hand
from training.seeds import EVALUATE, RANDOM_BASELINE, derive_seed


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
    if not pig.is_file():
        raise InputError("no such file", file=pig, field="--pig")
    _, chunk = parse_song_spec(song)
    goals = load_goals(str(pig) if chunk is None else f"{pig}:{chunk}")
    return goals.notes


def mean_metrics(results: Sequence[EpisodeResult]) -> dict[str, float]:
    """Mean F1, precision and recall over episodes."""
    return {k: float(np.mean([r.metrics.get(k, math.nan) for r in results]))
            for k in ("f1", "precision", "recall")}


def random_policy_f1(env: PianoEnvironment, *, seed: int, episodes: int) -> dict[str, float]:
    """F1 of the uniform-random policy on ``env``: the floor a trained policy must beat.

    Episode ``i`` is seeded with ``derive_seed(seed, RANDOM_BASELINE, i)``.
    """
    policy = make_policy("random", env, seed)
    results = [run_episode(env, policy, seed=derive_seed(seed, RANDOM_BASELINE, i))
               for i in range(episodes)]
    return mean_metrics(results)


def evaluate_run(run: str | Path, *, pig: Path | None = None, song: str | None = None,
                 out: Path | None = None, video: bool = True, size: tuple[int, int] = (640, 480),
                 checkpoint: Path | None = None) -> dict[str, Any]:
    """``pianohands eval RUN``: one deterministic episode of the run's policy, then the
    learned fingering, plots against a human fingering and the video (``_write_report``)."""
    run = check_run_dir(run)
    if pig is not None and not Path(pig).is_file():
        raise InputError("no such file", file=pig, field="--pig")
    loaded = load_run(run, checkpoint)
    config, env = loaded.config, loaded.env
    if song is not None and song != config.song:
        env = make_env(song, run_hand(run, config.hand), config.fingering,
                       np.random.default_rng(config.seed), config.env_kwargs)
        agent = loaded.agent
        if (env.layout.dense_dim, env.layout.num_bits, env.action_dim) != \
                (agent.dense_dim, agent.num_bits, agent.action_dim):
            raise InputError("this song gives other observation/action sizes than the run's",
                             field="--song")
    human = _prepared_pig(Path(pig), song or config.song) if pig is not None else None
    out = Path(out) if out is not None else run / "eval"
    out.mkdir(parents=True, exist_ok=True)
    try:
        result = run_episode(env.env, loaded.policy(env=env.env), seed=0,
                             render=size if video else None)
    finally:  # the renderer's GL context goes now, not in a destructor at exit
        env.env.close()
    header = {"run": str(run), "song": song or config.song,
              "checkpoint": str(loaded.checkpoint.path),
              "checkpoint_step": loaded.checkpoint.step}
    return _write_report(header, result, env.env.song_goals, out, human=human, pig=pig,
                         label="learned (DroQ)", title=str(song or config.song))


def evaluate_policy(policy: str, song: str, hand: str, *, fingering: str = "ot",
                    episodes: int = 1, seed: int = 0, out: Path | None = None,
                    pig: Path | None = None, video: bool = True,
                    size: tuple[int, int] = (640, 480)) -> dict[str, Any]:
    """``pianohands eval --policy NAME``: any registered policy over ``episodes`` whole
    episodes of ``song``; episode ``i`` is seeded (policy and environment) with
    ``derive_seed(seed, EVALUATE, i)``, so the numbers are reproducible.

    The report holds the mean metrics and one row per episode; the learned fingering,
    plots and video are those of episode 0.
    """
    if pig is not None and not Path(pig).is_file():
        raise InputError("no such file", file=pig, field="--pig")
    env = make_env(song, hand, fingering, seed).env
    try:
        pol = make_policy(policy, env, seed)
        results = []
        for i in range(episodes):
            episode_seed = derive_seed(seed, EVALUATE, i)
            env.set_random_state(episode_seed)
            results.append(run_episode(env, pol, seed=episode_seed,
                                       render=size if video and i == 0 else None))
    finally:
        env.close()
    human = _prepared_pig(Path(pig), song) if pig is not None else None
    out = Path(out) if out is not None else Path("runs") / f"eval_{policy}"
    out.mkdir(parents=True, exist_ok=True)
    header = {"policy": policy, "song": song, "hand": hand, "fingering": fingering,
              "seed": seed, "episodes": episodes,
              "per_episode": [r.row() for r in results], "mean": mean_metrics(results)}
    # the headline numbers are the means over the episodes
    headline = {**mean_metrics(results),
                "return": float(np.mean([r.episode_return for r in results]))}
    return _write_report(header, results[0], env.song_goals, out, human=human, pig=pig,
                         label=f"policy {policy}", title=song, headline=headline)


def _write_report(header: dict[str, Any], result: EpisodeResult, goals: Any, out: Path, *,
                  human: NoteSequence | None, pig: Path | None, label: str, title: str,
                  headline: dict[str, float] | None = None) -> dict[str, Any]:
    """metrics.json, learned_fingering.txt, comparison plots and video of one episode
    (``headline`` replaces that episode's numbers, e.g. with means over several)."""
    learned = learned_fingering(goals.notes, goals.note_steps, result.contact_log)
    # a PIG file that does not match the song is an InputError: raise it before writing
    transferred = transfer_to(human, learned, pig) if human is not None else None
    files: dict[str, str] = {
        "learned_fingering": str(write_pig(learned, out / "learned_fingering.txt"))}
    report: dict[str, Any] = {
        **header, **{k: result.metrics.get(k) for k in ("f1", "precision", "recall")},
        "return": result.episode_return, "steps": result.length,
        "reward_terms": result.reward_terms,
        "notes": len(learned.notes), "notes_pressed": sum(1 for n in learned.notes if n.fingers),
        **(headline or {}),
    }
    reference, estimate = None, learned
    if transferred is not None:
        reference, estimate = human, transferred
    elif goals.notes.has_fingering:
        reference = goals.notes
    if reference is not None:
        files.update(_compare(reference, estimate, out, label, title=title))
        match_path = out / "match.json"
        report["match"] = json.loads(match_path.read_text()) if match_path.is_file() else None
    if result.frames:
        fps = round(1.0 / float(goals.control_timestep))
        files["video"] = str(write_video(result.frames, out / "video.mp4", fps=fps))
    report["files"] = files
    report["out"] = str(out)
    write_text(out / "metrics.json", json.dumps(report, indent=2, default=float) + "\n")
    return report


def _compare(reference: NoteSequence, estimate: NoteSequence, out: Path, label: str,
             title: str) -> dict[str, str]:
    """Plots and match rates of the learned fingering against a human one."""
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
    write_text(out / "match.json", json.dumps(
        {"general": overall.general, "highest": overall.highest, "soft": overall.soft,
         "per_hand": {h: {"general": r.general} for h, r in match.per_hand.items()}},
        indent=2, default=float) + "\n")
    files["match"] = str(out / "match.json")
    return files
