"""The sentence encoder (analytics/text_encoder.py): the real installed model, checked weights,
and embeddings that put texts meaning the same thing close together."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from analytics import text_encoder
from analytics.text_encoder import DIMENSION, EncoderUnavailable, TextEncoder, encode


def _similarity(a: str, b: str) -> float:
    x = encode([a, b])
    return float(x[0] @ x[1])


def test_tampered_weights_are_refused(tmp_path):
    original = text_encoder.model_zip()
    tampered = tmp_path / "model.zip"
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "model.safetensors":
                middle = len(data) // 2
                data = data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :]
            dst.writestr(item, data)
    with pytest.raises(EncoderUnavailable, match="refusing the sentence encoder's weights"):
        TextEncoder.from_zip(tampered)


def test_a_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(EncoderUnavailable, match="cannot read"):
        TextEncoder.from_zip(tmp_path / "nothing.zip")


def test_shape_type_and_unit_length():
    vectors = encode(["where is my parcel", "hi", "I would like a refund for the blue kettle"])
    assert vectors.shape == (3, DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_deterministic_and_independent_of_the_batch():
    alone = encode(["track my order"])[0]
    batched = encode(["a much longer message about a parcel that never came", "track my order"])[1]
    np.testing.assert_allclose(alone, batched, atol=1e-5)
    np.testing.assert_array_equal(encode(["track my order"])[0], alone)


def test_known_answers_of_the_reference_implementation():
    # The similarities sentence-transformers' own model card (all-MiniLM-L6-v2, run with torch)
    # gives for its example: the numpy forward pass must reproduce them.
    for other, expected in (
        ("That is a happy dog", 0.6945),
        ("That is a very happy person", 0.9429),
        ("Today is a sunny day", 0.2569),
    ):
        assert _similarity("That is a happy person", other) == pytest.approx(expected, abs=2e-3)


def test_meaning_where_is_my_parcel():
    assert _similarity("where is my parcel", "track my order") > _similarity(
        "where is my parcel", "I would like a refund"
    )


PARAPHRASES = [
    ("where is my parcel", "track my order"),
    ("I want my money back", "can I get a refund"),
    ("please cancel my order", "I want to call off the order I just placed"),
    ("how long does delivery take", "when will the package arrive"),
    ("do you ship abroad", "can you deliver to another country"),
    ("I forgot my password", "I cannot log into my account"),
    ("what payment methods do you take", "can I pay with a credit card"),
    ("the item arrived broken", "my product was damaged in transit"),
    ("let me talk to a person", "I want to speak with a human agent"),
    ("which size should I order", "how do your sizes fit"),
]


def test_paraphrases_are_closer_than_unrelated_pairs():
    firsts = [a for a, _ in PARAPHRASES]
    seconds = [b for _, b in PARAPHRASES]
    a, b = encode(firsts), encode(seconds)
    similarity = a @ b.T
    for i, (first, second) in enumerate(PARAPHRASES):
        others = np.delete(similarity[i], i)
        assert similarity[i, i] > others.max(), (first, second, similarity[i, i], others.max())


def test_empty_long_and_unicode_input():
    long_text = "my order has not arrived " * 400  # far over 128 tokens: cut, not failed
    vectors = encode(["", "   ", long_text, "Où est ma commande ? 📦", "\u200b\x00"])
    assert vectors.shape == (5, DIMENSION)
    assert np.isfinite(vectors).all()
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert encode([]).shape == (0, DIMENSION)


def test_loaded_once_per_process():
    assert text_encoder.encoder() is text_encoder.encoder()


def test_onnxruntime_runs_the_same_computation_as_the_numpy_reference():
    assert text_encoder.encoder().runtime == "onnx"
    reference = TextEncoder.from_zip(text_encoder.model_zip(), runtime="numpy")
    assert reference.runtime == "numpy"
    texts = [a for a, _ in PARAPHRASES] + ["", "Où est ma commande ? 📦", "x " * 300]
    np.testing.assert_allclose(reference.encode(texts), encode(texts), atol=1e-5)
