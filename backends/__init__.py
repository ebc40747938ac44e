"""One package per framework, mirrored module for module:

    device.py      which device runs the work
    vgg.py         VGG-19 ``features`` from neutral weights, frozen; features at named points
    transforms.py  preprocess / postprocess
    losses.py      content loss, Gram matrix, style loss, total variation
    optimizer.py   the framework's own Adam and its learning rate
    pretrained.py  the framework's model-zoo weights, converted to the neutral format
    errors.py      the framework's words for a failed allocation, as common.errors.OutOfMemory
    chapter.py     how the chapter's own tab reads and resizes an image
    backend.py     the ``common.interface.StyleBackend`` built from the above

This file imports neither subpackage: ``common.registry`` imports the one asked for.
``threads.py``, framework-free, is shared by both.
"""
