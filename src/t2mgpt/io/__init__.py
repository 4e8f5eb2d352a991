"""Reading and writing models; torch is imported by the functions that need it, not here.

    config.py        config.json of a model folder: format, ModelConfig, type checks and bounds
    card.py          the model card (ModelCard) and the folder's README.md
    folder.py        read/write a model folder (atomically) and load it into modules
    weights.py       safetensors weights: shapes checked against the header before allocating
    lookup.py        model names: bundled and saved models, `t2mgpt models`
    text_encoder.py  the text encoder a model names (its path kept inside the folder)
    checkpoint.py    `t2mgpt train-vq` checkpoints (and original VQ-VAE .pth) as a VQ-VAE
    original.py      conversion of the original T2M-GPT checkpoints
    official.py      `t2mgpt import-official`: the published checkpoints -> a model folder
"""
