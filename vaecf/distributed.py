"""Data-parallel training on several processes: PyTorch's DistributedDataParallel,
launched with ``torchrun`` (``torchrun --nproc_per_node=N -m vaecf reproduce ...``).

Every process loads the same data and draws the same batch order (the seeds are shared).
Each batch of users is cut into one contiguous shard per process
(:meth:`Cluster.shard`); a process computes its shard's loss, DistributedDataParallel
averages the gradients, and every process takes the same Adam step, so the weights stay
equal everywhere. Noise (input dropout, the samples of z) is drawn for the whole batch
and sliced (:class:`vaecf.models.inputs.RowShard`), so a run on N processes trains the
weights that one process would, up to the order of floating-point sums
(``tests/test_distributed.py``). Validation runs on the first process (rank 0), which
also writes the checkpoints and the results; the others wait for its score.

Worth it when one process cannot keep up: Netflix- or MSD-sized data on several GPUs
(``nccl``), or several CPU sockets (``gloo``). On one small machine it is slower than
one process: every step waits for the gradients of every process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from .models.inputs import RowShard

__all__ = ["Cluster", "from_environment", "start", "stop", "Objective"]


@dataclass(frozen=True)
class Cluster:
    """This process's place among ``world_size`` processes (rank 0 validates and writes)."""

    rank: int
    world_size: int
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def shard(self, n_users: int) -> tuple[RowShard, int]:
        """This process's rows of a batch of ``n_users`` and how many users they are.

        The batch is cut into ``world_size`` contiguous parts whose sizes differ by at most
        one. A process left without users (a last batch smaller than the number of
        processes) still computes one row, with a user count of 0, so that it takes part
        in the gradient average with a weight of zero and draws the same noise as the rest.
        """
        base, extra = divmod(n_users, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        size = base + (self.rank < extra)
        if size == 0:
            return RowShard(0, 1, n_users), 0
        return RowShard(start, start + size, n_users), size

    def device(self) -> torch.device:
        """The process's GPU (``cuda:local_rank``) when there are GPUs, else the CPU."""
        if torch.cuda.is_available():
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def broadcast(self, value: float, device: torch.device) -> float:
        """Rank 0's ``value``, on every process."""
        tensor = torch.tensor([value], dtype=torch.float64, device=device)
        dist.broadcast(tensor, src=0)
        return float(tensor.item())

    def sum(self, values: list[float], device: torch.device) -> list[float]:
        """The sums over the processes of each of ``values``, on every process."""
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def barrier(self) -> None:
        dist.barrier()


def from_environment(environ=None) -> Cluster | None:
    """The cluster ``torchrun`` describes in ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``;
    None for a plain run (no ``WORLD_SIZE``, or a world of one process)."""
    environ = os.environ if environ is None else environ
    if "WORLD_SIZE" not in environ:
        return None
    try:
        world_size, rank = int(environ["WORLD_SIZE"]), int(environ.get("RANK", "0"))
        local_rank = int(environ.get("LOCAL_RANK", "0"))
    except ValueError:
        raise ValueError("WORLD_SIZE, RANK and LOCAL_RANK must be whole numbers; start the "
                         "processes with torchrun --nproc_per_node=N.") from None
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"RANK {rank} does not lie in a world of {world_size} processes; start "
                         "the processes with torchrun --nproc_per_node=N.")
    if world_size == 1:
        return None
    return Cluster(rank=rank, world_size=world_size, local_rank=local_rank)


def start(cluster: Cluster) -> None:
    """Join the process group: ``nccl`` between GPUs, ``gloo`` on CPUs."""
    if dist.is_initialized():
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(cluster.local_rank)
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo",
                            rank=cluster.rank, world_size=cluster.world_size)


def stop() -> None:
    """Leave the process group (at the end of the run)."""
    if dist.is_initialized():
        dist.destroy_process_group()


class Objective(torch.nn.Module):
    """A model's training loss as a module, so DistributedDataParallel can wrap it: its
    ``forward(x, beta, shard)`` is ``model.loss(x, beta, shard)``."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, beta: float, shard: RowShard) -> dict:
        return self.model.loss(x, beta, shard)

    @classmethod
    def parallel(cls, model: torch.nn.Module, cluster: Cluster) -> DistributedDataParallel:
        """The model's loss wrapped in DistributedDataParallel (rank 0's weights broadcast
        to every process first)."""
        device_ids = [cluster.local_rank] if model.device.type == "cuda" else None
        return DistributedDataParallel(cls(model), device_ids=device_ids)
