"""Alembic environment: the app's engine and the metadata of the core and loaded plugins."""

from alembic import context

from core.extensions import db

config = context.config
app = config.attributes.get("flask_app")


def include_object(obj, name, type_, reflected, compare_to):
    # Autogenerate per branch: the core owns unprefixed tables, each plugin its prefix.
    branch = config.attributes.get("autogenerate_branch")
    if branch is None or type_ != "table":
        return True
    from core.migrate import table_owner

    return table_owner(name, app) == branch


def run() -> None:
    with app.app_context():
        import core.models  # noqa: F401 - make sure every core table is on the metadata

        connectable = db.engine
        with connectable.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=db.metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
                include_object=include_object,
            )
            with context.begin_transaction():
                context.run_migrations()


run()
