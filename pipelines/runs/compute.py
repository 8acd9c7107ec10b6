"""How a run computes: its precision (`--mixed-precision`) and its `tf.distribute`
strategy (`--strategy`), and which process of a multi-worker run writes the run."""

import functools
import json
import os

from tf_transformer.errors import InputError

STRATEGIES = ("default", "mirrored", "multi-worker")


def dtype_policy(mixed_precision: str = "auto", log=print) -> dict:
    """The run's precision for `--mixed-precision` (`auto`, `bf16`, `fp16`, `float32`):
    `{"policy": <Keras dtype policy>, "reason": ...}`, said once with `log`; recipes store
    it in `config.json` (`write_config`)."""
    from tf_transformer.training.precision import choose_precision

    policy, reason = choose_precision(mixed_precision)
    log(f"precision: {policy} ({reason})")
    return {"policy": policy, "reason": reason}


def distribution(name: str = "default", jit_compile: bool = False):
    """The `tf.distribute` strategy for `--strategy`: "default" (one device), "mirrored"
    (synchronous over every local GPU, else every logical CPU device) or "multi-worker"
    (`MultiWorkerMirroredStrategy`, the cluster and this task read from `TF_CONFIG`).

    Create it before any other TensorFlow work: the multi-worker strategy configures the
    collective ops of the process's runtime, which TensorFlow allows only at start-up.
    """
    import tensorflow as tf

    if name not in (None, *STRATEGIES):
        raise InputError(f"unknown strategy {name!r}; use {', '.join(STRATEGIES)}")
    if name in (None, "default"):
        return tf.distribute.get_strategy()
    if name == "mirrored":
        strategy = _mirrored()
    else:
        task = worker_task()
        if task is None:
            raise InputError(
                "--strategy multi-worker needs TF_CONFIG (the cluster and this worker's task)"
            )
        if task[0] not in ("chief", "worker"):
            raise InputError(f"TF_CONFIG: task type {task[0]!r}; use chief or worker")
        from tf_transformer.training.distribute import fix_multi_worker_fit

        fix_multi_worker_fit()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    if (
        jit_compile
        and strategy.num_replicas_in_sync > 1
        and not tf.config.list_logical_devices("GPU")
    ):
        raise InputError(
            f"--jit-compile with --strategy {name}: XLA has no CPU kernels for the replicas' "
            "gradient all-reduce; drop one of the two"
        )
    return strategy


@functools.cache
def _mirrored():
    """One `MirroredStrategy` a process: strategies over the same devices would share the
    runtime's collective-op instance keys."""
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([device.name for device in devices])


def _tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        config = json.loads(raw)
        config["task"] = (config["task"]["type"], int(config["task"]["index"]))
    except (ValueError, KeyError, TypeError) as error:
        raise InputError(f"TF_CONFIG is not a cluster and task in JSON ({error})") from None
    return config


def worker_task():
    """`(type, index)` of this process's task in `TF_CONFIG`, or None without a cluster."""
    config = _tf_config()
    return None if config is None else config["task"]


def is_chief(strategy_name: str = "default") -> bool:
    """Whether this process writes the run: always, except a multi-worker run's workers
    other than the chief (task `chief`, or `worker` 0 in a cluster without one)."""
    config = _tf_config() if strategy_name == "multi-worker" else None
    if config is None:
        return True
    (kind, index), cluster = config["task"], config.get("cluster", {})
    return kind == "chief" or (index == 0 and "chief" not in cluster)


def worker_run_dir(run_dir: str, strategy_name: str = "default") -> str:
    """Where this process writes: `run_dir`, or `run_dir/workers/<index>` for a
    multi-worker run's non-chief worker (which trains the same weights, in step)."""
    if is_chief(strategy_name):
        return run_dir
    return os.path.join(run_dir, "workers", str(worker_task()[1]))
