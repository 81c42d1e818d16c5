"""The ``paths`` group (``conf/paths/``): where runs, generated data and caches go."""

from __future__ import annotations

from dataclasses import dataclass

from jobmatch.utils.option_rules import option


@dataclass
class PathsOptions:
    """The folders of a run."""

    root_dir: str = option(".", "the project folder the others default under")
    output_dir: str = option("${paths.root_dir}/outputs", "runs, data and caches")
    data_dir: str = option("${paths.output_dir}/data", "generated datasets")
    cache_dir: str = option("${paths.output_dir}/cache", "embeddings and reference-score caches")
    run_dir: str = option("${paths.output_dir}/runs/${task_name}/${stage.name}/${now:%Y-%m-%d_%H-%M-%S}",
                          "this run's folder (config, checkpoints, results.json)")
