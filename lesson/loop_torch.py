"""Neural style transfer in PyTorch (``torch``, torchvision), start to end, without this project's
interface. ``diff lesson/loop_mxnet.py lesson/loop_torch.py`` shows only where the two
frameworks differ. It computes the project's recipe (VGG-19 features at ReLU outputs, losses
weighted 1 / 1e4 / 10, Adam at 0.3 decayed x0.8 every 50 steps), so its losses are the backend's.

    python lesson/loop_torch.py WEIGHTS.npz CONTENT STYLE OUT.png [STEPS] [cpu|gpu]
"""
import sys

import numpy as onp
import torch
import torchvision
from PIL import Image

MEAN = onp.array([0.485, 0.456, 0.406], dtype=onp.float32)  # ImageNet's, per RGB channel
STD = onp.array([0.229, 0.224, 0.225], dtype=onp.float32)
STYLE_LAYERS, CONTENT_LAYERS = (1, 6, 11, 20, 29), (26,)  # relu1_1 ... relu5_1; relu4_4
WEIGHTS = {"content": 1.0, "style": 1e4, "tv": 10.0}


def read(path, size):  # Pillow's bilinear resize: the same pixels for both frameworks
    image = Image.open(path).convert("RGB").resize(size[::-1], Image.BILINEAR)
    return onp.asarray(image, dtype=onp.float32) / 255


def preprocess(image, device=None):  # (H, W, 3) in [0, 1] -> (1, 3, H, W), standardised, on device
    x = torch.tensor((image - MEAN) / STD, device=device)
    return x.permute(2, 0, 1)[None]  # PyTorch: transpose swaps two axes, permute reorders all


def postprocess(x):  # back to (H, W, 3) in [0, 1], on the host
    image = x[0].permute(1, 2, 0).detach().cpu().numpy()
    return onp.clip(image * STD + MEAN, 0, 1)


def network(path, last, device=None):  # VGG-19's features up to ``last``, from neutral weights, frozen
    arrays = dict(onp.load(path))
    features = torchvision.models.vgg19(weights=None).features[: last + 1].to(device)
    features.requires_grad_(False)  # frozen: no weight gradients
    for index, layer in enumerate(features):
        if isinstance(layer, torch.nn.Conv2d):
            layer.weight.copy_(torch.tensor(arrays[f"features.{index}.weight"]))
            layer.bias.copy_(torch.tensor(arrays[f"features.{index}.bias"]))
    return features


def extract(features, x, layers):  # the outputs at ``layers``, every one a ReLU's
    taken = {}
    for index, layer in enumerate(features):
        x = layer(x)
        if index in layers:
            taken[index] = x  # safe: the next layer is never an in-place ReLU (a conv output would be)
    return [taken[i] for i in layers]


def gram(y):
    c = y.shape[1]
    x = y.reshape(c, -1)
    return x @ x.T / (c * x.shape[1])


def tv_loss(y):
    return 0.5 * (torch.abs(y[:, :, 1:, :] - y[:, :, :-1, :]).mean() + torch.abs(y[:, :, :, 1:] - y[:, :, :, :-1]).mean())


def losses(features, x, contents, grams):
    ys = extract(features, x, CONTENT_LAYERS + STYLE_LAYERS)
    content = sum(torch.square(y - t).mean() for y, t in zip(ys[:1], contents))
    style = sum(torch.square(gram(y) - g).mean() for y, g in zip(ys[1:], grams))
    return WEIGHTS["content"] * content + WEIGHTS["style"] * style + WEIGHTS["tv"] * tv_loss(x)


def train(features, content, style, steps, lr=0.3):
    with torch.no_grad():  # not recorded; the layers stay in their default training mode
        contents = extract(features, content, CONTENT_LAYERS)
        grams = [gram(y) for y in extract(features, style, STYLE_LAYERS)]
    x = torch.nn.Parameter(content.clone())  # the image is the one parameter
    optimizer = torch.optim.Adam([x], lr=lr)
    decay = torch.optim.lr_scheduler.StepLR(optimizer, step_size=50, gamma=0.8)  # x0.8 after every 50 updates
    totals = []
    for step in range(steps):
        optimizer.zero_grad()  # PyTorch adds each gradient into .grad: cleared every step
        total = losses(features, x, contents, grams)  # PyTorch records whatever needs a gradient
        total.backward()
        optimizer.step()
        decay.step()  # after the update, as PyTorch requires
        totals.append(total.item())  # item() waits for the value: MXNet's engine runs asynchronously
    return x.detach(), totals


if __name__ == "__main__":
    weights, content_path, style_path, out = sys.argv[1:5]
    steps = int(sys.argv[5]) if len(sys.argv) > 5 else 500
    device = torch.device("cuda", 0) if sys.argv[6:] == ["gpu"] else torch.device("cpu")
    features = network(weights, max(STYLE_LAYERS + CONTENT_LAYERS), device)
    content = preprocess(read(content_path, (300, 450)), device)
    style = preprocess(read(style_path, (300, 450)), device)
    image, totals = train(features, content, style, steps)
    Image.fromarray((postprocess(image) * 255 + 0.5).astype(onp.uint8)).save(out)
    print(f"{steps} steps: total loss {totals[0]:.6g} -> {totals[-1]:.6g}")
