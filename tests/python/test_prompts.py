"""Prompt strings and the spherical-distance loss."""

from __future__ import annotations

import math

import torch

from vqgan_clip.prompts import ParsedPrompt, PromptLoss, parse_prompt, parse_prompts


def test_weights_and_stops_split_on_pipes():
    assert parse_prompts("a:2:0.5|b") == [ParsedPrompt("a", 2.0, 0.5), ParsedPrompt("b")]
    assert parse_prompts("b")[0].stop == -math.inf


def test_negative_weights():
    assert parse_prompt("ugly:-1") == ParsedPrompt("ugly", -1.0)
    assert parse_prompt("blurry:-0.5:-0.1") == ParsedPrompt("blurry", -0.5, -0.1)


def test_only_the_first_story_phrase_is_used():
    assert [p.text for p in parse_prompts("a dog|a cat^a bird")] == ["a dog", "a cat"]


def test_colons_that_are_not_numbers_stay_in_the_text():
    assert parse_prompt("Note: a dog") == ParsedPrompt("Note: a dog")
    assert parse_prompt("Note: a dog:3") == ParsedPrompt("Note: a dog", 3.0)
    assert parse_prompt("https://x.org/a.png:0.5") == ParsedPrompt("https://x.org/a.png", 0.5)


def test_prompt_loss_is_zero_at_the_target_and_grows_away_from_it():
    target = torch.tensor([[1.0, 0.0, 0.0]])
    loss = PromptLoss(target, weight=2.0)
    assert loss(torch.tensor([[3.0, 0.0, 0.0]])).item() < 1e-6
    # orthogonal: great-circle distance pi/2, squared distance 2*asin(sqrt(2)/2)^2 = pi^2/8
    assert math.isclose(loss(torch.tensor([[0.0, 1.0, 0.0]])).item(), 2 * math.pi**2 / 8,
                        rel_tol=1e-5)


def test_negative_weight_rewards_distance():
    target = torch.tensor([[1.0, 0.0]])
    x = torch.tensor([[1.0, 1.0]], requires_grad=True)
    PromptLoss(target, weight=-1.0)(x).backward()
    assert x.grad[0, 1] < 0  # gradient descent increases the y part: away from the target


def test_stop_cuts_the_gradient_below_it():
    target = torch.tensor([[1.0, 0.0]])
    x = torch.tensor([[1.0, 0.1]], requires_grad=True)
    PromptLoss(target, weight=1.0, stop=1.0)(x).backward()
    assert torch.all(x.grad == 0)
