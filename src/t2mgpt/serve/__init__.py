"""`t2mgpt serve`: a web app to type a sentence, watch the 3D motion and download it."""
from t2mgpt.serve.app import create_app

__all__ = ["create_app"]
