"""A device bundle is opened by the loader its backend registered for its kind; the runtime
names no backend, and a kind nobody registered is a LoadError saying what to do."""
import hashlib
import json

import pytest

import mlc
from mlc.runtime import bundle
from mlc.runtime.bundle_loaders import bundle_kinds, register_bundle_loader, unregister_bundle_loader
from mlc.runtime.loader import LoadError


def _toy_bundle(folder, kind: str = "toy-bundle"):
    """A bundle folder of ``kind`` holding one data file and a loader source."""
    files = {"data.bin": b"\x01\x02\x03", bundle.LOADER_MEMBER: b"def load(path, metadata, files):\n    return files\n"}
    metadata = {"format": bundle.BUNDLE_FORMAT, "kind": kind, "loader": "toy.bundle_loader",
                "checksums": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
    folder.mkdir()
    for name, data in {**files, bundle.METADATA_NAME: json.dumps(metadata).encode()}.items():
        (folder / name).write_bytes(data)
    return folder


def test_a_bundle_of_a_kind_nobody_registered_is_a_load_error_naming_it(tmp_path):
    path = _toy_bundle(tmp_path / "toy")
    assert "toy-bundle" not in bundle_kinds() and "cuda-bundle" in bundle_kinds()
    with pytest.raises(LoadError, match=r"no loader is registered for bundles of kind 'toy-bundle' \(this process "
                                        r"loads cuda-bundle\); import the backend .*register_bundle_loader"):
        mlc.runtime.load(path)


def test_the_registered_loader_gets_the_checked_files(tmp_path):
    path = _toy_bundle(tmp_path / "toy")

    class Toy:
        @staticmethod
        def load(where, metadata, files):
            return where, metadata["kind"], files["data.bin"]

    register_bundle_loader("toy-bundle", Toy)
    try:
        assert mlc.runtime.load(path) == (str(path), "toy-bundle", b"\x01\x02\x03")
    finally:
        unregister_bundle_loader("toy-bundle")


def test_a_loader_must_be_one():
    with pytest.raises(ValueError, match="ends in '-bundle'"):
        register_bundle_loader("toy", "toy.loader")
    with pytest.raises(ValueError, match=r"must have load\(path, metadata, files\)"):
        register_bundle_loader("toy-bundle", object())
