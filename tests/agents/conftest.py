import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    torch.set_num_threads(1)  # reproducible and polite on a shared 2-core machine


SMALL = {"id": "qfin/Portfolio-v0",
         "params": {"data": "sp500_stocks", "assets": ["AAPL", "MSFT", "XOM"], "start": "2005-01-01",
                    "end": "2006-12-31", "window": 10, "episode_length": 64, "buy_cost": 0.001}}
PPO_SMALL = {"n_steps": 256, "batch_size": 64, "n_epochs": 2}
