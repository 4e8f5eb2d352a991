"""`t2mgpt serve`: the web app (type a sentence, watch the 3D motion, download it)."""
from __future__ import annotations

import argparse
import ipaddress
import sys

from t2mgpt.io.lookup import DEFAULT_MODEL

NAME = "serve"
HELP = "Start the web app: type a sentence, watch the 3D motion in the browser, download BVH/NPY/MP4/JSON."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"model folder or name of a bundled/saved model (default: {DEFAULT_MODEL})")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--int8", action="store_true",
                        help="int8-quantised GPT blocks: ~2x faster CPU decoding, slightly different output (CPU only)")
    parser.add_argument("--max-queue", type=int, default=16,
                        help="generation requests that may wait at once; more are refused with 429 (default: 16)")
    parser.add_argument("--max-results", type=int, default=64,
                        help="motions kept in memory for download, least recently used dropped first (default: 64)")
    parser.add_argument("--max-samples", type=int, default=8, help="most samples per request (default: 8)")
    parser.add_argument("--clip-path", help="CLIP ViT-B/32 weights (folder or file) for models using CLIP")
    parser.add_argument("--allowed-hosts", default="",
                        help="comma-separated extra host names the server answers to in the Host header, besides "
                             "localhost, 127.0.0.1, [::1] and --host (e.g. the machine's name when serving a "
                             "network); '*' answers to any (no protection against DNS rebinding)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"],
                        help="server log level (default: info)")


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() in ("localhost", "localhost.", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any address


def check_args(args: argparse.Namespace) -> None:
    from t2mgpt.errors import InputError

    if not 1 <= args.port <= 65535:
        raise InputError(f"--port must be between 1 and 65535, got {args.port}")
    for flag, value in (("--max-queue", args.max_queue), ("--max-results", args.max_results),
                        ("--max-samples", args.max_samples)):
        if value < 1:
            raise InputError(f"{flag} must be at least 1, got {value}")


def allowed_hosts(args: argparse.Namespace) -> list[str]:
    """The Host header names served: loopback, --host, --allowed-hosts."""
    from t2mgpt.serve.middleware import LOOPBACK_NAMES

    extra = [h.strip() for h in args.allowed_hosts.split(",") if h.strip()]
    return [*LOOPBACK_NAMES, args.host, *extra]


def run(args: argparse.Namespace) -> int:
    check_args(args)
    import uvicorn

    from t2mgpt.pipeline import T2MGPT
    from t2mgpt.serve import create_app

    if not is_loopback(args.host):
        print(f"t2mgpt serve: warning: listening on {args.host}, which other machines may reach. The server "
              "has no authentication and generation is CPU/GPU heavy; use --host 127.0.0.1 unless you mean it. "
              "Requests must name this machine in their Host header: add its names with --allowed-hosts.",
              file=sys.stderr)
    print(f"loading model {args.model} ...", file=sys.stderr)
    pipe = T2MGPT.from_pretrained(args.model, device=args.device, text_encoder_path=args.clip_path,
                                  quantize="int8" if args.int8 else None)
    app = create_app(pipe, max_queue=args.max_queue, max_results=args.max_results, max_samples=args.max_samples,
                     allowed_hosts=allowed_hosts(args))
    shown = f"[{args.host}]" if ":" in args.host else args.host
    print(f"t2mgpt serve: model {pipe.name} on {pipe.device}; open http://{shown}:{args.port}/ "
          "(Ctrl+C to stop)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    return 0
