"""qfin's data layer: schemas and validation, CSV/Parquet I/O, shipped real datasets, the market panel, time splits.

Synthetic markets live in the subpackage ``qfin.data.simulate`` (imported on its own).
"""

from ._datasets import DatasetInfo, dataset_info, import_bars, list_datasets, load_dataset, qfin_home
from ._io import atomic_path, read_bars, read_prices, to_prices, write_parquet
from ._memory import check_memory, memory_limit_bytes
from ._output import MANIFEST, check_output_dir, config_hash, read_manifest, recorded_files, staged_output, strict_json
from ._panel import PANEL_FIELDS, MarketPanel, price_panel
from ._schemas import BARS_COLUMNS, BARS_SCHEMA, PRICE_FIELDS
from ._splits import Fold, TimeSplit, time_split, walk_forward_folds
from ._tables import read_table
from ._validation import TIMESTAMP_FORMATS, validate_bars, validate_prices

__all__ = [
    "BARS_COLUMNS",
    "BARS_SCHEMA",
    "MANIFEST",
    "PANEL_FIELDS",
    "PRICE_FIELDS",
    "TIMESTAMP_FORMATS",
    "DatasetInfo",
    "Fold",
    "MarketPanel",
    "TimeSplit",
    "atomic_path",
    "check_memory",
    "check_output_dir",
    "config_hash",
    "dataset_info",
    "import_bars",
    "list_datasets",
    "price_panel",
    "load_dataset",
    "memory_limit_bytes",
    "qfin_home",
    "read_bars",
    "read_manifest",
    "read_prices",
    "read_table",
    "recorded_files",
    "staged_output",
    "strict_json",
    "time_split",
    "to_prices",
    "validate_bars",
    "validate_prices",
    "walk_forward_folds",
    "write_parquet",
]
