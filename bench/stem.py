"""The cost of small3d's first block: one training step with a full-resolution stem (`train.stem_stride: 1`) against the strided one
(2, the default), on the realistic benchmark's input shapes, alternated in one run on this machine.

Usage: python bench/stem.py [--steps 6]
"""
import argparse, time
import torch
from ct_mask_cls.train import build_model

def step_seconds(stride: int, shape: tuple, roi: bool, steps: int) -> float:
    "Median seconds of one AdamW step of small3d on a batch of 8 random inputs of `shape` (the last channel the ROI if `roi`)."
    torch.manual_seed(0)
    m = build_model('small3d', shape[0], roi_pool=roi, stem_stride=stride)
    opt = torch.optim.AdamW(m.parameters())
    x, y = torch.randn(8, *shape), torch.randint(0, 2, (8, 1)).float()
    if roi: x[:, -1] = (x[:, -1] > 0).float()
    ts = []
    for _ in range(steps + 1):
        t = time.perf_counter()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(m(x), y)
        opt.zero_grad(); loss.backward(); opt.step()
        ts.append(time.perf_counter() - t)
    return sorted(ts[1:])[steps//2]                                  # the first step (allocation) left out

ap = argparse.ArgumentParser(); ap.add_argument('--steps', type=int, default=6); a = ap.parse_args()
print(f"{torch.get_num_threads()} threads, batch 8, median of {a.steps} steps")
for name, shape, roi in [('masked (zero, pool)', (2, 80, 80, 40), True), ('none', (1, 136, 112, 32), False)]:
    full, strided = step_seconds(1, shape, roi, a.steps), step_seconds(2, shape, roi, a.steps)
    print(f"{name:20s} {shape}: stem_stride 1 {full:.3f} s, 2 {strided:.3f} s -> ratio {strided/full:.2f}")
