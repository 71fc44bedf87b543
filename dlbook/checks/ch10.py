"""Exercise checks of chapter 10."""

__all__: list[str] = []
