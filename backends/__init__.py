"""One package per framework, mirrored module for module:

    device.py      which device runs the work
    vgg.py         VGG-19 ``features`` from neutral weights, frozen; features at named points
    transforms.py  preprocess / postprocess
    losses.py      content loss, Gram matrix, style loss, total variation
    optimizer.py   the framework's own Adam and its learning rate
    errors.py      the framework's words for a failed allocation, as common.errors.OutOfMemory
    backend.py     the ``common.interface.StyleBackend`` built from the above
    tools.py       what the tooling asks besides computation: GPU status, memory peaks, reports,
                   the model zoo's weights, the framework's weight files, the chapter's image reader

This file imports neither subpackage: ``common.registry`` imports the one asked for.
``threads.py`` (how many threads) and ``timing.py`` (a step timed stage by stage), framework-free,
are shared by both.
"""
