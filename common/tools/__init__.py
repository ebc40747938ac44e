"""The tooling around the core, one package per feature, each with one entry point:

    cli/      run.py: the options and their one mapping to the configuration, the checks before any work
              (every script's), signals, exits, progress, the memory check
    compare/  compare.py: MXNet against PyTorch stage by stage, the chapter's ablation, the report
    bench/    bench.py: speed, FLOPs, time to quality, peak memory (the memory check's numbers), batch throughput
    batch/    batch.py: many pictures on Ray (driver, plan, session, worker, manifest, pairs)
    gallery/  pictures.py: the README's pictures, made with run.py's options in each backend, and their credits
    web/      web.py: the web page (its server, one run per job on a thread, a live picture, stop)
    io/       files and the network: image files, atomic writes, the cache, weights, checkpoints
    entry.py  every script's first instruction: Ctrl-C and SIGTERM one line from the start
    timing.py synchronised seconds per stage of a step, for bench and compare (which never import each other)

The tooling imports the core; the core never imports the tooling.
"""
