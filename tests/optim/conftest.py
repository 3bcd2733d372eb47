"""One torch thread per test: the CI box has 2 shared cores and torch's thread pool thrashes on them."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
