"""Authoring motion beyond one clip: a timeline of prompts, continuation, in-betweening, paths.

All of it is built on the open decoding engine (`t2mgpt.generator.decoding`): the GPT writes
codes chunk by chunk, conditioned on each segment's text and on the codes of what came before
(`chunked.sample_codes`, a sliding window once the 50-code context is full), and the VQ-VAE
decoder turns the whole code sequence into motion at once, blending across boundaries. Given
frames (a motion to continue, the two ends of a gap) are kept as they are and spliced
(`splice`). The pipeline's `compose`, `continue_motion`, `inbetween` and `path=` call these.
"""
