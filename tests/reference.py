"""Small NumPy (float64) references of every stage, written from the definitions in the
issue and the papers, independent of both frameworks and of the project's own constants: the
backends are tested against these."""
from __future__ import annotations

import numpy as np

# The two input conventions as their sources publish them: torchvision's ImageNet statistics
# (RGB in [0, 1]), and Caffe's ILSVRC mean as Keras' VGG applications subtract it (BGR, 0-255).
CONVENTIONS = {
    "torchvision": {"bgr": False, "scale": 1.0, "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)},
    "caffe": {"bgr": True, "scale": 255.0, "mean": (103.939, 116.779, 123.68), "std": (1.0, 1.0, 1.0)},
}
# The VGG paper's configurations D (VGG-16) and E (VGG-19): channels per conv, "M" for a 2x2 pool.
CONFIGS = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"),
}


def _stats(convention: str) -> tuple[np.ndarray, np.ndarray]:
    c = CONVENTIONS[convention]
    return np.array(c["mean"]).reshape(1, 3, 1, 1), np.array(c["std"]).reshape(1, 3, 1, 1)


def preprocess(image: np.ndarray, convention: str = "torchvision") -> np.ndarray:
    x = image.astype(np.float64).transpose(2, 0, 1)[None]
    if CONVENTIONS[convention]["bgr"]:
        x = x[:, ::-1]
    mean, std = _stats(convention)
    return (x * CONVENTIONS[convention]["scale"] - mean) / std


def postprocess(x: np.ndarray, convention: str = "torchvision") -> np.ndarray:
    mean, std = _stats(convention)
    picture = (x * std + mean) / CONVENTIONS[convention]["scale"]
    if CONVENTIONS[convention]["bgr"]:
        picture = picture[:, ::-1]
    return np.clip(picture, 0, 1)[0].transpose(1, 2, 0)


def layer_kinds(network: str = "vgg19") -> list[str]:
    """"conv", "relu" or "pool" for each layer of the network's features."""
    kinds = []
    for item in CONFIGS[network]:
        kinds += ["pool"] if item == "M" else ["conv", "relu"]
    return kinds


def conv3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """3x3, stride 1, padding 1 cross-correlation (what both frameworks call convolution)."""
    _, cin, h, w = x.shape
    padded = np.pad(x[0], ((0, 0), (1, 1), (1, 1)))
    cols = np.stack([padded[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=1)  # (cin, 9, h, w)
    out = np.tensordot(weight.reshape(weight.shape[0], cin, 9).astype(np.float64), cols, axes=([1, 2], [0, 1]))
    return (out + bias.reshape(-1, 1, 1))[None]


def maxpool2(x: np.ndarray) -> np.ndarray:
    """2x2, stride 2, floor (both frameworks' default)."""
    n, c, h, w = x.shape
    h2, w2 = h // 2, w // 2
    return x[:, :, :h2 * 2, :w2 * 2].reshape(n, c, h2, 2, w2, 2).max(axis=(3, 5))


def features(x: np.ndarray, weights: dict, layers: list[int], network: str = "vgg19") -> list[np.ndarray]:
    out = {}
    x = x.astype(np.float64)
    kinds = layer_kinds(network)
    for index in range(max(layers) + 1):
        if kinds[index] == "conv":
            x = conv3x3(x, weights[f"features.{index}.weight"], weights[f"features.{index}.bias"])
        elif kinds[index] == "relu":
            x = np.maximum(x, 0)
        else:
            x = maxpool2(x)
        out[index] = x
    return [out[i] for i in layers]


def content_loss(y_hat: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((y_hat.astype(np.float64) - y) ** 2))


def gram(y: np.ndarray) -> np.ndarray:
    _, c, h, w = y.shape
    x = y.astype(np.float64).reshape(c, h * w)
    return x @ x.T / (c * h * w)


def style_loss(y_hat: np.ndarray, gram_y: np.ndarray) -> float:
    return float(np.mean((gram(y_hat) - gram_y) ** 2))


def tv_loss(y_hat: np.ndarray) -> float:
    y = y_hat.astype(np.float64)
    return 0.5 * float(np.abs(y[:, :, 1:, :] - y[:, :, :-1, :]).mean() + np.abs(y[:, :, :, 1:] - y[:, :, :, :-1]).mean())


def adam_corrected(w, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    """PyTorch / Kingma & Ba Algorithm 1: w -= lr * m_hat / (sqrt(v_hat) + eps)."""
    m = np.zeros_like(w); v = np.zeros_like(w)  # noqa: E702
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        w = w - lr * (m / (1 - beta1 ** t)) / (np.sqrt(v / (1 - beta2 ** t)) + eps)
    return w


def adam_uncorrected(w, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, eps_at=None):
    """MXNet: lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t); w -= lr_t * m / (sqrt(v) + eps).
    ``eps_at(t)`` replaces eps per step (the project's alignment)."""
    m = np.zeros_like(w); v = np.zeros_like(w)  # noqa: E702
    for t, g in enumerate(grads, start=1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        lr_t = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        w = w - lr_t * m / (np.sqrt(v) + (eps_at(t) if eps_at else eps))
    return w


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b|: one scale for the whole array, so near-zero entries do not blow up."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = np.abs(b).max()
    return float(np.abs(a - b).max() / scale) if scale > 0 else float(np.abs(a - b).max())
