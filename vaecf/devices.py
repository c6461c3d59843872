"""The device to train on, checked before any work: named, built and usable."""
from __future__ import annotations

import torch

from .train import choose_device

__all__ = ["DeviceUnavailable", "usable_device"]

_TRAINING_DEVICES = ("cpu", "cuda", "mps")


class DeviceUnavailable(ValueError):
    """The device (``--device``) does not exist or this PyTorch cannot use it."""


def _advice(prefer: str) -> str:
    return (f"the device (--device) {prefer!r} cannot be used: {{}}. Use --device cpu, or "
            "leave --device out (the GPU when there is one, else the CPU).")


def usable_device(prefer: str | None = None) -> torch.device:
    """``prefer`` as a device that a tensor has been made on and copied back from, or
    the default (:func:`vaecf.train.choose_device`) when ``prefer`` is empty."""
    if not prefer:
        return choose_device(None)
    advice = _advice(prefer)
    try:
        device = torch.device(prefer)
    except RuntimeError:
        raise DeviceUnavailable(advice.format("no such device (cpu, cuda or cuda:N, mps)")) from None
    if device.type not in _TRAINING_DEVICES:
        raise DeviceUnavailable(advice.format(f"{device.type} tensors hold no data to train on"))
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailable(advice.format(
            f"this PyTorch ({torch.__version__}) sees no CUDA GPU (built without CUDA, or no "
            "GPU is visible)"))
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceUnavailable(advice.format(
            f"there are {torch.cuda.device_count()} CUDA GPU(s), numbered from 0"))
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailable(advice.format("this machine or PyTorch build has no MPS"))
    try:
        torch.zeros(1, device=device).cpu()
    except (RuntimeError, AssertionError, NotImplementedError) as error:
        raise DeviceUnavailable(advice.format(str(error).splitlines()[0])) from None
    return device
