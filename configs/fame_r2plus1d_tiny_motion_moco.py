# Plain MoCo baseline of fame_r2plus1d_tiny_motion.py: FAME off.
_base_ = ['./fame_r2plus1d_tiny_motion.py']

model = dict(data_preprocessor=dict(fame=dict(prob=0.)))
