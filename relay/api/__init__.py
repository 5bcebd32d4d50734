"""HTTP resources, one package each (routes + schemas), registered on the Api here."""

from relay.api.base import Api


def register_blueprints(api: Api) -> None:
    from relay.api import health
    from relay.api.catalogs import routes as catalog_routes
    from relay.api.devices import routes as device_routes
    from relay.api.documents import routes as document_routes
    from relay.api.enrollment import routes as enrollment_routes
    from relay.api.groups import routes as group_routes
    from relay.api.processes import routes as process_routes
    from relay.api.results import routes as result_routes
    from relay.api.terminal import routes as terminal_routes
    from relay.api.users import routes as user_routes
    from relay.api.webhook import routes as webhook_routes

    for blueprint in (
        health.blp,
        document_routes.blp,
        result_routes.blp,
        device_routes.blp,
        terminal_routes.blp,
        process_routes.blp,
        user_routes.blp,
        group_routes.blp,
        device_routes.admin_blp,
        enrollment_routes.blp,
        webhook_routes.blp,
        webhook_routes.dead_blp,
        process_routes.picker_blp,
        user_routes.picker_blp,
        group_routes.picker_blp,
        catalog_routes.blp,
        catalog_routes.terminal_blp,
    ):
        api.register_blueprint(blueprint)
    from relay.api.docs import complete_spec

    complete_spec(api)
