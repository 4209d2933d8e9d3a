# Copyright (c) OpenMMLab. All rights reserved.
"""Mixed precision on the CPU (bfloat16 autocast): FAME, the augmentation
and the contrastive logits stay float32; the loss scaler path."""
import copy
from pathlib import Path
from unittest import mock

import mmengine.optim.optimizer.amp_optimizer_wrapper as amp_wrapper
import pytest
import torch
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.config import Config
from mmengine.registry import init_default_scope

import projects.fame  # noqa: F401
from projects.fame.engine import SkipNonFiniteAmpOptimWrapper
from projects.fame.models.heads import MoCoHead
from tests.tool_loader import load_tool

CONFIG = Path(__file__).resolve().parents[2] / 'configs' / '_base_'


def bf16():
    return torch.autocast('cpu', dtype=torch.bfloat16)


def build_model():
    init_default_scope('mmaction')
    cfg = Config.fromfile(str(CONFIG / 'models' / 'fame_r2plus1d_r18.py'))
    cfg.model.backbone.base_channels = 8
    cfg.model.head.update(in_channels=64, feat_dim=16, queue_len=16)
    torch.manual_seed(0)
    return MODELS.build(cfg.model)


def train_batch(num_videos=2, size=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return dict(
        inputs=[
            torch.randint(
                0,
                256, (1, 3, 4, size, size),
                generator=gen,
                dtype=torch.uint8) for _ in range(2 * num_videos)
        ],
        data_samples=[ActionDataSample() for _ in range(2 * num_videos)])


def amp_wrapper_on_cpu(model, **kwargs):
    # MMEngine's AmpOptimWrapper refuses to be built without a GPU; its
    # autocast and loss scaling work on the CPU.
    with mock.patch.object(
            amp_wrapper, 'is_cuda_available', return_value=True):
        wrapper = SkipNonFiniteAmpOptimWrapper(
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
            dtype='bfloat16',
            **kwargs)
    wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=256.)
    return wrapper


def test_preprocessor_and_fame_are_float32_under_autocast():
    model = build_model()
    data = train_batch(num_videos=4)
    torch.manual_seed(1)
    reference = model.data_preprocessor(copy.deepcopy(data), True)['inputs']
    torch.manual_seed(1)
    with bf16():
        merged = model.data_preprocessor(copy.deepcopy(data), True)['inputs']
    for ref, out in zip(reference, merged):
        assert out.dtype == torch.float32
        assert torch.equal(ref, out)
    clips = torch.rand(4, 3, 4, 64, 64)
    blending = model.data_preprocessor.fame
    perm = torch.tensor([1, 2, 3, 0])
    with mock.patch('torch.randperm', return_value=perm):
        expected = blending.merge(clips)
        with bf16():
            assert torch.equal(blending.merge(clips), expected)


def test_contrastive_loss_is_float32_under_autocast():
    torch.manual_seed(0)
    head = MoCoHead(in_channels=8, feat_dim=16, queue_len=64)
    query = F.normalize(torch.randn(4, 16), dim=1)
    key = F.normalize(torch.randn(4, 16), dim=1)
    expected, _ = head.contrast(query, key, head.queue)
    with bf16():
        loss, _ = head.contrast(query.bfloat16(), key, head.queue)
        loss_fp32, _ = head.contrast(query, key, head.queue)
        embeddings = head.projector(torch.randn(4, 8, 1, 2, 2))
    assert loss.dtype == loss_fp32.dtype == embeddings.dtype == torch.float32
    assert torch.equal(loss_fp32, expected)
    torch.testing.assert_close(
        embeddings.norm(dim=1), torch.ones(4), rtol=0, atol=1e-6)


def test_train_step_runs_the_backbone_in_bfloat16():
    model = build_model()
    wrapper = amp_wrapper_on_cpu(model)
    dtypes = []
    model.backbone.conv1.register_forward_hook(
        lambda module, args, out: dtypes.append(out.dtype))
    before = copy.deepcopy(model.backbone.state_dict())
    # oneDNN 3.12 (torch 2.13 CPU) returns garbage weight gradients (NaN,
    # or finite values near 1e37) for a bfloat16 Conv3d with a temporal
    # kernel of 3 on a 2-frame input, as layer2 sees here, on CPUs with
    # avx512_bf16; PyTorch's native kernel is right. The test checks our
    # autocast and loss-scaler plumbing, so it runs on the native kernel.
    with torch.backends.mkldnn.flags(enabled=False):
        log_vars = model.train_step(train_batch(), wrapper)
    assert torch.isfinite(torch.as_tensor(log_vars['loss']))
    assert dtypes and set(dtypes) == {torch.bfloat16}
    assert any(not torch.equal(before[k], v)
               for k, v in model.backbone.state_dict().items())
    assert wrapper.loss_scaler.get_scale() == 256.


def test_loss_scaler_and_non_finite_losses():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    wrapper = amp_wrapper_on_cpu(model)
    x = torch.randn(4, 3)
    weight = model.weight.detach().clone()
    # A finite loss whose scaled gradients overflow: the scaler skips the
    # step and halves the scale.
    with wrapper.optim_context(model):
        loss = model(x).float().mean() * 3e37
    assert torch.isfinite(loss)
    wrapper.update_params(loss)
    assert torch.equal(model.weight, weight)
    assert wrapper.loss_scaler.get_scale() == 128.
    # A non-finite loss is skipped before scaling: the scale is kept.
    with wrapper.optim_context(model):
        loss = model(x).float().mean() * float('nan')
    wrapper.update_params(loss)
    assert torch.equal(model.weight, weight)
    assert wrapper.loss_scaler.get_scale() == 128.
    assert wrapper.skipped_steps == 1
    # A normal step updates the weights.
    with wrapper.optim_context(model):
        loss = model(x).float().pow(2).mean()
    wrapper.update_params(loss)
    assert not torch.equal(model.weight, weight)


def test_state_dict_keeps_the_loss_scale():
    wrapper = amp_wrapper_on_cpu(torch.nn.Linear(3, 1))
    state = wrapper.state_dict()
    assert state['loss_scaler']['scale'] == 256.
    with pytest.raises(AssertionError):  # MMEngine refuses CPU-only AMP
        SkipNonFiniteAmpOptimWrapper(
            optimizer=torch.optim.SGD(
                torch.nn.Linear(1, 1).parameters(), lr=0.1))


def test_amp_flag_picks_the_mixed_precision_twin(tmp_path):
    tool = load_tool('train')
    config = CONFIG.parent / 'fame_r2plus1d_k400.py'
    cfg = tool.merge_args(
        Config.fromfile(str(config)),
        tool.parse_args([str(config), '--amp', '--work-dir',
                         str(tmp_path)]))
    assert cfg.optim_wrapper.type == 'SkipNonFiniteAmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'


def test_fused_sgd_first_step_skipped_by_the_scaler():
    """PyTorch's fused SGD leaves the momentum of a first step that the
    scaler skips uninitialised; the wrapper gives it zeros, which the next
    steps turn into the momentum of a plain SGD."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    reference = copy.deepcopy(model)
    with mock.patch.object(
            amp_wrapper, 'is_cuda_available', return_value=True):
        wrapper = SkipNonFiniteAmpOptimWrapper(
            optimizer=torch.optim.SGD(
                model.parameters(), lr=0.1, momentum=0.9, fused=True),
            dtype='bfloat16')
    wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=256.)
    plain = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(4, 3)
    weight = model.weight.detach().clone()
    # Scaled gradients that overflow: the scaler skips the first step.
    wrapper.update_params(model(x).mean() * 3e37)
    assert torch.equal(model.weight, weight)
    assert wrapper.loss_scaler.get_scale() == 128.
    for param in model.parameters():
        momentum = wrapper.optimizer.state[param]['momentum_buffer']
        assert torch.equal(momentum, torch.zeros_like(param))
    for step in range(3):
        wrapper.update_params(model(x * step).pow(2).mean())
        reference(x * step).pow(2).mean().backward()
        plain.step()
        plain.zero_grad()
        for a, b in zip(model.parameters(), reference.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
