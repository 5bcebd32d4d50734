"""One writer process for test_concurrency: its own app and engine on the shared database.

Run as ``python -m tests.api.concurrent_writer '<job json>'`` from the repository root. It
builds the app, says ``ready``, waits for ``go`` on stdin, then pushes its documents to
everyone and claims whatever is queued in its inbox (racing the other writer), and prints a
JSON report: push statuses, the instances it won, and any answer other than the expected ones.
"""

import json
import sys
import time
from typing import Any

from relay import create_app
from tests.helpers import Client, doc

INBOX = "/api/v1/terminal/documents"


def main(job: dict[str, Any]) -> dict[str, Any]:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": job["database_url"],
            "INSTANCE_PATH": job["instance_path"],
        }
    )
    api = Client(app.test_client())
    assert api.get("/readyz").status_code == 200  # connected before the start signal
    print("ready", flush=True)
    assert sys.stdin.readline() == "go\n"

    report: dict[str, Any] = {
        "pushed": [],
        "claimed": [],
        "unexpected": [],
        "started": time.time(),
    }

    def claim_queued() -> int:
        response = api.get(INBOX, job["token"], query_string={"limit": 500})
        if response.status_code != 200:
            report["unexpected"].append(["inbox", response.status_code, response.json])
            return 0
        queued = [d["id"] for d in response.json["documents"] if d["state"] == "queued"]
        for instance_id in queued:
            answer = api.post(f"{INBOX}/{instance_id}/claim", job["token"])
            if answer.status_code == 200:
                report["claimed"].append(instance_id)
            elif not (
                answer.status_code == 409 and answer.json["error"]["code"] == "already_claimed"
            ):
                report["unexpected"].append(["claim", answer.status_code, answer.json])
        return len(queued)

    for n in range(job["count"]):
        pushed = api.post(
            "/api/v1/documents",
            job["accounting_key"],
            {
                "business_process": "order-picking",
                "target": {"all": True},
                "documents": [doc(f"{job['prefix']}-{n:03}")],
            },
        )
        report["pushed"].append(pushed.status_code)
        if pushed.status_code != 201:
            report["unexpected"].append(["push", pushed.status_code, pushed.json])
        claim_queued()
    for _ in range(100):
        if claim_queued() == 0:
            break
    report["ended"] = time.time()
    return report


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))), flush=True)
