"""The rp1m pipeline on a private local Ray cluster (2 CPUs): tiny end-to-end runs with a
baseline and with real DroQ training, retries of failed and crashed tasks. Skipped without
the ``ray`` extra; slow (starting Ray takes ~10-30 s). ``ray`` is a dev dependency, so
``make test`` installs it and these tests run there; they skip only where it is absent."""

from __future__ import annotations

import os

import pytest

ray = pytest.importorskip("ray")

from training.backends import InlineBackend, RayBackend  # noqa: E402
from training.data import DemoFile, verify_file  # noqa: E402
from training.pipeline import plan, run_pipeline  # noqa: E402

pytestmark = pytest.mark.slow
SONGS = ["twinkle:1", "demo_short"]


@pytest.fixture(scope="module")
def cluster():
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    backend = RayBackend(None, num_cpus=1, local_cpus=2)
    backend.start()  # later RayBackends join this cluster and leave it running
    assert ray.cluster_resources().get("CPU") == 2
    yield
    ray.shutdown()


def test_ray_runs_chunks_and_retries_failures(cluster, tmp_path):
    tasks = plan(SONGS, hand="shadow_five", out=tmp_path / "a", specialist="random",
                 min_f1=0.0, episodes=2)
    report = run_pipeline(tasks, RayBackend(None, num_cpus=1))
    assert report.count("collected") == 2, report.finished
    for task in tasks:
        assert verify_file(task.data_path).ok
    assert len(run_pipeline(tasks, InlineBackend()).skipped) == 2

    flaky = plan(SONGS, hand="shadow_five", out=tmp_path / "b", specialist="test_pipeline_plugins:Flaky",
                 min_f1=0.0, episodes=1)
    report = run_pipeline(flaky, RayBackend(None, num_cpus=1), retries=1)
    assert report.count("collected") == 2
    assert all(e["attempts"] == 2 and "transient failure" in e["errors"][0] for e in report.finished)

    crashing = plan(["demo_short"], hand="shadow_five", out=tmp_path / "c",
                    specialist="test_pipeline_plugins:Crashing", min_f1=0.0, episodes=1)
    report = run_pipeline(crashing, RayBackend(None, num_cpus=1), retries=1)
    entry = report.finished[0]
    assert entry["status"] == "collected" and entry["attempts"] == 2, entry
    assert entry["errors"][0]  # the crash, as Ray reported it


def test_ray_end_to_end_with_droq_training(cluster, tmp_path):
    train = {"steps": 40, "warmup_steps": 20, "batch_size": 16, "buffer_size": 200,
             "eval_interval": 1000, "log_interval": 20, "checkpoint_interval": 1000,
             "agent": {"hidden_dims": [16, 16]}}
    tasks = plan(SONGS, hand="shadow_five", out=tmp_path, specialist="droq", train=train,
                 min_f1=0.0, episodes=2)
    report = run_pipeline(tasks, RayBackend(None, num_cpus=1), retries=0)
    assert report.count("collected") == 2, report.finished
    for task in tasks:
        assert verify_file(task.data_path).ok
        with DemoFile(task.data_path) as df:
            assert df.num_demos == 2 and df.meta.policy["step"] == 40
