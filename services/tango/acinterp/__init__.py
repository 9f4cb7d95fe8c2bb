"""ACInterp: diffusion transition frames (TANGO §3.3), AnimateAnyone-style, on diffusers + transformers.

config.py (ACInterpConfig) · networks.py (VAE, motion UNet, ReferenceNet, CLIP, guiders) ·
reference_attention.py · pose_guider.py · pose_render.py · background_guider.py · conditioning.py ·
scheduler.py (DDIM, v-prediction) · sampling.py (temporal inpainting + CFG) · pipeline.py (ACInterpPipeline) ·
weights.py (load_acinterp / save_acinterp / random_acinterp) · train.py · serving.py (behind Triton's
`interp_acinterp`). Import the submodules directly; this package imports nothing heavy.
"""
