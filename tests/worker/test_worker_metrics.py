"""The worker's own /metrics: deliveries by verdict, passes and the delivery lag."""

import pytest
import requests
from flask import Flask

from relay.worker import Worker
from tests.api.test_observe import sample
from tests.helpers import Client, TenantKeys
from tests.receiver import Receiver, Reply, free_port


def test_the_worker_serves_its_metrics(
    api: Client,
    tenant: TenantKeys,
    lan: Flask,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver.secrets = [str(api.set_webhook(tenant, receiver.url))]
    receiver.plan = [Reply(status=503)]
    terminal = api.enroll(tenant, mode="online")
    api.result(tenant, terminal, 1)
    port = free_port()
    monkeypatch.setitem(lan.config, "WORKER_METRICS_BIND", f"127.0.0.1:{port}")
    monkeypatch.setitem(lan.config, "WEBHOOK_RETRY_SCHEDULE", [0.0, 0.0])
    with lan.app_context():
        worker = Worker(lan, "metrics-worker")
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        worker.metrics.serve(worker.metrics_bind)
        try:
            # The first attempt gets a 503 (retry), the second gets through.
            for _ in range(20):
                worker.run_pass(requests.Session())
                if len(receiver.deliveries) >= 2:
                    break
            page = requests.get(metrics_url, timeout=5).text
        finally:
            worker.metrics.close()
    assert sample(page, "relay_worker_deliveries_total", verdict="retry") == 1
    assert sample(page, "relay_worker_deliveries_total", verdict="delivered") == 1
    assert sample(page, "relay_worker_delivery_lag_seconds") >= 0
    with pytest.raises(requests.ConnectionError):
        requests.get(metrics_url, timeout=2)


def test_a_worker_without_a_metrics_bind_opens_no_port(app_ctx: Flask) -> None:
    worker = Worker(app_ctx, "quiet")
    assert worker.metrics_bind == ""
    worker.run(once=True)
    assert worker.metrics._server is None
