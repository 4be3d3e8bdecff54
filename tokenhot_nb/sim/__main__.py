"""``python -m tokenhot_nb.sim``: run the simulator as an HTTP server until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .faults import SERVICE_ERRORS, STREAM_SHAPES, VIDEO_CREATE_ERRORS, VIDEO_NOT_VIDEO, Faults, parse_rates
from .server import serve


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tokenhot_nb.sim", description="Offline Tokenhot API simulator.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8787, help="0 picks a free port (printed on start)")
    p.add_argument("--log-level", default="info")
    p.add_argument("--demo", action="store_true", help="gentle pacing for notebooks (Faults.demo())")
    p.add_argument("--latency", type=float, help="seconds before every answer")
    p.add_argument("--ttfb", type=float, help="seconds before the first stream byte")
    p.add_argument("--chunk-delay", type=float, help="seconds between stream chunks")
    p.add_argument("--error-rate", action="append", default=[], metavar="STATUS=P", help="e.g. 429=0.1")
    p.add_argument("--fail-first", action="append", default=[], metavar="STATUS=N", help="e.g. 503=2")
    p.add_argument("--retry-after", type=float, help="Retry-After seconds on 429/503")
    p.add_argument("--truncate-stream-after", type=int, metavar="CHUNKS")
    p.add_argument("--stall-stream-after", type=int, metavar="CHUNKS")
    p.add_argument("--stream-error-after", type=int, metavar="CHUNKS",
                   help="streams end with an error frame after CHUNKS chunks, in each protocol's own form")
    p.add_argument("--malformed-json", action="store_true")
    p.add_argument("--video-failure", action="store_true")
    p.add_argument("--expire-downloads", action="store_true")
    p.add_argument("--video-steps", type=int)
    p.add_argument("--video-create-error", choices=sorted(VIDEO_CREATE_ERRORS),
                   help="video creates are answered 200 with the relay's error and no task: " + "; ".join(
                       f"{k}: {v}" for k, v in VIDEO_CREATE_ERRORS.items()))
    p.add_argument("--video-create-failed", action="store_true",
                   help="video creates are answered 200 with their task failed already, a reason given")
    p.add_argument("--video-count", type=int, metavar="N", help="a finished video task lists N videos (1-8)")
    p.add_argument("--video-not-video", choices=sorted(VIDEO_NOT_VIDEO),
                   help="a finished task's video link serves this instead (200, video/mp4): " + "; ".join(
                       f"{k}: {v}" for k, v in VIDEO_NOT_VIDEO.items()))
    p.add_argument("--stream-chunks", type=int)
    p.add_argument("--download-size", type=int, metavar="BYTES")
    p.add_argument("--billing-error", action="store_true", help="billing endpoints answer 200 with an error")
    p.add_argument("--answer", metavar="TEXT", help="every chat answer is TEXT (e.g. hostile Markdown)")
    p.add_argument("--bad-tool-arguments", action="store_true",
                   help="a chat answer's last tool call has arguments that are not JSON (finish as usual)")
    p.add_argument("--responses-failed", action="store_true",
                   help="Responses calls end failed (response.failed / status failed) with their usage; a whole "
                        "answer is billed it, a stream the relay's own count of its text")
    p.add_argument("--service-error", choices=sorted(SERVICE_ERRORS), help="canned service error: " + "; ".join(
        f"{k}: {v}" for k, v in SERVICE_ERRORS.items()))
    p.add_argument("--service-error-first", type=int, metavar="N", help="only the first N requests get --service-error")
    p.add_argument("--catalogue-429", type=int, metavar="N",
                   help="the global limiter answers the first N catalogue reads (price table, status, model lists) "
                        "with an empty 429")
    p.add_argument("--stream-shape", choices=sorted(STREAM_SHAPES), help="hostile stream: " + "; ".join(
        f"{k}: {v}" for k, v in STREAM_SHAPES.items()))
    p.add_argument("--gzip-bomb", action="store_true", help="JSON answers and files are a gzip bomb")
    p.add_argument("--echo-key", action="store_true", help="answers repeat the presented key")
    p.add_argument("--html-download", action="store_true", help="file URLs serve an HTML page")
    p.add_argument("--result-host", metavar="HOST", help="result URLs point at HOST (e.g. 169.254.169.254)")
    p.add_argument("--key-group", metavar="GROUP", help="the key's group: every charge × its group_ratio (vip: 0.9)")
    return p


def faults_from_args(args: argparse.Namespace) -> Faults:
    base = Faults.demo() if args.demo else Faults()
    changes: dict[str, object] = {}
    for name in ("latency", "ttfb", "chunk_delay", "retry_after", "truncate_stream_after", "stall_stream_after",
                 "stream_error_after", "video_steps", "stream_chunks", "download_size", "answer", "service_error", "service_error_first",
                 "catalogue_429", "stream_shape", "result_host", "key_group", "video_create_error", "video_count",
                 "video_not_video"):
        value = getattr(args, name)
        if value is not None:
            changes[name] = value
    for name in ("malformed_json", "video_failure", "expire_downloads", "billing_error", "gzip_bomb", "echo_key",
                 "html_download", "responses_failed", "bad_tool_arguments", "video_create_failed"):
        if getattr(args, name):
            changes[name] = True
    if args.error_rate:
        changes["error_rates"] = parse_rates(args.error_rate)
    if args.fail_first:
        changes["fail_first"] = parse_rates(args.fail_first, as_int=True)
    return base.merged(changes)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        faults = faults_from_args(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = serve(args.host, args.port, faults, log_level=args.log_level)
    print(f"tokenhot-sim listening on {server.url}  (OpenAI base_url: {server.url}/v1)", flush=True)
    done = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not done.wait(0.5):
        pass
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
