"""Exit 0 when the PostgreSQL URL given answers, 1 otherwise (used by `make test`)."""

import sys

import psycopg


def main(url: str) -> int:
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as err:
        print(f"cannot reach {url}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
