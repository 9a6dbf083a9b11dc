"""What the tests need and the library must not hold: fakes, servers, pytest helpers."""

__all__: list[str] = []
