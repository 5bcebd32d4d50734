"""Flask extensions, created here and bound to an app in ``create_app``."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from relay.api.errors import Api
from relay.models.base import Base

db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})
migrate = Migrate()
# Limits are declared on the views that need them; nothing is limited by default.
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
api = Api()
