# Plain MoCo baseline of fame_r3d_tiny_motion.py: FAME off.
_base_ = ['./fame_r3d_tiny_motion.py']

model = dict(data_preprocessor=dict(fame=dict(prob=0.)))
