"""K-line configs read from presets and files (one line naming the key on every problem) and the sampling and
device checks the commands run before any work."""

from __future__ import annotations

import json

import pytest
import torch


@pytest.mark.parametrize("text, fragments", [
    ("[tokenizer]\nd_model = 16.5\n", ("d_model", "int")),
    ("datasets = \"msft\"\n", ("datasets",)),
    ("lookback = \n", ("not valid TOML",)),
    ("[tokenizer]\ncoarse_bits = 4\n", ("coarse_bits",)),  # the model keeps 5: the split must match
])
def test_bad_config_files_raise_spec_errors_naming_the_key(tmp_path, text, fragments):
    from qfin.errors import SpecError
    from qfin.kline import load_train_config

    (tmp_path / "c.toml").write_text(text)
    with pytest.raises(SpecError) as err:
        load_train_config(str(tmp_path / "c.toml"))
    assert "c.toml" in str(err.value) and all(f in str(err.value) for f in fragments)


def test_preset_names_and_toml_defaults_are_the_library_configs(tmp_path):
    from qfin.kline import cpu_config, gpu_config, load_train_config

    assert load_train_config("cpu") == cpu_config() and load_train_config("gpu") == gpu_config()
    (tmp_path / "c.toml").write_text("seed = 7\n")
    assert load_train_config(str(tmp_path / "c.toml")) == cpu_config(seed=7)


def test_bad_sampling_and_device_options_are_spec_errors():
    from qfin.errors import SpecError
    from qfin.kline import check_device, check_sampling

    with pytest.raises(SpecError, match="--top-p"):
        check_sampling(1.0, 0.0)
    with pytest.raises(SpecError, match="--temperature"):
        check_sampling(-0.5, 1.0)
    check_sampling(0.0, 1.0)
    with pytest.raises(SpecError, match="not a torch device"):
        check_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(SpecError, match="no CUDA device"):
            check_device("cuda")
    check_device("cpu")


def test_json_configs_round_trip_and_strict_numbers(tmp_path):
    from qfin.errors import SpecError
    from qfin.kline import cpu_config, gpu_config, load_train_config

    for cfg in (cpu_config(), gpu_config(lookback=96)):
        (tmp_path / "c.json").write_text(json.dumps(cfg.to_dict()))
        assert load_train_config(tmp_path / "c.json") == cfg
    for text, key in (("lookback = true\n", "lookback"), ("lr = \"0.1\"\n", "lr"), ("log_volume = 1\n", "log_volume"),
                      ("[model]\nn_layers = 2.0\n", "model.n_layers"), ("datasets = [\"msft\", 3]\n", "datasets")):
        (tmp_path / "c.toml").write_text(text)
        with pytest.raises(SpecError, match=rf"c\.toml: {key}"):
            load_train_config(tmp_path / "c.toml")
    (tmp_path / "c.toml").write_text("lr = 1\n")  # an integer is a fine float
    assert load_train_config(tmp_path / "c.toml").lr == 1.0
    (tmp_path / "c.yaml").write_text("lr: 1\n")
    with pytest.raises(SpecError, match="pass 'cpu', 'gpu' or a .toml"):
        load_train_config(tmp_path / "c.yaml")
    with pytest.raises(SpecError, match="no such config file"):
        load_train_config(tmp_path / "missing.toml")
