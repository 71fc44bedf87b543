"""Exercise checks of chapter 03."""

__all__: list[str] = []
