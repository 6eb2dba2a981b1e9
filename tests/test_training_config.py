"""Config: Table 4 defaults, JSON round trip, one-line errors for bad values."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handspec.errors import InputError
from training.commands import _config_fields, overrides_from_options, resume_config
from training.rl.config import DroQConfig, TrainConfig, base_policy_name


def test_defaults_are_rp1m_table_4():
    cfg = TrainConfig()
    assert (cfg.steps, cfg.warmup_steps, cfg.buffer_size, cfg.batch_size, cfg.update_interval) == \
        (8_000_000, 5_000, 1_000_000, 256, 2)
    a = cfg.agent
    assert a.hidden_dims == (256, 256, 256) and a.num_qs == 2 and a.activation == "gelu"
    assert a.critic_dropout == 0.01 and a.critic_layer_norm
    assert a.tau == 0.05 and a.discount == 0.88 and a.learnable_temperature
    assert (a.actor_lr, a.critic_lr, a.temp_lr) == (3e-4, 3e-4, 3e-4)
    assert (a.adam_b1, a.adam_b2, a.adam_eps) == (0.9, 0.999, 1e-8)


@settings(max_examples=30, deadline=None)
@given(steps=st.integers(1, 10**9), seed=st.integers(0, 2**31), tau=st.floats(1e-4, 1.0),
       discount=st.floats(0.0, 1.0), dims=st.lists(st.integers(1, 1024), min_size=1, max_size=4),
       entropy=st.none() | st.floats(-100, 100), layer_norm=st.booleans())
def test_json_round_trip(tmp_path_factory, steps, seed, tau, discount, dims, entropy, layer_norm):
    cfg = TrainConfig(steps=steps, seed=seed, env_kwargs={"lookahead": 5},
                      agent=DroQConfig(tau=tau, discount=discount, hidden_dims=tuple(dims),
                                       target_entropy=entropy, critic_layer_norm=layer_norm))
    path = tmp_path_factory.mktemp("cfg") / "config.json"
    cfg.save(path)
    assert TrainConfig.load(path) == cfg


@pytest.mark.parametrize("change, field", [
    ({"steps": 0}, "steps"), ({"fingering": "maybe"}, "fingering"),
    ({"buffer_size": 100, "batch_size": 256}, "buffer_size"), ({"warmup_steps": -1}, "warmup_steps"),
    ({"seed": -1}, "seed"), ({"seed": 2 ** 32}, "seed"), ({"seed": 10 ** 19}, "seed"),
    ({"song": ""}, "song"),
    ({"agent": {"tau": 0.0}}, "tau"), ({"agent": {"discount": 1.5}}, "discount"),
    ({"agent": {"critic_dropout": 1.0}}, "critic_dropout"),
    ({"agent": {"activation": "swish!"}}, "activation"),
    ({"agent": {"hidden_dims": []}}, "hidden_dims"),
    ({"agent": {"target_entropy": float("nan")}}, "agent.target_entropy"),
    ({"agent": {"actor_lr": float("inf")}}, "agent.actor_lr"),
    ({"agent": {"critic_lr": 0.0}}, "critic_lr"),
    ({"agent": {"log_std_min": 3.0}}, "log_std_min"),
])
def test_bad_values_name_the_field(change, field):
    with pytest.raises(InputError) as err:
        TrainConfig.from_dict({**TrainConfig().to_dict(), **change}, "cfg.json")
    assert err.value.field == field and err.value.file == "cfg.json"
    with pytest.raises(InputError) as err:  # every construction validates
        TrainConfig().replace(**change)
    assert err.value.field == field


@pytest.mark.parametrize("text, field", [
    ("{not json", "config"), ("[1, 2]", "config"), ('{"stpes": 5}', "stpes"),
    ('{"steps": "many"}', "steps"), ('{"steps": true}', "steps"),
    ('{"agent": {"hidden_dims": [256, "x"]}}', "agent.hidden_dims"),
    ('{"agent": {"tau": 2.0}}', "tau"), ('{"agent": 3}', "agent"),
    ('{"agent": {"tau": NaN}}', "agent.tau"), ('{"seed": 1.5}', "seed"),
])
def test_bad_config_files(tmp_path, text, field):
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        TrainConfig.load(path)
    assert err.value.field == field and str(path) in err.value.one_line()
    assert "\n" not in err.value.one_line()


def test_every_config_field_has_a_flag():
    names = {name for _, name in _config_fields()}
    assert names == (set(TrainConfig.model_fields) - {"agent"}) | set(DroQConfig.model_fields)


def test_overrides_parse_cli_values():
    run, agent = overrides_from_options({"steps": 10, "hidden_dims": "64, 32", "discount": 0.8,
                                         "env_kwargs": ["lookahead=5", "ot_method=jv"],
                                         "tau": None})
    assert run == {"steps": 10, "env_kwargs": {"lookahead": 5, "ot_method": "jv"}}
    assert agent == {"hidden_dims": (64, 32), "discount": 0.8}
    for bad in ("", "a,b", "0,4", "-3"):
        with pytest.raises(InputError) as err:
            overrides_from_options({"hidden_dims": bad})
        assert err.value.field == "--hidden-dims"
    with pytest.raises(InputError):
        overrides_from_options({"env_kwargs": ["novalue"]})


def test_resume_keeps_the_learning_problem(tmp_path):
    saved = TrainConfig(steps=100)
    assert resume_config(saved, {"steps": 500}, {}, tmp_path).steps == 500
    assert resume_config(saved, {"seed": saved.seed}, {"discount": 0.88}, tmp_path) == saved
    with pytest.raises(InputError) as err:
        resume_config(saved, {}, {"discount": 0.5}, tmp_path)
    assert err.value.field == "discount"
    with pytest.raises(InputError):
        resume_config(saved, {"song": "other"}, {}, tmp_path)


def test_resume_may_change_how_steps_are_computed(tmp_path):
    """Env worker processes change the speed, not the learning problem."""
    saved = TrainConfig(steps=100)
    resumed = resume_config(saved, {"env_workers": 1, "param_sync_interval": 5}, {}, tmp_path)
    assert (resumed.env_workers, resumed.param_sync_interval) == (1, 5)


@pytest.mark.parametrize("name", [None, "", "none", "None", " NONE "])
def test_none_base_policy_means_from_scratch(name):
    assert base_policy_name(name) is None
    config = TrainConfig(env_kwargs={"max_steps": 7, "base_policy": "ik", "residual_scale": 0.1})
    plain = config.with_base_policy(name)
    assert plain.env_kwargs == {"max_steps": 7} == config.plain().env_kwargs
    assert plain.base_policy is None and config.base_policy == "ik"
    with pytest.raises(InputError) as err:
        config.with_base_policy(name, 0.2)
    assert err.value.field == "--residual-scale"


def test_with_base_policy_replaces_the_residual_arguments_only():
    config = TrainConfig(env_kwargs={"max_steps": 7, "base_policy": "zero", "residual_scale": 0.5})
    assert config.with_base_policy(" ik ").env_kwargs == {"max_steps": 7, "base_policy": "ik"}
    assert config.with_base_policy("ik", 0.1).env_kwargs == {
        "max_steps": 7, "base_policy": "ik", "residual_scale": 0.1}


def test_saved_config_is_plain_json(tmp_path):
    TrainConfig().save(tmp_path / "c.json")
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["agent"]["hidden_dims"] == [256, 256, 256] and data["agent"]["discount"] == 0.88
