"""Collector speed and dataset size: rollout steps/s, MB per episode, storage per 1M episodes.

Measured in one run on one song chunk (default ``twinkle:0``, 550 steps, shadow_five):

  * env      ``PianoEnv.step`` alone with the policy (nothing recorded): the ceiling;
  * rollout  ``training.collect.rollout``: the same plus recording every observation,
             reward term and contact;
  * collect  rollouts written to a demo file (gzip, lzf, none), commits included;

and the file size per episode for each compression, for policies that bound what an
expert's data compress to: ``zero`` (holds the home pose: smooth, compresses best),
``random`` (uniform noise actions: compresses worst) and, with ``--run``, a trained DroQ
specialist. The storage of 1M episodes is projected from MB/episode and compared with
RP1M's: their release's size is not stated in the paper or found in public sources we could
search, so the comparison is with what RP1M's per-step content (Table 3's 1144-d
observation + 39-d action, float32, 550 steps) takes uncompressed.

Commit overhead: a demo file is rewritten (copy + append + rename) at every commit, so
commit time grows with the file; it is measured on a synthetic 200-episode file built from
one real episode. Report the machine's load: the two vCPUs here are shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

RP1M_OBS_DIM, RP1M_ACT_DIM, RP1M_STEPS = 1144, 39, 550  # RP1M Table 3, Sec. 4.3
RP1M_EPISODES = 1_000_000


def rp1m_raw_mb_per_episode() -> float:
    return (RP1M_OBS_DIM + RP1M_ACT_DIM) * 4 * RP1M_STEPS / 1e6


def time_env_only(env, policy, episodes: int, seed: int) -> tuple[int, float]:
    from training.data import episode_seed

    steps, start = 0, time.perf_counter()
    for i in range(episodes):
        env.set_random_state(episode_seed(seed, i))
        if hasattr(policy, "reset"):
            policy.reset(episode_seed(seed, i))
        ts = env.reset()
        while not ts.last():
            ts = env.step(policy(ts))
            steps += 1
    return steps, time.perf_counter() - start


def time_rollouts(env, policy, episodes: int, seed: int) -> tuple[int, float]:
    from training.collect import rollout
    from training.data import episode_seed

    steps, start = 0, time.perf_counter()
    for i in range(episodes):
        steps += rollout(env, policy, episode_seed(seed, i)).num_steps
    return steps, time.perf_counter() - start


def field_sizes(path: Path) -> dict[str, int]:
    """Stored (compressed) bytes per dataset name, summed over demos."""
    import h5py

    sizes: dict[str, int] = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                key = name.split("/", 1)[1]  # drop demo_<i>
                key = "reward_terms" if key.startswith("reward_terms/") else key
                sizes[key] = sizes.get(key, 0) + obj.id.get_storage_size()
        f["data"].visititems(visit)
    return sizes


def commit_overhead(source_file: Path, work: Path, episodes: int, commit_every: int) -> dict:
    from training.data import DemoFile, DemoWriter

    with DemoFile(source_file) as df:
        meta, ep = df.meta, df.episode(0)
    path = work / "commits.h5"
    start = time.perf_counter()
    commit_time = 0.0
    with DemoWriter(path, meta, commit_every=episodes + 1) as writer:
        for i in range(episodes):
            writer.add(ep)
            if (i + 1) % commit_every == 0:
                t = time.perf_counter()
                writer.commit()
                commit_time += time.perf_counter() - t
    total = time.perf_counter() - start
    t = time.perf_counter()
    shutil.copyfile(path, work / "copy.h5")
    copy_s = time.perf_counter() - t
    size = path.stat().st_size
    return {"episodes": episodes, "commit_every": commit_every, "file_mb": size / 1e6,
            "commit_s": commit_time, "total_s": total, "copy_mb_per_s": size / 1e6 / copy_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--song", default="twinkle:0")
    parser.add_argument("--hand", default="shadow_five")
    parser.add_argument("--episodes", type=int, default=2, help="episodes per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="timing rounds (median)")
    parser.add_argument("--run", help="a training run directory: also measure its DroQ policy")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    args = parser.parse_args()

    from training.collect import collect, load_policy, registered_policy

    load_before = os.getloadavg()
    sources = {kind: registered_policy(args.song, args.hand, kind) for kind in ("zero", "random")}
    if args.run:
        sources["droq"] = load_policy(args.run)
    work = Path(tempfile.mkdtemp(prefix="collect_bench_"))
    rows, out = [], {"song": args.song, "hand": args.hand, "episodes": args.episodes}
    try:
        for name, src in sources.items():
            # alternate the two loops so load changes hit both alike; report medians
            env_rates, roll_rates = [], []
            for r in range(args.repeats):
                steps, t = time_env_only(src.env, src.policy, args.episodes, r)
                env_rates.append(steps / t)
                steps, t = time_rollouts(src.env, src.policy, args.episodes, r)
                roll_rates.append(steps / t)
            for comp in ("gzip", "lzf", "none"):
                path = work / f"{name}_{comp}.h5"
                res = collect(src, path, args.episodes, seed=0, compression=comp,
                              commit_every=args.episodes, progress=False)
                rows.append({"policy": name, "compression": comp,
                             "env_steps_per_s": float(np.median(env_rates)),
                             "rollout_steps_per_s": float(np.median(roll_rates)),
                             "collect_steps_per_s": res.steps_per_s,
                             "mb_per_episode": res.nbytes / 1e6 / args.episodes,
                             "f1": res.mean_f1})
            out.setdefault("fields_gzip_bytes_per_episode", {})[name] = {
                k: v / args.episodes for k, v in field_sizes(work / f"{name}_gzip.h5").items()}
        out["rows"] = rows
        out["commit_overhead"] = commit_overhead(work / "random_gzip.h5", work, 200, 25)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out["loadavg_before"], out["loadavg_after"] = load_before, os.getloadavg()

    raw = rp1m_raw_mb_per_episode()
    print(f"collect_bench: {args.song} ({args.hand}), {args.episodes} episodes per cell; "
          f"load average {load_before[0]:.2f} -> {out['loadavg_after'][0]:.2f} (2 vCPUs)")
    print(f"{'policy':8} {'comp':5} {'env st/s':>9} {'rollout':>8} {'collect':>8} "
          f"{'rec cost':>8} {'MB/ep':>7} {'TB/1M ep':>9} {'vs raw':>7} {'F1':>6}")
    for r in rows:
        print(f"{r['policy']:8} {r['compression']:5} {r['env_steps_per_s']:9.0f} "
              f"{r['rollout_steps_per_s']:8.0f} {r['collect_steps_per_s']:8.0f} "
              f"{r['env_steps_per_s'] / r['collect_steps_per_s']:7.2f}x "
              f"{r['mb_per_episode']:7.3f} {r['mb_per_episode'] * RP1M_EPISODES / 1e6:9.2f} "
              f"{r['mb_per_episode'] / raw:6.2f}x {r['f1']:6.3f}")
    print(f"RP1M-equivalent raw float32 (1144 obs + 39 act) x 550 steps: {raw:.3f} MB/episode "
          f"= {raw * RP1M_EPISODES / 1e6:.2f} TB per 1M episodes; RP1M release size: unknown")
    print("stored bytes per episode by field (gzip):")
    for name, fields in out["fields_gzip_bytes_per_episode"].items():
        top = sorted(fields.items(), key=lambda kv: -kv[1])
        print(f"  {name:7} " + ", ".join(f"{k} {v / 1e3:.1f} kB" for k, v in top[:8]))
    c = out["commit_overhead"]
    copies = sum(range(c["commit_every"], c["episodes"], c["commit_every"])) * \
        c["file_mb"] / c["episodes"]
    print(f"commits: {c['episodes']} episodes, commit every {c['commit_every']}: "
          f"{c['commit_s']:.2f} s in commits for a {c['file_mb']:.1f} MB file, of which copying "
          f"the committed part ({copies:.0f} MB at {c['copy_mb_per_s']:.0f} MB/s) is "
          f"~{copies / c['copy_mb_per_s']:.2f} s; the rest is compressing and writing")
    out["rp1m_raw_mb_per_episode"] = raw
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
