"""The paper's text-conditioned GPT over motion codes: layers (attention), the model (gpt),
sampling filters (sampling) and the decoding loop."""
