"""Reading and writing models; `original.py` converts the original T2M-GPT checkpoints."""
