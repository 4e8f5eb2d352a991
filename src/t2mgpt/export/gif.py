"""GIF: the stick figure drawn by `t2mgpt.render`, looping (needs no ffmpeg)."""
from t2mgpt.export import Format, register
from t2mgpt.export._video import OPTIONS, write_video

FORMAT = register(Format(
    name="gif", suffixes=(".gif",), media_type="image/gif", description="stick-figure animation (GIF)",
    write=write_video, options=OPTIONS, renders=True, web=False,
))
