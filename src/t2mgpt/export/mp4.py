"""MP4: the stick figure drawn by `t2mgpt.render` (H.264, yuv420p: plays in browsers)."""
from t2mgpt.export import Format, register
from t2mgpt.export._video import OPTIONS, write_video

FORMAT = register(Format(
    name="mp4", suffixes=(".mp4",), media_type="video/mp4", description="stick-figure video (H.264)",
    write=write_video, options=OPTIONS, renders=True,
))
