"""``python -m bench``: run the command, then exit (at once when torch is loaded: see bench.startup)."""

from .cli import main


def run() -> None:
    from .startup import exit_now

    exit_now(main())


if __name__ == "__main__":
    run()
