#!/usr/bin/env bash
# The one MJX check for a GPU session (issue 17), ~9.5 minutes of device time. Two steps:
#
#   1. HERE (the CPU machine, repo root, network for pip): fetch the wheels the GPU image
#      lacks into .whl/ (git-ignored through .git/info/exclude):
#          bash benchmarks/device/mjx_device.sh fetch
#   2. THERE, through the device tool, from the repo root, carrying .whl:
#          run(command="bash benchmarks/device/mjx_device.sh", carry=[".whl"], timeout_s=600)
#      It installs the wheels, checks that JAX sees the GPU, then writes under $OUT:
#        mjx_bench_gpu.txt  shadow_five on twinkle at 64..8192 envs, then all four hands at
#                           the best size (benchmarks/mjx_bench.py)
#        ppo_twinkle.tgz    a short PPO run on twinkle (run dir without checkpoints:
#                           summary.json, eval.csv, train.csv, tb/, f1_curve.png)
#        log.txt            everything printed
#      Copy mjx_bench_gpu.txt to benchmarks/results/ and the PPO numbers to docs/results.md.
#
# The GPU image (KINDS.md) has Python 3.12, JAX with CUDA 13, flax, optax, scipy, typer,
# rich, tqdm, matplotlib, pyyaml, h5py; the wheels add MuJoCo/MJX 3.17, dm_control,
# pydantic and the few small packages the scene and the trainer import. The repo itself is
# used from PYTHONPATH (no editable install: nothing to fetch there).
set -uo pipefail
WHEELS=(mujoco==3.17.0 mujoco-mjx==3.17.0 dm-control==1.0.50 dm-env==1.6 pydantic==2.14.4
        pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 trimesh==5.2.0
        pyopengl==3.1.10 glfw==2.11.0 tensorboardX==2.6.5)

if [[ "${1:-}" == "fetch" ]]; then
  exclude="$(git rev-parse --git-path info/exclude)"
  grep -qx '/.whl/' "$exclude" 2>/dev/null || echo '/.whl/' >> "$exclude"
  mkdir -p .whl
  python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "${WHEELS[@]}"
  # dm_control's wheel is 54 MB, mostly locomotion/suite assets; the scene needs only mjcf,
  # mujoco, _render, rl and utils: carry those, unpacked (the carry limit is 64 MiB)
  rm -rf .whl/slim && mkdir -p .whl/slim && python3 -m zipfile -e .whl/dm_control-*.whl .whl/slim \
    && rm -rf .whl/slim/dm_control/{locomotion,suite,manipulation,composer,entities,blender,viewer} \
    && rm .whl/dm_control-*.whl
  du -sh .whl
  exit
fi

OUT=${OUT:-/tmp/mjx_out}
mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1 MUJOCO_GL=egl PIANOHANDS_JAX_CACHE=/tmp/jaxcache
export XLA_PYTHON_CLIENT_PREALLOCATE=false   # memory column = what MJX really uses
start=$(date +%s)
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
  --target /tmp/site .whl/*.whl || { echo "wheel install failed"; exit 1; }
cp -r .whl/slim/dm_control .whl/slim/dm_control-*.dist-info /tmp/site/
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import jax, mujoco; from mujoco import mjx; print('jax', jax.__version__, jax.devices(), 'mujoco', mujoco.__version__)" || exit 1
echo "== setup took $(( $(date +%s) - start )) s"

# 1. batch-size sweep, shadow_five on twinkle (RP1M: 159,376 steps/s at 1024 envs on a MI250X)
# (each batch size is its own XLA program: one compile per size, rows print as they finish)
timeout 300 python3 benchmarks/mjx_bench.py --song twinkle --hands shadow_five \
  --envs 64,256,1024,4096,8192 --inner 20 --repeats 3 --cpu-steps 300 | tee "$OUT/mjx_bench_gpu.txt"
best=$(awk '$1=="shadow_five" && $2+0>0 {if ($3+0>b) {b=$3+0; n=$2}} END {print n}' "$OUT/mjx_bench_gpu.txt")
echo "== best size: ${best:-none} ($(( $(date +%s) - start )) s so far)"

# 2. the other three hands at the best size
if [[ -n "${best:-}" ]]; then
  timeout 200 python3 benchmarks/mjx_bench.py --song twinkle --hands shadow_four,allegro_like,leap_like --envs "$best" \
    --inner 20 --repeats 3 --cpu-steps 200 | tee -a "$OUT/mjx_bench_gpu.txt"
fi
echo "== benchmarks done ($(( $(date +%s) - start )) s so far)"

# 3. a short PPO run on twinkle with what is left (stops by its step budget, or the timeout)
left=$(( 560 - ($(date +%s) - start) ))
if (( left > 60 )); then
  timeout $left python3 -m training.mjx_ppo --song twinkle --hand shadow_five --out /tmp/ppo_twinkle \
    --num-envs "${best:-1024}" --steps 40000000 --time-budget $(( left - 40 )) --eval-interval 5000000 \
    --no-progress
  cat /tmp/ppo_twinkle/summary.json 2>/dev/null
  # one file back (the tool returns at most 8); checkpoints stay behind (size)
  tar czf "$OUT/ppo_twinkle.tgz" -C /tmp --exclude checkpoints ppo_twinkle 2>/dev/null
fi
echo "== total $(( $(date +%s) - start )) s"
