"""What `generate`, `continue` and `inbetween` share: model and sampling options, the arguments
and checks of the commands that edit motion files, and writing the motions in every asked
format (targets checked before the model loads, files staged and moved into place together,
so a failed run leaves nothing half-written)."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

from t2mgpt.io.lookup import DEFAULT_MODEL

DEFAULT_FORMATS = "mp4,npy"


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"model folder or name of a bundled/saved model (default: {DEFAULT_MODEL}; "
                             "see t2mgpt models)")
    parser.add_argument("--seed", type=int, help="random seed, for reproducible results")
    parser.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default: 1.0)")
    parser.add_argument("--top-k", type=int, help="sample only among the K most likely codes")
    parser.add_argument("--top-p", type=float, help="sample only among the most likely codes of total probability P")
    parser.add_argument("--greedy", action="store_true", help="always take the most likely code (no sampling)")
    add_guidance_argument(parser)
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--int8", action="store_true",
                        help="int8-quantised GPT blocks: ~2x faster CPU decoding, slightly different output (CPU only)")
    parser.add_argument("--clip-path", help="CLIP ViT-B/32 weights (folder or file) for models using CLIP")


def add_guidance_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--guidance-scale", type=float, metavar="S",
                        help="classifier-free guidance: > 1 follows the text more closely, 1 is off (default: "
                             "the model's, see t2mgpt models; for models trained with --cond-drop)")


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", default="outputs", help="folder for the files (default: outputs)")
    from t2mgpt.export import names

    parser.add_argument("--format", default=DEFAULT_FORMATS,
                        help=f"comma-separated formats among {', '.join(names())} (default: {DEFAULT_FORMATS})")
    parser.add_argument("--overwrite", action="store_true", help="replace files that already exist")
    parser.add_argument("--no-cleanup", action="store_true",
                        help="leave the feet as the model drew them (no foot-contact cleanup)")
    parser.add_argument("--rig", default="smpl",
                        help="bvh/glb bone names and rest pose: smpl (default), mixamo or ue5 (see docs/outputs.md)")
    parser.add_argument("--raw-joints", action="store_true",
                        help="npy/json/mp4/gif hold the network's unfitted joints (research use); BVH, glTF "
                             "and npz always hold the rigid skeleton")


def plan_files(args: argparse.Namespace, names: list[str], num_samples: int):
    """Checked target paths [name][sample][format] and their flat list, before any work."""
    from t2mgpt.export import parse_formats
    from t2mgpt.export._rigs import check_rig
    from t2mgpt.export.files import check_free, plan_outputs
    from t2mgpt.utils.io import check_writable_folder

    formats = parse_formats(args.format)
    check_rig(args.rig)
    check_writable_folder(args.out_dir)
    plan = plan_outputs(names, num_samples, formats, args.out_dir)
    targets = [path for per_name in plan for per_sample in per_name for path in per_sample.values()]
    check_free(targets, args.overwrite)
    return plan, targets


def check_given(path: str, what: str) -> None:
    """A motion file named on the command line: it exists and is of a kind the authoring reads."""
    from pathlib import Path

    from t2mgpt.errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{what} file not found: {p}")
    if p.suffix.lower() not in (".npy", ".npz", ".bvh"):
        raise InputError(f"the {what} file {p} must be .npy, .npz or .bvh (written by t2mgpt)")


def load_pipeline(args: argparse.Namespace, folder, max_batch: int | None = None):
    from t2mgpt.generator.decoding import Sampling
    from t2mgpt.pipeline import MAX_BATCH, T2MGPT

    guidance = 1.0 if args.guidance_scale is None else args.guidance_scale  # None: the model's, checked on load
    Sampling(args.greedy, args.temperature, args.top_k, args.top_p, guidance).check()
    return T2MGPT.from_pretrained(folder, device=args.device, text_encoder_path=args.clip_path,
                                  max_batch=max_batch or MAX_BATCH, quantize="int8" if args.int8 else None)


def sampling_options(args: argparse.Namespace) -> dict:
    """Sampling and post-processing options for the pipeline's calls."""
    return dict(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, greedy=args.greedy,
                guidance_scale=args.guidance_scale, cleanup=not args.no_cleanup)


def run_seed(args: argparse.Namespace) -> int | None:
    import secrets

    return args.seed if args.seed is not None or args.greedy else secrets.randbelow(2**62 - 2**20)


def write_files(args: argparse.Namespace, plan, motions, targets, bar=None) -> None:
    """Write motions [name][sample] to their planned paths, all or nothing (`--raw-joints`: the
    network's joints where a format writes positions)."""
    from dataclasses import replace

    from t2mgpt.export import get_format, write_motion
    from t2mgpt.export.files import StagedFiles, output_folder

    def options(fmt: str) -> dict:  # --rig goes to the formats that have bones
        return {"rig": args.rig} if "rig" in {o.name for o in get_format(fmt).options} else {}

    with output_folder(args.out_dir), StagedFiles() as stage:
        for per_name, samples in zip(plan, motions):
            for paths, motion in zip(per_name, samples):
                if args.raw_joints and motion.raw_joints is not None:
                    motion = replace(motion, joints=motion.raw_joints)
                for fmt, path in paths.items():
                    if bar is not None:
                        bar.set_postfix_str(path.name)
                    write_motion(motion, stage.temp_for(path), fmt, **options(fmt))
                    if bar is not None:
                        bar.update(1)


@dataclass(frozen=True)
class MotionArg:
    """A motion file on the command line of `continue` / `inbetween`."""

    name: str  # the argument (its metavar in upper case)
    what: str  # what errors call it, e.g. "start motion"
    help: str  # e.g. "the motion to start from"


@dataclass(frozen=True)
class EditCommand:
    """What `continue` and `inbetween` declare: they make `--num-samples` samples of one motion
    from motion files and TEXT (what happens `happens`, e.g. `example`) lasting `--seconds`."""

    motions: tuple[MotionArg, ...]
    happens: str  # "next", "in between"
    example: str  # a TEXT, e.g. "a person sits down"
    seconds: float  # default --seconds
    length_of: str  # what --seconds measures: "continuation", "gap"
    samples: str  # what --num-samples counts: "continuations", "in-betweens"

    def add_arguments(self, parser: argparse.ArgumentParser, own_options=None) -> None:
        """The arguments; `own_options(parser)` adds the command's own after --seconds."""
        for m in self.motions:
            parser.add_argument(m.name, metavar=m.name.upper(), help=f"{m.help} (.npy, .npz or .bvh)")
        parser.add_argument("text", metavar="TEXT", help=f'what happens {self.happens}, e.g. "{self.example}"')
        parser.add_argument("--seconds", type=float, default=self.seconds,
                            help=f"length of the {self.length_of} (default: {self.seconds:g})")
        if own_options is not None:
            own_options(parser)
        parser.add_argument("-n", "--num-samples", type=int, default=1,
                            help=f"{self.samples} to make (default: 1)")
        add_model_arguments(parser)
        add_output_arguments(parser)

    def check(self, args: argparse.Namespace):
        """The checks that need no model loaded: motion files, samples, TEXT, --seconds. -> the
        model folder."""
        from t2mgpt.authoring.timeline import codes_for
        from t2mgpt.errors import InputError
        from t2mgpt.io.folder import read_config
        from t2mgpt.io.lookup import resolve_model

        for m in self.motions:
            check_given(getattr(args, m.name), m.what)
        if args.num_samples < 1:
            raise InputError(f"--num-samples must be at least 1, got {args.num_samples}")
        if not args.text.strip():
            raise InputError(f"TEXT is empty; describe what happens {self.happens}, e.g. '{self.example}'")
        folder = resolve_model(args.model)
        codes_for(args.seconds, read_config(folder, check=False).seconds_per_token, "--seconds")
        return folder


def write_samples(args: argparse.Namespace, folder, name: str, make) -> int:
    """Make one motion `name` in `args.num_samples` samples (a timeline, a continuation, an
    in-between): plan its files before loading the model, make sample j with
    `make(pipe, seed + j)` (seed None without one), write and report them."""
    plan, targets = plan_files(args, [name], args.num_samples)
    pipe = load_pipeline(args, folder)
    seed = run_seed(args)
    samples = [make(pipe, None if seed is None else seed + j) for j in range(args.num_samples)]
    for j, m in enumerate(samples):
        m.sample = j
    write_files(args, plan, [samples], targets)
    report(args, plan, [samples], targets, pipe)
    return 0


def summary_lines(plan, motions) -> list[str]:
    """One line per motion: text, sample, duration, seed and the files written."""
    lines = []
    for per_name, samples in zip(plan, motions):
        for paths, motion in zip(per_name, samples):
            names = ", ".join(p.name for p in paths.values())
            note = "" if motion.seed is None else f", seed {motion.seed}"
            if motion.seed is not None and motion.candidates > 1:  # --seed N makes other candidates
                note += f" (best of {motion.candidates}; remake with --candidates 1 --seed {motion.seed})"
            parts = f", {len(motion.segments)} segments" if motion.segments else ""
            lines.append(f"  {motion.text[:60]!r} #{motion.sample}: {motion.duration:.1f} s{parts}{note} -> {names}")
    return lines


def report(args: argparse.Namespace, plan, motions, targets, pipe, lines: list[str] | None = None,
           processes: int = 1) -> None:
    """The run's summary; `lines`: the summary lines gathered from the `processes` of a torchrun."""
    where = f", {processes} processes" if processes > 1 else ""
    print(f"wrote {len(targets)} file(s) to {args.out_dir}/ ({pipe.name}{where}):")
    print("\n".join(summary_lines(plan, motions) if lines is None else lines))


def show_warnings(command: str, fn, args) -> int:
    """Run fn(args) with warnings printed as one line each."""
    import warnings

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"t2mgpt {command}: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():
        warnings.showwarning = show
        return fn(args)
