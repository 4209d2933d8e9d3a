# Copyright (c) OpenMMLab. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.registry import DefaultScope

from projects.fame.models.utils import SplitBatchNorm3d, has_split_batch_norm


def test_groups_are_normalised_by_their_own_statistics():
    torch.manual_seed(0)
    x = torch.randn(8, 3, 2, 4, 4) * 3 + 1
    bn = SplitBatchNorm3d(3, num_splits=4, momentum=0.1).train()
    out = bn(x)
    running_means, running_vars = [], []
    for group in range(4):
        members = x[group::4]  # sample i is in group i % 4
        mean = members.mean((0, 2, 3, 4))
        var = members.var((0, 2, 3, 4), unbiased=False)
        expected = (members - mean.view(1, 3, 1, 1, 1)) / torch.sqrt(
            var.view(1, 3, 1, 1, 1) + bn.eps)
        torch.testing.assert_close(out[group::4], expected)
        running_means.append(0.1 * mean)  # from zeros, momentum 0.1
        running_vars.append(0.9 + 0.1 * members.var((0, 2, 3, 4)))
    torch.testing.assert_close(bn.running_mean,
                               torch.stack(running_means).mean(0))
    torch.testing.assert_close(bn.running_var,
                               torch.stack(running_vars).mean(0))
    assert bn.num_batches_tracked.item() == 1


def test_gradients_match_separate_batch_norms():
    torch.manual_seed(0)
    x = torch.randn(6, 2, 2, 3, 3, requires_grad=True)
    bn = SplitBatchNorm3d(2, num_splits=2).train()
    with torch.no_grad():
        bn.weight.uniform_(0.5, 2)
        bn.bias.uniform_(-1, 1)
    bn(x).pow(2).sum().backward()
    ref_x = x.detach().clone().requires_grad_()
    ref = sum(
        F.batch_norm(ref_x[g::2], None, None, bn.weight, bn.bias,
                     True).pow(2).sum() for g in range(2))
    ref.backward()
    torch.testing.assert_close(x.grad, ref_x.grad)


def test_eval_and_one_split_are_plain_batch_norm():
    torch.manual_seed(0)
    x = torch.randn(4, 3, 2, 4, 4)
    split, plain = SplitBatchNorm3d(3, num_splits=1), torch.nn.BatchNorm3d(3)
    torch.testing.assert_close(split(x), plain(x))
    torch.testing.assert_close(split.running_var, plain.running_var)
    split.num_splits = 2
    split.eval()
    plain.eval()
    torch.testing.assert_close(split(x), plain(x))


def test_built_from_norm_cfg_and_found():
    # As in a backbone built from an MMAction2 config.
    with DefaultScope.overwrite_default_scope('mmaction'):
        name, layer = build_norm_layer(
            dict(type='SplitBN3d', num_splits=2, requires_grad=True), 5)
    assert name == 'bn' and isinstance(layer, SplitBatchNorm3d)
    assert layer.num_splits == 2 and layer.weight.requires_grad
    assert has_split_batch_norm(torch.nn.Sequential(layer))
    layer.num_splits = 1
    assert not has_split_batch_norm(torch.nn.Sequential(layer))


def test_refuses_batch_that_does_not_split():
    bn = SplitBatchNorm3d(3, num_splits=4).train()
    with pytest.raises(ValueError, match='6 samples.*num_splits=4'):
        bn(torch.randn(6, 3, 1, 2, 2))
    with pytest.raises(ValueError, match='num_splits'):
        SplitBatchNorm3d(3, num_splits=0)


def _tiny_recognizer(norm_type: str):
    from mmaction.registry import MODELS
    from mmengine.config import Config

    from tests.toy_models import narrow_backbone
    cfg = Config.fromfile('configs/fame_r3d_tiny_motion.py').model
    cfg.backbone.norm_cfg = dict(type=norm_type, requires_grad=True)
    if norm_type == 'SplitBN3d':
        cfg.backbone.norm_cfg['num_splits'] = 2
    cfg.head.in_channels = narrow_backbone(cfg.backbone, 2)
    with DefaultScope.overwrite_default_scope('mmaction'):
        return MODELS.build(cfg).train()


@pytest.mark.parametrize('norm_type', ['SplitBN3d', 'BN3d'])
def test_keys_are_shuffled_in_one_process_with_split_bn(norm_type):
    model = _tiny_recognizer(norm_type)
    assert model._split_bn == (norm_type == 'SplitBN3d')
    model.key_encoder.update_parameters(model._query_encoder())
    clips = torch.randn(8, 3, 4, 32, 32)
    torch.manual_seed(1)
    keys = model.encode_key(clips)
    encoder = model.key_encoder.module
    with torch.no_grad():
        if norm_type == 'SplitBN3d':
            # the keys' groups are drawn anew: {order[0], order[2]}, ...
            torch.manual_seed(1)
            order = torch.randperm(8)
            expected = model._embed(encoder, clips[order])[order.argsort()]
        else:
            expected = model._embed(encoder, clips)
    torch.testing.assert_close(keys, expected)
    # with split BN the keys depend on the draw of the groups
    torch.manual_seed(2)
    other = model.encode_key(clips)
    assert torch.allclose(other, keys) == (norm_type == 'BN3d')
