"""The tooling around the core, one package per feature, each with one entry point:

    cli/      run.py: the options, the checks before any work, signals, exits, progress, the memory check
    compare/  compare.py: MXNet against PyTorch stage by stage, the chapter's ablation, the report
    bench/    bench.py: speed, FLOPs, time to quality, the memory model's fit, batch throughput
    batch/    batch.py: many pictures on Ray (driver, worker, manifest, pairs)
    io/       files and the network: image files, atomic writes, the cache, weights, checkpoints

The tooling imports the core; the core never imports the tooling.
"""
