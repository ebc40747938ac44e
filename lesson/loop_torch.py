"""Neural style transfer in PyTorch, start to end, in the chapter's dialect (``torch``,
torchvision), without this project's interface: ``diff lesson/loop_mxnet.py lesson/loop_torch.py``
shows only what differs between the two frameworks. It computes the project's recipe (VGG-19
features at relu layers, losses weighted 1 / 1e4 / 10, Adam at 0.3 decayed x0.8 every 50 steps),
so its losses are the PyTorch backend's (in NCHW), step by step.

    python lesson/loop_torch.py WEIGHTS.npz CONTENT STYLE OUT.png [STEPS]
"""
import sys

import numpy as onp
import torch  # the chapter's own imports
import torchvision
from PIL import Image

torch.set_grad_enabled(True)  # eager autograd: nothing to switch on, in any thread

MEAN, STD = onp.array([0.485, 0.456, 0.406]), onp.array([0.229, 0.224, 0.225])
STYLE_LAYERS, CONTENT_LAYERS = (1, 6, 11, 20, 29), (26,)  # relu1_1 ... relu5_1; relu4_4
WEIGHTS = {"content": 1.0, "style": 1e4, "tv": 10.0}


def read(path, size):  # Pillow's bilinear resize: the same pixels for both frameworks
    image = Image.open(path).convert("RGB").resize(size[::-1], Image.BILINEAR)
    return onp.asarray(image, dtype=onp.float32) / 255


def preprocess(image):  # (H, W, 3) in [0, 1] -> (1, 3, H, W), ImageNet-standardised
    x = torch.tensor(image).permute(2, 0, 1)[None]
    return (x - torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)) / torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1)


def postprocess(x):
    x = x * torch.tensor(STD, dtype=torch.float32).view(1, 3, 1, 1) + torch.tensor(MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    return torch.clamp(x[0].permute(1, 2, 0), 0, 1).detach().numpy()


def network(path, last):  # VGG-19's features up to ``last``, from neutral weights, frozen
    arrays = dict(onp.load(path))
    features = torchvision.models.vgg19(weights=None).features[: last + 1]
    features.eval()  # the shapes are known from the start: no deferred initialisation
    state = {}
    for index, layer in enumerate(features):
        if isinstance(layer, torch.nn.Conv2d):
            state[f"{index}.weight"] = torch.tensor(arrays[f"features.{index}.weight"])
            state[f"{index}.bias"] = torch.tensor(arrays[f"features.{index}.bias"])
    features.load_state_dict(state)
    features.requires_grad_(False)  # frozen: no weight gradients
    return features


def extract(features, x, layers):  # the outputs at ``layers``
    taken = {}
    for index, layer in enumerate(features):
        x = layer(x)
        if index in layers:
            taken[index] = x.clone()  # ReLU(inplace=True) would overwrite a kept conv output: copy it
    return [taken[i] for i in layers]


def gram(y):
    c = y.shape[1]
    x = y.reshape(c, -1)
    return (x @ x.T) / x.numel()


def tv_loss(y):
    return 0.5 * ((y[:, :, 1:, :] - y[:, :, :-1, :]).abs().mean() + (y[:, :, :, 1:] - y[:, :, :, :-1]).abs().mean())


def losses(features, x, contents, grams):
    ys = extract(features, x, CONTENT_LAYERS + STYLE_LAYERS)
    content = sum(torch.square(y - t).mean() for y, t in zip(ys[:1], contents))
    style = sum(torch.square(gram(y) - g).mean() for y, g in zip(ys[1:], grams))
    return WEIGHTS["content"] * content + WEIGHTS["style"] * style + WEIGHTS["tv"] * tv_loss(x)


def train(features, content, style, steps, lr=0.3):
    with torch.no_grad():  # the targets need no graph (PyTorch has no training mode to match here)
        contents = extract(features, content, CONTENT_LAYERS)
        grams = [gram(y) for y in extract(features, style, STYLE_LAYERS)]
    x = content.clone().requires_grad_(True)  # the image is the one parameter
    optimizer = torch.optim.Adam([x], lr=lr)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=50, gamma=0.8)
    totals = []
    for step in range(steps):
        optimizer.zero_grad()  # gradients add up in .grad: cleared every step
        total = losses(features, x, contents, grams)  # autograd records as it computes
        total.backward()
        optimizer.step()
        scheduler.step()  # after the update: the new rate applies from the next one
        totals.append(total.item())  # PyTorch on the CPU is synchronous: the value is there
    return x.detach(), totals


if __name__ == "__main__":
    weights, content_path, style_path, out = sys.argv[1:5]
    steps = int(sys.argv[5]) if len(sys.argv) > 5 else 500
    features = network(weights, max(STYLE_LAYERS + CONTENT_LAYERS))
    content = preprocess(read(content_path, (300, 450)))
    style = preprocess(read(style_path, (300, 450)))
    image, totals = train(features, content, style, steps)
    Image.fromarray((postprocess(image) * 255 + 0.5).astype(onp.uint8)).save(out)
    print(f"{steps} steps: total loss {totals[0]:.6g} -> {totals[-1]:.6g}")
