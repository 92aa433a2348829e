import gzip
import pickle
import shutil

import numpy as np
import pytest

from zoo.data import mnist
from zoo.errors import DataError


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_package_mnist_is_the_original_60k_10k_as_uint8_and_a_forged_cache_is_rebuilt(cache, monkeypatch):
    """A cache forged to make any model look perfect (all-black images, every label 3) is not used: the verified
    source is decoded again and the cache rewritten; the rebuilt cache is then used as it is."""
    cached = cache / f"mnist-{mnist.SHA256[:16]}.npz"
    cache.mkdir()
    np.savez(cached, x_train=np.zeros((60000, 28, 28), np.uint8), y_train=np.full(60000, 3, np.int64),
             x_test=np.zeros((10000, 28, 28), np.uint8), y_test=np.full(10000, 3, np.int64))
    splits = mnist.load_mnist()
    (x_train, y_train), (x_test, y_test) = splits.train, splits.test
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.int64
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x_train.max() == 255 and x_train.min() == 0
    assert splits.provenance.sha256 == mnist.SHA256
    assert [p.name for p in cache.iterdir()] == [cached.name]
    assert cached.stat().st_mode & 0o777 == 0o644

    def no_decoding(path):
        raise AssertionError("the rebuilt cache should have been used")

    monkeypatch.setattr(mnist, "_decode_pickle", no_decoding)
    again = mnist.load_mnist()  # from the cache now
    np.testing.assert_array_equal(again.train[0][:100], x_train[:100])
    np.testing.assert_array_equal(again.test[1], y_test)


def _fake_package(monkeypatch, path):
    monkeypatch.setattr(mnist, "package_file", lambda *args: path)


def test_tampered_file_is_refused(tmp_path, cache, monkeypatch):
    original = mnist.package_file(mnist.PACKAGE, mnist.PACKAGE_PATH, "")
    tampered = tmp_path / "mnist.pkl.gz"
    shutil.copy(original, tampered)
    with open(tampered, "r+b") as handle:
        handle.seek(1000)
        byte = handle.read(1)
        handle.seek(1000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    _fake_package(monkeypatch, tampered)
    with pytest.raises(DataError, match="does not match its pinned sha256"):
        mnist.load_mnist()
    assert not cache.exists()


def test_a_malicious_pickle_with_the_right_hash_is_still_refused(tmp_path, cache, monkeypatch):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pkl.gz"
    with gzip.open(path, "wb") as handle:
        pickle.dump(((np.zeros((1, 784)), np.zeros(1)), Evil(), None), handle, protocol=2)
    _fake_package(monkeypatch, path)
    from zoo.data.files import sha256_of

    monkeypatch.setattr(mnist, "SHA256", sha256_of(path))
    with pytest.raises(DataError, match=r"refusing to load pickle: it references \w+\.print"):
        mnist.load_mnist()
