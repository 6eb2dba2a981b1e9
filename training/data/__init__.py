"""RP1M-style demonstration datasets: HDF5 files in the robomimic layout.

``format`` (layout, ``Episode``, ``DatasetMeta``), ``writer`` (``DemoWriter``: crash-safe
batched commits), ``reader`` (``DemoFile``), ``verify`` (``verify_file``), ``stats``
(``summarize``, ``compute_stats``), ``plot`` (``plot_fig4``), ``loader`` (``DemoLoader``
for imitation learning). The names below are the public API.
"""

from training.data.format import (CONTACT_DTYPE, FORMAT, FORMAT_VERSION, NUM_KEYS, DatasetMeta,
                                  Episode, demo_index, episode_seed, h5_key, spec_json_hash)
from training.data.loader import DemoLoader
from training.data.reader import DemoFile, fingering_matrix, read_dataset
from training.data.stats import DatasetStats, FileSummary, compute_stats, summarize
from training.data.verify import VerifyReport, per_step_prf, recompute_metrics, verify_file
from training.data.writer import DemoWriter

__all__ = ["CONTACT_DTYPE", "FORMAT", "FORMAT_VERSION", "NUM_KEYS", "DatasetMeta", "Episode",
           "demo_index", "episode_seed", "h5_key", "spec_json_hash", "DemoLoader", "DemoFile",
           "fingering_matrix", "read_dataset", "DatasetStats", "FileSummary", "compute_stats",
           "summarize", "VerifyReport", "per_step_prf", "recompute_metrics", "verify_file",
           "DemoWriter"]
