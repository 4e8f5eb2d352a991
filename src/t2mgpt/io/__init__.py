"""Reading and writing models: original-checkpoint conversion (original.py), ..."""
