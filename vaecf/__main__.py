import os
import sys

# Training allocates and frees tensors of tens of megabytes at every step (a batch's
# logits, the gradients of the item weights). With transparent huge pages (Linux) each
# costs a few page faults instead of thousands: about 15% off an ML-20M-sized epoch on a
# CPU. PyTorch reads this once, at its first allocation, so it is set before torch loads.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

from .cli import main  # noqa: E402  (after the environment is set)

sys.exit(main())
