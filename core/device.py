"""The machine: which processor or GPUs the Keras backend runs on, the
precision that runs fastest there, and the distribution strategy that trains
over several devices or machines. Read by training (its record of the device,
its strategy), checkpoint loading ("auto" precision) and the pages that name
the device."""

from __future__ import annotations

import functools
import json
import os
import platform
from pathlib import Path

from core.errors import InputError, quiet_tensorflow

# Before Keras loads TensorFlow, whose C++ log a notebook's `from core.model import ...` printed.
quiet_tensorflow()
import keras


def gpu_names() -> list[str]:
    """The names of the GPUs the Keras backend sees; empty on a CPU-only machine.

    TensorFlow is the usual backend; JAX (`KERAS_BACKEND=jax`) is the other
    one `core` runs on, for GPU machines that have JAX but no TensorFlow.
    """
    if keras.backend.backend() == "jax":
        import jax

        return [device.device_kind for device in jax.devices() if device.platform == "gpu"]
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]


@functools.cache
def _cpuinfo() -> str:
    """Linux's /proc/cpuinfo; empty elsewhere."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_name() -> str:
    """The processor's model name where the system tells it (Linux), else its architecture."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe_device() -> str:
    """The device Keras trains on: the GPU's name(s), or "CPU (model), N cores"."""
    return ", ".join(gpu_names()) or f"CPU ({cpu_name()}), {os.cpu_count()} cores"


def fast_precision() -> str:
    """The precision that runs fastest here: bfloat16 where the hardware has it.

    GPUs and CPUs with AVX512-BF16 or AMX run bfloat16 natively (1.5-1.7x
    float32 on our CPU); elsewhere TensorFlow emulates it, which is slower
    than plain float32.
    """
    if gpu_names():
        return "mixed_bfloat16"
    flags = _cpuinfo()
    return "mixed_bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


TF_CONFIG_WORDS = ("JSON naming the cluster and this machine's task in it, as "
                   '{"cluster": {"worker": [...]}, "task": {"type": "worker", "index": 0}} (see README.md)')


def make_strategy(name: str | None):
    """None (one device); "mirrored": a TensorFlow strategy over all local GPUs
    (else all logical CPUs); "multiworker": MultiWorkerMirroredStrategy over the
    machines named in TF_CONFIG.

    Raises:
        InputError: another Keras backend than TensorFlow; "multiworker" with
            TF_CONFIG unset, not JSON, not a table naming a cluster and a
            task, or naming no such task.
    """
    if name is None:
        return None
    if keras.backend.backend() != "tensorflow":
        raise InputError(f"strategy {name!r} needs the TensorFlow backend; this run uses {keras.backend.backend()}")
    import tensorflow as tf

    if name == "multiworker":
        text = os.environ.get("TF_CONFIG", "").strip()
        if not text:  # TensorFlow trains alone then, without a word
            raise InputError(f"strategy 'multiworker' needs TF_CONFIG, {TF_CONFIG_WORDS}; it is not set")
        try:
            config = json.loads(text)
        except ValueError as error:
            raise InputError(f"TF_CONFIG must be {TF_CONFIG_WORDS}: {error}") from None
        # {} and [] trained alone without a word, as an unset one did; 5 and {"cluster": 5} were TypeErrors.
        if not (isinstance(config, dict) and isinstance(config.get("cluster"), dict) and config["cluster"]
                and isinstance(config.get("task"), dict)):
            raise InputError(f"TF_CONFIG must be {TF_CONFIG_WORDS}; received {text[:80]}")
        try:
            return tf.distribute.MultiWorkerMirroredStrategy()
        except (ValueError, TypeError) as error:  # naming no such task, or a cluster's lists of the wrong kind
            raise InputError(f"TF_CONFIG must be {TF_CONFIG_WORDS}: {error}") from None
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return tf.distribute.MirroredStrategy([d.name for d in devices])


def is_chief(strategy) -> bool:
    """Whether this machine writes the run's files: with several machines only worker 0
    does, so that workers sharing a filesystem never write the same file at once."""
    resolver = getattr(strategy, "cluster_resolver", None)
    return resolver is None or resolver.task_type in (None, "chief") or (resolver.task_type == "worker" and resolver.task_id == 0)
