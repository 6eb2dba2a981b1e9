"""Actor and critic networks of DroQ (flax.linen), laid out for a 2-vCPU machine.

Three choices make the same networks as robopianist-rl (MLP 256-256-256, GELU, critics with
dropout then LayerNorm, every layer activated) cheaper to run on a CPU:

* **Sparse binary inputs.** Most of a piano observation is binary and almost all zeros:
  shadow_five's 11-step goal (968 bits) and sustain goal (11 bits) hold a few dozen ones in
  1144 inputs. ``first_layer`` keeps ONE kernel over ``[dense inputs, binary inputs]`` and
  adds the kernel rows of the active bits (``sparse=True``, a gather-sum) instead of
  multiplying by the 0/1 vector (``sparse=False``). Both compute the same function of the
  same parameters (a test checks it), so checkpoints do not depend on the mode. Binary
  inputs arrive as *active indices*: int32 ``(B, K)`` bit positions padded with ``num_bits``
  (see ``training.rl.replay.active_indices``).
* **Explicit ensemble axis.** The critics' parameters carry a leading ensemble axis ``E``.
  Their first layer, whose input is shared, is one ``(D, E*H)`` matmul rather than the
  broadcasting batched matmul ``nn.vmap`` produces (2x slower in XLA:CPU here).
* **Cheap dropout masks.** Threefry costs ~8 ns per random number on this CPU and DroQ
  needs ~1.2M dropout draws per update; ``dropout_keep_mask`` hashes (seed, position) with
  the murmur3 finaliser instead (a few integer ops), seeded from a JAX key.

CrossQ's batch renormalisation (``batch_norm=True``) follows its reference code: the
real-valued input is normalised, then every layer is linear -> activation -> BatchRenorm.
The binary inputs are not normalised: that would make them dense and lose the gather-sum
first layer; per-feature normalisation of a 0/1 input is an affine map of it, which the
first layer can learn itself (only the batch-dependence of the shift is lost). The input
normalisation is shared by the ensemble members (their first layer is one matmul; each
member's first layer absorbs its own scale and offset). Running statistics live in the
``batch_stats`` collection (``mutable=["batch_stats"]`` when ``training``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

LAYER_NORM_EPS = 1e-6  # flax.linen.LayerNorm's default
# Batch renorm constants of Ioffe (2017) as CrossQ's reference code sets them.
BN_EPS, BN_R_MAX, BN_D_MAX = 1e-3, 3.0, 5.0


class Obs(NamedTuple):
    """A batch of observations: the real-valued part and the indices of the active bits."""

    dense: jax.Array   # (B, Dd) float32
    active: jax.Array  # (B, K) int32, padded with num_bits


def activation_fn(name: str) -> Callable[[jax.Array], jax.Array]:
    return {"gelu": nn.gelu, "relu": nn.relu, "elu": nn.elu, "tanh": jnp.tanh, "silu": nn.silu}[name]


def ensemble_init(in_axis: int, out_axis: int) -> nn.initializers.Initializer:
    """Glorot-uniform per ensemble member (fans exclude the ensemble axis)."""
    ndim_axes = {in_axis, out_axis}

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        batch = tuple(i for i in range(len(shape)) if i not in {a % len(shape) for a in ndim_axes})
        return nn.initializers.variance_scaling(1.0, "fan_avg", "uniform", in_axis=in_axis,
                                                out_axis=out_axis, batch_axis=batch)(key, shape, dtype)
    return init


def dropout_keep_mask(key: jax.Array, shape: tuple[int, ...], rate: float) -> jax.Array:
    """Boolean mask, True with probability 1 - rate, from a counter-based integer hash.

    Positions are hashed with a per-call seed drawn from ``key`` (murmur3's fmix32), which is
    ample for dropout and ~10x cheaper than threefry on a CPU.
    """
    seed = jax.random.bits(key, (), jnp.uint32)
    x = jax.lax.iota(jnp.uint32, math.prod(shape))
    x = x * jnp.uint32(0x9E3779B9) + seed
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    x = x ^ (x >> 16)
    threshold = jnp.uint32(min(round(rate * 2.0**32), 2**32 - 1))
    return (x >= threshold).reshape(shape)


GATHER_UNROLL = 8


def _slot_groups(active: jax.Array, num_rows: int) -> jax.Array:
    """(B, K) -> (G, B, 8): slots in groups of ``GATHER_UNROLL``, padded with ``num_rows``."""
    batch, k = active.shape
    groups = -(-k // GATHER_UNROLL)
    pad = groups * GATHER_UNROLL - k
    if pad:
        active = jnp.concatenate([active, jnp.full((batch, pad), num_rows, active.dtype)], axis=1)
    return active.reshape(batch, groups, GATHER_UNROLL).transpose(1, 0, 2)


@jax.custom_vjp
def gather_rows_sum(kernel: jax.Array, active: jax.Array) -> jax.Array:
    """``one_hot(active).sum(1) @ kernel`` as a sum of gathered rows: (D, W), (B, K) -> (B, W).

    Indices equal to ``D`` (padding) contribute nothing. Slots are visited in groups of 8
    (a ``fori_loop`` over groups, 8 gather-adds unrolled inside): XLA:CPU fuses each group
    into one pass without materialising a (B, K, W) tensor, and the program stays small
    (fast to compile). The backward pass scatter-adds the output gradient into the rows read.
    """
    groups = _slot_groups(jnp.asarray(active), kernel.shape[0])

    def body(g: jax.Array, out: jax.Array) -> jax.Array:
        idx = groups[g]
        for j in range(GATHER_UNROLL):
            out = out + jnp.take(kernel, idx[:, j], axis=0, mode="fill", fill_value=0.0)
        return out

    init = jnp.zeros((active.shape[0], kernel.shape[1]), kernel.dtype)
    return jax.lax.fori_loop(0, groups.shape[0], body, init)


def _gather_rows_sum_fwd(kernel: jax.Array, active: jax.Array):
    return gather_rows_sum(kernel, active), (kernel, active)


def _gather_rows_sum_bwd(residual, grad_out: jax.Array):
    kernel, active = residual
    groups = _slot_groups(jnp.asarray(active), kernel.shape[0])

    def body(g: jax.Array, grad: jax.Array) -> jax.Array:
        idx = groups[g]
        for j in range(GATHER_UNROLL):
            grad = grad.at[idx[:, j]].add(grad_out, mode="drop")
        return grad

    return jax.lax.fori_loop(0, groups.shape[0], body, jnp.zeros_like(kernel)), None


gather_rows_sum.defvjp(_gather_rows_sum_fwd, _gather_rows_sum_bwd)


def layer_norm(x: jax.Array, scale: jax.Array, offset: jax.Array) -> jax.Array:
    """LayerNorm over the last axis (flax's maths: biased variance, eps 1e-6)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = jnp.square(x - mean).mean(axis=-1, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + LAYER_NORM_EPS) * scale + offset


_GELU_C = math.sqrt(2.0 / math.pi)


@jax.custom_vjp
def layer_norm_gelu(x: jax.Array, scale: jax.Array, offset: jax.Array) -> jax.Array:
    """``nn.gelu(layer_norm(x))`` (tanh GELU, flax's default) with a hand-written backward.

    Same values as the composition; the backward reuses the normalised input and the tanh
    of the forward instead of letting XLA:CPU re-derive them in several fusions (measured
    ~1.7x faster for a (2, 256, 256) activation here).
    """
    return _layer_norm_gelu_fwd(x, scale, offset)[0]


def _layer_norm_gelu_fwd(x, scale, offset):
    centred = x - x.mean(axis=-1, keepdims=True)
    rstd = jax.lax.rsqrt(jnp.square(centred).mean(axis=-1, keepdims=True) + LAYER_NORM_EPS)
    normed = centred * rstd
    z = normed * scale + offset
    t = jnp.tanh(_GELU_C * (z + 0.044715 * z * z * z))
    return 0.5 * z * (1.0 + t), (normed, rstd, z, t, scale)


def _layer_norm_gelu_bwd(residual, grad_out):
    normed, rstd, z, t, scale = residual
    dz = grad_out * (0.5 * (1.0 + t)
                     + 0.5 * z * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * z * z))
    d_scale = (dz * normed).sum(axis=_broadcast_axes(dz.shape, scale.shape), keepdims=True)
    d_offset = dz.sum(axis=_broadcast_axes(dz.shape, scale.shape), keepdims=True)
    g = dz * scale
    dx = rstd * (g - g.mean(axis=-1, keepdims=True)
                 - normed * (g * normed).mean(axis=-1, keepdims=True))
    return dx, d_scale.reshape(scale.shape), d_offset.reshape(scale.shape)


def _broadcast_axes(full: tuple[int, ...], part: tuple[int, ...]) -> tuple[int, ...]:
    """Axes of ``full`` along which a ``part``-shaped array was broadcast."""
    part = (1,) * (len(full) - len(part)) + tuple(part)
    return tuple(i for i, (f, p) in enumerate(zip(full, part)) if p == 1 and f != 1)


layer_norm_gelu.defvjp(_layer_norm_gelu_fwd, _layer_norm_gelu_bwd)


class _EnsembleFields(nn.Module):
    """The fields of ``num`` MLP trunks (shared by ``EnsembleMLP`` and ``CriticEnsemble``)."""

    num: int
    hidden_dims: Sequence[int]
    num_bits: int
    activation: str = "gelu"
    dropout_rate: float = 0.0
    layer_norm: bool = False
    sparse: bool = True
    batch_norm: bool = False      # CrossQ's batch renorm (see the module docstring)
    bn_momentum: float = 0.99
    bn_warmup: int = 100_000


class EnsembleMLP(_EnsembleFields):
    """``num`` MLPs on a shared input; output (num, B, hidden_dims[-1]).

    Layer i: linear -> [dropout] -> [LayerNorm] -> activation -> [BatchRenorm], for every
    layer including the last (robopianist-rl's ``activate_final=True``). The first layer's
    input is ``[dense, one_hot(active)]`` (with batch renorm, ``[BRN(dense), one_hot]``).
    ``training`` turns dropout on and makes batch renorm use (and update) batch statistics.
    """

    @nn.compact
    def __call__(self, dense: jax.Array, active: jax.Array, training: bool = False) -> jax.Array:
        act = activation_fn(self.activation)
        e = self.num
        if self.batch_norm:
            # one counter per network: updates so far, for the warm-up of the renorm terms
            count = self.variable("batch_stats", "count", lambda: jnp.zeros((), jnp.int32))
            dense = self.batch_renorm("bn_in", dense, training, count.value)
        x = self.first_layer(dense, active)                                  # (E, B, H0)
        for i, width in enumerate(self.hidden_dims):
            if i > 0:
                kernel = self.param(f"kernel_{i}", ensemble_init(1, 2), (e, x.shape[-1], width))
                bias = self.param(f"bias_{i}", nn.initializers.zeros, (e, 1, width))
                x = jnp.einsum("ebi,eio->ebo", x, kernel) + bias
            if self.dropout_rate > 0.0 and training:
                keep = dropout_keep_mask(self.make_rng("dropout"), x.shape, self.dropout_rate)
                x = jnp.where(keep, x / (1.0 - self.dropout_rate), 0.0)
            if self.layer_norm:
                scale = self.param(f"ln_scale_{i}", nn.initializers.ones, (e, 1, width))
                offset = self.param(f"ln_bias_{i}", nn.initializers.zeros, (e, 1, width))
                if self.activation == "gelu":
                    x = layer_norm_gelu(x, scale, offset)
                else:
                    x = act(layer_norm(x, scale, offset))
            else:
                x = act(x)
            if self.batch_norm:
                x = self.batch_renorm(f"bn_{i}", x, training, count.value)
        if self.batch_norm and training and not self.is_initializing():
            count.value = count.value + 1
        return x

    def batch_renorm(self, name: str, x: jax.Array, training: bool, count: jax.Array
                     ) -> jax.Array:
        """Batch Renormalization (Ioffe 2017) over the batch axis (``x.ndim - 2``).

        Training: normalise with the batch's mean and standard deviation; after
        ``bn_warmup`` updates also apply the renorm correction ``r * x_hat + d`` (r, d: the
        clipped, gradient-free ratio and offset of batch to running statistics), so the
        output matches inference. Running mean/variance: EMA with ``bn_momentum``.
        Inference: the running statistics. Per feature and (hidden layers) per member.
        """
        axis = x.ndim - 2
        shape = x.shape[:axis] + (1,) + x.shape[axis + 1:]
        run_mean = self.variable("batch_stats", f"{name}_mean", jnp.zeros, shape, jnp.float32)
        run_var = self.variable("batch_stats", f"{name}_var", jnp.ones, shape, jnp.float32)
        scale = self.param(f"{name}_scale", nn.initializers.ones, shape)
        offset = self.param(f"{name}_bias", nn.initializers.zeros, shape)
        if not training:
            return (x - run_mean.value) * jax.lax.rsqrt(run_var.value + BN_EPS) * scale + offset
        mean = x.mean(axis=axis, keepdims=True)
        var = jnp.square(x - mean).mean(axis=axis, keepdims=True)
        std = jnp.sqrt(var + BN_EPS)
        x_hat = (x - mean) / std
        if not self.is_initializing():
            run_std = jnp.sqrt(run_var.value + BN_EPS)
            r = jax.lax.stop_gradient(jnp.clip(std / run_std, 1.0 / BN_R_MAX, BN_R_MAX))
            d = jax.lax.stop_gradient(jnp.clip((mean - run_mean.value) / run_std,
                                               -BN_D_MAX, BN_D_MAX))
            x_hat = jnp.where(count >= self.bn_warmup, x_hat * r + d, x_hat)
            m = self.bn_momentum
            run_mean.value = m * run_mean.value + (1.0 - m) * jax.lax.stop_gradient(mean)
            run_var.value = m * run_var.value + (1.0 - m) * jax.lax.stop_gradient(var)
        return x_hat * scale + offset

    def first_layer(self, dense: jax.Array, active: jax.Array) -> jax.Array:
        """Linear layer over ``[dense, one_hot(active)]``, members side by side: (E, B, H).

        Two kernels (dense rows, bit rows) rather than slices of one: slicing a parameter
        copies it on every call. Both use Glorot-uniform limits of the whole layer.
        """
        e, width, d_in = self.num, self.hidden_dims[0], dense.shape[-1]
        init = glorot_rows(d_in + self.num_bits, width)
        kernel = self.param("kernel_0", init, (d_in, e, width)).reshape(d_in, e * width)
        bias = self.param("bias_0", nn.initializers.zeros, (e * width,))
        y = dense @ kernel + bias
        if self.num_bits:
            bits = self.param("bits_kernel_0", init, (self.num_bits, e, width))
            bits = bits.reshape(self.num_bits, e * width)
            if self.sparse:
                y = y + gather_rows_sum(bits, active)
            else:
                y = y + dense_bits(active, self.num_bits, y.dtype) @ bits
        return y.reshape(dense.shape[0], e, width).transpose(1, 0, 2)


def dense_bits(active: jax.Array, num_bits: int, dtype=jnp.float32) -> jax.Array:
    """(B, K) active indices (padded with ``num_bits``) -> (B, num_bits) 0/1 matrix."""
    rows = jnp.arange(active.shape[0])[:, None]
    return jnp.zeros((active.shape[0], num_bits + 1), dtype).at[rows, active].set(1)[:, :num_bits]


def glorot_rows(fan_in: int, fan_out: int) -> nn.initializers.Initializer:
    """Glorot-uniform for a block of rows of a (fan_in, fan_out) layer kernel."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))

    def init(key: jax.Array, shape: tuple[int, ...], dtype=jnp.float32) -> jax.Array:
        return jax.random.uniform(key, shape, dtype, -limit, limit)
    return init


class CriticEnsemble(_EnsembleFields):
    """``num`` independent Q(s, a) networks in one call; output (num, B).

    The action joins the dense part of the first layer's input.
    """

    @nn.compact
    def __call__(self, obs: Obs, action: jax.Array, training: bool = False) -> jax.Array:
        dense = jnp.concatenate([obs.dense, action], axis=-1)
        x = EnsembleMLP(self.num, self.hidden_dims, self.num_bits, self.activation,
                        self.dropout_rate, self.layer_norm, self.sparse, self.batch_norm,
                        self.bn_momentum, self.bn_warmup, name="trunk")(
            dense, obs.active, training)
        kernel = self.param("q_kernel", ensemble_init(1, 2), (self.num, x.shape[-1], 1))
        bias = self.param("q_bias", nn.initializers.zeros, (self.num, 1, 1))
        return (jnp.einsum("ebi,eio->ebo", x, kernel) + bias)[..., 0]


class Actor(nn.Module):
    """Tanh-squashed diagonal Gaussian policy: returns (mean, log_std) before the tanh.

    ``zero_mean_init``: the mean head's kernel starts at zero (its bias always does), so the
    untrained policy's mode is exactly 0. ``init_log_std``: the log-std head's kernel starts
    at zero and its bias at this value (the same std for every observation); None keeps
    its random init.
    """

    hidden_dims: Sequence[int]
    num_bits: int
    action_dim: int
    activation: str = "gelu"
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    sparse: bool = True
    zero_mean_init: bool = False
    init_log_std: float | None = None
    batch_norm: bool = False
    bn_momentum: float = 0.99
    bn_warmup: int = 100_000

    @nn.compact
    def __call__(self, obs: Obs, training: bool = False) -> tuple[jax.Array, jax.Array]:
        x = EnsembleMLP(1, self.hidden_dims, self.num_bits, self.activation, sparse=self.sparse,
                        batch_norm=self.batch_norm, bn_momentum=self.bn_momentum,
                        bn_warmup=self.bn_warmup, name="trunk")(obs.dense, obs.active,
                                                                training)[0]
        init = nn.initializers.xavier_uniform()
        mean_init = nn.initializers.zeros if self.zero_mean_init else init
        mean = nn.Dense(self.action_dim, kernel_init=mean_init, name="mean")(x)
        if self.init_log_std is None:
            log_std = nn.Dense(self.action_dim, kernel_init=init, name="log_std")(x)
        else:
            log_std = nn.Dense(self.action_dim, kernel_init=nn.initializers.zeros,
                               bias_init=nn.initializers.constant(self.init_log_std),
                               name="log_std")(x)
        return mean, jnp.clip(log_std, self.log_std_min, self.log_std_max)


_LOG2 = 0.6931471805599453


def tanh_gaussian_sample(key: jax.Array, mean: jax.Array, log_std: jax.Array
                         ) -> tuple[jax.Array, jax.Array]:
    """Reparameterised sample a = tanh(u), u ~ N(mean, std), and its log-density.

    log p(a) = log N(u) - sum log(1 - tanh(u)^2), with the stable identity
    log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)).
    """
    eps = jax.random.normal(key, mean.shape, mean.dtype)
    u = mean + jnp.exp(log_std) * eps
    log_normal = -0.5 * eps**2 - log_std - 0.5 * jnp.log(2.0 * jnp.pi)
    log_det = 2.0 * (_LOG2 - u - jax.nn.softplus(-2.0 * u))
    return jnp.tanh(u), (log_normal - log_det).sum(axis=-1)
