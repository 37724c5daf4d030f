"""Admin views."""


def register(admin) -> None:
    pass
