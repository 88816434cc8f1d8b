"""The machine: which processor or GPUs the Keras backend runs on, and the
precision that runs fastest there. Read by training (its record of the device),
checkpoint loading ("auto" precision) and the pages that name the device."""

from __future__ import annotations

import functools
import os
import platform
from pathlib import Path

from core.errors import quiet_tensorflow

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
