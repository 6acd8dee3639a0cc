import h5py
import numpy as np
import pytest
from keras.src.legacy.saving import legacy_h5_format

from core.errors import CoreError
from core.training.models import BackboneInput, assemble, build_backbone, build_custom_cnn, build_head, resolve_weights


def test_custom_cnn_has_conv_blocks_pooling_and_a_softmax_head():
    model = build_custom_cnn((64, 64, 3), 3)
    names = [layer.name for layer in model.layers]
    assert {"block1_conv1", "block1_bn1", "block1_dropout", "last_conv", "avg_pool", "predictions"} <= set(names)
    assert model.output_shape == (None, 3)
    probs = model.predict(np.random.rand(2, 64, 64, 3).astype("float32"), verbose=0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_custom_cnn_takes_single_channel_spectrograms():
    model = build_custom_cnn((32, 81, 1), 2)
    assert model.predict(np.zeros((1, 32, 81, 1), "float32"), verbose=0).shape == (1, 2)


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_b0"])
def test_backbones_build_frozen_with_random_weights_and_pool(name):
    backbone = build_backbone(name, (64, 64, 3), weights=None)
    assert backbone.trainable_weights == []
    assert len(backbone.output_shape) == 2
    head = build_head(backbone.output_shape[-1], 2)
    model = assemble(backbone, head, name=name)
    assert model.predict(np.random.rand(2, 64, 64, 3).astype("float32"), verbose=0).shape == (2, 2)
    assert [w.name for w in model.trainable_weights] == [w.name for w in head.trainable_weights]


def test_backbone_input_maps_unit_range_to_each_pixel_convention():
    x = np.full((1, 2, 2, 1), 0.5, dtype="float32")
    tf_mode = np.asarray(BackboneInput("tf")(x))
    assert tf_mode.shape == (1, 2, 2, 3)
    np.testing.assert_allclose(tf_mode, 0.0, atol=1e-6)
    rgb = np.zeros((1, 1, 1, 3), dtype="float32")
    rgb[..., 0] = 1.0  # pure red
    caffe = np.asarray(BackboneInput("caffe")(rgb))[0, 0, 0]
    np.testing.assert_allclose(caffe, [-103.939, -116.779, 255 - 123.68], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(BackboneInput("raw")(rgb))[0, 0, 0], [255, 0, 0])


def test_offline_imagenet_download_fails_with_instructions(monkeypatch, tmp_path):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: Name or service not known")

    monkeypatch.setattr(keras.applications, "MobileNetV2", offline)
    with pytest.raises(CoreError) as error:
        build_backbone("mobilenet_v2", (96, 96, 3), weights="imagenet")
    message = str(error.value)
    assert "offline" in message and "--weights PATH" in message and "--weights none" in message


def test_local_weights_file_and_folder_are_resolved(tmp_path):
    backbone = build_backbone("mobilenet_v2", (96, 96, 3), weights=None)
    base = backbone.layers[2]
    weights_file = tmp_path / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    with h5py.File(weights_file, "w") as handle:  # the legacy format Keras' published files use
        legacy_h5_format.save_weights_to_hdf5_group(handle, base)
    assert resolve_weights(str(tmp_path), "mobilenet_v2") == weights_file
    assert resolve_weights(str(weights_file), "mobilenet_v2") == weights_file
    loaded = build_backbone("mobilenet_v2", (96, 96, 3), weights=weights_file)
    x = np.random.rand(1, 96, 96, 3).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), backbone.predict(x, verbose=0), rtol=1e-4, atol=1e-5)
    assert resolve_weights("none", "vgg16") is None and resolve_weights("imagenet", "vgg16") == "imagenet"
    with pytest.raises(CoreError, match="no weights for vgg16"):
        resolve_weights(str(tmp_path), "vgg16")
    with pytest.raises(CoreError, match="neither imagenet"):
        resolve_weights(str(tmp_path / "missing.h5"), "vgg16")


def test_wrong_weights_file_and_small_inputs_are_clear_errors(tmp_path):
    bogus = tmp_path / "bogus.h5"
    bogus.write_bytes(b"not hdf5")
    with pytest.raises(CoreError, match="could not load weights"):
        build_backbone("mobilenet_v2", (96, 96, 3), weights=bogus)
    with pytest.raises(CoreError, match="at least 32x32"):
        build_backbone("vgg16", (16, 16, 3), weights=None)
    with pytest.raises(CoreError, match="unknown model"):
        build_backbone("alexnet", (64, 64, 3), weights=None)
