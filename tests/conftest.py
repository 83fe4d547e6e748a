import os
import pathlib

import pytest

DATA = pathlib.Path(__file__).parent / "data"


@pytest.fixture(scope="session", autouse=True)
def private_datasets_cache(tmp_path_factory):
    """load_dataset caches by path: a cache shared with earlier runs can return stale rows."""
    import datasets

    cache = str(tmp_path_factory.mktemp("hf-datasets-cache"))
    os.environ["HF_DATASETS_CACHE"] = cache
    datasets.config.HF_DATASETS_CACHE = cache  # read at import time: set the live value too


@pytest.fixture(scope="session")
def data_dir() -> pathlib.Path:
    return DATA


@pytest.fixture(scope="session")
def fixture_tree(tmp_path_factory) -> pathlib.Path:
    """A small synthetic miniature of every database, written once per test session."""
    from ecgcorpus.fixtures import write_fixtures

    root = tmp_path_factory.mktemp("fixtures")
    write_fixtures(root, records=12, seed=7)
    return root


def copy_tree(src: pathlib.Path, dst: pathlib.Path) -> pathlib.Path:
    import shutil

    shutil.copytree(src, dst)
    os.chmod(dst, 0o755)
    return dst


from genuine_corpus import copy, corpus  # noqa: E402,F401  (fixtures: a corpus of the genuine files)
