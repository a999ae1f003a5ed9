import sys

WORD = "hello"


def main() -> None:
    print(f"{WORD}, {' '.join(sys.argv[1:])} (from a wheel)")
