# Plain MoCo baseline of fame_r2plus1d_k400.py: identical but with FAME off.
_base_ = ['./fame_r2plus1d_k400.py']

model = dict(data_preprocessor=dict(fame=dict(prob=0.)))
