"""A code package already stored is reused when nothing that goes into it changed
(package_reuse.py), and only then. Metaflow's real local datastore and tar backend; the
files are real files."""
import hashlib
import os
import time
from io import BytesIO

import pytest

from metaflow_extensions.orchestrators.plugins import package_reuse



@pytest.fixture
def store(tmp_path, monkeypatch):
    from metaflow.datastore.flow_datastore import FlowDataStore
    from metaflow.plugins.datastores.local_storage import LocalStorage

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return FlowDataStore("ReuseFlow", storage_impl=LocalStorage, ds_root=str(tmp_path / "ds"))


@pytest.fixture
def files(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name, text in (("flow.py", "print('flow')\n"), ("helper.py", "X = 1\n")):
        (src / name).write_text(text)
    return src


def _fill(recorder, src):
    with recorder.create() as archive:  # as MetaflowPackage._make fills its archive
        archive.add_data(BytesIO(b'{"info": 1}'), arcname="INFO")
        for name in ("flow.py", "helper.py"):
            archive.add_file(str(src / name), arcname=name)
    return recorder


def _metaflows_own(src):
    from metaflow.packaging_sys.tar_backend import TarPackagingBackend

    backend = TarPackagingBackend()
    with backend.create() as archive:
        archive.add_data(BytesIO(b'{"info": 1}'), arcname="INFO")
        for name in ("flow.py", "helper.py"):
            archive.add_file(str(src / name), arcname=name)
    return bytes(backend.get_blob())


def _package(store, src):
    recorder = _fill(package_reuse.ReusingTar(store)(), src)
    blob = recorder.get_blob()
    store.save_data([blob], len_hint=1)  # what build_and_upload does next
    return recorder, blob


def test_an_unchanged_package_is_read_back_not_built_again(store, files, monkeypatch):
    monkeypatch.setattr(package_reuse, "RACY_SECONDS", 0.0)
    first, blob = _package(store, files)
    assert first.reused is None and blob == _metaflows_own(files)
    monkeypatch.setattr(package_reuse, "build", lambda entries: pytest.fail("built again"))
    second, again = _package(store, files)
    assert again == blob and second.reused == hashlib.sha1(blob).hexdigest()


def test_a_changed_file_of_the_same_size_gives_a_new_package(store, files, monkeypatch):
    monkeypatch.setattr(package_reuse, "RACY_SECONDS", 0.0)
    _, blob = _package(store, files)
    (files / "helper.py").write_text("X = 2\n")
    recorder, changed = _package(store, files)
    assert recorder.reused is None and changed != blob and changed == _metaflows_own(files)


def test_a_package_with_a_file_changed_just_now_is_not_remembered(store, files):
    _, blob = _package(store, files)  # the files are seconds old at most: racy
    assert not os.path.isdir(package_reuse.cache_dir()) or not os.listdir(package_reuse.cache_dir())
    old = time.time() - 10
    for name in ("flow.py", "helper.py"):
        os.utime(files / name, (old, old))  # an old mtime; the change time is now, and counts
    recorder, again = _package(store, files)
    assert recorder.reused is None and again == blob


def test_a_damaged_or_missing_stored_package_is_built_again(store, files, monkeypatch):
    monkeypatch.setattr(package_reuse, "RACY_SECONDS", 0.0)
    _, blob = _package(store, files)
    uri = store.save_data([blob], len_hint=1)[0][0]
    with open(uri, "r+b") as f:
        f.write(b"x")
    recorder, again = _package(store, files)
    assert recorder.reused is None and again == blob  # built, and the store's copy is what it is
    os.remove(uri)
    recorder, again = _package(store, files)
    assert recorder.reused is None and again == blob


def test_a_cache_that_cannot_be_written_only_costs_a_build(store, files, monkeypatch, tmp_path):
    monkeypatch.setattr(package_reuse, "RACY_SECONDS", 0.0)
    (tmp_path / "blocked").write_text("a file where the cache directory would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "blocked"))
    _, blob = _package(store, files)
    recorder, again = _package(store, files)
    assert recorder.reused is None and again == blob
