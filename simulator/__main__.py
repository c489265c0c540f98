"""python -m simulator --port 9000 [flags]; see simulator/README.md."""

from __future__ import annotations

import logging

from simulator.app import run
from simulator.config import parse_args
from simulator.context import mint_token


def main(argv: list[str] | None = None) -> None:
    config, args = parse_args(argv)
    if args.print_token:
        print(mint_token(config))
        return
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    run(config)


if __name__ == "__main__":
    main()
