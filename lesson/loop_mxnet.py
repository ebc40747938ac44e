"""Neural style transfer in MXNet, start to end, in the chapter's dialect (``mxnet.np``, Gluon),
without this project's interface: ``diff lesson/loop_mxnet.py lesson/loop_torch.py`` shows only
what differs between the two frameworks. It computes the project's recipe (VGG-19 features at
relu layers, losses weighted 1 / 1e4 / 10, Adam at 0.3 decayed x0.8 every 50 steps), so its
losses are the MXNet backend's, step by step.

    python lesson/loop_mxnet.py WEIGHTS.npz CONTENT STYLE OUT.png [STEPS]
"""
import sys

import numpy as onp
from mxnet import autograd, gluon, np, npx  # the chapter's own imports
from mxnet.gluon.model_zoo import vision
from PIL import Image

npx.set_np()  # NumPy semantics for Gluon, in this thread (MXNet keeps the flag per thread)

MEAN, STD = onp.array([0.485, 0.456, 0.406]), onp.array([0.229, 0.224, 0.225])
STYLE_LAYERS, CONTENT_LAYERS = (1, 6, 11, 20, 29), (26,)  # relu1_1 ... relu5_1; relu4_4
WEIGHTS = {"content": 1.0, "style": 1e4, "tv": 10.0}


def read(path, size):  # Pillow's bilinear resize: the same pixels for both frameworks
    image = Image.open(path).convert("RGB").resize(size[::-1], Image.BILINEAR)
    return onp.asarray(image, dtype=onp.float32) / 255


def preprocess(image):  # (H, W, 3) in [0, 1] -> (1, 3, H, W), ImageNet-standardised
    x = np.array(image).transpose(2, 0, 1)[None]
    return (x - np.array(MEAN, dtype="float32").reshape(1, 3, 1, 1)) / np.array(STD, dtype="float32").reshape(1, 3, 1, 1)


def postprocess(x):
    x = x * np.array(STD, dtype="float32").reshape(1, 3, 1, 1) + np.array(MEAN, dtype="float32").reshape(1, 3, 1, 1)
    return np.clip(x[0].transpose(1, 2, 0), 0, 1).asnumpy()


def network(path, last):  # VGG-19's features up to ``last``, from neutral weights, frozen
    arrays = dict(onp.load(path))
    features = vision.vgg19(pretrained=False).features[: last + 1]
    features.initialize()
    features(np.zeros((1, 3, 32, 32)))  # deferred initialisation: the first call fixes the shapes
    for index, layer in enumerate(features):
        if isinstance(layer, gluon.nn.Conv2D):
            layer.weight.set_data(np.array(arrays[f"features.{index}.weight"]))
            layer.bias.set_data(np.array(arrays[f"features.{index}.bias"]))
    features.collect_params().setattr("grad_req", "null")  # frozen: no weight gradients
    return features


def extract(features, x, layers):  # the outputs at ``layers``
    taken = {}
    for index, layer in enumerate(features):
        x = layer(x)
        if index in layers:
            taken[index] = x  # Activation('relu') returns a new array: keeping it is safe
    return [taken[i] for i in layers]


def gram(y):
    c = y.shape[1]
    x = y.reshape(c, -1)
    return np.dot(x, x.T) / x.size  # x.T is a copy here (a view in PyTorch); the backend avoids it


def tv_loss(y):
    return 0.5 * (np.abs(y[:, :, 1:, :] - y[:, :, :-1, :]).mean() + np.abs(y[:, :, :, 1:] - y[:, :, :, :-1]).mean())


def losses(features, x, contents, grams):
    ys = extract(features, x, CONTENT_LAYERS + STYLE_LAYERS)
    content = sum(np.square(y - t).mean() for y, t in zip(ys[:1], contents))
    style = sum(np.square(gram(y) - g).mean() for y, g in zip(ys[1:], grams))
    return WEIGHTS["content"] * content + WEIGHTS["style"] * style + WEIGHTS["tv"] * tv_loss(x)


def train(features, content, style, steps, lr=0.3):
    with autograd.train_mode():  # the targets in training mode, as every recorded step runs
        contents = extract(features, content, CONTENT_LAYERS)
        grams = [gram(y) for y in extract(features, style, STYLE_LAYERS)]
    x = gluon.Parameter("synthesized_image", shape=content.shape)  # the image is the one parameter
    x.initialize()
    x.set_data(content)
    trainer = gluon.Trainer({"synthesized_image": x}, "adam", {"learning_rate": lr})
    totals = []
    for step in range(steps):
        trainer.set_learning_rate(lr * 0.8 ** (step // 50))  # from the next update on
        with autograd.record():  # record the forward pass, then differentiate it
            total = losses(features, x.data(), contents, grams)
        total.backward()  # the gradient overwrites x's (grad_req 'write'): no zeroing
        trainer.step(1)  # 1: the gradient is divided by a batch size of 1
        totals.append(float(total))  # waits for the engine: MXNet runs asynchronously
    return x.data(), totals


if __name__ == "__main__":
    weights, content_path, style_path, out = sys.argv[1:5]
    steps = int(sys.argv[5]) if len(sys.argv) > 5 else 500
    features = network(weights, max(STYLE_LAYERS + CONTENT_LAYERS))
    content = preprocess(read(content_path, (300, 450)))
    style = preprocess(read(style_path, (300, 450)))
    image, totals = train(features, content, style, steps)
    Image.fromarray((postprocess(image) * 255 + 0.5).astype(onp.uint8)).save(out)
    print(f"{steps} steps: total loss {totals[0]:.6g} -> {totals[-1]:.6g}")
