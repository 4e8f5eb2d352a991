"""The paper's motion tokenizer: a 1-D convolutional VQ-VAE (encdec, resnet), its quantizers
(quantizers/, a registry) and the code vocabulary (codes, END, PAD)."""
