"""Golden values: the first iteration's cutouts and the first losses, on the CPU, fixed seeds.

These pin the method as it reproduces generate.py (``vqgan_clip.method.METHOD``; the
side-by-side harness scripts/compare_upstream.py shows the agreement with upstream). A
change that moves the cutouts (cut methods, augmentations and their arguments, the order
or number of random draws, the resampling) or the losses (prompt encoding, loss terms,
the optimiser's step, the decoder) fails here: if it is meant, it changes the images a
seed gives, so change ``METHOD`` too and record the new values (run this file with
``GOLDEN_PRINT=1`` to print them).

The values are sums and a few single numbers of CLIP's input (the normalised cutouts) on
the first iteration, and the losses of the first three iterations. Other CPUs round a
little differently, hence the relative tolerance; a real change moves them far more.
"""

from __future__ import annotations

import os

import pytest
import torch

from vqgan_clip.engine import Engine, ModelSpec
from vqgan_clip.method import METHOD

BASE = {"prompts": "a red apple", "size": [64, 48], "iterations": 3, "cutn": 4, "seed": 1234}
CASES = {
    "latest": {},
    "original": {"cut_method": "original", "cut_pow": 0.5},
    "updated": {"cut_method": "updated"},
    "nrupdated": {"cut_method": "nrupdated", "augments": ["Re", "Af", "Pe", "Cr", "Ji"]},
    "updatedpooling": {"cut_method": "updatedpooling"},
    "weighted_init_image": {"prompts": "a red apple:2|a storm:-0.5|a dog:1:0.9",
                            "init_image": "{fixture}", "init_weight": 0.5},
    "image_prompt_noise_prompts": {"image_prompts": ["{fixture}:0.5"],
                                   "noise_prompt_seeds": [7], "noise_prompt_weights": [0.3]},
    "pixels": {"init_noise": "pixels", "augments": ["Sh", "Gn", "Ro", "Et", "Ts", "Er"]},
    "gradient_gumbel": {"init_noise": "gradient", "model": "gumbel"},
    "net2net": {"model": "net2net"},
}

# case -> (sum, sum of squares, values at GOLDEN_INDICES of the flattened cutouts, losses)
GOLDEN_INDICES = (0, 1000, 5000, 12287)
GOLDEN: dict[str, tuple[float, float, tuple[float, ...], tuple[float, ...]]] = {
    "latest": (
        -9694.369990995077, 21031.393241077563,
        (-2.0172040462493896, -0.6430215239524841, 0.37494781613349915, -1.446913719177246),
        (1.2267985343933105, 1.3575847148895264, 1.2326579093933105)),
    "original": (
        -3074.5897399404603, 13473.742469445897,
        (-0.980890691280365, 0.16413837671279907, 0.9752545952796936, 0.4590156078338623),
        (1.375815510749817, 1.4482970237731934, 1.4537326097488403)),
    "updated": (
        -4622.513188163488, 14930.100545432937,
        (-1.8594043254852295, -1.7100602388381958, -0.6210053563117981, -0.9524127244949341),
        (1.3420861959457397, 1.3752200603485107, 1.3542194366455078)),
    "nrupdated": (
        -9551.141413410718, 21884.423326211836,
        (-1.6491817235946655, -1.8636715412139893, -2.288090944290161, 0.5816648006439209),
        (1.2967103719711304, 1.2269861698150635, 1.2870302200317383)),
    "updatedpooling": (
        -11902.311201185306, 24568.30540530055,
        (-1.8086568117141724, -1.713782548904419, -1.5508350133895874, 0.11941900104284286),
        (1.25, 1.326608657836914, 1.2142071723937988)),
    "weighted_init_image": (
        -9590.977613237163, 20535.64434152557,
        (-2.01774263381958, 0.47832125425338745, -0.3198128044605255, -1.4480972290039062),
        (3.121948719024658, 3.254911422729492, 2.9480512142181396)),
    "image_prompt_noise_prompts": (
        -9694.369990995077, 21031.393241077563,
        (-2.0172040462493896, -0.6430215239524841, 0.37494781613349915, -1.446913719177246),
        (1.6569123268127441, 1.7765519618988037, 1.6666502952575684)),
    "pixels": (
        -15318.914480975618, 32260.889259236814,
        (-1.881356954574585, -1.6065407991409302, -1.784475326538086, -1.3918834924697876),
        (1.242262601852417, 1.1976895332336426, 1.4069805145263672)),
    "gradient_gumbel": (
        -5310.179440458014, 22881.163178106228,
        (-1.99346923828125, 1.4921983480453491, -0.29303911328315735, -1.4404481649398804),
        (1.3742870092391968, 1.542998194694519, 1.2717297077178955)),
    'net2net': (
        -6293.644847867894, 22933.29114592765,
        (-2.008545160293579, -0.150363028049469, -0.11315611749887466, -1.4454783201217651),
        (1.2855974435806274, 1.3604884147644043, 1.2055232524871826)),
}

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "stone.png")


@pytest.fixture(scope="module")
def engines(tiny_models):
    def make(kind: str) -> Engine:
        spec = ModelSpec(vqgan_config=str(tiny_models[f"{kind}_yaml"]),
                         vqgan_checkpoint=str(tiny_models[f"{kind}_ckpt"]),
                         clip_model=str(tiny_models["clip"]))
        return Engine(spec, device="cpu", deterministic=True, mode="reference")

    return {kind: make(kind) for kind in ("vqgan", "gumbel", "net2net")}


def _run(engines, name: str):
    case = dict(CASES[name])
    engine = engines[case.pop("model", "vqgan")]
    job = {**BASE, **case}
    for key in ("init_image", "image_prompts"):
        if key in job:
            value = job[key]
            job[key] = ([v.replace("{fixture}", FIXTURE) for v in value]
                        if isinstance(value, list) else value.replace("{fixture}", FIXTURE))
    inputs: list[torch.Tensor] = []
    hook = engine.clip.model.visual.register_forward_pre_hook(
        lambda module, args: inputs.append(args[0].detach().clone()))
    losses: list[float] = []
    try:
        result = engine.generate(job, progress=lambda i, total, loss: losses.append(loss))
    finally:
        hook.remove()
    # the image prompt's cutouts come first; then one call per iteration
    first = inputs[len(job.get("image_prompts", []))]
    return result, first, losses


@pytest.mark.parametrize("name", list(CASES))
def test_first_cutouts_and_losses_are_the_golden_ones(engines, name):
    result, cutouts, losses = _run(engines, name)
    assert result["method"] == METHOD
    flat = cutouts.flatten().double()
    got = (float(flat.sum()), float(flat.pow(2).sum()),
           tuple(float(flat[i]) for i in GOLDEN_INDICES), tuple(losses))
    assert cutouts.shape == (4, 3, 32, 32)
    if os.environ.get("GOLDEN_PRINT"):
        print(f"\n    {name!r}: {got!r},")
    want = GOLDEN[name]
    assert got[0] == pytest.approx(want[0], rel=1e-4, abs=1e-2)
    assert got[1] == pytest.approx(want[1], rel=1e-5)
    assert got[2] == pytest.approx(want[2], rel=1e-4, abs=1e-5)
    assert got[3] == pytest.approx(want[3], rel=1e-5)
