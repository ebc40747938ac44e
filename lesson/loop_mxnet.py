"""Neural style transfer in MXNet (``mxnet.np``, Gluon), start to end, without this project's
interface. ``diff lesson/loop_mxnet.py lesson/loop_torch.py`` shows only where the two
frameworks differ. It computes the project's recipe (VGG-19 features at ReLU outputs, losses
weighted 1 / 1e4 / 10, Adam at 0.3 decayed x0.8 every 50 steps), so its losses are the backend's.

    python lesson/loop_mxnet.py WEIGHTS.npz CONTENT STYLE OUT.png [STEPS] [cpu|gpu]
"""
import sys

import numpy as onp
from mxnet import autograd, gluon, lr_scheduler, np, npx
from mxnet.gluon.model_zoo import vision
from PIL import Image

npx.set_np()  # MXNet: NumPy semantics for Gluon, set per thread; PyTorch has one array type

MEAN = onp.array([0.485, 0.456, 0.406], dtype=onp.float32)  # ImageNet's, per RGB channel
STD = onp.array([0.229, 0.224, 0.225], dtype=onp.float32)
STYLE_LAYERS, CONTENT_LAYERS = (1, 6, 11, 20, 29), (26,)  # relu1_1 ... relu5_1; relu4_4
WEIGHTS = {"content": 1.0, "style": 1e4, "tv": 10.0}


def read(path, size):  # Pillow's bilinear resize: the same pixels for both frameworks
    image = Image.open(path).convert("RGB").resize(size[::-1], Image.BILINEAR)
    return onp.asarray(image, dtype=onp.float32) / 255


def preprocess(image, device=None):  # (H, W, 3) in [0, 1] -> (1, 3, H, W), standardised, on device
    x = np.array((image - MEAN) / STD, ctx=device)
    return x.transpose(2, 0, 1)[None]


def postprocess(x):  # back to (H, W, 3) in [0, 1], on the host
    image = x[0].transpose(1, 2, 0).asnumpy()
    return onp.clip(image * STD + MEAN, 0, 1)


def network(path, last, device=None):  # VGG-19's features up to ``last``, from neutral weights, frozen
    arrays = dict(onp.load(path))
    features = vision.vgg19(pretrained=False).features[: last + 1]
    features.initialize(ctx=device)  # Gluon: parameters exist only once initialised,
    features(np.zeros((1, 3, 32, 32), ctx=device))  # and their shapes only after a first call
    features.collect_params().setattr("grad_req", "null")  # frozen: no weight gradients
    for index, layer in enumerate(features):
        if isinstance(layer, gluon.nn.Conv2D):
            layer.weight.set_data(np.array(arrays[f"features.{index}.weight"]))
            layer.bias.set_data(np.array(arrays[f"features.{index}.bias"]))
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
    return 0.5 * (np.abs(y[:, :, 1:, :] - y[:, :, :-1, :]).mean() + np.abs(y[:, :, :, 1:] - y[:, :, :, :-1]).mean())


def losses(features, x, contents, grams):
    ys = extract(features, x, CONTENT_LAYERS + STYLE_LAYERS)
    content = sum(np.square(y - t).mean() for y, t in zip(ys[:1], contents))
    style = sum(np.square(gram(y) - g).mean() for y, g in zip(ys[1:], grams))
    return WEIGHTS["content"] * content + WEIGHTS["style"] * style + WEIGHTS["tv"] * tv_loss(x)


def train(features, content, style, steps, lr=0.3):
    with autograd.pause(train_mode=True):  # not recorded, in the mode record() runs each step in
        contents = extract(features, content, CONTENT_LAYERS)
        grams = [gram(y) for y in extract(features, style, STYLE_LAYERS)]
    x = gluon.Parameter("synthesized_image", shape=content.shape)  # the image is the one parameter
    x.initialize(ctx=content.ctx)
    x.set_data(content)
    decay = lr_scheduler.FactorScheduler(step=50, factor=0.8, base_lr=lr)  # x0.8 after every 50 updates
    trainer = gluon.Trainer({"synthesized_image": x}, "adam", {"learning_rate": lr, "lr_scheduler": decay})
    totals = []
    for step in range(steps):
        with autograd.record():  # MXNet records only inside record(); backward() then overwrites the gradient
            total = losses(features, x.data(), contents, grams)
        total.backward()
        trainer.step(1)  # 1: Gluon divides the gradient by this batch size
        totals.append(total.item())  # item() waits for the value: MXNet's engine runs asynchronously
    return x.data(), totals


if __name__ == "__main__":
    weights, content_path, style_path, out = sys.argv[1:5]
    steps = int(sys.argv[5]) if len(sys.argv) > 5 else 500
    device = npx.gpu(0) if sys.argv[6:] == ["gpu"] else npx.cpu()
    features = network(weights, max(STYLE_LAYERS + CONTENT_LAYERS), device)
    content = preprocess(read(content_path, (300, 450)), device)
    style = preprocess(read(style_path, (300, 450)), device)
    image, totals = train(features, content, style, steps)
    Image.fromarray((postprocess(image) * 255 + 0.5).astype(onp.uint8)).save(out)
    print(f"{steps} steps: total loss {totals[0]:.6g} -> {totals[-1]:.6g}")
