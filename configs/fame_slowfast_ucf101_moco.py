# Plain MoCo baseline of fame_slowfast_ucf101.py: identical but with FAME off.
_base_ = ['./fame_slowfast_ucf101.py']

model = dict(data_preprocessor=dict(fame=dict(prob=0.)))
